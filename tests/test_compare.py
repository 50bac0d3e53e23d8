"""``bench compare``: rows of two runs paired over their shared folds and CNN budgets (reads saved cells)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats

from bngan.experiments.core import ExperimentError
from bngan.experiments.table1 import report
from bngan.experiments.table1.compare import Row, compare, load_row, main, markdown

LONG_MNIST = Path(__file__).resolve().parents[1] / "results" / "long-mnist"


def _group(folds: list[int], macro: list[float], f1_8: list[float], f1_9: list[float]) -> dict:
    values = {"macro_f1": macro, "f1_8": f1_8, "f1_9": f1_9}
    return {"dataset": "mnist", "tag": "standard", "label": "MNIST", "minority": [8, 9],
            "methods": {"x": {"folds": folds, "values": values, "budgets": {"100": values, "50": values}}}}


def test_rows_pair_on_the_folds_both_have_at_every_common_budget() -> None:
    a = Row("a:x", "x", {"groups": [_group([0, 1, 2], [.90, .92, .94], [.8, .8, .8], [.6, .6, .6])]})
    b = Row("b:x", "x", {"groups": [_group([1, 2, 5], [.91, .90, .99], [.7, .7, .7], [.7, .5, .5])]})
    records = compare(a, b)
    assert [r["budget"] for r in records] == ["50", "100"]  # by steps, not as text
    final = records[-1]
    assert final["folds"] == [1, 2]
    assert final["macro_f1"]["per_fold"] == pytest.approx([.01, .04])
    assert final["minority_f1"]["per_fold"] == pytest.approx([0.0, .1])
    assert final["macro_f1"]["p"] == pytest.approx(stats.ttest_rel([.92, .94], [.91, .90]).pvalue)
    elsewhere = Row("c:x", "x", {"groups": [_group([7], [.9], [.9], [.9])]})
    with pytest.raises(ExperimentError, match="share no fold"):
        compare(a, elsewhere)


def test_a_committed_run_compared_with_itself_and_with_another_row() -> None:
    group = report.collect(LONG_MNIST)["groups"][0]
    ros_aug, ros = load_row(f"{LONG_MNIST}:ros-aug"), load_row(f"{LONG_MNIST}:ros")
    records = compare(ros_aug, ros)
    assert [r["budget"] for r in records] == ["1128", "2500", "5000", "10000"]
    final = records[-1]
    expected = [x - y for x, y in zip(group["methods"]["ros-aug"]["values"]["macro_f1"],
                                      group["methods"]["ros"]["values"]["macro_f1"], strict=True)]
    assert final["folds"] == group["methods"]["ros"]["folds"] and final["macro_f1"]["per_fold"] == expected
    same = compare(ros, ros)[-1]
    assert same["macro_f1"]["per_fold"] == [0.0] * len(same["folds"]) and same["macro_f1"]["p"] == 1.0
    text = markdown(ros_aug, ros, records)
    assert "| MNIST, standard split | 10,000 |" in text and "B (`ros`): CNN budget 10000 steps" in text


def test_bad_names_are_errors_that_say_what_to_give(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main([f"{LONG_MNIST}:magic", f"{LONG_MNIST}:ros"]) == 2
    assert "no finished cell of row 'magic'; its rows: bngan, bngan-mix" in capsys.readouterr().err
    assert main(["results-long-mnist", f"{LONG_MNIST}:ros"]) == 2
    assert "FOLDER:ROW" in capsys.readouterr().err
    assert main([f"{tmp_path / 'nowhere'}:ros", f"{LONG_MNIST}:ros"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main([f"{LONG_MNIST}:ros-aug", f"{LONG_MNIST}:ros"]) == 0
    assert "A = " in capsys.readouterr().out

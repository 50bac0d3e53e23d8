"""The Table 1 / IR-sweep experiment: the grid and its shards, the GAN rows' registration, fingerprints,
aggregation with paired t-tests, the reports, and the CLI end to end on digits with tiny budgets (seconds)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bngan.errors import InvalidSettingError
from bngan.evaluation.baselines import OVERSAMPLERS, make_oversampler
from bngan.evaluation.gan_samplers import GAN_METHODS, register_gan_samplers
from bngan.evaluation.metrics import classification_metrics
from bngan.experiments.core import CELLS_DIR, SPEC_FILE, Cell, ExperimentError, parse_shard, write_json
from bngan.experiments.table1 import cells as runner
from bngan.experiments.table1 import report
from bngan.experiments.table1 import settings as ex
from bngan.experiments.table1.cli import main as cli_main

TINY_DIGITS = ["--dataset", "digits", "--profile", "minority", "--minority", "8,9", "--ir", "10",
               "--classifier-steps", "8", "--gan-steps", "3", "--gan-batch-size", "16", "--device", "cpu"]


# ---------------------------------------------------------------------------------------- GAN rows

def test_gan_rows_are_registered_with_their_settings() -> None:
    assert set(GAN_METHODS) <= set(OVERSAMPLERS)
    register_gan_samplers()  # a second registration is harmless
    sampler = make_oversampler("infogan", random_state=3, sampling_strategy="minority", steps=7)
    assert (sampler.reg_mode, sampler.structure, sampler.steps, sampler.random_state) == ("infogan",
                                                                                          "disentangled", 7, 3)
    assert make_oversampler("bngan-entangled").structure == "entangled"
    assert make_oversampler("bngan").reg_mode == "paper"
    with pytest.raises(ValueError, match="does not take"):
        make_oversampler("bngan", structure="reference")  # a row's defining setting is not an option


# ---------------------------------------------------------------------------------- grid and shards

def test_grid_shards_partition_the_cells() -> None:
    config = ex.ExperimentConfig(datasets=["digits"], methods=["none", "ros", "bngan"], folds=2,
                                 imbalances=[{"profile": "minority", "ir": 10}, {"profile": "minority", "ir": 20}])
    cells = ex.grid(config)
    assert len(cells) == 12 and [c.index for c in cells] == list(range(12))
    assert len({c.key for c in cells}) == 12
    shards = [{c.index for c in cells if c.index % 3 == i} for i in range(3)]
    assert set().union(*shards) == set(range(12)) and sum(map(len, shards)) == 12
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_fingerprint_tracks_what_changes_a_result() -> None:
    base = ex.ExperimentConfig(methods=["none", "bngan"], imbalances=["standard"])
    none, gan = ex.grid(base)[:2]
    more_gan = ex.ExperimentConfig(methods=["none", "bngan"], imbalances=["standard"], gan_steps=99)
    none_more, gan_more = ex.grid(more_gan)[:2]
    assert none.fingerprint == none_more.fingerprint  # GAN budget: not for "none"
    assert gan.fingerprint != gan_more.fingerprint
    on_gpu = ex.ExperimentConfig(methods=["none", "bngan"], imbalances=["standard"], device="cuda")
    assert gan.fingerprint == ex.grid(on_gpu)[1].fingerprint
    more_cnn = ex.ExperimentConfig(methods=["none", "dgc"], imbalances=["standard"], classifier_lr=1e-3)
    plain = ex.ExperimentConfig(methods=["none", "dgc"], imbalances=["standard"])
    assert ex.grid(more_cnn)[0].fingerprint != ex.grid(plain)[0].fingerprint  # the CNN's rate: every CNN row
    assert ex.grid(more_cnn)[1].fingerprint == ex.grid(plain)[1].fingerprint  # ... but not DGC, which has none
    # growing the grid (another method, more folds) keeps the cells it had
    wider = ex.ExperimentConfig(methods=["none", "ros", "bngan"], imbalances=["standard"], folds=5)
    assert {c.key: c.fingerprint for c in ex.grid(wider)}[none.key] == none.fingerprint


def test_a_later_fold_range_reuses_the_same_cells_and_says_which_folds() -> None:
    """Folds 5-9 of a confirmation are the cells folds 5-9 of a 10-fold run would be, nothing else."""
    later = ex.ExperimentConfig(methods=["none", "bngan"], imbalances=["standard"], folds=2, first_fold=5)
    all_ten = ex.ExperimentConfig(methods=["none", "bngan"], imbalances=["standard"], folds=10)
    assert sorted({c["fold"] for c in ex.grid(later)}) == [5, 6]
    wide = {c.key: c.fingerprint for c in ex.grid(all_ten)}
    assert all(wide[c.key] == c.fingerprint for c in ex.grid(later))
    rows = {"none": {"folds": [5, 6]}}
    assert "Mean ± std over 2 folds (folds 5–6: independent" in report.legend(
        {"experiment": later.to_dict(), "groups": [{"methods": rows}]})
    one = ex.ExperimentConfig(methods=["none"], imbalances=["standard"], folds=1, first_fold=7)
    assert report.legend({"experiment": one.to_dict(), "groups": [{"methods": {"none": {"folds": [7]}}}]}
                         ).startswith("One fold (fold 7), values bare")
    started = ex.ExperimentConfig(methods=["none"], imbalances=["standard"], folds=5, first_fold=5)
    assert report.legend({"experiment": started.to_dict(), "groups": [{"methods": {"none": {"folds": [5]}}}]}
                         ).startswith("One fold (of folds 5–9), values bare")
    with pytest.raises(ValueError, match="first fold"):
        ex.ExperimentConfig(first_fold=-1)


def test_cli_runs_a_later_fold_range(tmp_path: Path) -> None:
    assert cli_main(["table1", *TINY_DIGITS, "--methods", "none", "--folds", "1", "--first-fold", "3",
                     "--run-dir", str(tmp_path)]) == 0
    assert [p.name for p in (tmp_path / CELLS_DIR).glob("*.json")] == ["digits__ir10-m8-9__fold3__none.json"]
    assert "One fold (fold 3), values bare" in (tmp_path / "table.md").read_text()


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        ex.ExperimentConfig(methods=["magic"])
    with pytest.raises(ValueError, match="unknown data set"):
        ex.ExperimentConfig(datasets=["cifar"])
    with pytest.raises(ValueError, match="not both"):
        ex.ExperimentConfig(classifier_steps=10, classifier_epochs=2)
    with pytest.raises(ValueError, match="fraction"):
        ex.ExperimentConfig(sampling_strategy="most")
    with pytest.raises(ValueError, match="dgc_lr"):
        ex.ExperimentConfig(dgc_lr=0.0)
    with pytest.raises(ValueError, match="dgc_draws"):
        ex.ExperimentConfig(dgc_draws=0)


def test_sampling_strategy_fraction_and_budget() -> None:
    counts = {0: 100, 1: 40, 2: 10}
    assert ex.resolve_sampling_strategy(0.5, counts) == {1: 50, 2: 50}
    assert ex.resolve_sampling_strategy(0.3, counts) == {2: 30}
    assert ex.resolve_sampling_strategy(1.0, counts) == {1: 100, 2: 100}
    assert ex.resolve_sampling_strategy("auto", counts) == "auto"
    assert ex.parse_sampling_strategy("0.25") == 0.25
    assert ex.parse_sampling_strategy(" +100") == "+100"  # the reference code's +100 images per class
    assert ex.resolve_sampling_strategy("+100", counts) == {1: 140, 2: 110}
    for bad in ("+", "+0", "+1.5", "+x"):
        with pytest.raises(ExperimentError, match="positive whole"):
            ex.parse_sampling_strategy(bad)
    config = ex.ExperimentConfig()
    assert ex.classifier_budget(config, 8990) == {"epochs": 8, "steps": 8 * 141}  # MNIST standard split
    assert ex.classifier_budget(ex.ExperimentConfig(classifier_epochs=3), 8990) == {"epochs": 3, "steps": None}


def test_table_classes() -> None:
    counts = dict(enumerate((4000, 2000, 1000, 750, 500, 350, 200, 100, 60, 40)))
    assert report.table_classes({"profile": "standard"}, counts) == [8, 9]
    assert report.table_classes({"profile": "minority", "minority_classes": [3], "ir": 50}, counts) == [3]
    assert report.table_classes({"profile": "standard", "counts": [5, 9, 1]}, {0: 5, 1: 9, 2: 1}) == [0, 2]


# ------------------------------------------------------------------------- aggregation (no training)

def _record(config: ex.ExperimentConfig, cell: Cell, recall_9: float) -> dict:
    """A finished cell whose class-9 recall is ``recall_9`` (10 test images per class, rest correct)."""
    y_true = np.repeat(np.arange(10), 10)
    y_pred = y_true.copy()
    y_pred[90:90 + round(10 * (1 - recall_9))] = 0
    return {**runner.cell_header(cell, config), "class_names": [str(c) for c in range(10)],
            "train_counts": {str(c): 100 if c < 8 else 10 for c in range(10)},
            "metrics": classification_metrics(y_true, y_pred, 10), "seconds": 1.0}


def test_aggregate_tests_against_bngan_and_writes_reports(tmp_path: Path) -> None:
    config = ex.ExperimentConfig(name="ir-sweep", methods=["smote", "bngan"], folds=3,
                                 imbalances=[{"profile": "minority", "ir": r} for r in (50, 100)])
    recall = {"smote": [0.5, 0.6, 0.5], "bngan": [0.9, 1.0, 0.9]}
    records = [_record(config, c, recall[c['method']][c['fold']]) for c in ex.grid(config)]
    results = report.aggregate(records, config)
    assert results["complete"] and results["n_done"] == 12
    smote = results["groups"][0]["methods"]["smote"]
    assert smote["values"]["recall_9"] == [0.5, 0.6, 0.5]
    test = smote["tests"]["recall_9"]
    assert test["significant"] and test["reference"] == "better" and test["p"] < 0.05
    assert not smote["tests"]["recall_8"]["significant"]  # identical scores: p = 1
    assert results["groups"][0]["methods"]["bngan"]["tests"] == {}
    (tmp_path / "cells").mkdir()
    write_json(tmp_path / SPEC_FILE, config.to_dict())
    for record in records:
        write_json(tmp_path / CELLS_DIR / f"{record['key']}.json", record)
    paths = report.write_reports(tmp_path, report.collect(tmp_path))
    table = paths["table.md"].read_text()
    assert "## digits, IR 50" in table and "## digits, IR 100" in table
    assert "0.533 ± 0.058 •" in table  # smote's class-9 recall, significantly below bngan
    assert "**0.933 ± 0.058**" in table  # the best mean is bold
    assert "`bngan` is significantly better / worse than this row" in table
    without = report.collect(tmp_path)
    without["experiment"] = {**without["experiment"], "methods": ["smote"]}  # a run without its reference row
    assert "No t-test marks: the reference row `bngan` is not in this run" in report.legend(without)
    assert "recall_9" in paths["results.csv"].read_text()
    assert len(paths["folds.csv"].read_text().splitlines()) == 13
    figure = paths["figure.html"].read_text()
    assert "plotly" in figure.lower() and "imbalance ratio" in figure  # the sweep's lines against IR

    # another reference row, chosen after the run: the tests flip, the spec remembers it, nothing reruns
    again = report.collect(tmp_path, reference="smote")
    bngan = again["groups"][0]["methods"]["bngan"]
    assert bngan["tests"]["recall_9"]["reference"] == "worse" and again["groups"][0]["methods"]["smote"]["tests"] == {}
    assert report.collect(tmp_path)["groups"][0]["reference"] == "smote"
    with pytest.raises(ExperimentError, match="not a method"):
        report.collect(tmp_path, reference="adasyn")


def test_stale_and_missing_cells_are_reported() -> None:
    config = ex.ExperimentConfig(methods=["ros", "bngan"], folds=2, imbalances=[{"profile": "minority"}])
    cells = ex.grid(config)
    records = [_record(config, c, 0.8) for c in cells[:3]]
    records[0]["fingerprint"] = "old"
    results = report.aggregate(records, config)
    assert not results["complete"] and results["stale"] == [records[0]["key"]]
    assert sorted(results["missing"]) == sorted([cells[0].key, cells[3].key])
    assert "Partial" in report.markdown_report(results)


# ------------------------------------------------------------------------------ running real cells

def test_end_to_end_cli_sharded_then_collected(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Two shards of a tiny digits Table 1 (incl. a GAN row), then --collect-only, then a rerun that skips."""
    run_dir = tmp_path / "t1"
    args = ["table1", *TINY_DIGITS, "--methods", "none,ros,bngan", "--folds", "2", "--run-dir", str(run_dir)]
    assert cli_main([*args, "--shard", "0/2"]) == 0
    first = json.loads((run_dir / "results.json").read_text())
    assert not first["complete"] and first["n_done"] == 3
    assert cli_main([*args, "--shard", "1/2"]) == 0
    out = capsys.readouterr().out
    assert "| none |" in out and "| bngan |" in out and "8 (IR 10) recall" in out
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] and results["n_done"] == 6 and not results["failures"]
    group = results["groups"][0]
    assert group["minority"] == [8, 9] and set(group["methods"]) == {"none", "ros", "bngan"}
    cell = json.loads(next((run_dir / "cells").glob("*fold1__bngan.json")).read_text())
    assert cell["classifier_steps"] == 8 and cell["n_test"] == 360
    assert cell["resampled_counts"]["9"] == max(cell["train_counts"].values())  # balanced by the GAN
    assert len(cell["metrics"]["confusion"]) == 10
    for name in ("results.json", "results.csv", "folds.csv", "table.md", "figure.html"):
        assert (run_dir / name).is_file()
    assert cli_main([*args, "--collect-only"]) == 0
    assert "| ros |" in capsys.readouterr().out
    events: list[dict] = []
    runner.run(ex.ExperimentConfig.from_dict(results["experiment"]), run_dir, progress=events.append)
    assert [e["event"] for e in events].count("cell_skipped") == 6


def test_budget_study_measures_every_snapshot_and_ranks_rows(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--classifier-snapshots: each cell records the metrics at every smaller budget; the report tabulates them
    with the ranking per budget; asking for a budget a cell lacks recomputes it (the final result unchanged)."""
    run_dir = tmp_path / "budget"
    args = ["table1", *TINY_DIGITS, "--methods", "none,ros", "--folds", "1", "--run-dir", str(run_dir)]
    assert cli_main([*args, "--classifier-snapshots", "3"]) == 0
    out = capsys.readouterr().out
    assert "## Classifier budget" in out and "| 3 steps | 8 steps |" in out
    assert "ranking by macro-F1 at 3 steps:" in out and "ranking by macro-F1 at 8 steps:" in out
    assert "±" not in out.split("## Classifier budget")[0] and "One fold, values bare" in out  # no std of one
    cell = json.loads(next((run_dir / "cells").glob("*__none.json")).read_text())
    assert set(cell["budgets"]) == {"3"} and cell["budgets"]["3"] != cell["metrics"]
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["groups"][0]["methods"]["ros"]["budgets"]) == {"3", "8"}
    events: list[dict] = []
    config = ex.ExperimentConfig.from_dict({**results["experiment"], "classifier_snapshots": [3, 5]})
    runner.run(config, run_dir, progress=events.append)
    assert [e["event"] for e in events].count("cell_done") == 2  # 5 was missing: both cells redone
    again = json.loads(next((run_dir / "cells").glob("*__none.json")).read_text())
    assert set(again["budgets"]) == {"3", "5"} and again["metrics"] == cell["metrics"]
    assert again["budgets"]["3"] == cell["budgets"]["3"]
    for bad in ([8], [0], [9]):
        with pytest.raises(ExperimentError, match="snapshots"):
            ex.ExperimentConfig(classifier_steps=8, classifier_snapshots=bad)
    with pytest.raises(ExperimentError, match="snapshots"):
        ex.ExperimentConfig(classifier_snapshots=[3])  # no final step budget to measure below


def test_folder_cells_name_their_folder() -> None:
    """A folder experiment needs its folder, and its cells' fingerprints (and shared GANs) change with it."""
    with pytest.raises(ExperimentError, match="needs its folder"):
        ex.ExperimentConfig(datasets=["folder"])
    with pytest.raises(ExperimentError, match="without --quality"):
        ex.ExperimentConfig(datasets=["folder"], data_dir="/data/a", quality=True)
    common = {"datasets": ["folder"], "methods": ["none", "bngan"], "imbalances": [{"profile": "minority"}]}
    config_a, config_b = (ex.ExperimentConfig(data_dir=f"/data/{x}", **common) for x in "ab")
    first, second = ex.grid(config_a), ex.grid(config_b)
    assert all(a.fingerprint != b.fingerprint for a, b in zip(first, second))
    assert ex.gan_key(first[1], config_a) != ex.gan_key(second[1], config_b)
    mnist = {"methods": ["none"], "imbalances": [{"profile": "minority"}], "datasets": ["mnist"]}
    assert ([c.fingerprint for c in ex.grid(ex.ExperimentConfig(data_dir="/x", **mnist))] ==
            [c.fingerprint for c in ex.grid(ex.ExperimentConfig(data_dir="/y", **mnist))])  # where, not what


def test_stable_ranking_budget() -> None:
    """The budget from which the ranking stops changing; None when the last two budgets disagree."""
    def group(scores: dict[str, list[float]]) -> dict:
        return {"methods": {m: {"budgets": {str(s): {"macro_f1": [v]} for s, v in zip((1, 2, 3), vals)}}
                            for m, vals in scores.items()}}

    steps = ["1", "2", "3"]
    assert report.stable_from(group({"a": [.1, .5, .6], "b": [.2, .4, .5]}), steps, "macro_f1") == "2"
    assert report.stable_from(group({"a": [.5, .5, .6], "b": [.2, .4, .5]}), steps, "macro_f1") == "1"
    assert report.stable_from(group({"a": [.5, .5, .4], "b": [.2, .4, .5]}), steps, "macro_f1") is None


def test_leaders_name_the_leading_row_its_lead_and_the_paired_p() -> None:
    """Who leads each headline metric, by how much over the runner-up and the reference, with the paired p."""
    def row(macro: list[float], f1_8: list[float], f1_9: list[float], folds: tuple = (0, 1, 2)) -> dict:
        return {"folds": list(folds), "values": {"macro_f1": macro, "f1_8": f1_8, "f1_9": f1_9}}

    group = {"label": "MNIST", "minority": [8, 9], "methods": {
        "a": row([.90, .91, .92], [.80, .80, .80], [.70, .70, .70]),
        "b": row([.80, .82, .81], [.90, .92, .91], [.90, .90, .90]),
        "ref": row([.50, .50, .50], [.50, .50, .50], [.50, .50, .50])}}
    text = report.leaders([group], "ref")
    p_ab = stats.ttest_rel([.90, .91, .92], [.80, .82, .81]).pvalue
    assert f"macro-F1: **a** (0.910) leads b by 0.100 (p = {p_ab:.3f}, 3 folds), ref by 0.410 (p < 0.001" in text
    assert "mean minority F1: **b** (0.905) leads a by 0.155 (p < 0.001, 3 folds), ref by 0.405" in text
    group["methods"]["b"] = row([.80, .83], [.90, .92], [.90, .90], folds=(0, 2))  # pairs: the shared folds
    p_02 = stats.ttest_rel([.90, .92], [.80, .83]).pvalue
    assert f"leads b by 0.095 (p = {p_02:.3f}, 2 folds)" in report.leaders([group], "ref")
    one_fold = {m: row(*([[.5]] * 3), folds=(0,)) for m in "ab"}
    assert report.leaders([{**group, "methods": one_fold}], "a") is None  # nothing to test on one fold


def test_legend_says_how_many_folds_each_row_has() -> None:
    """A partial run's rows have different fold counts: the legend says so rather than the largest count."""
    def results(*counts: int) -> dict:
        rows = {f"m{i}": {"folds": list(range(n))} for i, n in enumerate(counts)}
        return {"experiment": ex.ExperimentConfig().to_dict(), "groups": [{"methods": rows}]}

    assert "Mean ± std over 3 folds (" in report.legend(results(3, 3))
    assert "Mean ± std over 2–3 folds per row (" in report.legend(results(3, 2))
    assert "over 1–3 folds per row (rows of one fold: values bare)" in report.legend(results(3, 1))
    assert report.legend(results(1, 1)).startswith("One fold, values bare")


def test_failed_cell_is_recorded_and_stop_is_honoured(tmp_path: Path) -> None:
    """SMOTE on a 1-image class fails that cell only; a set stop event runs nothing."""
    common = {"dataset": "digits", "folds": 1, "imbalance": {"profile": "minority", "ir": 1000},
              "classifier_steps": 2, "device": "cpu"}
    results = runner.run_experiment(methods=["smote"], out_dir=tmp_path / "fail", **common)
    assert results["n_done"] == 0 and "needs at least 2" in results["failures"][0]["error"]
    assert "Failed cells" in (tmp_path / "fail" / "table.md").read_text()
    stop = threading.Event()
    stop.set()
    events: list[dict] = []
    stopped = runner.run_experiment(methods=["none"], out_dir=tmp_path / "stop", stop_event=stop,
                                progress=events.append, **common)
    assert stopped["n_done"] == 0 and events[-1]["event"] == "stopped"


def test_dgc_row_replaces_the_cnn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DGC row fits DGC on the imbalanced set and predicts with it (a stub here: real DGC takes minutes)."""
    from bngan.evaluation import dgc

    seen = {}

    class StubDGC:
        def __init__(self, **kwargs):
            seen.update(kwargs)

        def fit(self, x, y):
            seen["n"] = len(y)
            self.steps_, self.epochs_ = 3, 1
            return self

        def predict(self, images):
            return np.full(len(images), 1)

    monkeypatch.setattr(dgc, "DGCClassifier", StubDGC)
    results = runner.run_experiment(methods=["dgc"], folds=1, imbalance={"profile": "minority", "ir": 10},
                                dgc_width=0.25, dgc_steps=3, dgc_draws=2, dgc_lr=1e-4, out_dir=tmp_path, device="cpu")
    assert seen["width"] == 0.25 and seen["max_steps"] == 3 and seen["random_state"] == 0
    assert seen["num_draws"] == 2 and seen["lr"] == 1e-4
    entry = results["groups"][0]["methods"]["dgc"]
    assert entry["values"]["recall_9"] == [0.0]
    assert entry["summary"]["recall"]["mean"][1] == 1.0


def test_quality_of_added_minority_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--quality: the judge scores the added images of the minority classes (an untrained judge and a cheap
    Fréchet distance here: the real ones cost a training and three 1000×1000 matrix square roots)."""
    import torch

    from bngan.evaluation import classifier, quality
    from bngan.evaluation.classifier import PaperCNN

    judge = PaperCNN(10).eval()
    judge.judge_info = {"test_accuracy": 0.5}
    asked: list[dict] = []
    monkeypatch.setattr(classifier, "judge_classifier", lambda *a, **k: asked.append(k) or judge)
    monkeypatch.setattr(quality, "frechet_distance", lambda a, b: float(np.abs(a.mean() - b.mean())))
    torch.manual_seed(0)
    results = runner.run_experiment(methods=["ros", "smote"], folds=1, imbalance={"profile": "minority", "ir": 10},
                                classifier_steps=2, quality=True, out_dir=tmp_path, device="cpu",
                                data_dir=str(tmp_path / "data"))
    assert asked and all(k["data_dir"] == str(tmp_path / "data") for k in asked)  # the run's data, not the default
    q = results["groups"][0]["methods"]["ros"]["quality"]
    assert {"fidelity", "fid", "precision", "coverage", "fidelity_8", "fidelity_9"} <= set(q)
    cell = json.loads(next((tmp_path / "cells").glob("*ros.json")).read_text())
    assert sorted(cell["quality"]["classes"]) == [8, 9]  # only the minority classes are judged
    # the diagnostics: ROS adds exact copies (ratio 0, every one closer than any real image); SMOTE does not
    assert q["copy_ratio_8"]["mean"] < 1e-5 and q["copy_closer_9"]["mean"] == 1
    smote = results["groups"][0]["methods"]["smote"]["quality"]
    assert 0 < smote["copy_ratio_8"]["mean"] < 1.5 and 0 <= smote["domain_9"]["mean"] <= 1
    assert set(cell["quality"]["cas"]) == {"8", "9"} and 0 <= cell["quality"]["cas"]["8"]["recall"] <= 1
    report_text = (tmp_path / "table.md").read_text()
    assert "Synthetic sample quality" in report_text and "8: CAS recall" in report_text


def test_bench_dispatch_help(capsys: pytest.CaptureFixture) -> None:
    from bngan.bench import main as bench_main

    with pytest.raises(SystemExit):
        bench_main(["ir-sweep", "--help"])
    assert "--irs" in capsys.readouterr().out
    assert cli_main(["ir-sweep", "--dataset", "cifar"]) == 2


def test_gan_rows_differ_only_in_what_defines_them() -> None:
    from bngan.evaluation.baselines import make_oversampler

    rows = {name: make_oversampler(name, steps=5) for name in ("bngan", "bngan-mix", "bngan-trunc", "infogan")}
    assert rows["bngan-mix"].real_share == 0.5 and rows["bngan"].real_share == 0.0
    assert rows["bngan-trunc"].truncation == 1.0 and rows["bngan"].truncation is None
    config = ex.ExperimentConfig(methods=["bngan", "bngan-trunc", "infogan"])
    keys = {c["method"]: ex.gan_key(c, config) for c in ex.grid(config) if c["fold"] == 0}
    assert keys["bngan"] == keys["bngan-trunc"] != keys["infogan"]  # truncation acts after training
    from bngan.evaluation.gan_methods import trains_with_augmentation

    augmented = ex.ExperimentConfig(methods=["bngan", "bngan-aug", "bngan-mix-aug"])
    shared = {ex.gan_key(c, augmented) for c in ex.grid(augmented) if c["fold"] == 0}
    assert len(shared) == 1  # augmentation is the CNN's: one generator for the three rows
    assert trains_with_augmentation("bngan-mix-aug") and not trains_with_augmentation("bngan-mix")
    assert make_oversampler("bngan-mix-aug", steps=5).real_share == 0.5  # the sampler takes the rest
    assert rows["bngan-mix"].candidates == 3 and rows["bngan"].candidates == 1
    minority_only = make_oversampler("bngan-minority-aug", steps=5, minority_classes=(8, 9))
    assert minority_only.synthetic_classes == [8, 9] and minority_only.real_share == 0.5
    assert make_oversampler("bngan-mix-aug", steps=5, minority_classes=(8, 9)).synthetic_classes is None
    with pytest.raises(InvalidSettingError, match="minority_classes"):
        make_oversampler("bngan-minority-aug", steps=5)
    choosing = ex.ExperimentConfig(methods=["bngan-mix-aug", "bngan-minority-aug"])
    assert len({ex.gan_key(c, choosing) for c in ex.grid(choosing) if c["fold"] == 0}) == 1  # one generator
    counts = dict(zip(range(10), (400, 200, 100, 75, 50, 35, 20, 10, 6, 4)))
    table = report.table_classes(choosing.imbalances[0], counts)  # the standard split's 8 and 9
    assert runner.make_method_sampler("bngan-minority-aug", choosing, 0, counts, table).synthetic_classes == [8, 9]
    assert rows["infogan"].reg_mode == "infogan" and rows["bngan"].reg_mode == "paper"
    assert {r.steps for r in rows.values()} == {5}


def test_ablation_rows_train_with_their_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each data-efficient row hands its option to the GAN's TrainConfig (and gets a generator of its own)."""
    import torch

    from bngan.evaluation.baselines import make_oversampler

    torch.set_num_threads(1)
    x = np.random.default_rng(0).random((24, 1, 8, 8)).astype(np.float32)
    y = np.array([0] * 18 + [1] * 6)
    expected = {"bngan-da": {"diffaugment": True}, "bngan-ema": {"ema_decay": 0.999},
                "bngan-hinge-sn": {"adv_loss": "hinge", "spectral_norm": True}, "bngan-lecam": {"lecam": 0.1},
                "bngan-de": {"diffaugment": True, "ema_decay": 0.999, "lecam": 0.1}}
    for name, options in expected.items():
        sampler = make_oversampler(name, steps=2, batch_size=8, device="cpu")
        x_res, _ = sampler.fit_resample(x, y)
        assert len(x_res) == 36
        config = sampler.trainer_.config
        assert {k: getattr(config, k) for k in options} == options, name
    config = ex.ExperimentConfig(methods=["bngan", *expected])
    keys = [ex.gan_key(c, config) for c in ex.grid(config) if c["fold"] == 0]
    assert len(set(keys)) == len(keys)  # a generator per training recipe


def test_rows_that_differ_only_in_sampling_share_one_trained_generator(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """bngan trains and saves its GAN; bngan-mix loads it (no second training); infogan trains its own."""
    from bngan.training import Trainer

    trained: list[str] = []
    original = Trainer.run

    def counting_run(self, *args, **kwargs):
        trained.append(self.config.reg_mode)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "run", counting_run)
    config = ex.ExperimentConfig(datasets=["digits"], methods=["bngan", "bngan-mix", "infogan"], folds=1,
                                 imbalances=[{"profile": "minority", "minority_classes": [8, 9], "ir": 10}],
                                 classifier_steps=2, gan_steps=3, gan_batch_size=16, device="cpu")
    cells = ex.grid(config)
    assert ex.gan_key(cells[0], config) == ex.gan_key(cells[1], config) != ex.gan_key(cells[2], config)
    assert cells[0].fingerprint != cells[1].fingerprint
    results = runner.run(config, tmp_path)
    assert results["n_done"] == 3 and trained == ["paper", "infogan"]
    assert len(list((tmp_path / runner.GANS_DIR).glob("*.pt"))) == 2
    mix_cell = next((tmp_path / "cells").glob("*bngan-mix.json"))
    mix = json.loads(mix_cell.read_text())
    assert mix["resampled_counts"]["9"] == max(mix["train_counts"].values())

    shared = tmp_path / runner.GANS_DIR / f"digits__fold0__{ex.gan_key(cells[0], config)}.pt"
    shared.write_bytes(b"not a checkpoint")  # damaged: the row trains its generator again and still runs
    mix_cell.unlink()
    assert runner.run(config, tmp_path)["n_done"] == 3 and trained == ["paper", "infogan", "paper"]


def test_images_bench_measures_saved_generators_without_training(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """bench images: each GAN row's added minority images, sampled from the run's saved generator (no GAN or
    CNN trained); rows that only change the CNN are left out; a second call reuses what it measured."""
    from bngan.evaluation import classifier
    from bngan.evaluation.classifier import PaperCNN
    from bngan.experiments.table1 import images
    from bngan.training import Trainer

    config = ex.ExperimentConfig(datasets=["digits"], methods=["ros", "bngan", "bngan-mix", "bngan-aug"], folds=1,
                                 imbalances=[{"profile": "minority", "minority_classes": [8, 9], "ir": 10}],
                                 classifier_steps=2, gan_steps=3, gan_batch_size=16, device="cpu")
    runner.run(config, tmp_path)
    judge = PaperCNN(10).eval()
    judge.judge_info = {"test_accuracy": 0.5}
    monkeypatch.setattr(classifier, "judge_classifier", lambda *a, **k: judge)
    monkeypatch.setattr(Trainer, "run", lambda *a, **k: pytest.fail("bench images trained a GAN"))
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("bench images trained a CNN"))
    said: list[str] = []
    measured = images.measure(tmp_path, say=said.append)
    assert measured["methods"] == ["bngan", "bngan-mix"]  # bngan-aug adds bngan-mix's images; ros is no GAN
    cells = measured["cells"]
    assert {e["method"] for e in cells.values()} == {"bngan", "bngan-mix"}
    mix, pure = (next(e["quality"] for e in cells.values() if e["method"] == m) for m in ("bngan-mix", "bngan"))
    assert sorted(pure["classes"]) == [8, 9]
    # bngan-mix adds half real copies: at least that share sits closer to the training set than real test images
    assert mix["copying"]["9"]["closer_share"] >= 0.45 > pure["copying"]["9"]["closer_share"]
    assert 0 <= pure["domain"]["8"] <= 1
    assert json.loads((tmp_path / images.IMAGES_FILE).read_text())["cells"].keys() == cells.keys()
    said.clear()
    assert images.measure(tmp_path, say=said.append)["cells"] == cells
    assert all("already measured" in line for line in said)
    text = images.markdown(tmp_path, measured)
    assert "| bngan-mix |" in text and "9: real-vs-added acc." in text and "CAS" not in text and "±" not in text
    with pytest.raises(ExperimentError, match=r"not GAN rows.*ros"):
        images.measure(tmp_path, ["ros"])
    next((tmp_path / runner.GANS_DIR).glob("*.pt")).unlink()
    (tmp_path / images.IMAGES_FILE).unlink()
    said.clear()
    assert images.measure(tmp_path, say=said.append)["cells"] == {}
    assert all("no saved generator" in line for line in said)


def test_images_bench_draws_what_each_row_adds_beside_real_images(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """bench images --grid: per minority class, real training images, then each row's added images (GAN rows
    from the saved generator, others refit); rows adding nothing get no row; a bad row name is one error."""
    import torch
    from PIL import Image

    from bngan.experiments.table1 import images
    from bngan.training import Trainer
    from bngan.ui import images as pictures

    config = ex.ExperimentConfig(datasets=["digits"], methods=["none", "smote", "bngan"], folds=1,
                                 imbalances=[{"profile": "minority", "minority_classes": [8, 9], "ir": 10}],
                                 classifier_steps=2, gan_steps=3, gan_batch_size=16, device="cpu")
    runner.run(config, tmp_path)
    monkeypatch.setattr(Trainer, "run", lambda *a, **k: pytest.fail("the grid trained a GAN"))
    drawn: list[tuple[list, list, list]] = []
    real_rows = pictures.labelled_rows
    monkeypatch.setattr(pictures, "labelled_rows", lambda rows, labels, highlight=(), tags=None: (
        drawn.append((rows, labels, tags)) or real_rows(rows, labels, highlight, tags)))
    said: list[str] = []
    paths = images.draw_added(tmp_path, ["none", "smote", "bngan"], per_class=5, say=said.append)
    assert [p.name for p in paths] == ["added__digits__ir10-m8-9__fold0.png"]
    rows, labels, tags = drawn[0]
    assert labels == ["8 · real", "8 · smote", "8 · bngan", "9 · real", "9 · smote", "9 · bngan"]  # none adds none
    cell = json.loads(next((tmp_path / "cells").glob("*smote.json")).read_text())
    added_9 = cell["resampled_counts"]["9"] - cell["train_counts"]["9"]
    assert tags[3] == f"{cell['train_counts']['9']} training images" and tags[4] == f"{added_9} added"
    assert [len(r) for r in rows] == [5] * 6 and rows[0].shape[1:] == (1, 28, 28)
    assert not any(torch.equal(rows[1][i], rows[0][j]) for i in range(5) for j in range(5))  # new images
    assert Image.open(paths[0]).size == real_rows(rows, labels, tags=tags).size
    assert any("sampling the saved generator" in line for line in said)
    with pytest.raises(ExperimentError, match=r"no oversampling rows.*ros.*its rows are none, smote, bngan"):
        images.draw_added(tmp_path, ["ros"])
    next((tmp_path / runner.GANS_DIR).glob("*.pt")).unlink()
    said.clear()
    images.draw_added(tmp_path, ["bngan", "smote"], say=said.append)
    assert drawn[-1][1] == ["8 · real", "8 · smote", "9 · real", "9 · smote"] and "no saved generator" in said[0]
    assert images.main(["--run-dir", str(tmp_path), "--grid", "smote", "--per-class", "3"]) == 0
    assert drawn[-1][0][0].shape[0] == 3


def test_a_new_setting_enters_the_fingerprint_without_being_listed() -> None:
    """A field added to the settings (here by a subclass) changes every cell's fingerprint it applies to,
    with no list to update; a scoped one only the rows of its scope."""
    from dataclasses import dataclass

    from bngan.experiments.core import scoped

    @dataclass
    class WithWarmup(ex.ExperimentConfig):
        warmup: int = 0
        gan_warmup: int = scoped(scope="gan", default=0)

    common = {"methods": ["none", "bngan", "dgc"], "imbalances": [{"profile": "minority", "ir": 10}]}
    base = {c.key: c.fingerprint for c in ex.grid(WithWarmup(**common))}
    warm = {c.key: c.fingerprint for c in ex.grid(WithWarmup(warmup=5, **common))}
    gan_warm = {c.key: c.fingerprint for c in ex.grid(WithWarmup(gan_warmup=5, **common))}
    assert all(base[k] != warm[k] for k in base)
    assert {k.rsplit("__", 1)[1] for k in base if base[k] != gan_warm[k]} == {"bngan"}
    assert "warmup" in WithWarmup(**common).to_dict()  # saved with the spec, so reports can recompute it


@pytest.mark.parametrize(("name", "before", "default", "rows"), [
    ("cnn_augmentation", "per-image", "batched", {"ros-aug", "bngan-mix-aug"}),
    ("deepsmote_pairing", "other-image", "own-image", {"deepsmote"}),
])
def test_runs_stored_before_a_setting_keep_their_cells_and_new_runs_redo_its_rows(name, before, default,
                                                                                  rows) -> None:
    """Augmented rows stored before ``cnn_augmentation`` existed ran torchvision per image, DeepSMOTE rows
    before ``deepsmote_pairing`` decoded towards another image: their spec reads back at that value with
    unchanged fingerprints; a new run redoes only the rows the setting applies to; the CLI sets it."""
    from bngan.experiments.table1.cli import build_parser, config_from_args

    common = {"datasets": ["mnist"], "methods": ["ros", "ros-aug", "bngan", "bngan-mix-aug", "deepsmote"]}
    old_spec = ex.ExperimentConfig(**common, **{name: before}).to_dict()
    del old_spec[name]
    old = ex.ExperimentConfig.from_saved(old_spec)
    assert getattr(old, name) == before
    new = ex.ExperimentConfig(**common)
    assert getattr(new, name) == default
    old_prints = {c.key: c.fingerprint for c in ex.grid(old)}
    changed = {c.key.rsplit("__", 1)[1] for c in ex.grid(new) if c.fingerprint != old_prints[c.key]}
    assert changed == rows
    args = build_parser("table1").parse_args(["--dataset", "mnist", f"--{name.replace('_', '-')}", before])
    assert getattr(config_from_args("table1", args), name) == before
    with pytest.raises(ValueError, match=f"{name} must be one of {default}, {before}"):
        ex.ExperimentConfig(**common, **{name: "kornia"})


def test_progress_names_gan_and_cnn_steps_inside_a_cell(tmp_path: Path) -> None:
    """A GAN row's minutes are not silent: the stage messages count the GAN's steps, then the CNN's epochs."""
    events: list[dict] = []
    runner.run_experiment(dataset="digits", methods=["bngan"], folds=1, imbalance={"profile": "minority", "ir": 10},
                          classifier_steps=2, gan_steps=4, device="cpu", out_dir=tmp_path / "run",
                          progress=events.append)
    stages = [e["message"] for e in events if e["event"] == "stage"]
    assert any("oversampling: GAN step 4 / 4" in m for m in stages)
    assert any("training the CNN: epoch 1 / " in m for m in stages)

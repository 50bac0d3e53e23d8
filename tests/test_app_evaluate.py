"""The Evaluate page, driven headlessly with Streamlit's AppTest: it renders, a tiny digits comparison runs
through the app's job registry and fills the table, a second start is refused, and results on disk show.

Each test gets its own runs folder (so its own registry) and results folder, and stops what it started.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from app_helpers import open_page as open_page_at
from app_helpers import stop_all_jobs, wait_for
from streamlit.testing.v1 import AppTest

from bngan.ui import registry

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "app_pages/evaluate.py"


@pytest.fixture(autouse=True)
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Fresh runs and results folders per test; every job started is stopped afterwards."""
    torch.set_num_threads(1)
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("BNGAN_RESULTS_DIR", str(tmp_path / "results"))
    yield tmp_path / "results"
    stop_all_jobs()


def open_page() -> AppTest:
    return open_page_at(PAGE)


def table_methods(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["method"]) if len(at.dataframe) else []


def test_page_renders_with_defaults() -> None:
    at = open_page()
    assert not at.exception
    assert not any("With one fold there is no spread" in c.value for c in at.caption)  # 2 folds
    at.number_input(key="eval_folds").set_value(1).run()
    assert any("With one fold there is no spread and no t-test" in c.value for c in at.caption)
    at.number_input(key="eval_folds").set_value(2).run()
    assert at.selectbox(key="eval_dataset").value == "digits"
    assert set(at.selectbox(key="eval_dataset").options) == {"digits (bundled, no download)", "MNIST",
                                                             "Fashion-MNIST",
                                                             "image folder (one sub-folder per class)"}
    assert at.multiselect(key="eval_minority").value == [8, 9]
    assert {"none (no oversampling)", "bngan (disentangled)", "DGC (end-to-end)"} <= set(
        at.multiselect(key="eval_methods").options)
    from bngan.experiments.table1.settings import available_methods

    # every method the runner knows is offered (a newly registered row must not be missing from the page)
    assert len(at.multiselect(key="eval_methods").options) == len(available_methods())
    assert not at.button(key="eval_run").disabled
    assert any("No comparison yet" in i.value for i in at.info)
    at.multiselect(key="eval_methods").set_value([]).run()
    assert at.button(key="eval_run").disabled
    assert any("at least one data set, one method" in e.value for e in at.error)


def run_none_and_ros(at: AppTest) -> AppTest:
    """Run a one-fold, 5-step comparison of none and ROS on the page's data set; wait until it is shown."""
    at.multiselect(key="eval_methods").set_value(["none", "ros"])
    at.number_input(key="eval_folds").set_value(1)
    at.selectbox(key="eval_budget").set_value("steps").run()
    at.number_input(key="eval_clf_steps").set_value(5)
    at.selectbox(key="eval_device").set_value("cpu")
    at.button(key="eval_run").click().run()
    assert any("Started job" in s.value for s in at.success), [e.value for e in at.error]
    return wait_for(at, lambda a: any("-badge[finished]" in m.value for m in a.markdown) and
                    table_methods(a) == ["none", "ros"], "the comparison to finish")


def test_tiny_run_completes_and_shows_the_table() -> None:
    at = open_page()
    at = run_none_and_ros(at)
    table = at.dataframe[0].value
    assert "8 (IR 10) recall" in table.columns and "G-mean" in table.columns
    keys = {c.key for c in at.get("plotly_chart")}
    assert any(k.startswith("eval_bars_") for k in keys) and any(k.startswith("eval_confusion_") for k in keys)
    assert any("complete" in c.value for c in at.caption)


def test_a_folder_of_images_is_compared_on_its_held_out_images(tmp_path: Path) -> None:
    """The folder data set: its sub-folders become the minority menu, the run holds out 20% of each class
    for testing and the table names the folder's classes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("circle", "square", "star")):
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for i in range(30):
            pixels = rng.integers(0, 60, (12, 12)) + 60 * c  # three intensity levels: learnable in a few steps
            Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "shapes" / name / f"{i}.png")
    at = open_page()
    at.selectbox(key="eval_dataset").set_value("folder").run()
    at.text_input(key="eval_data_dir").set_value(str(tmp_path / "shapes")).run()
    minority = at.multiselect(key="eval_minority")
    assert minority.options == ["0 · circle", "1 · square", "2 · star"]
    minority.set_value([2])
    at.number_input(key="eval_ir").set_value(3.0)
    at = run_none_and_ros(at)
    assert any("star" in column for column in at.dataframe[0].value.columns)
    import json

    cell = json.loads(next((Path(registry.get_registry().latest("evaluate").folder) / "cells").glob("*ros.json"))
                      .read_text())
    assert cell["n_test"] == 18  # 6 of each class's 30 images held out
    assert cell["train_counts"] == {"0": 24, "1": 24, "2": 8}


def test_second_start_is_refused_while_a_job_runs() -> None:
    at = open_page()
    release = threading.Event()
    busy = registry.get_registry().start("train", "blocking job", lambda job: release.wait(30))
    try:
        at.button(key="eval_run").click().run()
        warning = " ".join(w.value for w in at.warning)
        assert f"Not started: job {busy.id} (blocking job)" in warning and "refused" in warning
    finally:
        release.set()
        busy.thread.join(timeout=10)


def _write_finished_comparison(folder: Path) -> None:
    """A finished two-method, two-fold comparison on disk, as the runner writes it (no training)."""
    from bngan.evaluation.metrics import classification_metrics
    from bngan.experiments.core import SPEC_FILE, CellStore, write_json
    from bngan.experiments.table1 import report
    from bngan.experiments.table1.cells import cell_header
    from bngan.experiments.table1.settings import ExperimentConfig, grid

    config = ExperimentConfig(name="evaluate", datasets=["digits"], methods=["smote", "bngan"], folds=2,
                              imbalances=[{"profile": "minority", "minority_classes": [8, 9], "ir": 10}])
    write_json(folder / SPEC_FILE, config.to_dict())
    y_true = np.repeat(np.arange(10), 10)
    for cell in grid(config):
        y_pred = y_true.copy()
        y_pred[90:92 if cell["method"] == "bngan" else 95] = 0
        record = {**cell_header(cell, config), "class_names": [str(c) for c in range(10)],
                  "train_counts": {str(c): 100 if c < 8 else 10 for c in range(10)},
                  "metrics": classification_metrics(y_true, y_pred, 10), "seconds": 1.0}
        CellStore(folder).write(cell.key, record)
    report.write_reports(folder, report.collect(folder))


def test_results_from_disk_are_shown(folders: Path) -> None:
    _write_finished_comparison(folders / "20240101-000000-digits")
    at = open_page()
    assert not at.exception
    assert at.selectbox(key="eval_selected").value.endswith("20240101-000000-digits")
    assert table_methods(at) == ["smote", "bngan"]
    recall_9 = at.dataframe[0].value["9 (IR 10) recall"].tolist()
    assert recall_9 == ["0.500 ± 0.000 •", "0.800 ± 0.000"]  # the same gap in every fold: p = 0
    assert any("bngan significantly better" in c.value for c in at.caption)  # the run's reference row
    leading = [m.value for m in at.markdown if "macro-F1: **bngan**" in m.value]  # not the committed tables
    assert leading and "leads smote by" in leading[0] and "(p < 0.001, 2 folds)" in leading[0]  # same gap twice
    from bngan.experiments.table1 import report

    folder = folders / "20240101-000000-digits"
    report.write_reports(folder, report.collect(folder, reference="smote"))  # re-tested against another row
    at = open_page()
    assert any("smote significantly better" in c.value for c in at.caption)
    assert at.dataframe[0].value["9 (IR 10) recall"].tolist() == ["0.500 ± 0.000", "0.800 ± 0.000 ◦"]
    at.selectbox(key="eval_confusion_method_20240101-000000-digits").set_value("bngan").run()
    assert not at.exception
    assert at.download_button(key="eval_download") is not None
    committed = [e.label for e in at.expander if e.label.startswith("Committed result: ")]
    names = [label.split()[2] for label in committed]  # the committed tables stay listed below the app's own
    assert names == ["long-mnist", "gan8k-mnist", "confirm-mnist", "ir-sweep-converged-mnist", "long-fashion-mnist",
                     "long3-fashion-mnist", "confirm-fashion-mnist", "ir-sweep-converged-fashion-mnist",
                     "table1-mnist", "table1-fashion-mnist"]  # long budgets first
    assert "CNN budget 10000 steps" in committed[0] and "CNN budget 8 epochs" in committed[8]  # from each spec
    tables = [m.value for m in at.markdown if m.value.startswith(("# table1: ", "# ir-sweep: "))]
    assert len(tables) == len(committed) and not any(" ± " in t for t in tables)  # a cell never wraps at its ±
    assert sum("\u00a0±\u00a0" in t for t in tables) >= 6  # the multi-fold tables (two are single-fold)


def test_progress_counts_cells_for_experiments_and_steps_for_training():
    from bngan.ui.sidebar import progress_text

    assert progress_text({"kind": "evaluate", "step": 1, "total": 2, "elapsed_s": 3}).startswith("cell 1 / 2")
    assert progress_text({"kind": "train", "step": 5, "total": 9, "elapsed_s": 3}).startswith("step 5 / 9")

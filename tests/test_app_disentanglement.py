"""The Disentanglement page, driven headlessly with AppTest: with no results it gives the command and shows
the dSprites factors; with a (tiny, made here) results folder it shows the scores and the code strips; the
committed results show with their slim models from assets/; and a tiny run started from the page runs as a
job and fills the scores."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import stop_all_jobs, wait_for
from streamlit.testing.v1 import AppTest

from bngan.experiments.disentangle import report as dx
from bngan.experiments.disentangle.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "app_pages/disentanglement.py"
TINY_RUN = {"dis_run_seeds": 1, "dis_run_steps": 3, "dis_run_n_per_class": 100, "dis_run_num_train": 20,
            "dis_run_num_eval": 10, "dis_run_metric_batch": 8, "dis_run_batch_size": 8}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny bngan cell (3 steps) with its checkpoint, as the runner writes it."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("results") / "disentangle"
    with contextlib.redirect_stdout(io.StringIO()):
        cli_main(["--methods", "bngan", "--ir", "100", "--seeds", "1", "--steps", "3", "--batch-size", "8",
                  "--n-per-class", "100", "--num-train", "20", "--num-eval", "10", "--metric-batch", "8",
                  "--out", str(out)])
    return out


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(tmp_path / "runs"))  # the sidebar's registry, kept apart
    yield
    stop_all_jobs()


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def frame(at: AppTest, column: str):
    """The first table with ``column`` (AppTest does not expose a dataframe's key)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_page_is_in_the_menu() -> None:
    assert (ROOT / PAGE).is_file()
    assert PAGE in (ROOT / "app.py").read_text()


def test_no_results_gives_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dx.RESULTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # ./results/disentangle does not exist here
    at = open_page()
    assert [c.value for c in at.code] == [dx.COMMAND]
    assert "No disentanglement results" in at.info[0].value
    assert len(at.image) == 1  # the factor grid
    assert any("orientation" in m.value for m in at.markdown)
    assert not at.button(key="dis_run").disabled  # the run form's defaults are valid


def test_results_show_scores_and_strips(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dx.RESULTS_ENV, str(results.parent))  # the results root: its disentangle/ is found
    at = open_page()
    assert not at.info and not at.error
    scores = frame(at, "FactorVAE (paper)")
    assert list(scores["method"]) == ["bngan (ours)"] and list(scores["FactorVAE (paper)"]) == ["0.585"]
    assert len(at.get("plotly_chart")) == 1
    tracking = frame(at, "tracks")
    assert list(tracking["code"]) == ["c1", "c2", "c3", "c4", "c5"]
    assert len(frame(at, "shape")) == 5  # mutual information of each code with each factor
    assert "bngan (ours) · IR 100 · seed 0" in at.selectbox(key="dis_model").format_func(
        at.selectbox(key="dis_model").value)
    assert at.selectbox(key="dis_shape").value == 2  # the minority shape (heart) first
    assert len(at.image) == 2  # the code strips, and the factor grid in its expander
    assert any("under-trained" in w.value for w in at.warning)  # 3 steps: grey noise, not sprites
    at.number_input(key="dis_seed").set_value(3).run()
    assert not at.exception


def test_committed_results_show_with_their_slim_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """results/disentangle as committed: its scores, and the two models kept in assets/disentangle/."""
    monkeypatch.delenv(dx.RESULTS_ENV, raising=False)
    monkeypatch.chdir(ROOT)
    at = open_page()
    assert not at.error
    scores = frame(at, "FactorVAE (paper)")
    assert list(scores["FactorVAE"]) == ["0.249", "0.222", "0.309", "0.235"]  # RESULTS.md's table
    models = at.selectbox(key="dis_model")
    assert list(models.options) == ["bngan (ours) · IR 100 · seed 0 · FactorVAE 0.309",
                                    "InfoGAN · IR 100 · seed 0 · FactorVAE 0.249"]  # labels as shown
    assert Path(models.value).parent == dx.ASSETS_DIR
    tracking = frame(at, "tracks")
    assert list(tracking["tracks"]).count("scale") == 2  # RESULTS.md: two codes of bngan IR 100 track scale


def test_a_run_started_on_the_page_fills_the_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv(dx.RESULTS_ENV, str(tmp_path / "results"))
    at = open_page()
    at.multiselect(key="dis_run_methods").set_value(["bngan"])
    at.multiselect(key="dis_run_irs").set_value([100])
    for key, value in TINY_RUN.items():
        at.number_input(key=key).set_value(value)
    at.selectbox(key="dis_run_device").set_value("cpu")
    at.button(key="dis_run").click().run()
    assert any("Started job" in s.value for s in at.success), [w.value for w in at.warning]
    at = wait_for(at, lambda a: any("-badge[finished]" in m.value for m in a.markdown), "the run to finish",
                  timeout_s=240)
    assert list(frame(at, "FactorVAE (paper)")["method"]) == ["bngan (ours)"]
    runs = [p for p in (tmp_path / "results" / "disentangle-runs").iterdir() if p.is_dir()]
    assert len(runs) == 1 and (runs[0] / "experiment.json").is_file()
    assert "bngan (ours) · IR 100 · seed 0" in at.selectbox(key="dis_model").format_func(
        at.selectbox(key="dis_model").value)  # its model, for the traversals


def test_invalid_run_settings_disable_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dx.RESULTS_ENV, str(tmp_path / "results"))
    at = open_page()
    at.multiselect(key="dis_run_irs").set_value([500])
    at.number_input(key="dis_run_n_per_class").set_value(100).run()
    assert at.button(key="dis_run").disabled
    assert any("n-per-class >= 500" in e.value for e in at.error)

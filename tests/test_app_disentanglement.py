"""The Disentanglement page, driven headlessly with AppTest: with no results it gives the command and shows
the dSprites factors; with a (tiny, made here) results folder it shows the scores and the code strips."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bngan.evaluation import disentangle_experiment as dx

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "app_pages/disentanglement.py"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny bngan cell (3 steps) with its checkpoint, as the runner writes it."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("results") / "disentangle"
    with contextlib.redirect_stdout(io.StringIO()):
        dx.main(["--methods", "bngan", "--ir", "100", "--seeds", "1", "--steps", "3", "--batch-size", "8",
                 "--n-per-class", "100", "--num-train", "20", "--num-eval", "10", "--metric-batch", "8",
                 "--out", str(out)])
    return out


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(tmp_path / "runs"))  # the sidebar's registry, kept apart


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

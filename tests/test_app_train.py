"""The Train page and the job sidebar, driven headlessly with Streamlit's AppTest (no browser).

Real (tiny) training jobs run through the app's job registry in background threads; each test points
``BNGAN_RUNS_DIR`` at its own tmp folder, which also gives it its own registry, and stops whatever it started.
The chart and picture helpers the page uses are checked here too, as plain functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from app_helpers import open_page as open_page_at
from app_helpers import stop_all_jobs, wait_for
from streamlit.testing.v1 import AppTest

from bngan.ui import registry, state
from bngan.ui.charts import (
    LOSS_KEYS,
    binned_series,
    bn_fit_figure,
    confusion_figure,
    loss_figure,
    recall_f1_figure,
)
from bngan.ui.sidebar import format_duration, progress_text, stop_job

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TRAIN = "app_pages/train.py"


@pytest.fixture(autouse=True)
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh runs folder (and so a fresh registry) per test; every job started in it is stopped after."""
    torch.set_num_threads(1)
    folder = tmp_path / "runs"
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(folder))
    yield folder
    stop_all_jobs()


def open_train_page() -> AppTest:
    return open_page_at(TRAIN)


def badge(at: AppTest) -> str:
    """The job header of the page (title, id and state badge)."""
    return next((m.value for m in at.markdown if m.value.startswith("####")), "")


def in_state(*states: str) -> Callable[[AppTest], bool]:
    return lambda at: any(f"-badge[{s}]" in badge(at) for s in states)


def start(at: AppTest, steps: int, sample_every: int = 2) -> AppTest:
    at.number_input(key="train_steps").set_value(steps)
    at.number_input(key="train_sample_every").set_value(sample_every)
    at.number_input(key="train_batch_size").set_value(16)
    return at.button(key="train_start").click().run()


def single_steps(job, phase: str) -> list[dict]:
    """History rows of single-phase steps: a discriminator-only step reports no generator terms and back."""
    mine, other = ("d_adv", "g_adv") if phase == "d" else ("g_adv", "d_adv")
    return [row for row in job.snapshot()["history"] if mine in row and other not in row]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


# page ---------------------------------------------------------------------------------------------------
def test_settings_structure_and_start_are_shown() -> None:
    at = open_train_page()
    assert not at.exception
    assert [s.label for s in at.selectbox][:3] == ["Data set", "Imbalance", "Model preset"]
    options = at.selectbox(key="train_dataset").options
    assert options[0] == "digits (bundled, no download)" and len(options) == 5
    assert at.multiselect(key="train_minority").value == [8, 9]
    assert "cpu" in at.selectbox(key="train_device").options
    for key in ("train_lambda_reg", "train_steps", "train_seed", "train_ir"):
        assert at.number_input(key=key) is not None
    assert any("c3' ← c1, c2, c3" in m.value for m in at.markdown)
    assert not at.button(key="train_start").disabled
    assert any("second Start while a job runs is refused" in c for c in texts(at.caption))
    assert any("No training job yet" in i for i in texts(at.info))


def test_settings_survive_a_visit_to_another_page() -> None:
    at = open_train_page()
    at.number_input(key="train_steps").set_value(123).run()
    at.switch_page("app_pages/structure.py").run()
    at.switch_page(TRAIN).run()
    assert at.number_input(key="train_steps").value == 123


def test_settings_in_the_url_fill_the_form_and_follow_edits() -> None:
    """A reload opens the form as it was: changed settings go into ?train=..., and a new session reads them
    (a hand-edited URL's bad values fall back to the defaults one by one)."""
    import json

    at = open_train_page()
    assert "train" not in at.query_params  # nothing changed: the URL stays short
    at.number_input(key="train_steps").set_value(321).run()
    at.selectbox(key="train_preset").set_value("paper").run()
    saved = json.loads(at.query_params["train"][0] if isinstance(at.query_params["train"], list)
                       else at.query_params["train"])
    assert saved == {"steps": 321, "preset": "paper"}
    at.switch_page("app_pages/structure.py").run()  # a page switch keeps it in the URL
    assert "train" in at.query_params

    fresh = AppTest.from_file(APP, default_timeout=60)
    fresh.query_params["train"] = json.dumps({**saved, "seed": -4, "reg_mode": "nonsense", "ema_decay": 0.999,
                                              "minority": [3], "dataset": 7, "unknown": 1})
    fresh.run()
    fresh.switch_page(TRAIN).run()
    assert not fresh.exception
    assert fresh.number_input(key="train_steps").value == 321
    assert fresh.selectbox(key="train_preset").value == "paper"
    assert fresh.number_input(key="train_ema_decay").value == pytest.approx(0.999)
    assert fresh.multiselect(key="train_minority").value == [3]
    assert fresh.number_input(key="train_seed").value == 0  # out of range: the default
    assert fresh.selectbox(key="train_reg_mode").value == "paper"


def test_settings_from_url_checks_every_value() -> None:
    from bngan.ui.train_settings import settings_from_url

    assert settings_from_url(None) == {} and settings_from_url("{not json") == {} and settings_from_url("[1]") == {}
    assert settings_from_url('{"steps": 5.0, "ir": 3, "spectral_norm": true}') == {
        "steps": 5, "ir": 3.0, "spectral_norm": True}
    bad = '{"steps": 0.5, "ir": 0.5, "spectral_norm": 1, "batch_size": true, "lecam": NaN, "minority": [12]}'
    assert settings_from_url(bad) == {}
    assert settings_from_url('{"ema_decay": 1.0, "adv_loss": "hinge"}') == {"adv_loss": "hinge"}
    assert settings_from_url('{"steps": 5}' + " " * 5000) == {}  # too long for a URL we wrote


def test_minority_classes_follow_the_data_set() -> None:
    at = open_train_page()
    at.selectbox(key="train_dataset").set_value("dsprites").run()
    box = at.multiselect(key="train_minority")
    assert box.options == ["0 · square", "1 · ellipse", "2 · heart"] and box.value == [2]
    at.multiselect(key="train_minority").set_value([0, 2]).run()
    at.selectbox(key="train_dataset").set_value("digits").run()
    assert at.multiselect(key="train_minority").value == [0, 2]
    assert not at.error


def test_invalid_structure_disables_start_with_the_reason() -> None:
    at = open_train_page()
    data = at.session_state[state.STATE_KEY]
    at.session_state[state.STATE_KEY] = {**data, "edges": [["c1", "c1'"]]}  # c2', c3' have no parents
    at.run()
    assert at.button(key="train_start").disabled
    assert "structure is invalid" in at.button(key="train_start").help
    assert any("c2'" in e for e in texts(at.error))


def test_bad_settings_show_the_config_error() -> None:
    at = open_train_page()
    at.number_input(key="train_lambda_reg").set_value(500.0).run()
    assert any("lambda_reg must be a number from 0 to 100" in e for e in texts(at.error))
    assert at.button(key="train_start").disabled
    at.selectbox(key="train_dataset").set_value("folder").run()
    at.number_input(key="train_lambda_reg").set_value(1.0).run()
    assert any("needs an image folder" in e for e in texts(at.error))


def test_tiny_job_finishes_then_resumes(runs_dir: Path) -> None:
    at = start(open_train_page(), steps=6)
    assert any("Started job" in s for s in texts(at.success))
    at = wait_for(at, in_state("finished"), "the job to finish")
    done = next(s for s in texts(at.success) if "finished after 6 steps" in s)
    checkpoint = Path(done.split("`")[1])
    assert checkpoint.is_file() and checkpoint.parent.parent == runs_dir
    assert at.query_params["job"] in (badge(at).split("`")[1], [badge(at).split("`")[1]])
    assert at.download_button(key="train_download").label == "Download checkpoint"
    assert len(at.image) == 2  # the per-class sample grid, and the saved grid the history slider shows
    assert at.select_slider(key="train_grid_step").options == ["1", "2", "4", "6"]  # every 2 steps, and step 1
    assert {c.key for c in at.get("plotly_chart")} == {"train_losses", "train_bn_fit"}
    assert not state.structure_locked()  # derived from the registry: over once the job is

    at.number_input(key="train_more_steps").set_value(3)
    at.button(key="train_resume").click().run()
    assert any("Resumed job" in s for s in texts(at.success))
    at = wait_for(at, in_state("finished"), "the resumed job to finish")
    assert any("finished after 9 steps" in s for s in texts(at.success))
    # the same run went on: one folder, one curve from step 1, each step once
    resumed = registry.get_registry().get(badge(at).split("`")[1])
    assert Path(resumed.folder) == checkpoint.parent
    assert [row["step"] for row in resumed.snapshot()["history"]] == list(range(1, 10))


def test_second_start_is_refused_pause_single_steps_and_stop() -> None:
    at = start(open_train_page(), steps=100000, sample_every=1000)
    at = wait_for(at, in_state("running"), "the job to run")
    job_id = badge(at).split("`")[1]

    at.button(key="train_start").click().run()
    warning = " ".join(texts(at.warning))
    assert f"Not started: job {job_id}" in warning and "refused" in warning

    at.button(key="train_pause").click().run()
    at = wait_for(at, in_state("paused"), "the job to pause")
    job = registry.get_registry().get(job_id)
    at.button(key="train_step_d").click().run()
    at = wait_for(at, lambda _: len(single_steps(job, "d")) == 1, "one discriminator-only step")
    grid_before = job.snapshot()["samples_step"]
    at.button(key="train_step_g").click().run()
    at = wait_for(at, lambda _: len(single_steps(job, "g")) == 1, "one generator-only step")
    history = job.snapshot()["history"]
    assert history[-1]["step"] == history[-2]["step"] + 1 and len(single_steps(job, "d")) == 1
    # a single step teaches something visible: its own sample grid (grids are otherwise every 1000 steps)
    assert job.snapshot()["samples_step"] == history[-1]["step"] > grid_before
    at.run()
    assert any(c.startswith(f"Step {history[-1]['step']} (G only): g_adv") for c in texts(at.caption))
    assert job.state == "paused"
    at.slider(key=f"train_slow_{job_id}").set_value(0.5).run()
    assert job.slow_motion_s == 0.5
    at.button(key="train_continue").click().run()

    at.button(key="train_stop").click().run()
    at = wait_for(at, in_state("stopped"), "the job to stop")
    assert any(f"Job {job_id} stopped" in s and "checkpoint.pt" in s for s in texts(at.success))
    assert at.download_button(key="train_download") is not None
    scrub = at.select_slider(key="train_grid_step")  # every saved grid, the single steps' included
    assert {"1", str(history[-1]["step"] - 1), str(history[-1]["step"])} <= set(scrub.options)


def fresh_session() -> AppTest:
    """A new browser session on the first page (Structure). AppTest keeps the sidebar of an app that uses
    st.navigation only on a session's first run, so sidebar checks use fresh sessions."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    return at


def test_sidebar_shows_the_running_job_on_every_page_and_stops_it() -> None:
    at = start(open_train_page(), steps=100000, sample_every=1000)
    job_id = badge(at).split("`")[1]
    job = registry.get_registry().get(job_id)
    other = fresh_session()  # the registry outlives sessions: a new tab or a refresh finds the job
    assert any(job_id in m.value and "train digits" in m.value for m in other.sidebar.markdown)
    assert other.sidebar.get("progress")
    assert any("running with its own copy" in i for i in texts(other.info))  # the Structure page's lock
    other.sidebar.button(key="sidebar_stop").click().run()
    assert other.session_state["sidebar_stop_message"][1].startswith(f"Stopping job {job_id}")
    job.thread.join(30)
    assert job.state == "stopped"
    after = fresh_session()
    assert any("Checkpoint:" in c and "checkpoint.pt" in c for c in texts(after.sidebar.caption))
    assert not after.sidebar.button  # no Stop for a job that is over
    assert not any("running with its own copy" in i for i in texts(after.info))


def test_the_job_in_the_url_is_the_one_shown() -> None:
    reg = registry.get_registry()
    older = reg.start("train", "older run", lambda job: None)
    older.thread.join(10)
    newer = reg.start("train", "newer run", lambda job: None)
    newer.thread.join(10)
    assert reg.latest("train") is newer
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["job"] = older.id  # a refresh of a tab that followed the older job
    at.run()
    assert any("older run" in m.value for m in at.sidebar.markdown)
    assert not any("newer run" in m.value for m in at.sidebar.markdown)
    assert any("newer run" in m.value for m in fresh_session().sidebar.markdown)  # no URL: the latest


def test_stop_twice_says_already_stopping() -> None:
    import threading

    release = threading.Event()
    reg = registry.get_registry()
    job = reg.start("train", "blocked", lambda job: release.wait(30))
    try:
        assert stop_job(job).startswith("Stopping job")
        assert "already stopping" in stop_job(job)
    finally:
        release.set()
        job.thread.join(10)
    assert "already stopped" in stop_job(job)


def test_missing_data_fails_with_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNGAN_DATA_DIR", str(tmp_path / "no-data-here"))
    at = open_train_page()
    at.selectbox(key="train_dataset").set_value("mnist").run()
    at = start(at, steps=5)
    at = wait_for(at, in_state("failed"), "the job to fail")
    assert any("failed" in e for e in texts(at.error))
    assert any("BNGAN_DATA_DIR" in i and "digits" in i for i in texts(at.info))


# helpers ------------------------------------------------------------------------------------------------
def history(n: int) -> list[dict]:
    return [{"step": i, **{k: float(i % 7) for k in LOSS_KEYS}} for i in range(1, n + 1)]


def test_loss_figure_has_every_term_and_stays_small() -> None:
    fig = loss_figure(history(5000))
    names = {t.name for t in fig.data}
    assert names >= {"D adversarial", "G adversarial", "R (generator)", "R: parents term"}
    assert len(fig.data) == len(LOSS_KEYS)
    assert max(len(t.x) for t in fig.data) <= 400
    steps, values = binned_series([{"step": 1, "d_adv": 1.0}, {"step": 2, "g_adv": 2.0}], "d_adv")
    assert steps == [1] and values == [1.0]  # a single-phase step lacks the other terms: skipped
    assert loss_figure([]).layout.annotations  # "no steps yet"


def test_bn_fit_and_evaluation_figures() -> None:
    fit = [{"latent": "c1'", "weights": {"c1": 0.9}, "sigma2": 0.1, "r2": 0.8},
           {"latent": "c3'", "weights": {"c1": 0.5, "c2": -0.4}, "sigma2": 0.3, "r2": 0.6}]
    fig = bn_fit_figure(fit)
    assert list(fig.data[0].x) == ["c1'", "c3'"] and list(fig.data[2].x) == ["c1→c1'", "c1→c3'", "c2→c3'"]
    assert bn_fit_figure(None).layout.annotations
    names = [str(i) for i in range(3)]
    bars = recall_f1_figure(names, [0.9, 0.8, 0.5], [0.9, 0.7, 0.4], minority={2})
    assert list(bars.data[0].x) == ["0", "1", "2 ★"]
    heat = confusion_figure([[8, 2, 0], [1, 9, 0], [0, 5, 5]], names, minority={2})
    assert list(heat.data[0].z[2]) == [0.0, 0.5, 0.5]


def test_progress_text_and_durations() -> None:
    assert format_duration(None) == "—" and format_duration(42) == "42 s" and format_duration(185) == "3:05"
    text = progress_text({"state": "running", "step": 10, "total": 100, "elapsed_s": 5.0, "eta_s": 45.0})
    assert text == "step 10 / 100 · 5 s elapsed · ETA 45 s"

"""Durable run folders (issue #14): nothing a crash, a full disk or a server restart does loses a finished
step's metrics or the last checkpoint, and every run can be resumed.

The crash test kills real ``python -m bngan train`` processes with SIGKILL while they write a checkpoint
(a temporary checkpoint file is on disk), resumes each time in the same folder, and checks afterwards that
``metrics.jsonl`` holds every step exactly once and the checkpoint loads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from app_helpers import APP, stop_all_jobs, wait_for
from streamlit.testing.v1 import AppTest

from bngan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from bngan.cli import main
from bngan.config import TrainConfig
from bngan.files import stale_temporaries
from bngan.jobs import JobRegistry
from bngan.runs import RunWriter, continue_metrics, read_metrics
from bngan.training import Trainer

ROOT = Path(__file__).resolve().parents[1]


def tiny(**changes) -> TrainConfig:
    base = {"dataset": "digits", "steps": 6, "batch_size": 16, "sample_every": 10**6, "checkpoint_every": 4,
            "z_dim": 8, "device": "cpu"}
    return TrainConfig(**{**base, **changes})


def steps_in(folder: Path) -> list[int]:
    return [row["step"] for row in read_metrics(folder)]


# metrics ------------------------------------------------------------------------------------------------------
def test_metrics_reach_the_disk_at_every_step(tmp_path: Path) -> None:
    trainer = Trainer(tiny())
    writer = RunWriter(tmp_path, trainer)
    seen = []

    def on_event(event) -> None:
        writer(event)
        seen.append(len((tmp_path / "metrics.jsonl").read_text().splitlines()))  # read while still open

    trainer.run(callback=on_event)
    writer.close()
    assert seen == [1, 2, 3, 4, 5, 6]


def test_a_sample_grid_appears_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Train page lists ``samples_*.png`` while the run writes them: a grid half-written must not be listed
    (the page once failed with "cannot identify image file" on one)."""
    import torchvision.utils

    save_image = torchvision.utils.save_image
    listed_while_writing = []

    def slow_save(tensor, fp, **kwargs) -> None:
        save_image(tensor, fp, **kwargs)  # written, not yet closed: what the page's glob lists now
        listed_while_writing.append(sorted(p.name for p in tmp_path.glob("samples_*.png")))

    monkeypatch.setattr(torchvision.utils, "save_image", slow_save)
    trainer = Trainer(tiny(steps=4, sample_every=2))  # grids at steps 1, 2, 4; none listed during its write
    writer = RunWriter(tmp_path, trainer)
    trainer.run(callback=writer)
    writer.close()
    assert listed_while_writing == [[], ["samples_000001.png"], ["samples_000001.png", "samples_000002.png"]]
    for grid in tmp_path.glob("samples_*.png"):
        assert grid.read_bytes().startswith(b"\x89PNG")


class Killed(Exception):
    """Stands in for a SIGKILL after a step (the run's final save never happens)."""


def test_a_resume_continues_the_metrics_at_the_checkpoints_step(tmp_path: Path) -> None:
    trainer = Trainer(tiny(steps=100))
    writer = RunWriter(tmp_path, trainer)

    def on_event(event) -> None:
        writer(event)
        if event.step == 7:
            raise Killed

    with pytest.raises(Killed):
        trainer.run(callback=on_event, checkpoint_path=writer.checkpoint)
    writer.close()
    with (tmp_path / "metrics.jsonl").open("a") as torn:
        torn.write('{"step": 8, "d_ad')  # a line cut by the kill
    assert load_checkpoint(writer.checkpoint)["step"] == 4 and steps_in(tmp_path) == list(range(1, 8))

    resumed = Trainer.resume(writer.checkpoint, steps=10)
    again = RunWriter(tmp_path, resumed)
    resumed.run(callback=again, checkpoint_path=again.checkpoint)
    again.close()
    assert steps_in(tmp_path) == list(range(1, 11))  # no gap, no duplicate, no torn line
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 10


def test_continue_metrics_keeps_each_step_once(tmp_path: Path) -> None:
    rows = [1, 2, 3, 2, 3, 4, 5]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in rows) + "garbage\n")
    assert continue_metrics(tmp_path, 3) == 5
    assert steps_in(tmp_path) == [1, 2, 3]
    assert continue_metrics(tmp_path, 3) == 0


# checkpoints ------------------------------------------------------------------------------------------------
def test_stale_temporary_files_are_removed_at_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    for name in (".checkpoint.pt.abc123.tmp", ".checkpoint.pt.zz.tmp"):
        (tmp_path / name).write_bytes(b"x" * 1000)
    (tmp_path / ".cell.json.q.tmp").write_bytes(b"another target's")
    trainer = Trainer(tiny(steps=1))
    trainer.save(target)
    assert stale_temporaries(target) == [] and (tmp_path / ".cell.json.q.tmp").exists()
    assert load_checkpoint(target)["step"] == 0


def test_a_time_based_checkpoint_is_written_between_step_checkpoints(tmp_path: Path, monkeypatch) -> None:
    saves: list[int] = []
    trainer = Trainer(tiny(steps=3, checkpoint_every=10**6))
    monkeypatch.setattr(Trainer, "save", lambda self, path, include_optimizer=True: saves.append(self.step_count))
    trainer.run(checkpoint_path=tmp_path / "c.pt", checkpoint_every_s=0.0)
    assert saves == [1, 2, 3, 3]
    saves.clear()
    Trainer(tiny(steps=3, checkpoint_every=10**6)).run(checkpoint_path=tmp_path / "c.pt")
    assert saves == [3]


def test_the_app_job_checkpoints_on_time() -> None:
    from bngan import jobs

    assert 0 < jobs.CHECKPOINT_EVERY_S <= 30


def _full_disk(monkeypatch, free: int = 2**20) -> None:
    """torch's zip writer on a full disk: a partial file, then RuntimeError; the disk has ``free`` bytes left."""
    import shutil

    import bngan.checkpoint as checkpoint

    def failing_save(data, handle) -> None:
        handle.write(b"PK partial")
        raise RuntimeError("[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed writing file "
                           "data/3: file write failed")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    usage = shutil.disk_usage("/")
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: usage._replace(free=free))


def test_a_full_disk_is_named_and_the_previous_checkpoint_kept(tmp_path: Path, monkeypatch) -> None:
    trainer = Trainer(tiny(steps=1))
    target = trainer.save(tmp_path / "checkpoint.pt")
    before = target.read_bytes()
    _full_disk(monkeypatch)
    with pytest.raises(OSError, match="is full") as info:
        trainer.save(target)
    assert "previous checkpoint is kept" in str(info.value) and "\n" not in str(info.value)
    assert target.read_bytes() == before and stale_temporaries(target) == []


def test_a_full_disk_in_the_cli_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    _full_disk(monkeypatch)
    code = main(["train", "--steps", "2", "--batch-size", "16", "--sample-every", "100", "--out",
                 str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the "training on cpu: ..." line
    assert code == 2 and last.startswith("bngan: error: could not save the checkpoint") and "is full" in last
    assert "Traceback" not in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_named(tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["train", "--steps", "2", "--out", str(locked / "run"), "--quiet"])
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert code == 2 and "Permission denied" in err and str(locked) in err and len(err.strip().splitlines()) == 1


def test_a_checkpoint_that_cannot_be_read_back_is_refused_not_half_used(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.pt", {"config": "{}", "model": "{}", "generator": {"w": torch.ones(1)},
                                               "discriminator": {"w": torch.ones(1)}, "step": 0})
    with pytest.raises(CheckpointError, match=r"lacks 'structure': it is incomplete"):
        Trainer.resume(path)


# jobs and restarts ------------------------------------------------------------------------------------------
def _wait(condition, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_shutdown_stops_each_job_which_saves_first(tmp_path: Path) -> None:
    registry = JobRegistry(tmp_path)
    job = registry.start_training(tiny(steps=10**6, checkpoint_every=10**6))
    _wait(lambda: job.step >= 3, "three steps")
    assert registry.shutdown() == [job.id]
    assert str(job.state) == "stopped"
    saved = load_checkpoint(job.folder / "checkpoint.pt")["step"]
    assert saved == job.step and steps_in(job.folder) == list(range(1, saved + 1))


SERVER = textwrap.dedent("""
    import signal, sys, time
    import torch
    torch.set_num_threads(1)
    from bngan.config import TrainConfig
    from bngan.jobs import JobRegistry

    # what Streamlit does with SIGTERM and SIGINT: stop the server, then leave the interpreter normally
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    registry = JobRegistry(sys.argv[1])
    job = registry.start_training(TrainConfig(dataset="digits", steps=10**6, batch_size=16, sample_every=10**6,
                                              checkpoint_every=10**6, z_dim=8, device="cpu"))
    while job.step < 5:
        time.sleep(0.05)
    print(job.folder, flush=True)
    while True:
        time.sleep(0.05)
""")


def test_a_terminated_server_stops_its_job_which_checkpoints_first(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        folder = Path(server.stdout.readline().strip())
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "terminate called" not in err
    saved = load_checkpoint(folder / "checkpoint.pt")["step"]
    assert saved >= 5 and steps_in(folder) == list(range(1, saved + 1))  # nothing trained after it is lost


def test_a_resumed_job_shows_samples_and_the_fit_from_its_first_step(tmp_path: Path) -> None:
    """The grid and the network's fit come every ``sample_every`` steps and at step 1; a resumed run starts
    past step 1, so without its own first grid the Structure page had no learned weights to show."""
    registry = JobRegistry(tmp_path)
    job = registry.start_training(tiny(steps=3))
    job.thread.join(60)
    assert job.snapshot()["samples_step"] == 1
    again = registry.start_training(tiny(steps=5), resume_from=job.folder / "checkpoint.pt", folder=job.folder)
    again.thread.join(60)
    shown = again.snapshot()
    assert shown["state"] == "finished" and shown["samples_step"] == 4  # its first step, not step 1 or none
    assert shown["samples"] is not None and len(shown["bn_fit"]) == 3


def test_a_gone_job_is_found_by_its_run_folder(tmp_path: Path) -> None:
    first = JobRegistry(tmp_path)
    job = first.start_training(tiny(steps=3))
    job.thread.join(60)
    again = first.start_training(tiny(steps=5), resume_from=job.folder / "checkpoint.pt", folder=job.folder)
    again.thread.join(60)
    restarted = JobRegistry(tmp_path)  # a new server: no jobs in memory
    assert restarted.get(job.id) is None
    assert restarted.find_run(job.id) == job.folder == restarted.find_run(again.id)
    assert steps_in(job.folder) == [1, 2, 3, 4, 5]
    for hostile in ("../etc", "*", "", None, "0123456789abcdef", "deadbeef"):
        assert restarted.find_run(hostile) is None


def test_after_a_restart_the_train_page_opens_the_gone_jobs_run_and_resumes_it(tmp_path: Path,
                                                                                monkeypatch) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(runs))
    old = JobRegistry(runs)  # the earlier server's registry; the app's own starts empty
    job = old.start_training(tiny(steps=3))
    job.thread.join(60)
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["job"] = job.id
        at.run()
        at = at.switch_page("app_pages/train.py").run()
        assert not at.exception, at.exception
        assert any("no longer running" in i.value and job.folder.name in i.value for i in at.info)
        assert at.selectbox(key="train_run_folder").value == str(job.folder)
        at.number_input(key="train_run_more_steps").set_value(2)
        at.button(key="train_resume_run").click().run()
        assert any("Resumed job" in s.value for s in at.success)
        at = wait_for(at, lambda a: any("finished after 5 steps" in s.value for s in a.success), "the resume")
        assert steps_in(job.folder) == [1, 2, 3, 4, 5]
    finally:
        stop_all_jobs()


# the crash test ------------------------------------------------------------------------------------------------
def _train(folder: Path, resume: bool, steps: int) -> subprocess.Popen:
    args = ["--resume", str(folder / "checkpoint.pt")] if resume else ["--dataset", "digits"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "bngan", "train", *args, "--steps", str(steps), "--batch-size", "16",
         "--sample-every", "1000000", "--checkpoint-every", "1", "--out", str(folder), "--quiet"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_during_a_save(process: subprocess.Popen, folder: Path, after_steps: int) -> bool:
    """SIGKILL ``process`` as soon as it writes a checkpoint (a temporary file exists) after ``after_steps``
    more metrics rows; True if the kill landed during a save."""
    start = len(steps_in(folder))
    target = folder / "checkpoint.pt"
    old = set(stale_temporaries(target))  # left by the previous kill: removed by this process's first save
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(steps_in(folder)) >= start + after_steps and set(stale_temporaries(target)) - old:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.0005)
    process.kill()
    process.wait()
    return False


def test_kill_9_during_saves_loses_and_repeats_no_metrics_row(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    kills, leftovers = 0, []
    process = _train(folder, resume=False, steps=10**6)
    _wait(lambda: (folder / "checkpoint.pt").exists() or process.poll() is not None, "the first checkpoint", 120)
    for round_ in range(11):
        kills += _kill_during_a_save(process, folder, after_steps=1 + round_ % 3)
        leftovers.append(len(stale_temporaries(folder / "checkpoint.pt")))
        saved = load_checkpoint(folder / "checkpoint.pt")["step"]  # the last good checkpoint survived
        rows = steps_in(folder)
        assert rows[:saved] == list(range(1, saved + 1))  # every step up to the checkpoint was on disk
        process = _train(folder, resume=True, steps=10**6)
    process.kill()
    process.wait()
    saved = load_checkpoint(folder / "checkpoint.pt")["step"]
    final = _train(folder, resume=True, steps=saved + 3)
    assert final.wait(timeout=180) == 0, final.stderr.read().decode()
    rows = steps_in(folder)
    print(f"{kills} kills during saves; temporary files left by them: {leftovers}; final step {saved + 3}")
    assert kills >= 10 and any(leftovers)  # the kills did land inside saves
    assert rows == list(range(1, saved + 4))  # no row missing, none twice
    assert load_checkpoint(folder / "checkpoint.pt")["step"] == saved + 3
    assert stale_temporaries(folder / "checkpoint.pt") == []  # removed by the next save

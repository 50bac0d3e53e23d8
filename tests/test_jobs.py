"""Job states: one enumeration, changed only by Job's methods under its lock; a stop is never undone by a late
progress report; the registry reports bngan's own errors as a line and anything else with its traceback."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bngan.errors import InvalidSettingError
from bngan.jobs import Job, JobRegistry, JobState


def test_states_are_one_enumeration_and_read_only() -> None:
    job = Job(id="j", kind="toy", title="toy")
    assert job.state is JobState.STARTING and job.state == "starting" and f"{job.state}" == "starting"
    assert job.snapshot()["state"] == "starting" and type(job.snapshot()["state"]) is str
    with pytest.raises(AttributeError):
        job.state = JobState.RUNNING  # only the methods change it


def test_transitions() -> None:
    job = Job(id="j", kind="toy", title="toy")
    job.report(message="loading data", running=False)
    assert job.state is JobState.STARTING and job.message == "loading data"
    job.pause()  # not running yet: nothing to pause
    assert job.state is JobState.STARTING
    job.report(step=1, total=10)
    assert job.state is JobState.RUNNING and (job.step, job.total) == (1, 10)
    job.pause()
    assert job.state is JobState.PAUSED and not job.resume_event.is_set()
    job.resume()
    assert job.state is JobState.RUNNING and job.resume_event.is_set()
    assert job.stop() and job.state is JobState.STOPPING and job.stop_event.is_set()
    job.report(step=2)  # a late progress report does not undo the stop
    assert job.state is JobState.STOPPING and job.step == 2
    job.finish({"steps": 2})
    assert job.state is JobState.STOPPED and not job.active and not job.stop()


def test_a_stop_while_starting_wins_over_the_first_report() -> None:
    job = Job(id="j", kind="toy", title="toy")
    job.stop()
    job.report(total=5)
    assert job.state is JobState.STOPPING
    job.finish(None)
    assert job.state is JobState.STOPPED


def _run(registry: JobRegistry, work) -> Job:
    job = registry.start("toy", "toy", work)
    job.thread.join(10)
    return job


def test_registry_reports_own_errors_as_a_line_and_bugs_with_their_traceback(tmp_path: Path) -> None:
    registry = JobRegistry(tmp_path)

    def user_error(job: Job) -> None:
        raise InvalidSettingError("steps must be positive")

    def bug(job: Job) -> None:
        raise ValueError("an index went wrong")

    failed = _run(registry, user_error)
    assert failed.state is JobState.FAILED and failed.error == "steps must be positive"
    crashed = _run(registry, bug)
    assert crashed.state is JobState.FAILED
    assert crashed.error.startswith("ValueError: an index went wrong") and "Traceback" in crashed.error
    done = _run(registry, lambda job: 42)
    assert done.state is JobState.FINISHED and done.result == 42


def test_concurrent_stop_and_reports_end_in_stopped(tmp_path: Path) -> None:
    """The worker reports as fast as it can while the UI stops it: the job ends stopped, never running."""
    registry = JobRegistry(tmp_path)
    started = threading.Event()

    def work(job: Job) -> None:
        step = 0
        while not job.stop_event.is_set():
            step += 1
            job.report(step=step, total=10**9)
            started.set()

    job = registry.start("toy", "toy", work)
    assert started.wait(10)
    assert job.stop()
    job.thread.join(10)
    assert job.state is JobState.STOPPED


def test_eta_follows_the_pace_slow_motion_included() -> None:
    job = Job("j", "train", "t")
    job.report(step=10, total=110, elapsed_s=5.0)
    assert job.eta_s() == pytest.approx(50.0)  # 0.5 s a step, 100 to go
    job.set_slow_motion(0.5)
    assert job.eta_s() == pytest.approx(100.0)  # the pause after each step counts too

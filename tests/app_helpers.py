"""Helpers shared by the AppTest page tests: open a page through app.py, wait for a job, stop every job."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(page: str) -> AppTest:
    """Run app.py (navigation, sidebar), then switch to ``page`` as a user clicking the menu would."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page(page).run()


def wait_for(at: AppTest, condition: Callable[[AppTest], bool], what: str, timeout_s: float = 60) -> AppTest:
    """Rerun the page until ``condition`` holds (the job runs in a thread; the page only reads it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if condition(at):
            return at
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def stop_all_jobs() -> None:
    """Stop and join every job of the current registry, so no thread outlives its test."""
    from bngan.ui import registry

    reg = registry.peek_registry()
    if reg is None:
        return
    for job in list(reg.jobs.values()):
        job.stop()
        if job.thread is not None:
            job.thread.join(timeout=30)

"""Polling for the browser tests: the page updates itself, so a test waits for a condition, not a time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout_s: float = 30) -> T:
    """Poll ``condition`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {what}")


SCRIPT_RUNNING = "[data-test-script-state=running]"  # the mark Streamlit sets on its app root while a script runs


def wait_until_idle(page, what: str, quiet_s: float = 2.0, timeout_s: float = 60) -> None:
    """Wait until no script run has shown for ``quiet_s``: a click that lands while a rerun redraws its target
    is lost (e.g. a deferred download bound to the run that drew the button), and a loaded machine makes the
    reruns slow, so a fixed pause is not enough."""
    last_busy = [time.monotonic()]

    def quiet() -> bool:
        if page.locator(SCRIPT_RUNNING).count():
            last_busy[0] = time.monotonic()
        return time.monotonic() - last_busy[0] >= quiet_s

    wait_until(quiet, what, timeout_s)

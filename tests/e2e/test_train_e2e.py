"""The Train page in a real browser: start a digits run, watch it live, leave and come back, stop it.

The server (tests/e2e/conftest.py) inherits this process's environment, so the runs go to a tmp folder
(``BNGAN_RUNS_DIR``, set by the conftest before the server starts) and training uses one thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.e2e.navigation import MAIN, SIDEBAR, open_page
from tests.e2e.polling import wait_until, wait_until_idle

pytestmark = pytest.mark.e2e

def main_step(page) -> int | None:
    """The step shown under the page's progress bar, or None before the job view exists."""
    texts = page.locator(f"{MAIN} [data-testid=stProgress]").all_inner_texts()
    match = re.search(r"step (\d+) / (\d+)", " ".join(texts))
    return int(match.group(1)) if match else None


def job_id(page) -> str:
    header = page.locator(MAIN).get_by_text(re.compile(r"^[0-9a-f]{8}$")).first
    return header.inner_text()


@contextmanager
def screenshot_on_failure(page, path: Path) -> Iterator[None]:
    """Keep what the browser saw when a step fails: the quickest way to tell why."""
    try:
        yield
    except BaseException:
        page.screenshot(path=str(path))
        raise


def test_start_watch_leave_return_and_stop(page, app_url: str, artifacts_dir: Path) -> None:
    with screenshot_on_failure(page, artifacts_dir / "failure-train.png"):
        start_watch_leave_return_and_stop(page, app_url, artifacts_dir)


def start_watch_leave_return_and_stop(page, app_url: str, artifacts_dir: Path) -> None:
    open_page(page, app_url, "Train")
    # act as a user does, on a drawn form: the minority classes shown, Start enabled
    minority = page.locator(f"{MAIN} [data-testid=stMultiSelect]").filter(has_text="Minority classes")
    wait_until(lambda: "8" in minority.inner_text() and "9" in minority.inner_text(), "the minority classes")
    wait_until(lambda: page.locator(MAIN).get_by_role("button", name="Start training").is_enabled(), "Start")
    steps = page.locator(MAIN).get_by_role("spinbutton", name="Steps", exact=True)
    steps.fill("300")
    steps.press("Enter")
    page.wait_for_timeout(600)  # the rerun that stores the value
    page.locator(MAIN).get_by_role("button", name="Start training").click()

    first = wait_until(lambda: main_step(page), "the first training steps", 60)
    wait_until(lambda: (main_step(page) or 0) > first, "the progress to advance")
    grid = page.locator(f"{MAIN} [data-testid=stImage] img").first
    grid.wait_for()
    wait_until(lambda: grid.evaluate("img => img.complete && img.naturalWidth > 300"), "the sample grid image")
    running = job_id(page)
    page.screenshot(path=str(artifacts_dir / "train-running.png"))

    # another page: the sidebar follows the same job, and the Structure page says it is locked
    page.locator(SIDEBAR).get_by_role("link", name="Structure", exact=True).click()
    sidebar = page.locator(SIDEBAR)
    sidebar.get_by_text(running).wait_for()
    wait_until(lambda: re.search(r"step \d+ / 300", sidebar.inner_text()), "the sidebar progress")
    page.locator(MAIN).get_by_text("A training job is running with its own copy").wait_for()
    page.locator(f"{MAIN} [data-testid=stDataFrame] [role=gridcell]").first.wait_for(state="attached")
    canvas = page.locator("[data-testid=bngan-dag-canvas]")
    labels = lambda: json.loads(canvas.get_attribute("data-edge-labels") or "{}")  # noqa: E731
    wait_until(lambda: len(labels()) == 5, "the learned weights on the 5 edges")
    boxes = list(labels().values())
    for i, a in enumerate(boxes):  # c1 -> c3' crosses c2 -> c2': their labels must not cover each other
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or
                     a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, (a, b)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts_dir / "train-sidebar-on-structure.png"))

    page.locator(SIDEBAR).get_by_role("link", name="Train", exact=True).click()
    wait_until(lambda: main_step(page), "the job view again")
    assert job_id(page) == running
    wait_until(lambda: f"job={running}" in page.url, "the job in the URL")  # set by the run that drew the view
    page.reload()  # a refresh empties the session; the URL and the process-wide registry find the job
    wait_until(lambda: main_step(page), "the job view after a refresh")
    assert job_id(page) == running

    # teaching: pause, then one generator step redraws the sample grid and says what it changed
    page.locator(MAIN).get_by_role("button", name="Pause").click()
    page.locator(MAIN).get_by_role("button", name="Continue").wait_for()
    grid = page.locator(f"{MAIN} [data-testid=stImage] img").first
    settled = [grid.get_attribute("src")]
    for _ in range(12):  # the live view refreshes every 2 s: wait until two refreshes show the same grid
        page.wait_for_timeout(2500)
        settled.append(grid.get_attribute("src"))
        if settled[-1] == settled[-2]:
            break
    page.locator(MAIN).get_by_role("button", name="One G step").click()
    wait_until(lambda: grid.get_attribute("src") != settled[-1], "the grid to show the single step")
    page.locator(MAIN).get_by_text(re.compile(r"\(G only\): g_adv")).wait_for()
    page.screenshot(path=str(artifacts_dir / "train-one-g-step.png"))

    page.locator(MAIN).get_by_role("button", name="Stop").click()
    done = page.locator(f"{MAIN} [data-testid=stAlert]").filter(has_text="Checkpoint:")
    done.wait_for(timeout=30_000)
    text = done.inner_text()
    assert f"Job {running} stopped" in text and "checkpoint.pt" in text
    download = page.locator(MAIN).get_by_role("button", name="Download checkpoint")
    download.wait_for()
    page.screenshot(path=str(artifacts_dir / "train-stopped.png"))
    final = page.locator(MAIN).get_by_text("final checkpoint")
    final.wait_for()
    page.locator(f"{MAIN} [data-testid=stImage]").first.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts_dir / "train-stopped-samples.png"))
    # the download is deferred (the server reads the file on click) and bound to the run that drew the
    # button: let the reruns that follow the job's end settle first
    wait_until_idle(page, "the reruns after the job's end to settle")
    with page.expect_download(timeout=60_000) as info:
        download.click()
    saved = Path(info.value.path())
    assert saved.stat().st_size > 100_000 and info.value.suggested_filename == f"bngan-{running}.pt"
    # Resume goes on with the same run: the loss curve still starts at the run's first steps
    stopped_at = main_step(page)
    page.locator(MAIN).get_by_role("button", name="Resume", exact=True).click()
    wait_until(lambda: (main_step(page) or 0) > (stopped_at or 0), "the resumed run to advance", 60)
    plot = page.locator(f"{MAIN} [data-testid=stPlotlyChart] .js-plotly-plot").first
    first_step = wait_until(lambda: plot.evaluate("p => p.data && p.data.length && Math.min(...p.data[0].x)"),
                            "the loss curve after resuming")
    assert first_step <= 5, f"the curve starts at step {first_step}, not at the run's start"
    page.screenshot(path=str(artifacts_dir / "train-resumed.png"))
    running = job_id(page)  # the resumed job (same run folder, a new job)
    page.locator(MAIN).get_by_role("button", name="Stop").click()
    page.locator(f"{MAIN} [data-testid=stAlert]").filter(has_text="Checkpoint:").wait_for(timeout=30_000)
    # back on the Structure page, the drawn network shows what the stopped job learned
    page.locator(SIDEBAR).get_by_role("link", name="Structure", exact=True).click()
    page.locator(MAIN).get_by_text(f"learned by job {running}").wait_for()
    page.wait_for_timeout(800)
    page.screenshot(path=str(artifacts_dir / "structure-learned-weights.png"))


def test_form_settings_survive_a_reload(page, app_url: str) -> None:
    """Settings changed on the form come back after a browser reload, also one made on another page."""
    open_page(page, app_url, "Train")
    steps = page.locator(MAIN).get_by_role("spinbutton", name="Steps", exact=True)
    steps.fill("321")
    steps.press("Enter")
    seed = page.locator(MAIN).get_by_role("spinbutton", name="Seed", exact=True)
    seed.fill("7")
    seed.press("Enter")
    wait_until(lambda: '"seed":7' in unquote(page.evaluate("location.href")), "the settings to reach the URL")
    page.locator(SIDEBAR).get_by_role("link", name="Traversals", exact=True).click()
    page.locator(MAIN).get_by_text("Traversals").first.wait_for()
    wait_until(lambda: '"steps":321' in unquote(page.evaluate("location.href")), "the settings to stay in the URL")
    page.reload()
    page.locator(MAIN).get_by_text("Traversals").first.wait_for()
    page.locator(SIDEBAR).get_by_role("link", name="Train", exact=True).click()
    steps = page.locator(MAIN).get_by_role("spinbutton", name="Steps", exact=True)
    steps.wait_for()
    assert steps.input_value() == "321"
    assert page.locator(MAIN).get_by_role("spinbutton", name="Seed", exact=True).input_value() == "7"

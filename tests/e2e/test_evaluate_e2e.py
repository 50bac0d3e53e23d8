"""The Evaluate page in a real browser: a finished comparison on disk is shown as a table and as per-class
recall/F1 bars in which the minority classes (the point of the page) are drawn.

AppTest cannot see inside a plotly chart; the browser can: plotly once guessed a numeric x axis from the
class names "0".."7" and silently dropped the starred minority classes "8 ★", "9 ★".
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.navigation import MAIN, open_page
from tests.e2e.polling import wait_until

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def tiny_comparison() -> Path:
    """A finished 1-fold digits comparison (none vs ROS, 5 CNN steps) in the server's results folder."""
    import torch

    from bngan.experiments.table1.cells import run_experiment

    torch.set_num_threads(1)
    folder = Path(os.environ["BNGAN_RESULTS_DIR"]) / "e2e-tiny"
    if not (folder / "results.json").exists():
        run_experiment(dataset="digits", methods=["none", "ros"], folds=1,
                       imbalance={"profile": "minority", "minority_classes": [8, 9], "ir": 10},
                       classifier_steps=5, out_dir=folder, device="cpu")
    return folder


def test_results_table_and_minority_bars(page, app_url: str, artifacts_dir: Path, tiny_comparison: Path) -> None:
    open_page(page, app_url, "Evaluate")
    main = page.locator(MAIN)
    main.get_by_text("e2e-tiny").first.wait_for(timeout=60_000)
    main.locator("[data-testid=stDataFrame]").first.wait_for()
    ticks = main.locator("[data-testid=stPlotlyChart]").first.locator(".xtick text")
    wait_until(lambda: ticks.count() == 10, "the bar chart's 10 class ticks")
    labels = ticks.all_text_contents()  # SVG text: no innerText
    assert labels[:8] == [str(i) for i in range(8)] and labels[8:] == ["8 ★", "9 ★"]
    bars = main.locator("[data-testid=stPlotlyChart]").first.locator(".trace.bars .point")
    assert bars.count() == 20  # recall and F1 for each of the 10 classes
    page.screenshot(path=str(artifacts_dir / "evaluate.png"), full_page=True)


def test_progress_text_moves_during_gan_training(page, app_url: str, artifacts_dir: Path) -> None:
    """A comparison with a GAN row, started in the browser: while the GAN trains, the job's line counts its
    steps (it used to sit on "oversampling (GAN, 300 steps)" for minutes)."""
    open_page(page, app_url, "Evaluate")
    main = page.locator(MAIN)
    gan_steps = main.get_by_role("spinbutton", name="GAN steps")
    gan_steps.fill("200")
    gan_steps.press("Enter")
    page.wait_for_timeout(600)
    main.get_by_role("button", name="Run comparison").click()
    seen: set[str] = set()

    def gan_lines() -> int:
        text = main.inner_text()
        seen.update(line for line in text.splitlines() if "GAN step" in line)
        return len(seen)

    wait_until(lambda: gan_lines() >= 2, "two different GAN-step progress lines", 120)
    page.screenshot(path=str(artifacts_dir / "evaluate-progress.png"))
    main.get_by_role("button", name="Stop").first.click()
    # the stop takes effect after the running cell: wait, so the next test's job is not refused
    sidebar = page.locator("[data-testid=stSidebar]")
    wait_until(lambda: "stopped" in sidebar.inner_text() or "finished" in sidebar.inner_text(),
               "the comparison to stop", 180)

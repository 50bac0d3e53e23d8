"""Training speed inside the app (page open, live view refreshing every second) against the same job headless.

Starts ``streamlit run app.py`` on localhost, opens the Train page in headless Chromium, presses Start and
keeps the page open until the job finishes. Then it runs the job's own ``config.json`` headless through the
same code path (``RunWriter`` + ``Trainer.run``), before and after, and compares steps per second measured
the same way: steps over the wall time between the run folder's ``config.json`` and its final checkpoint.
Needs Debian's chromium and PyPI's playwright (the test dependencies).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def folder_rate(folder: Path) -> float:
    """Steps per second of a finished run folder."""
    steps = sum(1 for _ in (folder / "metrics.jsonl").open())
    wall = (folder / "checkpoint.pt").stat().st_mtime - (folder / "config.json").stat().st_mtime
    return steps / wall


def headless(config_path: Path, out: Path) -> float:
    from bngan.config import TrainConfig
    from bngan.runs import RunWriter
    from bngan.training import Trainer

    trainer = Trainer(TrainConfig.from_dict(json.loads(config_path.read_text())))
    writer = RunWriter(out, trainer)
    trainer.run(callback=writer, checkpoint_path=writer.checkpoint)
    writer.close()
    return folder_rate(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_app(runs: Path, steps: int, chromium: str, screenshot: Path | None = None) -> Path:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "BNGAN_RUNS_DIR": str(runs)}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://localhost:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium,
                                        args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/train")
            steps_field = page.get_by_label("Steps", exact=True)
            steps_field.fill(str(steps))
            steps_field.press("Enter")
            time.sleep(2)  # let the rerun register the value before pressing Start
            page.get_by_role("button", name="Start training").click()
            deadline = time.time() + 1800
            while time.time() < deadline:
                done = list(runs.glob("*/checkpoint.pt"))
                if done and sum(1 for _ in (done[0].parent / "metrics.jsonl").open()) >= steps:
                    break
                time.sleep(1.0)
            time.sleep(2)  # the final checkpoint is written after the last step
            if screenshot is not None:
                time.sleep(3)  # the live view redraws once more from the final checkpoint
                page.screenshot(path=str(screenshot), full_page=True)
            browser.close()
        return next(runs.glob("*/checkpoint.pt")).parent
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bngan bench app", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--chromium", default=os.environ.get("BNGAN_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--screenshot", type=Path, help="save a full-page screenshot of the finished run here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app_run = in_app(Path(tmp) / "runs", args.steps, args.chromium, args.screenshot)
        app_rate = folder_rate(app_run)
        rates = [headless(app_run / "config.json", Path(tmp) / f"headless{i}") for i in range(2)]
    base = sum(rates) / len(rates)
    print(f"headless: {base:.2f} steps/s (runs: {', '.join(f'{r:.2f}' for r in rates)})")
    print(f"in the app, page open: {app_rate:.2f} steps/s")
    print(f"app / headless: {app_rate / base:.0%}")
    return 0

"""A real `streamlit run app.py` stopped mid-job: what survives on disk, and the run resumed from the app.

Starts the app on a temporary runs folder, starts a digits job in headless Chromium, sends SIGTERM to the
server after ``--after`` seconds, compares the checkpoint with the metrics on disk, restarts the server and
resumes the run from the Train page's run-folder list. Prints the figures RESULTS.md reports.

    python scripts/sigterm_check.py [--after 45]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BNGAN_CHROMIUM", "/usr/bin/chromium")


def serve(port: int, env: dict, log: Path) -> subprocess.Popen:
    """``streamlit run app.py`` on ``port``, once its health endpoint answers."""
    command = [str(ROOT / ".venv/bin/python"), "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.address", "localhost"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2)
            return process
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server on port {port} did not start; see {log}")


def metrics(folder: Path) -> tuple[int, int, int]:
    """(last step, rows, distinct steps) of a run's metrics.jsonl."""
    steps = [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
    return steps[-1], len(steps), len(set(steps))


def open_train_page(page, port: int) -> None:
    page.goto(f"http://localhost:{port}")
    page.locator("[data-testid=stSidebar]").get_by_role("link", name="Train", exact=True).click()


def main() -> None:
    from playwright.sync_api import sync_playwright

    from bngan.training import TrainedModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=float, default=45.0, help="seconds of training before SIGTERM")
    args = parser.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="sigterm-runs-"))
    env = {**os.environ, "BNGAN_RUNS_DIR": str(runs), "OMP_NUM_THREADS": "1"}
    logs = Path(tempfile.mkdtemp(prefix="sigterm-logs-"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        server = serve(8621, env, logs / "first.log")
        open_train_page(page, 8621)
        page.get_by_role("button", name="Start training").click()
        time.sleep(args.after)
        folder = next(p.parent for p in runs.glob("*/metrics.jsonl"))
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        last, rows, distinct = metrics(folder)
        checkpoint = TrainedModel.load(folder / "checkpoint.pt").step
        aborted = "terminate called" in (logs / "first.log").read_text()
        print(f"server exit code {code}; aborted: {aborted}")
        print(f"on disk: metrics to step {last} ({rows} rows, {distinct} distinct); checkpoint step {checkpoint}; "
              f"steps lost: {last - checkpoint}")
        server = serve(8622, env, logs / "second.log")
        open_train_page(page, 8622)
        page.get_by_text("Run folders").first.click()
        page.get_by_role("button", name="Resume run").click()
        time.sleep(20)
        last, rows, distinct = metrics(folder)
        print(f"resumed from the app: metrics to step {last} ({rows} rows, {distinct} distinct)")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        browser.close()


if __name__ == "__main__":
    main()

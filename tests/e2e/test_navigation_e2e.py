"""The sidebar lists exactly the pages st.navigation lists, even for the very first request a freshly started
server gets, and even when that request is for a page's URL.

With the pages in a folder named ``pages/``, Streamlit 1.67 serves that first visitor of ``/traversals`` its
own auto-discovered menu (app, disentanglement, evaluate, …) and no job sidebar (measured; README, Layout).
The pages therefore live in ``app_pages/``; this test keeps it so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT, _free_port, _wait_healthy
from tests.e2e.navigation import MAIN, SIDEBAR
from tests.e2e.polling import wait_until

pytestmark = pytest.mark.e2e
MENU = ["Structure", "Train", "Traversals", "Evaluate", "Disentanglement"]


def test_first_request_to_a_fresh_server_gets_the_apps_own_menu(browser, artifacts_dir: Path) -> None:
    port = _free_port()
    log = artifacts_dir / "fresh-server.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                   "--server.headless", "true", "--server.address", "localhost",
                                   "--browser.gatherUsageStats", "false"], cwd=REPO_ROOT, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://localhost:{port}", server, log)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://localhost:{port}/traversals")  # the server's very first page view
        page.locator(MAIN).get_by_role("heading", name="Traversals").wait_for(timeout=60_000)
        nav = page.locator(f"{SIDEBAR} [data-testid=stSidebarNav] a")
        wait_until(lambda: nav.count() == len(MENU), "the app's menu")
        assert [text.split("\n")[-1].strip() for text in nav.all_inner_texts()] == MENU
        page.locator(SIDEBAR).get_by_text("Job", exact=True).wait_for()  # the app's own job sidebar
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

"""Getting around the app in the browser tests: the main area, the sidebar, and opening a page by its menu."""

from __future__ import annotations

MAIN = "[data-testid=stMain]"
SIDEBAR = "[data-testid=stSidebar]"
HEADINGS = {"Structure": "Latent structure"}  # page titles whose heading differs from the menu entry


def open_page(page, app_url: str, title: str) -> None:
    """Load the app, click ``title`` in the sidebar menu as a user would, and wait for the page's heading."""
    page.goto(app_url)
    page.locator(SIDEBAR).get_by_role("link", name=title, exact=True).click()
    page.locator(MAIN).get_by_role("heading", name=HEADINGS.get(title, title)).wait_for()

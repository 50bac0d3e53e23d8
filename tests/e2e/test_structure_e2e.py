"""The Structure page in a real browser: draw edges with the mouse and watch the table and validation follow.

The editor publishes its node centres and edge midpoints (canvas-relative CSS pixels) as data attributes of
its canvas box, so the test can aim the mouse at nodes whatever the layout; components.v2 mounts the
editor in a shadow root of the page itself (no iframe), which Playwright's CSS locators pierce.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.e2e.conftest import REPO_ROOT
from tests.e2e.polling import wait_until

pytestmark = pytest.mark.e2e

CANVAS = "[data-testid=bngan-dag-canvas]"
TABLE_CELLS = "[data-testid=stDataFrame] [role=gridcell]"
ALERTS = "[data-testid=stAlert]"


def open_structure_page(page, app_url: str):
    """Open the app (Structure is the first page) and wait until the editor has drawn its nodes."""
    page.goto(app_url)
    canvas = page.locator(CANVAS)
    canvas.wait_for()
    drawn = lambda: len(json.loads(canvas.get_attribute("data-node-positions") or "{}")) == 6  # noqa: E731
    wait_until(drawn, "the editor drew its nodes")
    wait_for_table_rows(page, 5)
    return canvas


def points(canvas, attribute: str) -> dict[str, tuple[float, float]]:
    """Page coordinates of the nodes (or edge midpoints) published by the editor."""
    box = canvas.bounding_box()
    data = json.loads(canvas.get_attribute(attribute))
    return {name: (box["x"] + p["x"], box["y"] + p["y"]) for name, p in data.items()}


def draw_edge(page, canvas, parent: str, child: str) -> None:
    """Press on the parent node and drag to the child, in small steps as a hand would."""
    nodes = points(canvas, "data-node-positions")
    (x0, y0), (x1, y1) = nodes[parent], nodes[child]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 8, y0 + 4, steps=3)
    page.mouse.move(x1, y1, steps=15)
    page.mouse.up()


def table_rows(page) -> list[tuple[str, str]]:
    cells = page.locator(TABLE_CELLS).all_inner_texts()
    return list(zip(cells[0::2], cells[1::2]))


def wait_for_table_rows(page, count: int) -> list[tuple[str, str]]:
    wait_until(lambda: len(table_rows(page)) == count, f"{count} rows in the edge table")
    return table_rows(page)


def wait_for_alert(page, text: str) -> str:
    alert = page.locator(ALERTS).filter(has_text=text).first
    alert.wait_for(timeout=15_000)
    return alert.inner_text()


def test_editor_renders_nodes_and_nothing_loads_from_outside(page, app_url: str, artifacts_dir: Path) -> None:
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("http://localhost", "blob:", "data:", "ws://"))
            else outside.append(r.url))
    canvas = open_structure_page(page, app_url)
    nodes = points(canvas, "data-node-positions")
    assert set(nodes) == {"c1", "c2", "c3", "c1'", "c2'", "c3'"}
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] > 300
    assert all(box["x"] < x < box["x"] + box["width"] and box["y"] < y < box["y"] + box["height"]
               for x, y in nodes.values()), "every node is inside the visible canvas"
    observed_x = {round(nodes[f"c{i}"][0]) for i in (1, 2, 3)}
    latent_x = {round(nodes[f"c{i}'"][0]) for i in (1, 2, 3)}
    assert len(observed_x) == 1 and len(latent_x) == 1 and observed_x.pop() < latent_x.pop()
    page.get_by_text("Valid structure: 3 codes, 5 edges.").wait_for()
    page.screenshot(path=str(artifacts_dir / "structure-initial.png"), full_page=True)
    assert not outside, f"requests left the machine: {outside}"


def test_draw_edges_updates_table_and_reports_a_cycle(page, app_url: str, artifacts_dir: Path) -> None:
    canvas = open_structure_page(page, app_url)
    page.get_by_role("button", name="Add edge").click()
    assert page.get_by_role("button", name="Add edge").get_attribute("aria-pressed") == "true"

    draw_edge(page, canvas, "c1'", "c2'")
    assert wait_for_table_rows(page, 6)[-1] == ("c1'", "c2'")
    page.get_by_text("Valid structure: 3 codes, 6 edges.").wait_for()

    draw_edge(page, canvas, "c2'", "c1'")  # add-edge mode stays on between edges
    assert wait_for_table_rows(page, 7)[-1] == ("c2'", "c1'")
    message = wait_for_alert(page, "Cycle")
    assert "c1'" in message and "c2'" in message and "remove one of these edges" in message
    assert page.get_by_text("Valid structure").count() == 0
    page.mouse.move(5, 5)  # no tooltip over the drawing
    page.screenshot(path=str(artifacts_dir / "structure-cycle.png"), full_page=True)

    # select the offending edge in the drawing and delete it with the keyboard
    page.keyboard.press("Escape")
    x, y = points(canvas, "data-edge-midpoints")["c2'->c1'"]
    page.mouse.click(x, y)
    page.keyboard.press("Delete")
    assert ("c2'", "c1'") not in wait_for_table_rows(page, 6)
    page.get_by_text("Valid structure: 3 codes, 6 edges.").wait_for()


def test_code_buttons_rename_and_table_edits_reach_the_drawing(page, app_url: str, artifacts_dir) -> None:
    canvas = open_structure_page(page, app_url)
    page.get_by_role("button", name="+ code").click()
    assert wait_for_table_rows(page, 6)[-1] == ("c4", "c4'")
    page.get_by_text("Valid structure: 4 codes, 6 edges.").wait_for()
    wait_until(lambda: "c4'" in json.loads(canvas.get_attribute("data-node-positions")), "c4' drawn")

    page.once("dialog", lambda dialog: dialog.accept("slant"))
    x, y = points(canvas, "data-node-positions")["c4"]
    page.mouse.dblclick(x, y)
    label = page.get_by_label("Label of code 4")
    page.wait_for_function("(el) => el.value === 'slant'", arg=label.element_handle())

    # edit the first row of the table (c1 -> c1' becomes c1 -> c2'): the drawing follows, c1' is orphaned
    table = page.locator("[data-testid=stDataFrame]").first.bounding_box()
    page.mouse.dblclick(table["x"] + table["width"] * 0.75, table["y"] + 35 + 17)
    page.get_by_role("option", name="c2'", exact=True).click()  # choosing commits the cell
    message = wait_for_alert(page, "no parent")
    assert "c1'" in message
    wait_until(lambda: ["c1", "c2'"] in json.loads(canvas.get_attribute("data-edges")), "c1 -> c2' drawn")
    page.keyboard.press("Escape")
    page.mouse.move(5, 5)
    page.screenshot(path=str(artifacts_dir / "structure-table-edit.png"), full_page=True)

    page.get_by_role("button", name="− code").click()
    wait_for_table_rows(page, 5)
    assert page.get_by_label("Label of code 4").count() == 0


def agreement_text(page) -> str:
    return page.get_by_text("Agreement of this model with").first.inner_text()


def test_measured_model_heatmaps_follow_the_drawing(page, app_url: str, artifacts_dir: Path) -> None:
    """The bundled model's effect matrix and read-back codes are drawn as charts, and deleting the entangling
    edges in the drawing rescores the same model against the new drawing."""
    canvas = open_structure_page(page, app_url)
    charts = page.locator("[data-testid=stPlotlyChart]")
    wait_until(lambda: charts.count() == 2, "the effect and read-back heatmaps")
    ticks = charts.nth(0).locator(".xtick text")
    wait_until(lambda: ticks.count() == 5, "the effect heatmap's attribute ticks")
    assert ticks.all_text_contents() == ["thickness", "slant", "ink", "width", "height"]  # SVG: no innerText
    assert sorted(charts.nth(1).locator(".ytick text").all_text_contents()) == ["c1'", "c2'", "c3'"]
    cell_texts = " ".join(charts.nth(0).locator("text").all_text_contents())
    measured = json.loads((REPO_ROOT / "assets" / "default" / "effects.json").read_text())["matrix"]
    c1_on_slant = measured["effect"][0][measured["attributes"].index("slant")]
    assert f"{c1_on_slant:.2f}" in cell_texts and "(placebo)" in cell_texts  # the bundled numbers; placebo rows
    entangled = agreement_text(page)
    assert "c3' has c1, c2 among its ancestors" in page.locator("[data-testid=stMain]").inner_text()
    page.mouse.move(5, 5)
    page.screenshot(path=str(artifacts_dir / "structure-effects.png"), full_page=True)

    for edge in ("c1->c3'", "c2->c3'"):  # make the drawing disentangled, with the mouse and the keyboard
        x, y = points(canvas, "data-edge-midpoints")[edge]
        page.mouse.click(x, y)
        page.keyboard.press("Delete")
        page.keyboard.press("Escape")
    wait_for_table_rows(page, 3)
    wait_until(lambda: agreement_text(page) != entangled, "the agreement to follow the drawing")
    assert "c3' has c1, c2 among its ancestors" not in page.locator("[data-testid=stMain]").inner_text()


def test_a_hand_drawn_structure_survives_a_reload(page, app_url: str) -> None:
    canvas = open_structure_page(page, app_url)
    page.get_by_role("button", name="Add edge").click()
    draw_edge(page, canvas, "c1", "c2'")
    assert wait_for_table_rows(page, 6)[-1] == ("c1", "c2'")
    url = lambda: unquote(page.evaluate("location.href"))  # noqa: E731  (page.url pumps no events)
    wait_until(lambda: '["c1","c2\'"]' in url(), "the drawn edge to reach the URL")
    page.keyboard.press("Escape")  # leave add-edge mode
    page.once("dialog", lambda dialog: dialog.accept("slant"))  # rename c2 in the drawing
    x, y = points(canvas, "data-node-positions")["c2"]
    page.mouse.dblclick(x, y)
    wait_until(lambda: '"2":"slant"' in url(), "the new label to reach the URL")
    page.reload()
    canvas = page.locator(CANVAS)
    canvas.wait_for()
    assert wait_for_table_rows(page, 6)[-1] == ("c1", "c2'")
    page.get_by_label("Label of code 2").wait_for()
    assert page.get_by_label("Label of code 2").input_value() == "slant"
    wait_until(lambda: ["c1", "c2'"] in json.loads(canvas.get_attribute("data-edges") or "[]"), "c1 -> c2' drawn")


def test_add_edge_mode_survives_a_banner(page, app_url: str) -> None:
    """A success banner above the editor (here: "Applied the preset") must not switch add-edge mode off:
    the next drag still draws an edge instead of moving a node."""
    canvas = open_structure_page(page, app_url)
    add = page.get_by_role("button", name="Add edge")
    add.click()
    assert add.get_attribute("aria-pressed") == "true"
    page.get_by_role("button", name="Apply preset").click()
    wait_for_alert(page, "Applied the 'entangled' preset")
    canvas = page.locator(CANVAS)
    wait_until(lambda: len(json.loads(canvas.get_attribute("data-node-positions") or "{}")) == 6, "the nodes")
    assert page.get_by_role("button", name="Add edge").get_attribute("aria-pressed") == "true"
    draw_edge(page, canvas, "c1", "c2'")
    assert wait_for_table_rows(page, 6)[-1] == ("c1", "c2'")
    page.get_by_role("button", name="Apply preset").click()  # the menu says custom now: an error banner
    wait_for_alert(page, "Choose a preset to apply")
    draw_edge(page, page.locator(CANVAS), "c2", "c1'")  # drawn while the banner goes away
    assert wait_for_table_rows(page, 7)[-1] == ("c2", "c1'")
    assert page.get_by_role("button", name="Add edge").get_attribute("aria-pressed") == "true"

"""The Traversals page in a real browser: move a code slider with the keyboard and see the image change; a
corrupt upload is refused with the reason while the page keeps working.

A tiny checkpoint is trained here into the runs folder the server reads (``BNGAN_RUNS_DIR``, set at import,
before the session's server starts); a bundled default model, when present, is listed first and used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT
from tests.e2e.navigation import MAIN, open_page
from tests.e2e.polling import wait_until

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def tiny_run() -> Path:
    """A 3-step digits run folder under the server's runs folder (images are noise; controls still act)."""
    import torch

    from bngan.config import TrainConfig
    from bngan.runs import RunWriter
    from bngan.structure import LatentStructure
    from bngan.training import Trainer

    torch.set_num_threads(1)
    folder = Path(os.environ["BNGAN_RUNS_DIR"]) / "e2e-tiny"
    if not (folder / "checkpoint.pt").exists():
        labels = {1: "ink", 2: "tilt"}  # not the bundled model's: a switch shows
        trainer = Trainer(TrainConfig(dataset="digits", steps=3, batch_size=16, sample_every=100,
                                      checkpoint_every=100, z_dim=8, device="cpu",
                                      structure=LatentStructure.preset("entangled", 3, labels=labels).to_dict()))
        writer = RunWriter(folder, trainer)
        trainer.run(callback=writer, checkpoint_path=writer.checkpoint)
        writer.close()
    return folder


def test_slider_redraws_the_image_and_bad_upload_is_refused(page, app_url: str, artifacts_dir: Path,
                                                            tiny_run: Path) -> None:
    open_page(page, app_url, "Traversals")
    image = page.locator(f"{MAIN} [data-testid=stImage] img").first
    image.wait_for()
    page.locator(MAIN).get_by_text("What each code does, measured").wait_for(timeout=60_000)  # the whole page has drawn
    before = image.get_attribute("src")
    charts = page.locator(f"{MAIN} [data-testid=stPlotlyChart]")
    # curves, this model's effect and read-back heatmaps, then both of each model side by side
    wait_until(lambda: charts.count() == 7, "the attribute curves and the six heatmaps")
    titles = " ".join(charts.locator(".gtitle").all_text_contents())
    assert titles.count("In the image") == 3 and titles.count("Read back by D") == 3
    page.screenshot(path=str(artifacts_dir / "traversals.png"), full_page=True)

    slider = page.locator(MAIN).get_by_role("slider").first
    slider.focus()
    for _ in range(8):
        slider.press("ArrowRight")
    wait_until(lambda: image.get_attribute("src") != before, "the generated image to change")
    page.locator(MAIN).get_by_text("c1=+0.8").wait_for()
    page.screenshot(path=str(artifacts_dir / "traversals-moved.png"))

    moved = image.get_attribute("src")
    page.locator(f"{MAIN} input[type=file]").set_input_files(
        files=[{"name": "broken.pt", "mimeType": "application/octet-stream", "buffer": b"not a checkpoint"}])
    alert = page.locator(f"{MAIN} [data-testid=stAlert]").filter(has_text="Could not use broken.pt")
    alert.wait_for()
    assert "current model is kept" in alert.inner_text()
    page.screenshot(path=str(artifacts_dir / "traversals-bad-upload.png"))
    assert image.get_attribute("src") == moved  # same model, same codes, same picture

    slider.focus()
    slider.press("ArrowLeft")
    wait_until(lambda: image.get_attribute("src") != moved, "the page to keep working after the error")


def test_presentation_layout_fits_a_projector(browser, app_url: str, artifacts_dir: Path) -> None:
    """At 1280×720 with the presentation layout on, the image, every code slider and the strips are on
    screen without scrolling."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        open_page(page, app_url, "Traversals")
        page.locator("[data-testid=stSidebar]").get_by_text("Presentation layout").click()
        page.locator(f"{MAIN} h1").filter(has_text="Traversals").wait_for()
        sliders = page.locator(MAIN).get_by_role("slider")
        wait_until(lambda: sliders.count() == 3, "the three code sliders")
        wait_until(lambda: page.locator(f"{MAIN} [data-testid=stExpander]").filter(
            has_text="Upload a checkpoint").count() == 0, "the uploader to leave the screen")
        images = page.locator(f"{MAIN} [data-testid=stImage] img")
        image, strips = images.nth(0), images.nth(1)
        wait_until(lambda: (image.bounding_box() or {}).get("width", 0) >= 150, "the image at projector size")
        for element in [image, strips, *(sliders.nth(i) for i in range(3))]:
            box = element.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= 720 and box["x"] + box["width"] <= 1280
        page.screenshot(path=str(artifacts_dir / "traversals-presentation.png"))
    finally:
        page.close()


def test_switching_models_shows_the_new_models_names_everywhere(page, app_url: str, tiny_run: Path) -> None:
    """After another checkpoint is chosen, every slider and menu names the new model's codes and classes
    (keyed menus used to keep the previous model's entry names: 'c1 · slant' over a grid of 'c1 · ink')."""
    open_page(page, app_url, "Traversals")
    main = page.locator(MAIN)
    main.get_by_text("What each code does, measured").wait_for(timeout=60_000)

    def choose(name: str) -> None:
        main.get_by_test_id("stSelectbox").filter(has_text="Checkpoint").click()
        page.get_by_role("option", name=name, exact=False).first.click()

    choose("Default model · entangled")  # the page may open on another test's run: start from a known model
    sliders = page.locator(f"{MAIN} [data-testid=stSlider] [data-testid=stWidgetLabel]")
    bundled = json.loads((REPO_ROOT / "assets" / "default" / "config.json").read_text())["structure"]["labels"]
    wait_until(lambda: f"c2 · {bundled['2']}" in sliders.all_inner_texts(), "the bundled default's labels", 60)
    main.get_by_text("What each code does, measured").wait_for(timeout=60_000)
    choose("e2e-tiny")
    wait_until(lambda: sliders.all_inner_texts()[:2] == ["c1 · ink", "c2 · tilt"], "the new model's sliders", 60)
    main.get_by_text("What each code does, measured").wait_for(timeout=60_000)

    def shown() -> dict[str, str]:
        """Each menu's label and the entry it shows."""
        return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
            '[data-testid=stMain] [data-testid=stSelectbox] input[role=combobox]')].map(
            (box) => [box.getAttribute('aria-label'), box.value]))""")

    wait_until(lambda: shown().get("Across (x)") == "c1 · ink", "the grid menus to name the new codes", 30)
    values = shown()
    assert values["Down (y)"] == "c2 · tilt" and values["Code to measure"] == "c1 · ink", values
    assert "4000 img" not in values["Class"], values  # the bundled MNIST model's count, not this digits run's

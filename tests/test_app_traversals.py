"""The Traversals page with Streamlit's AppTest, on a tiny checkpoint trained here (a few steps: the
images are noise, but every control must change them), plus the picture helpers it uses."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from bngan.ui.images import MINORITY_COLOR, class_grid, labelled_grid, labelled_rows, png_bytes

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "app_pages/traversals.py"


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding one run folder (config, metrics, checkpoint) of a 3-step digits run."""
    from bngan.config import TrainConfig
    from bngan.runs import RunWriter
    from bngan.training import Trainer

    torch.set_num_threads(1)
    runs = tmp_path_factory.mktemp("runs")
    trainer = Trainer(TrainConfig(dataset="digits", steps=3, batch_size=16, sample_every=100,
                                  checkpoint_every=100, z_dim=8, device="cpu"))
    writer = RunWriter(runs / "run-tiny", trainer)
    trainer.run(callback=writer, checkpoint_path=writer.checkpoint)
    writer.close()
    return runs


@pytest.fixture
def page(trained_runs: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The Traversals page with the tiny run chosen (a bundled default model may be listed first)."""
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(trained_runs))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    at.selectbox(key="trav_checkpoint").set_value(str(trained_runs / "run-tiny" / "checkpoint.pt")).run()
    assert not at.exception, at.exception
    return at


def image_urls(at: AppTest) -> list[str]:
    """The page's images in order: generated image, strips, 2-D grid (URLs are content hashes)."""
    return [url for image in at.image for url in image.value]


def menu(at: AppTest, label: str):
    """The menu labelled ``label`` (menus that name codes or classes get a new key per model)."""
    return next(s for s in at.selectbox if s.label == label)


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_page_shows_controls_images_and_measurements(page: AppTest) -> None:
    assert [s.label for s in page.slider] == ["c1 · thickness", "c2 · rotation", "c3"]
    assert page.slider(key="trav_code_1").max == 2.5  # most of the N(0, 1) prior
    assert "run-tiny · digits · 3 steps" in page.selectbox(key="trav_checkpoint").options
    assert menu(page, "Class").options[9] == "9 · minority (15 img)"
    assert len(image_urls(page)) == 5  # image, strips, grid, then the side-by-side strips of two models
    assert [c.key for c in page.get("plotly_chart")] == [
        "trav_curves", "trav_effects", "trav_effects_readout", "trav_compare_effects_a",
        "trav_compare_effects_a_readout", "trav_compare_effects_b", "trav_compare_effects_b_readout"]
    assert any(c.startswith("Agreement with its own drawing") for c in texts(page.caption))


def test_side_by_side_offers_every_other_model(page: AppTest, trained_runs: Path) -> None:
    checkpoints = page.selectbox(key="trav_checkpoint")
    compare = page.selectbox(key="trav_compare")  # options are the menu's labels, values its paths
    assert "run-tiny · digits · 3 steps" not in compare.options
    assert set(compare.options) == set(checkpoints.options) - {"run-tiny · digits · 3 steps"}
    before = image_urls(page)
    menu(page, "Class").set_value(3).run()
    assert image_urls(page)[3] != before[3]  # the side-by-side strips follow the chosen class


def test_moving_a_slider_redraws_the_image(page: AppTest) -> None:
    before = image_urls(page)
    page.slider(key="trav_code_1").set_value(2.0).run()
    after = image_urls(page)
    assert after[0] != before[0]  # the generated image
    assert after[1] != before[1]  # the strips follow the other codes' values
    assert any("c1=+2.0" in c for c in texts(page.caption))
    reset = next(b for b in page.button if b.label == "Reset codes to 0")
    reset.click().run()
    assert image_urls(page)[0] == before[0]


def test_class_seed_and_grid_codes_change_the_pictures(page: AppTest) -> None:
    before = image_urls(page)
    menu(page, "Class").set_value(8).run()
    assert image_urls(page)[0] != before[0]
    page.number_input(key="trav_seed").set_value(3).run()
    middle = image_urls(page)
    menu(page, "Across (x)").set_value(3).run()
    assert image_urls(page)[2] != middle[2] and image_urls(page)[0] == middle[0]


@pytest.mark.parametrize("content, reason", [
    (b"this is not a checkpoint", "is not a readable bngan checkpoint"),
    (None, "is not a bngan checkpoint"),  # a valid PyTorch file from something else
])
def test_bad_upload_shows_the_error_and_keeps_the_model(page: AppTest, content: bytes | None,
                                                        reason: str) -> None:
    if content is None:
        buffer = io.BytesIO()
        torch.save({"weights": torch.zeros(3)}, buffer)
        content = buffer.getvalue()
    chosen = page.selectbox(key="trav_checkpoint").value
    before = image_urls(page)
    page.file_uploader[0].set_value(("bad.pt", content, "application/octet-stream")).run()
    errors = texts(page.error)
    assert any("Could not use bad.pt" in e and reason in e and "current model is kept" in e for e in errors)
    assert page.selectbox(key="trav_checkpoint").value == chosen
    assert image_urls(page) == before
    page.slider(key="trav_code_2").set_value(-1.0).run()  # the page keeps working
    assert image_urls(page)[0] != before[0] and not page.error


def test_good_upload_is_listed_and_chosen(page: AppTest, trained_runs: Path) -> None:
    raw = (trained_runs / "run-tiny" / "checkpoint.pt").read_bytes()
    page.file_uploader[0].set_value(("mine.pt", raw, "application/octet-stream")).run()
    assert not page.error
    box = page.selectbox(key="trav_checkpoint")
    assert box.value.endswith("mine.pt") and "Uploaded: mine.pt" in box.options
    assert len(image_urls(page)) == 5


def test_a_corrupt_run_keeps_the_previous_model(trained_runs: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(trained_runs / "run-tiny", runs / "run-tiny")
    (runs / "run-bad").mkdir()
    (runs / "run-bad" / "checkpoint.pt").write_bytes(b"half a file")
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    at.selectbox(key="trav_checkpoint").set_value(str(runs / "run-tiny" / "checkpoint.pt")).run()
    before = image_urls(at)
    at.selectbox(key="trav_checkpoint").set_value(str(runs / "run-bad" / "checkpoint.pt")).run()
    assert not at.exception
    assert any("Could not load run-bad" in e for e in texts(at.error))
    assert any("Showing the previous model instead: run-tiny" in c for c in texts(at.caption))
    assert image_urls(at) == before


def test_no_model_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNGAN_RUNS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BNGAN_DEFAULT_MODEL", str(tmp_path / "no-default.pt"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any("No trained model yet" in i for i in texts(at.info))
    assert not at.slider


# pictures -----------------------------------------------------------------------------------------------
def test_class_grid_frames_minority_rows_in_orange() -> None:
    samples = torch.rand(3 * 8, 1, 28, 28)
    picture = class_grid(samples, ["a", "b", "c"], minority={2}, counts={0: 100, 1: 90, 2: 5})
    height = picture.height
    pixels = [picture.getpixel((2, y)) for y in range(height)]  # left edge: an orange bar per minority row
    orange = [y for y, p in enumerate(pixels) if p == MINORITY_COLOR]
    assert orange and min(orange) > 2 * height / 3  # only the last row
    assert png_bytes(picture).startswith(b"\x89PNG")


def test_rows_and_grid_pictures_have_room_for_labels() -> None:
    rows = labelled_rows([torch.rand(9, 1, 28, 28)] * 2, ["c1 · thickness", "c2"])
    assert rows.width > 9 * 56 and rows.height >= 2 * 56
    grid = labelled_grid(torch.rand(49, 1, 28, 28), 7, [float(v) for v in range(7)], "c1", "c2")
    assert grid.width > 7 * 56 and grid.height > 7 * 56


def test_play_animates_one_code(page: AppTest) -> None:
    still = image_urls(page)[0]
    menu(page, "Play a sweep").set_value(2).run()
    assert not page.exception
    animated = image_urls(page)[0]
    assert animated != still and animated.endswith(".gif")
    assert any("sweeping" in c and "and back" in c for c in texts(page.caption))
    menu(page, "Play a sweep").set_value(0).run()
    assert image_urls(page)[0] == still

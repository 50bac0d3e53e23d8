"""dSprites rendered by code: determinism, geometry of every factor, the shape-labelled data set."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from bngan.data.datasets import load_dataset
from bngan.data.dsprites import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    IMAGE_SIZE,
    PATCH,
    SHAPES,
    DSprites,
    load_dsprites,
    render,
    render_direct,
    sample_factors,
    templates,
)

torch.set_num_threads(1)

SQUARE, ELLIPSE, HEART = range(3)


def one(shape: int = SQUARE, scale: int = 5, orientation: int = 0, x: int = 16, y: int = 16) -> np.ndarray:
    """The image ``(64, 64)`` bool of one factor combination."""
    return render(np.array([[shape, scale, orientation, x, y]]))[0, 0].numpy()


def centroid(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(image)
    return float(cols.mean()), float(rows.mean())


def test_constants_and_shapes() -> None:
    assert FACTOR_NAMES == ("shape", "scale", "orientation", "x", "y")
    assert FACTOR_SIZES == (3, 6, 40, 32, 32)
    factors = sample_factors(10, np.random.default_rng(0))
    images = render(factors)
    assert images.shape == (10, 1, IMAGE_SIZE, IMAGE_SIZE) and images.dtype == torch.bool
    assert images.flatten(1).any(1).all()


def test_sample_factors_ranges_and_rng_apis() -> None:
    for rng in (np.random.default_rng(1), np.random.RandomState(1)):
        f = sample_factors(5000, rng)
        assert f.shape == (5000, 5) and f.dtype == np.int64
        assert (f.min(0) == 0).all() and (f.max(0) == np.array(FACTOR_SIZES) - 1).all()
    seeded = sample_factors(2000, 0)
    assert np.array_equal(seeded, sample_factors(2000, 0))
    assert abs(np.corrcoef(seeded[:, 3], seeded[:, 4])[0, 1]) < 0.1  # columns drawn independently


def test_render_is_deterministic_and_matches_direct_rasterisation() -> None:
    factors = sample_factors(300, np.random.default_rng(2))
    assert torch.equal(render(factors), render(factors))
    assert torch.equal(render(factors), render_direct(factors))


def test_bad_factors_are_rejected() -> None:
    with pytest.raises(ValueError):
        render(np.array([[3, 0, 0, 0, 0]]))
    with pytest.raises(ValueError):
        render(np.array([[0, 0, 0, 0]]))


def test_every_sprite_fits_its_template_so_none_is_clipped() -> None:
    t = templates()
    border = torch.cat([t[..., 0, :], t[..., -1, :], t[..., :, 0], t[..., :, -1]], dim=-1)
    assert not border.any()
    assert t.flatten(3).any(-1).all()
    corner = render(np.array([[s, 5, o, x, y] for s in range(3) for o in range(40) for x in (0, 31)
                              for y in (0, 31)]))
    assert corner.flatten(1).sum(1).min() > 0


def test_square_size_resembles_dsprites() -> None:
    cols = np.nonzero(one(SQUARE).any(0))[0]
    width = cols.max() - cols.min() + 1
    assert IMAGE_SIZE / 3 - 1 <= width <= 0.4 * IMAGE_SIZE


def test_x_moves_right_and_y_moves_down_one_pixel_per_step() -> None:
    for shape in range(3):
        cx0, cy0 = centroid(one(shape, orientation=7, x=0, y=5))
        cx1, cy1 = centroid(one(shape, orientation=7, x=31, y=5))
        assert cx1 - cx0 == pytest.approx(31) and cy1 == pytest.approx(cy0)
        cx2, cy2 = centroid(one(shape, orientation=7, x=5, y=0))
        cx3, cy3 = centroid(one(shape, orientation=7, x=5, y=31))
        assert cy3 - cy2 == pytest.approx(31) and cx3 == pytest.approx(cx2)  # y grows downwards


def test_scale_up_increases_ink_area() -> None:
    for shape in range(3):
        for orientation in (0, 13):
            areas = [one(shape, scale, orientation).sum() for scale in range(6)]
            assert all(a < b for a, b in itertools.pairwise(areas)), (SHAPES[shape], areas)
        ratio = one(shape, 5).sum() / one(shape, 0).sum()
        assert 3.0 < ratio < 5.0  # area grows with scale squared (0.5 -> 1)


def test_orientation_respects_each_shapes_symmetry() -> None:
    def differ(a: np.ndarray, b: np.ndarray) -> float:
        return float((a != b).sum() / max(a.sum(), 1))

    for o in (0, 3, 7):
        assert differ(one(SQUARE, orientation=o), one(SQUARE, orientation=o + 5)) > 0.1
        assert differ(one(SQUARE, orientation=o), one(SQUARE, orientation=o + 10)) < 0.02  # period π/2
        assert differ(one(ELLIPSE, orientation=o), one(ELLIPSE, orientation=o + 10)) > 0.3
        assert differ(one(ELLIPSE, orientation=o), one(ELLIPSE, orientation=o + 20)) < 0.02  # period π
        assert differ(one(HEART, orientation=o), one(HEART, orientation=o + 20)) > 0.1  # period 2π


def test_orientation_zero_is_upright() -> None:
    ellipse = one(ELLIPSE)
    assert np.ptp(np.nonzero(ellipse.any(0))[0]) > 1.5 * np.ptp(np.nonzero(ellipse.any(1))[0])  # wide
    heart = one(HEART, x=16, y=16)
    _, cy = centroid(heart)
    rows = np.nonzero(heart)[0]
    assert (rows < cy).sum() > (rows > cy).sum()  # the lobes on top, the point at the bottom
    assert heart[int(rows.max())].sum() < 4  # a narrow tip


def test_shapes_differ() -> None:
    images = [one(shape, orientation=3) for shape in range(3)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert (images[i] != images[j]).sum() > 30


def test_ground_truth_data_interface() -> None:
    data, rng = DSprites(), np.random.default_rng(3)
    assert data.num_factors == 5 and data.factors_num_values == list(FACTOR_SIZES)
    factors, images = data.sample(7, rng)
    assert factors.shape == (7, 5) and images.shape == (7, 1, 64, 64) and images.dtype == torch.float32
    assert set(images.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(data.sample_observations_from_factors(factors, rng), images)
    assert data.sample_observations(4, np.random.RandomState(0)).shape == (4, 1, 64, 64)


def test_load_dsprites_is_balanced_and_deterministic() -> None:
    train = load_dsprites(train=True, n_per_class=50)
    assert train.class_names == ["square", "ellipse", "heart"] and train.name == "dsprites"
    assert train.class_counts() == {0: 50, 1: 50, 2: 50}
    assert train.images.shape == (150, 1, 64, 64) and train.images.dtype == torch.float32
    again = load_dsprites(train=True, n_per_class=50)
    assert torch.equal(train.images, again.images) and torch.equal(train.labels, again.labels)
    test = load_dsprites(train=False, n_per_class=50)
    assert not torch.equal(train.images, test.images)
    other = load_dsprites(train=True, n_per_class=50, seed=7)
    assert not torch.equal(train.images, other.images)
    assert torch.equal(other.images, load_dsprites(train=True, n_per_class=50, seed=7).images)


def test_load_dataset_dsprites() -> None:
    data = load_dataset("dsprites", train=False, image_size=32)
    assert data.num_classes == 3 and data.image_shape == (1, 32, 32)
    assert data.class_counts() == {0: 2000, 1: 2000, 2: 2000}


def test_patch_constant_covers_all_positions() -> None:
    assert FACTOR_SIZES[3] - 1 + PATCH == IMAGE_SIZE

"""dSprites rendered by code: 64x64 binary sprites from five ground-truth factors.

The original data set (Matthey et al. 2017) is every combination of shape (square, ellipse, heart), scale
(6 values in [0.5, 1]), orientation (40 values in [0, 2π)), x and y (32 values each in [0, 1]). Rendering it
here avoids a 26 MB download and lets the disentanglement metrics ask for any factor combination.

How it is drawn: each sprite is an implicit shape function (inside <=> f(u, v) <= 0) evaluated at pixel
centres after the inverse affine map (translate, rotate, scale) of the pixel grid. Because the 32 positions
are exactly one pixel apart, a sprite at any position is its centred template shifted by whole pixels: the
3 x 6 x 40 = 720 centred templates (33 x 33 pixels) are rasterised once, and :func:`render` only copies
templates into place with one indexing operation (no Python loop per image).

Conventions: orientation rotates counter-clockwise as displayed; the x index moves the sprite right (column
index grows) and the y index moves it *down* (row index grows, image coordinates). At orientation 0 the
heart is upright (point at the bottom) and the ellipse's long axis is horizontal. At scale 1 the square is
23 pixels wide (36% of the image); sprite centres run from pixel 16.5 to 47.5, which keeps every sprite at
every scale and orientation inside the image.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np
import torch

from bngan.data.datasets import ImageDataset

FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
IMAGE_SIZE = 64
SCALES = np.linspace(0.5, 1.0, FACTOR_SIZES[1])
ORIENTATIONS = 2 * np.pi * np.arange(FACTOR_SIZES[2]) / FACTOR_SIZES[2]
POSITIONS = np.linspace(0.0, 1.0, FACTOR_SIZES[3])

PATCH = 33  # odd template size: the sprite centre is a pixel centre; 32 offsets x 1 px + 33 = 65 > 64 - 1
# Sizes are chosen so that no scale puts an edge exactly on a pixel centre (no rounding ties).
SQUARE_HALF = 11.3  # half side in pixels at scale 1: 23 pixels wide, 36% of the image
ELLIPSE_AXES = (12.7, 7.1)  # semi-axes in pixels at scale 1 (long axis horizontal at orientation 0)
HEART_UNIT = 10.5  # pixels per unit of the heart curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 at scale 1
HEART_CENTRE = 0.118  # the curve's bounding box centre (y, curve units): the point it rotates around

RandomState = np.random.Generator | np.random.RandomState | int | None


def as_rng(rng: RandomState) -> np.random.Generator | np.random.RandomState:
    """An RNG object; an int or None seeds a fresh ``Generator``."""
    if isinstance(rng, np.random.Generator | np.random.RandomState):
        return rng
    return np.random.default_rng(rng)


def randint(rng: np.random.Generator | np.random.RandomState, high: int, size: int) -> np.ndarray:
    """Integers in [0, high) from either numpy RNG API (disentanglement_lib passes ``RandomState``)."""
    if isinstance(rng, np.random.RandomState):
        return rng.randint(high, size=size)
    return rng.integers(high, size=size)


def _inside(shape: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Whether sprite-frame points (u right, v up, pixels at scale 1) are inside the sprite's shape."""
    square = torch.maximum(u.abs(), v.abs()) <= SQUARE_HALF
    ellipse = (u / ELLIPSE_AXES[0]) ** 2 + (v / ELLIPSE_AXES[1]) ** 2 <= 1.0
    hx, hy = u / HEART_UNIT, v / HEART_UNIT + HEART_CENTRE
    heart = (hx**2 + hy**2 - 1.0) ** 3 - hx**2 * hy**3 <= 0.0
    shape = shape.view(-1, *([1] * (u.ndim - 1)))
    return torch.where(shape == 0, square, torch.where(shape == 1, ellipse, heart))


def rasterise(shape: torch.Tensor, scale: torch.Tensor, angle: torch.Tensor, cx: torch.Tensor,
              cy: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Binary ``(M, size, size)`` images of sprites with centres ``(cx, cy)`` in pixels (image coordinates).

    The inverse map of each pixel centre into the sprite frame: shift to the centre, flip y to point up,
    rotate by ``-angle`` and divide by ``scale``. Any continuous values work; :func:`render` uses it for the
    dSprites grid.
    """
    grid = torch.arange(size, dtype=torch.float64) + 0.5
    dx = grid.view(1, 1, -1) - cx.double().view(-1, 1, 1)
    dy = cy.double().view(-1, 1, 1) - grid.view(1, -1, 1)  # up is positive
    cos, sin = torch.cos(angle).double().view(-1, 1, 1), torch.sin(angle).double().view(-1, 1, 1)
    s = scale.double().view(-1, 1, 1)
    u = (cos * dx + sin * dy) / s
    v = (-sin * dx + cos * dy) / s
    return _inside(shape, u, v)


@functools.lru_cache(maxsize=1)
def templates() -> torch.Tensor:
    """The 720 centred sprites ``(3, 6, 40, PATCH, PATCH)`` (bool), rasterised once per process."""
    s, k, o = np.meshgrid(*(np.arange(n) for n in FACTOR_SIZES[:3]), indexing="ij")
    centre = torch.full((s.size,), PATCH / 2, dtype=torch.float64)
    patches = rasterise(torch.as_tensor(s.ravel()), torch.as_tensor(SCALES[k.ravel()]),
                        torch.as_tensor(ORIENTATIONS[o.ravel()]), centre, centre, PATCH)
    return patches.view(*FACTOR_SIZES[:3], PATCH, PATCH)


def _check_factors(factor_indices: np.ndarray | torch.Tensor) -> torch.Tensor:
    f = torch.as_tensor(np.asarray(factor_indices), dtype=torch.long)
    if f.ndim != 2 or f.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"factor indices must be (N, {len(FACTOR_SIZES)}), got shape {tuple(f.shape)}")
    if len(f) and (f.min() < 0 or (f >= torch.tensor(FACTOR_SIZES)).any()):
        raise ValueError(f"factor indices out of range; sizes are {dict(zip(FACTOR_NAMES, FACTOR_SIZES))}")
    return f


def render(factor_indices: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Binary images ``(N, 1, 64, 64)`` (bool) for integer factor indices ``(N, 5)`` in FACTOR_NAMES order.

    Deterministic; each image is its template copied to (row y, column x) in one scatter.
    """
    f = _check_factors(factor_indices)
    n = len(f)
    patches = templates()[f[:, 0], f[:, 1], f[:, 2]]
    out = torch.zeros(n, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
    offset = torch.arange(PATCH)
    rows = (f[:, 4, None] + offset).view(n, PATCH, 1)
    cols = (f[:, 3, None] + offset).view(n, 1, PATCH)
    out[torch.arange(n).view(n, 1, 1), rows, cols] = patches
    return out.unsqueeze(1)


def render_direct(factor_indices: np.ndarray | torch.Tensor) -> torch.Tensor:
    """:func:`render` without templates: rasterise every full image (slower; a cross-check)."""
    f = _check_factors(factor_indices).numpy()
    centre = PATCH / 2
    return rasterise(torch.as_tensor(f[:, 0]), torch.as_tensor(SCALES[f[:, 1]]),
                     torch.as_tensor(ORIENTATIONS[f[:, 2]]), torch.as_tensor(centre + f[:, 3]),
                     torch.as_tensor(centre + f[:, 4])).unsqueeze(1)


def sample_factors(n: int, rng: RandomState = None) -> np.ndarray:
    """``n`` uniform random factor combinations ``(n, 5)`` (int64)."""
    rng = as_rng(rng)
    return np.stack([randint(rng, size, n) for size in FACTOR_SIZES], axis=1).astype(np.int64)


def factor_values(factor_indices: np.ndarray) -> np.ndarray:
    """Factor indices to their values: shape index, scale, orientation (radians), x and y in [0, 1]."""
    f = np.asarray(factor_indices)
    return np.stack([f[:, 0].astype(float), SCALES[f[:, 1]], ORIENTATIONS[f[:, 2]], POSITIONS[f[:, 3]],
                     POSITIONS[f[:, 4]]], axis=1)


class DSprites:
    """dSprites as ground-truth data for disentanglement metrics (disentanglement_lib's GroundTruthData).

    Factors are integer indices; observations are float images ``(N, 1, 64, 64)`` in {0, 1}.
    """

    factor_names = FACTOR_NAMES
    factors_num_values = list(FACTOR_SIZES)
    observation_shape = (1, IMAGE_SIZE, IMAGE_SIZE)

    @property
    def num_factors(self) -> int:
        return len(FACTOR_SIZES)

    def sample_factors(self, num: int, random_state: RandomState) -> np.ndarray:
        return sample_factors(num, random_state)

    def sample_observations_from_factors(self, factors: np.ndarray, random_state: RandomState = None
                                         ) -> torch.Tensor:
        """Rendering is deterministic; ``random_state`` is accepted for the GroundTruthData interface."""
        return render(factors).float()

    def sample(self, num: int, random_state: RandomState) -> tuple[np.ndarray, torch.Tensor]:
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: RandomState) -> torch.Tensor:
        return self.sample(num, random_state)[1]


def balanced_factors(n_per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``n_per_class`` random factor draws for each shape, shuffled."""
    factors = sample_factors(n_per_class * FACTOR_SIZES[0], rng)
    factors[:, 0] = np.repeat(np.arange(FACTOR_SIZES[0]), n_per_class)
    return factors[rng.permutation(len(factors))]


def load_dsprites(train: bool = True, n_per_class: int = 2000, seed: int | None = None) -> ImageDataset:
    """A shape-labelled dSprites sample: ``n_per_class`` random draws per shape, the other factors uniform.

    Deterministic given ``(train, seed)``; train and test draw from different streams for every seed.
    """
    rng = np.random.default_rng([0 if seed is None else int(seed), 0 if train else 1])
    factors = balanced_factors(int(n_per_class), rng)
    images = render(factors).float()
    return ImageDataset(images, torch.as_tensor(factors[:, 0]), list(SHAPES), "dsprites")


def benchmark(batch_size: int = 64, seconds: float = 2.0, threads: int = 1) -> float:
    """Images per second of float observations for random batches (what a metric's sampling costs)."""
    torch.set_num_threads(threads)
    data, rng = DSprites(), np.random.default_rng(0)
    data.sample_observations(batch_size, rng)  # build the templates outside the timing
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        data.sample_observations(batch_size, rng)
        done += batch_size
    return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """``python -m bngan bench render``: rendering speed (no options)."""
    start = time.perf_counter()
    templates()
    print(f"templates: {math.prod(FACTOR_SIZES[:3])} in {time.perf_counter() - start:.2f} s")
    for batch in (64, 4096):
        print(f"batch {batch}: {benchmark(batch):,.0f} images/s (1 thread)")
    return 0


if __name__ == "__main__":
    main()

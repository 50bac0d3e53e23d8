"""The ordinary augmentation practitioners train a CNN with: a random affine transform of every image and,
half the time, a mild elastic distortion (no flips: a flipped 2 is no 2).

Two implementations of one transform. ``per-image`` is torchvision's ``RandomAffine`` + ``ElasticTransform``
called once per image, which on a CPU costs more than the CNN step it feeds (≈ 65 ms per batch of 64 on one
thread, most of it Python and small-tensor overhead). ``batched`` draws the same parameters from the same
distributions for the whole batch at once and warps every image with one ``grid_sample`` per stage, also on
the GPU; for given parameters it computes what torchvision's ``affine`` and ``elastic`` compute (the tests
compare them). The random draws differ, so the two are separate settings: results stored with one are never
mixed with the other's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from bngan.errors import InvalidSettingError

DEGREES = 10.0  # rotation, uniform in ±DEGREES
TRANSLATE = 0.1  # shift, uniform in ±10% of the side, rounded to whole pixels (as torchvision does)
SCALE = (0.9, 1.1)
SHEAR = 10.0  # x-shear in degrees, uniform in ±SHEAR
ELASTIC_ALPHA = 20.0  # displacement strength, in pixels before smoothing
ELASTIC_SIGMA = 4.0  # smoothing of the displacement field
ELASTIC_P = 0.5  # share of images that are also distorted


def augment_per_image(images: torch.Tensor) -> torch.Tensor:
    """Each image through its own torchvision transform (the first implementation; slow on a CPU)."""
    from torchvision.transforms import v2

    transform = v2.Compose([
        v2.RandomAffine(degrees=DEGREES, translate=(TRANSLATE, TRANSLATE), scale=SCALE, shear=SHEAR,
                        interpolation=v2.InterpolationMode.BILINEAR),
        v2.RandomApply([v2.ElasticTransform(alpha=ELASTIC_ALPHA, sigma=ELASTIC_SIGMA)], p=ELASTIC_P),
    ])
    return torch.stack([transform(image) for image in images])


class Draw(NamedTuple):
    """One image's transform per row: degrees, pixel shifts ``(n, 2)``, scale, x-shear, elastic or not."""

    angle: torch.Tensor
    shift: torch.Tensor
    scale: torch.Tensor
    shear: torch.Tensor
    distorted: torch.Tensor


def draw(n: int, height: int, width: int) -> Draw:
    """``n`` transforms from the global RNG, each parameter from torchvision's distribution for it."""
    return Draw(angle=torch.empty(n).uniform_(-DEGREES, DEGREES),
                shift=torch.stack([torch.empty(n).uniform_(-TRANSLATE * width, TRANSLATE * width),
                                   torch.empty(n).uniform_(-TRANSLATE * height, TRANSLATE * height)], 1).round(),
                scale=torch.empty(n).uniform_(*SCALE),
                shear=torch.empty(n).uniform_(-SHEAR, SHEAR),
                distorted=torch.rand(n) < ELASTIC_P)


def augment_batched(images: torch.Tensor) -> torch.Tensor:
    """The same transform, its parameters drawn per image (:func:`draw`), applied to the whole batch."""
    n, _, height, width = images.shape
    device = images.device
    params = draw(n, height, width)
    out = affine(images, params.angle, params.shift, params.scale, params.shear)
    distorted = params.distorted.nonzero().flatten().to(device)
    if len(distorted):
        field = elastic_displacement(len(distorted), height, width).to(device)
        out = out.index_copy(0, distorted, elastic(out[distorted], field))
    return out


def affine(images: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor,
           shear: torch.Tensor) -> torch.Tensor:
    """torchvision's ``affine`` about the image centre (degrees, pixel shifts ``(n, 2)``, x-shear in degrees),
    one set of parameters per image, bilinear, zeros outside. The matrices are computed on the CPU in double
    precision (Apple's MPS has none), then sent to the images' device."""
    n, _, height, width = images.shape
    angle, shift, scale, shear = (t.detach().cpu().double() for t in (angle, shift, scale, shear))
    rot, sx = torch.deg2rad(angle), torch.deg2rad(shear)
    # the forward map is rotation · x-shear · scale; torchvision samples through its inverse (det = 1/scale²)
    a, c = torch.cos(rot), torch.sin(rot)
    b, d = -(a * torch.tan(sx) + torch.sin(rot)), torch.cos(rot) - c * torch.tan(sx)
    inverse = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / scale[:, None, None]
    offset = -(inverse @ shift[:, :, None])
    half = torch.tensor([width / 2, height / 2], dtype=torch.float64)
    # pixel coordinates about the centre -> grid_sample's [-1, 1] (align_corners=False: pixel centres)
    theta = torch.cat([inverse * half[None, None, :] / half[None, :, None], offset / half[None, :, None]], 2)
    grid = F.affine_grid(theta.to(images.device, images.dtype), [n, 1, height, width], align_corners=False)
    return _sample(images, grid)


def elastic_displacement(n: int, height: int, width: int) -> torch.Tensor:
    """``n`` displacement fields ``(n, H, W, 2)`` as torchvision's ``ElasticTransform`` draws one: uniform noise
    in [-1, 1], Gaussian-smoothed, scaled by alpha over the side (grid_sample units)."""
    dx = _smooth(torch.rand(n, 1, height, width) * 2 - 1)
    dy = _smooth(torch.rand(n, 1, height, width) * 2 - 1)
    return torch.cat([dx * ELASTIC_ALPHA / width, dy * ELASTIC_ALPHA / height], 1).permute(0, 2, 3, 1)


def _smooth(noise: torch.Tensor) -> torch.Tensor:
    """torchvision's ``gaussian_blur`` (kernel 8 sigma + 1, odd; reflected edges) as two 1-D passes: the same
    numbers as its 2-D kernel at a fifth of the cost on 28-pixel images."""
    size = int(8 * ELASTIC_SIGMA + 1) | 1
    x = torch.linspace(-(size - 1) / 2, (size - 1) / 2, size)
    kernel = torch.exp(-0.5 * (x / ELASTIC_SIGMA) ** 2)
    kernel = (kernel / kernel.sum()).to(noise.dtype)
    half = size // 2
    padded = F.pad(noise, [half, half, half, half], mode="reflect")
    return F.conv2d(F.conv2d(padded, kernel.view(1, 1, size, 1)), kernel.view(1, 1, 1, size))


def elastic(images: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """torchvision's ``elastic``, one displacement field per image."""
    n, _, height, width = images.shape
    identity = torch.eye(2, 3, dtype=images.dtype, device=images.device).expand(n, 2, 3)
    grid = F.affine_grid(identity, [n, 1, height, width], align_corners=False)
    return _sample(images, grid + displacement.to(images.dtype))


def _sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling with torchvision's fill of 0: the image times the sampled share of inside pixels."""
    ones = torch.ones_like(images[:, :1])
    sampled = F.grid_sample(torch.cat([images, ones], 1), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    return sampled[:, :-1] * sampled[:, -1:]


AUGMENTATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "batched": augment_batched,
    "per-image": augment_per_image,
}
"""Name → implementation; ``batched`` is the default of new runs, ``per-image`` what runs before it used."""


def augmenter(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in AUGMENTATIONS:
        raise InvalidSettingError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
    return AUGMENTATIONS[name]


"""Differentiable augmentation (DiffAugment, Zhao et al., NeurIPS 2020) for GANs on few images.

The discriminator sees every image, real or generated, through the same random, differentiable transforms in
both updates, so it cannot memorise the 40 images of a minority class, and the generator's gradient flows
back through the transform. For small grey images the transforms are a translation of a few pixels and a
cutout of a square well under half the side; no flips and no colour changes (a flipped 7 is not a 7).
Images are in [-1, 1] with -1 the background: shifted-in pixels and cut-out squares are background, not
grey.
"""

from __future__ import annotations

import torch

POLICIES = ("translation", "cutout")
BACKGROUND = -1.0


def translate(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side in x and y (integer pixels), filling with background."""
    n, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1, 1), generator=generator).to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each target pixel
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    moved = x.flatten(2).gather(2, index).view_as(x)
    return torch.where(inside, moved, torch.full_like(moved, BACKGROUND))


def cutout(x: torch.Tensor, ratio: float = 0.3, generator: torch.Generator | None = None) -> torch.Tensor:
    """Set a square of ``ratio`` times the side, at a random place in each image, to background."""
    n, _, h, w = x.shape
    size_y, size_x = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    top = torch.randint(0, h - size_y + 1, (n, 1, 1), generator=generator).to(x.device)
    left = torch.randint(0, w - size_x + 1, (n, 1, 1), generator=generator).to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = ((rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)).unsqueeze(1)
    return torch.where(hole, torch.full_like(x, BACKGROUND), x)


def diff_augment(x: torch.Tensor, policy: tuple[str, ...] = POLICIES,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the transforms of ``policy`` in order, with fresh random parameters per image."""
    for name in policy:
        if name == "translation":
            x = translate(x, generator=generator)
        elif name == "cutout":
            x = cutout(x, generator=generator)
        else:
            raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(POLICIES)}")
    return x

"""Latent traversals and measured attributes of generated images.

A traversal sweeps one (1-D strip) or two (2-D grid) salient codes for a class while the noise and the other
codes stay fixed. Measured attributes turn a traversal into a curve: stroke thickness (ink area over
skeleton length) and slant (from second-order image moments), so "code 1 is thickness" is a number.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.morphology import skeletonize

from bngan.errors import InvalidSettingError
from bngan.training import TrainedModel

MAX_STEPS, MAX_SPAN = 1001, 100.0
ATTRIBUTES = ("thickness", "slant", "ink", "width", "height", "cx", "cy", "orientation")


def code_values(steps: int = 7, span: float = 2.0) -> torch.Tensor:
    """Evenly spaced code values in ``[-span, span]``."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or not 2 <= steps <= MAX_STEPS:
        raise InvalidSettingError(f"a traversal needs 2 to {MAX_STEPS} steps, got {steps!r}")
    if isinstance(span, bool) or not isinstance(span, int | float | np.number) or not np.isfinite(span) \
            or not 0 < float(span) <= MAX_SPAN:
        raise InvalidSettingError(f"the span of a traversal must be a number above 0 and at most {MAX_SPAN:g} "
                                  f"(codes are drawn from N(0, 1)), got {span!r}")
    return torch.linspace(-float(span), float(span), int(steps))


def _base(model: TrainedModel, n: int, seed: int, codes: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(1, model.generator.cfg.z_dim, generator=g).repeat(n, 1)
    base = torch.zeros(1, model.structure.k) if codes is None else torch.as_tensor(codes, dtype=torch.float32)
    return z, base.reshape(1, -1).repeat(n, 1)


def _values(values: torch.Tensor | None) -> torch.Tensor:
    """The code values of a sweep: the default, or given ones that are finite and not absurd."""
    if values is None:
        return code_values()
    values = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
    if not 1 <= len(values) <= MAX_STEPS or not bool(torch.isfinite(values).all()) \
            or float(values.abs().max()) > MAX_SPAN:
        raise InvalidSettingError(f"traversal values must be 1 to {MAX_STEPS} finite numbers within "
                                  f"±{MAX_SPAN:g}")
    return values


def _check_code(model: TrainedModel, code: int) -> None:
    if not 1 <= code <= model.structure.k:
        raise InvalidSettingError(f"code must be 1..{model.structure.k}, got {code}")


def strip(model: TrainedModel, label: int, code: int, values: torch.Tensor | None = None, seed: int = 0,
          codes: torch.Tensor | None = None) -> torch.Tensor:
    """Images ``(steps, C, H, W)`` as code ``code`` (1-based) sweeps ``values``, everything else fixed."""
    _check_code(model, code)
    values = _values(values)
    z, c = _base(model, len(values), seed, codes)
    c[:, code - 1] = values
    return model.generate(torch.full((len(values),), label), codes=c, z=z)


def grid(model: TrainedModel, label: int, code_x: int, code_y: int, values: torch.Tensor | None = None,
         seed: int = 0, codes: torch.Tensor | None = None) -> torch.Tensor:
    """Images ``(steps * steps, C, H, W)``: rows sweep ``code_y``, columns sweep ``code_x``."""
    _check_code(model, code_x)
    _check_code(model, code_y)
    values = _values(values)
    n = len(values)
    z, c = _base(model, n * n, seed, codes)
    c[:, code_y - 1] = values.repeat_interleave(n)
    c[:, code_x - 1] = values.repeat(n)
    return model.generate(torch.full((n * n,), label), codes=c, z=z)


def measure(images: torch.Tensor, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Per image: ``thickness`` (ink pixels / skeleton pixels), ``slant`` (shear ``μ11/μ02`` of the ink, positive
    leaning right), ``ink`` (share of inked pixels), ``width``/``height`` (std of ink coordinates), ``cx``/``cy``
    (centre of mass as a share of the side) and ``orientation`` (angle of the principal axis in degrees in [0, 180),
    90 = upright, from the second-order moments). All but the first two apply to any image."""
    arr = images.detach().float().cpu().numpy()
    arr = arr.mean(1) if arr.ndim == 4 else arr
    out = {name: np.zeros(len(arr)) for name in ATTRIBUTES}
    h, w = arr.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w]
    for i, img in enumerate(arr):
        ink = img > threshold
        mass = img.sum()
        if mass <= 1e-6 or not ink.any():
            continue
        skeleton = skeletonize(ink).sum()
        out["thickness"][i] = ink.sum() / max(1, skeleton)
        cx, cy = (img * xx).sum() / mass, (img * yy).sum() / mass
        mu11 = (img * (xx - cx) * (yy - cy)).sum() / mass
        mu02 = (img * (yy - cy) ** 2).sum() / mass
        mu20 = (img * (xx - cx) ** 2).sum() / mass
        out["slant"][i] = -mu11 / mu02 if mu02 > 1e-6 else 0.0  # image rows grow downwards
        out["ink"][i] = ink.mean()
        out["width"][i], out["height"][i] = np.sqrt(mu20), np.sqrt(mu02)
        out["cx"][i], out["cy"][i] = cx / max(1, w - 1), cy / max(1, h - 1)
        # in [0, 180) so that upright shapes (90) never wrap; rows grow downwards
        out["orientation"][i] = np.degrees(0.5 * np.arctan2(-2 * mu11, mu20 - mu02)) % 180
    return out


def attribute_curves(model: TrainedModel, label: int, code: int, values: torch.Tensor | None = None,
                     seeds: int = 16) -> dict[str, np.ndarray]:
    """Mean and std of each attribute against code value, over ``seeds`` noise draws."""
    values = code_values(9) if values is None else torch.as_tensor(values, dtype=torch.float32)
    per_seed = [measure(strip(model, label, code, values, seed=s)) for s in range(seeds)]
    out: dict[str, np.ndarray] = {"value": values.numpy()}
    for name in ATTRIBUTES:
        stack = np.stack([m[name] for m in per_seed])
        out[name] = stack.mean(0)
        out[f"{name}_std"] = stack.std(0)
    return out

"""What a code does to generated sprites: the dSprites factors read back from pixels, and per code of a trained
model, which factor it tracks and how far it moves it (the Disentanglement page's traversals).

numpy at import; torch and the model code only inside :func:`code_tracking` and the templates' lookup.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from bngan.training import TrainedModel

MEASURED = ("x", "y", "scale", "orientation")
FACTOR_RANGE = {"x": 1.0, "y": 1.0, "scale": 0.5, "orientation": 180.0}  # dSprites' span of each factor
TRACK_MIN_R, TRACK_MIN_MOVE = 0.5, 0.05  # a code tracks a factor it follows closely and moves visibly


def sprite_attributes(images: np.ndarray | torch.Tensor, shape: int | Sequence[int]) -> dict[str, np.ndarray]:
    """Per image, the dSprites factors read back from the pixels with the renderer's definitions.

    ``x``/``y``: the ink centroid as a position in [0, 1] (centres run from pixel 16.5 to 47.5; y grows
    downwards); ``scale``: ``sqrt(ink area / area of the shape at scale 1)``, so 0.5..1 on real sprites;
    ``orientation``: the principal axis of the second moments in degrees mod 180 (counter-clockwise as
    displayed; undefined for a square, whose moments are isotropic); ``anisotropy`` says how defined it is.
    """
    from bngan.data.dsprites import templates

    arr = images.detach().float().cpu().numpy() if hasattr(images, "detach") else np.asarray(images, float)
    arr = arr.reshape(len(arr), arr.shape[-2], arr.shape[-1]).clip(0, 1)
    shapes = np.broadcast_to(np.asarray(shape), (len(arr),))
    unit_area = templates()[:, -1, 0].flatten(1).sum(1).double().numpy()  # each shape at scale 1
    yy, xx = np.mgrid[0:arr.shape[1], 0:arr.shape[2]] + 0.5
    mass = arr.sum((1, 2))
    safe = np.where(mass > 1e-6, mass, 1.0)
    cx, cy = (arr * xx).sum((1, 2)) / safe, (arr * yy).sum((1, 2)) / safe
    dx, dy = xx[None] - cx[:, None, None], cy[:, None, None] - yy[None]  # dy points up
    mu20, mu02 = (arr * dx**2).sum((1, 2)) / safe, (arr * dy**2).sum((1, 2)) / safe
    mu11 = (arr * dx * dy).sum((1, 2)) / safe
    spread = np.hypot(mu20 - mu02, 2 * mu11)
    out = {"x": (cx - 16.5) / 31.0, "y": (cy - 16.5) / 31.0, "scale": np.sqrt(mass / unit_area[shapes]),
           "orientation": np.degrees(0.5 * np.arctan2(2 * mu11, mu20 - mu02)) % 180.0,
           "anisotropy": spread / np.where(mu20 + mu02 > 1e-9, mu20 + mu02, 1.0)}
    empty = mass <= 1e-6
    for values in out.values():
        values[empty] = np.nan
    return out


def association(values: np.ndarray, measured: Mapping[str, np.ndarray]) -> dict[str, float]:
    """How strongly each measured factor follows a code's value: ``|Pearson r|`` for x, y and scale; for the
    orientation (an angle mod 180°) the multiple correlation of the value with ``cos 2θ`` and ``sin 2θ``."""
    values = np.asarray(values, float)
    out = {}
    for name in MEASURED:
        m = np.asarray(measured[name], float)
        ok = np.isfinite(m)
        if ok.sum() < 3 or values[ok].std() < 1e-9:
            out[name] = 0.0
            continue
        if name == "orientation":
            angle = np.radians(2 * m[ok])
            design = np.column_stack([np.cos(angle), np.sin(angle), np.ones(ok.sum())])
            fit = design @ np.linalg.lstsq(design, values[ok], rcond=None)[0]
            residual = ((values[ok] - fit) ** 2).sum() / ((values[ok] - values[ok].mean()) ** 2).sum()
            out[name] = float(np.sqrt(max(0.0, 1.0 - residual)))
        else:
            out[name] = 0.0 if m[ok].std() < 1e-9 else float(abs(np.corrcoef(values[ok], m[ok])[0, 1]))
    return out


def effect_sizes(values: np.ndarray, measured: Mapping[str, np.ndarray]) -> dict[str, float]:
    """How far each measured factor moves over a sweep, as a share of the factor's range in dSprites.

    A correlation alone would call a code that nudges x by a tenth of a pixel "x"; this says how much it
    moves. Per sweep value the factor is averaged over the noise draws (orientation as a circular mean of the
    doubled angle), then the spread of those means is divided by the range (x, y: 1; scale: 0.5; orientation:
    180°, the most an axis can turn).
    """
    values = np.asarray(values, float)
    levels = np.unique(values)
    out = {}
    for name in MEASURED:
        m = np.asarray(measured[name], float)
        with warnings.catch_warnings():  # a sweep value whose images are all blank has no mean: skipped
            warnings.simplefilter("ignore", RuntimeWarning)
            out[name] = _effect(name, m, values, levels)
    return out


def _effect(name: str, m: np.ndarray, values: np.ndarray, levels: np.ndarray) -> float:
    """One factor's spread of per-level means over its range (see :func:`effect_sizes`)."""
    if name == "orientation":
        doubled = np.radians(2 * m)
        means = np.array([math.atan2(np.nanmean(np.sin(doubled[values == v])),
                                     np.nanmean(np.cos(doubled[values == v]))) for v in levels])
        finite = means[np.isfinite(means)]
        return float(np.ptp(np.unwrap(finite)) / (2 * np.pi)) if len(finite) > 1 else 0.0
    means = np.array([np.nanmean(m[values == v]) for v in levels])
    finite = means[np.isfinite(means)]
    return float(np.ptp(finite) / FACTOR_RANGE[name]) if len(finite) > 1 else 0.0


def binary_share(images: np.ndarray | torch.Tensor) -> float:
    """Share of pixels within 0.2 of black or white: near 1 for sprite-like images, low for grey noise (then
    the measured factors mean little: the model is under-trained)."""
    arr = images.detach().float().cpu().numpy() if hasattr(images, "detach") else np.asarray(images, float)
    return float(((arr < 0.2) | (arr > 0.8)).mean())


def code_tracking(model: TrainedModel, label: int, span: float = 2.0, steps: int = 9, seeds: int = 8
                  ) -> list[dict[str, Any]]:
    """For every code, sweep it over ``[-span, span]`` for ``seeds`` noise draws (the other codes at 0) and
    measure the generated sprites. Per code: ``|r|`` with each factor (:func:`association`), how far each
    factor moves (``moves_<factor>``, :func:`effect_sizes`), the factor it ``tracks`` (the highest ``|r|``
    among factors with ``|r| >= 0.5`` that move at least 5% of their range; "–" if none) and ``binary``
    (:func:`binary_share` of its images)."""
    import torch

    from bngan.traversal import strip

    sweep = torch.linspace(-span, span, steps)
    values = sweep.repeat(seeds).numpy()
    rows = []
    for code in range(1, model.structure.k + 1):
        images = torch.cat([strip(model, label, code, sweep, seed=s) for s in range(seeds)])
        measured = sprite_attributes(images, label)
        strength, moves = association(values, measured), effect_sizes(values, measured)
        candidates = [f for f in MEASURED if strength[f] >= TRACK_MIN_R and moves[f] >= TRACK_MIN_MOVE]
        best = max(candidates, key=strength.get) if candidates else None
        rows.append({"code": code, **strength, **{f"moves_{f}": moves[f] for f in MEASURED},
                     "tracks": best or "–", "strength": strength[best] if best else 0.0,
                     "moves": moves[best] if best else 0.0, "binary": binary_share(images)})
    return rows

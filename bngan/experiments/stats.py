"""Statistics of experiment tables: mean ± std over folds or seeds, paired t-tests against a reference row,
and how tables print them. Torch-free (reports and app pages use it)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from bngan.evaluation.metrics import format_mean_std, paired_ttest

__all__ = ["ALPHA", "BETTER", "WORSE", "MeanStd", "format_mean_std", "mean_std", "on_shared_folds",
           "paired_tests", "significance_marker"]

ALPHA = 0.05
BETTER, WORSE = "•", "◦"  # reference significantly better / worse than this row (paired t-test, 95%)


class MeanStd(NamedTuple):
    """Mean and sample standard deviation (ddof=1; 0 for one value) of the finite values, and their count."""

    mean: float
    std: float
    n: int

    def as_dict(self) -> dict[str, float]:
        """``{"mean": m, "std": s}``: how results files store it."""
        return {"mean": self.mean, "std": self.std}


def mean_std(values: Sequence[float | None]) -> MeanStd:
    """Mean ± std of the values that are numbers (None and NaN are a cell that has none): NaN when none is."""
    finite = np.asarray([float(v) for v in values if v is not None and math.isfinite(float(v))], dtype=float)
    if not len(finite):
        return MeanStd(math.nan, math.nan, 0)
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
    return MeanStd(float(np.mean(finite)), std, len(finite))


def paired_tests(rows: Mapping[str, Mapping[str, Any]], reference: str) -> str | None:
    """Add ``tests`` to every row: per metric, a two-sided paired t-test against the ``reference`` row over
    the folds both have (``{"t", "p", "n", "significant", "reference": "better" | "worse" | None}``).

    Each row has ``folds`` (fold ids) and ``values`` (metric -> one value per fold). Returns the reference
    row's name, or None when that row is missing (then no row is tested)."""
    ref = rows.get(reference)
    for method, entry in rows.items():
        entry["tests"] = {}
        if ref is None or method == reference:
            continue
        for key in entry["values"]:
            a, b = on_shared_folds(entry, ref, key)
            t, p = paired_ttest(b, a) if len(a) >= 2 else (math.nan, math.nan)
            significant = bool(p < ALPHA) if not math.isnan(p) else False
            entry["tests"][key] = {"t": t, "p": p, "n": len(a), "significant": significant,
                                   "reference": ("better" if t > 0 else "worse") if significant else None}
    return reference if ref is not None else None


def on_shared_folds(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> tuple[list[float], list[float]]:
    """Rows ``a`` and ``b``'s values of ``key`` on the folds both have, in fold order: the pairs of a paired test."""
    shared = sorted(set(a["folds"]) & set(b["folds"]))
    return ([a["values"][key][a["folds"].index(f)] for f in shared],
            [b["values"][key][b["folds"].index(f)] for f in shared])


def significance_marker(test: Mapping[str, Any] | None) -> str:
    """`` •`` / `` ◦`` when the reference is significantly better / worse than the row, else nothing."""
    if not test or not test["significant"]:
        return ""
    return f" {BETTER if test['reference'] == 'better' else WORSE}"

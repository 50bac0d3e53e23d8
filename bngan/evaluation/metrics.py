"""Classification metrics for imbalanced test results, fold summaries and the paired t-test (docs/evaluation.md).

Every number comes from scikit-learn / imbalanced-learn, not from hand-written formulas, so results are
comparable with other work that uses those libraries. The paper reports per-class recall and F1 of the
minority classes; macro-F1, balanced accuracy (ACSA), the multiclass G-mean and the DGC paper's G_macro are
added because a single minority class can improve at the expense of the others.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from imblearn.metrics import geometric_mean_score, sensitivity_specificity_support
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

SCALAR_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "g_mean", "g_macro")
PER_CLASS_METRICS = ("recall", "precision", "f1", "specificity", "support")


def classification_metrics(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                           num_classes: int) -> dict:
    """Metrics of one test run.

    Returns per-class lists indexed by class 0..num_classes-1 (``recall``, ``precision``, ``f1``,
    ``specificity``, ``support``), the scalars ``accuracy``, ``balanced_accuracy`` (ACSA: mean per-class
    recall), ``macro_f1``, ``g_mean`` (imblearn's multiclass G-mean: geometric mean of per-class recalls, so
    one class at recall 0 makes it 0), ``g_macro`` (mean over classes of sqrt(recall × specificity), the DGC
    paper's G_macro) and ``confusion`` (list of lists, rows = true class). The class-averaged scalars average
    over the classes present in ``y_true`` (all of them on an official test set): a class with no test image
    has no recall, and counting it as 0 would zero the G-mean. A class never predicted has precision 0
    (``zero_division=0``), without a warning.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true and y_pred must be equal-length, non-empty and 1-d, got {y_true.shape} "
                         f"and {y_pred.shape}")
    labels = list(range(num_classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)
    specificity = _specificity(y_true, y_pred, labels)
    present = sorted(set(y_true.tolist()))
    with warnings.catch_warnings():  # absent classes are handled by the definitions above, not by warnings
        warnings.simplefilter("ignore")
        balanced = balanced_accuracy_score(y_true, y_pred)
        g_mean = geometric_mean_score(y_true, y_pred, labels=present, average="multiclass")
        macro_f1 = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return {
        "num_classes": num_classes,
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(macro_f1),
        "g_mean": float(g_mean),
        "g_macro": float(np.mean(np.sqrt(recall * specificity)[present])),
        "recall": recall.tolist(),
        "precision": precision.tolist(),
        "f1": f1.tolist(),
        "specificity": specificity.tolist(),
        "support": [int(s) for s in support],
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def _specificity(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int]) -> np.ndarray:
    """Per-class specificity TN / (TN + FP), one-vs-rest, via imblearn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, spec, _ = sensitivity_specificity_support(y_true, y_pred, labels=labels, average=None)
    return np.asarray(spec, dtype=np.float64)


def summarize(folds: Sequence[dict], keys: Sequence[str] | None = None) -> dict[str, dict]:
    """Mean and standard deviation over folds: ``{metric: {"mean": m, "std": s, "n": folds}}``.

    Scalars give floats; per-class lists and the confusion matrix give element-wise lists. ``std`` is the
    sample standard deviation (ddof=1), the one a t-test uses; with a single fold it is 0.0. Keys default to
    every numeric metric present in all folds.
    """
    if not folds:
        raise ValueError("summarize needs at least one fold")
    names = list(keys) if keys is not None else [k for k in folds[0] if all(k in f for f in folds)
                                                   and _is_numeric(folds[0][k])]
    out: dict[str, dict] = {}
    for name in names:
        values = np.asarray([f[name] for f in folds], dtype=np.float64)
        mean = values.mean(axis=0)
        std = values.std(axis=0, ddof=1) if len(folds) > 1 else np.zeros_like(mean)
        out[name] = {"mean": _plain(mean), "std": _plain(std), "n": len(folds)}
    return out


def _is_numeric(value: object) -> bool:
    try:
        return np.asarray(value, dtype=np.float64).size > 0
    except (TypeError, ValueError):
        return False


def _plain(array: np.ndarray) -> float | list:
    return float(array) if array.ndim == 0 else array.tolist()


def format_mean_std(mean: float, std: float, digits: int = 3, show_std: bool = True) -> str:
    """``0.893 ± 0.012``: how tables show a summarised metric; ``–`` when there is none (NaN), and the mean
    alone when ``show_std`` is False (a table that prints one seed bare)."""
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if show_std else f"{mean:.{digits}f}"


def paired_ttest(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided paired t-test of per-fold scores ``a`` vs ``b`` (same folds), via ``scipy.stats.ttest_rel``.

    Pairs with a NaN are dropped. Identical inputs (every difference 0) give ``(0.0, 1.0)``: no evidence of a
    difference, rather than scipy's NaN. Fewer than two valid pairs give ``(nan, nan)``. A constant non-zero
    difference gives ``t = ±inf, p = 0``.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired_ttest needs two equal-length 1-d sequences, got {x.shape} and {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return math.nan, math.nan
    diff = x - y
    if np.all(diff == 0):
        return 0.0, 1.0
    if np.all(diff == diff[0]):
        return math.copysign(math.inf, diff[0]), 0.0
    result = stats.ttest_rel(x, y)
    return float(result.statistic), float(result.pvalue)


def significant(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> bool:
    """Whether the paired t-test rejects "same mean" at level ``alpha`` (the paper uses 95%)."""
    _, p = paired_ttest(a, b)
    return bool(p < alpha)

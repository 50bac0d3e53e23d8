"""Classification metrics against hand-computed values, fold summaries and the paired t-test."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from bngan.evaluation.metrics import (
    classification_metrics,
    format_mean_std,
    paired_ttest,
    significant,
    summarize,
)

# A 3-class case. Rows = true class, columns = predicted class:
#            pred 0  pred 1  pred 2
# true 0        3       1       0      (4 images)
# true 1        0       2       1      (3 images)
# true 2        1       0       2      (3 images)
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 0, 1, 1, 1, 2, 2, 2, 0]


def test_three_class_case_by_hand() -> None:
    m = classification_metrics(Y_TRUE, Y_PRED, 3)
    assert m["confusion"] == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]
    # recall = diagonal / row sum: 3/4, 2/3, 2/3
    assert m["recall"] == pytest.approx([3 / 4, 2 / 3, 2 / 3])
    # precision = diagonal / column sum: 3/(3+0+1), 2/(1+2+0), 2/(0+1+2)
    assert m["precision"] == pytest.approx([3 / 4, 2 / 3, 2 / 3])
    # F1 = 2PR/(P+R); P = R per class here, so F1 = R
    assert m["f1"] == pytest.approx([3 / 4, 2 / 3, 2 / 3])
    # specificity = TN/(TN+FP): class 0: 6 negatives, 1 false positive (a 2 called 0) -> 5/6;
    # class 1: 7 negatives, 1 FP -> 6/7; class 2: 7 negatives, 1 FP -> 6/7
    assert m["specificity"] == pytest.approx([5 / 6, 6 / 7, 6 / 7])
    assert m["support"] == [4, 3, 3]
    assert m["accuracy"] == pytest.approx(7 / 10)
    # ACSA = mean recall = (3/4 + 2/3 + 2/3)/3 = 25/36
    assert m["balanced_accuracy"] == pytest.approx(25 / 36)
    assert m["macro_f1"] == pytest.approx(25 / 36)
    # multiclass G-mean = (3/4 * 2/3 * 2/3) ** (1/3) = (1/3) ** (1/3) ~ 0.6934
    assert m["g_mean"] == pytest.approx((1 / 3) ** (1 / 3))
    # G_macro = mean_c sqrt(recall_c * spec_c) = (sqrt(3/4*5/6) + 2*sqrt(2/3*6/7)) / 3 ~ 0.7675
    g_macro = (math.sqrt(3 / 4 * 5 / 6) + 2 * math.sqrt(2 / 3 * 6 / 7)) / 3
    assert m["g_macro"] == pytest.approx(g_macro)
    assert m["g_macro"] == pytest.approx(0.76748, abs=1e-4)


def test_minority_class_missed_entirely() -> None:
    # true 0,0,0,1 predicted 0,0,0,0: class 1 recall 0 -> G-mean 0, precision of 1 is 0 without a warning;
    # class 0: P = 3/4, R = 1, F1 = 2*(3/4)/(7/4) = 6/7; macro-F1 = (6/7 + 0)/2 = 3/7; ACSA = (1 + 0)/2
    with _no_warnings():
        m = classification_metrics([0, 0, 0, 1], [0, 0, 0, 0], 2)
    assert m["recall"] == [1.0, 0.0]
    assert m["precision"] == pytest.approx([3 / 4, 0.0])
    assert m["f1"] == pytest.approx([6 / 7, 0.0])
    assert m["macro_f1"] == pytest.approx(3 / 7)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["g_mean"] == 0.0
    # G_macro: class 0 sqrt(1 * 0) (its one negative is a FP) and class 1 sqrt(0 * 1) -> 0
    assert m["g_macro"] == 0.0


def test_perfect_and_absent_class() -> None:
    m = classification_metrics([0, 1, 1, 0], [0, 1, 1, 0], 3)
    # class 2 has no test image: per-class lists still have 3 entries, averages use the present classes
    assert len(m["recall"]) == 3 and m["support"] == [2, 2, 0]
    assert m["g_mean"] == pytest.approx(1.0)
    assert m["balanced_accuracy"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx(1.0)
    assert m["g_macro"] == pytest.approx(1.0)
    assert m["confusion"] == [[2, 0, 0], [0, 2, 0], [0, 0, 0]]


def test_input_validation() -> None:
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0], 2)
    with pytest.raises(ValueError):
        classification_metrics([], [], 2)


def test_summarize_mean_std() -> None:
    perfect = classification_metrics(Y_TRUE, Y_TRUE, 3)
    folds = [classification_metrics(Y_TRUE, Y_PRED, 3), perfect]
    s = summarize(folds)
    assert s["accuracy"]["mean"] == pytest.approx(0.85)
    assert s["accuracy"]["std"] == pytest.approx(np.std([0.7, 1.0], ddof=1))
    assert s["recall"]["mean"] == pytest.approx([0.875, 5 / 6, 5 / 6])
    assert s["confusion"]["mean"][0] == pytest.approx([3.5, 0.5, 0.0])
    assert s["accuracy"]["n"] == 2
    assert summarize([perfect])["accuracy"] == {"mean": 1.0, "std": 0.0, "n": 1}
    assert format_mean_std(0.8934, 0.0121) == "0.893 ± 0.012"
    with pytest.raises(ValueError):
        summarize([])


def test_paired_ttest_matches_hand_computation() -> None:
    a = [0.90, 0.85, 0.88, 0.92, 0.87]
    b = [0.80, 0.82, 0.79, 0.85, 0.81]
    # differences 0.10, 0.03, 0.09, 0.07, 0.06: mean 0.07; deviations .03 -.04 .02 0 -.01, squares sum 0.0030;
    # sample sd sqrt(0.0030/4) ~ 0.027386; t = 0.07 / (0.027386 / sqrt 5) ~ 5.7155
    t, p = paired_ttest(a, b)
    assert t == pytest.approx(5.7155, abs=1e-3)
    assert 0 < p < 0.01
    assert significant(a, b)
    t_rev, p_rev = paired_ttest(b, a)
    assert t_rev == pytest.approx(-t) and p_rev == pytest.approx(p)


def test_paired_ttest_degenerate_inputs() -> None:
    with _no_warnings():
        assert paired_ttest([0.5, 0.6, 0.7], [0.5, 0.6, 0.7]) == (0.0, 1.0)
        assert not significant([0.5, 0.6], [0.5, 0.6])
        t, p = paired_ttest([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])  # constant non-zero difference
        assert t == math.inf and p == 0.0
        # NaN pairs are dropped; fewer than two pairs left gives NaN
        t, p = paired_ttest([1.0, math.nan, 3.0, 4.5], [0.5, 1.0, 2.0, 3.0])
        assert math.isfinite(t) and 0 <= p <= 1
        t, p = paired_ttest([1.0, math.nan], [0.0, 1.0])
        assert math.isnan(t) and math.isnan(p)
    with pytest.raises(ValueError):
        paired_ttest([1.0, 2.0], [1.0])


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """Fail on any warning inside the block (the metrics promise to be quiet on degenerate inputs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield

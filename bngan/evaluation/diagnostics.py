"""Why an oversampler helps or not: three diagnostics of the images it adds to a minority class.

* **Copying** (Meehan, Chaudhuri & Dasgupta, "A Non-Parametric Test to Detect Data-Copying in Generative
  Models", AISTATS 2020, in spirit): each added image's distance to its nearest *training* image of its class,
  against the same distance for the class's real *test* images. Added images much closer to the training set
  than fresh real images are (ratio well below 1) are near-copies; random oversampling is the limit (0).
* **Domain classifier**: how well a logistic regression on the judge's features tells the added images from
  held-out real ones of the same class (5-fold cross-validated accuracy on balanced sets): .5 means
  indistinguishable, 1.0 means every added image looks synthetic.
* **CAS** (Ravuri & Vinyals, "Classification Accuracy Score for Conditional Generative Models", NeurIPS
  2019, per class here): the experiment's CNN trained with each minority class represented *only* by the
  added images (the other classes real), then its recall on the real test images of those classes. It asks
  whether the added images alone teach the class, separately from how they mix with the real few.

Distances are in pixel space (interpretable: 0 is an exact copy); the domain classifier uses the judge's
FC-1000 features (:mod:`bngan.evaluation.quality`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DOMAIN_FOLDS = 5
COPY_PERCENTILE = 5  # an added image "closer than real" when nearer than this percentile of the test distances


def _flat(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, dtype=np.float32).reshape(len(images), -1)


def copying(train: np.ndarray, test: np.ndarray, added: np.ndarray) -> dict[str, float]:
    """Nearest-training-image distances (pixel L2) of the added images against those of real test images.

    ``ratio`` = median added distance / median test distance (1: as far from the training set as fresh real
    images; 0: copies); ``closer_share`` = share of added images nearer than the 5th percentile of the test
    distances (5% for a generator that copies no more than chance)."""
    if len(train) == 0 or len(test) == 0 or len(added) == 0:
        return {}
    index = NearestNeighbors(n_neighbors=1).fit(_flat(train))
    d_added = index.kneighbors(_flat(added))[0][:, 0]
    d_test = index.kneighbors(_flat(test))[0][:, 0]
    test_median = float(np.median(d_test))
    return {"added_median": float(np.median(d_added)), "test_median": test_median,
            "ratio": float(np.median(d_added) / test_median) if test_median > 0 else float("nan"),
            "closer_share": float(np.mean(d_added < np.percentile(d_test, COPY_PERCENTILE))),
            "n_added": len(added), "n_test": len(test)}


def domain_accuracy(real_features: np.ndarray, added_features: np.ndarray, random_state: int = 0) -> float:
    """Cross-validated accuracy of telling added from real by their features, on equal-size sets (the larger
    one subsampled): .5 = indistinguishable. NaN when there are too few images for the folds."""
    rng = np.random.default_rng(random_state)
    n = min(len(real_features), len(added_features))
    if n < DOMAIN_FOLDS:
        return float("nan")
    real = real_features[rng.choice(len(real_features), n, replace=False)]
    added = added_features[rng.choice(len(added_features), n, replace=False)]
    x = np.concatenate([real, added])
    y = np.concatenate([np.zeros(n, dtype=int), np.ones(n, dtype=int)])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    folds = StratifiedKFold(DOMAIN_FOLDS, shuffle=True, random_state=random_state)
    return float(np.mean(cross_val_score(model, x, y, cv=folds)))


def cas_training_set(x: np.ndarray, y: np.ndarray, added_x: np.ndarray, added_y: np.ndarray,
                     minority: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The real images of every class but ``minority``, plus the added images of the minority classes."""
    keep = ~np.isin(y, list(minority))
    chosen = np.isin(added_y, list(minority))
    return np.concatenate([x[keep], added_x[chosen]]), np.concatenate([y[keep], added_y[chosen]])


def diagnose(judge: Any, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
             added_x: np.ndarray, added_y: np.ndarray, minority: Sequence[int],
             random_state: int = 0) -> dict[str, dict[str, Any]]:
    """Copying and the domain classifier per minority class: ``{"copying": {c: ...}, "domain": {c: acc}}``
    (classes as text, as after a JSON round trip). CAS needs a CNN training: see :func:`cas_training_set`."""
    from bngan.evaluation.classifier import features

    result: dict[str, dict[str, Any]] = {"copying": {}, "domain": {}}
    for c in minority:
        mine, real, test = added_x[added_y == c], train_x[train_y == c], test_x[test_y == c]
        if not len(mine):
            continue
        result["copying"][str(c)] = copying(real, test, mine)
        result["domain"][str(c)] = domain_accuracy(features(judge, test), features(judge, mine), random_state)
    return result


def cas_summary(metrics: Mapping[str, Any], minority: Sequence[int]) -> dict[str, dict[str, float]]:
    """Recall and F1 of each minority class from the CAS model's test metrics."""
    return {str(c): {"recall": float(metrics["recall"][c]), "f1": float(metrics["f1"][c])} for c in minority}

"""Quality of synthetic images, measured in the judge classifier's feature space (nothing is downloaded).

Oversampling helps only if the synthetic minority images are (a) recognisably of the intended class —
*fidelity*, the share the judge assigns to that class — and (b) close to the real class distribution —
Fréchet distance of features (FID-style) and Naeem et al.'s precision / recall / density / coverage (PRDC,
"Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020). Features are the FC-1000
activations of the judge (:func:`bngan.evaluation.classifier.judge_classifier`), trained on the same
domain, so no ImageNet Inception network is needed. Numbers are therefore comparable between methods on
the same judge, not with published FID values.

The metric functions take feature arrays and are pure numpy/scipy (k-NN radii via scikit-learn), so they
can be tested on synthetic Gaussians without a network.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import linalg
from sklearn.neighbors import NearestNeighbors

from bngan.evaluation.classifier import PaperCNN, features, predict

ImagesLike = torch.Tensor | np.ndarray
LabelsLike = Sequence[int] | np.ndarray | torch.Tensor
_CHUNK = 1024  # rows per block of pairwise distances: bounds memory at about _CHUNK × N × 8 bytes


def fidelity(judge: PaperCNN, images: ImagesLike, intended_labels: LabelsLike) -> dict[str, Any]:
    """Share of images the judge assigns to their intended class: ``{"overall", "per_class", "n"}``.

    ``per_class`` maps each intended class to its share (and ``n_per_class`` to its count). A low value
    means the generator's class conditioning does not hold — the failure docs/method.md found in the reference.
    """
    intended = _labels(intended_labels)
    if len(intended) != len(images):
        raise ValueError(f"{len(images)} images but {len(intended)} intended labels")
    if len(intended) == 0:
        return {"overall": float("nan"), "per_class": {}, "n_per_class": {}, "n": 0}
    hit = predict(judge, images) == intended
    classes = sorted(set(intended.tolist()))
    return {
        "overall": float(hit.mean()),
        "per_class": {c: float(hit[intended == c].mean()) for c in classes},
        "n_per_class": {c: int((intended == c).sum()) for c in classes},
        "n": len(intended),
    }


def frechet_distance(feat_real: np.ndarray, feat_fake: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    ``|mu_r - mu_f|² + tr(S_r + S_f - 2 (S_r S_f)^½)``. ``sqrtm`` of a product of (often singular)
    covariances can come back with tiny imaginary parts or non-finite entries; the imaginary part is
    dropped and, if needed, a small ridge is added to both covariances (as pytorch-fid does). The result is
    clamped at 0 against rounding. Needs at least 2 rows per set; FID is biased upward for small sets, so
    compare methods at equal sample sizes.
    """
    real, fake = _features_2d(feat_real), _features_2d(feat_fake)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"need at least 2 feature rows per set, got {len(real)} and {len(fake)}")
    mu_r, mu_f = real.mean(0), fake.mean(0)
    cov_r, cov_f = np.atleast_2d(np.cov(real, rowvar=False)), np.atleast_2d(np.cov(fake, rowvar=False))
    covmean = _sqrtm_product(cov_r, cov_f)
    diff = mu_r - mu_f
    value = diff @ diff + np.trace(cov_r) + np.trace(cov_f) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def _sqrtm_product(cov_a: np.ndarray, cov_b: np.ndarray) -> np.ndarray:
    """Real part of sqrtm(cov_a @ cov_b). Singular covariances (fewer images than features, ReLU features
    that are always 0) are the normal case here, so scipy's "matrix is singular" warning is silenced: its
    trace still agrees with the eigenvalue form tr((A^½ B A^½)^½) to about 1e-8 relative."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():
            ridge = np.eye(len(cov_a)) * 1e-6
            covmean = linalg.sqrtm((cov_a + ridge) @ (cov_b + ridge))
    return np.real(covmean)


def precision_recall_density_coverage(real_feats: np.ndarray, fake_feats: np.ndarray,
                                      k: int = 5) -> dict[str, float]:
    """Naeem et al. (2020) precision, recall, density and coverage with k-nearest-neighbour balls.

    With ``B(x, r)`` the ball around x whose radius r is the distance to x's k-th nearest neighbour in its
    own set: precision = share of fakes inside some real ball; recall = share of reals inside some fake
    ball; density = mean number of real balls containing a fake, divided by k; coverage = share of real
    balls that contain at least one fake. Identical sets give precision = recall = coverage = 1 and
    density = (k + 1) / k (each real ball also contains its own centre). Needs more than k rows per set.
    """
    real, fake = _features_2d(real_feats), _features_2d(fake_feats)
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"PRDC with k={k} needs more than {k} rows per set, got {len(real)} and {len(fake)}")
    real_r2 = knn_radii(real, k) ** 2
    fake_r2 = knn_radii(fake, k) ** 2
    in_real = np.zeros(len(fake), dtype=bool)
    density = 0.0
    for start in range(0, len(fake), _CHUNK):
        inside = _squared_distances(fake[start:start + _CHUNK], real) <= _tolerant(real_r2)[None, :]
        in_real[start:start + _CHUNK] = inside.any(1)
        density += inside.sum()
    in_fake = np.zeros(len(real), dtype=bool)
    covered = np.zeros(len(real), dtype=bool)
    for start in range(0, len(real), _CHUNK):
        d2 = _squared_distances(real[start:start + _CHUNK], fake)
        in_fake[start:start + _CHUNK] = (d2 <= _tolerant(fake_r2)[None, :]).any(1)
        covered[start:start + _CHUNK] = d2.min(1) <= _tolerant(real_r2[start:start + _CHUNK])
    return {
        "precision": float(in_real.mean()),
        "recall": float(in_fake.mean()),
        "density": float(density / (k * len(fake))),
        "coverage": float(covered.mean()),
    }


def knn_radii(feats: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (scikit-learn; the row itself is skipped)."""
    x = _features_2d(feats)
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return distances[:, k]


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances through one matrix product (|a|² + |b|² - 2ab, clipped at 0)."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)


def _tolerant(r2: np.ndarray) -> np.ndarray:
    """Radii² widened by rounding error of the |a|²+|b|²-2ab form, so a point on a ball's edge (a duplicate,
    a k-th neighbour) counts as inside, as the exact definition says."""
    return r2 * (1.0 + 1e-9) + 1e-9


def _features_2d(feats: np.ndarray) -> np.ndarray:
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {x.shape}")
    return x


def _labels(labels: LabelsLike) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    return np.asarray(labels, dtype=np.int64).ravel()


def _subsample(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, size=limit, replace=False))


def sample_quality(judge: PaperCNN, real_images: ImagesLike, real_labels: LabelsLike, fake_images: ImagesLike,
                   fake_labels: LabelsLike, k: int = 5,
                   max_samples: int | None = 5000, random_state: int = 0) -> dict[str, Any]:
    """Fidelity, Fréchet distance and PRDC of synthetic images against real ones, overall and per class.

    Only the classes present among the fakes are compared (real images of other classes are ignored), so
    "overall" means "the synthesised classes, pooled". Per class, a metric is ``None`` when a set is too
    small for it (FID: < 2 images; PRDC: ≤ k). At most ``max_samples`` images per set (and per class) are
    used, drawn with ``random_state``, to bound the pairwise-distance cost.
    """
    real_y, fake_y = _labels(real_labels), _labels(fake_labels)
    rng = np.random.default_rng(random_state)
    classes = sorted(set(fake_y.tolist()))
    real_keep = np.flatnonzero(np.isin(real_y, classes))
    real_x, real_y = _index(real_images, real_keep), real_y[real_keep]
    real_f = features(judge, real_x)
    fake_f = features(judge, fake_images)
    fid = fidelity(judge, fake_images, fake_y)
    out: dict[str, Any] = {"k": k, "classes": classes, "fidelity": fid["overall"],
                           # the judge's accuracy on the real images: the ceiling for the fakes' fidelity
                           "judge_accuracy_real": fidelity(judge, real_x, real_y)["overall"]}
    out.update(_pair_metrics(real_f, fake_f, k, max_samples, rng))
    out["per_class"] = {}
    for c in classes:
        entry = _pair_metrics(real_f[real_y == c], fake_f[fake_y == c], k, max_samples, rng)
        entry["fidelity"] = fid["per_class"][c]
        out["per_class"][c] = entry
    return out


def _pair_metrics(real_f: np.ndarray, fake_f: np.ndarray, k: int, max_samples: int | None,
                  rng: np.random.Generator) -> dict[str, Any]:
    real_f = real_f[_subsample(len(real_f), max_samples, rng)]
    fake_f = fake_f[_subsample(len(fake_f), max_samples, rng)]
    entry: dict[str, Any] = {"n_real": len(real_f), "n_fake": len(fake_f)}
    enough_fid = len(real_f) >= 2 and len(fake_f) >= 2
    entry["fid"] = frechet_distance(real_f, fake_f) if enough_fid else None
    if len(real_f) > k and len(fake_f) > k:
        entry.update(precision_recall_density_coverage(real_f, fake_f, k))
    else:
        entry.update(dict.fromkeys(("precision", "recall", "density", "coverage")))
    return entry


def _index(images: ImagesLike, index: np.ndarray) -> ImagesLike:
    if isinstance(images, torch.Tensor):
        return images[torch.as_tensor(index, dtype=torch.long)]
    return np.asarray(images)[index]

"""Disentanglement metrics on ground-truth data: the FactorVAE score and MIG, as in disentanglement_lib.

Both are pure functions of (representation function, ground-truth data, random state). The ground-truth data
is any object with disentanglement_lib's GroundTruthData interface (``num_factors``, ``factors_num_values``,
``sample_factors(n, random_state)``, ``sample_observations_from_factors(factors, random_state)``), such as
:class:`bngan.data.dsprites.DSprites`. The representation function maps a batch of observations to an
``(N, d)`` array (numpy or torch).

Efficiency: instead of one representation call per vote (disentanglement_lib), the factors of all votes are
drawn up front and the observations of many votes are rendered and encoded in one batch of up to
``images_per_call`` images; the statistics are the same, only the order of the random draws differs (and
the result does not depend on ``images_per_call``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sklearn.metrics
import torch

from bngan.data.dsprites import RandomState, as_rng, randint

RepresentationFn = Callable[[Any], Any]

PRUNE_STD = 0.05  # Kim & Mnih's threshold (disentanglement_lib's study configs: prune_dims.threshold = 0.05)
IMAGES_PER_CALL = 4096


def _to_numpy(codes: Any) -> np.ndarray:
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes, dtype=np.float64)
    return codes.reshape(len(codes), -1)


def represent(representation_fn: RepresentationFn, ground_truth_data: Any, factors: np.ndarray,
              random_state: np.random.Generator | np.random.RandomState,
              images_per_call: int = IMAGES_PER_CALL) -> np.ndarray:
    """Codes ``(N, d)`` of the observations of ``factors``, rendered and encoded in chunks."""
    chunks = []
    for start in range(0, len(factors), images_per_call):
        observations = ground_truth_data.sample_observations_from_factors(
            factors[start:start + images_per_call], random_state)
        with torch.no_grad():
            chunks.append(_to_numpy(representation_fn(observations)))
    return np.concatenate(chunks, axis=0)


def _global_variances(representation_fn: RepresentationFn, ground_truth_data: Any, num: int,
                      rng: np.random.Generator | np.random.RandomState, images_per_call: int) -> np.ndarray:
    factors = ground_truth_data.sample_factors(num, rng)
    codes = represent(representation_fn, ground_truth_data, factors, rng, images_per_call)
    return np.var(codes, axis=0, ddof=1)


def _votes(representation_fn: RepresentationFn, ground_truth_data: Any, batch_size: int, num_votes: int,
           rng: np.random.Generator | np.random.RandomState, global_variances: np.ndarray,
           active: np.ndarray, images_per_call: int) -> np.ndarray:
    """Vote counts ``(num_factors, num_active_dims)``: each vote fixes one random factor over a batch and
    picks the active dimension whose variance, relative to its global variance, is smallest (that is, the
    argmin of the variance of the representation divided by its global standard deviation)."""
    num_factors = ground_truth_data.num_factors
    votes = np.zeros((num_factors, int(active.sum())), dtype=np.int64)
    # All draws up front, so the votes do not depend on images_per_call.
    fixed = randint(rng, num_factors, num_votes)
    factors = np.asarray(ground_truth_data.sample_factors(num_votes * batch_size, rng))
    factors = factors.reshape(num_votes, batch_size, -1)
    rows = np.arange(num_votes)
    factors[rows, :, fixed] = factors[rows, 0, fixed][:, None]
    per_call = max(1, images_per_call // batch_size)
    for start in range(0, num_votes, per_call):
        chunk = slice(start, start + per_call)
        block = factors[chunk].reshape(-1, factors.shape[-1])
        codes = represent(representation_fn, ground_truth_data, block, rng, len(block))
        local = np.var(codes.reshape(-1, batch_size, codes.shape[-1])[:, :, active], axis=1, ddof=1)
        np.add.at(votes, (fixed[chunk], np.argmin(local / global_variances[active], axis=1)), 1)
    return votes


def factor_vae_score(representation_fn: RepresentationFn, ground_truth_data: Any, random_state: RandomState,
                     batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                     num_variance_estimate: int = 10000, prune_std: float = PRUNE_STD,
                     images_per_call: int = IMAGES_PER_CALL) -> dict[str, float | int]:
    """The FactorVAE disentanglement score (Kim & Mnih 2017), following disentanglement_lib.

    Global variances of each code dimension come from ``num_variance_estimate`` random observations;
    dimensions with standard deviation below ``prune_std`` are pruned (collapsed to the prior). A majority
    vote classifier (factor per dimension) is fitted on ``num_train`` votes and scored on ``num_eval`` more.
    Chance level is ``1 / num_factors``. ``num_active_dims`` counts the unpruned dimensions
    (disentanglement_lib reports the total number instead).
    """
    rng = as_rng(random_state)
    global_variances = _global_variances(representation_fn, ground_truth_data, num_variance_estimate, rng,
                                         images_per_call)
    active = np.sqrt(global_variances) >= prune_std
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    args = (batch_size, num_train, rng, global_variances, active, images_per_call)
    train_votes = _votes(representation_fn, ground_truth_data, *args)
    classifier = np.argmax(train_votes, axis=0)  # the factor each dimension votes for most
    dims = np.arange(train_votes.shape[1])
    eval_votes = _votes(representation_fn, ground_truth_data, batch_size, num_eval, *args[2:])
    return {
        "train_accuracy": float(train_votes[classifier, dims].sum() / train_votes.sum()),
        "eval_accuracy": float(eval_votes[classifier, dims].sum() / eval_votes.sum()),
        "num_active_dims": int(active.sum()),
    }


def histogram_discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Each code dimension ``(N, d)`` into ``num_bins`` equal-width bins over its range, as
    disentanglement_lib does (bins 1..num_bins)."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], num_bins)[1][:-1]
        out[:, j] = np.digitize(codes[:, j], edges)
    return out


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Mutual information (nats) ``(d, K)`` between discrete codes ``(N, d)`` and factors ``(N, K)``."""
    return np.array([[sklearn.metrics.mutual_info_score(factors[:, k], codes[:, j])
                      for k in range(factors.shape[1])] for j in range(codes.shape[1])])


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each discrete factor, as the mutual information of a factor with itself."""
    return np.array([sklearn.metrics.mutual_info_score(factors[:, k], factors[:, k])
                     for k in range(factors.shape[1])])


def mig_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> dict[str, Any]:
    """MIG of codes ``(N, d)`` against factor indices ``(N, K)``: the gap between the two largest mutual
    informations of each factor with a code dimension, over the factor's entropy, averaged over factors."""
    mi = discrete_mutual_info(histogram_discretize(codes, num_bins), np.asarray(factors))
    entropy = discrete_entropy(np.asarray(factors))
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])  # one code dimension: the gap is all of it
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(entropy > 0, (top[0] - second) / entropy, np.nan)  # a constant factor has no MIG
    return {"discrete_mig": float(np.nanmean(gaps)), "mig_per_factor": [float(g) for g in gaps]}


def mig_score(representation_fn: RepresentationFn, ground_truth_data: Any, random_state: RandomState,
              num_train: int = 10000, num_bins: int = 20, images_per_call: int = IMAGES_PER_CALL
              ) -> dict[str, Any]:
    """The Mutual Information Gap (Chen et al. 2018) as disentanglement_lib computes it (histogram bins)."""
    rng = as_rng(random_state)
    factors = np.asarray(ground_truth_data.sample_factors(num_train, rng))
    codes = represent(representation_fn, ground_truth_data, factors, rng, images_per_call)
    return mig_from_codes(codes, factors, num_bins)

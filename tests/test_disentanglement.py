"""FactorVAE score and MIG: perfect for the true factors, near chance for noise, deterministic, batched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bngan.data.dsprites import DSprites, factor_values
from bngan.evaluation.disentanglement import factor_vae_score, histogram_discretize, mig_from_codes, mig_score

torch.set_num_threads(1)

SMALL = {"num_train": 1000, "num_eval": 500, "num_variance_estimate": 2000}


class FactorsAsObservations(DSprites):
    """dSprites whose 'observations' are the factor values themselves: the identity is the ideal encoder."""

    def sample_observations_from_factors(self, factors, random_state=None) -> torch.Tensor:
        return torch.as_tensor(factor_values(factors), dtype=torch.float32)


def identity(x: torch.Tensor) -> np.ndarray:
    return x.numpy()


def noise_fn(dim: int = 5, seed: int = 0):
    """A representation independent of the input (a collapsed or useless encoder)."""
    rng = np.random.default_rng(seed)
    return lambda x: rng.normal(size=(len(x), dim))


def image_features(x: torch.Tensor) -> np.ndarray:
    """A hand-made encoder of real images: ink centroid (x, y), ink area and two noise dimensions."""
    ink = x.flatten(2).sum(-1).squeeze(1)
    grid = torch.arange(64, dtype=torch.float32)
    cx = (x[:, 0].sum(1) * grid).sum(-1) / ink
    cy = (x[:, 0].sum(2) * grid).sum(-1) / ink
    noise = torch.randn(len(x), 2, generator=torch.Generator().manual_seed(int(ink.sum())))
    return torch.cat([cx[:, None] / 64, cy[:, None] / 64, ink[:, None] / 500, noise], 1).numpy()


def test_factor_vae_true_factors_score_one() -> None:
    scores = factor_vae_score(identity, FactorsAsObservations(), np.random.default_rng(0), **SMALL)
    assert scores["train_accuracy"] >= 0.95 and scores["eval_accuracy"] >= 0.95
    assert scores["num_active_dims"] == 5


def test_factor_vae_noise_is_near_chance() -> None:
    scores = factor_vae_score(noise_fn(5), DSprites(), np.random.default_rng(1), **SMALL)
    assert scores["eval_accuracy"] <= 0.45 and scores["train_accuracy"] <= 0.45
    assert scores["num_active_dims"] == 5


def test_factor_vae_on_rendered_images() -> None:
    """Centroid and area recover x, y and scale from real renderings: well above chance (0.2)."""
    scores = factor_vae_score(image_features, DSprites(), np.random.RandomState(0), num_train=300,
                              num_eval=200, num_variance_estimate=2000)
    assert 0.55 <= scores["eval_accuracy"] <= 1.0


def test_factor_vae_is_a_pure_function_of_the_seed() -> None:
    data = FactorsAsObservations()

    def noisy(x: torch.Tensor) -> np.ndarray:
        return x.numpy() + 0.3 * np.sin(1e3 * x.numpy().sum(1, keepdims=True))  # deterministic "noise"

    a = factor_vae_score(noisy, data, 5, num_train=200, num_eval=100, num_variance_estimate=500)
    b = factor_vae_score(noisy, data, 5, num_train=200, num_eval=100, num_variance_estimate=500)
    assert a == b


def test_factor_vae_batching_does_not_change_the_score() -> None:
    data = FactorsAsObservations()

    def partly(x: torch.Tensor) -> np.ndarray:
        v = x.numpy()
        return np.stack([v[:, 0] + v[:, 1], v[:, 2] + v[:, 3], v[:, 4]], 1)

    kwargs = {"num_train": 100, "num_eval": 50, "num_variance_estimate": 300}
    a = factor_vae_score(partly, data, 3, images_per_call=64, **kwargs)
    b = factor_vae_score(partly, data, 3, images_per_call=4096, **kwargs)
    assert a == b


def test_factor_vae_prunes_collapsed_dimensions() -> None:
    def with_dead(x: torch.Tensor) -> np.ndarray:
        v = x.numpy()
        return np.concatenate([v, np.full((len(v), 2), 3.0), 0.01 * v[:, :1]], 1)

    scores = factor_vae_score(with_dead, FactorsAsObservations(), 0, **SMALL)
    assert scores["num_active_dims"] == 5 and scores["eval_accuracy"] >= 0.95
    dead = factor_vae_score(lambda x: np.zeros((len(x), 3)), DSprites(), 0, **SMALL)
    assert dead == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}


def test_mig_true_factors_high_noise_low() -> None:
    good = mig_score(identity, FactorsAsObservations(), np.random.default_rng(0), num_train=3000)
    # Shape (3 values) and scale (6) survive 20 bins exactly; orientation (40) and x, y (32) lose a little.
    assert good["mig_per_factor"][0] == pytest.approx(1.0, abs=0.03)
    assert good["mig_per_factor"][1] == pytest.approx(1.0, abs=0.03)
    assert good["discrete_mig"] >= 0.8
    bad = mig_score(noise_fn(5), DSprites(), np.random.default_rng(0), num_train=3000)
    assert bad["discrete_mig"] <= 0.05


def test_mig_from_codes_one_dimension_and_discretisation() -> None:
    factors = np.random.default_rng(0).integers(4, size=(500, 1))
    assert mig_from_codes(factors.astype(float), factors)["discrete_mig"] == pytest.approx(1.0)
    bins = histogram_discretize(np.linspace(0, 1, 100)[:, None], 20)
    assert bins.min() == 1 and bins.max() == 20 and len(np.unique(bins)) == 20

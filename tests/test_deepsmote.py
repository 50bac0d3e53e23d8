"""DeepSMOTE: an autoencoder trained with the permutation penalty, SMOTE in its code space, decoded images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bngan.errors import InvalidSettingError
from bngan.evaluation.baselines import make_oversampler
from bngan.evaluation.deepsmote import DeepSMOTE


def _toy(n_major: int = 30, n_minor: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: a vertical bar; class 1: a horizontal bar (with a little noise)."""
    rng = np.random.default_rng(0)
    x = np.zeros((n_major + n_minor, 1, 16, 16), np.float32)
    x[:n_major, 0, 3:13, 7:9] = 1
    x[n_major:, 0, 7:9, 3:13] = 1
    x += rng.uniform(0, 0.1, x.shape).astype(np.float32)
    return np.clip(x, 0, 1), np.array([0] * n_major + [1] * n_minor)


def test_balances_with_decoded_images_of_the_right_class():
    x, y = _toy()
    options = {"steps": 200, "width": 8, "code_dim": 8, "batch_size": 16, "lr": 2e-3}
    sampler = make_oversampler("deepsmote", random_state=0, **options)
    xs, ys = sampler.fit_resample(x, y)
    assert np.bincount(ys).tolist() == [30, 30] and xs.shape == (60, 1, 16, 16)
    assert np.array_equal(xs[:36], x) and np.array_equal(ys[:36], y)  # the originals first, unchanged
    new = xs[36:]
    assert new.min() >= 0 and new.max() <= 1
    rows, cols = new[:, 0].mean(2).std(1), new[:, 0].mean(1).std(1)  # a horizontal bar varies along rows
    assert (rows > cols).mean() >= 0.8  # decoded minority images look like the minority class
    again = make_oversampler("deepsmote", random_state=0, **options)
    assert np.allclose(again.fit_resample(x, y)[0], xs, atol=1e-5)  # seeded


def test_permutation_penalty_trains_the_decoder_towards_the_class():
    """With the penalty, a minority code decodes closer to its class's mean image than without training."""
    x, y = _toy()
    errors = []
    for steps in (1, 200):
        sampler = DeepSMOTE(steps=steps, width=8, code_dim=8, batch_size=16, lr=2e-3)
        sampler.fit_resample(x, y)
        with torch.no_grad():
            decoded = sampler.decoder_(sampler.encoder_(torch.from_numpy(x[y == 1]))).numpy()
        errors.append(np.abs(decoded - x[y == 1].mean(0)).mean())
    assert errors[1] < 0.1 < errors[0]


@pytest.mark.parametrize(("kw", "data", "needle"), [
    ({"steps": 0}, None, "steps"), ({"width": 1.5}, None, "width"),
    ({}, (np.zeros((4, 8, 8)), np.array([0, 0, 1, 1])), "at least 16 px"),
    ({}, (np.full((4, 1, 16, 16), 255.0), np.array([0, 0, 1, 1])), "divide 0..255"),
    ({"steps": 2, "width": 2}, (np.zeros((4, 1, 16, 16)), np.array([0, 0, 0, 1])), "at least 2"),
])
def test_bad_input_is_named(kw, data, needle):
    x, y = data if data is not None else _toy()
    with pytest.raises(InvalidSettingError, match=needle):
        DeepSMOTE(**kw).fit_resample(x, y)

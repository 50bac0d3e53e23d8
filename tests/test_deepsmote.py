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


def _six_bars() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_toy``'s majority, and a minority of six different images: a horizontal bar at six heights."""
    x, y = _toy(n_minor=0)
    minority = np.zeros((6, 1, 16, 16), np.float32)
    for i, row in enumerate(range(2, 14, 2)):
        minority[i, 0, row:row + 2, 3:13] = 1
    return np.concatenate([x, minority]), np.concatenate([y, np.ones(6, int)]), minority


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


def test_the_penalty_trains_the_decoder_only_on_each_code_s_own_image():
    """As in the released code: the class's codes are detached and each is compared with its own image (a
    code paired with another image of its class would pull every decoding towards the class mean)."""
    from bngan.evaluation.deepsmote import _Decoder, _Encoder, class_penalty

    torch.manual_seed(0)
    encoder, decoder = _Encoder(1, 16, 8, 8), _Decoder(1, 16, 8, 8)
    images = torch.from_numpy(_toy()[0][30:])
    class_penalty(encoder, decoder, images).backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.parameters())
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(decoder(encoder(images)), images)
    assert torch.isclose(class_penalty(encoder, decoder, images), expected)
    decoder.zero_grad()
    class_penalty(encoder, decoder, images, "other-image").backward()  # the stored runs' version: both nets
    assert all(p.grad is not None for p in encoder.parameters())


def test_decoded_minority_images_keep_their_own_look_not_the_class_mean():
    """Six different minority images (a bar at six heights) decode to themselves, not to their average."""
    x, y, minority = _six_bars()
    sampler = DeepSMOTE(steps=300, width=8, code_dim=8, batch_size=16, lr=2e-3)
    sampler.fit_resample(x, y)
    with torch.no_grad():
        decoded = sampler.decoder_(sampler.encoder_(torch.from_numpy(minority))).numpy()
    to_own = np.abs(decoded - minority).mean()
    to_mean = np.abs(decoded - minority.mean(0)).mean()
    assert to_own < 0.5 * to_mean


def test_the_stored_runs_pairing_blurs_towards_the_class_mean():
    """``pairing="other-image"`` (runs stored before the fix) pulls a class's decodings to its mean image: the
    measured reason its DeepSMOTE rows looked like blurs."""
    x, y, minority = _six_bars()
    decoded = {}
    for pairing in ("own-image", "other-image"):
        sampler = DeepSMOTE(steps=600, width=8, code_dim=8, batch_size=16, lr=2e-3, pairing=pairing)
        sampler.fit_resample(x, y)
        with torch.no_grad():
            decoded[pairing] = sampler.decoder_(sampler.encoder_(torch.from_numpy(minority))).numpy()
    spread = {k: v.std(0).mean() for k, v in decoded.items()}  # how different the six decodings are
    assert spread["other-image"] < 0.5 * spread["own-image"]


@pytest.mark.parametrize(("kw", "data", "needle"), [
    ({"steps": 0}, None, "steps"), ({"width": 1.5}, None, "width"), ({"pairing": "mean"}, None, "pairing"),
    ({}, (np.zeros((4, 8, 8)), np.array([0, 0, 1, 1])), "at least 16 px"),
    ({}, (np.full((4, 1, 16, 16), 255.0), np.array([0, 0, 1, 1])), "divide 0..255"),
    ({"steps": 2, "width": 2}, (np.zeros((4, 1, 16, 16)), np.array([0, 0, 0, 1])), "at least 2"),
])
def test_bad_input_is_named(kw, data, needle):
    x, y = data if data is not None else _toy()
    with pytest.raises(InvalidSettingError, match=needle):
        DeepSMOTE(**kw).fit_resample(x, y)

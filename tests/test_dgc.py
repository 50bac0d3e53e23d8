"""DGC baseline: network shapes, the MMD estimator, oversampling counts, a short training run, prediction."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bngan.data.datasets import load_dataset
from bngan.evaluation.dgc import (
    MMD_SCALES,
    DGCClassifier,
    DGCNet,
    SamePadConv2d,
    mmd_imq,
    oversample_counts,
    select_device,
    to_images,
)

torch.set_num_threads(1)
WIDTH = 0.125  # 16..128 channels: fast on a CPU core


@pytest.fixture(scope="module")
def digits():
    return (load_dataset("digits", train=True, image_size=28),
            load_dataset("digits", train=False, image_size=28))


@pytest.fixture(scope="module")
def fitted(digits):
    """A few dozen steps at a raised learning rate: enough to see the loss fall and predictions form."""
    train, _ = digits
    calls: list[dict] = []
    clf = DGCClassifier(width=WIDTH, lr=1e-3, max_steps=30, random_state=0, device="cpu",
                        progress=calls.append)
    clf.fit(train.images, train.labels)
    return clf, calls


# ---------------------------------------------------------------------------------------------- networks

def test_encoder_takes_the_28_14_7_4_2_path_and_gives_64d_codes():
    net = DGCNet(10, width=WIDTH)
    sizes: list[int] = []
    for m in net.encoder.modules():
        if isinstance(m, SamePadConv2d):
            m.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
    x = torch.rand(3, 1, 28, 28)
    mu, logvar = net.encoder(x, F.one_hot(torch.tensor([0, 4, 9]), 10).float())
    assert sizes == [14, 7, 4, 2]
    assert mu.shape == logvar.shape == (3, 64)
    assert net.encoder.features(x).shape == (3, 2 * 2 * 128)


def test_same_padding_is_asymmetric_like_tensorflow():
    conv = SamePadConv2d(1, 1)
    assert conv(torch.rand(1, 1, 7, 7)).shape[-1] == 4  # PyTorch's symmetric padding 1 would give 3
    assert conv._pad(7) == (1, 2) and conv._pad(28) == (1, 1)


def test_logvar_is_clipped():
    net = DGCNet(10, width=WIDTH)
    torch.nn.init.constant_(net.encoder.logvar.bias, 1e4)
    _, logvar = net.encoder(torch.rand(2, 1, 28, 28), torch.eye(10)[:2])
    assert torch.all(logvar == 50.0)


def test_decoder_gives_28x28_images_in_unit_interval():
    net = DGCNet(10, width=WIDTH)
    net.reset_parameters(torch.Generator().manual_seed(0))
    out = net.decoder(torch.randn(4, 64) * 10)
    assert out.shape == (4, 1, 28, 28)
    assert out.min() >= 0 and out.max() <= 1


def test_final_transposed_conv_is_the_adjoint_of_a_tf_same_conv():
    """The crop [1:-2] makes the stride-1 transpose TF's "same": the adjoint of a conv padded (1, 2)."""
    net = DGCNet(10, width=WIDTH)
    w = net.decoder.out.weight.detach()
    g = torch.randn(2, w.shape[0], 28, 28)
    x = torch.randn(2, 1, 28, 28)
    y = F.conv_transpose2d(g, w)[..., 1:-2, 1:-2]
    assert torch.allclose((F.conv2d(F.pad(x, (1, 2, 1, 2)), w) * g).sum(), (x * y).sum(), rtol=1e-4)


# ---------------------------------------------------------------------------------------------- MMD

def _mmd_by_hand(a: list[list[float]], b: list[list[float]], base: float) -> float:
    """The estimator written out with loops, as it reads in the description."""
    def k(u, v, c):
        return c / (c + sum((ui - vi) ** 2 for ui, vi in zip(u, v)))

    total = 0.0
    n, m = len(a), len(b)
    for s in MMD_SCALES:
        c = base * s
        within_a = sum(k(a[i], a[j], c) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        within_b = sum(k(b[i], b[j], c) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        cross = sum(k(u, v, c) for u, v in itertools.product(a, b)) * 2 / (n * m)
        total += within_a + within_b - cross
    return total


def test_mmd_matches_a_hand_computed_small_case():
    a = [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]
    b = [[1.0, 1.0], [-1.0, 0.5]]
    got = mmd_imq(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
    assert got.item() == pytest.approx(_mmd_by_hand(a, b, base=2 * 2), rel=1e-12)  # C = 2·d·s with d = 2
    # one scale, worked by hand: C = 4; within a: 4/5, 4/8, 4/9 (each twice); within b: 4/(4+0.25);
    # cross: |a-b|² = 2, 1.25, 1, 4.25, 2, 3.25
    one = mmd_imq(torch.tensor(a), torch.tensor(b), scales=(1.0,))
    within_a = 2 * (4 / 5 + 4 / 8 + 4 / 9) / 6
    within_b = 2 * (4 / 8.25) / 2
    cross = 2 * sum(4 / (4 + d) for d in (2, 1.25, 1, 4.25, 2, 3.25)) / 6
    assert one.item() == pytest.approx(within_a + within_b - cross, rel=1e-6)


def test_mmd_separates_shifted_samples_and_has_gradients():
    g = torch.Generator().manual_seed(0)
    prior = torch.randn(200, 64, generator=g)
    near = torch.randn(200, 64, generator=g).requires_grad_()
    far = torch.randn(200, 64, generator=g) + 3.0
    assert abs(mmd_imq(near, prior).item()) < 0.05 < mmd_imq(far, prior).item()
    mmd_imq(near, prior).backward()
    assert torch.isfinite(near.grad).all()
    with pytest.raises(ValueError):
        mmd_imq(prior[:1], prior)


# ---------------------------------------------------------------------------------------------- oversampling

def test_oversample_counts_on_the_standard_split():
    counts = dict(enumerate((4000, 2000, 1000, 750, 500, 350, 200, 100, 60, 40)))
    got = oversample_counts(counts, r=0.6)
    # 1 + 0.6·(4000 - n)/n: 1, 1.6, 2.8, 4.2, 5.2, 7.26, 12.4, 24.4, 40.4, 60.4
    assert got == {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 7, 6: 12, 7: 24, 8: 40, 9: 60}


def test_oversample_counts_edge_cases():
    assert oversample_counts({"a": 10, "b": 10}) == {"a": 1, "b": 1}
    assert oversample_counts({0: 100, 1: 5}, r=0.0) == {0: 1, 1: 1}
    assert oversample_counts({0: 10, 1: 4}, r=0.5) == {0: 1, 1: 2}  # 1.75 rounds up
    assert oversample_counts({0: 10, 1: 0}) == {0: 1, 1: 1}
    with pytest.raises(ValueError):
        oversample_counts({0: 1}, r=-1)


def test_fit_records_the_counts_of_the_training_split(fitted, digits):
    clf, _ = fitted
    train, _ = digits
    assert clf.class_counts_ == train.class_counts()
    assert clf.repeat_counts_ == oversample_counts(train.class_counts(), 0.6)


# ---------------------------------------------------------------------------------------------- training

def test_a_few_dozen_steps_lower_the_loss(fitted):
    clf, calls = fitted
    losses = [h["loss"] for h in clf.history_]
    assert clf.steps_ == len(losses) == 30 and clf.stopped_early_
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert np.mean([h["recon"] for h in clf.history_[-5:]]) < np.mean([h["recon"] for h in clf.history_[:5]])
    assert calls and calls[-1]["step"] == 30 and {"loss", "recon", "mmd", "ce", "elapsed_s"} <= set(calls[-1])


def test_same_random_state_gives_the_same_run(digits):
    train, _ = digits
    runs = [DGCClassifier(width=WIDTH, lr=1e-3, max_steps=2, random_state=7, device="cpu")
            .fit(train.images[:300], train.labels[:300]).history_ for _ in range(2)]
    assert runs[0] == runs[1]


def test_parameters_are_checked(digits):
    train, _ = digits
    with pytest.raises(ValueError, match="ce_reduction"):
        DGCClassifier(ce_reduction="max").fit(train.images[:10], train.labels[:10])
    with pytest.raises(RuntimeError, match="not fitted"):
        DGCClassifier().predict(train.images[:2])


# ---------------------------------------------------------------------------------------------- prediction

def test_predict_is_one_vectorised_pass_and_returns_valid_labels(fitted, digits):
    clf, _ = fitted
    _, test = digits
    decoded: list[int] = []
    hook = clf.model_.decoder.register_forward_hook(lambda _m, inp, _o: decoded.append(inp[0].shape[0]))
    try:
        pred = clf.predict(test.images[:8])
    finally:
        hook.remove()
    assert decoded == [8 * 10 * clf.num_draws]  # every image × class × draw decoded in one call
    assert pred.shape == (8,) and set(pred) <= set(range(10))
    log_proba = clf.predict_log_proba(test.images[:8])
    assert log_proba.shape == (8, 10)
    assert np.allclose(np.exp(log_proba).sum(1), 1.0, atol=1e-5)
    assert np.array_equal(pred, log_proba.argmax(1))


def test_vectorised_scores_match_a_per_class_loop(fitted, digits):
    """With the code's variance at its floor each score is one decode: check the batched indexing by loops."""
    clf = copy.deepcopy(fitted[0])
    _, test = digits
    torch.nn.init.zeros_(clf.model_.encoder.logvar.weight)
    torch.nn.init.constant_(clf.model_.encoder.logvar.bias, -50.0)
    x = test.images[:3]
    scores = clf.class_scores(x)
    net = clf.model_
    with torch.no_grad():
        for i, c in itertools.product(range(3), range(10)):
            mu, _ = net.encoder(x[i:i + 1], torch.eye(10)[c:c + 1])
            recon = -0.5 * (x[i] - net.decoder(mu)[0]).pow(2).sum()
            expected = recon + F.log_softmax(net.classifier(mu), dim=1)[0, c]
            assert scores[i, c] == pytest.approx(expected.item(), abs=1e-2)


def test_labels_are_returned_as_given_and_inputs_are_normalised(digits):
    train, test = digits
    names = np.array(list("abcdefghij"))[train.labels.numpy()]
    clf = DGCClassifier(width=WIDTH, lr=1e-3, max_steps=1, num_draws=2, random_state=0, device="cpu")
    clf.fit(train.images[:200, 0].numpy(), names[:200])  # (N, 28, 28) array, string labels
    assert set(clf.predict(test.images[:4])) <= set("abcdefghij")
    small = torch.rand(2, 1, 8, 8)
    assert to_images(small).shape == (2, 1, 28, 28)
    assert to_images((np.ones((2, 28, 28)) * 255).astype(np.uint8)).max() == 1.0


def test_device_selection():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cuda", "mps", "cpu")

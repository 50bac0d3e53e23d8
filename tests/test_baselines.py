"""Every baseline behind one interface: shapes, class counts per sampling strategy, capping, the registry."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
import torch

from bngan.data import Imbalance, load_dataset, make_imbalanced
from bngan.evaluation.baselines import (
    OVERSAMPLERS,
    ImageOversampler,
    NoOversampler,
    make_oversampler,
    register_oversampler,
)

COUNTS = [40, 35, 30, 25, 20, 18, 12, 10, 6, 4]  # 200 images, class 9 at IR 10
STRATEGIES = {
    "auto": dict.fromkeys(range(10), 40),  # every class up to the majority
    "minority": {**dict(enumerate(COUNTS)), 9: 40},  # only the smallest class
    "dict": {**dict(enumerate(COUNTS)), 8: 30, 9: 20},
}
SAMPLERS = ("ros", "smote", "borderline-smote", "adasyn")


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.Tensor, torch.Tensor]:
    ds = make_imbalanced(load_dataset("digits", train=True), Imbalance(counts=COUNTS), seed=0)
    return ds.images, ds.labels


def _strategy(key: str) -> str | dict[int, int]:
    return {8: 30, 9: 20} if key == "dict" else key


def _resample(name: str, key: str, images: torch.Tensor, labels: torch.Tensor):
    sampler = make_oversampler(name, random_state=0, sampling_strategy=_strategy(key))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, y = sampler.fit_resample(images, labels)
    return sampler, x, y, caught


@pytest.mark.parametrize("key", list(STRATEGIES))
@pytest.mark.parametrize("name", SAMPLERS)
def test_shapes_and_counts(name: str, key: str, tiny) -> None:
    images, labels = tiny
    sampler, x, y, caught = _resample(name, key, images, labels)
    counts = Counter(y.tolist())
    expected = STRATEGIES[key]
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (len(y), 1, 28, 28)
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x[:len(images)], images.numpy())  # originals first, unchanged
    np.testing.assert_array_equal(y[:len(labels)], labels.numpy())
    assert set(sampler.sampling_strategy_) <= set(range(10))
    for c in range(10):
        if name == "adasyn":  # ADASYN rounds per-image quotas: totals are close, not exact
            assert abs(counts[c] - expected[c]) <= 3, (c, counts[c], expected[c])
        elif name == "borderline-smote" and sampler.added_.get(c, 1) == 0:
            # a class without images near a border gets nothing; that must be warned about, never hidden
            assert counts[c] == COUNTS[c]
            assert any(f"[{c}" in str(w.message) or f" {c}]" in str(w.message) for w in caught)
        else:
            assert counts[c] == expected[c], (c, counts[c], expected[c])


@pytest.mark.parametrize("key", list(STRATEGIES))
def test_none_leaves_data_untouched(key: str, tiny) -> None:
    images, labels = tiny
    sampler = make_oversampler("none", sampling_strategy=_strategy(key))
    x, y = sampler.fit_resample(images, labels)
    np.testing.assert_array_equal(x, images.numpy())
    np.testing.assert_array_equal(y, labels.numpy())
    assert isinstance(sampler.sampler, NoOversampler)
    assert sampler.sampling_strategy_ == {} and sampler.added_ == {}


def test_same_random_state_same_output_and_numpy_input(tiny) -> None:
    images, labels = tiny
    x1, y1 = make_oversampler("smote", random_state=3).fit_resample(images, labels)
    x2, y2 = make_oversampler("smote", random_state=3).fit_resample(images.numpy(), labels.numpy())
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    x3, _ = make_oversampler("smote", random_state=4).fit_resample(images, labels)
    assert not np.array_equal(x1, x3)


def test_three_dim_input_gets_a_channel(tiny) -> None:
    images, labels = tiny
    x, y = make_oversampler("ros").fit_resample(images[:, 0].numpy(), labels)
    assert x.shape == (400, 1, 28, 28) and len(y) == 400


def test_smote_neighbours_capped_for_tiny_classes(tiny) -> None:
    images, labels = tiny
    sampler = make_oversampler("smote")
    sampler.fit_resample(images, labels)
    assert sampler.n_neighbors_used_ == 3  # smallest class has 4 images -> k = min(5, 4 - 1)
    keep = torch.cat([torch.arange(len(labels))[labels != 9], torch.nonzero(labels == 9)[:2, 0]])
    sampler = make_oversampler("adasyn", sampling_strategy={9: 20})
    _, y = sampler.fit_resample(images[keep], labels[keep])
    assert sampler.n_neighbors_used_ == 1 and abs((y == 9).sum() - 20) <= 2
    # a class outside the strategy does not limit k
    sampler = make_oversampler("smote", sampling_strategy={7: 20}, k_neighbors=4)
    sampler.fit_resample(images[keep], labels[keep])
    assert sampler.n_neighbors_used_ == 4


@pytest.mark.parametrize("name", ["smote", "borderline-smote", "adasyn"])
def test_single_image_class_is_a_clear_error(name: str, tiny) -> None:
    images, labels = tiny
    keep = torch.cat([torch.arange(len(labels))[labels != 9], torch.nonzero(labels == 9)[:1, 0]])
    with pytest.raises(ValueError, match=r"class 9 has 1 image.*'ros'"):
        make_oversampler(name).fit_resample(images[keep], labels[keep])
    _, y = make_oversampler("ros").fit_resample(images[keep], labels[keep])  # ROS copies: fine
    assert (y == 9).sum() == 40


def test_registry_and_unknown_names() -> None:
    assert {"none", "ros", "smote", "borderline-smote", "adasyn"} <= set(OVERSAMPLERS)
    assert isinstance(make_oversampler("ros"), ImageOversampler)
    with pytest.raises(ValueError, match="unknown oversampler"):
        make_oversampler("gan-of-dreams")
    with pytest.raises(ValueError, match="already registered"):
        register_oversampler("smote", OVERSAMPLERS["smote"])

    class Fake:
        def __init__(self, random_state=0, sampling_strategy="auto", **kw):
            self.options = (random_state, sampling_strategy, kw)

        def fit_resample(self, X, y):
            return X, y

    register_oversampler("test-fake", Fake)
    try:
        made = make_oversampler("test-fake", random_state=7, sampling_strategy="minority", steps=3)
        assert made.options == (7, "minority", {"steps": 3})
    finally:
        del OVERSAMPLERS["test-fake"]


def test_wrong_shapes_rejected(tiny) -> None:
    images, labels = tiny
    with pytest.raises(ValueError):
        make_oversampler("ros").fit_resample(images, labels[:-1])
    with pytest.raises(ValueError):
        make_oversampler("ros").fit_resample(images.reshape(len(images), -1), labels)

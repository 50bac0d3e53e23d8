"""The diagnostics of added images on data whose answer is known: copies, fresh draws, a shifted cloud."""

from __future__ import annotations

import numpy as np

from bngan.evaluation.diagnostics import cas_training_set, copying, domain_accuracy


def test_copying_tells_copies_from_fresh_draws() -> None:
    rng = np.random.default_rng(0)
    train, test = rng.random((60, 1, 6, 6)), rng.random((60, 1, 6, 6))
    copies = copying(train, test, train[rng.integers(0, 60, 40)])
    assert copies["ratio"] == 0 and copies["closer_share"] == 1
    fresh = copying(train, test, rng.random((200, 1, 6, 6)))  # the same distribution: as novel as test images
    assert 0.85 < fresh["ratio"] < 1.15 and fresh["closer_share"] < 0.15
    near = copying(train, test, train[:40] + 0.01 * rng.standard_normal((40, 1, 6, 6)))
    assert near["ratio"] < 0.1 and near["closer_share"] == 1
    assert copying(train[:0], test, train) == {}


def test_domain_accuracy_is_half_for_one_distribution_and_high_for_two() -> None:
    rng = np.random.default_rng(1)
    same = domain_accuracy(rng.standard_normal((300, 8)), rng.standard_normal((300, 8)))
    apart = domain_accuracy(rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 1.5)
    assert 0.4 < same < 0.6 and apart > 0.9
    assert np.isnan(domain_accuracy(rng.standard_normal((3, 8)), rng.standard_normal((300, 8))))


def test_cas_set_holds_the_minority_only_as_added_images() -> None:
    x, y = np.arange(10.0), np.array([0, 0, 0, 1, 1, 1, 2, 2, 9, 9])
    added_x, added_y = np.array([100.0, 101.0, 102.0, 200.0]), np.array([9, 9, 9, 2])
    cas_x, cas_y = cas_training_set(x, y, added_x, added_y, minority=[9])
    assert sorted(cas_x[cas_y == 9]) == [100.0, 101.0, 102.0]  # no real 9 left
    assert list(cas_y[cas_y != 9]) == [0, 0, 0, 1, 1, 1, 2, 2]  # the other classes real, added 2s left out

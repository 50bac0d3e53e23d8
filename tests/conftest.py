"""Shared fixtures: seeded torch, one thread (the CI machine has 2 cores), tiny runs."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)


@pytest.fixture
def tiny_config():
    """A digits run small enough for unit tests."""
    from bngan.config import TrainConfig

    return TrainConfig(dataset="digits", steps=4, batch_size=16, sample_every=2, checkpoint_every=2, z_dim=8,
                       device="cpu")

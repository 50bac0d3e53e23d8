"""bngan: interpretable minority synthesis with a Bayesian-network regularised GAN.

The library never imports streamlit (except ``bngan.ui``). Heavy parts (torch models, training) are
imported lazily so that ``import bngan`` and the structure editor stay instant.
"""

from __future__ import annotations

import importlib
from typing import Any

from bngan.structure import LatentStructure, StructureError

__version__ = "0.1.0"

_LAZY = {
    "BayesianRegularizer": "bngan.regularizer",
    "TrainConfig": "bngan.config",
    "ConfigError": "bngan.config",
    "Trainer": "bngan.training",
    "TrainedModel": "bngan.training",
    "DivergenceError": "bngan.training",
    "CheckpointError": "bngan.checkpoint",
    "DataError": "bngan.data",
    "load_dataset": "bngan.data",
    "Imbalance": "bngan.data",
    "BNGANOversampler": "bngan.sampler",
}

__all__ = ["LatentStructure", "StructureError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bngan' has no attribute {name!r}")

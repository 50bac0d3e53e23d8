"""Real-data tests run where MNIST / Fashion-MNIST are on disk and skip, saying where the data goes, elsewhere.

A user's clone has no data; CI has it and sets ``BNGAN_REQUIRE_REAL_DATA=1``, which turns the skip into a
failure, so a missing data folder can never hide a real-data test there.
"""

from __future__ import annotations

import functools
import os

import pytest

from bngan.data import DataError, load_dataset
from bngan.data.datasets import default_data_dir


@functools.cache
def real_data_missing(name: str) -> str | None:
    """Why a test that needs ``name`` cannot run here, or None when it can."""
    try:
        load_dataset(name, train=False)
    except DataError as exc:
        if os.environ.get("BNGAN_REQUIRE_REAL_DATA") == "1":
            raise RuntimeError(f"BNGAN_REQUIRE_REAL_DATA=1 but {name} is missing: {exc}") from None
        return (f"{name} is not on this machine: put torchvision's files under $BNGAN_DATA_DIR (now "
                f"{default_data_dir()}) or run `python -m bngan train --dataset {name} --download ...` once")
    return None


def needs_real_data(*names: str) -> pytest.MarkDecorator:
    """Skip the test (with where the data goes) when one of ``names`` is not on this machine."""
    reasons = [r for r in map(real_data_missing, names) if r]
    return pytest.mark.skipif(bool(reasons), reason="; ".join(reasons))

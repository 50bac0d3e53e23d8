"""Checkpoints: written atomically, read without executing pickled code.

A checkpoint is a ``torch.save`` of plain containers (tensors, numbers, strings) and is read back with
``torch.load(weights_only=True)``, which refuses arbitrary objects. It is written to a temporary file in the
same folder and renamed over the target, so a crash never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch

from bngan.errors import InvalidSettingError
from bngan.files import atomic_write_bytes

FORMAT = "bngan-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "config", "model", "generator", "discriminator", "step")


class CheckpointError(InvalidSettingError):
    """A checkpoint that is missing, corrupt, foreign or of an unknown version."""


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` (see :data:`REQUIRED`) atomically."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"checkpoint payload lacks {', '.join(missing)}")
    return atomic_write_bytes(path, lambda handle: torch.save(data, handle))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read and check a checkpoint; any problem is a :class:`CheckpointError` that says what is wrong."""
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"no checkpoint at {source}")
    if not zipfile.is_zipfile(source):  # torch.save writes a zip archive; anything else is not ours
        raise CheckpointError(f"{source} is not a readable bngan checkpoint (not a PyTorch file)")
    try:
        data = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{source} is not a readable bngan checkpoint ({first[:200]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{source} is not a bngan checkpoint (a PyTorch file from something else?)")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{source} has checkpoint version {data.get('version')!r}; this bngan reads "
                              f"version {VERSION}")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"{source} lacks {', '.join(missing)}: it is incomplete")
    return data

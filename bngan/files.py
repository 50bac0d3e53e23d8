"""Atomic file writes (a temporary file beside the target, then a rename), free of heavy imports.

Checkpoints, cached judges, experiment cells and reports all go through here, so a crash or two shards
finishing together never leave a half-written file where a good one was.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """The temporary files an interrupted write of ``path`` left beside it (``.<name>.*.tmp``)."""
    target = Path(path)
    return sorted(target.parent.glob(f".{glob_escape(target.name)}.*.tmp"))


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters escaped (a run folder may be called ``run[1]``)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def atomic_write_bytes(path: str | os.PathLike, write: Callable[[IO[bytes]], object],
                       remove_stale: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    ``remove_stale`` first deletes the temporary files of earlier writes of the same target that a crash
    (``kill -9`` during a save) left behind; only for targets with one writer, such as a run's checkpoint
    (shards writing one shared file must not delete each other's work in progress)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if remove_stale:
        for stale in stale_temporaries(target):
            stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; these are ordinary shareable files
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, lambda handle: handle.write(text.encode("utf-8")))


def step_file(checkpoint: str | os.PathLike) -> Path:
    """``checkpoint.pt`` -> ``checkpoint.step.json``: the step of the checkpoint last written there."""
    path = Path(checkpoint)
    return path.with_name(path.stem + ".step.json")


def saved_step(checkpoint: str | os.PathLike) -> int | None:
    """The step of a checkpoint from its step file (None when there is none or it is older than the file)."""
    path = step_file(checkpoint)
    try:
        if path.stat().st_mtime < Path(checkpoint).stat().st_mtime - 1:
            return None
        return int(json.loads(path.read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None

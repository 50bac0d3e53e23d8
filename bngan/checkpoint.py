"""Checkpoints: written atomically, read without executing pickled code, verified before use.

A checkpoint is a ``torch.save`` of plain containers (tensors, numbers, strings) and is read back with
``torch.load(weights_only=True)``, which refuses arbitrary objects. It is written to a temporary file in the
same folder and renamed over the target, so a crash never leaves a half-written file where a good one was
(and the temporary files a crash leaves are removed at the next save). On load every check a hand-edited,
damaged or foreign file could fail is made here, before any network sees it: the zip archive's own CRCs,
the type of every field and finite weights; :func:`bngan.training.check_against_model` then compares the
weights' names and shapes with the model the checkpoint describes.
"""

from __future__ import annotations

import errno
import json
import math
import os
import pickle
import re
import shutil
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import torch

from bngan.errors import InvalidSettingError
from bngan.files import atomic_write_bytes, atomic_write_text, step_file

FORMAT = "bngan-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "config", "model", "generator", "discriminator", "step")
JSON_FIELDS = ("config", "model", "structure", "class_names", "class_counts")
WEIGHT_FIELDS = ("generator", "discriminator", "generator_live")


class CheckpointError(InvalidSettingError):
    """A checkpoint that is missing, corrupt, foreign, inconsistent or of an unknown version."""


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` (see :data:`REQUIRED`) atomically; a full disk is reported as such, and the
    previous checkpoint stays in place."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"checkpoint payload lacks {', '.join(missing)}")
    target = Path(path)
    try:
        written = atomic_write_bytes(target, lambda handle: torch.save(data, handle), remove_stale=True)
        # the step beside it, so menus can name a checkpoint's true step without loading torch or the file
        atomic_write_text(step_file(target), json.dumps({"step": int(data["step"])}))
        return written
    except RuntimeError as exc:  # torch's zip writer turns a failed write (ENOSPC, EIO) into a RuntimeError
        if "write" not in str(exc).lower():
            raise
        raise _write_failure(target, exc) from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _write_failure(target, exc) from None
        raise


def _write_failure(target: Path, exc: BaseException) -> OSError:
    """A failed checkpoint write as one line that names the disk and says what was kept."""
    try:
        free = shutil.disk_usage(target.parent).free
    except OSError:
        free = -1
    kept = "the previous checkpoint is kept" if target.exists() else "no checkpoint was written"
    if 0 <= free < 64 * 2**20:
        reason = f"the disk holding {target.parent} is full ({free / 2**20:.0f} MB free)"
    else:
        reason = f"writing failed ({str(exc).strip().splitlines()[0][:120]})"
    error = OSError(f"could not save the checkpoint {target}: {reason}; {kept}. Free some space and resume")
    error.errno = errno.ENOSPC  # set apart, so the message does not start with "[Errno 28]"
    return error


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read and check a checkpoint; any problem is a :class:`CheckpointError` that says what is wrong."""
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"no checkpoint at {source}")
    if not zipfile.is_zipfile(source):  # torch.save writes a zip archive; anything else is not ours
        raise CheckpointError(f"{source} is not a readable bngan checkpoint (not a PyTorch file)")
    _check_archive(source)
    try:
        data = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(_refusal(source, exc)) from None
    except Exception as exc:  # torch raises many types for corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{source} is not a readable bngan checkpoint ({first[:160]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{source} is not a bngan checkpoint (a PyTorch file from something else?)")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{source} has checkpoint version {data.get('version')!r}; this bngan reads "
                              f"version {VERSION}")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"{source} lacks {', '.join(missing)}: it is incomplete")
    check_fields(data, source)
    return data


def _check_archive(source: Path) -> None:
    """The zip's own CRC-32 of every member: a flipped byte inside a weight tensor is caught here (torch
    itself does not check them)."""
    try:
        with zipfile.ZipFile(source) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{source} is damaged: its archive cannot be read ({exc})") from None
    if bad is not None:
        raise CheckpointError(f"{source} is damaged: the data of {bad!r} fails its CRC check (the file was "
                              "changed or truncated after it was written); use another copy")


def _refusal(source: Path, exc: BaseException) -> str:
    """Why a file with pickled code was refused, in bngan's words (torch's own text advises unsafe loading)."""
    found = re.search(r"GLOBAL ([\w.]+)", str(exc)) or re.search(r"global ['\"]?([\w.]+)", str(exc))
    what = f" (it asks for {found.group(1)})" if found else ""
    return (f"{source} was refused: it contains pickled Python objects{what}, not only tensors, numbers and "
            "text, and loading it could run code. bngan never loads such files; use a checkpoint written by "
            "bngan")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _weights(value: object, name: str, source: Path) -> None:
    if not isinstance(value, Mapping) or not value:
        raise CheckpointError(f"{source}: '{name}' must be a non-empty table of weight tensors, got "
                              f"{type(value).__name__}")
    for key, tensor in value.items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{source}: '{name}' must map weight names to tensors; {key!r} holds "
                                  f"{type(tensor).__name__}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{source}: the {name} weight {key!r} holds NaN or infinite values: the run "
                                  "diverged or the file was damaged; use an earlier checkpoint")


def _optimizer(value: object, name: str, source: Path) -> None:
    if not isinstance(value, Mapping) or not isinstance(value.get("state"), Mapping) \
            or not isinstance(value.get("param_groups"), list) \
            or not all(isinstance(g, Mapping) and isinstance(g.get("params"), list) for g in value["param_groups"]):
        raise CheckpointError(f"{source}: '{name}' is not an optimiser state (state and param_groups)")
    for index, entry in value["state"].items():
        if not isinstance(entry, Mapping):
            raise CheckpointError(f"{source}: '{name}' state {index!r} is not a table")
        for key, tensor in entry.items():
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() \
                    and not bool(torch.isfinite(tensor).all()):
                raise CheckpointError(f"{source}: '{name}' holds NaN or infinite values ({key} of parameter "
                                      f"{index}); use an earlier checkpoint")


def check_fields(data: Mapping, source: str | os.PathLike) -> None:
    """The type (and for weights, finiteness) of every field a bngan checkpoint may hold."""
    source = Path(source)
    for key in JSON_FIELDS:
        if key in data and not isinstance(data[key], str):
            raise CheckpointError(f"{source}: '{key}' must be JSON text, got {type(data[key]).__name__}")
    for key in WEIGHT_FIELDS:
        if key in data:
            _weights(data[key], key, source)
    step = data["step"]
    if not _is_int(step) or step < 0:
        raise CheckpointError(f"{source}: 'step' must be a whole number >= 0, got {step!r}")
    elapsed = data.get("elapsed_s", 0.0)
    if isinstance(elapsed, bool) or not isinstance(elapsed, int | float) or not math.isfinite(elapsed) \
            or elapsed < 0:
        raise CheckpointError(f"{source}: 'elapsed_s' must be a number of seconds >= 0, got {elapsed!r}")
    if "rng" in data and not (isinstance(data["rng"], torch.Tensor) and data["rng"].dtype == torch.uint8
                              and data["rng"].ndim == 1):
        raise CheckpointError(f"{source}: 'rng' must be a random generator state (a byte tensor)")
    if "ema_updates" in data and (not _is_int(data["ema_updates"]) or data["ema_updates"] < 0):
        raise CheckpointError(f"{source}: 'ema_updates' must be a whole number >= 0, got {data['ema_updates']!r}")
    if "lecam" in data:
        lecam = data["lecam"]
        if not isinstance(lecam, Mapping) or set(lecam) != {"ema_real", "ema_fake"} or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in lecam.values()):
            raise CheckpointError(f"{source}: 'lecam' must hold the finite numbers ema_real and ema_fake")
    for key in ("opt_g", "opt_d"):
        if key in data:
            _optimizer(data[key], key, source)
    if ("opt_g" in data) != ("opt_d" in data):
        raise CheckpointError(f"{source} holds only one of the two optimiser states (opt_g, opt_d)")

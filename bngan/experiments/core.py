"""What every experiment shares: cells, the grid and its shards, fingerprints, the cell store, the runner, and
the adapter that runs an experiment as an app job. Nothing here imports torch.

An experiment is a grid of independent *cells*. Each cell is written to ``cells/<key>.json`` as soon as it is
done, so a crashed or stopped run loses at most one cell, a rerun skips what is done, and ``--shard i/n``
runs only the cells with ``index % n == i``, so one sweep can be spread over ``n`` machines writing into one
folder. A stored cell is reused only when its *fingerprint* matches: a hash of the cell's coordinates and of
every field of the experiment's settings dataclass, except the ones the dataclass lists in
``NOT_FINGERPRINTED`` (with the reason) and the ones whose ``scope`` (field metadata, see :func:`scoped`) does
not apply to the cell. A new setting is therefore part of every fingerprint without anyone listing it; one
that changes what earlier runs did implicitly names that old value (``before``, see :func:`scoped`), so the
cells stored before it existed keep their fingerprints.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from bngan.errors import BnganError, InvalidSettingError
from bngan.files import atomic_write_text

if TYPE_CHECKING:
    from bngan.jobs import Job, JobRegistry

CELLS_DIR = "cells"
SPEC_FILE = "experiment.json"
SCOPE = "scope"
"""Field metadata key: the cells a setting applies to (each experiment says what its scopes mean)."""
BEFORE = "before"
"""Field metadata key: the value every run stored before the setting existed implicitly used."""

ProgressFn = Callable[[dict], None]
"""``progress(event)``: ``event`` has ``event`` ('start', 'cell_start', 'stage', 'cell_done', 'cell_skipped',
'cell_failed', 'stopped', 'finished'), ``done``, ``total``, ``message`` and, for cells, ``cell`` (its key)
and ``result`` (the cell's record)."""
StageFn = Callable[[str], None]
"""``stage(text)``: what a running cell does now (shown in the progress message)."""


class ExperimentError(InvalidSettingError):
    """Bad experiment settings, a folder that is not an experiment's, or a bad shard."""


# ----------------------------------------------------------------------------------------- cells, grid

@dataclass(frozen=True)
class Cell:
    """One independent unit of an experiment.

    ``index`` is its place in the grid (it decides the shard), ``key`` its file name, ``coords`` the grid's
    values for it (``cell["fold"]``) and ``fingerprint`` the hash that decides whether a stored result is
    still this cell's.
    """

    index: int
    key: str
    coords: Mapping[str, Any] = field(compare=False, hash=False)
    fingerprint: str = ""

    def __getitem__(self, name: str) -> Any:
        return self.coords[name]


def product_grid(axes: Sequence[tuple[str, Sequence[Any]]], key: Callable[[Mapping[str, Any]], str],
                 fingerprint_of: Callable[[Mapping[str, Any]], str]) -> list[Cell]:
    """Every combination of the axes' values, the first axis slowest, indexed in that order."""
    names = [name for name, _ in axes]
    cells = []
    for index, values in enumerate(itertools.product(*(list(v) for _, v in axes))):
        coords = dict(zip(names, values))
        cells.append(Cell(index, key(coords), coords, fingerprint_of(coords)))
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ExperimentError("two cells of the grid would share a file: repeated values on an axis?")
    return cells


def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"i/n"`` (0 <= i < n) as ``(i, n)``: shard i runs the cells whose index modulo n is i."""
    if text is None or isinstance(text, tuple):
        return text
    try:
        i, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ExperimentError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ExperimentError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def in_shard(cells: Sequence[Cell], shard: str | tuple[int, int] | None) -> list[Cell]:
    """The cells of shard ``i/n`` (every cell when ``shard`` is None)."""
    part = parse_shard(shard)
    return list(cells) if part is None else [c for c in cells if c.index % part[1] == part[0]]


# ----------------------------------------------------------------------------------------- fingerprints

def scoped(*, scope: str, default: Any = dataclasses.MISSING,
           default_factory: Any = dataclasses.MISSING, before: Any = dataclasses.MISSING) -> Any:
    """A settings field that decides only some cells' results (``scope``: the experiment says which).

    ``before``: a setting added after results were stored, whose new default differs from what those runs
    did. A spec that lacks the field ran with ``before``, and at that value the field stays out of the
    fingerprint, so the stored cells keep theirs and are reused; any other value makes new cells."""
    metadata = {SCOPE: scope} if before is dataclasses.MISSING else {SCOPE: scope, BEFORE: before}
    return field(default=default, default_factory=default_factory, metadata=metadata)


def saved_values(settings_type: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """A spec read back from disk, with each field it predates (one with a ``before``) at that old value."""
    older = {f.name: f.metadata[BEFORE] for f in dataclasses.fields(settings_type)
             if BEFORE in f.metadata and f.name not in values}
    return {**values, **older}


def _value(f: dataclasses.Field, values: Mapping[str, Any]) -> Any:
    """A field's value; a spec written before the field existed ran with its default."""
    if f.name in values:
        return values[f.name]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ExperimentError(f"the settings lack {f.name!r}")


def fingerprinted(settings_type: type, values: Any, applies: Callable[[str], bool] = lambda scope: True
                  ) -> dict[str, Any]:
    """The settings that decide a cell's result: every field of ``settings_type`` (a dataclass) except those
    in its ``NOT_FINGERPRINTED``, those whose scope does not apply and those at their ``before`` value.
    ``values`` is an instance or the dict of a saved spec."""
    given = dataclasses.asdict(values) if dataclasses.is_dataclass(values) else saved_values(settings_type, values)
    excluded = getattr(settings_type, "NOT_FINGERPRINTED", {})
    chosen = {f.name: _value(f, given) for f in dataclasses.fields(settings_type)
              if f.name not in excluded and (f.metadata.get(SCOPE) is None or applies(f.metadata[SCOPE]))}
    return {f.name: chosen[f.name] for f in dataclasses.fields(settings_type) if f.name in chosen
            and not (BEFORE in f.metadata and chosen[f.name] == f.metadata[BEFORE])}


def fingerprint(coords: Mapping[str, Any], settings_type: type, values: Any,
                applies: Callable[[str], bool] = lambda scope: True) -> str:
    """The hash of a cell's coordinates and of its :func:`fingerprinted` settings (16 hex digits)."""
    parts = {"cell": coords, "settings": fingerprinted(settings_type, values, applies)}
    return hashlib.sha1(json.dumps(jsonable(parts), sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------- files

def jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars as Python numbers, NaN and infinities as null, keys as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write_json(path: Path, data: Any, indent: int = 1) -> None:
    """Atomically: a reader (another shard, the app) never sees half a file."""
    atomic_write_text(path, json.dumps(jsonable(data), indent=indent))


def read_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing or unreadable (a shard may be writing it)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def read_spec(folder: Path) -> dict:
    """The settings an experiment folder was run with (``experiment.json``)."""
    spec = read_json(Path(folder) / SPEC_FILE)
    if not isinstance(spec, dict):
        hint = (f"; its cells predate fingerprints: run `python -m bngan.experiments.migrate {folder}` once"
                if any((Path(folder) / CELLS_DIR).glob("*.json")) else "")
        raise ExperimentError(f"{folder} is not an experiment folder (no readable {SPEC_FILE}){hint}")
    return spec


def write_figure(figure: Any, path: Path) -> Path:
    """A plotly figure as a standalone HTML file that loads plotly.js from one shared copy beside its folder.

    ``results/<run>/figure.html`` loads ``results/plotly-<version>.min.js``: one copy of the 4.7 MB library
    serves every run of a results folder, and the figure still opens offline. A newer plotly writes a new
    file, so older figures keep the version they were drawn with.
    """
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    path = Path(path)
    name = f"plotly-{get_plotlyjs_version()}.min.js"
    shared = path.parent.parent / name
    if not shared.is_file():
        atomic_write_text(shared, get_plotlyjs())
    atomic_write_text(path, figure.to_html(include_plotlyjs=f"../{name}", full_html=True))
    return path


class CellStore:
    """Finished cells, one JSON file each in ``<folder>/cells``, written atomically."""

    def __init__(self, folder: Path, indent: int = 1) -> None:
        self.folder = Path(folder) / CELLS_DIR
        self.indent = indent

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def read(self, key: str) -> dict | None:
        record = read_json(self.path(key))
        return record if isinstance(record, dict) else None

    def write(self, key: str, record: Mapping[str, Any]) -> None:
        write_json(self.path(key), record, indent=self.indent)

    def records(self) -> list[dict]:
        """Every readable record (unreadable files are skipped, not fatal: a shard may be writing one)."""
        if not self.folder.is_dir():
            return []
        records = [read_json(p) for p in sorted(self.folder.glob("*.json"))]
        return [r for r in records if isinstance(r, dict)]


class Sorted(NamedTuple):
    """A folder's records against its grid: the results, the failed cells and those of other settings."""

    valid: list[dict]
    failures: list[dict]
    stale: list[str]


def sort_records(records: Sequence[dict], cells: Sequence[Cell], key_field: str = "key") -> Sorted:
    """Sort records (in their order) into valid results, failures (``{"cell", "error"}``) and stale keys
    (another fingerprint: computed under other settings); records of no cell of the grid are ignored."""
    expected = {cell.key: cell for cell in cells}
    out = Sorted([], [], [])
    for record in records:
        cell = expected.get(record.get(key_field))
        if cell is None:
            continue
        if record.get("fingerprint") != cell.fingerprint:
            out.stale.append(cell.key)
        elif "error" in record:
            out.failures.append({"cell": cell.key, "error": record["error"]})
        else:
            out.valid.append(record)
    return out


# ----------------------------------------------------------------------------------------------- running

def reusable(stored: Mapping[str, Any] | None, cell: Cell) -> bool:
    """A stored record is this cell's result when its fingerprint matches and it did not fail."""
    return stored is not None and stored.get("fingerprint") == cell.fingerprint and "error" not in stored


CELL_ERRORS = (BnganError, ValueError, RuntimeError)
"""What fails one cell instead of the run (SMOTE on a one-image class, a diverging GAN); a ValueError or
RuntimeError that is not bngan's own keeps its traceback in the record."""


def run_cells(cells: Sequence[Cell], compute: Callable[[Cell, StageFn], dict], store: CellStore,
              progress: ProgressFn | None = None, stop: threading.Event | None = None, *,
              header: Callable[[Cell], dict] | None = None, done: Callable[[dict | None, Cell], bool] = reusable,
              describe: Callable[[Cell], str] | None = None, force: bool = False) -> None:
    """Compute every cell whose stored record is not :func:`reusable` (``done`` may be stricter; ``force``
    redoes them all) and store it; between cells, honour ``stop``.

    ``compute(cell, stage)`` returns the record; ``header(cell)`` (default: key and fingerprint) starts both
    it and a failed cell's record. Progress events are described at :data:`ProgressFn`.
    """
    notify = progress or (lambda event: None)
    head = header or (lambda cell: {"key": cell.key, "fingerprint": cell.fingerprint})
    name = describe or (lambda cell: cell.key)
    total = len(cells)
    notify({"event": "start", "done": 0, "total": total, "message": f"{total} cells"})
    for count, cell in enumerate(cells):
        if stop is not None and stop.is_set():
            notify({"event": "stopped", "done": count, "total": total, "message": "stopped"})
            return
        stored = store.read(cell.key)
        if not force and done(stored, cell):
            notify({"event": "cell_skipped", "cell": cell.key, "result": stored, "done": count + 1,
                    "total": total, "message": f"{cell.key}: already done"})
            continue
        notify({"event": "cell_start", "cell": cell.key, "done": count, "total": total, "message": name(cell)})

        def stage(text: str, cell: Cell = cell, count: int = count) -> None:
            notify({"event": "stage", "cell": cell.key, "done": count, "total": total,
                    "message": f"{name(cell)}: {text}"})

        try:
            record = {**head(cell), **compute(cell, stage)}
        except CELL_ERRORS as exc:
            record = {**head(cell), "error": f"{type(exc).__name__}: {exc}"}
            if not isinstance(exc, BnganError):  # maybe a bug: keep where it came from
                record["traceback"] = traceback.format_exc(limit=8)
            store.write(cell.key, record)
            notify({"event": "cell_failed", "cell": cell.key, "result": record, "done": count + 1,
                    "total": total, "message": f"{cell.key} failed: {exc}"})
            continue
        store.write(cell.key, record)
        notify({"event": "cell_done", "cell": cell.key, "result": record, "done": count + 1, "total": total,
                "message": f"{name(cell)}: done"})
    notify({"event": "finished", "done": total, "total": total, "message": "all cells done"})


def start_job(registry: JobRegistry, kind: str, title: str, folder: Path,
              run: Callable[[ProgressFn, threading.Event], object]) -> Job:
    """Run ``run(progress, stop)`` as a background job of ``registry``: the one place an experiment becomes
    an app job. The job's step/total count cells and its message says what runs; ``result`` is what ``run``
    returns. ``registry.start`` refuses (``JobBusyError``) while another job is active; a stop takes effect
    between cells."""

    def work(job: Job) -> object:
        begun = time.perf_counter()

        def progress(event: dict) -> None:
            job.report(step=event.get("done"), total=event.get("total"), message=event.get("message", ""),
                       elapsed_s=time.perf_counter() - begun)

        return run(progress, job.stop_event)

    return registry.start(kind, title, work, folder=Path(folder))

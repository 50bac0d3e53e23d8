"""What every experiment shares (bngan.experiments.core): fingerprints from the settings' own fields, the cell
store, run_cells (reuse, redo, failures, stop), the shared plotly.js, the job adapter; and the committed
results: every folder loads without torch and regenerates its table byte for byte."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from bngan.errors import InvalidSettingError
from bngan.experiments.core import (
    CellStore,
    ExperimentError,
    fingerprint,
    fingerprinted,
    product_grid,
    run_cells,
    saved_values,
    scoped,
    start_job,
    write_figure,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Toy:
    """Settings of a toy experiment: one axis, one setting for every cell, one for the 'b' cells only."""

    letters: list[str] = field(default_factory=lambda: ["a", "b"])
    size: int = 1
    b_only: float = scoped(scope="b", default=0.5)
    device: str = "cpu"

    NOT_FINGERPRINTED: ClassVar[dict[str, str]] = {"letters": "the axis", "device": "where it runs"}


def toy_grid(settings: Toy) -> list:
    return product_grid([("letter", settings.letters), ("seed", [0, 1])], lambda c: f"{c['letter']}{c['seed']}",
                        lambda c: fingerprint(dict(c), Toy, settings, lambda scope: scope == c["letter"]))


def prints(settings: Toy) -> dict[str, str]:
    return {c.key: c.fingerprint for c in toy_grid(settings)}


def test_fingerprint_is_every_field_but_the_stated_exclusions() -> None:
    base = prints(Toy())
    assert prints(Toy(device="cuda")) == base  # excluded, with its reason
    assert all(v != base[k] for k, v in prints(Toy(size=2)).items())  # no scope: every cell
    b_changed = prints(Toy(b_only=0.7))
    assert [k for k in base if b_changed[k] != base[k]] == ["b0", "b1"]  # its scope only
    assert prints(Toy(letters=["a"])) == {"a0": base["a0"], "a1": base["a1"]}  # a smaller grid keeps its cells
    assert fingerprinted(Toy, {"letters": ["a"]}) == {"size": 1, "b_only": 0.5}  # a spec without a field: default


def test_a_setting_added_later_keeps_the_fingerprints_of_runs_stored_before_it() -> None:
    """A field whose new default differs from what earlier runs did names their value (``before``): a spec
    without it reads as that value and hashes as before; the new default makes new cells, in its scope only."""
    @dataclass
    class Later(Toy):
        speed: str = scoped(scope="b", default="fast", before="slow")

    def prints_of(settings_type: type, values: object) -> dict[str, str]:
        return {c: fingerprint({"letter": c}, settings_type, values, lambda scope, c=c: scope == c) for c in "ab"}

    old = prints_of(Toy, Toy())
    spec = dataclasses.asdict(Toy())  # written before the field existed
    assert prints_of(Later, spec) == old
    assert saved_values(Later, spec)["speed"] == "slow" and saved_values(Later, {"speed": "fast"}) == {"speed": "fast"}
    assert prints_of(Later, Later(speed="slow")) == old
    new = prints_of(Later, Later())
    assert new["a"] == old["a"] and new["b"] != old["b"]


def test_a_grid_whose_cells_would_share_a_file_is_refused() -> None:
    with pytest.raises(ExperimentError, match="share a file"):
        product_grid([("x", [1, 1])], lambda c: f"x{c['x']}", lambda c: "")


def test_run_cells_reuses_redoes_records_failures_and_stops(tmp_path: Path) -> None:
    store = CellStore(tmp_path)
    cells = toy_grid(Toy())
    computed: list[str] = []

    def compute(cell, stage):
        computed.append(cell.key)
        stage("working")
        if cell.key == "a1":
            raise InvalidSettingError("a user's mistake")
        if cell.key == "b0":
            raise ValueError("maybe a bug")
        return {"value": cell["seed"]}

    events: list[dict] = []
    run_cells(cells, compute, store, events.append)
    assert computed == ["a0", "a1", "b0", "b1"]
    assert store.read("a0") == {"key": "a0", "fingerprint": cells[0].fingerprint, "value": 0}
    assert store.read("a1")["error"] == "InvalidSettingError: a user's mistake" and "traceback" not in store.read("a1")
    assert "Traceback" in store.read("b0")["traceback"]  # not bngan's own error: where it came from is kept
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finished" and kinds.count("cell_failed") == 2
    assert any(e["message"] == "a0: working" for e in events if e["event"] == "stage")

    computed.clear()
    other = toy_grid(Toy(b_only=0.9))  # the 'b' cells are stale now; the failed ones are redone
    run_cells(other, compute, store)
    assert computed == ["a1", "b0", "b1"]
    stop = threading.Event()
    stop.set()
    events.clear()
    computed.clear()
    run_cells(other, compute, store, events.append, stop)
    assert computed == [] and events[-1]["event"] == "stopped"


def test_cell_store_skips_unreadable_files(tmp_path: Path) -> None:
    store = CellStore(tmp_path, indent=2)
    store.write("good", {"x": float("nan"), "y": 1})
    (tmp_path / "cells" / "torn.json").write_text('{"x": ')
    assert store.records() == [{"x": None, "y": 1}]  # NaN is stored as null; the torn file is skipped
    assert (tmp_path / "cells" / "good.json").read_text().startswith('{\n  "x"')


def test_figures_share_one_plotly_js(tmp_path: Path) -> None:
    import plotly.graph_objects as go

    for run in ("one", "two"):
        write_figure(go.Figure(go.Bar(x=[1], y=[2])), tmp_path / run / "figure.html")
    shared = list(tmp_path.glob("plotly-*.min.js"))
    assert len(shared) == 1 and shared[0].stat().st_size > 1_000_000
    html = (tmp_path / "two" / "figure.html").read_text()
    assert f'src="../{shared[0].name}"' in html and len(html) < 20_000


def test_start_job_reports_through_the_job(tmp_path: Path) -> None:
    from bngan.jobs import JobRegistry

    registry = JobRegistry(tmp_path / "runs")
    seen = threading.Event()
    release = threading.Event()

    def run(progress, stop):
        progress({"event": "cell_start", "done": 1, "total": 4, "message": "cell 2 of 4"})
        seen.set()
        release.wait(10)
        return {"cells": 4}

    job = start_job(registry, "toy", "a toy run", tmp_path / "out", run)
    assert seen.wait(10)
    snapshot = job.snapshot()
    assert (snapshot["state"], snapshot["step"], snapshot["total"], snapshot["message"]) == (
        "running", 1, 4, "cell 2 of 4")
    release.set()
    job.thread.join(10)
    assert job.snapshot()["state"] == "finished" and job.result == {"cells": 4}


# ------------------------------------------------------------------------------- committed results

CHECK_COMMITTED = r"""
import importlib.abc, json, sys
from pathlib import Path

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch.") or name.startswith("torchvision"):
            raise ImportError(f"torch is blocked here ({name})")

sys.meta_path.insert(0, NoTorch())
from bngan.experiments import structure
from bngan.experiments.disentangle import report as disentangle
from bngan.experiments.table1 import report as table1

out = {}
for folder in sorted(Path(sys.argv[1]).iterdir()):
    if table1.is_experiment_folder(folder):
        results = table1.collect(folder)
        same = table1.markdown_report(results) == (folder / "table.md").read_text()
    elif structure.is_experiment_folder(folder):
        results = structure.collect(folder)
        text = structure.markdown_report(results["summary"], results["real_coupling"])
        same = text == (folder / "report.md").read_text()
    elif (folder / "experiment.json").is_file():
        results = disentangle.collect(folder)
        same = disentangle.markdown_table(results["summary"]) == (folder / "table.md").read_text()
    else:
        continue
    out[folder.name] = [results["complete"], results["n_done"], len(results["stale"]), same]
print(json.dumps(out))
"""


def test_every_committed_results_folder_loads_without_torch() -> None:
    """The report modules import no torch (blocked here), read every committed folder (complete, but for a
    named long run still resuming, marked partial), and regenerate its table.md byte for byte."""
    done = subprocess.run([sys.executable, "-c", CHECK_COMMITTED, str(ROOT / "results")], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    folders = json.loads(done.stdout)
    committed = {p.parent.parent.name for p in (ROOT / "results").glob("*/cells/*.json")}
    assert set(folders) == committed and "disentangle" in folders and "table1-mnist" in folders
    # long benchmarks committed cell by cell: partial, table.md says so
    resuming = {"long-mnist"}
    for name, (complete, n_done, stale, same) in folders.items():
        assert (complete or name in resuming) and n_done > 0 and stale == 0 and same, name
    assert all("**Partial:**" in (ROOT / "results" / name / "table.md").read_text()
               for name in resuming if not folders[name][0])

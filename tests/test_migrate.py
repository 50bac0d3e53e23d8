"""The one-time migration (bngan.experiments.migrate): folders as the old runners wrote them (rebuilt here from
the committed, migrated ones) come out byte for byte as committed; cells that were stale stay stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bngan.experiments import migrate
from bngan.experiments.core import SPEC_FILE, CellStore, ExperimentError
from bngan.experiments.disentangle import report as disentangle_report
from bngan.experiments.table1 import report as table1_report
from bngan.experiments.table1.settings import ExperimentConfig, grid

ROOT = Path(__file__).resolve().parents[1]


def test_table1_cells_get_new_fingerprints_only_when_the_old_ones_matched(tmp_path: Path) -> None:
    folder = tmp_path / "ir-sweep-mnist"
    shutil.copytree(ROOT / "results" / "ir-sweep-mnist", folder)
    config = ExperimentConfig.from_saved(json.loads((folder / SPEC_FILE).read_text()))
    store = CellStore(folder)
    cells = grid(config)
    for cell in cells:  # back to what the old runner wrote
        record = store.read(cell.key)
        store.write(cell.key, {**record, "fingerprint": migrate.legacy_table1_fingerprint(cell, config)})
    stale = cells[0]
    store.write(stale.key, {**store.read(stale.key), "fingerprint": "0123456789abcdef"})
    assert sorted(table1_report.collect(folder)["stale"]) == sorted(c.key for c in cells)  # until migrated

    outcome = migrate.migrate_table1(folder)
    assert sorted(outcome["migrated"]) == sorted(c.key for c in cells[1:]) and len(outcome["left"]) == 1
    for cell in cells[1:]:
        assert store.path(cell.key).read_bytes() == (ROOT / "results" / "ir-sweep-mnist" / "cells" /
                                                     f"{cell.key}.json").read_bytes()
    assert table1_report.collect(folder)["stale"] == [stale.key]
    assert migrate.migrate_table1(folder)["migrated"] == []  # running it again changes nothing


def test_disentangle_folder_gets_its_spec_and_fingerprints(tmp_path: Path) -> None:
    committed = ROOT / "results" / "disentangle"
    folder = tmp_path / "disentangle"
    shutil.copytree(committed, folder)
    (folder / SPEC_FILE).unlink()
    store = CellStore(folder, indent=2)
    for record in store.records():  # the old runner kept no fingerprint
        store.write(record["cell"], {k: v for k, v in record.items() if k != "fingerprint"})
    with pytest.raises(ExperimentError, match="migrate"):
        disentangle_report.collect(folder)

    outcome = migrate.migrate_disentangle(folder)
    assert len(outcome["migrated"]) == 4
    for name in ["experiment.json", *(f"cells/{p.name}" for p in (committed / "cells").glob("*.json"))]:
        assert (folder / name).read_bytes() == (committed / name).read_bytes(), name
    assert disentangle_report.collect(folder)["complete"]


def test_cells_of_different_runs_are_not_merged_into_one_spec(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(ROOT / "results" / "disentangle" / "cells", folder / "cells")
    store = CellStore(folder, indent=2)
    record = store.read("bngan-ir100-seed0")
    store.write("bngan-ir100-seed0", {**record, "settings": {**record["settings"], "steps": 10}})
    with pytest.raises(ExperimentError, match="different settings"):
        migrate.migrate_disentangle(folder)

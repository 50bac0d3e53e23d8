"""One-time migration of results written before :mod:`bngan.experiments` computed fingerprints from the
settings' own fields: ``python -m bngan.experiments.migrate results [more folders]``.

- Table 1 / IR-sweep folders (``experiment.json`` + ``cells/``): each cell's stored fingerprint is checked
  against the *old* scheme (the hand-listed settings below, kept here only for this check); a match gets the
  new fingerprint, anything else is left as it is and reported (it was stale already).
- Disentanglement folders (``cells/*.json`` with FactorVAE scores and no ``experiment.json``): the old runner
  kept no fingerprint, so the check is that every cell recorded the same settings, trained that many steps and
  is named after its method, IR and seed; the folder then gets the ``experiment.json`` those settings make and
  each cell its fingerprint. ``--assets DIR --keep CELL...`` also writes the kept cells' models, slimmed to
  half precision, as ``DIR/<cell>-<fingerprint>.pt`` (where the Disentanglement page finds them) and removes
  the folder's ``checkpoints/``.

Rewritten files keep their formatting (indent, key order), so a diff shows the fingerprints alone. Running it
again changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bngan.evaluation.gan_methods import GAN_METHODS, is_gan
from bngan.experiments.core import SPEC_FILE, Cell, CellStore, ExperimentError, read_json, write_json
from bngan.experiments.disentangle import report as disentangle_report
from bngan.experiments.disentangle import settings as disentangle_settings
from bngan.experiments.table1 import settings as table1_settings
from bngan.experiments.table1.report import is_experiment_folder


def legacy_table1_fingerprint(cell: Cell, config: table1_settings.ExperimentConfig) -> str:
    """The fingerprint ``bngan.evaluation.experiments`` gave a cell of this grid (before this package)."""
    method = cell["method"]
    parts: dict[str, Any] = {
        "dataset": cell["dataset"], "imbalance": config.imbalances[cell["setting"]], "fold": cell["fold"],
        "method": method, "image_size": config.image_size,
    }
    if method == "dgc":
        parts.update(dgc=[config.dgc_epochs, config.dgc_width, config.dgc_steps, config.dgc_draws,
                          *([config.dgc_lr] if config.dgc_lr != 1e-5 else [])])
    else:
        parts.update(classifier=[config.classifier_steps, config.classifier_epochs,
                                 config.classifier_batch_size, config.classifier_lr],
                     strategy=config.sampling_strategy)
    if is_gan(method):
        parts.update(gan=[config.gan_steps, config.gan_preset, config.gan_batch_size],
                     settings=GAN_METHODS[method])
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def migrate_table1(folder: Path) -> dict[str, list[str]]:
    """Give every cell that matched the old scheme its new fingerprint; report what was left alone."""
    config = table1_settings.ExperimentConfig.from_saved(read_json(folder / SPEC_FILE))
    cells = {cell.key: cell for cell in table1_settings.grid(config)}
    store = CellStore(folder)
    outcome: dict[str, list[str]] = {"migrated": [], "current": [], "left": []}
    for record in store.records():
        cell = cells.get(record.get("key"))
        if cell is None:
            outcome["left"].append(f"{record.get('key')} (not in the grid)")
        elif record.get("fingerprint") == cell.fingerprint:
            outcome["current"].append(cell.key)
        elif record.get("fingerprint") == legacy_table1_fingerprint(cell, config):
            record["fingerprint"] = cell.fingerprint
            store.write(cell.key, record)
            outcome["migrated"].append(cell.key)
        else:
            outcome["left"].append(f"{cell.key} (stale under the old scheme too)")
    return outcome


def disentangle_spec(records: Sequence[Mapping[str, Any]]) -> disentangle_settings.DisentangleSettings:
    """The settings an old disentanglement folder was run with, checked against every cell."""
    recorded = {json.dumps(r["settings"], sort_keys=True) for r in records}
    if len(recorded) != 1:
        raise ExperimentError("the cells were computed under different settings: migrate them one run at a time")
    order = list(disentangle_settings.METHODS)
    settings = disentangle_settings.DisentangleSettings(
        methods=sorted({r["method"] for r in records}, key=order.index),
        irs=sorted({float(r["ir"]) for r in records}), seeds=sorted({int(r["seed"]) for r in records}),
        **records[0]["settings"])
    for r in records:
        if r["steps"] != settings.steps or r["cell"] != disentangle_settings.cell_name(r["method"], r["ir"],
                                                                                      r["seed"]):
            raise ExperimentError(f"cell {r['cell']} does not match its own settings")
    return settings


def migrate_disentangle(folder: Path, assets: Path | None = None, keep: Sequence[str] = ()) -> dict[str, list]:
    """Write the folder's spec and each cell's fingerprint (right after its name); optionally move the kept
    cells' models, slimmed, to ``assets``."""
    store = CellStore(folder, indent=disentangle_report.CELL_INDENT)
    records = [r for r in store.records() if "factorvae" in r]
    outcome: dict[str, list] = {"migrated": [], "current": [], "assets": []}
    if (folder / SPEC_FILE).is_file():
        settings = disentangle_settings.DisentangleSettings.from_dict(read_json(folder / SPEC_FILE))
    else:
        settings = disentangle_spec(records)
        write_json(folder / SPEC_FILE, settings.to_dict(), indent=disentangle_report.CELL_INDENT)
    cells = {cell.key: cell for cell in disentangle_settings.grid(settings)}
    for record in records:
        cell = cells[record["cell"]]
        if record.get("fingerprint") == cell.fingerprint:
            outcome["current"].append(cell.key)
            continue
        rest = {k: v for k, v in record.items() if k not in ("cell", "fingerprint")}
        store.write(cell.key, {"cell": cell.key, "fingerprint": cell.fingerprint, **rest})
        outcome["migrated"].append(cell.key)
    if assets is not None:
        for record in store.records():
            if record.get("cell") in keep:
                outcome["assets"].append(str(slim_model(folder / record["checkpoint"],
                                                        assets / disentangle_report.asset_name(record))))
        shutil.rmtree(folder / disentangle_report.CHECKPOINTS_DIR, ignore_errors=True)
    return outcome


def slim_model(source: Path, target: Path) -> Path:
    """A checkpoint's networks with floating-point tensors in half precision (loading casts them back):
    half the size of the weights-only file, for models the app only draws traversals from."""
    import torch

    from bngan.checkpoint import load_checkpoint, save_checkpoint

    data = load_checkpoint(source)
    for part in ("generator", "discriminator"):
        data[part] = {k: v.half() if v.is_floating_point() else v for k, v in data[part].items()}
    payload = {k: v for k, v in data.items() if k not in ("format", "version", "optimizer_g", "optimizer_d")}
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    return save_checkpoint(target, payload)


def experiment_folders(roots: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Table 1 folders (a spec with data sets) and disentanglement folders (cells with FactorVAE scores)."""
    table1, disentangle = [], []
    for root in roots:
        for cells in sorted(Path(root).rglob("cells")):
            folder = cells.parent
            if is_experiment_folder(folder):
                table1.append(folder)
            elif any("factorvae" in (read_json(p) or {}) for p in cells.glob("*.json")):
                disentangle.append(folder)
    return table1, disentangle


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bngan.experiments.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="+", type=Path, help="folders to search for experiment folders")
    parser.add_argument("--assets", type=Path, default=None, help="where the kept disentanglement models go")
    parser.add_argument("--keep", nargs="*", default=[], help="cells whose models are kept (e.g. bngan-ir100-seed0)")
    args = parser.parse_args(argv)
    table1, disentangle = experiment_folders(args.roots)
    for folder in table1:
        outcome = migrate_table1(folder)
        print(f"{folder}: {len(outcome['migrated'])} migrated, {len(outcome['current'])} current"
              + "".join(f"\n  left alone: {item}" for item in outcome["left"]))
    for folder in disentangle:
        outcome = migrate_disentangle(folder, args.assets, args.keep)
        print(f"{folder}: {len(outcome['migrated'])} migrated, {len(outcome['current'])} current"
              + "".join(f"\n  model kept: {path}" for path in outcome["assets"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

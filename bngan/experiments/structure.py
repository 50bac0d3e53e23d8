"""Does the drawn structure shape what the codes do? Effect matrices of models that differ only in the drawing.

``python -m bngan bench structure`` trains (or reuses) one model per variant and seed with the same data and
settings: ``disentangled`` (ci -> ci'), ``entangled`` (also c1, c2 -> c3'), ``infogan`` (the InfoGAN loss on
the same networks) and ``gaussian-entangled`` (the entangled drawing with the linear-Gaussian regulariser).
For each it measures the effect matrix (codes × attributes, bngan.effects), the cross-talk per code, the
agreement with its own drawing and with the entangled drawing (the same score for every model: does c3 move
what c1 and c2 move?). How strongly the attributes move together anyway is measured on real training images
of each class and on the placebo noise directions. One JSON cell per model (resumable; a cell whose settings
changed is recomputed), then ``report.md`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from bngan.experiments.core import (
    SPEC_FILE,
    Cell,
    CellStore,
    fingerprint,
    product_grid,
    read_json,
    run_cells,
    sort_records,
    write_json,
)
from bngan.files import atomic_write_text

VARIANTS = {  # name: (structure preset, regulariser mode, λ_reg, what the drawing trains: TrainConfig.reg_through)
    "disentangled": ("disentangled", "paper", 0.1, "both"),
    "entangled": ("entangled", "paper", 0.1, "both"),
    "infogan": ("disentangled", "infogan", 0.1, "both"),
    "gaussian-entangled": ("entangled", "gaussian", 0.1, "both"),
    "disentangled-l1": ("disentangled", "paper", 1.0, "both"),  # ten times the regulariser's weight
    "entangled-l1": ("entangled", "paper", 1.0, "both"),
    "disentangled-g": ("disentangled", "paper", 0.1, "generator"),  # the code head cannot satisfy the drawing
    "entangled-g": ("entangled", "paper", 0.1, "generator"),
}
DEFAULT_VARIANTS = ("disentangled", "entangled", "infogan", "gaussian-entangled")
MEASURE_VERSION = 2  # bump when what a cell measures changes (2: the code head's read-back added)


@dataclass(frozen=True)
class Settings:
    """Everything a cell's numbers depend on: every field enters the fingerprint (bngan.experiments.core)."""

    dataset: str = "mnist"
    imbalance: str = "standard"
    k: int = 3
    steps: int = 6000
    effect_seeds: int = 16
    span: float = 2.0
    measure_version: int = MEASURE_VERSION

    NOT_FINGERPRINTED: ClassVar[dict[str, str]] = {}

    def grid(self, variants: list[str], seeds: list[int]) -> list[Cell]:
        """Seeds slowest, so the first seed of every variant is done first."""
        return product_grid([("seed", seeds), ("variant", variants)],
                            key=lambda c: f"{c['variant']}-s{c['seed']}",
                            fingerprint_of=lambda c: fingerprint(c, Settings, self))

    def train_config(self, variant: str, seed: int):
        from bngan.config import TrainConfig
        from bngan.data import Imbalance
        from bngan.structure import LatentStructure

        preset, mode, weight, through = VARIANTS[variant]
        return TrainConfig(dataset=self.dataset, imbalance=Imbalance(self.imbalance).to_dict(), seed=seed,
                           structure=LatentStructure.preset(preset, self.k).to_dict(), reg_mode=mode,
                           lambda_reg=weight, reg_through=through,
                           steps=self.steps, sample_every=1000, checkpoint_every=1000)


def same_training(saved: dict, wanted: dict) -> bool:
    """A saved run answers for a wanted one when everything but bookkeeping (grids, checkpoints, code names)
    matches; the standard imbalance profile ignores the ratio and minority classes (the CLI records its
    defaults there)."""
    ignore = {"sample_every", "checkpoint_every", "device", "data_dir", "steps"}  # steps: compared by the caller

    def essential(config: dict) -> dict:
        structure = {k: v for k, v in dict(config.get("structure", {})).items() if k != "labels"}
        imbalance = dict(config.get("imbalance", {}))
        if imbalance.get("profile") == "standard":
            imbalance = {"profile": "standard", "counts": imbalance.get("counts")}
        return {**{k: v for k, v in config.items() if k not in ignore}, "structure": structure,
                "imbalance": imbalance}

    return essential(saved) == essential(wanted)


def trained_model(settings: Settings, variant: str, seed: int, runs: Path):
    """The model of this cell: a finished run folder with the same training settings, else trained now."""
    from bngan.errors import InvalidSettingError
    from bngan.runs import RunWriter
    from bngan.training import TrainedModel, Trainer

    config = settings.train_config(variant, seed)
    folder = runs / f"{variant}-s{seed}"
    checkpoint = folder / "checkpoint.pt"
    if checkpoint.exists():
        model = TrainedModel.load(checkpoint)
        if not same_training(model.config.to_dict(), config.to_dict()) or model.step > settings.steps:
            raise InvalidSettingError(f"{folder} holds a run with other settings; move it away or choose another "
                                      "--runs folder (nothing was overwritten)")
        if model.step == settings.steps:
            return model
        print(f"{folder}: at step {model.step} of {settings.steps}; resuming", flush=True)
        trainer = Trainer.resume(checkpoint, steps=settings.steps)
    else:
        trainer = Trainer(config)
    writer = RunWriter(folder, trainer)
    try:
        trainer.run(callback=writer, checkpoint_path=writer.checkpoint)
    finally:
        writer.close()
    return TrainedModel.load(checkpoint)


def compute_cell(settings: Settings, variant: str, seed: int, runs: Path) -> dict:
    """Train or reuse the model, then measure its effect matrix and read it against the structures."""
    from bngan.effects import code_readout, crosstalk, effect_matrix, structure_agreement
    from bngan.structure import LatentStructure

    model = trained_model(settings, variant, seed, runs)
    matrix = effect_matrix(model, seeds=settings.effect_seeds, span=settings.span)
    entangled = LatentStructure.preset("entangled", settings.k)
    return {
        "variant": variant, "seed": seed, "step": model.step, "matrix": matrix.to_dict(),
        "crosstalk": crosstalk(matrix.codes).round(5).tolist(),
        "readout": code_readout(model).round(4).tolist(),
        "own": structure_agreement(matrix.codes, model.structure),
        "entangled": structure_agreement(matrix.codes, entangled),
    }


def real_coupling(settings: Settings, attributes: tuple[str, ...]) -> dict:
    """|Spearman| between attributes among the real training images of each class (fold 0), averaged."""
    import torch

    from bngan.data import Imbalance, load_dataset, make_imbalanced
    from bngan.effects import attribute_coupling

    data = make_imbalanced(load_dataset(settings.dataset), Imbalance(settings.imbalance), seed=0)
    per_class = [attribute_coupling(data.images[data.labels == c], attributes)
                 for c in torch.unique(data.labels).tolist()]
    return {"attributes": list(attributes), "coupling": np.mean(per_class, axis=0).round(3).tolist()}


EXPERIMENT = "structure"


def is_experiment_folder(folder: Path) -> bool:
    spec = read_json(Path(folder) / SPEC_FILE)
    return isinstance(spec, dict) and spec.get("experiment") == EXPERIMENT


def collect(folder: Path) -> dict:
    """A folder's cells read against its settings (torch-free): the valid ones, how many are stale, the
    summary; ``complete`` when no stored cell is stale or failed."""
    spec = {k: v for k, v in read_json(Path(folder) / SPEC_FILE).items() if k != "experiment"}
    settings = Settings(**spec)
    records = CellStore(folder).records()
    seeds = sorted({int(r.get("seed", 0)) for r in records})
    found = sort_records(records, settings.grid(list(VARIANTS), seeds))
    saved = read_json(Path(folder) / "summary.json") or {}
    return {"settings": spec, "cells": found.valid, "n_done": len(found.valid), "stale": found.stale,
            "failures": found.failures, "complete": not found.stale and not found.failures,
            "summary": summarise(found.valid), "real_coupling": saved.get("real_coupling")}


def run(settings: Settings, variants: list[str], seeds: list[int], runs: Path, out: Path) -> list[dict]:
    """Compute the missing or outdated cells one by one (each written as soon as it is done); return every
    stored cell that still matches these settings, whichever run computed it."""
    store = CellStore(out)
    write_json(Path(out) / SPEC_FILE, {"experiment": EXPERIMENT, **asdict(settings)})
    run_cells(settings.grid(variants, seeds), lambda cell, stage: compute_cell(settings, cell["variant"],
                                                                               cell["seed"], runs), store,
              progress=lambda event: print(event["message"], flush=True) if event["event"] != "stage" else None,
              header=lambda cell: {"key": cell.key, "fingerprint": cell.fingerprint, "settings": asdict(settings)})
    every = settings.grid(list(VARIANTS), sorted({*seeds, *(r.get("seed", 0) for r in store.records())}))
    return sort_records(store.records(), every).valid


# report -------------------------------------------------------------------------------------------------
def _interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% t-interval over seeds (0 with one seed)."""
    from scipy.stats import t

    a = np.asarray(values, dtype=float)
    if len(a) < 2:
        return float(a.mean()), 0.0
    return float(a.mean()), float(t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a)))


def summarise(cells: list[dict]) -> dict:
    """Per variant, over seeds: cross-talk, agreement with its own and with the entangled drawing, c3's
    coverage of its would-be parents (and their reach of c3's attribute), the codes' and the placebo
    directions' mean effect, the mean matrix and read-back codes."""
    from bngan.effects import parent_reach
    from bngan.structure import LatentStructure

    out = {}
    for variant in VARIANTS:
        mine = [c for c in cells if c["variant"] == variant]
        if not mine:
            continue
        k = mine[0]["matrix"]["k"]
        entangled = LatentStructure.preset("entangled", k)
        effects = np.array([c["matrix"]["effect"] for c in mine])
        out[variant] = {
            "seeds": [c["seed"] for c in mine],
            "attributes": mine[0]["matrix"]["attributes"],
            "mean_matrix": effects[:, :k].mean(0).round(3).tolist(),
            "crosstalk": _interval([float(np.mean(c["crosstalk"])) for c in mine]),
            "crosstalk_per_code": [_interval([c["crosstalk"][j] for c in mine]) for j in range(k)],
            "agreement_own": _interval([c["own"]["agreement"] for c in mine]),
            "agreement_entangled": _interval([c["entangled"]["agreement"] for c in mine]),
            "c3_coverage": _interval([c["entangled"]["per_code"][2]["score"] for c in mine]),
            "parent_reach": _interval([parent_reach(np.asarray(c["matrix"]["effect"]), entangled) for c in mine]),
            "code_effect": _interval([float(e[:k].mean()) for e in effects]),
            "placebo_effect": _interval([float(e[k:].mean()) for e in effects]),
            "readout": np.mean([c["readout"] for c in mine], axis=0).round(3).tolist(),
        }
    return out


def _pm(pair: tuple[float, float] | list[float]) -> str:
    return f"{pair[0]:.3f} ± {pair[1]:.3f}"


def markdown_report(summary: dict, coupling: dict | None) -> str:
    """The report's text (torch-free, so committed results can be re-read anywhere)."""
    lines = ["# Does the drawing shape the codes? (bench structure)", "",
             "Mean over seeds ± the half-width of a 95% t-interval. Effects are in units of the attribute's "
             "spread among the class's ordinary samples, mean over classes of |change from code −2 to +2|.", "",
             "| variant | seeds | cross-talk | agreement (own drawing) | agreement (entangled drawing) | "
             "c3 covers c1's and c2's attributes | c1, c2 reach c3's attribute | code effect | "
             "placebo (noise direction) effect |",
             "|---|---|---|---|---|---|---|---|---|"]
    for variant, s in summary.items():
        lines.append(f"| {variant} | {len(s['seeds'])} | {_pm(s['crosstalk'])} | {_pm(s['agreement_own'])} | "
                     f"{_pm(s['agreement_entangled'])} | {_pm(s['c3_coverage'])} | {_pm(s['parent_reach'])} | "
                     f"{_pm(s['code_effect'])} | {_pm(s['placebo_effect'])} |")
    for variant, s in summary.items():
        lines += ["", f"**{variant}**: mean effect matrix over seeds", "",
                  "| code | " + " | ".join(s["attributes"]) + " | cross-talk |",
                  "|---|" + "---|" * (len(s["attributes"]) + 1)]
        for j, row in enumerate(s["mean_matrix"], start=1):
            lines.append(f"| c{j} | " + " | ".join(f"{v:.2f}" for v in row) +
                         f" | {_pm(s['crosstalk_per_code'][j - 1])} |")
        k = len(s["readout"])
        lines += ["", "what the code head reads back: correlation of ci' (rows) with cj (columns), mean over seeds",
                  "", "| | " + " | ".join(f"c{j}" for j in range(1, k + 1)) + " |", "|---|" + "---|" * k]
        for i, row in enumerate(s["readout"], start=1):
            lines.append(f"| c{i}' | " + " | ".join(f"{v:+.2f}" for v in row) + " |")
    if coupling:
        lines += ["", "Attribute coupling in the real training images (|Spearman ρ|, mean over classes):", "",
                  "| | " + " | ".join(coupling["attributes"]) + " |",
                  "|---|" + "---|" * len(coupling["attributes"])]
        for name, row in zip(coupling["attributes"], coupling["coupling"]):
            lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_report(out: Path, summary: dict, coupling: dict | None) -> str:
    text = markdown_report(summary, coupling)
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "summary.json", json.dumps({"summary": summary, "real_coupling": coupling}, indent=1))
    return text


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bngan bench structure", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--imbalance", default="standard", choices=["standard", "none"])
    parser.add_argument("--steps", type=int, default=6000, help="GAN steps per model")
    parser.add_argument("--seeds", type=_int_list, default=[0, 1, 2])
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"any of {', '.join(VARIANTS)}")
    parser.add_argument("--effect-seeds", type=int, default=16, help="noise draws per class in the matrix")
    parser.add_argument("--runs", default="runs/structure", help="where the models are trained / reused")
    parser.add_argument("--out", default="results/structure")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite report.md and summary.json from the stored cells (trains nothing)")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    settings = Settings(dataset=args.dataset, imbalance=args.imbalance, steps=args.steps,
                        effect_seeds=args.effect_seeds)
    out = Path(args.out)
    if args.report_only:
        if not (out / SPEC_FILE).is_file():  # cells from before the settings file: these settings made them
            write_json(out / SPEC_FILE, {"experiment": EXPERIMENT, **asdict(settings)})
        found = collect(out)
        coupling = found["real_coupling"] or (real_coupling(settings, tuple(found["cells"][0]["matrix"][
            "attributes"])) if found["cells"] else None)
        print(write_report(out, found["summary"], coupling))
        return 0
    cells = run(settings, variants, args.seeds, Path(args.runs), out)
    attributes = tuple(cells[0]["matrix"]["attributes"]) if cells else ()
    coupling = real_coupling(settings, attributes) if cells else None
    print(write_report(out, summarise(cells), coupling))
    return 0

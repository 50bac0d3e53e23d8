"""``python -m bngan bench images --run-dir DIR``: the image diagnostics of a run's GAN rows, measured on the
generators the run saved under ``gans/``, without training any GAN or CNN.

Why: a row's classifier scores cost ~10 CPU-minutes of CNN training, and one fold cannot rank rows that differ
by .01. Whether a training option makes the added images more recognisable, harder to tell from real, more
varied or closer to copies is a property of the generator; measured here in about a minute per generator
(the judge CNN is cached). The numbers are :func:`~bngan.experiments.table1.cells.image_quality`'s, the same as
``table1 --quality`` gives, minus CAS (which trains a CNN). Results go to ``DIR/images.json`` (one entry per
cell, saved after each, reused when its generator file is unchanged) and ``DIR/images.md``.

``--grid ROWS`` instead draws what the numbers summarise: for the run's first fold, each minority class's
real training images above the images each row adds to it (``DIR/added__<cell>.png``), so that "easy to tell
from real" can be looked at. GAN rows sample their saved generator; the other rows refit with the cell's seed
(DeepSMOTE retrains its autoencoder: minutes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bngan.errors import PROJECT_ERRORS
from bngan.evaluation.gan_methods import CNN_SETTINGS, GAN_METHODS, is_gan
from bngan.experiments.core import Cell, ExperimentError, read_json, read_spec, write_json
from bngan.experiments.table1 import report
from bngan.experiments.table1.cells import (
    GANS_DIR,
    RunContext,
    added_minority,
    fold_split,
    image_quality,
    make_method_sampler,
)
from bngan.experiments.table1.settings import ExperimentConfig, grid
from bngan.files import atomic_write_bytes, atomic_write_text

IMAGES_FILE = "images.json"
IMAGES_REPORT = "images.md"
IMAGE_DIAGNOSTICS = {k: v for k, v in report.DIAGNOSTIC_HEADERS.items() if not k.startswith("cas")}
GRID_PER_CLASS = 12


def default_methods(config: ExperimentConfig) -> list[str]:
    """The run's GAN rows whose added images differ: rows that only change the CNN (``cnn_augment``) add the
    same images as their twin and are left out."""
    return [m for m in config.methods if is_gan(m) and not set(GAN_METHODS[m]) & set(CNN_SETTINGS)]


def measure(folder: str | Path, methods: Sequence[str] | None = None,
            say: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Measure every (cell, method) of the run whose generator is saved; return ``images.json``'s content."""
    folder = Path(folder)
    config = ExperimentConfig.from_saved(read_spec(folder))
    methods = list(methods) if methods else default_methods(config)
    unknown = [m for m in methods if m not in config.methods or not is_gan(m)]
    if unknown:
        raise ExperimentError(f"not GAN rows of {folder}: {', '.join(unknown)}; "
                              f"its GAN rows are {', '.join(default_methods(config)) or 'none'}")
    context = RunContext(config, folder / GANS_DIR)
    saved = read_json(folder / IMAGES_FILE)
    entries: dict[str, Any] = saved.get("cells", {}) if isinstance(saved, dict) else {}
    cells = [c for c in grid(config) if c["method"] in methods]
    for number, cell in enumerate(cells, 1):
        path = context.gan_path(cell)
        label = f"[{number}/{len(cells)}] {cell.key}"
        if path is None or not path.is_file():
            say(f"{label}: no saved generator (run the table first): skipped")
            continue
        stamp = {"generator": path.name, "bytes": path.stat().st_size}
        if entries.get(cell.key, {}).get("stamp") == stamp:
            say(f"{label}: already measured")
            continue
        say(f"{label}: sampling from {path.name} and measuring")
        entries[cell.key] = {"stamp": stamp, **_coords(cell), **_measure_cell(cell, config, context, path)}
        write_json(folder / IMAGES_FILE, {"methods": methods, "cells": entries})  # after each: resumable
    return {"methods": methods, "cells": entries}


def draw_added(folder: str | Path, methods: Sequence[str], per_class: int = GRID_PER_CLASS,
               say: Callable[[str], None] = lambda text: None) -> list[Path]:
    """For the first fold of each data set and setting: per minority class, a row of ``per_class`` real
    training images, then a row of the images each of ``methods`` added (a seeded random pick); one PNG per
    (data set, setting), returned. Rows that add nothing to a class (``none``, ``aug``) get no row."""
    folder = Path(folder)
    config = ExperimentConfig.from_saved(read_spec(folder))
    unknown = [m for m in methods if m not in config.methods or m == "dgc"]
    if unknown or not methods:
        raise ExperimentError(f"no oversampling rows of {folder}: {', '.join(unknown) or 'none given'}; "
                              f"its rows are {', '.join(m for m in config.methods if m != 'dgc')}")
    context = RunContext(config, folder / GANS_DIR)
    cells = grid(config)
    first = min(cell["fold"] for cell in cells)
    written = []
    for dataset in config.datasets:
        for setting in range(len(config.imbalances)):
            mine = {c["method"]: c for c in cells
                    if (c["dataset"], c["setting"], c["fold"]) == (dataset, setting, first)}
            picture = _added_picture([mine[m] for m in methods], config, context, per_class, say)
            path = folder / f"added__{mine[methods[0]].key.rsplit('__', 1)[0]}.png"
            atomic_write_bytes(path, lambda handle, image=picture: image.save(handle, format="PNG"))
            written.append(path)
    return written


def _added_picture(cells: Sequence[Cell], config: ExperimentConfig, context: RunContext, per_class: int,
                   say: Callable[[str], None]) -> Any:
    """:func:`draw_added`'s picture of one fold: ``cells`` are its rows' cells (same data set, setting, fold)."""
    import numpy as np
    import torch

    from bngan.ui.images import labelled_rows

    fold = cells[0]["fold"]
    subset, _, _ = fold_split(cells[0], config, context)
    x, y = subset.images.numpy(), subset.labels.numpy()
    counts = {int(c): int(n) for c, n in subset.class_counts().items()}
    minority = report.table_classes(config.imbalances[cells[0]["setting"]], counts)
    rng = np.random.default_rng(fold)

    def pick(images: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(images[rng.choice(len(images), min(per_class, len(images)), replace=False)])

    rows = {c: [(f"{subset.class_names[c]} · real", f"{counts[c]} training images", pick(x[y == c]))]
            for c in minority}
    for cell in cells:
        generator = context.gan_path(cell)
        if generator is not None and not generator.is_file():
            say(f"{cell.key}: no saved generator (run the table first): skipped")
            continue
        say(f"{cell.key}: " + ("sampling the saved generator" if generator else "resampling the fold"))
        sampler = make_method_sampler(cell["method"], config, fold, counts, minority, checkpoint=generator)
        x_res, y_res = sampler.fit_resample(x, y)
        added_x, added_y = added_minority(np.asarray(x_res, dtype=np.float32), np.asarray(y_res), len(y), minority)
        for c in minority:
            if (added_y == c).any():
                rows[c].append((f"{subset.class_names[c]} · {cell['method']}",
                                f"{int((added_y == c).sum())} added", pick(added_x[added_y == c])))
    entries = [row for c in minority for row in rows[c]]
    return labelled_rows([images for *_, images in entries], [name for name, *_ in entries],
                         highlight={i for i, (name, *_) in enumerate(entries) if name.endswith(" · real")},
                         tags=[tag for _, tag, _ in entries])


def _coords(cell: Cell) -> dict[str, Any]:
    return {"dataset": cell["dataset"], "setting": cell["setting"], "fold": cell["fold"], "method": cell["method"]}


def _measure_cell(cell: Cell, config: ExperimentConfig, context: RunContext, generator: Path) -> dict:
    """The cell's fold resampled by its row from the saved generator; the added minority images measured."""
    import numpy as np

    subset, _, test = fold_split(cell, config, context)
    x, y = subset.images.numpy(), subset.labels.numpy()
    counts = {int(c): int(n) for c, n in subset.class_counts().items()}
    minority = report.table_classes(config.imbalances[cell["setting"]], counts)
    sampler = make_method_sampler(cell["method"], config, cell["fold"], counts, minority, checkpoint=generator)
    x_res, y_res = sampler.fit_resample(x, y)
    added = added_minority(np.asarray(x_res, dtype=np.float32), np.asarray(y_res), len(y), minority)
    return {"minority": minority, "quality": image_quality(cell, config, context, (x, y), added, test, minority)}


def markdown(folder: str | Path, measured: dict[str, Any]) -> str:
    """The two tables of ``table1 --quality`` (sample quality; copying and real-vs-added) for these cells."""
    config = ExperimentConfig.from_saved(read_spec(Path(folder)))
    groups = []
    for dataset in config.datasets:
        for setting, imbalance in enumerate(config.imbalances):
            mine = [e for e in measured["cells"].values()
                    if e["dataset"] == dataset and e["setting"] == setting and e["method"] in measured["methods"]]
            if not mine:
                continue
            minority = mine[0]["minority"]
            by_method = {}
            for method in measured["methods"]:
                entries = [e for e in mine if e["method"] == method]
                if entries:
                    by_method[method] = {"folds": [e["fold"] for e in entries],
                                         "quality": report.quality_summary([e["quality"] for e in entries], minority)}
            groups.append({"label": report.group_label(dataset, imbalance), "minority": minority,
                           "methods": by_method})
    if not groups:
        return "No generator measured yet."
    folds = sorted({f for g in groups for e in g["methods"].values() for f in e["folds"]})
    return "\n".join([
        f"# Images of the GAN rows of {Path(folder).name} (no CNN trained)", "",
        f"Folds {', '.join(map(str, folds))} ({'mean ± std over folds' if len(folds) > 1 else 'no spread: one fold'}); "
        "generators as the run saved them "
        f"({config.gan_steps} steps, {config.gan_preset} preset); the added minority images as each row samples "
        "them.", "",
        "## Sample quality (judge classifier's feature space)", "",
        report.quality_table(groups, measured["methods"]) or "", "",
        "## Copying and real-vs-added classifier (per minority class)", "",
        report.diagnostics_table(groups, measured["methods"], IMAGE_DIAGNOSTICS) or "", "",
        report.DIAGNOSTICS_LEGEND, ""])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bngan bench images",
        description="Fidelity, FID, PRDC, copying and the real-vs-added classifier of a finished table1 run's "
                    "GAN rows, from its saved generators (no GAN or CNN is trained).")
    parser.add_argument("--run-dir", required=True, help="a table1 / ir-sweep folder with gans/")
    parser.add_argument("--methods", default="",
                        help="comma-separated GAN rows (default: every GAN row of the run that adds its own images)")
    parser.add_argument("--grid", default="",
                        help="comma-separated rows (any oversampling row: smote, deepsmote, bngan, ...): instead "
                             "of measuring, save a picture of the images each adds to the minority classes, "
                             "below real training images (first fold)")
    parser.add_argument("--per-class", type=int, default=GRID_PER_CLASS, help="images a row in --grid pictures")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    drawn = [m.strip() for m in args.grid.split(",") if m.strip()]
    if args.per_class < 1:
        parser.error("--per-class must be at least 1")
    try:
        if drawn:
            for path in draw_added(args.run_dir, drawn, args.per_class,
                                   say=lambda text: print(text, file=sys.stderr, flush=True)):
                print(path)
            return 0
        measured = measure(args.run_dir, methods, say=lambda text: print(text, file=sys.stderr, flush=True))
        text = markdown(args.run_dir, measured)
    except PROJECT_ERRORS as exc:
        print(f"bngan bench images: error: {exc}", file=sys.stderr)
        return 2

    atomic_write_text(Path(args.run_dir) / IMAGES_REPORT, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Figure 4b: does the Bayesian regulariser keep the latent space disentangled when a shape is a minority?

``python -m bngan bench disentangle --ir 100 200 300`` trains InfoGAN (``reg_mode="infogan"``: the same
networks, the regulariser replaced by ``Σ MSE(c'_i, c_i)``) and bngan (``reg_mode="paper"`` with the
'disentangled' structure) on dSprites where one shape (the heart by default) is a minority at imbalance ratio
IR, and scores the discriminator's code head ``c'`` with the FactorVAE score (the paper's measure: InfoGAN
.525/.410/.361, ours .585/.479/.388 at IR 100/200/300) and MIG.

Protocol (DESIGN §3), made concrete:

- Data: :func:`bngan.data.dsprites.load_dsprites` draws ``--n-per-class`` random factor combinations per shape
  (default 10,000: the full dSprites has 245,760 per shape, too many to hold as float images), then
  ``Imbalance("minority", minority_classes=(shape,), ir=IR)`` keeps ``n_per_class / IR`` images of the
  minority shape (100 / 50 / 33 at IR 100 / 200 / 300). The seed picks the draw (a fold) and the networks'
  initialisation; both methods see the same images for the same seed.
- Representation: ``images -> D(2 * images - 1)["code"]`` (discriminator in eval mode), the ``k`` codes
  (``--codes``, default 5: one per factor shape, scale, orientation, x, y).
- Metrics: :func:`bngan.evaluation.disentanglement.factor_vae_score` (eval accuracy is the score) and MIG
  from the same ``--num-train`` codes; the metric's random state is the seed, so both methods are scored on
  the same factor draws (a paired comparison).

Each (method, IR, seed) cell is an independent job: it writes ``cells/<cell>.json`` and
``checkpoints/<cell>.pt`` as soon as it is done, and a rerun skips finished cells (``--force`` redoes them).
Checkpoints hold the networks only by default (12 MB with the fast preset; :meth:`TrainedModel.load` reads
them, which is all the app's traversals need); ``--checkpoints full`` writes :meth:`Trainer.save`'s resumable
file (three times larger, with the optimiser state), ``none`` skips them.
``--shard i/n`` runs every n-th cell, so cells spread over processes or machines writing to one folder.
After its cells, every run rewrites the reports from *all* cell files present: ``results.json``,
``results.csv`` (one row per cell), ``summary.csv`` and ``table.md`` (mean ± std over seeds per method and
IR, beside the paper's numbers) and ``figure.html`` (plotly, self-contained for offline viewing).

torch, the trainer and the metrics are imported inside the functions that use them: the app's
Disentanglement page imports the report helpers here and must start without torch.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bngan.files import atomic_write_text
from bngan.files import parse_shard as split_shard

if TYPE_CHECKING:
    import plotly.graph_objects as go
    import torch

    from bngan.config import TrainConfig
    from bngan.data import ImageDataset
    from bngan.training import TrainedModel, Trainer

METHODS = {"infogan": "infogan", "bngan": "paper"}  # method name -> the trainer's reg_mode
METHOD_TITLES = {"infogan": "InfoGAN", "bngan": "bngan (ours)"}
# Figure 4b of the paper: FactorVAE score per method and IR.
PAPER_FACTORVAE = {"infogan": {100: 0.525, 200: 0.410, 300: 0.361},
                   "bngan": {100: 0.585, 200: 0.479, 300: 0.388}}
FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")  # bngan.data.dsprites.FACTOR_NAMES, torch-free
SHAPES = ("square", "ellipse", "heart")
DEFAULT_OUT = Path("results") / "disentangle"
RESULTS_ENV = "BNGAN_RESULTS_DIR"
COMMAND = "python -m bngan bench disentangle --ir 100 200 300"
CELLS_DIR, CHECKPOINTS_DIR = "cells", "checkpoints"
CHECKPOINT_KINDS = ("full", "weights", "none")
METRIC_KEYS = ("factorvae", "mig")


@dataclass(frozen=True)
class Cell:
    """One independent job of the experiment: a method trained at one IR with one seed."""

    method: str
    ir: float
    seed: int

    @property
    def name(self) -> str:
        return f"{self.method}-ir{self.ir:g}-seed{self.seed}"


@dataclass
class Settings:
    """Everything a cell's training and scoring depend on (saved in each cell's JSON)."""

    steps: int = 3000
    codes: int = 5
    shape: int = 2  # the minority shape: 0 square, 1 ellipse, 2 heart
    n_per_class: int = 10000
    batch_size: int = 64
    preset: str = "fast"
    lambda_reg: float = 1.0
    device: str = "auto"
    num_train: int = 10000
    num_eval: int = 5000
    num_variance: int = 10000
    metric_batch: int = 64
    checkpoints: str = "weights"
    bngan_mode: str = "paper"  # the regulariser form of the bngan arm: Eq. 6 ("paper") or Eq. 3-5 ("gaussian")


# cells and shards -------------------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` for argparse: shard i runs the cells whose index modulo n is i."""
    try:
        return split_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def all_cells(methods: Sequence[str], irs: Sequence[float], seeds: Sequence[int]) -> list[Cell]:
    """Every cell in a fixed order (seed, IR, method), so the first cells done already pair the methods."""
    return [Cell(m, float(ir), int(s)) for s in seeds for ir in irs for m in methods]


def shard_cells(cells: Sequence[Cell], shard: tuple[int, int]) -> list[Cell]:
    i, n = shard
    return [cell for index, cell in enumerate(cells) if index % n == i]


# training ---------------------------------------------------------------------------------------------
def minority_count(n_per_class: int, ir: float) -> int:
    """Images the minority shape keeps (as :class:`bngan.data.Imbalance` computes it)."""
    return max(1, round(n_per_class / float(ir)))


def check_sizes(n_per_class: int, irs: Iterable[float]) -> None:
    """Refuse an IR the majority size cannot express (``n_per_class / IR < 1`` rounds up to a lower IR)."""
    too_high = [ir for ir in irs if n_per_class / float(ir) < 1]
    if too_high:
        listed = ", ".join(f"{r:g}" for r in too_high)
        raise ValueError(f"--n-per-class {n_per_class} cannot make IR {listed}: the minority would keep less "
                         f"than one image; use --n-per-class >= {max(too_high):g}")


def reg_mode(method: str, settings: Settings) -> str:
    """The trainer's ``reg_mode`` of a method (``--bngan-mode`` picks the form of ours)."""
    return settings.bngan_mode if method == "bngan" else METHODS[method]


def imbalance_dict(shape: int, ir: float) -> dict:
    return {"profile": "minority", "minority_classes": [int(shape)], "ir": float(ir), "counts": None}


def training_data(settings: Settings, ir: float, seed: int) -> ImageDataset:
    """The imbalanced dSprites sample of one cell: the same images for every method at a given seed."""
    from bngan.data import Imbalance, make_imbalanced
    from bngan.data.dsprites import load_dsprites

    full = load_dsprites(train=True, n_per_class=settings.n_per_class, seed=seed)
    return make_imbalanced(full, Imbalance(**imbalance_dict(settings.shape, ir)), seed=seed)


def train_config(cell: Cell, settings: Settings) -> TrainConfig:
    """The TrainConfig of a cell: only ``reg_mode`` differs between the methods."""
    from bngan.config import TrainConfig
    from bngan.structure import LatentStructure

    return TrainConfig(dataset="dsprites", imbalance=imbalance_dict(settings.shape, cell.ir),
                       structure=LatentStructure.preset("disentangled", settings.codes).to_dict(),
                       reg_mode=reg_mode(cell.method, settings), lambda_reg=settings.lambda_reg, preset=settings.preset,
                       batch_size=settings.batch_size, steps=settings.steps, seed=cell.seed,
                       sample_every=10**9, checkpoint_every=10**9, device=settings.device)


def train_cell(cell: Cell, settings: Settings) -> Trainer:
    from bngan.training import Trainer

    trainer = Trainer(train_config(cell, settings), dataset=training_data(settings, cell.ir, cell.seed))
    trainer.run()
    return trainer


def code_head(discriminator: torch.nn.Module, chunk: int = 1024) -> Callable[[Any], torch.Tensor]:
    """The representation the metrics score: images in [0, 1] ``(N, 1, 64, 64)`` -> the code head's ``c'``."""
    import torch

    device = next(discriminator.parameters()).device

    @torch.no_grad()
    def represent(images: Any) -> torch.Tensor:
        discriminator.eval()  # batch-norm running statistics: a code must not depend on its batch
        images = torch.as_tensor(images, dtype=torch.float32)
        parts = [discriminator(part.to(device) * 2 - 1)["code"].float().cpu() for part in images.split(chunk)]
        return torch.cat(parts) if parts else torch.empty(0, 0)

    return represent


def score(representation_fn: Callable[[Any], Any], settings: Settings, seed: int) -> dict[str, Any]:
    """FactorVAE score and MIG of a representation on the full (balanced) dSprites factor distribution, plus
    the normalised mutual information of every code with every factor (what each code tracks)."""
    from bngan.data.dsprites import DSprites
    from bngan.evaluation.disentanglement import (
        discrete_entropy,
        discrete_mutual_info,
        factor_vae_score,
        histogram_discretize,
        mig_from_codes,
        represent,
    )

    data = DSprites()
    factorvae = factor_vae_score(representation_fn, data, np.random.default_rng([seed, 1]),
                                 batch_size=settings.metric_batch, num_train=settings.num_train,
                                 num_eval=settings.num_eval, num_variance_estimate=settings.num_variance)
    rng = np.random.default_rng([seed, 2])
    factors = np.asarray(data.sample_factors(settings.num_train, rng))
    codes = represent(representation_fn, data, factors, rng)
    mig = mig_from_codes(codes, factors)
    entropy = discrete_entropy(factors)
    nmi = discrete_mutual_info(histogram_discretize(codes), factors) / np.where(entropy > 0, entropy, 1.0)
    return {"factorvae": factorvae["eval_accuracy"], "factorvae_train": factorvae["train_accuracy"],
            "active_codes": factorvae["num_active_dims"], "mig": mig["discrete_mig"],
            "mig_per_factor": mig["mig_per_factor"], "code_factor_nmi": np.round(nmi, 4).tolist()}


def save_model(trainer: Trainer, path: Path, kind: str) -> str | None:
    """``full``: :meth:`Trainer.save` (resumable); ``weights``: the same without optimiser state (a third the
    size, still loads with :meth:`TrainedModel.load`); ``none``: nothing."""
    if kind == "none":
        return None
    trainer.save(path, include_optimizer=kind == "full")
    return f"{CHECKPOINTS_DIR}/{path.name}"


def run_cell(cell: Cell, settings: Settings, out: Path) -> dict[str, Any]:
    """Train and score one cell; write its checkpoint and JSON (atomically) and return the JSON's content."""
    start = time.perf_counter()
    trainer = train_cell(cell, settings)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = score(code_head(trainer.discriminator), settings, cell.seed)
    score_s = time.perf_counter() - start
    checkpoint = save_model(trainer, out / CHECKPOINTS_DIR / f"{cell.name}.pt", settings.checkpoints)
    result = {"cell": cell.name, "method": cell.method, "reg_mode": reg_mode(cell.method, settings), "ir": cell.ir,
              "seed": cell.seed, "minority_shape": SHAPES[settings.shape],
              "train_counts": {SHAPES[c]: n for c, n in trainer.data.class_counts().items()},
              **scores, "steps": trainer.step_count, "train_s": round(train_s, 2),
              "score_s": round(score_s, 2), "device": str(trainer.device), "checkpoint": checkpoint,
              "settings": asdict(settings)}
    write_text(out / CELLS_DIR / f"{cell.name}.json", json.dumps(result, indent=2))
    return result


# reports (torch-free: the app page uses these) --------------------------------------------------------
def write_text(path: Path, text: str) -> None:
    """Shards finishing together never leave a torn file."""
    atomic_write_text(path, text)


def results_dir() -> Path:
    """Where the app looks: ``$BNGAN_RESULTS_DIR/disentangle`` when that exists, else ``$BNGAN_RESULTS_DIR``
    itself; ``./results/disentangle`` when the variable is unset."""
    env = os.environ.get(RESULTS_ENV)
    if not env:
        return DEFAULT_OUT
    base = Path(env)
    return base / "disentangle" if (base / "disentangle").is_dir() else base


def load_cells(out: Path) -> list[dict[str, Any]]:
    """Every finished cell's JSON in ``out/cells`` (unreadable files skipped: a shard may be writing)."""
    cells = []
    for path in sorted((Path(out) / CELLS_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and {"method", "ir", "seed", *METRIC_KEYS} <= set(data):
            cells.append(data)
    return cells


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return math.nan, math.nan
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0


def paper_score(method: str, ir: float) -> float | None:
    return PAPER_FACTORVAE.get(method, {}).get(int(ir)) if float(ir).is_integer() else None


def summarise(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (method, IR), methods in :data:`METHODS` order, IR ascending."""
    order = {m: i for i, m in enumerate(METHODS)}
    groups: dict[tuple[str, float], list[Mapping[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((str(cell["method"]), float(cell["ir"])), []).append(cell)
    rows = []
    for (method, ir), group in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        row: dict[str, Any] = {"method": method, "ir": ir, "seeds": len(group)}
        for key in METRIC_KEYS:
            row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([c[key] for c in group])
        row["paper_factorvae"] = paper_score(method, ir)
        rows.append(row)
    return rows


def _fmt(mean: float, std: float, seeds: int) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.3f} ± {std:.3f}" if seeds > 1 else f"{mean:.3f}"


def markdown_table(summary: Sequence[Mapping[str, Any]]) -> str:
    """The FactorVAE score and MIG per method and IR beside the paper's FactorVAE score."""
    lines = ["| method | IR | seeds | FactorVAE (ours) | FactorVAE (paper) | MIG |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in summary:
        paper = row.get("paper_factorvae")
        title = METHOD_TITLES.get(row["method"], row["method"])
        lines.append(f"| {title} | {row['ir']:g} | {row['seeds']} | "
                     f"{_fmt(row['factorvae_mean'], row['factorvae_std'], row['seeds'])} | "
                     f"{'–' if paper is None else f'{paper:.3f}'} | "
                     f"{_fmt(row['mig_mean'], row['mig_std'], row['seeds'])} |")
    return "\n".join(lines) + "\n"


CELL_COLUMNS = ("cell", "method", "ir", "seed", "factorvae", "factorvae_train", "mig", "active_codes",
                "steps", "train_s", "score_s", "device", "checkpoint")
SUMMARY_COLUMNS = ("method", "ir", "seeds", "factorvae_mean", "factorvae_std", "mig_mean", "mig_std",
                   "paper_factorvae")


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def figure(summary: Sequence[Mapping[str, Any]]) -> go.Figure:
    """FactorVAE score (with the paper's as dashed lines) and MIG against IR, mean ± std over seeds."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    colors = {"infogan": "#7f7f7f", "bngan": "#1f6fd1"}
    fig = make_subplots(rows=1, cols=2, subplot_titles=("FactorVAE score", "MIG"), horizontal_spacing=0.1)
    for method in METHODS:
        rows = [r for r in summary if r["method"] == method]
        if not rows:
            continue
        color, title = colors[method], METHOD_TITLES[method]
        x = [r["ir"] for r in rows]
        for col, key in enumerate(METRIC_KEYS, start=1):
            fig.add_trace(go.Scatter(x=x, y=[r[f"{key}_mean"] for r in rows], mode="lines+markers",
                                     name=title, legendgroup=method, showlegend=col == 1,
                                     line={"color": color},
                                     error_y={"type": "data", "array": [r[f"{key}_std"] for r in rows]}),
                          row=1, col=col)
        paper = [(ir, s) for ir, s in sorted(PAPER_FACTORVAE[method].items())]
        fig.add_trace(go.Scatter(x=[p[0] for p in paper], y=[p[1] for p in paper], mode="lines+markers",
                                 name=f"{title}, paper", line={"color": color, "dash": "dash"},
                                 marker={"symbol": "x"}), row=1, col=1)
    fig.update_xaxes(title_text="imbalance ratio (minority shape)")
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(height=420, margin={"l": 50, "r": 20, "t": 50, "b": 50},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def write_reports(out: Path) -> list[dict[str, Any]]:
    """Rebuild every report from the cell files in ``out``; returns the summary rows."""
    cells = load_cells(out)
    summary = summarise(cells)
    write_text(out / "results.json", json.dumps({"paper_factorvae": PAPER_FACTORVAE, "summary": summary,
                                                 "cells": cells}, indent=2))
    write_text(out / "results.csv", csv_text(cells, CELL_COLUMNS))
    write_text(out / "summary.csv", csv_text(summary, SUMMARY_COLUMNS))
    write_text(out / "table.md", markdown_table(summary))
    if summary:
        write_text(out / "figure.html", figure(summary).to_html(include_plotlyjs=True, full_html=True))
    return summary


# what a code does to generated sprites ----------------------------------------------------------------
MEASURED = ("x", "y", "scale", "orientation")
FACTOR_RANGE = {"x": 1.0, "y": 1.0, "scale": 0.5, "orientation": 180.0}  # dSprites' span of each factor
TRACK_MIN_R, TRACK_MIN_MOVE = 0.5, 0.05  # a code tracks a factor it follows closely and moves visibly


def sprite_attributes(images: np.ndarray | torch.Tensor, shape: int | Sequence[int]) -> dict[str, np.ndarray]:
    """Per image, the dSprites factors read back from the pixels with the renderer's definitions.

    ``x``/``y``: the ink centroid as a position in [0, 1] (centres run from pixel 16.5 to 47.5; y grows
    downwards); ``scale``: ``sqrt(ink area / area of the shape at scale 1)``, so 0.5..1 on real sprites;
    ``orientation``: the principal axis of the second moments in degrees mod 180 (counter-clockwise as
    displayed; undefined for a square, whose moments are isotropic); ``anisotropy`` says how defined it is.
    """
    from bngan.data.dsprites import templates

    arr = images.detach().float().cpu().numpy() if hasattr(images, "detach") else np.asarray(images, float)
    arr = arr.reshape(len(arr), arr.shape[-2], arr.shape[-1]).clip(0, 1)
    shapes = np.broadcast_to(np.asarray(shape), (len(arr),))
    unit_area = templates()[:, -1, 0].flatten(1).sum(1).double().numpy()  # each shape at scale 1
    yy, xx = np.mgrid[0:arr.shape[1], 0:arr.shape[2]] + 0.5
    mass = arr.sum((1, 2))
    safe = np.where(mass > 1e-6, mass, 1.0)
    cx, cy = (arr * xx).sum((1, 2)) / safe, (arr * yy).sum((1, 2)) / safe
    dx, dy = xx[None] - cx[:, None, None], cy[:, None, None] - yy[None]  # dy points up
    mu20, mu02 = (arr * dx**2).sum((1, 2)) / safe, (arr * dy**2).sum((1, 2)) / safe
    mu11 = (arr * dx * dy).sum((1, 2)) / safe
    spread = np.hypot(mu20 - mu02, 2 * mu11)
    out = {"x": (cx - 16.5) / 31.0, "y": (cy - 16.5) / 31.0, "scale": np.sqrt(mass / unit_area[shapes]),
           "orientation": np.degrees(0.5 * np.arctan2(2 * mu11, mu20 - mu02)) % 180.0,
           "anisotropy": spread / np.where(mu20 + mu02 > 1e-9, mu20 + mu02, 1.0)}
    empty = mass <= 1e-6
    for values in out.values():
        values[empty] = np.nan
    return out


def association(values: np.ndarray, measured: Mapping[str, np.ndarray]) -> dict[str, float]:
    """How strongly each measured factor follows a code's value: ``|Pearson r|`` for x, y and scale; for the
    orientation (an angle mod 180°) the multiple correlation of the value with ``cos 2θ`` and ``sin 2θ``."""
    values = np.asarray(values, float)
    out = {}
    for name in MEASURED:
        m = np.asarray(measured[name], float)
        ok = np.isfinite(m)
        if ok.sum() < 3 or values[ok].std() < 1e-9:
            out[name] = 0.0
            continue
        if name == "orientation":
            angle = np.radians(2 * m[ok])
            design = np.column_stack([np.cos(angle), np.sin(angle), np.ones(ok.sum())])
            fit = design @ np.linalg.lstsq(design, values[ok], rcond=None)[0]
            residual = ((values[ok] - fit) ** 2).sum() / ((values[ok] - values[ok].mean()) ** 2).sum()
            out[name] = float(np.sqrt(max(0.0, 1.0 - residual)))
        else:
            out[name] = 0.0 if m[ok].std() < 1e-9 else float(abs(np.corrcoef(values[ok], m[ok])[0, 1]))
    return out


def effect_sizes(values: np.ndarray, measured: Mapping[str, np.ndarray]) -> dict[str, float]:
    """How far each measured factor moves over a sweep, as a share of the factor's range in dSprites.

    A correlation alone would call a code that nudges x by a tenth of a pixel "x"; this says how much it
    moves. Per sweep value the factor is averaged over the noise draws (orientation as a circular mean of the
    doubled angle), then the spread of those means is divided by the range (x, y: 1; scale: 0.5; orientation:
    180°, the most an axis can turn).
    """
    values = np.asarray(values, float)
    levels = np.unique(values)
    out = {}
    for name in MEASURED:
        m = np.asarray(measured[name], float)
        with warnings.catch_warnings():  # a sweep value whose images are all blank has no mean: skipped
            warnings.simplefilter("ignore", RuntimeWarning)
            out[name] = _effect(name, m, values, levels)
    return out


def _effect(name: str, m: np.ndarray, values: np.ndarray, levels: np.ndarray) -> float:
    """One factor's spread of per-level means over its range (see :func:`effect_sizes`)."""
    if name == "orientation":
        doubled = np.radians(2 * m)
        means = np.array([math.atan2(np.nanmean(np.sin(doubled[values == v])),
                                     np.nanmean(np.cos(doubled[values == v]))) for v in levels])
        finite = means[np.isfinite(means)]
        return float(np.ptp(np.unwrap(finite)) / (2 * np.pi)) if len(finite) > 1 else 0.0
    means = np.array([np.nanmean(m[values == v]) for v in levels])
    finite = means[np.isfinite(means)]
    return float(np.ptp(finite) / FACTOR_RANGE[name]) if len(finite) > 1 else 0.0


def binary_share(images: np.ndarray | torch.Tensor) -> float:
    """Share of pixels within 0.2 of black or white: near 1 for sprite-like images, low for grey noise (then
    the measured factors mean little: the model is under-trained)."""
    arr = images.detach().float().cpu().numpy() if hasattr(images, "detach") else np.asarray(images, float)
    return float(((arr < 0.2) | (arr > 0.8)).mean())


def code_tracking(model: TrainedModel, label: int, span: float = 2.0, steps: int = 9, seeds: int = 8
                  ) -> list[dict[str, Any]]:
    """For every code, sweep it over ``[-span, span]`` for ``seeds`` noise draws (the other codes at 0) and
    measure the generated sprites. Per code: ``|r|`` with each factor (:func:`association`), how far each
    factor moves (``moves_<factor>``, :func:`effect_sizes`), the factor it ``tracks`` (the highest ``|r|``
    among factors with ``|r| >= 0.5`` that move at least 5% of their range; "–" if none) and ``binary``
    (:func:`binary_share` of its images)."""
    import torch

    from bngan.traversal import strip

    sweep = torch.linspace(-span, span, steps)
    values = sweep.repeat(seeds).numpy()
    rows = []
    for code in range(1, model.structure.k + 1):
        images = torch.cat([strip(model, label, code, sweep, seed=s) for s in range(seeds)])
        measured = sprite_attributes(images, label)
        strength, moves = association(values, measured), effect_sizes(values, measured)
        candidates = [f for f in MEASURED if strength[f] >= TRACK_MIN_R and moves[f] >= TRACK_MIN_MOVE]
        best = max(candidates, key=strength.get) if candidates else None
        rows.append({"code": code, **strength, **{f"moves_{f}": moves[f] for f in MEASURED},
                     "tracks": best or "–", "strength": strength[best] if best else 0.0,
                     "moves": moves[best] if best else 0.0, "binary": binary_share(images)})
    return rows


# command line -----------------------------------------------------------------------------------------
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown beside every option; the description kept as written."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bngan bench disentangle",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=_HelpFormatter)
    p.add_argument("--ir", type=float, nargs="+", default=[100.0, 200.0, 300.0], help="imbalance ratios")
    p.add_argument("--methods", default="infogan,bngan", help="comma-separated: infogan, bngan")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per (method, IR)")
    p.add_argument("--steps", type=int, default=Settings.steps, help="training steps per cell")
    p.add_argument("--codes", type=int, default=Settings.codes, help="salient codes k (5: one a factor)")
    p.add_argument("--shape", choices=SHAPES, default=SHAPES[Settings.shape], help="the minority shape")
    p.add_argument("--n-per-class", type=int, default=Settings.n_per_class,
                   help="dSprites images drawn per shape before the minority is cut to n / IR")
    p.add_argument("--batch-size", type=int, default=Settings.batch_size, help="training batch")
    p.add_argument("--preset", choices=("fast", "paper"), default=Settings.preset, help="network preset")
    p.add_argument("--bngan-mode", choices=("paper", "gaussian"), default=Settings.bngan_mode,
                   help="bngan's regulariser: Eq. 6 (paper) or the linear-Gaussian Eq. 3-5 (gaussian)")
    p.add_argument("--lambda-reg", type=float, default=Settings.lambda_reg, help="regulariser weight")
    p.add_argument("--device", default=Settings.device, help="auto, cpu, cuda, mps")
    p.add_argument("--num-train", type=int, default=Settings.num_train,
                   help="FactorVAE training votes, and the samples of MIG")
    p.add_argument("--num-eval", type=int, default=Settings.num_eval, help="FactorVAE eval votes")
    p.add_argument("--num-variance", type=int, default=None,
                   help="samples for the codes' global variances (unset: as --num-train)")
    p.add_argument("--metric-batch", type=int, default=Settings.metric_batch,
                   help="images per FactorVAE vote")
    p.add_argument("--checkpoints", choices=CHECKPOINT_KINDS, default=Settings.checkpoints,
                   help="full (resumable, ~3x larger), weights (networks only) or none")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    p.add_argument("--shard", type=parse_shard, default="0/1", metavar="i/n",
                   help="run only cells i, i+n, i+2n, ... (0-based), for parallel jobs")
    p.add_argument("--force", action="store_true", help="redo cells whose JSON exists")
    p.add_argument("--report-only", action="store_true", help="train nothing; rebuild the reports")
    return p.parse_args(list(argv))


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(steps=args.steps, codes=args.codes, shape=SHAPES.index(args.shape),
                    n_per_class=args.n_per_class, batch_size=args.batch_size, preset=args.preset,
                    lambda_reg=args.lambda_reg, device=args.device, num_train=args.num_train,
                    num_eval=args.num_eval,
                    num_variance=args.num_train if args.num_variance is None else args.num_variance,
                    metric_batch=args.metric_batch, checkpoints=args.checkpoints, bngan_mode=args.bngan_mode)


def parse_methods(text: str) -> list[str]:
    methods = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"--methods takes a comma-separated list of {', '.join(METHODS)}; got {text!r}")
    return methods


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out: Path = args.out
    if not args.report_only:
        settings = settings_from(args)
        check_sizes(settings.n_per_class, args.ir)
        cells = shard_cells(all_cells(parse_methods(args.methods), args.ir, range(args.seeds)), args.shard)
        minority = ", ".join(f"{minority_count(settings.n_per_class, ir)} at IR {ir:g}" for ir in args.ir)
        print(f"disentangle: {len(cells)} cell(s) in shard {args.shard[0]}/{args.shard[1]}; "
              f"{settings.n_per_class} images per majority shape, minority {args.shape}: {minority}; "
              f"{settings.steps} steps; writing to {out}", flush=True)
        for cell in cells:
            if (out / CELLS_DIR / f"{cell.name}.json").is_file() and not args.force:
                print(f"  {cell.name}: done already (--force redoes it)", flush=True)
                continue
            result = run_cell(cell, settings, out)
            print(f"  {cell.name}: FactorVAE {result['factorvae']:.3f}, MIG {result['mig']:.3f} "
                  f"(train {result['train_s']:.0f} s, score {result['score_s']:.0f} s, {result['device']})",
                  flush=True)
    summary = write_reports(out)
    print()
    print(markdown_table(summary) if summary else f"no finished cells in {out / CELLS_DIR}")
    print(f"reports: {out / 'table.md'}, {out / 'results.csv'}, {out / 'figure.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

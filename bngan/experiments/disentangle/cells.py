"""Training and scoring one Figure 4b cell, and running the grid (torch is imported inside the functions).

Protocol (docs/evaluation.md), made concrete:

- Data: :func:`bngan.data.dsprites.load_dsprites` draws ``n_per_class`` random factor combinations per shape
  (the full dSprites has 245,760 per shape, too many to hold as float images), then
  ``Imbalance("minority", minority_classes=(shape,), ir=IR)`` keeps ``n_per_class / IR`` images of the
  minority shape. The seed picks the draw (a fold) and the networks' initialisation; both methods see the same
  images for the same seed.
- Methods: InfoGAN (``reg_mode="infogan"``: the same networks, the regulariser replaced by
  ``Σ MSE(c'_i, c_i)``) and bngan (``bngan_mode``, Eq. 6 by default, with the 'disentangled' structure).
- Representation: ``images -> D(2 * images - 1)["code"]`` (discriminator in eval mode), the ``codes`` codes.
- Metrics: :func:`bngan.evaluation.disentanglement.factor_vae_score` (eval accuracy is the score) and MIG
  from the same ``num_train`` codes; the metric's random state is the seed, so both methods are scored on the
  same factor draws (a paired comparison).

Checkpoints hold the networks only by default (:meth:`TrainedModel.load` reads them, which is all the app's
traversals need); ``checkpoints="full"`` writes :meth:`Trainer.save`'s resumable file (three times larger,
with the optimiser state), ``none`` skips them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bngan.experiments.core import (
    SPEC_FILE,
    Cell,
    CellStore,
    ProgressFn,
    StageFn,
    in_shard,
    run_cells,
    start_job,
    write_json,
)
from bngan.experiments.disentangle import report
from bngan.experiments.disentangle.settings import (
    SHAPES,
    DisentangleSettings,
    grid,
    imbalance_dict,
    reg_mode,
)

if TYPE_CHECKING:
    import torch

    from bngan.config import TrainConfig
    from bngan.data import ImageDataset
    from bngan.jobs import Job, JobRegistry
    from bngan.training import Trainer

CELL_INDENT = 2


def training_data(settings: DisentangleSettings, ir: float, seed: int) -> ImageDataset:
    """The imbalanced dSprites sample of one cell: the same images for every method at a given seed."""
    from bngan.data import Imbalance, make_imbalanced
    from bngan.data.dsprites import load_dsprites

    full = load_dsprites(train=True, n_per_class=settings.n_per_class, seed=seed)
    return make_imbalanced(full, Imbalance(**imbalance_dict(settings.shape, ir)), seed=seed)


def train_config(cell: Cell, settings: DisentangleSettings) -> TrainConfig:
    """The TrainConfig of a cell: only ``reg_mode`` differs between the methods."""
    from bngan.config import TrainConfig
    from bngan.structure import LatentStructure

    return TrainConfig(dataset="dsprites", imbalance=imbalance_dict(settings.shape, cell["ir"]),
                       structure=LatentStructure.preset("disentangled", settings.codes).to_dict(),
                       reg_mode=reg_mode(cell["method"], settings), lambda_reg=settings.lambda_reg,
                       preset=settings.preset, batch_size=settings.batch_size, steps=settings.steps,
                       seed=cell["seed"], sample_every=10**9, checkpoint_every=10**9, device=settings.device)


def train_cell(cell: Cell, settings: DisentangleSettings) -> Trainer:
    from bngan.training import Trainer

    trainer = Trainer(train_config(cell, settings), dataset=training_data(settings, cell["ir"], cell["seed"]))
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


def score(representation_fn: Callable[[Any], Any], settings: DisentangleSettings, seed: int) -> dict[str, Any]:
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
    size, still loads with :meth:`TrainedModel.load`); ``none``: nothing. Returns the path relative to the
    results folder, as the cell records it."""
    if kind == "none":
        return None
    trainer.save(path, include_optimizer=kind == "full")
    return f"{report.CHECKPOINTS_DIR}/{path.name}"


def compute_cell(cell: Cell, settings: DisentangleSettings, out: Path, stage: StageFn | None = None
                 ) -> dict[str, Any]:
    """Train and score one cell and write its checkpoint; returns the cell's record (without its header)."""
    say = stage or (lambda text: None)
    say(f"training {settings.steps} steps")
    start = time.perf_counter()
    trainer = train_cell(cell, settings)
    train_s = time.perf_counter() - start
    say("scoring (FactorVAE, MIG)")
    start = time.perf_counter()
    scores = score(code_head(trainer.discriminator), settings, cell["seed"])
    score_s = time.perf_counter() - start
    checkpoint = save_model(trainer, Path(out) / report.CHECKPOINTS_DIR / f"{cell.key}.pt", settings.checkpoints)
    return {"method": cell["method"], "reg_mode": reg_mode(cell["method"], settings), "ir": cell["ir"],
            "seed": cell["seed"], "minority_shape": SHAPES[settings.shape],
            "train_counts": {SHAPES[c]: n for c, n in trainer.data.class_counts().items()},
            **scores, "steps": trainer.step_count, "train_s": round(train_s, 2),
            "score_s": round(score_s, 2), "device": str(trainer.device), "checkpoint": checkpoint,
            "settings": settings.cell_settings()}


def header(cell: Cell) -> dict[str, Any]:
    """The start of a cell's record: its name and the fingerprint it was computed under."""
    return {"cell": cell.key, "fingerprint": cell.fingerprint}


def run(settings: DisentangleSettings, out: Path, shard: str | tuple[int, int] | None = None,
        progress: ProgressFn | None = None, stop_event: threading.Event | None = None, force: bool = False,
        compute: Callable[[Cell, DisentangleSettings, Path, StageFn], dict] | None = None) -> dict[str, Any]:
    """Run every cell of this shard whose stored result is not this settings' (``force``: every cell), then
    rewrite the reports from all matching cells; returns :func:`report.collect`'s results.

    Every cell's training configuration is built (and so validated: device, preset, λ, batch size) before
    the first one trains. ``compute`` replaces :func:`compute_cell` (tests schedule without training)."""
    out = Path(out)
    compute = compute or compute_cell
    cells = in_shard(grid(settings), shard)
    for cell in cells:
        train_config(cell, settings)
    write_json(out / SPEC_FILE, settings.to_dict(), indent=CELL_INDENT)
    store = CellStore(out, indent=CELL_INDENT)
    run_cells(cells, lambda cell, stage: compute(cell, settings, out, stage), store, progress, stop_event,
              header=header, force=force)
    results = report.collect(out)
    report.write_reports(out, results)
    return results


def start_disentangle(registry: JobRegistry, settings: DisentangleSettings, out: Path,
                      title: str | None = None) -> Job:
    """Run the experiment as a background job of ``registry`` (the app's Disentanglement page uses this)."""
    irs = ", ".join(f"{ir:g}" for ir in settings.irs)
    title = title or (f"disentangle {'+'.join(settings.methods)} · IR {irs} · {len(settings.seeds)} seed(s) · "
                      f"{settings.steps} steps")
    return start_job(registry, "disentangle", title, Path(out),
                     lambda progress, stop: run(settings, out, progress=progress, stop_event=stop))

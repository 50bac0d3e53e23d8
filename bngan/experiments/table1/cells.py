"""Computing Table 1 cells and running an experiment (torch is imported inside the functions that train).

A cell draws its fold (``make_imbalanced(..., seed=fold)``), oversamples it with its method (or fits DGC,
which replaces the CNN), trains the CNN with the fold's seed and the experiment's budget on the result, and
predicts the full official test set. GAN rows that differ only in how they sample share one trained generator
per fold: the first row to need it saves it under ``gans/`` (keyed by :func:`~.settings.gan_key`), the others
load it, so their difference is the sampling alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bngan.evaluation.gan_methods import is_gan, trains_with_augmentation
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
from bngan.experiments.table1 import report
from bngan.experiments.table1.settings import (
    DEFAULT_METHODS,
    ExperimentConfig,
    classifier_budget,
    gan_key,
    grid,
    resolve_sampling_strategy,
    setting_tag,
)

if TYPE_CHECKING:
    from bngan.jobs import Job, JobRegistry

GANS_DIR = "gans"
CLASSICAL = ("none", "ros", "aug", "ros-aug", "smote", "borderline-smote", "adasyn")


def run_experiment(dataset: str | Sequence[str] = "digits", methods: Sequence[str] = DEFAULT_METHODS,
                   folds: int = 3, imbalance: Any = "standard", classifier_epochs: int | None = None,
                   classifier_steps: int | None = None, gan_steps: int = 2000,
                   out_dir: str | os.PathLike = "results/experiment",
                   shard: str | tuple[int, int] | None = None,
                   progress: ProgressFn | None = None, stop_event: threading.Event | None = None,
                   **options: Any) -> dict:
    """Run (the shard's share of) an experiment into ``out_dir`` and return the collected results.

    ``imbalance`` is an :class:`~bngan.data.Imbalance`, its dict, a profile name, or a list of those (one
    table group each, e.g. the IRs of a sweep). ``options`` are the other :class:`ExperimentConfig` fields.
    """
    imbalances = list(imbalance) if isinstance(imbalance, list | tuple) else [imbalance]
    config = ExperimentConfig(datasets=[dataset] if isinstance(dataset, str) else list(dataset),
                              methods=list(methods), folds=folds, imbalances=imbalances,
                              classifier_epochs=classifier_epochs, classifier_steps=classifier_steps,
                              gan_steps=gan_steps, **options)
    return run(config, out_dir, shard=shard, progress=progress, stop_event=stop_event)


def run(config: ExperimentConfig, out_dir: str | os.PathLike, shard: str | tuple[int, int] | None = None,
        progress: ProgressFn | None = None, stop_event: threading.Event | None = None) -> dict:
    """Run every missing cell of this shard (reusing finished ones), then write the reports."""
    folder = Path(out_dir)
    cells = in_shard(grid(config), shard)
    write_json(folder / SPEC_FILE, config.to_dict())
    store = CellStore(folder)
    store.folder.mkdir(parents=True, exist_ok=True)
    context = RunContext(config, folder / GANS_DIR)
    for dataset in dict.fromkeys(c["dataset"] for c in cells):  # fail fast on missing data, not once per cell
        context.dataset(dataset, True)
        context.dataset(dataset, False)
    run_cells(cells, lambda cell, stage: compute_cell(cell, config, context, stage), store, progress, stop_event,
              header=lambda cell: cell_header(cell, config), done=lambda stored, cell: is_done(stored, cell, config),
              describe=lambda cell: describe(cell, config))
    results = report.collect(folder)
    report.write_reports(folder, results)
    return results


def start_evaluation(registry: JobRegistry, config: ExperimentConfig, out_dir: str | os.PathLike,
                     title: str | None = None) -> Job:
    """Run an experiment as a background job of ``registry`` (the app's Evaluate page uses this)."""
    title = title or (f"evaluate {'+'.join(config.datasets)}: {', '.join(config.methods)} × "
                      f"{config.folds} folds")
    return start_job(registry, "evaluate", title, Path(out_dir),
                     lambda progress, stop: run(config, out_dir, progress=progress, stop_event=stop))


def is_done(stored: dict | None, cell: Cell, config: ExperimentConfig) -> bool:
    """A stored cell counts when it matches the settings, did not fail, and has quality if asked for."""
    if stored is None or stored.get("fingerprint") != cell.fingerprint or "error" in stored:
        return False
    if cell["method"] != "dgc" and not set(map(str, config.classifier_snapshots)) <= set(stored.get("budgets", {})):
        return False
    if not config.quality or "cas" in stored.get("quality", {}):  # older quality cells lack the diagnostics
        return True
    imbalance = config.imbalances[cell["setting"]]
    minority = report.table_classes(imbalance, {int(c): n for c, n in stored["train_counts"].items()})
    added = {int(c): n - stored["train_counts"].get(c, 0) for c, n in stored.get("resampled_counts", {}).items()}
    return not any(added.get(c, 0) > 0 for c in minority)  # nothing to measure: done


def describe(cell: Cell, config: ExperimentConfig) -> str:
    return (f"{cell['dataset']} · {setting_tag(config.imbalances[cell['setting']])} · fold {cell['fold']} · "
            f"{cell['method']}")


def cell_header(cell: Cell, config: ExperimentConfig) -> dict:
    """The start of a cell's record: what it is, and the fingerprint it was computed under."""
    return {"key": cell.key, "index": cell.index, "dataset": cell["dataset"], "setting": cell["setting"],
            "imbalance": config.imbalances[cell["setting"]], "fold": cell["fold"], "method": cell["method"],
            "fingerprint": cell.fingerprint}


class RunContext:
    """Data sets loaded once per run (the loaders cache too; this keeps the splits together), and where
    trained generators are shared between rows (``gan_dir``; None: not shared)."""

    def __init__(self, config: ExperimentConfig, gan_dir: Path | None = None) -> None:
        self.config = config
        self.gan_dir = gan_dir
        self._data: dict[tuple[str, bool], Any] = {}

    def gan_path(self, cell: Cell) -> Path | None:
        """Where this GAN row's trained generator is (or will be) saved for the rows that share it."""
        if self.gan_dir is None or not is_gan(cell["method"]):
            return None
        return self.gan_dir / f"{cell['dataset']}__fold{cell['fold']}__{gan_key(cell, self.config)}.pt"

    def dataset(self, name: str, train: bool) -> Any:
        from bngan.data import load_dataset

        if (name, train) not in self._data:
            self._data[name, train] = load_dataset(name, train=train, root=self.config.data_dir,
                                                   image_size=self.config.image_size)
        return self._data[name, train]


def fold_split(cell: Cell, config: ExperimentConfig, context: RunContext) -> tuple[Any, Any, Any]:
    """The cell's imbalanced training set (its fold's seeded draw), the full training set and the test set."""
    from bngan.data import Imbalance, make_imbalanced

    train_full = context.dataset(cell["dataset"], True)
    test = context.dataset(cell["dataset"], False)
    subset = make_imbalanced(train_full, Imbalance(**config.imbalances[cell["setting"]]), seed=cell["fold"])
    return subset, train_full, test


def compute_cell(cell: Cell, config: ExperimentConfig, context: RunContext | None = None,
                 stage: StageFn | None = None) -> dict:
    """Draw the fold, oversample (or fit DGC), train the CNN, predict the test set, measure."""
    from bngan.evaluation.metrics import classification_metrics

    context = context or RunContext(config)
    say = stage or (lambda text: None)
    say("loading data")
    subset, train_full, test = fold_split(cell, config, context)
    x, y = subset.images.numpy(), subset.labels.numpy()
    counts = {int(c): int(n) for c, n in subset.class_counts().items()}
    record = {"class_names": list(train_full.class_names), "train_counts": counts, "n_test": len(test)}
    start = time.perf_counter()
    if cell["method"] == "dgc":
        predicted, extra = _fit_predict_dgc(cell, config, x, y, test, say)
    else:
        predicted, extra = _oversample_fit_predict(cell, config, x, y, counts, test, context, say)
    record.update(extra)
    record["metrics"] = classification_metrics(test.labels.numpy(), predicted, train_full.num_classes)
    record["seconds"] = time.perf_counter() - start
    return record


def _fit_predict_dgc(cell: Cell, config: ExperimentConfig, x: np.ndarray, y: np.ndarray, test: Any,
                     say: StageFn) -> tuple[np.ndarray, dict]:
    from bngan.evaluation.dgc import DGCClassifier

    say("training DGC")
    model = DGCClassifier(epochs=config.dgc_epochs, width=config.dgc_width, max_steps=config.dgc_steps,
                          num_draws=config.dgc_draws, lr=config.dgc_lr,
                          random_state=cell["fold"], device=config.device)
    model.fit(x, y)
    say("predicting the test set")
    predicted = np.asarray(model.predict(test.images), dtype=np.int64)
    return predicted, {"resampled_counts": _counts(y), "dgc_steps": int(model.steps_),
                       "dgc_epochs": int(model.epochs_)}


def _counts(labels: np.ndarray) -> dict[int, int]:
    return {int(c): int(n) for c, n in zip(*np.unique(labels, return_counts=True))}


def make_method_sampler(method: str, config: ExperimentConfig, fold: int, counts: Mapping[int, int],
                        minority: Sequence[int], checkpoint: Path | None = None) -> Any:
    """The oversampler of a row, with the run's sampling strategy and (for GAN rows) the GAN settings and the
    table's ``minority`` classes; ``checkpoint`` makes a GAN row use that trained generator instead of
    training one."""
    import bngan.evaluation.gan_samplers  # noqa: F401  (registers the GAN rows)
    from bngan.evaluation.baselines import make_oversampler

    options: dict[str, Any] = {}
    if is_gan(method):
        options = {"steps": config.gan_steps, "preset": config.gan_preset,
                   "batch_size": config.gan_batch_size, "device": config.device, "minority_classes": list(minority)}
        if checkpoint is not None:
            options["checkpoint"] = str(checkpoint)
    elif method == "deepsmote":
        options = {"steps": config.deepsmote_steps, "pairing": config.deepsmote_pairing,
                   "device": "cpu" if config.device == "auto" else config.device}
    strategy = resolve_sampling_strategy(config.sampling_strategy, counts)
    return make_oversampler(method, random_state=fold, sampling_strategy=strategy, **options)


def _oversample_fit_predict(cell: Cell, config: ExperimentConfig, x: np.ndarray, y: np.ndarray,
                            counts: Mapping[int, int], test: Any, context: RunContext,
                            say: StageFn) -> tuple[np.ndarray, dict]:
    from bngan.checkpoint import CheckpointError
    from bngan.evaluation.classifier import predict, train_classifier
    from bngan.evaluation.diagnostics import cas_summary, cas_training_set
    from bngan.evaluation.metrics import classification_metrics

    method, fold = cell["method"], cell["fold"]
    t0 = time.perf_counter()
    shared = context.gan_path(cell) if sorted(counts) == list(range(len(counts))) else None
    reuse = shared is not None and shared.exists()
    say("oversampling" + ("" if method in CLASSICAL else
                          f" (autoencoder, {config.deepsmote_steps} steps)" if method == "deepsmote" else
                          " (shared GAN)" if reuse else f" (GAN, {config.gan_steps} steps)"))
    minority = report.table_classes(config.imbalances[cell["setting"]], counts)
    sampler = make_method_sampler(method, config, fold, counts, minority, checkpoint=shared if reuse else None)
    if not reuse and is_gan(method):
        sampler.set_params(progress=lambda step, total: say(f"oversampling: GAN step {step} / {total}"))
    try:
        x_res, y_res = sampler.fit_resample(x, y)
    except CheckpointError:  # a damaged shared file: train this row's generator afresh
        if not reuse:
            raise
        reuse = False
        sampler = make_method_sampler(method, config, fold, counts, minority)
        if is_gan(method):
            sampler.set_params(progress=lambda step, total: say(f"oversampling: GAN step {step} / {total}"))
        x_res, y_res = sampler.fit_resample(x, y)
    if shared is not None and not reuse:
        sampler.trainer_.save(shared, include_optimizer=False)
    x_res, y_res = np.asarray(x_res, dtype=np.float32), np.asarray(y_res, dtype=np.int64)
    oversample_s = time.perf_counter() - t0
    budget = classifier_budget(config, len(x))
    say(f"training the CNN ({budget['steps'] or str(budget['epochs']) + ' epochs'} steps)")

    def fit(images: np.ndarray, labels: np.ndarray, **options: Any) -> Any:
        """The experiment's CNN (budget, seed, augmentation of this row) on these images."""
        return train_classifier(images, labels, len(counts), epochs=budget["epochs"], steps=budget["steps"],
                                batch_size=config.classifier_batch_size, lr=config.classifier_lr, seed=fold,
                                device=config.device, augment=trains_with_augmentation(method),
                                augmentation=config.cnn_augmentation, **options)

    def scores(model: Any) -> dict:
        return classification_metrics(test.labels.numpy(), predict(model, test.images), len(counts))

    budgets: dict[str, dict] = {}

    def measure(step: int, snapshot: Any) -> None:
        say(f"training the CNN: measuring the {step}-step budget")
        budgets[str(step)] = scores(snapshot)

    model = fit(x_res, y_res, snapshots=config.classifier_snapshots, on_snapshot=measure,
                progress=lambda epoch, epochs, loss: say(f"training the CNN: epoch {epoch} / {epochs}"))
    say("predicting the test set")
    predicted = predict(model, test.images)
    extra: dict[str, Any] = {
        "budgets": budgets,
        "resampled_counts": _counts(y_res), "n_added": len(y_res) - len(y),
        "classifier_steps": budget["steps"], "oversample_seconds": oversample_s,
        "classifier_epochs": None if budget["steps"] else budget["epochs"],
    }
    added_x, added_y = added_minority(x_res, y_res, len(y), minority)
    if config.quality and len(added_y):
        say("measuring sample quality: fidelity, FID, PRDC, copying, real-vs-added classifier")
        extra["quality"] = image_quality(cell, config, context, (x, y), (added_x, added_y), test, minority)
        say("measuring sample quality: CAS (a CNN that sees the minority classes only as added images)")
        extra["quality"]["cas"] = cas_summary(scores(fit(*cas_training_set(x, y, added_x, added_y, minority))),
                                              minority)
    return predicted, extra


def added_minority(x_res: np.ndarray, y_res: np.ndarray, n_real: int,
                   minority: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The images a sampler appended (after the ``n_real`` originals) to the ``minority`` classes."""
    added = n_real + np.flatnonzero(np.isin(y_res[n_real:], list(minority)))
    return x_res[added], y_res[added]


def image_quality(cell: Cell, config: ExperimentConfig, context: RunContext,
                  fold_data: tuple[np.ndarray, np.ndarray], added: tuple[np.ndarray, np.ndarray], test: Any,
                  minority: list[int]) -> dict:
    """Fidelity, FID and PRDC of the added minority images against the real training images in the judge's
    space, and the copying and real-vs-added diagnostics (:mod:`bngan.evaluation.diagnostics`).

    Only the table's minority classes are measured ("overall" pools them): each Fréchet distance needs a
    1000×1000 matrix square root (seconds on a CPU), and the minority images are the ones the paper is about.
    """
    from bngan.evaluation.classifier import judge_classifier
    from bngan.evaluation.diagnostics import diagnose
    from bngan.evaluation.quality import sample_quality

    judge = judge_classifier(cell["dataset"], image_size=config.image_size, device=config.device,
                             data_dir=config.data_dir)
    real = context.dataset(cell["dataset"], True)
    quality = sample_quality(judge, real.images, real.labels, *added,
                             max_samples=config.quality_max_samples, random_state=cell["fold"])
    quality["judge_test_accuracy"] = judge.judge_info.get("test_accuracy")
    quality["per_class"] = {str(c): v for c, v in quality["per_class"].items()}
    quality.update(diagnose(judge, *fold_data, test.images.numpy(), test.labels.numpy(), *added, minority,
                            random_state=cell["fold"]))
    return quality

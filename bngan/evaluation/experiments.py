"""Experiments of DESIGN §3: Table 1 (methods × minority classes) and Figure 3 (minority scores against IR).

An experiment is a grid of independent *cells*, one per (data set, imbalance setting, fold, method). A fold is
an independent seeded draw of the imbalanced training subset (``make_imbalanced(..., seed=fold)``); every
cell of a fold sees the same images and trains the same CNN (same seed, same number of optimiser steps) on
the method's output, then predicts the full official test set. Only the oversampler differs between rows.

Why cells: a full sweep is many GPU-hours. Each cell writes its own JSON as soon as it is done, so a crashed
or stopped run loses at most one cell, a rerun skips what is done, and ``--shard i/n`` runs only cells with
``index % n == i``, so a scheduler can spread one sweep over ``n`` machines writing into one folder. The
reports (``results.json``, ``results.csv``, ``folds.csv``, ``table.md``, ``figure.html``) are rebuilt from the
cells after every run (marked partial while cells are missing) or by ``--collect-only``.

Choices worth knowing:

* Classifier budget: by default a fixed number of optimiser steps for every row, 8 epochs of the imbalanced
  split (``8 × ceil(n / 64)``; ≈ 1130 steps on the MNIST standard split). At a fixed *epoch* count a set
  balanced to 40,000 images would get 4.4× the updates of the 9,000 images it came from, and an undertrained
  "no oversampling" CNN would look worse than it is. ``--classifier-epochs`` restores the epoch schedule.
* Figure 3 sweep: the paper "chooses specific classes as the minority and removes samples from those classes
  until IR (largest / smallest class) reaches a threshold", with 6 IRs from 50 to 500. So the sweep uses the
  ``minority`` protocol: classes 8 and 9 keep ``largest / IR`` images, every other class stays whole, at
  IR 50, 100, 200, 300, 400, 500 (``--irs`` changes them). It is not the standard 4000..40 profile rescaled.
* Table columns: recall and F1 of each minority class (the standard split's 8 and 9: MNIST "8"/"9",
  Fashion-MNIST "Bag"/"Ankle boot"), macro-F1, balanced accuracy (ACSA) and G-mean, as mean ± std over
  folds, with a two-sided paired t-test (pairs = folds) against the reference row (``bngan``).
* GAN rows that differ only in how they sample (``bngan`` and ``bngan-mix``) share one trained generator per
  fold: the first row to need it saves it under ``gans/`` (keyed by everything that decides the training),
  the others load it, so their difference is the sampling alone and the GAN is trained once.
* DGC is an end-to-end classifier, not an oversampler: its row replaces the CNN by DGC.
* ``sampling_strategy``: imbalanced-learn's strings, or a fraction ``f`` in (0, 1] that grows every class to
  at least ``f`` × the largest class (partial balancing; imbalanced-learn's own float form is binary-only).
* ``--quality`` adds fidelity / FID / precision-recall-density-coverage of the *added* images (judge CNN's
  feature space) to every row that adds images; "ros" duplicates real images, so its numbers are a ceiling.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bngan.evaluation.gan_samplers import GAN_METHODS, is_gan, training_settings  # registers the GAN rows
from bngan.evaluation.metrics import format_mean_std, paired_ttest, summarize
from bngan.files import atomic_write_text
from bngan.files import parse_shard as split_shard

if TYPE_CHECKING:
    from bngan.jobs import Job, JobRegistry

EXPERIMENTS = ("table1", "ir-sweep", "custom")
DEFAULT_METHODS = ("none", "ros", "smote", "infogan", "bngan")
SWEEP_IRS = (50, 100, 200, 300, 400, 500)
STANDARD_MINORITY = (8, 9)  # the two smallest classes of the standard split (IR 67 and 100)
CLASSIFIER_EPOCHS_EQUIVALENT = 8  # default budget: this many epochs of the imbalanced split, as steps
SCALAR_COLUMNS = (("macro_f1", "macro-F1"), ("balanced_accuracy", "ACSA"), ("g_mean", "G-mean"))
CLASS_METRICS = (("recall", "recall"), ("f1", "F1"))
SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "g_mean", "g_macro", "recall", "precision", "f1",
                "confusion")
QUALITY_KEYS = ("fidelity", "fid", "precision", "recall", "density", "coverage")
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "digits"}
ALPHA = 0.05
BETTER, WORSE = "•", "◦"  # reference significantly better / worse than this row (paired t-test, 95%)
CELLS_DIR = "cells"
GANS_DIR = "gans"
SPEC_FILE = "experiment.json"

ProgressFn = Callable[[dict], None]
"""``progress(event)``: ``event`` has ``event`` ('start', 'cell_start', 'stage', 'cell_done', 'cell_skipped',
'cell_failed', 'stopped', 'finished'), ``done``, ``total``, ``message`` and, for cells, ``cell`` (its key)
and ``result`` (the cell's record)."""


# ------------------------------------------------------------------------------------------------ settings

@dataclass
class ExperimentConfig:
    """Everything that decides an experiment's cells and their results (saved as ``experiment.json``)."""

    name: str = "custom"
    datasets: list[str] = field(default_factory=lambda: ["digits"])
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    folds: int = 3
    imbalances: list[dict] = field(default_factory=lambda: [{"profile": "standard"}])
    classifier_steps: int | None = None  # None (and no epochs): 8 epochs of the imbalanced split, as steps
    classifier_epochs: int | None = None
    classifier_batch_size: int = 64
    classifier_lr: float = 1e-4
    gan_steps: int = 2000
    gan_preset: str = "fast"
    gan_batch_size: int = 64
    sampling_strategy: str | float = "auto"
    dgc_epochs: int = 50
    dgc_width: float = 1.0
    dgc_steps: int | None = None
    dgc_draws: int = 10  # Monte-Carlo draws per class at test time (the paper's 10; fewer = faster, noisier)
    dgc_lr: float = 1e-5  # the paper's; short CPU budgets need more
    quality: bool = False
    quality_max_samples: int = 2000
    reference: str = "bngan"
    image_size: int | None = None
    data_dir: str | None = None
    device: str = "auto"  # not part of a cell's fingerprint: a cell computed on a GPU is reused on a CPU

    def __post_init__(self) -> None:
        from bngan.data import DATASETS, Imbalance

        if isinstance(self.datasets, str):
            self.datasets = [d.strip() for d in self.datasets.split(",") if d.strip()]
        self.methods = list(dict.fromkeys(self.methods))  # keep order, drop repeats
        self.imbalances = [_imbalance_dict(i) for i in self.imbalances]
        for imbalance in self.imbalances:
            Imbalance(**imbalance)  # validates
        if not self.datasets or not self.methods or not self.imbalances:
            raise ValueError("an experiment needs at least one data set, one method and one imbalance "
                             "setting")
        bad = [d for d in self.datasets if d not in DATASETS or d == "folder"]
        if bad:
            raise ValueError(f"unknown data set(s) {', '.join(bad)}; choose from digits, mnist, "
                             "fashion-mnist")
        unknown = [m for m in self.methods if m not in available_methods()]
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(available_methods())}")
        if not isinstance(self.folds, int) or self.folds < 1:
            raise ValueError(f"folds must be a positive integer, got {self.folds!r}")
        for name in ("classifier_steps", "classifier_epochs", "dgc_steps", "dgc_draws"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.classifier_steps is not None and self.classifier_epochs is not None:
            raise ValueError("give classifier steps or classifier epochs, not both")
        if self.gan_steps < 1:
            raise ValueError(f"gan_steps must be positive, got {self.gan_steps}")
        if not self.dgc_lr > 0:
            raise ValueError(f"dgc_lr must be positive, got {self.dgc_lr}")
        self.sampling_strategy = parse_sampling_strategy(self.sampling_strategy)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> ExperimentConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _imbalance_dict(value: Any) -> dict:
    """An :class:`~bngan.data.Imbalance`, its dict, or a profile name, as the Imbalance's dict."""
    from bngan.data import Imbalance

    if isinstance(value, Imbalance):
        return value.to_dict()
    if isinstance(value, str):
        return Imbalance(value).to_dict()
    return Imbalance(**dict(value)).to_dict()


def available_methods() -> list[str]:
    """Every registered oversampler (the GAN rows included) plus ``dgc``."""
    from bngan.evaluation.baselines import OVERSAMPLERS

    return [*OVERSAMPLERS, "dgc"]


def parse_sampling_strategy(value: Any) -> str | float:
    """'auto' and imbalanced-learn's other strings as they are; a number (or numeric text) as a fraction."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("auto", "minority", "not majority", "not minority", "all"):
            return text
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"sampling strategy must be auto, minority, not majority, not minority, all "
                             f"or a fraction in (0, 1]; got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < float(value) <= 1:
        raise ValueError(f"a fractional sampling strategy must be in (0, 1], got {value!r}")
    return float(value)


def resolve_sampling_strategy(strategy: str | float, counts: Mapping[int, int]) -> str | dict[int, int]:
    """A fraction ``f`` becomes ``{class: max(n_c, round(f * n_max))}`` for the classes that grow."""
    if isinstance(strategy, str):
        return strategy
    top = max(counts.values())
    target = {int(c): max(int(n), round(strategy * top)) for c, n in counts.items()}
    return {c: n for c, n in target.items() if n > counts[c]}


# ------------------------------------------------------------------------------------------------ the grid

@dataclass(frozen=True)
class Cell:
    """One (data set, imbalance setting, fold, method) of the grid; ``index`` decides its shard."""

    index: int
    dataset: str
    setting: int  # index into ExperimentConfig.imbalances
    fold: int
    method: str

    def key(self, config: ExperimentConfig) -> str:
        tag = setting_tag(config.imbalances[self.setting])
        return f"{self.dataset}__{tag}__fold{self.fold}__{self.method}"


def setting_tag(imbalance: Mapping) -> str:
    """A short, file-name-safe name of an imbalance setting."""
    profile = imbalance.get("profile", "standard")
    if imbalance.get("counts") is not None:
        digest = hashlib.sha1(json.dumps(list(imbalance["counts"])).encode()).hexdigest()[:8]
        return f"counts-{digest}"
    if profile == "minority":
        classes = "-".join(str(c) for c in imbalance.get("minority_classes", ()))
        return f"ir{float(imbalance.get('ir', 100)):g}-m{classes}"
    return str(profile)


def grid(config: ExperimentConfig) -> list[Cell]:
    """All cells in a fixed order: data set, setting, fold, then method (so shards mix methods and folds)."""
    cells = []
    for dataset in config.datasets:
        for setting in range(len(config.imbalances)):
            for fold in range(config.folds):
                for method in config.methods:
                    cells.append(Cell(len(cells), dataset, setting, fold, method))
    return cells


def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``'i/n'`` (0 <= i < n) as ``(i, n)``; ``None`` or a tuple pass through."""
    return text if text is None or isinstance(text, tuple) else split_shard(text)


def fingerprint(cell: Cell, config: ExperimentConfig) -> str:
    """A hash of every setting that decides this cell's result: a cell is reused only if it matches."""
    parts: dict[str, Any] = {
        "dataset": cell.dataset, "imbalance": config.imbalances[cell.setting], "fold": cell.fold,
        "method": cell.method, "image_size": config.image_size,
    }
    if cell.method == "dgc":
        # the learning rate joined later: at its default it leaves earlier cells' fingerprints as they were
        parts.update(dgc=[config.dgc_epochs, config.dgc_width, config.dgc_steps, config.dgc_draws,
                          *([config.dgc_lr] if config.dgc_lr != 1e-5 else [])])
    else:
        parts.update(classifier=[config.classifier_steps, config.classifier_epochs,
                                 config.classifier_batch_size, config.classifier_lr],
                     strategy=config.sampling_strategy)
    if is_gan(cell.method):
        parts.update(gan=[config.gan_steps, config.gan_preset, config.gan_batch_size],
                     settings=GAN_METHODS[cell.method])
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def gan_key(cell: Cell, config: ExperimentConfig) -> str:
    """A hash of what decides a GAN row's trained generator: rows with equal keys can share one."""
    parts = {"dataset": cell.dataset, "imbalance": config.imbalances[cell.setting], "fold": cell.fold,
             "image_size": config.image_size, "settings": training_settings(cell.method),
             "gan": [config.gan_steps, config.gan_preset, config.gan_batch_size]}
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------- running

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
    """Run every missing cell of this shard (skipping finished ones), then write the reports."""
    folder = Path(out_dir)
    (folder / CELLS_DIR).mkdir(parents=True, exist_ok=True)
    _write_json(folder / SPEC_FILE, config.to_dict())
    part = parse_shard(shard)
    cells = [c for c in grid(config) if part is None or c.index % part[1] == part[0]]
    notify = progress or (lambda event: None)
    notify({"event": "start", "done": 0, "total": len(cells), "message": f"{len(cells)} cells"})
    context = _RunContext(config, folder / GANS_DIR)
    for dataset in dict.fromkeys(c.dataset for c in cells):  # fail fast on missing data, not once per cell
        context.dataset(dataset, True)
        context.dataset(dataset, False)
    for done, cell in enumerate(cells):
        if stop_event is not None and stop_event.is_set():
            notify({"event": "stopped", "done": done, "total": len(cells), "message": "stopped"})
            break
        _run_or_skip(cell, config, folder, context, notify, done, len(cells))
    else:
        notify({"event": "finished", "done": len(cells), "total": len(cells), "message": "all cells done"})
    results = collect(folder)
    write_reports(folder, results)
    return results


def _run_or_skip(cell: Cell, config: ExperimentConfig, folder: Path, context: _RunContext, notify: ProgressFn,
                 done: int, total: int) -> None:
    key = cell.key(config)
    path = folder / CELLS_DIR / f"{key}.json"
    if _is_done(_read_json(path), cell, config):
        stored = _read_json(path)
        notify({"event": "cell_skipped", "cell": key, "result": stored, "done": done + 1, "total": total,
                "message": f"{key}: already done"})
        return
    notify({"event": "cell_start", "cell": key, "done": done, "total": total,
            "message": _describe(cell, config)})

    def stage(text: str) -> None:
        notify({"event": "stage", "cell": key, "done": done, "total": total,
                "message": f"{_describe(cell, config)}: {text}"})

    try:
        record = run_cell(cell, config, context, stage)
    except (ValueError, RuntimeError) as exc:  # one failing cell (e.g. SMOTE on a 1-image class) is recorded
        record = {**_cell_header(cell, config), "error": f"{type(exc).__name__}: {exc}"}
        _write_json(path, record)
        notify({"event": "cell_failed", "cell": key, "result": record, "done": done + 1, "total": total,
                "message": f"{key} failed: {exc}"})
        return
    _write_json(path, record)
    notify({"event": "cell_done", "cell": key, "result": record, "done": done + 1, "total": total,
            "message": f"{_describe(cell, config)}: done"})


def _is_done(stored: dict | None, cell: Cell, config: ExperimentConfig) -> bool:
    """A stored cell counts when it matches the settings, did not fail, and has quality if asked for."""
    if stored is None or stored.get("fingerprint") != fingerprint(cell, config) or "error" in stored:
        return False
    if not config.quality or "quality" in stored:
        return True
    minority = table_classes(config.imbalances[cell.setting], {int(c): n for c, n in stored["train_counts"].items()})
    added = {int(c): n - stored["train_counts"].get(c, 0) for c, n in stored.get("resampled_counts", {}).items()}
    return not any(added.get(c, 0) > 0 for c in minority)  # nothing to measure: done


def _describe(cell: Cell, config: ExperimentConfig) -> str:
    return (f"{cell.dataset} · {setting_tag(config.imbalances[cell.setting])} · fold {cell.fold} · "
            f"{cell.method}")


class _RunContext:
    """Data sets and judges loaded once per run (the loaders cache too; this keeps the splits together)."""

    def __init__(self, config: ExperimentConfig, gan_dir: Path | None = None) -> None:
        self.config = config
        self.gan_dir = gan_dir  # where trained generators are shared between rows (None: not shared)
        self._data: dict[tuple[str, bool], Any] = {}

    def gan_path(self, cell: Cell) -> Path | None:
        """Where this GAN row's trained generator is (or will be) saved for the rows that share it."""
        if self.gan_dir is None or not is_gan(cell.method):
            return None
        return self.gan_dir / f"{cell.dataset}__fold{cell.fold}__{gan_key(cell, self.config)}.pt"

    def dataset(self, name: str, train: bool) -> Any:
        from bngan.data import load_dataset

        if (name, train) not in self._data:
            self._data[name, train] = load_dataset(name, train=train, root=self.config.data_dir,
                                                   image_size=self.config.image_size)
        return self._data[name, train]


def _cell_header(cell: Cell, config: ExperimentConfig) -> dict:
    return {"key": cell.key(config), "index": cell.index, "dataset": cell.dataset, "setting": cell.setting,
            "imbalance": config.imbalances[cell.setting], "fold": cell.fold, "method": cell.method,
            "fingerprint": fingerprint(cell, config)}


def classifier_budget(config: ExperimentConfig, n_imbalanced: int) -> dict[str, int | None]:
    """Steps or epochs for the CNN: the default gives every row ``8 × ceil(n_imbalanced / batch)`` steps."""
    if config.classifier_epochs is not None:
        return {"epochs": config.classifier_epochs, "steps": None}
    if config.classifier_steps is not None:
        return {"epochs": CLASSIFIER_EPOCHS_EQUIVALENT, "steps": config.classifier_steps}
    steps = CLASSIFIER_EPOCHS_EQUIVALENT * math.ceil(n_imbalanced / config.classifier_batch_size)
    return {"epochs": CLASSIFIER_EPOCHS_EQUIVALENT, "steps": steps}


def run_cell(cell: Cell, config: ExperimentConfig, context: _RunContext | None = None,
             stage: Callable[[str], None] | None = None) -> dict:
    """Draw the fold, oversample (or fit DGC), train the CNN, predict the test set, measure."""
    from bngan.data import Imbalance, make_imbalanced
    from bngan.evaluation.metrics import classification_metrics

    context = context or _RunContext(config)
    say = stage or (lambda text: None)
    say("loading data")
    train_full = context.dataset(cell.dataset, True)
    test = context.dataset(cell.dataset, False)
    subset = make_imbalanced(train_full, Imbalance(**config.imbalances[cell.setting]), seed=cell.fold)
    x, y = subset.images.numpy(), subset.labels.numpy()
    counts = {int(c): int(n) for c, n in subset.class_counts().items()}
    record = {**_cell_header(cell, config), "class_names": list(train_full.class_names),
              "train_counts": counts, "n_test": len(test)}
    start = time.perf_counter()
    if cell.method == "dgc":
        predicted, extra = _fit_predict_dgc(cell, config, x, y, test, say)
    else:
        predicted, extra = _oversample_fit_predict(cell, config, x, y, counts, test, context, say)
    record.update(extra)
    record["metrics"] = classification_metrics(test.labels.numpy(), predicted, train_full.num_classes)
    record["seconds"] = time.perf_counter() - start
    return record


def _fit_predict_dgc(cell: Cell, config: ExperimentConfig, x: np.ndarray, y: np.ndarray, test: Any,
                     say: Callable[[str], None]) -> tuple[np.ndarray, dict]:
    from bngan.evaluation.dgc import DGCClassifier

    say("training DGC")
    model = DGCClassifier(epochs=config.dgc_epochs, width=config.dgc_width, max_steps=config.dgc_steps,
                          num_draws=config.dgc_draws, lr=config.dgc_lr,
                          random_state=cell.fold, device=config.device)
    model.fit(x, y)
    say("predicting the test set")
    predicted = np.asarray(model.predict(test.images), dtype=np.int64)
    return predicted, {"resampled_counts": _counts(y), "dgc_steps": int(model.steps_),
                       "dgc_epochs": int(model.epochs_)}


def _counts(labels: np.ndarray) -> dict[int, int]:
    return {int(c): int(n) for c, n in zip(*np.unique(labels, return_counts=True))}


def make_method_sampler(method: str, config: ExperimentConfig, fold: int, counts: Mapping[int, int],
                        checkpoint: Path | None = None) -> Any:
    """The oversampler of a row, with the run's sampling strategy and (for GAN rows) the GAN settings;
    ``checkpoint`` makes a GAN row use that trained generator instead of training one."""
    from bngan.evaluation.baselines import make_oversampler

    options: dict[str, Any] = {}
    if is_gan(method):
        options = {"steps": config.gan_steps, "preset": config.gan_preset,
                   "batch_size": config.gan_batch_size, "device": config.device}
        if checkpoint is not None:
            options["checkpoint"] = str(checkpoint)
    strategy = resolve_sampling_strategy(config.sampling_strategy, counts)
    return make_oversampler(method, random_state=fold, sampling_strategy=strategy, **options)


def _oversample_fit_predict(cell: Cell, config: ExperimentConfig, x: np.ndarray, y: np.ndarray,
                            counts: Mapping[int, int], test: Any, context: _RunContext,
                            say: Callable[[str], None]) -> tuple[np.ndarray, dict]:
    from bngan.checkpoint import CheckpointError
    from bngan.evaluation.classifier import predict, train_classifier

    t0 = time.perf_counter()
    shared = context.gan_path(cell) if sorted(counts) == list(range(len(counts))) else None
    reuse = shared is not None and shared.exists()
    say("oversampling" + ("" if cell.method in _CLASSICAL else
                          " (shared GAN)" if reuse else f" (GAN, {config.gan_steps} steps)"))
    sampler = make_method_sampler(cell.method, config, cell.fold, counts, checkpoint=shared if reuse else None)
    try:
        x_res, y_res = sampler.fit_resample(x, y)
    except CheckpointError:  # a damaged shared file: train this row's generator afresh
        if not reuse:
            raise
        reuse = False
        sampler = make_method_sampler(cell.method, config, cell.fold, counts)
        x_res, y_res = sampler.fit_resample(x, y)
    if shared is not None and not reuse:
        sampler.trainer_.save(shared, include_optimizer=False)
    x_res, y_res = np.asarray(x_res, dtype=np.float32), np.asarray(y_res, dtype=np.int64)
    oversample_s = time.perf_counter() - t0
    budget = classifier_budget(config, len(x))
    say(f"training the CNN ({budget['steps'] or str(budget['epochs']) + ' epochs'} steps)")
    model = train_classifier(x_res, y_res, len(counts), epochs=budget["epochs"], steps=budget["steps"],
                             batch_size=config.classifier_batch_size, lr=config.classifier_lr, seed=cell.fold,
                             device=config.device)
    say("predicting the test set")
    predicted = predict(model, test.images)
    extra: dict[str, Any] = {
        "resampled_counts": _counts(y_res), "n_added": len(y_res) - len(y),
        "classifier_steps": budget["steps"], "oversample_seconds": oversample_s,
        "classifier_epochs": None if budget["steps"] else budget["epochs"],
    }
    fakes = np.flatnonzero(np.isin(y_res[len(y):], table_classes(config.imbalances[cell.setting], counts)))
    if config.quality and len(fakes):
        say("measuring sample quality")
        chosen = fakes + len(y)
        extra["quality"] = _quality(cell, config, x_res[chosen], y_res[chosen], context)
    return predicted, extra


_CLASSICAL = ("none", "ros", "smote", "borderline-smote", "adasyn")


def _quality(cell: Cell, config: ExperimentConfig, fakes: np.ndarray, fake_labels: np.ndarray,
             context: _RunContext) -> dict:
    """Fidelity, FID and PRDC of the added images against the real training images, in the judge's space.

    Only the table's minority classes are measured ("overall" pools them): each Fréchet distance needs a
    1000×1000 matrix square root (seconds on a CPU), and the minority images are the ones the paper is about.
    """
    from bngan.evaluation.classifier import judge_classifier
    from bngan.evaluation.quality import sample_quality

    judge = judge_classifier(cell.dataset, image_size=config.image_size, device=config.device)
    real = context.dataset(cell.dataset, True)
    quality = sample_quality(judge, real.images, real.labels, fakes, fake_labels,
                             max_samples=config.quality_max_samples, random_state=cell.fold)
    quality["judge_test_accuracy"] = judge.judge_info.get("test_accuracy")
    quality["per_class"] = {str(c): v for c, v in quality["per_class"].items()}
    return quality


# ---------------------------------------------------------------------------------------------- collecting

def load_cells(out_dir: str | os.PathLike) -> list[dict]:
    """Every readable cell record in ``out_dir/cells`` (unreadable files are skipped, not fatal)."""
    folder = Path(out_dir) / CELLS_DIR
    records = [_read_json(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return [r for r in records if isinstance(r, dict)]


def collect(out_dir: str | os.PathLike, reference: str | None = None) -> dict:
    """The results of an experiment folder, from its ``experiment.json`` and whatever cells exist.

    ``reference`` picks another row for the t-tests and is saved in ``experiment.json``, so the folder's
    reports and spec keep agreeing (no cell depends on it: nothing is rerun)."""
    spec_path = Path(out_dir) / SPEC_FILE
    spec = _read_json(spec_path)
    if spec is None:
        raise ValueError(f"{out_dir} is not an experiment folder (no {SPEC_FILE})")
    config = ExperimentConfig.from_dict(spec)
    if reference is not None and reference != config.reference:
        if reference not in config.methods:
            raise ValueError(f"reference {reference!r} is not a method of {out_dir}: "
                             f"choose one of {', '.join(config.methods)}")
        config.reference = reference
        _write_json(spec_path, config.to_dict())
    return aggregate(load_cells(out_dir), config)


def aggregate(records: Sequence[dict], config: ExperimentConfig) -> dict:
    """Summaries per (data set, setting, method) over folds, with paired t-tests against the reference."""
    expected = {cell.key(config): cell for cell in grid(config)}
    valid, failures, stale = {}, [], []
    for record in records:
        cell = expected.get(record.get("key"))
        if cell is None:
            continue
        if record.get("fingerprint") != fingerprint(cell, config):
            stale.append(record["key"])
        elif "error" in record:
            failures.append({"cell": record["key"], "error": record["error"]})
        else:
            valid[record["key"]] = record
    groups = []
    for dataset in config.datasets:
        for setting in range(len(config.imbalances)):
            mine = [valid[k] for k, c in expected.items()
                    if c.dataset == dataset and c.setting == setting and k in valid]
            groups.append(_group(dataset, setting, config, mine))
    missing = [k for k in expected if k not in valid]
    return {"experiment": config.to_dict(), "complete": not missing, "n_cells": len(expected),
            "n_done": len(valid), "missing": missing, "failures": failures, "stale": stale, "groups": groups}


def _group(dataset: str, setting: int, config: ExperimentConfig, records: list[dict]) -> dict:
    imbalance = config.imbalances[setting]
    first = records[0] if records else {}
    counts = {int(c): int(n) for c, n in first.get("train_counts", {}).items()}
    minority = table_classes(imbalance, counts)
    top = max(counts.values(), default=0)
    group: dict[str, Any] = {
        "dataset": dataset, "setting": setting, "tag": setting_tag(imbalance), "imbalance": imbalance,
        "ir": imbalance.get("ir") if imbalance.get("profile") == "minority" else None,
        "label": group_label(dataset, imbalance), "minority": minority,
        "class_names": first.get("class_names", [str(c) for c in range(10)]),
        "train_counts": {str(c): n for c, n in counts.items()},  # str keys, as after a JSON round trip
        "class_ir": {str(c): (top / n if n else None) for c, n in counts.items()},
        "methods": {},
    }
    by_method: dict[str, list[dict]] = {}
    for record in sorted(records, key=lambda r: r["fold"]):
        by_method.setdefault(record["method"], []).append(record)
    for method in config.methods:
        if method in by_method:
            group["methods"][method] = _method_summary(by_method[method], minority)
    _add_tests(group, config.reference)
    return group


def table_classes(imbalance: Mapping, counts: Mapping[int, int]) -> list[int]:
    """The classes a table reports: the chosen minority classes, else the standard split's 8 and 9 (or the
    two smallest classes when there are not ten)."""
    if imbalance.get("profile") == "minority" and imbalance.get("counts") is None:
        return [int(c) for c in imbalance.get("minority_classes", ())]
    if imbalance.get("profile") == "standard" and imbalance.get("counts") is None and len(counts) == 10:
        return list(STANDARD_MINORITY)
    return sorted(sorted(counts, key=lambda c: (counts[c], -c))[:2]) if counts else []


def group_label(dataset: str, imbalance: Mapping) -> str:
    title = DATASET_TITLES.get(dataset, dataset)
    if imbalance.get("profile") == "minority" and imbalance.get("counts") is None:
        return f"{title}, IR {float(imbalance['ir']):g}"
    return f"{title}, {setting_tag(imbalance)} split"


def column_keys(minority: Sequence[int]) -> list[str]:
    """Table metrics: ``recall_8``, ``f1_8``, ... then the scalar metrics."""
    return [f"{m}_{c}" for c in minority for m, _ in CLASS_METRICS] + [k for k, _ in SCALAR_COLUMNS]


def _metric_value(metrics: Mapping, key: str) -> float:
    """``recall_8`` -> ``metrics['recall'][8]``; a scalar key -> ``metrics[key]``."""
    name, _, suffix = key.rpartition("_")
    return float(metrics[name][int(suffix)]) if suffix.isdigit() else float(metrics[key])


def _method_summary(records: list[dict], minority: Sequence[int]) -> dict:
    metrics = [r["metrics"] for r in records]
    values = {key: [_metric_value(m, key) for m in metrics] for key in column_keys(minority)}
    entry: dict[str, Any] = {
        "folds": [r["fold"] for r in records], "values": values,
        "summary": summarize(metrics, keys=[k for k in SUMMARY_KEYS if all(k in m for m in metrics)]),
        "seconds": float(np.mean([r.get("seconds", 0.0) for r in records])),
        "resampled_counts": records[0].get("resampled_counts"),
    }
    quality = [r["quality"] for r in records if r.get("quality")]
    if quality:
        entry["quality"] = _quality_summary(quality, minority)
    return entry


def _quality_summary(quality: list[dict], minority: Sequence[int]) -> dict:
    """Mean and std over folds of the pooled metrics and of each minority class's fidelity and FID."""
    out: dict[str, Any] = {}
    for key in QUALITY_KEYS:
        vals = [q.get(key) for q in quality if q.get(key) is not None]
        if vals:
            out[key] = _mean_std(vals)
    for c in minority:
        for key in ("fidelity", "fid"):
            vals = [q["per_class"][str(c)][key] for q in quality
                    if str(c) in q.get("per_class", {}) and q["per_class"][str(c)].get(key) is not None]
            if vals:
                out[f"{key}_{c}"] = _mean_std(vals)
    return out


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample std (0 for a single value), the way every table here reports a metric."""
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std}


def _add_tests(group: dict, reference: str) -> None:
    """Paired t-test per metric of each row against the reference row, over the folds both have."""
    ref = group["methods"].get(reference)
    group["reference"] = reference if ref else None
    for method, entry in group["methods"].items():
        entry["tests"] = {}
        if ref is None or method == reference:
            continue
        shared = sorted(set(entry["folds"]) & set(ref["folds"]))
        for key, vals in entry["values"].items():
            a = [vals[entry["folds"].index(f)] for f in shared]
            b = [ref["values"][key][ref["folds"].index(f)] for f in shared]
            t, p = paired_ttest(b, a) if len(shared) >= 2 else (math.nan, math.nan)
            significant = bool(p < ALPHA) if not math.isnan(p) else False
            entry["tests"][key] = {"t": t, "p": p, "n": len(shared), "significant": significant,
                                   "reference": ("better" if t > 0 else "worse") if significant else None}


# ------------------------------------------------------------------------------------------------- reports

def write_reports(out_dir: str | os.PathLike, results: dict) -> dict[str, Path]:
    """``results.json``, ``results.csv``, ``folds.csv``, ``table.md`` and ``figure.html`` in ``out_dir``."""
    folder = Path(out_dir)
    paths = {name: folder / name for name in ("results.json", "results.csv", "folds.csv", "table.md",
                                               "figure.html")}
    _write_json(paths["results.json"], results)
    _write_text(paths["results.csv"], results_csv(results))
    _write_text(paths["folds.csv"], folds_csv(load_cells(folder), results))
    _write_text(paths["table.md"], markdown_report(results))
    figure = results_figure(results)
    _write_text(paths["figure.html"], figure.to_html(include_plotlyjs=True, full_html=True))
    return paths


def format_cell(entry: Mapping, key: str, best: bool = False) -> str:
    """``0.893 ± 0.012`` (bold when ``best``), with the t-test marker against the reference row."""
    values = entry["values"][key]
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    text = format_mean_std(mean, std)
    if best:
        text = f"**{text}**"
    test = entry.get("tests", {}).get(key)
    if test and test["significant"]:
        text += f" {BETTER if test['reference'] == 'better' else WORSE}"
    return text


def table_headers(group: Mapping, prefix: bool = False) -> list[str]:
    """Column titles matching :func:`column_keys`, e.g. ``9 (IR 100) recall``; prefixed by the data set."""
    names = group["class_names"]
    head = []
    for c in group["minority"]:
        ir = group["class_ir"].get(str(c))
        ir_text = f" (IR {ir:.0f})" if ir else ""
        name = names[c] if c < len(names) else str(c)
        head += [f"{name}{ir_text} {label}" for _, label in CLASS_METRICS]
    head += [label for _, label in SCALAR_COLUMNS]
    title = DATASET_TITLES.get(group["dataset"], group["dataset"])
    return [f"{title} {h}" for h in head] if prefix else head


def markdown_table(groups: Sequence[dict], methods: Sequence[str]) -> str:
    """One table, rows = methods, columns = each group's minority recall/F1 and scalar metrics."""
    prefix = len(groups) > 1
    header = ["method"] + [h for g in groups for h in table_headers(g, prefix)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best = {(i, key): _best_mean(g, key) for i, g in enumerate(groups) for key in column_keys(g["minority"])}
    for method in methods:
        row = [method]
        for i, group in enumerate(groups):
            entry = group["methods"].get(method)
            for key in column_keys(group["minority"]):
                if entry is None:
                    row.append("—")
                else:
                    top = best[i, key] is not None and np.isclose(np.mean(entry["values"][key]), best[i, key])
                    row.append(format_cell(entry, key, bool(top)))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _best_mean(group: Mapping, key: str) -> float | None:
    """The highest mean of a column, or None when there is no winner to mark (one row, or all rows tie)."""
    means = [float(np.mean(e["values"][key])) for e in group["methods"].values()]
    if len(means) < 2 or np.allclose(means, means[0]):
        return None
    return max(means)


def quality_table(groups: Sequence[dict], methods: Sequence[str]) -> str | None:
    """Sample quality of the added images per method (only rows that measured it), or None."""
    rows = []
    for group in groups:
        for method in methods:
            q = group["methods"].get(method, {}).get("quality")
            if not q:
                continue
            cols = [group["label"], method]
            cols += [format_mean_std(q[k]["mean"], q[k]["std"]) if k in q else "—"
                     for k in [f"fidelity_{c}" for c in group["minority"]] + list(QUALITY_KEYS)]
            rows.append("| " + " | ".join(cols) + " |")
    if not rows:
        return None
    minority = groups[0]["minority"]
    header = ["setting", "method", *(f"fidelity {c}" for c in minority),
              "fidelity (all)", "FID", "precision", "recall", "density", "coverage"]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows])


def markdown_report(results: Mapping) -> str:
    """The Markdown file: a title, the table(s), the legend, the sample-quality table and the caveats."""
    config = ExperimentConfig.from_dict(results["experiment"])
    groups = [g for g in results["groups"] if g["methods"]]
    lines = [f"# {config.name}: {', '.join(DATASET_TITLES.get(d, d) for d in config.datasets)}", ""]
    if not results["complete"]:
        lines += [f"**Partial:** {results['n_done']} of {results['n_cells']} cells done.", ""]
    if config.name == "ir-sweep" or (len(groups) > 1 and len({g["dataset"] for g in groups}) < len(groups)):
        for group in groups:
            lines += [f"## {group['label']}", "", markdown_table([group], config.methods), ""]
    elif groups:
        lines += [markdown_table(groups, config.methods), ""]
    lines += [legend(results), ""]
    quality = quality_table(groups, config.methods)
    if quality:
        lines += ["## Synthetic sample quality (judge classifier's feature space)", "", quality, ""]
    if results["failures"]:
        lines += ["## Failed cells", ""]
        lines += [f"- `{f['cell']}`: {f['error']}" for f in results["failures"]] + [""]
    return "\n".join(lines)


def legend(results: Mapping) -> str:
    config = ExperimentConfig.from_dict(results["experiment"])
    budget = (f"{config.classifier_epochs} epochs" if config.classifier_epochs else
              f"{config.classifier_steps} steps" if config.classifier_steps else
              f"{CLASSIFIER_EPOCHS_EQUIVALENT} epochs of the imbalanced split, as steps, for every row")
    folds = max((len(e["folds"]) for g in results["groups"] for e in g["methods"].values()), default=0)
    gans = [m for m in config.methods if is_gan(m)]
    gan = f"GAN rows: {config.gan_steps} steps ({config.gan_preset} preset); " if gans else ""
    return (f"Mean ± std over {folds} fold(s) (independent seeded draws of the imbalanced training set; "
            f"full official test set). Best mean per column in bold. {BETTER} / {WORSE}: "
            f"`{config.reference}` is significantly better / worse than this row (two-sided paired t-test "
            f"over folds, 95%). CNN budget: {budget}; {gan}sampling strategy: {config.sampling_strategy}.")


def results_csv(results: Mapping) -> str:
    """Long format: one row per (group, method, metric) with mean, std, folds and the test against the ref."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["dataset", "setting", "ir", "method", "metric", "mean", "std", "n", "t_vs_ref",
                     "p_vs_ref", "significant"])
    for group in results["groups"]:
        for method, entry in group["methods"].items():
            for key, vals in entry["values"].items():
                test = entry["tests"].get(key, {})
                stats = _mean_std(vals)
                writer.writerow([group["dataset"], group["tag"], group["ir"], method, key,
                                 f"{stats['mean']:.6f}", f"{stats['std']:.6f}", len(vals), test.get("t"),
                                 test.get("p"), test.get("significant")])
    return buffer.getvalue()


def folds_csv(records: Sequence[dict], results: Mapping) -> str:
    """One row per finished cell with its table metrics, so other tools can redo any statistic."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = sorted({k for g in results["groups"] for e in g["methods"].values() for k in e["values"]})
    writer.writerow(["dataset", "setting", "fold", "method", "seconds", *keys])
    for record in records:
        if "metrics" not in record:
            continue
        row = [record["dataset"], setting_tag(record["imbalance"]), record["fold"], record["method"],
               f"{record.get('seconds', 0):.1f}"]
        for key in keys:
            try:
                row.append(f"{_metric_value(record['metrics'], key):.6f}")
            except (KeyError, IndexError, ValueError):
                row.append("")
        writer.writerow(row)
    return buffer.getvalue()


def results_figure(results: Mapping) -> Any:
    """Plotly: for a sweep, minority recall/F1 against IR per method; otherwise grouped bars per group."""
    groups = [g for g in results["groups"] if g["methods"]]
    if groups and all(g["ir"] is not None for g in groups) and len({g["ir"] for g in groups}) > 1:
        return sweep_figure(groups, results["experiment"]["methods"])
    return bars_figure(groups, results["experiment"]["methods"])


def bars_figure(groups: Sequence[dict], methods: Sequence[str]) -> Any:
    """Grouped bars (mean ± std) of every table metric, one panel per group, one bar colour per method."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=max(1, len(groups)), cols=1, subplot_titles=[g["label"] for g in groups] or [""])
    for row, group in enumerate(groups, start=1):
        labels = table_headers(group, prefix=False)
        for method in methods:
            entry = group["methods"].get(method)
            if entry is None:
                continue
            keys = column_keys(group["minority"])
            stats = [_mean_std(entry["values"][k]) for k in keys]
            means, stds = [s["mean"] for s in stats], [s["std"] for s in stats]
            fig.add_trace(go.Bar(x=labels, y=means, error_y={"type": "data", "array": stds}, name=method,
                                 legendgroup=method, showlegend=row == 1), row=row, col=1)
    fig.update_yaxes(range=[0, 1.05])
    fig.update_layout(barmode="group", height=380 * max(1, len(groups)),
                      title="Classification of the minority classes (mean ± std over folds)")
    return fig


def sweep_figure(groups: Sequence[dict], methods: Sequence[str]) -> Any:
    """Figure 3: recall (top) and F1 (bottom) of each minority class against IR, one line per method."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    datasets = list(dict.fromkeys(g["dataset"] for g in groups))
    panels = [(d, c) for d in datasets for c in next(g for g in groups if g["dataset"] == d)["minority"]]
    titles = [f"{DATASET_TITLES.get(d, d)} class {c} {label}"
              for _, label in CLASS_METRICS for d, c in panels]
    fig = make_subplots(rows=len(CLASS_METRICS), cols=len(panels), subplot_titles=titles)
    for col, (dataset, c) in enumerate(panels, start=1):
        for row, (metric, _) in enumerate(CLASS_METRICS, start=1):
            for method in methods:
                points = sorted((g["ir"], g["methods"][method]["values"][f"{metric}_{c}"]) for g in groups
                                if g["dataset"] == dataset and method in g["methods"])
                if not points:
                    continue
                stats = [_mean_std(p[1]) for p in points]
                fig.add_trace(go.Scatter(
                    x=[p[0] for p in points], y=[s["mean"] for s in stats], mode="lines+markers",
                    error_y={"type": "data", "array": [s["std"] for s in stats]},
                    name=method, legendgroup=method, showlegend=row == 1 and col == 1), row=row, col=col)
    fig.update_xaxes(title_text="imbalance ratio", type="log")
    fig.update_layout(height=700, title="Minority recall and F1 against the imbalance ratio (mean ± std)")
    return fig


# ----------------------------------------------------------------------------------------------------- io

def _write_text(path: Path, text: str) -> None:
    """A reader (another shard, the app) never sees half a file."""
    atomic_write_text(path, text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(_jsonable(data), indent=1))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------------------------- background

def start_evaluation(registry: JobRegistry, config: ExperimentConfig, out_dir: str | os.PathLike,
                     title: str | None = None) -> Job:
    """Run an experiment as a background job of ``registry`` (the app's Evaluate page uses this).

    The job's ``step``/``total`` count cells, ``message`` says what runs, and ``result`` holds the collected
    results at the end. ``registry.start`` refuses (``JobBusyError``) while another job is active. Stop takes
    effect between cells: a cell (one GAN or CNN training) is not interrupted.
    """
    folder = Path(out_dir)
    title = title or (f"evaluate {'+'.join(config.datasets)}: {', '.join(config.methods)} × "
                      f"{config.folds} folds")

    def work(job: Job) -> dict:
        begun = time.perf_counter()

        def progress(event: dict) -> None:
            with job.lock:
                job.total = event.get("total") or job.total
                job.step = int(event.get("done", job.step))
                job.message = str(event.get("message", ""))
                job.elapsed_s = time.perf_counter() - begun
                if job.state == "starting":
                    job.state = "running"

        return run(config, folder, progress=progress, stop_event=job.stop_event)

    return registry.start("evaluate", title, work, folder=folder)


# -------------------------------------------------------------------------------------------------- the CLI

def build_parser(name: str) -> argparse.ArgumentParser:
    sweep = name == "ir-sweep"
    parser = argparse.ArgumentParser(
        prog=f"python -m bngan bench {name}",
        description=("Figure 3: minority recall/F1 against IR." if sweep else
                     "Table 1: classifier metrics per method over folds, with paired t-tests."))
    parser.add_argument("--dataset", default="mnist",
                        help="data set(s), comma-separated: digits, mnist, fashion-mnist (default mnist)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated rows: {', '.join(available_methods())}")
    parser.add_argument("--folds", type=int, default=3,
                        help="independent seeded draws of the imbalanced split")
    parser.add_argument("--out", default="results",
                        help="parent folder; the run goes to OUT/<name>-<data set>")
    parser.add_argument("--run-dir", default=None,
                        help="exact folder for this run (overrides --out's naming)")
    parser.add_argument("--shard", default=None, help="i/n: run only cells with index %% n == i")
    parser.add_argument("--collect-only", action="store_true", help="only rebuild the reports from the cells")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--classifier-steps", type=int, default=None,
                        help="CNN optimiser steps for every row (default: 8 epochs of the imbalanced split)")
    budget.add_argument("--classifier-epochs", type=int, default=None,
                        help="CNN epochs over each row's resampled set instead (unequal updates per row)")
    parser.add_argument("--gan-steps", type=int, default=2000, help="training steps of each GAN row")
    parser.add_argument("--gan-preset", default="fast", choices=("fast", "paper"), help="GAN network size")
    parser.add_argument("--gan-batch-size", type=int, default=64)
    parser.add_argument("--sampling-strategy", default="auto",
                        help="auto | minority | not majority | all | a fraction in (0, 1] for partial "
                             "balancing")
    parser.add_argument("--minority", default="8,9", help="minority classes (minority profile and the sweep)")
    if sweep:
        parser.add_argument("--irs", default=",".join(str(r) for r in SWEEP_IRS), help="imbalance ratios")
    else:
        parser.add_argument("--profile", default="standard", choices=("standard", "minority"),
                            help="standard: the 4000..40 split; minority: --minority classes at --ir")
        parser.add_argument("--ir", type=float, default=100.0, help="IR of the minority profile")
    parser.add_argument("--dgc-epochs", type=int, default=50)
    parser.add_argument("--dgc-width", type=float, default=1.0, help="DGC channel width (0.25 for CPU runs)")
    parser.add_argument("--dgc-steps", type=int, default=None, help="cap on DGC iterations")
    parser.add_argument("--dgc-draws", type=int, default=10,
                        help="DGC test-time draws per class (10 as in the paper; fewer for CPU runs)")
    parser.add_argument("--dgc-lr", type=float, default=1e-5,
                        help="DGC Adam learning rate (1e-5 as in the paper; short runs need more)")
    parser.add_argument("--quality", action="store_true",
                        help="also measure fidelity/FID/PRDC of the added images with the cached judge CNN")
    parser.add_argument("--reference", default=None,
                        help="row the t-tests compare against (default bngan; with --collect-only: the "
                             "folder's, or this one, saved)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None,
                        help="folder with MNIST/FashionMNIST (torchvision layout)")
    return parser


def config_from_args(name: str, args: argparse.Namespace) -> ExperimentConfig:
    minority = [int(c) for c in args.minority.split(",") if c.strip()]
    if name == "ir-sweep":
        irs = [float(r) for r in args.irs.split(",") if r.strip()]
        imbalances = [{"profile": "minority", "minority_classes": minority, "ir": ir} for ir in irs]
    elif args.profile == "minority":
        imbalances = [{"profile": "minority", "minority_classes": minority, "ir": args.ir}]
    else:
        imbalances = [{"profile": "standard"}]
    return ExperimentConfig(
        name=name, datasets=args.dataset, methods=[m.strip() for m in args.methods.split(",") if m.strip()],
        folds=args.folds, imbalances=imbalances, classifier_steps=args.classifier_steps,
        classifier_epochs=args.classifier_epochs, gan_steps=args.gan_steps, gan_preset=args.gan_preset,
        gan_batch_size=args.gan_batch_size, sampling_strategy=args.sampling_strategy,
        dgc_epochs=args.dgc_epochs, dgc_width=args.dgc_width, dgc_steps=args.dgc_steps,
        dgc_draws=args.dgc_draws, dgc_lr=args.dgc_lr, quality=args.quality,
        reference=args.reference or ExperimentConfig.reference,
        data_dir=args.data_dir, device=args.device)


def _print_progress(event: dict) -> None:
    if event["event"] in ("cell_done", "cell_failed", "cell_skipped", "stage", "stopped", "finished"):
        print(f"[{event['done']}/{event['total']}] {event['message']}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``table1 [options]`` or ``ir-sweep [options]``; prints the Markdown table at the end."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("table1", "ir-sweep"):
        print("usage: python -m bngan bench {table1,ir-sweep} [options] (--help for options)",
              file=sys.stderr)
        return 2
    name = argv[0]
    args = build_parser(name).parse_args(argv[1:])
    try:
        config = config_from_args(name, args)
        folder = Path(args.run_dir or Path(args.out) / f"{name}-{'+'.join(config.datasets)}")
        if args.collect_only:
            results = collect(folder, reference=args.reference)
            write_reports(folder, results)
        else:
            results = run(config, folder, shard=args.shard, progress=_print_progress)
    except (ValueError, OSError) as exc:
        print(f"bngan bench {name}: error: {exc}", file=sys.stderr)
        return 2
    print(markdown_report(results))
    done = "complete" if results["complete"] else f"partial: {results['n_done']}/{results['n_cells']} cells"
    print(f"\nreports ({done}) in {folder}/: results.json, results.csv, folds.csv, table.md, figure.html",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The validated settings of a Table 1 / IR-sweep experiment, its grid and its fingerprints (torch-free).

Every field of :class:`ExperimentConfig` enters each cell's fingerprint unless it is listed in
``NOT_FINGERPRINTED`` with its reason, or its ``scope`` leaves the cell out: ``cnn`` settings decide the rows
that train the CNN (every row but ``dgc``), ``gan`` settings the GAN rows, ``dgc`` settings the DGC row,
``augment`` settings the rows whose CNN trains on augmented images.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import InitVar, asdict, dataclass, field, fields
from typing import Any, ClassVar

from bngan.evaluation.gan_methods import GAN_METHODS, is_gan, training_settings, trains_with_augmentation
from bngan.experiments.core import Cell, ExperimentError, fingerprint, product_grid, saved_values, scoped

EXPERIMENTS = ("table1", "ir-sweep", "custom")
DEFAULT_METHODS = ("none", "ros", "smote", "infogan", "bngan")
TABLE_DATASETS = ("digits", "mnist", "fashion-mnist", "folder")
SWEEP_IRS = (50, 100, 200, 300, 400, 500)
STANDARD_MINORITY = (8, 9)  # the two smallest classes of the standard split (IR 67 and 100)
CLASSIFIER_EPOCHS_EQUIVALENT = 8  # default budget: this many epochs of the imbalanced split, as steps
STRATEGY_NAMES = ("auto", "minority", "not majority", "not minority", "all")
CNN_AUGMENTATIONS = ("batched", "per-image")  # bngan.evaluation.augmentation.AUGMENTATIONS, torch-free
DEEPSMOTE_PAIRINGS = ("own-image", "other-image")  # bngan.evaluation.deepsmote.PAIRINGS, torch-free


@dataclass
class ExperimentConfig:
    """Everything that decides an experiment's cells and their results (saved as ``experiment.json``).

    Constructing one validates it (``check_names=False`` skips the checks against the oversampler registry
    and the imbalance protocols, which import torch: for a spec read back from disk, checked when written).
    """

    name: str = "custom"
    datasets: list[str] = field(default_factory=lambda: ["digits"])
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    folds: int = 3
    # the folds are first_fold .. first_fold + folds - 1: a later range confirms on draws never used to choose
    first_fold: int = 0
    imbalances: list[dict] = field(default_factory=lambda: [{"profile": "standard"}])
    # None (and no epochs): 8 epochs of the imbalanced split, as steps
    classifier_steps: int | None = scoped(scope="cnn", default=None)
    classifier_epochs: int | None = scoped(scope="cnn", default=None)
    # budgets measured along the same CNN training (each < classifier_steps): the budget study
    classifier_snapshots: list[int] = field(default_factory=list)
    classifier_batch_size: int = scoped(scope="cnn", default=64)
    classifier_lr: float = scoped(scope="cnn", default=1e-4)
    gan_steps: int = scoped(scope="gan", default=2000)
    gan_preset: str = scoped(scope="gan", default="fast")
    gan_batch_size: int = scoped(scope="gan", default=64)
    sampling_strategy: str | float = scoped(scope="cnn", default="auto")
    # how the augmented rows transform their batches: one transform, two implementations with different
    # random draws (runs stored before the setting existed used "per-image" and keep their fingerprints)
    cnn_augmentation: str = scoped(scope="augment", default="batched", before="per-image")
    dgc_epochs: int = scoped(scope="dgc", default=50)
    dgc_width: float = scoped(scope="dgc", default=1.0)
    dgc_steps: int | None = scoped(scope="dgc", default=None)
    deepsmote_steps: int = scoped(scope="deepsmote", default=2000)  # autoencoder steps of the DeepSMOTE row
    # what DeepSMOTE's penalty compares a decoded code with: its own image, as the released code does; runs
    # stored before the setting existed paired it with another image of the class and keep their fingerprints
    deepsmote_pairing: str = scoped(scope="deepsmote", default="own-image", before="other-image")
    # Monte-Carlo draws per class at test time (the paper's 10; fewer = faster, noisier)
    dgc_draws: int = scoped(scope="dgc", default=10)
    dgc_lr: float = scoped(scope="dgc", default=1e-5)  # the paper's; short CPU budgets need more
    quality: bool = False
    quality_max_samples: int = 2000
    reference: str = "bngan"
    image_size: int | None = None
    data_dir: str | None = None
    device: str = "auto"
    check_names: InitVar[bool] = True

    NOT_FINGERPRINTED: ClassVar[dict[str, str]] = {
        "name": "a title for the reports",
        "datasets": "a grid axis: the cell's own data set enters instead",
        "methods": "a grid axis: the cell's own method (and a GAN row's definition) enters instead",
        "folds": "a grid axis: the cell's own fold enters instead",
        "first_fold": "a grid axis: the cell's own fold enters instead",
        "imbalances": "a grid axis: the cell's own imbalance setting enters instead",
        "quality": "checked on its own: a cell without the quality numbers asked for is redone",
        "classifier_snapshots": ("measured along the same training, the final result unchanged: checked on its "
                                 "own, a cell lacking a budget asked for is redone"),
        "reference": "picks the t-tests' row; no cell depends on it",
        "data_dir": "where the data is read from, not what it is (for 'folder' it is: the cell's coordinates "
                    "name the folder)",
        "device": "a cell computed on a GPU is reused on a CPU",
    }

    def __post_init__(self, check_names: bool) -> None:
        if isinstance(self.datasets, str):
            self.datasets = [d.strip() for d in self.datasets.split(",") if d.strip()]
        self.methods = list(dict.fromkeys(self.methods))  # keep order, drop repeats
        if not self.datasets or not self.methods or not self.imbalances:
            raise ExperimentError("an experiment needs at least one data set, one method and one imbalance "
                                  "setting")
        bad = [d for d in self.datasets if d not in TABLE_DATASETS]
        if bad:
            raise ExperimentError(f"unknown data set(s) {', '.join(bad)}; choose from {', '.join(TABLE_DATASETS)}")
        if "folder" in self.datasets and self.quality:
            raise ExperimentError("--quality judges images with a CNN trained on a named data set (digits, MNIST, "
                                  "Fashion-MNIST); an image folder has none: run the folder without --quality")
        if "folder" in self.datasets and not self.data_dir:
            raise ExperimentError("the 'folder' data set needs its folder (data_dir): one sub-folder of images "
                                  "per class, or train/ and test/ folders of those")
        if check_names:
            self.imbalances = [_imbalance_dict(i) for i in self.imbalances]
            unknown = [m for m in self.methods if m not in available_methods()]
            if unknown:
                raise ExperimentError(f"unknown method(s) {', '.join(unknown)}; choose from "
                                      f"{', '.join(available_methods())}")
        if not isinstance(self.folds, int) or self.folds < 1:
            raise ExperimentError(f"folds must be a positive integer, got {self.folds!r}")
        if not isinstance(self.first_fold, int) or self.first_fold < 0:
            raise ExperimentError(f"the first fold must be a number from 0 up, got {self.first_fold!r}")
        for name in ("classifier_steps", "classifier_epochs", "dgc_steps", "dgc_draws", "deepsmote_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ExperimentError(f"{name} must be a positive integer, got {value!r}")
        if self.classifier_steps is not None and self.classifier_epochs is not None:
            raise ExperimentError("give classifier steps or classifier epochs, not both")
        self.classifier_snapshots = sorted(set(self.classifier_snapshots or []))
        if self.classifier_snapshots and (
                self.classifier_steps is None
                or not all(isinstance(s, int) and 1 <= s < self.classifier_steps for s in self.classifier_snapshots)):
            raise ExperimentError(f"classifier snapshots must be step counts below the classifier steps "
                                  f"({self.classifier_steps}); got {self.classifier_snapshots}: set "
                                  f"--classifier-steps to the largest budget and the smaller ones as snapshots")
        if self.gan_steps < 1:
            raise ExperimentError(f"gan_steps must be positive, got {self.gan_steps}")
        if self.cnn_augmentation not in CNN_AUGMENTATIONS:
            raise ExperimentError(f"cnn_augmentation must be one of {', '.join(CNN_AUGMENTATIONS)}, got "
                                  f"{self.cnn_augmentation!r}")
        if self.deepsmote_pairing not in DEEPSMOTE_PAIRINGS:
            raise ExperimentError(f"deepsmote_pairing must be one of {', '.join(DEEPSMOTE_PAIRINGS)}, got "
                                  f"{self.deepsmote_pairing!r}")
        if not self.dgc_lr > 0:
            raise ExperimentError(f"dgc_lr must be positive, got {self.dgc_lr}")
        self.sampling_strategy = parse_sampling_strategy(self.sampling_strategy)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> ExperimentConfig:
        """Settings from a dict (unknown keys ignored, missing ones at their defaults), fully validated."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_saved(cls, data: Mapping) -> ExperimentConfig:
        """A spec read back from ``experiment.json``: validated when it was written, so the checks that
        import torch are skipped (reports and the app read results before torch loads)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved_values(cls, data).items() if k in known}, check_names=False)


def _imbalance_dict(value: Any) -> dict:
    """An :class:`~bngan.data.Imbalance`, its dict, or a profile name, as the Imbalance's dict."""
    from bngan.data import Imbalance

    if isinstance(value, Imbalance):
        return value.to_dict()
    if isinstance(value, str):
        return Imbalance(value).to_dict()
    return Imbalance(**dict(value)).to_dict()


def available_methods() -> list[str]:
    """Every registered oversampler (the GAN rows included) plus ``dgc`` (imports the samplers: torch)."""
    import bngan.evaluation.gan_samplers  # noqa: F401  (registers the GAN rows)
    from bngan.evaluation.baselines import OVERSAMPLERS

    return [*OVERSAMPLERS, "dgc"]


def parse_sampling_strategy(value: Any) -> str | float:
    """'auto' and imbalanced-learn's other strings as they are; ``+N`` (N images added to every class smaller
    than the largest, as the reference code adds 100); a number (or numeric text) as a fraction."""
    if isinstance(value, str):
        text = value.strip()
        if text in STRATEGY_NAMES:
            return text
        if text.startswith("+"):
            if not text[1:].isdigit() or int(text[1:]) < 1:
                raise ExperimentError(f"'+N' adds N images to each smaller class: N must be a positive whole "
                                      f"number, got {value!r}")
            return f"+{int(text[1:])}"
        try:
            value = float(text)
        except ValueError:
            raise ExperimentError(f"sampling strategy must be auto, minority, not majority, not minority, all "
                                  f"or a fraction in (0, 1]; got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < float(value) <= 1:
        raise ExperimentError(f"a fractional sampling strategy must be in (0, 1], got {value!r}")
    return float(value)


def resolve_sampling_strategy(strategy: str | float, counts: Mapping[int, int]) -> str | dict[int, int]:
    """A fraction ``f`` becomes ``{class: max(n_c, round(f * n_max))}`` for the classes that grow; ``+N``
    becomes ``{class: n_c + N}`` for every class smaller than the largest."""
    top = max(counts.values())
    if isinstance(strategy, str) and strategy.startswith("+"):
        return {int(c): int(n) + int(strategy[1:]) for c, n in counts.items() if n < top}
    if isinstance(strategy, str):
        return strategy
    target = {int(c): max(int(n), round(strategy * top)) for c, n in counts.items()}
    return {c: n for c, n in target.items() if n > counts[c]}


def classifier_budget(config: ExperimentConfig, n_imbalanced: int) -> dict[str, int | None]:
    """Steps or epochs for the CNN: the default gives every row ``8 × ceil(n_imbalanced / batch)`` steps."""
    import math

    if config.classifier_epochs is not None:
        return {"epochs": config.classifier_epochs, "steps": None}
    if config.classifier_steps is not None:
        return {"epochs": CLASSIFIER_EPOCHS_EQUIVALENT, "steps": config.classifier_steps}
    steps = CLASSIFIER_EPOCHS_EQUIVALENT * math.ceil(n_imbalanced / config.classifier_batch_size)
    return {"epochs": CLASSIFIER_EPOCHS_EQUIVALENT, "steps": steps}


def budget_text(config: ExperimentConfig) -> str:
    """The CNN budget in words, as reports and the app's titles state it (results at 1,128 and at 10,000 steps
    rank the rows differently, so no table is shown without it)."""
    if config.classifier_epochs:
        return f"{config.classifier_epochs} epochs"
    if config.classifier_steps:
        return f"{config.classifier_steps} steps"
    return f"{CLASSIFIER_EPOCHS_EQUIVALENT} epochs of the imbalanced split, as steps, for every row"


# ------------------------------------------------------------------------------------- grid, fingerprints

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


def applies(scope: str, method: str) -> bool:
    """Whether settings of ``scope`` decide the result of a ``method`` row."""
    return {"cnn": method != "dgc", "gan": is_gan(method), "dgc": method == "dgc",
            "deepsmote": method == "deepsmote", "augment": trains_with_augmentation(method)}[scope]


def _coords(config: ExperimentConfig, dataset: str, setting: int, fold: int, method: str) -> dict:
    """What a cell is, in its fingerprint: a GAN row's definition is part of the method."""
    coords: dict[str, Any] = {"dataset": dataset, "imbalance": config.imbalances[setting], "fold": fold,
                              "method": method}
    if dataset == "folder":  # which images they are: the folder, by its absolute path
        from pathlib import Path

        coords["folder"] = str(Path(str(config.data_dir)).expanduser().resolve())
    if is_gan(method):
        coords["method_settings"] = GAN_METHODS[method]
    return coords


def cell_fingerprint(config: ExperimentConfig, dataset: str, setting: int, fold: int, method: str) -> str:
    return fingerprint(_coords(config, dataset, setting, fold, method), type(config), config,
                       lambda scope: applies(scope, method))


def fold_numbers(config: ExperimentConfig) -> range:
    """The folds an experiment runs: each number seeds its own draw of the imbalanced split."""
    return range(config.first_fold, config.first_fold + config.folds)


def fold_text(config: ExperimentConfig) -> str:
    """``"folds 5–9"`` or ``"fold 7"``: the draws an experiment runs."""
    folds = fold_numbers(config)
    return f"fold {folds[0]}" if len(folds) == 1 else f"folds {folds[0]}–{folds[-1]}"


def grid(config: ExperimentConfig) -> list[Cell]:
    """All cells in a fixed order: data set, setting, fold, then method (so shards mix methods and folds).

    A cell's coordinates are ``dataset``, ``setting`` (an index into ``config.imbalances``), ``fold`` and
    ``method``; its key is ``<dataset>__<setting tag>__fold<fold>__<method>``."""
    def key(c: Mapping[str, Any]) -> str:
        return f"{c['dataset']}__{setting_tag(config.imbalances[c['setting']])}__fold{c['fold']}__{c['method']}"

    return product_grid([("dataset", config.datasets), ("setting", range(len(config.imbalances))),
                         ("fold", fold_numbers(config)), ("method", config.methods)], key,
                        lambda c: cell_fingerprint(config, c["dataset"], c["setting"], c["fold"], c["method"]))


def gan_key(cell: Cell, config: ExperimentConfig) -> str:
    """A hash of what decides a GAN row's trained generator: rows with equal keys (``bngan`` and
    ``bngan-mix``: they differ only in how they sample) share one."""
    coords = {**_coords(config, cell["dataset"], cell["setting"], cell["fold"], cell["method"]),
              "settings": training_settings(cell["method"])}
    for name in ("method", "method_settings"):  # the rows that share a generator differ only there
        coords.pop(name, None)
    return fingerprint(coords, type(config), config, lambda scope: scope == "gan")

"""The validated settings of the Figure 4b experiment, its grid and its fingerprints (torch-free).

Every field of :class:`DisentangleSettings` enters each cell's fingerprint unless ``NOT_FINGERPRINTED`` names
it (with the reason); ``bngan_mode`` (scope ``bngan``) decides only the bngan cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from bngan.experiments.core import Cell, ExperimentError, fingerprint, product_grid, scoped
from bngan.structure import MAX_CODES, MIN_CODES

METHODS = {"infogan": "infogan", "bngan": "paper"}  # method name -> the trainer's reg_mode
METHOD_TITLES = {"infogan": "InfoGAN", "bngan": "bngan (ours)"}
SHAPES = ("square", "ellipse", "heart")
CHECKPOINT_KINDS = ("full", "weights", "none")
BNGAN_MODES = ("paper", "gaussian")
PRESETS = ("fast", "paper")


@dataclass
class DisentangleSettings:
    """The grid (methods × IRs × seeds) and everything a cell's training and scoring depend on."""

    methods: list[str] = field(default_factory=lambda: list(METHODS))
    irs: list[float] = field(default_factory=lambda: [100.0, 200.0, 300.0])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
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
    # the regulariser form of the bngan arm: Eq. 6 ("paper") or Eq. 3-5 ("gaussian")
    bngan_mode: str = scoped(scope="bngan", default="paper")

    AXES: ClassVar[tuple[str, ...]] = ("methods", "irs", "seeds")
    NOT_FINGERPRINTED: ClassVar[dict[str, str]] = {
        "methods": "a grid axis: the cell's own method enters instead",
        "irs": "a grid axis: the cell's own IR enters instead",
        "seeds": "a grid axis: the cell's own seed enters instead",
        "device": "a cell computed on a GPU is reused on a CPU",
        "checkpoints": "whether the model is saved; no score depends on it",
    }

    def __post_init__(self) -> None:
        self.methods = [str(m).strip().lower() for m in self.methods]
        self.irs = [float(ir) for ir in self.irs]
        self.seeds = [int(s) for s in self.seeds]
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ExperimentError(f"methods must be some of {', '.join(METHODS)}; got {self.methods!r}")
        if not self.irs or any(ir < 1 for ir in self.irs):
            raise ExperimentError(f"imbalance ratios must be at least 1, got {self.irs!r}")
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise ExperimentError(f"seeds must be non-negative integers, got {self.seeds!r}")
        for name in ("methods", "irs", "seeds"):
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                raise ExperimentError(f"{name} repeat a value: {getattr(self, name)!r}")
        for name in ("steps", "n_per_class", "num_train", "num_eval", "num_variance", "metric_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ExperimentError(f"{name} must be a positive integer, got {value!r}")
        if not MIN_CODES <= self.codes <= MAX_CODES:
            raise ExperimentError(f"codes must be {MIN_CODES}..{MAX_CODES}, got {self.codes!r}")
        if self.shape not in range(len(SHAPES)):
            raise ExperimentError(f"shape must be 0..{len(SHAPES) - 1} ({', '.join(SHAPES)}), got {self.shape!r}")
        for name, allowed in (("checkpoints", CHECKPOINT_KINDS), ("bngan_mode", BNGAN_MODES),
                              ("preset", PRESETS)):
            if getattr(self, name) not in allowed:
                raise ExperimentError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        check_sizes(self.n_per_class, self.irs)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DisentangleSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def cell_settings(self) -> dict[str, Any]:
        """Everything but the grid's axes: what a cell's record keeps as its ``settings``."""
        return {k: v for k, v in asdict(self).items() if k not in self.AXES}


def check_sizes(n_per_class: int, irs: Iterable[float]) -> None:
    """Refuse an IR the majority size cannot express (``n_per_class / IR < 1`` rounds up to a lower IR)."""
    too_high = [ir for ir in irs if n_per_class / float(ir) < 1]
    if too_high:
        listed = ", ".join(f"{r:g}" for r in too_high)
        raise ExperimentError(f"--n-per-class {n_per_class} cannot make IR {listed}: the minority would keep "
                              f"less than one image; use --n-per-class >= {max(too_high):g}")


def minority_count(n_per_class: int, ir: float) -> int:
    """Images the minority shape keeps (as :class:`bngan.data.Imbalance` computes it)."""
    return max(1, round(n_per_class / float(ir)))


def cell_name(method: str, ir: float, seed: int) -> str:
    return f"{method}-ir{float(ir):g}-seed{int(seed)}"


def grid(settings: DisentangleSettings) -> list[Cell]:
    """Every cell in a fixed order (seed, IR, method), so the first cells done already pair the methods.

    A cell's coordinates are ``seed``, ``ir`` and ``method``; its key is ``<method>-ir<IR>-seed<seed>``."""
    def fingerprint_of(c: Mapping[str, Any]) -> str:
        return fingerprint(dict(c), type(settings), settings, lambda scope: c["method"] == scope)

    return product_grid([("seed", settings.seeds), ("ir", settings.irs), ("method", settings.methods)],
                        lambda c: cell_name(c["method"], c["ir"], c["seed"]), fingerprint_of)


def reg_mode(method: str, settings: DisentangleSettings | Mapping[str, Any]) -> str:
    """The trainer's ``reg_mode`` of a method (``bngan_mode`` picks the form of ours)."""
    mode = settings["bngan_mode"] if isinstance(settings, Mapping) else settings.bngan_mode
    return mode if method == "bngan" else METHODS[method]


def imbalance_dict(shape: int, ir: float) -> dict:
    return {"profile": "minority", "minority_classes": [int(shape)], "ir": float(ir), "counts": None}

"""One training configuration object, validated on construction and saved with every checkpoint."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from numbers import Integral

from bngan.data import DATASETS, Imbalance
from bngan.device import DEVICES
from bngan.errors import InvalidSettingError
from bngan.losses import ADVERSARIAL_LOSSES
from bngan.models import PRESETS
from bngan.regularizer import MODES
from bngan.structure import LatentStructure

CODE_PRIORS = ("normal", "uniform")
MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds; torch's generators take seed + 3 as well
REG_THROUGH = ("both", "generator")


class ConfigError(InvalidSettingError):
    """An out-of-range or unknown setting; the message names the setting and its allowed range."""


def _default_structure() -> dict:
    return LatentStructure.preset("entangled", 3, labels={1: "thickness", 2: "rotation"}).to_dict()


def _default_imbalance() -> dict:
    return Imbalance("minority", minority_classes=(8, 9), ir=10).to_dict()


@dataclass
class TrainConfig:
    """Data, model, regulariser, optimiser and schedule of one run."""

    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None  # None: the data set's own size rounded to a multiple of 4
    imbalance: dict = field(default_factory=_default_imbalance)
    seed: int = 0
    preset: str = "fast"
    structure: dict = field(default_factory=_default_structure)
    z_dim: int = 62
    code_prior: str = "normal"
    reg_mode: str = "paper"
    # both: the drawn regulariser trains the code head and G (the paper); generator: the code head learns to
    # read each code back (the InfoGAN loss) and only G is pushed towards the drawing, so the head cannot
    # satisfy the drawing by itself
    reg_through: str = "both"
    lambda_reg: float = 0.1  # measured: 0.3 and 1.0 trade image quality for code fit on the fast preset
    lambda_cls: float = 0.1
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # data-efficient GAN training (docs/method.md); every option off reproduces the paper's recipe
    adv_loss: str = "least-squares"  # or "hinge"
    spectral_norm: bool = False  # on every discriminator layer (which then has no batch norm)
    diffaugment: bool = False  # the same random translation + cutout for real and fake in both updates
    ema_decay: float = 0.0  # > 0: sample, traverse, oversample and save an exponential moving average of G
    lecam: float = 0.0  # weight of LeCam regularisation of the discriminator
    balanced_batches: bool = True  # draw real batches uniformly over classes: minorities are seen as often
    projection: bool = True
    steps: int | None = 1000
    epochs: float | None = None
    time_budget_s: float | None = None
    sample_every: int = 100
    checkpoint_every: int = 500
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA; ignored elsewhere

    def __post_init__(self) -> None:
        self._check_choice("dataset", DATASETS)
        self._check_choice("preset", PRESETS)
        self._check_choice("code_prior", CODE_PRIORS)
        self._check_choice("reg_mode", MODES)
        self._check_choice("reg_through", REG_THROUGH)
        self._check_choice("adv_loss", ADVERSARIAL_LOSSES)
        if self.ema_decay != 0.0:
            self._check_range("ema_decay", 0.5, 0.99999)
        self._check_range("lecam", 0.0, 100.0)
        self._check_choice("device", DEVICES)
        self._check_range("lambda_reg", 0.0, 100.0)
        self._check_range("lambda_cls", 0.0, 100.0)
        self._check_range("batch_size", 2, 4096)
        self._check_range("lr_g", 1e-7, 1.0)
        self._check_range("lr_d", 1e-7, 1.0)
        self._check_range("beta1", 0.0, 0.9999)
        self._check_range("beta2", 0.0, 0.99999)
        self._check_range("z_dim", 1, 512)
        if isinstance(self.seed, bool) or not isinstance(self.seed, Integral) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be a whole number from 0 to {MAX_SEED}; got {self.seed!r}")
        for name in ("batch_size", "z_dim", "sample_every", "checkpoint_every", "steps", "image_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)):
                raise ConfigError(f"{name} must be a whole number; got {value!r}")
        self._check_range("sample_every", 1, 10**9)
        self._check_range("checkpoint_every", 1, 10**9)
        if self.image_size is not None:
            self._check_range("image_size", 8, 128)
            if self.image_size % 4:
                raise ConfigError(f"image_size must be a multiple of 4, got {self.image_size}")
        if self.steps is None and self.epochs is None and self.time_budget_s is None:
            raise ConfigError("give at least one of steps, epochs or time_budget_s")
        if self.steps is not None:
            self._check_range("steps", 1, 10**9)
        if self.epochs is not None:
            self._check_range("epochs", 1e-6, 1e6)
        if self.time_budget_s is not None:
            self._check_range("time_budget_s", 0.1, 1e7)
        try:
            self.structure_obj()
            self.imbalance_obj()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def _check_choice(self, name: str, allowed: tuple[str, ...]) -> None:
        if getattr(self, name) not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")

    def _check_range(self, name: str, low: float, high: float) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) \
                or not low <= value <= high:
            raise ConfigError(f"{name} must be a number from {low:g} to {high:g}; got {value!r}")

    def structure_obj(self) -> LatentStructure:
        return LatentStructure.from_json(self.structure)

    def imbalance_obj(self) -> Imbalance:
        return Imbalance(**self.imbalance)

    @property
    def code_dim(self) -> int:
        return int(self.structure["k"])

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data)

    def replace(self, **changes: object) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})

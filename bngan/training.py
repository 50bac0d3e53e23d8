"""The training loop as a sequence of steps that emit events.

One :meth:`Trainer.step` makes one discriminator update and one generator update from a single generator
forward pass; the Bayesian regulariser (Eq. 6) enters both: through ``θ_F`` in the discriminator update (the
code head learns to read ``c`` from detached fakes) and through ``θ_G`` in the generator update. The class
head is trained on real labels, so ``G(z, y, c)`` learns to make class ``y``. Real batches are drawn
uniformly over classes, so a minority class is seen as often as a majority one.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from bngan.augment import diff_augment
from bngan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from bngan.config import TrainConfig
from bngan.data import ImageDataset, load_dataset, make_imbalanced
from bngan.device import resolve_device
from bngan.errors import BnganError, InvalidSettingError
from bngan.losses import LeCam, discriminator_loss, generator_loss
from bngan.models import ModelConfig, build_models
from bngan.regularizer import BayesianRegularizer
from bngan.structure import LatentStructure

PHASES = ("both", "d", "g")


class DivergenceError(BnganError, RuntimeError):
    """The losses became NaN or infinite; the weights of the last good checkpoint are kept."""


@dataclass
class StepEvent:
    """What one step reports: losses, regulariser terms and, every ``sample_every`` steps, samples and BN fit."""

    step: int
    epoch: float
    elapsed_s: float
    losses: dict[str, float]
    samples: torch.Tensor | None = None  # (classes * per_class, C, H, W) in [0, 1], one row per class
    bn_fit: list[dict] | None = None

    def to_json(self) -> dict:
        return {"step": self.step, "epoch": round(self.epoch, 4), "elapsed_s": round(self.elapsed_s, 3),
                **{k: round(v, 6) for k, v in self.losses.items()}}


@dataclass
class RunResult:
    steps: int
    elapsed_s: float
    stopped: bool
    events: list[StepEvent] = field(default_factory=list)


def training_set(config: TrainConfig) -> ImageDataset:
    """The imbalanced training set a config describes (the seed picks the fold)."""
    full = load_dataset(config.dataset, train=True, root=config.data_dir, image_size=config.image_size)
    if config.image_size is None and full.image_shape[-1] % 4:
        side = 4 * round(full.image_shape[-1] / 4)
        full = load_dataset(config.dataset, train=True, root=config.data_dir, image_size=side)
    return make_imbalanced(full, config.imbalance_obj(), seed=config.seed)


def sample_codes(n: int, k: int, prior: str, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Salient codes from the prior: ``N(0, 1)`` or ``U(-1, 1)``."""
    if prior == "uniform":
        return torch.rand(n, k, generator=generator, device=device) * 2 - 1
    return torch.randn(n, k, generator=generator, device=device)


def sample_noise(n: int, z_dim: int, generator: torch.Generator | None = None,
                 truncation: float | None = None) -> torch.Tensor:
    """The noise ``z ~ N(0, 1)``; with ``truncation`` t, every entry beyond ±t is drawn again (BigGAN's
    truncation trick: samples nearer the mode, typically more typical and less varied)."""
    z = torch.randn(n, z_dim, generator=generator)
    if truncation is not None:
        outside = z.abs() > truncation
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
            outside = z.abs() > truncation
    return z


class Trainer:
    """Owns the networks, optimisers, data and step counter of one run."""

    def __init__(self, config: TrainConfig, dataset: ImageDataset | None = None,
                 device: torch.device | str | None = None) -> None:
        self.config = config
        if isinstance(device, torch.device):
            self.device = device
        else:
            self.device = resolve_device(device or config.device)
        torch.manual_seed(config.seed)
        self.data = dataset if dataset is not None else training_set(config)
        self.structure: LatentStructure = config.structure_obj()
        channels, side, width = self.data.image_shape
        if side != width or channels not in (1, 3):
            raise InvalidSettingError(
                f"images are {channels}x{side}x{width} (C x H x W); bngan trains on square images with 1 or 3 "
                "channels: resize them to a square side such as 28 or 32")
        self.model_config = ModelConfig(preset=config.preset, image_size=side, channels=channels,
                                        num_classes=self.data.num_classes, z_dim=config.z_dim,
                                        code_dim=self.structure.k, projection=config.projection,
                                        spectral_norm=config.spectral_norm)
        self.generator, self.discriminator = build_models(self.model_config)
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        self.ema = ema_of(self.generator, config.ema_decay) if config.ema_decay > 0 else None
        self.lecam = LeCam() if config.lecam > 0 else None
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas)
        self.regularizer = BayesianRegularizer(self.structure, mode=config.reg_mode).to(self.device)
        # what the code head learns from in the discriminator update (see TrainConfig.reg_through)
        self.head_regularizer = self.regularizer if config.reg_through == "both" else \
            BayesianRegularizer(self.structure, mode="infogan").to(self.device)
        self.step_count = 0
        self.elapsed_s = 0.0
        self.rng = torch.Generator().manual_seed(config.seed + 1)
        self.augment_rng = torch.Generator().manual_seed(config.seed + 3)
        self.images = self.data.images.to(self.device) * 2 - 1  # the networks work in [-1, 1]
        self.labels = self.data.labels.to(self.device)
        counts = torch.bincount(self.data.labels, minlength=self.data.num_classes)
        self.class_counts = counts
        self.class_starts = torch.cumsum(counts, 0) - counts
        self.sorted_index = torch.argsort(self.data.labels, stable=True)  # indices grouped by class
        self.present = torch.nonzero(counts).squeeze(1)
        self.fixed = self._fixed_inputs(per_class=8)
        self.amp = config.amp and self.device.type == "cuda" and torch.cuda.is_bf16_supported()

    # batches ----------------------------------------------------------------------------------------
    def _fixed_inputs(self, per_class: int) -> dict[str, torch.Tensor]:
        """Noise and codes held fixed, so successive sample grids show the same slots improving."""
        g = torch.Generator().manual_seed(self.config.seed + 2)
        n = self.data.num_classes * per_class
        return {"z": torch.randn(n, self.config.z_dim, generator=g),
                "y": torch.arange(self.data.num_classes).repeat_interleave(per_class),
                "c": sample_codes(n, self.structure.k, self.config.code_prior, g)}

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of real images; class-balanced when configured (uniform over present classes)."""
        n = self.config.batch_size
        if self.config.balanced_batches:
            classes = self.present[torch.randint(len(self.present), (n,), generator=self.rng)]
            within = (torch.rand(n, generator=self.rng) * self.class_counts[classes]).long()
            index = self.sorted_index[self.class_starts[classes] + within]
        else:
            index = torch.randint(len(self.data), (n,), generator=self.rng)
        index = index.to(self.device)
        return self.images[index], self.labels[index]

    def latent_batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(n, self.config.z_dim, generator=self.rng).to(self.device)
        c = sample_codes(n, self.structure.k, self.config.code_prior, self.rng).to(self.device)
        return z, c

    # one step -----------------------------------------------------------------------------------------
    def step(self, phase: str = "both") -> StepEvent:
        """One update: discriminator then generator ('both'), or only one of them (teaching controls)."""
        if phase not in PHASES:
            raise InvalidSettingError(f"phase must be one of {', '.join(PHASES)}")
        start = time.perf_counter()
        self.generator.train()
        self.discriminator.train()
        x, y = self.real_batch()
        z, c = self.latent_batch(len(y))
        losses: dict[str, float] = {}
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
            fake = self.generator(z, y, c)
            if phase in ("both", "d"):
                losses.update(self._update_discriminator(x, y, fake.detach(), c))
            if phase in ("both", "g"):
                losses.update(self._update_generator(fake, y, c))
        self.step_count += 1
        self.elapsed_s += time.perf_counter() - start
        event = StepEvent(step=self.step_count, epoch=self.epoch, elapsed_s=self.elapsed_s, losses=losses)
        if self.step_count % self.config.sample_every == 0 or self.step_count == 1:
            event.samples = self.sample_grid()
            event.bn_fit = self.bn_fit()
        return event

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees: the images themselves, or (``diffaugment``) a random translation and
        cutout, drawn the same way for real and fake images in both updates; every head reads this view."""
        return diff_augment(images, generator=self.augment_rng) if self.config.diffaugment else images

    def _update_discriminator(self, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor,
                              c: torch.Tensor) -> dict[str, float]:
        real_out = self.discriminator(self.augment(x), y)
        fake_out = self.discriminator(self.augment(fake), y)
        adv = discriminator_loss(real_out["adv"], fake_out["adv"], self.config.adv_loss)
        cls = F.cross_entropy(real_out["cls"].float(), y)
        reg = self.head_regularizer.terms(c, fake_out["code"].float())
        loss = adv + self.config.lambda_cls * cls + self.config.lambda_reg * reg["total"]
        losses = {"d_adv": adv.item(), "d_cls": cls.item(), "d_reg": reg["total"].item()}
        if self.lecam is not None:
            lecam = self.lecam(real_out["adv"], fake_out["adv"])
            loss = loss + self.config.lecam * lecam
            losses["d_lecam"] = lecam.item()
        self._check_finite(loss, "discriminator")
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return losses

    def _update_generator(self, fake: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> dict[str, float]:
        self.discriminator.requires_grad_(False)  # only θ_G moves here: skip the discriminator's weight grads
        try:
            return self._generator_loss_step(fake, y, c)
        finally:
            self.discriminator.requires_grad_(True)

    def _generator_loss_step(self, fake: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> dict[str, float]:
        out = self.discriminator(self.augment(fake), y)
        adv = generator_loss(out["adv"], self.config.adv_loss)
        cls = F.cross_entropy(out["cls"].float(), y)
        reg = self.regularizer.terms(c, out["code"].float())
        loss = adv + self.config.lambda_cls * cls + self.config.lambda_reg * reg["total"]
        self._check_finite(loss, "generator")
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update_parameters(self.generator)
        return {"g_adv": adv.item(), "g_cls": cls.item(), "reg": reg["total"].item(),
                "reg_parents": reg["parents"].item(), "reg_independent": reg["independent"].item()}

    def _check_finite(self, loss: torch.Tensor, which: str) -> None:
        if not torch.isfinite(loss):
            raise DivergenceError(
                f"the {which} loss became {loss.item()} at step {self.step_count + 1}: training diverged. "
                "The weights were not updated with it; lower the learning rates or lambda_reg and resume "
                "from the last checkpoint.")

    @property
    def epoch(self) -> float:
        return self.step_count * self.config.batch_size / max(1, len(self.data))

    # running ------------------------------------------------------------------------------------------
    def steps_target(self) -> int | None:
        """Total steps the schedule asks for (None when only a time budget bounds it)."""
        targets = []
        if self.config.steps is not None:
            targets.append(self.config.steps)
        if self.config.epochs is not None:
            targets.append(math.ceil(self.config.epochs * len(self.data) / self.config.batch_size))
        return min(targets) if targets else None

    def run(self, callback: Callable[[StepEvent], None] | None = None, stop: threading.Event | None = None,
            checkpoint_path: str | Path | None = None, keep_events: bool = False,
            checkpoint_every_s: float | None = None) -> RunResult:
        """Train until the schedule (steps, epochs, time budget) is met or ``stop`` is set.

        A stop request is honoured before the next step; a checkpoint is written every
        ``checkpoint_every`` steps, also every ``checkpoint_every_s`` seconds of wall time when given (so a
        killed process loses at most that much), and at the end (also on stop), never after a divergence.
        """
        target = self.steps_target()
        budget = self.config.time_budget_s
        began = self.elapsed_s
        events: list[StepEvent] = []
        stopped = False
        last_save = time.monotonic()
        while target is None or self.step_count < target:
            if stop is not None and stop.is_set():
                stopped = True
                break
            if budget is not None and self.elapsed_s - began >= budget:
                break
            event = self.step()
            if keep_events:
                events.append(event)
            if callback is not None:
                callback(event)
            due = checkpoint_every_s is not None and time.monotonic() - last_save >= checkpoint_every_s
            if checkpoint_path is not None and (self.step_count % self.config.checkpoint_every == 0 or due):
                self.save(checkpoint_path)
                last_save = time.monotonic()
        if checkpoint_path is not None:
            self.save(checkpoint_path)
        return RunResult(steps=self.step_count, elapsed_s=self.elapsed_s, stopped=stopped, events=events)

    # generation ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, labels: torch.Tensor, codes: torch.Tensor | None = None, z: torch.Tensor | None = None,
                 batch_size: int = 512) -> torch.Tensor:
        """Images in [0, 1] on the CPU for the given labels (codes and noise drawn from the prior if absent)."""
        return generate(self.sampling_generator, self.config, labels, codes, z, batch_size, self.rng)

    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The generator that samples, traverses, oversamples and is saved: the moving average when on."""
        return self.ema.module if self.ema is not None else self.generator

    def trained_model(self) -> TrainedModel:
        """This run's networks for inference (what a checkpoint of it would load as)."""
        return TrainedModel(self.sampling_generator, self.discriminator, self.config, self.structure,
                            self.data.class_names, self.data.class_counts(), self.step_count)

    def sample_grid(self, per_class: int = 8) -> torch.Tensor:
        f = self.fixed
        n = self.data.num_classes * per_class
        take = torch.arange(n) % (self.data.num_classes * 8)
        return self.generate(f["y"][take], f["c"][take], f["z"][take])

    @torch.no_grad()
    def bn_fit(self, n: int = 512) -> list[dict]:
        """How well the code head's ``c'`` follows the structure on fresh fakes: weights, σ², R² per latent."""
        self.generator.eval()
        self.discriminator.eval()
        y = self.present[torch.randint(len(self.present), (n,), generator=self.rng)].to(self.device)
        z, c = self.latent_batch(n)
        codes = self.discriminator(self.generator(z, y, c), y)["code"].float()
        self.generator.train()
        self.discriminator.train()
        return self.regularizer.diagnostics(c, codes)

    # checkpoints --------------------------------------------------------------------------------------
    def state(self, include_optimizer: bool = True) -> dict:
        """Everything a checkpoint holds; without the optimisers it is a third of the size (for shipping)."""
        state = {
            "config": self.config.to_json(),
            "model": json.dumps(self.model_config.to_dict()),
            "structure": self.structure.to_json(),
            "class_names": json.dumps(self.data.class_names),
            "class_counts": json.dumps(self.data.class_counts()),
            "generator": self.sampling_generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "rng": self.rng.get_state(),
            "step": self.step_count,
            "elapsed_s": self.elapsed_s,
        }
        if self.ema is not None:  # the live weights, to resume training from
            state["generator_live"] = self.generator.state_dict()
            state["ema_updates"] = int(self.ema.n_averaged)
        if self.lecam is not None:
            state["lecam"] = self.lecam.state_dict()
        if include_optimizer:
            state["opt_g"], state["opt_d"] = self.opt_g.state_dict(), self.opt_d.state_dict()
        return state

    def save(self, path: str | Path, include_optimizer: bool = True) -> Path:
        return save_checkpoint(path, self.state(include_optimizer))

    @classmethod
    def resume(cls, path: str | Path, dataset: ImageDataset | None = None, device: str | None = None,
               **overrides: object) -> Trainer:
        """Rebuild a trainer from a checkpoint and continue where it stopped (``overrides`` change the
        schedule, e.g. ``steps=2000``)."""
        data = load_checkpoint(path)
        saved = check_against_model(data, path)
        if "rng" not in data:
            raise CheckpointError(f"{path} lacks 'rng', the random state training continues from: it can be "
                                  "sampled from but not resumed")
        config = saved.config.replace(**overrides)
        trainer = cls(config, dataset=dataset, device=device)
        if trainer.model_config != saved.model_config:
            raise CheckpointError(f"{path} describes the model {saved.model_config.to_dict()}, but its settings and "
                                  f"data make {trainer.model_config.to_dict()}: resume it on the data it was "
                                  "trained on")
        _check_optimizer(data.get("opt_g"), trainer.generator, "opt_g", path)
        _check_optimizer(data.get("opt_d"), trainer.discriminator, "opt_d", path)
        try:
            trainer.generator.load_state_dict(data.get("generator_live", data["generator"]))
            trainer.discriminator.load_state_dict(data["discriminator"])
            if trainer.ema is not None:
                trainer.ema.module.load_state_dict(data["generator"])
                trainer.ema.n_averaged.fill_(int(data.get("ema_updates", 0)))
            if trainer.lecam is not None and "lecam" in data:
                trainer.lecam.load_state_dict(data["lecam"])
            if "opt_g" in data:  # a slim checkpoint resumes with fresh optimisers
                trainer.opt_g.load_state_dict(data["opt_g"])
                trainer.opt_d.load_state_dict(data["opt_d"])
            trainer.rng.set_state(data["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path} does not match this version of bngan's models ({first})") from None
        trainer.step_count = int(data["step"])
        trainer.elapsed_s = float(data.get("elapsed_s", 0.0))
        return trainer


@dataclass
class SavedModel:
    """What a checkpoint says about the model it holds, each part checked against the others."""

    config: TrainConfig
    model_config: ModelConfig
    structure: LatentStructure
    class_names: list[str]
    class_counts: dict[int, int]
    generator: torch.nn.Module  # freshly built networks of that model (not loaded)
    discriminator: torch.nn.Module


def _json_field(data: dict, key: str, path: str | Path) -> object:
    try:
        return json.loads(data[key])
    except KeyError:
        raise CheckpointError(f"{path} lacks '{key}': it is incomplete") from None
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: '{key}' is not valid JSON ({str(exc)[:120]})") from None


def check_against_model(data: dict, path: str | Path) -> SavedModel:
    """Every field of a loaded checkpoint against the model it describes: the settings are valid, the
    structure's k is the model's number of codes, the class names fit the class head, and each weight tensor
    has the name and shape the model needs. Each failure is a one-line :class:`CheckpointError`."""
    raw_config, raw_model = _json_field(data, "config", path), _json_field(data, "model", path)
    raw_structure = _json_field(data, "structure", path)
    names, counts = _json_field(data, "class_names", path), _json_field(data, "class_counts", path)
    if not isinstance(raw_config, dict) or not isinstance(raw_model, dict):
        raise CheckpointError(f"{path}: 'config' and 'model' must be JSON objects")
    try:
        config = TrainConfig.from_dict(raw_config)
    except (InvalidSettingError, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise CheckpointError(f"{path}: its training settings are invalid ({str(exc)[:200]})") from None
    defaults = ModelConfig().to_dict()
    wrong = [k for k, v in raw_model.items() if k in defaults and type(v) is not type(defaults[k])]
    if wrong:
        raise CheckpointError(f"{path}: its model description has {wrong[0]} = {raw_model[wrong[0]]!r}, not a "
                              f"{type(defaults[wrong[0]]).__name__}")
    try:
        model_config = ModelConfig(**raw_model)
    except (InvalidSettingError, TypeError) as exc:
        raise CheckpointError(f"{path}: its model description is invalid ({exc})") from None
    try:
        structure = LatentStructure.from_json(raw_structure)
    except InvalidSettingError as exc:
        raise CheckpointError(f"{path}: its latent structure is invalid ({exc})") from None
    if structure.k != model_config.code_dim or config.code_dim != model_config.code_dim:
        raise CheckpointError(f"{path}: its structure has k = {structure.k} codes (its settings "
                              f"{config.code_dim}) but its model takes {model_config.code_dim}: the file was "
                              "edited or mixes two runs")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
            or len(names) != model_config.num_classes:
        raise CheckpointError(f"{path}: 'class_names' must list {model_config.num_classes} names (one per "
                              "class of the model)")
    try:
        counts = {int(k): int(v) for k, v in counts.items()}
    except (AttributeError, TypeError, ValueError):
        raise CheckpointError(f"{path}: 'class_counts' must map class numbers to image counts") from None
    generator, discriminator = build_models(model_config)
    _check_weights(data["generator"], generator, "generator", path)
    if "generator_live" in data:
        _check_weights(data["generator_live"], generator, "generator_live", path)
    _check_weights(data["discriminator"], discriminator, "discriminator", path)
    return SavedModel(config, model_config, structure, list(names), counts, generator, discriminator)


def _check_weights(saved: dict, module: torch.nn.Module, name: str, path: str | Path) -> None:
    """Names and shapes of saved weights against the network they are for (torch's own message is a page)."""
    wanted = module.state_dict()
    missing, extra = sorted(set(wanted) - set(saved)), sorted(set(saved) - set(wanted))
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has the unknown weight {extra[0]!r}"
        raise CheckpointError(f"{path}: the {name} {what} ({len(missing)} missing, {len(extra)} unknown): it "
                              "does not match the model it describes")
    for key, tensor in wanted.items():
        if tuple(saved[key].shape) != tuple(tensor.shape) or saved[key].dtype.is_floating_point != \
                tensor.dtype.is_floating_point:
            raise CheckpointError(f"{path}: the {name} weight {key!r} is {tuple(saved[key].shape)} "
                                  f"{saved[key].dtype} but the model it describes needs {tuple(tensor.shape)} "
                                  f"{tensor.dtype}")


def _check_optimizer(state: dict | None, module: torch.nn.Module, name: str, path: str | Path) -> None:
    """An optimiser state must be for these parameters: one entry per parameter, moments of its shape."""
    if state is None:
        return
    params = list(module.parameters())
    indices = [i for group in state["param_groups"] for i in group["params"]]
    if len(indices) != len(params):
        raise CheckpointError(f"{path}: '{name}' holds the state of {len(indices)} parameters but the model has "
                              f"{len(params)}: it is the optimiser of another model")
    for position, index in enumerate(indices):
        entry = state["state"].get(index, {})
        for key, value in entry.items():
            if key == "step":
                continue
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(params[position].shape):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise CheckpointError(f"{path}: '{name}' {key} of parameter {position} is {shape} but the "
                                      f"parameter is {tuple(params[position].shape)}: it is the optimiser of "
                                      "another model")


def ema_of(generator: torch.nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """An exponential moving average of ``generator``'s weights and batch-norm statistics (Yazıcı et al. 2019),
    with a warm-up: the decay used at update ``n`` is ``min(decay, (1 + n) / (10 + n))``, so a short run's
    average is not dominated by its random start."""
    def average(averaged: torch.Tensor, current: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        beta = min(decay, (1 + float(n)) / (10 + float(n)))
        return beta * averaged + (1 - beta) * current

    return torch.optim.swa_utils.AveragedModel(generator, avg_fn=average, use_buffers=True)


@torch.no_grad()
def generate(generator: torch.nn.Module, config: TrainConfig, labels: torch.Tensor,
             codes: torch.Tensor | None = None, z: torch.Tensor | None = None, batch_size: int = 512,
             rng: torch.Generator | None = None, truncation: float | None = None) -> torch.Tensor:
    """Run ``G`` in eval mode in batches; images in [0, 1] on the CPU (``truncation``: see
    :func:`sample_noise`, for the noise it draws)."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    labels = torch.as_tensor(labels, dtype=torch.long)
    k = generator.cfg.code_dim
    if codes is None:
        codes = sample_codes(len(labels), k, config.code_prior, rng)
    if z is None:
        z = sample_noise(len(labels), generator.cfg.z_dim, rng, truncation)
    out = []
    for start in range(0, len(labels), batch_size):
        part = slice(start, start + batch_size)
        images = generator(z[part].to(device).float(), labels[part].to(device), codes[part].to(device).float())
        out.append(((images.float() + 1) / 2).clamp_(0, 1).cpu())
    generator.train(was_training)
    return torch.cat(out) if out else torch.empty(0, generator.cfg.channels, generator.cfg.image_size,
                                                  generator.cfg.image_size)


@dataclass
class TrainedModel:
    """A checkpoint's networks for inference (sampling, traversals, oversampling): no data, no optimisers."""

    generator: torch.nn.Module
    discriminator: torch.nn.Module
    config: TrainConfig
    structure: LatentStructure
    class_names: list[str]
    class_counts: dict[int, int]
    step: int

    def __post_init__(self) -> None:
        # inference only: batch-norm running statistics and no dropout, so an image's score or code does not
        # depend on its batch (a Trainer that steps these networks again puts them back in training mode)
        self.generator.eval()
        self.discriminator.eval()

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TrainedModel:
        data = load_checkpoint(path, map_location="cpu")
        saved = check_against_model(data, path)
        generator, discriminator = saved.generator, saved.discriminator
        try:
            generator.load_state_dict(data["generator"])
            discriminator.load_state_dict(data["discriminator"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path} does not match this version of bngan's models ({first})") from None
        target = resolve_device(device)
        generator.to(target)
        discriminator.to(target)  # eval mode: set by __post_init__
        return cls(generator, discriminator, saved.config, saved.structure, saved.class_names, saved.class_counts,
                   int(data["step"]))

    def generate(self, labels: torch.Tensor, codes: torch.Tensor | None = None, z: torch.Tensor | None = None,
                 seed: int | None = None, truncation: float | None = None) -> torch.Tensor:
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        return generate(self.generator, self.config, labels, codes, z, rng=rng, truncation=truncation)

    @torch.no_grad()
    def realness(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """The discriminator's class-conditional real/fake score for images in [0, 1] (higher: more real)."""
        device = next(self.discriminator.parameters()).device
        scores = [self.discriminator(images[i:i + batch_size].to(device) * 2 - 1,
                                     labels[i:i + batch_size].to(device))["adv"].float().cpu()
                  for i in range(0, len(images), batch_size)]
        return torch.cat(scores) if scores else torch.empty(0)

    @torch.no_grad()
    def extract_codes(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``c'`` from the code head for images in [0, 1]."""
        device = next(self.discriminator.parameters()).device
        out = self.discriminator(images.to(device) * 2 - 1, None if labels is None else labels.to(device))
        return out["code"].float().cpu()

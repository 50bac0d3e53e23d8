"""``BNGANOversampler``: the trained generator as an imbalanced-learn over-sampler.

``fit_resample(X, y)`` trains a class-conditional generator on ``(X, y)`` (or loads a trained checkpoint) and
appends as many synthetic images per class as ``sampling_strategy`` asks for, in any of imbalanced-learn's
forms ('auto', 'minority', 'not majority', 'all', a float, a dict, a callable).
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real

import numpy as np
import torch
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils._param_validation import Interval, StrOptions

from bngan import models, regularizer
from bngan.config import TrainConfig
from bngan.data import ImageDataset
from bngan.device import DEVICES
from bngan.errors import InvalidSettingError
from bngan.losses import ADVERSARIAL_LOSSES
from bngan.structure import MAX_CODES, MIN_CODES, PRESETS, LatentStructure, StructureError
from bngan.training import TrainedModel, Trainer, sample_codes, sample_noise

MAX_CANDIDATES = 1000
CANDIDATE_BYTES = 256 * 2**20  # candidate images held at once; more are scored in chunks of this size


def _as_images(X: np.ndarray, image_shape: tuple[int, ...] | None) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``(N, C, H, W)`` float32 from images ``(N, H, W)``, ``(N, C, H, W)`` or rows with ``image_shape``."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidSettingError(f"X must be a numeric array of images: {str(exc)[:120]}") from None
    if X.ndim == 3:
        X = X[:, None]
    elif X.ndim == 2:
        if image_shape is None:
            side = math.isqrt(X.shape[1])
            if side * side != X.shape[1]:
                raise InvalidSettingError(f"rows of {X.shape[1]} values are not square images: pass "
                                      "image_shape=(C, H, W)")
            image_shape = (1, side, side)
        shape = tuple(image_shape) if len(image_shape) == 3 else (1, *image_shape)
        if int(np.prod(shape)) != X.shape[1]:
            raise InvalidSettingError(f"image_shape {image_shape} does not match rows of {X.shape[1]} values")
        X = X.reshape(len(X), *shape)
    elif X.ndim != 4:
        raise InvalidSettingError(f"X must be images (N, H, W), (N, C, H, W) or rows (N, D); got shape {X.shape}")
    if X.size and not np.isfinite(X).all():
        raise InvalidSettingError("X holds NaN or infinite pixel values: pixel values must be numbers in [0, 1]")
    return X, tuple(X.shape[1:])  # type: ignore[return-value]


def _check_images(X: np.ndarray) -> None:
    """Square images with 1 or 3 channels and pixel values in [0, 1]; else a ValueError that says the fix.
    Run after imbalanced-learn has checked ``y`` (its own checks use rows of two Gaussian features)."""
    channels, height, width = X.shape[1:]
    if height != width:
        raise InvalidSettingError(f"images are {height}x{width} pixels; bngan works on square images: resize "
                                  f"them to a square side such as {4 * round(max(height, width) / 4)}")
    if channels not in (1, 3):
        raise InvalidSettingError(f"images have {channels} channels; bngan takes 1 (grey) or 3 (RGB) in axis 1 "
                                  "of (N, C, H, W)")
    if X.size:
        low, high = float(np.min(X)), float(np.max(X))
        if not (np.isfinite(low) and np.isfinite(high)):
            raise InvalidSettingError("X holds NaN or infinite pixel values")
        if low < -1e-6 or high > 1 + 1e-6:
            fix = "divide by 255" if high > 1 and high <= 255 and low >= 0 else "rescale them to [0, 1]"
            raise InvalidSettingError(f"pixel values must be in [0, 1], got {low:g}..{high:g}: {fix}")


class BNGANOversampler(BaseOverSampler):
    """Over-sample minority classes with a Bayesian-network GAN.

    Parameters follow imbalanced-learn: ``sampling_strategy`` and ``random_state``; the rest are training
    settings (see :class:`bngan.TrainConfig`). ``checkpoint`` skips training and uses a trained model whose
    classes are the labels ``0..C-1``. ``real_share`` is the share of the images added to each class that
    are copies of that class's real images (random oversampling), the rest being synthetic: measured on
    MNIST, synthetic images alone lose to plain copies, a half-and-half mix comes close (RESULTS.md).
    ``synthetic_classes`` names the classes that receive synthetic images (None: every oversampled class); the
    others are topped up with real copies only, so synthesis goes where real images are scarcest (measured on
    Fashion-MNIST: synthetic Shirts, Pullovers and Coats cost macro-F1 that copies did not, RESULTS.md).
    ``candidates`` > 1 draws that many synthetic images per image kept and keeps the ones the discriminator
    finds most realistic for their class (its class-conditional ``adv`` score): discriminator rejection
    sampling, which trades a little diversity for fewer failed samples. ``truncation`` t redraws the noise's
    entries beyond ±t (BigGAN's truncation trick; None: the full N(0, 1)). ``adv_loss``, ``spectral_norm``,
    ``diffaugment``, ``ema_decay`` and ``lecam`` are the data-efficient training options of
    :class:`bngan.TrainConfig` (all off by default). Pixel values are expected in [0, 1].
    """

    _sampling_type = "over-sampling"
    # every parameter, checked by fit_resample before anything trains (TrainConfig's ranges where it has them)
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,  # sampling_strategy, random_state
        "checkpoint": [str, os.PathLike, None],
        "structure": [LatentStructure, str, dict],  # the object, a preset name or its JSON (checked next)
        "k": [Interval(Integral, MIN_CODES, MAX_CODES, closed="both")],
        "preset": [StrOptions(set(models.PRESETS))],
        "reg_mode": [StrOptions(set(regularizer.MODES))],
        "lambda_reg": [Interval(Real, 0, 100, closed="both")],
        "steps": [Interval(Integral, 1, 10**9, closed="both")],
        "batch_size": [Interval(Integral, 2, 4096, closed="both")],
        "image_shape": [tuple, list, None],
        "device": [StrOptions(set(DEVICES))],
        "real_share": [Interval(Real, 0, 1, closed="both")],
        "synthetic_classes": ["array-like", None],
        "candidates": [Interval(Integral, 1, MAX_CANDIDATES, closed="both")],
        "truncation": [Interval(Real, 0, None, closed="neither"), None],
        "adv_loss": [StrOptions(set(ADVERSARIAL_LOSSES))],
        "spectral_norm": ["boolean"],
        "diffaugment": ["boolean"],
        "ema_decay": [Interval(Real, 0, 0.99999, closed="both")],
        "lecam": [Interval(Real, 0, 100, closed="both")],
        "verbose": ["verbose"],
        "progress": [callable, None],
    }

    def __init__(self, *, sampling_strategy="auto", random_state=None, checkpoint=None, structure="disentangled",
                 k=4, preset="fast", reg_mode="paper", lambda_reg=0.1, steps=2000, batch_size=64,
                 image_shape=None, device="auto", real_share=0.0, synthetic_classes=None, candidates=1, truncation=None,
                 adv_loss="least-squares", spectral_norm=False, diffaugment=False, ema_decay=0.0, lecam=0.0,
                 verbose=False, progress=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.checkpoint = checkpoint
        self.structure = structure
        self.k = k
        self.preset = preset
        self.reg_mode = reg_mode
        self.lambda_reg = lambda_reg
        self.steps = steps
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.device = device
        self.real_share = real_share
        self.synthetic_classes = synthetic_classes
        self.candidates = candidates
        self.truncation = truncation
        self.adv_loss = adv_loss
        self.spectral_norm = spectral_norm
        self.diffaugment = diffaugment
        self.ema_decay = ema_decay
        self.lecam = lecam
        self.verbose = verbose
        self.progress = progress  # progress(step, total) while the GAN trains, e.g. for an app's progress line

    # imbalanced-learn hooks -------------------------------------------------------------------------
    def fit_resample(self, X, y, **params):
        """Resample images; the output keeps the input's layout (rows, (N, H, W) or (N, C, H, W)).

        Every parameter is checked first (imbalanced-learn's ``_parameter_constraints``, then the structure),
        so a bad setting is reported before the GAN spends minutes training."""
        self._validate_params()
        self._structure()
        images, self.image_shape_ = _as_images(X, self.image_shape)
        X_out, y_out = super().fit_resample(images.reshape(len(images), -1), y, **params)
        original = np.asarray(X).shape
        return X_out.reshape(len(X_out), *original[1:]), y_out

    def _fit_resample(self, X, y):
        images = X.reshape(len(X), *self.image_shape_)
        _check_images(images)
        classes = np.unique(y)
        self.classes_ = classes
        synthetic = self._synthetic_classes(classes)  # checked before the GAN spends minutes training
        self.model_ = self._model(images, y)
        rng = np.random.default_rng(self.random_state)
        new_X, new_y = [X], [y]
        for label, n in self.sampling_strategy_.items():
            if n <= 0:
                continue
            copies = round(n * float(self.real_share)) if label in synthetic else n
            chosen = rng.choice(np.flatnonzero(y == label), size=copies, replace=True)
            new_X.append(X[chosen])
            if n > copies:
                generated = self.generate(label, n - copies, seed=int(rng.integers(2**31)))
                new_X.append(generated.reshape(n - copies, -1).astype(X.dtype))
            new_y.append(np.full(n, label, dtype=y.dtype))
        return np.concatenate(new_X), np.concatenate(new_y)

    def _synthetic_classes(self, classes: np.ndarray) -> set:
        """The labels that get synthetic images: ``synthetic_classes``, each checked to be a class of ``y``."""
        if self.synthetic_classes is None:
            return set(classes.tolist())
        wanted = set(np.asarray(self.synthetic_classes).ravel().tolist())
        unknown = sorted(wanted - set(classes.tolist()), key=str)
        if unknown:
            raise InvalidSettingError(f"synthetic_classes {unknown} are not classes of y "
                                      f"({', '.join(map(str, classes.tolist()))})")
        return wanted

    # the generator ----------------------------------------------------------------------------------
    def _model(self, images: np.ndarray, y: np.ndarray) -> TrainedModel:
        if self.checkpoint is not None:
            model = TrainedModel.load(self.checkpoint, device=self.device)
            wanted = set(np.unique(y).tolist())
            if not wanted <= set(range(len(model.class_names))):
                raise InvalidSettingError(f"labels {sorted(wanted)} are not the checkpoint's classes "
                                 f"0..{len(model.class_names) - 1}")
            cfg = model.generator.cfg
            made = (cfg.channels, cfg.image_size, cfg.image_size)
            if tuple(images.shape[1:]) != made:
                raise InvalidSettingError(
                    f"X holds {'x'.join(map(str, images.shape[1:]))} images (C x H x W) but the checkpoint makes "
                    f"{'x'.join(map(str, made))}: resize X to {cfg.image_size}x{cfg.image_size} with "
                    f"{cfg.channels} channel(s), or train without a checkpoint")
            return model
        index = {label: i for i, label in enumerate(self.classes_)}
        labels = torch.tensor([index[v] for v in y.tolist()])
        self._label_index = index
        dataset = ImageDataset(torch.from_numpy(np.ascontiguousarray(images)), labels,
                               [str(c) for c in self.classes_], "fit_resample")
        side = images.shape[-1]
        structure = self._structure()
        config = TrainConfig(dataset="digits", imbalance={"profile": "none"}, preset=self.preset,
                             structure=structure.to_dict(), reg_mode=self.reg_mode, lambda_reg=self.lambda_reg,
                             steps=self.steps, batch_size=self.batch_size, device=self.device,
                             adv_loss=self.adv_loss, spectral_norm=bool(self.spectral_norm),
                             diffaugment=bool(self.diffaugment), ema_decay=float(self.ema_decay),
                             lecam=float(self.lecam),
                             seed=0 if self.random_state is None else int(self.random_state),
                             image_size=side if side % 4 == 0 else None, sample_every=10**9)
        if side % 4:
            raise InvalidSettingError(f"image side {side} is not a multiple of 4: resize the images (e.g. to 28 "
                                      "or 32)")
        trainer = Trainer(config, dataset=dataset)
        report = self.progress
        every = max(1, self.steps // 100)
        trainer.run(callback=None if report is None else
                    lambda event: report(event.step, self.steps) if event.step % every == 0 else None)
        self.trainer_ = trainer
        return trainer.trained_model()

    def _structure(self) -> LatentStructure:
        """The latent structure asked for: the object, a preset with ``k`` codes, or its JSON (StructureError
        when it is not valid)."""
        if isinstance(self.structure, LatentStructure):
            return self.structure
        if self.structure in PRESETS:
            return LatentStructure.preset(self.structure, self.k)
        if isinstance(self.structure, str) and not self.structure.lstrip().startswith("{"):
            shown = self.structure if len(self.structure) <= 40 else self.structure[:37] + "..."
            raise StructureError(f"structure {shown!r} is neither a preset ({', '.join(PRESETS)}) nor a "
                                 "structure JSON ('{\"k\": ..., \"edges\": ...}')")
        return LatentStructure.from_json(self.structure)

    def generate(self, label, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` synthetic images of class ``label`` as ``(n, C, H, W)`` float32 in [0, 1]."""
        if not hasattr(self, "model_"):
            raise InvalidSettingError("call fit_resample first (or pass checkpoint=...)")
        index = getattr(self, "_label_index", None)
        code = index[label] if index is not None else int(label)
        per_image, n = int(self.candidates), int(n)
        cfg = self.model_.generator.cfg
        chunk = max(1, CANDIDATE_BYTES // (4 * cfg.channels * cfg.image_size ** 2))
        if n * per_image <= chunk:
            images = self.model_.generate(torch.full((n * per_image,), code), seed=seed, truncation=self.truncation)
            if per_image > 1:
                realness = self.model_.realness(images, torch.full((len(images),), code))
                images = images[realness.argsort(descending=True)[:n]]
            return images.numpy()
        return self._best_of_chunks(code, n, per_image, chunk, seed).numpy()

    def _best_of_chunks(self, code: int, n: int, per_image: int, chunk: int, seed: int | None) -> torch.Tensor:
        """The ``n`` most realistic of ``n * per_image`` candidates, drawn and scored ``chunk`` at a time, so
        memory stays bounded (about ``chunk + n`` images) whatever ``candidates`` is."""
        rng = torch.Generator().manual_seed(seed) if seed is not None else torch.Generator().manual_seed(
            int(torch.randint(2**31, (1,))))
        cfg, config = self.model_.generator.cfg, self.model_.config
        best = scores = None
        left = n * per_image
        while left > 0:
            m = min(chunk, left)
            left -= m
            labels = torch.full((m,), code)
            codes = sample_codes(m, cfg.code_dim, config.code_prior, rng)
            z = sample_noise(m, cfg.z_dim, rng, self.truncation)
            images = self.model_.generate(labels, codes=codes, z=z)
            if per_image > 1:
                realness = self.model_.realness(images, labels)
            else:
                realness = torch.zeros(m)
            if best is not None:
                images, realness = torch.cat([best, images]), torch.cat([scores, realness])
            keep = realness.argsort(descending=True, stable=True)[:n]
            best, scores = images[keep], realness[keep]
        return best

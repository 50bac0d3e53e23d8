"""The GAN rows of the comparison as data: which settings define each row, and which rows train their CNN
on augmented images (torch-free).

The experiment's fingerprints, reports and the app's method list read these names and settings; the factories
that build the samplers (and import torch) are in :mod:`bngan.evaluation.gan_samplers`.
"""

from __future__ import annotations

from typing import Any

# name -> the settings that define the method (everything else is a shared training option)
GAN_METHODS: dict[str, dict[str, Any]] = {
    "bngan": {"structure": "disentangled", "reg_mode": "paper"},
    "bngan-entangled": {"structure": "entangled", "reg_mode": "paper"},
    "bngan-reference": {"structure": "reference", "reg_mode": "paper"},
    "bngan-mix": {"structure": "disentangled", "reg_mode": "paper", "real_share": 0.5, "candidates": 3},
    "bngan-trunc": {"structure": "disentangled", "reg_mode": "paper", "truncation": 1.0},
    # the data-efficient training options, one at a time and together (the ablation of docs/evaluation.md)
    "bngan-da": {"structure": "disentangled", "reg_mode": "paper", "diffaugment": True},
    "bngan-ema": {"structure": "disentangled", "reg_mode": "paper", "ema_decay": 0.999},
    "bngan-hinge-sn": {"structure": "disentangled", "reg_mode": "paper", "adv_loss": "hinge", "spectral_norm": True},
    "bngan-lecam": {"structure": "disentangled", "reg_mode": "paper", "lecam": 0.1},
    "bngan-de": {"structure": "disentangled", "reg_mode": "paper", "diffaugment": True, "ema_decay": 0.999,
                 "lecam": 0.1},
    # synthesis and the practitioners' augmentation together: the CNN also trains on transformed batches
    "bngan-aug": {"structure": "disentangled", "reg_mode": "paper", "cnn_augment": True},
    "bngan-mix-aug": {"structure": "disentangled", "reg_mode": "paper", "real_share": 0.5, "candidates": 3,
                      "cnn_augment": True},
    # bngan-mix-aug's images for the table's minority classes only; every other class gets real copies
    "bngan-minority-aug": {"structure": "disentangled", "reg_mode": "paper", "real_share": 0.5, "candidates": 3,
                           "synthesize": "minority", "cnn_augment": True},
    "infogan": {"structure": "disentangled", "reg_mode": "infogan"},
    "infogan-mix": {"structure": "disentangled", "reg_mode": "infogan", "real_share": 0.5, "candidates": 3},
}
SAMPLING_SETTINGS = ("real_share", "candidates", "truncation", "synthesize")
"""Settings that act after training: rows that differ only in these share one trained generator."""
CNN_SETTINGS = ("cnn_augment",)
"""Settings of the row's classifier, not of its sampler (``cnn_augment``: train on transformed batches)."""
GAN_OPTIONS = ("steps", "batch_size", "preset", "device", "lambda_reg", "k", "verbose", "checkpoint",
               "minority_classes")
"""Keyword options the GAN factories accept; the method's own settings (above) cannot be overridden.
``minority_classes`` are the classes a ``"synthesize": "minority"`` row synthesises (other rows ignore it)."""


def training_settings(name: str) -> dict[str, Any]:
    """The settings of method ``name`` that decide its trained generator (what a cached GAN is keyed by)."""
    return {k: v for k, v in GAN_METHODS[name].items() if k not in SAMPLING_SETTINGS + CNN_SETTINGS}


def sampler_settings(name: str) -> dict[str, Any]:
    """The settings of method ``name`` that its sampler takes (everything but the classifier's)."""
    return {k: v for k, v in GAN_METHODS[name].items() if k not in CNN_SETTINGS}


def is_gan(name: str) -> bool:
    """Whether ``name`` is a GAN row (it takes the GAN training options and makes images worth judging)."""
    return name in GAN_METHODS


AUGMENTED_ROWS = ("aug", "ros-aug")
"""The rows that differ from ``none`` / ``ros`` only in the CNN's augmentation."""


def trains_with_augmentation(method: str) -> bool:
    """Whether a row's CNN trains on randomly transformed images (rotation, shift, scale, shear, elastic)."""
    return method in AUGMENTED_ROWS or bool(GAN_METHODS.get(method, {}).get("cnn_augment"))

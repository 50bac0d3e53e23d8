"""Imbalance protocols: the paper's step profile and "these minority classes at imbalance ratio r"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bngan.data.datasets import DataError, ImageDataset

# Training images kept per class 0..9 in the standard split (docs/evaluation.md): class 9 has IR 100:1.
STANDARD_PROFILE = (4000, 2000, 1000, 750, 500, 350, 200, 100, 60, 40)
PROFILES = ("none", "standard", "minority")


@dataclass
class Imbalance:
    """How to make a training set imbalanced.

    ``profile='standard'`` keeps :data:`STANDARD_PROFILE` (scaled down, keeping the ratios, when a class has
    fewer images than asked); ``'minority'`` keeps every class whole except ``minority_classes``, which get
    ``majority / ir`` images; ``'none'`` keeps everything.
    """

    profile: str = "standard"
    minority_classes: Sequence[int] = field(default_factory=lambda: (8, 9))
    ir: float = 100.0
    counts: Sequence[int] | None = None  # explicit per-class counts override the profile

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise DataError(f"unknown imbalance profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        if not 1 <= float(self.ir) <= 100000:
            raise DataError(f"imbalance ratio must be between 1 and 100000, got {self.ir}")
        self.minority_classes = tuple(int(c) for c in self.minority_classes)

    def target_counts(self, available: dict[int, int]) -> dict[int, int]:
        """Images to keep per class, given what each class has."""
        classes = sorted(available)
        if self.counts is not None:
            if len(self.counts) != len(classes):
                raise DataError(f"counts has {len(self.counts)} entries for {len(classes)} classes")
            wanted = dict(zip(classes, (int(n) for n in self.counts)))
        elif self.profile == "none":
            wanted = dict(available)
        elif self.profile == "standard":
            if len(classes) != len(STANDARD_PROFILE):
                raise DataError(f"the standard profile is for 10 classes, this data set has {len(classes)}")
            wanted = dict(zip(classes, STANDARD_PROFILE))
            scale = min(1.0, *(available[c] / wanted[c] for c in classes))
            wanted = {c: max(1, round(n * scale)) for c, n in wanted.items()}
        else:
            bad = [c for c in self.minority_classes if c not in available]
            if bad:
                raise DataError(f"minority classes {bad} are not classes of this data set (0..{len(classes) - 1})")
            rest = [available[c] for c in classes if c not in self.minority_classes]
            majority = max(rest) if rest else max(available.values())
            wanted = {c: max(1, round(majority / float(self.ir))) if c in self.minority_classes else available[c]
                      for c in classes}
        short = {c: (n, available[c]) for c, n in wanted.items() if n > available[c]}
        if short:
            raise DataError("not enough images for " + ", ".join(
                f"class {c} (want {n}, have {a})" for c, (n, a) in short.items()))
        return wanted

    def to_dict(self) -> dict:
        return {"profile": self.profile, "minority_classes": list(self.minority_classes), "ir": float(self.ir),
                "counts": None if self.counts is None else list(self.counts)}


def make_imbalanced(dataset: ImageDataset, imbalance: Imbalance, seed: int = 0) -> ImageDataset:
    """Draw the imbalanced subset reproducibly: the same seed gives the same images (a 'fold')."""
    counts = imbalance.target_counts(dataset.class_counts())
    rng = np.random.default_rng(seed)
    labels = dataset.labels.numpy()
    keep = [rng.choice(np.flatnonzero(labels == c), size=n, replace=False) for c, n in counts.items() if n > 0]
    index = np.sort(np.concatenate(keep))
    return dataset.subset(index)


def minority_classes(counts: dict[int, int], share: float = 0.5) -> list[int]:
    """Classes with fewer than ``share`` times the largest class's images, smallest first."""
    top = max(counts.values())
    return sorted((c for c, n in counts.items() if n < share * top), key=lambda c: counts[c])

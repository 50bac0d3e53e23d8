"""Oversampling baselines behind one interface: ``make_oversampler(name).fit_resample(images, labels)``.

The experiment code must not care whether a row of a table came from SMOTE or from a GAN, so every
oversampler is an imbalanced-learn–style object whose ``fit_resample(X, y)`` takes images ``(N, C, H, W)``
in [0, 1] (torch or numpy) and labels ``(N,)``, and returns ``(images float32 (M, C, H, W) in [0, 1],
labels int64 (M,))`` with the original images first, in their order, then the synthetic ones.

The classical samplers work on vectors, so :class:`ImageOversampler` flattens the images, calls the
imbalanced-learn sampler, reshapes the result back and clips it to [0, 1]. It also caps the neighbour count
of the SMOTE family to what the smallest class allows (``k = min(k, n_min - 1)``), because on the standard
split a fold can hold only a handful of images of a class, and imbalanced-learn would fail there.

Adding a sampler (the GAN-based "infogan" and "bngan" rows): register a factory that takes
``random_state``, ``sampling_strategy`` and keyword options and returns an object with the same
``fit_resample``; a sampler that already works on images needs no wrapper::

    from bngan.evaluation.baselines import register_oversampler

    def _bngan(random_state=0, sampling_strategy="auto", **kw):
        from bngan.sampler import BNGANOversampler  # imported lazily: torch models are heavy
        return BNGANOversampler(sampling_strategy=sampling_strategy, random_state=random_state, **kw)

    register_oversampler("bngan", _bngan)

``sampling_strategy`` takes imbalanced-learn's forms ('auto', 'minority', 'not majority', 'all', a dict
``{class: target count}``, a callable), and samplers should resolve it with
``imblearn.utils.check_sampling_strategy(strategy, y, "over-sampling")`` so all rows balance alike.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import torch
from imblearn import FunctionSampler
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.utils import check_sampling_strategy

from bngan.errors import InvalidSettingError


class ImageSampler(Protocol):
    """What the experiments need from an oversampler."""

    def fit_resample(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]: ...


OversamplerFactory = Callable[..., ImageSampler]


class NoOversampler(FunctionSampler):
    """The "no oversampling" row: returns the training set unchanged.

    docs/evaluation.md asks every table to show it, because a plain CNN on the imbalanced set is a strong baseline.
    It takes (and ignores) ``sampling_strategy`` and ``random_state`` so it is built like every other row.
    """

    def __init__(self, sampling_strategy: Any = "auto", random_state: Any = None) -> None:
        super().__init__(func=None, validate=True)
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state

    def _fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.sampling_strategy_ = {}  # adds nothing, whatever the strategy asks
        return X, y


class ImageOversampler:
    """Runs a vector imbalanced-learn sampler on images: flatten, resample, reshape, clip to [0, 1].

    ``neighbors_param`` names the sampler's within-class neighbour count (``k_neighbors`` for SMOTE and
    Borderline-SMOTE, ``n_neighbors`` for ADASYN): before each fit it is capped to ``n_min - 1``, where
    ``n_min`` is the smallest class to be oversampled, and a class with a single image is a clear error.
    After ``fit_resample``, ``sampling_strategy_`` holds ``{class: images to add}`` as imbalanced-learn
    resolved it, ``added_`` the images actually added per class (ADASYN rounds, Borderline-SMOTE may skip a
    class; a class left empty is warned about) and ``n_neighbors_used_`` the neighbour count used.
    """

    def __init__(self, sampler: Any, neighbors_param: str | None = None) -> None:
        self.sampler = sampler
        self.neighbors_param = neighbors_param
        self._requested_k = sampler.get_params()[neighbors_param] if neighbors_param else None

    @property
    def sampling_strategy(self) -> Any:
        return self.sampler.sampling_strategy

    @property
    def random_state(self) -> Any:
        return getattr(self.sampler, "random_state", None)

    def __repr__(self) -> str:
        return f"ImageOversampler({self.sampler!r})"

    def fit_resample(self, X: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        images, labels = _as_arrays(X, y)
        self.n_neighbors_used_ = self._cap_neighbors(labels)
        flat = images.reshape(len(images), -1)
        with warnings.catch_warnings():  # imblearn warns about float32 → float64 copies; harmless here
            warnings.simplefilter("ignore", category=UserWarning)
            new_flat, new_labels = self.sampler.fit_resample(flat, labels)
        resolved = getattr(self.sampler, "sampling_strategy_", None)
        self.sampling_strategy_ = ({int(c): int(n) for c, n in resolved.items()}
                                   if isinstance(resolved, Mapping) else {})
        out = np.clip(np.asarray(new_flat, dtype=np.float32), 0.0, 1.0).reshape(-1, *images.shape[1:])
        new_labels = np.asarray(new_labels, dtype=np.int64)
        self._check_added(labels, new_labels)
        return out, new_labels

    def _check_added(self, before: np.ndarray, after: np.ndarray) -> None:
        """Record ``added_`` per class and warn about classes that were asked for images but got none.

        Borderline-SMOTE only grows classes with images near a class border: on tiny, well-separated
        classes it can add nothing, and a silently unbalanced "balanced" row would mislead a table.
        """
        old, new = Counter(before.tolist()), Counter(after.tolist())
        self.added_ = {c: new[c] - old[c] for c in self.sampling_strategy_}
        empty = [c for c, n in self.sampling_strategy_.items() if n > 0 and self.added_[c] == 0]
        if empty:
            warnings.warn(f"{type(self.sampler).__name__} added no images to class(es) {empty} although the "
                          "sampling strategy asked for some; those classes stay as they were.", stacklevel=3)

    def _cap_neighbors(self, labels: np.ndarray) -> int | None:
        """Cap the neighbour count so the smallest class to oversample has enough neighbours."""
        if self.neighbors_param is None or not isinstance(self._requested_k, (int, np.integer)):
            return None
        targets = check_sampling_strategy(self.sampler.sampling_strategy, labels, "over-sampling")
        counts = Counter(labels.tolist())
        grown = {c: counts[c] for c, n in targets.items() if n > 0}
        if not grown:
            return int(self._requested_k)
        smallest = min(grown, key=grown.get)
        if grown[smallest] < 2:
            raise InvalidSettingError(
                f"class {smallest} has {grown[smallest]} image: {type(self.sampler).__name__} interpolates "
                "between images of a class and needs at least 2. Use 'ros' (random oversampling), add "
                "images of that class, or leave it out of sampling_strategy.")
        k = int(min(self._requested_k, grown[smallest] - 1))
        self.sampler.set_params(**{self.neighbors_param: k})
        return k


def _as_arrays(X: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 numpy (N, C, H, W) (a (N, H, W) batch gets a channel axis), labels as int64."""
    images = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
    labels = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    images = images.astype(np.float32, copy=False)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise InvalidSettingError(f"images must be (N, C, H, W) or (N, H, W), got shape {images.shape}")
    if len(images) != len(labels):
        raise InvalidSettingError(f"{len(images)} images but {len(labels)} labels")
    return images, labels.astype(np.int64).ravel()


def _imblearn_factory(cls: type, neighbors_param: str | None = None) -> OversamplerFactory:
    def factory(random_state: Any = 0, sampling_strategy: Any = "auto", **kw: Any) -> ImageOversampler:
        return ImageOversampler(cls(sampling_strategy=sampling_strategy, random_state=random_state, **kw),
                                neighbors_param)

    factory.__doc__ = f"{cls.__name__} on flattened images (options: {cls.__name__}'s keyword arguments)."
    return factory


OVERSAMPLERS: dict[str, OversamplerFactory] = {
    "none": _imblearn_factory(NoOversampler),
    "ros": _imblearn_factory(RandomOverSampler),
    # what practitioners do: ordinary augmentation while the CNN trains (bngan.evaluation.augmentation), with and
    # without random oversampling; the rows differ from none / ros only in that augmentation
    "aug": _imblearn_factory(NoOversampler),
    "ros-aug": _imblearn_factory(RandomOverSampler),
    "smote": _imblearn_factory(SMOTE, "k_neighbors"),
    "borderline-smote": _imblearn_factory(BorderlineSMOTE, "k_neighbors"),
    "adasyn": _imblearn_factory(ADASYN, "n_neighbors"),
}
"""Name → factory ``(random_state=0, sampling_strategy="auto", **options) -> sampler``; see the module doc."""


def _deepsmote(random_state: Any = 0, sampling_strategy: Any = "auto", **kw: Any) -> ImageSampler:
    from bngan.evaluation.deepsmote import DeepSMOTE  # its networks are built only when the row runs

    return DeepSMOTE(sampling_strategy=sampling_strategy, random_state=random_state, **kw)


OVERSAMPLERS["deepsmote"] = _deepsmote


def register_oversampler(name: str, factory: OversamplerFactory, replace: bool = False) -> None:
    """Add a sampler to :data:`OVERSAMPLERS` (refuses to overwrite a name unless ``replace``)."""
    if name in OVERSAMPLERS and not replace:
        raise InvalidSettingError(f"oversampler {name!r} is already registered; pass replace=True to replace it")
    OVERSAMPLERS[name] = factory


def make_oversampler(name: str, random_state: Any = 0, sampling_strategy: Any = "auto",
                     **kw: Any) -> ImageSampler:
    """Build the oversampler ``name`` (one of :data:`OVERSAMPLERS`) with imbalanced-learn's parameters.

    Extra keywords go to the underlying sampler (e.g. ``k_neighbors=3`` for SMOTE). ADASYN decides counts
    per image from its neighbourhoods, so its class totals only approximate the strategy (within a few
    images); Borderline-SMOTE adds nothing for a class with no image near a class border.
    """
    try:
        factory = OVERSAMPLERS[name]
    except KeyError:
        raise InvalidSettingError(f"unknown oversampler {name!r}; choose one of {', '.join(OVERSAMPLERS)}") from None
    return factory(random_state=random_state, sampling_strategy=sampling_strategy, **kw)

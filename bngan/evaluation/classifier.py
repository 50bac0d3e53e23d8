"""The one fixed classifier every method is judged with, and a cached "judge" trained on balanced real data.

docs/evaluation.md: the paper compares oversamplers by training the *same* small CNN (two 5×5 conv layers 32/64 with
max-pool, dropout, FC 1000, FC C; Adam 1e-4, batch 64) on each resampled training set. Keeping the network,
optimiser and seed fixed makes the oversampler the only thing that differs between rows of a table.

The same network trained on the full, balanced real training set is the *judge*: its predictions give the
fidelity of synthetic images (is a generated "8" classified as 8?) and its FC-1000 activations are the
feature space for FID and precision/recall/density/coverage (:mod:`bngan.evaluation.quality`) — nothing has
to be downloaded, and the features are those of the domain, not of ImageNet.
"""

from __future__ import annotations

import math
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bngan.device import resolve_device
from bngan.errors import InvalidSettingError
from bngan.evaluation.augmentation import augmenter
from bngan.files import atomic_write_bytes

ENV_CACHE_DIR = "BNGAN_CACHE_DIR"
JUDGE_FORMAT = 1  # bump when the network or the judge recipe changes, so stale caches are not reused
# Epochs for the judge: 2 passes over MNIST-size data (~1900 steps); digits (23 steps an epoch) needs ~25
# epochs to reach 0.97 test accuracy at Adam 1e-4.
JUDGE_EPOCHS = {"mnist": 2, "fashion-mnist": 2, "digits": 30}
JUDGE_MIN_STEPS = 1800  # other data sets: enough epochs for about this many steps at batch 64

_JUDGES: dict[tuple[str, str], PaperCNN] = {}  # in-process cache: (file, device) -> loaded judge
_JUDGE_LOCK = threading.Lock()

ProgressFn = Callable[[int, int, float], None]
"""``progress(epoch, epochs, mean_loss)``, called after every epoch (epoch counts from 1)."""
SnapshotFn = Callable[[int, "PaperCNN"], None]
"""``on_snapshot(step, model)``: the model after ``step`` optimiser steps, in eval mode (do not train it)."""


class PaperCNN(nn.Module):
    """The paper's classifier: conv5×5(32)-pool-conv5×5(64)-pool-dropout-FC1000-FC(num_classes), ReLUs.

    Layer order as docs/evaluation.md states it (the paper gives no more detail): one dropout, after the conv stack.
    'Same' padding keeps 28×28 → 7×7; the flatten size is measured with a dummy forward, so 32×32 (or any
    size ≥ 4) works without hand-computed numbers.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(dropout),
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
        self.fc = nn.Sequential(nn.Linear(flat, 1000), nn.ReLU())
        self.head = nn.Linear(1000, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (FC-1000, after ReLU) activations: the judge's feature space."""
        return self.fc(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _device(device: str | torch.device) -> torch.device:
    """A :class:`torch.device` as is; a name via :func:`bngan.device.resolve_device` (auto: cuda/mps/cpu)."""
    return device if isinstance(device, torch.device) else resolve_device(str(device))


def as_image_tensor(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Accept (N, C, H, W) or (N, H, W), torch or numpy, floats in [0, 1] or uint8; return float32 NCHW.

    The evaluation code receives images from many places (data sets, imblearn samplers, GANs), so the
    conversion lives in one function and fails loudly on 0..255 floats rather than silently saturating.
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    images = images.float()
    if images.ndim == 3:
        images = images.unsqueeze(1)
    if images.ndim != 4:
        raise InvalidSettingError(f"images must be (N, C, H, W) or (N, H, W), got shape {tuple(images.shape)}")
    if images.numel() and (images.min() < -0.01 or images.max() > 1.01):
        raise InvalidSettingError(f"images must be in [0, 1], got values in [{images.min():.3g}, {images.max():.3g}]")
    return images


def _as_labels(labels: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels).long()


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


def train_classifier(images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, num_classes: int,
                     epochs: int = 8, batch_size: int = 64, lr: float = 1e-4, seed: int = 0,
                     device: str | torch.device = "auto", progress: ProgressFn | None = None,
                     steps: int | None = None, augment: bool = False, augmentation: str = "batched",
                     snapshots: Sequence[int] = (), on_snapshot: SnapshotFn | None = None) -> PaperCNN:
    """Train the paper's CNN with cross-entropy and Adam; return it in eval mode on ``device``.

    ``steps``, when given, replaces ``epochs`` by a fixed number of optimiser steps (epochs continue, the
    last one cut short). Use it to compare oversamplers fairly: at a fixed epoch count a set balanced to
    40,000 images gets 4.4× the updates of the 9,000-image imbalanced set it came from.

    ``augment`` trains on randomly transformed copies of each batch, the ordinary augmentation practitioners
    use against few images; ``augmentation`` names its implementation (:mod:`bngan.evaluation.augmentation`).

    ``on_snapshot(step, model)`` is called (model in eval mode) after each step in ``snapshots``: the
    learning rate is constant, so the model at step k is the model a k-step budget would give, and one
    training measures every smaller budget too (a budget study at the cost of its largest budget).

    The same seed gives the same weights (on CPU; cuDNN may add tiny differences): initialisation, shuffling
    (a fresh permutation every epoch) and dropout draw from a seeded, forked RNG, so calling this does not
    disturb the caller's global random state.
    """
    x = as_image_tensor(images)
    y = _as_labels(labels)
    if len(x) != len(y) or len(x) == 0:
        raise InvalidSettingError(f"need the same, non-zero number of images and labels, got {len(x)} and {len(y)}")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise InvalidSettingError(f"labels must be in 0..{num_classes - 1}, got {int(y.min())}..{int(y.max())}")
    if x.shape[-1] != x.shape[-2]:
        raise InvalidSettingError(f"images must be square, got {tuple(x.shape[-2:])}")
    augment_fn = augmenter(augmentation) if augment else None
    dev = _device(device)
    with torch.random.fork_rng(devices=_rng_devices(dev)):
        torch.manual_seed(seed)
        model = PaperCNN(num_classes, in_channels=x.shape[1], image_size=x.shape[-1]).to(dev)
        _fit(model, x.to(dev), y.to(dev), _step_budget(len(x), epochs, batch_size, steps), batch_size, lr,
             seed, progress, augment_fn, set(snapshots), on_snapshot)
    return model.eval()


def _step_budget(n: int, epochs: int, batch_size: int, steps: int | None) -> int:
    if steps is None:
        return epochs * math.ceil(n / batch_size)
    if steps < 1:
        raise InvalidSettingError(f"steps must be at least 1, got {steps}")
    return steps


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, total_steps: int, batch_size: int, lr: float,
         seed: int, progress: ProgressFn | None,
         augment: Callable[[torch.Tensor], torch.Tensor] | None = None, snapshots: set[int] | None = None,
         on_snapshot: SnapshotFn | None = None) -> None:
    """Adam on shuffled mini-batches (a fresh permutation per epoch) until ``total_steps`` updates."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(seed)
    per_epoch = math.ceil(len(x) / batch_size)
    epochs = math.ceil(total_steps / per_epoch)
    done = 0
    model.train()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(x), generator=shuffle).to(x.device)
        total, seen = 0.0, 0
        for start in range(0, len(x), batch_size):
            if done == total_steps:
                break
            index = order[start:start + batch_size]
            batch = x[index] if augment is None else augment(x[index])
            loss = loss_fn(model(batch), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, seen, done = total + loss.item() * len(index), seen + len(index), done + 1
            if on_snapshot is not None and snapshots and done in snapshots:
                on_snapshot(done, model.eval())
                model.train()
        if progress is not None:
            progress(epoch, epochs, total / seen)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _batched(model: PaperCNN, images: torch.Tensor | np.ndarray, batch_size: int,
             fn: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
    x = as_image_tensor(images)
    if tuple(x.shape[1:]) != (model.in_channels, model.image_size, model.image_size):
        side = model.image_size
        raise InvalidSettingError(f"the classifier expects images of shape (N, {model.in_channels}, {side}, {side}), "
                         f"got {tuple(x.shape)}")
    was_training = model.training
    model.eval()
    dev = _model_device(model)
    out = [fn(x[i:i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.empty((0,))


def predict(model: PaperCNN, images: torch.Tensor | np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Predicted class per image, int64 ``(N,)``."""
    if len(images) == 0:
        return np.empty((0,), dtype=np.int64)
    return _batched(model, images, batch_size, lambda b: model(b).argmax(1)).astype(np.int64)


def features(model: PaperCNN, images: torch.Tensor | np.ndarray, batch_size: int = 512) -> np.ndarray:
    """FC-1000 activations ``(N, 1000)`` float64 (float64 so covariances in FID stay accurate)."""
    if len(images) == 0:
        return np.empty((0, 1000))
    return _batched(model, images, batch_size, model.features).astype(np.float64)


def accuracy(model: PaperCNN, images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """Share of images classified correctly."""
    return float(np.mean(predict(model, images) == _as_labels(labels).numpy()))


# --------------------------------------------------------------------------------------------------- judge

def default_cache_dir() -> Path:
    """Where judge weights live: ``$BNGAN_CACHE_DIR/judges`` if set, else ``~/.cache/bngan/judges``."""
    env = os.environ.get(ENV_CACHE_DIR)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "bngan"
    return base / "judges"


def judge_epochs(dataset_name: str, n_train: int, batch_size: int = 64) -> int:
    """Epochs for a judge: the fixed table, else enough for about :data:`JUDGE_MIN_STEPS` optimiser steps."""
    if dataset_name in JUDGE_EPOCHS:
        return JUDGE_EPOCHS[dataset_name]
    return max(2, math.ceil(JUDGE_MIN_STEPS * batch_size / max(1, n_train)))


def judge_classifier(dataset_name: str, image_size: int | None = None,
                     cache_dir: str | os.PathLike | None = None, device: str | torch.device = "auto",
                     seed: int = 0, epochs: int | None = None,
                     progress: ProgressFn | None = None, data_dir: str | os.PathLike | None = None) -> PaperCNN:
    """The paper CNN trained on the whole, balanced real training set of ``dataset_name`` (read from
    ``data_dir``, default :func:`bngan.data.default_data_dir`); cached.

    Trained once per (data set, image size, epochs, seed) and saved to ``cache_dir`` (default
    :func:`default_cache_dir`); later calls, in this process or another, load it. The returned model has a
    ``judge_info`` dict: data set, image size, epochs, seed and its ``test_accuracy`` on the official test
    set — report that number next to any fidelity, since a judge that errs makes real images look unfaithful.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    dev = _device(device)
    path = judge_path(folder, dataset_name, image_size, seed, epochs)
    key = (str(path.resolve()), str(dev))
    with _JUDGE_LOCK:  # one training per judge even when background jobs ask at the same time
        if key not in _JUDGES:
            model = _load_judge(path, dev) if path.is_file() else None
            if model is None:
                model = _train_judge(dataset_name, image_size, dev, seed, epochs, progress, data_dir)
                _save_atomic({"state_dict": model.state_dict(), "info": model.judge_info}, path)
            _JUDGES[key] = model
        return _JUDGES[key]


def clear_judge_cache() -> None:
    """Forget judges loaded in this process (files on disk stay); the next call loads or trains again."""
    with _JUDGE_LOCK:
        _JUDGES.clear()


def judge_path(folder: Path, dataset_name: str, image_size: int | None, seed: int = 0,
               epochs: int | None = None) -> Path:
    """The cache file of a judge: one per data set, image size, epochs, seed and :data:`JUDGE_FORMAT`."""
    size_tag = "native" if image_size is None else f"{image_size}px"
    epoch_tag = "default" if epochs is None else f"e{epochs}"
    return Path(folder) / f"{dataset_name}-{size_tag}-{epoch_tag}-s{seed}-v{JUDGE_FORMAT}.pt"


def _train_judge(dataset_name: str, image_size: int | None, device: torch.device, seed: int,
                 epochs: int | None, progress: ProgressFn | None,
                 data_dir: str | os.PathLike | None = None) -> PaperCNN:
    from bngan.data.datasets import load_dataset

    train = load_dataset(dataset_name, train=True, root=data_dir, image_size=image_size)
    test = load_dataset(dataset_name, train=False, root=data_dir, image_size=image_size)
    n_epochs = epochs if epochs is not None else judge_epochs(dataset_name, len(train))
    model = train_classifier(train.images, train.labels, train.num_classes, epochs=n_epochs, seed=seed,
                             device=device, progress=progress)
    model.judge_info = {
        "dataset": dataset_name, "image_size": int(train.images.shape[-1]),
        "in_channels": int(train.images.shape[1]), "num_classes": train.num_classes,
        "class_names": list(train.class_names), "epochs": n_epochs, "seed": seed, "n_train": len(train),
        "test_accuracy": accuracy(model, test.images, test.labels), "format": JUDGE_FORMAT,
    }
    return model


def _save_atomic(obj: dict, path: Path) -> None:
    """A crash never leaves half a judge: the checkpoint module's temp-file-and-rename write."""
    atomic_write_bytes(path, lambda handle: torch.save(obj, handle))


def _load_judge(path: Path, device: torch.device) -> PaperCNN | None:
    """The cached judge, or None when the file is unreadable or from another format (it is then retrained)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        info = blob["info"]
        model = PaperCNN(info["num_classes"], in_channels=info["in_channels"], image_size=info["image_size"])
        model.load_state_dict(blob["state_dict"])
    except (OSError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError):
        return None
    model.judge_info = dict(info)
    return model.to(device).eval()

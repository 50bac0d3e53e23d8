"""Image data sets as in-memory tensors: the embedded ``digits`` default, MNIST, Fashion-MNIST, an image folder.

Everything is loaded once into a float tensor in [0, 1] of shape ``(N, C, H, W)``: the data sets here are
small, and a tensor makes class-balanced batch sampling and imbalance protocols one indexing operation.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bngan.errors import InvalidSettingError

DATASETS = ("digits", "mnist", "fashion-mnist", "folder", "dsprites")
ENV_DATA_DIR = "BNGAN_DATA_DIR"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DataError(InvalidSettingError):
    """A data set that cannot be loaded; the message says how to provide it."""


@dataclass
class ImageDataset:
    """Images ``(N, C, H, W)`` float32 in [0, 1] and integer labels ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    name: str = "custom"

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise DataError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise DataError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def class_counts(self) -> dict[int, int]:
        """Images per class, every class listed (zero where absent)."""
        counts = Counter(self.labels.tolist())
        return {c: counts.get(c, 0) for c in range(self.num_classes)}

    def subset(self, index: torch.Tensor | np.ndarray) -> ImageDataset:
        index = torch.as_tensor(index, dtype=torch.long)
        return ImageDataset(self.images[index], self.labels[index], list(self.class_names), self.name)


def default_data_dir() -> Path:
    """Where MNIST-style data lives: ``$BNGAN_DATA_DIR``, else the project's ``../shared/data`` when it exists,
    else ``~/.cache/bngan/data``."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    if shared.is_dir():
        return shared
    return Path.home() / ".cache" / "bngan" / "data"


def resize(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """Square-resize a batch (bilinear, antialiased when shrinking); a no-op when already that size."""
    if size is None or (images.shape[-1] == size and images.shape[-2] == size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=size < images.shape[-1]).clamp_(0, 1)


def load_dataset(name: str, train: bool = True, root: str | os.PathLike | None = None,
                 image_size: int | None = None, download: bool = False, channels: int = 1) -> ImageDataset:
    """Load a data set by name.

    ``digits`` is scikit-learn's bundled 8x8 handwritten digits upscaled to 28x28 (no download, the app's
    default; ``train`` takes a fixed 80% split). ``mnist``/``fashion-mnist`` read torchvision's layout under
    ``root`` (see :func:`default_data_dir`) and download only when ``download=True``. ``folder`` reads
    ``root`` with one sub-folder per class: its ``train/`` and ``test/`` folders when it has both, else a fixed
    stratified 80/20 split (so a model trained in the app never saw the images Evaluate tests on).
    ``dsprites`` renders the procedural dSprites (shape is the class).
    """
    if name == "digits":
        data = _digits(train)
    elif name in ("mnist", "fashion-mnist"):
        data = _torchvision(name, train, str(Path(root) if root else default_data_dir()), download)
    elif name == "folder":
        if root is None:
            raise DataError("the 'folder' data set needs a root: a folder with one sub-folder of images per class")
        data = _folder_split(Path(root), channels, train)
    elif name == "dsprites":
        from bngan.data.dsprites import load_dsprites  # rendered by code, imported only when used

        data = load_dsprites(train=train)
    else:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if image_size is not None and not 8 <= image_size <= 128:
        raise DataError(f"image_size must be between 8 and 128, got {image_size}")
    images = resize(data.images, image_size)
    return ImageDataset(images, data.labels, data.class_names, data.name)


@functools.lru_cache(maxsize=4)
def _digits(train: bool) -> ImageDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(1234))
    cut = int(0.8 * len(labels))
    index = order[:cut] if train else order[cut:]
    images = resize(images[index], 28)
    return ImageDataset(images, labels[index], list(DIGIT_CLASSES), "digits")


@functools.lru_cache(maxsize=8)
def _torchvision(name: str, train: bool, root: str, download: bool) -> ImageDataset:
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    try:
        ds = cls(root=root, train=train, download=download)
    except RuntimeError as exc:
        folder = Path(root) / cls.__name__ / "raw"
        raise DataError(
            f"{name} was not found under {folder} ({exc}). Put the torchvision files there, point "
            f"${ENV_DATA_DIR} (or --data-dir) at a folder that has them, or pass download=True "
            "(--download) on a machine with internet.",
        ) from None
    images = ds.data.unsqueeze(1).float().div_(255.0)
    names = DIGIT_CLASSES if name == "mnist" else FASHION_CLASSES
    return ImageDataset(images, ds.targets.clone().long(), list(names), name)


MAX_FOLDER_PIXELS = 4096 * 4096  # per image: far above what a GAN of at most 128 px needs, far below a bomb


HOLDOUT_FRACTION = 0.2
SPLIT_SEED = 1234


def folder_classes(root: str | os.PathLike) -> list[str]:
    """The class names of an image folder (its ``train/`` folder's when split), without reading an image."""
    base = Path(root)
    if (base / "train").is_dir() and (base / "test").is_dir():
        base = base / "train"
    if not base.is_dir():
        raise DataError(f"image folder {base} does not exist: give a folder with one sub-folder per class")
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def _folder_split(base: Path, channels: int, train: bool) -> ImageDataset:
    """``train/`` or ``test/`` of a split folder, else this side of the fixed stratified holdout split."""
    if (base / "train").is_dir() and (base / "test").is_dir():
        train_classes, test_classes = folder_classes(base), folder_classes(base / "test")
        if train_classes != test_classes:
            raise DataError(f"{base}/train and {base}/test must hold the same class folders; train has "
                            f"{', '.join(train_classes)}, test has {', '.join(test_classes)}")
        side = None if train else _folder(str(base / "train"), channels, first_only=True).images.shape[-1]
        return _folder(str(base / ("train" if train else "test")), channels, side=side)
    data = _folder(str(base), channels)
    index = holdout_index(data.labels, train)
    return ImageDataset(data.images[index], data.labels[index], data.class_names, data.name)


def holdout_index(labels: torch.Tensor, train: bool, fraction: float = HOLDOUT_FRACTION,
                  seed: int = SPLIT_SEED) -> torch.Tensor:
    """Indices of one side of a fixed, stratified split: ``fraction`` of each class (at least one image of a
    class with two or more) is held out for testing, the same images every time."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_test = max(1, round(fraction * len(members))) if len(members) >= 2 else 0
        chosen.append(members[n_test:] if train else members[:n_test])
    return torch.sort(torch.cat(chosen)).values


def _folder(root: str, channels: int, side: int | None = None, first_only: bool = False) -> ImageDataset:
    """One sub-folder of images per class (hidden folders skipped). Every image is resized to one square
    side S: the shorter side of the first image read, clamped to 8..128 (a non-square image is stretched
    to the square; ``image_size`` then resizes again). An empty class folder, an unreadable image and an
    image over 4096 x 4096 pixels (a decompression bomb) are refused by name. ``side`` imposes the side (a
    test folder takes its train folder's); ``first_only`` reads one image (to learn the side)."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    base = Path(root)
    if not base.is_dir():
        raise DataError(f"image folder {base} does not exist: give a folder with one sub-folder per class")
    classes = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{base} needs at least two class sub-folders, found {len(classes)}")
    mode = "L" if channels == 1 else "RGB"
    images, labels = [], []
    for c, cls in enumerate(classes):
        files = sorted(f for f in (base / cls).iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file())
        if not files:
            raise DataError(f"the class folder {base / cls} holds no images ({', '.join(IMAGE_EXTENSIONS)}): add "
                            "some or remove the folder")
        for f in files:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(f) as opened:
                        width, height = opened.size
                        if width * height > MAX_FOLDER_PIXELS:
                            raise DataError(f"{f} is {width} x {height} pixels: refused (images are read up to "
                                            "4096 x 4096; a larger one may be a decompression bomb); shrink it")
                        img = opened.convert(mode)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise DataError(f"{f} is refused as a decompression bomb (too many pixels); shrink it") from None
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
                raise DataError(f"cannot read image {f}: {exc}") from None
            side = side or min(128, max(8, min(img.size)))
            arr = np.asarray(img.resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
            images.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))
            labels.append(c)
            if first_only:
                break
        if first_only:
            break
    return ImageDataset(torch.tensor(np.stack(images)), torch.tensor(labels), classes, f"folder:{base.name}")

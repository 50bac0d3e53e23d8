"""Data sets and imbalance protocols."""

from bngan.data.datasets import DATASETS, DataError, ImageDataset, default_data_dir, load_dataset, resize
from bngan.data.imbalance import STANDARD_PROFILE, Imbalance, make_imbalanced, minority_classes

__all__ = [
    "DATASETS",
    "STANDARD_PROFILE",
    "DataError",
    "ImageDataset",
    "Imbalance",
    "default_data_dir",
    "load_dataset",
    "make_imbalanced",
    "minority_classes",
    "resize",
]

import numpy as np
import pytest
import torch
from real_data import needs_real_data

from bngan.data import STANDARD_PROFILE, DataError, Imbalance, load_dataset, make_imbalanced, minority_classes


def test_digits_is_embedded_and_upscaled():
    train, test = load_dataset("digits"), load_dataset("digits", train=False)
    assert train.images.shape[1:] == (1, 28, 28) and len(train) + len(test) == 1797
    assert float(train.images.min()) >= 0.0 and float(train.images.max()) <= 1.0
    assert train.num_classes == 10


@needs_real_data("mnist")
def test_mnist_standard_split_counts_and_reproducibility():
    mnist = load_dataset("mnist")
    assert len(mnist) == 60000
    first = make_imbalanced(mnist, Imbalance("standard"), seed=3)
    again = make_imbalanced(mnist, Imbalance("standard"), seed=3)
    other = make_imbalanced(mnist, Imbalance("standard"), seed=4)
    assert list(first.class_counts().values()) == list(STANDARD_PROFILE)
    assert torch.equal(first.images, again.images)
    assert not torch.equal(first.images, other.images)
    assert minority_classes(first.class_counts())[:2] == [9, 8]


@needs_real_data("fashion-mnist")
def test_fashion_mnist_reads_offline():
    fashion = load_dataset("fashion-mnist", train=False)
    assert len(fashion) == 10000 and fashion.class_names[8] == "Bag"


def test_minority_protocol_at_a_ratio():
    digits = load_dataset("digits")
    counts = make_imbalanced(digits, Imbalance("minority", minority_classes=(3,), ir=20)).class_counts()
    biggest = max(n for c, n in counts.items() if c != 3)
    assert counts[3] == round(biggest / 20)
    assert all(counts[c] == digits.class_counts()[c] for c in counts if c != 3)


def test_missing_data_folder_says_how_to_fix(tmp_path):
    with pytest.raises(DataError, match="BNGAN_DATA_DIR"):
        load_dataset("mnist", root=tmp_path / "nowhere")


def test_bad_settings_are_refused():
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="imbalance ratio"):
        Imbalance("minority", ir=0.5)
    with pytest.raises(DataError, match="not enough images"):
        make_imbalanced(load_dataset("digits"), Imbalance(counts=[1000] * 10))


def test_image_folder(tmp_path):
    from PIL import Image

    for cls, value in (("cats", 40), ("dogs", 200)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((12, 12), value + i, dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    data = load_dataset("folder", root=tmp_path, image_size=16)
    held_out = load_dataset("folder", root=tmp_path, train=False, image_size=16)
    assert data.class_names == held_out.class_names == ["cats", "dogs"] and data.images.shape == (4, 1, 16, 16)
    assert data.class_counts() == {0: 2, 1: 2} and held_out.class_counts() == {0: 1, 1: 1}  # stratified 80/20
    pixels = lambda d: {round(float(x.mean()) * 255) for x in d.images}  # noqa: E731  (each image its own value)
    assert not pixels(data) & pixels(held_out) and len(pixels(data) | pixels(held_out)) == 6  # a partition
    assert torch.equal(load_dataset("folder", root=tmp_path, image_size=16).images, data.images)  # fixed split
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="cannot read image"):
        load_dataset("folder", root=tmp_path)


def test_image_folder_with_its_own_train_and_test_folders(tmp_path):
    """A folder with train/ and test/ is used as split; the test images take the train images' size."""
    from PIL import Image

    for split, size in (("train", 12), ("test", 20)):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(2 if split == "train" else 1):
                Image.fromarray(np.zeros((size, size), dtype=np.uint8)).save(tmp_path / split / cls / f"{i}.png")
    train, test = load_dataset("folder", root=tmp_path), load_dataset("folder", root=tmp_path, train=False)
    assert train.images.shape == (4, 1, 12, 12) and test.images.shape == (2, 1, 12, 12)
    assert train.class_names == test.class_names == ["a", "b"]
    (tmp_path / "test" / "c").mkdir()
    with pytest.raises(DataError, match="same class folders"):
        load_dataset("folder", root=tmp_path, train=False)


def _write_idx(path, array: np.ndarray) -> None:
    """One file in the IDX format MNIST ships in (magic: two zero bytes, the type 0x08 = ubyte, the rank)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_loader_reads_torchvision_layout(tmp_path):
    """A tiny MNIST in torchvision's raw layout: the loader, its scaling and the standard split work offline."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 300), ("t10k", 50)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, size=(n, 28, 28))
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    train = load_dataset("mnist", root=tmp_path)
    assert train.images.shape == (300, 1, 28, 28) and train.class_counts() == {c: 30 for c in range(10)}
    assert float(train.images.max()) <= 1.0 and float(train.images.max()) > 0.9
    split = make_imbalanced(train, Imbalance(counts=[30, 20, 10, 8, 6, 5, 4, 3, 2, 1]), seed=0)
    assert list(split.class_counts().values()) == [30, 20, 10, 8, 6, 5, 4, 3, 2, 1]
    assert len(load_dataset("mnist", root=tmp_path, train=False)) == 50

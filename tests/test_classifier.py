"""The paper's CNN: shapes, seeded determinism, that it learns digits, and the cached judge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bngan.data import load_dataset
from bngan.evaluation import classifier
from bngan.evaluation.classifier import (
    PaperCNN,
    accuracy,
    as_image_tensor,
    clear_judge_cache,
    default_cache_dir,
    features,
    judge_classifier,
    judge_path,
    predict,
    train_classifier,
)

JUDGE_EPOCHS = 8  # ~0.93 test accuracy on digits in ~12 s on one CPU thread; test_quality reuses this judge


@pytest.fixture(scope="module")
def digits() -> tuple:
    return load_dataset("digits", train=True), load_dataset("digits", train=False)


@pytest.fixture(scope="module")
def digits_judge(tmp_path_factory) -> PaperCNN:
    """Shared with tests/test_quality.py through the session's base temp folder (trained once per session)."""
    folder = tmp_path_factory.getbasetemp() / "judges"
    return judge_classifier("digits", 28, cache_dir=folder, device="cpu", epochs=JUDGE_EPOCHS)


@pytest.mark.parametrize("size", [16, 28, 32])
def test_shapes_for_any_size(size: int) -> None:
    model = PaperCNN(num_classes=7, image_size=size)
    x = torch.rand(5, 1, size, size)
    assert model(x).shape == (5, 7)
    assert model.features(x).shape == (5, 1000)
    assert predict(model, x).shape == (5,) and predict(model, x).dtype == np.int64
    assert features(model, x).shape == (5, 1000)
    with pytest.raises(ValueError, match="expects images of shape"):
        predict(model, torch.rand(2, 1, size + 4, size + 4))


def test_image_conversion() -> None:
    assert as_image_tensor(np.zeros((3, 8, 8), dtype=np.float32)).shape == (3, 1, 8, 8)
    as_uint8 = as_image_tensor(np.full((2, 1, 4, 4), 255, dtype=np.uint8))
    assert as_uint8.dtype == torch.float32 and float(as_uint8.max()) == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_image_tensor(torch.full((2, 1, 4, 4), 255.0))
    with pytest.raises(ValueError):
        as_image_tensor(torch.zeros(2, 3))


def test_same_seed_same_model_and_global_rng_untouched(digits) -> None:
    train, _ = digits
    x, y = train.images[:128], train.labels[:128]
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    calls: list[tuple[int, int, float]] = []
    a = train_classifier(x, y, 10, epochs=1, seed=5, device="cpu", progress=lambda *args: calls.append(args))
    assert torch.equal(torch.rand(3), before)  # the caller's RNG stream continues as if nothing happened
    b = train_classifier(x.numpy(), y.numpy(), 10, epochs=1, seed=5, device="cpu")
    c = train_classifier(x, y, 10, epochs=1, seed=6, device="cpu")
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name
    assert not torch.equal(a.fc[0].weight, c.fc[0].weight)
    np.testing.assert_array_equal(predict(a, train.images), predict(b, train.images))
    assert len(calls) == 1 and calls[0][:2] == (1, 1) and calls[0][2] > 0
    assert not a.training  # returned ready for evaluation


def test_fixed_step_budget(digits) -> None:
    train, _ = digits
    x, y = train.images[:128], train.labels[:128]  # 2 steps per epoch at batch 64
    calls: list[tuple[int, int, float]] = []
    by_steps = train_classifier(x, y, 10, steps=3, seed=1, device="cpu", progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(1, 2), (2, 2)]  # the second epoch is cut after one step
    one_epoch = train_classifier(x, y, 10, epochs=1, seed=1, device="cpu")
    two_steps = train_classifier(x, y, 10, epochs=99, steps=2, seed=1, device="cpu")  # steps wins
    assert torch.equal(one_epoch.fc[0].weight, two_steps.fc[0].weight)
    assert not torch.equal(one_epoch.fc[0].weight, by_steps.fc[0].weight)
    with pytest.raises(ValueError, match="steps"):
        train_classifier(x, y, 10, steps=0, device="cpu")


def test_snapshot_at_step_k_is_the_k_step_model(digits) -> None:
    """The budget study's premise: measuring along one training gives each smaller budget's own model
    (constant learning rate, same seed), with augmentation too, and the final model is unchanged."""
    train, test = digits
    x, y = train.images[:256], train.labels[:256]
    for augment in (False, True):
        seen: dict[int, np.ndarray] = {}

        def keep(step: int, model: PaperCNN, seen: dict = seen) -> None:
            assert not model.training
            seen[step] = predict(model, test.images)

        long = train_classifier(x, y, 10, steps=7, seed=3, device="cpu", augment=augment, snapshots=(2, 5),
                                on_snapshot=keep)
        assert sorted(seen) == [2, 5]
        for step in (2, 5):
            short = train_classifier(x, y, 10, steps=step, seed=3, device="cpu", augment=augment)
            np.testing.assert_array_equal(seen[step], predict(short, test.images))
        plain = train_classifier(x, y, 10, steps=7, seed=3, device="cpu", augment=augment)
        assert torch.equal(long.fc[0].weight, plain.fc[0].weight)
        assert not np.array_equal(seen[2], seen[5])  # the snapshots are different models


def test_training_rejects_bad_labels(digits) -> None:
    train, _ = digits
    with pytest.raises(ValueError, match="labels must be in"):
        train_classifier(train.images[:10], train.labels[:10] + 10, 10, epochs=1, device="cpu")
    with pytest.raises(ValueError):
        train_classifier(train.images[:10], train.labels[:9], 10, epochs=1, device="cpu")


def test_judge_learns_digits_and_is_cached(digits, digits_judge, tmp_path_factory) -> None:
    train, test = digits
    info = digits_judge.judge_info
    # chance is 0.1; a few epochs of the paper's CNN at Adam 1e-4 reach ~0.93 on the 360 test digits
    assert info["test_accuracy"] >= 0.8
    assert accuracy(digits_judge, test.images, test.labels) == pytest.approx(info["test_accuracy"])
    assert info["epochs"] == JUDGE_EPOCHS and info["n_train"] == len(train) and info["image_size"] == 28
    folder = tmp_path_factory.getbasetemp() / "judges"
    path = judge_path(folder, "digits", 28, seed=0, epochs=JUDGE_EPOCHS)
    assert path.is_file() and not list(folder.glob("*.tmp"))
    same = judge_classifier("digits", 28, cache_dir=folder, device="cpu", epochs=JUDGE_EPOCHS)
    assert same is digits_judge  # in-process cache
    clear_judge_cache()
    loaded = judge_classifier("digits", 28, cache_dir=folder, device="cpu", epochs=JUDGE_EPOCHS)
    assert loaded is not digits_judge  # read back from disk, no retraining
    assert loaded.judge_info == info
    np.testing.assert_array_equal(predict(loaded, test.images), predict(digits_judge, test.images))
    np.testing.assert_allclose(features(loaded, test.images[:20]), features(digits_judge, test.images[:20]))


def test_corrupt_judge_file_is_retrained(tmp_path: Path) -> None:
    path = judge_path(tmp_path, "digits", 16, seed=0, epochs=1)
    path.write_bytes(b"not a checkpoint")
    model = judge_classifier("digits", 16, cache_dir=tmp_path, device="cpu", epochs=1)
    assert model.judge_info["image_size"] == 16 and model.judge_info["epochs"] == 1
    assert torch.load(path, weights_only=True)["info"]["epochs"] == 1


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(classifier.ENV_CACHE_DIR, str(tmp_path))
    assert default_cache_dir() == tmp_path / "judges"
    monkeypatch.delenv(classifier.ENV_CACHE_DIR)
    assert default_cache_dir() == Path.home() / ".cache" / "bngan" / "judges"


def test_augmentation_rows_train_on_transformed_images(monkeypatch):
    """'aug' / 'ros-aug' are none / ros plus random affine and elastic transforms while the CNN trains: each
    image of a batch gets its own transform, the labels stay, and training stays seeded."""
    import bngan.evaluation.augmentation as augmentation
    import bngan.evaluation.classifier as classifier
    from bngan.evaluation.baselines import make_oversampler
    from bngan.evaluation.gan_methods import trains_with_augmentation

    assert trains_with_augmentation("ros-aug") and trains_with_augmentation("aug")
    assert not trains_with_augmentation("ros") and not trains_with_augmentation("bngan")
    torch.manual_seed(0)
    images = torch.zeros(8, 1, 28, 28)
    images[:, :, 10:18, 13:15] = 1.0  # the same bar in every image
    out = augmentation.augment_batched(images)
    assert out.shape == images.shape and not torch.equal(out, images)
    assert len({tuple(o.flatten().tolist()) for o in out}) >= 7  # each image transformed its own way
    _, y = make_oversampler("ros-aug", random_state=0).fit_resample(images, np.array([0] * 6 + [1] * 2))
    assert np.bincount(y).tolist() == [6, 6]  # the resampling is ROS's
    calls = []
    monkeypatch.setitem(augmentation.AUGMENTATIONS, "batched", lambda b: calls.append(("batched", len(b))) or b)
    monkeypatch.setitem(augmentation.AUGMENTATIONS, "per-image", lambda b: calls.append(("per-image", len(b))) or b)
    first = classifier.train_classifier(images, np.arange(8) % 2, 2, steps=3, batch_size=4, device="cpu",
                                        augment=True)
    assert calls == [("batched", 4)] * 3  # the default implementation, every batch
    calls.clear()
    classifier.train_classifier(images, np.arange(8) % 2, 2, steps=2, batch_size=4, device="cpu", augment=True,
                                augmentation="per-image")
    assert calls == [("per-image", 4)] * 2
    again = classifier.train_classifier(images, np.arange(8) % 2, 2, steps=3, batch_size=4, device="cpu",
                                        augment=True)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))

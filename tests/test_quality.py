"""Sample-quality metrics: Fréchet distance, PRDC (checked by hand in 1-d), fidelity with a trained judge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bngan.data import load_dataset
from bngan.evaluation.classifier import PaperCNN, judge_classifier
from bngan.evaluation.quality import (
    fidelity,
    frechet_distance,
    knn_radii,
    precision_recall_density_coverage,
    sample_quality,
)

JUDGE_EPOCHS = 8  # the same judge as tests/test_classifier.py: trained once per pytest session


@pytest.fixture(scope="module")
def digits_judge(tmp_path_factory) -> PaperCNN:
    folder = tmp_path_factory.getbasetemp() / "judges"
    return judge_classifier("digits", 28, cache_dir=folder, device="cpu", epochs=JUDGE_EPOCHS)


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(400, 16))


def test_frechet_distance_of_a_set_with_itself_is_zero(gaussian) -> None:
    assert frechet_distance(gaussian, gaussian) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_grows_with_a_shift(gaussian) -> None:
    # a pure mean shift by s in each of the 16 dimensions leaves the covariances equal: FD = 16 s²
    values = [frechet_distance(gaussian, gaussian + s) for s in (0.25, 0.5, 1.0, 2.0)]
    assert values == pytest.approx([16 * s * s for s in (0.25, 0.5, 1.0, 2.0)], rel=1e-5)
    other = np.random.default_rng(1).normal(size=(400, 16))
    assert 0 < frechet_distance(gaussian, other) < values[0]  # sampling noise only
    # a scale change: N(0, I) vs N(0, 4I) gives d (1 + 4 - 2·2) = d = 16, up to sampling error
    assert frechet_distance(gaussian, 2 * other) == pytest.approx(16, rel=0.2)


def test_frechet_distance_rank_deficient_and_errors() -> None:
    rng = np.random.default_rng(2)
    few = rng.normal(size=(5, 50))  # fewer rows than dimensions: singular covariances
    value = frechet_distance(few, rng.normal(size=(6, 50)))
    assert np.isfinite(value) and value > 0
    with pytest.raises(ValueError):
        frechet_distance(few[:1], few)
    with pytest.raises(ValueError):
        frechet_distance(few, rng.normal(size=(5, 49)))


def test_prdc_identical_and_disjoint_sets(gaussian) -> None:
    same = precision_recall_density_coverage(gaussian, gaussian, k=5)
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    assert same["density"] == pytest.approx(6 / 5)  # each real ball holds its centre and its 5 neighbours
    far = precision_recall_density_coverage(gaussian, gaussian + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    with pytest.raises(ValueError, match="more than 5"):
        precision_recall_density_coverage(gaussian[:5], gaussian, k=5)


def test_prdc_by_hand_in_one_dimension() -> None:
    real = np.array([0.0, 1.0, 2.0, 3.0, 20.0, 21.0])[:, None]
    fake = np.array([0.5, 10.0, 2.9])[:, None]
    # k = 1: every real ball has radius 1; fake radii: 0.5 -> 2.4 (to 2.9), 10 -> 7.1, 2.9 -> 2.4
    assert knn_radii(real, 1) == pytest.approx([1, 1, 1, 1, 1, 1])
    assert knn_radii(fake, 1) == pytest.approx([2.4, 7.1, 2.4])
    m = precision_recall_density_coverage(real, fake, k=1)
    # precision: 0.5 (in the balls of 0 and 1) and 2.9 (balls of 2 and 3) are inside; 10 is not -> 2/3
    assert m["precision"] == pytest.approx(2 / 3)
    # density: (2 + 0 + 2) balls / (k=1 × 3 fakes) = 4/3
    assert m["density"] == pytest.approx(4 / 3)
    # recall: 0..3 lie in the balls of fakes 0.5 / 2.9; 20 and 21 are 10 and 11 from fake 10 (> 7.1) -> 4/6
    assert m["recall"] == pytest.approx(4 / 6)
    # coverage: the nearest fake of 0, 1, 2, 3 is within 1 (0.5, 0.5, 0.9, 0.1); of 20, 21 it is not -> 4/6
    assert m["coverage"] == pytest.approx(4 / 6)


def test_fidelity_of_real_images_with_a_trained_judge(digits_judge) -> None:
    test = load_dataset("digits", train=False)
    f = fidelity(digits_judge, test.images, test.labels)
    assert f["overall"] >= 0.8 and f["n"] == len(test)
    assert f["overall"] == pytest.approx(digits_judge.judge_info["test_accuracy"])
    assert set(f["per_class"]) == set(range(10)) and sum(f["n_per_class"].values()) == len(test)
    wrong = fidelity(digits_judge, test.images, (test.labels + 1) % 10)  # intended class never shown
    assert wrong["overall"] < 0.1
    assert fidelity(digits_judge, test.images[:0], test.labels[:0])["n"] == 0


def test_sample_quality_real_versus_noise(digits_judge) -> None:
    train, test = load_dataset("digits", train=True), load_dataset("digits", train=False)
    minority = torch.isin(train.labels, torch.tensor([8, 9]))
    fake_good, fake_y = train.images[minority], train.labels[minority]  # a "perfect generator"
    good = sample_quality(digits_judge, test.images, test.labels, fake_good, fake_y)
    noise = torch.rand(len(fake_y), 1, 28, 28, generator=torch.Generator().manual_seed(0))
    bad = sample_quality(digits_judge, test.images, test.labels, noise, fake_y)
    assert good["classes"] == [8, 9] and set(good["per_class"]) == {8, 9}
    assert good["per_class"][9]["n_real"] == int((test.labels == 9).sum())
    # the judge (~0.95 on all test digits) finds 8 and 9 hardest: ~0.85 on these, real or training images
    assert good["fidelity"] >= 0.7 and bad["fidelity"] <= 0.5
    assert good["judge_accuracy_real"] >= 0.7
    assert good["fid"] < bad["fid"] / 5
    for c in (8, 9):
        g, b = good["per_class"][c], bad["per_class"][c]
        assert g["fid"] < b["fid"]
        assert g["precision"] > 0.5 and g["coverage"] > 0.5
        assert b["precision"] < 0.1 and b["coverage"] < 0.1
    # a class with too few fakes for PRDC (k = 5) still gets fidelity and FID, PRDC is None
    tiny = sample_quality(digits_judge, test.images, test.labels, fake_good[:3], torch.full((3,), 8))
    assert tiny["per_class"][8]["precision"] is None and tiny["per_class"][8]["fid"] is not None

"""BNGANOversampler: shapes and class counts for every sampling_strategy form, input layouts, generate(),
checkpoint reuse without retraining, and imbalanced-learn's own estimator checks.

Every fit here is a tiny GAN (2 steps, batch 8, 8×8 images): the point is the sampler's contract (how many
images of which class, in which layout), not image quality.

imbalanced-learn's estimator checks (``imblearn.utils.estimator_checks.estimator_checks_generator``) are
written for tabular samplers. Most of them draw their data from ``sample_dataset_generator()`` (1000 rows of
20 Gaussian features): 20 values are not an image. Here that generator is replaced by an image-shaped
equivalent (200 rows of 64 pixels in [0, 1], i.e. 8×8 images, three classes 40/60/100), so those checks run
unchanged on data the sampler is meant for. The checks that build their data inline with 2 features
(``check_target_type``, ``check_samplers_one_label``, ``check_samplers_fit``) get an instance with
``image_shape=(1, 1, 2)``, which lets the validation-only checks run. The checks that cannot apply are marked
``xfail(strict=True)`` with the reason, so a change that makes one pass shows up as XPASS and fails:

* ``check_samplers_fit`` — 30 rows of 2 features made inline: at most a 1×2 image, and the networks need
  square images whose side is a multiple of 4 from 8 to 128 (training raises on side 2).
* ``check_sampler_get_feature_names_out`` and ``..._pandas`` — 30 rows of 3 ``make_blobs`` features made
  inline: 3 values are no image. (:func:`test_feature_names_out_on_images` checks the same on images.)
* ``check_samplers_sparse`` and ``check_samplers_pandas_sparse`` — scipy sparse input: the sampler reshapes
  rows into dense image arrays; sparse pixels are not supported (the tags inherited from BaseOverSampler
  still claim sparse support).
* ``check_samplers_pandas`` — a DataFrame in should give a DataFrame out; the sampler reshapes its output
  into the input's image layout and returns a numpy array.
* ``check_samplers_list`` — a list in should give a list out; the sampler returns a numpy array.

The last three are limits of ``BNGANOversampler.fit_resample`` (it reshapes the output itself), not of
imbalanced-learn's data: they could be met by returning the base class's output type for 2-d input.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from imblearn.utils import estimator_checks as imblearn_checks

from bngan.sampler import BNGANOversampler

TINY = {"steps": 2, "batch_size": 8, "device": "cpu", "random_state": 0}
COUNTS = {0: 20, 1: 12, 2: 6}


def _images(counts: dict[int, int], side: int = 8, channels: int | None = None, seed: int = 0):
    """Random images in [0, 1] with ``counts`` images per class: (N, H, W) or (N, C, H, W)."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, c) for c, n in counts.items()]).astype(np.int64)
    shape = (len(y), side, side) if channels is None else (len(y), channels, side, side)
    return rng.random(shape).astype(np.float32), y


def _sampler(**kw) -> BNGANOversampler:
    return BNGANOversampler(**{**TINY, **kw})


# --------------------------------------------------------------------------------- sampling strategies

STRATEGIES = {  # strategy -> expected class counts after resampling COUNTS
    "auto": {0: 20, 1: 20, 2: 20},
    "minority": {0: 20, 1: 12, 2: 20},
    "not majority": {0: 20, 1: 20, 2: 20},
    "not minority": {0: 20, 1: 20, 2: 6},
    "all": {0: 20, 1: 20, 2: 20},
    "dict": {0: 20, 1: 15, 2: 10},
    "callable": {0: 20, 1: 12, 2: 9},
}


def _strategy(name: str):
    if name == "dict":
        return {1: 15, 2: 10}
    if name == "callable":
        return lambda y: {2: 9}
    return name


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_class_counts_for_every_strategy(name: str) -> None:
    X, y = _images(COUNTS)
    sampler = _sampler(sampling_strategy=_strategy(name))
    X_res, y_res = sampler.fit_resample(X, y)
    assert dict(Counter(y_res.tolist())) == STRATEGIES[name]
    assert X_res.shape == (len(y_res), 8, 8) and X_res.dtype == np.float32
    np.testing.assert_array_equal(X_res[:len(X)], X)  # the originals first, unchanged
    np.testing.assert_array_equal(y_res[:len(y)], y)
    assert X_res.min() >= 0.0 and X_res.max() <= 1.0
    added = {c: STRATEGIES[name][c] - COUNTS[c] for c in COUNTS}
    assert {int(c): int(n) for c, n in sampler.sampling_strategy_.items() if n} == \
        {c: n for c, n in added.items() if n}


def test_float_strategy_binary() -> None:
    """imbalanced-learn's float form (binary only): minority grows to ratio × majority."""
    X, y = _images({0: 20, 1: 5})
    _, y_res = _sampler(sampling_strategy=0.5).fit_resample(X, y)
    assert Counter(y_res.tolist()) == {0: 20, 1: 10}


def test_float_strategy_refused_for_multiclass() -> None:
    X, y = _images(COUNTS)
    with pytest.raises(ValueError, match="binary"):
        _sampler(sampling_strategy=0.5).fit_resample(X, y)


# ------------------------------------------------------------------------------------------- layouts

@pytest.mark.parametrize("layout", ["NHW", "NCHW", "NCHW-rgb", "rows+shape", "rows+hw", "rows-square"])
def test_input_layouts_are_kept(layout: str) -> None:
    """(N, H, W), (N, C, H, W) and flattened rows (with image_shape, or square without) come back alike."""
    X, y = _images({0: 12, 1: 4}, channels=3 if layout == "NCHW-rgb" else None)
    kwargs = {}
    if layout == "NCHW":
        X = X[:, None]
    elif layout.startswith("rows"):
        X = X.reshape(len(X), -1)
        kwargs = {"rows+shape": {"image_shape": (1, 8, 8)}, "rows+hw": {"image_shape": (8, 8)}}.get(layout, {})
    sampler = _sampler(**kwargs)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (24, *X.shape[1:])
    assert Counter(y_res.tolist()) == {0: 12, 1: 12}
    channels = 3 if layout == "NCHW-rgb" else 1
    assert sampler.image_shape_ == (channels, 8, 8)


def test_bad_shapes_are_refused() -> None:
    X, y = _images({0: 12, 1: 4})
    with pytest.raises(ValueError, match="not square"):
        _sampler().fit_resample(X.reshape(16, -1)[:, :60], y)
    with pytest.raises(ValueError, match="does not match"):
        _sampler(image_shape=(1, 4, 4)).fit_resample(X.reshape(16, -1), y)
    with pytest.raises(ValueError, match="multiple of 4"):
        _sampler().fit_resample(np.random.default_rng(0).random((16, 6, 6)), y)


def test_generate_and_reproducibility() -> None:
    X, y = _images({3: 12, 7: 4})  # labels need not be 0..C-1 when the sampler trains itself
    sampler = _sampler()
    X_res, _ = sampler.fit_resample(X, y)
    images = sampler.generate(7, 5, seed=1)
    assert images.shape == (5, 1, 8, 8) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, sampler.generate(7, 5, seed=1))
    again, _ = _sampler().fit_resample(X, y)  # the same random_state gives the same output (CPU)
    np.testing.assert_allclose(again, X_res, atol=1e-6)


def test_generate_before_fit_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="fit_resample first"):
        BNGANOversampler().generate(0, 3)


# ------------------------------------------------------------------------------------- checkpoints

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step digits model (28×28, classes 0..9) saved by the Trainer."""
    from bngan.config import TrainConfig
    from bngan.training import Trainer

    torch.set_num_threads(1)
    config = TrainConfig(dataset="digits", steps=2, batch_size=16, z_dim=8, device="cpu", sample_every=10**6,
                         checkpoint_every=10**6)
    trainer = Trainer(config)
    trainer.run()
    return trainer.save(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def test_checkpoint_is_used_without_training(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bngan.training import Trainer

    def no_training(*args, **kwargs):
        raise AssertionError("a sampler with a checkpoint must not train")

    monkeypatch.setattr(Trainer, "run", no_training)
    X, y = _images({0: 10, 5: 6, 9: 2}, side=28)
    sampler = _sampler(checkpoint=str(checkpoint))
    X_res, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res.tolist()) == {0: 10, 5: 10, 9: 10}
    assert X_res.shape == (30, 28, 28)
    assert not hasattr(sampler, "trainer_")
    assert sampler.model_.step == 2
    assert sampler.generate(9, 4, seed=0).shape == (4, 1, 28, 28)


def test_checkpoint_rejects_unknown_labels(checkpoint: Path) -> None:
    X, y = _images({0: 10, 12: 3}, side=28)
    with pytest.raises(ValueError, match="checkpoint's classes"):
        _sampler(checkpoint=str(checkpoint)).fit_resample(X, y)


# ------------------------------------------------------------------ imbalanced-learn's estimator checks

EXPECTED_FAILURES = {
    "check_samplers_fit": "30 rows of 2 features made inline: at most a 1x2 image; the networks need square "
                          "images with a side that is a multiple of 4 from 8 to 128",
    "check_sampler_get_feature_names_out": "30 rows of 3 make_blobs features made inline: 3 values are no "
                                           "image (see test_feature_names_out_on_images)",
    "check_sampler_get_feature_names_out_pandas": "30 rows of 3 make_blobs features made inline: 3 values are "
                                                  "no image",
    "check_samplers_sparse": "sparse input: images are dense pixel arrays (the inherited tags still claim "
                             "sparse support)",
    "check_samplers_pandas_sparse": "sparse DataFrame input: images are dense pixel arrays",
    "check_samplers_pandas": "DataFrame in, DataFrame out: fit_resample reshapes into the input's image "
                             "layout and returns a numpy array",
    "check_samplers_list": "list in, list out: fit_resample returns a numpy array for list input",
}
INLINE_TWO_FEATURES = {"check_target_type", "check_samplers_one_label", "check_samplers_fit"}


def _image_dataset_generator() -> tuple[np.ndarray, np.ndarray]:
    """Stands in for imblearn's ``sample_dataset_generator``: three classes 40/60/100 of 8×8 images as rows."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [40, 60, 100])
    rng.shuffle(y)
    return rng.random((len(y), 64)), y


def _imblearn_checks() -> list:
    """(check name, check) for every check imbalanced-learn runs on an over-sampler, with our marks."""
    params = []
    for _, check in imblearn_checks.estimator_checks_generator(_sampler(), legacy=True, mark=None):
        name = imblearn_checks._check_name(check)
        marks = [pytest.mark.xfail(strict=True, reason=EXPECTED_FAILURES[name])] \
            if name in EXPECTED_FAILURES else []
        params.append(pytest.param(name, check, id=name, marks=marks))
    return params


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "check"), _imblearn_checks())
def test_imblearn_estimator_check(name: str, check, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imblearn_checks, "sample_dataset_generator", _image_dataset_generator)
    shape = (1, 1, 2) if name in INLINE_TWO_FEATURES else None
    check(_sampler(image_shape=shape))


def test_every_check_is_accounted_for() -> None:
    """The xfail list names only checks imbalanced-learn still runs (a renamed check must not hide)."""
    names = {imblearn_checks._check_name(c) for _, c in
             imblearn_checks.estimator_checks_generator(_sampler(), legacy=True, mark=None)}
    assert set(EXPECTED_FAILURES) <= names
    assert {"check_samplers_fit_resample", "check_samplers_sampling_strategy_fit_resample"} <= names


def test_feature_names_out_on_images() -> None:
    """What check_sampler_get_feature_names_out asks, on 8×8 image rows."""
    X, y = _images({0: 12, 1: 4})
    sampler = _sampler()
    X_res, _ = sampler.fit_resample(X.reshape(16, -1), y)
    names = sampler.get_feature_names_out()
    assert len(names) == X_res.shape[1] == 64 and names.dtype == object


@pytest.mark.parametrize(("share", "copies"), [(0.0, 0), (0.5, 7), (1.0, 14)])
def test_real_share_mixes_copies_of_real_images_with_synthetic_ones(share: float, copies: int) -> None:
    X, y = _images(COUNTS)
    X_res, y_res = _sampler(sampling_strategy={1: 26}, real_share=share).fit_resample(X, y)
    added = X_res[len(X):]
    assert len(added) == 26 - COUNTS[1] == 14 and set(y_res[len(y):].tolist()) == {1}
    real = {x.tobytes() for x in X[y == 1]}
    assert sum(x.tobytes() in real for x in added) == copies  # random images: a synthetic one is never a copy
    with pytest.raises(ValueError, match="real_share"):
        _sampler(real_share=1.5).fit_resample(X, y)


def test_synthetic_classes_get_the_mix_and_every_other_class_only_real_copies() -> None:
    """synthetic_classes=[2]: class 2's added images are half synthetic, class 1's are all copies of its own
    real images; a class y lacks is refused before the GAN trains."""
    X, y = _images(COUNTS)
    sampler = _sampler(sampling_strategy={1: 20, 2: 20}, real_share=0.5, synthetic_classes=[2])
    X_res, y_res = sampler.fit_resample(X, y)
    added, added_y = X_res[len(X):], y_res[len(y):]
    for label, copies in ((1, 20 - COUNTS[1]), (2, round((20 - COUNTS[2]) * 0.5))):
        real = {x.tobytes() for x in X[y == label]}
        mine = added[added_y == label]
        assert len(mine) == 20 - COUNTS[label]
        assert sum(x.tobytes() in real for x in mine) == copies
    everything = _sampler(sampling_strategy={1: 20, 2: 20}, real_share=0.5).fit_resample(X, y)
    class1 = everything[0][len(X):][everything[1][len(y):] == 1]
    assert sum(x.tobytes() in {r.tobytes() for r in X[y == 1]} for x in class1) < len(class1)  # None: all mixed
    with pytest.raises(ValueError, match=r"synthetic_classes \[7\] are not classes of y"):
        _sampler(synthetic_classes=[2, 7], steps=10**6).fit_resample(X, y)  # refused at once, not after training


def test_candidates_keep_the_images_the_discriminator_finds_most_real() -> None:
    """With candidates=3 the kept images are the top third of 3n draws by the class-conditional adv score."""
    X, y = _images(COUNTS)
    filtered = _sampler(candidates=3)
    filtered.fit_resample(X, y)
    pool = filtered.model_.generate(torch.full((30,), 1), seed=5)  # the 3 × 10 draws generate(1, 10) makes
    scores = filtered.model_.realness(pool, torch.full((30,), 1))
    kept = torch.from_numpy(filtered.generate(1, 10, seed=5))
    assert kept.shape == (10, 1, 8, 8)
    best = pool[scores.argsort(descending=True)[:10]]
    assert torch.allclose(kept, best)
    kept_scores = filtered.model_.realness(kept, torch.full((10,), 1))
    assert kept_scores.min() >= scores.median()  # not just any ten of the pool
    with pytest.raises(ValueError, match="candidates"):
        _sampler(candidates=0).fit_resample(X, y)


def test_truncation_keeps_the_noise_within_bounds_and_the_images_nearer_the_mode() -> None:
    """truncation t: every noise entry within ±t (redrawn, not clipped), reproducible by seed; the images
    vary less than with the full noise (a trained-for-a-few-steps generator still maps z smoothly)."""
    from bngan.training import sample_noise

    z = sample_noise(2000, 16, torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5 and 0.2 < z.std() < 0.35  # N(0,1) cut at ±.5 has std .28; a clip would pile up
    assert (z.abs() > 0.49).float().mean() < 0.05
    assert torch.equal(sample_noise(8, 4, torch.Generator().manual_seed(3)),
                       torch.randn(8, 4, generator=torch.Generator().manual_seed(3)))  # None: the plain noise
    X, y = _images(COUNTS)
    full, cut = _sampler(), _sampler(truncation=0.25)
    full.fit_resample(X, y)
    cut.fit_resample(X, y)
    spread = lambda s: float(torch.from_numpy(s.generate(1, 200, seed=2)).std(0).mean())  # noqa: E731
    assert spread(cut) < spread(full)
    np.testing.assert_array_equal(cut.generate(1, 5, seed=4), cut.generate(1, 5, seed=4))
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="truncation"):
            _sampler(truncation=bad).fit_resample(X, y)


@pytest.mark.parametrize("bad", [{"real_share": 1.5}, {"candidates": 0}, {"candidates": 1.5}, {"k": 0},
                                 {"steps": 0}, {"batch_size": 1}, {"lambda_reg": -1.0}, {"preset": "huge"},
                                 {"reg_mode": "magic"}, {"device": "tpu"}, {"structure": "{not json"},
                                 {"structure": 3}, {"verbose": "loud"}, {"truncation": 0.0},
                                 {"adv_loss": "wasserstein"}, {"spectral_norm": "yes"}, {"diffaugment": 1},
                                 {"ema_decay": 1.0}, {"lecam": -0.5}])
def test_every_parameter_is_checked_before_anything_trains(bad: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad setting is reported at once, not after the GAN has trained for minutes."""
    from bngan.training import Trainer

    def no_training(*args, **kwargs):
        raise AssertionError("the GAN trained before its parameters were checked")

    monkeypatch.setattr(Trainer, "__init__", no_training)
    X, y = _images(COUNTS)
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name if name != "structure" else "JSON|structure"):
        _sampler(**bad).fit_resample(X, y)


def test_progress_reports_gan_steps_while_it_trains():
    from bngan.data import load_dataset
    from bngan.sampler import BNGANOversampler

    data = load_dataset("digits")
    seen: list[tuple[int, int]] = []
    sampler = BNGANOversampler(steps=6, batch_size=16, device="cpu", random_state=0,
                               progress=lambda step, total: seen.append((step, total)))
    sampler.fit_resample(data.images[:200].numpy(), data.labels[:200].numpy())
    assert seen == [(step, 6) for step in range(1, 7)]

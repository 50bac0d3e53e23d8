"""The CNN's augmentation (bngan.evaluation.augmentation): the batched implementation computes torchvision's
affine and elastic transforms, draws its displacement fields as torchvision does, and gives every image of a
batch its own transform."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from bngan.errors import InvalidSettingError
from bngan.evaluation.augmentation import (
    affine,
    augment_batched,
    augmenter,
    draw,
    elastic,
    elastic_displacement,
)


def strokes(n: int, height: int = 28, width: int = 28) -> torch.Tensor:
    """Random images with an empty border, like digits (so both fills agree far from the edges too)."""
    images = torch.rand(n, 1, height, width, generator=torch.Generator().manual_seed(0))
    images[..., :3, :] = 0
    images[..., :, -3:] = 0
    return images


@pytest.mark.parametrize("size", [(28, 28), (20, 24)])
def test_batched_affine_is_torchvision_affine_image_by_image(size: tuple[int, int]) -> None:
    images = strokes(6, *size)
    draw = torch.Generator().manual_seed(1)
    angle = torch.rand(6, generator=draw) * 20 - 10
    shift = torch.randint(-3, 4, (6, 2), generator=draw).float()
    scale = torch.rand(6, generator=draw) * 0.2 + 0.9
    shear = torch.rand(6, generator=draw) * 20 - 10
    ours = affine(images, angle, shift, scale, shear)
    theirs = torch.stack([
        TF.affine(images[i], angle=float(angle[i]), translate=[int(shift[i, 0]), int(shift[i, 1])],
                  scale=float(scale[i]), shear=[float(shear[i]), 0.0], interpolation=v2.InterpolationMode.BILINEAR,
                  fill=0)
        for i in range(6)])
    assert (ours - images).abs().max() > 0.3  # it did move them
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_batched_elastic_is_torchvision_elastic_image_by_image() -> None:
    images = strokes(5)
    torch.manual_seed(2)
    field = elastic_displacement(5, 28, 28)
    ours = elastic(images, field)
    theirs = torch.stack([TF.elastic(images[i], field[i:i + 1], fill=0) for i in range(5)])
    assert (ours - images).abs().max() > 0.1
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_displacement_fields_are_drawn_as_torchvision_draws_them() -> None:
    torch.manual_seed(3)
    theirs = v2.ElasticTransform(alpha=20.0, sigma=4.0).make_params([strokes(1)[0]])["displacement"]
    torch.manual_seed(3)
    ours = elastic_displacement(1, 28, 28)
    torch.testing.assert_close(ours, theirs)


def test_parameters_are_drawn_from_the_documented_ranges() -> None:
    """±10° rotation, shifts of whole pixels up to 10% of the side (±3 of 28, as torchvision rounds them),
    90–110% scale, ±10° x-shear, elastic on half the images: bounds kept and reached."""
    torch.manual_seed(7)
    params = draw(4000, 28, 28)
    for values, low, high, reach in ((params.angle, -10, 10, 0.2), (params.scale, 0.9, 1.1, 0.002),
                                     (params.shear, -10, 10, 0.2)):
        assert low <= float(values.min()) < low + reach and high - reach < float(values.max()) <= high
    assert set(params.shift.flatten().tolist()) == {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}
    assert params.distorted.float().mean() == pytest.approx(0.5, abs=0.03)
    tall = draw(4000, 40, 10).shift  # x by the width, y by the height
    assert float(tall[:, 0].abs().max()) == 1 and float(tall[:, 1].abs().max()) == 4


def test_every_image_gets_its_own_transform_and_a_seed_repeats_it() -> None:
    same = strokes(1).expand(32, 1, 28, 28).contiguous()
    torch.manual_seed(4)
    out = augment_batched(same)
    torch.manual_seed(4)
    again = augment_batched(same)
    assert out.shape == same.shape and out.dtype == same.dtype
    assert torch.equal(out, again)
    flat = out.flatten(1)
    distinct = {tuple(row.tolist()) for row in (flat * 1e4).round()}
    assert len(distinct) == 32
    assert float(out.min()) >= 0 and float(out.max()) <= 1 + 1e-6


def shapes(n: int) -> torch.Tensor:
    """Smooth, digit-sized strokes (a ring and a bar at random places): how far a transform moves them shows
    in how much the pixels change."""
    draw = torch.Generator().manual_seed(6)
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    out = []
    for _ in range(n):
        cy, cx = (torch.rand(2, generator=draw) * 6 + 11).tolist()
        ring = torch.exp(-((((ys - cy) ** 2 + (xs - cx) ** 2).sqrt() - 6) ** 2) / 2)
        bar = torch.exp(-((xs - cx - 3) ** 2) / 2) * (abs(ys - cy) < 7)
        out.append(torch.clamp(ring + bar, 0, 1))
    return torch.stack(out)[:, None]


def test_the_batched_transform_moves_images_as_much_as_torchvisions() -> None:
    """The documented transform (±10° rotation, ±10% shift, 90–110% scale, ±10° shear, elastic alpha 20 /
    sigma 4 on half the images), built here from torchvision independently of the module's constants: the mean
    pixel change it causes and the batched one's agree within 5% (the shift dominates it)."""
    reference = v2.Compose([
        v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10,
                        interpolation=v2.InterpolationMode.BILINEAR),
        v2.RandomApply([v2.ElasticTransform(alpha=20.0, sigma=4.0)], p=0.5),
    ])
    images = shapes(1024)
    torch.manual_seed(5)
    theirs = torch.stack([reference(image) for image in images])
    torch.manual_seed(5)
    ours = augment_batched(images)
    ratio = float((ours - images).abs().mean() / (theirs - images).abs().mean())
    assert abs(ratio - 1) < 0.05, ratio
    assert float(ours.sum() / theirs.sum()) == pytest.approx(1, abs=0.03)  # no ink lost or made up


def test_an_unknown_augmentation_is_refused_with_the_choices() -> None:
    from bngan.evaluation.augmentation import AUGMENTATIONS
    from bngan.experiments.table1.settings import CNN_AUGMENTATIONS

    assert list(AUGMENTATIONS) == list(CNN_AUGMENTATIONS)  # the settings' torch-free copy of the names
    with pytest.raises(InvalidSettingError, match="batched, per-image"):
        augmenter("flip")


def test_bench_augment_prints_the_rate_of_each_implementation(capsys: pytest.CaptureFixture[str]) -> None:
    from bngan.bench import main as bench_main

    assert bench_main(["augment", "--rounds", "1", "--steps", "2", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert all(f"{mode} " in out for mode in ("plain", "per-image", "batched")) and "batched / per-image:" in out

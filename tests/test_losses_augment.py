"""The adversarial losses (least-squares, hinge), LeCam, and differentiable augmentation."""

from __future__ import annotations

import pytest
import torch

from bngan.augment import cutout, diff_augment, translate
from bngan.losses import LeCam, discriminator_loss, generator_loss


def test_losses_reward_the_right_side():
    right = torch.tensor([1.5, 2.0]), torch.tensor([-1.5, -2.0])  # D sure of both
    wrong = torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0])
    for kind in ("least-squares", "hinge"):
        assert discriminator_loss(*right, kind) < discriminator_loss(*wrong, kind)
        assert generator_loss(torch.tensor([1.0]), kind) < generator_loss(torch.tensor([-1.0]), kind)
    assert discriminator_loss(*right, "hinge") == 0  # both margins met
    assert discriminator_loss(torch.ones(3), torch.zeros(3)) == 0  # least-squares targets 1 and 0
    with pytest.raises(ValueError, match="hinge"):
        generator_loss(torch.zeros(1), "wasserstein")


def test_lecam_penalises_outputs_beyond_the_other_sides_average():
    lecam = LeCam(decay=0.0)  # averages = the last batch
    calm = lecam(torch.zeros(4), torch.zeros(4))
    assert calm == 0
    far = lecam(torch.full((4,), 3.0), torch.full((4,), -3.0))
    assert far > 0 and lecam.state_dict() == {"ema_real": 3.0, "ema_fake": -3.0}
    copy = LeCam()
    copy.load_state_dict(lecam.state_dict())
    assert copy.state_dict() == lecam.state_dict()


def test_translation_moves_content_and_fills_with_background():
    x = torch.full((1, 1, 8, 8), -1.0)
    x[0, 0, 4, 4] = 1.0
    moved = [translate(x, ratio=0.25, generator=torch.Generator().manual_seed(s)) for s in range(20)]
    positions = {tuple((m[0, 0] == 1).nonzero()[0].tolist()) for m in moved if (m == 1).any()}
    assert len(positions) > 3 and all(abs(r - 4) <= 2 and abs(c - 4) <= 2 for r, c in positions)
    assert all(set(m.unique().tolist()) <= {-1.0, 1.0} for m in moved)  # nothing grey shifted in


def test_cutout_blanks_one_square_and_augmentation_is_differentiable():
    x = torch.ones(5, 1, 10, 10, requires_grad=True)
    out = cutout(x, ratio=0.3, generator=torch.Generator().manual_seed(0))
    assert ((out == -1).flatten(1).sum(1) == 9).all()  # a 3x3 square in every image
    y = diff_augment(x, generator=torch.Generator().manual_seed(1))
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown augmentation"):
        diff_augment(x, policy=("flip",))


def test_spectral_norm_discriminator_has_unit_spectral_norm_layers():
    from torch import nn

    from bngan.models import ModelConfig, build_models

    _, plain = build_models(ModelConfig(code_dim=3))
    _, normed = build_models(ModelConfig(code_dim=3, spectral_norm=True))
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in normed.modules())
    normed.train()
    for _ in range(30):  # power iterations converge during training forwards
        normed(torch.randn(8, 1, 28, 28), torch.zeros(8, dtype=torch.long))
    conv = normed.features[0]
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert sigma == pytest.approx(1.0, abs=0.05)
    _, again = build_models(ModelConfig(code_dim=3, spectral_norm=True))
    again.load_state_dict(normed.state_dict())  # checkpoints of such a model load back

"""The adversarial losses, written once for both updates, and LeCam regularisation.

``least-squares`` (the reference's LSGAN: real -> 1, fake -> 0) and ``hinge`` (Miyato et al. 2018: the
discriminator's margin loss, the generator's -D). LeCam (Tseng et al., CVPR 2021) keeps the discriminator's
outputs on real and fake images near the moving averages of the other side's outputs, which is what keeps a
discriminator from running away on a few hundred images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ADVERSARIAL_LOSSES = ("least-squares", "hinge")


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str = "least-squares") -> torch.Tensor:
    """The discriminator's adversarial loss from its outputs on real and on fake images."""
    real, fake = real.float(), fake.float()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "least-squares":
        return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())
    raise ValueError(f"unknown adversarial loss {kind!r}; choose one of {', '.join(ADVERSARIAL_LOSSES)}")


def generator_loss(fake: torch.Tensor, kind: str = "least-squares") -> torch.Tensor:
    """The generator's adversarial loss from the discriminator's outputs on its images."""
    fake = fake.float()
    if kind == "hinge":
        return -fake.mean()
    if kind == "least-squares":
        return 0.5 * (fake - 1).pow(2).mean()
    raise ValueError(f"unknown adversarial loss {kind!r}; choose one of {', '.join(ADVERSARIAL_LOSSES)}")


class LeCam:
    """Moving averages of the discriminator's mean output on real and fake images, and the penalty
    ``mean(relu(D(x) - ema_fake)^2) + mean(relu(ema_real - D(G(z)))^2)``."""

    def __init__(self, decay: float = 0.99) -> None:
        self.decay = decay
        self.ema_real = 0.0
        self.ema_fake = 0.0

    def __call__(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real, fake = real.float(), fake.float()
        self.ema_real = self.decay * self.ema_real + (1 - self.decay) * float(real.detach().mean())
        self.ema_fake = self.decay * self.ema_fake + (1 - self.decay) * float(fake.detach().mean())
        return F.relu(real - self.ema_fake).pow(2).mean() + F.relu(self.ema_real - fake).pow(2).mean()

    def state_dict(self) -> dict[str, float]:
        return {"ema_real": self.ema_real, "ema_fake": self.ema_fake}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.ema_real, self.ema_fake = float(state["ema_real"]), float(state["ema_fake"])

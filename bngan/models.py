"""Generator ``G(z, y, c)`` and discriminator = feature extractor ``F`` + heads (real/fake, class, code, z').

Two presets: ``"paper"`` is the reference InfoGAN-style architecture (docs/method.md); ``"fast"`` is a lighter one
for CPUs. Both take 1- or 3-channel square images whose side is a multiple of 4 (28, 32, 64, ...).

The fast preset grows one stride-2 stage per halving needed to bring the smallest feature map to 8×8 or less
(2 stages at 28 and 32 px, 3 at 64, 4 at 128). With a fixed two stages a 64×64 discriminator only saw 10×10
patches and the generator's first layer had 32,768 outputs; the deeper networks take half the time per
dSprites step (RESULTS.md). 28- and 32-px networks are exactly the two-stage ones, so their checkpoints load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from bngan.errors import InvalidSettingError

PRESETS = ("paper", "fast")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the networks from a checkpoint."""

    preset: str = "fast"
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10
    z_dim: int = 62
    code_dim: int = 4
    projection: bool = True  # projection discriminator term <embed(y), F(x)>: sharper class conditioning
    extract_z: bool = False  # an extra head that recovers z (Eq. 2's z'), optional
    spectral_norm: bool = False  # spectral norm on every discriminator layer, which then has no batch norm

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise InvalidSettingError(f"unknown model preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.image_size % 4 or not 8 <= self.image_size <= 128:
            raise InvalidSettingError(f"image_size must be a multiple of 4 between 8 and 128, got {self.image_size}")
        if self.channels not in (1, 3):
            raise InvalidSettingError(f"channels must be 1 or 3, got {self.channels}")
        if not 2 <= self.num_classes <= 1000:
            raise InvalidSettingError(f"num_classes must be between 2 and 1000, got {self.num_classes}")
        if not 1 <= self.z_dim <= 512:
            raise InvalidSettingError(f"z_dim must be between 1 and 512, got {self.z_dim}")
        if not 1 <= self.code_dim <= 16:
            raise InvalidSettingError(f"code_dim must be between 1 and 16, got {self.code_dim}")

    def to_dict(self) -> dict:
        return asdict(self)


def fast_stages(image_size: int) -> int:
    """Stride-2 stages of the fast preset: halve until the side is at most 8 (or no longer even)."""
    stages = 2
    while image_size // 2**stages > 8 and image_size % 2 ** (stages + 1) == 0:
        stages += 1
    return stages


def _fast_channels(stages: int) -> list[int]:
    """Channel widths from the smallest feature map outwards: 128, 64, then 32 for every further stage."""
    return [128, 64] + [32] * (stages - 2)


class Generator(nn.Module):
    """``G(z, y, c)``: noise, one-hot class and salient codes in, an image in [-1, 1] out."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        in_dim = cfg.z_dim + cfg.num_classes + cfg.code_dim
        if cfg.preset == "paper":
            s, width = cfg.image_size // 4, 128
            self.project = nn.Sequential(nn.Linear(in_dim, width * s * s))
            self.body = nn.Sequential(
                nn.BatchNorm2d(width),
                nn.Upsample(scale_factor=2),
                nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width, 0.8), nn.LeakyReLU(0.2, inplace=True),
                nn.Upsample(scale_factor=2),
                nn.Conv2d(width, 64, 3, 1, 1), nn.BatchNorm2d(64, 0.8), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(64, cfg.channels, 3, 1, 1), nn.Tanh(),
            )
        else:
            stages = fast_stages(cfg.image_size)
            s, widths = cfg.image_size // 2**stages, _fast_channels(stages)
            width = widths[0]
            self.project = nn.Sequential(nn.Linear(in_dim, width * s * s), nn.BatchNorm1d(width * s * s),
                                         nn.ReLU(inplace=True))
            layers: list[nn.Module] = []
            for cin, cout in pairwise(widths):
                layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            self.body = nn.Sequential(*layers, nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1), nn.Tanh())
        self.width, self.side = width, s

    def forward(self, z: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(y, self.cfg.num_classes).to(z.dtype)
        h = self.project(torch.cat([z, onehot, c], dim=1))
        return self.body(h.view(-1, self.width, self.side, self.side))


class Discriminator(nn.Module):
    """Feature extractor ``F`` with heads: ``adv`` (real/fake), ``cls`` (class logits), ``code`` (``c'``)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.preset == "paper":
            def block(cin: int, cout: int, bn: bool = True) -> list[nn.Module]:
                layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                                           nn.Dropout2d(0.25)]
                return [*layers, nn.BatchNorm2d(cout, 0.8)] if bn else layers

            self.features = nn.Sequential(*block(cfg.channels, 16, bn=False), *block(16, 32), *block(32, 64),
                                          *block(64, 128), nn.Flatten())
        else:
            widths = _fast_channels(fast_stages(cfg.image_size))[::-1]  # outermost first: ..., 32, 64, 128
            layers: list[nn.Module] = [nn.Conv2d(cfg.channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            for cin, cout in pairwise(widths):
                layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
            self.features = nn.Sequential(*layers, nn.Flatten())
        self.features.eval()  # a dummy pass sizes the heads (and the lazy layer) without touching BN statistics
        with torch.no_grad():
            dim = self.features(torch.zeros(2, cfg.channels, cfg.image_size, cfg.image_size)).shape[1]
        self.features.train()
        self.feature_dim = dim
        self.adv = nn.Linear(dim, 1)
        self.cls = nn.Linear(dim, cfg.num_classes)
        self.code = nn.Linear(dim, cfg.code_dim)
        self.embed = nn.Embedding(cfg.num_classes, dim) if cfg.projection else None
        self.z_head = nn.Linear(dim, cfg.z_dim) if cfg.extract_z else None
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Heads on ``F(x)``; with ``y`` the projection term makes ``adv`` a per-class realness score."""
        f = self.features(x)
        adv = self.adv(f).squeeze(1)
        if self.embed is not None and y is not None:
            adv = adv + (self.embed(y) * f).sum(1) / f.shape[1] ** 0.5
        out = {"features": f, "adv": adv, "cls": self.cls(f), "code": self.code(f)}
        if self.z_head is not None:
            out["z"] = self.z_head(f)
        return out


def build_models(cfg: ModelConfig) -> tuple[Generator, Discriminator]:
    gen, disc = Generator(cfg), Discriminator(cfg)
    for module in (*gen.modules(), *disc.modules()):
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(module.weight, 0.0, 0.02)
        elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)
    if cfg.spectral_norm:
        apply_spectral_norm(disc)
    return gen, disc


def apply_spectral_norm(module: nn.Module) -> None:
    """Spectral norm (Miyato et al. 2018) on every conv and linear layer, batch norm replaced by identity:
    the normalised layers bound the discriminator's slope, which batch statistics would undo."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d | nn.BatchNorm1d):
            setattr(module, name, nn.Identity())
        elif isinstance(child, nn.Conv2d | nn.Linear):
            setattr(module, name, spectral_norm(child))
        else:
            apply_spectral_norm(child)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

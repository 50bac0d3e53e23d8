"""DeepSMOTE (Dablain, Krawczyk, Chawla, IEEE TNNLS 2022) as an imbalanced-learn style oversampler.

An encoder/decoder pair learns to reconstruct the training images; a second loss term, the *permutation
penalty*, is computed on a batch of one randomly drawn class per step. The paper describes it as decoding a
class's codes in a permuted order; the released code permutes the codes and the target images *alike*, so each
code is still compared with its own image, and it detaches the codes: the term is a decoder-only reconstruction
of one class's images, which gives a class of 40 images as much decoder training per step as the shuffled
batch gives the largest class. That is what is implemented here. (Pairing each code with *another* image of
its class, a reading of the paper's text, teaches the decoder the class mean: our first version did, and its
decoded bags and boots were near-identical blurs, FID 136 against SMOTE's 11. It stays as ``pairing=
"other-image"`` so that the results stored with it can be reproduced.) New images are then made by
SMOTE in the code space (imbalanced-learn's SMOTE on the encoded vectors, class by class) and decoded.

Sizes follow the paper's recipe where a CPU allows it: four stride-2 convolutions (here 32…256 channels at
width 0.5 of the released 64…512), a 300-d code, Adam 2e-4, batch 100; the number of steps is a setting
(the released schedule is about 200 epochs).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import torch
from imblearn.over_sampling import SMOTE
from imblearn.utils import check_sampling_strategy
from torch import nn

from bngan.errors import InvalidSettingError


class _Encoder(nn.Module):
    def __init__(self, channels: int, side: int, width: int, code_dim: int) -> None:
        super().__init__()
        widths = [channels, width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for cin, cout in pairwise(widths):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
        self.conv = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            flat = self.conv.eval()(torch.zeros(1, channels, side, side)).shape[1]
        self.conv.train()
        self.fc = nn.Linear(flat, code_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x))


class _Decoder(nn.Module):
    def __init__(self, channels: int, side: int, width: int, code_dim: int) -> None:
        super().__init__()
        self.start = max(1, side // 4)
        self.width = width * 4
        self.fc = nn.Sequential(nn.Linear(code_dim, self.width * self.start * self.start), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(self.width, width * 2, 4, 2, 1), nn.BatchNorm2d(width * 2), nn.ReLU(),
            nn.ConvTranspose2d(width * 2, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, channels, 3, 1, 1), nn.Sigmoid(),
        )
        self.side = side

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        out = self.deconv(self.fc(code).view(-1, self.width, self.start, self.start))
        if out.shape[-1] != self.side:
            out = nn.functional.interpolate(out, size=(self.side, self.side), mode="bilinear", align_corners=False)
        return out


PAIRINGS = ("own-image", "other-image")  # what the penalty compares a class's decoded code with


def class_penalty(encoder: nn.Module, decoder: nn.Module, images: torch.Tensor,
                  pairing: str = "own-image") -> torch.Tensor:
    """The permutation penalty on ``images`` of one class.

    ``own-image`` (the released code): the codes, detached, decoded back to the same images; the released
    permutation reorders codes and targets alike, which leaves a mean squared error unchanged, so none is
    applied. ``other-image`` (our first version): each image encoded and decoded towards the next image of the
    batch, through the encoder too. A one-image class adds nothing (batch norm needs two images; SMOTE refuses
    such a class later anyway)."""
    if len(images) < 2:
        return images.new_zeros(())
    if pairing == "other-image":
        return nn.functional.mse_loss(decoder(encoder(torch.roll(images, shifts=1, dims=0))), images)
    with torch.no_grad():
        codes = encoder(images)
    return nn.functional.mse_loss(decoder(codes), images)


class DeepSMOTE:
    """``fit_resample(images, labels)``: train the autoencoder on them, then add decoded SMOTE codes until the
    sampling strategy is met. Images ``(N, C, H, W)`` or ``(N, H, W)`` in [0, 1]; the originals come first."""

    def __init__(self, sampling_strategy: Any = "auto", random_state: int | None = 0, steps: int = 2000,
                 batch_size: int = 100, lr: float = 2e-4, code_dim: int = 300, width: int = 32,
                 k_neighbors: int = 5, pairing: str = "own-image", device: str = "cpu") -> None:
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.code_dim = code_dim
        self.width = width
        self.k_neighbors = k_neighbors
        self.pairing = pairing
        self.device = device

    def _check(self, X: Any, y: Any) -> tuple[torch.Tensor, np.ndarray]:
        for name, low in (("steps", 1), ("batch_size", 2), ("code_dim", 2), ("width", 1), ("k_neighbors", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidSettingError(f"DeepSMOTE's {name} must be an integer >= {low}, got {value!r}")
        if self.pairing not in PAIRINGS:
            raise InvalidSettingError(f"DeepSMOTE's pairing must be one of {', '.join(PAIRINGS)}, got {self.pairing!r}")
        images = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        images = images.unsqueeze(1) if images.ndim == 3 else images
        if images.ndim != 4 or images.shape[-1] != images.shape[-2] or images.shape[-1] < 16:
            raise InvalidSettingError(f"DeepSMOTE takes square images of at least 16 px, (N, C, H, W) or "
                                      f"(N, H, W); got shape {tuple(images.shape)}")
        if images.numel() and (float(images.min()) < 0 or float(images.max()) > 1):
            raise InvalidSettingError("DeepSMOTE takes images in [0, 1]: divide 0..255 pixels by 255")
        labels = np.asarray(y)
        if len(labels) != len(images):
            raise InvalidSettingError(f"{len(images)} images but {len(labels)} labels")
        return images, labels

    def fit_resample(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self._check(X, y)
        targets = check_sampling_strategy(self.sampling_strategy, labels, "over-sampling")
        seed = 0 if self.random_state is None else int(self.random_state)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.encoder_, self.decoder_ = self._train(images, labels, seed)
            new_images, new_labels = self._synthesise(images, labels, targets, seed)
        out_x = np.concatenate([images.numpy(), new_images]).astype(np.float32)
        out_y = np.concatenate([labels, new_labels]).astype(labels.dtype)
        return out_x, out_y

    def _train(self, images: torch.Tensor, labels: np.ndarray, seed: int) -> tuple[_Encoder, _Decoder]:
        """Reconstruction of a batch drawn from all images plus the penalty of one randomly chosen class."""
        channels, side = images.shape[1], images.shape[-1]
        encoder = _Encoder(channels, side, self.width, self.code_dim).to(self.device)
        decoder = _Decoder(channels, side, self.width, self.code_dim).to(self.device)
        optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=self.lr)
        rng = np.random.default_rng(seed)
        by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
        data = images.to(self.device)
        for _ in range(self.steps):
            batch = data[rng.integers(0, len(data), min(self.batch_size, len(data)))]
            reconstruction = nn.functional.mse_loss(decoder(encoder(batch)), batch)
            members = by_class[rng.choice(list(by_class))]
            chosen = data[rng.choice(members, size=min(len(members), self.batch_size), replace=False)]
            loss = reconstruction + class_penalty(encoder, decoder, chosen, self.pairing)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        return encoder.eval(), decoder.eval()

    @torch.no_grad()
    def _synthesise(self, images: torch.Tensor, labels: np.ndarray, targets: dict, seed: int,
                    ) -> tuple[np.ndarray, np.ndarray]:
        """SMOTE on the codes (imbalanced-learn, every class to grow at once, each within itself), decoded."""
        grow = {c: int((labels == c).sum()) + int(n) for c, n in targets.items() if n > 0}
        if not grow:
            return np.empty((0, *images.shape[1:]), dtype=np.float32), np.empty(0, dtype=labels.dtype)
        smallest = min(int((labels == c).sum()) for c in grow)
        if smallest < 2:
            raise InvalidSettingError(f"a class to oversample has {smallest} image: SMOTE needs at least 2")
        codes = torch.cat([self.encoder_(images[i:i + 512].to(self.device)).cpu()
                           for i in range(0, len(images), 512)]).numpy()
        smote = SMOTE(sampling_strategy=grow, k_neighbors=min(self.k_neighbors, smallest - 1), random_state=seed)
        all_codes, all_labels = smote.fit_resample(codes, labels)
        fresh = torch.from_numpy(np.ascontiguousarray(all_codes[len(codes):])).float()
        decoded = torch.cat([self.decoder_(fresh[i:i + 512].to(self.device)).cpu()
                             for i in range(0, len(fresh), 512)])
        return decoded.numpy(), all_labels[len(codes):]

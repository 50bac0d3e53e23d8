"""Training speed: our ``paper`` preset step against a straight re-implementation of the reference loop.

The reference loop (an InfoGAN variant, docs/method.md) makes three passes per batch: a generator update, a
discriminator update, and an "information" update that draws a second fake batch and back-propagates the
class, code and structure losses through both networks; its structure loss loops over code pairs in Python.
Ours makes one generator forward per step, reuses it for both updates, and freezes the discriminator's
weights during the generator update so their gradients are not computed. Same architecture, same batch,
same process; the two are timed in interleaved rounds so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
import torch.nn.functional as F

from bngan.config import TrainConfig
from bngan.models import ModelConfig, build_models
from bngan.training import Trainer


def reference_structure_loss(c: torch.Tensor, c_latent: torch.Tensor) -> torch.Tensor:
    """The released code's structure loss, as measured: pairwise Python loops, then a clamp at zero."""
    k = c.shape[1]
    positive = sum(F.mse_loss(c_latent[:, i], c[:, i]) for i in range(k))
    negative = sum(F.mse_loss(c_latent[:, i], c[:, j]) for i in range(k) for j in range(i, k))
    return torch.clamp(positive - negative, min=0.0)


class ReferenceLoop:
    """The reference training step on the same networks (no projection term, as in the original)."""

    def __init__(self, cfg: ModelConfig, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg = cfg
        self.generator, self.discriminator = build_models(cfg)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_info = torch.optim.Adam(itertools.chain(self.generator.parameters(),
                                                         self.discriminator.parameters()), lr=2e-4,
                                         betas=(0.5, 0.999))
        self.images, self.labels, self.batch_size = images * 2 - 1, labels, batch_size

    def _inputs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.batch_size
        return (torch.randn(n, self.cfg.z_dim), torch.randint(self.cfg.num_classes, (n,)),
                torch.rand(n, self.cfg.code_dim) * 2 - 1)

    def step(self) -> None:
        index = torch.randint(len(self.labels), (self.batch_size,))
        real = self.images[index]
        ones, zeros = torch.ones(self.batch_size), torch.zeros(self.batch_size)
        self.opt_g.zero_grad()
        z, y, c = self._inputs()
        fake = self.generator(z, y, c)
        g_loss = F.mse_loss(self.discriminator(fake)["adv"], ones)
        g_loss.backward()
        self.opt_g.step()
        self.opt_d.zero_grad()
        d_loss = 0.5 * (F.mse_loss(self.discriminator(real)["adv"], ones)
                        + F.mse_loss(self.discriminator(fake.detach())["adv"], zeros))
        d_loss.backward()
        self.opt_d.step()
        self.opt_info.zero_grad()
        z, y, c = self._inputs()
        out = self.discriminator(self.generator(z, y, c))
        info = F.cross_entropy(out["cls"], y) + 0.1 * F.mse_loss(out["code"], c) \
            + reference_structure_loss(c, out["code"])
        info.backward()
        self.opt_info.step()


def measure(step, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - start)


def run(rounds: int = 3, steps: int = 10, batch_size: int = 64, image_size: int = 32, threads: int | None = None,
        dataset: str = "digits") -> dict[str, float]:
    if threads:
        torch.set_num_threads(threads)
    config = TrainConfig(dataset=dataset, preset="paper", projection=False, image_size=image_size,
                         batch_size=batch_size, structure={"k": 4, "edges": [["c1", "c1'"], ["c2", "c2'"],
                                                           ["c3", "c3'"], ["c4", "c4'"], ["c1", "c4'"],
                                                           ["c2", "c4'"], ["c3", "c4'"]]},
                         sample_every=10**9, device="cpu", imbalance={"profile": "none"}, steps=10**6)
    ours = Trainer(config)
    reference = ReferenceLoop(ours.model_config, ours.data.images, ours.data.labels, batch_size)
    ours.step()
    reference.step()  # warm-up: allocator and kernel selection
    ours_rates, ref_rates = [], []
    for _ in range(rounds):
        ref_rates.append(measure(reference.step, steps))
        ours_rates.append(measure(ours.step, steps))
    ours_rate = sorted(ours_rates)[len(ours_rates) // 2]
    ref_rate = sorted(ref_rates)[len(ref_rates) // 2]
    return {"ours_steps_per_s": ours_rate, "reference_steps_per_s": ref_rate, "ratio": ours_rate / ref_rate,
            "batch_size": batch_size, "image_size": image_size, "threads": torch.get_num_threads()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bngan bench speed", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="steps per round per loop")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    result = run(args.rounds, args.steps, args.batch_size, args.image_size, args.threads)
    print(f"reference loop: {result['reference_steps_per_s']:.2f} steps/s")
    print(f"bngan 'paper':  {result['ours_steps_per_s']:.2f} steps/s")
    print(f"speed-up: {result['ratio']:.2f}x (batch {args.batch_size}, {args.image_size}px, "
          f"{result['threads']} threads; median of {args.rounds} interleaved rounds)")
    return 0

"""CNN training speed of the augmented rows: torchvision per image against the batched transform.

The augmented Table 1 rows (``aug``, ``ros-aug``, ``bngan-*-aug``) train the paper's CNN on transformed
batches. The benchmark trains the same CNN for the same number of steps with no augmentation, with the
per-image torchvision transform and with the batched one, in interleaved rounds in one process (machine noise
hits all three alike), and prints steps/s and the ratios. The images are random: speed does not depend on
what they show.
"""

from __future__ import annotations

import argparse
import time

import torch

from bngan.evaluation.classifier import train_classifier

MODES = {"plain": None, "per-image": "per-image", "batched": "batched"}


def run(rounds: int, steps: int, batch_size: int, threads: int | None, device: str = "cpu") -> dict[str, float]:
    """Median steps/s of each mode over ``rounds`` interleaved trainings of ``steps`` steps."""
    if threads:
        torch.set_num_threads(threads)
    images = torch.rand(4096, 1, 28, 28)
    labels = torch.arange(4096) % 10
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode, augmentation in MODES.items():
            start = time.perf_counter()
            train_classifier(images, labels, 10, steps=steps, batch_size=batch_size, device=device,
                             augment=augmentation is not None, augmentation=augmentation or "batched")
            rates[mode].append(steps / (time.perf_counter() - start))
    return {mode: sorted(r)[len(r) // 2] for mode, r in rates.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bngan bench augment", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="CNN steps per training")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    rates = run(args.rounds, args.steps, args.batch_size, args.threads, args.device)
    for mode, rate in rates.items():
        print(f"{mode:<10} {rate:7.1f} CNN steps/s")
    print(f"batched / per-image: {rates['batched'] / rates['per-image']:.2f}x; augmentation's cost over plain "
          f"training: per-image {rates['plain'] / rates['per-image']:.2f}x, batched "
          f"{rates['plain'] / rates['batched']:.2f}x (batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"median of {args.rounds} interleaved rounds)")
    return 0

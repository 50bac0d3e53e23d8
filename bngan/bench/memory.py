"""Peak memory (resident set size) of MNIST training: data loading plus a number of steps."""

from __future__ import annotations

import argparse
import resource
import sys

import torch

from bngan.config import TrainConfig
from bngan.data import Imbalance
from bngan.training import Trainer


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 ** 2 if sys.platform == "darwin" else peak / 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bngan bench memory", description=__doc__)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--imbalance", default="none", choices=["none", "standard"])
    args = parser.parse_args(argv)
    before = peak_rss_mb()
    config = TrainConfig(dataset=args.dataset, preset=args.preset, steps=args.steps, sample_every=50,
                         imbalance=Imbalance(args.imbalance).to_dict(), device="cpu")
    trainer = Trainer(config)
    trainer.run()
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    print(f"peak RSS: {peak_rss_mb():.0f} MB ({args.dataset}, imbalance {args.imbalance}, {len(trainer.data)} "
          f"images, preset {args.preset}, {args.steps} steps; {before:.0f} MB after importing torch)")
    return 0

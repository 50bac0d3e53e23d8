"""Time to fidelity: training wall time until a judge classifier, trained on real balanced data, labels
at least ``threshold`` of the generated images of every class as that class.

The judge (the paper's CNN on the full training set) is trained once and cached. Evaluation time is not
counted: the clock runs only during training steps. Per-class fidelity is printed at every check, because
under imbalance the minority classes are the ones that fail.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from bngan.config import TrainConfig
from bngan.data import Imbalance
from bngan.evaluation.classifier import judge_classifier
from bngan.evaluation.quality import fidelity
from bngan.training import Trainer


def per_class_fidelity(trainer: Trainer, judge: torch.nn.Module, per_class: int = 100) -> dict[int, float]:
    labels = torch.arange(trainer.data.num_classes).repeat_interleave(per_class)
    images = trainer.generate(labels)
    result = fidelity(judge, images, labels.numpy())
    return {int(c): float(v) for c, v in result["per_class"].items()}


APP_DEFAULT_IMBALANCE = Imbalance("minority", minority_classes=(8, 9), ir=10)  # the Train page's default


def run(dataset: str = "mnist", preset: str = "fast", threshold: float = 0.9, limit_s: float = 600.0,
        check_every: int = 250, seed: int = 0, threads: int | None = None, imbalance: str = "standard",
        **overrides: object) -> dict:
    if threads:
        torch.set_num_threads(threads)
    judge = judge_classifier(dataset)
    split = Imbalance("standard") if imbalance == "standard" else APP_DEFAULT_IMBALANCE
    config = TrainConfig(dataset=dataset, preset=preset, imbalance=split.to_dict(), seed=seed,
                         steps=None, time_budget_s=limit_s, sample_every=10**9, **overrides)
    trainer = Trainer(config)
    history = []
    reached = None
    while trainer.elapsed_s < limit_s:
        for _ in range(check_every):
            trainer.step()
        scores = per_class_fidelity(trainer, judge)
        worst = min(scores, key=scores.get)
        row = {"step": trainer.step_count, "train_s": round(trainer.elapsed_s, 1), "worst_class": worst,
               "min": round(scores[worst], 3), "per_class": {c: round(v, 3) for c, v in scores.items()}}
        history.append(row)
        print(json.dumps(row), flush=True)
        if scores[worst] >= threshold:
            reached = trainer.elapsed_s
            break
    return {"reached_s": reached, "threshold": threshold, "steps": trainer.step_count,
            "judge_test_accuracy": getattr(judge, "judge_info", {}).get("test_accuracy"), "history": history}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bngan bench fidelity", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--limit", type=float, default=600.0, help="seconds of training at most")
    parser.add_argument("--check-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--imbalance", default="standard", choices=["standard", "app"],
                        help="standard: the paper's split; app: the Train page's default (8 and 9 at IR 10)")
    parser.add_argument("--lambda-reg", type=float, default=None)
    parser.add_argument("--out", help="write the history as JSON here")
    args = parser.parse_args(argv)
    extra = {} if args.lambda_reg is None else {"lambda_reg": args.lambda_reg}
    start = time.time()
    result = run(args.dataset, args.preset, args.threshold, args.limit, args.check_every, args.seed, args.threads,
                 args.imbalance, **extra)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=2)
    if result["reached_s"] is None:
        print(f"not reached: every class >= {args.threshold:.0%} within {args.limit:.0f} s of training "
              f"({result['steps']} steps; wall {time.time() - start:.0f} s)")
        return 1
    print(f"time to fidelity >= {args.threshold:.0%} for every class: {result['reached_s']:.0f} s of training "
          f"({result['steps']} steps; judge test accuracy {result['judge_test_accuracy']})")
    return 0

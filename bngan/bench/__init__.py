"""Benchmarks and experiments: ``python -m bngan bench NAME ...`` (each prints its figures)."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "speed": ("bngan.bench.speed", "training steps/s of our 'paper' preset against the reference loop"),
    "fidelity": ("bngan.bench.fidelity", "wall time until every class's samples are >= 90% recognised"),
    "augment": ("bngan.bench.augment_speed", "CNN steps/s of the augmented rows: torchvision per image "
                "against the batched transform"),
    "memory": ("bngan.bench.memory", "peak memory of MNIST training"),
    "app": ("bngan.bench.app_speed", "steps/s of a job with the app open against the same job headless"),
    "table1": ("bngan.experiments.table1.cli", "Table 1: classifier metrics per method, folds, t-tests"),
    "ir-sweep": ("bngan.experiments.table1.cli", "Figure 3: minority recall/F1 against imbalance ratio"),
    "compare": ("bngan.experiments.table1.compare", "paired differences between rows of two table1 runs (same "
                "folds), per CNN budget, with t-tests"),
    "images": ("bngan.experiments.table1.images", "fidelity/FID/PRDC, copying, real-vs-added of a table1 run's "
               "saved generators (no training)"),
    "disentangle": ("bngan.experiments.disentangle.cli", "Figure 4b: FactorVAE score on dSprites"),
    "structure": ("bngan.experiments.structure", "effect matrices: does the drawn DAG shape what each code does?"),
    "render": ("bngan.data.dsprites", "dSprites rendering speed (images/s)"),
    "gpu-check": ("bngan.bench.gpu_check", "every CUDA path (train, resume, sample, traverse, oversampler, DGC, "
                  "table1) once: pass/fail per path"),
}


def usage() -> str:
    lines = ["usage: python -m bngan bench NAME [options]", "", "benchmarks:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"bngan bench: error: unknown benchmark {name!r}\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    if name in ("table1", "ir-sweep"):
        rest = [name, *rest]
    return int(module.main(rest) or 0)

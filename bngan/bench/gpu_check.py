"""``python -m bngan bench gpu-check``: every CUDA path in one call, pass/fail per path.

A lent GPU machine is a scarce thing; this script lets one call verify what the CPU machines cannot: training
with bf16 autocast, resume, sampling, traversal, the oversampler (with discriminator rejection sampling), DGC
and a tiny Table 1 cell, each on the GPU, on the bundled digits (no download). Each path is run in turn, a
failure is printed with its first line and the run goes on; the exit status is 0 when every path passed, 1
when one failed, and (with ``--require-gpu``) 3 when there is no CUDA device. Without CUDA it says so and
exits 0, so a CI script can call it anywhere. ``--device cpu`` runs the same paths on the CPU, which is how
the script itself is tested. About a minute on one GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

EXIT_FAILED, EXIT_NO_GPU = 1, 3


@dataclass
class Context:
    """What the paths share: the device, a scratch folder, the trained run and its checkpoint."""

    device: str
    folder: Path
    steps: int
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def checkpoint(self) -> Path:
        return self.folder / "run" / "checkpoint.pt"


def _config(ctx: Context, **changes: object):
    from bngan.config import TrainConfig

    base = {"dataset": "digits", "steps": ctx.steps, "batch_size": 32, "sample_every": max(1, ctx.steps // 2),
            "checkpoint_every": max(1, ctx.steps // 2), "device": ctx.device, "amp": True}
    return TrainConfig(**{**base, **changes})


def check_train(ctx: Context) -> str:
    """Training with bf16 autocast (on CUDA), EMA and LeCam on, into a run folder; losses finite."""
    import torch

    from bngan.runs import RunWriter, read_metrics
    from bngan.training import Trainer

    trainer = Trainer(_config(ctx, ema_decay=0.99, lecam=0.1, diffaugment=True))
    if ctx.device == "cuda" and not trainer.amp:
        raise AssertionError("bf16 autocast is off on this CUDA device (torch.cuda.is_bf16_supported() is False)")
    writer = RunWriter(ctx.checkpoint.parent, trainer)
    try:
        trainer.run(callback=writer, checkpoint_path=writer.checkpoint)
    finally:
        writer.close()
    rows = read_metrics(writer.folder)
    if [r["step"] for r in rows] != list(range(1, ctx.steps + 1)):
        raise AssertionError(f"metrics rows {len(rows)} for {ctx.steps} steps")
    if not all(torch.isfinite(torch.tensor([v for k, v in r.items() if k not in ("step",)])).all() for r in rows):
        raise AssertionError("a loss is not finite")
    return f"{ctx.steps} steps on {trainer.device} (autocast {'bf16' if trainer.amp else 'off'}), " \
           f"{trainer.elapsed_s:.1f} s"


def check_resume(ctx: Context) -> str:
    """Resume the checkpoint on the device for a few more steps in the same folder (metrics continue)."""
    from bngan.runs import RunWriter, read_metrics
    from bngan.training import Trainer

    trainer = Trainer.resume(ctx.checkpoint, device=ctx.device, steps=ctx.steps + 5)
    writer = RunWriter(ctx.checkpoint.parent, trainer)
    try:
        trainer.run(callback=writer, checkpoint_path=writer.checkpoint)
    finally:
        writer.close()
    steps = [r["step"] for r in read_metrics(writer.folder)]
    if steps != list(range(1, ctx.steps + 6)):
        raise AssertionError(f"metrics after the resume hold steps {steps[:3]}..{steps[-3:]}")
    return f"step {ctx.steps} -> {trainer.step_count} on {trainer.device}"


def check_sample(ctx: Context) -> str:
    """Load the checkpoint onto the device and sample one class; images finite and in [0, 1]."""
    import torch

    from bngan.training import TrainedModel

    model = TrainedModel.load(ctx.checkpoint, device=ctx.device)
    device = next(model.generator.parameters()).device
    images = model.generate(torch.full((256,), 9), seed=0)
    if images.shape != (256, 1, 28, 28) or not bool(torch.isfinite(images).all()) or images.min() < 0 \
            or images.max() > 1:
        raise AssertionError(f"images {tuple(images.shape)} outside [0, 1] or not finite")
    again = model.generate(torch.full((256,), 9), seed=0)
    if not torch.allclose(images, again, atol=1e-5):
        raise AssertionError("the same seed gave different images")
    return f"256 images on {device}"


def check_traverse(ctx: Context) -> str:
    """A strip and a 2-D grid on the device."""
    from bngan.training import TrainedModel
    from bngan.traversal import code_values, grid, strip

    model = TrainedModel.load(ctx.checkpoint, device=ctx.device)
    values = code_values(7, 2.0)
    one, two = strip(model, 3, 1, values), grid(model, 3, 1, 2, values)
    if one.shape[0] != 7 or two.shape[0] != 49:
        raise AssertionError(f"strip {tuple(one.shape)}, grid {tuple(two.shape)}")
    return "strip 7, grid 7x7"


def check_oversampler(ctx: Context) -> str:
    """BNGANOversampler from the checkpoint, with rejection sampling (candidates > 1) on the device."""
    import numpy as np

    from bngan.data import load_dataset
    from bngan.sampler import BNGANOversampler

    data = load_dataset("digits")
    X, y = data.images.numpy()[:400], data.labels.numpy()[:400]
    keep = (y != 9) | (np.cumsum(y == 9) <= 5)
    X, y = X[keep], y[keep]
    over = BNGANOversampler(checkpoint=str(ctx.checkpoint), device=ctx.device, candidates=4, random_state=0)
    X_res, y_res = over.fit_resample(X, y)
    counts = np.bincount(y_res)
    if len(set(counts.tolist())) != 1 or X_res.shape[1:] != X.shape[1:]:
        raise AssertionError(f"class counts after resampling {counts.tolist()}")
    return f"{len(y)} -> {len(y_res)} images, candidates 4"


def check_dgc(ctx: Context) -> str:
    """The DGC classifier: a few training iterations and predictions on the device."""
    import numpy as np

    from bngan.data import load_dataset
    from bngan.evaluation.dgc import DGCClassifier

    data = load_dataset("digits")
    X, y = data.images[:300], data.labels[:300]
    model = DGCClassifier(epochs=1, max_steps=10, width=0.25, num_draws=2, device=ctx.device, random_state=0,
                          lr=1e-3).fit(X, y)
    predicted = np.asarray(model.predict(X[:64]))
    if predicted.shape != (64,):
        raise AssertionError(f"predictions {predicted.shape}")
    return f"{model.steps_} training steps, 64 predictions"


def check_table1(ctx: Context) -> str:
    """A tiny Table 1 (one fold of digits: none, ros, ros-aug, bngan, dgc), through the experiment's own CLI."""
    import contextlib
    import io

    from bngan.experiments.table1.cli import main as table1

    out = ctx.folder / "table1"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as log:
        code = table1(["table1", "--dataset", "digits", "--methods", "none,ros,ros-aug,bngan,dgc", "--folds", "1",
                       "--profile", "minority", "--ir", "10", "--classifier-steps", "30", "--gan-steps", "30",
                       "--dgc-steps", "10", "--dgc-width", "0.25", "--dgc-draws", "2", "--run-dir", str(out),
                       "--device", ctx.device])
    if code != 0 or not (out / "results.json").is_file():
        last = (log.getvalue().strip().splitlines() or ["no output"])[-1]
        raise AssertionError(f"table1 exited {code}: {last}")
    return f"results in {out.name}/"


PATHS: dict[str, Callable[[Context], str]] = {
    "train": check_train, "resume": check_resume, "sample": check_sample, "traverse": check_traverse,
    "oversampler": check_oversampler, "dgc": check_dgc, "table1": check_table1,
}
NEEDS_CHECKPOINT = ("resume", "sample", "traverse", "oversampler")


def cuda_summary() -> tuple[bool, str]:
    """Whether CUDA can be used here, and a line saying what torch sees."""
    import torch

    if not torch.cuda.is_available():
        build = torch.version.cuda or "none"
        return False, f"no CUDA device here (torch {torch.__version__}, built for CUDA {build})"
    name = torch.cuda.get_device_name(0)
    return True, f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}, " \
                 f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}"


def run_checks(ctx: Context, names: Sequence[str], out: TextIO | None = None) -> dict[str, bool]:
    """Run the named paths in order; each prints PASS or FAIL with its time and a line of detail."""
    out = out or sys.stdout
    results: dict[str, bool] = {}
    for name in names:
        if name in NEEDS_CHECKPOINT and not ctx.checkpoint.is_file():
            results[name] = False
            print(f"FAIL  {name:<12} skipped: no checkpoint (the train path failed)", file=out, flush=True)
            continue
        began = time.perf_counter()
        try:
            detail = PATHS[name](ctx)
        except Exception as exc:  # a failing path is reported and the others still run
            results[name] = False
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(f"FAIL  {name:<12} {time.perf_counter() - began:6.1f} s  {type(exc).__name__}: {first} "
                  f"({Path(where.filename).name}:{where.lineno})", file=out, flush=True)
        else:
            results[name] = True
            print(f"PASS  {name:<12} {time.perf_counter() - began:6.1f} s  {detail}", file=out, flush=True)
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bngan bench gpu-check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="cuda (the point of it); cpu runs the same paths to test the script")
    parser.add_argument("--only", default=",".join(PATHS), help=f"comma-separated paths: {', '.join(PATHS)}")
    parser.add_argument("--steps", type=int, default=200, help="training steps of the train path")
    parser.add_argument("--require-gpu", action="store_true",
                        help=f"exit {EXIT_NO_GPU} instead of 0 when there is no CUDA device")
    parser.add_argument("--keep", help="folder to keep the run in (default: a temporary one, removed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in PATHS]
    if unknown or not names:
        print(f"gpu-check: error: unknown path(s) {', '.join(unknown) or '(none)'}; choose from "
              f"{', '.join(PATHS)}", file=sys.stderr)
        return 2
    if not 2 <= args.steps <= 100_000:
        print(f"gpu-check: error: --steps must be 2..100000, got {args.steps}", file=sys.stderr)
        return 2
    available, summary = cuda_summary()
    if args.device == "cuda" and not available:
        print(f"gpu-check: {summary}: nothing to check (run it on a GPU machine, or --device cpu to test the "
              "script)")
        return EXIT_NO_GPU if args.require_gpu else 0
    print(f"gpu-check on {args.device}: {summary if args.device == 'cuda' else 'CPU (script test)'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bngan-gpu-check-") as scratch:
        folder = Path(args.keep) if args.keep else Path(scratch)
        results = run_checks(Context(args.device, folder, args.steps), names)
    failed = [n for n, ok in results.items() if not ok]
    print(f"gpu-check: {len(results) - len(failed)}/{len(results)} paths passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return EXIT_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bngan bench disentangle``: Figure 4b, does the Bayesian regulariser keep the latent space
disentangled when a shape is a minority?

``python -m bngan bench disentangle --ir 100 200 300`` trains InfoGAN and bngan on dSprites where one shape (the
heart by default) is a minority at imbalance ratio IR, and scores the discriminator's code head with the
FactorVAE score (the paper's measure: InfoGAN .525/.410/.361, ours .585/.479/.388 at IR 100/200/300) and MIG.
Each (method, IR, seed) cell writes ``cells/<cell>.json`` and ``checkpoints/<cell>.pt`` as soon as it is done;
a rerun reuses the cells computed under the same settings (fingerprint) and redoes the others (``--force``
redoes all). ``--shard i/n`` runs every n-th cell, so cells spread over processes or machines writing to one
folder. Every run then rewrites the reports from the cells that match its settings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bngan.errors import PROJECT_ERRORS
from bngan.experiments.core import ExperimentError, in_shard, parse_shard
from bngan.experiments.disentangle import report
from bngan.experiments.disentangle.settings import (
    CHECKPOINT_KINDS,
    METHODS,
    SHAPES,
    DisentangleSettings,
    grid,
    minority_count,
)

DEFAULTS = DisentangleSettings()


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown beside every option; the description kept as written."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bngan bench disentangle",
                                description=__doc__.split("\n\n")[1], formatter_class=_HelpFormatter)
    p.add_argument("--ir", type=float, nargs="+", default=DEFAULTS.irs, help="imbalance ratios")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)}")
    p.add_argument("--seeds", type=int, default=len(DEFAULTS.seeds), help="seeds 0..N-1 per (method, IR)")
    p.add_argument("--steps", type=int, default=DEFAULTS.steps, help="training steps per cell")
    p.add_argument("--codes", type=int, default=DEFAULTS.codes, help="salient codes k (5: one a factor)")
    p.add_argument("--shape", choices=SHAPES, default=SHAPES[DEFAULTS.shape], help="the minority shape")
    p.add_argument("--n-per-class", type=int, default=DEFAULTS.n_per_class,
                   help="dSprites images drawn per shape before the minority is cut to n / IR")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="training batch")
    p.add_argument("--preset", choices=("fast", "paper"), default=DEFAULTS.preset, help="network preset")
    p.add_argument("--bngan-mode", choices=("paper", "gaussian"), default=DEFAULTS.bngan_mode,
                   help="bngan's regulariser: Eq. 6 (paper) or the linear-Gaussian Eq. 3-5 (gaussian)")
    p.add_argument("--lambda-reg", type=float, default=DEFAULTS.lambda_reg, help="regulariser weight")
    p.add_argument("--device", default=DEFAULTS.device, help="auto, cpu, cuda, mps")
    p.add_argument("--num-train", type=int, default=DEFAULTS.num_train,
                   help="FactorVAE training votes, and the samples of MIG")
    p.add_argument("--num-eval", type=int, default=DEFAULTS.num_eval, help="FactorVAE eval votes")
    p.add_argument("--num-variance", type=int, default=None,
                   help="samples for the codes' global variances (unset: as --num-train)")
    p.add_argument("--metric-batch", type=int, default=DEFAULTS.metric_batch, help="images per FactorVAE vote")
    p.add_argument("--checkpoints", choices=CHECKPOINT_KINDS, default=DEFAULTS.checkpoints,
                   help="full (resumable, ~3x larger), weights (networks only) or none")
    p.add_argument("--out", type=Path, default=report.DEFAULT_OUT, help="results folder")
    p.add_argument("--shard", default="0/1", metavar="i/n",
                   help="run only cells i, i+n, i+2n, ... (0-based), for parallel jobs")
    p.add_argument("--force", action="store_true", help="redo cells even when they match these settings")
    p.add_argument("--report-only", action="store_true", help="train nothing; rebuild the reports")
    return p.parse_args(list(argv))


def parse_methods(text: str) -> list[str]:
    methods = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ExperimentError(f"--methods takes a comma-separated list of {', '.join(METHODS)}; got {text!r}")
    return methods


def settings_from(args: argparse.Namespace) -> DisentangleSettings:
    return DisentangleSettings(
        methods=parse_methods(args.methods), irs=args.ir, seeds=list(range(args.seeds)), steps=args.steps,
        codes=args.codes, shape=SHAPES.index(args.shape), n_per_class=args.n_per_class,
        batch_size=args.batch_size, preset=args.preset, lambda_reg=args.lambda_reg, device=args.device,
        num_train=args.num_train, num_eval=args.num_eval,
        num_variance=args.num_train if args.num_variance is None else args.num_variance,
        metric_batch=args.metric_batch, checkpoints=args.checkpoints, bngan_mode=args.bngan_mode)


def _print_progress(event: dict) -> None:
    kind, result = event["event"], event.get("result") or {}
    if kind == "cell_skipped":
        print(f"  {event['cell']}: done already (--force redoes it)", flush=True)
    elif kind == "cell_done":
        print(f"  {event['cell']}: FactorVAE {result['factorvae']:.3f}, MIG {result['mig']:.3f} "
              f"(train {result['train_s']:.0f} s, score {result['score_s']:.0f} s, {result['device']})", flush=True)
    elif kind == "cell_failed":
        print(f"  {event['message']}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    from bngan.experiments.disentangle.cells import run

    args = parse_args(sys.argv[1:] if argv is None else argv)
    out: Path = args.out
    try:
        if args.report_only:
            results = report.collect(out)
            report.write_reports(out, results)
        else:
            settings = settings_from(args)
            shard = parse_shard(args.shard)
            cells = in_shard(grid(settings), shard)
            minority = ", ".join(f"{minority_count(settings.n_per_class, ir)} at IR {ir:g}" for ir in settings.irs)
            print(f"disentangle: {len(cells)} cell(s) in shard {shard[0]}/{shard[1]}; {settings.n_per_class} "
                  f"images per majority shape, minority {args.shape}: {minority}; {settings.steps} steps; "
                  f"writing to {out}", flush=True)
            results = run(settings, out, shard=shard, progress=_print_progress, force=args.force)
    except PROJECT_ERRORS as exc:
        print(f"bngan bench disentangle: error: {exc}", file=sys.stderr)
        return 2
    print()
    summary = results["summary"]
    print(report.markdown_table(summary) if summary else f"no finished cells in {out / 'cells'}")
    if results["stale"]:
        print(f"left out, computed under other settings: {', '.join(results['stale'])}")
    print(f"reports: {out / 'table.md'}, {out / 'results.csv'}, {out / 'figure.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

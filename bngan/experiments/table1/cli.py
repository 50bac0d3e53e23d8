"""``python -m bngan bench table1 | ir-sweep [options]``: run (a shard of) the experiment, or only rebuild its
reports from the cells (``--collect-only``); prints the Markdown table at the end."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bngan.errors import PROJECT_ERRORS
from bngan.experiments.core import ExperimentError
from bngan.experiments.table1.settings import (
    CNN_AUGMENTATIONS,
    DEEPSMOTE_PAIRINGS,
    DEFAULT_METHODS,
    SWEEP_IRS,
    ExperimentConfig,
)


def build_parser(name: str) -> argparse.ArgumentParser:
    from bngan.experiments.table1.settings import available_methods

    sweep = name == "ir-sweep"
    parser = argparse.ArgumentParser(
        prog=f"python -m bngan bench {name}",
        description=("Figure 3: minority recall/F1 against IR." if sweep else
                     "Table 1: classifier metrics per method over folds, with paired t-tests."))
    parser.add_argument("--dataset", default="mnist",
                        help="data set(s), comma-separated: digits, mnist, fashion-mnist (default mnist)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated rows: {', '.join(available_methods())}")
    parser.add_argument("--folds", type=int, default=3,
                        help="independent seeded draws of the imbalanced split")
    parser.add_argument("--first-fold", type=int, default=0,
                        help="number of the first draw: --first-fold 5 --folds 5 runs folds 5-9, a "
                             "confirmation on draws never used to choose settings")
    parser.add_argument("--out", default="results",
                        help="parent folder; the run goes to OUT/<name>-<data set>")
    parser.add_argument("--run-dir", default=None,
                        help="exact folder for this run (overrides --out's naming)")
    parser.add_argument("--shard", default=None, help="i/n: run only cells with index %% n == i")
    parser.add_argument("--collect-only", action="store_true", help="only rebuild the reports from the cells")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--classifier-steps", type=int, default=None,
                        help="CNN optimiser steps for every row (default: 8 epochs of the imbalanced split)")
    budget.add_argument("--classifier-epochs", type=int, default=None,
                        help="CNN epochs over each row's resampled set instead (unequal updates per row)")
    parser.add_argument("--classifier-snapshots", default="",
                        help="smaller CNN budgets measured along the same training, comma-separated (each below "
                             "--classifier-steps): the budget study at the cost of its largest budget")
    parser.add_argument("--gan-steps", type=int, default=2000, help="training steps of each GAN row")
    parser.add_argument("--gan-preset", default="fast", choices=("fast", "paper"), help="GAN network size")
    parser.add_argument("--gan-batch-size", type=int, default=64)
    parser.add_argument("--sampling-strategy", default="auto",
                        help="auto | minority | not majority | all | +N (N images added to each smaller class) "
                             "| a fraction in (0, 1] for partial balancing")
    parser.add_argument("--cnn-augmentation", default="batched", choices=CNN_AUGMENTATIONS,
                        help="implementation of the augmented rows' transform: batched (fast, new runs) or "
                             "per-image (torchvision per image, as runs before it; resumes those)")
    parser.add_argument("--minority", default="8,9", help="minority classes (minority profile and the sweep)")
    if sweep:
        parser.add_argument("--irs", default=",".join(str(r) for r in SWEEP_IRS), help="imbalance ratios")
    else:
        parser.add_argument("--profile", default="standard", choices=("standard", "minority"),
                            help="standard: the 4000..40 split; minority: --minority classes at --ir")
        parser.add_argument("--ir", type=float, default=100.0, help="IR of the minority profile")
    parser.add_argument("--dgc-epochs", type=int, default=50)
    parser.add_argument("--dgc-width", type=float, default=1.0, help="DGC channel width (0.25 for CPU runs)")
    parser.add_argument("--dgc-steps", type=int, default=None, help="cap on DGC iterations")
    parser.add_argument("--deepsmote-steps", type=int, default=2000, help="autoencoder steps of the DeepSMOTE row")
    parser.add_argument("--deepsmote-pairing", default="own-image", choices=DEEPSMOTE_PAIRINGS,
                        help="what DeepSMOTE's penalty decodes a class's code towards: its own image (the "
                             "released code) or another image of the class (runs before 2026-12-04; blurs)")
    parser.add_argument("--dgc-draws", type=int, default=10,
                        help="DGC test-time draws per class (10 as in the paper; fewer for CPU runs)")
    parser.add_argument("--dgc-lr", type=float, default=1e-5,
                        help="DGC Adam learning rate (1e-5 as in the paper; short runs need more)")
    parser.add_argument("--quality", action="store_true",
                        help="also measure fidelity/FID/PRDC of the added images with the cached judge CNN")
    parser.add_argument("--reference", default=None,
                        help="row the t-tests compare against (default bngan; with --collect-only: the "
                             "folder's, or this one, saved)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None,
                        help="folder with MNIST/FashionMNIST (torchvision layout)")
    return parser


def _numbers(text: str, kind: type, option: str) -> list:
    """``"8,9"`` as ``[8, 9]``; anything else is the user's error, named by its option."""
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ExperimentError(f"{option} takes comma-separated numbers, got {text!r}") from None


def config_from_args(name: str, args: argparse.Namespace) -> ExperimentConfig:
    minority = _numbers(args.minority, int, "--minority")
    if name == "ir-sweep":
        irs = _numbers(args.irs, float, "--irs")
        imbalances = [{"profile": "minority", "minority_classes": minority, "ir": ir} for ir in irs]
    elif args.profile == "minority":
        imbalances = [{"profile": "minority", "minority_classes": minority, "ir": args.ir}]
    else:
        imbalances = [{"profile": "standard"}]
    return ExperimentConfig(
        name=name, datasets=args.dataset, methods=[m.strip() for m in args.methods.split(",") if m.strip()],
        folds=args.folds, first_fold=args.first_fold, imbalances=imbalances, classifier_steps=args.classifier_steps,
        classifier_epochs=args.classifier_epochs,
        classifier_snapshots=_numbers(args.classifier_snapshots, int, "--classifier-snapshots"),
        gan_steps=args.gan_steps, gan_preset=args.gan_preset,
        gan_batch_size=args.gan_batch_size, sampling_strategy=args.sampling_strategy,
        cnn_augmentation=args.cnn_augmentation,
        dgc_epochs=args.dgc_epochs, dgc_width=args.dgc_width, dgc_steps=args.dgc_steps,
        deepsmote_steps=args.deepsmote_steps,
        deepsmote_pairing=args.deepsmote_pairing,
        dgc_draws=args.dgc_draws, dgc_lr=args.dgc_lr, quality=args.quality,
        reference=args.reference or ExperimentConfig.reference,
        data_dir=args.data_dir, device=args.device)


def _print_progress(event: dict) -> None:
    if event["event"] in ("cell_done", "cell_failed", "cell_skipped", "stage", "stopped", "finished"):
        print(f"[{event['done']}/{event['total']}] {event['message']}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``table1 [options]`` or ``ir-sweep [options]``; prints the Markdown table at the end."""
    from bngan.experiments.table1 import report

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("table1", "ir-sweep"):
        print("usage: python -m bngan bench {table1,ir-sweep} [options] (--help for options)",
              file=sys.stderr)
        return 2
    name = argv[0]
    args = build_parser(name).parse_args(argv[1:])
    try:
        config = config_from_args(name, args)
        folder = Path(args.run_dir or Path(args.out) / f"{name}-{'+'.join(config.datasets)}")
        if args.collect_only:
            results = report.collect(folder, reference=args.reference)
            report.write_reports(folder, results)
        else:
            from bngan.experiments.table1.cells import run

            results = run(config, folder, shard=args.shard, progress=_print_progress)
    except PROJECT_ERRORS as exc:
        print(f"bngan bench {name}: error: {exc}", file=sys.stderr)
        return 2
    print(report.markdown_report(results))
    done = "complete" if results["complete"] else f"partial: {results['n_done']}/{results['n_cells']} cells"
    print(f"\nreports ({done}) in {folder}/: results.json, results.csv, folds.csv, table.md, figure.html",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

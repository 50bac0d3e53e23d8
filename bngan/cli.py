"""Command line: ``python -m bngan train | sample | traverse | bench ...``.

Bad input (a setting out of range, a missing data folder, a corrupt checkpoint, an invalid structure) prints
one line ``bngan: error: ...`` and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bngan.errors import InvalidSettingError

if TYPE_CHECKING:
    from bngan.structure import LatentStructure

EXIT_USAGE = 2
MAX_SEED = 2**32 - 1
MAX_TRAVERSAL_STEPS = 64
MAX_SPAN = 100.0


class UsageError(InvalidSettingError):
    """Bad input from the command line."""


def shown(text: str, limit: int = 60) -> str:
    """A user's argument as a message quotes it, cut when it is long."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option as one line (``bngan train: error: ...``), not a page of usage."""

    def error(self, message: str) -> NoReturn:
        message = message if len(message) <= 300 else message[:297] + "..."
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def seed_arg(text: str) -> int:
    """A seed: a whole number 0..2**32-1 (torch refuses 2**64 with an overflow message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {shown(text)}: give a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed must be from 0 to {MAX_SEED}, got {shown(text)}")
    return value


def _structure_arg(text: str) -> dict:
    """A preset name (``entangled``, ``entangled:4`` for k=4) or a path to a structure JSON file."""
    from bngan.structure import MAX_JSON_CHARS, PRESETS, LatentStructure

    name, _, k = text.partition(":")
    if name in PRESETS:
        if k and not (k.isascii() and k.isdigit() and len(k) <= 3):
            raise UsageError(f"--structure {shown(text)}: the number of codes after ':' must be a whole number, "
                             f"e.g. {name}:4")
        return LatentStructure.preset(name, int(k) if k else 3).to_dict()
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"--structure {shown(text)} is neither a preset ({', '.join(PRESETS)}) nor a JSON file")
    if path.stat().st_size > MAX_JSON_CHARS:
        raise UsageError(f"--structure {text}: the file is {path.stat().st_size:,} bytes; a structure JSON is at "
                         f"most {MAX_JSON_CHARS:,}")
    return LatentStructure.from_json(path.read_bytes()).to_dict()


def _imbalance_arg(args: argparse.Namespace) -> dict:
    from bngan.data import Imbalance

    minority = [8, 9]
    if args.minority:
        parts = [c.strip() for c in args.minority.split(",")]
        if not all(c.isascii() and c.isdigit() and len(c) <= 4 for c in parts):
            raise UsageError(f"--minority takes class numbers such as 8,9; got {shown(args.minority)}")
        minority = [int(c) for c in parts]
    return Imbalance(args.imbalance, minority_classes=minority, ir=args.ir).to_dict()


def _run_folder(text: str) -> Path:
    """``--out`` of train: a folder (an empty name would write into the current folder)."""
    if not text.strip():
        raise UsageError("--out must name a run folder (an empty name would write into the current folder)")
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {text} is a file: give a folder for the run")
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from torchvision.utils import save_image
    from tqdm import tqdm

    from bngan.config import TrainConfig
    from bngan.runs import RunWriter
    from bngan.training import Trainer

    out = _run_folder(args.out)
    overrides = {k: v for k, v in {"steps": args.steps, "epochs": args.epochs,
                                   "time_budget_s": args.time_budget}.items() if v is not None}
    if args.resume is not None:
        trainer = Trainer.resume(args.resume, device=args.device, **overrides)
    else:
        if args.download and args.dataset in ("mnist", "fashion-mnist"):
            from bngan.data import load_dataset

            for train in (True, False):  # fetch once into the data folder; training then reads it offline
                load_dataset(args.dataset, train=train, root=args.data_dir, download=True)
        config = TrainConfig(
            dataset=args.dataset, data_dir=args.data_dir, image_size=args.image_size,
            imbalance=_imbalance_arg(args), seed=args.seed, preset=args.preset,
            structure=_structure_arg(args.structure), reg_mode=args.reg_mode, reg_through=args.reg_through,
            lambda_reg=args.lambda_reg, adv_loss=args.adv_loss, spectral_norm=args.spectral_norm,
            diffaugment=args.diffaugment, ema_decay=args.ema_decay, lecam=args.lecam,
            batch_size=args.batch_size, code_prior=args.code_prior, device=args.device,
            steps=args.steps if any(v is not None for v in (args.steps, args.epochs, args.time_budget)) else 300,
            epochs=args.epochs, time_budget_s=args.time_budget, sample_every=args.sample_every,
            checkpoint_every=args.checkpoint_every)
        trainer = Trainer(config)
    writer = RunWriter(out, trainer)
    print(f"training on {trainer.device}: {len(trainer.data)} images, class counts "
          f"{trainer.data.class_counts()}", file=sys.stderr)
    bar = tqdm(total=trainer.steps_target(), initial=trainer.step_count, unit="step", disable=args.quiet)

    def on_event(event) -> None:
        writer(event)
        bar.update(1)
        if event.samples is not None:
            bar.set_postfix({k: f"{v:.3f}" for k, v in event.losses.items() if k in ("d_adv", "g_adv", "reg")})

    try:
        result = trainer.run(callback=on_event, checkpoint_path=writer.checkpoint)
    finally:
        bar.close()
        writer.close()
    if args.slim:
        trainer.save(writer.checkpoint, include_optimizer=False)
    save_image(trainer.sample_grid(), out / "samples_final.png", nrow=8)
    print(f"{result.steps} steps in {result.elapsed_s:.1f} s; checkpoint {writer.checkpoint}", file=sys.stderr)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from torchvision.utils import save_image

    from bngan.training import TrainedModel

    out = Path(args.out)
    if out.suffix.lower() not in (".npz", ".png", ".jpg", ".jpeg") or not out.stem:
        raise UsageError("--out must be a file name ending in .png, .jpg or .npz")
    if not 1 <= args.n <= 100000:
        raise UsageError(f"--n must be 1..100000, got {args.n}")
    model = TrainedModel.load(args.checkpoint, device=args.device)
    if not 0 <= args.label < len(model.class_names):
        raise UsageError(f"--label must be 0..{len(model.class_names) - 1} for this model, got {args.label}")
    images = model.generate(torch.full((args.n,), args.label), seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npz":
        np.savez_compressed(out, images=images.numpy(), labels=np.full(args.n, args.label))
    else:
        save_image(images, out, nrow=int(np.ceil(np.sqrt(args.n))))
    print(f"wrote {args.n} images of class {args.label} ({model.class_names[args.label]}) to {out}",
          file=sys.stderr)
    return 0


def cmd_traverse(args: argparse.Namespace) -> int:
    import math

    from torchvision.utils import save_image

    from bngan.training import TrainedModel
    from bngan.traversal import code_values, grid, strip

    if not 2 <= args.steps <= MAX_TRAVERSAL_STEPS:
        raise UsageError(f"--steps must be 2..{MAX_TRAVERSAL_STEPS}, got {args.steps}")
    if not math.isfinite(args.span) or not 0 < args.span <= MAX_SPAN:
        raise UsageError(f"--span must be a number above 0 and at most {MAX_SPAN:g} (codes are drawn from "
                         f"N(0, 1); 2 to 3 shows a code's range), got {args.span}")
    if Path(args.out).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UsageError("--out must be an image file name ending in .png or .jpg")
    model = TrainedModel.load(args.checkpoint, device=args.device)
    if not 0 <= args.label < len(model.class_names):
        raise UsageError(f"--label must be 0..{len(model.class_names) - 1}, got {args.label}")
    values = code_values(args.steps, args.span)
    if args.code2 is not None:
        images = grid(model, args.label, args.code, args.code2, values, seed=args.seed)
    else:
        images = strip(model, args.label, args.code, values, seed=args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_image(images, args.out, nrow=args.steps)
    print(f"wrote traversal of code {args.code} to {args.out}", file=sys.stderr)
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    """Name codes after looking at their traversals: rewrites the labels in the checkpoint (atomically)."""
    import json as _json

    from bngan.checkpoint import load_checkpoint, save_checkpoint
    from bngan.training import check_against_model

    data = load_checkpoint(args.checkpoint)
    saved = check_against_model(data, args.checkpoint)
    labels = {}
    for item in args.labels.split(","):
        index, _, name = item.partition("=")
        if not (index.strip().isascii() and index.strip().isdigit()) or len(index.strip()) > 3 \
                or not name.strip():
            raise UsageError(f"--labels takes 1=thickness,2=rotation; got {shown(item)}")
        labels[int(index)] = name.strip()
    structure = saved.structure.with_labels(labels)
    config = _json.loads(data["config"])
    config["structure"] = structure.to_dict()
    data.update(structure=structure.to_json(), config=_json.dumps(config, indent=2))
    save_checkpoint(args.checkpoint, {k: v for k, v in data.items() if k not in ("format", "version")})
    _relabel_run_folder(Path(args.checkpoint).parent, structure)
    print(f"labels of {args.checkpoint}: {structure.labels}", file=sys.stderr)
    return 0


def _relabel_run_folder(folder: Path, structure: LatentStructure) -> None:
    """Keep a run folder's config.json and structure.json in step with its relabelled checkpoint.

    Only when they describe the same drawing (same k and edges): a checkpoint copied next to another run's files
    leaves those alone.
    """
    import json as _json

    from bngan.files import atomic_write_text

    config_path, structure_path = folder / "config.json", folder / "structure.json"
    try:
        config = _json.loads(config_path.read_text())
        drawn = config["structure"]
        same = int(drawn["k"]) == structure.k and sorted(map(tuple, drawn["edges"])) == sorted(structure.edges)
    except (OSError, ValueError, KeyError, TypeError):
        return
    if not same:
        return
    config["structure"] = structure.to_dict()
    atomic_write_text(config_path, _json.dumps(config, indent=2))
    if structure_path.exists():
        atomic_write_text(structure_path, structure.to_json())


def cmd_effects(args: argparse.Namespace) -> int:
    """Measure what each code does (bngan.effects) and write it beside the checkpoint as effects.json."""
    import json as _json

    from bngan.effects import EffectMatrix, crosstalk, measure_model
    from bngan.files import atomic_write_text
    from bngan.training import TrainedModel

    if not 2 <= args.seeds <= 1000:
        raise UsageError(f"--seeds must be 2..1000, got {args.seeds}")
    model = TrainedModel.load(args.checkpoint)
    measured = measure_model(model, seeds=args.seeds)
    matrix, own = EffectMatrix.from_dict(measured["matrix"]), measured["own"]
    out = Path(args.out) if args.out else Path(args.checkpoint).with_name("effects.json")
    atomic_write_text(out, _json.dumps(measured, indent=1))
    width = max(len(a) for a in matrix.attributes)
    print(" " * 8 + " ".join(f"{a:>{width}}" for a in matrix.attributes) + "  cross-talk")
    for name, row, talk in zip(matrix.rows, matrix.effect, crosstalk(matrix.effect)):
        print(f"{name:<8}" + " ".join(f"{v:>{width}.2f}" for v in row) + f"  {talk:.2f}")
    print("read back (rows ci', columns cj): " + "; ".join(
        f"c{i}' " + " ".join(f"{v:+.2f}" for v in row) for i, row in enumerate(measured["readout"], start=1)))
    print(f"agreement with its own drawing: {own['agreement']:.3f}; written to {out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bngan import bench

    return bench.main(args.bench_args)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="bngan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a generator", description="Train a Bayesian-network GAN.")
    train.add_argument("--dataset", default="digits", help="digits (offline default), mnist, fashion-mnist, "
                       "folder, dsprites")
    train.add_argument("--data-dir", help="data root (default $BNGAN_DATA_DIR or ../shared/data); for "
                       "'folder', the folder with one sub-folder per class")
    train.add_argument("--image-size", type=int, help="square side in pixels, a multiple of 4 (default: the data "
                       "set's own; 'folder' images are resized to a square of the first image's shorter side)")
    train.add_argument("--imbalance", default="minority", choices=["none", "standard", "minority"])
    train.add_argument("--minority", help="minority classes, e.g. 8,9 (profile 'minority')")
    train.add_argument("--ir", type=float, default=10.0, help="imbalance ratio of the minority classes")
    train.add_argument("--structure", default="entangled", help="preset[:k] or a structure JSON file")
    train.add_argument("--download", action="store_true",
                       help="fetch MNIST / Fashion-MNIST into the data folder first (needs internet)")
    train.add_argument("--preset", default="fast", choices=["fast", "paper"], help="model size")
    train.add_argument("--reg-mode", default="paper", choices=["paper", "gaussian", "infogan"],
                       help="paper: Eq. 6; gaussian: linear-Gaussian fit (Eq. 3-5); infogan: the InfoGAN baseline")
    train.add_argument("--reg-through", default="both", choices=["both", "generator"],
                       help="both: the drawing trains the code head and G (the paper); generator: the code head "
                       "learns to read the codes back and only G follows the drawing")
    train.add_argument("--lambda-reg", type=float, default=0.1)
    train.add_argument("--adv-loss", default="least-squares", choices=["least-squares", "hinge"])
    train.add_argument("--spectral-norm", action="store_true", help="spectral norm on every discriminator layer")
    train.add_argument("--diffaugment", action="store_true",
                       help="D sees real and fake images through the same random shift and cutout")
    train.add_argument("--ema-decay", type=float, default=0.0, help="e.g. 0.999: sample and save an EMA of G")
    train.add_argument("--lecam", type=float, default=0.0, help="weight of LeCam regularisation (0: off)")
    train.add_argument("--code-prior", default="normal", choices=["normal", "uniform"])
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--steps", type=int)
    train.add_argument("--epochs", type=float)
    train.add_argument("--time-budget", type=float, help="seconds of training")
    train.add_argument("--sample-every", type=int, default=100)
    train.add_argument("--checkpoint-every", type=int, default=500)
    train.add_argument("--seed", type=seed_arg, default=0)
    train.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    train.add_argument("--resume", help="continue from this checkpoint")
    train.add_argument("--out", required=True, help="run folder (checkpoint.pt, config.json, metrics.jsonl, PNGs)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--slim", action="store_true", help="finish with a checkpoint without optimiser state "
                       "(a third of the size, for shipping; resuming starts fresh optimisers)")
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser("sample", help="generate images of one class",
                            description="Generate images of one class from a checkpoint.")
    sample.add_argument("--checkpoint", required=True)
    sample.add_argument("--label", type=int, required=True)
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--seed", type=seed_arg, default=0)
    sample.add_argument("--device", default="cpu", choices=["auto", "cuda", "mps", "cpu"])
    sample.add_argument("--out", required=True, help="grid .png or arrays .npz")
    sample.set_defaults(func=cmd_sample)

    traverse = sub.add_parser("traverse", help="sweep a code", description="Write a latent traversal strip/grid.")
    traverse.add_argument("--checkpoint", required=True)
    traverse.add_argument("--code", type=int, required=True, help="1-based code index")
    traverse.add_argument("--code2", type=int, help="a second code: a 2-D grid")
    traverse.add_argument("--label", type=int, default=0)
    traverse.add_argument("--steps", type=int, default=7)
    traverse.add_argument("--span", type=float, default=2.0)
    traverse.add_argument("--seed", type=seed_arg, default=0)
    traverse.add_argument("--device", default="cpu", choices=["auto", "cuda", "mps", "cpu"])
    traverse.add_argument("--out", required=True)
    traverse.set_defaults(func=cmd_traverse)

    label = sub.add_parser("label", help="name the codes of a trained model",
                           description="Name codes after looking at their traversals (rewrites the checkpoint).")
    label.add_argument("--checkpoint", required=True)
    label.add_argument("--labels", required=True, help="e.g. 1=rotation,2=thickness")
    label.set_defaults(func=cmd_label)

    effects = sub.add_parser("effects", help="measure what each code does to the image",
                             description="The effect matrix of a model: codes x measured attributes, with "
                             "95%% intervals, and its agreement with the model's drawn structure.")
    effects.add_argument("--checkpoint", required=True)
    effects.add_argument("--seeds", type=int, default=16, help="noise draws per class")
    effects.add_argument("--out", help="JSON file (default: effects.json beside the checkpoint)")
    effects.set_defaults(func=cmd_effects)

    bench = sub.add_parser("bench", help="benchmarks and experiments (bench --help)", add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    return parser


def run_guarded(func: Callable[[], int], prog: str = "bngan") -> int:
    """Run a command; expected failures become one line on stderr and exit status 2."""
    from bngan.errors import PROJECT_ERRORS

    try:
        return func()
    except PROJECT_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the benchmarks parse their own options (bench NAME --help)
        from bngan import bench

        return run_guarded(lambda: bench.main(argv[1:]), prog="bngan bench")
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""Paired differences between two rows of Table 1 runs, which may live in different folders:
``python -m bngan bench compare A_DIR:ROW B_DIR:ROW``.

A table's own t-tests pair rows of one folder. A question such as "does the 8,000-step GAN beat the 4,000-step
one?" pairs a row of one run with a row of another run over the same folds (each fold is the same seeded draw
of the imbalanced split in every folder). This pairs them per group (data set and imbalance setting) and per CNN
budget both measured, and prints A − B with the two-sided paired t-test. Torch-free: it reads saved cells.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from bngan.errors import PROJECT_ERRORS
from bngan.evaluation.gan_methods import is_gan, trains_with_augmentation
from bngan.evaluation.metrics import paired_ttest
from bngan.experiments.core import ExperimentError
from bngan.experiments.stats import mean_std, on_shared_folds
from bngan.experiments.table1 import report
from bngan.experiments.table1.settings import ExperimentConfig, budget_text

__all__ = ["Row", "compare", "load_row", "main", "markdown"]

COMPARED = (("macro_f1", "macro-F1"), ("minority_f1", "mean minority F1"))


class Row(NamedTuple):
    """A row named as ``FOLDER:ROW`` and its folder's collected results."""

    spec: str
    method: str
    results: dict

    @property
    def config(self) -> ExperimentConfig:
        return ExperimentConfig.from_saved(self.results["experiment"])


def load_row(spec: str) -> Row:
    """``FOLDER:ROW`` -> the row and its folder's results; a clear error when either is missing."""
    folder, sep, method = spec.rpartition(":")
    if not sep or not folder or not method:
        raise ExperimentError(f"name a row as FOLDER:ROW (e.g. results/long-mnist:ros-aug), got {spec!r}")
    if not Path(folder).is_dir():
        raise ExperimentError(f"{folder} is not a folder: give a table1 or ir-sweep run folder")
    results = report.collect(folder)
    if not any(method in g["methods"] for g in results["groups"]):
        rows = sorted({m for g in results["groups"] for m in g["methods"]})
        raise ExperimentError(f"{folder} has no finished cell of row {method!r}; its rows: "
                              f"{', '.join(rows) or 'none'}")
    return Row(spec, method, results)


def _per_budget(entry: Mapping, minority: Sequence[int]) -> dict[str, dict]:
    """A row's values per CNN budget (the snapshots and the final one; only the final one for runs without
    snapshots), each with ``minority_f1`` added, in the folds-and-values form the paired tests take."""
    budgets = entry.get("budgets") or {"final": entry["values"]}
    return {step: report.with_minority_f1({"folds": entry["folds"], "values": values}, minority)
            for step, values in budgets.items()}


def compare(a: Row, b: Row) -> list[dict]:
    """One record per group both runs have and per CNN budget both rows measured: the shared folds, and per
    compared metric the mean of A − B over those folds, the p of the paired t-test and the per-fold differences."""
    b_groups = {(g["dataset"], g["tag"]): g for g in b.results["groups"]}
    records = []
    for group in a.results["groups"]:
        other = b_groups.get((group["dataset"], group["tag"]))
        if a.method not in group["methods"] or other is None or b.method not in other["methods"]:
            continue
        a_budgets = _per_budget(group["methods"][a.method], group["minority"])
        b_budgets = _per_budget(other["methods"][b.method], group["minority"])
        for step in sorted(set(a_budgets) & set(b_budgets), key=lambda s: int(s) if s.isdigit() else math.inf):
            folds = sorted(set(a_budgets[step]["folds"]) & set(b_budgets[step]["folds"]))
            record: dict = {"label": group["label"], "budget": step, "folds": folds}
            for key, _ in COMPARED:
                x, y = on_shared_folds(a_budgets[step], b_budgets[step], key)
                differences = [u - v for u, v in zip(x, y, strict=True)]
                record[key] = {"difference": mean_std(differences).mean, "p": paired_ttest(x, y)[1],
                               "per_fold": differences}
            records.append(record)
    if not any(r["folds"] for r in records):
        raise ExperimentError(f"{a.spec} and {b.spec} share no fold of a group (data set and imbalance setting) "
                              "at a common CNN budget: nothing to pair")
    return [r for r in records if r["folds"]]


def _p(p: float) -> str:
    if math.isnan(p):
        return "no test"
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def markdown(a: Row, b: Row, records: Sequence[dict]) -> str:
    """A table of A − B per group and budget, with the folds paired and each run's settings below it."""
    lines = [f"A = `{a.spec}`, B = `{b.spec}`: A − B, mean over the shared folds (two-sided paired t-test)", "",
             "| group | CNN steps | folds | " + " | ".join(t for _, t in COMPARED) + " | per fold (macro-F1) |",
             "|---|---|---|" + "---|" * len(COMPARED) + "---|"]
    for r in records:
        cells = [f"{r[k]['difference']:+.4f} ({_p(r[k]['p'])})" for k, _ in COMPARED]
        budget = r["budget"] if r["budget"] == "final" else f"{int(r['budget']):,}"
        per_fold = ", ".join(f"{d:+.4f}" for d in r["macro_f1"]["per_fold"])
        lines.append(f"| {r['label']} | {budget} | {', '.join(map(str, r['folds']))} | " + " | ".join(cells)
                     + f" | {per_fold} |")
    lines.append("")
    for name, row in (("A", a), ("B", b)):
        config = row.config
        gan = f"; GAN {config.gan_steps} steps ({config.gan_preset} preset)" if is_gan(row.method) else ""
        augmented = f"; transform {config.cnn_augmentation}" if trains_with_augmentation(row.method) else ""
        lines.append(f"{name} (`{row.method}`): CNN budget {budget_text(config)}{gan}{augmented}.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bngan bench compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="FOLDER:ROW, e.g. results/gan8k-mnist:bngan-mix-aug")
    parser.add_argument("b", help="FOLDER:ROW, e.g. results/long-mnist:ros-aug")
    args = parser.parse_args(argv)
    try:
        a, b = load_row(args.a), load_row(args.b)
        records = compare(a, b)
    except PROJECT_ERRORS as error:
        print(f"bngan bench compare: error: {error}", file=sys.stderr)
        return 2
    print(markdown(a, b, records))
    return 0


if __name__ == "__main__":
    sys.exit(main())

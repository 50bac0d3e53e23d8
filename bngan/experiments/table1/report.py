"""Aggregating Table 1 / IR-sweep cells and writing their reports. Never imports torch: the Evaluate page reads
results with these functions before torch loads.

The reports (``results.json``, ``results.csv``, ``folds.csv``, ``table.md``, ``figure.html``) are rebuilt from
the cells after every run (marked partial while cells are missing) or by ``--collect-only``. Table columns:
recall and F1 of each minority class, macro-F1, balanced accuracy (ACSA) and G-mean, as mean ± std over
folds, with a two-sided paired t-test (pairs = folds) against the reference row (``bngan`` by default).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bngan.evaluation.gan_methods import is_gan
from bngan.evaluation.metrics import paired_ttest, summarize
from bngan.experiments.core import (
    SPEC_FILE,
    CellStore,
    ExperimentError,
    read_json,
    read_spec,
    sort_records,
    write_figure,
    write_json,
)
from bngan.experiments.stats import (
    BETTER,
    WORSE,
    format_mean_std,
    mean_std,
    on_shared_folds,
    paired_tests,
    significance_marker,
)
from bngan.experiments.table1.settings import (
    STANDARD_MINORITY,
    ExperimentConfig,
    budget_text,
    fold_text,
    grid,
    setting_tag,
)
from bngan.files import atomic_write_text

SCALAR_COLUMNS = (("macro_f1", "macro-F1"), ("balanced_accuracy", "ACSA"), ("g_mean", "G-mean"))
CLASS_METRICS = (("recall", "recall"), ("f1", "F1"))
SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "g_mean", "g_macro", "recall", "precision", "f1",
                "confusion")
QUALITY_KEYS = ("fidelity", "fid", "precision", "recall", "density", "coverage")
# (summary name, section of a cell's quality, key in it or None): bngan.evaluation.diagnostics
DIAGNOSTICS = (("copy_ratio", "copying", "ratio"), ("copy_closer", "copying", "closer_share"),
               ("domain", "domain", None), ("cas_recall", "cas", "recall"), ("cas_f1", "cas", "f1"))
DIAGNOSTIC_HEADERS = {"copy_ratio": "copy ratio", "copy_closer": "closer than real", "domain": "real-vs-added acc.",
                      "cas_recall": "CAS recall", "cas_f1": "CAS F1"}
DIAGNOSTICS_LEGEND = (
    "Copy ratio: median distance of an added image to its nearest training image of its class over the same for "
    "real test images (1 = as novel as fresh real images, 0 = copies); closer than real: share of added images "
    "nearer than the 5th percentile of the test images' distances (0.05 = chance). Real-vs-added acc.: 5-fold "
    "accuracy of a logistic regression on the judge's features telling added from held-out real images (0.5 = "
    "indistinguishable).")
CAS_LEGEND = ("CAS: the CNN trained with the minority classes only as added images, recall/F1 on their real test "
              "images.")
LEAD_METRICS = (("macro_f1", "macro-F1"), ("minority_f1", "mean minority F1"))
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "digits"}
REPORT_FILES = ("results.json", "results.csv", "folds.csv", "table.md", "figure.html")


# ---------------------------------------------------------------------------------------------- collecting

def is_experiment_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a Table 1 / IR-sweep experiment (its spec names data sets)."""
    spec = read_json(Path(folder) / SPEC_FILE)
    return isinstance(spec, dict) and "datasets" in spec


def load_cells(out_dir: str | os.PathLike) -> list[dict]:
    """Every readable cell record in ``out_dir/cells``."""
    return CellStore(Path(out_dir)).records()


def collect(out_dir: str | os.PathLike, reference: str | None = None) -> dict:
    """The results of an experiment folder, from its ``experiment.json`` and whatever cells exist.

    ``reference`` picks another row for the t-tests and is saved in ``experiment.json``, so the folder's
    reports and spec keep agreeing (no cell depends on it: nothing is rerun)."""
    config = ExperimentConfig.from_saved(read_spec(Path(out_dir)))
    if reference is not None and reference != config.reference:
        if reference not in config.methods:
            raise ExperimentError(f"reference {reference!r} is not a method of {out_dir}: "
                                  f"choose one of {', '.join(config.methods)}")
        config.reference = reference
        write_json(Path(out_dir) / SPEC_FILE, config.to_dict())
    return aggregate(load_cells(out_dir), config)


def aggregate(records: Sequence[dict], config: ExperimentConfig) -> dict:
    """Summaries per (data set, setting, method) over folds, with paired t-tests against the reference.

    A record whose fingerprint is not its cell's (other settings) is listed as ``stale`` and left out."""
    expected = {cell.key: cell for cell in grid(config)}
    found = sort_records(records, list(expected.values()))
    valid = {record["key"]: record for record in found.valid}
    groups = []
    for dataset in config.datasets:
        for setting in range(len(config.imbalances)):
            mine = [valid[k] for k, c in expected.items()
                    if c["dataset"] == dataset and c["setting"] == setting and k in valid]
            groups.append(_group(dataset, setting, config, mine))
    missing = [k for k in expected if k not in valid]
    return {"experiment": config.to_dict(), "complete": not missing, "n_cells": len(expected),
            "n_done": len(valid), "missing": missing, "failures": found.failures, "stale": found.stale,
            "groups": groups}


def _group(dataset: str, setting: int, config: ExperimentConfig, records: list[dict]) -> dict:
    imbalance = config.imbalances[setting]
    first = records[0] if records else {}
    counts = {int(c): int(n) for c, n in first.get("train_counts", {}).items()}
    minority = table_classes(imbalance, counts)
    top = max(counts.values(), default=0)
    group: dict[str, Any] = {
        "dataset": dataset, "setting": setting, "tag": setting_tag(imbalance), "imbalance": imbalance,
        "ir": imbalance.get("ir") if imbalance.get("profile") == "minority" else None,
        "label": group_label(dataset, imbalance), "minority": minority,
        "class_names": first.get("class_names", [str(c) for c in range(10)]),
        "train_counts": {str(c): n for c, n in counts.items()},  # str keys, as after a JSON round trip
        "class_ir": {str(c): (top / n if n else None) for c, n in counts.items()},
        "methods": {},
    }
    by_method: dict[str, list[dict]] = {}
    for record in sorted(records, key=lambda r: r["fold"]):
        by_method.setdefault(record["method"], []).append(record)
    for method in config.methods:
        if method in by_method:
            group["methods"][method] = _method_summary(by_method[method], minority)
    group["reference"] = paired_tests(group["methods"], config.reference)
    return group


def table_classes(imbalance: Mapping, counts: Mapping[int, int]) -> list[int]:
    """The classes a table reports: the chosen minority classes, else the standard split's 8 and 9 (or the
    two smallest classes when there are not ten)."""
    if imbalance.get("profile") == "minority" and imbalance.get("counts") is None:
        return [int(c) for c in imbalance.get("minority_classes", ())]
    if imbalance.get("profile") == "standard" and imbalance.get("counts") is None and len(counts) == 10:
        return list(STANDARD_MINORITY)
    return sorted(sorted(counts, key=lambda c: (counts[c], -c))[:2]) if counts else []


def group_label(dataset: str, imbalance: Mapping) -> str:
    title = DATASET_TITLES.get(dataset, dataset)
    if imbalance.get("profile") == "minority" and imbalance.get("counts") is None:
        return f"{title}, IR {float(imbalance['ir']):g}"
    return f"{title}, {setting_tag(imbalance)} split"


def column_keys(minority: Sequence[int]) -> list[str]:
    """Table metrics: ``recall_8``, ``f1_8``, ... then the scalar metrics."""
    return [f"{m}_{c}" for c in minority for m, _ in CLASS_METRICS] + [k for k, _ in SCALAR_COLUMNS]


def metric_value(metrics: Mapping, key: str) -> float:
    """``recall_8`` -> ``metrics['recall'][8]``; a scalar key -> ``metrics[key]``."""
    name, _, suffix = key.rpartition("_")
    return float(metrics[name][int(suffix)]) if suffix.isdigit() else float(metrics[key])


def _method_summary(records: list[dict], minority: Sequence[int]) -> dict:
    metrics = [r["metrics"] for r in records]
    values = {key: [metric_value(m, key) for m in metrics] for key in column_keys(minority)}
    entry: dict[str, Any] = {
        "folds": [r["fold"] for r in records], "values": values,
        "summary": summarize(metrics, keys=[k for k in SUMMARY_KEYS if all(k in m for m in metrics)]),
        "seconds": mean_std([r.get("seconds", 0.0) for r in records]).mean,
        "resampled_counts": records[0].get("resampled_counts"),
    }
    quality = [r["quality"] for r in records if r.get("quality")]
    if quality:
        entry["quality"] = quality_summary(quality, minority)
    budgets = _budget_values(records, minority)
    if budgets:
        entry["budgets"] = budgets
    return entry


def _budget_values(records: list[dict], minority: Sequence[int]) -> dict[str, dict[str, list[float]]]:
    """Per CNN budget measured in every fold (the snapshots and the final budget): each column's values."""
    per_fold = []
    for record in records:
        measured = dict(record.get("budgets") or {})
        if not measured or record.get("classifier_steps") is None:
            return {}
        measured[str(record["classifier_steps"])] = record["metrics"]
        per_fold.append(measured)
    common = sorted(set.intersection(*(set(m) for m in per_fold)), key=int) if per_fold else []
    return {step: {key: [metric_value(m[step], key) for m in per_fold] for key in column_keys(minority)}
            for step in common}


def quality_summary(quality: list[dict], minority: Sequence[int]) -> dict:
    """Mean and std over folds of the pooled metrics and of each minority class's fidelity and FID."""
    out: dict[str, Any] = {}
    for key in QUALITY_KEYS:
        vals = [q.get(key) for q in quality if q.get(key) is not None]
        if vals:
            out[key] = mean_std(vals).as_dict()
    for c in minority:
        for key in ("fidelity", "fid"):
            vals = [q["per_class"][str(c)][key] for q in quality
                    if str(c) in q.get("per_class", {}) and q["per_class"][str(c)].get(key) is not None]
            if vals:
                out[f"{key}_{c}"] = mean_std(vals).as_dict()
        for name, section, key in DIAGNOSTICS:
            vals = [q[section][str(c)] for q in quality if str(c) in q.get(section, {})]
            vals = [v.get(key) if isinstance(v, Mapping) else v for v in vals]
            vals = [v for v in vals if v is not None]
            if vals:
                out[f"{name}_{c}"] = mean_std(vals).as_dict()
    return out


# ------------------------------------------------------------------------------------------------- reports

def write_reports(out_dir: str | os.PathLike, results: dict) -> dict[str, Path]:
    """``results.json``, ``results.csv``, ``folds.csv``, ``table.md`` and ``figure.html`` in ``out_dir``."""
    folder = Path(out_dir)
    paths = {name: folder / name for name in REPORT_FILES}
    write_json(paths["results.json"], results)
    atomic_write_text(paths["results.csv"], results_csv(results))
    atomic_write_text(paths["folds.csv"], folds_csv(load_cells(folder), results))
    atomic_write_text(paths["table.md"], markdown_report(results))
    write_figure(results_figure(results), paths["figure.html"])
    return paths


def format_cell(entry: Mapping, key: str, best: bool = False) -> str:
    """``0.893 ± 0.012`` (bold when ``best``), with the t-test marker against the reference row."""
    stats = mean_std(entry["values"][key])
    text = format_mean_std(stats.mean, stats.std, show_std=stats.n > 1)  # one fold has no spread to show
    if best:
        text = f"**{text}**"
    return text + significance_marker(entry.get("tests", {}).get(key))


def table_headers(group: Mapping, prefix: bool = False) -> list[str]:
    """Column titles matching :func:`column_keys`, e.g. ``9 (IR 100) recall``; prefixed by the data set."""
    names = group["class_names"]
    head = []
    for c in group["minority"]:
        ir = group["class_ir"].get(str(c))
        ir_text = f" (IR {ir:.0f})" if ir else ""
        name = names[c] if c < len(names) else str(c)
        head += [f"{name}{ir_text} {label}" for _, label in CLASS_METRICS]
    head += [label for _, label in SCALAR_COLUMNS]
    title = DATASET_TITLES.get(group["dataset"], group["dataset"])
    return [f"{title} {h}" for h in head] if prefix else head


def markdown_table(groups: Sequence[dict], methods: Sequence[str]) -> str:
    """One table, rows = methods, columns = each group's minority recall/F1 and scalar metrics."""
    import numpy as np

    prefix = len(groups) > 1
    header = ["method"] + [h for g in groups for h in table_headers(g, prefix)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best = {(i, key): _best_mean(g, key) for i, g in enumerate(groups) for key in column_keys(g["minority"])}
    for method in methods:
        row = [method]
        for i, group in enumerate(groups):
            entry = group["methods"].get(method)
            for key in column_keys(group["minority"]):
                if entry is None:
                    row.append("—")
                else:
                    mean = mean_std(entry["values"][key]).mean
                    top = best[i, key] is not None and np.isclose(mean, best[i, key])
                    row.append(format_cell(entry, key, bool(top)))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _best_mean(group: Mapping, key: str) -> float | None:
    """The highest mean of a column, or None when there is no winner to mark (one row, or all rows tie)."""
    import numpy as np

    means = [mean_std(e["values"][key]).mean for e in group["methods"].values()]
    if len(means) < 2 or np.allclose(means, means[0]):
        return None
    return max(means)


def budget_ranking(group: Mapping, step: str, key: str) -> list[str]:
    """The rows measured at ``step``, best mean of ``key`` first."""
    scores = {m: mean_std(e["budgets"][step][key]).mean for m, e in group["methods"].items()
              if step in e.get("budgets", {})}
    return sorted(scores, key=lambda m: -scores[m])


def stable_from(group: Mapping, steps: Sequence[str], key: str) -> str | None:
    """The smallest budget from which the ranking by ``key`` no longer changes (None: it changes at the
    last step, or fewer than two budgets were measured)."""
    rankings = [budget_ranking(group, step, key) for step in steps]
    if len(rankings) < 2 or rankings[-1] != rankings[-2]:
        return None
    first = len(rankings) - 1
    while first > 0 and rankings[first - 1] == rankings[-1]:
        first -= 1
    return steps[first]


def budget_table(groups: Sequence[dict], methods: Sequence[str]) -> str | None:
    """Macro-F1 and mean minority F1 of each row at each CNN budget, the ranking at each budget and the budget
    from which it stops changing; None when no cell measured several budgets."""
    lines: list[str] = []
    for group in groups:
        steps = sorted({s for e in group["methods"].values() for s in e.get("budgets", {})}, key=int)
        if len(steps) < 2:
            continue
        f1_keys = [f"f1_{c}" for c in group["minority"]]
        lines += [f"**{group['label']}** — macro-F1 / mean minority F1 ({', '.join(f1_keys)}), mean over folds:",
                  "", "| method | " + " | ".join(f"{int(s):,} steps" for s in steps) + " |",
                  "|---|" + "---|" * len(steps)]
        for method in methods:
            entry = group["methods"].get(method, {}).get("budgets", {})
            if not entry:
                continue
            cells = []
            for step in steps:
                if step not in entry:
                    cells.append("—")
                    continue
                minority_f1 = sum(mean_std(entry[step][k]).mean for k in f1_keys) / max(len(f1_keys), 1)
                cells.append(f"{mean_std(entry[step]['macro_f1']).mean:.3f} / {minority_f1:.3f}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
        for step in steps:
            ranking = " > ".join(budget_ranking(group, step, "macro_f1"))
            lines.append(f"- ranking by macro-F1 at {int(step):,} steps: {ranking}")
        stable = stable_from(group, steps, "macro_f1")
        lines += ["", f"Ranking by macro-F1 unchanged from {int(stable):,} steps to {int(steps[-1]):,}." if stable else
                  f"The ranking by macro-F1 still changes between the last two budgets: more than {int(steps[-1]):,} "
                  "steps may change it again.", ""]
    return "\n".join(lines).rstrip() or None


def with_minority_f1(entry: Mapping, minority: Sequence[int]) -> dict:
    """A row's folds and values plus ``minority_f1``: each fold's mean F1 over the minority classes."""
    per_class = [entry["values"][f"f1_{c}"] for c in minority]
    return {"folds": entry["folds"],
            "values": {**entry["values"], "minority_f1": [sum(v) / len(v) for v in zip(*per_class)]}}


def _gap(leader: Mapping, other: Mapping, key: str) -> str:
    """``0.012 (p = 0.034, 3 folds)``: the leader's lead in mean and the paired t-test on the shared folds."""
    a, b = on_shared_folds(leader, other, key)
    lead = mean_std(leader["values"][key]).mean - mean_std(other["values"][key]).mean
    _, p = paired_ttest(a, b)
    test = ("no test: fewer than 2 shared folds" if math.isnan(p) else
            f"p {'< 0.001' if p < 0.001 else f'= {p:.3f}'}, {len(a)} folds")
    return f"{lead:.3f} ({test})"


def leaders(groups: Sequence[dict], reference: str | None) -> str | None:
    """Per group and for macro-F1 and mean minority F1: the leading row, its lead over the runner-up (and over
    the reference row) and the paired t-test's p; None when no row has two folds (no test to report)."""
    lines = []
    for group in groups:
        rows = {m: with_minority_f1(e, group["minority"]) for m, e in group["methods"].items()}
        if len(rows) < 2 or max(len(r["folds"]) for r in rows.values()) < 2:
            continue
        parts = []
        for key, title in LEAD_METRICS:
            means = {m: mean_std(r["values"][key]).mean for m, r in rows.items()}
            order = sorted(means, key=lambda m: -means[m])
            others = order[1:2] + ([reference] if reference in rows and reference not in order[:2] else [])
            gaps = ", ".join(f"{m} by {_gap(rows[order[0]], rows[m], key)}" for m in others)
            parts.append(f"{title}: **{order[0]}** ({means[order[0]]:.3f}) leads {gaps}")
        lines.append(f"- {group['label']}: " + "; ".join(parts))
    return "\n".join(lines) or None


def quality_table(groups: Sequence[dict], methods: Sequence[str]) -> str | None:
    """Sample quality of the added images per method (only rows that measured it), or None."""
    rows = []
    for group in groups:
        for method in methods:
            q = group["methods"].get(method, {}).get("quality")
            if not q:
                continue
            spread = len(group["methods"][method].get("folds", ())) > 1
            cols = [group["label"], method]
            cols += [format_mean_std(q[k]["mean"], q[k]["std"], show_std=spread) if k in q else "—"
                     for k in [f"fidelity_{c}" for c in group["minority"]] + list(QUALITY_KEYS)]
            rows.append("| " + " | ".join(cols) + " |")
    if not rows:
        return None
    minority = groups[0]["minority"]
    header = ["setting", "method", *(f"fidelity {c}" for c in minority),
              "fidelity (all)", "FID", "precision", "recall", "density", "coverage"]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows])


def diagnostics_table(groups: Sequence[dict], methods: Sequence[str],
                      headers: Mapping[str, str] = DIAGNOSTIC_HEADERS) -> str | None:
    """Copying, the real-vs-added classifier and CAS (or the ``headers`` chosen) per minority class and
    method, or None."""
    rows, minority = [], groups[0]["minority"] if groups else []
    for group in groups:
        for method in methods:
            q = group["methods"].get(method, {}).get("quality") or {}
            keys = [f"{name}_{c}" for c in group["minority"] for name in headers]
            if not any(k in q for k in keys):
                continue
            spread = len(group["methods"][method].get("folds", ())) > 1
            cells = [format_mean_std(q[k]["mean"], q[k]["std"], show_std=spread) if k in q else "—" for k in keys]
            rows.append("| " + " | ".join([group["label"], method, *cells]) + " |")
    if not rows:
        return None
    header = ["setting", "method", *(f"{c}: {title}" for c in minority for title in headers.values())]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows])


def markdown_report(results: Mapping) -> str:
    """The Markdown file: a title, the table(s), the legend, the sample-quality table and the caveats."""
    config = ExperimentConfig.from_saved(results["experiment"])
    groups = [g for g in results["groups"] if g["methods"]]
    lines = [f"# {config.name}: {', '.join(DATASET_TITLES.get(d, d) for d in config.datasets)}", ""]
    if not results["complete"]:
        lines += [f"**Partial:** {results['n_done']} of {results['n_cells']} cells done.", ""]
    if config.name == "ir-sweep" or (len(groups) > 1 and len({g["dataset"] for g in groups}) < len(groups)):
        for group in groups:
            lines += [f"## {group['label']}", "", markdown_table([group], config.methods), ""]
    elif groups:
        lines += [markdown_table(groups, config.methods), ""]
    lines += [legend(results), ""]
    leading = leaders(groups, config.reference)
    if leading:
        lines += ["## Who leads (two-sided paired t-test over the folds both rows have)", "", leading, ""]
    budgets = budget_table(groups, config.methods)
    if budgets:
        lines += ["## Classifier budget: the same trainings measured after each number of CNN steps", "", budgets,
                  ""]
    quality = quality_table(groups, config.methods)
    if quality:
        lines += ["## Synthetic sample quality (judge classifier's feature space)", "", quality, ""]
    diagnostics = diagnostics_table(groups, config.methods)
    if diagnostics:
        lines += ["## Why: copying, real-vs-added classifier, CAS (per minority class)", "", diagnostics, "",
                  DIAGNOSTICS_LEGEND + " " + CAS_LEGEND, ""]
    if results["failures"]:
        lines += ["## Failed cells", ""]
        lines += [f"- `{f['cell']}`: {f['error']}" for f in results["failures"]] + [""]
    return "\n".join(lines)


def legend(results: Mapping) -> str:
    config = ExperimentConfig.from_saved(results["experiment"])
    counts = [len(e["folds"]) for g in results["groups"] for e in g["methods"].values()]
    folds, fewest = max(counts, default=0), min(counts, default=0)
    gans = [m for m in config.methods if is_gan(m)]
    gan = f"GAN rows: {config.gan_steps} steps ({config.gan_preset} preset); " if gans else ""
    over = (f"{folds} folds" if fewest == folds else
            f"{fewest}–{folds} folds per row" + (" (rows of one fold: values bare)" if fewest == 1 else ""))
    which = ("of " if folds < config.folds else "") + fold_text(config) if config.first_fold else ""
    spread = (f"Mean ± std over {over} ({which + ': ' if which else ''}independent seeded draws" if folds > 1 else
              f"One fold{' (' + which + ')' if which else ''}, values bare (one seeded draw")
    tested = (f"{BETTER} / {WORSE}: `{config.reference}` is significantly better / worse than this row (two-sided "
              f"paired t-test over folds, 95%)." if config.reference in config.methods else
              f"No t-test marks: the reference row `{config.reference}` is not in this run (`--reference` picks one).")
    return (f"{spread} of the imbalanced training set; "
            f"full official test set). Best mean per column in bold. {tested} "
            f"CNN budget: {budget_text(config)}; {gan}sampling strategy: {config.sampling_strategy}.")


def results_csv(results: Mapping) -> str:
    """Long format: one row per (group, method, metric) with mean, std, folds and the test against the ref."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["dataset", "setting", "ir", "method", "metric", "mean", "std", "n", "t_vs_ref",
                     "p_vs_ref", "significant"])
    for group in results["groups"]:
        for method, entry in group["methods"].items():
            for key, vals in entry["values"].items():
                test = entry["tests"].get(key, {})
                stats = mean_std(vals)
                writer.writerow([group["dataset"], group["tag"], group["ir"], method, key,
                                 f"{stats.mean:.6f}", f"{stats.std:.6f}", len(vals), test.get("t"),
                                 test.get("p"), test.get("significant")])
    return buffer.getvalue()


def folds_csv(records: Sequence[dict], results: Mapping) -> str:
    """One row per finished cell with its table metrics, so other tools can redo any statistic."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = sorted({k for g in results["groups"] for e in g["methods"].values() for k in e["values"]})
    writer.writerow(["dataset", "setting", "fold", "method", "seconds", *keys])
    for record in records:
        if "metrics" not in record:
            continue
        row = [record["dataset"], setting_tag(record["imbalance"]), record["fold"], record["method"],
               f"{record.get('seconds', 0):.1f}"]
        for key in keys:
            try:
                row.append(f"{metric_value(record['metrics'], key):.6f}")
            except (KeyError, IndexError, ValueError):
                row.append("")
        writer.writerow(row)
    return buffer.getvalue()


def results_figure(results: Mapping) -> Any:
    """Plotly: for a sweep, minority recall/F1 against IR per method; otherwise grouped bars per group."""
    groups = [g for g in results["groups"] if g["methods"]]
    if groups and all(g["ir"] is not None for g in groups) and len({g["ir"] for g in groups}) > 1:
        return sweep_figure(groups, results["experiment"]["methods"])
    return bars_figure(groups, results["experiment"]["methods"])


def bars_figure(groups: Sequence[dict], methods: Sequence[str]) -> Any:
    """Grouped bars (mean ± std) of every table metric, one panel per group, one bar colour per method."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=max(1, len(groups)), cols=1, subplot_titles=[g["label"] for g in groups] or [""])
    for row, group in enumerate(groups, start=1):
        labels = table_headers(group, prefix=False)
        for method in methods:
            entry = group["methods"].get(method)
            if entry is None:
                continue
            stats = [mean_std(entry["values"][k]) for k in column_keys(group["minority"])]
            fig.add_trace(go.Bar(x=labels, y=[s.mean for s in stats],
                                 error_y={"type": "data", "array": [s.std for s in stats]}, name=method,
                                 legendgroup=method, showlegend=row == 1), row=row, col=1)
    fig.update_yaxes(range=[0, 1.05])
    fig.update_layout(barmode="group", height=380 * max(1, len(groups)),
                      title="Classification of the minority classes (mean ± std over folds)")
    return fig


def sweep_figure(groups: Sequence[dict], methods: Sequence[str]) -> Any:
    """Figure 3: recall (top) and F1 (bottom) of each minority class against IR, one line per method."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    datasets = list(dict.fromkeys(g["dataset"] for g in groups))
    panels = [(d, c) for d in datasets for c in next(g for g in groups if g["dataset"] == d)["minority"]]
    titles = [f"{DATASET_TITLES.get(d, d)} class {c} {label}"
              for _, label in CLASS_METRICS for d, c in panels]
    fig = make_subplots(rows=len(CLASS_METRICS), cols=len(panels), subplot_titles=titles)
    for col, (dataset, c) in enumerate(panels, start=1):
        for row, (metric, _) in enumerate(CLASS_METRICS, start=1):
            for method in methods:
                points = sorted((g["ir"], g["methods"][method]["values"][f"{metric}_{c}"]) for g in groups
                                if g["dataset"] == dataset and method in g["methods"])
                if not points:
                    continue
                stats = [mean_std(p[1]) for p in points]
                fig.add_trace(go.Scatter(
                    x=[p[0] for p in points], y=[s.mean for s in stats], mode="lines+markers",
                    error_y={"type": "data", "array": [s.std for s in stats]},
                    name=method, legendgroup=method, showlegend=row == 1 and col == 1), row=row, col=col)
    fig.update_xaxes(title_text="imbalance ratio", type="log")
    fig.update_layout(height=700, title="Minority recall and F1 against the imbalance ratio (mean ± std)")
    return fig

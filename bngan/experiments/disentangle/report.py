"""Aggregating Figure 4b cells and writing their reports. Never imports torch: the Disentanglement page reads
results with these functions before torch loads.

Only cells whose fingerprint matches the folder's ``experiment.json`` count: a rerun with other settings (say
``--steps``) writes a new spec, and the old cells are then ``stale`` and left out of every summary instead of
being averaged with the new ones. The reports: ``results.json`` (the spec, the summary, every counted cell),
``results.csv`` (one row per cell), ``summary.csv`` and ``table.md`` (mean ± std over seeds per method and IR,
beside the paper's numbers) and ``figure.html``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bngan.experiments.core import CellStore, read_spec, sort_records, write_figure, write_json
from bngan.experiments.disentangle.settings import METHOD_TITLES, METHODS, DisentangleSettings, grid
from bngan.experiments.stats import format_mean_std, mean_std
from bngan.files import atomic_write_text

if TYPE_CHECKING:
    import plotly.graph_objects as go

# Figure 4b of the paper: FactorVAE score per method and IR.
PAPER_FACTORVAE = {"infogan": {100: 0.525, 200: 0.410, 300: 0.361},
                   "bngan": {100: 0.585, 200: 0.479, 300: 0.388}}
FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")  # bngan.data.dsprites.FACTOR_NAMES, torch-free
DEFAULT_OUT = Path("results") / "disentangle"
RESULTS_ENV = "BNGAN_RESULTS_DIR"
COMMAND = "python -m bngan bench disentangle --ir 100 200 300"
CHECKPOINTS_DIR = "checkpoints"
ASSETS_DIR = Path(__file__).resolve().parents[3] / "assets" / "disentangle"
"""The committed results' models (slim: networks in half precision), named ``<cell>-<fingerprint>.pt``."""
CELL_INDENT = 2
METRIC_KEYS = ("factorvae", "mig")
CELL_COLUMNS = ("cell", "method", "ir", "seed", "factorvae", "factorvae_train", "mig", "active_codes",
                "steps", "train_s", "score_s", "device", "checkpoint")
SUMMARY_COLUMNS = ("method", "ir", "seeds", "factorvae_mean", "factorvae_std", "mig_mean", "mig_std",
                   "paper_factorvae")


def results_dir() -> Path:
    """Where the app looks: ``$BNGAN_RESULTS_DIR/disentangle`` when that exists, else ``$BNGAN_RESULTS_DIR``
    itself; ``./results/disentangle`` when the variable is unset."""
    env = os.environ.get(RESULTS_ENV)
    if not env:
        return DEFAULT_OUT
    base = Path(env)
    return base / "disentangle" if (base / "disentangle").is_dir() else base


def collect(out: Path) -> dict[str, Any]:
    """The folder's results: its spec, the cells that match it (in file order), and what is missing, stale
    (computed under other settings) or failed."""
    out = Path(out)
    settings = DisentangleSettings.from_dict(read_spec(out))
    cells = grid(settings)
    found = sort_records(CellStore(out, indent=CELL_INDENT).records(), cells, key_field="cell")
    done = {r["cell"] for r in found.valid}
    missing = [cell.key for cell in cells if cell.key not in done]
    return {"experiment": settings.to_dict(), "complete": not missing, "n_cells": len(cells),
            "n_done": len(found.valid), "missing": missing, "failures": found.failures, "stale": found.stale,
            "paper_factorvae": PAPER_FACTORVAE, "summary": summarise(found.valid), "cells": found.valid}


def paper_score(method: str, ir: float) -> float | None:
    return PAPER_FACTORVAE.get(method, {}).get(int(ir)) if float(ir).is_integer() else None


def summarise(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (method, IR), methods in :data:`METHODS` order, IR ascending."""
    order = {m: i for i, m in enumerate(METHODS)}
    groups: dict[tuple[str, float], list[Mapping[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((str(cell["method"]), float(cell["ir"])), []).append(cell)
    rows = []
    for (method, ir), group in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        row: dict[str, Any] = {"method": method, "ir": ir, "seeds": len(group)}
        for key in METRIC_KEYS:
            stats = mean_std([c[key] for c in group])
            row[f"{key}_mean"], row[f"{key}_std"] = stats.mean, stats.std
        row["paper_factorvae"] = paper_score(method, ir)
        rows.append(row)
    return rows


def format_score(row: Mapping[str, Any], key: str) -> str:
    """``0.585 ± 0.012`` over seeds, the mean alone for one seed, ``–`` for none."""
    return format_mean_std(row[f"{key}_mean"], row[f"{key}_std"], show_std=row["seeds"] > 1)


def markdown_table(summary: Sequence[Mapping[str, Any]]) -> str:
    """The FactorVAE score and MIG per method and IR beside the paper's FactorVAE score."""
    lines = ["| method | IR | seeds | FactorVAE (ours) | FactorVAE (paper) | MIG |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in summary:
        paper = row.get("paper_factorvae")
        title = METHOD_TITLES.get(row["method"], row["method"])
        lines.append(f"| {title} | {row['ir']:g} | {row['seeds']} | {format_score(row, 'factorvae')} | "
                     f"{'–' if paper is None else f'{paper:.3f}'} | {format_score(row, 'mig')} |")
    return "\n".join(lines) + "\n"


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def figure(summary: Sequence[Mapping[str, Any]]) -> go.Figure:
    """FactorVAE score (with the paper's as dashed lines) and MIG against IR, mean ± std over seeds."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    colors = {"infogan": "#7f7f7f", "bngan": "#1f6fd1"}
    fig = make_subplots(rows=1, cols=2, subplot_titles=("FactorVAE score", "MIG"), horizontal_spacing=0.1)
    for method in METHODS:
        rows = [r for r in summary if r["method"] == method]
        if not rows:
            continue
        color, title = colors[method], METHOD_TITLES[method]
        x = [r["ir"] for r in rows]
        for col, key in enumerate(METRIC_KEYS, start=1):
            fig.add_trace(go.Scatter(x=x, y=[r[f"{key}_mean"] for r in rows], mode="lines+markers",
                                     name=title, legendgroup=method, showlegend=col == 1,
                                     line={"color": color},
                                     error_y={"type": "data", "array": [r[f"{key}_std"] for r in rows]}),
                          row=1, col=col)
        paper = sorted(PAPER_FACTORVAE[method].items())
        fig.add_trace(go.Scatter(x=[p[0] for p in paper], y=[p[1] for p in paper], mode="lines+markers",
                                 name=f"{title}, paper", line={"color": color, "dash": "dash"},
                                 marker={"symbol": "x"}), row=1, col=1)
    fig.update_xaxes(title_text="imbalance ratio (minority shape)")
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(height=420, margin={"l": 50, "r": 20, "t": 50, "b": 50},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def write_reports(out: Path, results: Mapping[str, Any]) -> None:
    """Rebuild every report from :func:`collect`'s results."""
    out = Path(out)
    write_json(out / "results.json", results, indent=CELL_INDENT)
    atomic_write_text(out / "results.csv", csv_text(results["cells"], CELL_COLUMNS))
    atomic_write_text(out / "summary.csv", csv_text(results["summary"], SUMMARY_COLUMNS))
    atomic_write_text(out / "table.md", markdown_table(results["summary"]))
    if results["summary"]:
        write_figure(figure(results["summary"]), out / "figure.html")


def asset_name(cell: Mapping[str, Any]) -> str:
    """The file name of a cell's model among the committed assets: its name and fingerprint."""
    return f"{cell['cell']}-{cell['fingerprint']}.pt"


def checkpoint_path(folder: Path, cell: Mapping[str, Any]) -> Path | None:
    """A cell's model: the one its run saved in ``folder`` if it is still there, else the committed asset
    computed under the same fingerprint, else None."""
    recorded = cell.get("checkpoint")
    if recorded and (Path(folder) / recorded).is_file():
        return Path(folder) / recorded
    if cell.get("fingerprint"):
        asset = ASSETS_DIR / asset_name(cell)
        if asset.is_file():
            return asset
    return None

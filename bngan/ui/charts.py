"""Plotly figures for the app: losses, the Bayesian network's fit, attribute curves, per-class metrics.

Pure functions from plain data (lists of dicts, arrays) to ``go.Figure``: no streamlit here, so each chart
can be tested, and reused by the Evaluate page, without running a page. Long training histories are binned
before plotting: the live chart redraws every second and must stay a small payload however long the run.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# (history key, legend name) of every loss and regulariser term a training step reports
GAME_TERMS = (
    ("d_adv", "D adversarial"), ("g_adv", "G adversarial"), ("d_cls", "D class"), ("g_cls", "G class"),
)
REG_TERMS = (
    ("reg", "R (generator)"), ("d_reg", "R (discriminator)"), ("reg_parents", "R: parents term"),
    ("reg_independent", "R: independence term"),
)
LOSS_KEYS = tuple(key for key, _ in GAME_TERMS + REG_TERMS)
MAX_POINTS = 400
HEIGHT = 330
MINORITY_COLOR = "rgb(235,120,20)"
MAJORITY_COLOR = "rgb(70,110,200)"
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def binned_series(history: Sequence[Mapping[str, float]], key: str,
                  max_points: int = MAX_POINTS) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of one term, averaged over bins of consecutive steps when there are too many.

    Single-phase steps (the teaching controls' one-D or one-G step) report only their own terms, so a key
    may be missing on some rows; those rows are skipped rather than drawn as zeros.
    """
    points = [(row["step"], row[key]) for row in history if _finite(row.get(key)) and "step" in row]
    if len(points) <= max_points:
        return [p[0] for p in points], [p[1] for p in points]
    size = math.ceil(len(points) / max_points)
    steps, values = [], []
    for start in range(0, len(points), size):
        chunk = points[start:start + size]
        steps.append(chunk[-1][0])
        values.append(sum(v for _, v in chunk) / len(chunk))
    return steps, values


def loss_figure(history: Sequence[Mapping[str, float]], max_points: int = MAX_POINTS) -> go.Figure:
    """Every loss and regulariser term against the step: the game left, the regulariser right."""
    titles = ("Adversarial and class losses", "Bayesian regulariser")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    for col, terms in ((1, GAME_TERMS), (2, REG_TERMS)):
        for key, name in terms:
            steps, values = binned_series(history, key, max_points)
            if steps:
                fig.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=name, legendgroup=str(col)),
                              row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=HEIGHT + 20, margin=MARGIN, legend={"orientation": "h", "y": -0.3, "yanchor": "top"},
                      uirevision="losses")
    if not history:
        _empty_note(fig, "no steps yet")
    return fig


def bn_fit_figure(bn_fit: Sequence[Mapping] | None) -> go.Figure:
    """How well each latent code follows the network: R² and σ² of its local linear-Gaussian model, and the
    learned weight of each parent (the numbers the regulariser pulls towards the drawn structure)."""
    titles = ("R² by parents", "σ² residual", "learned parent weights")
    fig = make_subplots(rows=2, cols=2, specs=[[{}, {}], [{"colspan": 2}, None]], subplot_titles=titles,
                        vertical_spacing=0.2, horizontal_spacing=0.12)
    rows = list(bn_fit or [])
    latents = [str(r["latent"]) for r in rows]
    fig.add_trace(go.Bar(x=latents, y=[r["r2"] for r in rows], name="R²", marker_color=MAJORITY_COLOR,
                         text=[f"{r['r2']:.2f}" for r in rows], textposition="auto"), row=1, col=1)
    fig.add_trace(go.Bar(x=latents, y=[r["sigma2"] for r in rows], name="σ²", marker_color="rgb(150,150,160)",
                         text=[f"{r['sigma2']:.2f}" for r in rows], textposition="auto"), row=1, col=2)
    edges = [(f"{parent}→{r['latent']}", w) for r in rows for parent, w in r.get("weights", {}).items()]
    fig.add_trace(go.Bar(x=[e for e, _ in edges], y=[w for _, w in edges], name="weight",
                         marker_color=["rgb(60,160,90)" if w >= 0 else "rgb(200,70,70)" for _, w in edges],
                         text=[f"{w:+.2f}" for _, w in edges], textposition="auto"), row=2, col=1)
    fig.update_yaxes(range=[min(0.0, *(r["r2"] for r in rows)) if rows else 0, 1], row=1, col=1)
    fig.update_layout(height=HEIGHT + 90, margin=MARGIN, showlegend=False, uirevision="bn_fit")
    if not rows:
        _empty_note(fig, "the first fit comes with the first sample grid")
    return fig


def attribute_figure(curves: Mapping[str, Sequence[float]],
                     attributes: Sequence[str] = ("thickness", "slant"),
                     code_label: str = "code value") -> go.Figure:
    """Measured attributes (mean ± std over noise draws) against the value of one code.

    ``curves`` is :func:`bngan.traversal.attribute_curves`' output: ``value``, and per attribute its mean and
    ``<name>_std``. A code that means "thickness" shows a steep thickness curve and a flat slant curve.
    """
    fig = make_subplots(rows=1, cols=len(attributes), subplot_titles=[a for a in attributes],
                        horizontal_spacing=0.1)
    x = [float(v) for v in curves["value"]]
    for col, name in enumerate(attributes, start=1):
        mean = [float(v) for v in curves[name]]
        std = [float(v) for v in curves.get(f"{name}_std", [0.0] * len(mean))]
        fig.add_trace(go.Scatter(x=x + x[::-1], y=[m + s for m, s in zip(mean, std)]
                                 + [m - s for m, s in zip(mean[::-1], std[::-1])],
                                 mode="lines", fill="toself", fillcolor="rgba(70,110,200,0.15)",
                                 line={"width": 0}, hoverinfo="skip", showlegend=False), row=1, col=col)
        fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name=name, line={"color": MAJORITY_COLOR},
                                 showlegend=False), row=1, col=col)
        fig.update_xaxes(title_text=code_label, row=1, col=col)
    fig.update_layout(height=HEIGHT - 30, margin=MARGIN)
    return fig


def class_labels(class_names: Sequence[str], minority: Collection[int] = ()) -> list[str]:
    """Class names with minority classes starred, for axes."""
    return [f"{name} ★" if i in minority else str(name) for i, name in enumerate(class_names)]


def recall_f1_figure(class_names: Sequence[str], recall: Sequence[float], f1: Sequence[float],
                     minority: Collection[int] = (), title: str = "Per-class recall and F1") -> go.Figure:
    """Grouped bars of recall and F1 per class; minority classes are starred and drawn in orange."""
    names = class_labels(class_names, minority)
    colors = [MINORITY_COLOR if i in minority else MAJORITY_COLOR for i in range(len(names))]
    fig = go.Figure([
        go.Bar(x=names, y=list(recall), name="recall", marker_color=colors, marker_pattern_shape="",
               text=[f"{v:.2f}" for v in recall], textposition="auto"),
        go.Bar(x=names, y=list(f1), name="F1", marker_color=colors, marker_pattern_shape="/", opacity=0.75,
               text=[f"{v:.2f}" for v in f1], textposition="auto", textfont_color="#1a1a1a"),
    ])
    # "category": with names like "0".."7" plus "8 ★", plotly would guess a numeric axis and drop the
    # starred (minority) classes, the very bars this chart is for
    fig.update_layout(barmode="group", title=title, height=HEIGHT, margin=MARGIN, yaxis={"range": [0, 1.05]},
                      xaxis={"type": "category"}, legend={"orientation": "h", "y": -0.2})
    return fig


def confusion_figure(matrix: Sequence[Sequence[float]], class_names: Sequence[str],
                     minority: Collection[int] = (), normalize: bool = True,
                     title: str = "Confusion matrix") -> go.Figure:
    """Heatmap of true (rows) against predicted (columns) classes; rows normalised to recall by default."""
    rows = [[float(v) for v in row] for row in matrix]
    if normalize:
        rows = [[v / s if (s := sum(row)) else 0.0 for v in row] for row in rows]
    names = class_labels(class_names, minority)
    text = [[f"{v:.2f}" if normalize else f"{v:g}" for v in row] for row in rows]
    fig = go.Figure(go.Heatmap(z=rows, x=names, y=names, colorscale="Blues", text=text,
                               texttemplate="%{text}",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z}<extra></extra>"))
    fig.update_layout(title=title, height=HEIGHT + 120, margin=MARGIN,
                      xaxis={"title": "predicted", "type": "category"},
                      yaxis={"title": "true", "type": "category", "autorange": "reversed"})
    return fig


def _empty_note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font={"color": "gray"})


def effect_heatmap(matrix: Mapping, code_names: Sequence[str] | None = None, title: str = "",
                   zmax: float | None = None, compact: bool = False) -> go.Figure:
    """The effect matrix (bngan.effects) as a heatmap: one row per code, then the placebo noise directions;
    each cell shows the effect over its 95% interval (``compact``: the interval only on hover, for narrow
    columns). ``zmax`` puts several heatmaps on one colour scale."""
    k = int(matrix["k"])
    rows = list(code_names or matrix["rows"][:k]) + [f"{r} (placebo)" for r in matrix["rows"][k:]]
    effect, low, high = matrix["effect"], matrix["low"], matrix["high"]
    cell = "<b>{:.2f}</b>" if compact else "<b>{:.2f}</b><br>{:.2f}–{:.2f}"
    text = [[cell.format(v, lo, hi) for v, lo, hi in zip(*r)] for r in zip(effect, low, high)]
    top = zmax if zmax is not None else max((max(r) for r in effect), default=1.0)
    fig = go.Figure(go.Heatmap(z=effect, x=list(matrix["attributes"]), y=rows, text=text, texttemplate="%{text}",
                               textfont={"size": 11}, colorscale="Blues", zmin=0, zmax=max(top, 1e-6), xgap=2,
                               ygap=2, colorbar={"title": {"text": "effect", "side": "right"}, "thickness": 10},
                               customdata=[[f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(*r)] for r in zip(low, high)],
                               hovertemplate="%{y} → %{x}: %{z:.2f} spreads (95%: %{customdata})<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title={"text": title, "font": {"size": 13}}, height=90 + 46 * len(rows), margin=MARGIN)
    return fig


def readout_heatmap(readout: Sequence[Sequence[float]], title: str = "") -> go.Figure:
    """What the code head reads back: correlation of each ``ci'`` (rows) with each input code ``cj``."""
    k = len(readout)
    fig = go.Figure(go.Heatmap(z=readout, x=[f"c{j}" for j in range(1, k + 1)],
                               y=[f"c{i}'" for i in range(1, k + 1)], text=[[f"{v:+.2f}" for v in r] for r in readout],
                               texttemplate="%{text}", textfont={"size": 12}, colorscale="RdBu", zmin=-1, zmax=1,
                               xgap=2, ygap=2, showscale=False,
                               hovertemplate="corr(%{y}, %{x}) = %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title={"text": title, "font": {"size": 13}}, height=90 + 46 * k, margin=MARGIN)
    return fig

"""Disentanglement page: the paper's evidence (Fig. 4b) that the Bayesian regulariser controls the latents.

It reads the results folder of ``python -m bngan bench disentangle`` (``$BNGAN_RESULTS_DIR`` or
``./results/disentangle``): the FactorVAE score and MIG per method and imbalance ratio beside the paper's
numbers, and the checkpoints, whose codes are swept one at a time with the factor each code moves *measured*
on the generated sprites (centroid x/y, ink area as scale, moment axis as orientation), so "c3 is x" is a
number, not a guess. With no results yet it says how to produce them and still shows what the five dSprites
factors look like. torch is imported inside functions: the app must start fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from bngan.evaluation import disentangle_experiment as dx

if TYPE_CHECKING:
    from bngan.training import TrainedModel

STRIP_STEPS = 9
TRACK_SEEDS = 8
SPRITE_LIKE = 0.9  # share of near-black/near-white pixels below which generated images are not sprites yet
FACTOR_HELP = {
    "shape": "square, ellipse, heart: the class label; the imbalanced one is the minority",
    "scale": "6 sizes from 0.5 to 1",
    "orientation": "40 angles over a full turn (counter-clockwise)",
    "x": "32 positions left to right",
    "y": "32 positions top to bottom",
}


# dSprites factors -------------------------------------------------------------------------------------
def factor_rows() -> list[tuple[str, list[list[int]]]]:
    """Per factor, the factor indices of a row that sweeps it while the others stay at a middle value."""
    base = [1, 5, 4, 16, 16]  # ellipse (its angle shows), largest, tilted 36°, centred
    sweeps = {"shape": range(3), "scale": range(6), "orientation": range(0, 40, 5),
              "x": range(0, 32, 31 // 7), "y": range(0, 32, 31 // 7)}
    rows = []
    for i, name in enumerate(dx.FACTOR_NAMES):
        rows.append((name, [[v if j == i else b for j, b in enumerate(base)] for v in sweeps[name]]))
    return rows


@st.cache_data(show_spinner=False)
def factor_grid() -> bytes:
    """One labelled row of rendered sprites per factor (PNG)."""
    from bngan.data.dsprites import render
    from bngan.ui.images import labelled_rows, png_bytes

    rows = factor_rows()
    images = [render(indices).float() for _, indices in rows]
    return png_bytes(labelled_rows(images, [name for name, _ in rows], tags=[f"{len(r)} of its values"
                                                                             for _, r in rows]))


def show_factors() -> None:
    st.image(factor_grid(), output_format="PNG")
    st.markdown("\n".join(f"- **{name}**: {text}" for name, text in FACTOR_HELP.items()))
    st.caption("Each row changes one ground-truth factor, the others fixed. A disentangled code moves "
               "exactly one of these rows' factors; the FactorVAE score measures how well single codes "
               "identify single factors (chance: 0.2).")


# scores -----------------------------------------------------------------------------------------------
def _pm(mean: float, std: float, seeds: int) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.3f} ± {std:.3f}" if seeds > 1 else f"{mean:.3f}"


def score_table(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Display rows: method, IR, seeds, FactorVAE (ours ± std, the paper's) and MIG."""
    return [{"method": dx.METHOD_TITLES.get(r["method"], r["method"]), "IR": f"{r['ir']:g}",
             "seeds": r["seeds"],
             "FactorVAE": _pm(r["factorvae_mean"], r["factorvae_std"], r["seeds"]),
             "FactorVAE (paper)": "–" if r["paper_factorvae"] is None else f"{r['paper_factorvae']:.3f}",
             "MIG": _pm(r["mig_mean"], r["mig_std"], r["seeds"])} for r in summary]


def show_scores(folder: Path, cells: list[dict[str, Any]]) -> None:
    summary = dx.summarise(cells)
    st.markdown(f"**Scores** from `{folder}` ({len(cells)} finished cell(s); mean ± std over seeds)")
    st.dataframe(score_table(summary), hide_index=True, key="dis_scores")
    st.plotly_chart(dx.figure(summary), key="dis_figure", config={"displayModeBar": False})
    st.caption("FactorVAE score: accuracy of a majority-vote classifier that names the factor held fixed "
               "from the code with the least variance (chance 0.2). MIG: the gap in mutual information "
               "between the two codes most informative about each factor, over its entropy. Dashed: the "
               "paper's Fig. 4b.")
    with st.expander("Every cell"):
        st.dataframe([{k: c.get(k) for k in dx.CELL_COLUMNS if k != "checkpoint"} for c in cells],
                     hide_index=True, key="dis_cells")


def show_no_results(folder: Path) -> None:
    command = dx.COMMAND if folder == dx.DEFAULT_OUT else f"{dx.COMMAND} --out {folder}"
    st.info(f"No disentanglement results in `{folder}` yet. Produce them with the command below (it "
            "trains InfoGAN and bngan on dSprites with the heart shape as the minority at IR 100, 200 and "
            "300; a GPU is advised), or point `BNGAN_RESULTS_DIR` at a folder that has them.",
            icon=":material/info:")
    st.code(command, language="bash")
    st.caption("Each (method, IR, seed) cell writes its result as soon as it is done; `--shard i/n` splits "
               "the cells over parallel jobs and `--steps`, `--seeds`, `--num-train`/`--num-eval` size the "
               "run.")


# traversals -------------------------------------------------------------------------------------------
def checkpoint_options(folder: Path, cells: list[dict[str, Any]]) -> dict[str, str]:
    """Checkpoint path -> label for every cell whose checkpoint exists (best-scored first)."""
    options = {}
    for cell in sorted(cells, key=lambda c: -float(c.get("factorvae") or 0)):
        path = folder / str(cell.get("checkpoint") or "")
        if cell.get("checkpoint") and path.is_file():
            title = dx.METHOD_TITLES.get(cell["method"], cell["method"])
            options[str(path)] = (f"{title} · IR {cell['ir']:g} · "
                                  f"seed {cell['seed']} · FactorVAE {cell['factorvae']:.3f}")
    for path in sorted((folder / dx.CHECKPOINTS_DIR).glob("*.pt")):
        options.setdefault(str(path), path.stem)
    return options


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _load(path: str, mtime: float) -> TrainedModel:
    from bngan.training import TrainedModel

    return TrainedModel.load(path)


@st.cache_data(max_entries=16, show_spinner="Measuring what each code does to the sprites…")
def tracking(path: str, mtime: float, label: int, span: float) -> list[dict[str, Any]]:
    """Per code, how strongly x, y, scale and orientation follow it (cached per model and shape)."""
    return dx.code_tracking(_load(path, mtime), label, span=span, steps=STRIP_STEPS, seeds=TRACK_SEEDS)


def code_span(model: TrainedModel) -> float:
    return 1.0 if model.config.code_prior == "uniform" else 2.0


def strips_png(model: TrainedModel, label: int, seed: int, rows: list[dict[str, Any]]) -> bytes:
    """One strip per code (the others at 0), each named by the factor it was measured to track."""
    import torch

    from bngan.traversal import strip
    from bngan.ui.images import labelled_rows, png_bytes

    span = code_span(model)
    sweep = torch.linspace(-span, span, STRIP_STEPS)
    strips = [strip(model, label, r["code"], sweep, seed=seed) for r in rows]
    tags = [f"{r['tracks']} (|r| {r['strength']:.2f}, moves {r['moves']:.0%})" if r["tracks"] != "–"
            else "no clear factor" for r in rows]
    return png_bytes(labelled_rows(strips, [f"c{r['code']}  {-span:+g}…{span:+g}" for r in rows], tags=tags))


def tracking_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per code: |r| with each factor, the factor it tracks and how far it moves that factor."""
    return [{"code": f"c{r['code']}", **{m: round(r[m], 3) for m in dx.MEASURED}, "tracks": r["tracks"],
             "moves": f"{r['moves']:.0%}" if r["tracks"] != "–" else "–"} for r in rows]


def shape_label(model: TrainedModel, c: int) -> str:
    counts = model.class_counts
    top = max(counts.values(), default=0)
    tag = " · minority" if counts.get(c, 0) * 10 <= top else ""
    return f"{model.class_names[c]}{tag} ({counts.get(c, 0)} img)"


def nmi_table(cell: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The metric's normalised mutual information of each code with each factor (all shapes), if saved."""
    nmi = (cell or {}).get("code_factor_nmi")
    if not nmi:
        return None
    return [{"code": f"c{i}", **{f: round(float(v), 3) for f, v in zip(dx.FACTOR_NAMES, row)}}
            for i, row in enumerate(nmi, start=1)]


def show_traversals(folder: Path, cells: list[dict[str, Any]]) -> None:
    from bngan.checkpoint import CheckpointError

    options = checkpoint_options(folder, cells)
    st.subheader("Traversals of a dSprites model")
    if not options:
        st.caption(f"No checkpoints in `{folder / dx.CHECKPOINTS_DIR}` (the run used `--checkpoints none`?).")
        return
    path = st.selectbox("Model", list(options), format_func=options.get, key="dis_model")
    try:
        model = _load(path, Path(path).stat().st_mtime)
    except (CheckpointError, OSError) as exc:
        st.error(f"Could not load {options[path]}: {exc}", icon=":material/error:")
        return
    mtime = Path(path).stat().st_mtime
    classes = list(range(len(model.class_names)))
    minority = min(classes, key=lambda c: model.class_counts.get(c, 0))
    left, right = st.columns([1, 3], gap="large")
    with left:
        label = st.selectbox("Shape", classes, index=minority, key="dis_shape",
                             format_func=lambda c: shape_label(model, c))
        seed = int(st.number_input("Noise seed", min_value=0, value=0, step=1, key="dis_seed"))
        st.caption(f"{model.config.reg_mode} regulariser, step {model.step}, {model.structure.k} codes.")
    rows = tracking(path, mtime, label, code_span(model))
    with right:
        st.markdown("**One strip per code** (the others at 0), named by the factor it moves most")
        st.image(strips_png(model, label, seed, rows), output_format="PNG")
    st.markdown(f"**What each code tracks**, measured on generated sprites ({STRIP_STEPS} values × "
                f"{TRACK_SEEDS} noise draws): |correlation| of the code's value with the ink centroid "
                "(x, y), the square root of the ink area (scale) and the principal axis of the ink "
                "(orientation)")
    st.dataframe(tracking_table(rows), hide_index=True, key="dis_tracking")
    st.caption(f"A code tracks the factor it correlates with best (|r| ≥ {dx.TRACK_MIN_R:g}) among those it "
               f"moves by at least {dx.TRACK_MIN_MOVE:.0%} of their range in dSprites (x, y: the image; "
               "scale: 0.5 to 1; orientation: 180°).")
    if min(r["binary"] for r in rows) < SPRITE_LIKE:
        st.warning("Some strips are not sprite-like yet (grey pixels): the model looks under-trained, so the "
                   "measured factors mean little.", icon=":material/warning:")
    cell = next((c for c in cells if str(folder / str(c.get("checkpoint") or "")) == path), None)
    table = nmi_table(cell)
    if table:
        st.markdown("**Mutual information of each code with each factor** (normalised by the factor's "
                    "entropy; from the metric's samples over all shapes)")
        st.dataframe(table, hide_index=True, key="dis_nmi")


def main() -> None:
    st.title("Disentanglement")
    st.caption("Does the Bayesian regulariser keep each code on one factor when a shape is rare? The "
               "FactorVAE score of the discriminator's code head on dSprites, InfoGAN against bngan, as the "
               "imbalance grows (the paper's Fig. 4b).")
    folder = dx.results_dir()
    cells = dx.load_cells(folder)
    if not cells:
        show_no_results(folder)
        st.subheader("The five dSprites factors")
        show_factors()
        return
    show_scores(folder, cells)
    show_traversals(folder, cells)
    with st.expander("The five dSprites factors"):
        show_factors()


main()

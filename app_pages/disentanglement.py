"""Disentanglement page: the paper's evidence (Fig. 4b) that the Bayesian regulariser controls the latents.

It reads the results folder of ``python -m bngan bench disentangle`` (``$BNGAN_RESULTS_DIR`` or
``./results/disentangle``) and the runs started here (``Run the experiment``: a background job, like the
Evaluate page's, writing to ``$BNGAN_RESULTS_DIR/disentangle-runs/`` or ``./results/app/disentangle-runs/``):
the FactorVAE score and MIG per method and imbalance ratio beside the paper's numbers, and the models, whose
codes are swept one at a time with the factor each code moves *measured* on the generated sprites (centroid
x/y, ink area as scale, moment axis as orientation), so "c3 is x" is a number, not a guess. With no results
yet it says how to produce them and still shows what the five dSprites factors look like. torch is imported
inside functions: the app must start fast.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from bngan.experiments.core import ExperimentError
from bngan.experiments.disentangle import report as dx
from bngan.experiments.disentangle import sprites
from bngan.experiments.disentangle.settings import METHOD_TITLES, METHODS, DisentangleSettings
from bngan.ui import registry
from bngan.ui.experiment_jobs import job_header, start_experiment_job
from bngan.ui.widgets import Form

if TYPE_CHECKING:
    from bngan.jobs import Job
    from bngan.training import TrainedModel

RUN_DEFAULTS: dict[str, Any] = {  # minutes on a CPU; the paper's schedule is the CLI's (RESULTS.md)
    "methods": list(METHODS), "irs": [100], "seeds": 1, "steps": 300, "n_per_class": 2000, "num_train": 500,
    "num_eval": 300, "metric_batch": 64, "batch_size": 64, "device": "auto", "bngan_mode": "paper",
}
IR_CHOICES = (10, 25, 50, 100, 200, 300, 500)
NOTICE_KEY = "dis_notice"  # (level, text) of the last Start, shown once
SELECTED_KEY = "dis_results"  # the results folder on show
REFRESH_S = 2.0
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
def score_table(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Display rows: method, IR, seeds, FactorVAE (ours ± std, the paper's) and MIG."""
    return [{"method": METHOD_TITLES.get(r["method"], r["method"]), "IR": f"{r['ir']:g}",
             "seeds": r["seeds"], "FactorVAE": dx.format_score(r, "factorvae"),
             "FactorVAE (paper)": "–" if r["paper_factorvae"] is None else f"{r['paper_factorvae']:.3f}",
             "MIG": dx.format_score(r, "mig")} for r in summary]


def show_scores(folder: Path, results: dict[str, Any]) -> None:
    cells, summary = results["cells"], results["summary"]
    status = "complete" if results["complete"] else f"{results['n_done']} of {results['n_cells']} cells done"
    st.markdown(f"**Scores** from `{folder}` ({status}; mean ± std over seeds)")
    if results["stale"]:
        st.caption(f"Left out, computed under other settings: {', '.join(results['stale'])}.")
    for failure in results["failures"]:
        st.warning(f"Cell `{failure['cell']}` failed: {failure['error']}")
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
    st.info(f"No disentanglement results in `{folder}` yet. Start a small run above, or produce the full "
            "experiment with the command below (it trains InfoGAN and bngan on dSprites with the heart shape "
            "as the minority at IR 100, 200 and 300; a GPU is advised), or point `BNGAN_RESULTS_DIR` at a "
            "folder that has them.", icon=":material/info:")
    st.code(command, language="bash")
    st.caption("Each (method, IR, seed) cell writes its result as soon as it is done; `--shard i/n` splits "
               "the cells over parallel jobs and `--steps`, `--seeds`, `--num-train`/`--num-eval` size the "
               "run.")


# traversals -------------------------------------------------------------------------------------------
def checkpoint_options(folder: Path, cells: list[dict[str, Any]]) -> dict[str, str]:
    """Model path -> label for every cell whose model is there (its run's, or the committed asset), best-scored
    first."""
    options = {}
    for cell in sorted(cells, key=lambda c: -float(c.get("factorvae") or 0)):
        path = dx.checkpoint_path(folder, cell)
        if path is not None:
            title = METHOD_TITLES.get(cell["method"], cell["method"])
            options[str(path)] = (f"{title} · IR {cell['ir']:g} · "
                                  f"seed {cell['seed']} · FactorVAE {cell['factorvae']:.3f}")
    return options


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _load(path: str, mtime: float) -> TrainedModel:
    from bngan.training import TrainedModel

    return TrainedModel.load(path)


@st.cache_data(max_entries=16, show_spinner="Measuring what each code does to the sprites…")
def tracking(path: str, mtime: float, label: int, span: float) -> list[dict[str, Any]]:
    """Per code, how strongly x, y, scale and orientation follow it (cached per model and shape)."""
    return sprites.code_tracking(_load(path, mtime), label, span=span, steps=STRIP_STEPS, seeds=TRACK_SEEDS)


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
    return [{"code": f"c{r['code']}", **{m: round(r[m], 3) for m in sprites.MEASURED}, "tracks": r["tracks"],
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
        st.caption(f"No models for these cells in `{folder / dx.CHECKPOINTS_DIR}` (the run used "
                   "`--checkpoints none`?) nor among the committed ones.")
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
    st.caption(f"A code tracks the factor it correlates with best (|r| ≥ {sprites.TRACK_MIN_R:g}) among those "
               f"it moves by at least {sprites.TRACK_MIN_MOVE:.0%} of their range in dSprites (x, y: the image; "
               "scale: 0.5 to 1; orientation: 180°).")
    if min(r["binary"] for r in rows) < SPRITE_LIKE:
        st.warning("Some strips are not sprite-like yet (grey pixels): the model looks under-trained, so the "
                   "measured factors mean little.", icon=":material/warning:")
    cell = next((c for c in cells if str(dx.checkpoint_path(folder, c)) == path), None)
    table = nmi_table(cell)
    if table:
        st.markdown("**Mutual information of each code with each factor** (normalised by the factor's "
                    "entropy; from the metric's samples over all shapes)")
        st.dataframe(table, hide_index=True, key="dis_nmi")


# running ----------------------------------------------------------------------------------------------
def runs_dir() -> Path:
    """Where the page's runs go: ``disentangle-runs`` in ``$BNGAN_RESULTS_DIR`` (else ``./results/app``),
    apart from the Evaluate page's comparisons and from the committed results (read each time: tests move it)."""
    return Path(os.environ.get(dx.RESULTS_ENV) or "results/app") / "disentangle-runs"


RUN_FORM = Form("dis_run_", RUN_DEFAULTS)
rkey, run_value = RUN_FORM.key, RUN_FORM.value


def run_settings() -> None:
    """Methods, IRs, seeds and the budget of a run; the rest in an expander."""
    cols = st.columns(2)
    cols[0].multiselect("Methods", list(METHODS), format_func=METHOD_TITLES.get, key=rkey("methods"))
    cols[1].multiselect("Imbalance ratios", list(IR_CHOICES), key=rkey("irs"),
                        help="The minority shape (heart) keeps images per majority shape / IR.")
    cols = st.columns(3)
    cols[0].number_input("Seeds", min_value=1, max_value=10, step=1, key=rkey("seeds"))
    cols[1].number_input("Training steps", min_value=1, step=100, key=rkey("steps"))
    cols[2].number_input("Images per shape", min_value=1, step=500, key=rkey("n_per_class"),
                         help="dSprites images drawn per majority shape before the minority is cut.")
    with st.expander("Advanced"):
        from bngan.device import available_devices

        cols = st.columns(3)
        cols[0].number_input("FactorVAE votes (train)", min_value=1, step=100, key=rkey("num_train"),
                             help="Also the samples of MIG and of the codes' variances.")
        cols[1].number_input("FactorVAE votes (eval)", min_value=1, step=100, key=rkey("num_eval"))
        cols[2].number_input("Images per vote", min_value=1, step=8, key=rkey("metric_batch"))
        cols = st.columns(3)
        cols[0].number_input("Batch size", min_value=2, step=16, key=rkey("batch_size"))
        devices = available_devices()
        if st.session_state.get(rkey("device")) not in devices:
            st.session_state[rkey("device")] = "auto"
        cols[1].selectbox("Device", devices, key=rkey("device"))
        cols[2].selectbox("bngan regulariser", ["paper", "gaussian"], key=rkey("bngan_mode"),
                          help="Eq. 6 (paper) or the linear-Gaussian fit of Eq. 3-5 (gaussian).")


def build_settings() -> DisentangleSettings:
    """The run the settings describe; raises ExperimentError with the message to show."""
    return DisentangleSettings(
        methods=list(run_value("methods")), irs=sorted(float(ir) for ir in run_value("irs")),
        seeds=list(range(int(run_value("seeds")))), steps=int(run_value("steps")),
        n_per_class=int(run_value("n_per_class")), num_train=int(run_value("num_train")),
        num_eval=int(run_value("num_eval")), num_variance=int(run_value("num_train")),
        metric_batch=int(run_value("metric_batch")), batch_size=int(run_value("batch_size")),
        device=run_value("device"), bngan_mode=run_value("bngan_mode"))


def start_run() -> None:
    """Start the run in the background; a second start while any job runs is refused, not queued."""
    from bngan.experiments.disentangle.cells import start_disentangle

    try:
        settings = build_settings()
    except ExperimentError as exc:
        st.session_state[NOTICE_KEY] = ("warning", f"Not started: invalid settings: {exc}")
        return
    start_experiment_job(lambda reg, out: start_disentangle(reg, settings, out),
                         runs_dir() / time.strftime("%Y%m%d-%H%M%S"), NOTICE_KEY, SELECTED_KEY)


def run_controls(expanded: bool) -> None:
    with st.expander("Run the experiment", expanded=expanded, icon=":material/play_arrow:"):
        run_settings()
        reason = None
        try:
            build_settings()
        except ExperimentError as exc:
            reason = f"Invalid settings: {exc}"
            st.error(reason, icon=":material/tune:")
        st.button("Start", type="primary", icon=":material/play_arrow:", disabled=reason is not None,
                  on_click=start_run, key="dis_run", help=reason or "Runs in the background; scores appear as "
                  "cells finish. Each (method, IR, seed) cell trains one GAN and scores it.")
        st.caption("One job runs at a time. Stop takes effect after the current cell.")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        {"success": st.success, "warning": st.warning}[notice[0]](notice[1])


# results ------------------------------------------------------------------------------------------------
def result_folders(job_folder: Path | None) -> list[Path]:
    """The command line's results folder, then the page's runs (newest first), then the followed job's."""
    folders = [dx.results_dir()]
    base = runs_dir()
    if base.is_dir():
        runs = [p for p in base.iterdir() if (p / "experiment.json").is_file()]
        folders += sorted(runs, key=lambda p: p.name, reverse=True)
    if job_folder is not None and job_folder not in folders:
        folders.insert(1, job_folder)
    return folders


def load(folder: Path) -> dict[str, Any] | None:
    """The folder's results, or None (with a message) when it has none yet or cannot be read."""
    if not (folder / "experiment.json").is_file() and not any((folder / "cells").glob("*.json")):
        return None  # nothing here yet
    try:
        return dx.collect(folder)
    except (ExperimentError, OSError) as exc:
        st.error(f"Cannot read {folder}: {exc}", icon=":material/error:")
        return None


def live_view(job: Job, folder: Path, live: bool) -> None:
    """The running job: header, progress, and the scores so far (a fragment while it runs)."""
    if live and not job.active:
        st.rerun()  # it just ended: redraw once, statically
    job_header(job, stop_key="dis_stop")
    results = load(folder) if (folder / "experiment.json").is_file() else None
    if results and results["cells"]:
        show_scores(folder, results)
    elif job.active:
        st.info("No cell has finished yet: scores appear here as soon as the first one does.")


_live = st.fragment(run_every=REFRESH_S)(live_view)


def main() -> None:
    st.title("Disentanglement")
    st.caption("Does the Bayesian regulariser keep each code on one factor when a shape is rare? The "
               "FactorVAE score of the discriminator's code head on dSprites, InfoGAN against bngan, as the "
               "imbalance grows (the paper's Fig. 4b).")
    job = registry.current_job("disentangle")
    job_folder = Path(job.folder) if job is not None and job.folder is not None else None
    folders = result_folders(job_folder)
    run_controls(expanded=job is None and not (folders[0] / "experiment.json").is_file())
    labels = {str(p): str(p) + ("  (running)" if job is not None and job.active and p == job_folder else "")
              for p in folders}
    if st.session_state.get(SELECTED_KEY) not in labels:
        st.session_state[SELECTED_KEY] = str(job_folder if job is not None and job.active else folders[0])
    selected = Path(st.selectbox("Results", list(labels), format_func=labels.get, key=SELECTED_KEY)
                    if len(folders) > 1 else folders[0])
    if job is not None and selected == job_folder:
        (_live if job.active else live_view)(job, selected, live=job.active)
        if job.active:
            return
    results = load(selected)
    if not results or not results["cells"]:
        show_no_results(selected)
        st.subheader("The five dSprites factors")
        show_factors()
        return
    if job is None or selected != job_folder:
        show_scores(selected, results)
    show_traversals(selected, results["cells"])
    with st.expander("The five dSprites factors"):
        show_factors()

main()

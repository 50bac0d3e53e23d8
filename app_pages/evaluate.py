"""Evaluate page: compare oversamplers the way the paper's Table 1 does, on a data set and minority of choice.

Run hands an :class:`~bngan.experiments.table1.settings.ExperimentConfig` to the process-wide job registry
(:func:`bngan.experiments.table1.cells.start_evaluation`); the comparison runs in a background thread and
writes one JSON per (fold, method) cell into a results folder. The page never trains anything: it reads that
folder, so the bars and tables fill in as folds complete, survive a browser refresh, and every earlier
comparison in the results folder (``$BNGAN_RESULTS_DIR``, else ``./results/app``) can be opened again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from bngan.ui import registry
from bngan.ui.experiment_jobs import job_header, start_experiment_job
from bngan.ui.widgets import Form

if TYPE_CHECKING:
    from bngan.experiments.table1.settings import ExperimentConfig
    from bngan.jobs import Job

DATASETS = {"digits": "digits (bundled, no download)", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
            "folder": "image folder (one sub-folder per class)"}
METHODS = {
    "none": "none (no oversampling)", "ros": "random oversampling",
    "aug": "augmentation (no resampling)", "ros-aug": "random oversampling + augmentation", "smote": "SMOTE",
    "deepsmote": "DeepSMOTE (SMOTE in an autoencoder's codes)",
    "borderline-smote": "Borderline-SMOTE", "adasyn": "ADASYN", "infogan": "InfoGAN (same networks)",
    "bngan": "bngan (disentangled)", "bngan-entangled": "bngan (entangled)",
    "bngan-reference": "bngan (reference code's structure)",
    "bngan-mix": "bngan mix (half real copies, best of 3 samples)",
    "bngan-trunc": "bngan, noise truncated at ±1",
    "bngan-aug": "bngan + augmentation in CNN training", "bngan-mix-aug": "bngan mix + augmentation in CNN training",
    "bngan-minority-aug": "bngan mix for the minority classes only, copies elsewhere, + augmentation",
    "bngan-da": "bngan + DiffAugment", "bngan-ema": "bngan + generator EMA (0.999)",
    "bngan-hinge-sn": "bngan + hinge loss and spectral norm", "bngan-lecam": "bngan + LeCam (0.1)",
    "bngan-de": "bngan + DiffAugment, EMA and LeCam",
    "infogan-mix": "InfoGAN mix (half real copies, best of 3 samples)", "dgc": "DGC (end-to-end)",
}
DEFAULTS: dict[str, Any] = {
    "dataset": "digits", "data_dir": "", "profile": "minority", "minority": [8, 9], "ir": 10.0,
    "methods": ["none", "ros", "smote", "bngan"], "folds": 2, "budget": "auto", "clf_steps": 200,
    "clf_epochs": 8, "gan_steps": 300, "gan_preset": "fast", "device": "auto", "strategy": "auto",
    "dgc_width": 0.25, "dgc_steps": 200,
}
BUDGETS = {"auto": "auto: 8 epochs of the imbalanced set, as steps", "steps": "steps", "epochs": "epochs"}
# long budgets first: MNIST with the 4,000- and 8,000-step GANs, the confirmation on folds 5-9, the IR sweep
# on folds 5-7, Fashion-MNIST (all rows on fold 0, the top two on folds 0-2, then the confirmation on folds 5-9)
COMMITTED_TABLES = ("long-mnist", "gan8k-mnist", "confirm-mnist", "ir-sweep-converged-mnist", "long-fashion-mnist",
                    "long3-fashion-mnist", "confirm-fashion-mnist", "ir-sweep-converged-fashion-mnist", "table1-mnist",
                    "table1-fashion-mnist")
NOTICE_KEY = "eval_notice"  # (level, text) of the last Run, shown once
SELECTED_KEY = "eval_selected"  # the results folder on show
REFRESH_S = 2.0


def results_dir() -> Path:
    """Where the page's comparisons go: ``$BNGAN_RESULTS_DIR`` or ``./results/app`` (read each time, so tests
    can point it elsewhere)."""
    return Path(os.environ.get("BNGAN_RESULTS_DIR") or "results/app")


FORM = Form("eval_", DEFAULTS)
wkey, value = FORM.key, FORM.value


def class_names(dataset: str) -> list[str]:
    """The classes the minority menu offers: a folder's are its sub-folders (read without an image)."""
    if dataset == "fashion-mnist":
        from bngan.data.datasets import FASHION_CLASSES

        return list(FASHION_CLASSES)
    if dataset == "folder":
        from bngan.data import DataError
        from bngan.data.datasets import folder_classes

        folder = str(value("data_dir")).strip()
        try:
            return folder_classes(folder) if folder else []
        except DataError:
            return []
    return [str(i) for i in range(10)]


# settings -----------------------------------------------------------------------------------------------
def settings() -> None:
    """Data, imbalance, rows, folds and budgets; rarely needed knobs in an expander."""
    dataset = st.selectbox("Data set", list(DATASETS), format_func=DATASETS.get, key=wkey("dataset"))
    if dataset == "folder":
        st.text_input("Image folder", key=wkey("data_dir"), placeholder="/path/to/images",
                      help="One sub-folder of images per class; with train/ and test/ folders inside, those "
                           "are the split, else a fixed 20% of each class is held out for testing.")
    names = class_names(dataset)
    if dataset == "folder" and len(names) < 2:
        st.caption(":orange[Give a folder with at least two class sub-folders.]")
    if st.session_state.get(wkey("minority")) and any(c >= len(names) for c in value("minority")):
        st.session_state[wkey("minority")] = [c for c in value("minority") if c < len(names)]
    cols = st.columns(2)
    profile = cols[0].selectbox("Imbalance", ["minority", "standard"], key=wkey("profile"),
                                help="minority: the chosen classes keep 1/IR of the largest class; standard: "
                                     "the paper's 4000…40 split (on digits class 9 keeps a single image).")
    cols[1].number_input("Imbalance ratio (IR)", min_value=1.0, step=5.0, key=wkey("ir"),
                         disabled=profile != "minority")
    if profile == "minority":
        st.multiselect("Minority classes", list(range(len(names))), key=wkey("minority"),
                       format_func=lambda c: f"{c} · {names[c]}" if names[c] != str(c) else str(c))
    st.multiselect("Methods", list(METHODS), format_func=METHODS.get, key=wkey("methods"),
                   help="Every row trains the same CNN with the same seed and number of steps on its output; "
                        "DGC replaces the CNN. t-tests compare each row with bngan.")
    cols = st.columns(2)
    cols[0].number_input("Folds", min_value=1, max_value=20, step=1, key=wkey("folds"),
                         help="Independent seeded draws of the imbalanced training set.")
    if int(value("folds")) < 2:
        st.caption(":orange[With one fold there is no spread and no t-test: the table shows a direction only.]")
    cols[1].number_input("GAN steps", min_value=1, step=100, key=wkey("gan_steps"),
                         help="Training steps of each GAN row (InfoGAN, bngan), per fold.")
    cols = st.columns(2)
    budget = cols[0].selectbox("CNN budget", list(BUDGETS), format_func=BUDGETS.get, key=wkey("budget"),
                               help="A fixed number of steps gives every row the same number of updates.")
    if budget == "steps":
        cols[1].number_input("CNN steps", min_value=1, step=50, key=wkey("clf_steps"))
    elif budget == "epochs":
        cols[1].number_input("CNN epochs", min_value=1, step=1, key=wkey("clf_epochs"))
    with st.expander("Advanced"):
        advanced_settings()


def advanced_settings() -> None:
    from bngan.device import available_devices

    cols = st.columns(2)
    devices = available_devices()
    if st.session_state.get(wkey("device")) not in devices:
        st.session_state[wkey("device")] = "auto"
    cols[0].selectbox("Device", devices, key=wkey("device"))
    cols[1].selectbox("GAN preset", ["fast", "paper"], key=wkey("gan_preset"))
    st.text_input("Sampling strategy", key=wkey("strategy"),
                  help="auto, minority, not majority, all, +N (N images added to each smaller class), or a "
                       "fraction in (0, 1] for partial balancing.")
    cols = st.columns(2)
    cols[0].number_input("DGC width", min_value=0.05, max_value=1.0, step=0.05, key=wkey("dgc_width"),
                         help="1.0 is the paper's network; 0.25 runs on a CPU.")
    cols[1].number_input("DGC steps", min_value=1, step=50, key=wkey("dgc_steps"))


def build_config() -> ExperimentConfig:
    """The experiment the settings describe; raises ValueError with the message to show."""
    from bngan.experiments.table1.settings import ExperimentConfig

    if value("profile") == "minority":
        if not value("minority"):
            raise ValueError("choose at least one minority class")
        imbalance = {"profile": "minority", "minority_classes": [int(c) for c in value("minority")],
                     "ir": float(value("ir"))}
    else:
        imbalance = {"profile": "standard"}
    budget = value("budget")
    return ExperimentConfig(
        name="evaluate", datasets=[value("dataset")], methods=list(value("methods")), folds=int(value("folds")),
        imbalances=[imbalance], classifier_steps=int(value("clf_steps")) if budget == "steps" else None,
        classifier_epochs=int(value("clf_epochs")) if budget == "epochs" else None,
        gan_steps=int(value("gan_steps")), gan_preset=value("gan_preset"), sampling_strategy=value("strategy"),
        dgc_width=float(value("dgc_width")), dgc_steps=int(value("dgc_steps")),
        data_dir=(str(value("data_dir")).strip() or None) if value("dataset") == "folder" else None,
        device=value("device"))


# run ----------------------------------------------------------------------------------------------------
def start_run() -> None:
    """Start the comparison in the background; a second start while any job runs is refused, not queued.

    The settings are read here, in the callback, not bound when the button was drawn: a value edited and
    the button clicked in one interaction arrive together, and the click must use the edited value.
    """
    from bngan.experiments.table1.cells import start_evaluation

    try:
        config = build_config()
    except ValueError as exc:
        st.session_state[NOTICE_KEY] = ("warning", f"Not started: invalid settings: {exc}")
        return
    folder = results_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{config.datasets[0]}"
    start_experiment_job(lambda reg, out: start_evaluation(reg, config, out), folder, NOTICE_KEY, SELECTED_KEY)


def run_controls() -> None:
    config, reason = None, None
    try:
        config = build_config()
    except ValueError as exc:
        reason = f"Invalid settings: {exc}"
        st.error(reason, icon=":material/tune:")
    st.button("Run comparison", type="primary", icon=":material/play_arrow:", disabled=config is None,
              on_click=start_run, key="eval_run", width="stretch",
              help=reason or "Runs in the background; results appear as folds complete.")
    st.caption("One job runs at a time: a Run while another job runs is refused (not queued). Stop takes "
               "effect after the current cell (one fold of one method).")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        {"success": st.success, "warning": st.warning}[notice[0]](notice[1])


# results ------------------------------------------------------------------------------------------------
def result_folders() -> list[Path]:
    """Comparisons in the results folder, newest first (a folder counts once it has a Table 1 experiment.json;
    the Disentanglement page's runs are not comparisons)."""
    from bngan.experiments.table1.report import is_experiment_folder

    base = results_dir()
    if not base.is_dir():
        return []
    folders = [p for p in base.iterdir() if is_experiment_folder(p)]
    return sorted(folders, key=lambda p: (p / "experiment.json").stat().st_mtime, reverse=True)


def _signature(folder: Path) -> tuple:
    """Changes whenever a cell or the spec (e.g. its reference row) is written: the results' cache key."""
    cells = folder / "cells"
    files = sorted(cells.glob("*.json")) if cells.is_dir() else []
    spec = folder / "experiment.json"
    return tuple((f.name, f.stat().st_mtime_ns) for f in [*files, *([spec] if spec.is_file() else [])])


@st.cache_data(show_spinner=False, max_entries=16)
def load_results(folder: str, signature: tuple) -> dict:
    """The folder's collected results (re-read only when a cell file changed)."""
    from bngan.experiments.table1.report import collect

    return collect(folder)


def results_table(group: Mapping, methods: list[str]) -> list[dict]:
    """Rows for st.dataframe: one per method, mean ± std per table column, the t-test marker appended."""
    from bngan.experiments.table1.report import column_keys, format_cell, table_headers

    rows = []
    for method in methods:
        entry = group["methods"].get(method)
        if entry is None:
            continue
        row = {"method": method, "folds": len(entry["folds"])}
        for header, key in zip(table_headers(group), column_keys(group["minority"])):
            row[header] = format_cell(entry, key)
        rows.append(row)
    return rows


def table_caption(reference: str | None) -> str:
    """What the table's t-test markers compare against: the run's reference row (none: no markers)."""
    if not reference:
        return "mean ± std over folds."
    return (f"mean ± std over folds. • / ◦: {reference} significantly better / worse than this row "
            "(paired t-test over folds, 95%).")


def show_group(group: Mapping, methods: list[str], key: str) -> None:
    """Table, per-method recall/F1 bars and the confusion heatmap of one (data set, imbalance) group."""
    from bngan.experiments.table1.report import leaders
    from bngan.ui.charts import confusion_figure, recall_f1_figure

    done = [m for m in methods if m in group["methods"]]
    if not done:
        st.info("No fold has finished yet: results appear here as soon as the first one does.")
        return
    st.dataframe(results_table(group, methods), hide_index=True, key=f"eval_table_{key}",
                 column_config={"method": st.column_config.TextColumn(pinned=True, width=105)})
    st.caption(table_caption(group.get("reference")))
    leading = leaders([group], group.get("reference"))
    if leading:
        st.markdown(leading)
    if min(len(group["methods"][m]["folds"]) for m in done) < 2:
        st.caption(":orange[Some rows have a single fold: their ± 0.000 is no spread, and no t-test was "
                   "possible. Run 2 or more folds to compare rows.]")
    names, minority = group["class_names"], set(group["minority"])
    tabs = st.tabs(done)
    for tab, method in zip(tabs, done):
        summary = group["methods"][method]["summary"]
        with tab:
            folds = len(group["methods"][method]["folds"])
            fig = recall_f1_figure(names, summary["recall"]["mean"], summary["f1"]["mean"], minority,
                                   title=f"{method}: per-class recall and F1 ({folds} fold(s))")
            st.plotly_chart(fig, key=f"eval_bars_{key}_{method}", config={"displayModeBar": False})
    chosen = st.selectbox("Confusion matrix of", done, key=f"eval_confusion_method_{key}")
    matrix = group["methods"][chosen]["summary"]["confusion"]["mean"]
    st.plotly_chart(confusion_figure(matrix, names, minority, title=f"{chosen}: confusion (rows = true class)"),
                    key=f"eval_confusion_{key}", config={"displayModeBar": False})


def show_results(folder: Path) -> None:
    try:
        results = load_results(str(folder), _signature(folder))
    except (ValueError, OSError) as exc:
        st.error(f"Cannot read {folder}: {exc}")
        return
    methods = results["experiment"]["methods"]
    status = "complete" if results["complete"] else f"{results['n_done']} of {results['n_cells']} cells done"
    st.caption(f"`{folder}` · {status}")
    for failure in results["failures"]:
        st.warning(f"Cell `{failure['cell']}` failed: {failure['error']}")
    groups = results["groups"]
    if len(groups) > 1:
        labels = [g["label"] for g in groups]
        index = labels.index(st.selectbox("Setting", labels, key="eval_group"))
        group = groups[index]
    else:
        group = groups[0]
    show_group(group, methods, key=folder.name)
    table = folder / "table.md"
    if results["complete"] and table.is_file():
        with st.expander("Markdown table (as written to table.md)"):
            st.markdown(unbroken_cells(table.read_text()))
        csv = folder / "results.csv"
        if csv.is_file():
            st.download_button("Download results.csv", data=csv.read_bytes(), file_name=f"{folder.name}.csv",
                               mime="text/csv", key="eval_download", icon=":material/download:")


def live_view(job: Job, folder: Path, live: bool) -> None:
    """The running comparison: header, progress, and the results so far (a fragment while it runs)."""
    if live and not job.active:
        st.rerun()  # it just ended: redraw once, statically
    job_header(job, stop_key="eval_stop")
    if folder.is_dir() and (folder / "experiment.json").is_file():
        show_results(folder)
    else:
        st.info("Preparing the data…")


_live = st.fragment(run_every=REFRESH_S)(live_view)


def unbroken_cells(markdown: str) -> str:
    """A table.md with each "mean ± std •" kept on one line: wrapped over three lines the numbers stop reading
    as columns (the table scrolls sideways instead where the page is narrow)."""
    return markdown.replace(" ± ", "\u00a0±\u00a0").replace(" •", "\u00a0•").replace(" ◦", "\u00a0◦")


def shipped_tables() -> None:
    """The Table 1 and IR-sweep runs committed with the project, each titled with its CNN budget: the long-budget runs
    answer whether synthesis helps a properly trained CNN, the 1,128-step ones are the compute-limited view."""
    from bngan.experiments.core import read_spec
    from bngan.experiments.table1.settings import ExperimentConfig, budget_text

    folders = [Path("results") / name for name in COMMITTED_TABLES]
    folders = [folder for folder in folders if (folder / "table.md").is_file()]
    if folders:
        st.subheader("Committed results")
    for folder in folders:
        config = ExperimentConfig.from_saved(read_spec(folder))
        with st.expander(f"Committed result: {folder.name} (CPU, CNN budget {budget_text(config)}; see RESULTS.md)"):
            st.markdown(unbroken_cells((folder / "table.md").read_text()))


def results_panel() -> None:
    """The followed evaluation job (live while it runs) or any earlier comparison from disk."""
    job = registry.current_job("evaluate")
    job_folder = Path(job.folder) if job is not None and job.folder is not None else None
    folders = result_folders()
    if job_folder is not None and job_folder not in folders:
        folders.insert(0, job_folder)
    if not folders:
        st.info(f"No comparison yet. Choose the settings and press **Run comparison**; results are saved "
                f"under `{results_dir()}` and shown here again next time.")
        return
    labels = {str(p): p.name + ("  (running)" if job is not None and job.active and p == job_folder else "")
              for p in folders}
    if st.session_state.get(SELECTED_KEY) not in labels:
        st.session_state[SELECTED_KEY] = str(folders[0])
    selected = Path(st.selectbox("Results", list(labels), format_func=labels.get, key=SELECTED_KEY))
    if job is not None and selected == job_folder:
        (_live if job.active else live_view)(job, selected, live=job.active)
    else:
        show_results(selected)


def main() -> None:
    st.title("Evaluate")
    st.caption("Oversample the imbalanced training set with each method, train the same CNN on each result, "
               "and score it on the full test set, over several folds (the paper's Table 1).")
    from bngan.ui.docs import doc_expander

    doc_expander("evaluation.md", "The evaluation protocol")
    left, right = st.columns([1, 2.2], gap="large")
    with left:
        with st.container(border=True):
            settings()
        run_controls()
    with right:
        results_panel()
    shipped_tables()  # full width below both columns: a mean ± std per cell, seven columns


main()

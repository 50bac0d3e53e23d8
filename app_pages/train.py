"""Train page: settings, Start, and a live view of the running job (losses, samples, the network's fit).

The page never trains anything itself: Start hands a validated TrainConfig to the process-wide job registry,
which trains in a background thread, and the page only reads job snapshots. The live part is a fragment
that refreshes every two seconds while the job is active and is drawn statically once it is over. Teaching
controls in the spirit of GAN Lab (pause, single discriminator/generator steps, slow motion) act on the job.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from bngan.structure import latent
from bngan.ui import registry, state, train_settings
from bngan.ui.sidebar import format_duration, progress_fraction, progress_text, state_badge
from bngan.ui.train_settings import CHOICES, DATASETS, DEFAULTS, RANGES, REG_MODES, settings

if TYPE_CHECKING:
    from bngan.config import TrainConfig
    from bngan.jobs import Job
    from bngan.structure import LatentStructure

NOTICE_KEY = "train_notice"  # (level, text) of the last Start/Resume, shown once
GRID_CACHE_KEY = "train_grid_png"  # (job id, samples step, png) so the live view does not re-encode
ACTIVE = ("starting", "running", "paused", "stopping")
LIVE_REFRESH_S = 2.0  # the live view reruns this often: each rerun takes the GIL from the training thread
CHART_REFRESH_S = 5.0  # live charts are rebuilt at most this often
DATA_FIX = (
    "**How to fix:** the data files were not found. Set the environment variable `BNGAN_DATA_DIR` to the "
    "folder that holds them (MNIST / FashionMNIST in torchvision's layout) and restart the app, or choose "
    "the **digits** data set, which is bundled with scikit-learn and needs no download."
)


# settings ---------------------------------------------------------------------------------------------
def wkey(name: str) -> str:
    """The widget key of setting ``name``, primed from the stored settings when the widget is new."""
    key = f"train_{name}"
    if key not in st.session_state:
        st.session_state[key] = settings().get(name, DEFAULTS[name])
    return key


def store_settings() -> None:
    """Copy the widgets' values back into the stored settings (after the widgets are drawn), and the URL."""
    settings().update(current_values())
    train_settings.keep_in_url()


def current_values() -> dict[str, Any]:
    """The settings as the widgets hold them right now (also inside a callback, before the page redraws)."""
    stored = settings()
    return {name: st.session_state.get(f"train_{name}", stored.get(name, default))
            for name, default in DEFAULTS.items()}


def class_names(dataset: str) -> list[str]:
    """Class names the settings can offer before any data is loaded (a folder's are unknown: indices)."""
    if dataset == "fashion-mnist":
        from bngan.data.datasets import FASHION_CLASSES

        return list(FASHION_CLASSES)
    if dataset == "dsprites":
        from bngan.data.dsprites import SHAPES

        return list(SHAPES)
    return [str(i) for i in range(10)] if dataset != "folder" else [f"class {i}" for i in range(10)]


def data_settings() -> None:
    """Data set, its folder when it needs one, and the imbalance protocol."""
    dataset = st.selectbox("Data set", list(DATASETS), format_func=DATASETS.get, key=wkey("dataset"))
    if dataset == "folder":
        st.text_input("Image folder", key=wkey("data_dir"), placeholder="/path/to/images",
                      help="A folder with one sub-folder of images per class. Training uses its train/ folder, "
                      "or 80% of each class: the rest is held out for the Evaluate page's test.")
    elif dataset in ("mnist", "fashion-mnist"):
        from bngan.data import default_data_dir

        st.text_input("Data folder (optional)", key=wkey("data_dir"), placeholder=str(default_data_dir()),
                      help="Where MNIST-style files live; empty: $BNGAN_DATA_DIR or the project's data.")
    names = class_names(dataset)
    cols = st.columns(2)
    profile = cols[0].selectbox("Imbalance", CHOICES["profile"], key=wkey("profile"),
                                help="standard: the paper's 4000…40 split (IR 100); minority: chosen classes "
                                "get 1/IR of the largest class.")
    cols[1].number_input("Imbalance ratio (IR)", min_value=RANGES["ir"][0], step=5.0, key=wkey("ir"),
                         disabled=profile != "minority")
    if profile == "minority":
        minority_select(names)


def minority_select(names: list[str]) -> None:
    """The minority classes. Unlike the other settings it is seeded through ``default=``, not by priming its
    session key: a multiselect seeded that way came back empty in the browser when the user typed in another
    field while the page's first run was still going (seen in the e2e test)."""
    key, n = "train_minority", len(names)
    chosen = st.session_state.get(key, settings().get("minority", DEFAULTS["minority"]))
    if any(c >= n for c in chosen):  # the data set changed under the selection: start again from what fits
        chosen = [c for c in chosen if c < n] or [n - 1]
        st.session_state.pop(key, None)
    st.multiselect("Minority classes", list(range(n)), default=None if key in st.session_state else chosen,
                   key=key, format_func=lambda c: f"{c} · {names[c]}" if names[c] != str(c) else str(c))


def model_settings(devices: list[str]) -> None:
    """Model size, regulariser, schedule, device, seed; rarely needed knobs in an expander."""
    cols = st.columns(2)
    cols[0].selectbox("Model preset", CHOICES["preset"], key=wkey("preset"),
                      help="fast: a small GAN that learns digits in minutes on a CPU; paper: reference size.")
    cols[1].number_input("λ (reg. weight)", min_value=RANGES["lambda_reg"][0], step=0.1, key=wkey("lambda_reg"),
                         help="Weight of the Bayesian regulariser R; about 0.1–1. The config allows 0–100.")
    st.selectbox("Regulariser mode", CHOICES["reg_mode"], format_func=REG_MODES.get, key=wkey("reg_mode"))
    cols = st.columns(2)
    schedule = cols[0].radio("Train for", CHOICES["schedule"], horizontal=True, key=wkey("schedule"))
    if schedule == "steps":
        cols[1].number_input("Steps", min_value=RANGES["steps"][0], step=100, key=wkey("steps"))
    else:
        cols[1].number_input("Epochs", min_value=RANGES["epochs"][0], step=1.0, key=wkey("epochs"))
    cols = st.columns(2)
    if st.session_state.get(wkey("device")) not in devices:
        st.session_state[wkey("device")] = "auto"
    cols[0].selectbox("Device", devices, key=wkey("device"), help="auto: CUDA, then Apple MPS, then CPU.")
    cols[1].number_input("Seed", min_value=RANGES["seed"][0], step=1, key=wkey("seed"),
                         help="Picks the imbalanced subset (the fold) and the initial weights.")
    with st.expander("Advanced"):
        cols = st.columns(2)
        cols[0].number_input("Batch size", min_value=RANGES["batch_size"][0], step=16, key=wkey("batch_size"))
        cols[1].selectbox("Code prior", CHOICES["code_prior"], key=wkey("code_prior"))
        cols = st.columns(2)
        cols[0].number_input("Samples every (steps)", min_value=RANGES["sample_every"][0], step=10,
                             key=wkey("sample_every"),
                             help="How often the sample grid and the network's fit are refreshed.")
        cols[1].number_input("Checkpoint every (steps)", min_value=RANGES["checkpoint_every"][0], step=100,
                             key=wkey("checkpoint_every"))
        st.markdown("**What the drawing trains, and GAN training on few images**")
        cols = st.columns(2)
        cols[0].selectbox("Drawing trains", CHOICES["reg_through"], key=wkey("reg_through"),
                          help="both: the code head and G follow the drawing (the paper); generator: the code "
                          "head only learns to read the codes back, so G alone must follow the drawing.")
        cols[1].selectbox("Adversarial loss", CHOICES["adv_loss"], key=wkey("adv_loss"),
                          help="least-squares: the reference's LSGAN; hinge: the usual partner of spectral norm.")
        cols = st.columns(2)
        cols[0].checkbox("Spectral norm (D)", key=wkey("spectral_norm"),
                         help="Normalise every discriminator layer (batch norm is then left out).")
        cols[1].checkbox("DiffAugment", key=wkey("diffaugment"),
                         help="D sees real and fake images through the same random shift and cutout.")
        cols = st.columns(2)
        cols[0].number_input("Generator EMA decay", min_value=RANGES["ema_decay"][0],
                               max_value=RANGES["ema_decay"][1], step=0.001, format="%.4f",
                             key=wkey("ema_decay"),
                             help="0: off; e.g. 0.999: sample and save a moving average of G's weights.")
        cols[1].number_input("LeCam weight", min_value=RANGES["lecam"][0], step=0.1, key=wkey("lecam"),
                             help="0: off; keeps D's outputs near the other side's running average.")


def build_config(values: Mapping[str, Any], structure: LatentStructure) -> TrainConfig:
    """A validated TrainConfig from the settings; raises ConfigError with the message to show."""
    from bngan.config import ConfigError, TrainConfig

    dataset = values["dataset"]
    data_dir = str(values.get("data_dir") or "").strip() or None
    if dataset == "folder" and data_dir is None:
        raise ConfigError("the 'folder' data set needs an image folder: one sub-folder of images per class")
    if values["profile"] == "minority" and not values["minority"]:
        raise ConfigError("choose at least one minority class, or the imbalance profile 'none'")
    if values["profile"] == "standard" and dataset == "dsprites":
        raise ConfigError("the standard profile is for 10 classes; dSprites has 3: use 'minority'")
    by_steps = values["schedule"] == "steps"
    return TrainConfig(
        dataset=dataset,
        data_dir=data_dir if dataset in ("folder", "mnist", "fashion-mnist") else None,
        imbalance={"profile": values["profile"], "minority_classes": [int(c) for c in values["minority"]],
                   "ir": float(values["ir"]), "counts": None},
        seed=int(values["seed"]), preset=values["preset"], structure=structure.to_dict(),
        code_prior=values["code_prior"], reg_mode=values["reg_mode"], lambda_reg=float(values["lambda_reg"]),
        reg_through=values["reg_through"], adv_loss=values["adv_loss"], spectral_norm=bool(values["spectral_norm"]),
        diffaugment=bool(values["diffaugment"]), ema_decay=float(values["ema_decay"]), lecam=float(values["lecam"]),
        batch_size=int(values["batch_size"]),
        steps=int(values["steps"]) if by_steps else None,
        epochs=None if by_steps else float(values["epochs"]),
        sample_every=int(values["sample_every"]), checkpoint_every=int(values["checkpoint_every"]),
        device=values["device"],
    )


# structure --------------------------------------------------------------------------------------------
def structure_summary(structure: LatentStructure) -> str:
    """The structure in a few lines: labelled codes, then each latent code with its parents."""
    labels = ", ".join(f"c{i} · {structure.labels[i]}" if i in structure.labels else f"c{i}"
                       for i in range(1, structure.k + 1))
    parents = "  \n".join(f"`{latent(i)} ← {', '.join(structure.parents(i))}`"
                          for i in range(1, structure.k + 1))
    return f"{structure.k} codes, {len(structure.edges)} edges: {labels}  \n{parents}"


def show_structure() -> LatentStructure | None:
    """Show the Structure page's current structure; return it, or ``None`` (with its problems) if invalid."""
    structure = state.current_structure()
    with st.container(border=True):
        st.markdown("**Latent structure** (from the Structure page)")
        if structure is None:
            for problem in state.structure_problems():
                text = str(problem)
                st.error(text[:1].upper() + text[1:], icon=":material/error:")
        else:
            st.markdown(structure_summary(structure))
        if state.structure_locked():
            st.caption("The running job trains on its own copy: edits apply to the next run.")
        st.page_link("app_pages/structure.py", label="Edit the structure", icon=":material/account_tree:")
    return structure


# start / resume ---------------------------------------------------------------------------------------
def on_start() -> None:
    """Start's callback: build the config from the widgets as they are at the click (not as last drawn)."""
    from bngan.config import ConfigError

    structure = state.current_structure()
    if structure is None:
        st.session_state[NOTICE_KEY] = ("error", "Not started: the structure is invalid.")
        return
    try:
        config = build_config(current_values(), structure)
    except ConfigError as exc:
        st.session_state[NOTICE_KEY] = ("error", f"Not started: {exc}")
        return
    start_job(config)


def start_job(config: TrainConfig, resume_from: str | None = None, folder: str | None = None) -> None:
    """Start (or resume) a run; a second start while a job is active is refused and named, not queued."""
    from bngan.jobs import JobBusyError

    reg = registry.get_registry()
    try:
        job = reg.start_training(config, resume_from=resume_from, folder=folder)
    except JobBusyError:
        busy = reg.active()
        who = f"job {busy.id} ({busy.title}) is {busy.state}" if busy else "another job is running"
        st.session_state[NOTICE_KEY] = ("warning", f"Not started: {who}. One job runs at a time and a second "
                                        "start is refused, not queued: stop it (sidebar or below) or wait "
                                        "for it to finish.")
        return
    registry.remember_job(job.id)
    verb = "Resumed" if resume_from else "Started"
    st.session_state[NOTICE_KEY] = ("success", f"{verb} job {job.id}: {job.title}.")


def resume_job(job_id: str) -> None:
    """Continue a stopped/finished run from its checkpoint for "More steps" further steps, in its folder."""
    from bngan.config import ConfigError, TrainConfig

    more_steps = int(st.session_state.get("train_more_steps", 500))  # read at the click, not as last drawn
    job = registry.get_registry().get(job_id)
    if job is None or job.folder is None:
        return
    try:
        config = TrainConfig.from_dict(json.loads((job.folder / "config.json").read_text()))
        done = int(job.snapshot()["step"])
        config = config.replace(steps=done + int(more_steps), epochs=None, time_budget_s=None)
    except (OSError, ValueError, ConfigError) as exc:
        st.session_state[NOTICE_KEY] = ("error", f"Cannot resume job {job_id}: {exc}")
        return
    # the same run goes on in its folder: one curve, one step counter, the grids appended
    start_job(config, resume_from=str(job.folder / "checkpoint.pt"), folder=str(job.folder))


def resume_run(folder: str) -> None:
    """Continue a run folder's checkpoint in that folder for "More steps" further steps: its metrics go on
    at the checkpoint's step. Works for any run, also one whose job ended with an earlier server."""
    from bngan.checkpoint import load_checkpoint
    from bngan.config import ConfigError, TrainConfig

    more_steps = int(st.session_state.get("train_run_more_steps", 500))
    run = Path(folder)
    try:
        done = int(load_checkpoint(run / "checkpoint.pt")["step"])
        config = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
        config = config.replace(steps=done + more_steps, epochs=None, time_budget_s=None)
    except (OSError, ValueError, ConfigError) as exc:
        st.session_state[NOTICE_KEY] = ("error", f"Cannot resume {run.name}: {exc}")
        return
    start_job(config, resume_from=str(run / "checkpoint.pt"), folder=str(run))


def run_folders(gone: Path | None) -> None:
    """Every run folder with a checkpoint, any of which can be resumed: after a server restart this is
    how earlier runs go on. ``gone`` is the folder of the job in the URL when that job no longer exists."""
    from bngan.runs import list_runs

    runs = {str(r.folder): r for r in list_runs(registry.runs_dir())}
    if gone is not None:
        st.info(f"Job `{registry.followed_job_id()}` is no longer running (the server restarted since). Its "
                f"run folder `{gone}` is kept" + (": resume it below." if str(gone) in runs else
                                                   ", but it holds no checkpoint to resume."),
                icon=":material/history:")
    if not runs:
        return
    with st.expander(f"Run folders ({len(runs)}): resume any", expanded=gone is not None):
        key = "train_run_folder"
        if gone is not None and str(gone) in runs and key not in st.session_state:
            st.session_state[key] = str(gone)
        if st.session_state.get(key) not in runs:
            st.session_state[key] = next(iter(runs))
        cols = st.columns([3, 1, 1], vertical_alignment="bottom")
        cols[0].selectbox("Run folder", list(runs), key=key, format_func=lambda f: (
            f"{Path(f).name} · {runs[f].dataset} · {runs[f].steps} metric rows"))
        st.session_state.setdefault("train_run_more_steps", 500)
        cols[1].number_input("More steps", min_value=1, step=100, key="train_run_more_steps")
        cols[2].button("Resume run", key="train_resume_run", icon=":material/replay:", on_click=resume_run,
                       args=(st.session_state[key],), width="stretch",
                       help="Continue this run's checkpoint in its own folder (its metrics go on).")


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        level, text = notice
        {"success": st.success, "warning": st.warning, "error": st.error}[level](text)


def start_controls(structure: LatentStructure | None) -> None:
    """The Start button, disabled with the reason while the structure or the settings are invalid."""
    from bngan.config import ConfigError

    config, reason = None, None
    if structure is None:
        reason = "The structure is invalid: fix it on the Structure page first."
    else:
        try:
            config = build_config(settings(), structure)
        except ConfigError as exc:
            reason = f"Invalid settings: {exc}"
            st.error(reason, icon=":material/tune:")
    st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=config is None,
              on_click=on_start, width="stretch", key="train_start",
              help=reason or "Train in the background; the job keeps running when you switch pages.")
    if reason and structure is None:
        st.caption(f":red[{reason}]")
    st.caption("One job runs at a time: a second Start while a job runs is refused (not queued).")
    show_notice()


# the job view ---------------------------------------------------------------------------------------------
def job_config(job: Job) -> dict | None:
    """The run's config.json (written once the data is loaded), or ``None`` before that."""
    try:
        return json.loads((job.folder / "config.json").read_text()) if job.folder else None
    except (OSError, json.JSONDecodeError):
        return None


@st.cache_data(show_spinner=False, max_entries=16)
def run_classes(config_json: str) -> tuple[list[str], dict[int, int]]:
    """Class names and training-image counts of a run (the data loaders cache in-process: cheap here)."""
    from bngan.config import TrainConfig
    from bngan.training import training_set

    data = training_set(TrainConfig.from_dict(json.loads(config_json)))
    return list(data.class_names), {int(c): int(n) for c, n in data.class_counts().items()}


def minority_of(config: Mapping, counts: Mapping[int, int]) -> set[int]:
    """The classes to mark: the chosen ones for the 'minority' profile, else those at IR >= 10."""
    imbalance = config.get("imbalance") or {}
    if imbalance.get("profile") == "minority":
        return {int(c) for c in imbalance.get("minority_classes", [])}
    top = max(counts.values(), default=0)
    return {c for c, n in counts.items() if n * 10 <= top}


def sample_grid_png(job: Job, snapshot: Mapping) -> bytes | None:
    """The latest per-class sample grid as PNG, minority rows framed (re-encoded only when it changes)."""
    samples = snapshot.get("samples")
    if samples is None:
        return None
    cached = st.session_state.get(GRID_CACHE_KEY)
    if cached and cached[:2] == (job.id, snapshot["samples_step"]):
        return cached[2]
    from bngan.ui.images import class_grid, png_bytes

    config = job_config(job) or {}
    try:
        names, counts = run_classes(json.dumps(config, sort_keys=True))
    except Exception:  # labels are a nicety: never let them break the live view
        names, counts = [str(i) for i in range(len(samples) // 8)], {}
    png = png_bytes(class_grid(samples, names, minority_of(config, counts), counts))
    st.session_state[GRID_CACHE_KEY] = (job.id, snapshot["samples_step"], png)
    return png


def teaching_controls(job: Job, snapshot: Mapping) -> None:
    """Stop, Pause/Continue, one discriminator or generator step while paused, and slow motion."""
    paused = snapshot["state"] == "paused"
    cols = st.columns(4, vertical_alignment="bottom")  # the slider gets its own row: no label is cut
    cols[0].button("Stop", key="train_stop", icon=":material/stop_circle:", on_click=_on_stop, args=(job.id,),
                   width="stretch", help="Stop after the current step and save the checkpoint.")
    if paused:
        cols[1].button("Continue", key="train_continue", icon=":material/play_arrow:", on_click=job.resume,
                       width="stretch")
    else:
        cols[1].button("Pause", key="train_pause", icon=":material/pause:", on_click=job.pause,
                       width="stretch", disabled=snapshot["state"] != "running")
    cols[2].button("One D step", key="train_step_d", on_click=job.request_step, args=("d",),
                   disabled=not paused, width="stretch",
                   help="While paused: one discriminator update only (the generator is frozen).")
    cols[3].button("One G step", key="train_step_g", on_click=job.request_step, args=("g",),
                   disabled=not paused, width="stretch",
                   help="While paused: one generator update only (the discriminator is frozen).")
    key = f"train_slow_{job.id}"
    st.session_state.setdefault(key, float(job.slow_motion_s))
    st.slider("Slow motion (s per step)", 0.0, 1.0, step=0.05, key=key, on_change=_on_slow, args=(job.id, key),
              help="Sleep after each step, to watch the samples change: each step then shows its own samples.")


STEP_TERMS = {"d": ("d_adv", "d_cls", "d_reg"), "g": ("g_adv", "g_cls", "reg")}


def last_step_change(history: list[Mapping]) -> str | None:
    """``Step 201 (G only): g_adv 0.52 → 0.48, …``: what the latest single step changed, from the two latest
    rows that report its terms (a single D or G step reports only its own network's terms)."""
    if len(history) < 2:
        return None
    last = history[-1]
    phase = "g" if "g_adv" in last and "d_adv" not in last else "d" if "d_adv" in last and "g_adv" not in last \
        else None
    if phase is None:
        return None
    terms = STEP_TERMS[phase]
    before = next((row for row in reversed(history[:-1]) if all(t in row for t in terms)), None)
    if before is None:
        return None
    parts = ", ".join(f"{t} {before[t]:.3f} → {last[t]:.3f}" for t in terms)
    return f"Step {last['step']} ({'G' if phase == 'g' else 'D'} only): {parts}; the samples below are this step's."


def _on_stop(job_id: str) -> None:
    from bngan.ui.sidebar import STOP_MESSAGE_KEY, stop_job

    job = registry.get_registry().get(job_id)
    if job is not None:
        st.session_state[STOP_MESSAGE_KEY] = (job_id, stop_job(job))


def _on_slow(job_id: str, key: str) -> None:
    job = registry.get_registry().get(job_id)
    if job is not None:
        job.set_slow_motion(st.session_state[key])


def outcome(job: Job, snapshot: Mapping) -> None:
    """What a finished, stopped or failed job left: the checkpoint (download, resume) or the error."""
    from bngan.ui.sidebar import STOP_MESSAGE_KEY

    message = st.session_state.get(STOP_MESSAGE_KEY)
    if message and message[0] == job.id and snapshot["state"] in ACTIVE:
        st.info(message[1], icon=":material/stop_circle:")
    if snapshot["state"] == "failed":
        st.error(f"Job {job.id} failed: {snapshot['error']}", icon=":material/error:")
        if snapshot.get("message") == "loading data":  # it never got past loading the data set
            st.info(DATA_FIX if (job_config(job) or {}).get("dataset") != "folder" else
                    "**How to fix:** check the image folder path, or choose the **digits** data set.")
        return
    result = snapshot.get("result")
    if snapshot["state"] not in ("stopped", "finished") or not isinstance(result, dict):
        return
    checkpoint = Path(result["checkpoint"])
    st.success(f"Job {job.id} {snapshot['state']} after {result['steps']} steps "
               f"({format_duration(result['elapsed_s'])}). Checkpoint: `{checkpoint}`",
               icon=":material/save:")
    cols = st.columns([1.2, 1, 1.2], vertical_alignment="bottom")
    if checkpoint.exists():
        cols[0].download_button("Download checkpoint", data=checkpoint.read_bytes,
                                file_name=f"bngan-{job.id}.pt", mime="application/octet-stream",
                                icon=":material/download:", key="train_download", width="stretch")
    st.session_state.setdefault("train_more_steps", 500)
    cols[1].number_input("More steps", min_value=1, step=100, key="train_more_steps")
    cols[2].button("Resume", key="train_resume", icon=":material/replay:", on_click=resume_job,
                   args=(job.id,), disabled=not checkpoint.exists(), width="stretch",
                   help="Continue from this checkpoint in a new run folder.")


def throttled(name: str, job_id: str, live: bool, build: Callable[[], Any]) -> Any:
    """A chart rebuilt at most every CHART_REFRESH_S while live: building plotly figures holds the GIL,
    which the training thread in the same process needs, and a chart a second is more than the eye needs."""
    key = f"train_chart_{name}"
    entry = st.session_state.get(key)
    now = time.monotonic()
    if live and entry and entry[0] == job_id and now - entry[1] < CHART_REFRESH_S:
        return entry[2]
    figure = build()
    st.session_state[key] = (job_id, now, figure)
    return figure


@st.cache_data(show_spinner=False, max_entries=8)
def final_grid_png(checkpoint: str, mtime: float, config_json: str) -> tuple[bytes, int]:
    """The per-class grid drawn from a run's final checkpoint, and its step: the trainer emits samples only
    every ``sample_every`` steps, so after a stop the last live grid can be far behind the weights."""
    import torch

    from bngan.training import TrainedModel
    from bngan.ui.images import class_grid, png_bytes

    model = TrainedModel.load(checkpoint)
    classes = len(model.class_names)
    images = model.generate(torch.arange(classes).repeat_interleave(8), seed=0)
    minority = minority_of(json.loads(config_json), model.class_counts)
    return png_bytes(class_grid(images, model.class_names, minority, model.class_counts)), model.step


def saved_grids(folder: str | None) -> dict[int, Path]:
    """The run's saved sample grids by step (``samples_000200.png``), resumed parts included."""
    if not folder:
        return {}
    grids = {}
    for path in Path(folder).glob("samples_*.png"):
        try:
            grids[int(path.stem.split("_")[1])] = path
        except (IndexError, ValueError):
            continue
    return dict(sorted(grids.items()))


def grid_history(snapshot: Mapping) -> None:
    """A step slider over the grids the run saved, to scrub back through its history."""
    grids = saved_grids(snapshot.get("folder"))
    if len(grids) < 2:
        return
    steps = list(grids)
    step = st.select_slider("Saved grids: step", options=steps, value=steps[-1], key="train_grid_step",
                            help="Every grid the run saved (every 'Samples every' steps, single steps, resumes).")
    st.image(grids[step].read_bytes(), width="stretch", output_format="PNG",
             caption=f"Saved grid at step {step} (one row per class)")


def samples(job: Job, snapshot: Mapping) -> None:
    """The per-class sample grid: live from the trainer, or from the final checkpoint once the job is over."""
    result = snapshot.get("result")
    checkpoint = Path(result["checkpoint"]) if isinstance(result, dict) else None
    if snapshot["state"] in ("stopped", "finished") and checkpoint is not None and checkpoint.is_file():
        try:
            png, step = final_grid_png(str(checkpoint), checkpoint.stat().st_mtime,
                                       json.dumps(job_config(job) or {}, sort_keys=True))
        except (ValueError, OSError):  # a checkpoint that cannot be read: fall back to the last live grid
            pass
        else:
            st.markdown(f"**Samples** (final checkpoint, step {step}; one row per class, minority framed)")
            st.image(png, width="stretch", output_format="PNG")
            return
    png = sample_grid_png(job, snapshot)
    if png is None:
        st.markdown("**Samples**")
        st.caption("The first sample grid appears after the first step.")
        return
    st.markdown(f"**Samples** (step {snapshot['samples_step']}; one row per class, minority framed)")
    st.image(png, width="stretch", output_format="PNG")


def job_view(job: Job, live: bool) -> None:
    """Everything about one job; when ``live`` it is a fragment body that reruns every LIVE_REFRESH_S."""
    snapshot = job.snapshot()
    if live and snapshot["state"] not in ACTIVE:
        st.rerun()  # the job just ended: redraw the page once, statically
    st.markdown(f"#### {snapshot['title']}  \n`{job.id}` {state_badge(snapshot['state'])} "
                f"{snapshot.get('message') or ''}")
    st.progress(progress_fraction(snapshot), text=progress_text(snapshot))
    if snapshot["state"] in ACTIVE:
        teaching_controls(job, snapshot)
        change = last_step_change(snapshot["history"])
        if change and snapshot["state"] == "paused":
            st.caption(change)
    outcome(job, snapshot)
    from bngan.ui.charts import bn_fit_figure, loss_figure

    losses = throttled("losses", job.id, live, lambda: loss_figure(snapshot["history"]))
    st.plotly_chart(losses, key="train_losses", config={"displayModeBar": False})
    left, right = st.columns([1.25, 1], gap="medium")
    with left:
        samples(job, snapshot)
        if snapshot["state"] not in ("running", "starting", "stopping"):  # paused or over: scrub back
            grid_history(snapshot)
    with right:
        st.markdown("**Bayesian network fit** of the code head's c' on fresh samples")
        fit = throttled("bn_fit", job.id, live, lambda: bn_fit_figure(snapshot.get("bn_fit")))
        st.plotly_chart(fit, key="train_bn_fit", config={"displayModeBar": False})
        st.caption("R² near 1: the latent code is explained by its parents as drawn. Weights are the fitted "
                   "linear coefficients of each parent.")


_live_view = st.fragment(run_every=LIVE_REFRESH_S)(job_view)


def main() -> None:
    from bngan.device import available_devices  # imports torch: done before any widget is drawn, so the
    # form appears in one go instead of stalling half-drawn while the user starts typing

    devices = available_devices()
    st.title("Train")
    st.caption("Train the GAN with the structure from the Structure page. Training runs in the background: "
               "switch pages freely, the sidebar follows the job.")
    left, right = st.columns([1, 2.2], gap="large")
    with left:
        with st.container(border=True):
            data_settings()
            model_settings(devices)
            store_settings()
        structure = show_structure()
        start_controls(structure)
    with right:
        gone = registry.followed_run_folder()
        job = None if gone is not None else registry.current_job("train")
        if job is None and gone is None:
            st.info("No training job yet. Choose the settings and press **Start training**. With the defaults "
                    "(digits, fast preset) a judge CNN recognises at least 90% of the samples of every class "
                    "after about 400 steps: 50 s of training on one core of a 2-core CPU (RESULTS.md).")
        elif job is not None and job.active:
            _live_view(job, live=True)
        elif job is not None:
            job_view(job, live=False)
        if job is None or not job.active:
            run_folders(gone)


main()

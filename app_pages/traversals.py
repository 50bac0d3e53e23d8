"""Traversals page: what each latent code does to the generated image, seen and measured.

Pick a trained model and a class, move one slider per code and the image redraws (generating one image takes
milliseconds once the model is loaded, and loaded models are cached by path and modification time). Strips
sweep one code at a time; the 2-D grid sweeps two at once, which is where an entangled code shows (the image
changes along the diagonal). Measured attributes (stroke thickness, slant) turn "c1 is thickness" into a curve
and a correlation table.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from bngan.ui import models
from bngan.ui.docs import doc_expander
from bngan.ui.models import load_model

if TYPE_CHECKING:
    import torch

    from bngan.training import TrainedModel

UPLOAD_DIR = Path(tempfile.gettempdir()) / "bngan-uploads"
MAX_UPLOAD_MB = 256
UPLOAD_MAX_AGE_S = 24 * 3600  # uploaded checkpoints older than this are deleted at the next upload

SELECT_KEY = "trav_checkpoint"  # the chosen checkpoint path
COMPARE_KEY = "trav_compare"  # the second model of the side-by-side view
GOOD_KEY = "trav_good_path"  # the last checkpoint that loaded: shown when a new choice fails
UPLOADS_KEY = "trav_uploads"  # {path: label} of checkpoints uploaded in this session
ERROR_KEY = "trav_upload_error"  # the last upload's error, shown once
UPLOAD_VERSION_KEY = "trav_upload_version"  # bumped after each upload so the uploader empties itself
STRIP_STEPS, GRID_STEPS, CURVE_STEPS = 9, 7, 9
PLAY_FRAMES = 17  # frames of the animated sweep, there and back


# checkpoints ------------------------------------------------------------------------------------------
def checkpoint_options() -> dict[str, str]:
    """Path -> menu label: the bundled models, this session's uploads, then the runs, newest first."""
    return models.checkpoint_options(st.session_state.get(UPLOADS_KEY, {}))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-80:] or "upload.pt"


def upload_key() -> str:
    return f"trav_upload_{st.session_state.get(UPLOAD_VERSION_KEY, 0)}"


def on_upload() -> None:
    """Keep an uploaded checkpoint only if it loads; otherwise say why and keep the current model."""
    from bngan.checkpoint import CheckpointError

    uploaded = st.session_state.get(upload_key())
    st.session_state[UPLOAD_VERSION_KEY] = st.session_state.get(UPLOAD_VERSION_KEY, 0) + 1
    if uploaded is None:
        return
    raw = uploaded.getvalue()
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    prune_uploads()
    path = UPLOAD_DIR / f"{hashlib.sha1(raw).hexdigest()[:12]}-{_safe_name(uploaded.name)}"
    path.write_bytes(raw)
    try:
        load_model(str(path))
    except (CheckpointError, OSError) as exc:
        path.unlink(missing_ok=True)
        reason = str(exc).replace(str(path), uploaded.name)
        st.session_state[ERROR_KEY] = f"Could not use {uploaded.name}: {reason}. The current model is kept."
        return
    st.session_state.setdefault(UPLOADS_KEY, {})[str(path)] = f"Uploaded: {uploaded.name}"
    st.session_state[SELECT_KEY] = str(path)


def prune_uploads(max_age_s: float = UPLOAD_MAX_AGE_S) -> int:
    """Delete uploaded checkpoints older than ``max_age_s`` (kept by no session for that long) and the
    half-written files of failed uploads, so the temporary folder does not fill up; how many went."""
    import time

    removed = 0
    cutoff = time.time() - max_age_s
    for old in UPLOAD_DIR.glob("*"):
        try:
            if old.is_file() and old.stat().st_mtime < cutoff:
                old.unlink()
                removed += 1
        except OSError:  # another session removed it first
            continue
    for session_path in list(st.session_state.get(UPLOADS_KEY, {})):
        if not Path(session_path).is_file():  # pruned: drop it from this session's menu too
            st.session_state[UPLOADS_KEY].pop(session_path, None)
    return removed


def upload_cap_mb() -> int:
    """What an upload may weigh: the widget's own limit, never above the server's (``server.maxUploadSize``),
    so a too-large file is refused in the browser with the size instead of a bare HTTP 413."""
    return max(1, min(MAX_UPLOAD_MB, int(st.get_option("server.maxUploadSize"))))


def followed_run_checkpoint() -> str | None:
    """The checkpoint of the training job in the URL (``?job=``), so the page opens on the run just trained."""
    from bngan.ui.registry import current_job

    job = current_job("train")
    if job is None or job.folder is None:
        return None
    checkpoint = Path(job.folder) / "checkpoint.pt"
    return str(checkpoint) if checkpoint.is_file() else None


def upload_controls(expanded: bool) -> None:
    """The checkpoint uploader, folded away unless there is no model to show."""
    with st.expander("Upload a checkpoint", expanded=expanded):
        cap = upload_cap_mb()
        st.file_uploader("Upload a checkpoint (.pt)", type=["pt"], key=upload_key(), on_change=on_upload,
                         max_upload_size=cap,
                         help="A checkpoint.pt from a bngan run (Train page: Download checkpoint).")
        st.caption(f"Up to {cap} MB (`server.maxUploadSize`); a checkpoint is a few MB (11 MB for a "
                   "fast-preset run). Larger ones: put the run folder under the runs folder, where the menu "
                   "above finds it.")


def choose_model() -> tuple[str, TrainedModel] | None:
    """The checkpoint menu and uploader; the model to show, falling back to the last one that loaded."""
    from bngan.checkpoint import CheckpointError

    options = checkpoint_options()
    good = st.session_state.get(GOOD_KEY)
    if options and st.session_state.get(SELECT_KEY) not in options:
        followed = followed_run_checkpoint()
        st.session_state[SELECT_KEY] = (followed if followed in options else good if good in options
                                        else next(iter(options)))
    if options:
        st.selectbox("Checkpoint", list(options), format_func=options.get, key=SELECT_KEY,
                     help="The bundled default models, runs under the runs folder, or an uploaded .pt file.")
    if not (st.session_state.get("trav_present") and options):  # presentation layout: no uploader on screen
        upload_controls(expanded=not options)
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(error, icon=":material/error:")
    if not options:
        st.info("No trained model yet: train one on the Train page, or upload a checkpoint.")
        return None
    chosen = st.session_state[SELECT_KEY]
    try:
        model = load_model(chosen)
    except (CheckpointError, OSError) as exc:
        st.error(f"Could not load {options[chosen]}: {exc}", icon=":material/error:")
        if good is None or good == chosen or good not in options:
            return None
        st.caption(f"Showing the previous model instead: {options[good]}.")
        chosen, model = good, load_model(good)
    st.session_state[GOOD_KEY] = chosen
    return chosen, model


# controls ---------------------------------------------------------------------------------------------
def model_choice(name: str, path: str, options: list, index: int = 0) -> tuple[str, object]:
    """The widget key of menu ``name`` for this model and its value (primed: the previous model's choice
    when this model offers it, else ``options[index]``)."""
    key = f"{name}@{hashlib.sha1(path.encode()).hexdigest()[:10]}"
    if key not in st.session_state:
        last = st.session_state.get(f"{name}@last")
        st.session_state[key] = last if last in options else options[index]
    return key, st.session_state[key]


def model_select(where, label: str, options: list, name: str, path: str, index: int = 0, **kwargs):
    """A menu whose entries name the model's codes or classes: a new widget per model, because a keyed
    menu kept showing the previous model's entry names after a switch (measured in the browser). The choice
    carries over when the new model offers it."""
    key, _ = model_choice(name, path, options, index)
    chosen = where.selectbox(label, options, key=key, **kwargs)
    st.session_state[f"{name}@last"] = chosen
    return chosen


def code_name(model: TrainedModel, i: int) -> str:
    """``c1 · thickness`` (or ``c1`` when the code has no label)."""
    label = model.structure.labels.get(i)
    return f"c{i} · {label}" if label else f"c{i}"


def code_span(model: TrainedModel) -> float:
    """Slider range: most of a N(0, 1) prior, or all of U(-1, 1)."""
    return 1.0 if model.config.code_prior == "uniform" else 2.5


def class_label(model: TrainedModel, c: int) -> str:
    """``8 · minority (15 img)``: the class name with its training count, minorities marked."""
    counts = model.class_counts
    top = max(counts.values(), default=0)
    name = model.class_names[c]
    tag = " · minority" if counts.get(c, 0) * 10 <= top else ""
    return f"{name}{tag} ({counts[c]} img)" if c in counts else name


def controls(path: str, model: TrainedModel) -> tuple[int, int, list[float]]:
    """Class, noise seed and one slider per code; returns ``(label, seed, code values)``."""
    cols = st.columns([1.4, 1], gap="small")
    label = model_select(cols[0], "Class", list(range(len(model.class_names))), "trav_class", path,
                         format_func=lambda c: class_label(model, c))
    st.session_state.setdefault("trav_seed", 0)
    seed = int(cols[1].number_input("Noise seed", min_value=0, step=1, key="trav_seed",
                                    help="The noise z stays fixed while the codes move; another seed, another "
                                    "handwriting."))
    span = code_span(model)
    values = []
    for i in range(1, model.structure.k + 1):
        key = f"trav_code_{i}"
        if abs(st.session_state.setdefault(key, 0.0)) > span:
            st.session_state[key] = 0.0  # a model with a narrower prior was loaded
        values.append(st.slider(code_name(model, i), -span, span, step=0.1, key=key))
    st.button("Reset codes to 0", on_click=_reset_codes, args=(model.structure.k,),
              icon=":material/restart_alt:")
    return label, seed, values


def _reset_codes(k: int) -> None:
    for i in range(1, k + 1):
        st.session_state[f"trav_code_{i}"] = 0.0


# views ------------------------------------------------------------------------------------------------
def codes_tensor(values: list[float]) -> torch.Tensor:
    import torch

    return torch.tensor(values, dtype=torch.float32)


def current_image(model: TrainedModel, label: int, seed: int, values: list[float]) -> bytes:
    """The image for exactly these code values (code 1's strip at one point keeps the noise convention)."""
    from bngan.traversal import strip
    from bngan.ui.images import png_bytes, single

    image = strip(model, label, 1, [values[0]], seed=seed, codes=codes_tensor(values))[0]
    return png_bytes(single(image, 256))


def sweep_animation(model: TrainedModel, label: int, seed: int, values: list[float], code: int) -> bytes:
    """An animated GIF of one code sweeping its range and back, the others at the sliders' values."""
    import torch

    from bngan.traversal import strip
    from bngan.ui.images import gif_bytes

    span = code_span(model)
    half = torch.linspace(-span, span, PLAY_FRAMES // 2 + 1)
    sweep = torch.cat([half, half.flip(0)[1:-1]])
    return gif_bytes(strip(model, label, code, sweep, seed=seed, codes=codes_tensor(values)), size=200)


def strips_image(model: TrainedModel, label: int, seed: int, values: list[float]) -> bytes:
    """One row per code sweeping it across its range, the other codes at the sliders' values."""
    import torch

    from bngan.traversal import strip
    from bngan.ui.images import labelled_rows, png_bytes

    span = code_span(model)
    sweep = torch.linspace(-span, span, STRIP_STEPS)
    k = model.structure.k
    rows = [strip(model, label, i, sweep, seed=seed, codes=codes_tensor(values)) for i in range(1, k + 1)]
    return png_bytes(labelled_rows(rows, [code_name(model, i) for i in range(1, k + 1)],
                                   tags=[f"{-span:+.1f} … {span:+.1f}"] * k))


def grid_image(model: TrainedModel, label: int, seed: int, values: list[float], code_x: int,
               code_y: int) -> bytes:
    """The ``GRID_STEPS x GRID_STEPS`` sweep of two codes, values on both axes."""
    import torch

    from bngan.traversal import grid
    from bngan.ui.images import labelled_grid, png_bytes

    span = code_span(model)
    sweep = torch.linspace(-span, span, GRID_STEPS)
    images = grid(model, label, code_x, code_y, sweep, seed=seed, codes=codes_tensor(values))
    return png_bytes(labelled_grid(images, GRID_STEPS, sweep.tolist(), code_name(model, code_x),
                                   code_name(model, code_y)))


@st.cache_data(show_spinner="Measuring attributes…", max_entries=64)
def curves(path: str, mtime: float, label: int, code: int, span: float) -> dict:
    """Attribute curves of one code (cached: 9 values x 8 noise draws, measured)."""
    import torch

    from bngan.traversal import attribute_curves

    model = load_model(path)
    return attribute_curves(model, label, code, torch.linspace(-span, span, CURVE_STEPS), seeds=8)


def measured(path: str, model: TrainedModel, label: int) -> None:
    """Attribute-vs-code curves for a chosen code (this class, 8 noise draws)."""
    from bngan.ui.charts import attribute_figure

    mtime = Path(path).stat().st_mtime
    k = model.structure.k
    code = model_select(st, "Code to measure", list(range(1, k + 1)), "trav_measure_code", path,
                        format_func=lambda i: code_name(model, i))
    data = curves(path, mtime, label, code, code_span(model))
    shown = curve_attributes(model)
    st.plotly_chart(attribute_figure(data, shown, code_label=code_name(model, code)),
                    key="trav_curves", config={"displayModeBar": False})
    st.caption("Mean ± std over 8 noise draws. " + (
        "Thickness: ink pixels per skeleton pixel; slant: shear of the ink (positive leans right)."
        if "slant" in shown else "Ink: share of inked pixels; orientation: angle of the ink's principal axis "
        "(90° = upright)."))


def curve_attributes(model: TrainedModel) -> tuple[str, str]:
    """Stroke thickness and slant for digits; for any other images, measures from image moments."""
    from bngan.effects import DIGIT_DATASETS

    return ("thickness", "slant") if model.config.dataset in DIGIT_DATASETS else ("ink", "orientation")


MEANING_NOTE = ("A code's meaning is chosen by the GAN during training, not by its label: labels are names "
                "someone gave after looking and are not verified. The matrix is what each code measurably does.")


def agreement_caption(effects: dict) -> str:
    """``agreement with its drawing .62 · cross-talk c1 .41, c2 …``"""
    import numpy as np

    from bngan.effects import crosstalk

    matrix = effects["matrix"]
    talk = crosstalk(np.asarray(matrix["effect"])[: matrix["k"]])
    per_code = ", ".join(f"c{i} {t:.2f}" for i, t in enumerate(talk, start=1))
    return (f"Agreement with its own drawing **{effects['own']['agreement']:.2f}** (0–1) · cross-talk "
            f"(share of a code's effect outside its strongest attribute) {per_code}")


def effect_view(path: str, model: TrainedModel, key: str, zmax: float | None = None, compact: bool = False) -> None:
    """The model's measured effect matrix as a heatmap, with its agreement and cross-talk."""
    from bngan.ui.charts import effect_heatmap, readout_heatmap

    effects = models.model_effects(path)
    names = [code_name(model, i) for i in range(1, model.structure.k + 1)]
    left, right = st.columns([3, 1.25], gap="small")
    left.plotly_chart(effect_heatmap(effects["matrix"], names, title="In the image", zmax=zmax, compact=compact),
                      key=key, config={"displayModeBar": False})
    right.plotly_chart(readout_heatmap(effects["readout"], title="Read back by D"), key=f"{key}_readout",
                       config={"displayModeBar": False})
    st.caption(agreement_caption(effects))


def effects_section(path: str, model: TrainedModel) -> None:
    st.markdown("**What each code does, measured** (all classes). *In the image*: the change of each attribute as "
                "the code sweeps −2 → +2, in units of that attribute's spread among the class's samples, with its "
                "95% interval; the placebo rows sweep random noise directions no regulariser touched. *Read back "
                "by D*: the correlation of each code the discriminator reads back (ci') with each input code "
                "(cj) — this is what the drawn structure regularises.")
    effect_view(path, model, key="trav_effects")
    st.caption(MEANING_NOTE)
    doc_expander("structure-effects.md", "How the effects and the agreement are measured")


def compare_section(path: str, model: TrainedModel, label: int, seed: int) -> None:
    """Two models side by side: the same class, the same noise, every code swept; their effect matrices."""
    every = checkpoint_options()  # listed once: it reads the runs folder
    options = {p: name for p, name in every.items() if p != path}
    if not options:
        st.info("Train or upload a second model to compare it with this one.")
        return
    bundled = [p for p in models.bundled_options() if p != path]
    if st.session_state.get(COMPARE_KEY) not in options:
        st.session_state[COMPARE_KEY] = bundled[0] if bundled else next(iter(options))
    other_path = st.selectbox("Compare with", list(options), format_func=options.get, key=COMPARE_KEY,
                              help="The two bundled defaults differ only in the drawn structure.")
    try:
        other = load_model(other_path)
    except (ValueError, OSError) as exc:
        st.error(f"Could not load {options[other_path]}: {exc}", icon=":material/error:")
        return
    if other.structure.k != model.structure.k or len(other.class_names) != len(model.class_names):
        st.warning("The two models have different codes or classes: shown side by side, not on the same "
                   "noise.", icon=":material/warning:")
    zmax = max(max(max(r) for r in models.model_effects(p)["matrix"]["effect"]) for p in (path, other_path))
    cols = st.columns(2, gap="large")
    for col, (p, m, key) in zip(cols, ((path, model, "a"), (other_path, other, "b"))):
        with col:
            name = every.get(p, Path(p).parent.name)
            st.markdown(f"**{name}** · {structure_summary(m)}")
            zero = [0.0] * m.structure.k
            st.image(strips_image(m, min(label, len(m.class_names) - 1), seed, zero), output_format="PNG")
            effect_view(p, m, key=f"trav_compare_effects_{key}", zmax=zmax, compact=True)


def structure_summary(model: TrainedModel) -> str:
    """``entangled drawing: c1, c2 -> c3'`` or ``disentangled drawing`` (plus the regulariser mode)."""
    from bngan.effects import entangling_parents

    links = {j: ps for j, ps in entangling_parents(model.structure).items() if ps}
    mode = "" if model.config.reg_mode == "paper" else f", {model.config.reg_mode} loss"
    if not links:
        return f"disentangled drawing{mode}"
    text = "; ".join(f"{', '.join(f'c{i}' for i in ps)} → c{j}'" for j, ps in links.items())
    return f"entangled drawing: {text}{mode}"


PRESENTATION_CSS = """<style>
[data-testid=stMainBlockContainer] {padding-top: 1.2rem; padding-bottom: 1rem}
[data-testid=stMain] h1 {padding-top: 0; padding-bottom: 0.2rem; font-size: 1.8rem}
</style>"""


def main() -> None:
    presenting = st.sidebar.toggle("Presentation layout", key="trav_present",
                                   help="For a projector (1280×720): the image, the sliders and the strips on "
                                   "one screen; details move below.")
    if presenting:
        st.html(PRESENTATION_CSS)
    st.title("Traversals")
    if not presenting:
        st.caption("Move a code and watch the image. Below: what each code measurably does to the image, what "
                   "the discriminator reads back, and two models side by side.")
    left, right = st.columns([1, 2.4], gap="large")
    with left:
        picked = choose_model()
        if picked is None:
            return
        path, model = picked
        if not presenting:
            st.caption(f"{model.config.dataset}, step {model.step}, {model.structure.k} codes, "
                       f"λ={model.config.lambda_reg:g} ({model.config.reg_mode})")
        label, seed, values = controls(path, model)
    with right:
        top = st.columns([1.35, 2.6] if presenting else [1, 2.6], gap="medium")
        with top[0]:
            st.markdown("**Generated image**")
            play_options = [0, *range(1, model.structure.k + 1)]
            _, playing = model_choice("trav_play", path, play_options)
            if playing:
                st.image(sweep_animation(model, label, seed, values, playing), width=200)
                st.caption(f"{code_name(model, playing)} sweeping {-code_span(model):+.1f} … "
                           f"{code_span(model):+.1f} and back")
            else:
                st.image(current_image(model, label, seed, values), width=240 if presenting else 200,
                         output_format="PNG")
                st.caption(", ".join(f"c{i}={v:+.1f}" for i, v in enumerate(values, start=1)))
            model_select(st, "Play a sweep", play_options, "trav_play", path,
                         format_func=lambda i: "— (still image)" if i == 0 else code_name(model, i),
                         help="Animate one code across its range, the others at the sliders' values.")
        with top[1]:
            st.markdown("**1-D traversals** (one row per code, the others at the sliders' values)")
            st.image(strips_image(model, label, seed, values), output_format="PNG")
        st.markdown("**2-D grid** over two codes: a change along the diagonal means they are entangled")
        k = model.structure.k
        cols = st.columns([1, 1, 2.2], gap="medium")
        code_x = model_select(cols[0], "Across (x)", list(range(1, k + 1)), "trav_grid_x", path, index=0,
                              format_func=lambda i: code_name(model, i))
        code_y = model_select(cols[1], "Down (y)", list(range(1, k + 1)), "trav_grid_y", path, index=min(1, k - 1),
                              format_func=lambda i: code_name(model, i))
        grid_cols = st.columns([1.2, 1], gap="medium")
        with grid_cols[0]:
            st.image(grid_image(model, label, seed, values, code_x, code_y), output_format="PNG")
        with grid_cols[1]:
            measured(path, model, label)
    effects_section(path, model)
    st.subheader("Side by side")
    st.caption("Both models get the same class and the same noise; every code is swept with the others at 0.")
    compare_section(path, model, label, seed)


main()

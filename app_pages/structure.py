"""Structure page: draw the Bayesian network over the observed codes c1..ck and the latent codes c1'..ck'.

Three views edit the same session structure (bngan.ui.state): the drawing, the edge table and the label
inputs. Each edit runs in a widget callback before the page draws, so all views always agree, and the
structure is re-validated on every run with every problem listed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from bngan.structure import MAX_CODES, MIN_CODES, PRESETS, latent, observed
from bngan.ui import state
from bngan.ui.dag_editor import dag_editor, edge_key
from bngan.ui.docs import doc_expander

EXPLANATION = """
**What an edge means.** An edge `parent → ci'` says that the latent code `ci'` (what the discriminator reads
back from the image) may depend on `parent`. During training the regulariser **pulls together** each latent
code and its parents, and **pushes apart** the pairs of nodes that the network makes independent (no path
of shared causes between them). `c1 → c1'` alone means "the first code controls one factor on its own";
`c1 → c3'` and `c2 → c3'` make `c3'` an entangled factor driven by both.

Rules: observed codes are inputs (no edges into them), every latent code needs at least one parent, and the
graph has no cycles.
"""


def preset_controls() -> None:
    """Preset, number of codes and "Apply preset"; the callback replaces the structure."""
    cols = st.columns([2, 1, 1], vertical_alignment="bottom")
    cols[0].selectbox(
        "Preset", (*PRESETS, state.CUSTOM), key=state.PRESET_KEY,
        help="disentangled: ci → ci' only; entangled: c3' also depends on c1 and c2; "
        "reference: the last latent code depends on every observed code; custom: the drawing matches none.",
    )
    cols[1].number_input("Codes k", MIN_CODES, MAX_CODES, step=1, key=state.PRESET_K_KEY)
    cols[2].button(
        "Apply preset", on_click=state.on_apply_preset, width="stretch",
        help="Replaces the current edges (labels of the remaining codes are kept).",
    )


def show_message() -> None:
    """The result of the last preset or import action, shown once, in a slot that is always there: a banner
    that came and went before the editor would shift it in the page and remount it (add-edge mode lost)."""
    slot = st.container()
    message = st.session_state.pop(state.MESSAGE_KEY, None)
    if message:
        level, text = message
        (slot.error if level == "error" else slot.success)(text)


def show_validation(structure: dict, problems: list) -> None:
    if not problems:
        st.success(f"Valid structure: {structure['k']} codes, {len(structure['edges'])} edges.")
    for problem in problems:
        message = str(problem)
        st.error(message[:1].upper() + message[1:], icon=":material/error:")


def node_names(k: int) -> list[str]:
    return [observed(i) for i in range(1, k + 1)] + [latent(i) for i in range(1, k + 1)]


def edge_table(k: int) -> None:
    """The edge list as an editable table; new rows count once both their parent and child are chosen."""
    names = node_names(k)
    rows = pd.DataFrame(st.session_state[state.TABLE_ROWS_KEY], columns=list(state.COLUMNS), dtype="object")
    key = state.table_widget_key()
    st.data_editor(
        rows,
        key=key,
        num_rows="dynamic",
        hide_index=True,
        column_config={
            "parent": st.column_config.SelectboxColumn("parent", options=names, required=True,
                                                       help="Any code; observed codes are usual parents."),
            "child": st.column_config.SelectboxColumn("child", options=names, required=True,
                                                      help="A latent code c1'..ck'."),
        },
        on_change=state.on_table_change,
        args=(key,),
    )


def label_inputs(k: int) -> None:
    """One text input per code pair; a label is shown under both ci and ci'."""
    cols = st.columns(2)
    for i in range(1, k + 1):
        cols[(i - 1) % 2].text_input(
            f"Label of code {i}", key=state.label_widget_key(i), max_chars=40, placeholder=f"c{i}",
            on_change=state.on_label_change, args=(i,),
        )


def import_export(structure: dict) -> None:
    valid = state.current_structure()
    st.download_button(
        "Export JSON",
        data=valid.to_json() if valid else "",
        file_name="structure.json",
        mime="application/json",
        disabled=valid is None,
        help=None if valid else "Fix the problems first: only a valid structure can be exported.",
        icon=":material/download:",
    )
    st.file_uploader(
        "Import JSON", type=["json"], key=state.upload_widget_key(), on_change=state.on_upload,
        help=f"A structure exported from this page (at most {state.MAX_IMPORT_BYTES // 1024} KB). "
        "An invalid file leaves the current structure untouched.",
    )


def learned_fit(structure: dict) -> tuple[dict[str, float] | None, dict[str, dict] | None, str | None]:
    """The local weights, σ² and R² a training job learned for this very structure (edge width ∝ |w|).

    Shown only when the latest training job trained on the structure being edited; after an edit the
    numbers would describe another graph, so they disappear.
    """
    from bngan.ui.registry import current_job

    job = current_job("train")
    snapshot = job.snapshot() if job is not None else None
    if not snapshot or not snapshot.get("bn_fit") or job_structure(job) != sorted(map(tuple, structure["edges"])):
        return None, None, None
    weights = {edge_key(parent, row["latent"]): w for row in snapshot["bn_fit"] for parent, w in row["weights"].items()}
    stats = {row["latent"]: {"sigma2": row["sigma2"], "r2": row["r2"]} for row in snapshot["bn_fit"]}
    return weights, stats, (f"Edge widths and node tooltips: the weights, σ² and R² learned by job {job.id} "
                            f"at step {snapshot['step']} ({snapshot['state']}).")


def job_structure(job) -> list[tuple[str, str]] | None:
    """The edges the job trains on, from its run folder's structure.json (no torch needed)."""
    if job.folder is None or not (Path(job.folder) / "structure.json").exists():
        return None
    return sorted(tuple(e) for e in json.loads((Path(job.folder) / "structure.json").read_text())["edges"])


def measured_model(structure: dict, problems: list) -> None:
    """A trained model's measured effect matrix next to the drawing, and how well it follows the drawing."""
    from bngan.ui import models
    from bngan.ui.charts import effect_heatmap, readout_heatmap

    options = models.checkpoint_options()
    if not options:
        st.info("No trained model yet: train one on the Train page to see what its codes do.")
        return
    if st.session_state.get("structure_model") not in options:
        st.session_state["structure_model"] = next(iter(options))
    path = st.selectbox("Model", list(options), format_func=options.get, key="structure_model",
                        help="The two bundled defaults differ only in the drawn structure.")
    try:
        effects = models.model_effects(path)
    except (ValueError, OSError) as exc:
        st.error(f"Could not measure {options[path]}: {exc}", icon=":material/error:")
        return
    left, right = st.columns([3, 1.3], gap="small")
    left.plotly_chart(effect_heatmap(effects["matrix"], title="What each code does in the image"),
                      key="structure_effects", config={"displayModeBar": False})
    right.plotly_chart(readout_heatmap(effects["readout"], title="What D reads back"),
                       key="structure_readout", config={"displayModeBar": False})
    own = effects["own"]["agreement"]
    if problems:
        st.caption(f"Fix the drawing's problems to score this model against it (agreement with the drawing it "
                   f"was trained on: {own:.2f}).")
        return
    agreement = models.agreement_with(effects, structure)
    if agreement is None:
        st.caption(f"This model has {effects['matrix']['k']} codes, the drawing {structure['k']}: no agreement "
                   f"to compute. Agreement with the model's own drawing: {own:.2f}.")
        return
    lines = [f"Agreement of this model with **your drawing**: **{agreement['agreement']:.2f}** (0–1; with the "
             f"drawing it was trained on: {own:.2f})."]
    for code in agreement["per_code"]:
        if code["parents"]:
            parents = ", ".join(f"c{i}" for i in code["parents"])
            lines.append(f"- c{code['code']}' has {parents} among its ancestors: c{code['code']} should also move "
                         f"what {parents} move — it does to {code['score']:.0%} of its strongest effect.")
        else:
            lines.append(f"- c{code['code']} should move one attribute: purity {code['score']:.2f}.")
    st.markdown("\n".join(lines))
    st.caption("Left: change of each attribute as the code sweeps −2 → +2, in units of the attribute's spread "
               "among a class's samples, mean over classes (95% interval). Right: correlation of each code the "
               "discriminator reads back (ci') with each input code (cj): the drawing shapes this reading; "
               "whether it also shapes the image is what the left matrix measures. A code's meaning is chosen "
               "by the GAN during training, not by its label.")
    doc_expander("structure-effects.md", "How the effects and the agreement are measured")


def main() -> None:
    state.prepare_widgets()
    structure = state.get_structure()
    problems = state.structure_problems()

    st.title("Latent structure")
    st.caption("Draw which latent codes depend on which codes. The Train page uses this structure.")
    if state.structure_locked():
        st.info(
            "A training job is running with its own copy of the structure. You can keep editing: changes "
            "apply to the next run and never change the running job.", icon=":material/lock_clock:",
        )
    preset_controls()
    show_message()

    left, right = st.columns([3, 2], gap="large")
    with left:
        weights, stats, source = learned_fit(structure)
        dag_editor(
            structure["k"], structure["edges"], structure["labels"], problems=problems, weights=weights,
            latent_stats=stats, ack=st.session_state.get(state.ACK_KEY, 0), on_edit=state.on_drawing_edit,
            key="structure_dag",
        )
        if source:
            st.caption(source)
        show_validation(structure, problems)
        with st.expander("What do the edges mean?"):
            st.markdown(EXPLANATION)
        doc_expander("method.md", "The method")
        st.subheader("Does a trained model follow this drawing?")
        measured_model(structure, problems)
    with right:
        st.subheader("Edges")
        edge_table(structure["k"])
        st.subheader("Labels")
        label_inputs(structure["k"])
        st.subheader("Import / export")
        import_export(structure)


main()

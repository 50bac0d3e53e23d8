"""The current latent structure in ``st.session_state``, shared by the Structure page and the Train page.

The session holds the structure as a plain dict ``{k, edges, labels}`` rather than a
:class:`~bngan.structure.LatentStructure`, because a structure being edited is allowed to be invalid: the
page shows every problem live, and the Train page asks :func:`current_structure`, which is ``None`` until
the problems are fixed. Every change goes through :func:`set_structure`, run from widget callbacks (before
the page draws), so the drawing, the edge table and the label inputs always show the same structure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st

from bngan.structure import MAX_CODES, MAX_EDGES, MIN_CODES, LatentStructure, StructureError, find_problems

STATE_KEY = "structure"  # {k, edges: [[parent, child], ...], labels: {i: label}}
ACK_KEY = "structure_ack"  # seq of the last drawing edit stored (the editor keeps its drawing until then)
TABLE_ROWS_KEY = "structure_table_rows"  # the edge table's base rows; its widget holds the edits on top
TABLE_VERSION_KEY = "structure_table_version"  # bumped to give the table a fresh widget after outside edits
PRESET_KEY = "structure_preset"
PRESET_K_KEY = "structure_preset_k"
UPLOAD_VERSION_KEY = "structure_upload_version"
MESSAGE_KEY = "structure_message"  # (level, text) from the last preset/import action, shown once
COLUMNS = ("parent", "child")

DEFAULT_PRESET, DEFAULT_K = "entangled", 3
CUSTOM = "custom"  # the preset menu's entry for a drawing that matches no preset
DEFAULT_LABELS = {1: "thickness", 2: "rotation", 3: "thick+rot"}
MAX_IMPORT_BYTES = 64 * 1024
QUERY_KEY = "structure"  # ?structure=<compact JSON>: the drawing survives a browser reload
MAX_QUERY_CHARS = 8000


def label_widget_key(i: int) -> str:
    """Session key of the text input holding code i's human label."""
    return f"structure_label_{i}"


def default_structure() -> dict[str, Any]:
    """Fig. 4c's entangled structure on MNIST-like codes: c3' depends on thickness and rotation."""
    return _as_dict(LatentStructure.preset(DEFAULT_PRESET, DEFAULT_K, labels=DEFAULT_LABELS))


def _as_dict(structure: LatentStructure) -> dict[str, Any]:
    return {"k": structure.k, "edges": [list(e) for e in structure.edges], "labels": dict(structure.labels)}


def ensure_structure() -> dict[str, Any]:
    """Initialise the session on the first visit (from the URL after a reload, else the default) and return
    the (mutable) structure dict; the URL is kept in step with it, so a reload loses no drawing. app.py calls
    this on every page: the first page of a session may not be the Structure page, and a page switch drops
    the query string."""
    if STATE_KEY not in st.session_state:
        set_structure(**(structure_from_url(st.query_params.get(QUERY_KEY)) or default_structure()))
    data = st.session_state[STATE_KEY]
    encoded = encode_structure(data)
    if st.query_params.get(QUERY_KEY) != encoded:  # a page switch may have dropped it
        st.query_params[QUERY_KEY] = encoded
    return data


def encode_structure(data: Mapping[str, Any]) -> str:
    """The structure being edited (valid or not) as compact JSON for the URL."""
    import json

    return json.dumps({"k": data["k"], "edges": data["edges"], "labels": data["labels"]}, separators=(",", ":"))


def structure_from_url(text: str | None) -> dict[str, Any] | None:
    """The structure a URL holds, or None when it holds none or something malformed (never an exception:
    a hand-edited URL falls back to the default structure)."""
    import json

    if not text or len(text) > MAX_QUERY_CHARS:
        return None
    try:
        data = json.loads(text)
        k, edges, labels = data["k"], data["edges"], data["labels"]
        if isinstance(k, bool) or not isinstance(k, int) or not MIN_CODES <= k <= MAX_CODES:
            return None
        if not isinstance(edges, list) or len(edges) > MAX_EDGES or not all(
                isinstance(e, list) and len(e) == 2 and all(isinstance(n, str) and len(n) <= 8 for n in e)
                for e in edges):
            return None
        if not isinstance(labels, dict):
            return None
        labels = {int(i): str(v)[:40] for i, v in labels.items() if 1 <= int(i) <= k and isinstance(v, str)}
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    return {"k": k, "edges": edges, "labels": labels}


def get_structure() -> dict[str, Any]:
    """A copy of the structure being edited (possibly invalid)."""
    data = ensure_structure()
    return {"k": data["k"], "edges": [list(e) for e in data["edges"]], "labels": dict(data["labels"])}


def set_structure(
    k: int, edges: Iterable[Sequence[str]], labels: Mapping[int, str], *, source: str = "other"
) -> None:
    """Store a new (possibly invalid) structure and bring the widgets that did not make the edit in line.

    ``source`` names the widget the edit came from ("table", "labels", "drawing", ...). The edge table is
    rebuilt unless the edit came from the table itself: its widget already shows the edit, and rebuilding it
    would drop the half-filled rows the user is still typing. Call this from callbacks only, since it
    writes widget values.
    """
    old_k = st.session_state.get(STATE_KEY, {}).get("k")
    edges = [[str(p), str(c)] for p, c in edges]
    labels = {int(i): str(v).strip() for i, v in labels.items() if str(v).strip()}
    st.session_state[STATE_KEY] = {"k": int(k), "edges": edges, "labels": labels}
    st.query_params[QUERY_KEY] = encode_structure(st.session_state[STATE_KEY])
    st.session_state[PRESET_KEY] = matching_preset(int(k), edges)  # the menu never names another graph
    if source != "table":
        st.session_state[TABLE_ROWS_KEY] = [{"parent": p, "child": c} for p, c in edges]
        st.session_state[TABLE_VERSION_KEY] = st.session_state.get(TABLE_VERSION_KEY, 0) + 1
    if source != "labels":
        for i in range(1, int(k) + 1):
            st.session_state[label_widget_key(i)] = labels.get(i, "")
    if old_k != k:
        st.session_state[PRESET_K_KEY] = int(k)


def matching_preset(k: int, edges: Iterable[Sequence[str]]) -> str:
    """The preset whose edges these are (in any order), or :data:`CUSTOM`."""
    from bngan.structure import PRESETS

    drawn = sorted(tuple(e) for e in edges)
    for name in PRESETS:
        try:
            if sorted(LatentStructure.preset(name, k).edges) == drawn:
                return name
        except StructureError:  # e.g. 'entangled' needs k >= 3
            continue
    return CUSTOM


def table_widget_key() -> str:
    """The edge table's key; a new one after every outside edit, so the table starts from fresh rows."""
    return f"structure_edge_table_{st.session_state.get(TABLE_VERSION_KEY, 0)}"


def prepare_widgets() -> None:
    """Before the Structure page draws: give widgets whose state Streamlit dropped their value again.

    Streamlit forgets the state of widgets that were not drawn in a run (the user visited another page);
    the structure itself is kept, so the label inputs, k and the edge table are refilled from it.
    """
    data = ensure_structure()
    for i in range(1, data["k"] + 1):
        st.session_state.setdefault(label_widget_key(i), data["labels"].get(i, ""))
    st.session_state.setdefault(PRESET_K_KEY, data["k"])
    st.session_state.setdefault(PRESET_KEY, matching_preset(data["k"], data["edges"]))
    if table_widget_key() not in st.session_state:
        st.session_state[TABLE_ROWS_KEY] = [{"parent": p, "child": c} for p, c in data["edges"]]


def current_structure() -> LatentStructure | None:
    """The structure as a validated :class:`LatentStructure` (a fresh copy); ``None`` while it is invalid."""
    data = ensure_structure()
    try:
        return LatentStructure(k=data["k"], edges=[tuple(e) for e in data["edges"]], labels=data["labels"])
    except StructureError:
        return None


def structure_problems() -> list[StructureError]:
    """Every problem of the structure being edited; empty when it is valid."""
    data = ensure_structure()
    return find_problems(data["k"], [tuple(e) for e in data["edges"]])


def structure_locked() -> bool:
    """True while a training job runs: it uses its own copy, so edits only affect the next run."""
    from bngan.ui.registry import peek_registry  # derived from the registry, never stored

    registry = peek_registry()
    job = registry.active() if registry is not None else None
    return job is not None and job.kind == "train"


# edge table ---------------------------------------------------------------------------------------------
def apply_table_delta(rows: Sequence[Mapping[str, Any]], delta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Apply ``st.data_editor``'s edit record (edited/deleted/added rows) to the base rows it was given."""
    result = [{c: row.get(c) for c in COLUMNS} for row in rows]
    for index, changes in (delta.get("edited_rows") or {}).items():
        i = int(index)
        if 0 <= i < len(result):
            result[i].update({c: v for c, v in changes.items() if c in COLUMNS})
    deleted = {int(i) for i in delta.get("deleted_rows") or []}
    result = [row for i, row in enumerate(result) if i not in deleted]
    result += [{c: row.get(c) for c in COLUMNS} for row in delta.get("added_rows") or []]
    return result


def edges_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """Edges of the complete rows; a row still missing its parent or child is not an edge yet."""
    edges = []
    for row in rows:
        parent, child = row.get("parent"), row.get("child")
        if isinstance(parent, str) and isinstance(child, str) and parent and child:
            edges.append([parent, child])
    return edges


def on_table_change(widget_key: str) -> None:
    """Callback of the edge table: its base rows plus its edit record are the new edge list."""
    rows = apply_table_delta(st.session_state.get(TABLE_ROWS_KEY, []), st.session_state.get(widget_key) or {})
    data = get_structure()
    set_structure(data["k"], edges_from_rows(rows), data["labels"], source="table")


# labels, drawing, presets ------------------------------------------------------------------------------
def on_label_change(i: int) -> None:
    """Callback of code i's label input."""
    data = get_structure()
    labels = {**data["labels"], i: str(st.session_state.get(label_widget_key(i), "")).strip()[:40]}
    set_structure(data["k"], data["edges"], labels, source="labels")


def on_drawing_edit(snapshot: Mapping[str, Any]) -> None:
    """``on_edit`` of the DAG editor: the drawing's snapshot replaces the structure (and is acknowledged)."""
    set_structure(snapshot["k"], snapshot["edges"], snapshot["labels"], source="drawing")
    st.session_state[ACK_KEY] = max(int(snapshot.get("seq") or 0), st.session_state.get(ACK_KEY, 0))


def apply_preset(name: str, k: int) -> None:
    """Replace the structure by a named preset, keeping the labels of the codes that remain."""
    labels = {i: v for i, v in get_structure()["labels"].items() if i <= k}
    try:
        structure = LatentStructure.preset(name, int(k), labels=labels)
    except StructureError as exc:
        st.session_state[MESSAGE_KEY] = ("error", f"Cannot apply the '{name}' preset: {exc}")
        return
    set_structure(**_as_dict(structure), source="preset")
    st.session_state[MESSAGE_KEY] = ("success", f"Applied the '{name}' preset with k = {k}.")


def on_apply_preset() -> None:
    """Callback of "Apply preset": reads the preset and k widgets at click time."""
    name = st.session_state.get(PRESET_KEY, DEFAULT_PRESET)
    if name == CUSTOM:
        st.session_state[MESSAGE_KEY] = ("error", "Choose a preset to apply: 'custom' is the drawing as it is.")
        return
    apply_preset(name, int(st.session_state.get(PRESET_K_KEY, 3)))


# import ------------------------------------------------------------------------------------------------
def parse_structure_upload(raw: bytes) -> LatentStructure:
    """Parse an uploaded structure JSON; raises :class:`StructureError` with a message for the user."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise StructureError(
            f"the file is {len(raw) / 1024:.0f} KB; a structure JSON is at most {MAX_IMPORT_BYTES // 1024} KB"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StructureError("the file is not UTF-8 text; export a structure from this page first") from None
    return LatentStructure.from_json(text)


def import_structure(raw: bytes, name: str = "the file") -> bool:
    """Replace the structure by an uploaded one; on any problem keep the current structure and say why."""
    try:
        structure = parse_structure_upload(raw)
    except StructureError as exc:
        message = f"Could not import {name}: {exc}. The structure is unchanged."
        st.session_state[MESSAGE_KEY] = ("error", message)
        return False
    set_structure(**_as_dict(structure), source="import")
    st.session_state[MESSAGE_KEY] = (
        "success", f"Imported {name}: {structure.k} codes, {len(structure.edges)} edges.")
    return True


def upload_widget_key() -> str:
    """The file uploader's key; it changes after each import so the uploader empties itself."""
    return f"structure_upload_{st.session_state.get(UPLOAD_VERSION_KEY, 0)}"


def on_upload() -> None:
    """Callback of the JSON file uploader."""
    uploaded = st.session_state.get(upload_widget_key())
    if uploaded is None:
        return
    if uploaded.size > MAX_IMPORT_BYTES:  # checked before reading the bytes into memory
        st.session_state[MESSAGE_KEY] = (
            "error",
            f"Could not import {uploaded.name}: the file is {uploaded.size / 1024:.0f} KB; a structure JSON "
            f"is at most {MAX_IMPORT_BYTES // 1024} KB. The structure is unchanged.",
        )
    else:
        import_structure(uploaded.getvalue(), uploaded.name)
    st.session_state[UPLOAD_VERSION_KEY] = st.session_state.get(UPLOAD_VERSION_KEY, 0) + 1

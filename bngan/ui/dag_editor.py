"""The graphical DAG editor: a bidirectional ``st.components.v2`` component drawn with vis-network.

Python sends the structure to draw (plus its problems and, after training, the learned weights); the browser
sends back a full ``{k, edges, labels}`` snapshot whenever the user edits the drawing, so Python stays the
single place where structures are validated. vis-network's JS and CSS are read from the installed pyvis
wheel and inlined, so the app works offline and never loads anything from a CDN.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from bngan.structure import MAX_CODES, MIN_CODES, StructureError, latent, observed

COMPONENT_NAME = "bngan_dag_editor"
STATIC_DIR = Path(__file__).resolve().parent / "static"
VIS_DIR = "templates/lib/vis-9.1.2"
MAX_LABEL_CHARS = 40
# vis-network.css is mostly the configurator and manipulation toolbar, which the editor does not use;
# only the tooltip and overlay rules are needed inside the shadow root.
_VIS_CSS_KEEP = re.compile(r"vis-tooltip|vis-overlay")


def edge_key(parent: str, child: str) -> str:
    """Key of an edge in the ``weights`` mapping (the same string the browser uses as the edge id)."""
    return f"{parent}->{child}"


def _pyvis_file(relative: str) -> Path:
    """A file shipped inside the installed pyvis package, found without importing pyvis (slow, IPython)."""
    spec = importlib.util.find_spec("pyvis")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the DAG editor needs the 'pyvis' package, which ships vis-network")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise RuntimeError(f"vis-network is missing from the installed pyvis package: {path}")
    return path


def _vis_js() -> str:
    """The vis-network UMD bundle, without its source-map comment (the map is not shipped)."""
    text = _pyvis_file(f"{VIS_DIR}/vis-network.min.js").read_text(encoding="utf-8")
    return re.sub(r"//# sourceMappingURL=\S*\s*$", "", text)


def _vis_css() -> str:
    """The few vis-network CSS rules the editor needs (tooltip, overlay)."""
    css = _pyvis_file(f"{VIS_DIR}/vis-network.css").read_text(encoding="utf-8")
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", css)
    return "\n".join(f"{sel.strip()}{{{body}}}" for sel, body in rules if _VIS_CSS_KEEP.search(sel))


@functools.cache
def _component() -> Callable[..., Any]:
    """Register the component once per process; the mount callable re-registers it on a new runtime."""
    js = _vis_js() + "\n;\n" + (STATIC_DIR / "dag_editor.js").read_text(encoding="utf-8")
    css = _vis_css() + "\n" + (STATIC_DIR / "dag_editor.css").read_text(encoding="utf-8")
    html = '<div class="bngan-dag"></div>'
    return st.components.v2.component(COMPONENT_NAME, html=html, css=css, js=js)


def _orphan_latents(k: int, edges: Sequence[Sequence[str]]) -> list[str]:
    """Latent codes without any incoming edge: drawn with a red dashed border (their problem has no edge)."""
    children = {str(c) for _, c in edges}
    return [latent(i) for i in range(1, k + 1) if latent(i) not in children]


def _problem_payload(problems: Sequence[StructureError]) -> list[dict[str, Any]]:
    return [{"message": str(p), "edges": [[str(a), str(b)] for a, b in p.edges]} for p in problems]


def editor_data(
    k: int,
    edges: Sequence[Sequence[str]],
    labels: Mapping[int, str],
    *,
    problems: Sequence[StructureError] = (),
    weights: Mapping[str, float] | None = None,
    latent_stats: Mapping[str, Mapping[str, float]] | None = None,
    ack: int = 0,
    key: str = "dag_editor",
) -> dict[str, Any]:
    """The JSON payload for the browser; apart from :func:`dag_editor` so it is testable without a page."""
    return {
        "key": key,
        "k": int(k),
        "edges": [[str(p), str(c)] for p, c in edges],
        "labels": {str(i): str(v) for i, v in labels.items() if str(v).strip()},
        "problems": _problem_payload(problems),
        "problem_nodes": _orphan_latents(k, edges) if problems else [],
        "weights": {str(e): float(w) for e, w in (weights or {}).items()},
        "latent_stats": {
            str(n): {s: float(v) for s, v in stat.items() if s in ("sigma2", "r2")}
            for n, stat in (latent_stats or {}).items()
        },
        "ack": int(ack),
    }


def parse_edit(value: object) -> dict[str, Any] | None:
    """Check and normalise a snapshot sent by the browser; ``None`` when it is missing or malformed.

    The browser is another process: its payload is validated here rather than trusted, so a bad message
    can never put a non-list or an out-of-range ``k`` into the session structure.
    """
    if not isinstance(value, Mapping):
        return None
    k, edges, labels = value.get("k"), value.get("edges"), value.get("labels") or {}
    if not isinstance(k, int) or isinstance(k, bool) or not MIN_CODES <= k <= MAX_CODES:
        return None
    if not isinstance(edges, list) or not isinstance(labels, Mapping):
        return None
    pairs = [(str(e[0]), str(e[1])) for e in edges if isinstance(e, list | tuple) and len(e) == 2]
    names = {observed(i) for i in range(1, k + 1)} | {latent(i) for i in range(1, k + 1)}
    clean_labels: dict[int, str] = {}
    for i, text in labels.items():
        if str(i).isdigit() and 1 <= int(i) <= k and str(text).strip():
            clean_labels[int(i)] = str(text).strip()[:MAX_LABEL_CHARS]
    seq = value.get("seq")
    return {
        "k": k,
        "edges": [[p, c] for p, c in pairs if p in names and c in names],
        "labels": clean_labels,
        "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) else 0,
    }


def read_edit(key: str) -> dict[str, Any] | None:
    """The edit snapshot of the editor mounted under ``key``, read inside its ``on_edit`` callback."""
    result = st.session_state.get(key)
    return parse_edit(result.get("edit")) if isinstance(result, Mapping) else None


def dag_editor(
    k: int,
    edges: Sequence[Sequence[str]],
    labels: Mapping[int, str],
    *,
    problems: Sequence[StructureError] = (),
    weights: Mapping[str, float] | None = None,
    latent_stats: Mapping[str, Mapping[str, float]] | None = None,
    ack: int = 0,
    on_edit: Callable[[dict[str, Any]], None] | None = None,
    key: str = "dag_editor",
) -> dict[str, Any] | None:
    """Draw the structure and return the user's edit of this rerun (``{k, edges, labels, seq}``) or ``None``.

    ``problems`` (from :func:`bngan.structure.find_problems`) are drawn red and dashed. ``weights`` maps
    :func:`edge_key` strings to learned local weights (edge width ∝ |w|, value shown on the edge), and
    ``latent_stats`` maps latent names such as ``"c1'"`` to ``{"sigma2": ..., "r2": ...}`` shown in node
    tooltips. ``on_edit`` runs as a Streamlit callback, before the page reruns, with the parsed snapshot:
    the place to store it, so every widget drawn afterwards already shows the edit. ``ack`` is the ``seq``
    of the last snapshot Python stored; until it catches up, the browser keeps its optimistic drawing.
    """
    data = editor_data(
        k, edges, labels, problems=problems, weights=weights, latent_stats=latent_stats, ack=ack, key=key
    )

    def _callback() -> None:
        snapshot = read_edit(key)
        if snapshot is not None and on_edit is not None:
            on_edit(snapshot)

    result = _component()(key=key, data=data, on_edit_change=_callback)
    return parse_edit(getattr(result, "edit", None))

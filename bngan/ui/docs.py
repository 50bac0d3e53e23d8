"""The project's own documentation (docs/*.md) shown inside the app, where a page cites it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

DOCS = Path(__file__).resolve().parents[2] / "docs"


def doc_expander(name: str, title: str) -> None:
    """An expander with ``docs/<name>`` rendered: the page's method or protocol, one click away, offline."""
    path = DOCS / name
    with st.expander(title, icon=":material/menu_book:"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            st.markdown(text.split("\n", 1)[1] if text.startswith("# ") else text)  # the expander is the title
        else:
            st.caption(f"docs/{name} is not in this installation.")

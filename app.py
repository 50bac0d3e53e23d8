"""bngan app entry point: ``streamlit run app.py``.

Only the navigation lives here; each page is its own file under ``app_pages/`` (not ``pages/``: Streamlit
would also serve a ``pages/`` folder on its own, without this file's navigation, to a first visitor of a
page URL). Pages that do not exist yet are
left out of the menu, so the app runs while the project grows. Nothing heavy (torch) is imported here: the
app must start instantly, and pages import what they need when they are opened.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from bngan.ui import state, train_settings
from bngan.ui.sidebar import render_job_sidebar

ROOT = Path(__file__).resolve().parent
# (page file relative to this file, menu title, icon), in menu order
PAGES = (
    ("app_pages/structure.py", "Structure", ":material/account_tree:"),
    ("app_pages/train.py", "Train", ":material/model_training:"),
    ("app_pages/traversals.py", "Traversals", ":material/view_comfy:"),
    ("app_pages/evaluate.py", "Evaluate", ":material/analytics:"),
    ("app_pages/disentanglement.py", "Disentanglement", ":material/scatter_plot:"),
)


def available_pages() -> list[st.Page]:
    """The pages whose file exists, in menu order."""
    return [st.Page(path, title=title, icon=icon) for path, title, icon in PAGES if (ROOT / path).exists()]


# An emoji favicon is an inline SVG; a :material/...: one would be fetched from fonts.gstatic.com.
st.set_page_config(page_title="bngan", page_icon="🕸️", layout="wide")
navigation = st.navigation(available_pages())
render_job_sidebar()  # the active/latest job on every page (cheap: no torch until a job exists)
state.ensure_structure()  # what a reload must not lose lives in the URL; a page switch drops it: put it back
train_settings.keep_in_url()
navigation.run()

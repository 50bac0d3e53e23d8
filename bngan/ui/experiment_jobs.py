"""Experiment jobs on a page (Evaluate, Disentanglement): starting one (or saying why not), and its header:
title, state, what runs, progress in cells, Stop; or why it failed. Both pages do it the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from bngan.ui import registry
from bngan.ui.sidebar import progress_fraction, progress_text, state_badge

if TYPE_CHECKING:
    from bngan.jobs import Job, JobRegistry

ACTIVE = ("starting", "running", "paused", "stopping")


def job_header(job: Job, stop_key: str) -> None:
    """One experiment job's state; ``stop_key`` keeps each page's Stop button apart."""
    snapshot = job.snapshot()
    st.markdown(f"#### {snapshot['title']}  \n`{job.id}` {state_badge(snapshot['state'])} "
                f"{snapshot.get('message') or ''}")
    if snapshot["state"] in ACTIVE:
        st.progress(progress_fraction(snapshot), text=progress_text(snapshot))
        st.button("Stop", key=stop_key, icon=":material/stop_circle:", on_click=job.stop,
                  help="Stop after the current cell; finished cells stay on disk.")
    elif snapshot["state"] == "failed":
        st.error(f"Job {job.id} failed: {snapshot['error']}", icon=":material/error:")


def start_experiment_job(start: Callable[[JobRegistry, Path], Job], folder: Path, notice_key: str,
                         selected_key: str) -> None:
    """``start(registry, folder)`` a job (a button's callback): follow it and show its folder, or, while
    another job runs, leave a notice that says which (a second start is refused, not queued)."""
    from bngan.jobs import JobBusyError

    reg = registry.get_registry()
    try:
        job = start(reg, folder)
    except JobBusyError:
        busy = reg.active()
        who = f"job {busy.id} ({busy.title}) is {busy.state}" if busy else "another job is running"
        st.session_state[notice_key] = ("warning", f"Not started: {who}. One job runs at a time and a second "
                                        "start is refused, not queued: stop it (sidebar) or wait for it.")
        return
    registry.remember_job(job.id)
    st.session_state[selected_key] = str(folder)
    st.session_state[notice_key] = ("success", f"Started job {job.id}: {job.title}.")

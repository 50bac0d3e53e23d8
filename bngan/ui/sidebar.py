"""The job panel in the sidebar of every page: what runs, how far it is, and a Stop button.

A training run takes minutes; the user wanders to the Structure or Traversals page meanwhile and must still
see it, and be able to stop it, from there. The panel refreshes itself every two seconds (a fragment) only while
a job is active, and falls back to a static panel once the job is over, so an idle app does no polling.
It also keeps the Structure page's lock in step with the job (the running job trains on its own copy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import streamlit as st

from bngan.ui import registry

if TYPE_CHECKING:
    from bngan.jobs import Job

TRAIN_PAGE = "app_pages/train.py"
STOP_MESSAGE_KEY = "sidebar_stop_message"  # (job id, text) of the last Stop press, shown under the button
REFRESH_S = 2.0
STATE_COLORS = {"starting": "blue", "running": "blue", "paused": "orange", "stopping": "orange",
                "stopped": "gray", "finished": "green", "failed": "red"}


def format_duration(seconds: float | None) -> str:
    """``42 s``, ``3:05`` or ``1:02:03``; an em dash while unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_fraction(snapshot: Mapping) -> float:
    """Share of the schedule done, in [0, 1] (0 while the total is unknown)."""
    total = snapshot.get("total")
    if not total:
        return 1.0 if snapshot.get("state") == "finished" else 0.0
    return min(1.0, max(0.0, snapshot.get("step", 0) / total))


def progress_text(snapshot: Mapping) -> str:
    """``step 120 / 500 · 0:08 elapsed · ETA 0:25``: the line under every progress bar (a training job counts
    steps; an experiment job counts cells, wherever its progress is shown)."""
    total = snapshot.get("total")
    unit = "step" if snapshot.get("kind", "train") == "train" else "cell"
    step = f"{unit} {snapshot.get('step', 0)}" + (f" / {total}" if total else "")
    parts = [step, f"{format_duration(snapshot.get('elapsed_s'))} elapsed"]
    if snapshot.get("state") in ("running", "starting"):
        parts.append(f"ETA {format_duration(snapshot.get('eta_s'))}")
    return " · ".join(parts)


def state_badge(state: str) -> str:
    """Markdown badge of a job state, colored by what it means for the user."""
    return f":{STATE_COLORS.get(state, 'gray')}-badge[{state}]"


def stop_job(job: Job) -> str:
    """Stop ``job`` and say what happened; a second press while it stops says so instead of pretending."""
    after = ("it saves a checkpoint after the current step" if job.kind == "train"
             else "it stops after the current cell; finished cells stay on disk")
    if job.state == "stopping":
        return f"Job {job.id} is already stopping: {after}."
    if not job.stop():
        return f"Job {job.id} is already {job.state}."
    return f"Stopping job {job.id}: {after}."


def _on_stop(job_id: str) -> None:
    job = registry.get_registry().get(job_id)
    if job is not None:
        st.session_state[STOP_MESSAGE_KEY] = (job_id, stop_job(job))


def render_panel(job: Job, live: bool) -> None:
    """Title, state, progress with ETA, Stop, and the link to the Train page, for one job."""
    snapshot = job.snapshot()
    if live and snapshot["state"] not in ("starting", "running", "paused", "stopping"):
        st.rerun()  # the job just ended: redraw the whole app once, statically
    st.markdown(f"**{snapshot['title']}**  \n`{job.id}` {state_badge(snapshot['state'])}")
    st.progress(progress_fraction(snapshot), text=progress_text(snapshot))
    if job.active:
        st.button("Stop", key="sidebar_stop", icon=":material/stop_circle:", on_click=_on_stop,
                  args=(job.id,), width="stretch",
                  help="Stop after the current step; the checkpoint is saved.")
    message = st.session_state.get(STOP_MESSAGE_KEY)
    if message and message[0] == job.id and job.active:
        st.caption(message[1])
    if snapshot["state"] == "failed":
        st.caption(":red[The job failed; the Train page says why.]")
    elif snapshot["state"] in ("stopped", "finished") and isinstance(snapshot.get("result"), dict):
        st.caption(f"Checkpoint: `{snapshot['result'].get('checkpoint')}`")


_live_panel = st.fragment(run_every=REFRESH_S)(render_panel)


def render_job_sidebar() -> None:
    """On every page: the job this session follows (or the active/latest one), live while it runs."""
    job = registry.current_job(kind=None)
    with st.sidebar:
        st.subheader("Job", divider="gray")
        if job is None:
            st.caption("No job yet: start one on the Train page. One job runs at a time.")
        elif job.active:
            _live_panel(job, live=True)
        else:
            render_panel(job, live=False)
        st.page_link(TRAIN_PAGE, label="Open the Train page", icon=":material/model_training:")

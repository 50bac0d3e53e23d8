"""The app's one job registry per server process, and which job a browser session is looking at.

Jobs outlive sessions: a training thread keeps running when the user refreshes the page, and the fresh
session must find it again. So the registry lives in ``st.cache_resource`` (one per process and runs folder)
and the id of the job a session follows is kept in the URL (``?job=<id>``) as well as in the session, so a
browser refresh, which empties the session, still finds it.

Importing :mod:`bngan.jobs` imports torch, which takes seconds. The sidebar runs on every page, so it must
not pay that price before anyone has started a job: :func:`peek_registry` answers without importing torch.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from bngan.runs import default_runs_dir

if TYPE_CHECKING:
    from bngan.jobs import Job, JobRegistry

QUERY_KEY = "job"  # ?job=<id> in the URL
SESSION_KEY = "job_id"  # the same id in the session (query params are dropped on some navigations)
_LOCK = threading.Lock()


def runs_dir() -> Path:
    """Where the app's runs go (read each time, so tests can point it away)."""
    return default_runs_dir()


@st.cache_resource(show_spinner=False)
def _registries() -> dict[str, JobRegistry]:
    """Registries by runs folder; a plain dict so that looking one up never imports torch."""
    return {}


def get_registry() -> JobRegistry:
    """The process-wide registry for the current runs folder, created (and torch imported) on first use."""
    key = str(runs_dir().resolve())
    registries = _registries()
    with _LOCK:
        if key not in registries:
            from bngan.jobs import JobRegistry

            registries[key] = JobRegistry(key)
        return registries[key]


def peek_registry() -> JobRegistry | None:
    """The registry if one was created already, else ``None`` (cheap: no torch import)."""
    return _registries().get(str(runs_dir().resolve()))


def remember_job(job_id: str) -> None:
    """Follow ``job_id`` in this session and in the URL, so a refresh or another page finds it."""
    st.session_state[SESSION_KEY] = job_id
    st.query_params[QUERY_KEY] = job_id


def followed_job_id() -> str | None:
    """The job id this session follows: from the URL first (survives refresh), else from the session."""
    from_url = st.query_params.get(QUERY_KEY)
    return from_url or st.session_state.get(SESSION_KEY)


def current_job(kind: str | None = "train") -> Job | None:
    """The job to show: the followed one if the registry knows it, else the active one, else the latest.

    The fallbacks matter after a server restart (the URL names a job that no longer exists) and for a
    second browser tab, which should see the job that is running rather than nothing.
    """
    registry = peek_registry()
    if registry is None:
        return None
    job = registry.get(followed_job_id())
    if job is None or (kind is not None and job.kind != kind):
        active = registry.active()
        wanted = active is not None and (kind is None or active.kind == kind)
        job = active if wanted else registry.latest(kind)
    if job is not None:
        keep_in_url(job.id)
    return job


def followed_run_folder() -> Path | None:
    """The run folder of the job in the URL when that job is gone (the server restarted since), so the
    page can open the run instead of saying there is no job; ``None`` when the job is known or unknown."""
    job_id = followed_job_id()
    if not job_id:
        return None
    registry = get_registry()
    if registry.get(job_id) is not None:
        return None
    return registry.find_run(job_id)


def keep_in_url(job_id: str) -> None:
    """Put the id back into the URL when a page switch dropped it, without touching it otherwise."""
    st.session_state[SESSION_KEY] = job_id
    if st.query_params.get(QUERY_KEY) != job_id:
        st.query_params[QUERY_KEY] = job_id

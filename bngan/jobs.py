"""Background jobs: training (or any long task) in a thread, with status, stop, pause, single steps, resume.

The app keeps one :class:`JobRegistry` per server process (``st.cache_resource``); pages read job snapshots
and never touch the trainer. Threads never call streamlit. One job runs at a time: a second start is refused
with :class:`JobBusyError` (two trainings on a 2-core laptop would each run at half speed).
"""

from __future__ import annotations

import atexit
import re
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from bngan.config import TrainConfig
from bngan.errors import PROJECT_ERRORS
from bngan.runs import RunWriter, default_runs_dir, read_metrics
from bngan.training import StepEvent, Trainer

HISTORY_LIMIT = 20000
WATCHABLE_S = 0.2  # slow motion at least this slow gives every step its own sample grid
CHECKPOINT_EVERY_S = 30.0  # an app job also saves this often, so a killed server loses at most this much
SHUTDOWN_WAIT_S = 120.0  # how long an exiting server waits for its jobs to stop and save
JOBS_FILE = "jobs"  # in a run folder: the ids of the app jobs that trained it, one a line
JOB_ID = re.compile(r"[0-9a-f]{8}")
_REGISTRIES: weakref.WeakSet[JobRegistry] = weakref.WeakSet()


class JobState(str, Enum):
    """Where a job is. Only :class:`Job`'s methods change it, under the job's lock."""

    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"

    def __str__(self) -> str:  # messages and badges show "running", not "JobState.RUNNING"
        return self.value

    @property
    def active(self) -> bool:
        return self not in ENDED


ENDED = frozenset({JobState.STOPPED, JobState.FINISHED, JobState.FAILED})
STATES = tuple(state.value for state in JobState)


class JobBusyError(RuntimeError):
    """A job is already running; stop it (or wait) before starting another."""


@dataclass
class Job:
    """One background task. The worker thread reports through :meth:`report`, :meth:`record`, :meth:`finish`
    and :meth:`fail`, the UI controls it through :meth:`stop`, :meth:`pause`, :meth:`resume` and reads it
    through :meth:`snapshot`; every one of them holds the lock, so the UI never sees half an update."""

    id: str
    kind: str
    title: str
    folder: Path | None = None
    _state: JobState = JobState.STARTING
    step: int = 0
    total: int | None = None
    started: float = field(default_factory=time.time)
    elapsed_s: float = 0.0
    history: list[dict] = field(default_factory=list)
    samples: object = None  # latest sample grid tensor
    samples_step: int = 0
    bn_fit: list[dict] | None = None
    result: object = None
    error: str | None = None
    message: str = ""
    slow_motion_s: float = 0.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    resume_event: threading.Event = field(default_factory=threading.Event)
    manual_steps: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.resume_event.set()

    @property
    def state(self) -> JobState:
        return self._state

    # control (from the UI) --------------------------------------------------------------------------
    def stop(self) -> bool:
        """Ask the job to stop after the current step (it saves a checkpoint). Pressing twice is harmless."""
        with self.lock:
            if self._state in ENDED:
                return False
            self.stop_event.set()
            self.resume_event.set()
            self._state = JobState.STOPPING
        return True

    def pause(self) -> None:
        with self.lock:
            if self._state == JobState.RUNNING:
                self.resume_event.clear()
                self._state = JobState.PAUSED

    def resume(self) -> None:
        with self.lock:
            if self._state == JobState.PAUSED:
                self._state = JobState.RUNNING
                self.resume_event.set()

    def request_step(self, phase: str) -> None:
        """While paused: run exactly one discriminator ('d'), generator ('g') or full ('both') step."""
        with self.lock:
            self.manual_steps.append(phase)

    def next_manual_step(self) -> str | None:
        """The oldest step asked for with :meth:`request_step` (the worker takes it), or None."""
        with self.lock:
            return self.manual_steps.pop(0) if self.manual_steps else None

    def set_slow_motion(self, seconds: float) -> None:
        """Sleep this long after each training step (0: full speed)."""
        with self.lock:
            self.slow_motion_s = max(0.0, float(seconds))

    @property
    def active(self) -> bool:
        return self._state.active

    def eta_s(self) -> float | None:
        """Remaining time at the present pace: the mean training time per step plus the slow-motion pause."""
        if not self.total or self.step <= 0 or not self.elapsed_s:
            return None
        return (self.elapsed_s / self.step + self.slow_motion_s) * max(0, self.total - self.step)

    def snapshot(self) -> dict:
        """A consistent copy for the UI (the history list is copied, not shared; the state as plain text)."""
        with self.lock:
            return {"id": self.id, "kind": self.kind, "title": self.title, "state": self._state.value,
                    "step": self.step, "total": self.total, "elapsed_s": self.elapsed_s, "eta_s": self.eta_s(),
                    "history": list(self.history), "samples": self.samples, "samples_step": self.samples_step,
                    "bn_fit": self.bn_fit, "error": self.error, "message": self.message,
                    "folder": None if self.folder is None else str(self.folder), "result": self.result}

    # worker side ------------------------------------------------------------------------------------
    def report(self, *, step: int | None = None, total: int | None = None, message: str | None = None,
               elapsed_s: float | None = None, running: bool = True) -> None:
        """Progress from the worker; ``None`` leaves a field as it is. ``running`` moves a starting job to
        running (a job asked to stop stays stopping): pass False while it only prepares (loads data)."""
        with self.lock:
            if step is not None:
                self.step = int(step)
            if total is not None:
                self.total = int(total)
            if message is not None:
                self.message = str(message)
            if elapsed_s is not None:
                self.elapsed_s = float(elapsed_s)
            if running:
                self._begin()

    def preload(self, rows: list[dict]) -> None:
        """The earlier history of a resumed run (its metrics up to the checkpoint), so its curve is one."""
        with self.lock:
            self.history = list(rows[-HISTORY_LIMIT:])

    def record(self, event: StepEvent) -> None:
        """One training step: progress, the loss history, the latest samples and BN fit."""
        with self.lock:
            self.step = event.step
            self.elapsed_s = event.elapsed_s
            if len(self.history) < HISTORY_LIMIT:
                self.history.append(event.to_json())
            if event.samples is not None:
                self.samples, self.samples_step = event.samples, event.step
            if event.bn_fit is not None:
                self.bn_fit = event.bn_fit
            self._begin()

    def finish(self, result: object) -> None:
        """The work returned: stopped if a stop was asked for, else finished."""
        with self.lock:
            self.result = result
            self._state = JobState.STOPPED if self.stop_event.is_set() else JobState.FINISHED

    def fail(self, error: str) -> None:
        with self.lock:
            self.error, self._state = error, JobState.FAILED

    def _begin(self) -> None:
        """Starting -> running, or stopping if a stop came first (the caller holds the lock)."""
        if self._state == JobState.STARTING:
            self._state = JobState.STOPPING if self.stop_event.is_set() else JobState.RUNNING


class JobRegistry:
    """Jobs by id; at most one active at a time."""

    def __init__(self, runs_dir: str | Path | None = None) -> None:
        self.runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        _REGISTRIES.add(self)

    def shutdown(self, timeout: float = SHUTDOWN_WAIT_S) -> list[str]:
        """Stop every active job and wait (up to ``timeout`` s in all) for each to save its checkpoint and
        end; the ids of the jobs that were stopped. Run when the server exits (SIGTERM, Ctrl+C)."""
        stopped = [job for job in list(self.jobs.values()) if job.stop()]
        deadline = time.monotonic() + timeout
        for job in stopped:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
        return [job.id for job in stopped]

    def find_run(self, job_id: str | None) -> Path | None:
        """The run folder an app job trained into, also after a restart (when the job itself is gone):
        from its folder name or the folder's ``jobs`` file. ``None`` for an unknown or malformed id."""
        if not job_id or not JOB_ID.fullmatch(str(job_id)):
            return None
        job = self.get(job_id)
        if job is not None and job.folder is not None:
            return Path(job.folder)
        if not self.runs_dir.is_dir():
            return None
        for folder in sorted(self.runs_dir.glob(f"*-{job_id}")):
            if folder.is_dir():
                return folder
        for listing in self.runs_dir.glob(f"*/{JOBS_FILE}"):
            try:
                if job_id in listing.read_text().split():
                    return listing.parent
            except OSError:
                continue
        return None

    def get(self, job_id: str | None) -> Job | None:
        return self.jobs.get(job_id) if job_id else None

    def active(self) -> Job | None:
        return next((job for job in self.jobs.values() if job.active), None)

    def latest(self, kind: str | None = None) -> Job | None:
        jobs = [j for j in self.jobs.values() if kind is None or j.kind == kind]
        return max(jobs, key=lambda j: j.started) if jobs else None

    def start(self, kind: str, title: str, work: Callable[[Job], object], folder: Path | None = None,
              job_id: str | None = None) -> Job:
        """Run ``work(job)`` in a daemon thread; refuse while another job is active."""
        with self._lock:
            busy = self.active()
            if busy is not None:
                raise JobBusyError(f"job {busy.id} ({busy.title}) is {busy.state}: stop it or wait for it to "
                                   "finish before starting another")
            if job_id is None or job_id in self.jobs:
                job_id = uuid.uuid4().hex[:8]
            job = Job(id=job_id, kind=kind, title=title, folder=folder)
            self.jobs[job.id] = job
        job.thread = threading.Thread(target=self._work, args=(job, work), name=f"bngan-{kind}-{job.id}",
                                      daemon=True)
        job.thread.start()
        return job

    @staticmethod
    def _work(job: Job, work: Callable[[Job], object]) -> None:
        try:
            result = work(job)
        except PROJECT_ERRORS as exc:  # bad input or a diverging run: the message says it all
            job.fail(str(exc))
        except Exception as exc:  # a bug: keep the traceback for the report, keep the app alive
            job.fail(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        else:
            job.finish(result)

    def start_training(self, config: TrainConfig, resume_from: str | Path | None = None,
                       folder: str | Path | None = None) -> Job:
        """Train in the background into a run folder; ``resume_from`` continues a checkpoint (in ``folder``
        when given: the run's metrics then continue at the checkpoint's step). A new folder is named after
        the job, so the job's URL finds the folder again after a server restart."""
        job_id = uuid.uuid4().hex[:8]
        run_folder = Path(folder) if folder else self.runs_dir / (time.strftime("run-%Y%m%d-%H%M%S-") + job_id)
        title = f"train {config.dataset}, {config.preset}, λ={config.lambda_reg:g}"
        if resume_from is not None:
            title = f"resume {run_folder.name}: {config.dataset}, {config.preset}, λ={config.lambda_reg:g}"
        return self.start("train", title, lambda job: train_job(job, config, run_folder, resume_from),
                          folder=run_folder, job_id=job_id)


def shutdown_all(timeout: float = SHUTDOWN_WAIT_S) -> None:
    """At interpreter exit (Streamlit turns SIGTERM and SIGINT into a normal exit): stop every job, each
    saving its checkpoint, before the process ends. Without it the daemon training threads die inside torch
    and the process aborts ("terminate called without an active exception") with the last steps unsaved."""
    for registry in list(_REGISTRIES):
        registry.shutdown(timeout)


atexit.register(shutdown_all)


def train_job(job: Job, config: TrainConfig, folder: Path, resume_from: str | Path | None) -> dict:
    """The worker of a training job: build (or resume) the trainer, run it, honour pause/steps/stop."""
    job.report(message="loading data", running=False)
    if resume_from is not None:
        trainer = Trainer.resume(resume_from, steps=config.steps, epochs=config.epochs,
                                 time_budget_s=config.time_budget_s)
    else:
        trainer = Trainer(config)
    writer = RunWriter(folder, trainer)
    if resume_from is not None:  # the same run goes on: its curve starts at its first step, not here
        job.preload(read_metrics(writer.folder))
    with (writer.folder / JOBS_FILE).open("a") as listing:
        listing.write(job.id + "\n")
    job.report(step=trainer.step_count, total=trainer.steps_target(), message=f"training on {trainer.device}")

    def on_event(event: StepEvent) -> None:
        # teaching: at a pace one can follow, every step shows its samples; and a job's first step always
        # does (a resumed run starts past step 1, the step the trainer draws its first grid at)
        if job.slow_motion_s >= WATCHABLE_S or job.samples is None:
            with_samples(event)
        writer(event)
        job.record(event)
        if job.slow_motion_s:
            job.stop_event.wait(job.slow_motion_s)
        while not job.resume_event.is_set() and not job.stop_event.is_set():
            phase = job.next_manual_step()
            if phase is None:
                job.resume_event.wait(0.05)
                continue
            manual = with_samples(trainer.step(phase))  # a single step shows what it changed
            writer(manual)
            job.record(manual)

    def with_samples(event: StepEvent) -> StepEvent:
        """Give a step that has none the fixed-noise grid and the network's fit (about 0.1 s on a CPU)."""
        if event.samples is None:
            event.samples, event.bn_fit = trainer.sample_grid(), trainer.bn_fit()
        return event

    try:
        result = trainer.run(callback=on_event, stop=job.stop_event, checkpoint_path=writer.checkpoint,
                             checkpoint_every_s=CHECKPOINT_EVERY_S)
    finally:
        writer.close()
    return {"steps": result.steps, "elapsed_s": result.elapsed_s, "checkpoint": str(writer.checkpoint),
            "stopped": result.stopped}

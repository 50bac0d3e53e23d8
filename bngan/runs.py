"""Run folders: what a training run leaves on disk, written the same way by the CLI and the app.

    <run>/config.json      the TrainConfig
    <run>/structure.json   the latent structure
    <run>/metrics.jsonl    one line of losses per step
    <run>/samples_*.png    per-class sample grids (one row per class)
    <run>/checkpoint.pt    weights, optimisers, step (atomic, weights-only)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bngan.files import saved_step

if TYPE_CHECKING:  # run folders are listed by the app before torch is imported
    from bngan.training import StepEvent, Trainer

CHECKPOINT = "checkpoint.pt"
ENV_RUNS_DIR = "BNGAN_RUNS_DIR"


def default_runs_dir() -> Path:
    """``$BNGAN_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get(ENV_RUNS_DIR) or "runs")


class RunWriter:
    """Event callback that appends metrics and saves sample grids into a run folder.

    Every metrics line is flushed as it is written, so a killed process loses no step it finished. The
    trainer's step count when the writer opens is where the file continues: lines of later steps (written
    after the checkpoint a resume starts from) and a line torn by a crash are dropped first, so a resumed run
    has each step exactly once.
    """

    def __init__(self, folder: str | Path, trainer: Trainer) -> None:
        from bngan.files import atomic_write_text

        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise FileExistsError(f"the run folder {self.folder} is a file: give a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / "config.json", trainer.config.to_json())
        atomic_write_text(self.folder / "structure.json", trainer.structure.to_json())
        continue_metrics(self.folder, trainer.step_count)
        self._metrics = (self.folder / "metrics.jsonl").open("a")

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT

    def __call__(self, event: StepEvent) -> None:
        self._metrics.write(json.dumps(event.to_json()) + "\n")
        self._metrics.flush()
        if event.samples is not None:  # renamed into place whole: the Train page lists and reads grids meanwhile
            from torchvision.utils import save_image

            from bngan.files import atomic_write_bytes

            atomic_write_bytes(self.folder / f"samples_{event.step:06d}.png",
                               lambda handle: save_image(event.samples, handle, nrow=8, format="png"))

    def close(self) -> None:
        self._metrics.close()


def continue_metrics(folder: str | Path, step: int) -> int:
    """Keep the metrics lines of steps ``1..step`` (each once, in order) and drop the rest; returns how many
    lines were dropped. Rewritten atomically only when something must go."""
    from bngan.files import atomic_write_text

    path = Path(folder) / "metrics.jsonl"
    if not path.exists():
        return 0
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    kept, seen = [], set()
    for line in lines:
        try:
            row = json.loads(line)
            at = int(row["step"])
        except (ValueError, TypeError, KeyError):
            continue  # a line torn by a crash
        if not line.endswith("\n") or at > step or at in seen:
            continue
        seen.add(at)
        kept.append(line)
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(kept))
    return len(lines) - len(kept)


@dataclass
class RunInfo:
    folder: Path
    dataset: str
    steps: int
    modified: float

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT


def list_runs(root: str | Path | None = None) -> list[RunInfo]:
    """Run folders under ``root`` that hold a checkpoint, newest first."""
    base = Path(root) if root is not None else default_runs_dir()
    runs = []
    for ckpt in base.glob(f"*/{CHECKPOINT}"):
        try:
            config = json.loads((ckpt.parent / "config.json").read_text())
        except (OSError, json.JSONDecodeError):
            config = {}
        steps = saved_step(ckpt)  # the checkpoint's own step; older runs: the metrics rows
        if steps is None:
            lines = ckpt.parent / "metrics.jsonl"
            steps = sum(1 for _ in lines.open()) if lines.exists() else 0
        runs.append(RunInfo(ckpt.parent, str(config.get("dataset", "?")), steps, ckpt.stat().st_mtime))
    return sorted(runs, key=lambda r: r.modified, reverse=True)


def read_metrics(folder: str | Path) -> list[dict]:
    """The metrics lines of a run (a torn last line from a crash is skipped)."""
    path = Path(folder) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows

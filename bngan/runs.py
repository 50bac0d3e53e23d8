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

if TYPE_CHECKING:  # run folders are listed by the app before torch is imported
    from bngan.training import StepEvent, Trainer

CHECKPOINT = "checkpoint.pt"
ENV_RUNS_DIR = "BNGAN_RUNS_DIR"


def default_runs_dir() -> Path:
    """``$BNGAN_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get(ENV_RUNS_DIR) or "runs")


class RunWriter:
    """Event callback that appends metrics and saves sample grids into a run folder."""

    def __init__(self, folder: str | Path, trainer: Trainer) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config.json").write_text(trainer.config.to_json())
        (self.folder / "structure.json").write_text(trainer.structure.to_json())
        self._metrics = (self.folder / "metrics.jsonl").open("a")

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT

    def __call__(self, event: StepEvent) -> None:
        self._metrics.write(json.dumps(event.to_json()) + "\n")
        if event.samples is not None:
            from torchvision.utils import save_image

            self._metrics.flush()
            save_image(event.samples, self.folder / f"samples_{event.step:06d}.png", nrow=8)

    def close(self) -> None:
        self._metrics.close()


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
        lines = (ckpt.parent / "metrics.jsonl")
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

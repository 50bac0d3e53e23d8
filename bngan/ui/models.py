"""The trained models the pages offer: the two bundled defaults, uploads and run folders; loading them
(cached by path and modification time) and their measured effect matrices.

The two bundled defaults were trained with the same data, settings and seed and differ only in the drawn
structure (entangled: c1, c2 -> c3'; disentangled: ci -> ci'), so comparing them shows what the drawing does.
Their effect matrices are precomputed (``effects.json`` beside the checkpoint); any other model's is measured
on demand (a few seconds) and cached.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from bngan.ui import registry

if TYPE_CHECKING:
    from bngan.training import TrainedModel

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = ROOT / "assets" / "default" / "checkpoint.pt"  # $BNGAN_DEFAULT_MODEL overrides it
DISENTANGLED_CHECKPOINT = ROOT / "assets" / "default-disentangled" / "checkpoint.pt"
EFFECTS_FILE = "effects.json"
ON_DEMAND_SEEDS = 8  # noise draws per class when a matrix is measured in the app


def default_checkpoint() -> Path:
    return Path(os.environ.get("BNGAN_DEFAULT_MODEL") or DEFAULT_CHECKPOINT)


def bundled_options() -> dict[str, str]:
    """Path -> menu label of the bundled models that are on disk; ``$BNGAN_DEFAULT_MODEL`` replaces both."""
    default = default_checkpoint()
    options = {}
    if default.is_file():
        where = " · entangled (assets/default)" if default == DEFAULT_CHECKPOINT else ""
        options[str(default)] = f"Default model{where}"
    if default == DEFAULT_CHECKPOINT and DISENTANGLED_CHECKPOINT.is_file():
        options[str(DISENTANGLED_CHECKPOINT)] = "Default model · disentangled (assets/default-disentangled)"
    return options


def checkpoint_options(uploads: dict[str, str] | None = None) -> dict[str, str]:
    """Path -> menu label: the bundled models, uploads, then the runs, newest first."""
    from bngan.runs import list_runs

    options = bundled_options()
    options.update(uploads or {})
    for run in list_runs(registry.runs_dir()):
        options.setdefault(str(run.checkpoint), f"{run.folder.name} · {run.dataset} · {run.steps} steps")
    return options


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _load(path: str, mtime: float) -> TrainedModel:
    """A checkpoint's networks on the CPU; keyed by mtime too, so a run that saved again is reloaded."""
    from bngan.training import TrainedModel

    return TrainedModel.load(path)


def load_model(path: str) -> TrainedModel:
    """The cached model of ``path``; raises CheckpointError (a ValueError) or OSError with the reason."""
    return _load(path, Path(path).stat().st_mtime)


@st.cache_data(show_spinner="Measuring what each code does…", max_entries=16)
def _effects(path: str, mtime: float) -> dict:
    saved = Path(path).with_name(EFFECTS_FILE)
    if saved.is_file() and saved.stat().st_mtime >= mtime:  # written after the checkpoint: no torch needed
        return json.loads(saved.read_text())
    model = _load(path, mtime)
    from bngan.effects import measure_model

    return measure_model(model, seeds=ON_DEMAND_SEEDS, bootstrap=300)


def model_effects(path: str) -> dict:
    """``{"step", "matrix", "own", "readout"}``: the model's effect matrix, its agreement with its own drawing
    and what its code head reads back (bngan.effects.measure_model)."""
    return _effects(path, Path(path).stat().st_mtime)


def agreement_with(effects: dict, structure: dict) -> dict | None:
    """The agreement of a measured matrix with a (drawn) structure; None if the code counts differ."""
    import numpy as np

    from bngan.effects import structure_agreement
    from bngan.structure import LatentStructure

    matrix = effects["matrix"]
    if int(structure["k"]) != int(matrix["k"]):
        return None
    codes = np.asarray(matrix["effect"])[: int(matrix["k"])]
    return structure_agreement(codes, LatentStructure.from_json(structure))

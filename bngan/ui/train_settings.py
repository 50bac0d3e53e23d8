"""The Train page's form settings: their defaults, their allowed values, and their place in the URL.

Widget state dies with the browser tab, so the settings that differ from the defaults also live in the URL
(``?train=<compact JSON>``): a reload, or a link sent to a colleague, opens the form as it was. Whatever the
URL holds is checked against the same choices and minimums the widgets use, so a hand-edited URL falls back
to the defaults setting by setting, never to an error (Streamlit refuses a widget value out of its range).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import streamlit as st

SETTINGS_KEY = "train_settings"  # survives page switches (widget state does not)
QUERY_KEY = "train"
MAX_QUERY_CHARS = 4000

DATASETS = {
    "digits": "digits (bundled, no download)",
    "mnist": "MNIST",
    "fashion-mnist": "Fashion-MNIST",
    "folder": "image folder (one sub-folder per class)",
    "dsprites": "dSprites (rendered by code)",
}
REG_MODES = {
    "paper": "paper: Eq. 6 (pull parents, push independent nodes)",
    "gaussian": "gaussian: linear-Gaussian likelihood (Eq. 3-5)",
    "infogan": "infogan: c' = c only (no structure)",
}
DEFAULTS: dict[str, Any] = {
    "dataset": "digits", "data_dir": "", "profile": "minority", "minority": [8, 9], "ir": 10.0,
    "preset": "fast", "lambda_reg": 0.1, "reg_mode": "paper", "schedule": "steps", "steps": 1000,
    "epochs": 5.0, "device": "auto", "seed": 0, "batch_size": 64, "sample_every": 50,
    "checkpoint_every": 500, "code_prior": "normal", "reg_through": "both", "adv_loss": "least-squares",
    "spectral_norm": False, "diffaugment": False, "ema_decay": 0.0, "lecam": 0.0,
}
# the menus' options and the number inputs' ranges: the widgets and the URL check read the same tables
CHOICES: dict[str, tuple[str, ...]] = {
    "dataset": tuple(DATASETS), "profile": ("none", "standard", "minority"), "preset": ("fast", "paper"),
    "reg_mode": tuple(REG_MODES), "schedule": ("steps", "epochs"), "code_prior": ("normal", "uniform"),
    "reg_through": ("both", "generator"), "adv_loss": ("least-squares", "hinge"),
}
RANGES: dict[str, tuple[float, float | None]] = {
    "ir": (1.0, None), "lambda_reg": (0.0, None), "steps": (1, None), "epochs": (0.1, None), "seed": (0, None),
    "batch_size": (2, None), "sample_every": (1, None), "checkpoint_every": (1, None),
    "ema_decay": (0.0, 0.99999), "lecam": (0.0, None),
}
MAX_CLASSES = 10


def settings() -> dict[str, Any]:
    """This session's settings: on its first run the defaults with what the URL holds on top."""
    if SETTINGS_KEY not in st.session_state:
        st.session_state[SETTINGS_KEY] = {**DEFAULTS, **settings_from_url(st.query_params.get(QUERY_KEY))}
    return st.session_state[SETTINGS_KEY]


def keep_in_url() -> None:
    """Put the settings that differ from the defaults into the URL (none when none differ, so a first visit's
    URL stays short). app.py calls this on every page: the session's first page reads the URL, whichever
    page it is, and a page switch drops the query string."""
    changed = {k: v for k, v in settings().items() if k in DEFAULTS and v != DEFAULTS[k]}
    encoded = json.dumps(changed, separators=(",", ":"), sort_keys=True) if changed else None
    if encoded is None:
        if QUERY_KEY in st.query_params:
            del st.query_params[QUERY_KEY]
    elif st.query_params.get(QUERY_KEY) != encoded:
        st.query_params[QUERY_KEY] = encoded


def settings_from_url(text: str | None) -> dict[str, Any]:
    """The valid settings a URL holds (unknown keys and bad values dropped one by one); {} for none."""
    if not text or len(text) > MAX_QUERY_CHARS:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, Mapping):
        return {}
    return {k: v for k, v in ((k, _valid(k, v)) for k, v in data.items() if k in DEFAULTS) if v is not None}


def _valid(name: str, value: Any) -> Any:
    """``value`` as the setting's type when it is allowed, else None."""
    default = DEFAULTS[name]
    if isinstance(default, bool):
        return value if isinstance(value, bool) else None
    if name == "minority":
        ok = isinstance(value, list) and all(type(c) is int and 0 <= c < MAX_CLASSES for c in value)
        return sorted(set(value)) if ok else None
    if isinstance(default, str):
        if not isinstance(value, str) or len(value) > 1000:
            return None
        return value if name not in CHOICES or value in CHOICES[name] else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if isinstance(default, int) and value != int(value):
        return None
    value = type(default)(value)
    low, high = RANGES.get(name, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        return None
    return value

"""Settings forms: one prefix per page, each widget's key primed with its default the first time it is drawn.

Priming through the session (instead of a widget's ``value=``) lets a callback or another page set a value
without Streamlit's "default value and session state" warning, and the page can read a setting it has not
drawn (a collapsed expander) with :meth:`Form.value`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st


@dataclass(frozen=True)
class Form:
    prefix: str
    defaults: Mapping[str, Any]

    def key(self, name: str) -> str:
        """The widget key of setting ``name``, primed with its default the first time."""
        key = f"{self.prefix}{name}"
        st.session_state.setdefault(key, self.defaults[name])
        return key

    def value(self, name: str) -> Any:
        """The setting's current value (its default while its widget was never drawn)."""
        return st.session_state.get(f"{self.prefix}{name}", self.defaults[name])

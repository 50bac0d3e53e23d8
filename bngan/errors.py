"""The errors a user can cause, as one family, so the CLI and the app report them as one clear line.

Everything bngan raises for bad settings or input derives from :class:`BnganError`: :class:`InvalidSettingError`
(also a ``ValueError``, so ``except ValueError`` around a validation keeps working) is the base of
StructureError, DataError, ConfigError, CheckpointError and ExperimentError; a diverging run is a
DivergenceError (also a ``RuntimeError``). File problems are ``OSError``. Anything else is a bug and keeps its
traceback. This module imports nothing heavy: pages and reports import it before torch loads.
"""

from __future__ import annotations


class BnganError(Exception):
    """A problem the user can fix; its message is the whole report (no traceback is shown)."""


class InvalidSettingError(BnganError, ValueError):
    """A setting or an input out of range, unknown or inconsistent; the message names it."""


PROJECT_ERRORS: tuple[type[BaseException], ...] = (BnganError, OSError)
"""What background jobs (training, experiments) report as a one-line message; any other error is a bug and
keeps its traceback."""

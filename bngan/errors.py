"""The errors a user can cause, gathered so the CLI and the app turn them into one clear message.

Every validation error in bngan is a ``ValueError`` subclass (StructureError, DataError, ConfigError,
CheckpointError); file problems are ``OSError``; a diverging run is a ``DivergenceError``.
"""

from bngan.training import DivergenceError

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, DivergenceError)

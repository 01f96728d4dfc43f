"""Typed errors users can act on.

Every error raised for bad input or configuration names what is wrong (column,
shop, row, parameter) and what to do. The CLI turns these into one line on
stderr and exit code 2.
"""

from __future__ import annotations


class CausalMMMError(Exception):
    """Base class of every error this package raises on purpose."""


class DataValidationError(CausalMMMError, ValueError):
    """The input data cannot be used as given (message names column/shop/row and the fix)."""


class ConfigError(CausalMMMError, ValueError):
    """A configuration value is out of range (message names the field and its allowed range)."""


class TrainingError(CausalMMMError, RuntimeError):
    """Training cannot continue (e.g. NaN/inf loss); the message says at which epoch/step."""


class ModelFileError(CausalMMMError, ValueError):
    """A saved model cannot be loaded or does not match the data it is used with."""


def require(ok: bool, name: str, value: object, allowed: str) -> None:
    """Raise :class:`ConfigError` naming the field, its value and the allowed range."""
    if not ok:
        raise ConfigError(f"{name}={value!r} is out of range; it must be {allowed}")


class TrainingInterrupted(TrainingError):
    """SIGINT/SIGTERM stopped training; a checkpoint was saved when checkpointing.
    ``signum`` is the signal number (the CLI exits with ``128 + signum``)."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum

"""Exceptions of the engine, under one base class, and the C status table."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error anvil's engine raises."""


class InvalidBarsError(EngineError, ValueError):
    """Bars that cannot be backtested: bad prices, times or lengths."""


class InvalidSignalError(EngineError, ValueError):
    """A signal of the wrong shape, type or values."""


class InvalidConfigError(EngineError, ValueError):
    """A Config field out of its range."""


class CoreError(EngineError):
    """The C core refused a call that the Python layer should have caught: a bug."""


# C status code -> (exception class, what it means). Codes come from csrc/anvil.h.
STATUS_NAMES = {
    "ANVIL_E_NULL": (CoreError, "a required pointer was NULL"),
    "ANVIL_E_SIZE": (InvalidBarsError, "a length or count is out of range"),
    "ANVIL_E_PRICE": (InvalidBarsError, "a price is NaN, infinite, not positive, or OHLC disagree"),
    "ANVIL_E_SIGNAL": (InvalidSignalError, "a signal value is outside the allowed set"),
    "ANVIL_E_CONFIG": (InvalidConfigError, "a config value is out of range"),
    "ANVIL_E_CAPACITY": (CoreError, "an output buffer was too small"),
    "ANVIL_E_KIND": (InvalidConfigError, "an unknown signal kind, fill mode or order type"),
    "ANVIL_E_STATE": (CoreError, "a stepping call out of sequence"),
}

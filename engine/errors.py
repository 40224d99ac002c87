"""Exceptions of the engine, under one base class, and the C status table."""

from __future__ import annotations

import difflib
from typing import Callable, Iterable


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


def did_you_mean(
    word: object,
    options: Iterable[str],
    *,
    n: int = 1,
    cutoff: float = 0.6,
    show: Callable[[str], str] | None = None,
    before: str = " (",
    after: str = ")",
) -> str:
    """The hint an error about an unknown name ends with: `` (did you mean 'fast'?)``.

    Args:
        word: the name given.
        options: the names it could have meant.
        n, cutoff: how many close names at most, and how close (``difflib``).
        show: how a matched option is shown (e.g. a key as the name it stands for).
        before, after: around ``did you mean ...?`` (``"; "`` and ``""`` read as a clause).

    Returns:
        The hint, or ``""`` when no option is close.
    """
    close = difflib.get_close_matches(str(word), list(options), n=n, cutoff=cutoff)
    if show is not None:
        close = list(dict.fromkeys(show(c) for c in close))
    return f"{before}did you mean {' or '.join(map(repr, close))}?{after}" if close else ""


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

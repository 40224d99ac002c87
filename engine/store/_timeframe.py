"""Timeframes: the fixed bar widths the store keys series by (``1m``, ``5m``, ``1h``, ``1d``, ``1w``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.store._errors import TimeframeError

_NS = {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
_UNIT_WORDS = {
    "s": "s",
    "sec": "s",
    "second": "s",
    "m": "m",
    "min": "m",
    "minute": "m",
    "h": "h",
    "hr": "h",
    "hour": "h",
    "d": "d",
    "day": "d",
    "w": "w",
    "wk": "w",
    "week": "w",
}
_WORDS = {"daily": "1d", "hourly": "1h", "weekly": "1w", "minutely": "1m"}
_PATTERN = re.compile(r"^\s*(\d*)\s*([a-z]+?)s?\s*$")
# Monday 1970-01-05: weekly buckets start on Mondays; every other width is aligned to the epoch.
_MONDAY_NS = 4 * _NS["d"]
MAX_TIMEFRAME_NS = 366 * _NS["d"]
"""The widest timeframe anvil reads (a year of days, ``52w`` and ``366d`` included): wider
bars are not a trading series, and the width must stay far inside int64 nanoseconds."""


@dataclass(frozen=True, order=True)
class Timeframe:
    """A bar width: ``ns`` nanoseconds, written canonically as ``name`` (``"5m"``)."""

    ns: int
    name: str

    @property
    def origin_ns(self) -> int:
        """Where bucket boundaries start: a Monday for weeks, the epoch otherwise."""
        return _MONDAY_NS if self.ns % _NS["w"] == 0 else 0

    def __str__(self) -> str:
        return self.name


def _canonical(ns: int) -> str:
    for unit in ("w", "d", "h", "m", "s"):
        if ns % _NS[unit] == 0:
            return f"{ns // _NS[unit]}{unit}"
    raise TimeframeError(f"a timeframe of {ns} ns is not a whole number of seconds")


def parse_timeframe(text: str | Timeframe) -> Timeframe:
    """Read ``"1m"``, ``"5min"``, ``"1h"``, ``"4 hours"``, ``"1d"``, ``"daily"``, ``"1w"``.

    Raises:
        TimeframeError: for anything else, months included (they have no fixed width).
    """
    if isinstance(text, Timeframe):
        return text
    if not isinstance(text, str):
        raise TimeframeError(f"a timeframe is a string such as '1m', '1h' or '1d', not {text!r}")
    if re.fullmatch(r"\s*\d*\s*(M|mo|mon|month|months|y|yr|year|years)\s*", text):
        raise TimeframeError(
            f"timeframe {text!r}: months and years have no fixed width; use minutes ('1m'), "
            "hours ('1h'), days ('1d') or weeks ('1w')"
        )
    low = text.strip().lower()
    low = _WORDS.get(low, low)
    m = _PATTERN.match(low)
    unit = _UNIT_WORDS.get(m.group(2)) if m else None
    if m is None or unit is None:
        raise TimeframeError(
            f"timeframe {text!r} is not one anvil reads; write a count and a unit, e.g. "
            "'1m', '5m', '15m', '1h', '4h', '1d', '1w'"
        )
    digits = m.group(1).lstrip("0") if m.group(1) else "1"
    if len(digits) > 12:
        raise _too_wide(text)
    count = int(digits or 0)
    if count <= 0:
        raise TimeframeError(f"timeframe {text!r} must be a positive width")
    ns = count * _NS[unit]
    if ns > MAX_TIMEFRAME_NS:
        raise _too_wide(text)
    return Timeframe(ns, _canonical(ns))


def _too_wide(text: str) -> TimeframeError:
    return TimeframeError(f"timeframe {text[:40]!r} is wider than anvil reads; the widest is 366d (or 52w)")


def infer_timeframe(ts: np.ndarray) -> Timeframe | None:
    """The most common step between bars (the smallest, on a tie), or None for fewer
    than three bars or a step that is not whole seconds.

    Daily stock bars (with weekends and holidays) come out as ``1d``.
    """
    if len(ts) < 3:
        return None
    steps, counts = np.unique(np.diff(ts), return_counts=True)
    step = int(steps[np.argmax(counts)])
    if step <= 0 or step % 10**9:
        return None
    return Timeframe(step, _canonical(step))

"""Filters: let a signal open positions only when conditions allow, or pause it.

    signal = time_of_day(signal, bars.ts, "08:00", "17:00", tz="Europe/London")
    signal = volatility_band(signal, bars.close, low=0.05, high=0.30)
    signal = drawdown_pause(signal, bars.close, max_drawdown=0.10, pause_bars=20)

Each takes a signal (int8 with HOLD, or float exposures with NaN) and returns one
of the same dtype; each is causal (bar t reads inputs up to bar t only).

What an entry is. The position a signal holds is its last value that is not
HOLD / NaN (flat before the first). A bar is an *entry* when its value asks for a
side — long or short — other than the side held before it: from flat to a
position (for floats, from 0 to a non-zero exposure), or a flip. Exits (0),
HOLD / NaN and resizing on the same side (0.5 -> 1.0) are not entries. Where a
filter blocks entries, an entry from flat becomes HOLD / NaN (change nothing) and
a flip becomes 0 (the old position closes, the new one does not open). The
position held is that of the *filtered* signal: a long blocked outside the window
is taken at the first allowed bar whose value still says long (a state signal of
1s enters when the window opens; an event signal — 1 once, then HOLD — does not).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import numpy as np
import pandas as pd

from strategies.blocks import _arrays
from strategies.blocks.sizing import realised_volatility

_NS_PER_SECOND = 1_000_000_000
_NS_PER_DAY = 86_400 * _NS_PER_SECOND


def allow_entries(signal: Any, allowed: Any) -> np.ndarray:
    """Block entries at bars where ``allowed`` is False; everything else passes.

    See the module docstring for what an entry is and what a blocked one becomes.

    Args:
        signal: int8 (1, -1, 0, HOLD) or float exposures (NaN).
        allowed: bool per bar, True where a position may open.

    Returns:
        The filtered signal, same dtype as ``signal``.

    Raises:
        InvalidSignalError: a signal value outside the allowed set.
        ValueError: ``allowed`` of another length.
    """
    sig = _arrays.signal(signal)
    ok = _arrays.flags(allowed, "allowed", len(sig))
    return _gate(sig, ok)


def _gate(sig: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``allow_entries`` on checked arrays, vectorized.

    The filtered position p obeys: at an allowed bar p = the signal's value (if
    not HOLD / NaN); at a blocked bar p keeps its value while the signal stays on
    p's side (or says nothing) and drops to 0 otherwise — and stays 0 until the
    next allowed bar with a value. So p is the signal's held value when no
    blocked bar since the last allowed value disagreed with that value's side,
    and 0 otherwise.
    """
    missing = _arrays.is_missing(sig)
    sgn = np.where(missing, 0, np.sign(sig)).astype(np.int8)
    last_set = _arrays.last_index(ok & ~missing)
    set_side = np.where(last_set >= 0, sgn[np.maximum(last_set, 0)], 0)
    blocked = ~ok & ~missing
    last_break = _arrays.last_index(blocked & (sgn != set_side))
    position = np.where((last_set >= 0) & (last_break < last_set), _arrays.held(sig), 0)
    held_side = np.zeros(len(sig), dtype=np.int8)
    held_side[1:] = _arrays.side(position[:-1])

    out = sig.copy()
    out[blocked & (held_side != 0) & (sgn != held_side)] = 0  # a flip or exit: close only
    out[blocked & (held_side == 0) & (sgn != 0)] = _arrays.missing_value(sig.dtype)
    return out


def _utc_times(ts: Any, n: int) -> pd.DatetimeIndex:
    """Bar times as a UTC DatetimeIndex: int64 ns (``engine.Bars.ts``), datetime64
    (naive = UTC) or timezone-aware pandas times."""
    if isinstance(ts, (pd.Series, pd.Index)) and isinstance(ts.dtype, pd.DatetimeTZDtype):
        idx = pd.DatetimeIndex(ts).tz_convert("UTC")
    else:
        arr = _arrays.as_1d(ts, "ts")
        if arr.dtype.kind in "iu":
            idx = pd.DatetimeIndex(arr.astype(np.int64).view("datetime64[ns]")).tz_localize("UTC")
        elif arr.dtype.kind == "M":
            idx = pd.DatetimeIndex(arr).tz_localize("UTC")
        else:
            raise TypeError(
                f"ts must be bar times — int64 nanoseconds since the epoch (engine.Bars.ts) "
                f"or datetime64 — not {arr.dtype}"
            )
    if len(idx) != n:
        raise ValueError(f"ts has {len(idx)} values but signal has {n}: give the times of the same bars")
    return idx.as_unit("ns")


def _clock(name: str, value: Any) -> int:
    """A time of day ("09:30", "09:30:15" or datetime.time) as ns after midnight."""
    if isinstance(value, str):
        try:
            value = dt.time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} is {value!r}; give a time of day such as '09:30'") from None
    if not isinstance(value, dt.time):
        raise TypeError(f"{name} must be a time of day such as '09:30' or datetime.time, not {value!r}")
    if value.tzinfo is not None:
        raise ValueError(f"{name} has a time zone; give a plain time and the zone as tz=")
    seconds = value.hour * 3600 + value.minute * 60 + value.second
    return seconds * _NS_PER_SECOND + value.microsecond * 1000


def in_window(ts: Any, start: Any, end: Any, tz: str = "UTC") -> np.ndarray:
    """True for bars whose local time of day is in ``[start, end)``.

    The window is the bar's own time stamp (``engine.Bars.ts``, UTC) read on the
    wall clock of ``tz`` (daylight saving included). ``start`` is in the window,
    ``end`` is not; when ``start > end`` the window wraps midnight ("22:00" to
    "06:00").

    Raises:
        ValueError: ``start == end``, an unreadable time or an unknown ``tz``.
    """
    idx = _utc_times(ts, len(ts))
    return _in_window(idx, start, end, tz)


def _zone_name(tz: Any) -> str:
    """An IANA zone name, checked before anything reads it: pandas would read some
    strings (``dateutil/...``) as file paths; ZoneInfo takes only zone keys."""
    if not isinstance(tz, str) or not tz or tz.startswith(("/", "dateutil")) or ".." in tz:
        raise ValueError("not an IANA time-zone name")
    if tz != "UTC" and tz not in zoneinfo.available_timezones():
        raise ValueError("no such time zone")
    return tz


def _in_window(idx: pd.DatetimeIndex, start: Any, end: Any, tz: str) -> np.ndarray:
    lo, hi = _clock("start", start), _clock("end", end)
    if lo == hi:
        raise ValueError(
            f"start and end are both {start!r}: the window would be empty; for every hour leave the filter out"
        )
    try:
        zone = zoneinfo.ZoneInfo(_zone_name(tz))
        local = idx.tz_convert(zone)
    except (KeyError, ValueError, TypeError, AttributeError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise ValueError(f"tz is {tz!r} ({exc}); give a time-zone name such as 'America/New_York'") from None
    tod = local.tz_localize(None).asi8 % _NS_PER_DAY
    if lo < hi:
        return (tod >= lo) & (tod < hi)
    return (tod >= lo) | (tod < hi)


def time_of_day(
    signal: Any,
    ts: Any,
    start: Any,
    end: Any,
    tz: str = "UTC",
    flat_outside: bool = False,
) -> np.ndarray:
    """Open positions only within a daily time window.

    A bar is in the window when its time stamp, on the wall clock of ``tz``, is in
    ``[start, end)`` (see ``in_window``; a window may wrap midnight). The time
    tested is that of the bar whose close the signal is read at: with
    ``fill="next_open"`` an allowed entry fills at the next bar's open, which may
    fall just past ``end``; with ``fill="close"`` it fills inside the window.

    Args:
        signal: int8 (1, -1, 0, HOLD) or float exposures (NaN).
        ts: bar times: int64 ns UTC (``engine.Bars.ts``), datetime64, or pandas times.
        start: first time of day in the window, e.g. "08:00" or ``datetime.time``.
        end: first time of day after the window.
        tz: the time zone of ``start`` and ``end`` (IANA name), default UTC.
        flat_outside: False — outside the window entries are blocked (module
            docstring) and open positions are kept; True — the signal is 0 (flat)
            at every bar outside the window.

    Returns:
        The filtered signal, same dtype as ``signal``.

    Raises:
        InvalidSignalError: a signal value outside the allowed set.
        ValueError: mismatched lengths, ``start == end``, a bad time or zone.
    """
    if not isinstance(flat_outside, (bool, np.bool_)):
        raise TypeError(f"flat_outside must be True or False, not {flat_outside!r}")
    sig = _arrays.signal(signal)
    ok = _in_window(_utc_times(ts, len(sig)), start, end, tz)
    if flat_outside:
        out = sig.copy()
        out[~ok] = 0
        return out
    return _gate(sig, ok)


def volatility_band(
    signal: Any,
    close: Any,
    low: float,
    high: float,
    lookback: int = 20,
    periods_per_year: float = 252.0,
    *,
    returns: str = "log",
) -> np.ndarray:
    """Open positions only while realised volatility is within ``[low, high]``.

    ``vol[t] = realised_volatility(close, lookback, periods_per_year, returns)``
    (annualised std of the last ``lookback`` returns up to bar t). Entries are
    blocked where ``vol[t] < low``, ``vol[t] > high`` or during the warm-up
    (``t < lookback``); exits always pass.

    Args:
        signal: int8 (1, -1, 0, HOLD) or float exposures (NaN).
        close: closing prices, one per bar.
        low: lowest volatility that allows an entry, >= 0 (0.05 = 5 % a year).
        high: highest, > low (``math.inf`` for no ceiling).
        lookback, periods_per_year, returns: as in ``realised_volatility``.

    Returns:
        The filtered signal, same dtype as ``signal``.

    Raises:
        InvalidSignalError: a signal value outside the allowed set.
        ValueError: mismatched lengths, a bad price or parameter, named.
    """
    sig = _arrays.signal(signal)
    c = _arrays.prices(close, "close", len(sig))
    lo = _arrays.number("low", low, low=0.0)
    hi = _arrays.number("high", high, low=lo, low_open=True, allow_inf=True)
    vol = realised_volatility(c, lookback, periods_per_year, returns)
    return _gate(sig, (vol >= lo) & (vol <= hi))


def _pauses(position: np.ndarray, close: np.ndarray, max_dd: float, pause_bars: int) -> list[int]:
    """The bars at which the paper equity's drawdown first exceeds ``max_dd`` after
    each (re)start. Vectorized over growing chunks, and bit for bit the loop
    ``e *= 1 + p[t-1] * r[t]; peak = max(peak, e); hit if 1 - e / peak > max_dd``."""
    n = len(position)
    growth = np.ones(n)
    growth[1:] = 1.0 + position[:-1] * (close[1:] / close[:-1] - 1.0)
    hits: list[int] = []
    s = 0
    while s < n - 1:
        equity, peak, start, size, hit = 1.0, 1.0, s + 1, 256, -1
        while start < n:
            stop = min(n, start + size)
            e = np.cumprod(np.concatenate(([equity], growth[start:stop])))[1:]
            pk = np.maximum.accumulate(np.maximum(e, peak))
            over = np.flatnonzero(1.0 - e / pk > max_dd)
            if over.size:
                hit = start + int(over[0])
                break
            equity, peak, start, size = float(e[-1]), float(pk[-1]), stop, size * 2
        if hit < 0:
            break
        hits.append(hit)
        s = hit + pause_bars  # flat through the pause; restart with equity = peak = 1
    return hits


def drawdown_pause(signal: Any, close: Any, max_drawdown: float, pause_bars: int) -> np.ndarray:
    """Go flat for ``pause_bars`` bars whenever the signal's own drawdown is too deep.

    The signal's paper equity starts at 1 and grows by ``1 + p[t-1] * r[t]`` at
    bar t, where ``p`` is the position the *output* holds (its last value that
    is not HOLD / NaN; 1 / -1 for int signals, the exposure for floats) and
    ``r[t] = close[t] / close[t-1] - 1`` — no costs, no risk exits. When
    ``1 - equity[t] / peak[t] > max_drawdown`` (peak = running maximum since the
    last restart), the output is 0 at bars ``t .. t + pause_bars - 1``; at bar
    ``s = t + pause_bars`` the output is the position the input holds at s
    (resuming even an event signal's open position) and the paper equity restarts
    with its peak reset. O(n).

    Args:
        signal: int8 (1, -1, 0, HOLD) or float exposures (NaN).
        close: closing prices, one per bar.
        max_drawdown: the drawdown that triggers a pause, in (0, 1) (0.1 = 10 %).
        pause_bars: bars to stay flat, at least 1 (the trigger bar counts).

    Returns:
        The paused signal, same dtype as ``signal``.

    Raises:
        InvalidSignalError: a signal value outside the allowed set.
        ValueError: mismatched lengths, a bad price or parameter, named.
    """
    sig = _arrays.signal(signal)
    c = _arrays.prices(close, "close", len(sig))
    max_dd = _arrays.number("max_drawdown", max_drawdown, low=0.0, high=1.0, low_open=True, high_open=True)
    pause = _arrays.count("pause_bars", pause_bars, 1)
    wanted = _arrays.held(sig)
    out = sig.copy()
    for hit in _pauses(wanted.astype(np.float64), c, max_dd, pause):
        out[hit : hit + pause] = 0
        if hit + pause < len(out):
            out[hit + pause] = wanted[hit + pause]
    return out

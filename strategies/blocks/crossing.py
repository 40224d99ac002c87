"""Crossings and entry/exit events, and the position a signal asks for.

    up = crossover(fast, slow)            # bool per bar: fast crossed above slow
    down = crossunder(fast, slow)
    signal = from_entries_exits(up, down) # int8: 1 at entries, 0 at exits, HOLD elsewhere
    pos = effective_position(signal)      # 1 / 0 at every bar

Everything here is causal: the value at bar t reads inputs up to bar t only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine import HOLD
from strategies.blocks import _arrays


def _sides(a: Any, b: Any) -> np.ndarray:
    """sign(a - b) per bar as float: -1, 0, 1, or NaN where either side is NaN."""
    arr_a = _arrays.numbers(a, "a")
    if np.ndim(b) == 0:
        if isinstance(b, bool) or not isinstance(b, (int, float, np.integer, np.floating)):
            raise TypeError(f"b must be a number or an array of numbers, not {b!r}")
        arr_b = np.full(len(arr_a), float(b))
    else:
        arr_b = _arrays.numbers(b, "b")
        _arrays.same_length(arr_b, "b", len(arr_a), other="a")
    with np.errstate(invalid="ignore"):  # inf - inf is NaN: no side, no cross
        return np.sign(arr_a - arr_b)


def _last_side_before(s: np.ndarray) -> np.ndarray:
    """For each bar, the side (-1 / 1) of the last earlier bar where a != b, when
    every bar since then had a == b; 0 when unknown (no such bar, or a NaN since)."""
    changes = s != 0  # NaN != 0 is True: a NaN also starts a new run
    last = _arrays.last_index(changes)
    code = np.where(np.isnan(s), 0.0, s)
    state = np.where(last >= 0, code[np.maximum(last, 0)], 0.0)
    before = np.empty_like(state)
    before[:1] = 0.0
    before[1:] = state[:-1]
    return before


def crossover(a: Any, b: Any) -> np.ndarray:
    """True at bars where ``a`` crosses above ``b``.

    ``a`` crosses above ``b`` at bar t when ``a[t] > b[t]`` and, at the last earlier
    bar where the two differed, ``a`` was below ``b`` — with the bars between (if
    any) having ``a == b``. So below → equal → above is one cross (at "above"), and
    a touch (above → equal → above) is none. A NaN on either side (e.g. indicator
    warm-up) breaks the chain: there is no cross while either side is NaN, nor at
    the first bar after one.

    Args:
        a: the series that crosses, one value per bar.
        b: the level it crosses: a series of the same length, or a number.

    Returns:
        A bool array, one value per bar of ``a``.

    Raises:
        ValueError: ``a`` and ``b`` differ in length or are not 1-D.
        TypeError: non-numeric input.
    """
    s = _sides(a, b)
    return (s == 1) & (_last_side_before(s) == -1)


def crossunder(a: Any, b: Any) -> np.ndarray:
    """True at bars where ``a`` crosses below ``b`` (``crossover`` mirrored).

    ``a[t] < b[t]`` and, at the last earlier bar where they differed (with only
    equal bars since), ``a`` was above ``b``; never across a NaN.
    """
    s = _sides(a, b)
    return (s == -1) & (_last_side_before(s) == 1)


def from_entries_exits(
    entries: Any,
    exits: Any,
    short_entries: Any = None,
    short_exits: Any = None,
) -> np.ndarray:
    """An int8 signal from entry and exit events (bools, one per bar).

    Emits 1 at a long entry, -1 at a short entry, 0 at an exit that closes the
    position, and ``HOLD`` elsewhere. Exits close only their own side: a long exit
    while short (or flat) is ignored (HOLD), as is a short exit while long. The
    position the events imply is tracked from a flat start, without risk exits —
    the engine ignores an exit that finds a stop already closed the position.

    Several events on one bar:
      - an entry and an exit of the same side: the exit wins and the entry is
        dropped (the conservative reading, as the engine takes a bar that touches
        both stop and take-profit as the stop);
      - a long entry and a short entry, both left after the rule above: both are
        dropped (HOLD);
      - an entry and the other side's exit: the entry wins (a reversal from the
        other side, or a plain entry).

    Args:
        entries: True where a long position opens.
        exits: True where a long position closes.
        short_entries: True where a short position opens (None: never).
        short_exits: True where a short position closes (None: never; a short
            then ends only at a long entry). Needs ``short_entries``.

    Returns:
        An int8 signal: 1, -1, 0 or ``engine.HOLD``.

    Raises:
        ValueError: lengths differ, a value is not 0/1, or ``short_exits`` is given
            without ``short_entries``.
        TypeError: an input that is not bools (or 0/1 integers).
    """
    long_in = _arrays.flags(entries, "entries")
    n = len(long_in)
    long_out = _arrays.flags(exits, "exits", n)
    if short_entries is None:
        if short_exits is not None:
            raise ValueError(
                "short_exits is given without short_entries: pass short_entries too, "
                "or leave both out for a long-only signal"
            )
        short_in = np.zeros(n, dtype=bool)
        short_out = np.zeros(n, dtype=bool)
    else:
        short_in = _arrays.flags(short_entries, "short_entries", n)
        short_out = np.zeros(n, dtype=bool) if short_exits is None else _arrays.flags(short_exits, "short_exits", n)

    go_long = long_in & ~long_out
    go_short = short_in & ~short_out
    both = go_long & go_short
    go_long &= ~both
    go_short &= ~both

    entry = go_long | go_short
    entry_side = np.where(go_long, 1, np.where(go_short, -1, 0)).astype(np.int8)
    last_entry = _arrays.last_index(entry)
    side = np.where(last_entry >= 0, entry_side[np.maximum(last_entry, 0)], 0)
    last_long_exit = _arrays.last_index(long_out)
    last_short_exit = _arrays.last_index(short_out)
    # The position after each bar's events: the last entry's side, unless an exit
    # of that side came after it (an exit on the entry's own bar was resolved above).
    open_long = (side == 1) & (last_long_exit < last_entry)
    open_short = (side == -1) & (last_short_exit < last_entry)
    position = np.where(open_long, 1, np.where(open_short, -1, 0))
    before = np.concatenate(([0], position[:-1])) if n else position

    out = np.full(n, HOLD, dtype=np.int8)
    out[(before != 0) & (position == 0)] = 0
    out[entry] = entry_side[entry]
    return out


def effective_position(signal: Any) -> np.ndarray:
    """The position a signal asks for at each bar: HOLD / NaN carried forward.

    Starts flat (0) before the first value that is not HOLD / NaN. Risk exits
    (stops, take-profits) are not modelled: this is what the signal asks for, not
    what the engine holds after a stop.

    Args:
        signal: int (1, -1, 0, ``engine.HOLD``), bool, or float exposures (NaN).

    Returns:
        int8 (1, -1, 0) for an integer or bool signal, float64 for a float one.

    Raises:
        InvalidSignalError: a value outside the allowed set.
        TypeError: a non-numeric signal.
    """
    return _arrays.held(_arrays.signal(signal))

"""Signals of many parameter sets at once, for sweeps (``Strategy.signals_many``).

    fast = [indicators.sma(bars.close, p["fast"]) for p in sets]  # memoized: shared arrays
    slow = [indicators.sma(bars.close, p["slow"]) for p in sets]
    matrix = above_rows(fast, slow, short=[p["short"] for p in sets])  # int8 [len(sets), n]

Row by row this is what a crossing strategy's ``signals`` returns, but computed
in the C core with the bars in tiles: lines that many rows share (a sweep's
memoized indicators) are read from cache once per tile instead of from memory
once per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine import _bindings
from strategies.blocks import _arrays


def _lines(values: Sequence[Any], name: str, n: int | None) -> tuple[list[np.ndarray], int]:
    """Each row's line as contiguous float64, converting each distinct object once."""
    seen: dict[int, np.ndarray] = {}
    out = []
    for r, v in enumerate(values):
        line = seen.get(id(v))
        if line is None:
            line = _arrays.as_1d(v, f"{name}[{r}]")
            if line.dtype != np.float64:  # memoized indicators already are: no copy
                line = _arrays.numbers(line, f"{name}[{r}]")
            if n is None:
                n = len(line)
            _arrays.same_length(line, f"{name}[{r}]", n, other=f"{name}[0]")
            seen[id(v)] = line = np.ascontiguousarray(line)
        out.append(line)
    return out, n or 0


def above_rows(a: Sequence[Any], b: Sequence[Any], short: bool | Sequence[bool] = False) -> np.ndarray:
    """Long while ``a[r]`` is above ``b[r]``, for many rows at once: an int8 matrix.

    Row r is 1 where ``a[r][t] > b[r][t]``; -1 where ``a[r][t] < b[r][t]`` if
    ``short`` (or ``short[r]``) is true, else 0; and 0 where they are equal or
    either is NaN (an indicator's warm-up). Row by row it equals
    ``(a[r] > b[r]).astype(np.int8) - short[r] * (a[r] < b[r])``.

    Args:
        a: one line per row (arrays of numbers, one value per bar, all of one
            length); the same array may serve many rows, and is read once per tile.
        b: the line each row of ``a`` is compared with.
        short: one flag for every row, or one per row.

    Returns:
        An int8 array of shape ``(len(a), n_bars)``.

    Raises:
        ValueError: ``a``, ``b`` (or ``short``) differ in rows, or lines in length.
        TypeError: non-numeric lines.
    """
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} lines but b has {len(b)}: give one line on each side per row")
    if isinstance(short, (bool, np.bool_)):
        flags = np.full(len(a), bool(short), np.int8)
    else:
        flags = np.asarray(short)
        if flags.size == 0:  # no rows: no flags, whatever their dtype
            flags = flags.astype(bool)
        if flags.shape != (len(a),) or flags.dtype.kind not in "biu":
            raise ValueError(f"short must be one bool, or one per row ({len(a)}); got {flags!r:.80}")
        flags = (flags != 0).astype(np.int8)
    lines_a, n = _lines(a, "a", None)
    lines_b, n = _lines(b, "b", n if a else None)
    out = np.empty((len(a), n), np.int8)
    _bindings.compare_rows(lines_a, lines_b, flags if flags.any() else None, out)
    return out

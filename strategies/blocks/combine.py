"""Combine several strategies' signals over the same bars into one.

    votes = [sma_signal, rsi_signal, breakout_signal]
    signal = majority(votes)                       # int8: the side most of them hold
    signal = weighted(votes, [2, 1, 1])            # float: weighted average exposure
    signal = unanimous(votes)                      # int8: a position only where all agree
    signal = any_of(votes)                         # int8: any one side, unopposed

``signals`` is a list of equal-length signals (numpy arrays or pandas Series, each
int8 with HOLD or float with NaN, kinds may mix), a 2-D array ``[k, n_bars]``, or
a DataFrame with one column per strategy. Each is first read as the position it
holds at each bar (``effective_position``: HOLD / NaN carried forward, flat
before the first value); its *side* is the sign of that position. Every output
has a value at every bar (no HOLD / NaN) and is causal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from strategies.blocks import _arrays


def _positions(signals: Any) -> np.ndarray:
    """The held position of each signal, float64 ``[k, n_bars]``."""
    if isinstance(signals, pd.DataFrame):
        rows = [signals[c] for c in signals.columns]
        names = [f"signals[{c!r}]" for c in signals.columns]
    elif isinstance(signals, np.ndarray):
        if signals.ndim != 2:
            raise ValueError(
                f"signals must be a 2-D array [k strategies, n bars] or a list of signals, got shape {signals.shape}"
            )
        rows = list(signals)
        names = [f"signals[{i}]" for i in range(len(rows))]
    elif isinstance(signals, (list, tuple)):
        rows = list(signals)
        names = [f"signals[{i}]" for i in range(len(rows))]
    else:
        raise TypeError(f"signals must be a list of signals, a 2-D array or a DataFrame, not {type(signals).__name__}")
    if not rows:
        raise ValueError("signals is empty: give at least one strategy's signal")
    held = [_arrays.held(_arrays.signal(r, name)).astype(np.float64) for r, name in zip(rows, names)]
    n = len(held[0])
    for h, name in zip(held, names):
        _arrays.same_length(h, name, n, other=names[0])
    return np.vstack(held)


def _sides(signals: Any) -> np.ndarray:
    return np.sign(_positions(signals)).astype(np.int8)


def majority(signals: Any) -> np.ndarray:
    """The side most strategies hold: ``sign(sum of sides)``; a tie is flat.

    Each strategy has one vote, the side of its position (-1, 0, 1) — its size
    does not count. Flat strategies vote 0, so two longs, one short and two flats
    give long.

    Returns:
        int8 per bar: 1, -1 or 0.

    Raises:
        InvalidSignalError, ValueError, TypeError: bad or mismatched signals, named.
    """
    return np.sign(_sides(signals).sum(axis=0, dtype=np.int64)).astype(np.int8)


def weighted(signals: Any, weights: Any, threshold: float | None = None) -> np.ndarray:
    """The weighted average of the strategies' positions.

    ``avg[t] = sum_i(w_i * p_i[t]) / sum_i(w_i)`` with ``p_i`` each strategy's
    position (1 / -1 / 0 for int signals, the exposure for float ones).

    Args:
        signals: the strategies' signals (module docstring).
        weights: one weight per strategy, finite and >= 0, not all 0.
        threshold: None — return ``avg`` as a float exposure. A number > 0 —
            return a direction: 1 where ``avg >= threshold``, -1 where
            ``avg <= -threshold``, 0 between.

    Returns:
        float64 exposures (no threshold) or int8 directions (with threshold).

    Raises:
        ValueError: a weight count other than the number of signals, a negative
            or non-finite weight, all-zero weights, or a threshold <= 0.
    """
    positions = _positions(signals)
    if np.ndim(weights) != 1:
        raise ValueError(f"weights must be a list of one weight per signal, not {weights!r}")
    w = _arrays.numbers(weights, "weights")
    if len(w) != len(positions):
        raise ValueError(
            f"weights has {len(w)} values but there are {len(positions)} signals: give one weight per signal"
        )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"weights[{i}] is {w[i]}: weights must be finite and >= 0")
    total = w.sum()
    if total <= 0:
        raise ValueError("weights are all 0: give at least one strategy a positive weight")
    avg = (w @ positions) / total + 0.0
    if threshold is None:
        return avg
    thr = _arrays.number("threshold", threshold, low=0.0, low_open=True)
    return np.where(avg >= thr, 1, np.where(avg <= -thr, -1, 0)).astype(np.int8)


def unanimous(signals: Any) -> np.ndarray:
    """Long where every strategy is long, short where every one is short, else flat.

    Returns:
        int8 per bar: 1, -1 or 0.
    """
    sides = _sides(signals)
    return np.where((sides == 1).all(axis=0), 1, np.where((sides == -1).all(axis=0), -1, 0)).astype(np.int8)


def any_of(signals: Any) -> np.ndarray:
    """Long where any strategy is long and none short; short where any is short and
    none long; flat otherwise (none in a position, or both sides held).

    Returns:
        int8 per bar: 1, -1 or 0.
    """
    sides = _sides(signals)
    longs, shorts = (sides == 1).any(axis=0), (sides == -1).any(axis=0)
    return np.where(longs & ~shorts, 1, np.where(shorts & ~longs, -1, 0)).astype(np.int8)

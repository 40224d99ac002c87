"""Position sizing: turn a direction (long / flat / short) into target exposures.

    direction = from_entries_exits(up, down)                  # int8, HOLD allowed
    signal = fixed_fraction(direction, 0.5)                   # half of equity
    signal = volatility_target(direction, bars.close, 0.10)   # aim at 10 % a year
    signal = kelly_fraction(direction, bars.close)            # half-Kelly

Each returns a float64 signal: target exposure as a fraction of equity, NaN =
change nothing (see README.md, "The fill model"). ``direction`` is an int8
signal (1, -1, 0, ``engine.HOLD`` — HOLD keeps the last direction, flat before
the first) or a float array of -1 / 0 / 1 (NaN keeps the last). The value at bar
t reads closes up to and including bar t; it fills at the next open.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from engine import InvalidSignalError
from strategies.blocks import _arrays

RETURNS = ("log", "simple")


def _direction(direction: Any) -> np.ndarray:
    """The held direction per bar as float64 -1.0 / 0.0 / 1.0."""
    d = _arrays.signal(direction, "direction")
    if d.dtype == np.float64:
        bad = ~np.isnan(d) & (d != -1.0) & (d != 0.0) & (d != 1.0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidSignalError(
                f"direction[{i}] is {d[i]}: a direction is -1, 0 or 1 (NaN keeps the last); "
                "it is the sizing block that sets the size"
            )
    return _arrays.held(d).astype(np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0


def _check_returns(returns: str) -> str:
    if returns not in RETURNS:
        raise ValueError(f"returns is {returns!r}; choose 'log' or 'simple'")
    return returns


def _bar_returns(close: np.ndarray, returns: str) -> np.ndarray:
    """Close-to-close returns, NaN at bar 0."""
    r = np.full(len(close), math.nan)
    if returns == "log":
        r[1:] = np.log(close[1:] / close[:-1])
    else:
        r[1:] = close[1:] / close[:-1] - 1.0
    return r


def _rolling(r: np.ndarray, lookback: int) -> Any:
    """A trailing window of ``lookback`` values ending at each bar (pandas, O(n))."""
    return pd.Series(r).rolling(lookback, min_periods=lookback)


def realised_volatility(
    close: Any,
    lookback: int = 20,
    periods_per_year: float = 252.0,
    returns: str = "log",
) -> np.ndarray:
    """Annualised realised volatility at each bar, from closes up to that bar.

    ``vol[t] = std(r[t-lookback+1 .. t], ddof=1) * sqrt(periods_per_year)`` with
    ``r[j] = ln(close[j] / close[j-1])`` (``returns="log"``) or
    ``close[j] / close[j-1] - 1`` (``"simple"``). NaN for ``t < lookback``
    (fewer than ``lookback`` returns).

    Args:
        close: closing prices, finite and positive.
        lookback: returns per window, at least 2.
        periods_per_year: bars per year (252 for weekday daily bars; see
            ``engine.Bars.periods_per_year``).
        returns: "log" or "simple".

    Raises:
        ValueError: a bad price or parameter, named.
    """
    c = _arrays.numbers(close, "close")
    c = _arrays.prices(c, "close", len(c))
    lookback = _arrays.count("lookback", lookback, 2)
    ppy = _arrays.number("periods_per_year", periods_per_year, low=0.0, low_open=True)
    r = _bar_returns(c, _check_returns(returns))
    return _rolling(r, lookback).std(ddof=1).to_numpy() * math.sqrt(ppy)


def _rebalance_beyond(wanted: np.ndarray, threshold: float) -> np.ndarray:
    """Keep a wanted exposure only where it is worth an order; NaN elsewhere.

    A value is emitted when nothing was emitted yet, when its side (long, flat,
    short) differs from the last emitted value's, or when it is more than
    ``threshold`` away from the last emitted value; a threshold of 0 keeps every
    bar. O(n): each bar looks only at the last emitted value.
    """
    if threshold == 0.0:
        return wanted
    out = np.full(len(wanted), math.nan)
    keep: list[int] = []
    last = math.nan
    for i, w in enumerate(wanted.tolist()):
        if w != w:  # NaN: nothing wanted yet
            continue
        if last != last or (w > 0) != (last > 0) or (w < 0) != (last < 0) or abs(w - last) > threshold:
            keep.append(i)
            last = w
    out[keep] = wanted[keep]
    return out


def fixed_fraction(direction: Any, fraction: float) -> np.ndarray:
    """Exposure ``direction * fraction`` at every bar.

    Args:
        direction: int8 signal (HOLD keeps the last direction) or floats -1/0/1.
        fraction: the share of equity to hold, > 0 (above 1 needs
            ``Config.max_leverage``).

    Returns:
        float64 target exposures, one per bar (0.0 while flat).

    Raises:
        InvalidSignalError: a direction value outside -1 / 0 / 1 / HOLD.
        ValueError: ``fraction`` not a positive finite number.
    """
    d = _direction(direction)
    f = _arrays.number("fraction", fraction, low=0.0, low_open=True)
    return d * f + 0.0


def volatility_target(
    direction: Any,
    close: Any,
    target_vol: float,
    lookback: int = 20,
    periods_per_year: float = 252.0,
    max_leverage: float = 1.0,
    rebalance_threshold: float = 0.0,
    *,
    returns: str = "log",
) -> np.ndarray:
    """Size a direction so the position's volatility is about ``target_vol`` a year.

    ``exposure[t] = direction[t] * min(target_vol / vol[t], max_leverage)`` where
    ``vol[t]`` is ``realised_volatility(close, lookback, periods_per_year,
    returns)`` — the annualised std of the last ``lookback`` close-to-close returns
    up to and including bar t. Zero volatility gives ``max_leverage``. NaN
    (change nothing) during the warm-up, ``t < lookback``.

    With ``rebalance_threshold > 0`` a bar's exposure is emitted only when it
    differs from the last emitted value by more than the threshold, or when the
    side (long / flat / short) changes; the other bars are NaN, so the engine
    does not rebalance every bar as volatility drifts.

    Args:
        direction: int8 signal (HOLD keeps the last direction) or floats -1/0/1.
        close: closing prices, one per bar.
        target_vol: annualised volatility to aim at, e.g. 0.10 for 10 %.
        lookback: returns in the volatility window, at least 2.
        periods_per_year: bars per year (``bars.periods_per_year()``).
        max_leverage: cap on |exposure| (the engine caps at
            ``Config.max_leverage`` too).
        rebalance_threshold: the least change of exposure worth an order, >= 0.
        returns: "log" or "simple" returns for the volatility.

    Returns:
        float64 target exposures, NaN = change nothing.

    Raises:
        InvalidSignalError: a direction value outside -1 / 0 / 1 / HOLD.
        ValueError: mismatched lengths, a bad price or parameter, named.
    """
    d = _direction(direction)
    c = _arrays.prices(close, "close", len(d))
    target = _arrays.number("target_vol", target_vol, low=0.0, low_open=True)
    cap = _arrays.number("max_leverage", max_leverage, low=0.0, low_open=True)
    threshold = _arrays.number("rebalance_threshold", rebalance_threshold, low=0.0)
    vol = realised_volatility(c, lookback, periods_per_year, returns)
    with np.errstate(divide="ignore"):
        scale = np.minimum(target / vol, cap)  # vol 0 -> inf -> cap; NaN stays NaN
    return _rebalance_beyond(d * scale + 0.0, threshold)


def kelly_fraction(
    direction: Any,
    close: Any,
    lookback: int = 60,
    fraction: float = 0.5,
    max_leverage: float = 1.0,
    rebalance_threshold: float = 0.0,
    *,
    returns: str = "simple",
) -> np.ndarray:
    """Size a direction by a fraction of the Kelly bet on the trailing returns.

    ``k[t] = mean(r) / var(r, ddof=1)`` over the last ``lookback`` close-to-close
    returns up to and including bar t (the Kelly fraction f* of a long). The side
    held bets on ``direction * r``, so its Kelly fraction is ``direction * k``:

    ``exposure[t] = direction[t] * clip(direction[t] * k[t] * fraction, 0, max_leverage)``

    — a long sized by ``k`` when ``k > 0``, a short by ``-k`` when ``k < 0``, and
    flat (0) when the trailing returns do not favour the side. Zero variance with
    a favourable mean gives ``max_leverage``; zero mean and variance gives 0. NaN
    during the warm-up, ``t < lookback``. ``rebalance_threshold`` thins the output
    as in ``volatility_target``.

    Args:
        direction: int8 signal (HOLD keeps the last direction) or floats -1/0/1.
        close: closing prices, one per bar.
        lookback: returns in the window, at least 2.
        fraction: the share of full Kelly to bet, > 0 (0.5 = half-Kelly).
        max_leverage: cap on |exposure|.
        rebalance_threshold: the least change of exposure worth an order, >= 0.
        returns: "simple" (default) or "log" per-bar returns.

    Returns:
        float64 target exposures, NaN = change nothing.

    Raises:
        InvalidSignalError: a direction value outside -1 / 0 / 1 / HOLD.
        ValueError: mismatched lengths, a bad price or parameter, named.
    """
    d = _direction(direction)
    c = _arrays.prices(close, "close", len(d))
    lookback = _arrays.count("lookback", lookback, 2)
    share = _arrays.number("fraction", fraction, low=0.0, low_open=True)
    cap = _arrays.number("max_leverage", max_leverage, low=0.0, low_open=True)
    threshold = _arrays.number("rebalance_threshold", rebalance_threshold, low=0.0)
    r = _bar_returns(c, _check_returns(returns))
    window = _rolling(r, lookback)
    mean = window.mean().to_numpy()
    var = window.var(ddof=1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = np.where(d != 0, d * mean / var, 0.0)  # the held side's Kelly fraction
    warm = np.isnan(mean)
    edge[np.isnan(edge) & ~warm] = 0.0  # 0 / 0: no edge
    size = np.clip(edge * share, 0.0, cap)
    wanted = np.where(warm, math.nan, d * size) + 0.0
    return _rebalance_beyond(wanted, threshold)

"""Cross-sectional blocks: ``[n_bars, n_symbols]`` matrices in, the same shape out.

They compose as a rebalance does (bt's algos): when (a schedule) -> what (a score,
its rank or top-k) -> how much (equal, inverse-volatility, risk parity) -> limits
(gross / net) -> rows only on rebalance bars::

    score = blocks.momentum(panel.close, lookback=120, skip=20)
    picks = blocks.top_k(score, 3)
    w = blocks.normalize(blocks.equal_weight(picks), gross=1.0)
    w = blocks.on_rebalance(w, blocks.schedule(panel.ts, "month_end"))

NaN means "no value" (no price: before a listing, after a delisting, in a gap)
and is never ranked, selected or weighted. Every block is causal: row t reads
rows up to t only. The loops run in the C core (csrc/cross.c).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine import _bindings

__all__ = [
    "SCHEDULES",
    "bottom_k",
    "equal_weight",
    "inverse_vol",
    "momentum",
    "normalize",
    "on_rebalance",
    "rank",
    "returns",
    "risk_parity",
    "rolling_vol",
    "schedule",
    "top_k",
    "zscore",
]

SCHEDULES: tuple[str, ...] = ("daily", *_bindings.SCHEDULES)


def _matrix(values: Any, name: str) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        values = values.to_numpy()
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers, [n_bars, n_symbols]: {exc}") from exc
    if a.ndim != 2:
        raise ValueError(f"{name} must be [n_bars, n_symbols], one row per bar, got shape {a.shape}")
    if np.isinf(a).any():
        raise ValueError(f"{name} holds an infinite value; use NaN for a missing one")
    return np.ascontiguousarray(a)


def _bools(values: Any, name: str, ndim: int) -> np.ndarray:
    if isinstance(values, (pd.DataFrame, pd.Series)):
        values = values.to_numpy()
    a = np.asarray(values)
    if a.dtype != np.bool_:
        raise TypeError(f"{name} must be bool (True = selected), got {a.dtype}; compare first, e.g. score > 0")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    return np.ascontiguousarray(a)


def _count(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


# -- scores -------------------------------------------------------------------------


def returns(close: Any) -> np.ndarray:
    """Simple returns ``close[t] / close[t-1] - 1``; NaN at bar 0 and wherever either
    price is missing."""
    c = _matrix(close, "close")
    out = np.full_like(c, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = c[1:] / c[:-1] - 1.0
    out[~np.isfinite(out)] = np.nan
    return out


def momentum(close: Any, lookback: int, skip: int = 0) -> np.ndarray:
    """Return from ``lookback`` bars ago to ``skip`` bars ago: ``close[t-skip] /
    close[t-lookback] - 1`` (NaN while either price is missing or before bar
    ``lookback``). ``skip`` leaves out the most recent bars (12-1 momentum)."""
    c = _matrix(close, "close")
    lookback, skip = _count(lookback, "lookback", 1), _count(skip, "skip", 0)
    if skip >= lookback:
        raise ValueError(f"skip ({skip}) must be shorter than lookback ({lookback})")
    out = np.full_like(c, np.nan)
    if lookback < len(c):
        with np.errstate(divide="ignore", invalid="ignore"):
            out[lookback:] = c[lookback - skip : len(c) - skip] / c[: len(c) - lookback] - 1.0
    out[~np.isfinite(out)] = np.nan
    return out


def rank(x: Any, pct: bool = False) -> np.ndarray:
    """Each value's rank among the finite values of its bar, ascending from 1; equal
    values share the mean of the ranks they span (1, 2.5, 2.5, 4 — pandas'
    ``rank(axis=1, method="average")``). NaN stays NaN. ``pct`` divides by the
    number of finite values in the bar."""
    r = _bindings.xs_rank(_matrix(x, "x"))
    if pct:
        count = np.isfinite(r).sum(axis=1, keepdims=True)
        r = np.divide(r, count, out=np.full_like(r, np.nan), where=count > 0)
    return r


def top_k(x: Any, k: int) -> np.ndarray:
    """True on the ``k`` largest finite values of each bar. Ties at the boundary go to
    the symbol in the lower column; a bar with fewer than ``k`` finite values selects
    them all; NaN is never selected."""
    return _bindings.xs_top_k(_matrix(x, "x"), _count(k, "k", 0), True)


def bottom_k(x: Any, k: int) -> np.ndarray:
    """True on the ``k`` smallest finite values of each bar (ties: lower column first)."""
    return _bindings.xs_top_k(_matrix(x, "x"), _count(k, "k", 0), False)


def zscore(x: Any) -> np.ndarray:
    """``(x - mean) / std`` across the finite values of each bar (population std);
    0 where a bar has one finite value or all are equal; NaN stays NaN."""
    return _bindings.xs_zscore(_matrix(x, "x"))


# -- weights --------------------------------------------------------------------------


def equal_weight(mask: Any) -> np.ndarray:
    """``1 / k`` on the ``k`` selected symbols of each bar, 0 on the others (all 0 when
    nothing is selected)."""
    return _bindings.xs_equal_weight(_bools(mask, "mask", 2))


def rolling_vol(close: Any, period: int) -> np.ndarray:
    """Per symbol, the population std of its last ``period`` simple returns; NaN until
    it has ``period`` returns in a row (a missing price restarts the count)."""
    return _bindings.xs_rolling_vol(returns(close), _count(period, "period", 1))


def inverse_vol(vol: Any, mask: Any = None) -> np.ndarray:
    """``(1 / vol_j) / sum(1 / vol)`` over the symbols with a finite, positive vol (and
    selected by ``mask`` when given); 0 for the others, all 0 when none qualifies."""
    v = _matrix(vol, "vol")
    if mask is not None:
        m = _bools(mask, "mask", 2)
        if m.shape != v.shape:
            raise ValueError(f"mask has shape {m.shape}; vol has {v.shape}")
        v = np.where(m, v, np.nan)
    return _bindings.xs_inverse_vol(v)


def risk_parity(close: Any, period: int, iters: int = 50, when: Any = None) -> np.ndarray:
    """Equal-risk-contribution weights (long only, sum 1) from the last ``period``
    returns, on the bars where ``when`` is True (every bar when None; NaN rows
    elsewhere, ready for ``on_rebalance``).

    Symbols with ``period`` finite returns ending at t take part; with k of them
    and Sigma their population covariance over those returns: start from
    inverse-volatility weights (sum 1), times ``1 / sqrt(w' Sigma w)`` when that is
    positive (the scale of the solution); ``iters`` sweeps of cyclical coordinate
    descent, for i = 0..k-1 in turn ``s = sum_{j != i} Sigma_ij w_j`` (weights as
    updated so far) and ``w_i = (sqrt(s**2 + 4 Sigma_ii / k) - s) / (2 Sigma_ii)``;
    then rescale to sum 1. This converges to equal risk contributions
    ``w_i (Sigma w)_i`` for any covariance, negative correlations included
    (Griveau-Billion, Richard and Roncalli, 2013); slowly when Sigma is nearly
    singular, so keep ``period`` well above the number of symbols (with fewer
    returns than symbols equal contributions may not exist and the weights
    drift toward a zero-risk hedge). Other symbols get 0; a bar where
    a taking-part symbol has zero variance, or none takes part, or the weights
    overflow, is all 0.
    """
    w = None if when is None else _bools(when, "when", 1)
    return _bindings.xs_risk_parity(returns(close), _count(period, "period", 2), _count(iters, "iters", 0), w)


def normalize(w: Any, gross: float = 1.0, net: float | None = None) -> np.ndarray:
    """Scale each bar's weights to ``gross`` = sum |w|; with ``net``, longs to
    ``(gross + net) / 2`` and shorts to ``(gross - net) / 2`` (each side keeps its
    proportions; a side with nothing in it stays empty, so the net is then not met).
    NaN cells stay NaN; a bar with no nonzero weight is left as it is."""
    g = float(gross)
    n_ = np.nan if net is None else float(net)
    if not np.isfinite(g) or g < 0 or (net is not None and not (abs(n_) <= g)):
        raise ValueError(f"normalize needs gross >= 0 and |net| <= gross; got gross={gross!r}, net={net!r}")
    return _bindings.xs_normalize(_matrix(w, "w"), g, n_)


# -- when -----------------------------------------------------------------------------


def schedule(ts: Any, kind: str, every: int = 1) -> np.ndarray:
    """The rebalance bars, True on each, from the bar times (UTC).

    Args:
        ts: bar times (``panel.ts``: int64 ns, or anything pandas reads as times).
        kind: ``"daily"`` (every bar); ``"every_n"`` (bars 0, every, 2*every, ...); ``"week_start"`` /
            ``"month_start"`` / ``"quarter_start"`` (the first bar of each calendar
            week (Monday..Sunday), month or quarter, bar 0 included);
            ``"week_end"`` / ``"month_end"`` / ``"quarter_end"`` (the last bar of
            each: a bar whose next bar falls in another period; the final bar of
            the data is not marked, as its period may go on).
        every: the step of ``"every_n"``.
    """
    if kind not in SCHEDULES:
        raise ValueError(f"schedule kind {kind!r}: use one of {', '.join(SCHEDULES)}")
    arr = np.asarray(ts)
    if arr.dtype != np.int64:
        arr = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).as_unit("ns").asi8
    if kind == "daily":
        kind, every = "every_n", 1
    return _bindings.schedule(np.ascontiguousarray(arr), kind, _count(every, "every", 1))


def on_rebalance(w: Any, when: Any) -> np.ndarray:
    """Weights computed every bar -> rows only on rebalance bars: row t of ``w`` where
    ``when[t]``, NaN rows elsewhere (the portfolio holds between rebalances)."""
    a = _matrix(w, "w")
    mask = _bools(when, "when", 1)
    if len(mask) != len(a):
        raise ValueError(f"when has {len(mask)} values; w has {len(a)} bars")
    return _bindings.xs_on_rebalance(a, mask)

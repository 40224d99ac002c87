"""What every report shares: thinning long series for display, formatting numbers,
and the few display series (drawdown, monthly returns) drawn from an equity curve.

Thinning keeps, in each bucket of consecutive points, the first, lowest, highest and
last — so peaks, troughs and the final value survive and a curve looks the same.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from engine.records import PERCENT_METRICS

MAX_POINTS = 4000
"""Points per drawn series; longer series are thinned (for display only)."""

PERCENT = PERCENT_METRICS


def thin(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Positions of ``values`` to draw: all of them when few, else per bucket the first,
    min, max and last (sorted, unique; the first and last points always kept)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n <= max_points:
        return np.arange(n)
    size = -(-n // max(1, max_points // 4))  # points per bucket, rounded up
    buckets = -(-n // size)
    pad = buckets * size - n
    low = np.concatenate([np.where(np.isfinite(v), v, np.inf), np.full(pad, np.inf)]).reshape(buckets, size)
    high = np.concatenate([np.where(np.isfinite(v), v, -np.inf), np.full(pad, -np.inf)]).reshape(buckets, size)
    starts = np.arange(buckets) * size
    keep = np.concatenate(
        [starts, np.minimum(starts + size, n) - 1, starts + low.argmin(axis=1), starts + high.argmax(axis=1)]
    )
    return np.unique(np.minimum(keep, n - 1))


def fmt(value: Any, metric: str = "") -> str:
    """A number as people read it: percentages for fractions, thousands separators."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "—"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if metric in PERCENT:
            return f"{x * 100:.2f} %"
        if metric in ("total_trades", "max_drawdown_duration") or (x.is_integer() and abs(x) < 1e15):
            return f"{x:,.0f}" if abs(x) >= 1000 or metric else f"{x:g}"
        return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.2f}"
    return str(value)


def stats_rows(stats: Mapping[str, float]) -> list[tuple[str, str]]:
    """The stats dict as (metric, formatted value) rows, in its own order."""
    return [(k, fmt(v, k)) for k, v in stats.items()]


def underwater(equity: pd.Series) -> pd.Series:
    """Drawdown at each bar: equity over its running peak, minus one (display series)."""
    peak = equity.cummax()
    return equity / peak - 1.0


def worst_drawdowns(dd: pd.Series, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` deepest drawdown periods: start (last peak), trough, end (recovery
    or the last bar), depth, and ``bars`` spent under the peak."""
    values = dd.to_numpy()
    times = dd.index
    periods = []
    n = len(values)
    i = 0
    while i < n:
        if values[i] < 0:
            start = i - 1 if i > 0 else 0
            j = i
            while j < n and values[j] < 0:
                j += 1
            trough = i + int(np.argmin(values[i:j]))
            end = min(j, n - 1)
            periods.append(
                {
                    "start": times[start],
                    "trough": times[trough],
                    "end": times[end],
                    "depth": float(values[trough]),
                    "bars": int(j - i),
                    "recovered": j < n,
                }
            )
            i = j
        else:
            i += 1
    periods.sort(key=lambda p: p["depth"])
    return periods[:top]


def period_returns(equity: pd.Series, initial_capital: float, rule: str) -> pd.Series:
    """Returns per calendar period (``"ME"`` months, ``"YE"`` years) of an equity curve:
    each period's last equity over the previous period's (the first over the capital)."""
    if not isinstance(equity.index, pd.DatetimeIndex) or equity.empty:
        return pd.Series(dtype=float)
    last = equity.resample(rule).last().dropna()
    prev = last.shift(1)
    prev.iloc[0] = initial_capital
    return last / prev - 1.0


def per_bar_returns(equity: np.ndarray, initial_capital: float) -> np.ndarray:
    """Simple returns bar to bar, the first against the initial capital."""
    eq = np.asarray(equity, dtype=np.float64)
    prev = np.concatenate(([initial_capital], eq[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev != 0, eq / prev - 1.0, 0.0)


def rolling_sharpe(returns: pd.Series, window: int, periods_per_year: float) -> pd.Series:
    """Annualised Sharpe of the last ``window`` bars' returns (display series)."""
    roll = returns.rolling(window, min_periods=max(2, window // 2))
    mean, sd = roll.mean(), roll.std(ddof=1)
    out = mean / sd.where(sd > 0) * math.sqrt(periods_per_year)
    return out


def when(value: Any) -> str:
    """A time as a short text (date only when midnight)."""
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(value)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
    return str(value)


def times(values: Any) -> np.ndarray:
    """Bar times as naive UTC ``datetime64`` for plotting (plotly copies object arrays
    of Timestamps slowly and drops their zone anyway)."""
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.to_numpy()


def _template() -> Any:
    import plotly.graph_objects as go

    grid = {"gridcolor": "#e4e7eb", "zerolinecolor": "#cbd2d9", "linecolor": "#cbd2d9"}
    return go.layout.Template(
        layout={
            "plot_bgcolor": "#fff",
            "paper_bgcolor": "#fff",
            "font": {"color": "#323f4b"},
            "xaxis": grid,
            "yaxis": grid,
            "hoverlabel": {"align": "left"},
            "colorway": ["#2680c2", "#d64545", "#2f8132", "#f0b429", "#7c5e10", "#9fb3c8", "#8e44ad", "#16a085"],
        }
    )


TEMPLATE = _template()
"""A light look, small enough to copy quickly (plotly's own templates are large)."""


def stamp(value: Any) -> str:
    """One time as naive-UTC ISO text (for shapes, which plotly does not convert)."""
    ts = pd.Timestamp(value)
    if ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.isoformat()

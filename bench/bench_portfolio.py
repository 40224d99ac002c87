"""The portfolio benchmark: anvil's C portfolio loop next to vectorbt's ``from_orders``.

On a seeded synthetic panel of 500 symbols x 2,520 daily bars (ten years; ``--quick``:
100 x 504) and a top-50 momentum rotation rebalanced every 21 bars (weights computed
once with numpy, outside the timing), one run measures

- one portfolio backtest: anvil ``backtest_portfolio`` against vectorbt
  ``Portfolio.from_orders(size_type="targetpercent", group_by=True, cash_sharing=True,
  call_seq="auto")`` on the same weights, and their ratio;
- a batch of 1,000 weight matrices (``--quick``: 40), different lookbacks and k, read
  lazily from a generator: symbol-bar-steps per second on 1 thread and on 2, per core,
  the speed-up, and the peak memory Python allocated during the batch (tracemalloc);
- the same batch machinery on a wide universe, 5,000 symbols x 2,520 bars (20 runs;
  skipped with ``--quick``): time and memory.

Both fill at the close with a 0.1 % fee. Figures are the best of a few repeats after a
warm-up (vectorbt's numba compilation is not in them). The targets of issue 10 are
printed beside the figures.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

import engine
from bench._machine import verdict
from engine import synthetic

TARGET_SINGLE_RATIO = 30.0
TARGET_PER_CORE = 300e6
TARGET_SCALING = 1.8
FEE = 0.001
SEED = 20_261_203


def momentum(panel: engine.Panel, lookback: int, k: int, every: int = 21) -> np.ndarray:
    """Every ``every`` bars, 1/k in the k symbols with the best ``lookback`` return, 0 elsewhere."""
    w = np.full(panel.shape, np.nan)
    close = panel.close
    for t in range(lookback, len(panel), every):
        ret = close[t] / close[t - lookback] - 1.0
        ok = np.flatnonzero(~np.isnan(ret))
        w[t, panel.tradable[t]] = 0.0
        w[t, ok[np.argsort(-ret[ok], kind="stable")[:k]]] = 1.0 / k
    return w


def best_of(fn: Callable[[], object], repeats: int) -> float:
    return best_of_cpu(fn, repeats)[0]


def best_of_cpu(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of all threads in that run): on a shared, busy
    machine the CPU time still says what a core does per second."""
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(runs)


def batch_source(bases: list[np.ndarray], n_runs: int) -> Callable[[], Iterator[np.ndarray]]:
    """A generator of ``n_runs`` weight matrices cycling through ``bases`` (so making
    them costs nothing and the batch holds only its chunks)."""
    return lambda: itertools.islice(itertools.cycle(bases), n_runs)


def measure_batch(
    panel: engine.Panel, make: Callable[[], Iterator[np.ndarray]], n_runs: int, threads: int, repeats: int
) -> tuple[float, float, float]:
    """(best wall seconds, its CPU seconds, peak MB Python allocated during one batch)."""
    cfg = engine.Config(fee_rate=FEE, fill="close")
    secs, cpu = best_of_cpu(lambda: engine.run_portfolio_batch(panel, make(), cfg, threads=threads), repeats)
    tracemalloc.start()
    engine.run_portfolio_batch(panel, make(), cfg, threads=threads)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return secs, cpu, peak / 1e6


def main(quick: bool = False) -> None:
    n_sym, n_bars = (100, 504) if quick else (500, 2520)
    n_runs = 40 if quick else 1000
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}, cores: {len(os.sched_getaffinity(0))}")
    panel = synthetic.panel(n_sym, n_bars, seed=SEED)
    w = momentum(panel, 126 if not quick else 63, 50 if not quick else 10)
    cfg = engine.Config(fee_rate=FEE, fill="close")

    # -- one portfolio -------------------------------------------------------------------
    ours = best_of(lambda: engine.backtest_portfolio(panel, w, cfg), 5)
    try:
        import vectorbt as vbt
    except ImportError:  # pragma: no cover - a test extra
        vbt = None
    print(f"\none portfolio, {n_sym} symbols x {n_bars} bars, top-k momentum every 21 bars")
    print(f"  anvil backtest_portfolio   {ours * 1e3:9.2f} ms")
    if vbt is not None:
        close = pd.DataFrame(panel.close, index=panel.index)
        size = pd.DataFrame(w, index=panel.index)

        def run_vbt() -> None:
            pf = vbt.Portfolio.from_orders(
                close,
                size=size,
                size_type="targetpercent",
                group_by=True,
                cash_sharing=True,
                call_seq="auto",
                fees=FEE,
                freq="1D",
            )
            pf.value()

        theirs = best_of(run_vbt, 3)
        print(f"  vectorbt from_orders       {theirs * 1e3:9.2f} ms")
        print(
            f"  ratio                      {theirs / ours:9.1f} x   (target >= {TARGET_SINGLE_RATIO:g} x: {verdict(theirs / ours >= TARGET_SINGLE_RATIO)})"
        )

    # -- a batch ---------------------------------------------------------------------------
    bases = (
        [momentum(panel, lb, k) for lb, k in [(21, 10), (63, 25), (126, 50), (252, 50)]]
        if not quick
        else [momentum(panel, lb, k) for lb, k in [(21, 5), (63, 10)]]
    )
    make = batch_source(bases, n_runs)
    steps = n_runs * n_bars * n_sym
    print(f"\nbatch of {n_runs} weight matrices ({steps / 1e9:.2f} G symbol-bar-steps)")
    one, cpu1, peak1 = measure_batch(panel, make, n_runs, 1, 1 if not quick else 2)
    two, cpu2, peak2 = measure_batch(panel, make, n_runs, 2, 1 if not quick else 2)
    print(
        f"  1 thread   {one:8.2f} s  {steps / one / 1e6:8.0f} M steps/s per core (wall), "
        f"{steps / cpu1 / 1e6:6.0f} M per CPU-second   (target >= {TARGET_PER_CORE / 1e6:.0f} M: {verdict(steps / one >= TARGET_PER_CORE)})"
        f"   peak {peak1:7.1f} MB"
    )
    print(
        f"  2 threads  {two:8.2f} s  {steps / two / 2e6:8.0f} M steps/s per core (wall), "
        f"{steps / cpu2 / 1e6:6.0f} M per CPU-second   peak {peak2:7.1f} MB"
    )
    print(
        f"  speed-up 1 -> 2 cores: {one / two:.2f} x   (target >= {TARGET_SCALING:g} x: {verdict(one / two >= TARGET_SCALING)})"
    )
    print(f"  (all weight matrices at once would be {steps * 8 / 1e9:.1f} GB)")

    if quick:
        return
    # -- a wide universe -------------------------------------------------------------------
    del bases, make
    gc.collect()
    wide = synthetic.panel(5000, 2520, seed=SEED)
    wide_w = [momentum(wide, 126, 50), momentum(wide, 63, 100)]
    runs = 20
    print(f"\nwide universe: 5000 symbols x 2520 bars, batch of {runs}")
    secs, cpu, peak = measure_batch(wide, batch_source(wide_w, runs), runs, 2, 1)
    wide_steps = runs * 2520 * 5000
    print(
        f"  2 threads  {secs:8.2f} s  {wide_steps / secs / 2e6:8.0f} M steps/s per core (wall), "
        f"{wide_steps / cpu / 1e6:6.0f} M per CPU-second   peak {peak:7.1f} MB"
    )
    print(
        f"  the panel itself: {sum(a.nbytes for a in (wide.open, wide.high, wide.low, wide.close, wide.volume, wide.tradable)) / 1e6:.0f} MB"
    )
    one_run = best_of(lambda: engine.backtest_portfolio(wide, wide_w[0], cfg), 2)
    print(f"  one portfolio: {one_run * 1e3:.0f} ms")

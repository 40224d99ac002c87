"""Scale-out: a 10,000-combination SMA-cross sweep on the local Ray next to the same
work in one process, the driver's memory as the sweep grows, and a model of a
10^7-combination sweep on 100 nodes built from what this run measured.

    python -m bench cluster [--quick]

In one process, the same signals are built by the same code on every core
(threads) and backtested by ``engine.run_batch(threads=0)``; on Ray, actors do
both. The ratio is Ray's throughput over the in-process one (target >= 85 %).
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import numpy as np

import cluster
from bench._machine import verdict
import engine
from cluster import runtime
from cluster.executor import InProcessExecutor
from engine import synthetic
from strategies import SmaCross


def _space(n_combos: int) -> dict[str, list[int]]:
    """About ``n_combos`` (fast, slow) pairs within SmaCross's bounds, every one with fast < slow."""
    fast = list(range(2, 101))  # 99 values
    k = max(1, -(-n_combos // len(fast)))
    slow = np.unique(np.linspace(105, 400, k).astype(int)).tolist()
    return {"fast": fast, "slow": slow}


def _count(space: dict[str, list[int]]) -> int:
    return sum(1 for f in space["fast"] for s in space["slow"] if f < s)


def _in_process(bars: engine.Bars, space: dict[str, list[int]], cfg: engine.Config) -> float:
    """Seconds for the same work in this process: threads build signals, run_batch backtests."""
    ex = InProcessExecutor()
    started = time.perf_counter()
    cluster.sweep(SmaCross, bars, space, cfg, executor=ex)
    ex.close()
    return time.perf_counter() - started


def _signals_then_batch(bars: engine.Bars, space: dict[str, list[int]], cfg: engine.Config) -> tuple[float, float]:
    """Seconds to build every signal (one thread) and to run_batch them on every core."""
    pairs = [(f, s) for f in space["fast"] for s in space["slow"] if f < s]
    started = time.perf_counter()
    sig = np.empty((len(pairs), len(bars)), np.int8)
    strat = SmaCross()
    for k, (f, s) in enumerate(pairs):
        sig[k] = strat.signals(bars, fast=f, slow=s)
    built = time.perf_counter() - started
    started = time.perf_counter()
    engine.run_batch_records(bars, sig, cfg, threads=0)
    return built, time.perf_counter() - started


def _driver_peak(bars: engine.Bars, n_combos: int, cfg: engine.Config) -> tuple[int, float]:
    space = _space(n_combos)
    gc.collect()
    tracemalloc.start()
    cluster.sweep(SmaCross, bars, space, cfg, workers=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return _count(space), peak / 2**20


def main(quick: bool = False) -> None:
    n_bars = 20_000 if quick else 100_000
    combos = 1_000 if quick else 10_000
    cores = len(os.sched_getaffinity(0))
    bars = synthetic.bars(n_bars, seed=11, timeframe="1h")
    cfg = engine.Config(fee_rate=0.0005)
    space = _space(combos)
    n = _count(space)
    print(f"{n:,} SMA-cross combinations over {n_bars:,} synthetic bars, {cores} cores")

    _in_process(bars, _space(200), cfg)  # warm the indicator cache and the code paths
    t_local = min(_in_process(bars, space, cfg) for _ in range(2))
    built, batched = _signals_then_batch(bars, space, cfg)

    runtime.ensure(None)
    cluster.sweep(SmaCross, bars, _space(200), cfg)  # start Ray and its workers once
    times = []
    for _ in range(2):
        started = time.perf_counter()
        res = cluster.sweep(SmaCross, bars, space, cfg)
        times.append(time.perf_counter() - started)
    t_ray = min(times)
    assert len(res.table) == n and res.table["error"].isna().all()
    ratio = (n / t_ray) / (n / t_local)
    steps = n * n_bars

    print(f"\n{'':34}{'seconds':>10}{'runs/s':>12}{'bar-steps/s':>14}")
    print(f"{'in one process (threads+run_batch)':34}{t_local:>10.2f}{n / t_local:>12,.0f}{steps / t_local:>14.3g}")
    print(f"{'on the local Ray (actors)':34}{t_ray:>10.2f}{n / t_ray:>12,.0f}{steps / t_ray:>14.3g}")
    print(f"{'apart: every signal, one thread':34}{built:>10.2f}")
    print(f"{'apart: run_batch of them, all cores':34}{batched:>10.2f}{'':>12}{steps / batched:>14.3g}")
    mark = verdict(ratio >= 0.85)
    print(f"\nRay throughput / in-process throughput: {ratio:.1%}  (target >= 85 %: {mark})")

    print("\ndriver memory while sweeping (Python allocations, tracemalloc peak):")
    sizes = (250, 1_000) if quick else (1_000, 4_000, 10_000)
    for target in sizes:
        count, peak = _driver_peak(bars, target, cfg)
        print(f"  {count:>7,} combinations: {peak:8.1f} MiB")

    per_core = n / t_ray / cores
    row_bytes = res.table.memory_usage(deep=True).sum() / len(res.table)
    bars_bytes = sum(a.nbytes for a in (bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume))
    chunk = int(res.manifest.get("chunk_size", 1))
    target_n, nodes, per_node = 10**7, 100, 16
    secs = target_n / (per_core * nodes * per_node)
    print(f"\nmodel: 10^7 combinations on {nodes} nodes x {per_node} cores, {n_bars:,} bars")
    print(
        f"  measured here: {per_core:,.0f} runs/s per core, {row_bytes:,.0f} bytes per result row, "
        f"chunks of {chunk} runs"
    )
    print(
        f"  compute: 10^7 / ({per_core:,.0f} x {nodes * per_node}) = {secs:,.0f} s "
        f"(~{secs / 60:.1f} min) if per-core speed holds"
    )
    print(
        f"  object store per node: bars once = {bars_bytes / 2**20:.1f} MiB; results back to the "
        f"driver {target_n * row_bytes / nodes / 2**20:,.0f} MiB per node, "
        f"{target_n * row_bytes / 2**30:.2f} GiB in all"
    )
    print(
        f"  calls: {target_n / chunk:,.0f} chunks; at ~1 ms of Ray overhead each, spread over "
        f"{nodes * per_node} workers, {target_n / chunk * 1e-3 / (nodes * per_node):.2f} s of overhead"
    )
    runtime.shutdown()

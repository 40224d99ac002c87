"""The universe sweep benchmark: a cross-sectional momentum sweep in one process, on local Ray, and in vectorbt.

On a seeded synthetic panel of 500 symbols x 2,520 daily bars (``--quick``: 100 x
756), ``strategies.CrossSectionalMomentum`` over 1,000 parameter sets (lookback x
skip x top_k, month-end rebalancing; ``--quick``: 120):

- in-process: ``cluster.sweep(..., address="local-threads")`` on every core, total
  time including the weights;
- local Ray: the same sweep on a local Ray (started and warmed up by a small sweep
  first, so its start-up is not in the figure); target: at least 85 % of the
  in-process throughput;
- driver memory: the driver's resident memory after Ray sweeps of a tenth, 30 % and
  all of the combinations (it should stay flat: rows go to the sink as chunks
  finish, the panel travels once);
- vectorbt, the obvious way: per combination, momentum by pandas (``shift``,
  ``rank(axis=1)``), target weights on month ends, ``Portfolio.from_orders`` with
  cash sharing, one combination at a time (a column group per combination would
  hold 1,000 x 500 columns of 2,520 bars: 10 GB). Timed on a sample of the
  combinations and scaled to all of them; target: anvil at least 100x faster.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

import cluster
import engine
import strategies
from bench._machine import verdict
from engine import synthetic

SEED = 7
FEE = 0.0005
TARGET_RAY_SHARE = 0.85
TARGET_VS_VECTORBT = 100.0


def space(quick: bool) -> dict[str, Any]:
    if quick:
        return {"lookback": [21, 63, 126], "skip": [0, 5], "top_k": list(range(2, 42, 2)), "rebalance": ["month_end"]}
    return {
        "lookback": list(range(21, 301, 28)),
        "skip": [0, 5, 10, 15, 20],
        "top_k": list(range(5, 105, 5)),
        "rebalance": ["month_end"],
    }


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def vectorbt_one(vbt: Any, close: pd.DataFrame, month_end: np.ndarray, lookback: int, skip: int, top_k: int) -> float:
    """One combination the obvious way in vectorbt; returns its Sharpe ratio."""
    score = close.shift(skip) / close.shift(lookback) - 1.0
    rank = score.rank(axis=1, ascending=False, method="first")
    weights = (rank <= top_k).astype(float) / top_k
    weights[~month_end] = np.nan  # trade on month ends only
    pf = vbt.Portfolio.from_orders(
        close,
        size=weights,
        size_type="targetpercent",
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        fees=FEE,
        freq="1D",
    )
    return float(pf.sharpe_ratio())


def main(quick: bool = False) -> None:
    n_sym, n_bars = (100, 756) if quick else (500, 2520)
    panel = synthetic.panel(n_sym, n_bars, seed=SEED)
    cfg = engine.Config(fee_rate=FEE, fill="close")
    mom = strategies.CrossSectionalMomentum
    sp = space(quick)
    n = int(np.prod([len(v) for v in sp.values()]))
    cores = len(os.sched_getaffinity(0))
    print(
        f"\n{n:,} parameter sets of {mom.name} over {n_sym} symbols x {n_bars} bars, month-end rebalancing, "
        f"{cores} cores"
    )

    started = time.perf_counter()
    here = cluster.sweep(mom, panel, sp, cfg, address="local-threads")
    in_process = time.perf_counter() - started
    print(f"  in-process ({cores} threads)  {in_process:8.2f} s   {n / in_process:8.1f} runs/s")

    cluster.sweep(mom, panel, {k: v[:1] for k, v in sp.items()}, cfg)  # start the local Ray and its actors
    print(f"  driver memory (resident) as Ray sweeps grow: {rss_mb():.1f} MB after the warm-up")
    for share_of in (0.1, 0.3):
        part = {**sp, "top_k": sp["top_k"][: max(1, round(len(sp["top_k"]) * share_of))]}
        runs = int(np.prod([len(v) for v in part.values()]))
        cluster.sweep(mom, panel, part, cfg)
        print(f"    {runs:6,} combinations   {rss_mb():8.1f} MB")
    started = time.perf_counter()
    on_ray = cluster.sweep(mom, panel, sp, cfg)
    ray_s = time.perf_counter() - started
    print(f"    {n:6,} combinations   {rss_mb():8.1f} MB")
    share = in_process / ray_s
    print(
        f"  local Ray ({cores} actors)     {ray_s:8.2f} s   {n / ray_s:8.1f} runs/s   "
        f"{share:.0%} of in-process (target >= {TARGET_RAY_SHARE:.0%}: {verdict(share >= TARGET_RAY_SHARE)})"
    )
    same = np.array_equal(here.table["sharpe"].to_numpy(), on_ray.table["sharpe"].to_numpy(), equal_nan=True)
    print(f"  same table in-process and on Ray: {same}")
    cluster.shutdown()

    try:
        import vectorbt as vbt
    except ImportError:  # pragma: no cover - a test extra
        print("  vectorbt is not installed: no comparison")
        return
    close = pd.DataFrame(panel.close, index=panel.index)
    month_end = np.zeros(len(panel), bool)
    month = panel.index.month
    month_end[:-1] = month[1:] != month[:-1]
    month_end[-1] = True
    rows = here.table.sample(n=min(12 if not quick else 6, n), random_state=SEED)
    vectorbt_one(vbt, close, month_end, 21, 0, 5)  # numba compiles once, outside the timing
    started = time.perf_counter()
    for _, r in rows.iterrows():
        vectorbt_one(vbt, close, month_end, int(r["lookback"]), int(r["skip"]), int(r["top_k"]))
    per_combo = (time.perf_counter() - started) / len(rows)
    theirs = per_combo * n
    ratio = theirs / in_process
    print(
        f"  vectorbt, one combination at a time: {per_combo:.2f} s each (timed on {len(rows)}), "
        f"{theirs:,.0f} s for all {n:,}"
    )
    print(
        f"  ratio vectorbt / anvil in-process: {ratio:,.0f} x   (target >= {TARGET_VS_VECTORBT:g} x: "
        f"{verdict(ratio >= TARGET_VS_VECTORBT)})"
    )

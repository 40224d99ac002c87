"""The jail's costs: start-up, a jailed ``signals()`` next to in-process, a sweep next to the built-in.

python -m bench jail
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

SOURCE = '''
import numpy as np
from strategies import Strategy, Int, indicators


class Trend(Strategy):
    """Long while the fast SMA is above the slow one (sma_cross, uploaded)."""

    fast = Int(10, low=2, high=100)
    slow = Int(30, low=5, high=400)
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow):
        f, s = indicators.sma(bars.close, fast), indicators.sma(bars.close, slow)
        return np.where(f > s, 1, 0).astype(np.int8)
'''


def main(quick: bool = False) -> None:
    import cluster
    import engine
    import strategies
    from strategies import jail
    from strategies.library import get_strategy
    from strategies.loader import load_strategy

    reason = jail.available()
    if reason:
        print(f"no jail on this machine: {reason}")
        return
    sample = Path(engine.__file__).parent / "sample" / "sp500_daily.parquet"
    bars = engine.Bars.from_pandas(pd.read_parquet(sample), symbol="SPX")
    limits = jail.Limits(pool_size=2)
    starts = []
    for _ in range(3):
        t = time.perf_counter()
        proc = jail.JailProcess(SOURCE, limits)
        starts.append((proc.ready_seconds, time.perf_counter() - t))
        proc.kill()
    print(
        "jail start-up (bwrap + Python + anvil imported, then the source loaded): "
        + ", ".join(f"{a:.2f} s / {b:.2f} s" for a, b in starts)
    )
    uploaded = jail.jailed(SOURCE, jail.describe(SOURCE, limits), job="bench", limits=limits)
    in_process, builtin = load_strategy(SOURCE), get_strategy("sma_cross")
    params = {"fast": 10, "slow": 50}
    strategies.signal(uploaded, bars, params)  # its pool's process is up

    def per_call(cls: type, n: int = 20 if quick else 200) -> float:
        t = time.perf_counter()
        for _ in range(n):
            strategies.signal(cls, bars, params)
        return (time.perf_counter() - t) / n * 1e3

    print(
        f"signals() on {len(bars)} bars: jailed {per_call(uploaded):.2f} ms, in-process loader "
        f"{per_call(in_process):.2f} ms, built-in {per_call(builtin):.2f} ms"
    )
    space = {"fast": list(range(2, 101, 4 if quick else 1)), "slow": list(range(120, 401, 20))}
    runs = (
        ("built-in sma_cross", builtin),
        ("uploaded, in-process (the unsafe opt-out)", in_process),
        ("uploaded, jailed (starting its jails)", uploaded),
        ("uploaded, jailed (jails already up)", uploaded),
    )
    for name, cls in runs:
        t = time.perf_counter()
        result = cluster.sweep(cls, bars, space, address="local-threads", workers=2)
        dt = time.perf_counter() - t
        print(
            f"sweep, {name}: {len(result.table)} runs in {dt:.2f} s = {len(result.table) / dt:.0f} runs/s "
            "(local-threads, 2 workers)"
        )
    jail.release("bench")

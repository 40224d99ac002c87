"""How big and how slow reports are: a 100,000- and a 1,000,000-bar backtest, and a
10,000-run sweep on the shipped S&P 500 sample.

    .venv/bin/python bench/report_sizes.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import cluster
import engine
from api import report
import strategies


def main() -> None:
    for n in (100_000, 1_000_000):
        bars = engine.synthetic.bars(n, seed=3, timeframe="1h")
        close = pd.Series(bars.close)
        signal = np.where(close.rolling(24).mean() > close.rolling(240).mean(), 1.0, 0.0)
        res = engine.backtest(bars, signal, engine.Config(fee_rate=0.001))
        started = time.perf_counter()
        doc = report.html(res)
        print(
            f"backtest, {n:,} bars, {int(res.stats['total_trades']):,} trades: "
            f"{len(doc.encode()) / 1e6:.2f} MB in {time.perf_counter() - started:.1f} s"
        )
    with tempfile.TemporaryDirectory() as tmp, engine.Store(Path(tmp) / "x.duckdb") as store:
        bars = store.bars("SPX", "1d")[:1500]
    sweep = cluster.sweep(
        strategies.SmaCross, bars, {"fast": range(2, 82), "slow": range(105, 355, 2)}, address="local-threads"
    )
    started = time.perf_counter()
    doc = report.html(sweep)
    print(
        f"sweep, {len(sweep.table):,} runs: {len(doc.encode()) / 1e6:.2f} MB in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()

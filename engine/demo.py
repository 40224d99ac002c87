"""``make demo``: a real backtest on real data, its statistics printed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import engine

SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sp500_daily.parquet"


def main() -> None:
    df = pd.read_parquet(SAMPLE)
    bars = engine.Bars.from_pandas(df)
    close = pd.Series(bars.close)
    fast, slow = close.rolling(50).mean(), close.rolling(200).mean()
    signal = np.where(fast > slow, 1, 0)
    cfg = engine.Config(initial_capital=10_000, fee_rate=0.001, slippage_bps=2)
    res = engine.backtest(bars, signal, cfg)
    print(f"{bars}\n50/200-day SMA cross, long only, 0.1 % fees, 2 bps slippage\n")
    print(res.summary())
    print(f"\nlast trades:\n{res.trades.tail(5).to_string(index=False)}")


if __name__ == "__main__":
    main()

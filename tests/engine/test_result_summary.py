"""``Result.summary()``: the period it covers, then every metric; counts as whole numbers."""

from __future__ import annotations

import pandas as pd

import engine
import strategies


def test_summary_shows_the_period_and_counts_as_integers(sp500_bars):
    res = strategies.run(strategies.SmaCross, sp500_bars, engine.Config(), {"fast": 10, "slow": 50})
    lines = res.summary().splitlines()
    first, last = sp500_bars.index[0], sp500_bars.index[-1]
    assert lines[0].split() == [
        "period",
        first.strftime("%Y-%m-%d"),
        "..",
        last.strftime("%Y-%m-%d"),
        f"({len(sp500_bars):,}",
        "bars)",
    ]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert list(rows) == list(engine.METRICS)
    assert rows["total_trades"] == f"{int(res.stats['total_trades']):,}"
    assert rows["max_drawdown_duration"] == f"{int(res.stats['max_drawdown_duration']):,}"
    assert "." in rows["sharpe"]


def test_intraday_periods_show_the_time(shared_data):
    bars = engine.Bars.from_pandas(pd.read_parquet(shared_data / "eurusd_hourly.parquet"))
    res = strategies.run(strategies.SmaCross, bars, engine.Config(), {"fast": 10, "slow": 50})
    head = res.summary().splitlines()[0]
    assert head.endswith(f"({len(bars):,} bars)")
    assert bars.index[-1].strftime("%Y-%m-%d %H:%M") in head

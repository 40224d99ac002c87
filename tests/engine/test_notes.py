"""Result.notes: every NaN statistic says why; bounds on prices and timeframes name the limit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import engine
from engine.bars import MAX_PRICE, MIN_PRICE
from engine.store import Store
from engine.store._errors import SourceError
from tests.engine.test_fill_rules import bars_of, flat

CFG = engine.Config(periods_per_year=252)


def nan_stats(res: engine.Result) -> set[str]:
    return {k for k, v in res.stats.items() if math.isnan(v)}


def explained(res: engine.Result) -> set[str]:
    """The NaN metrics some note names."""
    return {k for k in nan_stats(res) if any(k in note.split(" is NaN")[0].split(" are NaN")[0] for note in res.notes)}


def test_a_flat_account_says_why_sharpe_and_the_trade_metrics_are_nan() -> None:
    res = engine.backtest(bars_of(*[flat(100)] * 5), np.zeros(5, np.int8), CFG)
    assert "sharpe is NaN: equity never changed" in res.notes
    assert any(note.endswith("are NaN: no trade was closed") for note in res.notes)
    assert explained(res) == nan_stats(res)


def test_a_single_bar_says_it_has_no_spread() -> None:
    res = engine.backtest(bars_of(flat(100)), np.zeros(1, np.int8), CFG)
    assert any("single bar" in note for note in res.notes)
    assert explained(res) == nan_stats(res)


def test_only_winning_trades_say_there_was_no_loss() -> None:
    rows = [flat(100), flat(100), flat(110), flat(120), flat(130)]
    res = engine.backtest(bars_of(*rows), np.array([1, engine.HOLD, engine.HOLD, 0, engine.HOLD], np.int8), CFG)
    assert "avg_loss is NaN: no trade lost money" in res.notes
    assert "sortino is NaN: no bar lost money (no downside to measure)" in res.notes
    assert "calmar is NaN: there was no drawdown" in res.notes
    assert explained(res) == nan_stats(res)


def test_a_result_without_nans_has_no_nan_notes(sp500_bars) -> None:
    sig = np.where(np.arange(len(sp500_bars)) % 40 < 20, 1, 0).astype(np.int8)
    res = engine.backtest(sp500_bars, sig, CFG)
    assert not nan_stats(res) and res.notes == []


@pytest.mark.parametrize("price", [1e308, MAX_PRICE * 1.5, MIN_PRICE / 2])
def test_prices_outside_the_bound_are_refused_naming_field_index_and_limit(price: float) -> None:
    rows = [flat(100)] * 6
    o, h, lo, c = (np.array(x, dtype=float) for x in zip(*rows))
    h[4] = c[4] = o[4] = lo[4] = price
    ts = pd.date_range("2024-01-01", periods=6, freq="D").values
    with pytest.raises(engine.InvalidBarsError, match=r"bars\.open\[4\].*within \[1e-12, 1e\+12\]"):
        engine.Bars.from_numpy(ts, o, h, lo, c)


def test_prices_outside_the_bound_are_refused_at_import(tmp_path) -> None:
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=5, freq="D"),
            "open": 100.0,
            "high": 100.0,
            "low": 100.0,
            "close": 100.0,
            "volume": 1.0,
        }
    )
    df.loc[3, ["high", "close"]] = 1e308
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(SourceError, match=r"row 3: high is 1e\+308: prices must lie within"):
            store.import_bars(df, "BIG", "1d")
        assert "BIG" not in {s.symbol for s in store.catalog()}


def test_bars_much_finer_than_the_declared_timeframe_are_refused(tmp_path) -> None:
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=1000, freq="1min"),
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": 1.0,
            "volume": 1.0,
        }
    )
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(SourceError, match=r"1m apart .* 1,000 bars.* declared timeframe 1d"):
            store.import_bars(df, "MIN", "1d")
        with pytest.raises(SourceError, match="much finer"):
            store.import_bars(df, "MIN", "5m")
        assert "MIN" not in {s.symbol for s in store.catalog()}
        store.import_bars(df, "MIN", "1m")  # as they are
        store.import_bars(df.set_index("ts").resample("1h").first().reset_index(), "HOURLY", "1h")
        assert {"MIN", "HOURLY"} <= {s.symbol for s in store.catalog()}

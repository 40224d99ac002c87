"""Export: bars and results to Parquet and CSV, and back in unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import engine
from engine.store import NoDataError, Store, export

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "store.duckdb") as s:
        s.import_bars(DATA / "yahoo_acme.csv", symbol="ACME", timeframe="1d")
        yield s


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_stored_bars_export_and_import_back_unchanged(store, tmp_path, suffix):
    for symbol in ("SPX", "ACME"):
        path = store.export(symbol, "1d", tmp_path / f"{symbol}.{suffix}")
        report = store.import_bars(path)
        assert report.series[0].symbol == symbol
        assert report.added == report.changed == 0 and report.unchanged > 0


def test_an_export_holds_symbol_utc_times_and_adj_close(store, tmp_path):
    df = pd.read_parquet(store.export("ACME", "1d", tmp_path / "acme.parquet"))
    assert list(df.columns) == ["symbol", "ts", "open", "high", "low", "close", "volume", "adj_close"]
    assert str(df.ts.dt.tz) == "UTC" and df.adj_close.iloc[0] == 49.98
    spx = pd.read_parquet(store.export("SPX", "1d", tmp_path / "spx.parquet", start="2018-12-01"))
    assert "adj_close" not in spx.columns and len(spx) == 19  # markets shut on 2018-12-05


def test_exporting_what_is_not_stored(store, tmp_path):
    with pytest.raises(NoDataError, match="no bars for symbol 'NOPE'"):
        store.export("NOPE", "1d", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_bars_export_and_import_back(tmp_path, sp500_bars, suffix):
    bars = engine.Bars(sp500_bars.ts, *sp500_bars.prices, sp500_bars.volume, symbol="SPX")
    path = export(bars, tmp_path / f"spx.{suffix}")
    with Store(tmp_path / "s.duckdb", sample=False) as s:
        s.import_bars(path, timeframe="1d")
        back = s.bars("SPX", "1d")
    for field in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(back, field), getattr(bars, field))


def test_a_result_exports_stats_equity_and_trades(tmp_path, sp500_bars):
    close = pd.Series(sp500_bars.close)
    signal = np.where(close > close.rolling(50).mean(), 1, 0)
    res = engine.backtest(sp500_bars, signal, engine.Config(fee_rate=0.001))
    folder = export(res, tmp_path / "run")
    stats = pd.read_parquet(folder / "stats.parquet")
    assert stats.loc[0, "sharpe"] == res.stats["sharpe"] and list(stats.columns) == list(res.stats)
    trades = pd.read_parquet(folder / "trades.parquet")
    pd.testing.assert_series_equal(trades["pnl"], res.trades["pnl"])
    equity = pd.read_parquet(folder / "equity.parquet")
    np.testing.assert_array_equal(equity["equity"].to_numpy(), res.equity.to_numpy())
    csv = export(res, tmp_path / "run_csv", format="csv")
    assert len(pd.read_csv(csv / "trades.csv")) == res.stats["total_trades"]


def test_tables_and_frames_export(tmp_path):
    table = pd.DataFrame({"fast": [5, 10], "sharpe": [0.4, 0.9]})
    pd.testing.assert_frame_equal(pd.read_csv(export(table, tmp_path / "sweep.csv")), table)
    pd.testing.assert_frame_equal(pq.read_table(export(table, tmp_path / "sweep.pq")).to_pandas(), table)


def test_an_export_replaces_a_file_whole(tmp_path):
    path = tmp_path / "t.csv"
    export(pd.DataFrame({"a": range(1000)}), path)
    export(pd.DataFrame({"a": [7]}), path)
    assert pd.read_csv(path)["a"].tolist() == [7]
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temporary file left behind


def test_an_export_needs_a_known_format(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format"):
        export(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
    with pytest.raises(TypeError, match="export takes Bars"):
        export([1, 2, 3], tmp_path / "t.csv")

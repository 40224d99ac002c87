"""Resampling inside DuckDB: known answers, agreement with pandas, the partial last bucket."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine import Bars, synthetic
from engine.store import NoDataError, Store, TimeframeError

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "store.duckdb", sample=False) as s:
        s.import_bars(DATA / "minute_bars.csv", symbol="M", timeframe="1m")
        yield s


def pandas_ohlcv(bars, rule: str) -> pd.DataFrame:
    """The same buckets with pandas: left-closed, left-labelled, aligned to the epoch."""
    df = bars.to_pandas().tz_localize(None)  # UTC, naive: pandas aligns days to the epoch only then
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    out = df.resample(rule, closed="left", label="left", origin="epoch").agg(agg)
    counts = df["close"].resample(rule, closed="left", label="left", origin="epoch").count()
    return out[counts > 0]


def test_five_minute_bars_known_answer(store):
    table = store.resample("M", "5m").to_pandas()
    assert [str(t.time()) for t in table.ts] == ["09:30:00", "09:35:00", "09:40:00"]
    assert table.open.tolist() == [100.0, 99.0, 100.7]
    assert table.high.tolist() == [102.0, 103.0, 101.3]
    assert table["low"].tolist() == [98.0, 98.9, 100.5]
    assert table.close.tolist() == [99.0, 100.7, 100.9]
    assert table.volume.tolist() == [150.0, 400.0, 230.0]
    assert table.bars.tolist() == [5, 5, 2]
    assert table.complete.tolist() == [True, True, False]


def test_the_partial_last_bucket_is_dropped_or_kept(store):
    assert len(store.bars("M", "5m")) == 2
    kept = store.bars("M", "5m", partial="keep")
    assert len(kept) == 3 and kept.close[-1] == 100.9
    with pytest.raises(ValueError, match="'drop' or 'keep'"):
        store.bars("M", "5m", partial="flag")


def test_a_bucket_filled_to_its_end_is_complete(store):
    table = store.resample("M", "2m").to_pandas()
    assert len(table) == 6 and table.complete.all()
    assert table.close.tolist() == [101.5, 98.5, 99.8, 101.2, 100.7, 100.9]


def test_the_range_selects_buckets_and_each_is_built_whole(store):
    table = store.resample("M", "5m", start="2024-03-01 09:37", end="2024-03-01 09:38").to_pandas()
    assert len(table) == 1 and table.open[0] == 99.0 and table.bars[0] == 5


@pytest.mark.parametrize(("timeframe", "rule"), [("5m", "5min"), ("15m", "15min"), ("1h", "1h"), ("1d", "1D")])
def test_resampling_agrees_with_pandas(tmp_path, timeframe, rule):
    bars = synthetic.bars(20_000, seed=3, timeframe="1m", start="2021-06-03 13:07", jumps=synthetic.Jumps())
    keep = np.random.default_rng(0).random(len(bars)) > 0.2  # missing minutes, as real data has
    df = bars.to_pandas()[keep]
    with Store(tmp_path / "s.duckdb", sample=False) as store:
        store.import_bars(df, symbol="SYN", timeframe="1m")
        got = store.bars("SYN", timeframe, partial="keep")
    want = pandas_ohlcv(Bars.from_pandas(df), rule)
    np.testing.assert_array_equal(got.ts, want.index.as_unit("ns").asi8)
    for field in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(got, field), want[field].to_numpy())
    np.testing.assert_allclose(got.volume, want["volume"].to_numpy(), rtol=1e-12)


def test_daily_bars_from_real_hourly_data(tmp_path, shared_data):
    with Store(tmp_path / "s.duckdb", sample=False) as store:
        store.import_bars(shared_data / "eurusd_hourly.parquet", timeframe="1h")
        daily = store.resample("EURUSD", "1d").to_pandas()
        hourly = store.bars("EURUSD", "1h")
    want = pandas_ohlcv(hourly, "1D")
    assert len(daily) == len(want) == 251
    np.testing.assert_array_equal(daily.close.to_numpy(), want.close.to_numpy())
    assert daily.complete.tolist() == [True] * 250 + [False]  # the data stop at 15:00 on the last day


def test_weeks_start_on_monday(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        weeks = store.resample("SPX", "1w", start="2008-09-01", end="2008-10-31").to_pandas()
        days = store.bars("SPX", "1d", start="2008-09-01", end="2008-11-02")
    assert all(t.day_name() == "Monday" for t in weeks.ts)
    assert weeks.bars.tolist() == [4, 5, 5, 5, 5, 5, 5, 5, 5]  # 2008-09-01 was Labor Day
    assert weeks.close.iloc[-1] == days.close[-1]


def test_the_source_timeframe_can_be_chosen_and_must_divide(store):
    store.import_bars(store.resample("M", "2m").to_pandas().drop(columns=["bars", "complete"]), symbol="M")

    def counts(**kw):
        return store.resample("M", "4m", **kw).column("bars").to_pylist()

    assert counts(source="1m") == [2, 4, 4, 2]  # buckets 09:28, 09:32, 09:36, 09:40
    assert counts(source="2m") == [1, 2, 2, 1]
    assert counts() == [1, 2, 2, 1]  # the coarsest stored divisor is chosen
    with pytest.raises(TimeframeError, match="5m must be a multiple of 2m"):
        store.resample("M", "5m", source="2m")
    with pytest.raises(NoDataError, match="no 30s bars for M"):
        store.resample("M", "1m", source="30s")


def test_no_finer_timeframe_to_build_from(store):
    with pytest.raises(NoDataError, match="no 90s bars for M, and none finer"):
        store.bars("M", "90s")

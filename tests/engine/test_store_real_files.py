"""Imports of files shaped like the ones people have: day-first dates, DD.MM.YYYY with
decimal commas, MetaTrader and Binance exports, Yahoo's null rows, unknown column names,
a DataFrame with a DatetimeIndex. The rows come from the real S&P 500 and EURUSD series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.store import SourceError, TimeframeError
from tests.engine.own_store import store  # noqa: F401 - an empty store of the test's own

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def spx_2015(sp500_df: pd.DataFrame) -> pd.DataFrame:
    """The real S&P 500 bars the 2015 test files were written from."""
    df = sp500_df[(sp500_df.ts >= "2015-01-01") & (sp500_df.ts < "2015-02-15")].reset_index(drop=True)
    return df


@pytest.fixture(scope="module")
def eurusd_48(shared_data: Path) -> pd.DataFrame:
    return pd.read_parquet(shared_data / "eurusd_hourly.parquet").iloc[:48].reset_index(drop=True)


def days(bars) -> list[str]:
    return [str(t.date()) for t in bars.to_pandas().index]


# -- day-first and month-first dates: one order per file -------------------------------


def test_day_first_dates_land_on_their_days(store, spx_2015):
    """02/01/2015 in a file that also holds 13/01/2015 is 2 January: every bar on its day."""
    store.import_bars(DATA / "spx_dayfirst.csv", symbol="SPX", timeframe="1d")
    bars = store.bars("SPX", "1d")
    assert days(bars) == [str(t.date()) for t in spx_2015.ts]
    np.testing.assert_allclose(bars.close, spx_2015.close.round(2))


def test_a_file_that_reads_both_ways_is_refused_naming_the_choices(store):
    with pytest.raises(SourceError) as err:
        store.import_bars(DATA / "spx_ambiguous_dates.csv", symbol="SPX", timeframe="1d")
    text = str(err.value)
    assert "'02/01/2015' is 2 January 2015" in text and "is 1 February 2015" in text
    assert "dayfirst=True" in text and "--date-format" in text and "%d/%m/%Y" in text
    assert store.catalog() == []


@pytest.mark.parametrize("how", [{"dayfirst": True}, {"date_format": "%d/%m/%Y"}])
def test_dayfirst_or_a_date_format_settles_an_ambiguous_file(store, spx_2015, how):
    store.import_bars(DATA / "spx_ambiguous_dates.csv", symbol="SPX", timeframe="1d", **how)
    assert days(store.bars("SPX", "1d")) == [str(t.date()) for t in spx_2015.ts if t.day <= 12 and t.month == 1]


def test_month_first_asked_for_reads_month_first(store):
    store.import_bars(DATA / "spx_ambiguous_dates.csv", symbol="SPX", timeframe="1d", dayfirst=False)
    assert days(store.bars("SPX", "1d"))[0] == "2015-02-01"


def test_a_row_that_contradicts_the_order_asked_for_is_a_bad_row_saying_why(store):
    from engine.store import BadRowsError

    with pytest.raises(BadRowsError) as err:
        store.import_bars(DATA / "spx_dayfirst.csv", symbol="SPX", timeframe="1d", dayfirst=False)
    first = err.value.report.problems[0]
    assert first.reason == "time '13/01/2015' cannot be read as a time (the column is read month-first (%m/%d/%Y))"


def test_dates_written_in_both_orders_are_refused():
    from engine.store._dates import as_iso

    text = pd.Series(["13/01/2015", "01/20/2015"], dtype="string")
    with pytest.raises(SourceError, match="day-first in some rows .* month-first in others"):
        as_iso(text, dayfirst=None, label="Date", source="f.csv")


def test_two_digit_years_and_times_after_the_date():
    from engine.store._dates import as_iso

    text = pd.Series(["31.12.99 23:00", "01.01.00 9:30"], dtype="string")
    out, order = as_iso(text, dayfirst=None, label="Date", source="f.csv")
    assert list(out) == ["1999-12-31 23:00", "2000-01-01 9:30"]
    assert order is not None and order.example == "%d.%m.%y"


# -- DD.MM.YYYY with ; and decimal commas -----------------------------------------------


def test_semicolons_and_decimal_commas(store, spx_2015):
    report = store.import_bars(DATA / "spx_semicolon_decimal_comma.csv", symbol="SPX", timeframe="1d")
    assert report.rows_bad == 0
    bars = store.bars("SPX", "1d")
    assert days(bars) == [str(t.date()) for t in spx_2015.ts]
    np.testing.assert_allclose(bars.close, spx_2015.close.round(2))
    np.testing.assert_allclose(bars.volume, spx_2015.volume)


# -- Yahoo's null rows --------------------------------------------------------------------


def test_yahoo_null_rows_are_left_out_and_counted(store, spx_2015):
    report = store.import_bars(DATA / "yahoo_nulls.csv", symbol="SPX")
    assert (report.rows_read, report.rows_empty, report.rows_bad, report.added) == (32, 2, 0, 30)
    assert "2 rows had a time but no prices (null) and were left out" in str(report)
    assert days(store.bars("SPX", "1d")) == [str(t.date()) for t in spx_2015.ts]


def test_a_row_with_some_prices_missing_is_still_a_bad_row(store, tmp_path):
    from engine.store import BadRowsError

    f = tmp_path / "partial.csv"
    f.write_text("Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n2024-01-03,1,null,0.5,1.5\n")
    with pytest.raises(BadRowsError, match="high is missing"):
        store.import_bars(f, symbol="X", timeframe="1d")


# -- MetaTrader ---------------------------------------------------------------------------


def test_metatrader5_export_with_tick_volume(store, eurusd_48):
    report = store.import_bars(DATA / "mt5_eurusd_h1.csv", symbol="EURUSD")
    assert report.series[0].timeframe == "1h" and report.added == 48
    assert set(report.ignored_columns) == {"<VOL>", "<SPREAD>"}
    bars = store.bars("EURUSD", "1h")
    assert list(bars.to_pandas().index.tz_localize(None)) == list(eurusd_48.ts)
    np.testing.assert_allclose(bars.close, eurusd_48.close)
    np.testing.assert_allclose(bars.volume, eurusd_48.volume)  # <VOL> is all 0: the tick volume


def test_metatrader5_real_volume_is_kept_when_there_is_one(store, tmp_path):
    text = (DATA / "mt5_eurusd_h1.csv").read_text().replace("\t0\t2\n", "\t7\t2\n")
    f = tmp_path / "mt5_stock.csv"
    f.write_text(text)
    report = store.import_bars(f, symbol="STOCK")
    assert "<TICKVOL>" in report.ignored_columns
    assert set(store.bars("STOCK", "1h").volume) == {7.0}


def test_metatrader4_history_export_without_a_header(store, eurusd_48):
    report = store.import_bars(DATA / "mt4_eurusd_h1.csv", symbol="EURUSD")
    assert report.added == 48 and report.series[0].timeframe == "1h"
    bars = store.bars("EURUSD", "1h")
    assert list(bars.to_pandas().index.tz_localize(None)) == list(eurusd_48.ts)
    np.testing.assert_allclose(bars.open, eurusd_48.open)


# -- Binance klines -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["binance_klines_1h.csv", "binance_klines_1h_header.csv"])
def test_binance_klines_in_epoch_milliseconds(store, eurusd_48, name):
    report = store.import_bars(DATA / name, symbol="BTCUSDT")
    assert report.added == 48 and report.series[0].timeframe == "1h"
    assert "close_time" in report.ignored_columns
    bars = store.bars("BTCUSDT", "1h")
    assert list(bars.to_pandas().index.tz_localize(None)) == list(eurusd_48.ts)
    np.testing.assert_allclose(bars.high, eurusd_48.high)


def test_a_headerless_file_of_unknown_width_says_what_to_do(store, tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(SourceError, match="no header line and 3 columns"):
        store.import_bars(f, symbol="X")


# -- names anvil does not know: columns= ----------------------------------------------------


def test_columns_maps_unknown_names(store, eurusd_48):
    with pytest.raises(SourceError, match=r"missing column close .*--columns close=<column>"):
        store.import_bars(DATA / "last_price.csv", symbol="EURUSD")
    report = store.import_bars(
        DATA / "last_price.csv", symbol="EURUSD", columns={"close": "Last", "volume": "Vol.Traded"}
    )
    assert report.added == 48 and report.ignored_columns == ()
    np.testing.assert_allclose(store.bars("EURUSD", "1h").close, eurusd_48.close)


def test_columns_joins_a_date_and_a_time(store, tmp_path):
    f = tmp_path / "split.csv"
    f.write_text(
        "Day,Clock,O,H,L,C\n2024-01-02,09:00,1,2,0.5,1.5\n2024-01-02,10:00,1,2,0.5,1.5\n2024-01-02,11:00,1,2,0.5,1.5\n"
    )
    store.import_bars(f, symbol="X", columns={"ts": "Day+Clock", "open": "O", "high": "H", "low": "L", "close": "C"})
    assert [str(t) for t in store.bars("X", "1h").to_pandas().index] == [
        "2024-01-02 09:00:00+00:00",
        "2024-01-02 10:00:00+00:00",
        "2024-01-02 11:00:00+00:00",
    ]


def test_columns_naming_a_column_the_file_lacks_lists_what_it_has(store):
    with pytest.raises(SourceError, match=r"maps close to 'last', which the source lacks \(did you mean 'Last'\?\)"):
        store.import_bars(DATA / "last_price.csv", symbol="EURUSD", columns={"close": "last"})
    with pytest.raises(SourceError, match="'price' is not a field"):
        store.import_bars(DATA / "last_price.csv", symbol="EURUSD", columns={"price": "Last"})


def test_parse_columns_reads_the_cli_form():
    from engine.store import parse_columns

    assert parse_columns("ts=Time, close=Last") == {"ts": "Time", "close": "Last"}
    assert parse_columns("ts=Date+Time") == {"ts": "Date+Time"}
    with pytest.raises(ValueError, match="field=column"):
        parse_columns("ts")


# -- DataFrames ---------------------------------------------------------------------------


@pytest.mark.parametrize("index_name", [None, "Date", "Datetime"])
def test_a_dataframe_with_a_datetime_index(store, sp500_df, index_name):
    """As ``Bars.from_pandas`` takes it: the times in the index, capitalised OHLCV columns."""
    frame = sp500_df.set_index("ts")[["open", "high", "low", "close", "volume"]].iloc[:300]
    frame.columns = ["Open", "High", "Low", "Close", "Volume"]
    frame.index.name = index_name
    report = store.import_bars(frame, symbol="SPX")
    assert report.added == 300 and report.series[0].timeframe == "1d"
    bars = store.bars("SPX", "1d")
    assert list(bars.to_pandas().index.tz_localize(None)) == list(frame.index)
    np.testing.assert_allclose(bars.close, frame.Close)


def test_a_dataframe_with_a_zoned_datetime_index(store, eurusd_48):
    frame = eurusd_48.set_index("ts")[["open", "high", "low", "close"]]
    frame.index = frame.index.tz_localize("Europe/Berlin")
    store.import_bars(frame, symbol="EURUSD")
    first = store.bars("EURUSD", "1h").to_pandas().index[0]
    assert first == frame.index[0].tz_convert("UTC")


# -- no implicit resample -------------------------------------------------------------------


def test_hourly_data_without_a_timeframe_is_refused_not_resampled(store):
    store.import_bars(DATA / "mt5_eurusd_h1.csv", symbol="EURUSD")
    with pytest.raises(TimeframeError) as err:
        store.bars("EURUSD")
    text = str(err.value)
    assert "EURUSD has no 1d bars, only EURUSD 1h" in text
    assert "timeframe='1h'" in text and "timeframe='1d' to build daily bars" in text
    assert len(store.bars("EURUSD", "1h")) == 48
    assert len(store.bars("EURUSD", "1d")) >= 1  # asked for: resampled


def test_engine_load_without_a_timeframe_refuses_hourly_only_data(monkeypatch, tmp_path):
    import engine
    from engine.store import default_store

    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "default.duckdb"))
    default_store().import_bars(DATA / "mt5_eurusd_h1.csv", symbol="EURUSD")
    with pytest.raises(TimeframeError, match="no timeframe given"):
        engine.load("EURUSD")
    assert len(engine.load("SPX")) == 5031  # daily bars stored: used as before

"""Importing bars: sources, column names, times, upserts, and every kind of bad input."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engine
from engine.store import (
    BadRowsError,
    ImportReport,
    SourceError,
    SourceNotFoundError,
    Store,
    StoreError,
)
from tests.engine.own_store import store  # noqa: F401 - an empty store of the test's own

DATA = Path(__file__).resolve().parents[1] / "data"


def snapshot(store: Store) -> tuple[list[tuple], pd.DataFrame]:
    """Everything the store holds, in physical order: a failed import must not change it."""
    cur = store.database.cursor()
    series = cur.execute("SELECT * FROM anvil_market.series ORDER BY id").fetchall()
    return series, cur.sql("SELECT * FROM anvil_market.bar_data ORDER BY rowid").df()


def assert_unchanged(store: Store, before: tuple[list[tuple], pd.DataFrame]) -> None:
    after = snapshot(store)
    assert after[0] == before[0]
    pd.testing.assert_frame_equal(after[1], before[1])


def physically_sorted(store: Store) -> bool:
    """Each series' rows lie in time order, so reads need no sort."""
    df = (
        store.database.cursor()
        .sql("SELECT series_id, epoch_ns(ts) AS t FROM anvil_market.bar_data ORDER BY rowid")
        .df()
    )
    return all(np.all(np.diff(g.t.to_numpy()) > 0) for _, g in df.groupby("series_id"))


# -- sources -----------------------------------------------------------------------------


def test_real_parquet_files_import_exactly(store, shared_data):
    for name, symbol in (("sp500_daily", "SPX"), ("nasdaq_daily", "IXIC"), ("eurusd_hourly", "EURUSD")):
        df = pd.read_parquet(shared_data / f"{name}.parquet")
        report = store.import_bars(shared_data / f"{name}.parquet")
        assert report.rows_read == report.added == len(df) and report.rows_bad == 0
        want = engine.Bars.from_pandas(df)
        got = store.bars(symbol, report.series[0].timeframe)
        for field in ("ts", "open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    assert [(i.symbol, i.timeframe, i.bars) for i in store.catalog()] == [
        ("EURUSD", "1h", 5000),
        ("IXIC", "1d", 5031),
        ("SPX", "1d", 5031),
    ]


def test_a_yahoo_style_csv_maps_its_columns_and_keeps_adj_close(store):
    report = store.import_bars(DATA / "yahoo_acme.csv", symbol="ACME")
    assert report.series[0].timeframe == "1d" and report.added == 6
    bars = store.bars("ACME", "1d")
    np.testing.assert_array_equal(bars.close, [51.0, 50.4, 49.9, 50.2, 51.8, 52.1])
    np.testing.assert_array_equal(bars.volume, [1200, 900, 1500, 1100, 2000, 1700])
    assert str(bars.index[0]) == "2024-01-02 00:00:00+00:00"
    adj = store.database.cursor().execute("SELECT adj_close FROM anvil_market.bars ORDER BY ts").fetchall()
    assert [a for (a,) in adj] == [49.98, 49.392, 48.902, 49.196, 50.764, 51.058]


def test_bytes_with_a_name_import_without_touching_the_filesystem(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a file named like the upload must not be looked for
    data = (DATA / "yahoo_acme.csv").read_bytes()
    report = store.import_bars(data, symbol="ACME", name="../../etc/acme.csv")
    assert report.source == "../../etc/acme.csv" and report.added == 6


def test_a_file_object_imports_with_its_format_from_the_name(store, shared_data):
    blob = io.BytesIO((shared_data / "sp500_daily.parquet").read_bytes())
    report = store.import_bars(blob, name="upload.parquet")
    assert report.added == 5031
    with (DATA / "yahoo_acme.csv").open("rb") as fh:
        assert store.import_bars(fh, symbol="ACME").added == 6


def test_format_can_be_given_when_the_name_does_not_say(store):
    data = (DATA / "yahoo_acme.csv").read_bytes()
    assert store.import_bars(data, symbol="ACME", format="csv").added == 6
    with pytest.raises(SourceError, match="cannot tell the format of data without a name"):
        store.import_bars(data, symbol="ACME")


def test_a_dataframe_with_a_datetime_index_imports(store, sp500_df):
    df = sp500_df.drop(columns="symbol").set_index("ts")
    df.columns = [c.upper() for c in df.columns]
    assert store.import_bars(df, symbol="SPX").added == 5031
    np.testing.assert_array_equal(store.bars("SPX", "1d").close, sp500_df["close"].to_numpy())


def test_an_arrow_table_imports(store, shared_data):
    table = pq.read_table(shared_data / "nasdaq_daily.parquet")
    assert store.import_bars(table).series[0].symbol == "IXIC"
    assert store.import_bars(table.to_batches()[0]).unchanged == len(table.to_batches()[0])


def test_a_file_of_two_symbols_makes_two_series(store):
    report = store.import_bars(DATA / "two_symbols.csv")
    assert [(s.symbol, s.timeframe, s.added) for s in report.series] == [("AAA", "1d", 3), ("BBB", "1d", 3)]
    np.testing.assert_array_equal(store.bars("BBB", "1d").close, [20.5, 20.8, 20.9])


def test_a_symbol_given_for_a_file_of_two_symbols_is_refused(store):
    with pytest.raises(SourceError, match=r"holds 2 symbols in column 'symbol' \(AAA, BBB\)"):
        store.import_bars(DATA / "two_symbols.csv", symbol="AAA")


def test_a_source_without_symbols_needs_one(store):
    with pytest.raises(SourceError, match="no symbol column; pass the symbol"):
        store.import_bars(DATA / "yahoo_acme.csv")


def test_the_timeframe_is_inferred_or_taken_as_given(store):
    assert store.import_bars(DATA / "minute_bars.csv", symbol="M").series[0].timeframe == "1m"
    assert store.import_bars(DATA / "minute_bars.csv", symbol="M", timeframe="1 min").unchanged == 12
    with pytest.raises(SourceError, match=r"cannot tell the timeframe of ONE from 1 bar.*timeframe='1d'"):
        store.import_bars(pd.read_csv(DATA / "minute_bars.csv").head(1), symbol="ONE")


# -- times -----------------------------------------------------------------------------


def test_times_with_offsets_become_utc(store):
    store.import_bars(DATA / "offsets.csv", symbol="X")
    assert [str(t) for t in store.bars("X", "1m").index] == [
        "2024-03-01 14:30:00+00:00",
        "2024-03-01 14:31:00+00:00",
        "2024-03-01 14:32:00+00:00",
    ]


def test_naive_times_can_be_read_in_a_time_zone(store):
    store.import_bars(DATA / "minute_bars.csv", symbol="NY", tz="America/New_York")
    assert str(store.bars("NY", "1m").index[0]) == "2024-03-01 14:30:00+00:00"
    with pytest.raises(ValueError, match="not a time zone"):
        store.import_bars(DATA / "minute_bars.csv", symbol="NY", tz="Mars/Olympus")


def test_a_timezone_aware_dataframe_index_becomes_utc(store):
    idx = pd.date_range("2024-03-01 09:30", periods=3, freq="1min", tz="America/New_York", name="Datetime")
    df = pd.DataFrame({"Open": 1.0, "High": 2.0, "Low": 0.5, "Close": 1.5}, index=idx)
    store.import_bars(df, symbol="TZ")
    bars = store.bars("TZ", "1m")
    assert str(bars.index[0]) == "2024-03-01 14:30:00+00:00"
    np.testing.assert_array_equal(bars.volume, [0.0, 0.0, 0.0])


def test_a_date_and_a_time_column_are_joined(store):
    store.import_bars(DATA / "date_and_time.csv", symbol="DT")
    assert str(store.bars("DT", "1m").index[-1]) == "2024-03-01 09:32:00+00:00"


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000, 1_000_000_000])
def test_epoch_numbers_are_read_by_their_size(store, scale):
    seconds = np.array([1_709_285_400, 1_709_285_460, 1_709_285_520])
    df = pd.DataFrame({"timestamp": seconds * scale, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0})
    store.import_bars(df, symbol="E")
    assert str(store.bars("E", "1m").index[0]) == "2024-03-01 09:30:00+00:00"


# -- upserts -----------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(store, shared_data):
    store.import_bars(shared_data / "sp500_daily.parquet")
    before = snapshot(store)
    report = store.import_bars(shared_data / "sp500_daily.parquet")
    assert (report.added, report.changed, report.unchanged) == (0, 0, 5031)
    assert_unchanged(store, before)


def test_an_overlapping_import_replaces_and_adds_in_time_order(store, sp500_df):
    df = sp500_df.drop(columns="symbol")
    store.import_bars(df.iloc[1000:3000], symbol="SPX", timeframe="1d")
    fixed = df.iloc[2000:4000].copy()
    fixed.loc[fixed.index[:10], "volume"] += 1.0
    report = store.import_bars(fixed, symbol="SPX", timeframe="1d")
    assert (report.added, report.changed, report.unchanged) == (1000, 10, 990)
    store.import_bars(df.iloc[:1000], symbol="SPX", timeframe="1d")  # backfill before the start
    store.import_bars(df.iloc[4000:], symbol="SPX", timeframe="1d")  # append after the end
    bars = store.bars("SPX", "1d")
    want = df["volume"].to_numpy().copy()
    want[2000:2010] += 1.0
    np.testing.assert_array_equal(bars.volume, want)
    np.testing.assert_array_equal(bars.ts, engine.Bars.from_pandas(df).ts)
    assert physically_sorted(store)


def test_one_import_can_add_a_symbol_and_update_another(store):
    rows = pd.read_csv(DATA / "two_symbols.csv")
    store.import_bars(rows[rows.symbol == "AAA"].iloc[:2], timeframe="1d")
    rows.loc[0, "volume"] = 5.0  # AAA's first bar, changed
    report = store.import_bars(rows, timeframe="1d")
    assert [(s.symbol, s.added, s.changed, s.unchanged) for s in report.series] == [
        ("AAA", 1, 1, 1),
        ("BBB", 3, 0, 0),
    ]
    np.testing.assert_array_equal(store.bars("AAA", "1d").volume, [5.0, 1.0, 1.0])
    assert physically_sorted(store)


def test_a_fresh_multi_symbol_import_is_stored_in_time_order(store, tmp_path):
    rows = pd.read_csv(DATA / "two_symbols.csv").iloc[::-1]  # newest first, symbols interleaved
    rows.to_csv(tmp_path / "backwards.csv", index=False)
    store.import_bars(tmp_path / "backwards.csv")
    assert physically_sorted(store)
    np.testing.assert_array_equal(store.bars("AAA", "1d").close, [10.5, 10.8, 10.9])


def test_rows_repeated_exactly_are_stored_once(store):
    df = pd.read_csv(DATA / "yahoo_acme.csv")
    report = store.import_bars(pd.concat([df, df.iloc[:2]]), symbol="ACME")
    assert report.duplicates == 2 and report.added == 6


# -- bad input: the source as a whole ------------------------------------------------------


def test_a_path_that_does_not_exist(store, tmp_path):
    before = snapshot(store)
    with pytest.raises(SourceNotFoundError, match=r"nope\.csv: no such file") as err:
        store.import_bars(tmp_path / "nope.csv", symbol="X")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, StoreError)
    assert_unchanged(store, before)


def test_a_folder_is_not_a_file(store, tmp_path):
    with pytest.raises(SourceError, match="is not a file"):
        store.import_bars(tmp_path, symbol="X")


def test_a_parquet_file_named_csv(store, shared_data, tmp_path):
    fake = tmp_path / "prices.csv"
    fake.write_bytes((shared_data / "sp500_daily.parquet").read_bytes())
    before = snapshot(store)
    with pytest.raises(SourceError, match=r"prices\.csv is a Parquet file, not CSV"):
        store.import_bars(fake)
    assert_unchanged(store, before)


def test_a_csv_file_named_parquet(store, tmp_path):
    fake = tmp_path / "prices.parquet"
    fake.write_bytes((DATA / "yahoo_acme.csv").read_bytes())
    with pytest.raises(SourceError, match=r"prices\.parquet is not a Parquet file \(it is text starting 'Date,Open"):
        store.import_bars(fake, symbol="X")


def test_a_spreadsheet_named_csv(store):
    with pytest.raises(SourceError, match="zip archive, perhaps a spreadsheet"):
        store.import_bars(b"PK\x03\x04" + bytes(100), symbol="X", name="book.csv")


def test_a_broken_parquet_file(store):
    with pytest.raises(SourceError, match=r"x\.parquet: the Parquet file cannot be read"):
        store.import_bars(b"PAR1" + bytes(64) + b"PAR1", symbol="X", name="x.parquet")


def test_an_empty_csv(store):
    with pytest.raises(SourceError, match=r"e\.csv is empty"):
        store.import_bars(b"", symbol="X", name="e.csv")
    with pytest.raises(SourceError, match=r"h\.csv holds no rows"):
        store.import_bars(b"ts,open,high,low,close\n", symbol="X", name="h.csv")


def test_missing_columns_are_named_with_the_ones_present(store, sp500_df):
    before = snapshot(store)
    have = r"\(the source has 'ts', 'open', 'close'\)"
    with pytest.raises(SourceError, match=rf"DataFrame: missing columns high, low {have}"):
        store.import_bars(sp500_df[["ts", "open", "close"]], symbol="X")
    with pytest.raises(SourceError, match="missing column ts .*name the time 'ts', 'date'"):
        store.import_bars(sp500_df.drop(columns="ts"), symbol="X")
    assert_unchanged(store, before)


def test_two_columns_meaning_one_field(store):
    with pytest.raises(SourceError, match="'Close' and 'close' both mean 'close'"):
        store.import_bars(b"ts,open,high,low,Close,close\n2024-01-01,1,1,1,1,1\n", symbol="X", name="d.csv")


def test_a_price_column_of_the_wrong_type(store):
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=3),
            "open": [True, False, True],
            "high": 2.0,
            "low": 1.0,
            "close": 1.5,
        }
    )
    with pytest.raises(SourceError, match="column 'open' holds bool values, not numbers"):
        store.import_bars(df, symbol="X")


# -- bad input: rows ---------------------------------------------------------------------


def test_bad_rows_reject_the_file_naming_file_line_and_reason(store):
    store.import_bars(DATA / "yahoo_acme.csv", symbol="ACME")
    before = snapshot(store)
    with pytest.raises(BadRowsError) as err:
        store.import_bars(DATA / "bad_rows.csv", symbol="BAD", timeframe="1d")
    report = err.value.report
    assert isinstance(report, ImportReport)
    assert [(p.line, p.column, p.reason) for p in report.problems] == [
        (3, "close", "close is -50.8: prices must be positive"),
        (6, "ts", "time '2024-13-45' cannot be read as a time"),
        (7, "high", "high (50.0) is below low (51.0)"),
        (8, None, "has 5 fields, the header has 6: '2024-01-09,50.9,51.5,50.5,50.9'"),
        (9, "ts", "time 2024-01-10 00:00:00 appears again at line 10 with different values"),
        (10, "ts", "time 2024-01-10 00:00:00 repeats line 9 with different values"),
        (13, "close", "close is missing"),
    ]
    assert all(p.source.endswith("bad_rows.csv") for p in report.problems)
    assert (report.rows_read, report.rows_bad, report.rows_skipped) == (11, 7, 0)
    text = str(err.value)
    assert "bad_rows.csv: 7 bad rows, nothing imported" in text and "skip_bad=True" in text
    assert "bad_rows.csv, line 3: close is -50.8" in text
    assert isinstance(err.value, ValueError)
    assert_unchanged(store, before)


def test_skip_bad_imports_the_rest_and_counts_what_it_skipped(store):
    report = store.import_bars(DATA / "bad_rows.csv", symbol="BAD", timeframe="1d", skip_bad=True)
    assert (report.rows_read, report.rows_bad, report.rows_skipped, report.duplicates) == (11, 7, 7, 1)
    assert report.added == 3 and len(report.problems) == 7
    assert "7 bad rows skipped" in str(report)
    bars = store.bars("BAD", "1d")
    assert [str(t.date()) for t in bars.index] == ["2024-01-02", "2024-01-04", "2024-01-11"]


def test_rows_of_a_frame_are_named_by_position(store, sp500_df):
    df = sp500_df.copy()
    df.loc[17, "low"] = 0.0
    with pytest.raises(BadRowsError, match=r"DataFrame, row 17: low is 0.0: prices must be positive"):
        store.import_bars(df)


def test_the_report_shows_the_first_bad_rows_and_counts_them_all(store, sp500_df):
    df = sp500_df.copy()
    df.loc[100:399, "close"] = -1.0
    with pytest.raises(BadRowsError, match=r"(?s)300 bad rows.*\.\.\. and 280 more$") as err:
        store.import_bars(df)
    report = err.value.report
    assert report.rows_bad == 300 and len(report.problems) == 20
    assert [p.row for p in report.problems] == list(range(100, 120))


def test_a_bad_row_in_one_symbol_stops_the_other_symbols_too(store):
    rows = pd.read_csv(DATA / "two_symbols.csv")
    rows.loc[5, "close"] = 0.0  # BBB's last bar
    before = snapshot(store)
    with pytest.raises(BadRowsError, match="row 5: close is 0.0"):
        store.import_bars(rows)
    assert_unchanged(store, before)


def test_blank_lines_do_not_shift_line_numbers(store):
    data = b"ts,open,high,low,close\n\n2024-01-01,1,1,1,1\n\n\n2024-01-02,1,1,1,-1\n"
    with pytest.raises(BadRowsError) as err:
        store.import_bars(data, symbol="X", name="gaps.csv", timeframe="1d")
    assert [p.line for p in err.value.report.problems] == [6]
    assert err.value.report.rows_read == 2


def test_skipping_every_row_is_an_error(store):
    data = b"ts,open,high,low,close\n2024-01-01,1,1,1,-1\n"
    with pytest.raises(SourceError, match="no good rows left"):
        store.import_bars(data, symbol="X", name="all_bad.csv", timeframe="1d", skip_bad=True)


def test_numbers_that_are_not_numbers(store):
    data = b"ts,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n2024-01-02,1,1,1,1,lots\n2024-01-03,1,1,1,1,1\n"
    with pytest.raises(BadRowsError, match=r"n\.csv, line 3: volume is 'lots', not a number"):
        store.import_bars(data, symbol="X", name="n.csv")


def test_an_adjusted_close_must_be_positive(store):
    data = b"Date,Open,High,Low,Close,Adj Close\n2024-01-01,1,1,1,1,-3\n2024-01-02,1,1,1,1,\n2024-01-03,1,1,1,1,1\n"
    with pytest.raises(BadRowsError, match="line 2: adj_close is -3.0"):
        store.import_bars(data, symbol="X", name="a.csv")


def test_a_parquet_file_with_a_bad_row_is_named_by_row(store, sp500_df, tmp_path):
    df = sp500_df.copy()
    df.loc[3, "high"] = df.loc[3, "low"] / 2
    df.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(BadRowsError, match=r"bad\.parquet, row 3: high \(.*\) is below low"):
        store.import_bars(tmp_path / "bad.parquet")


def test_a_gzip_csv_imports(store, tmp_path):
    (tmp_path / "acme.csv.gz").write_bytes(gzip.compress((DATA / "yahoo_acme.csv").read_bytes()))
    assert store.import_bars(tmp_path / "acme.csv.gz", symbol="ACME").added == 6


def test_semicolons_separate_fields_when_the_header_has_no_commas(store):
    data = (DATA / "yahoo_acme.csv").read_text().replace(",", ";").encode()
    assert store.import_bars(data, symbol="ACME", name="eu.csv").added == 6


def test_arrow_table_with_nulls_reports_missing_values(store):
    ones = pa.array([1.0] * 3)
    table = pa.table(
        {
            "ts": pa.array([1_700_000_000, 1_700_000_060, None], pa.timestamp("s")),
            "open": pa.array([1.0, None, 1.0]),
            "high": ones,
            "low": ones,
            "close": ones,
        }
    )
    with pytest.raises(BadRowsError) as err:
        store.import_bars(table, symbol="X", timeframe="1m")
    assert [(p.row, p.reason) for p in err.value.report.problems] == [
        (1, "open is missing"),
        (2, "time (ts) is missing"),
    ]

"""The store: where it lives, the shipped sample, queries, the catalog, errors, threads."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine import synthetic
from engine.store import (
    NoDataError,
    SourceError,
    Store,
    StoreError,
    TimeframeError,
    default_path,
    open_database,
    release,
)
from engine.store._paths import data_dir
from engine.store._sample import SAMPLE_DIR
from tests.engine.own_store import no_real_default_store, store  # noqa: F401 - fixtures

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def sample_store(tmp_path: Path):
    with Store(tmp_path / "sample.duckdb") as s:
        yield s


def raw_rows(store: Store) -> pd.DataFrame:
    """The bar table in its physical order (what a scan without ORDER BY returns)."""
    return store.database.cursor().sql("SELECT * FROM anvil_market.bar_data ORDER BY rowid").df()


# -- where the store lives -----------------------------------------------------------------


def test_default_path_is_anvil_db_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "mine.duckdb"))
    assert default_path() == tmp_path / "mine.duckdb"


def test_the_data_folder_follows_each_platforms_rule(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert data_dir("linux") == tmp_path / "xdg" / "anvil"
    assert data_dir("win32") == tmp_path / "local" / "anvil"
    assert data_dir("darwin") == Path.home() / "Library" / "Application Support" / "anvil"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_dir("linux") == Path.home() / ".local" / "share" / "anvil"


def test_without_anvil_db_the_store_is_in_the_data_folder(monkeypatch):
    monkeypatch.delenv("ANVIL_DB")
    assert default_path() == data_dir() / "anvil.duckdb"


def test_store_without_a_path_opens_anvil_db(monkeypatch, tmp_path):
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "sub" / "env.duckdb"))
    with Store(sample=False) as s:
        assert s.path == (tmp_path / "sub" / "env.duckdb").resolve()
    assert (tmp_path / "sub" / "env.duckdb").is_file()


# -- the shipped sample ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sp500_daily.parquet", "nasdaq_daily.parquet"])
def test_the_sample_is_the_shared_data_unchanged(shared_data, name):
    assert (SAMPLE_DIR / name).read_bytes() == (shared_data / name).read_bytes()


def test_a_fresh_store_holds_the_sample(sample_store):
    got = [(i.symbol, i.timeframe, i.first, i.last, i.bars) for i in sample_store.catalog()]
    first = dt.datetime(1999, 1, 4, tzinfo=dt.timezone.utc)
    last = dt.datetime(2018, 12, 31, tzinfo=dt.timezone.utc)
    assert got == [("IXIC", "1d", first, last, 5031), ("SPX", "1d", first, last, 5031)]


def test_engine_load_works_offline_on_a_new_machine(monkeypatch, tmp_path, sp500_bars):
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "new-machine" / "anvil.duckdb"))
    bars = engine.load("SPX", "1d")
    assert bars.symbol == "SPX"
    for field in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(bars, field), getattr(sp500_bars, field))
    res = engine.backtest(bars, np.ones(len(bars), dtype=np.int8), engine.Config())
    assert res.stats["total_trades"] == 0 and res.stats["final_equity"] > 0


def test_engine_load_follows_anvil_db(monkeypatch, tmp_path):
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "a.duckdb"))
    with Store() as s:
        s.import_bars(DATA / "yahoo_acme.csv", symbol="ACME", timeframe="1d")
    assert len(engine.load("ACME")) == 6
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "b.duckdb"))
    with pytest.raises(NoDataError, match="ACME"):
        engine.load("ACME")


def test_the_sample_is_loaded_only_when_the_file_is_created(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.delete("IXIC")
    with Store(path) as s:
        assert [i.symbol for i in s.catalog()] == ["SPX"]


def test_sample_false_starts_empty_and_says_how_to_fill_it(store):
    assert store.catalog() == []
    with pytest.raises(NoDataError, match=r"holds no bars; import some with store\.import_bars"):
        store.bars("SPX", "1d")


# -- lifecycle ---------------------------------------------------------------------------


def test_stores_on_one_file_share_one_connection(tmp_path):
    with Store(tmp_path / "x.duckdb", sample=False) as a, Store(tmp_path / "x.duckdb") as b:
        assert a.database is b.database
        a.import_bars(DATA / "yahoo_acme.csv", symbol="ACME", timeframe="1d")
        assert [i.symbol for i in b.catalog()] == ["ACME"]
    assert "closed" in repr(a) and "closed" in repr(b)


def test_a_closed_store_says_so(tmp_path):
    s = Store(tmp_path / "x.duckdb", sample=False)
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.catalog()
    assert "closed" in repr(s)


def test_data_survive_closing_and_reopening(tmp_path):
    with Store(tmp_path / "x.duckdb", sample=False) as s:
        s.import_bars(DATA / "yahoo_acme.csv", symbol="ACME", timeframe="1d")
        before = s.bars("ACME", "1d")
    with Store(tmp_path / "x.duckdb") as s:
        after = s.bars("ACME", "1d")
    np.testing.assert_array_equal(before.close, after.close)
    np.testing.assert_array_equal(before.ts, after.ts)


def test_a_read_only_store_reads_and_refuses_writes(tmp_path):
    with Store(tmp_path / "x.duckdb"):
        pass
    with Store(tmp_path / "x.duckdb", read_only=True) as s:
        assert len(s.bars("SPX", "1d")) == 5031
        with pytest.raises(StoreError, match="read-only"):
            s.import_bars(DATA / "yahoo_acme.csv", symbol="ACME", timeframe="1d")
        with pytest.raises(StoreError, match="read-only"):
            s.delete("SPX")


def test_a_read_only_store_needs_an_existing_file(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_bytes((DATA / "yahoo_acme.csv").read_bytes())
    with pytest.raises(StoreError, match=r"cannot open the store .*prices\.csv"):
        Store(path)


def test_the_default_store_can_be_closed_and_opens_again(monkeypatch, tmp_path):
    from engine.store import default_store

    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "d.duckdb"))
    first = default_store()
    assert default_store() is first
    first.close()  # lets another process open the file
    assert len(engine.load("IXIC", "1d", start="2018-12-24")) == 5
    assert default_store() is not first


def test_a_store_written_by_a_newer_anvil_is_refused(tmp_path):
    path = tmp_path / "x.duckdb"
    with Store(path, sample=False) as s, s.database.write() as cur:
        cur.execute("UPDATE anvil_market.meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer anvil"):
        Store(path)


def test_a_store_in_use_by_another_process_is_a_clear_error(tmp_path):
    path = tmp_path / "locked.duckdb"
    with Store(path, sample=False):
        pass
    holder = textwrap.dedent(
        f"""
        import sys, duckdb
        con = duckdb.connect({str(path)!r})
        print("open", flush=True)
        sys.stdin.readline()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="in use by another process"):
            Store(path)
    finally:
        proc.communicate("\n", timeout=60)


# -- queries -----------------------------------------------------------------------------


def test_bars_come_back_as_engine_bars(sample_store, sp500_df):
    bars = sample_store.bars("SPX", "1d")
    assert isinstance(bars, engine.Bars) and len(bars) == len(sp500_df)
    np.testing.assert_array_equal(bars.close, sp500_df["close"].to_numpy())
    assert not bars.close.flags.writeable


def test_bars_view_the_arrow_memory_duckdb_filled(store):
    """Through Arrow into numpy without a copy per column: the arrays Bars keeps are views
    of the Arrow buffers the query returned."""
    store.import_bars(synthetic.table(300_000, timeframe="1m"), timeframe="1m")
    bars = store.bars("SYN", "1m")
    for values in (bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume):
        owner = values
        while isinstance(owner, np.ndarray):
            owner = owner.base
        assert type(owner).__module__ == "pyarrow.lib"


def test_start_and_end_are_inclusive(sample_store):
    bars = sample_store.bars("SPX", "1d", start="2008-09-15", end=pd.Timestamp("2008-09-19"))
    assert [str(t.date()) for t in bars.index] == [
        "2008-09-15",
        "2008-09-16",
        "2008-09-17",
        "2008-09-18",
        "2008-09-19",
    ]


def test_a_date_alone_as_end_includes_that_whole_day(store, shared_data):
    store.import_bars(shared_data / "eurusd_hourly.parquet", timeframe="1h")
    day = store.bars("EURUSD", "1h", start="2017-05-02", end="2017-05-02")
    assert len(day) == 24 and str(day.index[-1]) == "2017-05-02 23:00:00+00:00"
    exact = store.bars("EURUSD", "1h", start="2017-05-02", end=pd.Timestamp("2017-05-02"))
    assert len(exact) == 1


def test_times_with_an_offset_bound_the_range_in_utc(store, shared_data):
    store.import_bars(shared_data / "eurusd_hourly.parquet", timeframe="1h")
    bars = store.bars("EURUSD", "1h", start="2017-05-02T12:00:00+02:00", end="2017-05-02T12:00:00+02:00")
    assert str(bars.index[0]) == "2017-05-02 10:00:00+00:00"


def test_start_after_end_is_an_error(sample_store):
    with pytest.raises(ValueError, match="after end"):
        sample_store.bars("SPX", "1d", start="2010-01-01", end="2009-01-01")


def test_an_unknown_symbol_lists_what_exists_and_guesses(sample_store):
    with pytest.raises(NoDataError) as err:
        sample_store.bars("spx", "1d")
    text = str(err.value)
    assert "(did you mean 'SPX'?)" in text
    assert "IXIC 1d (1999-01-04 .. 2018-12-31, 5031 bars)" in text
    assert isinstance(err.value, LookupError)


def test_an_empty_range_says_what_the_series_spans(sample_store):
    with pytest.raises(NoDataError, match=r"SPX 1d has no bars from 2030.*it spans 1999-01-04 \.\. 2018-12-31"):
        sample_store.bars("SPX", "1d", start="2030-01-01")


def test_an_unstored_timeframe_with_nothing_finer_lists_the_symbols_series(sample_store):
    with pytest.raises(NoDataError, match=r"no 1h bars for SPX, and none finer.*1d \(1999-01-04"):
        sample_store.bars("SPX", "1h")


def test_an_unreadable_timeframe_says_what_is_read(sample_store):
    with pytest.raises(TimeframeError, match="'1m', '5m'"):
        sample_store.bars("SPX", "daily-ish")
    with pytest.raises(TimeframeError, match="months"):
        sample_store.bars("SPX", "1M")


def test_equivalent_timeframes_name_one_series(store):
    store.import_bars(DATA / "minute_bars.csv", symbol="M", timeframe="60s")
    assert [i.timeframe for i in store.catalog()] == ["1m"]
    assert len(store.bars("M", "1 minute")) == 12


def test_adjusted_bars_scale_by_adj_close(store):
    store.import_bars(DATA / "yahoo_acme.csv", symbol="ACME", timeframe="1d")
    raw, adj = store.bars("ACME", "1d"), store.bars("ACME", "1d", adjusted=True)
    factor = np.array([49.98, 49.392, 48.902, 49.196, 50.764, 51.058]) / raw.close
    np.testing.assert_allclose(adj.close, raw.close * factor, rtol=1e-12)
    np.testing.assert_allclose(adj.high, raw.high * factor, rtol=1e-12)
    np.testing.assert_array_equal(adj.volume, raw.volume)


# -- catalog and delete --------------------------------------------------------------------


def test_the_catalog_is_plain_data(sample_store):
    data = [i.as_dict() for i in sample_store.catalog()]
    assert json.loads(json.dumps(data))[1] == {
        "symbol": "SPX",
        "timeframe": "1d",
        "first": "1999-01-04T00:00:00+00:00",
        "last": "2018-12-31T00:00:00+00:00",
        "bars": 5031,
    }


def test_delete_removes_a_series(sample_store):
    assert [(s.symbol, s.timeframe, s.bars) for s in sample_store.delete("SPX", "1d")] == [("SPX", "1d", 5031)]
    assert [i.symbol for i in sample_store.catalog()] == ["IXIC"]
    assert sample_store.delete("SPX") == []


# -- transactions and threads ----------------------------------------------------------------


def test_a_failed_write_leaves_nothing_behind(store):
    store.import_bars(DATA / "yahoo_acme.csv", symbol="ACME", timeframe="1d")
    before = raw_rows(store)
    with pytest.raises(RuntimeError, match="midway"), store.database.write() as cur:
        cur.execute("DELETE FROM anvil_market.bar_data")
        raise RuntimeError("midway")
    pd.testing.assert_frame_equal(raw_rows(store), before)


def test_open_database_hands_out_one_connection_per_file(tmp_path):
    a = open_database(tmp_path / "j.duckdb")
    b = open_database(tmp_path / "." / "j.duckdb")
    try:
        assert a is b
        assert a.cursor() is a.cursor()
        other: list[object] = []
        t = threading.Thread(target=lambda: other.append(a.cursor()))
        t.start()
        t.join()
        assert other[0] is not a.cursor()
    finally:
        release(a)
        release(b)
    assert a.closed


def test_readers_see_the_old_or_the_new_bars_never_a_mix(store):
    """One thread re-imports a series between two versions while readers load it."""
    n = 20_000
    ts = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC")
    versions = []
    for k in (1.0, 2.0):
        close = np.full(n, 100.0 * k)
        versions.append(pd.DataFrame({"ts": ts, "open": close, "high": close, "low": close, "close": close}))
    store.import_bars(versions[0], symbol="X", timeframe="1m")
    stop = threading.Event()
    seen: list[float] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                bars = store.bars("X", "1m")
                values = np.unique(bars.close)
                if len(bars) != n or len(values) != 1:
                    raise AssertionError(f"a mixed read: {len(bars)} bars, closes {values[:5]}")
                seen.append(float(values[0]))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for r in readers:
        r.start()
    try:
        for i in range(12):
            store.import_bars(versions[(i + 1) % 2], symbol="X", timeframe="1m")
            reads = len(seen)
            while len(seen) == reads and not errors:  # let the readers see this version
                stop.wait(0.001)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert not errors, errors[0]
    assert set(seen) == {100.0, 200.0}
    assert store.catalog()[0].bars == n


def test_imports_from_several_threads_all_land(store):
    frames = {sym: pd.read_csv(DATA / "yahoo_acme.csv").assign(Volume=k) for k, sym in enumerate("ABCD")}
    errors: list[BaseException] = []

    def work(sym: str) -> None:
        try:
            store.import_bars(frames[sym], symbol=sym, timeframe="1d")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [(i.symbol, i.bars) for i in store.catalog()] == [(s, 6) for s in "ABCD"]


def test_an_import_into_an_unknown_kind_of_source_is_a_type_error(store):
    with pytest.raises(TypeError, match="import a path, bytes"):
        store.import_bars(12345, symbol="X")
    with pytest.raises(SourceError):
        store.import_bars(b"ts,open\n", symbol="X", name="x.csv")


@pytest.mark.parametrize("name", ["market.duckdb", "anvil_market.duckdb", "jobs.duckdb"])
def test_a_store_file_may_share_its_name_with_a_schema(tmp_path, name):
    with Store(tmp_path / name) as store:
        assert {s.symbol for s in store.catalog()} == {"SPX", "IXIC"}
        assert len(store.bars("SPX", "1d")) == 5031

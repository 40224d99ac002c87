"""Named universes in the store's catalog: save, list, show, load as a Panel, delete;
bad names, unknown symbols, a symbol deleted after its universe was saved, and a store
made before universes existed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from engine.store import Store, UniverseError, UnknownUniverseError, NoDataError, StoreError
from engine.store._schema import _DDL, SCHEMA_VERSION


@pytest.fixture(autouse=True)
def _no_real_default_store(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "default" / "anvil.duckdb"))


@pytest.fixture
def stocks(tmp_path: Path, shared_data: Path):
    with Store(tmp_path / "stocks.duckdb") as s:  # the sample (SPX, IXIC) and four stocks
        s.import_bars(shared_data / "stocks4_daily.parquet", timeframe="1d")
        yield s


def test_a_saved_universe_round_trips_and_loads_as_a_panel(stocks: Store) -> None:
    saved = stocks.save_universe("tech", ["MSFT", "AAPL", "IBM"], note="three old names")
    assert saved.symbols == ("MSFT", "AAPL", "IBM")  # the order given is the column order
    assert saved.note == "three old names"
    again = Store(stocks.path)  # another Store on the file sees it: it is in the file
    assert again.universe("tech") == saved
    assert [u.name for u in again.universes()] == ["tech"]
    assert saved.as_dict()["symbols"] == ["MSFT", "AAPL", "IBM"]
    panel = engine.load_universe("tech", "1d", start="2010-01-01", store=stocks)
    direct = engine.load_panel(["MSFT", "AAPL", "IBM"], "1d", start="2010-01-01", store=stocks)
    assert panel.symbols == direct.symbols == ("MSFT", "AAPL", "IBM")
    np.testing.assert_array_equal(panel.close, direct.close)
    gone = stocks.delete_universe("tech")
    assert gone.name == "tech"
    assert stocks.universes() == []
    assert len(stocks.bars("AAPL", "1d")) > 0  # deleting a universe leaves its symbols' bars


def test_the_default_store_functions(tmp_path: Path) -> None:
    engine.save_universe("indices", ["SPX", "IXIC"])
    assert [u.name for u in engine.universes()] == ["indices"]
    assert engine.universe("indices").symbols == ("SPX", "IXIC")
    assert engine.load_universe("indices").symbols == ("SPX", "IXIC")
    engine.delete_universe("indices")
    assert engine.universes() == []


def test_saving_under_a_taken_name_needs_replace(stocks: Store) -> None:
    stocks.save_universe("pair", ["AAPL", "MSFT"])
    with pytest.raises(UniverseError, match=r"'pair' is saved already.*replace=True"):
        stocks.save_universe("pair", ["IBM", "MSFT"])
    assert stocks.universe("pair").symbols == ("AAPL", "MSFT")  # the refused save changed nothing
    stocks.save_universe("pair", ["IBM", "MSFT"], replace=True)
    assert stocks.universe("pair").symbols == ("IBM", "MSFT")


@pytest.mark.parametrize("name", ["", "1st", "has space", "semi;colon", "x" * 65, "tech'--", None, 5])
def test_bad_names_are_refused_with_the_rule(stocks: Store, name) -> None:
    with pytest.raises(UniverseError, match="start with a letter"):
        stocks.save_universe(name, ["AAPL"])  # type: ignore[arg-type]
    assert stocks.universes() == []


@pytest.mark.parametrize(
    ("symbols", "reason"),
    [
        ([], "at least one symbol"),
        (["AAPL", "AAPL"], "'AAPL' is listed twice"),
        (["AAPL", ""], "is not a symbol"),
        (["AAPL", "MSFTT"], r"'MSFTT' is not stored \(did you mean 'MSFT'\?\)"),
        (["NOPE1", "NOPE2"], "'NOPE1', 'NOPE2' are not stored"),
    ],
)
def test_bad_symbol_lists_are_refused_by_name(stocks: Store, symbols, reason) -> None:
    with pytest.raises(UniverseError, match=reason):
        stocks.save_universe("u", symbols)
    assert stocks.universes() == []


def test_an_unknown_name_lists_the_saved_ones_with_a_did_you_mean(stocks: Store) -> None:
    stocks.save_universe("tech", ["AAPL", "MSFT"])
    with pytest.raises(UnknownUniverseError, match=r"'tehc' \(did you mean 'tech'\?\).*saved: tech") as info:
        stocks.universe("tehc")
    assert isinstance(info.value, LookupError)
    with pytest.raises(UnknownUniverseError, match="none is saved yet"):
        Store(stocks.path.with_name("other.duckdb"), sample=False).universe("tech")
    with pytest.raises(UnknownUniverseError):
        stocks.delete_universe("tehc")


def test_a_symbol_deleted_after_the_save_is_named_when_the_universe_loads(stocks: Store) -> None:
    stocks.save_universe("tech", ["AAPL", "IBM"])
    stocks.delete("IBM")
    assert stocks.universe("tech").symbols == ("AAPL", "IBM")  # the universe is as saved
    with pytest.raises(NoDataError, match="IBM"):
        engine.load_universe("tech", store=stocks)


def test_a_store_made_before_universes_existed_gets_the_table_on_first_save(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    import duckdb

    con = duckdb.connect(str(path))  # the schema as version 1 wrote it, with no universes table
    con.execute(_DDL)
    con.execute("INSERT INTO anvil_market.meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    con.close()
    with Store(path, read_only=True) as ro:
        assert ro.universes() == []
        with pytest.raises(StoreError, match="read-only"):
            ro.save_universe("x", ["SPX"])
    with Store(path) as store:
        store.import_sample()
        store.save_universe("idx", ["SPX"])
        assert store.universe("idx").symbols == ("SPX",)

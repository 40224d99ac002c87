"""Loading a stored series into ``Bars``: the few-pass check of store-read data
(``engine.store._query.stored_bars``) gives exactly what ``Bars`` gives, and never
lets through a series ``Bars`` refuses (a file can be written by plain SQL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from engine import synthetic
from engine.errors import InvalidBarsError
from engine.store import Store
from engine.store import _query
from tests.engine.own_store import no_real_default_store  # noqa: F401 - autouse


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "load.duckdb", sample=False) as s:
        s.import_bars(synthetic.table(5_000, timeframe="1m", seed=7), timeframe="1m")
        yield s


def test_a_loaded_series_equals_bars_built_and_checked_the_usual_way(store):
    loaded = store.bars("SYN", "1m")
    with store.database.cursor() as cur:
        sid = _query.series_of(cur, "SYN")["1m"]
        table = _query.read_table(cur, sid, None, None)
    usual = engine.Bars.from_arrow(table, symbol="SYN")
    for slot in engine.Bars.__slots__:  # a slot added to Bars must be set here too
        mine, theirs = getattr(loaded, slot), getattr(usual, slot)
        if isinstance(theirs, np.ndarray):
            np.testing.assert_array_equal(mine, theirs)
            assert mine.dtype == theirs.dtype and not mine.flags.writeable and mine.base is not None
        else:
            assert mine == theirs


@pytest.mark.parametrize(
    ("sql", "field"),
    [
        (
            "UPDATE anvil_market.bar_data SET high = low / 2 WHERE ts = (SELECT ts FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 1234)",
            "high",
        ),
        (
            "UPDATE anvil_market.bar_data SET volume = 'nan'::DOUBLE WHERE ts = (SELECT ts FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 1234)",
            "volume",
        ),
        (
            "UPDATE anvil_market.bar_data SET volume = -1 WHERE ts = (SELECT ts FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 1234)",
            "volume",
        ),
        (
            "UPDATE anvil_market.bar_data SET open = 2e12, high = 2e12, close = 2e12, low = 2e12 WHERE ts = (SELECT ts FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 1234)",
            "open",
        ),
        (
            "UPDATE anvil_market.bar_data SET low = 'inf'::DOUBLE WHERE ts = (SELECT ts FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 1234)",
            "low",
        ),
        (
            "UPDATE anvil_market.bar_data SET close = 'nan'::DOUBLE WHERE ts = (SELECT ts FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 1234)",
            "close",
        ),
        (
            "INSERT INTO anvil_market.bar_data SELECT series_id, ts, open, high, low, close, volume, adj_close FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 1234",
            "ts",
        ),
    ],
)
def test_a_bad_bar_written_by_plain_sql_is_named_as_bars_names_it(store, sql, field):
    with store.database.write() as cur:
        cur.execute(sql)
    with pytest.raises(InvalidBarsError, match=rf"bars\.{field}\[123[45]\]"):
        store.bars("SYN", "1m")


def test_adjusted_prices_out_of_range_are_refused_with_the_bar(store):
    with store.database.write() as cur:
        cur.execute(
            "UPDATE anvil_market.bar_data SET adj_close = close * 1e13 "
            "WHERE ts = (SELECT ts FROM anvil_market.bar_data ORDER BY ts LIMIT 1 OFFSET 99)"
        )
    store.bars("SYN", "1m")  # raw prices are fine
    with pytest.raises(InvalidBarsError, match=r"bars\.open\[99\].*rescale"):
        store.bars("SYN", "1m", adjusted=True)

"""engine.Panel: validation that names the symbol, field and bar; the constructors
(long frame, dict of frames or Bars, the store in one DuckDB query, the shipped
sample, synthetic); slicing without copies; and the portfolio records' C twins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine._core import ffi
from engine.records import PF_CONFIG_DTYPE, PF_EVENT_DTYPE, PF_EXTRA_DTYPE, PF_TRADE_DTYPE
from engine.store import NoDataError, Store


@pytest.fixture(scope="module")
def stocks4(shared_data: Path) -> pd.DataFrame:
    return pd.read_parquet(shared_data / "stocks4_daily.parquet")


@pytest.mark.parametrize(
    ("ctype", "dtype"),
    [
        ("anvil_pf_config", PF_CONFIG_DTYPE),
        ("anvil_pf_trade", PF_TRADE_DTYPE),
        ("anvil_pf_event", PF_EVENT_DTYPE),
        ("anvil_pf_extra", PF_EXTRA_DTYPE),
    ],
)
def test_portfolio_records_match_their_c_structs(ctype: str, dtype: np.dtype) -> None:
    assert dtype.itemsize == ffi.sizeof(ctype)
    fields = ffi.typeof(ctype).fields
    assert list(dtype.names) == [name for name, _ in fields]
    for name, _ in fields:
        assert dtype.fields[name][1] == ffi.offsetof(ctype, name), name


def test_from_long_aligns_on_the_union_of_times(stocks4: pd.DataFrame) -> None:
    p = engine.Panel.from_long(stocks4.drop(columns=["adj_close"]))
    assert p.symbols == ("AAPL", "FB", "IBM", "MSFT")
    assert len(p) == stocks4["ts"].nunique()
    fb = p.column("FB")
    first = int(p.first_bars()[fb])
    assert not p.tradable[:first, fb].any() and np.isnan(p.close[:first, fb]).all()
    assert p.index[first] == pd.Timestamp("2012-05-18", tz="UTC")
    assert int(p.tradable.sum()) == len(stocks4)
    # every value lands where it belongs
    row = stocks4.iloc[1234]
    t = int(np.searchsorted(p.ts, pd.Timestamp(row["ts"]).value))
    assert p.close[t, p.column(row["symbol"])] == row["close"]
    assert not p.close.flags.writeable and p.close.flags.c_contiguous


def test_from_frames_takes_frames_and_bars(stocks4: pd.DataFrame) -> None:
    frames = {s: g.drop(columns=["symbol", "adj_close"]) for s, g in stocks4.groupby("symbol")}
    frames["IBM"] = engine.Bars.from_pandas(frames["IBM"])
    a = engine.Panel.from_frames(frames)
    b = engine.Panel.from_long(stocks4.drop(columns=["adj_close"]))
    np.testing.assert_array_equal(a.close, b.close)
    np.testing.assert_array_equal(a.tradable, b.tradable)


def test_load_panel_pivots_in_one_query(tmp_path: Path, stocks4: pd.DataFrame) -> None:
    with Store(tmp_path / "s.duckdb", sample=False) as store:
        store.import_bars(stocks4, timeframe="1d")
        p = engine.load_panel(["MSFT", "FB", "AAPL"], "1d", adjusted=True, store=store)
        assert p.symbols == ("MSFT", "FB", "AAPL")
        for s in p.symbols:
            want = store.bars(s, "1d", adjusted=True)
            j = p.column(s)
            got = p.close[p.tradable[:, j], j]
            np.testing.assert_allclose(got, want.close, rtol=1e-12)
            assert (p.ts[p.tradable[:, j]] == want.ts).all()
        part = engine.load_panel(["IBM"], "1d", "2012-01-01", "2012-12-31", store=store)
        assert part.index[0].year == 2012 and part.index[-1].year == 2012
        with pytest.raises(NoDataError, match="GOOG"):
            engine.load_panel(["IBM", "GOOG"], "1d", store=store)


def test_the_shipped_sample_is_adjusted_and_offline() -> None:
    p = engine.sample_panel()
    raw = engine.sample_panel(adjusted=False)
    j = p.column("AAPL")
    t = int(np.searchsorted(p.ts, pd.Timestamp("2005-02-28").value))
    # the 2:1 split halves the raw close but not the adjusted one
    assert raw.close[t, j] / raw.close[t - 1, j] < 0.6
    assert 0.8 < p.close[t, j] / p.close[t - 1, j] < 1.2


def test_slices_are_views() -> None:
    p = engine.synthetic.panel(6, 100, seed=2)
    by_time = p["2000-02-01":"2000-03-31"]
    assert np.shares_memory(by_time.close, p.close)
    assert by_time.index[0] >= pd.Timestamp("2000-02-01", tz="UTC")
    assert by_time.index[-1] <= pd.Timestamp("2000-03-31 23:59", tz="UTC")
    by_pos = p[10:20]
    assert len(by_pos) == 10 and np.shares_memory(by_pos.open, p.open)
    some = p.select(["S2", "S3", "S4"])
    assert some.symbols == ("S2", "S3", "S4") and np.shares_memory(some.close, p.close)
    np.testing.assert_array_equal(some.close, p.close[:, 2:5])
    # a strided view runs in the core exactly like a copy of it
    w = np.full(some.shape, np.nan)
    w[::7] = 0.3
    copy = engine.Panel(
        some.ts,
        some.symbols,
        some.open.copy(),
        some.high.copy(),
        some.low.copy(),
        some.close.copy(),
        some.volume.copy(),
        some.tradable.copy(),
    )
    a = engine.backtest_portfolio(some, w, engine.Config(fee_rate=0.001))
    b = engine.backtest_portfolio(copy, w, engine.Config(fee_rate=0.001))
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    assert p.select(["S4", "S1"]).symbols == ("S4", "S1")  # out of order: a copy, still right
    with pytest.raises(ValueError, match="did you mean 'S1'"):
        p.select(["S1x"])


def test_bad_panels_name_symbol_field_and_bar() -> None:
    ts = pd.date_range("2024-01-01", periods=3, freq="D")
    ok = np.ones((3, 2))
    high = ok.copy()
    high[2, 1] = 0.5
    with pytest.raises(ValueError, match=r"panel B\.high\[2\] at 2024-01-03.*below low"):
        engine.Panel(ts, ["A", "B"], ok, high, ok, ok)
    inf = ok.copy()
    inf[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"panel A\.close\[1\].*finite"):
        engine.Panel(ts, ["A", "B"], ok, ok, ok, inf)
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        engine.Panel(ts, ["A", "B"], ok, ok, ok, np.ones((3, 3)))
    with pytest.raises(ValueError, match="twice"):
        engine.Panel(ts, ["A", "A"], ok, ok, ok, ok)
    with pytest.raises(ValueError, match=r"ts\[2\].*earlier"):
        engine.Panel(ts[[0, 2, 1]], ["A", "B"], ok, ok, ok, ok)
    long = pd.DataFrame(
        {"symbol": ["A", "A"], "ts": [ts[0], ts[0]], "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0}
    )
    with pytest.raises(ValueError, match="two rows for A"):
        engine.Panel.from_long(long)
    bad = {"A": pd.DataFrame({"ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": [1.0, -1.0, 1.0]})}
    with pytest.raises(ValueError, match=r"symbol 'A'.*close\[1\]"):
        engine.Panel.from_frames(bad)


def test_synthetic_panels_are_seeded_and_have_listings() -> None:
    a = engine.synthetic.panel(50, 400, seed=9, late_listings=0.3, delistings=0.3, gaps=0.01)
    b = engine.synthetic.panel(50, 400, seed=9, late_listings=0.3, delistings=0.3, gaps=0.01)
    np.testing.assert_array_equal(a.close, b.close)
    assert (a.first_bars() > 0).sum() >= 5 and (a.last_bars() < 399).sum() >= 5
    full = engine.synthetic.panel(20, 400, seed=9)
    assert full.tradable.all()
    r = np.diff(np.log(full.close), axis=0)
    corr = np.corrcoef(r.T)
    assert corr[np.triu_indices_from(corr, 1)].mean() > 0.1  # a market factor

"""Memoization of strategies.indicators: computed once per (inputs, arguments),
never stale, bounded, and counted."""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import engine
from strategies import indicators as ind
from strategies.indicators import IndicatorError


@pytest.fixture(autouse=True)
def fresh_cache():
    ind.clear_cache()
    yield
    ind.set_cache_limit(ind.DEFAULT_CACHE_BYTES)
    ind.clear_cache()


@pytest.fixture(scope="module")
def bars(sp500_df: pd.DataFrame) -> engine.Bars:
    """Bars over arrays of their own: read-only all the way down."""
    df = sp500_df
    names = ("open", "high", "low", "close", "volume")
    cols = (df[k].to_numpy(dtype=np.float64, copy=True) for k in names)
    return engine.Bars.from_numpy(df["ts"].to_numpy(), *cols)


def frozen(values) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    a.flags.writeable = False
    return a


def test_a_sweep_of_1000_sma_crosses_over_45_windows_computes_45_smas(bars):
    windows = range(5, 50)
    combos = list(itertools.islice(((f, s) for f in windows for s in windows if f != s), 1000))
    assert len(combos) == 1000 and {w for c in combos for w in c} == set(windows)
    signals = np.empty((len(combos), len(bars.close)), dtype=np.int8)
    for row, (fast, slow) in enumerate(combos):
        signals[row] = ind.sma(bars.close, fast) > ind.sma(bars.close, slow)
    sma = ind.cache_info()["sma"]
    assert sma.computes == 45
    assert sma.misses == 45
    assert sma.hits == 2 * len(combos) - 45
    # ... and the remembered answers are the ones a fresh computation gives.
    plain = bars.close.copy()  # writable: never remembered
    fast, slow = combos[-1]
    np.testing.assert_array_equal(signals[-1], ind.sma(plain, fast) > ind.sma(plain, slow))


def test_a_hit_returns_the_same_read_only_arrays(bars):
    first = ind.sma(bars.close, 10)
    assert ind.sma(bars.close, 10) is first
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[20] = 0.0
    line = ind.macd(bars.close)
    again = ind.macd(bars.close)
    assert all(a is b for a, b in zip(line, again))
    assert not any(a.flags.writeable for a in again)
    assert ind.cache_info()["macd"] == ind.IndicatorStats(hits=1, misses=1, computes=1)


def test_different_arguments_or_indicators_are_different_entries(bars):
    c = bars.close
    ind.sma(c, 10)
    ind.sma(c, 11)
    ind.ema(c, 10)
    ind.sma(bars.open, 10)
    ind.atr(bars.high, bars.low, c, 10)
    ind.atr(bars.high, bars.low, bars.open, 10)
    info = ind.cache_info()
    assert info.entries == 6
    assert info["sma"].computes == 3 and info["ema"].computes == 1 and info["atr"].computes == 2
    assert sum(s.hits for s in info.indicators.values()) == 0


def test_a_writable_array_is_computed_every_time_and_never_stale():
    x = np.arange(1.0, 21.0)
    before = ind.sma(x, 3)
    x[10] = 100.0
    after = ind.sma(x, 3)
    assert after[10] == pytest.approx((9.0 + 10.0 + 100.0) / 3)
    assert before[10] == pytest.approx(10.0)
    info = ind.cache_info()
    assert info["sma"] == ind.IndicatorStats(hits=0, misses=0, computes=2)
    assert info.entries == 0


def test_a_read_only_view_of_writable_memory_is_not_remembered():
    base = np.arange(1.0, 21.0)
    view = base[:]
    view.flags.writeable = False
    ind.sma(view, 3)
    base[5] = 50.0  # changes what `view` shows
    assert ind.sma(view, 3)[5] == pytest.approx((4.0 + 5.0 + 50.0) / 3)
    assert ind.cache_info()["sma"].computes == 2


def test_a_frame_edit_cannot_reach_a_remembered_result(sp500_df):
    """Arrays that share a DataFrame's memory are writable underneath: not remembered."""
    df = sp500_df.copy()
    close = df["close"].to_numpy()
    assert not close.flags.writeable
    ind.sma(close, 5)
    ind.sma(close, 5)
    assert ind.cache_info()["sma"].computes == 2


def test_arrow_columns_are_remembered():
    table = pa.table({"close": pa.array([1.0, 2.0, 3.0, 4.0, 5.0])})  # one chunk: zero-copy
    close = table.column("close").to_numpy()
    assert not close.flags.writeable
    assert ind.sma(close, 2) is ind.sma(close, 2)
    mutable = np.frombuffer(pa.py_buffer(bytearray(40)), dtype=np.float64)  # Arrow over a bytearray
    mutable.flags.writeable = False
    assert isinstance(mutable.base, pa.Buffer) and mutable.base.is_mutable
    ind.sma(mutable, 2)
    ind.sma(mutable, 2)
    assert ind.cache_info()["sma"] == ind.IndicatorStats(hits=1, misses=1, computes=3)


def test_chained_indicators_are_remembered_too(bars):
    for _ in range(3):
        smooth = ind.sma(ind.rsi(bars.close, 14), 5)
    info = ind.cache_info()
    assert info["rsi"].computes == 1 and info["sma"].computes == 1
    assert np.isnan(smooth[:18]).all() and not np.isnan(smooth[18:]).any()


def test_an_entry_goes_with_its_input_array():
    a = frozen(np.linspace(1.0, 2.0, 100))
    ind.sma(a, 5)
    ind.wma(a, 5)
    assert ind.cache_info().entries == 2
    del a
    gc.collect()
    info = ind.cache_info()
    assert info.entries == 0 and info.bytes == 0


def test_the_cache_is_bounded_in_bytes_least_recently_used_first():
    a = frozen(np.linspace(1.0, 2.0, 1000))  # 8000 bytes a result
    ind.set_cache_limit(3 * 8000)
    for p in (2, 3, 4):
        ind.sma(a, p)
    ind.sma(a, 2)  # now the most recently used
    ind.sma(a, 5)  # evicts period 3, the least recently used
    info = ind.cache_info()
    assert info.entries == 3 and info.bytes == 3 * 8000 <= info.max_bytes
    ind.sma(a, 2)
    ind.sma(a, 3)
    assert ind.cache_info()["sma"] == ind.IndicatorStats(hits=2, misses=5, computes=5)


def test_a_result_larger_than_the_cache_is_not_kept_and_zero_turns_it_off():
    a = frozen(np.linspace(1.0, 2.0, 1000))
    ind.set_cache_limit(5000)
    ind.sma(a, 3)
    assert ind.cache_info().entries == 0
    ind.set_cache_limit(0)
    ind.sma(a, 3)
    ind.sma(a, 3)
    assert ind.cache_info()["sma"].computes == 3


def test_clear_cache_forgets_results_and_counts(bars):
    ind.sma(bars.close, 3)
    ind.sma(bars.close, 3)
    ind.clear_cache()
    info = ind.cache_info()
    assert info.entries == 0 and info.bytes == 0 and dict(info.indicators) == {}
    assert info["sma"] == ind.IndicatorStats()  # never called since: all zero
    ind.sma(bars.close, 3)
    assert ind.cache_info()["sma"].computes == 1


@pytest.mark.parametrize("limit", [-1, 2.5, "big", None])
def test_a_bad_cache_limit_is_refused(limit):
    with pytest.raises(IndicatorError, match="max_bytes"):
        ind.set_cache_limit(limit)


def test_arrays_from_rays_object_store_are_memoized():
    """Bars deserialized from Ray's object store are read-only views of shared memory:
    the cache must remember results for them as it does for local Bars."""
    import ray

    from cluster import runtime
    from engine import synthetic

    started_here = not ray.is_initialized()
    runtime.ensure(None, num_cpus=1)
    try:

        @ray.remote(num_cpus=0)  # runs beside whatever actors an earlier test left holding the CPUs
        def twice(bars):
            from strategies import indicators as ind

            ind.clear_cache()
            ind.sma(bars.close, 5)
            ind.sma(bars.close, 5)
            return ind.cache_info().indicators["sma"].hits

        assert ray.get(twice.remote(ray.put(synthetic.bars(1000, seed=1))), timeout=300) == 1
    finally:
        if started_here:
            runtime.shutdown()

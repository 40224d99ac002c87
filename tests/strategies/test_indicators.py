"""strategies.indicators against TA-Lib on real series, hand-worked fixtures where
TA-Lib has no such indicator, and the arguments it refuses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import engine
from strategies import indicators as ind
from strategies.indicators import IndicatorError

DATASETS = ("sp500_daily", "nasdaq_daily", "eurusd_hourly")
NAN = math.nan


@pytest.fixture(scope="module")
def series(shared_data: Path) -> dict[str, dict[str, np.ndarray]]:
    """dataset -> {"high", "low", "close", "volume"} as writable float64 arrays."""
    out = {}
    for name in DATASETS:
        df = pd.read_parquet(shared_data / f"{name}.parquet")
        out[name] = {k: df[k].to_numpy(dtype=np.float64, copy=True) for k in ("high", "low", "close", "volume")}
    return out


def assert_matches(ours: np.ndarray, theirs: np.ndarray) -> None:
    """NaN in exactly the same places; elsewhere equal to 1e-9 relative, with an
    absolute floor of 1e-9 of the series' own scale for values near 0."""
    assert ours.dtype == np.float64 and ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    ok = ~np.isnan(theirs)
    if ok.any():
        scale = float(np.max(np.abs(theirs[ok])))
        np.testing.assert_allclose(ours[ok], theirs[ok], rtol=1e-9, atol=1e-9 * scale)


# -- against TA-Lib -------------------------------------------------------------

ONE_INPUT = {
    "sma": (ind.sma, talib.SMA),
    "ema": (ind.ema, talib.EMA),
    "wma": (ind.wma, talib.WMA),
    "rsi": (ind.rsi, talib.RSI),
    "roc": (ind.roc, talib.ROC),
    "momentum": (ind.momentum, talib.MOM),
    "stddev": (ind.stddev, talib.STDDEV),
    "highest": (ind.highest, talib.MAX),
    "lowest": (ind.lowest, talib.MIN),
}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("period", [2, 5, 14, 50, 200])
@pytest.mark.parametrize("name", sorted(ONE_INPUT))
def test_one_input_indicators_match_talib(series, dataset, period, name):
    ours, theirs = ONE_INPUT[name]
    c = series[dataset]["close"]
    assert_matches(ours(c, period), theirs(c, period))


HLC = {
    "atr": (ind.atr, talib.ATR),
    "adx": (ind.adx, talib.ADX),
    "cci": (ind.cci, talib.CCI),
    "willr": (ind.willr, talib.WILLR),
}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("period", [2, 5, 14, 50])
@pytest.mark.parametrize("name", sorted(HLC))
def test_high_low_close_indicators_match_talib(series, dataset, period, name):
    ours, theirs = HLC[name]
    s = series[dataset]
    h, lo, c = s["high"], s["low"], s["close"]
    assert_matches(ours(h, lo, c, period), theirs(h, lo, c, period))


@pytest.mark.parametrize("dataset", DATASETS)
def test_true_range_and_obv_match_talib(series, dataset):
    s = series[dataset]
    assert_matches(ind.true_range(s["high"], s["low"], s["close"]), talib.TRANGE(s["high"], s["low"], s["close"]))
    assert_matches(ind.obv(s["close"], s["volume"]), talib.OBV(s["close"], s["volume"]))


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("fast, slow, signal", [(12, 26, 9), (5, 35, 5), (26, 12, 9), (2, 10, 1), (8, 8, 3)])
def test_macd_matches_talib(series, dataset, fast, slow, signal):
    c = series[dataset]["close"]
    ours = ind.macd(c, fast, slow, signal)
    theirs = talib.MACD(c, fast, slow, signal)
    assert len(ours) == 3
    for a, b in zip(ours, theirs):
        assert_matches(a, b)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("period, up, dn", [(20, 2.0, 2.0), (5, 1.5, 2.5), (2, 1.0, 1.0), (50, 0.0, 3.0)])
def test_bbands_match_talib(series, dataset, period, up, dn):
    c = series[dataset]["close"]
    upper, middle, lower, width = ind.bbands(c, period, up, dn)
    t_upper, t_middle, t_lower = talib.BBANDS(c, period, up, dn, 0)
    assert_matches(upper, t_upper)
    assert_matches(middle, t_middle)
    assert_matches(lower, t_lower)
    # Bollinger's BandWidth from TA-Lib's own bands.
    assert_matches(width, (t_upper - t_lower) / t_middle)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("fastk, slowk, slowd", [(5, 3, 3), (14, 3, 3), (14, 1, 1), (9, 5, 2)])
def test_stoch_matches_talib(series, dataset, fastk, slowk, slowd):
    s = series[dataset]
    k, d = ind.stoch(s["high"], s["low"], s["close"], fastk, slowk, slowd)
    t_k, t_d = talib.STOCH(s["high"], s["low"], s["close"], fastk, slowk, 0, slowd, 0)
    assert_matches(k, t_k)
    assert_matches(d, t_d)


def test_defaults_are_talibs(series):
    s = series["sp500_daily"]
    h, lo, c = s["high"], s["low"], s["close"]
    assert_matches(ind.rsi(c), talib.RSI(c))
    assert_matches(ind.atr(h, lo, c), talib.ATR(h, lo, c))
    assert_matches(ind.adx(h, lo, c), talib.ADX(h, lo, c))
    assert_matches(ind.cci(h, lo, c), talib.CCI(h, lo, c))
    assert_matches(ind.willr(h, lo, c), talib.WILLR(h, lo, c))
    for a, b in zip(ind.macd(c), talib.MACD(c)):
        assert_matches(a, b)
    for a, b in zip(ind.stoch(h, lo, c), talib.STOCH(h, lo, c)):
        assert_matches(a, b)
    for a, b in zip(ind.bbands(c)[:3], talib.BBANDS(c, 20, 2.0, 2.0)):
        assert_matches(a, b)


def test_leading_nans_are_skipped_as_talib_skips_them(series):
    """Chaining one indicator onto another: the warm-up NaNs are not an error."""
    s = series["nasdaq_daily"]
    h, lo, c = s["high"], s["low"], s["close"]
    assert_matches(ind.sma(ind.rsi(c, 14), 10), talib.SMA(talib.RSI(c, 14), 10))
    assert_matches(ind.ema(ind.macd(c)[0], 9), talib.EMA(talib.MACD(c)[0], 9))
    assert_matches(ind.stddev(ind.roc(c, 5), 20), talib.STDDEV(talib.ROC(c, 5), 20))
    late_high = h.copy()
    late_high[:7] = NAN  # one input starts later: every output waits for it
    assert_matches(ind.atr(late_high, lo, c, 14), talib.ATR(late_high, lo, c, 14))
    for a, b in zip(ind.stoch(late_high, lo, c), talib.STOCH(late_high, lo, c)):
        assert_matches(a, b)


def test_flat_series_answers_as_talib_does():
    flat = np.full(40, 5.0)
    assert_matches(ind.rsi(flat, 5), talib.RSI(flat, 5))  # 0, not 50
    assert_matches(ind.cci(flat, flat, flat, 5), talib.CCI(flat, flat, flat, 5))
    assert_matches(ind.willr(flat, flat, flat, 5), talib.WILLR(flat, flat, flat, 5))
    assert_matches(ind.adx(flat, flat, flat, 5), talib.ADX(flat, flat, flat, 5))
    assert_matches(ind.stddev(flat, 5), talib.STDDEV(flat, 5))
    for a, b in zip(ind.stoch(flat, flat, flat), talib.STOCH(flat, flat, flat)):
        assert_matches(a, b)
    assert np.all(ind.zscore(flat, 5)[4:] == 0.0)
    assert np.all(ind.bbands(flat, 5)[3][4:] == 0.0)


cents = st.integers(100, 100_000).map(lambda c: c / 100)  # prices on a tick grid: ties, plateaus


@given(
    bars=st.lists(
        st.tuples(cents, st.integers(0, 300), st.integers(0, 300)), min_size=1, max_size=300
    ),  # (close, high - close, close - low) in cents
    period=st.integers(2, 40),
)
def test_random_series_on_a_tick_grid_match_talib(bars, period):
    """Plateaus, ties and flat windows on top of the real series above."""
    c = np.array([b[0] for b in bars])
    h = c + np.array([b[1] for b in bars]) / 100
    lo = c - np.array([b[2] for b in bars]) / 100
    for ours, theirs in ONE_INPUT.values():
        assert_matches(ours(c, period), theirs(c, period))
    for ours, theirs in HLC.values():
        assert_matches(ours(h, lo, c, period), theirs(h, lo, c, period))
    for a, b in zip(ind.stoch(h, lo, c, period, 3, 2), talib.STOCH(h, lo, c, period, 3, 0, 2, 0)):
        assert_matches(a, b)
    for a, b in zip(ind.bbands(c, period, 2.0, 1.0), talib.BBANDS(c, period, 2.0, 1.0, 0)):
        assert_matches(a, b)
    for a, b in zip(ind.macd(c, period, 2 * period, 3), talib.MACD(c, period, 2 * period, 3)):
        assert_matches(a, b)


# -- where TA-Lib has no such indicator -------------------------------------------


def test_zscore_fixture():
    x = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    # [1, 2, 3]: mean 2, population variance (1 + 0 + 1) / 3 = 2/3,
    #            z = (3 - 2) / sqrt(2/3) = sqrt(3/2)
    # [2, 3, 4]: the same shape, z = sqrt(3/2)
    # [3, 4, 6]: mean 13/3, deviations -4/3, -1/3, 5/3, variance (16 + 1 + 25) / 27 = 14/9,
    #            z = (5/3) / (sqrt(14)/3) = 5 / sqrt(14)
    expected = [NAN, NAN, math.sqrt(1.5), math.sqrt(1.5), 5 / math.sqrt(14)]
    np.testing.assert_allclose(ind.zscore(x, 3), expected, rtol=1e-12)
    # A flat window has no deviation to measure against: z = 0.
    np.testing.assert_array_equal(ind.zscore([2.0, 2.0, 2.0, 3.0], 2), [NAN, 0.0, 0.0, 1.0])


def test_vwap_fixture():
    high = np.array([11.0, 12.0, 13.0, 14.0])
    low = np.array([9.0, 10.0, 11.0, 12.0])
    close = np.array([10.0, 11.0, 12.0, 13.0])  # typical prices 10, 11, 12, 13
    volume = np.array([100.0, 200.0, 300.0, 400.0])
    # bar 2: (10*100 + 11*200 + 12*300) / 600 = 6800 / 600
    # bar 3: (11*200 + 12*300 + 13*400) / 900 = 11000 / 900
    np.testing.assert_allclose(ind.vwap(high, low, close, volume, 3), [NAN, NAN, 6800 / 600, 11000 / 900], rtol=1e-12)
    # A window that traded nothing has no volume-weighted price: NaN.
    # bar 1: (10*100 + 11*0) / 100 = 10; bar 2: no volume; bar 3: (12*0 + 13*50) / 50 = 13
    quiet = np.array([100.0, 0.0, 0.0, 50.0])
    np.testing.assert_array_equal(ind.vwap(high, low, close, quiet, 2), [NAN, 10.0, NAN, 13.0])


def test_bbands_width_fixture():
    # [1, 2, 3]: middle 2, sd sqrt(2/3), upper - lower = 4 sd, width = 4 sd / 2 = 2 sqrt(2/3)
    upper, middle, lower, width = ind.bbands([1.0, 2.0, 3.0], 3, 2.0, 2.0)
    np.testing.assert_allclose(middle, [NAN, NAN, 2.0])
    np.testing.assert_allclose(upper, [NAN, NAN, 2 + 2 * math.sqrt(2 / 3)], rtol=1e-14)
    np.testing.assert_allclose(width, [NAN, NAN, 2 * math.sqrt(2 / 3)], rtol=1e-14)
    # A middle band of 0 has no relative width.
    assert math.isnan(ind.bbands([-1.0, 1.0], 2)[3][1])


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("period", [2, 20, 100])
def test_zscore_and_vwap_match_two_pass_references(series, dataset, period):
    s = series[dataset]
    c = s["close"]
    win = sliding_window_view(c, period)
    dev, sd = c[period - 1 :] - win.mean(axis=1), win.std(axis=1)
    z = np.full(len(c), NAN)
    z[period - 1 :] = np.divide(dev, sd, out=np.zeros_like(sd), where=sd > 0)  # flat: 0
    assert_matches(ind.zscore(c, period), z)
    tp = (s["high"] + s["low"] + c) / 3
    v = s["volume"]
    vw = np.full(len(c), NAN)
    traded = sliding_window_view(tp * v, period).sum(axis=1)
    vw[period - 1 :] = traded / sliding_window_view(v, period).sum(axis=1)
    assert_matches(ind.vwap(s["high"], s["low"], c, v, period), vw)


# -- shapes of the answers ------------------------------------------------------


def test_outputs_are_read_only_float64_and_leave_inputs_alone():
    c = np.linspace(1.0, 2.0, 30)
    before = c.copy()
    for out in (ind.sma(c, 3), *ind.macd(c, 3, 6, 2), *ind.bbands(c, 4)):
        assert out.dtype == np.float64 and out.shape == c.shape
        assert not out.flags.writeable
        with pytest.raises(ValueError):
            out[5] = 0.0
        with pytest.raises(ValueError):
            out.flags.writeable = True
    np.testing.assert_array_equal(c, before)


def test_lists_ints_and_bars_columns_are_accepted(sp500_bars):
    np.testing.assert_array_equal(ind.sma([1, 2, 3, 4], 2), [NAN, 1.5, 2.5, 3.5])
    ints = np.array([3, 1, 2], dtype=np.int32)
    np.testing.assert_array_equal(ind.highest(ints, 2), [NAN, 3.0, 2.0])
    b = sp500_bars
    assert_matches(ind.atr(b.high, b.low, b.close), talib.ATR(b.high, b.low, b.close))


def test_period_one_is_the_input_where_talib_says_so():
    x = np.array([1.0, 5.0, 100.0, 3.0])
    for f in (ind.sma, ind.ema, ind.wma, ind.highest, ind.lowest):
        np.testing.assert_array_equal(f(x, 1), x)
    np.testing.assert_array_equal(ind.stddev(x, 1), np.zeros(4))
    np.testing.assert_array_equal(ind.momentum(x, 1), [NAN, 4.0, 95.0, -97.0])
    np.testing.assert_array_equal(ind.rsi(x, 1), [NAN, 100.0, 100.0, 0.0])


def test_a_window_as_long_as_the_series_gives_one_value_and_longer_gives_none():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(ind.sma(x, 4), [NAN, NAN, NAN, 2.5])
    for out in (
        ind.sma(x, 5),
        ind.rsi(x, 4),
        ind.adx(x, x, x, 3),
        *ind.macd(x, 2, 3, 3),
        *ind.stoch(x, x, x, 2, 2, 3),
        *ind.bbands(x, 9),
    ):
        assert out.shape == (4,) and np.isnan(out).all()


def test_empty_and_all_nan_inputs():
    assert ind.sma(np.array([]), 3).shape == (0,)
    assert [a.shape for a in ind.macd([])] == [(0,)] * 3
    assert np.isnan(ind.ema(np.full(10, NAN), 3)).all()


# -- arguments it refuses ---------------------------------------------------------


def test_indicator_error_is_an_engine_error_and_a_value_error():
    assert issubclass(IndicatorError, engine.EngineError)
    assert issubclass(IndicatorError, ValueError)


@pytest.mark.parametrize("period", [0, -3, 2.5, "10", None, True, 2**40])
def test_bad_period_is_refused_by_name(period):
    with pytest.raises(IndicatorError, match="period"):
        ind.sma(np.arange(10.0), period)


def test_each_period_argument_is_named():
    c = np.arange(50.0)
    with pytest.raises(IndicatorError, match="slow"):
        ind.macd(c, 12, 0, 9)
    with pytest.raises(IndicatorError, match="signal"):
        ind.macd(c, 12, 26, -1)
    with pytest.raises(IndicatorError, match="slowd"):
        ind.stoch(c, c, c, 5, 3, 0)


@pytest.mark.parametrize("nbdev", [-1.0, NAN, math.inf, "2", None])
def test_bad_band_multiplier_is_refused(nbdev):
    with pytest.raises(IndicatorError, match="nbdev_dn"):
        ind.bbands(np.arange(30.0), 20, 2.0, nbdev)


def test_mismatched_lengths_name_both_arrays():
    with pytest.raises(IndicatorError, match=r"low has 9 values but high has 10"):
        ind.atr(np.ones(10), np.ones(9), np.ones(10), 3)
    with pytest.raises(IndicatorError, match=r"volume has 4 values"):
        ind.obv(np.ones(5), np.ones(4))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.ones((3, 4)), "one-dimensional"),
        (np.float64(3.0), "one-dimensional"),
        (["a", "b", "c"], "numbers"),
        (np.array([1 + 2j, 3j]), "numbers"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "numbers"),
        ([[1.0], [2.0, 3.0]], "cannot be read"),
    ],
)
def test_arrays_that_are_not_one_series_of_numbers_are_refused(bad, match):
    with pytest.raises(IndicatorError, match=f"close.*{match}|{match}"):
        ind.ema(bad, 2)


def test_a_nan_after_the_series_began_is_an_error_naming_the_bar():
    c = np.arange(1.0, 21.0)
    c[12] = NAN
    began = r"close\[12\] is nan, after the series began at close\[0\]"
    with pytest.raises(IndicatorError, match=began):
        ind.sma(c, 3)
    h = np.arange(1.0, 21.0)
    c = h.copy()
    c[:3] = NAN  # a warm-up: fine
    h[15] = math.inf
    with pytest.raises(IndicatorError, match=r"high\[15\] is inf, after the series began at bar 3"):
        ind.cci(h, h, c, 5)


def test_negative_volume_is_refused():
    v = np.array([1.0, 2.0, -3.0, 4.0])
    with pytest.raises(IndicatorError, match=r"volume\[2\] is -3.0"):
        ind.obv(np.arange(4.0), v)
    with pytest.raises(IndicatorError, match=r"volume\[2\]"):
        ind.vwap(np.ones(4), np.ones(4), np.ones(4), v, 2)


def test_the_core_refuses_what_the_python_layer_would_catch():
    """The C functions check their own arguments (the hostile-input driver covers
    NULL pointers and huge periods under the sanitizers)."""
    from engine import _bindings
    from engine.errors import CoreError

    x = np.arange(5.0)
    with pytest.raises(engine.EngineError, match="anvil_sma"):
        _bindings.indicator("sma", (x,), (0,), (np.empty(5),))
    with pytest.raises(CoreError, match="float64"):
        _bindings.indicator("sma", (x.astype(np.float32),), (2,), (np.empty(5),))
    with pytest.raises(CoreError, match="5 values"):
        _bindings.indicator("sma", (x[:4],), (2,), (np.empty(5),))
    with pytest.raises(CoreError, match="no indicator"):
        _bindings.indicator("anvil_sim_size", (), (), (np.empty(5),))

"""strategies.blocks.sizing: fixed fraction, volatility target, Kelly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import HOLD
from strategies.blocks import (
    effective_position,
    fixed_fraction,
    kelly_fraction,
    realised_volatility,
    volatility_target,
)
from strategies.blocks.sizing import _rebalance_beyond

H = HOLD
nan = np.nan

# log returns 0.01, -0.01, 0.02, 0.0: with lookback 2 and one period a year, the
# volatility is |r1 - r2| / sqrt(2) over each pair.
LOG_CLOSE = 100 * np.exp(np.cumsum([0.0, 0.01, -0.01, 0.02, 0.0]))
# simple returns 0.2, -0.2, 0.1, -0.1
KELLY_CLOSE = np.array([100.0, 120.0, 96.0, 105.6, 95.04])


def rebalance_by_loop(wanted: list[float], threshold: float) -> list[float]:
    out, last = [], nan
    for w in wanted:
        side_changed = np.sign(w) != np.sign(last)
        if not np.isnan(w) and (np.isnan(last) or side_changed or abs(w - last) > threshold):
            out.append(w)
            last = w
        else:
            out.append(nan)
    return out


# -- fixed_fraction --------------------------------------------------------------


def test_fixed_fraction_known_answers():
    d = np.array([H, 1, H, 0, -1, H], dtype=np.int8)
    np.testing.assert_array_equal(fixed_fraction(d, 0.5), [0.0, 0.5, 0.5, 0.0, -0.5, -0.5])
    out = fixed_fraction(pd.Series([nan, -1.0, nan, 1.0]), 2.0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.0, -2.0, -2.0, 2.0])
    assert not np.signbit(fixed_fraction(np.array([-0.0]), 1.0)).any()  # no -0.0
    np.testing.assert_array_equal(fixed_fraction(np.array([True, False]), 0.25), [0.25, 0.0])


def test_fixed_fraction_bad_input():
    with pytest.raises(engine.InvalidSignalError, match=r"direction\[1\] is 0.5"):
        fixed_fraction(np.array([1.0, 0.5]), 1.0)
    with pytest.raises(engine.InvalidSignalError, match=r"direction\[0\] is 3"):
        fixed_fraction(np.array([3, 1]), 1.0)
    for bad in (0.0, -0.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="fraction is"):
            fixed_fraction(np.array([1, 0]), bad)
    with pytest.raises(TypeError, match="fraction must be a number"):
        fixed_fraction(np.array([1, 0]), "0.5")


# -- realised_volatility ----------------------------------------------------------


def test_realised_volatility_known_answers():
    np.testing.assert_allclose(
        realised_volatility(LOG_CLOSE, lookback=2, periods_per_year=1.0),
        [nan, nan, 0.02 / math.sqrt(2), 0.03 / math.sqrt(2), 0.02 / math.sqrt(2)],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        realised_volatility([100.0, 110.0, 99.0, 99.0], 2, 1.0, returns="simple"),
        [nan, nan, 0.2 / math.sqrt(2), 0.1 / math.sqrt(2)],
        rtol=1e-12,
    )
    # annualised: times sqrt(periods_per_year)
    np.testing.assert_allclose(
        realised_volatility(LOG_CLOSE, 3, 252.0)[3],
        np.std([0.01, -0.01, 0.02], ddof=1) * math.sqrt(252.0),
        rtol=1e-12,
    )


def test_realised_volatility_bad_input():
    with pytest.raises(ValueError, match=r"close\[1\] is 0.0"):
        realised_volatility([1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"close\[2\] is nan"):
        realised_volatility([1.0, 2.0, nan])
    with pytest.raises(ValueError, match="lookback is 1"):
        realised_volatility(LOG_CLOSE, lookback=1)
    with pytest.raises(TypeError, match="lookback must be a whole number"):
        realised_volatility(LOG_CLOSE, lookback=2.5)
    with pytest.raises(ValueError, match="periods_per_year is 0"):
        realised_volatility(LOG_CLOSE, periods_per_year=0)
    with pytest.raises(ValueError, match="returns is 'linear'"):
        realised_volatility(LOG_CLOSE, returns="linear")


# -- volatility_target ------------------------------------------------------------


def test_volatility_target_known_answers():
    d = np.array([1, 1, 1, H, -1], dtype=np.int8)
    np.testing.assert_allclose(
        volatility_target(d, LOG_CLOSE, 0.01, lookback=2, periods_per_year=1.0),
        [nan, nan, 1 / math.sqrt(2), math.sqrt(2) / 3, -1 / math.sqrt(2)],
        rtol=1e-12,
    )
    # capped by max_leverage
    np.testing.assert_array_equal(
        volatility_target(d, LOG_CLOSE, 1.0, lookback=2, periods_per_year=1.0, max_leverage=2.0),
        [nan, nan, 2.0, 2.0, -2.0],
    )
    # zero volatility: the cap; flat direction: 0
    np.testing.assert_array_equal(
        volatility_target(np.array([1, 1, 1, 0]), np.full(4, 50.0), 0.1, lookback=2),
        [nan, nan, 1.0, 0.0],
    )


def test_rebalance_threshold_known_answers():
    wanted = np.array([nan, 0.5, 0.55, 0.62, 0.58, 0.0, 0.05, -0.01, 0.2, 0.25])
    expected = [nan, 0.5, nan, 0.62, nan, 0.0, 0.05, -0.01, 0.2, nan]
    # 0.55, 0.58 and 0.25 are within 0.1 of the last emitted value; every change of side is emitted
    np.testing.assert_array_equal(_rebalance_beyond(wanted, 0.1), expected)
    np.testing.assert_array_equal(_rebalance_beyond(wanted, 0.0), wanted)


@given(
    st.lists(st.one_of(st.floats(-2, 2, width=16), st.just(nan)), max_size=40),
    st.floats(0, 1, width=16, exclude_min=True),
)
def test_rebalance_threshold_follows_the_rule(wanted, threshold):
    np.testing.assert_array_equal(
        _rebalance_beyond(np.array(wanted, dtype=float), threshold),
        rebalance_by_loop(wanted, threshold),
    )


def test_volatility_target_with_threshold_emits_only_worthwhile_changes(sp500_df):
    close = sp500_df["close"].to_numpy()
    d = np.where(sp500_df["close"].rolling(30).mean() > sp500_df["close"].rolling(90).mean(), 1, -1)
    full = volatility_target(d, close, 0.15, max_leverage=1.5)
    thin = volatility_target(d, close, 0.15, max_leverage=1.5, rebalance_threshold=0.1)
    emitted = ~np.isnan(thin)
    assert 10 < emitted.sum() < (~np.isnan(full)).sum() / 5
    np.testing.assert_array_equal(thin[emitted], full[emitted])
    # every bar not emitted is on the same side as, and within 0.1 of, the last emitted value
    last = effective_position(thin)
    quiet = ~emitted & ~np.isnan(full)
    assert (np.abs(full[quiet] - last[quiet]) <= 0.1).all()
    assert (np.sign(full[quiet]) == np.sign(last[quiet])).all()


def test_volatility_target_bad_input():
    d = np.ones(5, dtype=np.int8)
    with pytest.raises(ValueError, match="close has 4 values but signal has 5"):
        volatility_target(d, LOG_CLOSE[:4], 0.1)
    with pytest.raises(ValueError, match="target_vol is 0"):
        volatility_target(d, LOG_CLOSE, 0)
    with pytest.raises(ValueError, match="max_leverage is -1"):
        volatility_target(d, LOG_CLOSE, 0.1, max_leverage=-1)
    with pytest.raises(ValueError, match="rebalance_threshold is -0.1"):
        volatility_target(d, LOG_CLOSE, 0.1, rebalance_threshold=-0.1)
    with pytest.raises(ValueError, match="lookback is 0"):
        volatility_target(d, LOG_CLOSE, 0.1, lookback=0)
    with pytest.raises(engine.InvalidSignalError, match="direction"):
        volatility_target(np.array([0.0, 0.3, 1, 1, 1]), LOG_CLOSE, 0.1)


# -- kelly_fraction ---------------------------------------------------------------


def test_kelly_fraction_known_answers():
    # window [0.2, -0.2, 0.1]: mean 1/30, var 13/300, k = 10/13
    # window [-0.2, 0.1, -0.1]: mean -1/15, var 7/300, k = -20/7
    d = np.array([1, 1, 1, 1, -1], dtype=np.int8)
    np.testing.assert_allclose(kelly_fraction(d, KELLY_CLOSE, lookback=3), [nan, nan, nan, 5 / 13, -1.0], rtol=1e-12)
    np.testing.assert_allclose(
        kelly_fraction(d, KELLY_CLOSE, lookback=3, fraction=0.1),
        [nan, nan, nan, 1 / 13, -2 / 7],
        rtol=1e-12,
    )
    # a long when the trailing returns favour shorts: flat, not short
    np.testing.assert_allclose(
        kelly_fraction(np.ones(5), KELLY_CLOSE, lookback=3), [nan, nan, nan, 5 / 13, 0.0], rtol=1e-12
    )
    # flat prices: no edge, 0; HOLD keeps the last direction
    np.testing.assert_array_equal(
        kelly_fraction(np.array([1, H, H, H], dtype=np.int8), np.full(4, 10.0), lookback=2),
        [nan, nan, 0.0, 0.0],
    )


def test_kelly_fraction_bad_input():
    d = np.ones(5, dtype=np.int8)
    with pytest.raises(ValueError, match="fraction is 0"):
        kelly_fraction(d, KELLY_CLOSE, fraction=0)
    with pytest.raises(ValueError, match="max_leverage is 0"):
        kelly_fraction(d, KELLY_CLOSE, max_leverage=0)
    with pytest.raises(ValueError, match="close has 5 values but signal has 4"):
        kelly_fraction(d[:4], KELLY_CLOSE)
    with pytest.raises(ValueError, match="returns is 'pct'"):
        kelly_fraction(d, KELLY_CLOSE, returns="pct")


# -- causality ----------------------------------------------------------------------


@given(st.data())
def test_sizing_is_causal(data):
    n = data.draw(st.integers(8, 40))
    steps = data.draw(st.lists(st.floats(-0.125, 0.125, width=16), min_size=n, max_size=n))
    close = 100 * np.exp(np.cumsum(steps))
    d = np.array(data.draw(st.lists(st.sampled_from([1, 0, -1, H]), min_size=n, max_size=n)), np.int8)
    k = data.draw(st.integers(0, n - 2))
    close2, d2 = close.copy(), d.copy()
    close2[k + 1 :] *= data.draw(st.floats(0.5, 2.0))
    d2[k + 1 :] = -1
    for block in (
        lambda d_, c_: volatility_target(d_, c_, 0.2, lookback=3, rebalance_threshold=0.05),
        lambda d_, c_: kelly_fraction(d_, c_, lookback=4, rebalance_threshold=0.02),
        lambda d_, c_: fixed_fraction(d_, 0.3),
    ):
        np.testing.assert_array_equal(block(d, close)[: k + 1], block(d2, close2)[: k + 1])


# -- end to end ---------------------------------------------------------------------


def _traded_bars(signal: np.ndarray) -> np.ndarray:
    """Bars where a float signal orders: a value that differs from the last one."""
    held_before = np.concatenate(([0.0], effective_position(signal)[:-1]))
    return ~np.isnan(signal) & (signal != held_before)


@pytest.mark.parametrize("threshold", [0.0, 0.1])
def test_volatility_target_sets_the_exposure_the_engine_holds(sp500_df, sp500_bars, threshold):
    close = sp500_df["close"]
    d = np.where(close.rolling(50).mean() > close.rolling(200).mean(), 1, 0).astype(np.int8)
    ppy = sp500_bars.periods_per_year()
    signal = volatility_target(d, close, 0.10, periods_per_year=ppy, rebalance_threshold=threshold)
    res = engine.backtest(sp500_bars, signal, engine.Config(fill="close"))
    equity = res.equity.to_numpy()
    c = close.to_numpy()
    # fill="close", no costs: after an order at close t the position is signal[t] x equity,
    # so the next bar's equity return is signal[t] x the price return
    t = np.flatnonzero(_traded_bars(signal)[:-1])
    assert len(t) > 100
    np.testing.assert_allclose(equity[t + 1] / equity[t] - 1, signal[t] * (c[t + 1] / c[t] - 1), rtol=1e-9, atol=1e-13)
    # and the strategy's volatility while in the market is near the target
    in_market = effective_position(signal)[:-1] != 0
    r = equity[1:] / equity[:-1] - 1
    assert 0.08 < r[in_market].std() * math.sqrt(ppy) < 0.12


def test_kelly_fraction_on_real_data(sp500_df, sp500_bars):
    close = sp500_df["close"]
    d = np.where(close.rolling(20).mean() > close.rolling(60).mean(), 1, -1).astype(np.int8)
    signal = kelly_fraction(d, close, lookback=60, fraction=0.5, max_leverage=1.0)
    size = np.abs(signal[~np.isnan(signal)])
    assert (size <= 1.0).all() and (size > 0).any() and (size == 0).any()
    on = ~np.isnan(signal) & (signal != 0)
    assert (np.sign(signal[on]) == d[on]).all()  # never against the direction
    res = engine.backtest(sp500_bars, signal, engine.Config(fill="close", allow_short=True))
    equity, c = res.equity.to_numpy(), close.to_numpy()
    t = np.flatnonzero(_traded_bars(signal)[:-1])
    np.testing.assert_allclose(equity[t + 1] / equity[t] - 1, signal[t] * (c[t + 1] / c[t] - 1), rtol=1e-9, atol=1e-13)

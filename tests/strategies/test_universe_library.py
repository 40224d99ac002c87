"""The universe library: each strategy's weights against its docstring's rule,
recomputed here with pandas and plain loops on the shipped four-stock sample
(AAPL, FB, IBM, MSFT daily; FB lists in 2012), and its trades where the rule says."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import engine
import strategies
from strategies.library import (
    UNIVERSE_LIBRARY,
    CrossSectionalMomentum,
    DualMomentum,
    InverseVolRotation,
    PairsTrading,
    ShortTermReversal,
    TrendBasket,
    get_strategy,
)


@pytest.fixture(scope="module")
def panel() -> engine.Panel:
    return engine.sample_panel()


@pytest.fixture(scope="module")
def close(panel) -> pd.DataFrame:
    return pd.DataFrame(panel.close, index=panel.index, columns=list(panel.symbols))


def period_ends(index: pd.DatetimeIndex, kind: str) -> np.ndarray:
    if kind == "daily":
        return np.ones(len(index), bool)
    if kind == "week_end":
        key = (index - pd.to_timedelta(index.day_of_week, unit="D")).normalize().asi8
    elif kind == "month_end":
        key = index.year * 12 + index.month
    else:
        key = index.year * 4 + (index.month - 1) // 3
    key = np.asarray(key)
    out = np.zeros(len(index), bool)
    out[:-1] = key[1:] != key[:-1]
    return out


def top(row: np.ndarray, k: int, largest: bool = True) -> list[int]:
    ok = [j for j in range(len(row)) if math.isfinite(row[j])]
    return sorted(ok, key=lambda j: (-row[j] if largest else row[j], j))[:k]


def rows_only(full: np.ndarray, when: np.ndarray) -> np.ndarray:
    out = np.full(full.shape, np.nan)
    out[when] = full[when]
    return out


def entries_follow(res: engine.PortfolioResult, when: np.ndarray) -> None:
    """Every trade opens at the bar after a bar the rule rebalances on."""
    bars = res.trades["entry_bar"].to_numpy()
    assert len(bars) > 0
    assert when[bars - 1].all()


def test_the_library_lists_six_universe_strategies():
    assert len(UNIVERSE_LIBRARY) >= 6
    for cls in UNIVERSE_LIBRARY:
        d = cls.describe()
        assert d["universe"] is True and d["kind"] == "vectorized" and d["parameters"]
        assert get_strategy(cls.__name__) is cls
        assert (cls.__doc__ or "").strip()
    assert get_strategy("cross_sectional_momentum") is CrossSectionalMomentum
    assert [d["name"] for d in strategies.list_strategies()][-len(UNIVERSE_LIBRARY) :] == [
        c.name for c in UNIVERSE_LIBRARY
    ]


@pytest.mark.parametrize("cls", UNIVERSE_LIBRARY, ids=lambda c: c.__name__)
def test_each_runs_on_the_sample_with_defaults(panel, cls):
    cfg = engine.Config(fee_rate=0.001, allow_short=True)
    params = {"first": 2, "second": 3} if cls is PairsTrading else {}
    res = strategies.run(cls, panel, cfg, params)
    assert res.stats["total_trades"] > 0
    assert np.isfinite(res.stats["total_return"])


@pytest.mark.parametrize(
    "lookback,skip,top_k,rebalance", [(120, 20, 2, "month_end"), (60, 0, 1, "week_end"), (250, 5, 3, "quarter_end")]
)
def test_cross_sectional_momentum_rule(panel, close, lookback, skip, top_k, rebalance):
    score = (close.shift(skip) / close.shift(lookback) - 1).to_numpy()
    full = np.zeros(panel.shape)
    for t in range(len(panel)):
        for j in top(score[t], top_k):
            full[t, j] = 1 / top_k
    when = period_ends(panel.index, rebalance)
    want = rows_only(full, when)
    params = dict(lookback=lookback, skip=skip, top_k=top_k, rebalance=rebalance)
    np.testing.assert_allclose(CrossSectionalMomentum().weights(panel, **params), want, rtol=0, atol=0)
    entries_follow(strategies.run(CrossSectionalMomentum, panel, engine.Config(), params), when)
    # FB (listed 2012) is never picked before it has `lookback` bars
    fb = panel.column("FB")
    assert np.nan_to_num(want[: panel.first_bars()[fb] + lookback, fb]).max() == 0


def test_cross_sectional_momentum_weights_many_equals_weights(panel):
    sets = [
        CrossSectionalMomentum.check(dict(lookback=lb, skip=s, top_k=k, rebalance=r))
        for lb in (60, 120)
        for s in (0, 20)
        for k in (1, 2)
        for r in ("week_end", "month_end")
    ]
    many = list(CrossSectionalMomentum().weights_many(panel, sets))
    for p, w in zip(sets, many):
        np.testing.assert_array_equal(w, CrossSectionalMomentum().weights(panel, **p))
    table = strategies.run_many(CrossSectionalMomentum, panel, sets, threads=2)
    assert len(table) == len(sets) and table["total_trades"].gt(0).all()


@pytest.mark.parametrize("threshold", [0.0, 0.3])
def test_dual_momentum_rule(panel, close, threshold):
    lookback, top_k = 250, 2
    ret = (close / close.shift(lookback) - 1).to_numpy()
    full = np.zeros(panel.shape)
    for t in range(len(panel)):
        for j in top(ret[t], top_k):
            if ret[t, j] > threshold:
                full[t, j] = 1 / top_k
    when = period_ends(panel.index, "month_end")
    want = rows_only(full, when)
    params = dict(lookback=lookback, top_k=top_k, threshold=threshold)
    np.testing.assert_array_equal(DualMomentum().weights(panel, **params), want)
    assert (want[when].sum(axis=1) == 0).any()  # months all in cash
    res = strategies.run(DualMomentum, panel, engine.Config(), params)
    entries_follow(res, when)


def test_inverse_vol_rotation_rule(panel, close):
    lookback, vol_period, top_k = 120, 60, 2
    r = close / close.shift(1) - 1
    vol = r.rolling(vol_period, min_periods=vol_period).std(ddof=0).to_numpy()
    score = (close / close.shift(lookback) - 1).to_numpy()
    full = np.zeros(panel.shape)
    for t in range(len(panel)):
        row = np.where(vol[t] > 0, score[t], np.nan)
        picks = top(row, top_k)
        total = sum(1 / vol[t, j] for j in picks)
        for j in picks:
            full[t, j] = (1 / vol[t, j]) / total
    when = period_ends(panel.index, "month_end")
    params = dict(lookback=lookback, vol_period=vol_period, top_k=top_k)
    np.testing.assert_allclose(InverseVolRotation().weights(panel, **params), rows_only(full, when), rtol=1e-9)
    entries_follow(strategies.run(InverseVolRotation, panel, engine.Config(), params), when)


@pytest.mark.parametrize("short", [True, False])
def test_short_term_reversal_rule(panel, close, short):
    lookback, k = 5, 1
    ret = (close / close.shift(lookback) - 1).to_numpy()
    full = np.zeros(panel.shape)
    for t in range(len(panel)):
        losers, winners = top(ret[t], k, largest=False), top(ret[t], k)
        if short:
            for j in losers:
                full[t, j] += 0 if j in winners else 0.5 / k
            for j in winners:
                full[t, j] -= 0 if j in losers else 0.5 / k
        else:
            for j in losers:
                full[t, j] = 1 / k
    when = period_ends(panel.index, "week_end")
    params = dict(lookback=lookback, k=k, short=short)
    np.testing.assert_array_equal(ShortTermReversal().weights(panel, **params), rows_only(full, when))
    res = strategies.run(ShortTermReversal, panel, engine.Config(allow_short=short), params)
    entries_follow(res, when)
    assert set(res.trades["direction"]) == ({"long", "short"} if short else {"long"})


def test_short_term_reversal_refuses_shorts_the_config_does_not_allow(panel):
    with pytest.raises(strategies.ParameterError, match="allow_short"):
        strategies.run(ShortTermReversal, panel, engine.Config())


def test_pairs_trading_rule(panel):
    first, second, window, entry, exit_ = 2, 3, 60, 2.0, 0.5  # IBM, MSFT
    both = np.flatnonzero(panel.tradable[:, first] & panel.tradable[:, second])
    a = pd.Series(np.log(panel.close[both, first]))
    b = pd.Series(np.log(panel.close[both, second]))
    beta = (a.rolling(window).cov(b, ddof=0) / b.rolling(window).var(ddof=0)).to_numpy()
    spread = pd.Series(a.to_numpy() - beta * b.to_numpy())
    sd = spread.rolling(window).std(ddof=0)
    z = ((spread - spread.rolling(window).mean()) / sd).to_numpy(copy=True)
    z[(sd == 0).to_numpy()] = 0.0
    want = np.full(panel.shape, np.nan)
    state = 0
    for i in range(len(both)):
        if not (math.isfinite(z[i]) and math.isfinite(beta[i])):
            continue
        new = state
        if state == 0:
            new = -1 if z[i] > entry else (1 if z[i] < -entry else 0)
        elif state == 1 and z[i] > entry:
            new = -1
        elif state == -1 and z[i] < -entry:
            new = 1
        elif abs(z[i]) < exit_:
            new = 0
        if new != state:
            scale = 1 / (1 + abs(beta[i]))
            want[both[i], first] = new * scale
            want[both[i], second] = -new * beta[i] * scale
            state = new
    got = PairsTrading().weights(panel, first=first, second=second, window=window, entry_z=entry, exit_z=exit_)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    changes = (~np.isnan(want)).any(axis=1)
    assert changes.sum() >= 10
    res = strategies.run(
        PairsTrading,
        panel,
        engine.Config(allow_short=True),
        dict(first=first, second=second, window=window, entry_z=entry, exit_z=exit_),
    )
    entries_follow(res, changes)
    assert set(res.trades["symbol"]) == {"IBM", "MSFT"}


def test_pairs_trading_checks_its_columns(panel):
    with pytest.raises(ValueError, match="4 symbols"):
        strategies.run(PairsTrading, panel, engine.Config(allow_short=True), {"first": 0, "second": 7})
    with pytest.raises(strategies.ParameterError, match="first != second"):
        PairsTrading(first=1, second=1)


@pytest.mark.parametrize("period", [50, 200])
def test_trend_basket_rule(panel, close, period):
    r = close / close.shift(1) - 1
    mean = r.mean(axis=1, skipna=True).fillna(0.0)
    index = (1 + mean).cumprod()
    on = (index > index.rolling(period).mean()).to_numpy()
    flips = np.r_[on[0], on[1:] != on[:-1]]
    when = period_ends(panel.index, "month_end") | flips
    full = np.zeros(panel.shape)
    have = close.notna().to_numpy()
    for t in range(len(panel)):
        if on[t]:
            full[t, have[t]] = 1 / have[t].sum()
    np.testing.assert_allclose(TrendBasket().weights(panel, period=period), rows_only(full, when), rtol=1e-12)
    assert 0 < on.mean() < 1
    entries_follow(strategies.run(TrendBasket, panel, engine.Config(), {"period": period}), when)

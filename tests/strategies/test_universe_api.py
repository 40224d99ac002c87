"""Universe strategies in the Strategy API: run / run_many over a Panel, both ways of
deciding giving the same trades, and single-series strategies split per symbol."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import strategies
from strategies import Int, ParameterError, UniverseStrategy
from strategies._panel_run import weight_stream


@pytest.fixture(scope="module")
def panel() -> engine.Panel:
    return engine.sample_panel()


def month_ends(ts: np.ndarray) -> np.ndarray:
    months = pd.DatetimeIndex(ts).to_period("M").asi8
    out = np.zeros(len(ts), bool)
    out[:-1] = months[1:] != months[:-1]
    return out


def momentum_row(close: np.ndarray, t: int, lookback: int, top_k: int) -> np.ndarray:
    """Row t by the rule, from prices up to t only: equal weight on the top_k
    symbols by return over ``lookback`` bars (symbols without both prices: out)."""
    m = close.shape[1]
    row = np.zeros(m)
    if t < lookback:
        return row
    ret = close[t] / close[t - lookback] - 1.0
    ok = np.flatnonzero(~np.isnan(ret))
    best = ok[np.argsort(-ret[ok], kind="stable")][:top_k]
    row[best] = 1.0 / top_k
    return row


class Momentum(UniverseStrategy):
    """Each month end, equal weight on the top_k symbols by return over lookback bars."""

    lookback = Int(60, low=5, high=250)
    top_k = Int(2, low=1, high=4)

    def weights(self, panel, lookback, top_k):
        w = np.full(panel.shape, np.nan)
        for t in np.flatnonzero(month_ends(panel.ts)):
            w[t] = momentum_row(panel.close, t, lookback, top_k)
        return w


class MomentumOnBar(UniverseStrategy):
    """Momentum, decided bar by bar from the history the context shows."""

    lookback = Int(60, low=5, high=250)
    top_k = Int(2, low=1, high=4)

    def prepare(self, panel):
        self.ends = month_ends(panel.ts)

    def on_bar(self, bar, ctx):
        if self.ends[bar.t]:
            hist = ctx.history("close", self.params["lookback"] + 1)
            assert hist.shape[0] == min(bar.t + 1, self.params["lookback"] + 1)
            np.testing.assert_array_equal(hist[-1], bar.close)
            row = momentum_row(ctx.panel.close, bar.t, self.params["lookback"], self.params["top_k"])
            ctx.target_weights(row)


class MomentumMany(Momentum):
    """Momentum with weights_many, recording the chunks it is asked for."""

    calls: list[int] = []

    def weights_many(self, panel, param_sets):
        MomentumMany.calls.append(len(param_sets))
        for p in param_sets:
            yield Momentum().weights(panel, **p)


def same_run(a: engine.PortfolioResult, b: engine.PortfolioResult) -> None:
    pd.testing.assert_frame_equal(a.trades, b.trades)
    assert a.stats == b.stats
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())


def test_describe_and_kind():
    d = Momentum.describe()
    assert d["universe"] is True and d["kind"] == "vectorized"
    assert MomentumOnBar.describe()["kind"] == "bar_by_bar"
    assert Momentum.is_universe() and not strategies.SmaCross.is_universe()
    assert strategies.SmaCross.describe()["universe"] is False
    assert d["parameters"]["top_k"]["high"] == 4


def test_run_on_a_panel_trades_the_weights(panel):
    cfg = engine.Config(fee_rate=0.001)
    res = strategies.run(Momentum, panel, cfg, {"lookback": 40})
    assert isinstance(res, engine.PortfolioResult)
    want = engine.backtest_portfolio(panel, Momentum().weights(panel, lookback=40), cfg)
    same_run(res, want)
    assert res.stats["total_trades"] > 20
    assert set(res.trades["symbol"]) == set(panel.symbols)


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_vectorized_and_bar_by_bar_give_the_same_trades(panel, fill):
    cfg = engine.Config(fee_rate=0.001, slippage_bps=2, fill=fill)
    vec = strategies.run(Momentum, panel, cfg, {"lookback": 30, "top_k": 2})
    bar = strategies.run(MomentumOnBar, panel, cfg, {"lookback": 30, "top_k": 2})
    same_run(vec, bar)
    assert vec.stats["total_trades"] > 20


def test_start_decides_on_the_full_panel_and_trades_from_start(panel):
    cfg = engine.Config()
    start = 1000
    w = Momentum().weights(panel, lookback=120)
    want = engine.backtest_portfolio(panel[start:], w[start:], cfg)
    vec = strategies.run(Momentum, panel, cfg, {"lookback": 120}, start=start)
    bar = strategies.run(MomentumOnBar, panel, cfg, {"lookback": 120}, start=start)
    same_run(vec, want)
    same_run(bar, want)
    assert len(vec.equity) == len(panel) - start
    with pytest.raises(ValueError, match="start"):
        strategies.run(Momentum, panel, cfg, start=len(panel))


def test_run_many_on_a_panel_matches_single_runs(panel):
    cfg = engine.Config(fee_rate=0.0005)
    sets = [{"lookback": lb, "top_k": k} for lb in (20, 60) for k in (1, 3)]
    table = strategies.run_many(Momentum, panel, sets, cfg, threads=2)
    assert list(table.columns) == ["lookback", "top_k", *engine.PORTFOLIO_METRICS]
    for i, p in enumerate(sets):
        one = strategies.run(Momentum, panel, cfg, p).stats
        assert table.iloc[i][list(engine.PORTFOLIO_METRICS)].to_dict() == pytest.approx(one, rel=0, abs=0)
    bar = strategies.run_many(MomentumOnBar, panel, sets[:2], cfg)
    pd.testing.assert_frame_equal(bar, table.iloc[:2])


def test_run_many_uses_weights_many_a_chunk_at_a_time(panel):
    sets = [Momentum.check({"lookback": 10 + i, "top_k": 2}) for i in range(5)]
    MomentumMany.calls.clear()
    got = list(weight_stream(MomentumMany, panel, sets, per_chunk=2))
    assert MomentumMany.calls == [2, 2, 1]
    for p, w in zip(sets, got):
        np.testing.assert_array_equal(w, Momentum().weights(panel, **p))
    MomentumMany.calls.clear()
    table = strategies.run_many(MomentumMany, panel, sets)
    assert sum(MomentumMany.calls) == 5
    pd.testing.assert_frame_equal(table, strategies.run_many(Momentum, panel, sets))


def test_weights_many_giving_too_few_matrices_is_named(panel):
    class Short(Momentum):
        def weights_many(self, panel, param_sets):
            return [Momentum().weights(panel, **p) for p in param_sets[1:]]  # one short

    with pytest.raises(engine.InvalidSignalError, match=r"weights_many gave \d+ matrices for \d+ parameter sets"):
        strategies.run_many(Short, panel, [{"lookback": 10}, {"lookback": 20}])


def test_bad_weights_are_named(panel):
    class Wrong(UniverseStrategy):
        def weights(self, panel):
            return np.ones((len(panel), 2))

    with pytest.raises(engine.InvalidSignalError, match="Wrong.weights"):
        strategies.run(Wrong, panel)


def test_parameters_are_checked_with_a_hint(panel):
    with pytest.raises(ParameterError, match="did you mean 'top_k'"):
        strategies.run(Momentum, panel, params={"topk": 2})
    with pytest.raises(ParameterError):
        strategies.run_many(Momentum, panel, [{"top_k": 9}])


def test_a_universe_strategy_refuses_one_series(sp500_bars):
    with pytest.raises(TypeError, match="universe strategy"):
        strategies.run(Momentum, sp500_bars)
    with pytest.raises(TypeError, match="universe strategy"):
        strategies.run_many(Momentum, sp500_bars, [{}])


# -- single-series strategies on a Panel --------------------------------------------


def split_by_loop(panel: engine.Panel, strat: strategies.Strategy, allow_short: bool) -> np.ndarray:
    """The rule of strategies._panel_run, written as a loop."""
    n, m = panel.shape
    pos = np.zeros((n, m))
    for j, sym in enumerate(panel.symbols):
        sig = strategies.signal(strat, panel.bars(sym))
        rows = np.flatnonzero(panel.tradable[:, j])
        held, k = 0.0, 0
        for t in range(n):
            if k < len(rows) and rows[k] == t:
                v = sig[k]
                if sig.dtype == np.int8 and v != engine.HOLD or sig.dtype != np.int8 and not np.isnan(v):
                    held = float(v)
                k += 1
            live = rows[0] <= t <= rows[-1]
            pos[t, j] = (held if allow_short else max(held, 0.0)) if live else 0.0
    out = np.full((n, m), np.nan)
    for t in range(n):
        if t == 0 and not pos[0].any() or t > 0 and (pos[t] == pos[t - 1]).all():
            continue
        k = np.count_nonzero(pos[t])
        out[t] = pos[t] / k if k else 0.0
    return out


@pytest.mark.parametrize("allow_short", [False, True])
def test_single_series_strategy_on_a_panel_splits_weight_equally(panel, allow_short):
    strat = strategies.SmaCross(fast=20, slow=100, short=allow_short)
    cfg = engine.Config(allow_short=allow_short)
    want = split_by_loop(panel, strat, allow_short)
    got = strategies.target_weights(strat, panel, allow_short=allow_short)
    np.testing.assert_array_equal(got, want)
    res = strategies.run(strat, panel, cfg)
    same_run(res, engine.backtest_portfolio(panel, want, cfg))
    if allow_short:
        assert (res.trades["direction"] == "short").any()
    table = strategies.run_many(strategies.SmaCross, panel, [strat.params], cfg)
    assert table.iloc[0][list(engine.PORTFOLIO_METRICS)].to_dict() == res.stats


def test_single_series_split_rule_on_a_late_listing(panel):
    # FB lists in 2012: it holds no weight before its first bar, and a row is written
    # only when some symbol's position changes.
    w = strategies.target_weights(strategies.SmaCross(fast=5, slow=20), panel)
    fb = panel.column("FB")
    first = panel.first_bars()[fb]
    rows = ~np.isnan(w).all(axis=1)
    assert np.nan_to_num(w[:first, fb]).max() == 0.0
    live = w[rows]
    sums = live.sum(axis=1)
    assert np.all(np.isclose(sums, 1.0) | np.isclose(sums, 0.0))
    assert rows.sum() < len(panel) / 3


def test_run_windows_on_a_panel_stitches_one_account(panel):
    cfg = engine.Config(fee_rate=0.001)
    n = len(panel)
    one = strategies.run_windows(Momentum, panel, [({"lookback": 50}, 600, n)], cfg)
    same_run(one, strategies.run(Momentum, panel, cfg, {"lookback": 50}, start=600))
    windows = [
        ({"lookback": 30}, 300, 1200),
        ({"lookback": 90, "top_k": 1}, 1200, 2000),
        (None, 2000, 2400),
        ({"lookback": 30}, 2400, n),
    ]
    vec = strategies.run_windows(Momentum, panel, windows, cfg)
    bar = strategies.run_windows(MomentumOnBar, panel, windows, cfg)
    same_run(vec, bar)
    rows = np.concatenate(
        [
            Momentum().weights(panel[:1200], lookback=30)[300:1200],
            Momentum().weights(panel[:2000], lookback=90, top_k=1)[1200:2000],
            np.vstack([np.zeros((1, 4)), np.full((399, 4), np.nan)]),
            Momentum().weights(panel, lookback=30)[2400:],
        ]
    )
    same_run(vec, engine.backtest_portfolio(panel[300:], rows, cfg))
    held = vec.trades
    assert not ((held["entry_bar"] + 300 > 2000) & (held["entry_bar"] + 300 <= 2400)).any()  # flat window


def test_a_universe_strategy_has_no_signal_matrix(sp500_bars):
    with pytest.raises(TypeError, match="universe strategy"):
        strategies.signal_matrix(Momentum, sp500_bars, [{}])


class Given(UniverseStrategy):
    """Trades a weights matrix handed to it (the test's random decisions)."""

    matrix: np.ndarray = np.zeros((0, 0))

    def weights(self, panel):
        return Given.matrix


class GivenOnBar(UniverseStrategy):
    """The same decisions, one row per on_bar, half by mapping and half by array."""

    def on_bar(self, bar, ctx):
        row = Given.matrix[bar.t]
        if np.isnan(row).all():
            return
        if bar.t % 2:
            ctx.target_weights({s: float(w) for s, w in zip(ctx.symbols, row) if not np.isnan(w)})
        else:
            ctx.target_weights(row)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.sampled_from(["next_open", "close"]), st.floats(0.0, 0.3))
def test_random_decisions_give_the_same_run_either_way(seed, fill, nan_share):
    rng = np.random.default_rng(seed)
    p = engine.synthetic.panel(5, 120, seed=seed, late_listings=0.4, delistings=0.4, gaps=0.05)
    w = rng.uniform(-0.3, 0.4, p.shape)
    w[rng.random(len(p)) < 0.7] = np.nan  # most bars: no instruction
    w[rng.random(p.shape) < nan_share] = np.nan  # some symbols left alone on the others
    Given.matrix = w
    cfg = engine.Config(fee_rate=0.001, allow_short=True, fill=fill)
    start = int(rng.integers(0, 60))
    vec = strategies.run(Given, p, cfg, start=start)
    bar = strategies.run(GivenOnBar, p, cfg, start=start)
    same_run(vec, bar)
    same_run(vec, engine.backtest_portfolio(p[start:], w[start:], cfg))


def test_run_many_on_a_panel_does_not_depend_on_threads(panel):
    sets = [{"lookback": lb, "top_k": k} for lb in (10, 20, 40, 80, 160) for k in (1, 2, 3)]
    one = strategies.run_many(MomentumMany, panel, sets, threads=1)
    for threads in (2, 3):
        pd.testing.assert_frame_equal(strategies.run_many(MomentumMany, panel, sets, threads=threads), one)

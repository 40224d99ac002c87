"""The Strategy base class and the runner, both kinds of strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
import strategies
from strategies import Int, ParameterError, Strategy


class Momentum(Strategy):
    """Long while close is above its close `lag` bars ago."""

    lag = Int(20, low=1, high=250)

    def signals(self, bars, lag):
        c = bars.close
        out = np.zeros(len(c), np.int8)
        out[lag:] = (c[lag:] > c[:-lag]).astype(np.int8)
        return out


class NoDecision(Strategy):
    """Declares parameters but neither signals nor on_bar."""

    n = Int(1, 1, 2)


def test_signals_validates_and_fills_defaults(sp500_bars):
    s = Momentum().signals(sp500_bars)
    assert s.dtype == np.int8 and len(s) == len(sp500_bars)
    assert np.array_equal(s, Momentum().signals(sp500_bars, lag=20))
    with pytest.raises(ParameterError, match="did you mean 'lag'"):
        Momentum().signals(sp500_bars, lags=5)


def test_describe_is_json_ready():
    d = Momentum.describe()
    assert d["name"] == "Momentum" and d["kind"] == "vectorized"
    assert d["parameters"]["lag"]["default"] == 20
    assert d["doc"].startswith("Long while close")


def test_run_matches_engine_backtest_of_the_signal(sp500_bars):
    cfg = engine.Config(fee_rate=0.001)
    res = strategies.run(Momentum, sp500_bars, cfg, {"lag": 50})
    direct = engine.backtest(sp500_bars, Momentum().signals(sp500_bars, lag=50), cfg)
    assert res.stats == direct.stats


def test_run_many_table_has_parameters_then_metrics(sp500_bars):
    table = strategies.run_many(Momentum, sp500_bars, [{"lag": k} for k in (5, 10, 20)])
    assert list(table.columns[:1]) == ["lag"]
    assert list(table.columns[1:]) == list(engine.METRICS)
    assert table["lag"].tolist() == [5, 10, 20]
    one = strategies.run(Momentum, sp500_bars, None, {"lag": 10}).stats
    assert table.iloc[1][list(engine.METRICS)].to_dict() == pytest.approx(one, nan_ok=True)


def test_a_strategy_that_decides_nothing_says_so(sp500_bars):
    with pytest.raises(TypeError, match="neither signals"):
        strategies.run(NoDecision, sp500_bars)


def test_signal_matrix_promotes_to_float_with_hold_as_nan(sp500_bars):
    class Mixed(Strategy):
        """int8 for one parameter value, float for the other."""

        k = Int(0, 0, 1)

        def signals(self, bars, k):
            if k:
                return np.full(len(bars), 0.5)
            s = np.full(len(bars), engine.HOLD, np.int8)
            s[10] = 1
            return s

    m = strategies.signal_matrix(Mixed, sp500_bars, [{"k": 0}, {"k": 1}])
    assert m.dtype == np.float64
    assert np.isnan(m[0, 0]) and m[0, 10] == 1.0 and m[1, 0] == 0.5


# -- signals_many: many parameter sets at once -----------------------------------


@pytest.mark.parametrize("strategy", [strategies.SmaCross, strategies.EmaCross], ids=lambda s: s.name)
def test_signals_many_gives_the_rows_signals_gives(sp500_bars, strategy):
    sets = [
        strategy.check({"fast": f, "slow": s, "short": (f + s) % 3 == 0})
        for f in (2, 5, 9, 20)
        for s in (5, 21, 50, 200)
        if f < s
    ]
    many = strategy().signals_many(sp500_bars, sets)
    one_by_one = np.stack([strategies.signal(strategy, sp500_bars, p) for p in sets])
    assert many.dtype == np.int8
    np.testing.assert_array_equal(many, one_by_one)


class SlowCross(strategies.SmaCross):
    """SmaCross without signals_many: run_many builds its rows one by one."""

    signals_many = None


def test_run_many_is_the_same_with_and_without_signals_many(sp500_bars):
    sets = [{"fast": f, "slow": s, "short": s % 2 == 0} for f in (3, 10) for s in (20, 40, 90)]
    cfg = engine.Config(fee_rate=0.001, allow_short=True)
    fast = strategies.run_many(strategies.SmaCross, sp500_bars, sets, cfg, threads=2)
    slow = strategies.run_many(SlowCross, sp500_bars, sets, cfg, threads=1)
    pd.testing.assert_frame_equal(fast, slow)
    one = strategies.run(strategies.SmaCross, sp500_bars, cfg, sets[4]).stats
    assert fast.iloc[4][list(engine.METRICS)].to_dict() == pytest.approx(one, nan_ok=True)


@pytest.mark.parametrize("strategy", [strategies.SmaCross, SlowCross], ids=["signals_many", "one by one"])
def test_run_many_of_no_parameter_sets_is_an_empty_table(sp500_bars, strategy):
    table = strategies.run_many(strategy, sp500_bars, [])
    assert len(table) == 0 and list(table.columns[-len(engine.METRICS) :]) == list(engine.METRICS)
    assert strategies.signal_matrix(strategy, sp500_bars, []).shape == (0, len(sp500_bars))


class Rows(Momentum):
    """signals_many that returns what a test asks of it."""

    answer = None

    def signals_many(self, bars, param_sets):
        return type(self).answer(bars, param_sets)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (lambda bars, sets: np.zeros((len(sets) - 1, len(bars)), np.int8), "returned 2 rows for 3 parameter sets"),
        (lambda bars, sets: np.zeros(len(bars), np.int8), "returned 1 rows for 3 parameter sets"),
        (lambda bars, sets: np.zeros((len(sets), len(bars) - 1), np.int8), "values per run but the bars have"),
        (lambda bars, sets: np.full((len(sets), len(bars)), 3, np.int8), r"signals\[0, 0\] is 3"),
        (lambda bars, sets: np.full((len(sets), len(bars)), np.inf), r"signals\[0, 0\] is inf"),
    ],
    ids=["too few rows", "one row", "too short", "out of range", "infinite"],
)
def test_bad_signals_many_is_named(sp500_bars, answer, match):
    Rows.answer = staticmethod(answer)
    with pytest.raises(engine.InvalidSignalError, match=match):
        strategies.signal_matrix(Rows, sp500_bars, [{"lag": k} for k in (5, 10, 20)])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.float64])
def test_run_many_names_a_bad_value_from_signals_many(sp500_bars, threads, dtype):
    """The core checks the rows (no pass of its own in Python); the error still names
    the parameter set and the bar."""

    def answer(bars, sets):
        m = np.zeros((len(sets), len(bars)), dtype)
        if sets[0]["lag"] == 20:
            m[0, 7] = 9 if dtype != np.float64 else -np.inf
        return m

    Rows.answer = staticmethod(answer)
    with pytest.raises(engine.InvalidSignalError, match=r"Rows with \{'lag': 20\}: signal\[7\] is (9|-inf)"):
        strategies.run_many(Rows, sp500_bars, [{"lag": k} for k in (5, 10, 20, 30)], threads=threads)


def test_history_and_state_seen_by_on_bar(sp500_bars):
    seen = []

    class Probe(Strategy):
        """Records what on_bar sees on a few bars."""

        def on_bar(self, bar, ctx):
            if bar.t == 0:
                ctx.buy(0.5)
            if bar.t in (0, 1, 30):
                h = ctx.history(5)
                seen.append((bar.t, len(h.close), h.close[-1], bar.close, ctx.position, ctx.equity))

    res = strategies.run(Probe, sp500_bars, engine.Config(initial_capital=1000.0))
    (t0, n0, last0, close0, pos0, eq0), (t1, n1, _, _, pos1, eq1), (_, n30, *_rest) = seen
    assert (n0, n1, n30) == (1, 2, 5)
    assert last0 == close0 == sp500_bars.close[0]
    assert pos0 == 0.0 and eq0 == 1000.0  # the buy fills at the next open
    units = 0.5 * 1000.0 / sp500_bars.open[1]
    assert pos1 == pytest.approx(units)
    assert eq1 == pytest.approx(1000.0 - units * sp500_bars.open[1] + units * sp500_bars.close[1])
    assert len(res.trades) == 0 and res.stats["exposure"] > 0.99


# -- written both ways: identical trades and statistics ----------------------------


class SmaCrossVec(Strategy):
    """Long while SMA(fast) > SMA(slow), flat otherwise."""

    fast = Int(10, 2, 100)
    slow = Int(30, 5, 300)
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow):
        f = strategies.indicators.sma(bars.close, fast)
        s = strategies.indicators.sma(bars.close, slow)
        return np.where(f > s, 1, 0).astype(np.int8)


class SmaCrossBar(Strategy):
    """SmaCrossVec, decided bar by bar."""

    fast = Int(10, 2, 100)
    slow = Int(30, 5, 300)

    def prepare(self, bars):
        self.f = strategies.indicators.sma(bars.close, self.fast)
        self.s = strategies.indicators.sma(bars.close, self.slow)
        self.last = 0

    def on_bar(self, bar, ctx):
        want = 1 if self.f[bar.t] > self.s[bar.t] else 0
        if want != self.last:
            self.enter(bar, ctx) if want else ctx.close()
            self.last = want

    def enter(self, bar, ctx):
        ctx.buy()


class RsiReversionVec(Strategy):
    """Long/short mean reversion: enter long below `low`, short above `high`, exit at 50."""

    period = Int(14, 2, 50)
    low = Int(30, 5, 45)
    high = Int(70, 55, 95)

    def signals(self, bars, period, low, high):
        r = strategies.indicators.rsi(bars.close, period)
        sig = np.full(len(r), engine.HOLD, np.int8)
        sig[r < low] = 1
        sig[r > high] = -1
        crossed_mid = r == 50
        crossed_mid[1:] |= (r[1:] - 50) * (r[:-1] - 50) < 0
        sig[crossed_mid & (r >= low) & (r <= high)] = 0
        return sig


class RsiReversionBar(Strategy):
    """RsiReversionVec, decided bar by bar (with target orders)."""

    period = Int(14, 2, 50)
    low = Int(30, 5, 45)
    high = Int(70, 55, 95)

    def prepare(self, bars):
        self.r = strategies.indicators.rsi(bars.close, self.period)
        self.last = 0

    def on_bar(self, bar, ctx):
        r, t = self.r, bar.t
        want = None
        if r[t] < self.low:
            want = 1
        elif r[t] > self.high:
            want = -1
        elif r[t] == 50 or (t > 0 and (r[t] - 50) * (r[t - 1] - 50) < 0):
            want = 0
        if want is not None and want != self.last:
            ctx.target(want)
            self.last = want


class BreakoutVec(Strategy):
    """Donchian breakout, long only, as a float target of `size`."""

    window = Int(20, 2, 200)

    def signals(self, bars, window):
        hi = pd.Series(bars.high).rolling(window).max().shift(1).to_numpy()
        lo = pd.Series(bars.low).rolling(window).min().shift(1).to_numpy()
        sig = np.full(len(bars), np.nan)
        sig[bars.close > hi] = 0.8
        sig[bars.close < lo] = 0.0
        return sig


class BreakoutBar(Strategy):
    """BreakoutVec, decided bar by bar."""

    window = Int(20, 2, 200)

    def prepare(self, bars):
        self.hi = pd.Series(bars.high).rolling(self.window).max().shift(1).to_numpy()
        self.lo = pd.Series(bars.low).rolling(self.window).min().shift(1).to_numpy()
        self.last = 0.0

    def on_bar(self, bar, ctx):
        want = 0.8 if bar.close > self.hi[bar.t] else 0.0 if bar.close < self.lo[bar.t] else None
        if want is not None and want != self.last:
            ctx.buy(want) if want else ctx.close()
            self.last = want


CONFIGS = [
    engine.Config(fee_rate=0.001),
    engine.Config(fee_rate=0.0005, fixed_fee=1.0, slippage_bps=5, fill="close", allow_short=True),
    engine.Config(
        fee_per_unit=0.01,
        allow_short=True,
        stop_loss=0.03,
        take_profit=0.08,
        trailing_stop=0.05,
        close_at_end=True,
        integer_units=True,
    ),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["fees", "close-fill-costs", "risk-exits"])
@pytest.mark.parametrize(
    "vec, bar, params",
    [
        (SmaCrossVec, SmaCrossBar, {"fast": 10, "slow": 40}),
        (RsiReversionVec, RsiReversionBar, {"period": 10, "low": 35, "high": 65}),
        (BreakoutVec, BreakoutBar, {"window": 30}),
    ],
    ids=["sma-cross", "rsi-reversion", "breakout"],
)
def test_both_ways_give_identical_trades_and_stats(sp500_bars, cfg, vec, bar, params):
    a = strategies.run(vec, sp500_bars, cfg, params)
    b = strategies.run(bar, sp500_bars, cfg, params)
    assert len(a.trades) > 10
    pd.testing.assert_frame_equal(a.trades, b.trades)
    assert np.array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    assert a.stats.keys() == b.stats.keys()
    for k in a.stats:
        assert a.stats[k] == b.stats[k] or (np.isnan(a.stats[k]) and np.isnan(b.stats[k])), k


# -- exits placed bar by bar carry their reason --------------------------------


class SmaCrossProtectedBar(SmaCrossBar):
    """SmaCrossVec bar by bar, with a protective stop and a take-profit placed at each entry.

    Under ``fill="close"`` the entry fills at this bar's close (plus slippage), so
    the levels below are exactly ``Config(stop_loss=, take_profit=)``'s, which act
    from the next bar on, as orders placed now do.
    """

    sl = strategies.Float(0.03, 0.001, 0.5)
    tp = strategies.Float(0.06, 0.001, 1.0)
    slip = strategies.Float(0.0, 0.0, 0.01)

    def enter(self, bar, ctx):
        ctx.buy()
        entry = bar.close * (1.0 + self.slip)
        ctx.stop(entry * (1.0 - self.sl))
        ctx.take_profit(entry * (1.0 + self.tp))


def test_stops_placed_bar_by_bar_exit_as_config_stops_do(sp500_bars):
    costs = {"fee_rate": 0.001, "slippage_bps": 5.0, "fill": "close"}
    vec = strategies.run(
        SmaCrossVec, sp500_bars, engine.Config(**costs, stop_loss=0.03, take_profit=0.06), {"fast": 10, "slow": 40}
    )
    bar = strategies.run(
        SmaCrossProtectedBar,
        sp500_bars,
        engine.Config(**costs),
        {"fast": 10, "slow": 40, "sl": 0.03, "tp": 0.06, "slip": 5e-4},
    )
    reasons = set(vec.trades["exit_reason"])
    assert {"signal", "stop_loss", "take_profit"} <= reasons, reasons
    pd.testing.assert_frame_equal(vec.trades, bar.trades)  # exit_reason included
    assert np.array_equal(vec.equity.to_numpy(), bar.equity.to_numpy())


def _bars(rows):
    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*rows))
    ts = pd.date_range("2024-01-01", periods=len(rows), freq="D").asi8
    return engine.Bars(ts, o, h, lo, c, np.ones(len(rows)))


@pytest.mark.parametrize(
    "orders, bar2, reason, price",
    [
        (lambda ctx: ctx.stop(95.0), (99, 100, 94, 96), "stop_loss", 95.0),
        (lambda ctx: ctx.take_profit(105.0), (101, 106, 100, 104), "take_profit", 105.0),
        (lambda ctx: ctx.stop(95.0, -1.0), (99, 100, 94, 96), "stop_loss", 95.0),  # a stop entry short flips the long
        (lambda ctx: ctx.limit(105.0, -1.0), (101, 106, 100, 104), "take_profit", 105.0),
        (lambda ctx: ctx.close(), (101, 106, 100, 104), "signal", 101.0),
    ],
    ids=["stop", "take-profit", "stop-entry-flip", "limit-entry-flip", "market"],
)
def test_each_order_kind_labels_the_trade_it_closes(orders, bar2, reason, price):
    bars = _bars([(100, 100, 100, 100), (100, 101, 99, 100), bar2, (100, 100, 100, 100)])

    class Once(Strategy):
        """Buy on bar 0; place the exit under test on bar 1."""

        def on_bar(self, bar, ctx):
            if bar.t == 0:
                ctx.buy()
            elif bar.t == 1:
                orders(ctx)

    res = strategies.run(Once, bars, engine.Config(allow_short=True))
    first = res.trades.iloc[0]
    assert (first["exit_bar"], first["exit_reason"], first["exit_price"]) == (2, reason, price)


# -- a short parameter needs shorts allowed ---------------------------------------


def test_a_short_param_without_shorts_allowed_is_refused(sp500_bars):
    says = r"SmaCross with short=True sells short, but the config does not allow shorts.*allow_short=True"
    with pytest.raises(ParameterError, match=says):
        strategies.run(strategies.SmaCross, sp500_bars, engine.Config(), {"short": True})
    with pytest.raises(ParameterError, match=says):
        strategies.run(strategies.SmaCross, sp500_bars, None, {"short": True})
    with pytest.raises(ParameterError, match=says):
        strategies.run_many(strategies.SmaCross, sp500_bars, [{"short": False}, {"short": True}])
    allowed = strategies.run(strategies.SmaCross, sp500_bars, engine.Config(allow_short=True), {"short": True})
    assert (allowed.trades["direction"] == "short").any()
    long_only = strategies.run(strategies.SmaCross, sp500_bars, engine.Config(), {"short": False})
    assert (long_only.trades["direction"] == "long").all()


# -- history before the first traded bar -------------------------------------------------


@pytest.mark.parametrize("start", [1, 700, 3000])
def test_start_gives_both_kinds_the_same_history(sp500_bars, start):
    params = {"fast": 20, "slow": 150}
    cfg = engine.Config(fee_rate=0.001)
    vec = strategies.run(SmaCrossVec, sp500_bars, cfg, params, start=start)
    bar = strategies.run(SmaCrossBar, sp500_bars, cfg, params, start=start)
    signal = strategies.signal(SmaCrossVec, sp500_bars, params)[start:]
    direct = engine.backtest(sp500_bars[start:], signal, cfg)  # the signal computed on all bars, cut
    for res in (vec, bar):
        pd.testing.assert_frame_equal(res.trades, direct.trades)
        assert np.array_equal(res.equity.to_numpy(), direct.equity.to_numpy())
    assert len(direct.trades) > 3


def test_run_windows_refuses_windows_that_do_not_follow_one_another(sp500_bars):
    with pytest.raises(ValueError, match="follow one another"):
        strategies.run_windows(SmaCrossVec, sp500_bars, [({}, 100, 200), ({}, 250, 300)])
    with pytest.raises(ValueError, match="start is 99999"):
        strategies.run(SmaCrossVec, sp500_bars, None, {}, start=99_999)


def test_a_parameter_named_short_that_is_not_a_switch_needs_no_shorts(sp500_bars):
    class TwoAverages(Strategy):
        """Long while SMA(short) > SMA(long): here `short` is a window length."""

        short = Int(10, 2, 50)
        long = Int(50, 20, 200)

        def signals(self, bars, short, long):
            return SmaCrossVec().signals(bars, fast=short, slow=long)

    res = strategies.run(TwoAverages, sp500_bars, engine.Config(), {"short": 20})
    assert len(res.trades) > 10

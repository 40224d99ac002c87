"""cluster.walk_forward: windows, choices made in sample only, the stitched curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster
import engine
import strategies
from cluster.walk_forward import windows
from strategies import Int, ParameterError, Strategy
from tests.cluster.conftest import COST, SmaX

SPACE = {"fast": [5, 10, 20], "slow": [40, 80]}
DAY = 86_400 * 10**9


def test_rolling_windows_step_by_the_test_length():
    ts = np.arange(1000, dtype=np.int64) * DAY
    w = windows(ts, 300, 100)
    assert [(x.train_start, x.train_end, x.test_start, x.test_end) for x in w[:2]] == [
        (0, 300, 300, 400),
        (100, 400, 400, 500),
    ]
    assert w[-1].test_end == 1000 and len(w) == 7


def test_anchored_windows_embargo_and_step():
    ts = np.arange(1000, dtype=np.int64) * DAY
    w = windows(ts, 300, 100, step=200, anchored=True, embargo=5)
    assert [(x.train_start, x.train_end, x.test_start, x.test_end) for x in w] == [
        (0, 300, 305, 405),
        (0, 500, 505, 605),
        (0, 700, 705, 805),
        (0, 900, 905, 1000),
    ]


def test_durations_become_bar_counts():
    ts = np.arange(1000, dtype=np.int64) * DAY
    w = windows(ts, "200D", "50D")
    assert (w[0].train_end, w[0].test_end) == (200, 250)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"train": 0}, "train must be >= 1"),
        ({"embargo": -1}, "embargo"),
        ({"train": 2000}, "no window fits"),
        ({"test": "soon"}, "a duration like"),
    ],
)
def test_bad_windows_are_explained(bad, message):
    ts = np.arange(1000, dtype=np.int64) * DAY
    args = {"train": 300, "test": 100, **bad}
    with pytest.raises(ValueError, match=message):
        windows(ts, **args)


def test_each_window_picks_its_best_in_sample_and_trades_it_out_of_sample(sp500_bars):
    bars = sp500_bars[-2500:]
    res = cluster.walk_forward(SmaX, bars, SPACE, train=750, test=250, config=COST, address="local-threads", workers=2)
    assert len(res.windows) == 7
    cfg = COST.replace(periods_per_year=bars.periods_per_year())
    for _, w in res.windows.iterrows():
        train = res.train_table[res.train_table["window"] == w["window"]]
        assert w["is_sharpe"] == train["sharpe"].max()  # chosen on the train part only
        lo = int(np.searchsorted(bars.index, w["test_start"]))
        hi = int(np.searchsorted(bars.index, w["test_end"])) + 1
        signal = SmaX().signals(bars[:hi], fast=int(w["fast"]), slow=int(w["slow"]))[lo:hi]
        direct = engine.backtest(bars[lo:hi], signal, cfg)
        assert w["oos_sharpe"] == pytest.approx(direct.stats["sharpe"], rel=1e-12, nan_ok=True)
    # The stitched curve compounds every test window and covers exactly their bars.
    assert len(res.equity) == sum(1 for _ in range(750, 2500))
    first = res.windows.iloc[0]
    assert res.equity.index[0] == first["test_start"]
    growth = np.prod(1 + res.windows["oos_total_return"].to_numpy())
    assert res.stats["final_equity"] == pytest.approx(COST.initial_capital * growth, rel=1e-9)
    assert res.stats["total_trades"] == res.windows["oos_total_trades"].sum()
    assert np.isfinite(res.efficiency)


def test_walk_forward_resumes_from_its_output(sp500_bars, tmp_path):
    bars = sp500_bars[-1500:]
    a = cluster.walk_forward(SmaX, bars, SPACE, 500, 250, config=COST, out=tmp_path, address="local-threads")
    b = cluster.walk_forward(SmaX, bars, SPACE, 500, 250, config=COST, out=tmp_path, address="local-threads")
    assert b.run.done_items == 0  # everything was already stored
    pd.testing.assert_frame_equal(a.windows, b.windows)
    pd.testing.assert_series_equal(a.equity, b.equity)


def test_a_walk_forward_cancelled_at_once_returns_what_it_has(sp500_bars):
    import threading

    cancel = threading.Event()
    cancel.set()
    res = cluster.walk_forward(
        SmaX, sp500_bars[-1500:], SPACE, 500, 250, config=COST, cancel=cancel, address="local-threads"
    )
    assert res.run.cancelled and res.train_table.empty and len(res.equity) == 0


# -- warm-up, carrying positions, stitched amounts (issue 13, item 6) ---------------------


class SmaXBar(Strategy):
    """SmaX decided bar by bar, reading its position from the account (so that a window
    that meets a carried position keeps it, as a signal that does not change does)."""

    fast = Int(10, 2, 100)
    slow = Int(30, 5, 400)
    constraints = ("fast < slow",)

    def prepare(self, bars):
        self.f = strategies.indicators.sma(bars.close, self.fast)
        self.s = strategies.indicators.sma(bars.close, self.slow)

    def on_bar(self, bar, ctx):
        want = self.f[bar.t] > self.s[bar.t]
        if want != (ctx.position > 0):
            ctx.buy() if want else ctx.close()


@pytest.fixture(scope="module")
def wf_bars(sp500_bars):
    return sp500_bars[-1800:]


@pytest.mark.parametrize("carry", [False, True], ids=["flat-windows", "carry"])
def test_both_ways_of_writing_a_strategy_agree_out_of_sample(wf_bars, carry):
    space = {"fast": [10, 20], "slow": [80, 160]}  # long SMAs: no warm-up would cost most of a window
    kw = {"train": 500, "test": 260, "config": COST, "address": "local-threads", "carry": carry}
    vec = cluster.walk_forward(SmaX, wf_bars, space, **kw)
    bar = cluster.walk_forward(SmaXBar, wf_bars, space, **kw)
    pd.testing.assert_frame_equal(vec.train_table.drop(columns="item_id"), bar.train_table.drop(columns="item_id"))
    pd.testing.assert_frame_equal(vec.windows, bar.windows)
    pd.testing.assert_series_equal(vec.equity, bar.equity)
    for k in vec.stats:
        assert vec.stats[k] == pytest.approx(bar.stats[k], rel=1e-12, nan_ok=True), k
    assert vec.windows["oos_total_trades"].sum() >= 4


def _chosen_signal(res, bars):
    """The stitched test signal, built here from each window's chosen parameters."""
    parts = []
    for _, w in res.windows.iterrows():
        lo = int(np.searchsorted(bars.index, w["test_start"]))
        hi = int(np.searchsorted(bars.index, w["test_end"])) + 1
        parts.append((lo, hi, SmaX().signals(bars[:hi], fast=int(w["fast"]), slow=int(w["slow"]))[lo:hi]))
    return parts


def test_carry_keeps_a_position_across_windows_as_one_account_would(wf_bars):
    space = {"fast": [5, 10, 20], "slow": [40, 80]}
    flat = cluster.walk_forward(SmaX, wf_bars, space, 500, 260, config=COST, address="local-threads")
    res = cluster.walk_forward(SmaX, wf_bars, space, 500, 260, config=COST, address="local-threads", carry=True)
    assert res.carry and not flat.carry
    parts = _chosen_signal(res, wf_bars)
    first, last = parts[0][0], parts[-1][1]
    signal = np.concatenate([p[2] for p in parts])
    cfg = COST.replace(periods_per_year=wf_bars.periods_per_year())
    one = engine.backtest(wf_bars[first:last], signal, cfg)  # one account over every test bar
    pd.testing.assert_series_equal(res.equity, one.equity, check_names=False)
    for k in one.stats:
        assert res.stats[k] == pytest.approx(one.stats[k], rel=1e-12, nan_ok=True), k
    # A window that meets a position it also wants keeps it: one trade spans the boundary,
    # where starting flat re-enters a bar later.
    held_over = [lo - first for lo, _, s in parts[1:] if s[0] == 1 and signal[lo - first - 1] == 1]
    assert held_over, "the test needs a boundary crossed while long"
    for b in held_over:
        assert ((one.trades["entry_bar"] < b) & (one.trades["exit_bar"] >= b)).any(), b
    assert not np.allclose(res.equity.to_numpy(), flat.equity.to_numpy())
    # per-window oos_* metrics are the windows' own (flat-start) runs either way
    pd.testing.assert_frame_equal(res.windows, flat.windows)


def test_stitched_fees_and_expectancy_are_those_of_the_stitched_curve(wf_bars):
    space = {"fast": [5, 10, 20], "slow": [40, 80]}
    cfg = engine.Config(fee_rate=0.002, slippage_bps=3.0, fee_per_unit=0.01)
    res = cluster.walk_forward(SmaX, wf_bars, space, 500, 260, config=cfg, address="local-threads")
    cfg = cfg.replace(periods_per_year=wf_bars.periods_per_year())
    # Each window run again here on the capital the stitched curve had at its start.
    capital, fees, pnl, n = cfg.initial_capital, 0.0, 0.0, 0
    for lo, hi, signal in _chosen_signal(res, wf_bars):
        run = engine.backtest(wf_bars[lo:hi], signal, cfg.replace(initial_capital=capital))
        fees += run.stats["total_fees"]
        pnl += run.trades["pnl"].sum()
        n += len(run.trades)
        capital = run.stats["final_equity"]
    assert res.stats["final_equity"] == pytest.approx(capital, rel=1e-9)
    assert res.stats["total_fees"] == pytest.approx(fees, rel=1e-9)
    assert res.stats["expectancy"] == pytest.approx(pnl / n, rel=1e-9)
    assert res.stats["total_fees"] != pytest.approx(res.windows["oos_total_fees"].sum(), rel=1e-3)


def test_stitched_amounts_that_do_not_scale_with_capital_are_left_out(wf_bars):
    cfg = engine.Config(fee_rate=0.001, fixed_fee=1.0)
    res = cluster.walk_forward(
        SmaX, wf_bars, {"fast": [10], "slow": [40]}, 500, 260, config=cfg, address="local-threads"
    )
    assert all(np.isnan(res.stats[m]) for m in ("total_fees", "expectancy", "profit_factor"))
    assert np.isfinite(res.stats["sharpe"])
    carried = cluster.walk_forward(
        SmaX, wf_bars, {"fast": [10], "slow": [40]}, 500, 260, config=cfg, address="local-threads", carry=True
    )
    assert carried.stats["total_fees"] > 0  # one account: its own fees


def test_carry_needs_test_windows_that_follow_one_another(wf_bars):
    with pytest.raises(ValueError, match="carry=True needs test windows that follow one another"):
        cluster.walk_forward(SmaX, wf_bars, SPACE, 500, 100, step=200, config=COST, address="local-threads", carry=True)


def test_a_short_space_without_shorts_allowed_is_refused(wf_bars):
    says = "SmaCross with short=True sells short, but the config does not allow shorts"
    with pytest.raises(ParameterError, match=says):
        cluster.walk_forward(
            strategies.SmaCross, wf_bars, {"short": [False, True]}, 500, 260, config=COST, address="local-threads"
        )
    with pytest.raises(ParameterError, match=says):
        cluster.sweep(strategies.SmaCross, wf_bars, {"fast": [5, 10], "short": [True]}, COST, address="local-threads")
    with pytest.raises(ParameterError, match=says):
        cluster.monte_carlo(strategies.SmaCross, {"short": True}, wf_bars, n=5, config=COST, address="local-threads")
    ok = cluster.sweep(
        strategies.SmaCross,
        wf_bars,
        {"fast": [5, 10], "short": [True]},
        COST.replace(allow_short=True),
        address="local-threads",
    )
    assert len(ok.table) == 2

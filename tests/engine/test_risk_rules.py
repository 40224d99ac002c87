"""Risk rules of one series, by hand: ``max_weight``, the drawdown halt, the daily
loss limit and the cool-down after a stop (engine.Config; csrc/rules.h).

Every number below is worked out in the comments from the bars and the rule; the
core must give exactly that, through ``engine.backtest``, ``engine.run_batch``
and the bar-by-bar ``engine.Simulation``. Then, on random bars and configs with
the rules on: signal loop == bar-by-bar stepping, to the bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from tests.engine.test_reference_vs_core import configs, float_signals, int_signals, random_bars

H = engine.HOLD
NAN = math.nan


def bars_of(
    o: list[float],
    h: list[float] | None = None,
    lo: list[float] | None = None,
    c: list[float] | None = None,
    ts: Any = None,
) -> engine.Bars:
    c = o if c is None else c
    h = [max(a, b) for a, b in zip(o, c)] if h is None else h
    lo = [min(a, b) for a, b in zip(o, c)] if lo is None else lo
    if ts is None:
        ts = pd.date_range("2024-01-01", periods=len(o), freq="D").values
    return engine.Bars.from_numpy(ts, o, h, lo, c)


def stepped(bars: engine.Bars, signal: np.ndarray, cfg: engine.Config) -> engine.Result:
    """The signal placed bar by bar: a target order whenever the value changes."""
    sim = engine.Simulation(bars, cfg)
    last = 0.0
    for t in range(len(bars)):
        sim.open_bar(t)
        v = float(signal[t]) if signal.dtype == np.float64 else (NAN if signal[t] == H else float(signal[t]))
        if not math.isnan(v) and v != last:
            sim.target(v)
            last = v
        sim.close_bar(t)
    return sim.finish()


def events_of(res: engine.Result) -> list[tuple[int, str, float]]:
    return [(int(e.bar), e.rule, float(e.value)) for e in res.risk_events.itertuples(index=False)]


def all_three(bars: engine.Bars, signal: np.ndarray, cfg: engine.Config) -> engine.Result:
    """backtest, run_batch and stepping agree to the bit; returns the backtest."""
    res = engine.backtest(bars, signal, cfg)
    row = engine.run_batch(bars, signal[np.newaxis, :], cfg, threads=1).iloc[0].to_dict()
    step = stepped(bars, signal, cfg)
    for k, v in res.stats.items():
        assert row[k] == v or (math.isnan(v) and math.isnan(row[k])), k
        assert step.stats[k] == v or (math.isnan(v) and math.isnan(step.stats[k])), k
    pd.testing.assert_frame_equal(res.trades, step.trades)
    pd.testing.assert_frame_equal(res.risk_events, step.risk_events)
    assert np.array_equal(res.equity.to_numpy(), step.equity.to_numpy())
    return res


# -- max_weight ------------------------------------------------------------------


def test_max_weight_caps_the_exposure_at_the_fill_and_says_what_was_asked() -> None:
    # 0.8 asked at bar 0 fills at open[1] = 100 capped to 0.5: 0.5 x 10,000 / 100 = 50 units;
    # at close[1] = 110 equity is 5,000 + 50 x 110 = 10,500.
    bars = bars_of([100, 100, 110], c=[100, 110, 110])
    cfg = engine.Config(max_weight=0.5, periods_per_year=252)
    res = all_three(bars, np.array([0.8, NAN, NAN]), cfg)
    assert events_of(res) == [(1, "max_weight", 0.8)]
    assert res.equity.tolist() == [10_000, 10_500, 10_500]
    # an int 1 is an exposure of 1.0 asked; a short where shorts are off asks nothing
    res = all_three(bars, np.array([1, H, -1], np.int8), cfg)
    assert events_of(res) == [(1, "max_weight", 1.0)]
    assert res.equity.tolist() == [10_000, 10_500, 10_500]
    # under the cap nothing fires
    assert events_of(all_three(bars, np.array([0.4, NAN, NAN]), cfg)) == []


def test_max_weight_under_fill_close_fires_at_the_signal_bar() -> None:
    bars = bars_of([100, 100, 110], c=[100, 110, 110])
    cfg = engine.Config(max_weight=0.25, fill="close", allow_short=True, periods_per_year=252)
    res = all_three(bars, np.array([-0.6, NAN, NAN]), cfg)
    # -0.6 at close[0] = 100 -> short 0.25 x 10,000 / 100 = 25 units; close[1] 110 loses 250
    assert events_of(res) == [(0, "max_weight", -0.6)]
    assert res.equity.tolist() == [10_000, 9_750, 9_750]


# -- drawdown halt ----------------------------------------------------------------

DD_OPEN = [100, 100, 85, 90, 80, 80]


def test_drawdown_halt_closes_at_the_fill_and_drops_orders_for_halt_bars() -> None:
    # long 100 units at open[1] = 100. open[2] = 85 gaps: equity 8,500 < 10,000 x 0.9,
    # so the halt fires there (drawdown 0.15), closes at 85 (pnl -1,500, reason risk),
    # and drops the orders of bars 2 and 3 (halt_bars = 2): the 0 from bar 2 is dropped.
    # The 1 from bar 3 fills at open[4] = 80 with equity 8,500: 106.25 units.
    bars = bars_of(DD_OPEN)
    cfg = engine.Config(max_drawdown_halt=0.1, halt_bars=2, periods_per_year=252)
    res = all_three(bars, np.array([1, 1, 0, 1, H, H], np.int8), cfg)
    assert events_of(res) == [(2, "max_drawdown_halt", pytest.approx(0.15, abs=1e-15))]
    t = res.trades
    assert t[["entry_bar", "exit_bar", "exit_reason"]].values.tolist() == [[1, 2, "risk"]]
    assert t["pnl"].tolist() == [-1_500]
    assert res.equity.tolist() == [10_000, 10_000, 8_500, 8_500, 8_500, 8_500]
    assert res.stats["exposure"] == pytest.approx(3 / 6)  # bars 1, 4 and 5 close long


def test_a_signal_that_keeps_its_value_does_not_re_enter_after_a_halt() -> None:
    bars = bars_of(DD_OPEN)
    cfg = engine.Config(max_drawdown_halt=0.1, halt_bars=1, periods_per_year=252)
    res = all_three(bars, np.ones(6, np.int8), cfg)
    assert [e[:2] for e in events_of(res)] == [(2, "max_drawdown_halt")]
    assert res.equity.tolist() == [10_000, 10_000, 8_500, 8_500, 8_500, 8_500]
    assert res.stats["total_trades"] == 1


def test_drawdown_peak_restarts_from_the_equity_left() -> None:
    # After the halt at bar 2 the peak is 8,500. Back in at open[4] = 80 (106.25 units),
    # open[5] = 70 is 7,437.5 < 8,500 x 0.9 = 7,650: the halt fires again (0.125).
    bars = bars_of([100, 100, 85, 90, 80, 70, 70])
    cfg = engine.Config(max_drawdown_halt=0.1, halt_bars=2, periods_per_year=252)
    res = all_three(bars, np.array([1, 1, 0, 1, H, H, H], np.int8), cfg)
    got = events_of(res)
    assert [e[:2] for e in got] == [(2, "max_drawdown_halt"), (5, "max_drawdown_halt")]
    assert got[1][2] == pytest.approx(1 - 7_437.5 / 8_500, abs=1e-15)
    assert res.trades["exit_reason"].tolist() == ["risk", "risk"]


# -- daily loss limit ---------------------------------------------------------------


def test_daily_loss_limit_flattens_for_the_rest_of_the_day() -> None:
    # Hourly bars, bars 0-3 on Jan 1, 4-5 on Jan 2. Long 100 units at open[1] = 100;
    # open[2] = 94: equity 9,400 < 10,000 x 0.95 -> fire (loss 0.06), close at 94.
    # 0.5 asked at bar 2 would fill at open[3], still Jan 1: dropped. 0.7 asked at
    # bar 3 fills at open[4] = 96 on Jan 2 (start 9,400): 0.7 x 9,400 / 96 units.
    ts = pd.to_datetime(
        [
            "2024-01-01 10:00",
            "2024-01-01 11:00",
            "2024-01-01 12:00",
            "2024-01-01 13:00",
            "2024-01-02 10:00",
            "2024-01-02 11:00",
        ]
    ).values
    o = [100, 100, 94, 95, 96, 96]
    bars = bars_of(o, ts=ts)
    cfg = engine.Config(daily_loss_limit=0.05, periods_per_year=252)
    res = all_three(bars, np.array([1.0, NAN, 0.5, 0.7, NAN, NAN]), cfg)
    assert [e[:2] for e in events_of(res)] == [(2, "daily_loss_limit")]
    assert events_of(res)[0][2] == pytest.approx(0.06, abs=1e-15)
    assert res.trades[["entry_bar", "exit_bar", "exit_reason"]].values.tolist() == [[1, 2, "risk"]]
    assert res.equity.tolist() == [10_000, 10_000, 9_400, 9_400, 9_400, 9_400]
    assert res.stats["exposure"] == pytest.approx(3 / 6)  # bars 1, 4 and 5
    # without the limit the 0.5 fills at open[3] and nothing fires
    free = all_three(bars, np.array([1.0, NAN, 0.5, 0.7, NAN, NAN]), engine.Config(periods_per_year=252))
    assert free.risk_events.empty
    assert len(free.trades) == 1 and free.trades["exit_bar"].tolist() == [3]


def test_daily_loss_limit_counts_from_the_last_close_before_the_day() -> None:
    # Day 1 ends at close 110 (equity 11,000). Day 2 opens at 105: 10,500 is 4.5 % below
    # 11,000 -> no fire at 5 %; 104 at the next open is 5.45 % below -> fire.
    ts = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 10:00", "2024-01-02 11:00"]).values
    bars = bars_of([100, 100, 105, 104], c=[100, 110, 105, 104], ts=ts)
    cfg = engine.Config(daily_loss_limit=0.05, periods_per_year=252)
    res = all_three(bars, np.array([1, H, H, H], np.int8), cfg)
    got = events_of(res)
    assert [e[:2] for e in got] == [(3, "daily_loss_limit")]
    assert got[0][2] == pytest.approx(1 - 10_400 / 11_000, abs=1e-15)


# -- cool-down ------------------------------------------------------------------------


def test_a_stop_exit_starts_a_cool_down_that_blocks_new_entries() -> None:
    # Long 100 units at open[1] = 100; low[1] = 94 hits the 5 % stop at 95: the cool-down
    # runs through bar 1 + 2 = 3. The 1 from bar 2 would open at bar 3: blocked.
    # The 1 from bar 4 opens at open[5] = 96 with 9,500: closed at the end at 96.
    o = [100, 100, 96, 96, 96, 96, 96]
    h = [x + 1 for x in o]
    lo = [x - 1 for x in o]
    lo[1] = 94
    bars = bars_of(o, h=h, lo=lo, c=o)
    cfg = engine.Config(stop_loss=0.05, cooldown_bars=2, close_at_end=True, periods_per_year=252)
    res = all_three(bars, np.array([1, 0, 1, 0, 1, H, H], np.int8), cfg)
    assert events_of(res) == [(1, "cooldown", 2.0)]
    t = res.trades
    assert t[["entry_bar", "exit_bar", "exit_reason"]].values.tolist() == [[1, 1, "stop_loss"], [5, 6, "end"]]
    assert t["units"].tolist() == [100, pytest.approx(9_500 / 96)]
    # without the cool-down the 1 from bar 2 opens at bar 3
    free = all_three(bars, np.array([1, 0, 1, 0, 1, H, H], np.int8), cfg.replace(cooldown_bars=0))
    assert free.trades["entry_bar"].tolist() == [1, 3, 5]


def test_a_take_profit_exit_starts_no_cool_down() -> None:
    o = [100, 100, 100, 100, 100]
    h = [101, 110, 101, 101, 101]
    bars = bars_of(o, h=h, lo=[99] * 5, c=o)
    cfg = engine.Config(take_profit=0.05, cooldown_bars=3, close_at_end=True, periods_per_year=252)
    res = all_three(bars, np.array([1, 0, 1, H, H], np.int8), cfg)
    assert res.risk_events.empty
    assert res.trades[["entry_bar", "exit_reason"]].values.tolist() == [[1, "take_profit"], [3, "end"]]


# -- the door -------------------------------------------------------------------------


def test_risk_rules_are_checked_at_the_door() -> None:
    with pytest.raises(engine.InvalidConfigError, match="halt_bars"):
        engine.Config(max_drawdown_halt=0.1, halt_bars=0)
    with pytest.raises(engine.InvalidConfigError, match="max_weight"):
        engine.Config(max_weight=-1)
    with pytest.raises(engine.InvalidConfigError, match="did you mean 'cooldown_bars'"):
        engine.Config(cooldown_bar=3)


# -- signal loop == stepping, rules on ---------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data(), bars=random_bars(max_bars=150), cfg=configs())
def test_signal_loop_and_stepping_agree_with_risk_rules_on(data: Any, bars: engine.Bars, cfg: engine.Config) -> None:
    cfg = cfg.replace(
        max_weight=cfg.max_weight or 0.6,
        max_drawdown_halt=cfg.max_drawdown_halt or 0.02,
        cooldown_bars=cfg.cooldown_bars or 2,
    )
    n = len(bars)
    signal = data.draw(st.one_of(int_signals(n), float_signals(n, cfg.max_leverage)), label="signal")
    all_three(bars, signal, cfg)

"""Margin: an account whose equity reaches zero is liquidated and trades no more.

Hand-computed fixtures in the style of ``test_fill_rules.py`` (each runs on the C
core and on the reference simulator, both must give the hand answer), the same
rule through the stepping path (``on_bar``), the core against the reference on
random wipe-outs, and what ``Result`` says about it (``risk_events``, ``notes``).
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
import strategies
from strategies import Strategy
from tests.engine.test_fill_rules import H, Run, bars_of, flat, run  # noqa: F401 - the fixture
from tests.engine.test_reference_vs_core import assert_agree, configs, float_signals, int_signals

# A short of 100 units at open[1] = 100 (all of 10,000); the price then triples.
SHORT_SQUEEZE = [flat(100), flat(100), (150, 210, 150, 210), flat(300), flat(50)]


def test_a_short_squeezed_to_zero_equity_is_liquidated_at_that_close(run: Run) -> None:
    # cash after the short: 10,000 + 100 * 100 = 20,000; equity at 210: 20,000 - 21,000 = -1,000 <= 0
    res = run(SHORT_SQUEEZE, [-1, H, H, 1, 0], allow_short=True)
    t = res.trades
    assert len(t) == 1
    assert t["exit_reason"].tolist() == ["margin"]
    assert t["exit_bar"].tolist() == [2] and t["exit_price"].tolist() == [210.0]
    assert t["pnl"].tolist() == pytest.approx([-11_000.0])  # 100 * (100 - 210)
    # bars 3 and 4: the signals (buy at 300, flat at 50) are never acted on; cash stays -1,000
    assert res.equity.tolist() == pytest.approx([10_000, 10_000, -1_000, -1_000, -1_000])
    assert res.stats["total_trades"] == 1 and res.stats["final_equity"] == pytest.approx(-1_000)
    assert res.stats["exposure"] == pytest.approx(1 / 5)  # bar 1 only: the close of bar 2 finds it gone


def test_a_leveraged_long_is_liquidated_when_equity_crosses_zero(run: Run) -> None:
    # 2x long at open[1] = 100: 200 units, cash 10,000 - 20,000 = -10,000.
    # close 60: equity -10,000 + 12,000 = 2,000 > 0; close 50: -10,000 + 10,000 = 0 -> liquidated
    rows = [flat(100), flat(100), flat(60), flat(50), flat(80)]
    res = run(rows, [2.0, math.nan, math.nan, math.nan, math.nan], max_leverage=2.0)
    assert res.trades["exit_reason"].tolist() == ["margin"]
    assert res.trades["exit_bar"].tolist() == [3]
    assert res.equity.tolist() == pytest.approx([10_000, 10_000, 2_000, 0, 0])


def test_liquidation_pays_slippage_and_fees_like_any_fill(run: Run) -> None:
    # short 100 at 100 * (1 - 0.001) = 99.9, fee 0: cash 10,000 + 9,990 = 19,990 ... the sizing
    # leaves cash for fees: units = 10,000 / (99.9 * 1.0) = 100.1001...; liquidation at 210 buys
    # back at 210 * 1.001 = 210.21
    res = run(SHORT_SQUEEZE, [-1, H, H, H, H], allow_short=True, slippage_bps=10.0)
    t = res.trades.iloc[0]
    assert t["exit_reason"] == "margin" and t["exit_price"] == pytest.approx(210.21)
    units = 10_000 / 99.9
    assert t["units"] == pytest.approx(units)
    assert res.equity.iloc[-1] == pytest.approx(10_000 + units * 99.9 - units * 210.21)


def test_margin_comes_before_close_at_end_on_the_last_bar(run: Run) -> None:
    res = run(SHORT_SQUEEZE[:3], [-1, H, H], allow_short=True, close_at_end=True)
    assert res.trades["exit_reason"].tolist() == ["margin"]


def test_equity_above_zero_is_no_margin_call(run: Run) -> None:
    # the squeeze to 199: equity 20,000 - 19,900 = 100 > 0; the short lives on
    rows = [flat(100), flat(100), flat(199), flat(100), flat(100)]
    res = run(rows, [-1, H, H, 0, H], allow_short=True)
    assert res.trades["exit_reason"].tolist() == ["signal"]


def test_with_fill_close_an_order_pending_at_the_call_is_dropped(run: Run) -> None:
    res = run(SHORT_SQUEEZE, [-1, H, 0, H, H], allow_short=True, fill="close")
    # short at close[0] = 100; bar 1 100; bar 2: the flat signal fills at close 210 first (a
    # signal exit, before the mark), so there is nothing left to call in
    assert res.trades["exit_reason"].tolist() == ["signal"]
    res = run(SHORT_SQUEEZE, [-1, H, H, 1, H], allow_short=True, fill="close")
    assert res.trades["exit_reason"].tolist() == ["margin"] and len(res.trades) == 1


def test_the_hold_fast_path_finds_the_call_too() -> None:
    """Hundreds of bars of holding (the core's fast path) before the squeeze."""
    n = 600
    close = np.full(n, 100.0)
    close[400:] = np.linspace(150.0, 400.0, n - 400)
    sig = np.full(n, engine.HOLD, np.int8)
    sig[0] = -1
    bars = engine.Bars.from_numpy(pd.date_range("2024-01-01", periods=n, freq="D").values, close, close, close, close)
    res = engine.backtest(bars, sig, engine.Config(allow_short=True))
    first = int(np.argmax(10_000 + 100 * 100 - 100 * close <= 0))
    assert res.trades["exit_reason"].tolist() == ["margin"]
    assert res.trades["exit_bar"].tolist() == [first]
    assert (res.equity.to_numpy()[first:] == res.equity.iloc[first]).all()
    assert_agree(bars, sig, engine.Config(allow_short=True))


def test_risk_events_and_notes_name_the_liquidation() -> None:
    bars = bars_of(*SHORT_SQUEEZE)
    res = engine.backtest(
        bars, np.array([-1, H, H, 1, 0], np.int8), engine.Config(allow_short=True, periods_per_year=252)
    )
    events = res.risk_events
    assert list(events.columns) == ["bar", "time", "symbol", "rule", "value"]
    assert events.drop(columns="value").to_dict("records") == [
        {"bar": 2, "time": bars.index[2], "symbol": bars.symbol, "rule": "margin"}
    ]
    assert np.isnan(events["value"]).all()
    assert any("liquidated at bar 2" in note and "no trades after" in note for note in res.notes)
    quiet = engine.backtest(bars, np.zeros(5, np.int8), engine.Config(periods_per_year=252))
    assert quiet.risk_events.empty


# -- the stepping path -------------------------------------------------------------


class ShortAndPyramid(Strategy):
    """Short at once, then keep asking to add: orders after a margin call must not fill."""

    def on_bar(self, bar: Any, ctx: Any) -> None:
        if bar.t == 0:
            ctx.sell(1.0)
        elif bar.t >= 3:
            ctx.buy(1.0)


def test_on_bar_strategies_are_liquidated_and_stop_trading() -> None:
    bars = bars_of(*SHORT_SQUEEZE)
    res = strategies.run(ShortAndPyramid, bars, engine.Config(allow_short=True, periods_per_year=252))
    assert res.trades["exit_reason"].tolist() == ["margin"]
    assert res.equity.tolist() == pytest.approx([10_000, 10_000, -1_000, -1_000, -1_000])
    assert res.risk_events["rule"].tolist() == ["margin"]


# -- the core against the reference on wipe-outs ------------------------------------


@st.composite
def wipeout_bars(draw: st.DrawFn) -> engine.Bars:
    """A random walk with one spike or crash big enough to wipe out a leveraged account."""
    n = draw(st.integers(3, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    k = draw(st.integers(1, n - 1))
    close[k:] *= draw(st.sampled_from([0.2, 0.45, 2.2, 4.0]))
    open_ = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    ts = pd.date_range("2022-01-03", periods=n, freq="D")
    return engine.Bars.from_numpy(ts.values, open_, high, low, close)


def _leveraged(cfg: engine.Config) -> engine.Config:
    return cfg.replace(max_leverage=3.0, allow_short=True)


@settings(max_examples=150)
@given(data=st.data(), bars=wipeout_bars(), cfg=configs())
def test_core_matches_reference_through_wipeouts(data: Any, bars: engine.Bars, cfg: engine.Config) -> None:
    cfg = _leveraged(cfg)
    if data.draw(st.booleans(), label="floats"):
        signal = data.draw(float_signals(len(bars), cfg.max_leverage), label="signal")
    else:
        signal = data.draw(int_signals(len(bars)), label="signal")
    assert_agree(bars, signal, cfg)


def _wipeout_case(seed: int) -> tuple[engine.Bars, np.ndarray, engine.Config]:
    """A leveraged or short position held into a spike or a crash, with a few later changes."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 150))
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    k = int(rng.integers(1, n))
    close[k:] *= rng.choice([0.2, 0.4, 2.5, 4.0])
    open_ = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0, 0.01, n))
    high, low = np.maximum(open_, close) * 1.01, np.minimum(open_, close) * 0.99
    ts = pd.date_range("2022-01-03", periods=n, freq="D").values
    bars = engine.Bars.from_numpy(ts, open_, high, low, close)
    signal = np.full(n, np.nan)
    signal[0] = rng.choice([-3.0, -1.5, -1.0, 2.0, 3.0])
    for t in rng.integers(1, n, 3):
        signal[t] = rng.choice([-3.0, -1.0, 0.0, 1.0, 3.0])
    cfg = engine.Config(
        max_leverage=3.0,
        allow_short=True,
        fill=str(rng.choice(["next_open", "close"])),
        fee_rate=float(rng.choice([0.0, 0.001])),
        slippage_bps=float(rng.choice([0.0, 5.0])),
        stop_loss=None if rng.random() < 0.7 else 0.5,
        periods_per_year=252.0,
    )
    return bars, signal, cfg


def test_core_matches_reference_on_seeded_wipeouts_that_do_liquidate() -> None:
    called = 0
    for seed in range(80):
        bars, signal, cfg = _wipeout_case(seed)
        assert_agree(bars, signal, cfg)
        called += "margin" in set(engine.backtest(bars, signal, cfg).trades["exit_reason"])
    assert called >= 10, f"only {called} of 80 cases reached a margin call: the test lost its teeth"

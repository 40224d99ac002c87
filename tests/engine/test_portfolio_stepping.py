"""The bar-by-bar portfolio path (``PortfolioSimulation`` over anvil_pf_sim_*) gives
exactly the trades, events, equity and statistics of the vectorized path for the
same decisions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import engine
from engine.errors import CoreError
from tests.engine.test_portfolio_reference import cases


def stepped(panel: engine.Panel, w: np.ndarray, cfg: engine.Config, **kwargs) -> engine.PortfolioResult:
    def on_bar(t: int, sim: engine.PortfolioSimulation) -> None:
        row = w[t]
        sim.target_weights({panel.symbols[j]: row[j] for j in np.flatnonzero(~np.isnan(row))})

    return engine.backtest_portfolio_on_bar(panel, on_bar, cfg, keep_weights=True, **kwargs)


def same(a: engine.PortfolioResult, b: engine.PortfolioResult) -> None:
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    np.testing.assert_array_equal(a.cash.to_numpy(), b.cash.to_numpy())
    np.testing.assert_array_equal(a.weights.to_numpy(), b.weights.to_numpy())
    np.testing.assert_array_equal(a.trade_records, b.trade_records)
    assert a.events.equals(b.events)
    np.testing.assert_array_equal(a.contributions.to_numpy(), b.contributions.to_numpy())
    for k in engine.PORTFOLIO_METRICS:
        assert a.stats[k] == b.stats[k] or (np.isnan(a.stats[k]) and np.isnan(b.stats[k])), k


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_stepping_equals_the_vectorized_run(case) -> None:
    panel, w, cfg, fee_rate, slip, per_unit, fixed = case
    costs = dict(fee_rate=fee_rate, slippage_bps=slip, fee_per_unit=per_unit, fixed_fee=fixed)
    vec = engine.backtest_portfolio(panel, w, cfg, keep_weights=True, **costs)
    same(stepped(panel, w, cfg, **costs), vec)


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_a_liquidated_portfolio_steps_as_the_vectorized_run(fill: str) -> None:
    # the case of test_portfolio_reference's liquidation test that reaches zero equity
    panel = engine.synthetic.panel(3, 300, seed=0, volatility=2.5, late_listings=0.3, delistings=0.3, gaps=0.1)
    rng = np.random.default_rng(0)
    w = rng.uniform(-1.0, 0.6, panel.shape)
    w[rng.random(panel.shape) < 0.7] = np.nan
    cfg = engine.Config(fee_rate=0.001, max_leverage=3.0, allow_short=True, fill=fill, borrow_rate=0.05)
    vec = engine.backtest_portfolio(panel, w, cfg, keep_weights=True)
    assert "margin" in set(vec.events["rule"])
    same(stepped(panel, w, cfg), vec)


def test_more_trades_than_the_first_buffers_still_match() -> None:
    panel = engine.synthetic.panel(10, 600, seed=8)
    w = np.where(np.arange(600)[:, None] % 2 == 0, 0.05, 0.09) * np.ones((1, 10))
    cfg = engine.Config(fee_rate=0.001, fill="close")
    vec = engine.backtest_portfolio(panel, w, cfg, keep_weights=True)
    assert len(vec.trade_records) > 600 + 4 * 10 + 1024
    same(stepped(panel, w, cfg), vec)


def test_steps_out_of_order_and_bad_weights_are_refused() -> None:
    panel = engine.synthetic.panel(3, 5, seed=1)
    sim = engine.PortfolioSimulation(panel)
    sim.open_bar(0)
    with pytest.raises(CoreError):
        sim.open_bar(1)
    with pytest.raises(ValueError, match="S1 at bar 0.*finite"):
        sim.order_target_percent("S1", float("inf"))
    with pytest.raises(ValueError, match="did you mean 'S1'"):
        sim.order_target_percent("S1x", 0.5)
    sim.close_bar(0)
    with pytest.raises(CoreError):
        sim.finish()

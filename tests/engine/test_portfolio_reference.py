"""The C portfolio loop against the plain-Python reference (tests/engine/portfolio_reference.py)
on random panels: late listings, gaps, delistings, shorts, leverage, stops, fees, whole
units, per-symbol costs, borrow, caps and thresholds. Equal to 1e-9 relative."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import synthetic
from tests.engine.portfolio_reference import simulate

RTOL = 1e-9
REASONS = {
    0: "signal",
    1: "stop_loss",
    2: "take_profit",
    3: "trailing_stop",
    4: "end",
    5: "margin",
    10: "delisted",
    11: "risk",
}


def _close(a: float, b: float, what: str) -> None:
    if math.isnan(a) or math.isnan(b):
        assert math.isnan(a) and math.isnan(b), f"{what}: {a} vs {b}"
    elif math.isinf(a) or math.isinf(b):
        assert a == b, f"{what}: {a} vs {b}"
    else:
        assert a == pytest.approx(b, rel=RTOL, abs=1e-9 * 10_000), f"{what}: {a} vs {b}"


def _ref_config(
    cfg: engine.Config, panel: engine.Panel, fee_rate, slippage_bps, fee_per_unit=None, fixed_fee=None
) -> dict:
    return dict(
        initial_capital=cfg.initial_capital,
        fee_rate=cfg.fee_rate if fee_rate is None else fee_rate,
        fee_per_unit=cfg.fee_per_unit if fee_per_unit is None else fee_per_unit,
        fixed_fee=cfg.fixed_fee if fixed_fee is None else fixed_fee,
        slippage_bps=cfg.slippage_bps if slippage_bps is None else slippage_bps,
        stop_loss=cfg.stop_loss or 0.0,
        take_profit=cfg.take_profit or 0.0,
        trailing_stop=cfg.trailing_stop or 0.0,
        max_leverage=cfg.max_leverage,
        allow_short=cfg.allow_short,
        integer_units=cfg.integer_units,
        close_at_end=cfg.close_at_end,
        fill=cfg.fill,
        periods_per_year=cfg.periods_per_year or panel.periods_per_year(),
        borrow_rate=cfg.borrow_rate,
        rebalance_threshold=cfg.rebalance_threshold,
        max_weight=cfg.max_weight or 0.0,
        max_drawdown_halt=cfg.max_drawdown_halt or 0.0,
        daily_loss_limit=cfg.daily_loss_limit or 0.0,
        halt_bars=cfg.halt_bars,
        cooldown_bars=cfg.cooldown_bars,
    )


def check_against_reference(
    panel: engine.Panel,
    weights: np.ndarray,
    cfg: engine.Config,
    fee_rate=None,
    slippage_bps=None,
    fee_per_unit=None,
    fixed_fee=None,
) -> engine.PortfolioResult:
    res = engine.backtest_portfolio(
        panel,
        weights,
        cfg,
        fee_rate=fee_rate,
        slippage_bps=slippage_bps,
        fee_per_unit=fee_per_unit,
        fixed_fee=fixed_fee,
        keep_weights=True,
    )
    ref = simulate(
        panel.open,
        panel.high,
        panel.low,
        panel.close,
        panel.tradable,
        weights,
        _ref_config(cfg, panel, fee_rate, slippage_bps, fee_per_unit, fixed_fee),
        panel.ts,
    )
    np.testing.assert_allclose(res.equity.to_numpy(), ref["equity"], rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(res.cash.to_numpy(), ref["cash"], rtol=RTOL, atol=1e-6)
    tr = res.trade_records
    assert len(tr) == len(ref["trades"])
    for got, want in zip(tr, ref["trades"]):
        assert int(got["symbol"]) == want["symbol"]
        assert (int(got["entry_bar"]), int(got["exit_bar"])) == (want["entry_bar"], want["exit_bar"])
        assert int(got["direction"]) == want["direction"]
        assert REASONS[int(got["exit_reason"])] == want["exit_reason"]
        for k in ("units", "entry_price", "exit_price", "entry_fees", "exit_fees", "pnl"):
            _close(float(got[k]), want[k], f"trade {k}")
        _close(float(got["ret"]), want["return"], "trade return")
    ev = res.events
    assert list(ev["rule"]) == [e["rule"] for e in ref["events"]]
    assert list(ev["bar"]) == [e["bar"] for e in ref["events"]]
    for got, want in zip(ev["value"], ref["events"]):
        _close(float(got), want["value"], "event value")
    # A return ratio divides by the deviation of the bar returns; when they barely
    # vary (two bars, a flat book) that deviation is made of rounding, and equity
    # equal to 1e-15 moves the ratio by about 1e-14 / deviation, relative.
    eq = np.concatenate([[cfg.initial_capital], ref["equity"]])
    dev = float(np.std(np.diff(eq) / eq[:-1])) if len(eq) > 2 else 0.0
    ratio_rtol = max(RTOL, 1e-13 / dev) if dev > 0 else RTOL
    for name, want in ref["stats"].items():
        if name in ("sharpe", "sortino") and ratio_rtol > RTOL and math.isfinite(want):
            assert res.stats[name] == pytest.approx(want, rel=ratio_rtol), name
            continue
        _close(res.stats[name], want, name)
    np.testing.assert_allclose(res.contributions.to_numpy(), ref["contributions"], rtol=RTOL, atol=1e-6)
    _close(res.borrow_cost, ref["borrow"], "borrow")
    # The contributions add up to the net P&L.
    assert res.contributions.sum() == pytest.approx(res.stats["net_pnl"], rel=1e-9, abs=1e-6)
    return res


@st.composite
def cases(draw):
    m = draw(st.integers(1, 5))
    n = draw(st.integers(1, 40))
    panel = synthetic.panel(
        m,
        n,
        seed=draw(st.integers(0, 10_000)),
        volatility=draw(st.sampled_from([0.2, 0.8])),
        late_listings=draw(st.sampled_from([0.0, 0.5])),
        delistings=draw(st.sampled_from([0.0, 0.5])),
        gaps=draw(st.sampled_from([0.0, 0.2])),
        timeframe=draw(st.sampled_from(["1d", "1h"])),
    )
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    allow_short = draw(st.booleans())
    lev = draw(st.sampled_from([1.0, 1.5, 3.0]))
    w = rng.uniform(-0.6 if allow_short else -0.2, 1.2, (n, m))
    w[rng.random((n, m)) < draw(st.sampled_from([0.3, 0.8, 1.0]))] = np.nan
    w[rng.random((n, m)) < 0.1] = 0.0
    cfg = engine.Config(
        initial_capital=draw(st.sampled_from([1_000.0, 10_000.0, 1e6])),
        fee_rate=draw(st.sampled_from([0.0, 0.001, 0.01])),
        fee_per_unit=draw(st.sampled_from([0.0, 0.01])),
        fixed_fee=draw(st.sampled_from([0.0, 1.0])),
        slippage_bps=draw(st.sampled_from([0.0, 5.0])),
        stop_loss=draw(st.sampled_from([None, 0.02, 0.1])),
        take_profit=draw(st.sampled_from([None, 0.05])),
        trailing_stop=draw(st.sampled_from([None, 0.03])),
        max_leverage=lev,
        allow_short=allow_short,
        integer_units=draw(st.booleans()),
        close_at_end=draw(st.booleans()),
        fill=draw(st.sampled_from(["next_open", "close"])),
        borrow_rate=draw(st.sampled_from([0.0, 0.05])),
        rebalance_threshold=draw(st.sampled_from([0.0, 0.05])),
        max_weight=draw(st.sampled_from([None, 0.4])),
        max_drawdown_halt=draw(st.sampled_from([None, None, 0.05, 0.15])),
        halt_bars=draw(st.integers(1, 8)),
        daily_loss_limit=draw(st.sampled_from([None, None, 0.01, 0.03])),
        cooldown_bars=draw(st.sampled_from([0, 0, 3])),
    )
    fee_rate = rng.uniform(0, 0.01, m) if draw(st.booleans()) else None
    slip = rng.uniform(0, 20, m) if draw(st.booleans()) else None
    per_unit = rng.uniform(0, 0.05, m) if draw(st.booleans()) else None
    fixed = rng.uniform(0, 3.0, m) if draw(st.booleans()) else None
    return panel, w, cfg, fee_rate, slip, per_unit, fixed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_core_equals_reference_on_random_panels(case) -> None:
    panel, w, cfg, fee_rate, slip, per_unit, fixed = case
    check_against_reference(panel, w, cfg, fee_rate, slip, per_unit, fixed)


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_a_larger_panel_with_everything_on(fill: str) -> None:
    panel = synthetic.panel(12, 300, seed=3, late_listings=0.4, delistings=0.4, gaps=0.05)
    rng = np.random.default_rng(1)
    w = rng.uniform(-0.3, 0.5, panel.shape)
    w[rng.random(panel.shape) < 0.85] = np.nan
    cfg = engine.Config(
        fee_rate=0.001,
        fixed_fee=1.0,
        slippage_bps=3,
        stop_loss=0.05,
        trailing_stop=0.08,
        take_profit=0.2,
        max_leverage=2.0,
        allow_short=True,
        integer_units=True,
        close_at_end=True,
        fill=fill,
        borrow_rate=0.03,
        rebalance_threshold=0.01,
        max_weight=0.35,
        max_drawdown_halt=0.1,
        halt_bars=5,
        daily_loss_limit=0.02,
        cooldown_bars=4,
    )
    res = check_against_reference(panel, w, cfg)
    assert res.stats["total_trades"] > 50
    assert set(res.trades["exit_reason"]) >= {"signal", "delisted", "end", "risk", "stop_loss"}
    assert set(res.events["rule"]) >= {"cooldown", "max_weight", "max_drawdown_halt"}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_portfolios_that_lose_everything_are_liquidated_as_the_reference_says(seed: int, fill: str) -> None:
    # Wild prices, shorts and 3x leverage: equity reaches zero at a close, everything is
    # liquidated there (reason margin, one margin event) and later rows are ignored.
    panel = synthetic.panel(3, 300, seed=seed, volatility=2.5, late_listings=0.3, delistings=0.3, gaps=0.1)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1.0, 0.6, panel.shape)
    w[rng.random(panel.shape) < 0.7] = np.nan
    cfg = engine.Config(
        fee_rate=0.001,
        slippage_bps=5,
        max_leverage=3.0,
        allow_short=True,
        fill=fill,
        borrow_rate=0.05,
        close_at_end=True,
    )
    res = check_against_reference(panel, w, cfg)
    margin = res.events[res.events["rule"] == "margin"]
    assert len(margin) == 1 and margin["value"].iloc[0] <= 0.0
    t = int(margin["bar"].iloc[0])
    assert (res.trades["exit_reason"] == "margin").sum() >= 1
    assert (res.trades["exit_bar"] <= t).all()  # nothing trades after the liquidation
    assert np.all(res.equity.to_numpy()[t:] == res.cash.to_numpy()[t])

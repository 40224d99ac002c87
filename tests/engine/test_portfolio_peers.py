"""Peer check: anvil's portfolio loop against vectorbt (``Portfolio.from_orders`` with
``size_type="targetpercent", group_by=True, cash_sharing=True, call_seq="auto"``) and bt
(``RunMonthly, SelectAll, WeighEqually, Rebalance``) on the real four-stock universe
(AAPL, FB, IBM, MSFT, adj_close-adjusted; FB lists in 2012).

Both rebalance at the close, without fees and with a 0.1 % fee: final equity, the
equity curve and every closed trade (fees included) agree to 1e-6 relative. What
differs by design, one line each:
- fees: anvil sizes units = w x equity / (price x (1 + fee_rate)) so a full buy never
  overdraws; vectorbt sizes w x equity / price and fills partially when cash runs out.
  With fees the cases give anvil vectorbt's weights times (1 + fee_rate), which asks
  for the same units, and stay 90 % invested, so vectorbt never runs short of cash.
- a row on the last bar does not fill in anvil (DESIGN.md); vectorbt fills it: the
  weights here leave the last bar empty.
- bt rebalances on the first trading day of a month; the weights here say the same.
"""

from __future__ import annotations

from pathlib import Path

import bt
import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt

import engine

RTOL = 1e-6
CAPITAL = 100_000.0


@pytest.fixture(scope="module")
def panel(shared_data: Path) -> engine.Panel:
    df = pd.read_parquet(shared_data / "stocks4_daily.parquet")
    k = df["adj_close"] / df["close"]
    for f in ("open", "high", "low", "close"):
        df[f] = df[f] * k
    return engine.Panel.from_long(df.drop(columns=["adj_close"]))


def month_starts(panel: engine.Panel) -> np.ndarray:
    """Positions of the first bar of each month."""
    idx = panel.index
    first = np.ones(len(idx), bool)
    first[1:] = (idx.month[1:] != idx.month[:-1]) | (idx.year[1:] != idx.year[:-1])
    return np.flatnonzero(first)


def equal_weight(panel: engine.Panel, invested: float = 1.0) -> np.ndarray:
    """On each month's first bar, invested / k in each of the k symbols trading."""
    w = np.full(panel.shape, np.nan)
    for t in month_starts(panel):
        live = panel.tradable[t]
        w[t, live] = invested / live.sum()
    w[-1] = np.nan  # a row on the last bar never fills in anvil
    return w


def momentum_top2(panel: engine.Panel, invested: float = 1.0, lookback: int = 63) -> np.ndarray:
    """On each month's first bar, invested / 2 in each of the two best lookback returns, 0 elsewhere."""
    w = np.full(panel.shape, np.nan)
    close = panel.close
    for t in month_starts(panel):
        if t < lookback:
            continue
        ret = close[t] / close[t - lookback] - 1.0  # NaN for a symbol without the history
        ok = np.flatnonzero(~np.isnan(ret))
        if len(ok) < 2:
            continue
        best = ok[np.argsort(-ret[ok], kind="stable")[:2]]
        w[t, panel.tradable[t]] = 0.0
        w[t, best] = invested / 2
    w[-1] = np.nan  # a row on the last bar never fills in anvil
    return w


def run_vectorbt(panel: engine.Panel, w: np.ndarray, fee: float = 0.0):
    close = pd.DataFrame(panel.close, index=panel.index, columns=list(panel.symbols))
    size = pd.DataFrame(w, index=panel.index, columns=list(panel.symbols))
    return vbt.Portfolio.from_orders(
        close,
        size=size,
        size_type="targetpercent",
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        init_cash=CAPITAL,
        fees=fee,
        freq="1D",
    )


@pytest.mark.parametrize("fee", [0.0, 0.001], ids=["no_fees", "fees"])
@pytest.mark.parametrize("strategy", [equal_weight, momentum_top2], ids=["equal_weight", "momentum_top2"])
def test_vectorbt_agrees_on_equity_and_every_trade(panel: engine.Panel, strategy, fee: float) -> None:
    w = strategy(panel, 1.0 if fee == 0.0 else 0.9)
    cfg = engine.Config(initial_capital=CAPITAL, fill="close", fee_rate=fee)
    ours = engine.backtest_portfolio(panel, w * (1.0 + fee), cfg)  # the same units (see above)
    theirs = run_vectorbt(panel, w, fee)
    if fee:
        assert ours.stats["total_fees"] > 100.0  # the fees are there, and they agree below

    np.testing.assert_allclose(ours.equity.to_numpy(), theirs.value().to_numpy(), rtol=RTOL)
    assert ours.stats["final_equity"] == pytest.approx(float(theirs.final_value()), rel=RTOL)

    vt = theirs.exit_trades.records_arr
    vt = vt[vt["status"] == 1]  # closed
    ot = ours.trade_records
    assert len(ot) == len(vt) > 20
    a = ot[np.lexsort((ot["symbol"], ot["exit_bar"]))]
    b = vt[np.lexsort((vt["col"], vt["exit_idx"]))]
    np.testing.assert_array_equal(a["symbol"], b["col"])
    np.testing.assert_array_equal(a["exit_bar"], b["exit_idx"])
    np.testing.assert_allclose(a["units"], b["size"], rtol=RTOL)
    np.testing.assert_allclose(a["entry_price"], b["entry_price"], rtol=RTOL)
    np.testing.assert_allclose(a["exit_price"], b["exit_price"], rtol=RTOL)
    np.testing.assert_allclose(a["pnl"], b["pnl"], rtol=RTOL, atol=1e-6 * CAPITAL)
    np.testing.assert_allclose(a["entry_fees"], b["entry_fees"], rtol=RTOL, atol=1e-9 * CAPITAL)
    np.testing.assert_allclose(a["exit_fees"], b["exit_fees"], rtol=RTOL, atol=1e-9 * CAPITAL)
    assert ours.stats["total_fees"] == pytest.approx(float(theirs.orders.fees.sum()), rel=RTOL, abs=1e-9)


def test_bt_agrees_on_the_equal_weight_monthly_rebalance(panel: engine.Panel) -> None:
    prices = pd.DataFrame(panel.close, index=panel.index.tz_localize(None), columns=list(panel.symbols))
    strategy = bt.Strategy(
        "ew", [bt.algos.RunMonthly(), bt.algos.SelectAll(), bt.algos.WeighEqually(), bt.algos.Rebalance()]
    )
    test = bt.Backtest(strategy, prices, initial_capital=CAPITAL, integer_positions=False, progress_bar=False)
    result = bt.run(test)
    theirs = result["ew"].prices * CAPITAL / 100.0  # bt reports an index that starts at 100

    w = equal_weight(panel)
    ours = engine.backtest_portfolio(panel, w, engine.Config(initial_capital=CAPITAL, fill="close")).equity
    ours.index = ours.index.tz_localize(None)
    theirs = theirs.reindex(ours.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=RTOL)

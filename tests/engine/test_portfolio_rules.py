"""Hand-computed portfolios, one per rule of DESIGN.md "Portfolios": the numbers in
each test are worked out in its comments, not read from the code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine

NaN = np.nan


def flat_panel(closes: dict[str, list[float]]) -> engine.Panel:
    """Bars whose open = high = low = close (NaN = no bar), one day apart."""
    syms = list(closes)
    c = np.array([closes[s] for s in syms], dtype=float).T
    ts = pd.date_range("2024-01-01", periods=len(c), freq="D")
    return engine.Panel(ts, syms, c, c, c, c)


def rows(n: int, syms: list[str], at: dict[int, dict[str, float]]) -> np.ndarray:
    w = np.full((n, len(syms)), NaN)
    for t, row in at.items():
        for s, v in row.items():
            w[t, syms.index(s)] = v
    return w


CLOSE = engine.Config(initial_capital=100.0, fill="close", periods_per_year=252.0)


def test_reductions_execute_before_increases() -> None:
    # 100 cash; bar 0 buys 10 A at 10. Bar 1 asks A -> 0 and B -> 100 %: the sale of A
    # (100) funds the purchase of B (10 units at 10). Buys first would find no cash.
    p = flat_panel({"B": [10, 10, 10], "A": [10, 10, 10]})  # B before A in column order too
    w = rows(3, ["B", "A"], {0: {"A": 1.0}, 1: {"A": 0.0, "B": 1.0}})
    res = engine.backtest_portfolio(p, w, CLOSE, keep_weights=True)
    assert res.weights.iloc[1].to_dict() == pytest.approx({"B": 1.0, "A": 0.0})
    assert res.cash.iloc[1] == pytest.approx(0.0, abs=1e-12)
    assert res.events.empty
    assert res.trades[["symbol", "entry_bar", "exit_bar", "units"]].values.tolist() == [["A", 0, 1, 10.0]]


def test_increases_short_of_cash_shrink_by_one_common_factor() -> None:
    # Bar 0: A 50 % -> 5 units at 10, cash 50. Bar 1: A at 30, equity 50 + 150 = 200.
    # B and C 50 % each want 100 / 10 = 10 units (cost 100 each, 200 together) but cash is
    # 50: both shrink by 50 / 200 = 0.25 to 2.5 units -- not first come, first served.
    p = flat_panel({"A": [10, 30, 30], "B": [10, 10, 10], "C": [10, 10, 10]})
    w = rows(3, ["A", "B", "C"], {0: {"A": 0.5}, 1: {"B": 0.5, "C": 0.5}})
    res = engine.backtest_portfolio(p, w, CLOSE)
    tr = res.trade_records
    assert len(tr) == 0
    assert res.events[["bar", "symbol", "rule"]].values.tolist() == [[1, None, "cash"]]
    assert res.events["value"].iloc[0] == pytest.approx(0.25)
    assert res.cash.iloc[1] == pytest.approx(0.0, abs=1e-9)
    assert res.equity.iloc[2] == pytest.approx(150 + 25 + 25)


def test_a_symbol_whose_data_ends_is_closed_at_its_last_close() -> None:
    # A trades bars 0..2 (last close 12); at bar 3 it is closed at 12: 10 units, pnl 20.
    # Equity never turns NaN.
    p = flat_panel({"A": [10, 11, 12, NaN, NaN], "B": [5, 5, 5, 5, 5]})
    w = rows(5, ["A", "B"], {0: {"A": 1.0}})
    res = engine.backtest_portfolio(p, w, CLOSE)
    t = res.trades.iloc[0]
    assert (t.symbol, t.exit_bar, t.exit_reason, t.exit_price, t.pnl) == ("A", 3, "delisted", 12.0, pytest.approx(20.0))
    assert res.equity.tolist() == pytest.approx([100, 110, 120, 120, 120])
    assert res.contributions["A"] == pytest.approx(20.0)


def test_a_symbol_without_a_bar_keeps_its_position() -> None:
    # next_open: row 0 buys A at open[1] = 10 (10 units). Row 1 asks A -> 0 for open[2],
    # but A has no bar at 2: the position stays, marked at its last close (10), and A
    # is still held at bar 3 when it trades again at 13.
    p = flat_panel({"A": [10, 10, NaN, 13], "B": [7, 7, 7, 7]})
    w = rows(4, ["A", "B"], {0: {"A": 1.0}, 1: {"A": 0.0}})
    res = engine.backtest_portfolio(p, w, CLOSE.replace(fill="next_open"))
    assert res.trade_records.size == 0
    assert res.equity.tolist() == pytest.approx([100, 100, 100, 130])


def test_a_short_pays_borrow_at_every_close() -> None:
    # Short 100 % at 10: -10 units, cash 200. Borrow 25.2 %/year at 252 bars a year is
    # 0.1 % of the short's value (100) a bar: 0.1 at each of the 4 closes.
    p = flat_panel({"A": [10, 10, 10, 10]})
    w = rows(4, ["A"], {0: {"A": -1.0}})
    cfg = CLOSE.replace(allow_short=True, borrow_rate=0.252)
    res = engine.backtest_portfolio(p, w, cfg)
    assert res.equity.tolist() == pytest.approx([99.9, 99.8, 99.7, 99.6])
    assert res.borrow_cost == pytest.approx(0.4)
    assert res.contributions["A"] == pytest.approx(-0.4)


def test_max_weight_caps_each_symbol_and_says_so() -> None:
    # A asks 80 %, capped at 50 %: 5 units; B's 20 % is within the cap: 2 units.
    p = flat_panel({"A": [10, 10], "B": [10, 10]})
    w = rows(2, ["A", "B"], {0: {"A": 0.8, "B": 0.2}})
    res = engine.backtest_portfolio(p, w, CLOSE.replace(max_weight=0.5), keep_weights=True)
    assert res.weights.iloc[0].tolist() == pytest.approx([0.5, 0.2])
    ev = res.events
    assert ev[["bar", "symbol", "rule", "value"]].values.tolist() == [[0, "A", "max_weight", 0.8]]


def test_gross_leverage_is_capped_across_the_row() -> None:
    # 80 % + 80 % = 160 % gross, capped at 100 %: both scaled by 1 / 1.6 to 50 %.
    p = flat_panel({"A": [10, 10], "B": [10, 10]})
    w = rows(2, ["A", "B"], {0: {"A": 0.8, "B": 0.8}})
    res = engine.backtest_portfolio(p, w, CLOSE, keep_weights=True)
    assert res.weights.iloc[0].tolist() == pytest.approx([0.5, 0.5])


def test_rebalance_threshold_skips_small_changes() -> None:
    # A held at 50 %; asking 52 % is a change of 2 % < 5 %: no trade. Asking 60 % trades.
    p = flat_panel({"A": [10, 10, 10, 10]})
    w = rows(4, ["A"], {0: {"A": 0.5}, 1: {"A": 0.52}, 2: {"A": 0.6}})
    res = engine.backtest_portfolio(p, w, CLOSE.replace(rebalance_threshold=0.05), keep_weights=True)
    assert res.weights["A"].tolist() == pytest.approx([0.5, 0.5, 0.6, 0.6])


def test_whole_units_round_toward_zero() -> None:
    # 100 % of 100 at 30 is 3.33 units: 3 whole units.
    p = flat_panel({"A": [30, 30]})
    res = engine.backtest_portfolio(p, rows(2, ["A"], {0: {"A": 1.0}}), CLOSE.replace(integer_units=True))
    assert res.cash.iloc[0] == pytest.approx(10.0)


def test_per_symbol_fees() -> None:
    # A pays 1 % and B nothing: 50 % each of 100 -> A 50 / (10 x 1.01) units, fee 1 % of
    # their cost; B exactly 5 units.
    p = flat_panel({"A": [10, 10], "B": [10, 10]})
    res = engine.backtest_portfolio(p, rows(2, ["A", "B"], {0: {"A": 0.5, "B": 0.5}}), CLOSE, fee_rate={"A": 0.01})
    assert res.stats["total_fees"] == pytest.approx(50 / 1.01 * 0.01)


def test_per_symbol_fee_per_unit_and_fixed_fee() -> None:
    # 50 % each of 100 at 10. A pays 0.1 a unit: (50 - 0) / (10 + 0.1) units, fee 0.1 each;
    # B pays 2 an order: (50 - 2) / 10 = 4.8 units, fee 2. Nothing else pays.
    p = flat_panel({"A": [10, 10], "B": [10, 10]})
    res = engine.backtest_portfolio(
        p, rows(2, ["A", "B"], {0: {"A": 0.5, "B": 0.5}}), CLOSE, fee_per_unit={"A": 0.1}, fixed_fee=[0.0, 2.0]
    )
    a_units = 50 / 10.1
    assert res.stats["total_fees"] == pytest.approx(a_units * 0.1 + 2.0)
    assert res.cash.iloc[0] == pytest.approx(100 - a_units * 10.1 - (4.8 * 10 + 2.0))
    # Closing both: A pays 0.1 a unit again, B 2 again; each trade carries its own fees.
    res = engine.backtest_portfolio(
        p,
        rows(2, ["A", "B"], {0: {"A": 0.5, "B": 0.5}}),
        CLOSE.replace(close_at_end=True),
        fee_per_unit={"A": 0.1},
        fixed_fee=[0.0, 2.0],
    )
    tr = res.trades.set_index("symbol")
    assert tr.loc["A", "entry_fees"] == pytest.approx(a_units * 0.1) and tr.loc["A", "exit_fees"] == pytest.approx(
        a_units * 0.1
    )
    assert tr.loc["B", "units"] == pytest.approx(4.8)
    assert (tr.loc["B", "entry_fees"], tr.loc["B", "exit_fees"]) == (pytest.approx(2.0), pytest.approx(2.0))


def test_per_symbol_fixed_fees_enter_the_common_scale_factor() -> None:
    # Bar 0 puts half of 100 in C (5 units at 10, no fees for C). Bar 1: C has no bar
    # and keeps its 50; A and B ask 50 % each of equity 100. The sizing rule gives A
    # (50 - 1) / 10 = 4.9 units and B (50 - 3) / 10 = 4.7: they need 96, and the cash
    # is 50 less the fixed fees 1 + 3: one factor 46 / 96 for both.
    p = flat_panel({"A": [10, 10, 10], "B": [10, 10, 10], "C": [10, NaN, 10]})
    w = rows(3, ["A", "B", "C"], {0: {"C": 0.5}, 1: {"A": 0.5, "B": 0.5}})
    res = engine.backtest_portfolio(p, w, CLOSE, fixed_fee={"A": 1.0, "B": 3.0}, keep_weights=True)
    ev = res.events
    assert list(ev["rule"]) == ["cash"] and ev["value"].iloc[0] == pytest.approx(46 / 96)
    assert res.cash.iloc[1] == pytest.approx(0.0, abs=1e-9)
    assert res.equity.iloc[1] == pytest.approx(96.0)
    assert res.weights.iloc[1].to_dict() == {
        "A": pytest.approx(4.9 * 46 / 96 * 10 / 96),
        "B": pytest.approx(4.7 * 46 / 96 * 10 / 96),
        "C": pytest.approx(50 / 96),
    }


def test_bad_per_symbol_fees_name_the_symbol() -> None:
    p = flat_panel({"A": [10, 10], "B": [10, 10]})
    with pytest.raises(ValueError, match="fee_per_unit of B is -1"):
        engine.backtest_portfolio(p, np.zeros((2, 2)), CLOSE, fee_per_unit=[0.0, -1.0])
    with pytest.raises(ValueError, match="fixed_fee of A is inf"):
        engine.backtest_portfolio(p, np.zeros((2, 2)), CLOSE, fixed_fee={"A": np.inf})
    with pytest.raises(ValueError, match="fixed_fee names symbol 'C'"):
        engine.backtest_portfolio(p, np.zeros((2, 2)), CLOSE, fixed_fee={"C": 1.0})


def test_one_symbol_matches_the_one_series_backtest() -> None:
    # A portfolio of one symbol whose rows change only when the target does is the
    # one-series backtest of the same float signal: same sizing, fills, stops and fees.
    bars = engine.synthetic.bars(600, seed=4, timeframe="1d")
    p = engine.Panel.from_frames({"X": bars})
    rng = np.random.default_rng(0)
    sig = np.full(len(bars), np.nan)
    last = 0.0
    for t in range(5, len(bars), 23):  # a new target every 23 bars, never a repeat
        v = float(rng.choice([x for x in (0.0, 0.3, 0.7, 1.0) if x != last]))
        sig[t], last = v, v
    for fill in ("next_open", "close"):
        cfg = engine.Config(
            fee_rate=0.001, fixed_fee=1, slippage_bps=2, stop_loss=0.03, take_profit=0.06, fill=fill, close_at_end=True
        )
        one = engine.backtest(bars, sig, cfg)
        many = engine.backtest_portfolio(p, sig[:, None], cfg)
        np.testing.assert_allclose(many.equity.to_numpy(), one.equity.to_numpy(), rtol=1e-12)
        for name in engine.METRICS:
            assert many.stats[name] == pytest.approx(one.stats[name], rel=1e-9, nan_ok=True), name
        assert len(many.trades) == len(one.trades)


def test_bad_input_names_symbol_field_and_index() -> None:
    p = flat_panel({"A": [10, 10, 10], "B": [5, 5, 5]})
    w = rows(3, ["A", "B"], {1: {"B": np.inf}})
    with pytest.raises(ValueError, match=r"B\[1\].*finite"):
        engine.backtest_portfolio(p, w, CLOSE)
    with pytest.raises(ValueError, match=r"'C'.*did you mean|'C'"):
        engine.backtest_portfolio(p, {"C": [1, 1, 1]}, CLOSE)
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        engine.backtest_portfolio(p, np.zeros((3, 3)), CLOSE)
    with pytest.raises(ValueError, match=r"panel B\.close\[2\].*positive"):
        engine.Panel(p.ts, ["A", "B"], [[1, 1]] * 3, [[1, 1]] * 3, [[1, 1]] * 3, [[1, 1], [1, 1], [1, -1]])
    with pytest.raises(ValueError, match="fee_rate of B"):
        engine.backtest_portfolio(p, np.zeros((3, 2)), CLOSE, fee_rate=[0.0, 2.0])
    with pytest.raises(ValueError, match="did you mean 'max_weight'"):
        engine.Config(max_wieght=0.1)


# -- risk rules --------------------------------------------------------------


def test_drawdown_halt_closes_everything_and_waits() -> None:
    # 10 units of A at 10. At bar 2's fill A is at 8: equity 80 is 20 % below the peak
    # of 100 (> 15 %): close at 8 (reason risk), ignore rows for 2 bars (bars 2 and 3:
    # bar 3's buy at 8 would have made 90 at bar 4). Bar 4's row buys 80 / 9 units at 9;
    # at 12 they are worth 106.67. The peak restarts at 80, so the halt does not refire.
    p = flat_panel({"A": [10, 10, 8, 8, 9, 12, 12]})
    w = rows(7, ["A"], {0: {"A": 1.0}, 3: {"A": 1.0}, 4: {"A": 1.0}})
    res = engine.backtest_portfolio(p, w, CLOSE.replace(max_drawdown_halt=0.15, halt_bars=2))
    assert res.equity.tolist() == pytest.approx([100, 100, 80, 80, 80, 80 / 9 * 12, 80 / 9 * 12])
    assert res.events[["bar", "rule"]].values.tolist() == [[2, "max_drawdown_halt"]]
    assert res.events["value"].iloc[0] == pytest.approx(0.2)
    assert res.trades["exit_reason"].tolist() == ["risk"]


def test_daily_loss_limit_flat_until_the_next_day() -> None:
    # Hourly bars, three a day. Row 0 buys 10 A at bar 1's open (10). At bar 2's open (9)
    # equity 90 is 10 % below the day's start (100): close (risk) and ignore rows until
    # the day changes. Row 2 fills at bar 3's open, the next day: 90 / 9.5 units.
    c = np.array([[10, 10, 9, 9.5, 10, 10]], dtype=float).T
    ts = pd.to_datetime(
        [
            "2024-01-01 10:00",
            "2024-01-01 11:00",
            "2024-01-01 12:00",
            "2024-01-02 10:00",
            "2024-01-02 11:00",
            "2024-01-02 12:00",
        ]
    )
    p = engine.Panel(ts, ["A"], c, c, c, c)
    w = rows(6, ["A"], {0: {"A": 1.0}, 1: {"A": 1.0}, 2: {"A": 1.0}})
    res = engine.backtest_portfolio(p, w, CLOSE.replace(fill="next_open", daily_loss_limit=0.05))
    assert res.equity.tolist() == pytest.approx([100, 100, 90, 90, 90 / 9.5 * 10, 90 / 9.5 * 10])
    assert res.events[["bar", "rule"]].values.tolist() == [[2, "daily_loss_limit"]]
    assert res.events["value"].iloc[0] == pytest.approx(0.1)


def test_cooldown_after_a_stop_loss() -> None:
    # 10 A at 10; bar 1's low (8.5) crosses the 10 % stop at 9: out at 9, cash 90. For 2
    # bars (1..3 inclusive of the exit bar's fills up to bar 3) new buys of A are ignored;
    # bar 4's row buys 9 units at 10, worth 99 at 11.
    c = np.array([[10, 9.5, 10, 10, 10, 11]], dtype=float).T
    lo = c.copy()
    lo[1] = 8.5
    hi = np.maximum(c, 10.0)
    o = np.array([[10, 10, 10, 10, 10, 11]], dtype=float).T
    ts = pd.date_range("2024-01-01", periods=6, freq="D")
    p = engine.Panel(ts, ["A"], o, hi, lo, c)
    w = rows(6, ["A"], {0: {"A": 1.0}, 1: {"A": 1.0}, 2: {"A": 1.0}, 3: {"A": 1.0}, 4: {"A": 1.0}})
    res = engine.backtest_portfolio(p, w, CLOSE.replace(stop_loss=0.1, cooldown_bars=2))
    assert res.trades[["exit_bar", "exit_reason", "exit_price"]].values.tolist() == [[1, "stop_loss", 9.0]]
    assert res.events[["bar", "rule", "value"]].values.tolist() == [[1, "cooldown", 2.0]]
    assert res.equity.tolist() == pytest.approx([100, 90, 90, 90, 90, 99])


def test_equity_at_zero_liquidates_everything_and_trading_stops() -> None:
    # 100 of equity at bar 0: A -100 % -> -10 units at 10 (cash +100), B 10 % -> 1 unit at
    # 10 (cash -10): cash 190, equity 190 - 10 x A + 1 x 10 = 80 at A 12, 50 at 15, and
    # -10 at 21 (bar 3): everything is liquidated there, in column order (reason margin,
    # one margin event of value -10): A bought back at 21 (cash -20, pnl -110), B sold at
    # 10 (cash -10, pnl 0). Bar 4's row (long A) is ignored: equity stays -10.
    p = flat_panel({"A": [10, 12, 15, 21, 25, 30], "B": [10, 10, 10, 10, 10, 10]})
    w = rows(6, ["A", "B"], {0: {"A": -1.0, "B": 0.1}, 4: {"A": 1.0}})
    res = engine.backtest_portfolio(p, w, CLOSE.replace(allow_short=True, max_leverage=2.0))
    assert res.equity.tolist() == pytest.approx([100, 80, 50, -10, -10, -10])
    assert res.events[["bar", "symbol", "rule"]].values.tolist() == [[3, None, "margin"]]
    assert res.events["value"].iloc[0] == pytest.approx(-10)
    tr = res.trades
    assert tr[["symbol", "exit_bar", "exit_reason"]].values.tolist() == [["A", 3, "margin"], ["B", 3, "margin"]]
    assert tr["pnl"].tolist() == pytest.approx([-110, 0])
    assert res.cash.iloc[3:].tolist() == pytest.approx([-10, -10, -10])
    assert res.notes[0].startswith("liquidated at bar 3 (2024-01-04") and "-10.00 was left" in res.notes[0]


def test_a_long_only_portfolio_is_never_called_in() -> None:
    # Without leverage or shorts equity stays above zero at any positive price: a fall
    # of 99.9 % leaves 0.1 % of the money and no margin event.
    p = flat_panel({"A": [10, 5, 0.01, 0.02]})
    res = engine.backtest_portfolio(p, rows(4, ["A"], {0: {"A": 1.0}}), CLOSE)
    assert res.equity.tolist() == pytest.approx([100, 50, 0.1, 0.2])
    assert res.events.empty and res.trades.empty

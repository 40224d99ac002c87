"""Every rule of README.md's fill model on a few bars, with the answer worked out by hand.

Each expected number comes from the comment beside it, not from the reference
simulator; every test runs twice, on the C core and on the reference, and both
must give the hand answer. Bars are written as (open, high, low, close); ``flat(p)`` is a bar
with all four at ``p``. ``periods_per_year`` is 252 unless a test says otherwise.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

import engine
from tests.engine.reference import simulate_config

H = engine.HOLD
NAN = math.nan
Run = Callable[..., Any]


def flat(p: float) -> tuple[float, float, float, float]:
    return (p, p, p, p)


def bars_of(*rows: tuple[float, float, float, float]) -> engine.Bars:
    o, h, lo, c = zip(*rows)
    ts = pd.date_range("2024-01-01", periods=len(rows), freq="D")
    return engine.Bars.from_numpy(ts.values, o, h, lo, c)


class _ReferenceResult:
    """The reference simulator's answer in the shape of ``engine.Result``."""

    def __init__(self, bars: engine.Bars, signal: np.ndarray, cfg: engine.Config) -> None:
        self.stats, equity, trades = simulate_config(bars, signal, cfg)
        self.equity = pd.Series(equity, index=bars.index, name="equity")
        self.trades = pd.DataFrame(trades)


@pytest.fixture(params=["core", "reference"])
def run(request: pytest.FixtureRequest) -> Run:
    """Backtest ``signal`` (ints, or floats when any value is a float) over ``rows``,
    with the C core or with the plain-Python reference: both must give the hand answer."""

    def backtest(rows: list, signal: list, **config: Any) -> Any:
        config.setdefault("periods_per_year", 252.0)
        floats = any(isinstance(v, float) for v in signal)
        sig = np.array(signal, dtype=np.float64 if floats else np.int8)
        bars, cfg = bars_of(*rows), engine.Config(**config)
        if request.param == "core":
            return engine.backtest(bars, sig, cfg)
        return _ReferenceResult(bars, sig, cfg)

    return backtest


def approx(x: object) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-9)


def only_trade(res: Any) -> dict:
    assert len(res.trades) == 1, res.trades
    return res.trades.iloc[0].to_dict()


# A long entered at open[1] = 100 and closed at open[3] = 120 (next_open fills).
ROUND_TRIP = [flat(100), (100, 110, 100, 110), flat(115), flat(120)]
ROUND_TRIP_SIGNAL = [1, H, 0, H]


# -- costs ---------------------------------------------------------------------


def test_fee_rate_is_charged_on_each_fill_and_sizing_leaves_room_for_it(run: Run) -> None:
    res = run(ROUND_TRIP, ROUND_TRIP_SIGNAL, initial_capital=10_100, fee_rate=0.01)
    t = only_trade(res)
    # units = 10100 / (100 × 1.01) = 100; entry fee 0.01 × 100 × 100 = 100; cash 0
    assert t["units"] == approx(100.0)
    assert t["entry_fees"] == approx(100.0)
    # exit: 0.01 × 100 × 120 = 120; pnl = 100 × 20 − 100 − 120 = 1780; return 1780 / 10000
    assert t["exit_fees"] == approx(120.0)
    assert t["pnl"] == approx(1780.0)
    assert t["return"] == approx(0.178)
    # equity: 10100; 100 × 110; 100 × 115; 12000 − 120
    assert res.equity.tolist() == approx([10_100.0, 11_000.0, 11_500.0, 11_880.0])
    assert res.stats["total_fees"] == approx(220.0)


def test_fee_per_unit_is_charged_per_unit_on_each_fill(run: Run) -> None:
    res = run(ROUND_TRIP, ROUND_TRIP_SIGNAL, initial_capital=10_100, fee_per_unit=1.0)
    t = only_trade(res)
    # units = 10100 / (100 + 1) = 100; fee 1 × 100 each way; pnl = 2000 − 200
    assert t["units"] == approx(100.0)
    assert (t["entry_fees"], t["exit_fees"]) == (approx(100.0), approx(100.0))
    assert t["pnl"] == approx(1800.0)
    assert res.stats["final_equity"] == approx(11_900.0)  # 12000 − 100
    assert res.stats["total_fees"] == approx(200.0)


def test_fixed_fee_is_charged_once_per_order(run: Run) -> None:
    res = run(ROUND_TRIP, ROUND_TRIP_SIGNAL, initial_capital=10_010, fixed_fee=10.0)
    t = only_trade(res)
    # units = (10010 − 10) / 100 = 100; pnl = 2000 − 10 − 10; return 1980 / 10000
    assert t["units"] == approx(100.0)
    assert t["pnl"] == approx(1980.0)
    assert t["return"] == approx(0.198)
    assert res.stats["final_equity"] == approx(11_990.0)  # 12000 − 10
    assert res.stats["total_fees"] == approx(20.0)


def test_slippage_raises_buys_and_lowers_sells_on_a_long(run: Run) -> None:
    res = run(ROUND_TRIP, ROUND_TRIP_SIGNAL, initial_capital=10_100, slippage_bps=100)
    t = only_trade(res)
    # buy at 100 × 1.01 = 101 → units = 10100 / 101 = 100; sell at 120 × 0.99 = 118.8
    assert (t["entry_price"], t["exit_price"]) == (approx(101.0), approx(118.8))
    assert t["units"] == approx(100.0)
    assert t["pnl"] == approx(1780.0)  # (118.8 − 101) × 100
    assert t["return"] == approx(1780.0 / 10_100.0)
    # marks use the raw close: 100 × 110 at bar 1; the exit leaves 100 × 118.8
    assert res.equity.tolist() == approx([10_100.0, 11_000.0, 11_500.0, 11_880.0])
    assert res.stats["total_fees"] == 0.0  # slippage is in the prices, not the fees


def test_slippage_lowers_sells_and_raises_buys_on_a_short(run: Run) -> None:
    rows = [flat(100), (100, 100, 90, 90), flat(85), flat(80)]
    res = run(rows, [-1, H, 0, H], initial_capital=9_900, slippage_bps=100, allow_short=True)
    t = only_trade(res)
    # sell at 100 × 0.99 = 99 → units = 9900 / 99 = 100, cash 9900 + 9900 = 19800
    # cover at 80 × 1.01 = 80.8: pnl = (99 − 80.8) × 100 = 1820
    assert t["direction"] == "short"
    assert (t["entry_price"], t["exit_price"]) == (approx(99.0), approx(80.8))
    assert t["units"] == approx(100.0)
    assert t["pnl"] == approx(1820.0)
    assert t["return"] == approx(1820.0 / 9_900.0)
    # equity: 9900; 19800 − 100 × 90; 19800 − 100 × 85; 19800 − 8080
    assert res.equity.tolist() == approx([9_900.0, 10_800.0, 11_300.0, 11_720.0])


# -- sides, flips and sizing ---------------------------------------------------


def test_long_then_short_marks_both_sides_at_the_close(run: Run) -> None:
    rows = [flat(100), (100, 110, 100, 110), flat(100), (100, 100, 80, 80), flat(80)]
    res = run(rows, [1, -1, H, 0, H], allow_short=True)
    # long 100 units at 100 (bar 1), close at 100 (bar 2) → cash 10000, then
    # short 10000 / 100 = 100 units → cash 20000; bar 3 mark 20000 − 100 × 80
    assert res.equity.tolist() == approx([10_000.0, 11_000.0, 10_000.0, 12_000.0, 12_000.0])
    assert res.trades["direction"].tolist() == ["long", "short"]
    assert res.trades["pnl"].tolist() == approx([0.0, 2000.0])


def test_a_flip_is_two_orders_at_the_same_fill_each_paying_fixed_fee(run: Run) -> None:
    rows = [flat(100), flat(100), flat(100), flat(95), flat(90)]
    res = run(rows, [1, -1, H, 0, H], initial_capital=10_020, fixed_fee=20.0, allow_short=True)
    long, short = res.trades.to_dict("records")
    # bar 1: buy (10020 − 20) / 100 = 100 units, cash 0
    # bar 2: sell 100 at 100 → cash 10000 − 20 = 9980; long pnl = 0 − 20 − 20 = −40
    assert (long["direction"], long["entry_bar"], long["exit_bar"]) == ("long", 1, 2)
    assert long["units"] == approx(100.0)
    assert long["pnl"] == approx(-40.0)
    #        then short (9980 − 20) / 100 = 99.6 units at 100 → cash 9980 + 9960 − 20 = 19920
    # bar 4: cover 99.6 at 90 → cash 19920 − 8964 − 20 = 10936
    #        pnl = 10 × 99.6 − 20 − 20 = 956
    assert (short["direction"], short["entry_bar"], short["exit_bar"]) == ("short", 2, 4)
    assert short["units"] == approx(99.6)
    assert short["pnl"] == approx(956.0)
    # bar 2 mark: 19920 − 99.6 × 100; bar 3: 19920 − 99.6 × 95
    assert res.equity.tolist() == approx([10_020.0, 10_000.0, 9_960.0, 10_458.0, 10_936.0])
    assert res.stats["total_fees"] == approx(80.0)  # four orders


def test_float_targets_are_capped_at_max_leverage(run: Run) -> None:
    rows = [flat(100), (100, 110, 100, 110), flat(105)]
    res = run(rows, [3.0, NAN, NAN], max_leverage=2.0, close_at_end=True)
    t = only_trade(res)
    # target 3 capped to 2: units = 2 × 10000 / 100 = 200, cash −10000
    assert t["units"] == approx(200.0)
    # marks: −10000 + 200 × 110 = 12000; end: −10000 + 200 × 105 = 11000
    assert res.equity.tolist() == approx([10_000.0, 12_000.0, 11_000.0])
    assert t["exit_reason"] == "end"
    assert t["pnl"] == approx(1000.0)  # 200 × (105 − 100)


def test_short_float_targets_are_capped_at_minus_max_leverage(run: Run) -> None:
    rows = [flat(100), (100, 100, 90, 90), flat(90)]
    res = run(rows, [-2.5, NAN, NAN], max_leverage=1.5, allow_short=True)
    # target −2.5 capped to −1.5: short 1.5 × 10000 / 100 = 150 units, cash 25000
    # bar 1 mark: 25000 − 150 × 90 = 11500
    assert res.equity.tolist() == approx([10_000.0, 11_500.0, 11_500.0])


def test_int_signals_are_capped_by_max_leverage_below_one(run: Run) -> None:
    # Reading pinned here: max_leverage caps every target, so an int 1 with
    # max_leverage 0.5 holds half the equity.
    rows = [flat(100), (100, 110, 100, 110), flat(110)]
    res = run(rows, [1, H, H], max_leverage=0.5)
    # units = 0.5 × 10000 / 100 = 50, cash 5000; mark 5000 + 50 × 110 = 10500
    assert res.equity.tolist() == approx([10_000.0, 10_500.0, 10_500.0])


def test_integer_units_round_toward_zero(run: Run) -> None:
    rows = [flat(30), (30, 40, 30, 40), flat(40)]
    res = run(rows, [1, H, H], initial_capital=1_000, integer_units=True, close_at_end=True)
    t = only_trade(res)
    # 1000 / 30 = 33.3 → 33 units, cash 1000 − 990 = 10; mark 10 + 33 × 40 = 1330
    assert t["units"] == 33.0
    assert res.equity.tolist() == approx([1_000.0, 1_330.0, 1_330.0])


def test_integer_units_that_round_to_zero_place_no_order(run: Run) -> None:
    rows = [flat(300), flat(300), flat(310)]
    res = run(rows, [1, H, H], initial_capital=250, integer_units=True, close_at_end=True)
    # 250 / 300 = 0.83 → 0 units: nothing is bought, nothing is paid
    assert res.trades.empty
    assert res.equity.tolist() == approx([250.0, 250.0, 250.0])
    assert res.stats["exposure"] == 0.0


def test_adding_to_a_position_averages_its_entry_price_and_keeps_its_entry_bar(run: Run) -> None:
    rows = [flat(100), flat(100), flat(125), flat(150), flat(150)]
    res = run(rows, [0.5, 1.0, 0.0, NAN, NAN])
    t = only_trade(res)
    # bar 1: 50 units at 100, cash 5000
    # bar 2: equity 5000 + 50 × 125 = 11250 → 11250 / 125 = 90 units: buy 40 at 125, cash 0
    #        average entry (50 × 100 + 40 × 125) / 90 = 10000 / 90
    # bar 3: sell 90 at 150 = 13500; pnl = 13500 − 10000 = 3500, return 3500 / 10000
    assert (t["entry_bar"], t["exit_bar"]) == (1, 3)
    assert t["units"] == approx(90.0)
    assert t["entry_price"] == approx(10_000.0 / 90.0)
    assert t["pnl"] == approx(3_500.0)
    assert t["return"] == approx(0.35)
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 11_250.0, 13_500.0, 13_500.0])


def test_reducing_a_float_position_closes_a_trade_with_pro_rata_entry_fees(run: Run) -> None:
    rows = [flat(100), flat(100), flat(100), flat(200), flat(200)]
    res = run(rows, [1.0, 0.5, 0.0, NAN, NAN], initial_capital=12_500, fee_rate=0.25)
    part, rest = res.trades.to_dict("records")
    # bar 1: units = 12500 / (100 × 1.25) = 100, entry fee 0.25 × 10000 = 2500, cash 0
    # bar 2: equity 10000; target 0.5 → 5000 / 125 = 40 units: sell 60 at 100,
    #        fee 0.25 × 6000 = 1500, cash 6000 − 1500 = 4500
    #        their share of the entry fees: 2500 × 60 / 100 = 1500
    #        pnl = 0 − 1500 − 1500 = −3000, return −3000 / 6000
    assert (part["entry_bar"], part["exit_bar"], part["exit_reason"]) == (1, 2, "signal")
    assert part["units"] == approx(60.0)
    assert part["entry_fees"] == approx(1_500.0)
    assert part["exit_fees"] == approx(1_500.0)
    assert part["pnl"] == approx(-3_000.0)
    assert part["return"] == approx(-0.5)
    # bar 3: sell the other 40 at 200 = 8000, fee 2000, entry fees left 1000
    #        pnl = 40 × 100 − 1000 − 2000 = 1000, return 1000 / 4000; cash 4500 + 6000
    assert (rest["entry_bar"], rest["exit_bar"]) == (1, 3)
    assert rest["units"] == approx(40.0)
    assert rest["entry_fees"] == approx(1_000.0)
    assert rest["exit_fees"] == approx(2_000.0)
    assert rest["pnl"] == approx(1_000.0)
    assert rest["return"] == approx(0.25)
    # bar 2 mark: 4500 + 40 × 100
    assert res.equity.tolist() == approx([12_500.0, 10_000.0, 8_500.0, 10_500.0, 10_500.0])
    assert res.stats["total_fees"] == approx(6_000.0)


def test_same_side_target_inside_the_slippage_band_does_nothing(run: Run) -> None:
    rows = [flat(100), flat(100), flat(100), flat(100)]
    res = run(rows, [1.0, 0.999, NAN, NAN], initial_capital=10_100, slippage_bps=100, close_at_end=True)
    t = only_trade(res)
    # bar 1: buy at 101, 10100 / 101 = 100 units, cash 0; equity at 100 is 10000
    # bar 2: target 0.999: grow? 9990 / 101 = 98.9 ≤ 100 no;
    #        shrink? 9990 / 99 = 100.9 ≥ 100 no → nothing
    assert t["units"] == approx(100.0)
    assert (t["entry_bar"], t["exit_bar"], t["exit_reason"]) == (1, 3, "end")


# -- risk exits ----------------------------------------------------------------


# A long of 100 units entered at open[1] = 100 (capital 10000), then bar 2 decides.
def long_then(bar2: tuple, *more: tuple) -> list:
    return [flat(100), (100, 105, 95, 100), bar2, *more, flat(bar2[3])]


LONG_SIGNAL = [1, H, H, H]


def test_stop_loss_exits_at_its_level_when_the_low_reaches_it(run: Run) -> None:
    res = run(long_then((98, 99, 85, 88)), LONG_SIGNAL, stop_loss=0.1)
    t = only_trade(res)
    # stop at 100 × 0.9 = 90: bar 1's low 95 survives, bar 2's low 85 reaches it
    assert (t["exit_bar"], t["exit_reason"]) == (2, "stop_loss")
    assert t["exit_price"] == approx(90.0)
    assert t["pnl"] == approx(-1_000.0)
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 9_000.0, 9_000.0])


def test_stop_loss_level_is_from_the_slipped_entry_and_its_exit_pays_slippage(run: Run) -> None:
    res = run(long_then((98, 99, 85, 88)), LONG_SIGNAL, initial_capital=10_100, slippage_bps=100, stop_loss=0.1)
    t = only_trade(res)
    # entry 100 × 1.01 = 101, 100 units; stop 101 × 0.9 = 90.9; sold at 90.9 × 0.99 = 89.991
    assert t["exit_price"] == approx(89.991)
    assert t["pnl"] == approx(-1_100.9)  # (89.991 − 101) × 100


def test_take_profit_exits_at_its_level_when_the_high_reaches_it(run: Run) -> None:
    res = run(long_then((105, 125, 104, 110)), LONG_SIGNAL, take_profit=0.2)
    t = only_trade(res)
    # take-profit at 100 × 1.2 = 120; bar 2's high 125 reaches it
    assert (t["exit_bar"], t["exit_reason"]) == (2, "take_profit")
    assert t["exit_price"] == approx(120.0)
    assert t["pnl"] == approx(2_000.0)


def test_trailing_stop_follows_the_high_of_bars_that_survive(run: Run) -> None:
    rows = [flat(100), (100, 110, 100, 108), (105, 106, 98, 100), flat(100)]
    res = run(rows, LONG_SIGNAL, trailing_stop=0.1)
    t = only_trade(res)
    # bar 1: best 100 (the fill), stop 90, survives → best = high 110
    # bar 2: open 105 not better; stop 110 × 0.9 = 99; low 98 reaches it
    assert (t["exit_bar"], t["exit_reason"]) == (2, "trailing_stop")
    assert t["exit_price"] == approx(99.0)
    assert t["pnl"] == approx(-100.0)


def test_trailing_stop_best_moves_to_the_open_before_the_checks(run: Run) -> None:
    rows = [flat(100), flat(100), (120, 121, 107, 110), flat(110)]
    res = run(rows, LONG_SIGNAL, trailing_stop=0.1)
    t = only_trade(res)
    # bar 2: best → open 120 first, stop 108; low 107 reaches it (the high 121
    # would move best only after the bar survives)
    assert t["exit_price"] == approx(108.0)
    assert t["exit_reason"] == "trailing_stop"


def test_trailing_stop_best_moves_to_a_better_add_fill(run: Run) -> None:
    # Reading pinned here: an add's fill price is a price seen since entry.
    rows = [flat(100), flat(100), (130, 131, 118, 125), flat(125)]
    res = run(rows, [0.5, 1.0, NAN, NAN], initial_capital=10_100, slippage_bps=100, trailing_stop=0.1)
    t = only_trade(res)
    # bar 1: buy at 101, best 101. bar 2: add at 130 × 1.01 = 131.3 → best 131.3,
    # stop 131.3 × 0.9 = 118.17; low 118 reaches it; sold at 118.17 × 0.99
    assert (t["exit_bar"], t["exit_reason"]) == (2, "trailing_stop")
    assert t["exit_price"] == approx(118.17 * 0.99)


def test_a_gap_through_the_stop_fills_at_the_open(run: Run) -> None:
    res = run(long_then((80, 85, 75, 82)), LONG_SIGNAL, stop_loss=0.1)
    t = only_trade(res)
    # stop 90, but bar 2 opens at 80: exit at 80, not 90
    assert (t["exit_bar"], t["exit_reason"]) == (2, "stop_loss")
    assert t["exit_price"] == approx(80.0)
    assert t["pnl"] == approx(-2_000.0)


def test_a_gap_through_the_take_profit_fills_at_the_open(run: Run) -> None:
    res = run(long_then((130, 135, 128, 132)), LONG_SIGNAL, take_profit=0.2)
    t = only_trade(res)
    # take-profit 120, but bar 2 opens at 130: exit at 130
    assert (t["exit_bar"], t["exit_reason"]) == (2, "take_profit")
    assert t["exit_price"] == approx(130.0)
    assert t["pnl"] == approx(3_000.0)


def test_a_bar_that_reaches_both_stop_and_take_profit_is_taken_as_the_stop(run: Run) -> None:
    res = run(long_then((100, 115, 85, 100)), LONG_SIGNAL, stop_loss=0.1, take_profit=0.1)
    t = only_trade(res)
    # stop 90 and take-profit 110 both inside [85, 115]: the stop wins
    assert t["exit_reason"] == "stop_loss"
    assert t["exit_price"] == approx(90.0)


def test_stop_loss_and_trailing_stop_at_the_same_level_report_stop_loss(run: Run) -> None:
    rows = [flat(100), flat(100), (95, 95, 85, 90), flat(90)]
    res = run(rows, LONG_SIGNAL, stop_loss=0.1, trailing_stop=0.1)
    t = only_trade(res)
    # best stays 100: stop-loss 90 and trailing 100 × 0.9 = 90 tie
    assert t["exit_reason"] == "stop_loss"
    assert t["exit_price"] == approx(90.0)


def test_a_position_entered_at_the_open_is_exposed_to_that_bars_stop(run: Run) -> None:
    rows = [flat(100), (100, 101, 85, 95), flat(95)]
    res = run(rows, [1, H, H], stop_loss=0.1)
    t = only_trade(res)
    # entered at open[1] = 100 and stopped at 90 within the same bar
    assert (t["entry_bar"], t["exit_bar"], t["exit_reason"]) == (1, 1, "stop_loss")
    assert t["exit_price"] == approx(90.0)


def test_with_fill_close_the_entry_bar_range_is_not_a_risk(run: Run) -> None:
    rows = [flat(100), (100, 101, 50, 100), (100, 101, 95, 96), flat(96)]
    res = run(rows, [0, 1, H, H], fill="close", stop_loss=0.1)
    # entered at close[1] = 100, after bar 1's low of 50; stop 90 is never reached
    assert res.trades.empty
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 9_600.0, 9_600.0])


SHORT_BASE = [flat(100), (100, 105, 95, 100)]  # short 100 units at open[1] = 100


@pytest.mark.parametrize(
    ("rows", "level", "reason", "exit_price", "pnl"),
    [
        # stop 100 × 1.1 = 110, but bar 2 opens at 115: exit at the open; pnl (100 − 115) × 100
        ([*SHORT_BASE, (115, 120, 112, 118), flat(118)], {"stop_loss": 0.1}, "stop_loss", 115.0, -1_500.0),
        # stop 110: bar 2's high 112 reaches it; pnl (100 − 110) × 100
        ([*SHORT_BASE, (104, 112, 103, 110), flat(110)], {"stop_loss": 0.1}, "stop_loss", 110.0, -1_000.0),
        # take-profit 100 × 0.8 = 80: bar 2's low 75 reaches it; pnl 20 × 100
        ([*SHORT_BASE, (90, 91, 75, 85), flat(85)], {"take_profit": 0.2}, "take_profit", 80.0, 2_000.0),
        # take-profit 80, but bar 2 opens at 70: exit at the open; pnl 30 × 100
        ([*SHORT_BASE, (70, 72, 65, 71), flat(71)], {"take_profit": 0.2}, "take_profit", 70.0, 3_000.0),
        # trailing: bar 1 (100, 100, 90, 92) survives → best low 90, stop 90 × 1.1 = 99;
        # bar 2's high 100 reaches it; pnl (100 − 99) × 100
        (
            [flat(100), (100, 100, 90, 92), (95, 100, 94, 96), flat(96)],
            {"trailing_stop": 0.1},
            "trailing_stop",
            99.0,
            100.0,
        ),
    ],
)
def test_short_risk_exits_are_mirrored(
    run: Run, rows: list, level: dict, reason: str, exit_price: float, pnl: float
) -> None:
    t = only_trade(run(rows, [-1, H, H, H], allow_short=True, **level))
    assert (t["direction"], t["exit_bar"], t["exit_reason"]) == ("short", 2, reason)
    assert t["exit_price"] == approx(exit_price)
    assert t["pnl"] == approx(pnl)


def test_a_short_stop_exit_buys_back_with_slippage(run: Run) -> None:
    rows = [flat(100), (100, 105, 95, 100), (104, 112, 103, 110), flat(110)]
    res = run(rows, [-1, H, H, H], initial_capital=9_900, slippage_bps=100, stop_loss=0.1, allow_short=True)
    t = only_trade(res)
    # sold at 99 (100 units); stop 99 × 1.1 = 108.9; bought back at 108.9 × 1.01 = 109.989
    assert t["exit_price"] == approx(109.989)
    assert t["pnl"] == approx(-1_098.9)  # (99 − 109.989) × 100


def test_a_repeated_signal_after_a_stop_does_not_re_enter(run: Run) -> None:
    rows = [flat(100), flat(100), (95, 95, 85, 90), flat(90), flat(90)]
    res = run(rows, [1, 1, 1, 1, 1], stop_loss=0.1)
    # stopped at 90 in bar 2; the signal stays 1, so no new order
    assert len(res.trades) == 1
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 9_000.0, 9_000.0, 9_000.0])
    assert res.stats["exposure"] == approx(1 / 5)  # only bar 1's close finds a position


def test_a_changed_signal_after_a_stop_re_enters(run: Run) -> None:
    rows = [flat(100), flat(100), (95, 95, 85, 90), flat(90), flat(90), (90, 99, 90, 99)]
    res = run(rows, [1, 1, 1, 0, 1, H], stop_loss=0.1)
    # stopped at 90 in bar 2; 0 then 1 buys 9000 / 90 = 100 units at open[5]; mark 100 × 99
    assert len(res.trades) == 1
    assert res.equity.iloc[-1] == approx(9_900.0)
    assert res.stats["exposure"] == approx(2 / 6)  # bars 1 and 5


def test_a_new_value_re_enters_after_a_stop_even_when_both_cap_to_the_same_target(
    run: Run,
) -> None:
    # Reading pinned here: "differs" compares the signal values as given, before the cap.
    rows = [flat(100), flat(100), (95, 95, 85, 90), (90, 99, 90, 99)]
    res = run(rows, [2.0, NAN, 3.0, NAN], stop_loss=0.1)
    # 2.0 → capped 1: 100 units at 100; stopped at 90 in bar 2 → cash 9000
    # 3.0 differs from 2.0 (both cap to 1): buy 9000 / 90 = 100 units at open[3]; mark 100 × 99
    assert len(res.trades) == 1
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 9_000.0, 9_900.0])
    assert res.stats["exposure"] == approx(2 / 4)


# -- timing --------------------------------------------------------------------

TIMING_ROWS = [flat(100), (80, 110, 80, 110), flat(121)]


def test_fill_close_fills_a_signal_at_its_own_bars_close(run: Run) -> None:
    res = run(TIMING_ROWS, [1, H, H], fill="close")
    # buy 100 units at close[0] = 100: marks 100 × 100, 100 × 110, 100 × 121
    assert res.equity.tolist() == approx([10_000.0, 11_000.0, 12_100.0])


def test_fill_next_open_fills_a_signal_at_the_next_open(run: Run) -> None:
    res = run(TIMING_ROWS, [1, H, H], fill="next_open")
    # buy 10000 / 80 = 125 units at open[1] = 80: marks 10000, 125 × 110, 125 × 121
    assert res.equity.tolist() == approx([10_000.0, 13_750.0, 15_125.0])


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_a_signal_on_the_last_bar_never_fills(run: Run, fill: str) -> None:
    rows = [flat(100), flat(100), flat(100)]
    res = run(rows, [0, 0, 1], fill=fill, close_at_end=True, fee_rate=0.01)
    assert res.trades.empty
    assert res.equity.tolist() == [10_000.0, 10_000.0, 10_000.0]
    assert res.stats["total_fees"] == 0.0
    assert res.stats["exposure"] == 0.0


END_ROWS = [flat(100), (100, 110, 100, 110), (110, 111, 109, 110)]


def test_an_open_position_is_only_marked_at_the_end(run: Run) -> None:
    res = run(END_ROWS, [1, H, H], initial_capital=10_100, fee_rate=0.01)
    # 100 units at 100 (fee 100, cash 0); marks 10100, 11000, 11000; no closed trade
    assert res.equity.tolist() == approx([10_100.0, 11_000.0, 11_000.0])
    assert res.trades.empty
    assert res.stats["total_trades"] == 0.0
    assert res.stats["total_fees"] == approx(100.0)
    assert res.stats["exposure"] == approx(2 / 3)  # bars 1 and 2


def test_close_at_end_closes_at_the_last_close(run: Run) -> None:
    res = run(END_ROWS, [1, H, H], initial_capital=10_100, fee_rate=0.01, close_at_end=True)
    t = only_trade(res)
    # sell 100 at close[2] = 110, fee 110 → cash 10890; pnl 1000 − 100 − 110 = 790
    assert (t["exit_bar"], t["exit_reason"]) == (2, "end")
    assert t["pnl"] == approx(790.0)
    assert res.equity.tolist() == approx([10_100.0, 11_000.0, 10_890.0])
    assert res.stats["final_equity"] == approx(10_890.0)
    assert res.stats["total_fees"] == approx(210.0)
    # Reading pinned here: the closing fill at the last close comes before that
    # close's mark (as any fill at a close does), so only bar 1 counts as exposed.
    assert res.stats["exposure"] == approx(1 / 3)


# -- signals -------------------------------------------------------------------

HOLD_ROWS = [flat(100), flat(100), flat(150), flat(50)]


def test_hold_keeps_the_position(run: Run) -> None:
    res = run(HOLD_ROWS, [1, H, H, H])
    # 100 units all along: marks 100 × close
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 15_000.0, 5_000.0])
    assert res.trades.empty


@pytest.mark.parametrize("signal", [[0.5, NAN, NAN, NAN], [0.5, 0.5, 0.5, 0.5]])
def test_nan_and_a_repeated_float_keep_the_position_without_rebalancing(run: Run, signal: list) -> None:
    res = run(HOLD_ROWS, signal)
    # 50 units at 100, cash 5000: marks 5000 + 50 × close (no resizing as prices move)
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 12_500.0, 7_500.0])
    assert res.trades.empty


@pytest.mark.parametrize("signal", [[1, -1, H, H], [1.0, -0.5, NAN, NAN]])
def test_without_shorts_a_short_signal_means_flat(run: Run, signal: list) -> None:
    rows = [flat(100), flat(100), flat(110), flat(90)]
    res = run(rows, signal, allow_short=False)
    t = only_trade(res)
    # long 100 units at 100, closed at open[2] = 110; no short follows
    assert (t["direction"], t["exit_bar"], t["exit_reason"]) == ("long", 2, "signal")
    assert res.equity.tolist() == approx([10_000.0, 10_000.0, 11_000.0, 11_000.0])
    assert res.stats["exposure"] == approx(1 / 4)


# -- metrics -------------------------------------------------------------------


def test_equity_path_metrics(run: Run) -> None:
    # All in at close[0] = 100 with capital 100: 1 unit, cash 0, equity = close.
    closes = [100.0, 120.0, 90.0, 108.0, 135.0, 121.5]
    res = run([flat(c) for c in closes], [1, H, H, H, H, H], initial_capital=100, fill="close", periods_per_year=4.0)
    s = res.stats
    assert res.equity.tolist() == approx(closes)
    # r = 0, 0.2, −0.25, 0.2, 0.25, −0.1: mean 0.3 / 6 = 0.05
    # deviations −0.05, 0.15, −0.3, 0.15, 0.2, −0.15: squares sum to 0.2,
    # var 0.2 / 5 = 0.04, std 0.2
    assert s["sharpe"] == approx(0.05 / 0.2 * 2)  # × √4
    assert s["volatility"] == approx(0.2 * 2)
    # downside: (0.25² + 0.1²) / 6 = 0.0725 / 6
    assert s["sortino"] == approx(0.05 / math.sqrt(0.0725 / 6) * 2)
    assert s["total_return"] == approx(0.215)
    assert s["annual_return"] == approx(1.215 ** (4 / 6) - 1)
    # peaks 100, 120, 120, 120, 135, 135: drawdowns 0, 0, 0.25, 0.1, 0, 0.1
    assert s["max_drawdown"] == approx(0.25)
    assert s["max_drawdown_duration"] == 2.0  # bars 2 and 3
    assert s["calmar"] == approx((1.215 ** (4 / 6) - 1) / 0.25)
    assert s["exposure"] == 1.0  # the fill at close[0] comes before that mark


def test_trade_metrics(run: Run) -> None:
    # fill="close", capital 128, no costs; every number below is exact in binary.
    closes = [64.0, 96.0, 96.0, 72.0, 48.0, 48.0, 36.0, 36.0]
    signal = [1, 0, 1, H, 0, -1, 0, H]
    rows = [flat(c) for c in closes]
    res = run(rows, signal, initial_capital=128, fill="close", allow_short=True)
    # buy 2 at 64, sell at 96: pnl +64, return 0.5, 1 bar          → equity 192
    # buy 2 at 96, sell at 48: pnl −96, return −0.5, 2 bars        → equity 96
    # short 2 at 48, cover at 36: pnl +24, return 0.25, 1 bar      → equity 120
    assert res.trades["pnl"].tolist() == approx([64.0, -96.0, 24.0])
    assert res.trades["return"].tolist() == approx([0.5, -0.5, 0.25])
    assert res.equity.tolist() == approx([128.0, 192.0, 192.0, 144.0, 96.0, 96.0, 120.0, 120.0])
    s = res.stats
    assert s["total_trades"] == 3.0
    assert s["win_rate"] == approx(2 / 3)
    assert s["profit_factor"] == approx(88 / 96)  # (64 + 24) / 96
    assert s["avg_trade_return"] == approx(0.25 / 3)
    assert (s["best_trade"], s["worst_trade"]) == (approx(0.5), approx(-0.5))
    assert s["avg_win"] == approx(0.375)  # (0.5 + 0.25) / 2
    assert s["avg_loss"] == approx(-0.5)
    assert s["expectancy"] == approx(-8 / 3)  # (64 − 96 + 24) / 3
    assert s["avg_bars_held"] == approx(4 / 3)  # (1 + 2 + 1) / 3
    # a position at the closes of bars 0, 2, 3, 5 (entries at a close count, exits do not)
    assert s["exposure"] == approx(4 / 8)
    # peak 192 from bar 1; below it at bars 3..7: 144, 96, 96, 120, 120
    assert s["max_drawdown"] == approx(0.5)  # 1 − 96 / 192
    assert s["max_drawdown_duration"] == 5.0
    assert s["net_pnl"] == approx(-8.0)  # 120 − 128


def test_profit_factor_is_infinite_with_only_wins_and_nan_without_trades(run: Run) -> None:
    rows = [flat(100), flat(100), flat(110), flat(110)]
    wins = run(rows, [1, H, 0, H]).stats
    # one trade, +1000, no losses
    assert wins["profit_factor"] == math.inf
    assert wins["win_rate"] == 1.0
    assert math.isnan(wins["avg_loss"])
    none = run(rows, [0, 0, 0, 0]).stats
    for name in (
        "win_rate",
        "profit_factor",
        "avg_trade_return",
        "best_trade",
        "worst_trade",
        "avg_win",
        "avg_loss",
        "expectancy",
        "avg_bars_held",
    ):
        assert math.isnan(none[name]), name
    assert none["total_trades"] == 0.0


def test_ratios_without_variance_or_drawdown_are_nan(run: Run) -> None:
    s = run([flat(100)] * 4, [0, 0, 0, 0]).stats
    # equity 10000 throughout: r = 0, std 0, no downside, no drawdown
    assert math.isnan(s["sharpe"]) and math.isnan(s["sortino"]) and math.isnan(s["calmar"])
    assert s["volatility"] == 0.0
    assert s["max_drawdown"] == 0.0 and s["max_drawdown_duration"] == 0.0
    assert s["total_return"] == 0.0 and s["annual_return"] == 0.0
    one = run([flat(100)], [1]).stats
    # one bar: std with ddof=1 is undefined
    assert math.isnan(one["sharpe"]) and math.isnan(one["volatility"])

"""Peer check: anvil's core against vectorbt's ``Portfolio.from_signals`` on real S&P 500 bars.

Both run the settings they can both express — fill at the close, a fee fraction (and
slippage), all-in sizing — and must agree to 1e-6 relative on total return, final
equity, closed trades, max drawdown, Sharpe, every point of the equity curve and every
closed trade. Each place where the two differ by design is adjusted for in one
commented line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt

import engine

RTOL = 1e-6
CAPITAL = 10_000.0
PPY = 252.0
# vectorbt annualises with year_freq / freq: 252 days / 1 day = anvil's periods_per_year.
FREQ, YEAR_FREQ = "1D", f"{PPY:g} days"


# -- strategies (real ones, on the real series) ----------------------------------------


def sma_cross(close: pd.Series, fast: int, slow: int, short: bool) -> np.ndarray:
    """1 while the fast SMA is above the slow one, else 0 (-1 with ``short``); 0 during warm-up."""
    above = close.rolling(fast).mean() > close.rolling(slow).mean()
    below = -1 if short else 0
    sig = np.where(above, 1, below)
    sig[close.rolling(slow).mean().isna().to_numpy()] = 0
    return sig.astype(np.int8)


def sma_band(close: pd.Series, window: int, band: float) -> np.ndarray:
    """Long above the SMA by more than ``band``, short below it by more, flat in between."""
    sma = close.rolling(window).mean()
    sig = np.where(close > sma * (1 + band), 1, np.where(close < sma * (1 - band), -1, 0))
    return sig.astype(np.int8)


# -- the two engines ---------------------------------------------------------------------


def run_anvil(
    bars: engine.Bars, signal: np.ndarray, fee: float, slippage: float, short: bool, **extra
) -> engine.Result:
    cfg = engine.Config(
        initial_capital=CAPITAL,
        fee_rate=fee,
        slippage_bps=slippage * 1e4,
        fill="close",
        allow_short=short,
        periods_per_year=PPY,
        **extra,
    )
    return engine.backtest(bars, signal, cfg)


def vbt_signals(signal: np.ndarray) -> dict[str, np.ndarray]:
    """anvil's target-state signal(s) ``[n_bars]`` or ``[n_runs, n_bars]`` as vectorbt's four
    direction-aware signal arrays, time along the first axis."""
    sig = np.asarray(signal).T
    arrays = {
        "entries": sig == 1,
        "exits": sig == 0,
        "short_entries": sig == -1,
        "short_exits": sig == 0,
    }
    for a in arrays.values():
        # anvil never fills a signal on the last bar (nothing comes after it); vectorbt would.
        a[-1] = False
    return arrays


def run_vbt(close: pd.Series | pd.DataFrame, signal: np.ndarray, fee: float, slippage: float):
    return vbt.Portfolio.from_signals(
        close,
        **vbt_signals(signal),
        fees=fee,
        slippage=slippage,
        init_cash=CAPITAL,
        size=np.inf,  # all in: as many units as cash buys after fees, like anvil's sizing
        # A flip is one reversing order in vectorbt and two (close, then open) in anvil: the
        # same units and fees for a fee fraction, which is why no fixed fee is compared.
        upon_opposite_entry="reverse",
        freq=FREQ,
    )


def vbt_stats(pf) -> dict[str, float]:
    return {
        "total_return": float(pf.total_return()),
        "final_equity": float(pf.final_value()),
        # anvil counts closed trades only (close_at_end=False); vectorbt also lists the open one.
        "total_trades": float(pf.trades.closed.count()),
        # vectorbt's drawdowns are negative and its peak starts at the first bar, not the initial
        # capital: the same here, as every strategy starts flat.
        "max_drawdown": -float(pf.max_drawdown()),
        "sharpe": float(pf.get_returns_acc(year_freq=YEAR_FREQ).sharpe_ratio()),
    }


COMPARED = ("total_return", "final_equity", "total_trades", "max_drawdown", "sharpe")


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def close(sp500_df: pd.DataFrame) -> pd.Series:
    return pd.Series(sp500_df["close"].to_numpy(), index=pd.DatetimeIndex(sp500_df["ts"]))


def flips_on_the_last_bar(close: pd.Series) -> np.ndarray:
    """SMA 20/100 long/short with a flip on the last bar, which must not fill."""
    sig = sma_cross(close, 20, 100, short=True)
    sig[-1] = -sig[-2]
    return sig


# name -> (signal from the closes, whether it goes short)
STRATEGIES = {
    "sma 10/50 long": (lambda c: sma_cross(c, 10, 50, short=False), False),
    "sma 20/100 long": (lambda c: sma_cross(c, 20, 100, short=False), False),
    "sma 10/50 long/short": (lambda c: sma_cross(c, 10, 50, short=True), True),
    "sma 20/100 long/short": (lambda c: sma_cross(c, 20, 100, short=True), True),
    "sma 50 band 2% long/flat/short": (lambda c: sma_band(c, 50, 0.02), True),
    "sma 20/100 long/short, flips on the last bar": (flips_on_the_last_bar, True),
}


def strategy_signal(close: pd.Series, name: str) -> tuple[np.ndarray, bool]:
    make, short = STRATEGIES[name]
    return make(close), short


COSTS = [(0.001, 0.0), (0.0, 0.0), (0.0005, 0.0002)]  # (fee fraction, slippage fraction)


# -- the checks ----------------------------------------------------------------------------


@pytest.mark.parametrize("fee, slippage", COSTS, ids=lambda v: f"{v:g}")
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_stats_and_equity_agree(sp500_bars, close, strategy, fee, slippage):
    signal, short = strategy_signal(close, strategy)
    res = run_anvil(sp500_bars, signal, fee, slippage, short)
    pf = run_vbt(close, signal, fee, slippage)

    assert res.stats["total_trades"] > 10, "the strategy should trade enough to be a check"
    theirs = vbt_stats(pf)
    for name in COMPARED:
        assert res.stats[name] == pytest.approx(theirs[name], rel=RTOL), name
    np.testing.assert_allclose(res.equity.to_numpy(), pf.value().to_numpy(), rtol=RTOL)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_closed_trades_agree(sp500_bars, close, strategy):
    signal, short = strategy_signal(close, strategy)
    fee, slippage = 0.001, 0.0002
    ours = run_anvil(sp500_bars, signal, fee, slippage, short).trades
    theirs = run_vbt(close, signal, fee, slippage).trades.closed.records

    assert len(ours) == len(theirs) > 10
    np.testing.assert_array_equal(ours["entry_bar"], theirs["entry_idx"])
    np.testing.assert_array_equal(ours["exit_bar"], theirs["exit_idx"])
    sides = np.where(theirs["direction"] == 0, "long", "short")  # vectorbt: 0 long, 1 short
    np.testing.assert_array_equal(ours["direction"], sides)
    for a, b in [("units", "size"), ("entry_price", "entry_price"), ("exit_price", "exit_price"),
                 ("entry_fees", "entry_fees"), ("exit_fees", "exit_fees"), ("pnl", "pnl"),
                 ("return", "return")]:  # fmt: skip
        np.testing.assert_allclose(ours[a].to_numpy(), theirs[b], rtol=RTOL, err_msg=a)


def test_open_position_at_the_end_is_the_one_vectorbt_lists_as_open(sp500_bars, close):
    # SMA 20/100 long/short holds a position on the last bar of the series.
    signal, short = strategy_signal(close, "sma 20/100 long/short")
    fee = 0.001
    pf = run_vbt(close, signal, fee, 0.0)
    open_trades = pf.trades.open.records
    assert len(open_trades) == 1

    kept = run_anvil(sp500_bars, signal, fee, 0.0, short)
    closed = run_anvil(sp500_bars, signal, fee, 0.0, short, close_at_end=True)
    assert kept.stats["total_trades"] == pf.trades.closed.count()
    assert closed.stats["total_trades"] == pf.trades.count()
    last = closed.trades.iloc[-1]
    assert last["exit_reason"] == "end"
    assert last["entry_bar"] == open_trades["entry_idx"][0]
    assert last["units"] == pytest.approx(open_trades["size"][0], rel=RTOL)
    # vectorbt marks its open trade at the last close without an exit fee; anvil pays one.
    assert last["pnl"] == pytest.approx(open_trades["pnl"][0] - last["exit_fees"], rel=RTOL)


def test_batch_agrees_with_vectorbt_columns(sp500_bars, close):
    pairs = [(5, 20), (10, 30), (10, 50), (20, 50), (20, 100), (50, 200)]
    signals = np.stack([sma_cross(close, f, s, short=True) for f, s in pairs])
    fee = 0.001
    cfg = engine.Config(
        initial_capital=CAPITAL, fee_rate=fee, fill="close", allow_short=True, periods_per_year=PPY
    )
    table = engine.run_batch(sp500_bars, signals, cfg, threads=2)

    columns = pd.DataFrame(
        np.repeat(close.to_numpy()[:, None], len(pairs), axis=1), index=close.index
    )
    pf = run_vbt(columns, signals, fee, 0.0)
    theirs = {
        "total_return": pf.total_return().to_numpy(),
        "final_equity": pf.final_value().to_numpy(),
        "total_trades": pf.trades.closed.count().to_numpy().astype(float),
        "max_drawdown": -pf.max_drawdown().to_numpy(),
        "sharpe": pf.get_returns_acc(year_freq=YEAR_FREQ).sharpe_ratio().to_numpy(),
    }
    for name in COMPARED:
        np.testing.assert_allclose(table[name].to_numpy(), theirs[name], rtol=RTOL, err_msg=name)

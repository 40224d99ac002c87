"""Each built-in strategy's trades, checked against the rule its docstring states.

The rules are recomputed here on their own — pandas rolling windows, TA-Lib for
the EMA- and Wilder-smoothed indicators, plain loops for entries and exits — and
every backtest on real data must open and close its trades exactly where the rule
says: a position the rule asks for at bar t is entered (or left) at the open of
bar t + 1.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
import talib

import engine
import strategies
from strategies.library import (
    AtrChannelBreakout,
    BollingerReversion,
    DonchianBreakout,
    DualTimeframeTrend,
    EmaCross,
    MacdCross,
    RocMomentum,
    RsiMacd,
    RsiReversion,
    SmaCross,
    VwapReversion,
    ZScoreReversion,
)

FILES = {"sp500": "sp500_daily", "nasdaq": "nasdaq_daily", "eurusd": "eurusd_hourly"}
MIN_TRADES = 20


@pytest.fixture(scope="module")
def market(shared_data) -> dict[str, tuple[pd.DataFrame, engine.Bars]]:
    """Each real series as a DataFrame (for the rules) and as Bars (for the backtests)."""
    out = {}
    for key, stem in FILES.items():
        df = pd.read_parquet(shared_data / f"{stem}.parquet").reset_index(drop=True)
        out[key] = (df, engine.Bars.from_pandas(df))
    return out


# -- the rules, recomputed ----------------------------------------------------------


def follow(enter_long, exit_long, enter_short=None, exit_short=None) -> np.ndarray:
    """The position entry and exit events ask for, bar by bar: exits close their own
    side, then an entry opens (or reverses into) its side; flat at the start."""
    n = len(enter_long)
    never = np.zeros(n, bool)
    enter_short = never if enter_short is None else np.asarray(enter_short)
    exit_short = never if exit_short is None else np.asarray(exit_short)
    # The library's rules never enter and leave one side on the same bar, nor enter both.
    assert not (enter_long & exit_long).any()
    assert not (enter_short & exit_short).any()
    assert not (enter_long & enter_short).any()
    pos, out = 0, np.zeros(n, np.int64)
    for t in range(n):
        if (pos == 1 and exit_long[t]) or (pos == -1 and exit_short[t]):
            pos = 0
        if enter_long[t]:
            pos = 1
        elif enter_short[t]:
            pos = -1
        out[t] = pos
    return out


def above_below(a, b, short: bool) -> np.ndarray:
    """1 where a > b, -1 where a < b (when short), else 0; NaN is neither."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.where(a > b, 1, np.where(short & (a < b), -1, 0))


def crosses_up(a, b) -> np.ndarray:
    """a[t] > b[t] and a[t-1] < b[t-1] (the data holds no exact ties; asserted)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert not (a == b).any()
    out = np.zeros(len(a), bool)
    out[1:] = (a[1:] > b[1:]) & (a[:-1] < b[:-1])
    return out


def sma_cross(df, fast, slow, short):
    c = df.close
    return above_below(c.rolling(fast).mean(), c.rolling(slow).mean(), short)


def ema_cross(df, fast, slow, short):
    c = df.close.to_numpy()
    return above_below(talib.EMA(c, fast), talib.EMA(c, slow), short)


def macd_cross(df, fast, slow, signal, short):
    line, sig, _ = talib.MACD(df.close.to_numpy(), fast, slow, signal)
    return above_below(line, sig, short)


def rsi_reversion(df, period, lower, upper, exit_level, short):
    r = talib.RSI(df.close.to_numpy(), period)
    if not short:
        return follow(r < lower, r > exit_level)
    return follow(r < lower, r > exit_level, r > upper, r < exit_level)


def bollinger_reversion(df, period, stdevs, short):
    c = df.close
    mid, sd = c.rolling(period).mean(), c.rolling(period).std(ddof=0)
    c, mid, sd = c.to_numpy(), mid.to_numpy(), sd.to_numpy()
    lower, upper = mid - stdevs * sd, mid + stdevs * sd
    if not short:
        return follow(c < lower, c > mid)
    return follow(c < lower, c > mid, c > upper, c < mid)


def zscore_reversion(df, period, entry_z, exit_z, short):
    c = df.close
    z = ((c - c.rolling(period).mean()) / c.rolling(period).std(ddof=0)).to_numpy()
    if not short:
        return follow(z < -entry_z, z > -exit_z)
    return follow(z < -entry_z, z > -exit_z, z > entry_z, z < exit_z)


def donchian_breakout(df, entry_period, exit_period, short):
    c = df.close.to_numpy()

    def prior_high(k):  # max(high[t-k .. t-1])
        return df.high.rolling(k).max().shift(1).to_numpy()

    def prior_low(k):  # min(low[t-k .. t-1])
        return df.low.rolling(k).min().shift(1).to_numpy()

    enter_long, exit_long = c > prior_high(entry_period), c < prior_low(exit_period)
    if not short:
        return follow(enter_long, exit_long)
    return follow(enter_long, exit_long, c < prior_low(entry_period), c > prior_high(exit_period))


def atr_channel_breakout(df, period, atr_period, mult, short):
    h, lo, c = (df[k].to_numpy() for k in ("high", "low", "close"))
    mid = talib.EMA(c, period)
    width = mult * talib.ATR(h, lo, c, atr_period)
    if not short:
        return follow(c > mid + width, c < mid)
    return follow(c > mid + width, c < mid, c < mid - width, c > mid)


def roc_momentum(df, period, threshold, short):
    c = df.close.to_numpy()
    roc = np.full(len(c), np.nan)
    roc[period:] = (c[period:] / c[:-period] - 1.0) * 100.0
    return np.where(roc > threshold, 1, np.where(short & (roc < -threshold), -1, 0))


def dual_timeframe_trend(df, bucket, trend, entry, short):
    c = df.close.to_numpy()
    ema = talib.EMA(c, entry)
    done: list[float] = []  # closes of the higher-timeframe bars completed so far
    out = np.zeros(len(c), np.int64)
    for t in range(len(c)):
        if (t + 1) % bucket == 0:
            done.append(c[t])
        if len(done) < trend:
            continue
        higher = np.sign(done[-1] - np.mean(done[-trend:]))
        if higher > 0 and c[t] > ema[t]:
            out[t] = 1
        elif short and higher < 0 and c[t] < ema[t]:
            out[t] = -1
    return out


def vwap_reversion(df, period, band, short):
    typical = (df.high + df.low + df.close) / 3
    v = ((typical * df.volume).rolling(period).sum() / df.volume.rolling(period).sum()).to_numpy()
    h, lo, c = (df[k].to_numpy() for k in ("high", "low", "close"))
    width = band * talib.ATR(h, lo, c, period)
    if not short:
        return follow(c < v - width, c > v)
    return follow(c < v - width, c > v, c > v + width, c < v)


def rsi_macd(df, fast, slow, signal, rsi_period, entry_rsi, exit_rsi, short):
    c = df.close.to_numpy()
    line, sig, _ = talib.MACD(c, fast, slow, signal)
    r = talib.RSI(c, rsi_period)
    enter_long = crosses_up(line, sig) & (r < entry_rsi)
    exit_long = (line < sig) | (r > exit_rsi)
    if not short:
        return follow(enter_long, exit_long)
    enter_short = crosses_up(sig, line) & (r > 100 - entry_rsi)
    exit_short = (line > sig) | (r < 100 - exit_rsi)
    return follow(enter_long, exit_long, enter_short, exit_short)


RULES: dict[type[strategies.Strategy], Callable[..., np.ndarray]] = {
    SmaCross: sma_cross,
    EmaCross: ema_cross,
    MacdCross: macd_cross,
    RsiReversion: rsi_reversion,
    BollingerReversion: bollinger_reversion,
    ZScoreReversion: zscore_reversion,
    DonchianBreakout: donchian_breakout,
    AtrChannelBreakout: atr_channel_breakout,
    RocMomentum: roc_momentum,
    DualTimeframeTrend: dual_timeframe_trend,
    VwapReversion: vwap_reversion,
    RsiMacd: rsi_macd,
}

# (strategy, series, parameters): defaults long-only on the S&P 500, other settings
# long and short on the NASDAQ and on hourly EUR/USD.
CASES: list[tuple[type[strategies.Strategy], str, dict[str, Any]]] = [
    (SmaCross, "sp500", {}),
    (SmaCross, "nasdaq", {"fast": 20, "slow": 100, "short": True}),
    (SmaCross, "eurusd", {"fast": 5, "slow": 50, "short": True}),
    (EmaCross, "sp500", {}),
    (EmaCross, "nasdaq", {"fast": 8, "slow": 40, "short": True}),
    (EmaCross, "eurusd", {"short": True}),
    (MacdCross, "sp500", {}),
    (MacdCross, "nasdaq", {"fast": 8, "slow": 21, "signal": 5, "short": True}),
    (MacdCross, "eurusd", {"short": True}),
    (RsiReversion, "sp500", {}),
    (RsiReversion, "nasdaq", {"period": 5, "lower": 25, "upper": 75, "exit_level": 55, "short": True}),
    (RsiReversion, "eurusd", {"period": 7, "short": True}),
    (BollingerReversion, "sp500", {}),
    (BollingerReversion, "nasdaq", {"period": 30, "stdevs": 1.5, "short": True}),
    (BollingerReversion, "eurusd", {"short": True}),
    (ZScoreReversion, "sp500", {}),
    (ZScoreReversion, "nasdaq", {"period": 50, "entry_z": 1.5, "exit_z": 0.0, "short": True}),
    (ZScoreReversion, "eurusd", {"short": True}),
    (DonchianBreakout, "sp500", {}),
    (DonchianBreakout, "nasdaq", {"entry_period": 55, "exit_period": 20, "short": True}),
    (DonchianBreakout, "eurusd", {"short": True}),
    (AtrChannelBreakout, "sp500", {}),
    (AtrChannelBreakout, "nasdaq", {"period": 50, "atr_period": 20, "mult": 1.5, "short": True}),
    (AtrChannelBreakout, "eurusd", {"short": True}),
    (RocMomentum, "sp500", {}),
    (RocMomentum, "nasdaq", {"period": 60, "threshold": 2.5, "short": True}),
    (RocMomentum, "eurusd", {"period": 24, "threshold": 0.5, "short": True}),
    (DualTimeframeTrend, "sp500", {}),
    (DualTimeframeTrend, "nasdaq", {"bucket": 21, "trend": 6, "entry": 10, "short": True}),
    (DualTimeframeTrend, "eurusd", {"bucket": 24, "trend": 5, "entry": 12, "short": True}),
    (VwapReversion, "sp500", {}),
    (VwapReversion, "nasdaq", {"period": 50, "band": 1.5, "short": True}),
    (VwapReversion, "eurusd", {"short": True}),
    (RsiMacd, "sp500", {}),
    (RsiMacd, "nasdaq", {"rsi_period": 7, "entry_rsi": 50, "exit_rsi": 80, "short": True}),
    (RsiMacd, "eurusd", {"short": True}),
]


def expected_trades(position: np.ndarray, n: int) -> list[tuple[int, int, str, str]]:
    """(entry_bar, exit_bar, direction, exit_reason) of the trades a position path
    makes under the fill model: a change at bar t fills at the open of t + 1, none
    on the last bar; what is open at the end closes there (``close_at_end``)."""
    rows, held, entry = [], 0, -1
    side = {1: "long", -1: "short"}
    for t in range(n - 1):
        want = int(position[t])
        if want != held:
            if held:
                rows.append((entry, t + 1, side[held], "signal"))
            entry = t + 1
            held = want
    if held:
        rows.append((entry, n - 1, side[held], "end"))
    return rows


def case_id(case) -> str:
    cls, series, params = case
    return f"{cls.name}-{series}" + ("-short" if params.get("short") else "")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trades_follow_the_stated_rule(market, case):
    cls, series, params = case
    df, bars = market[series]
    full = cls.check(params)
    cfg = engine.Config(fee_rate=0.001, close_at_end=True, allow_short=full["short"])
    res = strategies.run(cls, bars, cfg, params)
    trades = res.trades
    got = list(
        zip(trades.entry_bar.tolist(), trades.exit_bar.tolist(), trades.direction.tolist(), trades.exit_reason.tolist())
    )
    rule = RULES[cls](df, **full)
    assert got == expected_trades(rule, len(df))
    assert len(got) >= MIN_TRADES
    if full["short"]:
        assert (trades.direction == "short").sum() >= MIN_TRADES // 2
    # The signal itself is the rule's position at every bar, not just at the changes.
    assert np.array_equal(strategies.signal(cls, bars, params), rule)


def test_every_strategy_has_cases_long_and_short_on_each_series():
    for cls in RULES:
        mine = [(s, p.get("short", False)) for c, s, p in CASES if c is cls]
        assert ("sp500", False) in mine and ("nasdaq", True) in mine and ("eurusd", True) in mine
    assert set(RULES) == set(strategies.library.LIBRARY)


def test_sma_cross_entries_and_exits_sit_on_the_crossings(market):
    """The issue's own reading of the rule, trade by trade: each long enters the bar
    after fast rose above slow and leaves the bar after it fell back."""
    df, bars = market["sp500"]
    res = strategies.run(SmaCross, bars, engine.Config(), {"fast": 10, "slow": 20})
    above = (df.close.rolling(10).mean() > df.close.rolling(20).mean()).to_numpy()
    assert len(res.trades) >= MIN_TRADES
    for e, x in zip(res.trades.entry_bar, res.trades.exit_bar):
        assert above[e - 1] and not above[e - 2]
        assert not above[x - 1] and above[x - 2]
        assert above[e - 1 : x - 1].all()

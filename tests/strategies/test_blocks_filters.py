"""strategies.blocks.filters: entry gates (time of day, volatility) and drawdown pauses."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import HOLD
from strategies.blocks import (
    allow_entries,
    drawdown_pause,
    effective_position,
    in_window,
    realised_volatility,
    time_of_day,
    volatility_band,
)

H = HOLD
nan = np.nan


# -- reference loops, written from the docstrings ----------------------------


def _missing(v) -> bool:
    return v == HOLD if isinstance(v, (int, np.integer)) else bool(np.isnan(v))


def gate_by_loop(sig, allowed) -> list:
    """Blocked bars: an entry from flat becomes HOLD/NaN, a flip or exit becomes 0."""
    out, pos = [], 0
    blocked_value = HOLD if np.asarray(sig).dtype == np.int8 else nan
    for v, ok in zip(sig, allowed):
        if _missing(v):
            out.append(v)
        elif ok or np.sign(v) == np.sign(pos):
            out.append(v)
            pos = v
        elif pos != 0:
            out.append(0)
            pos = 0
        else:
            out.append(blocked_value)
    return out


def pause_by_loop(sig, close, max_dd, pause_bars) -> list:
    wanted = effective_position(sig)
    out, pos, equity, peak, paused_until = [], 0.0, 1.0, 1.0, -1
    for t, v in enumerate(sig):
        if t > 0:
            equity *= 1.0 + pos * (close[t] / close[t - 1] - 1.0)
        if t < paused_until:
            out.append(0)
            continue
        if t == paused_until:
            v = wanted[t]
            equity = peak = 1.0
        peak = max(peak, equity)
        if 1.0 - equity / peak > max_dd:
            out.append(0)
            pos, paused_until = 0.0, t + pause_bars
            continue
        out.append(v)
        if not _missing(v):
            pos = float(v)
    return out


int_values = st.sampled_from([1, 0, -1, HOLD])
float_values = st.one_of(st.sampled_from([0.0, nan]), st.floats(-1.5, 1.5, width=16))


def hours(start: str, n: int) -> np.ndarray:
    """n hourly bar times from ``start`` (UTC) as int64 ns, like engine.Bars.ts."""
    return pd.date_range(start, periods=n, freq="h").as_unit("ns").asi8


# -- allow_entries ------------------------------------------------------------------


def test_allow_entries_int_known_answers():
    sig = np.array([1, 1, 0, 1, H, -1, 1, 0], dtype=np.int8)
    ok = np.array([0, 1, 1, 0, 1, 0, 1, 0], dtype=bool)
    # blocked entry from flat -> HOLD; an exit at a blocked bar passes
    assert allow_entries(sig, ok).tolist() == [H, 1, 0, H, H, H, 1, 0]
    # a flip at a blocked bar closes without opening; same side passes
    assert allow_entries(np.array([1, -1, -1, 1], np.int8), [1, 0, 0, 1]).tolist() == [1, 0, H, 1]
    assert allow_entries(np.array([1, 1, H, 1], np.int8), [1, 0, 0, 0]).tolist() == [1, 1, H, 1]
    # a state signal enters at the first allowed bar; an event signal does not
    assert allow_entries(np.array([1, 1, 1], np.int8), [0, 0, 1]).tolist() == [H, H, 1]
    assert allow_entries(np.array([1, H, H], np.int8), [0, 0, 1]).tolist() == [H, H, H]


def test_allow_entries_float_known_answers():
    sig = pd.Series([0.5, 1.0, nan, -0.5, 0.0, 0.3])
    out = allow_entries(sig, [1, 0, 0, 0, 0, 0])
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    # resizing the same side passes; a flip closes only; an entry from flat is NaN
    np.testing.assert_array_equal(out, [0.5, 1.0, nan, 0.0, 0.0, nan])


@given(st.lists(st.tuples(int_values, st.booleans()), max_size=40))
def test_allow_entries_follows_the_rule_int(rows):
    sig = np.array([r[0] for r in rows], dtype=np.int8)
    ok = np.array([r[1] for r in rows], dtype=bool)
    assert allow_entries(sig, ok).tolist() == gate_by_loop(sig, ok)


@given(st.lists(st.tuples(float_values, st.booleans()), max_size=40))
def test_allow_entries_follows_the_rule_float(rows):
    sig = np.array([r[0] for r in rows], dtype=float)
    ok = np.array([r[1] for r in rows], dtype=bool)
    np.testing.assert_array_equal(allow_entries(sig, ok), np.array(gate_by_loop(sig, ok), dtype=float))


@given(st.lists(st.tuples(int_values, st.booleans()), min_size=2, max_size=30), st.data())
def test_allow_entries_is_causal(rows, data):
    sig = np.array([r[0] for r in rows], dtype=np.int8)
    ok = np.array([r[1] for r in rows], dtype=bool)
    k = data.draw(st.integers(0, len(rows) - 1))
    sig2, ok2 = sig.copy(), ok.copy()
    sig2[k + 1 :], ok2[k + 1 :] = -1, ~ok[k + 1 :]
    assert (allow_entries(sig, ok)[: k + 1] == allow_entries(sig2, ok2)[: k + 1]).all()


def test_allow_entries_bad_input():
    with pytest.raises(ValueError, match="allowed has 2 values but signal has 3"):
        allow_entries(np.array([1, 0, 1]), [True, False])
    with pytest.raises(engine.InvalidSignalError, match=r"signal\[0\] is 5"):
        allow_entries(np.array([5]), [True])


# -- time_of_day --------------------------------------------------------------------


def test_time_of_day_known_answers():
    ts = hours("2024-01-02 06:00", 7)  # 06:00 .. 12:00 UTC
    sig = np.ones(7, dtype=np.int8)
    assert time_of_day(sig, ts, "08:00", "10:00").tolist() == [H, H, 1, 1, 1, 1, 1]
    assert time_of_day(sig, ts, "08:00", "10:00", flat_outside=True).tolist() == [0, 0, 1, 1, 0, 0, 0]
    # Berlin is UTC+1 in January, UTC+2 in July
    assert time_of_day(sig, ts, dt.time(9), dt.time(11), tz="Europe/Berlin").tolist() == [
        H,
        H,
        1,
        1,
        1,
        1,
        1,
    ]
    july = hours("2024-07-02 06:00", 7)
    assert time_of_day(sig, july, "09:00", "11:00", tz="Europe/Berlin", flat_outside=True).tolist() == [
        0,
        1,
        1,
        0,
        0,
        0,
        0,
    ]
    floats = np.array([nan, 0.5, 0.5, -0.5, nan, 0.0, 0.25])
    np.testing.assert_array_equal(time_of_day(floats, ts, "07:00", "09:00"), [nan, 0.5, 0.5, 0.0, nan, 0.0, nan])


def test_time_of_day_window_across_midnight_and_time_types():
    ts = hours("2024-03-01 20:00", 8)  # 20:00 .. 03:00
    assert in_window(ts, "22:00", "02:00").tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert in_window(ts, "22:30", "23:30").tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    as_datetime = pd.Series(pd.to_datetime(ts, utc=True)).dt.tz_convert("Asia/Tokyo")
    assert in_window(as_datetime, "22:00", "02:00").tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert in_window(ts.view("datetime64[ns]"), "21:00:00", "22:00").tolist() == [0, 1, 0, 0, 0, 0, 0, 0]
    seconds = ts.view("datetime64[ns]").astype("datetime64[s]")
    assert in_window(seconds, "21:00:00", "22:00").tolist() == [0, 1, 0, 0, 0, 0, 0, 0]


def test_time_of_day_bad_input():
    ts = hours("2024-01-02", 3)
    sig = np.array([1, 0, 1], dtype=np.int8)
    with pytest.raises(ValueError, match="start and end are both"):
        time_of_day(sig, ts, "09:00", "09:00")
    with pytest.raises(ValueError, match="start is '25:00'"):
        time_of_day(sig, ts, "25:00", "10:00")
    with pytest.raises(TypeError, match="end must be a time of day"):
        time_of_day(sig, ts, "09:00", 10)
    with pytest.raises(ValueError, match="tz is 'Mars/Olympus'"):
        time_of_day(sig, ts, "09:00", "10:00", tz="Mars/Olympus")
    with pytest.raises(ValueError, match="ts has 2 values but signal has 3"):
        time_of_day(sig, ts[:2], "09:00", "10:00")
    with pytest.raises(TypeError, match="ts must be bar times"):
        time_of_day(sig, ts.astype(float), "09:00", "10:00")
    with pytest.raises(TypeError, match="flat_outside must be True or False"):
        time_of_day(sig, ts, "09:00", "10:00", flat_outside="yes")


# -- volatility_band ----------------------------------------------------------------


# log returns 0.01, -0.01, 0.02, 0.0, 0.1, 0.1; lookback 2, one period a year:
# vol = [nan, nan, 0.0141, 0.0212, 0.0141, 0.0707, 0.0]
BAND_CLOSE = 100 * np.exp(np.cumsum([0.0, 0.01, -0.01, 0.02, 0.0, 0.1, 0.1]))


def test_volatility_band_known_answers():
    ones = np.ones(7, dtype=np.int8)
    band = {"low": 0.01, "high": 0.03, "lookback": 2, "periods_per_year": 1.0}
    assert volatility_band(ones, BAND_CLOSE, **band).tolist() == [H, H, 1, 1, 1, 1, 1]
    sig = np.array([1, 1, 0, 0, 0, 1, 1], dtype=np.int8)
    assert volatility_band(sig, BAND_CLOSE, **band).tolist() == [H, H, 0, 0, 0, H, H]
    assert volatility_band(ones, BAND_CLOSE, 0.05, math.inf, 2, 1.0).tolist() == [H, H, H, H, H, 1, 1]


def test_volatility_band_bad_input():
    sig = np.ones(7, dtype=np.int8)
    with pytest.raises(ValueError, match="high is 0.1"):
        volatility_band(sig, BAND_CLOSE, 0.2, 0.1)
    with pytest.raises(ValueError, match="low is -0.1"):
        volatility_band(sig, BAND_CLOSE, -0.1, 0.1)
    with pytest.raises(ValueError, match="close has 6 values"):
        volatility_band(sig, BAND_CLOSE[:6], 0.1, 0.2)
    with pytest.raises(ValueError, match="lookback is 1"):
        volatility_band(sig, BAND_CLOSE, 0.1, 0.2, lookback=1)


# -- drawdown_pause -----------------------------------------------------------------

DD_CLOSE = np.array([100.0, 100.0, 90.0, 80.0, 80.0, 90.0, 100.0, 90.0, 81.0])


def test_drawdown_pause_known_answers():
    # long: equity 1, 1, .9, .8 (drawdown .2 > .15 at bar 3) -> flat at bars 3, 4;
    # restart at 5: 1, 1.111, 1, .9 (drawdown .19 at bar 8) -> flat at 8
    ones = np.ones(9, dtype=np.int8)
    assert drawdown_pause(ones, DD_CLOSE, 0.15, 2).tolist() == [1, 1, 1, 0, 0, 1, 1, 1, 0]
    # an event signal resumes its position when the pause ends
    event = np.array([1] + [H] * 8, dtype=np.int8)
    assert drawdown_pause(event, DD_CLOSE, 0.15, 2).tolist() == [1, H, H, 0, 0, 1, H, H, 0]
    # half exposure: drawdown 0.1028 at bar 3; after the restart it stays under 0.1
    half = np.full(9, 0.5)
    np.testing.assert_array_equal(drawdown_pause(half, DD_CLOSE, 0.1, 2), [0.5, 0.5, 0.5, 0, 0, 0.5, 0.5, 0.5, 0.5])
    # a short loses as prices rise; a pause running past the end is cut there
    short = np.array([-1] * 5, dtype=np.int8)
    assert drawdown_pause(short, [100.0, 104.0, 110.0, 120.0, 130.0], 0.05, 10).tolist() == [
        -1,
        -1,
        0,
        0,
        0,
    ]
    # flat: never a drawdown
    assert drawdown_pause(np.zeros(9, np.int8), DD_CLOSE, 0.01, 3).tolist() == [0] * 9


@given(st.data())
def test_drawdown_pause_follows_the_rule(data):
    n = data.draw(st.integers(1, 40))
    steps = data.draw(st.lists(st.floats(-0.25, 0.25, width=16), min_size=n, max_size=n))
    close = 100 * np.exp(np.cumsum(steps))
    if data.draw(st.booleans()):
        sig = np.array(data.draw(st.lists(int_values, min_size=n, max_size=n)), np.int8)
    else:
        sig = np.array(data.draw(st.lists(float_values, min_size=n, max_size=n)), dtype=float)
    max_dd = data.draw(st.floats(0.01, 0.5))
    pause = data.draw(st.integers(1, 5))
    out = drawdown_pause(sig, close, max_dd, pause)
    expected = np.array(pause_by_loop(sig, close, max_dd, pause), dtype=sig.dtype)
    np.testing.assert_array_equal(out, expected)


def test_drawdown_pause_on_a_long_path_matches_the_loop():
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 20_000)))
    values = np.array([1, -1, 0, HOLD], dtype=np.int8)
    sig = rng.choice(values, size=20_000, p=[0.01, 0.01, 0.005, 0.975])
    out = drawdown_pause(sig, close, 0.2, 50)
    assert (out != sig).sum() > 100  # many pauses, across chunk boundaries
    np.testing.assert_array_equal(out, np.array(pause_by_loop(sig, close, 0.2, 50), dtype=np.int8))


@given(st.data())
def test_drawdown_pause_is_causal(data):
    n = data.draw(st.integers(2, 30))
    steps = data.draw(st.lists(st.floats(-0.25, 0.25, width=16), min_size=n, max_size=n))
    close = 100 * np.exp(np.cumsum(steps))
    sig = np.array(data.draw(st.lists(int_values, min_size=n, max_size=n)), np.int8)
    k = data.draw(st.integers(0, n - 2))
    close2, sig2 = close.copy(), sig.copy()
    close2[k + 1 :] *= 0.5
    sig2[k + 1 :] = 1
    a, b = drawdown_pause(sig, close, 0.1, 3), drawdown_pause(sig2, close2, 0.1, 3)
    assert (a[: k + 1] == b[: k + 1]).all()


def test_drawdown_pause_bad_input():
    sig = np.ones(9, dtype=np.int8)
    for bad in (0.0, 1.0, -0.2, nan):
        with pytest.raises(ValueError, match="max_drawdown is"):
            drawdown_pause(sig, DD_CLOSE, bad, 2)
    with pytest.raises(ValueError, match="pause_bars is 0"):
        drawdown_pause(sig, DD_CLOSE, 0.1, 0)
    with pytest.raises(TypeError, match="pause_bars must be a whole number"):
        drawdown_pause(sig, DD_CLOSE, 0.1, 2.0)
    with pytest.raises(ValueError, match=r"close\[0\] is -1"):
        drawdown_pause(sig, -DD_CLOSE, 0.1, 2)


# -- end to end ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def eurusd(shared_data):
    df = pd.read_parquet(shared_data / "eurusd_hourly.parquet")
    return df, engine.Bars.from_pandas(df)


def _sma_side(close: pd.Series, fast: int, slow: int) -> np.ndarray:
    f, s = close.rolling(fast).mean(), close.rolling(slow).mean()
    return np.where(f.isna() | s.isna(), 0, np.where(f > s, 1, -1)).astype(np.int8)


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_time_of_day_no_trade_enters_outside_the_window(eurusd, fill):
    df, bars = eurusd
    raw = _sma_side(df["close"], 5, 20)
    signal = time_of_day(raw, bars.ts, "08:00", "12:00", tz="Europe/London")
    window = in_window(bars.ts, "08:00", "12:00", tz="Europe/London")
    assert 0.1 < window.mean() < 0.25
    cfg = engine.Config(fill=fill, allow_short=True, close_at_end=True)
    trades = engine.backtest(bars, signal, cfg).trades
    assert len(trades) > 50
    # the bar whose signal opened each trade is in the window: the entry bar itself
    # with fill="close", the bar before it with fill="next_open"
    decided = trades["entry_bar"].to_numpy() - (1 if fill == "next_open" else 0)
    assert window[decided].all()
    # the unfiltered signal does enter outside it
    unfiltered = engine.backtest(bars, raw, cfg).trades
    assert not window[unfiltered["entry_bar"].to_numpy() - (1 if fill == "next_open" else 0)].all()


def test_time_of_day_flat_outside_holds_nothing_outside_the_window(eurusd):
    df, bars = eurusd
    signal = time_of_day(_sma_side(df["close"], 5, 20), bars.ts, "13:00", "17:00", flat_outside=True)
    window = in_window(bars.ts, "13:00", "17:00")
    trades = engine.backtest(bars, signal, engine.Config(fill="close", allow_short=True)).trades
    assert len(trades) > 50
    for entry, exit_ in zip(trades["entry_bar"], trades["exit_bar"]):
        assert window[entry:exit_].all()  # a position is held at the close of these bars


def test_volatility_band_entries_only_inside_the_band(sp500_df, sp500_bars):
    close = sp500_df["close"]
    raw = _sma_side(close, 10, 40)
    vol = realised_volatility(close, 20, 252.0)
    signal = volatility_band(raw, close, 0.08, 0.18, lookback=20)
    trades = engine.backtest(sp500_bars, signal, engine.Config(fill="close", allow_short=True)).trades
    assert len(trades) > 20
    entry_vol = vol[trades["entry_bar"].to_numpy()]
    assert ((entry_vol >= 0.08) & (entry_vol <= 0.18)).all()


def test_drawdown_pause_paused_bars_hold_no_position(sp500_df, sp500_bars):
    close = sp500_df["close"].to_numpy()
    raw = _sma_side(sp500_df["close"], 10, 30)
    signal = drawdown_pause(raw, close, max_drawdown=0.08, pause_bars=15)
    paused = (signal == 0) & (raw != 0)
    assert paused.sum() >= 15 * 5  # several pauses
    for fill, shift in (("close", 0), ("next_open", 1)):
        cfg = engine.Config(fill=fill, allow_short=True, close_at_end=True)
        trades = engine.backtest(sp500_bars, signal, cfg).trades
        held = np.zeros(len(close), dtype=bool)
        for entry, exit_ in zip(trades["entry_bar"], trades["exit_bar"]):
            held[entry:exit_] = True
        # a flat signal at bar t is flat at the close of t (fill="close") or of t+1
        assert not held[np.flatnonzero(paused) + shift].any()


@pytest.mark.parametrize("tz", ["dateutil//etc/passwd", "/etc/passwd", "../../etc/passwd", "Mars/Olympus", ""])
def test_a_time_zone_that_is_not_an_iana_name_is_refused_before_anything_reads_it(tz):
    ts = np.arange(5, dtype=np.int64) * 3600 * 10**9
    with pytest.raises(ValueError, match="tz is"):
        in_window(ts, "01:00", "02:00", tz=tz)

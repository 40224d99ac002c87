"""strategies.blocks.crossing: crossovers, entry/exit events, the position held."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import HOLD
from strategies.blocks import crossover, crossunder, effective_position, from_entries_exits

H = HOLD
nan = np.nan


# -- reference loops, written from the docstrings ----------------------------


def crossings_by_loop(a: list[float], b: list[float]) -> tuple[list[bool], list[bool]]:
    up, down, before = [], [], 0  # before: side of the last differing bar, 0 = unknown
    for x, y in zip(a, b):
        if np.isnan(x) or np.isnan(y):
            up.append(False)
            down.append(False)
            before = 0
            continue
        side = (x > y) - (x < y)
        up.append(side == 1 and before == -1)
        down.append(side == -1 and before == 1)
        if side != 0:
            before = side
    return up, down


def entries_exits_by_loop(e, x, s, y) -> list[int]:
    out, pos = [], 0
    for long_in, long_out, short_in, short_out in zip(e, x, s, y):
        go_long, go_short = long_in and not long_out, short_in and not short_out
        if go_long and go_short:
            go_long = go_short = False
        if go_long:
            pos = 1
            out.append(1)
        elif go_short:
            pos = -1
            out.append(-1)
        elif (pos == 1 and long_out) or (pos == -1 and short_out):
            pos = 0
            out.append(0)
        else:
            out.append(HOLD)
    return out


floats = st.floats(-3, 3, allow_nan=False, width=16)
maybe_nan = st.one_of(floats, st.just(float("nan")))


# -- crossover / crossunder ----------------------------------------------------


def test_crossover_known_answers():
    a = [1.0, 2.0, 3.0, 3.0, 4.0, 3.0, 4.0, 2.0, 2.0, 5.0]
    b = [2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    # below, equal, equal, equal, above: one cross (bar 4); a touch at bar 5 and back
    # above: none; below at 7, above at 9
    assert crossover(a, b).tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert crossunder(a, b).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]


def test_crossover_is_not_counted_across_nan():
    a = [1.0, 3.0, nan, 1.0, 3.0, 3.0, nan, 3.0, 1.0]
    assert crossover(a, 2.0).tolist() == [0, 1, 0, 0, 1, 0, 0, 0, 0]
    assert crossunder(a, 2.0).tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1]
    b = [2.0, 2.0, 2.0, 2.0, nan, 2.0, 2.0, 2.0, 2.0]
    assert crossover([1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 1.0, 3.0, 1.0], b).tolist() == [
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0,
    ]


def test_crossover_takes_series_and_returns_numpy():
    a = pd.Series([1.0, 3.0, 1.0], index=pd.date_range("2020", periods=3))
    out = crossover(a, pd.Series([2.0, 2.0, 2.0]))
    assert isinstance(out, np.ndarray) and out.dtype == bool
    assert out.tolist() == [False, True, False]
    assert crossover(np.array([1, 3, 1]), 2).tolist() == [False, True, False]  # ints, int level


@given(st.lists(st.tuples(maybe_nan, maybe_nan), min_size=0, max_size=40))
def test_crossings_follow_the_rule(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    up, down = crossings_by_loop(a, b)
    assert crossover(np.array(a, dtype=float), np.array(b, dtype=float)).tolist() == up
    assert crossunder(np.array(a, dtype=float), np.array(b, dtype=float)).tolist() == down


@given(st.lists(floats, min_size=2, max_size=40), st.data())
def test_crossings_are_causal(values, data):
    a = np.array(values, dtype=float)
    k = data.draw(st.integers(0, len(a) - 1))
    changed = a.copy()
    changed[k + 1 :] = data.draw(st.lists(floats, min_size=len(a) - k - 1, max_size=len(a) - k - 1))
    assert (crossover(a, 0.5)[: k + 1] == crossover(changed, 0.5)[: k + 1]).all()
    assert (crossunder(a, 0.5)[: k + 1] == crossunder(changed, 0.5)[: k + 1]).all()


def test_crossover_bad_input():
    with pytest.raises(ValueError, match="b has 2 values but a has 3"):
        crossover([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="a must be one-dimensional"):
        crossover(np.zeros((2, 3)), 1.0)
    with pytest.raises(TypeError, match="a must be numbers"):
        crossover(np.array(["x", "y"]), 1.0)
    with pytest.raises(TypeError, match="b must be a number"):
        crossover([1.0, 2.0], "1")


# -- from_entries_exits --------------------------------------------------------


def test_long_only_entries_and_exits():
    e = [0, 1, 0, 1, 0, 0, 0, 1]
    x = [1, 0, 0, 0, 1, 1, 0, 0]
    # exit while flat: HOLD; repeated entry: 1 again; second exit while flat: HOLD
    assert from_entries_exits(np.array(e, bool), np.array(x, bool)).tolist() == [H, 1, H, 1, 0, H, H, 1]


def test_long_and_short_entries_and_exits():
    e = [1, 0, 0, 0, 0, 0, 0, 0, 1]
    x = [0, 0, 0, 1, 0, 0, 1, 0, 0]
    s = [0, 0, 1, 0, 0, 0, 0, 0, 0]
    y = [0, 1, 0, 0, 0, 1, 0, 0, 0]
    # long; short exit while long ignored; short entry flips; long exit while short
    # ignored; short exit closes; long exit while flat ignored; long entry
    out = from_entries_exits(*(np.array(v, bool) for v in (e, x, s, y)))
    assert out.dtype == np.int8
    assert out.tolist() == [1, H, -1, H, H, 0, H, H, 1]


def test_same_bar_rules():
    def run(e, x, s, y):
        return from_entries_exits(*(np.array(v, bool) for v in (e, x, s, y))).tolist()

    # entry and exit of the same side on one bar: the exit wins
    assert run([1], [1], [0], [0]) == [H]  # flat stays flat
    assert run([1, 1], [0, 1], [0, 0], [0, 0]) == [1, 0]  # long closes
    assert run([0, 1], [0, 1], [1, 0], [0, 0]) == [-1, H]  # short is not reversed
    # long and short entry together: both dropped
    assert run([1, 1], [0, 0], [0, 1], [0, 0]) == [1, H]
    assert run([0, 1], [0, 0], [1, 1], [0, 0]) == [-1, H]
    # ...unless an exit dropped one of them first: the other stands
    assert run([1, 1], [0, 1], [0, 1], [0, 0]) == [1, -1]
    # an entry with the other side's exit: the entry wins
    assert run([0, 1], [0, 0], [1, 0], [0, 1]) == [-1, 1]  # reversal
    assert run([0, 1], [0, 1], [1, 1], [0, 0]) == [-1, -1]  # short entry, long exit: short
    assert run([1], [0], [0], [1]) == [1]


def test_short_entries_without_short_exits_end_at_long_entries():
    e = np.array([0, 0, 0, 1], bool)
    x = np.array([0, 1, 0, 0], bool)
    s = np.array([1, 0, 0, 0], bool)
    assert from_entries_exits(e, x, s).tolist() == [-1, H, H, 1]


@given(st.lists(st.tuples(*[st.booleans()] * 4), max_size=40))
def test_entries_exits_follow_the_rules(rows):
    cols = [np.array([r[i] for r in rows], dtype=bool) for i in range(4)]
    assert from_entries_exits(*cols).tolist() == entries_exits_by_loop(*cols)


@given(st.lists(st.tuples(*[st.booleans()] * 4), min_size=2, max_size=30), st.data())
def test_entries_exits_are_causal(rows, data):
    cols = [np.array([r[i] for r in rows], dtype=bool) for i in range(4)]
    k = data.draw(st.integers(0, len(rows) - 1))
    changed = [c.copy() for c in cols]
    for c in changed:
        c[k + 1 :] = ~c[k + 1 :]
    assert (from_entries_exits(*cols)[: k + 1] == from_entries_exits(*changed)[: k + 1]).all()


def test_entries_exits_take_series_and_ints():
    e = pd.Series([True, False, False])
    x = pd.Series([0, 0, 1])
    assert from_entries_exits(e, x).tolist() == [1, H, 0]


def test_entries_exits_bad_input():
    t, f = np.array([True, False]), np.array([False, True])
    with pytest.raises(ValueError, match="exits has 3 values but signal has 2"):
        from_entries_exits(t, np.array([True, False, True]))
    with pytest.raises(ValueError, match="short_entries has 1 values"):
        from_entries_exits(t, f, np.array([True]))
    with pytest.raises(ValueError, match="short_exits is given without short_entries"):
        from_entries_exits(t, f, None, f)
    with pytest.raises(TypeError, match="entries must be booleans"):
        from_entries_exits(np.array([1.0, 0.0]), f)
    with pytest.raises(ValueError, match=r"exits\[1\] is 2"):
        from_entries_exits(t, np.array([0, 2]))


# -- effective_position --------------------------------------------------------


def test_effective_position_int():
    sig = np.array([H, H, 1, H, 0, -1, H, H, 1], dtype=np.int8)
    out = effective_position(sig)
    assert out.dtype == np.int8
    assert out.tolist() == [0, 0, 1, 1, 0, -1, -1, -1, 1]
    assert effective_position([True, False, True]).tolist() == [1, 0, 1]
    assert effective_position(np.array([], dtype=np.int8)).tolist() == []


def test_effective_position_float():
    sig = pd.Series([nan, 0.5, nan, nan, -0.25, 0.0, nan])
    out = effective_position(sig)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.0, 0.5, 0.5, 0.5, -0.25, 0.0, 0.0])


@given(st.lists(st.sampled_from([1, 0, -1, HOLD]), min_size=1, max_size=40), st.data())
def test_effective_position_is_causal_and_carries_values(values, data):
    sig = np.array(values, dtype=np.int8)
    pos = effective_position(sig)
    last = 0
    for v, p in zip(values, pos):
        last = last if v == HOLD else v
        assert p == last
    k = data.draw(st.integers(0, len(sig) - 1))
    changed = sig.copy()
    changed[k + 1 :] = 1
    assert (effective_position(changed)[: k + 1] == pos[: k + 1]).all()


def test_effective_position_bad_input():
    with pytest.raises(engine.InvalidSignalError, match=r"signal\[2\] is 2"):
        effective_position(np.array([1, 0, 2]))
    with pytest.raises(engine.InvalidSignalError, match=r"signal\[1\] is inf"):
        effective_position(np.array([0.5, np.inf]))
    with pytest.raises(TypeError, match="signal must hold integers"):
        effective_position(np.array(["1", "0"]))
    with pytest.raises(ValueError, match="one-dimensional"):
        effective_position(np.zeros((2, 2), dtype=np.int8))


# -- end to end ------------------------------------------------------------------


def test_sma_cross_trades_enter_and_exit_at_the_crossings(sp500_df, sp500_bars):
    close = sp500_df["close"]
    fast, slow = close.rolling(20).mean(), close.rolling(100).mean()
    up, down = crossover(fast, slow), crossunder(fast, slow)
    assert not up[:99].any()  # no cross during the slow average's warm-up
    signal = from_entries_exits(up, down)
    res = engine.backtest(sp500_bars, signal, engine.Config(close_at_end=True))
    trades = res.trades
    assert len(trades) > 20
    # next_open: a signal on bar t fills at bar t+1
    assert up[trades["entry_bar"].to_numpy() - 1].all()
    by_signal = trades[trades["exit_reason"] == "signal"]
    assert down[by_signal["exit_bar"].to_numpy() - 1].all()
    assert len(trades) == int(up.sum())  # every cross up opens one trade (no pyramiding)
    # the position the engine holds at each close is the one the signal asked for a bar earlier
    held = np.zeros(len(signal), dtype=bool)
    for entry, exit_ in zip(trades["entry_bar"], trades["exit_bar"]):
        held[entry:exit_] = True
    wanted = effective_position(signal) != 0
    np.testing.assert_array_equal(held[1:-1], wanted[:-2])

"""strategies.blocks.combine: majority, weighted, unanimous, any_of."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import HOLD
from strategies.blocks import any_of, effective_position, majority, unanimous, weighted

H = HOLD
nan = np.nan

# three strategies over 8 bars; the positions they hold are written under each
A = np.array([1, H, H, 0, -1, H, 1, H], dtype=np.int8)  # 1  1  1  0 -1 -1  1  1
B = np.array([H, 1, H, H, -1, H, 0, H], dtype=np.int8)  # 0  1  1  1 -1 -1  0  0
C = np.array([nan, 0.5, nan, -0.5, nan, -1.0, nan, 0.0])  # 0 .5 .5 -.5 -.5 -1 -1  0


def test_majority_known_answers():
    # sides summed: 1, 3, 3, 0, -3, -3, 0, 1
    out = majority([A, B, C])
    assert out.dtype == np.int8
    assert out.tolist() == [1, 1, 1, 0, -1, -1, 0, 1]
    assert majority([A, B]).tolist() == [1, 1, 1, 1, -1, -1, 1, 1]
    # size does not count: one big short against two small longs is long
    assert majority([[0.1], [0.1], [-1.0]]).tolist() == [1]


def test_weighted_known_answers():
    out = weighted([A, B, C], [2, 1, 1])
    assert out.dtype == np.float64
    # (2 * A + B + C) / 4
    np.testing.assert_array_equal(out, [0.5, 0.875, 0.875, 0.125, -0.875, -1.0, 0.25, 0.5])


def test_weighted_threshold_known_answers():
    out = weighted([A, B, C], [2, 1, 1], threshold=0.5)
    assert out.dtype == np.int8
    assert out.tolist() == [1, 1, 1, 0, -1, -1, 0, 1]
    assert weighted([A, B, C], [2, 1, 1], threshold=0.9).tolist() == [0, 0, 0, 0, 0, -1, 0, 0]
    # a zero weight leaves that strategy out
    np.testing.assert_array_equal(weighted([A, B], [1, 0]), effective_position(A).astype(float))


def test_unanimous_known_answers():
    assert unanimous([A, B, C]).tolist() == [0, 1, 1, 0, -1, -1, 0, 0]
    assert unanimous([A, B]).tolist() == [0, 1, 1, 0, -1, -1, 0, 0]
    assert unanimous([A]).tolist() == effective_position(A).tolist()


def test_any_of_known_answers():
    # long where some are long and none short, short where some short and none long
    assert any_of([A, B, C]).tolist() == [1, 1, 1, 0, -1, -1, 0, 1]
    assert any_of([A, B]).tolist() == [1, 1, 1, 1, -1, -1, 1, 1]
    assert any_of([np.zeros(3, np.int8), np.zeros(3)]).tolist() == [0, 0, 0]


def test_signals_as_2d_array_dataframe_and_series():
    stacked = np.stack([A, B])
    assert majority(stacked).tolist() == majority([A, B]).tolist()
    frame = pd.DataFrame({"a": A, "b": B})
    assert unanimous(frame).tolist() == unanimous([A, B]).tolist()
    out = any_of([pd.Series(A), pd.Series(C)])
    assert isinstance(out, np.ndarray)
    assert out.tolist() == any_of([A, C]).tolist()


@given(st.data())
def test_combiners_are_causal_and_agree_with_each_other(data):
    k_sig = data.draw(st.integers(1, 4))
    n = data.draw(st.integers(2, 25))
    values = st.lists(st.sampled_from([1, 0, -1, HOLD]), min_size=n, max_size=n)
    sigs = np.array([data.draw(values) for _ in range(k_sig)], dtype=np.int8)
    k = data.draw(st.integers(0, n - 2))
    changed = sigs.copy()
    changed[:, k + 1 :] = -1
    for combine in (majority, unanimous, any_of, lambda s: weighted(s, np.arange(1, k_sig + 1))):
        assert (combine(sigs)[: k + 1] == combine(changed)[: k + 1]).all()
    sides = np.sign(np.stack([effective_position(s) for s in sigs]))
    u, a, m = unanimous(sigs), any_of(sigs), majority(sigs)
    assert ((u == 0) | ((u == a) & (u == m))).all()  # unanimity implies the others
    assert ((a == 0) | (a == m)).all()  # an unopposed side is the majority's
    np.testing.assert_allclose(weighted(sigs, np.ones(k_sig)), sides.mean(axis=0))


def test_bad_signals():
    with pytest.raises(ValueError, match="signals is empty"):
        majority([])
    with pytest.raises(ValueError, match=r"signals\[1\] has 3 values but signals\[0\] has 8"):
        unanimous([A, A[:3]])
    with pytest.raises(ValueError, match="2-D array"):
        any_of(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"2-D array .* got shape \(8,\)"):
        majority(A)
    with pytest.raises(TypeError, match="list of signals"):
        majority("A")
    with pytest.raises(engine.InvalidSignalError, match=r"signals\[1\]\[0\] is 7"):
        majority([A, np.full(8, 7)])
    with pytest.raises(engine.InvalidSignalError, match=r"signals\['b'\]\[0\] is inf"):
        majority(pd.DataFrame({"a": A, "b": np.full(8, np.inf)}))


def test_bad_weights():
    with pytest.raises(ValueError, match="weights has 2 values but there are 3 signals"):
        weighted([A, B, C], [1, 1])
    with pytest.raises(ValueError, match=r"weights\[1\] is -1"):
        weighted([A, B], [1, -1])
    with pytest.raises(ValueError, match=r"weights\[0\] is nan"):
        weighted([A, B], [nan, 1])
    with pytest.raises(ValueError, match="weights are all 0"):
        weighted([A, B], [0, 0])
    with pytest.raises(ValueError, match="threshold is 0"):
        weighted([A, B], [1, 1], threshold=0)
    with pytest.raises(ValueError, match="weights must be a list"):
        weighted([A, B], 1.0)


# -- end to end ---------------------------------------------------------------------


def _held(bars, signal, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Bars at whose close the backtest holds a long, and a short position."""
    long_, short = np.zeros(len(bars), dtype=bool), np.zeros(len(bars), dtype=bool)
    trades = engine.backtest(bars, signal, cfg).trades
    for entry, exit_, side in trades[["entry_bar", "exit_bar", "direction"]].itertuples(index=False):
        (long_ if side == "long" else short)[entry:exit_] = True
    return long_, short


def test_unanimous_and_any_of_bound_the_time_in_the_market(sp500_df, sp500_bars):
    close = sp500_df["close"]
    members = [np.where(close > close.rolling(n).mean(), 1, 0).astype(np.int8) for n in (20, 50, 200)]
    cfg = engine.Config(close_at_end=True)
    each = [_held(sp500_bars, m, cfg)[0] for m in members]
    all_agree = _held(sp500_bars, unanimous(members), cfg)[0]
    any_long = _held(sp500_bars, any_of(members), cfg)[0]
    assert 500 < all_agree.sum() < any_long.sum()
    for h in each:
        assert not (all_agree & ~h).any()  # held only where every member is held
        assert not (h & ~any_long).any()  # any member held -> held by any_of
    np.testing.assert_array_equal(all_agree, np.logical_and.reduce(each))
    np.testing.assert_array_equal(any_long, np.logical_or.reduce(each))


def test_majority_follows_most_members_long_and_short(sp500_df, sp500_bars):
    close = sp500_df["close"]
    members = [np.where(close > close.rolling(n).mean(), 1, -1).astype(np.int8) for n in (20, 50, 200)]
    cfg = engine.Config(close_at_end=True, allow_short=True)
    longs = np.sum([_held(sp500_bars, m, cfg)[0] for m in members], axis=0)
    shorts = np.sum([_held(sp500_bars, m, cfg)[1] for m in members], axis=0)
    most_long, most_short = _held(sp500_bars, majority(members), cfg)
    assert most_long.sum() > 500 and most_short.sum() > 200
    np.testing.assert_array_equal(most_long, longs >= 2)
    np.testing.assert_array_equal(most_short, shorts >= 2)
    # equal weights and a threshold up to 1/3: the same vote
    assert (weighted(members, [1, 1, 1], threshold=0.3) == majority(members)).all()

"""strategies.blocks.rows: many parameter sets' signals at once (``above_rows``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.blocks import above_rows

nan, inf = np.nan, np.inf


def by_loop(a: list[np.ndarray], b: list[np.ndarray], short: list[bool]) -> np.ndarray:
    """The docstring's rule, one bar at a time."""
    out = np.zeros((len(a), len(a[0]) if a else 0), np.int8)
    for r, (x, y) in enumerate(zip(a, b)):
        for t, (u, v) in enumerate(zip(x, y)):
            out[r, t] = 1 if u > v else (-1 if short[r] and u < v else 0)
    return out


def test_known_answers() -> None:
    x = np.array([1.0, 2.0, nan, 4.0, inf, -0.0])
    y = np.array([0.0, 5.0, 1.0, 4.0, 3.0, 0.0])
    got = above_rows([x, y, x], [y, x, y], short=[False, True, True])
    np.testing.assert_array_equal(got, [[1, 0, 0, 0, 1, 0], [-1, 1, 0, 0, -1, 0], [1, -1, 0, 0, 1, 0]])
    assert got.dtype == np.int8


@given(
    st.integers(0, 70).flatmap(
        lambda n: st.lists(
            st.lists(
                st.one_of(st.sampled_from([0.0, 1.0, 2.0, nan, inf, -inf]), st.floats(-3, 3)), min_size=n, max_size=n
            ),
            min_size=1,
            max_size=4,
        )
    ),
    st.data(),
)
def test_rows_follow_the_rule(lines: list[list[float]], data: st.DataObject) -> None:
    """Lines shared by several rows, ties, NaN and infinities, any length (tails included)."""
    arrays = [np.array(v, dtype=np.float64) for v in lines]
    rows = data.draw(st.integers(0, 9))
    pick = st.integers(0, len(arrays) - 1)
    a = [arrays[data.draw(pick)] for _ in range(rows)]
    b = [arrays[data.draw(pick)] for _ in range(rows)]
    short = data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
    got = above_rows(a, b, short=short)
    assert got.shape == (rows, len(arrays[0]) if rows else 0)
    np.testing.assert_array_equal(got, by_loop(a, b, short))


def test_long_lines_match_numpy_row_by_row() -> None:
    """Past one tile of bars, on random walks with ties."""
    rng = np.random.default_rng(7)
    lines = [np.round(np.cumsum(rng.normal(size=10_007)), 1) for _ in range(5)]
    lines[0][:40] = nan  # a warm-up
    a, b = [lines[i % 5] for i in range(12)], [lines[(i * 3 + 1) % 5] for i in range(12)]
    short = [i % 2 == 0 for i in range(12)]
    got = above_rows(a, b, short=short)
    for r in range(12):
        want = (a[r] > b[r]).astype(np.int8) - short[r] * (a[r] < b[r]).astype(np.int8)
        np.testing.assert_array_equal(got[r], want)


def test_one_flag_for_every_row_and_other_inputs() -> None:
    s = pd.Series([1.0, 3.0, 2.0])
    got = above_rows([s, [1, 3, 2]], [np.full(3, 2.0), [2, 2, 2]], short=True)
    np.testing.assert_array_equal(got, [[-1, 1, 0], [-1, 1, 0]])
    np.testing.assert_array_equal(above_rows([s], [s * 0 + 2]), [[0, 1, 0]])


def test_inputs_are_left_as_they_were() -> None:
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    above_rows([x], [x[::-1].copy()], short=True)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    ("a", "b", "short", "error", "match"),
    [
        ([np.zeros(3)], [], False, ValueError, "a has 1 lines but b has 0"),
        ([np.zeros(3), np.zeros(4)], [np.zeros(3)] * 2, False, ValueError, r"a\[1\] has 4 values"),
        ([np.zeros(3)], [np.zeros(2)], False, ValueError, r"b\[0\] has 2 values"),
        ([np.zeros((2, 3))], [np.zeros(3)], False, ValueError, "one-dimensional"),
        ([np.array(["x", "y"])], [np.zeros(2)], False, TypeError, "must be numbers"),
        ([np.zeros(3)] * 2, [np.zeros(3)] * 2, [True], ValueError, "one per row"),
        ([np.zeros(3)], [np.zeros(3)], ["yes"], ValueError, "one per row"),
    ],
    ids=["rows differ", "a length", "b length", "2-D line", "text", "short count", "short type"],
)
def test_bad_input_is_named(a, b, short, error, match) -> None:
    with pytest.raises(error, match=match):
        above_rows(a, b, short=short)

"""The store's row checks agree with ``engine.bars.validate``; timeframes read and inferred."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.bars import broken_rules, validate
from engine.errors import InvalidBarsError
from engine.store import TimeframeError, parse_timeframe
from engine.store._timeframe import infer_timeframe

values = st.one_of(
    st.floats(min_value=0.5, max_value=2.0),
    st.sampled_from([0.0, -1.0, np.nan, np.inf, -np.inf]),
)


@given(st.lists(st.tuples(values, values, values, values, values), min_size=1, max_size=8))
def test_row_checks_find_a_bad_row_exactly_when_validate_refuses(rows):
    """Same rules: validate names the earliest row any rule breaks, and at that row the
    first rule in order."""
    fields = ("open", "high", "low", "close", "volume")
    cols = {k: np.array(v, dtype=float) for k, v in zip(fields, zip(*rows, strict=True), strict=True)}
    ts = np.arange(len(rows), dtype=np.int64)
    broken = [(column, mask) for column, mask, _ in broken_rules(cols) if mask.any()]
    try:
        validate(ts, cols)
    except InvalidBarsError as exc:
        assert broken, f"validate refused ({exc}) but no row check fired"
        row = min(int(np.argmax(mask)) for _, mask in broken)
        column = next(c for c, mask in broken if mask[row])
        assert str(exc).startswith(f"bars.{column}[{row}]")
    else:
        assert not broken


def test_each_reason_names_the_value():
    cols = {
        "open": np.array([1.0]),
        "high": np.array([0.9]),
        "low": np.array([1.0]),
        "close": np.array([1.0]),
        "volume": np.array([-2.0]),
    }
    reasons = [reason(0) for _, mask, reason in broken_rules(cols) if mask[0]]
    assert reasons == [
        "high (0.9) is below low (1.0)",
        "open (1.0) is outside [low, high] = [1.0, 0.9]",
        "close (1.0) is outside [low, high] = [1.0, 0.9]",
        "volume is -2.0: volume must be finite and not negative",
    ]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("1m", "1m"),
        ("5min", "5m"),
        ("60m", "1h"),
        ("4 hours", "4h"),
        ("1D", "1d"),
        ("daily", "1d"),
        ("7d", "1w"),
        ("2W", "2w"),
        ("90s", "90s"),
        ("hourly", "1h"),
    ],
)
def test_timeframes_read_to_one_canonical_name(text, name):
    assert parse_timeframe(text).name == name


@pytest.mark.parametrize("text", ["1M", "3 months", "1y", "x", "0m", "1.5h", "", 5])
def test_timeframes_that_are_not_read(text):
    with pytest.raises(TimeframeError):
        parse_timeframe(text)


def test_the_timeframe_of_real_daily_bars_is_one_day(sp500_bars):
    assert infer_timeframe(sp500_bars.ts).name == "1d"
    assert infer_timeframe(sp500_bars.ts[:2]) is None

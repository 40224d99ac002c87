"""Bad input at the Python door: every kind the issue lists raises ValueError (or
TypeError) naming the field and the first offending index, before the C core runs,
and leaves the caller's data as it was."""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import engine
from engine import InvalidBarsError, InvalidConfigError, InvalidSignalError

N = 10
PRICE_FIELDS = ("open", "high", "low", "close")


def columns(n: int = N) -> dict[str, np.ndarray]:
    """Valid daily bars as plain columns."""
    i = np.arange(n, dtype=np.float64)
    close = 100.0 + np.sin(i)
    open_ = 100.0 + np.cos(i)
    return {
        "ts": np.arange(n).astype("timedelta64[D]") + np.datetime64("2024-01-01", "ns"),
        "open": open_,
        "high": np.maximum(open_, close) + 1.0,
        "low": np.minimum(open_, close) - 1.0,
        "close": close,
        "volume": np.full(n, 1000.0),
    }


def _init(c: dict[str, Any]) -> engine.Bars:
    return engine.Bars(c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"])


def _numpy(c: dict[str, Any]) -> engine.Bars:
    return engine.Bars.from_numpy(c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"])


def _pandas(c: dict[str, Any]) -> engine.Bars:
    return engine.Bars.from_pandas(pd.DataFrame(c))


def _pandas_index(c: dict[str, Any]) -> engine.Bars:
    frame = pd.DataFrame(c).set_index("ts")
    return engine.Bars.from_pandas(frame)


def _arrow(c: dict[str, Any]) -> engine.Bars:
    return engine.Bars.from_arrow(pa.table(c))


BUILDERS: dict[str, Callable[[dict[str, Any]], engine.Bars]] = {
    "Bars": _init,
    "from_numpy": _numpy,
    "from_pandas": _pandas,
    "from_pandas_index": _pandas_index,
    "from_arrow": _arrow,
}


@pytest.fixture(params=list(BUILDERS))
def build(request: pytest.FixtureRequest) -> Callable[[dict[str, Any]], engine.Bars]:
    return BUILDERS[request.param]


@pytest.fixture
def bars() -> engine.Bars:
    return _init(columns())


def names(text: str) -> str:
    """A regex that finds ``text`` literally (for field[index] names)."""
    return re.escape(text)


# -- bars -------------------------------------------------------------------------

BAD_PRICES = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "zero": 0.0, "negative": -3.0}


@pytest.mark.parametrize("field", PRICE_FIELDS)
@pytest.mark.parametrize("fault", BAD_PRICES)
def test_bad_price_names_field_and_first_index(build: Callable, field: str, fault: str) -> None:
    c = columns()
    c[field][3] = BAD_PRICES[fault]
    c[field][7] = BAD_PRICES[fault]
    with pytest.raises(InvalidBarsError, match=names(f"{field}[3]")) as err:
        build(c)
    assert isinstance(err.value, ValueError)


def test_high_below_low(build: Callable) -> None:
    c = columns()
    c["high"][4], c["low"][4] = c["low"][4], c["high"][4]
    c["high"][8], c["low"][8] = c["low"][8], c["high"][8]
    with pytest.raises(InvalidBarsError, match=names("high[4]")):
        build(c)


@pytest.mark.parametrize(("field", "other", "factor"), [("open", "high", 1.5), ("close", "low", 0.5)])
def test_open_or_close_outside_the_bar(build: Callable, field: str, other: str, factor: float) -> None:
    c = columns()
    c[field][5] = c[other][5] * factor
    with pytest.raises(InvalidBarsError, match=names(f"{field}[5]")):
        build(c)


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
def test_bad_volume(build: Callable, value: float) -> None:
    c = columns()
    c["volume"][6] = value
    with pytest.raises(InvalidBarsError, match=names("volume[6]")):
        build(c)


def test_repeated_timestamp(build: Callable) -> None:
    c = columns()
    c["ts"][6] = c["ts"][5]
    with pytest.raises(InvalidBarsError, match=names("ts[6]")) as err:
        build(c)
    assert "repeat" in str(err.value)


def test_unsorted_timestamps(build: Callable) -> None:
    c = columns()
    c["ts"][[4, 5]] = c["ts"][[5, 4]]
    with pytest.raises(InvalidBarsError, match=names("ts[5]")) as err:
        build(c)
    assert "sort" in str(err.value)


def test_missing_timestamp(build: Callable) -> None:
    c = columns()
    c["ts"][2] = np.datetime64("NaT")
    with pytest.raises(InvalidBarsError, match=names("ts[2]")):
        build(c)


def test_empty_bars(build: Callable) -> None:
    with pytest.raises(InvalidBarsError, match="empty"):
        build(columns(0))


@pytest.mark.parametrize("field", [*PRICE_FIELDS, "volume"])
@pytest.mark.parametrize("length", [N - 1, N + 1])
@pytest.mark.parametrize("how", ["Bars", "from_numpy"])
def test_arrays_of_different_lengths(field: str, length: int, how: str) -> None:
    c = columns()
    c[field] = np.resize(c[field], length)
    message = rf"{field} has {length} values but bars\.ts has {N}"
    with pytest.raises(InvalidBarsError, match=message):
        BUILDERS[how](c)


def test_timestamps_of_another_length() -> None:
    c = columns()
    c["ts"] = c["ts"][:-1]
    with pytest.raises(InvalidBarsError, match=f"open has {N} values but bars.ts has {N - 1}"):
        _init(c)


@pytest.mark.parametrize(
    ("faults", "first"),
    [
        # (field, bar, value) ... -> the bar the message must name
        ([("close", 6, np.nan), ("open", 2, -1.0)], 2),
        ([("open", 6, np.nan), ("close", 2, -1.0)], 2),
        ([("open", 7, np.inf), ("high", 1, "below low")], 1),
        ([("close", 8, 0.0), ("open", 3, "above high")], 3),
    ],
)
def test_bad_bars_in_several_fields_name_the_earliest_bar(faults: list[tuple[str, int, Any]], first: int) -> None:
    """The first offending index is the earliest bad bar, whichever field it is in
    (the C core's anvil_check_bars reports the same bar)."""
    c = columns()
    for field, at, value in faults:
        if value == "below low":
            c["high"][at] = c["low"][at] - 1.0
        elif value == "above high":
            c["open"][at] = c["high"][at] + 1.0
        else:
            c[field][at] = value
    with pytest.raises(InvalidBarsError, match=rf"\[{first}\]"):
        _init(c)


def test_bad_bar_in_real_data_names_its_index(sp500_df: pd.DataFrame) -> None:
    df = sp500_df.copy()
    at = len(df) // 2
    df.loc[df.index[at], "low"] = df["high"].iloc[at] * 2
    with pytest.raises(InvalidBarsError, match=names(f"[{at}]")):
        engine.Bars.from_pandas(df)


@pytest.mark.parametrize(
    "value",
    ["abc", np.array([object()] * N), np.ones((2, N)), np.ones(N, dtype=complex)],
    ids=["text", "objects", "2-D", "complex"],
)
def test_prices_that_are_not_a_column_of_numbers(value: Any) -> None:
    c = columns()
    c["close"] = value
    with pytest.raises((InvalidBarsError, TypeError), match="close"):
        _init(c)


def test_frame_without_a_price_column() -> None:
    frame = pd.DataFrame(columns()).drop(columns="low")
    with pytest.raises(InvalidBarsError, match="low"):
        engine.Bars.from_pandas(frame)
    with pytest.raises(InvalidBarsError, match="low"):
        engine.Bars.from_arrow(pa.Table.from_pandas(frame))


def test_frame_without_times() -> None:
    frame = pd.DataFrame(columns()).drop(columns="ts")
    with pytest.raises(InvalidBarsError, match="ts"):
        engine.Bars.from_pandas(frame)


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (engine.Bars.from_pandas, np.zeros((N, 5))),
        (engine.Bars.from_arrow, pd.DataFrame(columns())),
    ],
    ids=["from_pandas(ndarray)", "from_arrow(DataFrame)"],
)
def test_constructor_given_the_wrong_type(call: Callable, arg: Any) -> None:
    with pytest.raises(TypeError):
        call(arg)


# -- signals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        (np.int8, 2),
        (np.int8, 127),
        (np.int8, -127),
        (np.int8, -2),
        (np.int16, 300),
        (np.int64, 2**40),
        (np.uint8, 255),
    ],
)
def test_int_signal_outside_the_set(bars: engine.Bars, dtype: type, value: int) -> None:
    signal = np.zeros(N, dtype)
    signal[3] = value
    signal[7] = value
    with pytest.raises(InvalidSignalError, match=names(f"signal[3] is {value}")) as err:
        engine.backtest(bars, signal)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("value", [2**64 - 1, 2**64 - 128, 2**63])
def test_uint64_signal_outside_the_set(bars: engine.Bars, value: int) -> None:
    """Huge unsigned values must not wrap around into -1 or HOLD."""
    signal = np.zeros(N, np.uint64)
    signal[3] = value
    with pytest.raises(InvalidSignalError, match=names("signal[3]")):
        engine.backtest(bars, signal)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_float_signal_infinite(bars: engine.Bars, value: float, dtype: type) -> None:
    signal = np.zeros(N, dtype)
    signal[4] = value
    signal[8] = value
    with pytest.raises(InvalidSignalError, match=names("signal[4]")):
        engine.backtest(bars, signal)


def test_signal_as_a_series_is_checked_the_same(bars: engine.Bars) -> None:
    signal = pd.Series(np.zeros(N, np.int64))
    signal.iloc[5] = 9
    with pytest.raises(InvalidSignalError, match=names("signal[5] is 9")):
        engine.backtest(bars, signal)


@pytest.mark.parametrize("kind", ["int", "float"])
def test_bad_signal_is_caught_before_the_core(bars: engine.Bars, kind: str) -> None:
    """The core reads signals as it simulates and never reads the last bar's; Python
    checks them all first: a bad value on the last bar only is named, and the
    message is Python's (the core's start with the entry point's name)."""
    signal = np.zeros(N) if kind == "float" else np.zeros(N, np.int8)
    signal[N - 1] = np.inf if kind == "float" else 3
    with pytest.raises(InvalidSignalError, match=names(f"signal[{N - 1}]")) as err:
        engine.backtest(bars, signal)
    assert not str(err.value).startswith("anvil_")


@pytest.mark.parametrize("length", [0, N - 1, N + 1])
def test_signal_of_another_length(bars: engine.Bars, length: int) -> None:
    with pytest.raises(InvalidSignalError, match=rf"{length} values .* bars have {N}"):
        engine.backtest(bars, np.zeros(length, np.int8))


@pytest.mark.parametrize("shape", [(), (N, 1), (2, N)])
def test_signal_of_another_shape(bars: engine.Bars, shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidSignalError, match="shape"):
        engine.backtest(bars, np.zeros(shape, np.int8))


@pytest.mark.parametrize(
    "signal",
    [
        np.array(["1"] * N),
        np.array([1, None] * (N // 2), dtype=object),
        np.ones(N, complex),
        np.zeros(N, "datetime64[ns]"),
    ],
    ids=["text", "objects", "complex", "datetimes"],
)
def test_signal_of_a_type_that_is_not_a_signal(bars: engine.Bars, signal: np.ndarray) -> None:
    with pytest.raises(TypeError, match="signals must be"):
        engine.backtest(bars, signal)


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_signal_names_run_and_bar(bars: engine.Bars, threads: int) -> None:
    """A ready int8 matrix goes to the core unchecked; its error still names the place."""
    signals = np.zeros((4, N), np.int8)
    signals[2, 0] = 5
    signals[1, 6] = -5
    with pytest.raises(InvalidSignalError, match=names("signals[1, 6] is -5")):
        engine.run_batch(bars, signals, threads=threads)


def test_batch_float_signal_infinite(bars: engine.Bars) -> None:
    signals = np.zeros((3, N))
    signals[2, N - 1] = -np.inf
    with pytest.raises(InvalidSignalError, match=names(f"signals[2, {N - 1}]")):
        engine.run_batch(bars, signals, threads=1)


@pytest.mark.parametrize("shape", [(3, N - 1), (3, N, 1), (N - 1,)])
def test_batch_signals_of_another_shape(bars: engine.Bars, shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidSignalError):
        engine.run_batch(bars, np.zeros(shape, np.int8), threads=1)


# -- config -----------------------------------------------------------------------

# field -> values out of its range
OUT_OF_RANGE = {
    "initial_capital": [0.0, -1.0, np.nan, np.inf],
    "fee_rate": [-0.001, 1.0, 5.0, np.nan],
    "fee_per_unit": [-0.01, np.inf, np.nan],
    "fixed_fee": [-1.0, np.inf],
    "slippage_bps": [-1.0, 10_000.0, np.nan],
    "stop_loss": [0.0, -0.1, 1.0, np.nan],
    "take_profit": [0.0, -0.1, np.inf],
    "trailing_stop": [0.0, 1.0, -0.5],
    "max_leverage": [0.0, -2.0, np.inf],
    "periods_per_year": [0.0, -252.0, np.nan, np.inf],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [(f, v) for f, values in OUT_OF_RANGE.items() for v in values],
)
def test_config_value_out_of_range(field: str, value: float) -> None:
    message = rf"Config\.{field} is {re.escape(repr(value))}"
    with pytest.raises(InvalidConfigError, match=message) as err:
        engine.Config(**{field: value})
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("field", list(OUT_OF_RANGE))
@pytest.mark.parametrize("value", ["0.1", None, True, [1.0]], ids=["text", "None", "bool", "list"])
def test_config_value_of_the_wrong_type(field: str, value: Any) -> None:
    if value is None and field in ("stop_loss", "take_profit", "trailing_stop", "periods_per_year"):
        engine.Config(**{field: value})  # None turns these off
        return
    with pytest.raises((InvalidConfigError, TypeError), match=rf"Config\.{field}"):
        engine.Config(**{field: value})


@pytest.mark.parametrize("flag", ["allow_short", "integer_units", "close_at_end"])
@pytest.mark.parametrize("value", [2, "yes", None, 0.5])
def test_config_flags_must_be_bools(flag: str, value: Any) -> None:
    with pytest.raises(InvalidConfigError, match=rf"Config\.{flag}"):
        engine.Config(**{flag: value})


@pytest.mark.parametrize(
    ("value", "hint"),
    [("next-open", "next_open"), ("Close", "close"), ("nextopen", "next_open")],
)
def test_config_fill_suggests_the_right_one(value: str, hint: str) -> None:
    with pytest.raises(InvalidConfigError, match=rf"Config\.fill .*did you mean '{hint}'"):
        engine.Config(fill=value)


@pytest.mark.parametrize("value", [None, 0, ["close"]], ids=["None", "int", "list"])
def test_config_fill_of_the_wrong_type_names_the_field(value: Any) -> None:
    with pytest.raises((InvalidConfigError, TypeError), match=r"Config\.fill"):
        engine.Config(fill=value)


@pytest.mark.parametrize(
    ("typo", "field"),
    [
        ("fee_rat", "fee_rate"),
        ("feerate", "fee_rate"),
        ("slipage_bps", "slippage_bps"),
        ("stoploss", "stop_loss"),
        ("allow_shorts", "allow_short"),
        ("intial_capital", "initial_capital"),
    ],
)
def test_config_mistyped_field_suggests_the_right_one(typo: str, field: str) -> None:
    hint = f"did you mean '{field}'"
    with pytest.raises(InvalidConfigError, match=hint):
        engine.Config(**{typo: 0.1})
    with pytest.raises(InvalidConfigError, match=hint):
        engine.Config.from_dict({typo: 0.1})
    with pytest.raises(InvalidConfigError, match=hint):
        engine.Config().replace(**{typo: 0.1})


def test_config_dict_mistyped_at_backtest(bars: engine.Bars) -> None:
    with pytest.raises(InvalidConfigError, match="did you mean 'fee_rate'"):
        engine.backtest(bars, np.zeros(N, np.int8), {"fee_rat": 0.001})


def test_config_replace_checks_the_new_value() -> None:
    with pytest.raises(InvalidConfigError, match=r"Config\.fee_rate"):
        engine.Config().replace(fee_rate=2.0)


@pytest.mark.parametrize("bad", [{"fee_rate": -1.0}, {"fill": "open"}, 5], ids=["fee", "fill", "int"])
def test_batch_config_list_names_the_bad_run(bars: engine.Bars, bad: Any) -> None:
    """A bad config among one per run says which run it belongs to."""
    configs = [engine.Config(), bad, engine.Config()]
    with pytest.raises((InvalidConfigError, TypeError), match=r"config(s)?\[1\]"):
        engine.run_batch(bars, np.zeros((3, N), np.int8), configs, threads=1)


def test_batch_config_list_of_another_length(bars: engine.Bars) -> None:
    with pytest.raises(InvalidConfigError, match="2 configs for 3 runs"):
        engine.run_batch(bars, np.zeros((3, N), np.int8), [engine.Config()] * 2, threads=1)


@pytest.mark.parametrize("threads", [-1, 1.5, "4", True])
def test_batch_threads_out_of_range(bars: engine.Bars, threads: Any) -> None:
    with pytest.raises(InvalidConfigError, match="threads"):
        engine.run_batch(bars, np.zeros((2, N), np.int8), threads=threads)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: engine.backtest(b.to_pandas(), np.zeros(N)), "bars must be engine.Bars"),
        (lambda b: engine.backtest(b, np.zeros(N), 5), "config must be engine.Config"),
        (lambda b: engine.run_batch(b.to_pandas(), np.zeros((1, N))), "bars must be engine.Bars"),
        (lambda b: engine.run_batch(b, np.zeros((1, N)), "cfg"), "config must be engine.Config"),
    ],
    ids=["backtest bars", "backtest config", "run_batch bars", "run_batch config"],
)
def test_wrong_types_at_the_door(bars: engine.Bars, call: Callable, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call(bars)


# -- the caller's data is left alone ------------------------------------------------


def test_bad_bars_leave_the_callers_arrays_as_they_were() -> None:
    c = columns()
    c["close"][3] = np.nan
    before = {k: v.copy() for k, v in c.items()}
    with pytest.raises(InvalidBarsError):
        _init(c)
    for k, v in c.items():
        np.testing.assert_array_equal(v, before[k])
        assert v.flags.writeable, k


def test_bad_frame_is_left_as_it_was() -> None:
    frame = pd.DataFrame(columns())
    frame.loc[4, "high"] = frame.loc[4, "low"] - 1.0
    before = frame.copy()
    with pytest.raises(InvalidBarsError):
        engine.Bars.from_pandas(frame)
    pd.testing.assert_frame_equal(frame, before)
    frame.loc[4, "high"] = frame.loc[4, "low"] + 1.0  # still the caller's to change


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.float64, bool])
def test_signals_are_left_as_they_were(bars: engine.Bars, dtype: type) -> None:
    signal = (np.arange(N) % 2).astype(dtype)
    before = signal.copy()
    engine.backtest(bars, signal)
    np.testing.assert_array_equal(signal, before)
    if dtype is not bool:
        signal[2] = 7 if dtype is not np.float64 else np.inf
        before = signal.copy()
        with pytest.raises(InvalidSignalError):
            engine.backtest(bars, signal)
        np.testing.assert_array_equal(signal, before)


def test_batch_signals_are_left_as_they_were(bars: engine.Bars) -> None:
    signals = np.tile((np.arange(N) % 3 - 1).astype(np.int8), (5, 1))
    before = signals.copy()
    engine.run_batch(bars, signals, threads=2)
    np.testing.assert_array_equal(signals, before)
    assert signals.flags.writeable


def test_config_dict_is_left_as_it_was(bars: engine.Bars) -> None:
    values = {"fee_rate": 2.0, "slippage_bps": 5.0}
    with pytest.raises(InvalidConfigError):
        engine.backtest(bars, np.zeros(N, np.int8), values)
    assert values == {"fee_rate": 2.0, "slippage_bps": 5.0}


def test_bars_are_a_snapshot_of_the_callers_frame() -> None:
    """Bars are validated once, so later edits to the caller's frame must not reach them."""
    frame = pd.DataFrame(columns())
    bars = engine.Bars.from_pandas(frame)
    frame.loc[0, "close"] = frame.loc[0, "high"] * 10
    assert bars.close[0] == columns()["close"][0]


def test_core_still_refuses_prices_changed_after_validation() -> None:
    """If bars are changed behind the validation's back, the C core's own check
    refuses them: an error naming the bar, not a crash or a silent result."""
    bars = _init(columns())
    owner = bars.close.base  # Bars hold read-only views; their owner can be unlocked
    owner.flags.writeable = True  # deliberately going around the read-only guard
    owner[6] = np.nan
    assert np.isnan(bars.close[6])
    with pytest.raises(InvalidBarsError, match="index 6"):
        engine.backtest(bars, np.zeros(N, np.int8))
    with pytest.raises(InvalidBarsError, match="index 6"):
        engine.run_batch(bars, np.zeros((2, N), np.int8), threads=1)

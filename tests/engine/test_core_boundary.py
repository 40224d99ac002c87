"""The C core's own checks, driven straight through cffi: bad sizes, NULL pointers,
unknown kinds and values out of range give the documented ANVIL_E_* status, never a
crash. (tests/csrc/hostile.c drives the same entry points under ASan and UBSan; see
`make sanitize`.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import _bindings
from engine._core import ffi, lib
from engine.errors import STATUS_NAMES, CoreError

HEADER = Path(__file__).resolve().parents[2] / "csrc" / "anvil.h"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
N = 8


class Core:
    """Valid inputs for the entry points, as cffi structs over numpy buffers."""

    def __init__(self, n: int = N, runs: int = 3) -> None:
        i = np.arange(n)
        mid = 100.0 + np.where(i % 4 < 2, 5.0, -5.0) + i % 7
        self.open = mid.copy()
        self.close = mid + (i % 3 - 1)
        self.high = np.maximum(self.open, self.close) + 3.0
        self.low = np.minimum(self.open, self.close) - 3.0
        self.n = n
        self.bars = ffi.new("anvil_bars *")
        self._keep = [ffi.from_buffer("double[]", a) for a in self.prices]
        self.bars.open, self.bars.high, self.bars.low, self.bars.close = self._keep
        self.bars.n = n
        self.signal = np.asarray(i % 2, dtype=np.int8)
        self.signals = np.zeros((runs, n), np.int8)
        self.signals[:, ::2] = 1
        self.runs = runs
        self.cfg = ffi.new("anvil_config *", default_config())
        self.cfgs = ffi.new("anvil_config[]", [default_config()] * runs)
        self.stats = ffi.new("anvil_stats[]", runs)
        self.cap = int(lib.anvil_max_trades(n))
        self.trades = ffi.new("anvil_trade[]", self.cap)
        self.equity = np.empty(n)
        self.n_trades = ffi.new("int64_t *", -7)
        self.bad = ffi.new("int64_t *", -7)

    @property
    def prices(self) -> tuple[np.ndarray, ...]:
        return self.open, self.high, self.low, self.close

    def bars_with(self, **fields: Any) -> Any:
        b = ffi.new("anvil_bars *", self.bars[0])
        for name, value in fields.items():
            setattr(b, name, value)
        return b

    def backtest(self, **over: Any) -> int:
        args = dict(
            bars=self.bars,
            signal=ffi.from_buffer(self.signal),
            kind=lib.ANVIL_SIGNAL_I8,
            cfg=self.cfg,
            stats=self.stats,
            equity=ffi.from_buffer("double[]", self.equity),
            trades=self.trades,
            cap=self.cap,
            n_trades=self.n_trades,
            bad=self.bad,
        )
        args.update(over)
        return int(lib.anvil_backtest(*args.values()))

    def batch(self, **over: Any) -> int:
        args = dict(
            bars=self.bars,
            signals=ffi.from_buffer(self.signals),
            kind=lib.ANVIL_SIGNAL_I8,
            n_runs=self.runs,
            cfgs=self.cfgs,
            n_cfgs=1,
            stats=self.stats,
            bad=self.bad,
        )
        args.update(over)
        return int(lib.anvil_batch(*args.values()))


def default_config() -> dict[str, Any]:
    return dict(
        initial_capital=10_000.0,
        max_leverage=1.0,
        periods_per_year=252.0,
        fill=lib.ANVIL_FILL_NEXT_OPEN,
    )


def config(**over: Any) -> Any:
    """An anvil_config: the defaults with some fields changed."""
    return ffi.new("anvil_config *", {**default_config(), **over})


# -- the status table ---------------------------------------------------------


def test_every_status_in_the_header_has_an_exception() -> None:
    names = re.findall(r"^#define (ANVIL_E_\w+) ", HEADER.read_text(), flags=re.MULTILINE)
    assert names, "no ANVIL_E_* codes found in anvil.h"
    assert sorted(names) == sorted(STATUS_NAMES)
    codes = [getattr(lib, name) for name in names]
    assert lib.ANVIL_OK not in codes
    assert len(set(codes)) == len(codes)


def test_the_built_core_has_the_abi_version_the_header_declares() -> None:
    # engine._bindings refuses to import a core built from older sources (ImportError).
    declared = re.search(r"^#define ANVIL_ABI_VERSION (\d+)", HEADER.read_text(), flags=re.MULTILINE)
    assert declared is not None, "anvil.h declares no ANVIL_ABI_VERSION"
    assert int(declared.group(1)) == _bindings.ABI_VERSION == lib.ANVIL_ABI_VERSION


def test_an_unknown_status_still_raises() -> None:
    with pytest.raises(CoreError, match="unknown status 9999"):
        _bindings._check(9999, "anvil_test")


# -- anvil_max_trades -----------------------------------------------------------


@pytest.mark.parametrize("n", [INT64_MIN, -1, 0, 1, 1000, INT64_MAX // 2, INT64_MAX])
def test_max_trades_is_never_negative_and_covers_a_trade_per_bar(n: int) -> None:
    m = lib.anvil_max_trades(n)
    assert m >= 0
    assert m >= n


# -- anvil_check_bars -----------------------------------------------------------


def test_check_bars_null() -> None:
    assert lib.anvil_check_bars(ffi.NULL, ffi.NULL) == lib.ANVIL_E_NULL


@pytest.mark.parametrize("n", [0, -1, INT64_MIN])
def test_check_bars_without_bars_is_a_size_error(n: int) -> None:
    core = Core()
    assert lib.anvil_check_bars(core.bars_with(n=n), core.bad) == lib.ANVIL_E_SIZE


@pytest.mark.parametrize("field", ["open", "high", "low", "close"])
def test_check_bars_null_price_array(field: str) -> None:
    core = Core()
    bars = core.bars_with(**{field: ffi.NULL})
    assert lib.anvil_check_bars(bars, core.bad) == lib.ANVIL_E_NULL


FAULTS = {
    "nan": np.nan,
    "inf": np.inf,
    "-inf": -np.inf,
    "zero": 0.0,
    "negative": -5.0,
}


@pytest.mark.parametrize("field", ["open", "high", "low", "close"])
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("at", [0, 3, N - 1])
def test_check_bars_names_the_bad_bar(field: str, fault: str, at: int) -> None:
    core = Core()
    getattr(core, field)[at] = FAULTS[fault]
    assert lib.anvil_check_bars(core.bars, core.bad) == lib.ANVIL_E_PRICE
    assert core.bad[0] == at
    assert lib.anvil_check_bars(core.bars, ffi.NULL) == lib.ANVIL_E_PRICE


def test_check_bars_high_below_low() -> None:
    core = Core()
    core.high[5], core.low[5] = core.low[5], core.high[5]
    assert lib.anvil_check_bars(core.bars, core.bad) == lib.ANVIL_E_PRICE
    assert core.bad[0] == 5


def test_check_bars_open_and_close_outside_the_range() -> None:
    core = Core()
    core.open[2] = core.high[2] + 1.0
    core.close[6] = core.low[6] - 1.0
    assert lib.anvil_check_bars(core.bars, core.bad) == lib.ANVIL_E_PRICE
    assert core.bad[0] == 2


BAD_BAR = st.sampled_from([*FAULTS, "high<low", "open>high", "close<low"])


@given(
    faults=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(range(4)), BAD_BAR), max_size=4),
)
def test_check_bars_finds_the_first_bad_bar(faults: list[tuple[int, int, str]]) -> None:
    core = Core(n=40)
    cols = core.prices
    for at, col, fault in faults:
        if fault in FAULTS:
            cols[col][at] = FAULTS[fault]
        elif fault == "high<low":
            core.high[at] = core.low[at] - 1.0
        elif fault == "open>high":
            core.open[at] = core.high[at] * 2
        else:
            core.close[at] = core.low[at] / 2
    o, h, lo, c = cols
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(o + h + lo + c) & (lo > 0) & (lo <= o) & (o <= h) & (lo <= c) & (c <= h)
    want = int(np.argmin(ok)) if not ok.all() else -1
    rc = lib.anvil_check_bars(core.bars, core.bad)
    assert rc == (lib.ANVIL_OK if want < 0 else lib.ANVIL_E_PRICE)
    if want >= 0:
        assert core.bad[0] == want


# -- anvil_check_config ---------------------------------------------------------

# field -> (values refused, values allowed at the edges)
CONFIG_RANGES = {
    "initial_capital": ([0.0, -1.0, -0.0], [5e-324, 1e300]),
    "fee_rate": ([-1e-9, 1.0, 2.0], [0.0, 0.999999]),
    "fee_per_unit": ([-1e-9], [0.0, 1e300]),
    "fixed_fee": ([-1e-9], [0.0, 1e300]),
    "slippage_bps": ([-1e-9, 10_000.0], [0.0, 9999.0]),
    "stop_loss": ([-1e-9, 1.0], [0.0, 0.999]),
    "take_profit": ([-1e-9], [0.0, 1e300]),
    "trailing_stop": ([-1e-9, 1.0], [0.0, 0.999]),
    "max_leverage": ([0.0, -1.0], [5e-324, 1e6]),
    "periods_per_year": ([0.0, -252.0], [5e-324, 1e300]),
}


def test_check_config_null() -> None:
    assert lib.anvil_check_config(ffi.NULL) == lib.ANVIL_E_NULL


@pytest.mark.parametrize("field", CONFIG_RANGES)
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_check_config_refuses_nan_and_infinity(field: str, special: float) -> None:
    cfg = config(**{field: special})
    assert lib.anvil_check_config(cfg) == lib.ANVIL_E_CONFIG


@pytest.mark.parametrize("field", CONFIG_RANGES)
def test_check_config_ranges(field: str) -> None:
    refused, allowed = CONFIG_RANGES[field]
    for value in refused:
        assert lib.anvil_check_config(config(**{field: value})) == lib.ANVIL_E_CONFIG, value
    for value in allowed:
        assert lib.anvil_check_config(config(**{field: value})) == lib.ANVIL_OK, value


@pytest.mark.parametrize("fill", [-1, 2, INT32_MIN, INT32_MAX])
def test_check_config_unknown_fill(fill: int) -> None:
    assert lib.anvil_check_config(config(fill=fill)) == lib.ANVIL_E_KIND


@pytest.mark.parametrize("flag", ["allow_short", "integer_units", "close_at_end"])
@pytest.mark.parametrize("value", [2, -1, INT32_MIN, INT32_MAX])
def test_check_config_flags_are_0_or_1(flag: str, value: int) -> None:
    assert lib.anvil_check_config(config(**{flag: value})) == lib.ANVIL_E_CONFIG
    assert lib.anvil_check_config(config(**{flag: 1})) == lib.ANVIL_OK


# -- anvil_backtest -------------------------------------------------------------


def test_backtest_valid_call_is_ok() -> None:
    assert Core().backtest() == lib.ANVIL_OK


@pytest.mark.parametrize("arg", ["bars", "signal", "cfg", "stats"])
def test_backtest_required_pointer_null(arg: str) -> None:
    assert Core().backtest(**{arg: ffi.NULL}) == lib.ANVIL_E_NULL


@pytest.mark.parametrize("arg", ["equity", "trades", "n_trades", "bad"])
def test_backtest_optional_pointer_null(arg: str) -> None:
    core = Core()
    over: dict[str, Any] = {arg: ffi.NULL}
    if arg == "trades":
        over["cap"] = 0
    assert core.backtest(**over) == lib.ANVIL_OK


@pytest.mark.parametrize("kind", [-1, 2, INT32_MIN, INT32_MAX])
def test_backtest_unknown_signal_kind(kind: int) -> None:
    assert Core().backtest(kind=kind) == lib.ANVIL_E_KIND


@pytest.mark.parametrize("cap", [-1, INT64_MIN])
def test_backtest_negative_trade_capacity(cap: int) -> None:
    assert Core().backtest(cap=cap) == lib.ANVIL_E_SIZE


@pytest.mark.parametrize("n", [0, -1, INT64_MIN])
def test_backtest_without_bars_is_a_size_error(n: int) -> None:
    core = Core()
    assert core.backtest(bars=core.bars_with(n=n), equity=ffi.NULL) == lib.ANVIL_E_SIZE


@pytest.mark.parametrize("field", ["open", "high", "low", "close"])
def test_backtest_null_price_array(field: str) -> None:
    core = Core()
    assert core.backtest(bars=core.bars_with(**{field: ffi.NULL})) == lib.ANVIL_E_NULL


def test_backtest_bad_config() -> None:
    core = Core()
    assert core.backtest(cfg=config(fill=7)) == lib.ANVIL_E_KIND
    assert core.backtest(cfg=config(fee_rate=-0.1)) == lib.ANVIL_E_CONFIG


def test_backtest_small_trade_buffer_reports_capacity_and_the_true_count() -> None:
    core = Core(n=40)
    core.signal[:] = np.arange(40) % 2
    assert core.backtest() == lib.ANVIL_OK
    count = core.n_trades[0]
    assert count > 2
    for cap in (0, 1, count - 1):
        small = ffi.new("anvil_trade[]", max(cap, 1))
        core.n_trades[0] = -7
        assert core.backtest(trades=small, cap=cap) == lib.ANVIL_E_CAPACITY
        assert core.n_trades[0] == count
    assert core.backtest(trades=ffi.new("anvil_trade[]", count), cap=count) == lib.ANVIL_OK


@pytest.mark.parametrize("value", [2, 127, -127, -2])
@pytest.mark.parametrize("at", [0, 3, N - 2])
def test_backtest_int8_signal_outside_the_set(value: int, at: int) -> None:
    core = Core()
    core.signal[at] = value
    assert core.backtest() == lib.ANVIL_E_SIGNAL
    assert core.bad[0] == at


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("at", [0, 3, N - 2])
def test_backtest_float_signal_infinite(value: float, at: int) -> None:
    core = Core()
    signal = core.signal.astype(np.float64)
    signal[at] = value
    rc = core.backtest(signal=ffi.from_buffer(signal), kind=lib.ANVIL_SIGNAL_F64)
    assert rc == lib.ANVIL_E_SIGNAL
    assert core.bad[0] == at


@pytest.mark.parametrize("kind", ["int8", "float64"])
def test_backtest_refuses_a_bad_signal_on_the_last_bar(kind: str) -> None:
    """The last bar's signal never fills, but a value outside the set is still bad input."""
    core = Core()
    signal = np.zeros(N, kind)
    signal[-1] = 2 if kind == "int8" else np.inf
    code = lib.ANVIL_SIGNAL_I8 if kind == "int8" else lib.ANVIL_SIGNAL_F64
    assert core.backtest(signal=ffi.from_buffer(signal), kind=code) == lib.ANVIL_E_SIGNAL
    assert core.bad[0] == N - 1


def test_backtest_allows_hold_and_nan() -> None:
    core = Core()
    core.signal[:] = [lib.ANVIL_HOLD, 1, lib.ANVIL_HOLD, -1, 0, lib.ANVIL_HOLD, 1, 0]
    assert core.backtest() == lib.ANVIL_OK
    signal = np.array([np.nan, 1.0, -np.nan, 1e308, -0.0, 5e-324, np.nan, 0.0])
    assert core.backtest(signal=ffi.from_buffer(signal), kind=lib.ANVIL_SIGNAL_F64) == lib.ANVIL_OK


# -- anvil_batch ----------------------------------------------------------------


def test_batch_valid_calls_are_ok() -> None:
    core = Core()
    assert core.batch() == lib.ANVIL_OK
    assert core.batch(n_cfgs=core.runs) == lib.ANVIL_OK
    assert core.batch(n_runs=0) == lib.ANVIL_OK


@pytest.mark.parametrize("arg", ["bars", "signals", "cfgs", "stats"])
def test_batch_required_pointer_null(arg: str) -> None:
    assert Core().batch(**{arg: ffi.NULL}) == lib.ANVIL_E_NULL


def test_batch_bad_index_is_optional() -> None:
    assert Core().batch(bad=ffi.NULL) == lib.ANVIL_OK


@pytest.mark.parametrize("kind", [-1, 2, INT32_MAX])
def test_batch_unknown_signal_kind(kind: int) -> None:
    assert Core().batch(kind=kind) == lib.ANVIL_E_KIND


@pytest.mark.parametrize("n_runs", [-1, INT64_MIN])
def test_batch_negative_run_count(n_runs: int) -> None:
    assert Core().batch(n_runs=n_runs) == lib.ANVIL_E_SIZE


@pytest.mark.parametrize("n_cfgs", [0, 2, 4, -1, INT64_MIN, INT64_MAX])
def test_batch_config_count_is_one_or_one_per_run(n_cfgs: int) -> None:
    assert Core(runs=3).batch(n_cfgs=n_cfgs) == lib.ANVIL_E_SIZE


@pytest.mark.parametrize("n_runs", [INT64_MAX, INT64_MAX // N + 1])
def test_batch_run_count_past_any_memory(n_runs: int) -> None:
    assert Core().batch(n_runs=n_runs) == lib.ANVIL_E_SIZE


def test_batch_bad_config_in_one_run() -> None:
    core = Core()
    core.cfgs[2].slippage_bps = 10_000.0
    assert core.batch(n_cfgs=core.runs) == lib.ANVIL_E_CONFIG
    core.cfgs[2].slippage_bps = 0.0
    core.cfgs[2].fill = 3
    assert core.batch(n_cfgs=core.runs) == lib.ANVIL_E_KIND


def test_batch_bad_price_names_the_bar() -> None:
    core = Core()
    core.low[4] = np.nan
    assert core.batch() == lib.ANVIL_E_PRICE
    assert core.bad[0] == 4


@pytest.mark.parametrize(("run", "bar"), [(0, 0), (1, 3), (2, N - 2)])
def test_batch_bad_signal_names_run_and_bar(run: int, bar: int) -> None:
    core = Core()
    core.signals[run, bar] = 100
    assert core.batch() == lib.ANVIL_E_SIGNAL
    assert core.bad[0] == run * N + bar


# -- stepping: anvil_sim_* ------------------------------------------------------


class Sim:
    """A simulation in a buffer of exactly anvil_sim_size() bytes."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.size = int(lib.anvil_sim_size())
        self.buf = np.zeros(self.size, np.uint8)
        self.ptr = ffi.cast("anvil_sim *", ffi.from_buffer(self.buf))

    def init(self, size: int | None = None, bars: Any = None, cfg: Any = None) -> int:
        c = self.core
        return int(
            lib.anvil_sim_init(
                self.ptr,
                self.size if size is None else size,
                c.bars if bars is None else bars,
                c.cfg if cfg is None else cfg,
                ffi.from_buffer("double[]", c.equity),
                c.trades,
                c.cap,
            )
        )


def test_sim_null_everywhere() -> None:
    core = Core()
    state = ffi.new("anvil_sim_state *")
    stats = ffi.new("anvil_stats *")
    order_id = ffi.new("int64_t *")
    null, nil = lib.ANVIL_E_NULL, ffi.NULL
    size = lib.anvil_sim_size()
    assert lib.anvil_sim_init(nil, size, core.bars, core.cfg, nil, nil, 0) == null
    assert lib.anvil_sim_open(nil, 0) == null
    assert lib.anvil_sim_close(nil, 0) == null
    market, buy = lib.ANVIL_ORDER_MARKET, lib.ANVIL_SIDE_BUY
    assert lib.anvil_sim_order(nil, market, buy, 0.0, 1.0, order_id) == null
    assert lib.anvil_sim_cancel(ffi.NULL, 1) == null
    assert lib.anvil_sim_cancel_all(ffi.NULL) == null
    assert lib.anvil_sim_get_state(ffi.NULL, state) == null
    assert lib.anvil_sim_finish(ffi.NULL, stats, ffi.NULL) == null
    sim = Sim(core)
    assert sim.init(bars=ffi.NULL) == null
    assert sim.init(cfg=ffi.NULL) == null
    assert sim.init() == lib.ANVIL_OK
    assert lib.anvil_sim_get_state(sim.ptr, ffi.NULL) == null


def test_sim_never_initialised_is_refused() -> None:
    sim = Sim(Core())
    assert lib.anvil_sim_open(sim.ptr, 0) in (lib.ANVIL_E_NULL, lib.ANVIL_E_STATE)


@pytest.mark.parametrize("delta", [1, 8, None])
def test_sim_init_buffer_too_small(delta: int | None) -> None:
    sim = Sim(Core())
    size = INT64_MIN if delta is None else sim.size - delta
    assert sim.init(size=size) == lib.ANVIL_E_SIZE


def test_sim_init_checks_bars_and_config() -> None:
    core = Core()
    sim = Sim(core)
    assert sim.init(bars=core.bars_with(n=0)) == lib.ANVIL_E_SIZE
    assert sim.init(bars=core.bars_with(close=ffi.NULL)) == lib.ANVIL_E_NULL
    assert sim.init(cfg=config(fill=9)) == lib.ANVIL_E_KIND
    assert sim.init(cfg=config(stop_loss=1.0)) == lib.ANVIL_E_CONFIG
    core.high[1] = core.low[1] - 1.0
    assert sim.init() == lib.ANVIL_E_PRICE


def test_sim_calls_out_of_sequence() -> None:
    sim = Sim(Core())
    assert sim.init() == lib.ANVIL_OK
    state = lib.ANVIL_E_STATE
    stats = ffi.new("anvil_stats *")
    assert lib.anvil_sim_close(sim.ptr, 0) == state
    assert lib.anvil_sim_finish(sim.ptr, stats, ffi.NULL) == state
    for t in (1, -1, N, INT64_MIN, INT64_MAX):
        assert lib.anvil_sim_open(sim.ptr, t) == state, t
    assert lib.anvil_sim_open(sim.ptr, 0) == lib.ANVIL_OK
    assert lib.anvil_sim_open(sim.ptr, 0) == state
    assert lib.anvil_sim_close(sim.ptr, 1) == state
    for t in range(N):
        if t:
            assert lib.anvil_sim_open(sim.ptr, t) == lib.ANVIL_OK
        assert lib.anvil_sim_close(sim.ptr, t) == lib.ANVIL_OK
    assert lib.anvil_sim_open(sim.ptr, N) == state
    market, buy = lib.ANVIL_ORDER_MARKET, lib.ANVIL_SIDE_BUY
    assert lib.anvil_sim_order(sim.ptr, market, buy, 0.0, 1.0, ffi.NULL) == state
    assert lib.anvil_sim_finish(sim.ptr, ffi.NULL, ffi.NULL) == lib.ANVIL_E_NULL
    assert lib.anvil_sim_finish(sim.ptr, stats, ffi.NULL) == lib.ANVIL_OK


def test_sim_orders_out_of_range() -> None:
    sim = Sim(Core())
    assert sim.init() == lib.ANVIL_OK
    assert lib.anvil_sim_open(sim.ptr, 0) == lib.ANVIL_OK
    market, limit, stop = lib.ANVIL_ORDER_MARKET, lib.ANVIL_ORDER_LIMIT, lib.ANVIL_ORDER_STOP
    buy, sell = lib.ANVIL_SIDE_BUY, lib.ANVIL_SIDE_SELL
    p = sim.ptr

    def order(kind: int, side: int, price: float, target: float = 1.0) -> int:
        return int(lib.anvil_sim_order(p, kind, side, price, target, ffi.NULL))

    for bad_type in (-1, 3, INT32_MAX):
        assert order(bad_type, buy, 100.0) == lib.ANVIL_E_KIND
    for bad_side in (2, -2, INT32_MIN):
        assert order(limit, bad_side, 100.0) == lib.ANVIL_E_KIND
    for price in (np.nan, np.inf, -np.inf, 0.0, -1.0):
        assert order(limit, buy, price) == lib.ANVIL_E_PRICE
        assert order(stop, sell, price) == lib.ANVIL_E_PRICE
    for target in (np.nan, np.inf, -np.inf):
        assert order(market, buy, 0.0, target) == lib.ANVIL_E_SIGNAL
    for i in range(lib.ANVIL_MAX_ORDERS):
        assert order(limit, buy, 1.0 + i) == lib.ANVIL_OK
    assert order(limit, buy, 1.0) == lib.ANVIL_E_CAPACITY
    for never in (0, -1, INT64_MAX):
        assert lib.anvil_sim_cancel(p, never) == lib.ANVIL_E_STATE
    assert lib.anvil_sim_cancel_all(p) == lib.ANVIL_OK


# -- anvil_stats_from_equity ----------------------------------------------------


def _stats_from(
    equity: Any,
    n: int,
    initial: float = 10_000.0,
    ppy: float = 252.0,
    trades: Any = ffi.NULL,
    n_trades: int = 0,
    stats: Any = None,
) -> int:
    out = ffi.new("anvil_stats *") if stats is None else stats
    rc = lib.anvil_stats_from_equity(equity, n, initial, ppy, ffi.NULL, trades, n_trades, out)
    return int(rc)


def test_stats_from_equity_pointers_and_sizes() -> None:
    equity = ffi.from_buffer("double[]", np.linspace(10_000.0, 11_000.0, N))
    assert _stats_from(equity, N) == lib.ANVIL_OK
    assert _stats_from(ffi.NULL, N) == lib.ANVIL_E_NULL
    assert _stats_from(equity, N, stats=ffi.NULL) == lib.ANVIL_E_NULL
    assert _stats_from(equity, N, n_trades=2) == lib.ANVIL_E_NULL
    for n in (0, -1, INT64_MIN):
        assert _stats_from(equity, n) == lib.ANVIL_E_SIZE, n
    trades = ffi.new("anvil_trade[]", 1)
    assert _stats_from(equity, N, trades=trades, n_trades=-1) == lib.ANVIL_E_SIZE


@pytest.mark.parametrize("value", [0.0, -1.0, np.nan, np.inf])
def test_stats_from_equity_capital_and_periods_out_of_range(value: float) -> None:
    equity = ffi.from_buffer("double[]", np.linspace(10_000.0, 11_000.0, N))
    assert _stats_from(equity, N, initial=value) == lib.ANVIL_E_CONFIG
    assert _stats_from(equity, N, ppy=value) == lib.ANVIL_E_CONFIG


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_stats_from_equity_not_finite(value: float) -> None:
    curve = np.linspace(10_000.0, 11_000.0, N)
    curve[N // 2] = value
    assert _stats_from(ffi.from_buffer("double[]", curve), N) == lib.ANVIL_E_PRICE

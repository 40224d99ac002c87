"""The one module that touches cffi: numpy arrays in, numpy records out.

Everything above this layer sees numpy arrays and the record dtypes of
``engine.records``; every C status is turned into an exception by ``_check``.
Calls into ``lib`` release the GIL (cffi's API mode does so for every call).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine._core import ffi, lib
from engine.errors import STATUS_NAMES, CoreError, EngineError
from engine.records import CONFIG_DTYPE, STATS_DTYPE, TRADE_DTYPE

HOLD: int = lib.ANVIL_HOLD
SIGNAL_I8: int = lib.ANVIL_SIGNAL_I8
SIGNAL_F64: int = lib.ANVIL_SIGNAL_F64
FILL_NEXT_OPEN: int = lib.ANVIL_FILL_NEXT_OPEN
FILL_CLOSE: int = lib.ANVIL_FILL_CLOSE
EXIT_REASONS: dict[int, str] = {
    lib.ANVIL_EXIT_SIGNAL: "signal",
    lib.ANVIL_EXIT_STOP_LOSS: "stop_loss",
    lib.ANVIL_EXIT_TAKE_PROFIT: "take_profit",
    lib.ANVIL_EXIT_TRAILING_STOP: "trailing_stop",
    lib.ANVIL_EXIT_END: "end",
}

_ERRORS = {getattr(lib, name): value for name, value in STATUS_NAMES.items()}


def _check(rc: int, where: str, bad_index: Any = None) -> None:
    """Raise the exception that C status ``rc`` stands for."""
    if rc == lib.ANVIL_OK:
        return
    cls, meaning = _ERRORS.get(rc, (CoreError, f"unknown status {rc}"))
    at = f" (at index {bad_index[0]})" if bad_index is not None else ""
    raise cls(f"{where}: {meaning}{at}")


def sizeof(ctype: str) -> int:
    return int(ffi.sizeof(ctype))


def offsetof(ctype: str, field: str) -> int:
    return int(ffi.offsetof(ctype, field))


def max_trades(n_bars: int) -> int:
    return int(lib.anvil_max_trades(n_bars))


def _doubles(a: np.ndarray) -> Any:
    return ffi.from_buffer("double[]", a)


def _bars(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> tuple:
    """An anvil_bars struct and the buffers it points into (keep both alive)."""
    keep = [_doubles(open_), _doubles(high), _doubles(low), _doubles(close)]
    bars = ffi.new("anvil_bars *")
    bars.open, bars.high, bars.low, bars.close = keep
    bars.n = len(close)
    return bars, keep


def _signal_kind(signal: np.ndarray) -> int:
    if signal.dtype == np.int8:
        return SIGNAL_I8
    if signal.dtype == np.float64:
        return SIGNAL_F64
    raise EngineError(f"signals reach the core as int8 or float64, not {signal.dtype}")


def check_bars(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> int:
    """Index of the first bar the core rejects, or -1 when all are valid."""
    bars, _keep = _bars(open_, high, low, close)
    bad = ffi.new("int64_t *", -1)
    rc = lib.anvil_check_bars(bars, bad)
    if rc == lib.ANVIL_E_PRICE:
        return int(bad[0])
    _check(rc, "anvil_check_bars")
    return -1


def backtest(
    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    signal: np.ndarray,
    config: np.ndarray,
    want_equity: bool,
    want_trades: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One backtest. Returns (stats record, equity or None, trades or None)."""
    bars, _keep = _bars(*prices)
    n = bars.n
    stats = np.zeros(1, STATS_DTYPE)
    equity = np.empty(n, np.float64) if want_equity else None
    trades = np.empty(max_trades(n), TRADE_DTYPE) if want_trades else None
    n_trades = ffi.new("int64_t *", 0)
    bad = ffi.new("int64_t *", -1)
    rc = lib.anvil_backtest(
        bars,
        ffi.from_buffer(signal),
        _signal_kind(signal),
        ffi.from_buffer("anvil_config[]", config),
        ffi.from_buffer("anvil_stats[]", stats, require_writable=True),
        _doubles(equity) if equity is not None else ffi.NULL,
        ffi.from_buffer("anvil_trade[]", trades, require_writable=True)
        if trades is not None
        else ffi.NULL,
        len(trades) if trades is not None else 0,
        n_trades,
        bad,
    )
    _check(rc, "anvil_backtest", bad)
    if trades is not None:
        trades = trades[: n_trades[0]].copy()
    return stats[0], equity, trades


def batch(
    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    signals: np.ndarray,
    configs: np.ndarray,
    out: np.ndarray,
) -> None:
    """Backtest each row of ``signals`` into the matching record of ``out``.

    ``configs`` holds one record (shared) or one per row. ``signals`` must be
    C-contiguous ``[n_runs, n_bars]``; ``out`` a writable STATS_DTYPE array.
    """
    bars, _keep = _bars(*prices)
    bad = ffi.new("int64_t *", -1)
    rc = lib.anvil_batch(
        bars,
        ffi.from_buffer(signals),
        _signal_kind(signals),
        signals.shape[0],
        ffi.from_buffer("anvil_config[]", configs),
        len(configs),
        ffi.from_buffer("anvil_stats[]", out, require_writable=True),
        bad,
    )
    _check(rc, "anvil_batch", bad)

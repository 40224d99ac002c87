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
from engine.records import PF_EVENT_DTYPE, STATS_DTYPE, TRADE_DTYPE

ABI_VERSION = 3
"""The ``ANVIL_ABI_VERSION`` of ``csrc/anvil.h`` this module is written for."""

if lib.ANVIL_ABI_VERSION != ABI_VERSION:
    raise ImportError(
        f"the compiled C core (engine/_core) is ABI version {lib.ANVIL_ABI_VERSION}, but this anvil "
        f"expects {ABI_VERSION}: it was built from older sources; rebuild it with `make core` "
        "(or reinstall anvil)"
    )

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
    lib.ANVIL_EXIT_MARGIN: "margin",
}

_ERRORS = {getattr(lib, name): value for name, value in STATUS_NAMES.items()}


def _check(rc: int, where: str, bad_index: Any = None) -> None:
    """Raise the exception that C status ``rc`` stands for."""
    if rc == lib.ANVIL_OK:
        return
    cls, meaning = _ERRORS.get(rc, (CoreError, f"unknown status {rc}"))
    at = f" (at index {bad_index[0]})" if bad_index is not None else ""
    raise cls(f"{where}: {meaning}{at}")


def max_trades(n_bars: int) -> int:
    return int(lib.anvil_max_trades(n_bars))


def _doubles(a: np.ndarray) -> Any:
    return ffi.from_buffer("double[]", a)


def _bars(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ts: np.ndarray | None = None,
    checked: bool = False,
) -> tuple:
    """An anvil_bars struct and the buffers it points into (keep both alive).
    ``ts`` (int64 ns UTC, one per bar) is read by the daily loss limit only.
    ``checked``: the prices are an ``engine.Bars``'s (validated when built, read-only
    since), so the core skips its own check of every bar."""
    keep = [_doubles(open_), _doubles(high), _doubles(low), _doubles(close)]
    bars = ffi.new("anvil_bars *")
    bars.open, bars.high, bars.low, bars.close = keep
    bars.n = len(close)
    bars.checked = 1 if checked else 0
    if ts is not None:
        if ts.dtype != np.int64 or ts.shape != (len(close),) or not ts.flags.c_contiguous:
            raise CoreError("anvil_bars takes contiguous int64 bar times, one per bar")
        keep.append(ffi.from_buffer("int64_t[]", ts))
        bars.ts = keep[-1]
    return bars, keep


def _signal_kind(signal: np.ndarray) -> int:
    if signal.dtype == np.int8:
        return SIGNAL_I8
    if signal.dtype == np.float64:
        return SIGNAL_F64
    raise EngineError(f"signals reach the core as int8 or float64, not {signal.dtype}")


def core_wide() -> bool:
    """Whether the bar loops in use are the C core's AVX2 copies (same bits as the plain ones)."""
    return bool(lib.anvil_core_wide())


def check_bars(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> int:
    """Index of the first bar the core rejects, or -1 when all are valid (the store's
    one-pass check of a stored series, ``engine.store._query``)."""
    bars, _keep = _bars(open_, high, low, close)
    bad = ffi.new("int64_t *", -1)
    rc = lib.anvil_check_bars(bars, bad)
    if rc == lib.ANVIL_E_PRICE:
        return int(bad[0])
    _check(rc, "anvil_check_bars")
    return -1


def _first_guess(n_bars: int) -> int:
    """Trade records to allocate first: plenty for ordinary signals; a run that
    closes more is rerun with the exact count (the core reports it)."""
    return min(max_trades(n_bars), n_bars // 16 + 1024)


RULE_NAMES: dict[int, str] = {
    lib.ANVIL_RULE_MAX_WEIGHT: "max_weight",
    lib.ANVIL_RULE_DRAWDOWN: "max_drawdown_halt",
    lib.ANVIL_RULE_DAILY_LOSS: "daily_loss_limit",
    lib.ANVIL_RULE_COOLDOWN: "cooldown",
}
"""Risk rules of one series (csrc/rules.h) by the code their events carry."""
EXIT_REASONS[lib.ANVIL_EXIT_RISK] = "risk"

_EVENTS_FIRST_GUESS = 64


def backtest(
    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    signal: np.ndarray,
    config: np.ndarray,
    want_equity: bool,
    want_trades: bool,
    ts: np.ndarray | None = None,
    checked: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One backtest. Returns (stats record, equity or None, trades or None, risk
    events or None). Events (``PF_EVENT_DTYPE``) come with the trades; ``ts`` is
    needed when the config has a daily loss limit; ``checked`` as for ``_bars``."""
    bars, _keep = _bars(*prices, ts, checked)
    n = bars.n
    stats = np.zeros(1, STATS_DTYPE)
    equity = np.empty(n, np.float64) if want_equity else None
    capacity = _first_guess(n)
    ev_capacity = _EVENTS_FIRST_GUESS
    n_trades = ffi.new("int64_t *", 0)
    n_events = ffi.new("int64_t *", 0)
    bad = ffi.new("int64_t *", -1)
    sig = ffi.from_buffer(signal)
    kind = _signal_kind(signal)
    cfg = ffi.from_buffer("anvil_config[]", config)
    stats_p = ffi.from_buffer("anvil_stats[]", stats, require_writable=True)
    eq_p = _doubles(equity) if equity is not None else ffi.NULL
    while True:
        trades = np.empty(capacity, TRADE_DTYPE) if want_trades else None
        events = np.empty(ev_capacity, PF_EVENT_DTYPE) if want_trades else None
        rc = lib.anvil_backtest_events(
            bars,
            sig,
            kind,
            cfg,
            stats_p,
            eq_p,
            ffi.from_buffer("anvil_trade[]", trades, require_writable=True) if trades is not None else ffi.NULL,
            capacity if trades is not None else 0,
            n_trades,
            ffi.from_buffer("anvil_pf_event[]", events, require_writable=True) if events is not None else ffi.NULL,
            ev_capacity if events is not None else 0,
            n_events,
            bad,
        )
        if rc != lib.ANVIL_E_CAPACITY or (n_trades[0] <= capacity and n_events[0] <= ev_capacity):
            break
        # rare: more trades or events than the first guess; rerun with the exact counts
        capacity, ev_capacity = max(capacity, int(n_trades[0])), max(ev_capacity, int(n_events[0]))
    _check(rc, "anvil_backtest", bad)
    if trades is not None:
        trades = trades[: n_trades[0]]
    if events is not None:
        events = events[: n_events[0]]
    return stats[0], equity, trades, events


def batch(
    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    signals: np.ndarray,
    configs: np.ndarray,
    out: np.ndarray,
    ts: np.ndarray | None = None,
    checked: bool = False,
) -> None:
    """Backtest each row of ``signals`` into the matching record of ``out``.

    ``configs`` holds one record (shared) or one per row. ``signals`` must be
    C-contiguous ``[n_runs, n_bars]``; ``out`` a writable STATS_DTYPE array;
    ``ts`` is needed when a config has a daily loss limit; ``checked`` as for ``_bars``.
    """
    bars, _keep = _bars(*prices, ts, checked)
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


def stats_from_equity(
    equity: np.ndarray,
    initial_capital: float,
    periods_per_year: float,
    in_market: np.ndarray | None,
    trades: np.ndarray | None,
) -> np.ndarray:
    """The stats record of an equity curve (float64) and trades (TRADE_DTYPE)."""
    stats = np.zeros(1, STATS_DTYPE)
    n_trades = len(trades) if trades is not None else 0
    rc = lib.anvil_stats_from_equity(
        _doubles(equity),
        len(equity),
        initial_capital,
        periods_per_year,
        ffi.from_buffer("uint8_t[]", in_market) if in_market is not None else ffi.NULL,
        ffi.from_buffer("anvil_trade[]", trades) if n_trades else ffi.NULL,
        n_trades,
        ffi.from_buffer("anvil_stats[]", stats, require_writable=True),
    )
    _check(rc, "anvil_stats_from_equity")
    return stats[0]


# -- stepping ---------------------------------------------------------------

ORDER_MARKET: int = lib.ANVIL_ORDER_MARKET
ORDER_LIMIT: int = lib.ANVIL_ORDER_LIMIT
ORDER_STOP: int = lib.ANVIL_ORDER_STOP
SIDE_BUY: int = lib.ANVIL_SIDE_BUY
SIDE_SELL: int = lib.ANVIL_SIDE_SELL
SIDE_EXIT: int = lib.ANVIL_SIDE_EXIT
MAX_ORDERS: int = lib.ANVIL_MAX_ORDERS


class Stepper:
    """Owns one anvil_sim and the buffers it writes into; one bar at a time."""

    __slots__ = ("_keep", "_sim", "_state", "_id", "equity", "trades", "events")

    def __init__(
        self,
        prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        config: np.ndarray,
        want_equity: bool,
        want_trades: bool,
        ts: np.ndarray | None = None,
        checked: bool = False,
    ) -> None:
        bars, keep = _bars(*prices, ts, checked)
        n = bars.n
        self.equity = np.empty(n, np.float64) if want_equity else None
        self.trades = np.empty(max_trades(n), TRADE_DTYPE) if want_trades else None
        self.events = np.empty(int(lib.anvil_max_events(n)), PF_EVENT_DTYPE) if want_trades else None
        size = lib.anvil_sim_size()
        raw = ffi.new("char[]", size)
        self._sim = ffi.cast("anvil_sim *", raw)
        self._keep = (bars, keep, raw, config)
        self._state = ffi.new("anvil_sim_state *")
        self._id = ffi.new("int64_t *")
        rc = lib.anvil_sim_init(
            self._sim,
            size,
            bars,
            ffi.from_buffer("anvil_config[]", config),
            _doubles(self.equity) if self.equity is not None else ffi.NULL,
            ffi.from_buffer("anvil_trade[]", self.trades, require_writable=True)
            if self.trades is not None
            else ffi.NULL,
            len(self.trades) if self.trades is not None else 0,
        )
        _check(rc, "anvil_sim_init")
        if self.events is not None:
            rc = lib.anvil_sim_set_events(
                self._sim, ffi.from_buffer("anvil_pf_event[]", self.events, require_writable=True), len(self.events)
            )
            _check(rc, "anvil_sim_set_events")

    def open_bar(self, t: int) -> None:
        _check(lib.anvil_sim_open(self._sim, t), f"anvil_sim_open({t})")

    def close_bar(self, t: int) -> None:
        _check(lib.anvil_sim_close(self._sim, t), f"anvil_sim_close({t})")

    def order(self, kind: int, side: int, price: float, target: float) -> int:
        rc = lib.anvil_sim_order(self._sim, kind, side, price, target, self._id)
        _check(rc, "anvil_sim_order")
        return int(self._id[0])

    def cancel(self, order_id: int) -> bool:
        """True when the order was live and is now gone."""
        rc = lib.anvil_sim_cancel(self._sim, order_id)
        if rc == lib.ANVIL_E_STATE:
            return False
        _check(rc, "anvil_sim_cancel")
        return True

    def cancel_all(self) -> None:
        _check(lib.anvil_sim_cancel_all(self._sim), "anvil_sim_cancel_all")

    def state(self) -> tuple[float, float, float, float, int, int, int, int]:
        """(cash, units, avg_price, total_fees, entry_bar, n_trades, n_orders, next_bar)."""
        s = self._state
        _check(lib.anvil_sim_get_state(self._sim, s), "anvil_sim_get_state")
        return (s.cash, s.units, s.avg_price, s.total_fees, s.entry_bar, s.n_trades, s.n_orders, s.next_bar)

    def finish(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """(stats record, equity or None, trades or None, risk events or None) after the last bar."""
        stats = np.zeros(1, STATS_DTYPE)
        n_trades = ffi.new("int64_t *", 0)
        rc = lib.anvil_sim_finish(self._sim, ffi.from_buffer("anvil_stats[]", stats, require_writable=True), n_trades)
        _check(rc, "anvil_sim_finish")
        trades = self.trades[: n_trades[0]].copy() if self.trades is not None else None
        events = None
        if self.events is not None:
            n_events = ffi.new("int64_t *", 0)
            _check(lib.anvil_sim_n_events(self._sim, n_events), "anvil_sim_n_events")
            events = self.events[: n_events[0]].copy()
        return stats[0], self.equity, trades, events


# -- signals of many parameter sets --


def compare_rows(a: list[np.ndarray], b: list[np.ndarray], sign: np.ndarray | None, out: np.ndarray) -> None:
    """Fill ``out`` (rows x n, C-contiguous int8) with anvil_compare_rows over the
    row pairs ``a[r]``, ``b[r]`` (1-D C-contiguous float64, n values each; the same
    array may serve many rows) and optional per-row ``sign`` flags (int8)."""
    rows, n = out.shape
    if len(a) != rows or len(b) != rows or (sign is not None and sign.shape != (rows,)):
        raise CoreError(
            f"anvil_compare_rows: {rows} output rows need {rows} lines on each side"
            f"{' and as many sign flags' if sign is not None else ''}"
        )
    if out.dtype != np.int8 or not out.flags.c_contiguous:
        raise CoreError("anvil_compare_rows writes a C-contiguous int8 matrix")
    buffers: dict[int, Any] = {}  # one cdata per distinct line, alive until the call returns
    for line in (*a, *b):
        if id(line) not in buffers:
            if line.dtype != np.float64 or line.shape != (n,) or not line.flags.c_contiguous:
                raise CoreError(
                    f"anvil_compare_rows takes contiguous float64 lines of {n} values, got {line.dtype} {line.shape}"
                )
            buffers[id(line)] = _doubles(line)
    a_ptrs = ffi.new("double *[]", [buffers[id(line)] for line in a])
    b_ptrs = ffi.new("double *[]", [buffers[id(line)] for line in b])
    flags = ffi.NULL if sign is None else ffi.from_buffer("int8_t[]", np.ascontiguousarray(sign, np.int8))
    if rows == 0 or n == 0:
        return
    rc = lib.anvil_compare_rows(a_ptrs, b_ptrs, flags, rows, n, ffi.from_buffer("int8_t[]", out, require_writable=True))
    _check(rc, "anvil_compare_rows")


# -- indicators --
# Every indicator of csrc/ (ind_*.c) reads anvil_<name>(inputs..., n, params...,
# outputs...); strategies.indicators validates the arguments and calls `indicator`.

INDICATORS = frozenset(
    {
        "sma",
        "ema",
        "wma",
        "rsi",
        "macd",
        "roc",
        "momentum",
        "stddev",
        "zscore",
        "bbands",
        "highest",
        "lowest",
        "true_range",
        "atr",
        "stoch",
        "willr",
        "cci",
        "adx",
        "vwap",
        "obv",
    }
)


def indicator(
    name: str,
    inputs: tuple[np.ndarray, ...],
    params: tuple[int | float, ...],
    outputs: tuple[np.ndarray, ...],
) -> None:
    """Run ``anvil_<name>`` over ``inputs`` into ``outputs``.

    Every array must be one-dimensional, C-contiguous float64 and as long as the
    others; the outputs writable (the C function fills them whole).
    """
    if name not in INDICATORS:
        raise CoreError(f"no indicator {name!r} in the core")
    n = len(outputs[0])
    for a in (*inputs, *outputs):
        if a.dtype != np.float64 or a.ndim != 1 or not a.flags.c_contiguous or len(a) != n:
            raise CoreError(f"anvil_{name} takes contiguous 1-D float64 arrays of {n} values, got {a.dtype} {a.shape}")
    if n == 0:
        return
    rc = getattr(lib, f"anvil_{name}")(
        *(_doubles(a) for a in inputs),
        n,
        *params,
        *(ffi.from_buffer("double[]", o, require_writable=True) for o in outputs),
    )
    _check(rc, f"anvil_{name}")


# -- portfolios (issue 10): many symbols, one account -----------------------

from engine.records import PF_EXTRA_DTYPE, PF_TRADE_DTYPE  # noqa: E402

EXIT_DELISTED: int = lib.ANVIL_EXIT_DELISTED
PF_EXIT_REASONS: dict[int, str] = {**EXIT_REASONS, EXIT_DELISTED: "delisted", lib.ANVIL_EXIT_RISK: "risk"}
PF_RULES: dict[int, str] = {
    lib.ANVIL_RULE_MAX_WEIGHT: "max_weight",
    lib.ANVIL_RULE_CASH: "cash",
    lib.ANVIL_RULE_DRAWDOWN: "max_drawdown_halt",
    lib.ANVIL_RULE_DAILY_LOSS: "daily_loss_limit",
    lib.ANVIL_RULE_COOLDOWN: "cooldown",
    lib.ANVIL_RULE_MARGIN: "margin",
}


def _panel(arrays: tuple[np.ndarray, ...]) -> tuple:
    """An anvil_panel over (open, high, low, close, tradable, ts): prices and tradable
    ``[n_bars, n_symbols]`` with unit column stride (rows may be strided), ts int64
    ``[n_bars]``; returns (struct, buffers to keep)."""
    o, h, lo, c, trad, ts = arrays
    n, m = c.shape
    for a in (o, h, lo, c):
        if a.dtype != np.float64 or a.shape != (n, m) or a.strides[1] != 8 or a.strides[0] != c.strides[0]:
            raise CoreError("anvil_panel takes float64 [n_bars, n_symbols] arrays with contiguous rows of one stride")
    if trad.dtype != np.bool_ or trad.shape != (n, m) or trad.strides[1] != 1:
        raise CoreError("anvil_panel takes a bool tradable array with contiguous rows")

    def base(a: np.ndarray) -> Any:
        # A view may start anywhere in its parent: point at its first element.
        return ffi.cast("double *", a.__array_interface__["data"][0])

    if ts.dtype != np.int64 or ts.shape != (n,) or not ts.flags.c_contiguous:
        raise CoreError("anvil_panel takes contiguous int64 bar times, one per row")
    keep = [o, h, lo, c, trad, ts]
    p = ffi.new("anvil_panel *")
    p.open, p.high, p.low, p.close = (base(a) for a in (o, h, lo, c))
    p.tradable = ffi.cast("uint8_t *", trad.__array_interface__["data"][0])
    p.ts = ffi.cast("int64_t *", ts.__array_interface__["data"][0])
    p.n_bars, p.n_symbols = n, m
    p.stride = c.strides[0] // 8 if n > 1 else m
    p.tradable_stride = trad.strides[0] if n > 1 else m
    return p, keep


def _opt_doubles(a: np.ndarray | None) -> Any:
    return ffi.NULL if a is None else _doubles(a)


PF_COSTS = ("fee_rate", "slippage_bps", "fee_per_unit", "fixed_fee")
"""The per-symbol costs of a portfolio, in the order of ``anvil_pf_costs``."""


def _pf_costs(costs: tuple[np.ndarray | None, ...]) -> Any:
    """An anvil_pf_costs over ``costs`` (n_symbols float64 each or None, in ``PF_COSTS``
    order); the caller keeps the arrays alive."""
    k = ffi.new("anvil_pf_costs *")
    for name, a in zip(PF_COSTS, costs, strict=True):
        setattr(k, name, _opt_doubles(a))
    return k


PF_GROUP: int = lib.ANVIL_PF_GROUP
"""Runs a batch steps together bar by bar when its scratch has room for them."""


def pf_work(n_symbols: int, runs: int = 1) -> np.ndarray:
    """Scratch memory of ``runs`` portfolio runs stepped together (one per thread)."""
    size = int(lib.anvil_pf_work_size(n_symbols))
    if size < 0:
        raise CoreError(f"anvil_pf_work_size({n_symbols}) refused the size")
    return np.empty(max(size * max(runs, 1) // 8, 1), np.float64)


def portfolio(
    panel: tuple[np.ndarray, ...],
    weights: np.ndarray,
    config: np.ndarray,
    costs: tuple[np.ndarray | None, ...],
    want_equity: bool,
    want_weights: bool,
) -> dict[str, Any]:
    """One portfolio. Returns stats, extra, equity, cash, weights, contributions,
    trades and events (numpy records); the optional ones None when not wanted."""
    p, _keep = _panel(panel)
    n, m = int(p.n_bars), int(p.n_symbols)
    work = pf_work(m)
    stats = np.zeros(1, STATS_DTYPE)
    extra = np.zeros(1, PF_EXTRA_DTYPE)
    equity = np.empty(n) if want_equity else None
    cash = np.empty(n) if want_equity else None
    wts = np.empty((n, m)) if want_weights else None
    contrib = np.empty(m)
    # Every trade closes units an instruction (a weight that is not NaN) opened, and
    # every instruction closes at most one: at most 2 trades an instruction.
    orders = int(np.count_nonzero(~np.isnan(weights)))
    t_cap = min(2 * orders + 16, orders + 4 * m + 1024)
    e_cap = min(orders + n + 16, n + 1024)
    bad = ffi.new("int64_t *", -1)
    while True:
        trades = np.empty(t_cap, PF_TRADE_DTYPE)
        events = np.empty(e_cap, PF_EVENT_DTYPE)
        out = ffi.new("anvil_pf_outputs *")
        out.equity, out.cash = _opt_doubles(equity), _opt_doubles(cash)
        out.weights = _opt_doubles(wts)
        out.contributions = _doubles(contrib)
        out.trades = ffi.from_buffer("anvil_pf_trade[]", trades, require_writable=True)
        out.trades_cap = t_cap
        out.events = ffi.from_buffer("anvil_pf_event[]", events, require_writable=True)
        out.events_cap = e_cap
        rc = lib.anvil_portfolio(
            p,
            _doubles(weights),
            ffi.from_buffer("anvil_pf_config[]", config),
            _pf_costs(costs),
            ffi.from_buffer("char[]", work, require_writable=True),
            work.nbytes,
            ffi.from_buffer("anvil_stats[]", stats, require_writable=True),
            ffi.from_buffer("anvil_pf_extra[]", extra, require_writable=True),
            out,
            bad,
        )
        if rc != lib.ANVIL_E_CAPACITY:
            break
        t_cap = max(t_cap, int(extra[0]["n_trades"]))  # rare: more than the first guess
        e_cap = max(e_cap, int(extra[0]["n_events"]))
    _check(rc, "anvil_portfolio", bad)
    return {
        "stats": stats[0],
        "extra": extra[0],
        "equity": equity,
        "cash": cash,
        "weights": wts,
        "contributions": contrib,
        "trades": trades[: extra[0]["n_trades"]],
        "events": events[: extra[0]["n_events"]],
    }


def portfolio_batch(
    panel: tuple[np.ndarray, ...],
    weights: list[np.ndarray],
    configs: np.ndarray,
    costs: tuple[np.ndarray | None, ...],
    work: np.ndarray,
    stats: np.ndarray,
    extras: np.ndarray,
) -> None:
    """Portfolios of each ``weights[r]`` (a C-contiguous float64 ``[n_bars, n_symbols]``
    matrix; they need not be adjacent) into ``stats[r]`` and ``extras[r]``; ``work``
    from ``pf_work`` (one per thread)."""
    p, _keep = _panel(panel)
    shape = (int(p.n_bars), int(p.n_symbols))
    for w in weights:
        if w.dtype != np.float64 or w.shape != shape or not w.flags.c_contiguous:
            raise CoreError(
                f"anvil_portfolio_batch takes C-contiguous float64 {shape} weights, got {w.dtype} {w.shape}"
            )
    bufs = [_doubles(w) for w in weights]
    ptrs = ffi.new("double *[]", bufs) if bufs else ffi.new("double *[]", 1)
    bad = ffi.new("int64_t *", -1)
    rc = lib.anvil_portfolio_batch(
        p,
        ptrs,
        len(weights),
        ffi.from_buffer("anvil_pf_config[]", configs),
        len(configs),
        _pf_costs(costs),
        ffi.from_buffer("char[]", work, require_writable=True),
        work.nbytes,
        ffi.from_buffer("anvil_stats[]", stats, require_writable=True),
        ffi.from_buffer("anvil_pf_extra[]", extras, require_writable=True),
        bad,
    )
    _check(rc, "anvil_portfolio_batch", bad)


class PortfolioStepper:
    """Owns one anvil_pf_sim and the buffers it writes into; one bar at a time."""

    __slots__ = (
        "_keep",
        "_sim",
        "_bad",
        "_out",
        "_n",
        "_m",
        "equity",
        "cash",
        "weights",
        "contributions",
        "trades",
        "events",
    )

    def __init__(
        self,
        panel: tuple[np.ndarray, ...],
        config: np.ndarray,
        costs: tuple[np.ndarray | None, ...],
        want_weights: bool,
        trades_cap: int,
        events_cap: int,
    ) -> None:
        p, keep = _panel(panel)
        n, m = int(p.n_bars), int(p.n_symbols)
        self._n, self._m = n, m
        self.equity, self.cash = np.empty(n), np.empty(n)
        self.weights = np.empty((n, m)) if want_weights else None
        self.contributions = np.empty(m)
        self.trades = np.empty(trades_cap, PF_TRADE_DTYPE)
        self.events = np.empty(events_cap, PF_EVENT_DTYPE)
        out = ffi.new("anvil_pf_outputs *")
        out.equity, out.cash = _doubles(self.equity), _doubles(self.cash)
        out.weights = _opt_doubles(self.weights)
        out.contributions = _doubles(self.contributions)
        out.trades = ffi.from_buffer("anvil_pf_trade[]", self.trades, require_writable=True)
        out.trades_cap = trades_cap
        out.events = ffi.from_buffer("anvil_pf_event[]", self.events, require_writable=True)
        out.events_cap = events_cap
        size = int(lib.anvil_pf_sim_size(m))
        if size < 0:
            raise CoreError(f"anvil_pf_sim_size({m}) refused the size")
        raw = ffi.new("char[]", size)
        self._sim = ffi.cast("anvil_pf_sim *", raw)
        k = _pf_costs(costs)
        self._keep = (p, keep, raw, config, costs, k, out)
        self._bad = ffi.new("int64_t *", -1)
        rc = lib.anvil_pf_sim_init(self._sim, size, p, ffi.from_buffer("anvil_pf_config[]", config), k, out)
        _check(rc, "anvil_pf_sim_init")

    def open_bar(self, t: int) -> None:
        _check(lib.anvil_pf_sim_open(self._sim, t), f"anvil_pf_sim_open({t})")

    def close_bar(self, t: int, row: np.ndarray | None) -> None:
        ptr = ffi.NULL if row is None else _doubles(row)
        _check(lib.anvil_pf_sim_close(self._sim, t, ptr, self._bad), f"anvil_pf_sim_close({t})", self._bad)

    def finish(self) -> tuple[int, dict[str, Any]]:
        """(status, raw outputs as ``portfolio`` returns them); the status is
        ANVIL_E_CAPACITY when the trade or event buffers were too small."""
        stats = np.zeros(1, STATS_DTYPE)
        extra = np.zeros(1, PF_EXTRA_DTYPE)
        rc = lib.anvil_pf_sim_finish(
            self._sim,
            ffi.from_buffer("anvil_stats[]", stats, require_writable=True),
            ffi.from_buffer("anvil_pf_extra[]", extra, require_writable=True),
        )
        if rc != lib.ANVIL_E_CAPACITY:
            _check(rc, "anvil_pf_sim_finish")
        return rc, {
            "stats": stats[0],
            "extra": extra[0],
            "equity": self.equity,
            "cash": self.cash,
            "weights": self.weights,
            "contributions": self.contributions,
            "trades": self.trades[: extra[0]["n_trades"]].copy(),
            "events": self.events[: extra[0]["n_events"]].copy(),
        }


# -- cross-sectional blocks (issue 11): [n_bars, n_symbols] in, same shape out ----

SCHEDULES: dict[str, int] = {
    "every_n": lib.ANVIL_SCHED_EVERY_N,
    "week_start": lib.ANVIL_SCHED_WEEK_START,
    "week_end": lib.ANVIL_SCHED_WEEK_END,
    "month_start": lib.ANVIL_SCHED_MONTH_START,
    "month_end": lib.ANVIL_SCHED_MONTH_END,
    "quarter_start": lib.ANVIL_SCHED_QUARTER_START,
    "quarter_end": lib.ANVIL_SCHED_QUARTER_END,
}


def _matrix(a: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    if a.ndim != 2 or a.dtype != dtype or not a.flags.c_contiguous:
        raise CoreError(f"cross-sectional blocks take C-contiguous {np.dtype(dtype)} [n_bars, n_symbols] arrays")
    return a


def _mask(a: np.ndarray) -> Any:
    return ffi.from_buffer("uint8_t[]", a)


def _mask_out(a: np.ndarray) -> Any:
    return ffi.from_buffer("uint8_t[]", a, require_writable=True)


def _out(a: np.ndarray) -> Any:
    return ffi.from_buffer("double[]", a, require_writable=True)


def _scratch(m: int) -> Any:
    return ffi.from_buffer("int64_t[]", np.empty(max(2 * m, 1), np.int64), require_writable=True)


def _xs_map(name: str, x: np.ndarray, *args: Any, mask: bool = False) -> np.ndarray:
    """The one shape of the cross-sectional C calls that map an [n, m] matrix (doubles,
    or with ``mask`` a bool mask) to an [n, m] matrix of doubles: ``name(x, n, m, *args, out)``."""
    n, m = _matrix(x, np.bool_ if mask else np.float64).shape
    out = np.empty((n, m))
    _check(getattr(lib, name)(_mask(x) if mask else _doubles(x), n, m, *args, _out(out)), name)
    return out


def xs_rank(x: np.ndarray) -> np.ndarray:
    n, m = _matrix(x).shape
    out = np.empty((n, m))
    _check(lib.anvil_xs_rank(_doubles(x), n, m, _scratch(m), _out(out)), "anvil_xs_rank")
    return out


def xs_top_k(x: np.ndarray, k: int, largest: bool) -> np.ndarray:
    n, m = _matrix(x).shape
    out = np.empty((n, m), np.bool_)
    _check(lib.anvil_xs_top_k(_doubles(x), n, m, k, int(largest), _scratch(m), _mask_out(out)), "anvil_xs_top_k")
    return out


def xs_zscore(x: np.ndarray) -> np.ndarray:
    return _xs_map("anvil_xs_zscore", x)


def xs_equal_weight(mask: np.ndarray) -> np.ndarray:
    return _xs_map("anvil_xs_equal_weight", mask, mask=True)


def xs_inverse_vol(vol: np.ndarray) -> np.ndarray:
    return _xs_map("anvil_xs_inverse_vol", vol)


def xs_rolling_vol(returns: np.ndarray, period: int) -> np.ndarray:
    return _xs_map("anvil_xs_rolling_vol", returns, period)


def xs_risk_parity(returns: np.ndarray, period: int, iters: int, when: np.ndarray | None) -> np.ndarray:
    n, m = _matrix(returns).shape
    out = np.empty((n, m))
    work = np.empty(max(m * m + 4 * m, 1))
    if when is not None and (when.dtype != np.bool_ or when.shape != (n,) or not when.flags.c_contiguous):
        raise CoreError("anvil_xs_risk_parity takes a contiguous bool row mask, one per bar")
    _check(
        lib.anvil_xs_risk_parity(
            _doubles(returns), n, m, period, iters, ffi.NULL if when is None else _mask(when), _out(work), _out(out)
        ),
        "anvil_xs_risk_parity",
    )
    return out


def xs_normalize(w: np.ndarray, gross: float, net: float) -> np.ndarray:
    return _xs_map("anvil_xs_normalize", w, gross, net)


def schedule(ts: np.ndarray, kind: str, every: int) -> np.ndarray:
    if ts.dtype != np.int64 or ts.ndim != 1 or not ts.flags.c_contiguous:
        raise CoreError("anvil_schedule takes contiguous int64 bar times")
    out = np.empty(len(ts), np.bool_)
    if len(ts):
        _check(
            lib.anvil_schedule(ffi.from_buffer("int64_t[]", ts), len(ts), SCHEDULES[kind], every, _mask_out(out)),
            "anvil_schedule",
        )
    return out


def xs_on_rebalance(w: np.ndarray, when: np.ndarray) -> np.ndarray:
    n, m = _matrix(w).shape
    if when.dtype != np.bool_ or when.shape != (n,) or not when.flags.c_contiguous:
        raise CoreError("anvil_xs_on_rebalance takes a contiguous bool row mask, one per bar")
    out = np.empty((n, m))
    _check(lib.anvil_xs_on_rebalance(_doubles(w), n, m, _mask(when), _out(out)), "anvil_xs_on_rebalance")
    return out

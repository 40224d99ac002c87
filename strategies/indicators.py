"""Technical indicators as numpy functions, computed by the C core and memoized.

    from strategies import indicators
    fast = indicators.sma(bars.close, 10)
    line, signal, hist = indicators.macd(bars.close)
    k, d = indicators.stoch(bars.high, bars.low, bars.close)

Definitions are TA-Lib's (warm-up length, seeding, smoothing, the answer on a
flat window), and the test suite holds every indicator TA-Lib also has to within
1e-9 of it on real daily and hourly series. Where TA-Lib has no such indicator
(z-score, rolling VWAP, Bollinger width) the docstring gives the formula.

Inputs: one-dimensional numeric arrays (converted to float64), one value per
bar, all of one length. Leading NaNs -- the warm-up of another indicator, say --
are skipped as TA-Lib skips them: an indicator starts at the first bar where
every input is a number. A NaN or an infinity after that bar is an error.

Outputs: float64 arrays as long as the input, NaN during the warm-up, and
read-only (they may be shared through the cache: ``.copy()`` one to change it).

Memoization: within a process, an indicator asked again for the same input
arrays and the same arguments is not computed again. Only inputs that nothing
can write to are remembered -- read-only arrays whose memory is read-only all
the way down, such as ``engine.Bars`` columns and this module's own results --
and they are known by identity, so the look-up costs nothing next to the
computation. A writable array (or a read-only view of writable memory) is
computed every time, so a changed array never gets a stale answer. The cache is
a least-recently-used one bounded in bytes (``set_cache_limit``); an entry also
goes when its input array is garbage-collected. ``cache_info()`` counts hits,
misses and computations per indicator; ``clear_cache()`` starts afresh.
"""

from __future__ import annotations

import math
import numbers
import operator
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from engine import _bindings
from engine._memory import immutable
from engine.errors import EngineError

__all__ = [
    "CacheInfo",
    "IndicatorError",
    "IndicatorStats",
    "adx",
    "atr",
    "bbands",
    "cache_info",
    "cci",
    "clear_cache",
    "ema",
    "highest",
    "lowest",
    "macd",
    "momentum",
    "obv",
    "roc",
    "rsi",
    "set_cache_limit",
    "sma",
    "stddev",
    "stoch",
    "true_range",
    "vwap",
    "willr",
    "wma",
    "zscore",
]

DEFAULT_CACHE_BYTES = 256 * 2**20
_MAX_PERIOD = 2**31 - 1


class IndicatorError(EngineError, ValueError):
    """An indicator argument that cannot be used: wrong shape, length, type or value."""


# -- the cache ----------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorStats:
    """Counts for one indicator: calls served from the cache (``hits``), calls with
    rememberable inputs that were not there (``misses``), and C computations
    (``computes`` = misses + calls whose inputs were writable)."""

    hits: int = 0
    misses: int = 0
    computes: int = 0


@dataclass(frozen=True)
class CacheInfo:
    """A snapshot of the indicator cache."""

    entries: int
    bytes: int
    max_bytes: int
    indicators: Mapping[str, IndicatorStats]

    def __getitem__(self, name: str) -> IndicatorStats:
        """The counts of indicator ``name`` (all zero if it was never called)."""
        return self.indicators.get(name, IndicatorStats())


# (indicator, its arguments, ids of its input arrays)
_Key = tuple[str, tuple[int | float, ...], tuple[int, ...]]
_Ref = weakref.ref[np.ndarray]


@dataclass
class _Entry:
    result: tuple[np.ndarray, ...]
    refs: tuple[_Ref, ...]
    nbytes: int


class _Cache:
    """LRU of results keyed by (indicator, arguments, identities of the inputs)."""

    def __init__(self, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._bytes = 0
        self.max_bytes = max_bytes
        self._counts: dict[str, list[int]] = {}  # name -> [hits, misses, computes]
        # Keys whose input died. Weakref callbacks only append here (they may run
        # at any moment, even while the lock is held); the next access purges.
        self._dead: list[_Key] = []

    def _count(self, name: str, field: int) -> None:
        self._counts.setdefault(name, [0, 0, 0])[field] += 1

    def _purge(self) -> None:
        while self._dead:
            key = self._dead.pop()
            entry = self._entries.get(key)
            if entry is not None and any(r() is None for r in entry.refs):
                self._drop(key)

    def _drop(self, key: _Key) -> None:
        self._bytes -= self._entries.pop(key).nbytes

    def get(self, name: str, key: _Key, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...] | None:
        with self._lock:
            self._purge()
            entry = self._entries.get(key)
            if entry is not None and all(r() is a for r, a in zip(entry.refs, inputs)):
                self._entries.move_to_end(key)
                self._count(name, 0)
                return entry.result
            self._count(name, 1)
            return None

    def put(self, key: _Key, inputs: tuple[np.ndarray, ...], result: tuple[np.ndarray, ...]) -> None:
        nbytes = sum(a.nbytes for a in result)
        dead = self._dead

        def forget(_ref: _Ref, key: _Key = key) -> None:
            dead.append(key)

        refs = tuple(weakref.ref(a, forget) for a in inputs)
        with self._lock:
            self._purge()
            if key in self._entries:
                self._drop(key)
            if nbytes > self.max_bytes:
                return
            self._entries[key] = _Entry(result, refs, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def computed(self, name: str) -> None:
        with self._lock:
            self._count(name, 2)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._counts.clear()
            self._dead.clear()

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = max_bytes
            while self._bytes > max_bytes:
                self._drop(next(iter(self._entries)))

    def info(self) -> CacheInfo:
        with self._lock:
            self._purge()
            stats = {k: IndicatorStats(*v) for k, v in sorted(self._counts.items())}
            return CacheInfo(len(self._entries), self._bytes, self.max_bytes, MappingProxyType(stats))


_CACHE = _Cache(DEFAULT_CACHE_BYTES)


def clear_cache() -> None:
    """Forget every remembered result and reset the counts of ``cache_info``."""
    _CACHE.clear()


def cache_info() -> CacheInfo:
    """Entries, bytes held, the byte limit and, per indicator, hits, misses and
    computations since the last ``clear_cache``. ``cache_info()["sma"].computes``
    reads one count."""
    return _CACHE.info()


def set_cache_limit(max_bytes: int) -> None:
    """Bound the bytes of results the cache holds (least recently used go first);
    0 turns memoization off. The default is 256 MiB."""
    limit = _whole("max_bytes", max_bytes, low=0, high=2**62)
    _CACHE.resize(limit)


# -- arguments ----------------------------------------------------------------


def _series(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D contiguous float64 array (the same object when it is one)."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise IndicatorError(f"{name} cannot be read as an array of numbers: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise IndicatorError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise IndicatorError(f"{name} must be one-dimensional (one value per bar), got shape {arr.shape}")
    if arr.dtype == np.float64 and arr.flags.c_contiguous:
        return arr  # the caller's own object: the cache keys on its identity and lifetime
    return np.ascontiguousarray(arr, dtype=np.float64)


def _whole(name: str, value: Any, low: int = 1, high: int = _MAX_PERIOD) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise IndicatorError(f"{name} must be a whole number, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise IndicatorError(f"{name} must be a whole number, got {value!r}") from None
    if not low <= v <= high:
        raise IndicatorError(f"{name} must be between {low} and {high}, got {v}")
    return v


def _period(name: str, value: Any) -> int:
    return _whole(name, value)


def _multiplier(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise IndicatorError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v >= 0.0):
        raise IndicatorError(f"{name} must be a finite number >= 0, got {v}")
    return v


def _start(named: dict[str, np.ndarray], volume: str | None) -> int:
    """The first bar where every input is a number; raise on a NaN or an infinity
    after it (or a negative volume)."""
    arrays = list(named.values())
    n = len(arrays[0])
    if n == 0 or not any(math.isnan(a[0]) for a in arrays):
        start = 0
    else:
        missing = np.isnan(arrays[0])
        for a in arrays[1:]:
            missing |= np.isnan(a)
        start = n if missing.all() else int(np.argmin(missing))
    for name, a in named.items():
        tail = a[start:]
        if not np.isfinite(tail).all():
            i = start + int(np.argmin(np.isfinite(tail)))
            began = f"{name}[{start}]" if len(named) == 1 else f"bar {start}"
            raise IndicatorError(
                f"{name}[{i}] is {a[i]}, after the series began at {began}: indicators skip only "
                "leading NaNs (a warm-up); fill or drop that bar"
            )
        if name == volume and (tail < 0).any():
            i = start + int(np.argmax(tail < 0))
            raise IndicatorError(f"{name}[{i}] is {a[i]}: volume cannot be negative")
    return start


def _run(
    name: str,
    inputs: dict[str, Any],
    params: tuple[int | float, ...],
    n_out: int = 1,
    scratch: int = 0,
    volume: str | None = None,
) -> tuple[np.ndarray, ...]:
    """Validate, look up, compute (C), remember; ``n_out`` read-only arrays."""
    named = {k: _series(k, v) for k, v in inputs.items()}
    arrays = tuple(named.values())
    n = len(arrays[0])
    for k, a in named.items():
        if len(a) != n:
            first = next(iter(named))
            raise IndicatorError(f"{k} has {len(a)} values but {first} has {n}: every input needs one value per bar")
    remember = _CACHE.max_bytes > 0 and all(immutable(a) for a in arrays)
    key = (name, params, tuple(id(a) for a in arrays))
    if remember:
        hit = _CACHE.get(name, key, arrays)
        if hit is not None:
            return hit
    start = _start(named, volume)
    outputs = tuple(np.empty(n) for _ in range(n_out + scratch))
    for out in outputs:
        out[:start] = np.nan
    _bindings.indicator(name, tuple(a[start:] for a in arrays), params, tuple(out[start:] for out in outputs))
    _CACHE.computed(name)
    for out in outputs[:n_out]:
        out.flags.writeable = False
    # Views of read-only memory: numpy refuses to make them writable again.
    result = tuple(out.view() for out in outputs[:n_out])
    if remember:
        _CACHE.put(key, arrays, result)
    return result


# -- moving averages ----------------------------------------------------------


def sma(close: Any, period: int) -> np.ndarray:
    """Simple moving average: the mean of the last ``period`` values (TA-Lib SMA).

    Args:
        close: one value per bar.
        period: bars in the window, >= 1; the first ``period - 1`` outputs are NaN.

    Raises:
        IndicatorError: a bad array or period (the message names it).
    """
    return _run("sma", {"close": close}, (_period("period", period),))[0]


def ema(close: Any, period: int) -> np.ndarray:
    """Exponential moving average with ``k = 2 / (period + 1)`` (TA-Lib EMA).

    Seeded with the SMA of the first ``period`` values, which is the output at bar
    ``period - 1``; then ``ema = ema + k * (close - ema)``. Period 1 is the input.
    """
    return _run("ema", {"close": close}, (_period("period", period),))[0]


def wma(close: Any, period: int) -> np.ndarray:
    """Linearly weighted moving average, weights 1 .. ``period`` with the newest
    heaviest (TA-Lib WMA); NaN for the first ``period - 1`` bars."""
    return _run("wma", {"close": close}, (_period("period", period),))[0]


# -- oscillators --------------------------------------------------------------


def rsi(close: Any, period: int = 14) -> np.ndarray:
    """Relative strength index, Wilder's (TA-Lib RSI).

    ``100 * avg_gain / (avg_gain + avg_loss)``: the first averages are the means
    of the first ``period`` changes (first output at bar ``period``), then
    ``avg = (avg * (period - 1) + change) / period``. No change at all gives 0,
    as in TA-Lib.
    """
    return _run("rsi", {"close": close}, (_period("period", period),))[0]


def macd(close: Any, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moving average convergence/divergence (TA-Lib MACD).

    ``line = EMA(fast) - EMA(slow)``, ``signal = EMA(line, signal)``,
    ``hist = line - signal``. As in TA-Lib, ``fast`` and ``slow`` are swapped if
    given the wrong way round, both EMAs are seeded with SMAs that end on bar
    ``slow - 1``, the signal EMA is seeded with the mean of the first ``signal``
    line values, and all three outputs start at bar ``slow + signal - 2``.

    Returns:
        (line, signal, hist).
    """
    params = (_period("fast", fast), _period("slow", slow), _period("signal", signal))
    line, sig, hist = _run("macd", {"close": close}, params, n_out=3)
    return line, sig, hist


def roc(close: Any, period: int) -> np.ndarray:
    """Rate of change in percent, ``(close / close[t - period] - 1) * 100``
    (TA-Lib ROC); 0 where the earlier close is 0, NaN for the first ``period`` bars."""
    return _run("roc", {"close": close}, (_period("period", period),))[0]


def momentum(close: Any, period: int) -> np.ndarray:
    """Momentum, ``close - close[t - period]`` (TA-Lib MOM); NaN for the first
    ``period`` bars."""
    return _run("momentum", {"close": close}, (_period("period", period),))[0]


def stoch(
    high: Any, low: Any, close: Any, fastk: int = 5, slowk: int = 3, slowd: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Slow stochastic (TA-Lib STOCH with SMA smoothing).

    ``raw %K = 100 * (close - lowest low) / (highest high - lowest low)`` over
    ``fastk`` bars (0 on a flat window), ``%K = SMA(raw %K, slowk)``,
    ``%D = SMA(%K, slowd)``. Both start at bar ``fastk + slowk + slowd - 3``.

    Returns:
        (%K, %D).
    """
    params = (_period("fastk", fastk), _period("slowk", slowk), _period("slowd", slowd))
    k, d = _run("stoch", {"high": high, "low": low, "close": close}, params, n_out=2)
    return k, d


def willr(high: Any, low: Any, close: Any, period: int = 14) -> np.ndarray:
    """Williams %R, ``-100 * (highest high - close) / (highest high - lowest low)``
    over ``period`` bars (TA-Lib WILLR), in [-100, 0]; 0 on a flat window."""
    inputs = {"high": high, "low": low, "close": close}
    return _run("willr", inputs, (_period("period", period),), scratch=1)[0]


def cci(high: Any, low: Any, close: Any, period: int = 14) -> np.ndarray:
    """Commodity channel index (TA-Lib CCI).

    With ``tp = (high + low + close) / 3`` over the last ``period`` bars:
    ``(tp - mean(tp)) / (0.015 * mean(|tp - mean(tp)|))``; 0 on a flat window.
    Costs O(n * period): the mean deviation has no running form.
    """
    inputs = {"high": high, "low": low, "close": close}
    return _run("cci", inputs, (_period("period", period),))[0]


def adx(high: Any, low: Any, close: Any, period: int = 14) -> np.ndarray:
    """Average directional index, Wilder's (TA-Lib ADX).

    +DM/-DM and the true range are Wilder-smoothed, ``DX = 100 * |+DI - -DI| /
    (+DI + -DI)``, and the ADX is the Wilder average of DX: its first value, at
    bar ``2 * period - 1``, is the mean of ``period`` DX values.
    """
    inputs = {"high": high, "low": low, "close": close}
    return _run("adx", inputs, (_period("period", period),))[0]


# -- volatility and dispersion ------------------------------------------------


def true_range(high: Any, low: Any, close: Any) -> np.ndarray:
    """True range, ``max(high, previous close) - min(low, previous close)`` (TA-Lib
    TRANGE); NaN at the first bar, which has no previous close."""
    return _run("true_range", {"high": high, "low": low, "close": close}, ())[0]


def atr(high: Any, low: Any, close: Any, period: int = 14) -> np.ndarray:
    """Average true range, Wilder's (TA-Lib ATR): the first value (bar ``period``)
    is the mean of the first ``period`` true ranges, then
    ``atr = (atr * (period - 1) + true range) / period``."""
    inputs = {"high": high, "low": low, "close": close}
    return _run("atr", inputs, (_period("period", period),))[0]


def stddev(close: Any, period: int) -> np.ndarray:
    """Rolling population standard deviation over ``period`` bars (TA-Lib STDDEV
    with nbdev 1); NaN for the first ``period - 1`` bars."""
    return _run("stddev", {"close": close}, (_period("period", period),))[0]


def zscore(close: Any, period: int) -> np.ndarray:
    """Rolling z-score: how many standard deviations the close sits from its mean.

    ``z = (close - SMA(close, period)) / STDDEV(close, period)`` with the
    population standard deviation of the same window; 0 where the window is flat
    (deviation 0). NaN for the first ``period - 1`` bars. TA-Lib has no z-score.
    """
    return _run("zscore", {"close": close}, (_period("period", period),))[0]


def bbands(
    close: Any, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger bands (TA-Lib BBANDS with an SMA) and their width.

    ``middle = SMA(close, period)``, ``upper = middle + nbdev_up * sd``,
    ``lower = middle - nbdev_dn * sd`` with ``sd`` the population standard
    deviation of the window, and ``width = (upper - lower) / middle`` (Bollinger's
    BandWidth, which TA-Lib lacks; NaN where the middle band is 0).

    Returns:
        (upper, middle, lower, width).
    """
    params = (_period("period", period), _multiplier("nbdev_up", nbdev_up), _multiplier("nbdev_dn", nbdev_dn))
    upper, middle, lower, width = _run("bbands", {"close": close}, params, n_out=4)
    return upper, middle, lower, width


# -- ranges -------------------------------------------------------------------


def highest(values: Any, period: int) -> np.ndarray:
    """Highest value of the last ``period`` bars, e.g. the highest high (TA-Lib
    MAX); NaN for the first ``period - 1`` bars."""
    return _run("highest", {"values": values}, (_period("period", period),))[0]


def lowest(values: Any, period: int) -> np.ndarray:
    """Lowest value of the last ``period`` bars, e.g. the lowest low (TA-Lib MIN);
    NaN for the first ``period - 1`` bars."""
    return _run("lowest", {"values": values}, (_period("period", period),))[0]


# -- volume -------------------------------------------------------------------


def vwap(high: Any, low: Any, close: Any, volume: Any, period: int) -> np.ndarray:
    """Rolling volume-weighted average price over ``period`` bars.

    ``sum(tp * volume) / sum(volume)`` with ``tp = (high + low + close) / 3``; NaN
    where the window traded no volume and for the first ``period - 1`` bars.
    TA-Lib has no rolling VWAP. Volume must not be negative.
    """
    inputs = {"high": high, "low": low, "close": close, "volume": volume}
    return _run("vwap", inputs, (_period("period", period),), volume="volume")[0]


def obv(close: Any, volume: Any) -> np.ndarray:
    """On-balance volume (TA-Lib OBV): starts at the first bar's volume, then adds
    the volume of each up close and subtracts that of each down close."""
    return _run("obv", {"close": close, "volume": volume}, (), volume="volume")[0]

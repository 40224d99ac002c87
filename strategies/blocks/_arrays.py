"""Input checks and small array tools the signal blocks share (private).

Every block takes numpy arrays or pandas Series and returns numpy arrays. The
checks here turn what users pass into 1-D int8 / float64 / bool arrays, or raise
an error that names the argument and says how to fix it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from engine import HOLD
from engine.signals import as_signal


def as_1d(values: Any, name: str) -> np.ndarray:
    """``values`` (array-like or pandas Series) as a 1-D numpy array."""
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"{name} must be one column of values, not a DataFrame; pass df[column]")
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one value per bar), got shape {arr.shape}")
    return arr


def signal(values: Any, name: str = "signal") -> np.ndarray:
    """A one-dimensional signal checked as ``engine.signals.as_signal`` checks it: int8
    (1, -1, 0, HOLD) or float64 (exposure, NaN = change nothing); bools become int8.

    Raises:
        InvalidSignalError: a value outside the allowed set, or an infinite float.
        TypeError: a dtype that is neither bool, integer nor float.
    """
    arr = as_1d(values, name)
    return as_signal(arr, len(arr), name=name)


def flags(values: Any, name: str, n: int | None = None) -> np.ndarray:
    """A bool array (bools, or integers 0/1), optionally of length ``n``."""
    arr = as_1d(values, name)
    if arr.dtype.kind in "iu":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{i}] is {arr[i]}: {name} must be True/False (or 1/0) per bar")
        arr = arr.astype(bool)
    elif arr.dtype.kind != "b":
        raise TypeError(f"{name} must be booleans, one per bar (e.g. crossover(fast, slow)), not {arr.dtype}")
    if n is not None:
        same_length(arr, name, n)
    return arr


def numbers(values: Any, name: str) -> np.ndarray:
    """A float64 array of any numeric input; NaN allowed."""
    arr = as_1d(values, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numbers, one per bar, not {arr.dtype}")
    return arr.astype(np.float64)


def prices(values: Any, name: str, n: int) -> np.ndarray:
    """Finite, positive prices, one per bar."""
    arr = numbers(values, name)
    same_length(arr, name, n)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] is {arr[i]}: prices must be finite and positive")
    return arr


def same_length(arr: np.ndarray, name: str, n: int, other: str = "signal") -> None:
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} values but {other} has {n}: give one value per bar of the same bars")


def number(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float inside its range, or a ValueError that names it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} is {value!r}; it must be a finite number")
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} is {value!r}; it must be in {lo}{low}, {high}{hi}")
    return v


def count(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number of bars, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} is {value}; it must be at least {minimum}")
    return int(value)


def last_index(mask: np.ndarray) -> np.ndarray:
    """For each bar, the index of the last True at or before it (-1 if none yet)."""
    idx = np.where(mask, np.arange(len(mask)), -1)
    return np.maximum.accumulate(idx) if len(idx) else idx


def is_missing(sig: np.ndarray) -> np.ndarray:
    """True where a checked signal says "change nothing" (HOLD or NaN)."""
    return sig == HOLD if sig.dtype == np.int8 else np.isnan(sig)


def held(sig: np.ndarray) -> np.ndarray:
    """The position a checked signal asks for at each bar: HOLD/NaN carried forward,
    flat (0) before the first value. Same dtype as ``sig``."""
    known = ~is_missing(sig)
    last = last_index(known)
    out = np.where(last >= 0, sig[np.maximum(last, 0)], 0)
    return out.astype(sig.dtype)


def side(sig: np.ndarray) -> np.ndarray:
    """-1, 0, 1 per bar: the side of a position array (int8)."""
    return np.sign(sig).astype(np.int8)


def missing_value(dtype: np.dtype) -> int | float:
    """HOLD for int8 signals, NaN for float signals."""
    return HOLD if dtype == np.int8 else math.nan

"""Turn what users pass as signals into the arrays the core reads, or say what is wrong.

A signal is one value per bar, either
  - int8 (any integer or bool array is accepted): 1 hold long, -1 hold short,
    0 be flat, ``HOLD`` (-128) change nothing; or
  - float64 target exposure as a fraction of equity, NaN = change nothing.
A batch is a 2-D array ``[n_runs, n_bars]`` of either kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine import _bindings
from engine.errors import InvalidSignalError

HOLD: int = _bindings.HOLD
"""int8 signal value meaning "change nothing"."""


def _where(flat_index: int, n_bars: int, ndim: int, name: str) -> str:
    if ndim == 1:
        return f"{name}[{flat_index}]"
    return f"{name}s[{flat_index // n_bars}, {flat_index % n_bars}]"


def as_signal(values: Any, n_bars: int, ndim: int = 1, name: str = "signal") -> np.ndarray:
    """Validate ``values`` and return a C-contiguous int8 or float64 array.

    Args:
        values: array-like, pandas Series / DataFrame, of ints, bools or floats.
        n_bars: the number of bars the signal must cover.
        ndim: 1 for one backtest, 2 for a batch ``[n_runs, n_bars]``.
        name: what the messages call the signal (``direction``, ...).

    Raises:
        InvalidSignalError: wrong shape or length, or a value outside the allowed set.
        TypeError: a dtype that is neither numeric nor bool.
    """
    if isinstance(values, (pd.Series, pd.DataFrame)):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 1 and ndim == 2:
        arr = arr[np.newaxis, :]
    if arr.ndim != ndim:
        what = "one value per bar" if ndim == 1 else "a 2-D array [n_runs, n_bars]"
        raise InvalidSignalError(f"a signal must be {what}; got an array of shape {arr.shape}")
    if arr.shape[-1] != n_bars:
        raise InvalidSignalError(
            f"the signal has {arr.shape[-1]} values per run but the bars have {n_bars}: give one value per bar"
        )
    kind = arr.dtype.kind
    if kind == "b":
        return np.ascontiguousarray(arr, dtype=np.int8)
    if kind in "iu":
        if kind == "u" and arr.size and arr.max() > 1:
            arr_i = np.where(arr > 1, 2, arr).astype(np.int64)  # no wrap-around to -1 or HOLD
        elif arr.dtype != np.int8:
            arr_i = arr.astype(np.int64, copy=False)
        else:
            arr_i = arr
        if arr_i.size and arr_i.min() >= -1 and arr_i.max() <= 1:
            return np.ascontiguousarray(arr_i, dtype=np.int8)  # the common case, checked cheaply
        bad = ~(((arr_i >= -1) & (arr_i <= 1)) | (arr_i == HOLD))
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            v = arr.ravel()[i]
            raise InvalidSignalError(
                f"{_where(i, n_bars, ndim, name)} is {v}: integer signals take 1 (long), -1 (short), "
                f"0 (flat) or engine.HOLD ({HOLD}, change nothing); use floats for sizes"
            )
        return np.ascontiguousarray(arr_i, dtype=np.int8)
    if kind == "f":
        arr_f = np.ascontiguousarray(arr, dtype=np.float64)
        bad = np.isinf(arr_f)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise InvalidSignalError(
                f"{_where(i, n_bars, ndim, name)} is {arr_f.ravel()[i]}: float signals are target "
                "exposures (1.0 = all equity long); use NaN to change nothing"
            )
        return arr_f
    raise TypeError(
        f"{name} must hold integers (1, -1, 0, engine.HOLD), bools or float exposures, "
        f"not {arr.dtype}: signals must be one of these (engine.signals says what each means)"
    )


def to_float(signal: np.ndarray) -> np.ndarray:
    """An int8 signal as the float signal that means the same (HOLD becomes NaN)."""
    if signal.dtype == np.float64:
        return signal
    out = signal.astype(np.float64)
    out[signal == HOLD] = np.nan
    return out

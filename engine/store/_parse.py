"""Columns as read (any Arrow type) to the store's types: times as int64 nanoseconds
in UTC, prices and volumes as float64 — with a mask of the rows that could not be read."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.store._dates import YEAR_FIRST, as_iso
from engine.store._errors import SourceError

_OFFSET = r"(?:[zZ]|[+-]\d{2}:?\d{2})$"
# Integers and floats in a time column are seconds, ms, us or ns since the epoch, told
# apart by size (1e11 s is the year 5138; 1e11 ms is 1973).
_EPOCH_UNITS = ((1e11, 10**9), (1e14, 10**6), (1e17, 10**3))


@dataclass(frozen=True)
class Parsed:
    """One column in the store's type.

    Attributes:
        values: int64 ns (times) or float64; unusable rows hold 0 or NaN.
        missing: rows with no value (null or empty).
        unreadable: rows with a value that is not a time / not a number.
        note: how the values were read, for messages (``read day-first (%d/%m/%Y)``).
    """

    values: np.ndarray
    missing: np.ndarray
    unreadable: np.ndarray
    note: str = ""


def _null_mask(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def parse_numbers(col: pa.ChunkedArray, field: str, source: str) -> Parsed:
    """float64 values of a price or volume column.

    Raises:
        SourceError: a column of a type that cannot hold numbers (booleans, times).
    """
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t):
        missing = _null_mask(col)
        values = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        if missing.any():
            values = values.copy()
            values[missing] = np.nan
        return Parsed(values, missing, np.zeros(len(values), dtype=bool))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        text = pd.Series(col.to_pandas(), dtype="string").str.strip()
        missing = np.asarray((text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True))
        values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        literal_nan = np.asarray(text.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy(dtype=bool, na_value=False))
        unreadable = np.isnan(values) & ~missing & ~literal_nan
        return Parsed(values, missing, unreadable)
    raise SourceError(f"{source}: column {field!r} holds {t} values, not numbers")


def parse_times(
    cols: list[pa.ChunkedArray],
    tz: str | None,
    field: str,
    source: str,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
) -> Parsed:
    """int64 nanoseconds since the epoch in UTC from one time column (or a date and a
    time-of-day column joined). Times with an offset or zone are converted to UTC;
    times without one are read in ``tz`` (UTC when None).

    Text dates are read in one order for the whole column (see ``engine.store._dates``):
    ``date_format`` (a strptime format such as ``%d/%m/%Y``) or ``dayfirst`` say which,
    else the column's values must settle it.

    Raises:
        SourceError: a column of a type that cannot hold times (booleans, say), or
            dates that read both day-first and month-first with neither option given.
    """
    col = cols[0] if len(cols) == 1 else _joined(cols)
    t = col.type
    missing = _null_mask(col)
    if pa.types.is_null(t):
        return Parsed(np.zeros(len(col), dtype=np.int64), missing, np.zeros(len(col), dtype=bool))
    if pa.types.is_date(t):
        col, t = pc.cast(col, pa.timestamp("s")), pa.timestamp("s")
    if pa.types.is_timestamp(t):
        return _from_timestamps(col, tz, missing)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return _from_epoch(col, missing)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return _from_strings(col, tz, date_format=date_format, dayfirst=dayfirst, label=field, source=source)
    raise SourceError(f"{source}: column {field!r} holds {t} values, not times")


def _joined(cols: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    """A date column and a time-of-day column as one string column ``"date time"``."""
    parts = [pc.cast(c, pa.string()) for c in cols]
    return pc.binary_join_element_wise(*parts, " ")


def _to_ns(values: Any, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """UTC nanoseconds and a NaT mask from datetimes, localizing naive ones in ``tz``."""
    idx = pd.DatetimeIndex(values)
    if idx.tz is None:
        idx = idx.tz_localize(tz or "UTC", ambiguous="NaT", nonexistent="NaT")
    idx = idx.tz_convert("UTC").as_unit("ns")
    nat = np.asarray(idx.isna())
    ns = idx.asi8.copy()
    ns[nat] = 0
    return ns, nat


def _from_timestamps(col: pa.ChunkedArray, tz: str | None, missing: np.ndarray) -> Parsed:
    if col.type.tz is not None or tz is None:
        try:
            ns_col = pc.cast(col, pa.timestamp("ns", tz=col.type.tz))
        except pa.ArrowInvalid:  # beyond the years 1677..2262 that int64 ns can hold
            return _from_strings(pc.cast(col, pa.string()), tz)
        ns = np.asarray(pc.cast(ns_col, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        return Parsed(ns, missing, np.zeros(len(ns), dtype=bool))
    ns, nat = _to_ns(col.to_pandas(), tz)
    return Parsed(ns, missing, nat & ~missing)


def _from_epoch(col: pa.ChunkedArray, missing: np.ndarray) -> Parsed:
    if pa.types.is_integer(col.type):
        raw = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False)).astype(np.float64)
        exact: np.ndarray | None = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    else:
        raw = np.asarray(col.fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
        exact = None
    ok = ~missing & np.isfinite(raw)
    biggest = float(np.abs(raw[ok]).max()) if ok.any() else 0.0
    scale = next((s for limit, s in _EPOCH_UNITS if biggest < limit), 1)
    ok &= np.abs(raw) * scale < 9.2e18  # past the years 1677..2262 that int64 ns can hold
    if exact is not None:
        ns = np.where(ok, exact, 0) * scale
    else:
        ns = np.round(np.where(ok, raw, 0.0) * scale).astype(np.int64)
    return Parsed(ns, missing, ~ok & ~missing)


def _from_strings(
    col: pa.ChunkedArray,
    tz: str | None,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    label: str = "ts",
    source: str = "",
) -> Parsed:
    text = pd.Series(col.to_pandas(), dtype="string").str.strip()
    missing = np.asarray((text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True))
    if date_format is not None:
        return _with_format(text, missing, date_format, tz)
    text, order = as_iso(text, dayfirst=dayfirst, label=label, source=source)
    note = f"read {order.describe()}" if order is not None and order.order != YEAR_FIRST else ""
    ns = np.zeros(len(text), dtype=np.int64)
    todo = ~missing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it cannot infer a format
        # ISO 8601 first; else one format inferred from the first value, for every row
        # (never row by row: "mixed" would read 02/01 and 13/01 in two different orders).
        for fmt in ("ISO8601", None):
            if not todo.any():
                break
            rows = np.flatnonzero(todo)
            sub = text.iloc[rows]
            done, bad = _parse_strings(sub, fmt, tz)
            good = ~bad
            ns[rows[good]] = done[good]
            todo[rows[good]] = False
    return Parsed(ns, missing, todo, note)


_TIME_SUFFIXES = ("", " %H:%M:%S", " %H:%M", " %H:%M:%S.%f", "T%H:%M:%S")


def _with_format(text: pd.Series, missing: np.ndarray, date_format: str, tz: str | None) -> Parsed:
    """Every value read with ``date_format`` (a time of day after it is allowed)."""
    ns = np.zeros(len(text), dtype=np.int64)
    todo = ~missing
    for suffix in _TIME_SUFFIXES if "%H" not in date_format else ("",):
        if not todo.any():
            break
        rows = np.flatnonzero(todo)
        done, bad = _parse_strings(text.iloc[rows], date_format + suffix, tz)
        ns[rows[~bad]] = done[~bad]
        todo[rows[~bad]] = False
    return Parsed(ns, missing, todo, f"read with date_format={date_format!r}")


def _parse_strings(text: pd.Series, fmt: str | None, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Parse with one pandas format; rows with and without an offset are parsed apart."""
    try:
        return _to_ns(pd.to_datetime(text, format=fmt, errors="coerce"), tz)
    except (ValueError, TypeError):  # mixed offsets, or offsets next to naive times
        pass
    ns = np.zeros(len(text), dtype=np.int64)
    bad = np.ones(len(text), dtype=bool)
    has_offset = np.asarray(text.str.contains(_OFFSET, regex=True).to_numpy(dtype=bool, na_value=False))
    for part, utc in ((has_offset, True), (~has_offset, False)):
        if part.any():
            try:
                got = pd.to_datetime(text[part], format=fmt, errors="coerce", utc=utc)
            except (ValueError, TypeError):
                continue
            ns[part], bad[part] = _to_ns(got, tz)
    return ns, bad

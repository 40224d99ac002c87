"""One date format per column: day-first or month-first is decided from every value of
the column at once, never row by row, and a column that reads both ways is refused.

``02/01/2015`` is 2 January in a day-first file and 1 February in a month-first one;
only the column as a whole can tell (a ``13/01/2015`` somewhere settles it). Dates
are rewritten as ISO 8601 (``2015-01-02`` plus whatever time followed) and parsed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.store._errors import SourceError

# A date at the start of a value: three numbers joined by one separator, then the rest
# (a time, an offset), e.g. 02/01/2015, 2.1.15, 2015.01.02 09:30, 02-01-2015T09:30:00Z.
# RE2 (Arrow's engine): no back-references, so the two separators are compared after.
_DATE = r"^\s*(?P<a>\d{1,4})(?P<s1>[/.\-])(?P<b>\d{1,2})(?P<s2>[/.\-])(?P<c>\d{1,4})(?P<rest>(?:[\sT].*)?)$"

DAY_FIRST = "day-first"
MONTH_FIRST = "month-first"
YEAR_FIRST = "year-first"


@dataclass(frozen=True)
class DateOrder:
    """How a column writes its dates.

    Attributes:
        order: ``year-first``, ``day-first`` or ``month-first``.
        example: the pattern as a strptime format for messages (``%d/%m/%Y``).
    """

    order: str
    example: str

    def describe(self) -> str:
        return f"{self.order} ({self.example})"


def _fmt(order: str, sep: str, long_year: bool) -> str:
    y = "%Y" if long_year else "%y"
    parts = {YEAR_FIRST: ("%Y", "%m", "%d"), DAY_FIRST: ("%d", "%m", y), MONTH_FIRST: ("%m", "%d", y)}[order]
    return sep.join(parts)


def as_iso(text: pd.Series, *, dayfirst: bool | None, label: str, source: str) -> tuple[pd.Series, DateOrder | None]:
    """``text`` with its numeric dates rewritten as ISO 8601, and the order they were read in.

    Values that do not start with a numeric date are left as they are (ISO parsing or
    the row checks deal with them). Returns ``(text, None)`` when no value has one.

    Args:
        dayfirst: True or False to settle day/month; None to tell from the column.

    Raises:
        SourceError: the column reads both day-first and month-first (every first and
            second number is 12 or less and they differ somewhere), and ``dayfirst``
            is None; or its dates are written in more than one order.
    """
    arr = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string())
    parts = pc.extract_regex(arr, _DATE)
    found = np.asarray(
        pc.and_kleene(parts.is_valid(), pc.equal(pc.struct_field(parts, "s1"), pc.struct_field(parts, "s2")))
        .fill_null(False)
        .to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    if not found.any():
        return text, None
    hits = parts.filter(pa.array(found))
    a_txt, sep, b_txt, c_txt, rest = (pc.struct_field(hits, k) for k in ("a", "s1", "b", "c", "rest"))
    a = np.asarray(pc.cast(a_txt, pa.int64()).to_numpy(zero_copy_only=False))
    b = np.asarray(pc.cast(b_txt, pa.int64()).to_numpy(zero_copy_only=False))
    c = np.asarray(pc.cast(c_txt, pa.int64()).to_numpy(zero_copy_only=False))
    year_first = np.asarray(pc.equal(pc.utf8_length(a_txt), 4).to_numpy(zero_copy_only=False), dtype=bool)
    seps = sep.to_numpy(zero_copy_only=False)
    first_sep = str(seps[0])
    shown = text[found]
    if year_first.all():
        order = YEAR_FIRST
        y, m, d = a, b, c
        long_year = True
    elif year_first.any():
        raise SourceError(
            f"{source}: the dates in column {label!r} are written in two orders: "
            f"{shown[year_first].iloc[0]!r} (year first) and {shown[~year_first].iloc[0]!r}; "
            "write them one way"
        )
    else:
        long_year = bool(np.all(np.asarray(pc.utf8_length(c_txt).to_numpy(zero_copy_only=False)) > 2))
        order = _day_or_month(a, b, dayfirst, shown, label, source, first_sep, long_year)
        d, m = (a, b) if order == DAY_FIRST else (b, a)
        y = np.where(c < 100, c + np.where(c < 69, 2000, 1900), c) if not long_year else c
    if order == YEAR_FIRST and bool(np.all(seps == "-")):
        return text, DateOrder(order, _fmt(order, first_sep, long_year))  # ISO 8601 already
    iso = pc.binary_join_element_wise(
        _padded(y, 4), _padded(m, 2), _padded(d, 2), ""
    )  # YYYYMMDD, then dashes: cheaper than three joins
    iso = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(iso, 0, 4), pc.utf8_slice_codeunits(iso, 4, 6), pc.utf8_slice_codeunits(iso, 6, 8), "-"
    )
    iso = pc.binary_join_element_wise(iso, pc.replace_substring_regex(rest, r"^\s+", " "), "")
    out = text.copy()
    out[found] = pd.array(iso.to_numpy(zero_copy_only=False), dtype="string")
    return out, DateOrder(order, _fmt(order, first_sep, long_year))


def _padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width, padding="0")


def _day_or_month(
    a: np.ndarray,
    b: np.ndarray,
    dayfirst: bool | None,
    text: pd.Series,
    label: str,
    source: str,
    sep: str,
    long_year: bool,
) -> str:
    a_big = a > 12
    b_big = b > 12
    if dayfirst is not None:
        return DAY_FIRST if dayfirst else MONTH_FIRST  # rows that contradict it fail as bad rows
    if a_big.any() and b_big.any():
        raise SourceError(
            f"{source}: the dates in column {label!r} are written day-first in some rows "
            f"({text[a_big].iloc[0]!r}) and month-first in others ({text[b_big].iloc[0]!r}); "
            "write them one way, or pass dayfirst=True / False (--dayfirst / --monthfirst) to read "
            "the others as bad rows"
        )
    if a_big.any():
        return DAY_FIRST
    if b_big.any():
        return MONTH_FIRST
    if bool(np.all(a == b)):
        return DAY_FIRST  # every date reads the same either way
    first = text[a != b].iloc[0]
    day_fmt = _fmt(DAY_FIRST, sep, long_year)
    month_fmt = _fmt(MONTH_FIRST, sep, long_year)
    return _ambiguous(source, label, first, day_fmt, month_fmt)


def _ambiguous(source: str, label: str, first: str, day_fmt: str, month_fmt: str) -> str:
    day = pd.to_datetime(first.split()[0], format=day_fmt).strftime("%d %B %Y").lstrip("0")
    month = pd.to_datetime(first.split()[0], format=month_fmt).strftime("%d %B %Y").lstrip("0")
    raise SourceError(
        f"{source}: the dates in column {label!r} read both day-first ({day_fmt}: {first!r} is {day}) "
        f"and month-first ({month_fmt}: {first!r} is {month}), and no value settles it; say which: "
        f"dayfirst=True or date_format={day_fmt!r} (CLI --dayfirst or --date-format '{day_fmt}'), "
        f"or dayfirst=False / --monthfirst"
    )

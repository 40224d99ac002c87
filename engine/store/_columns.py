"""Which column of a source is which field: names matched without regard to case,
spaces or underscores (``Date``/``Datetime``/``timestamp`` → ``ts``, ``Adj Close`` →
``adj_close``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.bars import _TS_NAMES, PRICE_FIELDS
from engine.store._errors import SourceError

_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "vol"),
    "adj_close": ("adj close", "adjclose", "adjusted close"),
    "symbol": ("symbol", "ticker"),
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.replace("\ufeff", "").strip().lower())


@dataclass(frozen=True)
class ColumnMap:
    """Field name -> source column name, and how the time is made.

    Attributes:
        fields: ``open``, ``high``, ``low``, ``close`` always; ``volume``,
            ``adj_close``, ``symbol`` when the source has them.
        time: the column holding the time, or two (a date and a time of day) to join.
        ignored: source columns no field uses.
    """

    fields: dict[str, str]
    time: tuple[str, ...]
    ignored: tuple[str, ...]


def map_columns(names: list[str], source: str) -> ColumnMap:
    """Match ``names`` to the fields.

    Raises:
        SourceError: naming the missing columns and the ones the source has, or two
            columns that mean the same field.
    """
    by_norm: dict[str, str] = {}
    for name in names:
        key = _norm(name)
        if key in by_norm:
            raise SourceError(
                f"{source}: columns {by_norm[key]!r} and {name!r} both mean {key!r}; keep one of them"
            )
        by_norm[key] = name
    fields: dict[str, str] = {}
    for field, aliases in _ALIASES.items():
        found = [by_norm[a] for a in aliases if a in by_norm]
        if len(found) > 1:
            raise SourceError(f"{source}: columns {found[0]!r} and {found[1]!r} both mean {field}; keep one of them")
        if found:
            fields[field] = found[0]
    time: tuple[str, ...] = ()
    if "date" in by_norm and "time" in by_norm and not {"ts", "timestamp", "datetime"} & by_norm.keys():
        time = (by_norm["date"], by_norm["time"])
    else:
        time = next(((by_norm[k],) for k in _TS_NAMES if k in by_norm), ())
    missing = ([] if time else ["ts"]) + [f for f in PRICE_FIELDS if f not in fields]
    if missing:
        have = ", ".join(repr(n) for n in names) or "none"
        hint = "; name the time 'ts', 'date', 'datetime' or 'timestamp'" if "ts" in missing else ""
        plural = "s" if len(missing) > 1 else ""
        raise SourceError(f"{source}: missing column{plural} {', '.join(missing)} (the source has {have}){hint}")
    used = set(fields.values()) | set(time)
    return ColumnMap(fields, time, tuple(n for n in names if n not in used))

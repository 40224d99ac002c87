"""Which column of a source is which field: names matched without regard to case,
spaces, underscores or MetaTrader's angle brackets (``Date``/``Datetime``/``timestamp``/
``open_time`` → ``ts``, ``Adj Close`` → ``adj_close``, ``<TICKVOL>`` → ``volume`` when
there is no real volume), or named by the caller (``columns={"ts": "Time", "close": "Last"}``)."""

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
    "tick_volume": ("tickvol", "tick volume", "tickvolume"),
    "adj_close": ("adj close", "adjclose", "adjusted close"),
    "symbol": ("symbol", "ticker"),
}


_TIME_NAMES = (*_TS_NAMES, "open time", "opentime", "time stamp")
FIELDS = ("ts", *PRICE_FIELDS, "volume", "adj_close", "symbol")


def _norm(name: str) -> str:
    bare = name.replace("\ufeff", "").strip()
    if bare.startswith("<") and bare.endswith(">"):  # MetaTrader: <DATE>, <TICKVOL>
        bare = bare[1:-1]
    return re.sub(r"[\s_\-]+", " ", bare.lower())


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
    tick_volume: str | None = None


def parse_columns(text: str) -> dict[str, str]:
    """``"ts=Time,close=Last"`` (the CLI's ``--columns``) as ``{"ts": "Time", "close": "Last"}``;
    a date and a time of day join as ``ts=Date+Time``.

    Raises:
        ValueError: a part that is not ``field=column``.
    """
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        field, eq, col = part.partition("=")
        if not eq or not field.strip() or not col.strip():
            raise ValueError(f"--columns {part!r}: write field=column pairs, e.g. ts=Time,close=Last")
        out[field.strip()] = col.strip()
    return out


def _given(names: list[str], columns: dict[str, str], source: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """The caller's mapping checked against the fields and the source's columns."""
    fields: dict[str, str] = {}
    time: tuple[str, ...] = ()
    have = ", ".join(repr(n) for n in names)
    for field, col in columns.items():
        key = str(field).strip().lower().replace(" ", "_")
        if key not in FIELDS:
            raise SourceError(f"columns: {field!r} is not a field; map any of {', '.join(FIELDS)}")
        parts = [p.strip() for p in str(col).split("+")] if key == "ts" else [str(col).strip()]
        for p in parts:
            if p not in names:
                close = [n for n in names if n.lower() == p.lower()]
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SourceError(f"{source}: columns maps {key} to {p!r}, which the source lacks{hint}; it has {have}")
        if key == "ts":
            if len(parts) > 2:
                raise SourceError(f"columns: ts={col!r} joins at most a date and a time column (ts=Date+Time)")
            time = tuple(parts)
        else:
            fields[key] = parts[0]
    return fields, time


def map_columns(names: list[str], source: str, columns: dict[str, str] | None = None) -> ColumnMap:
    """Match ``names`` to the fields; ``columns`` (field -> source column) come first.

    Raises:
        SourceError: naming the missing columns and the ones the source has, or two
            columns that mean the same field.
    """
    given, given_time = _given(names, columns or {}, source)
    taken = set(given.values()) | set(given_time)
    by_norm: dict[str, str] = {}
    for name in (n for n in names if n not in taken):
        key = _norm(name)
        if key in by_norm:
            raise SourceError(f"{source}: columns {by_norm[key]!r} and {name!r} both mean {key!r}; keep one of them")
        by_norm[key] = name
    fields: dict[str, str] = dict(given)
    for field, aliases in _ALIASES.items():
        if field in fields:
            continue
        found = [by_norm[a] for a in aliases if a in by_norm]
        if len(found) > 1:
            raise SourceError(f"{source}: columns {found[0]!r} and {found[1]!r} both mean {field}; keep one of them")
        if found:
            fields[field] = found[0]
    tick = fields.pop("tick_volume", None)
    if tick is not None and "volume" not in fields:
        fields["volume"], tick = tick, None  # tick volume is the only volume there is
    time = given_time
    if not time and "date" in by_norm and "time" in by_norm and not {"ts", "timestamp", "datetime"} & by_norm.keys():
        time = (by_norm["date"], by_norm["time"])
    elif not time:
        time = next(((by_norm[k],) for k in _TIME_NAMES if k in by_norm), ())
    missing = ([] if time else ["ts"]) + [f for f in PRICE_FIELDS if f not in fields]
    if missing:
        have = ", ".join(repr(n) for n in names) or "none"
        hint = "; name the time 'ts', 'date', 'datetime' or 'timestamp'," if "ts" in missing else ";"
        example = ",".join(f"{f}=<column>" for f in missing[:2])
        plural = "s" if len(missing) > 1 else ""
        raise SourceError(
            f"{source}: missing column{plural} {', '.join(missing)} (the source has {have}){hint} "
            f"or map them with columns= (CLI --columns {example})"
        )
    used = set(fields.values()) | set(time) | ({tick} if tick else set())
    return ColumnMap(fields, time, tuple(n for n in names if n not in used), tick)

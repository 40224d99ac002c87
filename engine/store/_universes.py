"""Named universes: a name for a list of stored symbols, kept in the store's file.

``anvil_market.universes`` holds one row per name: the symbols in their column order,
an optional note and when it was saved (UTC). A universe is saved in one transaction
like every other change to the store; the table is made on first save in a store
created before universes existed (reads of such a store find none).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import duckdb

from engine.errors import did_you_mean
from engine.store._errors import StoreError

MAX_SYMBOLS = 5000
"""The most symbols one universe may hold (as a job's ``data.symbols``)."""

NAME_RULE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
"""A universe name: a letter, then letters, digits, ``_``, ``.`` or ``-``; 64 at most."""

DDL = """
CREATE TABLE IF NOT EXISTS anvil_market.universes (
    name VARCHAR PRIMARY KEY,
    symbols VARCHAR[] NOT NULL,
    note VARCHAR,
    saved TIMESTAMP NOT NULL
);
"""


class UniverseError(StoreError, ValueError):
    """A universe that cannot be saved: a bad name, no symbols, a symbol twice or not stored.

    Attributes:
        field: what is at fault: ``"name"``, ``"symbols"`` or ``"note"``.
    """

    def __init__(self, message: str, field: str = "symbols") -> None:
        super().__init__(message)
        self.field = field


class UnknownUniverseError(StoreError, LookupError):
    """No universe is saved under that name; the message lists the saved ones."""


@dataclass(frozen=True)
class UniverseInfo:
    """A saved universe: its name, symbols (in column order), note and save time (UTC)."""

    name: str
    symbols: tuple[str, ...]
    note: str | None
    saved: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the save time as ISO 8601 in UTC)."""
        return {"name": self.name, "symbols": list(self.symbols), "note": self.note, "saved": self.saved.isoformat()}

    def __str__(self) -> str:
        return f"{self.name} ({len(self.symbols)} symbols: {', '.join(self.symbols[:8])}{' ...' if len(self.symbols) > 8 else ''})"


def check_name(name: object) -> str:
    """``name`` if it can name a universe.

    Raises:
        UniverseError: naming the rule it breaks.
    """
    if not isinstance(name, str) or not NAME_RULE.match(name):
        raise UniverseError(
            f"universe name {name!r} is not allowed: start with a letter, then use letters, digits, "
            "'_', '.' or '-' (64 characters at most), e.g. 'tech5' or 'us-large'",
            "name",
        )
    return name


def check_symbols(symbols: object, stored: set[str]) -> list[str]:
    """The symbols as a list, each once and each stored (at some timeframe).

    Raises:
        UniverseError: no symbols, too many, one twice or one not stored (with a did-you-mean).
    """
    names = [symbols] if isinstance(symbols, str) else list(symbols)  # type: ignore[call-overload]
    if not names:
        raise UniverseError("a universe needs at least one symbol, e.g. ['AAPL', 'MSFT']")
    if len(names) > MAX_SYMBOLS:
        raise UniverseError(f"a universe holds at most {MAX_SYMBOLS:,} symbols, not {len(names):,}")
    seen: set[str] = set()
    for s in names:
        if not isinstance(s, str) or not s.strip():
            raise UniverseError(f"symbol {s!r} is not a symbol; give stored symbols as text, e.g. 'AAPL'")
        if s in seen:
            raise UniverseError(f"{s!r} is listed twice; name each symbol once")
        seen.add(s)
    missing = [s for s in names if s not in stored]
    if missing:
        first = missing[0]
        raise UniverseError(
            f"{', '.join(map(repr, missing[:10]))}{' ...' if len(missing) > 10 else ''} "
            f"{'is' if len(missing) == 1 else 'are'} not stored{did_you_mean(first, stored)}; "
            "import its bars first (`anvil data import`), `anvil data list` shows what is stored"
        )
    return names


def has_table(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store file has the universes table (stores made before it do not)."""
    row = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'anvil_market' AND table_name = 'universes'"
    ).fetchone()
    return bool(row and row[0])


def listed(cur: duckdb.DuckDBPyConnection) -> list[UniverseInfo]:
    """Every saved universe, by name."""
    if not has_table(cur):
        return []
    rows = cur.execute("SELECT name, symbols, note, saved FROM anvil_market.universes ORDER BY name").fetchall()
    return [_info(r) for r in rows]


def find(cur: duckdb.DuckDBPyConnection, name: str) -> UniverseInfo | None:
    """The universe saved under ``name``, or None."""
    if not has_table(cur):
        return None
    row = cur.execute(
        "SELECT name, symbols, note, saved FROM anvil_market.universes WHERE name = $n", {"n": name}
    ).fetchone()
    return None if row is None else _info(row)


def unknown(name: object, saved: list[UniverseInfo], path: object) -> UnknownUniverseError:
    """The error for a name no universe is saved under: the saved names and a did-you-mean."""
    names = [u.name for u in saved]
    have = f"saved: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}" if names else "none is saved yet"
    return UnknownUniverseError(
        f"no universe is saved under the name {name!r}{did_you_mean(name, names)} in {path} ({have}); "
        "save one with engine.save_universe(name, symbols) or `anvil data universe save NAME A,B,C`"
    )


def write(cur: duckdb.DuckDBPyConnection, name: str, symbols: list[str], note: str | None, replace: bool) -> None:
    """Insert (or with ``replace`` overwrite) one universe, inside the caller's transaction.

    Raises:
        UniverseError: ``name`` is saved already and ``replace`` is False.
    """
    cur.execute(DDL)
    if not replace and find(cur, name) is not None:
        raise UniverseError(
            f"a universe named {name!r} is saved already; pass replace=True (CLI --replace) to overwrite it, "
            "or choose another name",
            "name",
        )
    cur.execute(
        "INSERT INTO anvil_market.universes VALUES ($n, $s, $note, $t) ON CONFLICT (name) DO UPDATE SET "
        "symbols = excluded.symbols, note = excluded.note, saved = excluded.saved",
        {"n": name, "s": symbols, "note": note, "t": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)},
    )


def remove(cur: duckdb.DuckDBPyConnection, name: str) -> UniverseInfo | None:
    """Delete the universe saved under ``name`` (in the caller's transaction); what went, or None."""
    found = find(cur, name)
    if found is not None:
        cur.execute("DELETE FROM anvil_market.universes WHERE name = $n", {"n": name})
    return found


def _info(row: tuple[Any, ...]) -> UniverseInfo:
    name, symbols, note, saved = row
    return UniverseInfo(str(name), tuple(symbols), note, saved.replace(tzinfo=dt.timezone.utc))

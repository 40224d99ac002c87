"""The store's tables, in the DuckDB schema ``anvil_market``.

``anvil_market.series`` names each (symbol, timeframe) once; ``anvil_market.bar_data`` holds the
bars keyed by (series_id, ts), each series' rows kept in time order; the view
``anvil_market.bars`` shows them keyed by (symbol, timeframe, ts) for plain SQL;
``anvil_market.universes`` names lists of symbols (``engine.store._universes``).
Times are ``TIMESTAMP_NS`` in UTC.
"""

from __future__ import annotations

import duckdb

from engine.store._errors import StoreError
from engine.store._universes import DDL as UNIVERSES_DDL

SCHEMA_VERSION = 1

_DDL = """
CREATE SCHEMA IF NOT EXISTS anvil_market;
CREATE TABLE IF NOT EXISTS anvil_market.meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS anvil_market.series (
    id INTEGER PRIMARY KEY,
    symbol VARCHAR NOT NULL,
    timeframe VARCHAR NOT NULL,
    UNIQUE (symbol, timeframe)
);
CREATE TABLE IF NOT EXISTS anvil_market.bar_data (
    series_id INTEGER NOT NULL,
    ts TIMESTAMP_NS NOT NULL,
    open DOUBLE NOT NULL,
    high DOUBLE NOT NULL,
    low DOUBLE NOT NULL,
    close DOUBLE NOT NULL,
    volume DOUBLE NOT NULL,
    adj_close DOUBLE
);
CREATE VIEW IF NOT EXISTS anvil_market.bars AS
    SELECT s.symbol, s.timeframe, b.ts, b.open, b.high, b.low, b.close, b.volume, b.adj_close
    FROM anvil_market.bar_data b JOIN anvil_market.series s ON s.id = b.series_id;
"""

BAR_COLUMNS = ("series_id", "ts", "open", "high", "low", "close", "volume", "adj_close")


def has_schema(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the file already holds the store's tables."""
    row = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'anvil_market' AND table_name = 'meta'"
    ).fetchone()  # current_database(): other files attached to this process's DuckDB are listed too
    return bool(row and row[0])


def create_schema(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the tables (inside the caller's transaction) and record the schema version."""
    cur.execute(_DDL)
    cur.execute(UNIVERSES_DDL)
    cur.execute(
        "INSERT INTO anvil_market.meta VALUES ('schema_version', $v) ON CONFLICT DO NOTHING",
        {"v": str(SCHEMA_VERSION)},
    )


def check_schema(cur: duckdb.DuckDBPyConnection, path: object) -> None:
    """Refuse a store written by a newer anvil.

    Raises:
        StoreError: if the file's schema version is newer than this code's.
    """
    row = cur.execute("SELECT value FROM anvil_market.meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store {path} was written by a newer anvil (schema {version}, this one reads "
            f"{SCHEMA_VERSION}); upgrade anvil or point ANVIL_DB at another file"
        )


def get_meta(cur: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = cur.execute("SELECT value FROM anvil_market.meta WHERE key = $k", {"k": key}).fetchone()
    return None if row is None else str(row[0])


def set_meta(cur: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    cur.execute(
        "INSERT INTO anvil_market.meta VALUES ($k, $v) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"k": key, "v": value},
    )

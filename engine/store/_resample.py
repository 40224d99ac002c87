"""Resampling to a coarser timeframe inside DuckDB: each bucket's open is its first
bar's open, high the highest high, low the lowest low, close the last close, volume the
sum. Buckets are aligned to the epoch in UTC (days start at 00:00 UTC), weeks to Monday.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from engine.store._timeframe import Timeframe

PARTIAL = ("drop", "keep")

_SQL = """
WITH src AS (
    SELECT epoch_ns(ts) AS t, open{f} AS open, high{f} AS high, low{f} AS low, close{f} AS close, volume
    FROM anvil_market.bar_data
    WHERE series_id = $id{range}
), bucketed AS (
    SELECT t - (((t - $origin) % $w) + $w) % $w AS bucket, * FROM src
)
SELECT make_timestamp_ns(bucket) AS ts,
       arg_min(open, t) AS open, max(high) AS high, min(low) AS low, arg_max(close, t) AS close,
       sum(volume) AS volume, count(*) AS bars,
       bucket + $w <= (SELECT epoch_ns(max(ts)) FROM anvil_market.bar_data WHERE series_id = $id) + $src_w
           AS complete
FROM bucketed GROUP BY bucket ORDER BY bucket
"""


def source_for(target: Timeframe, stored: list[Timeframe]) -> Timeframe | None:
    """The coarsest stored timeframe that divides ``target`` evenly, or None."""
    fits = [tf for tf in stored if tf.ns < target.ns and target.ns % tf.ns == 0]
    return max(fits) if fits else None


def bucket_start(ns: int, tf: Timeframe) -> int:
    """The start of the bucket of width ``tf`` holding time ``ns``."""
    return ns - (ns - tf.origin_ns) % tf.ns


def resample(
    cur: duckdb.DuckDBPyConnection,
    sid: int,
    source: Timeframe,
    target: Timeframe,
    lo: int | None,
    hi: int | None,
    *,
    adjusted: bool = False,
) -> pa.Table:
    """Buckets of ``target`` width starting in [lo, hi], each built from all its bars.

    Returns:
        An Arrow table: ts, open, high, low, close, volume, bars (source bars in the
        bucket) and complete (False for a last bucket the stored data does not yet fill).
    """
    f = " * coalesce(adj_close / close, 1.0)" if adjusted else ""
    params: dict[str, Any] = {"id": sid, "w": target.ns, "origin": target.origin_ns, "src_w": source.ns}
    where = ""
    if lo is not None:
        params["lo"] = bucket_start(lo, target)
        where += " AND ts >= make_timestamp_ns($lo)"
    if hi is not None:
        params["hi"] = bucket_start(hi, target) + target.ns - 1
        where += " AND ts <= make_timestamp_ns($hi)"
    return cur.sql(_SQL.format(f=f, range=where), params=params).to_arrow_table()

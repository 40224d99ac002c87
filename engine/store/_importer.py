"""Write checked rows into the store in one transaction: an upsert by (symbol,
timeframe, ts) that leaves identical bars alone and keeps each series in time order."""

from __future__ import annotations

import dataclasses

import duckdb
import numpy as np
import pyarrow as pa

from engine.store._clean import Batch
from engine.store._errors import SourceError
from engine.store._report import ImportReport, SeriesChange
from engine.store._timeframe import Timeframe, infer_timeframe, parse_timeframe

_STAGED = "anvil_staged"
_DIFFERS = " OR ".join(f"b.{c} <> s.{c}" for c in ("open", "high", "low", "close", "volume")) + (
    " OR b.adj_close IS DISTINCT FROM s.adj_close"
)


def timeframes(batch: Batch, timeframe: str | Timeframe | None) -> list[Timeframe]:
    """The timeframe of each symbol's rows: the one given, or the median step of its bars.

    Raises:
        SourceError: when none is given and a symbol's bars do not show one.
    """
    if timeframe is not None:
        tf = parse_timeframe(timeframe)
        for sym, lo, hi in zip(batch.symbols, batch.starts[:-1], batch.starts[1:], strict=True):
            _not_much_finer(batch, sym, batch.ts[lo:hi], tf)
        return [tf] * len(batch.symbols)
    out = []
    for sym, lo, hi in zip(batch.symbols, batch.starts[:-1], batch.starts[1:], strict=True):
        tf = infer_timeframe(batch.ts[lo:hi])
        if tf is None:
            raise SourceError(
                f"{batch.report.source}: cannot tell the timeframe of {sym} from {hi - lo} bar(s); "
                "pass it, e.g. timeframe='1d'"
            )
        out.append(tf)
    return out


FINER = 2
"""Bars whose usual spacing is this many times finer than the declared timeframe (or
more) are refused: 1,000 one-minute bars imported as ``1d`` would be read as four
years of days by every annualised figure."""


def _not_much_finer(batch: Batch, symbol: str, ts: np.ndarray, declared: Timeframe) -> None:
    """Raise SourceError when ``symbol``'s bars are much finer than ``declared``."""
    seen = infer_timeframe(ts)
    if seen is not None and seen.ns * FINER <= declared.ns:
        raise SourceError(
            f"{batch.report.source}: {symbol}'s bars are {seen.name} apart (the most common "
            f"spacing of its {len(ts):,} bars), much finer than the declared timeframe "
            f"{declared.name}; import them as timeframe={seen.name!r} and resample, "
            f"or check the file"
        )


def write(cur: duckdb.DuckDBPyConnection, batch: Batch, tfs: list[Timeframe]) -> ImportReport:
    """Upsert ``batch`` through ``cur``, which must be inside a transaction.

    Rows are inserted in time order (DuckDB keeps insertion order), so reads need no
    sort. A series seen for the first time is inserted whole; bars after a series' last one
    are appended; anything else (a changed bar, a bar inside the stored span) rewrites
    that series in time order. Bars equal to the stored ones are not touched.
    """
    ids = _series_ids(cur, batch.symbols, tfs)
    counts = np.diff(batch.starts)
    staged = _staged_table(batch, np.repeat(np.asarray(ids, dtype=np.int32), counts))
    cur.register(_STAGED, staged)
    try:
        existing = dict(
            cur.execute(
                f"SELECT series_id, epoch_ns(max(ts)) FROM anvil_market.bar_data "
                f"WHERE series_id IN (SELECT DISTINCT series_id FROM {_STAGED}) GROUP BY series_id"
            ).fetchall()
        )
        diffs = _diff(cur) if existing else {}  # before the fresh series' rows go in
        fresh = [i for i in ids if i not in existing]
        if fresh:
            cur.execute(
                f"INSERT INTO anvil_market.bar_data SELECT * FROM {_STAGED} WHERE series_id IN "
                f"(SELECT unnest($ids::INTEGER[])) ORDER BY series_id, ts",
                {"ids": fresh},
            )
        changes = []
        for sym, tf, sid, n in zip(batch.symbols, tfs, ids, counts.tolist(), strict=True):
            if sid not in existing:
                changes.append(SeriesChange(sym, tf.name, int(n), 0, 0))
                continue
            added, changed, first_added = diffs[sid]
            if changed == 0 and added and first_added > existing[sid]:
                cur.execute(
                    f"INSERT INTO anvil_market.bar_data SELECT * FROM {_STAGED} "
                    "WHERE series_id = $id AND ts > make_timestamp_ns($last) ORDER BY ts",
                    {"id": sid, "last": existing[sid]},
                )
            elif added or changed:
                _rewrite(cur, sid)
            changes.append(SeriesChange(sym, tf.name, added, changed, int(n) - added - changed))
    finally:
        cur.unregister(_STAGED)
    return dataclasses.replace(batch.report, series=tuple(changes))


def _series_ids(cur: duckdb.DuckDBPyConnection, symbols: list[str], tfs: list[Timeframe]) -> list[int]:
    known = {(s, t): i for i, s, t in cur.execute("SELECT id, symbol, timeframe FROM anvil_market.series").fetchall()}
    next_id = max(known.values(), default=0) + 1
    ids = []
    for sym, tf in zip(symbols, tfs, strict=True):
        sid = known.get((sym, tf.name))
        if sid is None:
            sid, next_id = next_id, next_id + 1
            cur.execute("INSERT INTO anvil_market.series VALUES ($id, $s, $t)", {"id": sid, "s": sym, "t": tf.name})
            known[(sym, tf.name)] = sid
        ids.append(sid)
    return ids


def _staged_table(batch: Batch, series_id: np.ndarray) -> pa.Table:
    c = batch.cols
    adj = c["adj_close"]
    return pa.table(
        {
            "series_id": series_id,
            "ts": pa.array(batch.ts, type=pa.timestamp("ns")),
            "open": c["open"],
            "high": c["high"],
            "low": c["low"],
            "close": c["close"],
            "volume": c["volume"],
            "adj_close": pa.array(adj, mask=np.isnan(adj)),
        }
    )


def _diff(cur: duckdb.DuckDBPyConnection) -> dict[int, tuple[int, int, int]]:
    """Per staged series: (bars added, bars changed, first added time in ns)."""
    rows = cur.execute(
        f"""
        SELECT s.series_id,
               count(*) FILTER (WHERE b.ts IS NULL),
               count(*) FILTER (WHERE b.ts IS NOT NULL AND ({_DIFFERS})),
               coalesce(epoch_ns(min(s.ts) FILTER (WHERE b.ts IS NULL)), 0)
        FROM {_STAGED} s
        LEFT JOIN (SELECT * FROM anvil_market.bar_data
                   WHERE series_id IN (SELECT DISTINCT series_id FROM {_STAGED})) b
               ON b.series_id = s.series_id AND b.ts = s.ts
        GROUP BY s.series_id
        """
    ).fetchall()
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def _rewrite(cur: duckdb.DuckDBPyConnection, sid: int) -> None:
    """Replace a series by its stored bars merged with the staged ones, in time order."""
    cur.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE anvil_merged AS
        SELECT * FROM (
            SELECT b.* FROM anvil_market.bar_data b
            ANTI JOIN (SELECT ts FROM {_STAGED} WHERE series_id = $id) s ON s.ts = b.ts
            WHERE b.series_id = $id
            UNION ALL
            SELECT * FROM {_STAGED} WHERE series_id = $id
        ) ORDER BY ts
        """,
        {"id": sid},
    )
    cur.execute("DELETE FROM anvil_market.bar_data WHERE series_id = $id", {"id": sid})
    cur.execute("INSERT INTO anvil_market.bar_data SELECT * FROM anvil_merged ORDER BY ts")
    cur.execute("DROP TABLE anvil_merged")

"""Result tables read the way a report needs them, without a Python object per row.

A sweep of a million runs prints ten of them: the ranking, the failed count and
the pooled view are vectorized operations on the result table (pandas for a
table in memory, DuckDB for a Parquet file downloaded from a service), and only
the rows shown become dicts. ``json_lines`` writes every row of a table a slice
at a time, for ``--json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.records import MINIMIZED

JSON_SLICE = 20_000  # rows turned into Python values at a time by ``json_lines``
VIEW_SLICE = 65_536  # rows ranked and counted at a time by ``sweep_view``
NOT_PARAMS = frozenset({"item_id", "symbol", "error"})  # a sweep's bookkeeping columns


@dataclass(frozen=True)
class SweepView:
    """What a sweep's report shows: counts over every run, and the best rows only.

    Attributes:
        runs, failed: over the whole table.
        symbols: distinct symbols in it.
        best: the shown rows, best first (at most the asked number).
        pooled: whether ``best`` holds averages over symbols.
        first_error: one failed run's error, to say what failed.
    """

    runs: int
    failed: int
    symbols: int
    best: pd.DataFrame
    pooled: bool = False
    first_error: str | None = None


def frame_of(rows: pd.DataFrame | Sequence[Mapping[str, Any]] | None) -> pd.DataFrame:
    """``rows`` as a DataFrame (a frame is returned as it is)."""
    if rows is None:
        return pd.DataFrame()
    if isinstance(rows, pd.DataFrame):
        return rows
    return pd.DataFrame(list(rows))


def error_mask(frame: pd.DataFrame) -> pd.Series:
    """Rows that record a failure: their ``error`` is text, not null or empty."""
    if "error" not in frame.columns:
        return pd.Series(False, index=frame.index)
    err = frame["error"]
    return err.notna() & err.ne("")


def metric_values(frame: pd.DataFrame, metric: str) -> pd.Series:
    """``metric`` as floats (NaN where missing or not a number)."""
    if metric not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    col = frame[metric]
    if col.dtype == object or col.dtype == bool:
        col = pd.to_numeric(col.where(col.map(type) != bool), errors="coerce")  # type: ignore[call-overload]  # noqa: E721 - a Series of types
    return col.astype(float)


def best_first(frame: pd.DataFrame, metric: str, n: int | None = None) -> pd.DataFrame:
    """The rows best first by ``metric`` (ties keep table order; rows without it last).

    With ``n``, only the first ``n``: a partial selection, O(rows) not a full sort, made
    a slice of the table at a time (each slice's best ``n``, then the best of those), so
    it takes memory for a slice, not for the table.
    """
    if n is not None and len(frame) > VIEW_SLICE:
        candidates = [_best_first(part, metric, n) for part in slices(frame, VIEW_SLICE)]
        return _best_first(pd.concat(candidates), metric, n)
    return _best_first(frame, metric, n)


def _best_first(frame: pd.DataFrame, metric: str, n: int | None = None) -> pd.DataFrame:
    values = metric_values(frame, metric)
    ok = values[values.notna()]
    smallest = metric in MINIMIZED
    if n is None:
        order = ok.sort_values(ascending=smallest, kind="stable").index
        rest = values.index[values.isna()]
        return frame.loc[order.append(rest)]
    picked = ok.nsmallest(n, keep="first") if smallest else ok.nlargest(n, keep="first")
    index = picked.index
    if len(index) < n:  # fewer ranked rows than asked: the unranked ones follow
        index = index.append(values.index[values.isna()][: n - len(index)])
    return frame.loc[index]


def param_columns(columns: Iterable[str], metrics: Iterable[str], extra: Sequence[str] = ()) -> list[str]:
    """The parameter columns: whatever is not a metric or bookkeeping."""
    skip = NOT_PARAMS | set(metrics) | set(extra)
    return [c for c in columns if c not in skip and not str(c).startswith(("is_", "oos_"))]


def sweep_view(
    frame: pd.DataFrame, metric: str, n: int, pooled: pd.DataFrame | None = None, rows: int = VIEW_SLICE
) -> SweepView:
    """The report's view of a sweep table in memory (and its pooled averages, if any).

    The table is read ``rows`` at a time (views, not copies): each slice gives its
    best ``n`` candidates and its counts, so the memory this takes does not grow
    with the table.
    """
    failed = 0
    first_error: str | None = None
    symbols: set[Any] = set()
    for part in slices(frame, rows):
        bad = error_mask(part)
        k = int(bad.sum())
        if k and first_error is None:
            first_error = str(part.loc[bad.idxmax(), "error"])
        failed += k
        if "symbol" in part.columns:
            symbols.update(part["symbol"].unique().tolist())
    use_pooled = pooled is not None and not pooled.empty
    shown = best_first(pooled if use_pooled else frame, metric, n)  # type: ignore[arg-type]
    return SweepView(len(frame), failed, len(symbols) or 1, shown, use_pooled, first_error)


def sweep_view_parquet(path: Path, metric: str, n: int, metrics: Sequence[str], pool: bool | None = None) -> SweepView:
    """The same view, queried by DuckDB from a Parquet file of the runs (never loaded whole).

    ``pool``: rank averages over symbols (default: when there are several symbols).
    """
    import duckdb

    con = duckdb.connect()
    try:
        src = f"read_parquet('{_sql_path(path)}')"
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        has_error = "error" in cols
        err = "(error IS NOT NULL AND error <> '')" if has_error else "FALSE"
        runs, failed, symbols = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {err}), "
            f"{'count(DISTINCT symbol)' if 'symbol' in cols else '1'} FROM {src}"
        ).fetchone()  # type: ignore[misc]
        first_error = None
        if failed:
            first_error = con.execute(f"SELECT error FROM {src} WHERE {err} LIMIT 1").fetchone()[0]  # type: ignore[index]
        order = "ASC" if metric in MINIMIZED else "DESC"
        has_metric = metric in cols
        rank = f"{_q(metric)} {order} NULLS LAST" if has_metric else "1"
        rowid = "item_id" if "item_id" in cols else "1"
        pooled = symbols > 1 if pool is None else pool
        if pooled:
            params = param_columns(cols, metrics)
            keys = ", ".join(_q(p) for p in params)
            avgs = ", ".join(f"avg({_q(m)}) AS {_q(m)}" for m in metrics if m in cols)
            where = f"WHERE NOT {err}" if has_error else ""
            query = (
                f"SELECT {keys}, {avgs}, min({rowid}) AS _first FROM {src} {where} GROUP BY {keys} "
                f"ORDER BY {rank}, _first LIMIT {int(n)}"
            )
            best = con.execute(query).df().drop(columns="_first")
        else:
            best = con.execute(f"SELECT * FROM {src} ORDER BY {rank}, {rowid} LIMIT {int(n)}").df()
        if has_metric:
            best[metric] = best[metric].astype(float)
        return SweepView(int(runs), int(failed), int(symbols), best, pooled and not best.empty, first_error)
    finally:
        con.close()


def quantiles(frame: pd.DataFrame, keys: Sequence[str], qs: Sequence[float] = (5, 50, 95)) -> dict[str, list[float]]:
    """Percentiles ``qs`` of each numeric column in ``keys`` over its finite values."""
    out: dict[str, list[float]] = {}
    for k in keys:
        if k not in frame.columns:
            continue
        vals = metric_values(frame, k).to_numpy()
        vals = vals[np.isfinite(vals)]
        if len(vals):
            out[k] = [float(v) for v in np.percentile(vals, list(qs))]
    return out


def quantiles_parquet(path: Path, keys: Sequence[str], qs: Sequence[float] = (5, 50, 95)) -> dict[str, list[float]]:
    """The same percentiles, queried by DuckDB from a Parquet file."""
    import duckdb

    con = duckdb.connect()
    try:
        src = f"read_parquet('{_sql_path(path)}')"
        cols = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        out: dict[str, list[float]] = {}
        probs = ", ".join(str(q / 100) for q in qs)
        for k in keys:
            if k not in cols or not any(t in str(cols[k]) for t in ("DOUBLE", "FLOAT", "INT", "DECIMAL")):
                continue
            got = con.execute(
                f"SELECT quantile_cont({_q(k)}, [{probs}]) FROM {src} WHERE isfinite({_q(k)}::DOUBLE)"
            ).fetchone()
            if got and got[0] is not None:
                out[k] = [float(v) for v in got[0]]
        return out
    finally:
        con.close()


def read_parquet(path: Path, limit: int | None = None, last: bool = False) -> pd.DataFrame:
    """A Parquet file (or its first / last ``limit`` rows) as a frame."""
    import pyarrow.parquet as pq

    if limit is None:
        return pq.read_table(path).to_pandas()
    pf = pq.ParquetFile(path)
    total = pf.metadata.num_rows
    if last:
        start = max(0, total - limit)
        table = pq.read_table(path)  # row groups are small next to a trade list; slice after
        return table.slice(start, limit).to_pandas()
    batches = []
    got = 0
    for batch in pf.iter_batches(batch_size=max(1, min(limit, 65_536))):
        batches.append(batch)
        got += batch.num_rows
        if got >= limit:
            break
    import pyarrow as pa

    if not batches:
        return pf.schema_arrow.empty_table().to_pandas()
    return pa.Table.from_batches(batches).slice(0, limit).to_pandas()


def parquet_frames(path: Path, rows: int = JSON_SLICE) -> Iterator[pd.DataFrame]:
    """A Parquet file's rows, ``rows`` at a time."""
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
        yield batch.to_pandas()


def slices(frame: pd.DataFrame, rows: int = JSON_SLICE) -> Iterator[pd.DataFrame]:
    """``frame`` ``rows`` at a time."""
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


def json_lines(frames: Iterable[pd.DataFrame]) -> Iterator[str]:
    """Each row of ``frames`` as one line of JSON (times ISO 8601, NaN and ±inf null)."""
    for part in frames:
        if part.empty:
            continue
        clean = {}
        for name in part.columns:
            col = part[name]
            if pd.api.types.is_float_dtype(col.dtype):
                vals = col.to_numpy(dtype=float)
                clean[str(name)] = pd.Series(np.where(np.isfinite(vals), vals, None), index=part.index, dtype=object)
            elif pd.api.types.is_datetime64_any_dtype(col.dtype):
                clean[str(name)] = pd.Series(
                    [None if pd.isna(t) else t.isoformat() for t in col], index=part.index, dtype=object
                )  # trades, windows: few rows
            else:
                clean[str(name)] = col.astype(object).where(col.notna(), None)
        records = pd.DataFrame(clean, index=part.index).to_dict("records")
        for record in records:
            yield json.dumps(record, allow_nan=False, default=_default)


def _default(v: Any) -> Any:
    item = getattr(v, "item", None)
    if callable(item):
        v = item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")

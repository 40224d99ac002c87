"""Parquet files that survive a crash, and rows read back from them by position.

``written`` + ``durable``: a table is written beside its final name, synced, then
renamed into place and its folder synced, so after a crash a name either holds
the whole file or does not exist. ``rows_at`` reads the rows at (file, row number)
touching only the row groups that hold them (a top-N page of a million-row result).
"""

from __future__ import annotations

import bisect
import os
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from api.jobrecord import jsonable


def written(path: Path, data: pa.Table) -> Path:
    """``data`` as a Parquet file beside ``path``, synced to disk; returns that file,
    for ``durable`` to put in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        pq.write_table(data, f)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable(tmp: Path, path: Path, sync_folder: bool = True) -> None:
    """Put a synced file in place at ``path`` and sync its folder, so the name survives a
    crash (``sync_folder=False``: the caller syncs it once, after several)."""
    os.replace(tmp, path)
    if sync_folder:
        sync(path.parent)


def conform(data: pa.Table | pa.RecordBatch, schema: pa.Schema) -> list[pa.Array]:
    """``data``'s columns under ``schema``: cast, and nulls for a column it lacks."""
    return [
        data.column(f.name).cast(f.type) if f.name in data.schema.names else pa.nulls(data.num_rows, f.type)
        for f in schema
    ]


def rows_at(found: list[tuple[str, int]], schema: pa.Schema) -> pa.Table:
    """The rows at (file, row number) in that order, reading only the row groups that hold them."""
    by_file: dict[str, list[tuple[int, int]]] = {}
    for rank, (path, row) in enumerate(found):
        by_file.setdefault(path, []).append((int(row), rank))
    pieces, ranks = [], []
    for path, wanted in by_file.items():
        meta = pq.ParquetFile(path)
        starts = [0]
        for g in range(meta.num_row_groups):
            starts.append(starts[-1] + meta.metadata.row_group(g).num_rows)
        group_of = {row: bisect.bisect_right(starts, row) - 1 for row, _ in wanted}
        groups = sorted(set(group_of.values()))
        first: dict[int, int] = {}  # where each read group starts in what was read
        at = 0
        for g in groups:
            first[g] = at
            at += starts[g + 1] - starts[g]
        read = meta.read_row_groups(groups)
        idx = [first[group_of[row]] + row - starts[group_of[row]] for row, _ in wanted]
        pieces.append(pa.Table.from_arrays(conform(read.take(idx), schema), schema=schema))
        ranks.extend(rank for _, rank in wanted)
    if not pieces:
        return schema.empty_table()
    data = pa.concat_tables(pieces)
    order = sorted(range(len(ranks)), key=ranks.__getitem__)
    return data.take(order)


def json_rows(data: pa.Table) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in r.items()} for r in data.to_pylist()]

"""Result rows as stored bytes: Parquet fragments that read back as the same frame,
and a chunk's extra payload (``JobStore``, ``DuckSink``)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from api.jobrecord import jsonable


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table that reads back as the same frame; a column Arrow
    cannot type (mixed Python objects) is kept as text."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    columns = {}
    for name in frame.columns:
        try:
            columns[str(name)] = pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns[str(name)] = pa.array(
                [
                    None
                    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v))
                    else json.dumps(jsonable(v))
                    for v in frame[name]
                ],
                type=pa.string(),
            )
    return pa.table(columns)


def to_parquet(data: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(data, sink)
    return bytes(sink.getvalue().to_pybytes())


def pack(extra: Any) -> tuple[bytes | None, str | None]:
    """A chunk's payload as bytes: one array (.npy) or a dict of arrays (.npz)."""
    if extra is None:
        return None, None
    buf = io.BytesIO()
    if isinstance(extra, dict):
        np.savez(buf, **{k: np.asarray(v) for k, v in extra.items()})
        return buf.getvalue(), "npz"
    np.save(buf, np.asarray(extra), allow_pickle=False)
    return buf.getvalue(), "npy"


def unpack(blob: bytes | None, kind: str | None) -> Any:
    if blob is None:
        return None
    if kind == "npz":
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    return np.load(io.BytesIO(blob), allow_pickle=False)

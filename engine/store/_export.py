"""Export bars and results to Parquet or CSV, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from engine.bars import Bars
from engine.result import Result

_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def bars_table(bars: Bars) -> pa.Table:
    """Bars as an Arrow table: symbol (when known), ts (UTC), open, high, low, close, volume."""
    cols: dict[str, Any] = {}
    if bars.symbol is not None:
        cols["symbol"] = pa.array([bars.symbol] * len(bars), type=pa.string())
    cols["ts"] = pa.array(bars.ts, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    for name in ("open", "high", "low", "close", "volume"):
        cols[name] = getattr(bars, name)
    return pa.table(cols)


def _as_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, Bars):
        return bars_table(data)
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, dict):
        data = pd.DataFrame([data])
    if isinstance(data, pd.DataFrame):
        keep_index = not isinstance(data.index, pd.RangeIndex)
        return pa.Table.from_pandas(data, preserve_index=keep_index).replace_schema_metadata(None)
    raise TypeError(
        "export takes Bars, a Result, a pandas DataFrame or Series, a dict of stats or a pyarrow "
        f"Table, not {type(data).__name__}"
    )


def _format(path: Path, format: str | None) -> str:  # noqa: A002
    fmt = (format or _SUFFIXES.get(path.suffix.lower(), "")).lower().lstrip(".")
    if fmt not in ("csv", "parquet"):
        raise ValueError(
            f"cannot tell the format of {path} from its extension; name it .csv or .parquet, or pass format="
        )
    return fmt


def export(data: Any, path: str | os.PathLike[str], *, format: str | None = None) -> Path:  # noqa: A002
    """Write ``data`` to ``path`` as Parquet or CSV (by extension, or ``format``).

    Args:
        data: Bars, a pandas DataFrame or Series (a non-default index is kept as a
            column), a dict of stats (one row), a pyarrow Table, or a Result — for a
            Result, ``path`` is a folder that receives ``stats``, ``equity`` and
            ``trades`` files (``format`` defaults to Parquet).
        path: the file (or folder) to write; replaced if it exists.

    Returns:
        The path written.

    Raises:
        ValueError: a format that cannot be told.
    """
    target = Path(path).expanduser()
    if isinstance(data, Result):
        fmt = (format or "parquet").lower().lstrip(".")
        target.mkdir(parents=True, exist_ok=True)
        _write(_as_table(data.stats), target / f"stats.{fmt}", fmt)
        for part in ("equity", "trades"):
            try:
                table = _as_table(getattr(data, part))
            except AttributeError:  # a backtest run without equity or trades
                continue
            _write(table, target / f"{part}.{fmt}", fmt)
        return target
    fmt = _format(target, format)
    _write(_as_table(data), target, fmt)
    return target


def _write(table: pa.Table, target: Path, fmt: str) -> None:
    """Write to a temporary file beside ``target``, then move it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        if fmt == "parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Read an import source — a path, bytes, a file object, a DataFrame or an Arrow table —
into one Arrow table, and know which line of the file each row came from.

An uploaded file is imported from its bytes (or file object) and a ``name``: the name
picks the format and labels the report; it is never opened as a path.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from engine.store._errors import SourceError, SourceNotFoundError

FORMATS = ("csv", "parquet")
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_HEADER_LINES = 1


@dataclass(frozen=True)
class RawSource:
    """What was read, before any checking.

    Attributes:
        name: how reports name the source (a file name, or "DataFrame").
        table: every column as read.
        line_of: maps row positions of ``table`` to 1-based file lines (CSV only).
        bad_lines: CSV lines that could not be split into the header's columns,
            as (line, text, fields found).
        fields: the number of columns the CSV header declares.
    """

    name: str
    table: pa.Table
    line_of: Callable[[np.ndarray], np.ndarray] | None = None
    bad_lines: tuple[tuple[int, str, int], ...] = ()
    fields: int = 0


def read_source(source: Any, *, name: str | None = None, format: str | None = None) -> RawSource:  # noqa: A002
    """Read ``source`` into a RawSource.

    Args:
        source: a path (str or PathLike), bytes, a binary file object, a pandas
            DataFrame, or a pyarrow Table / RecordBatch.
        name: the file name of bytes or a file object (for the format and the report).
        format: "csv" or "parquet" when the name's extension does not say.

    Raises:
        SourceNotFoundError: a path that does not exist.
        SourceError: a format that cannot be told or content that is not that format.
        TypeError: a source of another kind.
    """
    if isinstance(source, pd.DataFrame):
        return RawSource(name or "DataFrame", _frame_table(source))
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        return RawSource(name or "Arrow table", source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.exists():
            raise SourceNotFoundError(f"{path}: no such file (looked from {Path.cwd()})")
        if not path.is_file():
            raise SourceError(f"{path} is not a file; give the path of one CSV or Parquet file")
        label = name or str(path)
        with open(path, "rb") as fh:
            head = fh.read(4096)
        fmt = _format(format, name or path.name, head)
        return _read(fmt, label, head, path)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            data = data.encode()
        name = name or os.path.basename(str(getattr(source, "name", "") or "")) or None
    else:
        raise TypeError(
            "import a path, bytes, a binary file object, a pandas DataFrame or a pyarrow Table, "
            f"not {type(source).__name__}"
        )
    label = name or "uploaded data"
    fmt = _format(format, name, data[:4096])
    return _read(fmt, label, data[:4096], data)


def _frame_table(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as Arrow, its DatetimeIndex kept as a column when no column holds times."""
    frame = df
    index_name = str(df.index.name or "ts")
    if isinstance(df.index, pd.DatetimeIndex) and index_name.lower() not in {str(c).lower() for c in df.columns}:
        frame = df.reset_index(names=index_name)
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for col in frame.columns:
        series = frame[col]
        try:
            arr = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array(series.astype("string"), from_pandas=True)
        cols[str(col)] = arr
    return pa.table(cols) if cols else pa.table({})


def _format(format: str | None, name: str | None, head: bytes) -> str:  # noqa: A002
    if format is not None:
        given = format.lower().lstrip(".")
        if given not in FORMATS:
            raise SourceError(f"format {format!r}: anvil imports {' or '.join(FORMATS)}")
        return given
    suffixes = [s.lower() for s in Path(name or "").suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        what = f"{name!r}" if name else "data without a name"
        raise SourceError(
            f"cannot tell the format of {what} from its extension; name it .csv or .parquet, "
            "or pass format='csv' or format='parquet'"
        )
    return fmt


def _read(fmt: str, label: str, head: bytes, where: Path | bytes) -> RawSource:
    if fmt == "parquet":
        if not head.startswith(_PARQUET_MAGIC):
            raise SourceError(f"{label} is not a Parquet file ({_looks_like(head)}); check the file or its extension")
        try:
            src = where if isinstance(where, Path) else pa.BufferReader(where)
            return RawSource(label, pq.read_table(src))
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{label}: the Parquet file cannot be read ({exc})") from exc
    if head.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(where.read_bytes() if isinstance(where, Path) else where)
        except (OSError, EOFError) as exc:
            raise SourceError(f"{label}: the gzip-compressed CSV cannot be read ({exc})") from exc
        head, where = data[:4096], data
    if head.startswith(_PARQUET_MAGIC):
        raise SourceError(f"{label} is a Parquet file, not CSV; name it .parquet or pass format='parquet'")
    if head.startswith(_ZIP_MAGIC) or b"\x00" in head:
        raise SourceError(f"{label} is not a text CSV file ({_looks_like(head)}); export it as CSV first")
    return _read_csv(label, head, where)


def _looks_like(head: bytes) -> str:
    if not head:
        return "it is empty"
    if head.startswith(_PARQUET_MAGIC):
        return "it is Parquet"
    if head.startswith(_ZIP_MAGIC):
        return "it is a zip archive, perhaps a spreadsheet"
    if head.startswith(_GZIP_MAGIC):
        return "it is gzip-compressed"
    if b"\x00" not in head:
        first = head.splitlines()[0][:60].decode("utf-8", "replace") if head.strip() else ""
        return f"it is text starting {first!r}"
    return "it is binary"


def _delimiter(header: bytes) -> str:
    """Comma, unless the header line has none and has tabs or semicolons instead."""
    if b"," not in header:
        for sep in (b"\t", b";"):
            if sep in header:
                return sep.decode()
    return ","


_BINANCE_KLINES = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_TIME_OF_DAY = re.compile(rb"^\d{1,2}:\d{2}")
_DECIMAL_COMMA = re.compile(rb"(?:^|[;\t])\s*-?\d+,\d+\s*(?=$|[;\t])")


def _headerless_names(first: bytes, delimiter: str, label: str) -> list[str] | None:
    """Column names for a CSV whose first line is data (no field holds a letter), or None
    when it has a header: Binance klines (12 columns), MetaTrader 4 history (date,
    time, open, high, low, close, volume), or ts, open, high, low, close [, volume]."""
    fields = [f.strip() for f in first.strip().split(delimiter.encode())]
    if any(re.search(rb"[A-Za-z]", f) for f in fields if not re.fullmatch(rb"[-+]?\d[\d.]*[eE][-+]?\d+", f)):
        return None
    n = len(fields)
    if n == len(_BINANCE_KLINES):
        return list(_BINANCE_KLINES)
    if n == 7 and _TIME_OF_DAY.match(fields[1]):
        return ["date", "time", "open", "high", "low", "close", "volume"]
    if n in (5, 6):
        return ["ts", "open", "high", "low", "close", "volume"][:n]
    raise SourceError(
        f"{label} has no header line and {n} columns, which anvil cannot place; add a header line "
        "(ts,open,high,low,close,volume) and map unusual names with columns= (--columns)"
    )


def _read_csv(label: str, head: bytes, where: Path | bytes) -> RawSource:
    lines = head.lstrip(b"\xef\xbb\xbf").split(b"\n")
    delimiter = _delimiter(lines[0])
    names = _headerless_names(lines[0].rstrip(b"\r"), delimiter, label) if lines[0].strip() else None
    header_lines = 0 if names is not None else _HEADER_LINES
    sample = [ln.rstrip(b"\r") for ln in lines[header_lines:-1]]
    decimal = "," if delimiter != "," and any(_DECIMAL_COMMA.search(ln) for ln in sample) else "."

    def read(threads: bool) -> tuple[pa.Table, list[tuple[int | None, str, int, int]]]:
        bad: list[tuple[int | None, str, int, int]] = []

        def on_bad_row(row: Any) -> str:
            bad.append((row.number, row.text, row.expected_columns, row.actual_columns))
            return "skip"

        src = str(where) if isinstance(where, Path) else pa.BufferReader(where)
        table = pacsv.read_csv(
            src,
            read_options=pacsv.ReadOptions(use_threads=threads, column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=on_bad_row, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(decimal_point=decimal),
        )
        return table, bad

    try:
        table, bad = read(threads=True)
        if bad and any(number is None for number, *_ in bad):
            table, bad = read(threads=False)  # only a single-threaded read numbers the bad lines
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "Empty CSV file" in text:
            raise SourceError(f"{label} is empty; a CSV needs a header line and at least one bar") from exc
        raise SourceError(f"{label}: not a readable CSV file ({text})") from exc
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{label}: not a readable CSV file ({exc})") from exc
    skipped = np.array(sorted(int(b[0]) for b in bad if b[0] is not None), dtype=np.int64)
    shifted = skipped - np.arange(len(skipped))

    def line_of(rows: np.ndarray) -> np.ndarray:
        kept = np.asarray(rows, dtype=np.int64) + header_lines + 1
        return kept + np.searchsorted(shifted, kept, side="right")

    bad_lines = tuple((int(n), text, actual) for n, text, _, actual in bad if n is not None)
    fields = table.num_columns
    return RawSource(label, table, line_of, bad_lines, fields)

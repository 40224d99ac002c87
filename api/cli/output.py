"""How results leave the CLI: aligned tables for people, JSON for machines, CSV/Parquet files.

stdout carries only the result (a table, or with ``--json`` one JSON document);
notes and progress bars go to stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from api.cli.errors import UsageError
from engine.records import PERCENT_METRICS

FRACTIONS = PERCENT_METRICS | {"return"}
"""Metrics that are fractions (0.05 = 5 %), and a trade's return: tables show them as percentages."""

COUNTS = frozenset({"total_trades", "max_drawdown_duration", "runs", "windows", "paths", "bars"})
_ISO_MIDNIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00(\.0+)?(Z|[+-]00:00)?$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]00:00)?$")
FILE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
debug = False  # --debug was given (set by api.cli.main): tracebacks, and Ray's own log lines


# -- values -------------------------------------------------------------------
def plain(v: Any) -> Any:
    """A numpy / pandas scalar as the Python value it holds (NaN and NaT as None)."""
    if v is None:
        return None
    item = getattr(v, "item", None)
    if callable(item) and type(v).__module__ == "numpy":
        v = item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if type(v).__name__ in ("NaTType",) or (type(v).__name__ == "NAType"):
        return None
    return v


def jsonable(obj: Any) -> Any:
    """``obj`` made of JSON types only: times as ISO 8601, NaN and ±∞ as null (as the service sends them)."""
    obj = plain(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if hasattr(obj, "isoformat"):  # pandas Timestamp
        return obj.isoformat()
    if hasattr(obj, "tolist"):  # numpy arrays
        return jsonable(obj.tolist())
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def print_json(doc: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def print_document(head: Mapping[str, Any], rows: Iterable[str]) -> None:
    """One JSON document on stdout: ``head``'s fields, then ``"rows"`` written a line at
    a time from ``rows`` (each a JSON object, as ``api.cli.tables.json_lines`` makes them)."""
    text = json.dumps(jsonable(dict(head)), indent=2, allow_nan=False)
    out = sys.stdout
    out.write(text[:-2] + (',\n  "rows": [' if head else '  "rows": ['))
    first = True
    for line in rows:
        out.write(("\n    " if first else ",\n    ") + line)
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")
    out.flush()


def cell(name: str, v: Any) -> str:
    """One value as a table shows it."""
    v = plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    base = name[3:] if name.startswith("is_") else name[4:] if name.startswith("oos_") else name
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        f = float(v)
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if base in FRACTIONS:
            return f"{f * 100:.2f}%"
        if base in COUNTS or (isinstance(v, int)):
            return f"{int(f):,}" if f.is_integer() else f"{f:,.2f}"
        if abs(f) >= 1000:
            return f"{f:,.2f}"
        return f"{f:.4g}" if abs(f) >= 1e-3 or f == 0 else f"{f:.3e}"
    if isinstance(v, (dt.datetime, dt.date)) or hasattr(v, "isoformat"):
        return _time(v)
    text = str(v)
    if _ISO_MIDNIGHT.match(text):  # a time that came as JSON
        return text[:10]
    if _ISO_TIME.match(text):
        return text[:16].replace("T", " ")
    return text


def _time(v: Any) -> str:
    if isinstance(v, dt.datetime) or hasattr(v, "hour"):
        if (v.hour, v.minute, v.second) == (0, 0, 0):
            return v.strftime("%Y-%m-%d")
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _numeric(rows: Sequence[Mapping[str, Any]], col: str) -> bool:
    vals = [plain(r.get(col)) for r in rows]
    vals = [v for v in vals if v is not None]
    return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    right: Sequence[str] | None = None,
) -> str:
    """Rows as an aligned text table: numbers (or the ``right`` columns) to the right, text to the left."""
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    headers = headers or {}
    cells = [[cell(c, r.get(c)) for c in columns] for r in rows]
    heads = [headers.get(c, c) for c in columns]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(heads)]
    align = [c in right if right is not None else _numeric(rows, c) for c in columns]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, align)]
        return "  ".join(parts).rstrip()

    out = [line(heads), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def pairs(items: Iterable[tuple[str, Any]]) -> str:
    """``name value`` lines, aligned (a backtest's stats)."""
    items = list(items)
    width = max((len(k) for k, _ in items), default=0)
    shown = [(k, cell(k, v)) for k, v in items]
    vwidth = max((len(v) for _, v in shown), default=0)
    return "\n".join(f"{k.ljust(width)}  {v.rjust(vwidth)}" for k, v in shown)


def echo(text: str = "") -> None:
    """A line of the result on stdout."""
    sys.stdout.write(text + "\n")


def note(text: str, quiet: bool = False) -> None:
    """A remark for a person on stderr (not with --quiet)."""
    if not quiet:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def interactive(quiet: bool) -> bool:
    """Whether progress bars belong on stderr: a terminal, and not --quiet."""
    return not quiet and sys.stderr.isatty()


# -- files --------------------------------------------------------------------
def file_format(path: str, option: str = "--out") -> str:
    """``csv`` or ``parquet`` from a file name, or a usage error."""
    fmt = FILE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"{option} {path}: name a .csv or .parquet file (not {Path(path).suffix or 'no extension'!r})")
    return fmt


WRITE_ROWS = 100_000  # rows written at a time


def write_frame(frame: Any, path: str, option: str = "--out") -> Path:
    """Write a pandas DataFrame to ``path`` as CSV or Parquet (by its extension), a slice
    of rows at a time (no copy of the table; the file appears complete or not at all)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    fmt = file_format(path, option)
    target = Path(path).expanduser()
    if target.parent and not target.parent.exists():
        raise UsageError(f"{option} {path}: the folder {target.parent} does not exist")
    tmp = target.with_name(target.name + ".part")
    try:
        schema = pa.Schema.from_pandas(frame.iloc[:WRITE_ROWS], preserve_index=False)
        for i, f in enumerate(schema):  # an all-None column (no errors) has no Parquet type
            if pa.types.is_null(f.type):
                schema = schema.set(i, pa.field(f.name, pa.string()))
        writer: Any = pq.ParquetWriter(tmp, schema) if fmt == "parquet" else pa_csv.CSVWriter(tmp, schema)
        with writer:
            for start in range(0, max(len(frame), 1), WRITE_ROWS):
                part = frame.iloc[start : start + WRITE_ROWS]
                writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
        tmp.replace(target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def write_bytes(data: bytes, path: str) -> Path:
    """Write downloaded bytes to ``path``."""
    file_format(path)
    target = Path(path).expanduser()
    if not target.parent.exists():
        raise UsageError(f"--out {path}: the folder {target.parent} does not exist")
    target.write_bytes(data)
    return target

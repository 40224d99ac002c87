"""From a source as read to rows fit to store: typed, checked row by row against the
rules of ``engine.Bars``, one row per (symbol, time), sorted. Bad rows are collected
with reasons, then either rejected as a whole or skipped."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.bars import PRICE_FIELDS, Reason, broken_rules, validate
from engine.errors import InvalidBarsError
from engine.store._columns import ColumnMap, map_columns
from engine.store._errors import BadRowsError, SourceError
from engine.store._parse import Parsed, parse_numbers, parse_times
from engine.store._read import RawSource
from engine.store._report import SHOWN_PROBLEMS, ImportReport, RowProblem

VALUE_FIELDS = (*PRICE_FIELDS, "volume", "adj_close")


@dataclass(frozen=True)
class Batch:
    """Checked rows, sorted by symbol then time, one row per (symbol, ts).

    Attributes:
        symbols: the distinct symbols, in the order of their rows.
        starts: row offsets of each symbol's rows (``len(symbols) + 1`` of them).
        ts: int64 ns UTC.
        cols: float64 ``open``, ``high``, ``low``, ``close``, ``volume``, ``adj_close``
            (NaN where the source has no adjusted close).
        report: rows read, bad, skipped and duplicated (series changes are filled in
            by the importer).
    """

    symbols: list[str]
    starts: np.ndarray
    ts: np.ndarray
    cols: dict[str, np.ndarray]
    report: ImportReport = field(repr=False)


@dataclass
class _Problems:
    """Bad rows: one mask per reason, in the order reasons are reported."""

    source: RawSource
    rows: np.ndarray  # positions in the source table of the rows checked
    checks: list[tuple[str | None, np.ndarray, Reason]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # source columns found unused while reading

    def add(self, column: str | None, mask: np.ndarray, reason: Reason) -> None:
        if mask.any():
            self.checks.append((column, mask, reason))

    def mask(self) -> np.ndarray:
        bad = np.zeros(len(self.rows), dtype=bool)
        for _, m, _ in self.checks:
            bad |= m
        return bad

    def where(self, i: int) -> tuple[int | None, int]:
        row = int(self.rows[i])
        line = None if self.source.line_of is None else int(self.source.line_of(np.array([row]))[0])
        return line, row

    def first(self, bad: np.ndarray) -> list[RowProblem]:
        out = []
        for i in np.flatnonzero(bad)[:SHOWN_PROBLEMS]:
            column, reason = next((c, r(int(i))) for c, m, r in self.checks if m[i])
            line, row = self.where(int(i))
            out.append(RowProblem(self.source.name, line, row, column, reason))
        for line, text, found in self.source.bad_lines[:SHOWN_PROBLEMS]:
            reason = f"has {found} fields, the header has {self.source.fields}: {text[:80]!r}"
            out.append(RowProblem(self.source.name, line, None, None, reason))
        out.sort(key=lambda p: p.line if p.line is not None else p.row or 0)
        return out[:SHOWN_PROBLEMS]


def clean(
    raw: RawSource,
    symbol: str | None,
    tz: str | None,
    skip_bad: bool,
    *,
    date_format: str | None = None,
    dayfirst: bool | None = None,
    columns: dict[str, str] | None = None,
) -> Batch:
    """Check ``raw`` row by row and return the rows to store.

    ``date_format`` / ``dayfirst`` say how text dates are written (else the whole
    column decides); ``columns`` names the source column of a field (``{"ts": "Time"}``).

    Raises:
        SourceError: missing columns, no symbol, columns of the wrong type, no rows.
        BadRowsError: bad rows and ``skip_bad`` is False (nothing is imported).
    """
    src = raw.name
    colmap = map_columns(raw.table.column_names, src, columns)
    table, rows = _without_blank_lines(raw)
    table, rows, empty = _without_empty_bars(table, rows, colmap)
    n = table.num_rows
    if n == 0 and not raw.bad_lines:
        why = f" ({empty} rows have a time but no prices)" if empty else ""
        raise SourceError(f"{src} holds no rows with prices{why}; nothing to import")
    probs = _Problems(raw, rows)
    ts = _times(table, colmap, tz, probs, date_format, dayfirst)
    cols = _values(table, colmap, probs)
    codes, symbols = _symbols(table, colmap, symbol, src, probs)
    for name, mask, reason in broken_rules(cols):
        probs.add(name, mask, reason)
    bad = probs.mask()
    keep, duplicates = _one_row_per_time(ts, codes, cols, bad, probs)
    bad = probs.mask()
    rows_bad = int(bad.sum()) + len(raw.bad_lines)
    report = ImportReport(
        source=src,
        rows_read=n + empty + len(raw.bad_lines),
        rows_empty=empty,
        rows_bad=rows_bad,
        rows_skipped=rows_bad if skip_bad else 0,
        duplicates=duplicates,
        problems=tuple(probs.first(bad)) if rows_bad else (),
        ignored_columns=tuple(n for n in raw.table.column_names if n in {*colmap.ignored, *probs.ignored}),
    )
    if rows_bad and not skip_bad:
        good = n - int(bad.sum()) - duplicates
        shown = "\n".join(f"  {p}" for p in report.problems)
        more = rows_bad - len(report.problems)
        raise BadRowsError(
            f"{src}: {rows_bad} bad row{'s' if rows_bad > 1 else ''}, nothing imported "
            f"(fix them, or pass skip_bad=True to import the other {good}):\n{shown}"
            + (f"\n  ... and {more} more" if more > 0 else ""),
            report,
        )
    keep = keep[~bad[keep]]
    if keep.size == 0:
        raise SourceError(f"{src}: no good rows left to import ({rows_bad} bad)")
    return _batch(ts[keep], codes[keep], symbols, {k: v[keep] for k, v in cols.items()}, report)


def _without_blank_lines(raw: RawSource) -> tuple[pa.Table, np.ndarray]:
    """The table without the rows of blank CSV lines, and the kept rows' positions."""
    table = raw.table
    positions = np.arange(table.num_rows, dtype=np.int64)
    if raw.line_of is None or table.num_rows == 0:
        return table, positions
    blank = np.ones(table.num_rows, dtype=bool)
    for col in table.columns:
        empty = col.is_null()
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            empty = pc.or_kleene(empty, pc.equal(col, ""))
        blank &= np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)
    if not blank.any():
        return table, positions
    kept = positions[~blank]
    return table.take(pa.array(kept)), kept


def _without_empty_bars(table: pa.Table, rows: np.ndarray, colmap: ColumnMap) -> tuple[pa.Table, np.ndarray, int]:
    """The rows without those that have no open, high, low or close at all (Yahoo's
    ``null`` rows), their positions, and how many were left out."""
    if table.num_rows == 0:
        return table, rows, 0
    empty = np.ones(table.num_rows, dtype=bool)
    for name in PRICE_FIELDS:
        col = table.column(colmap.fields[name])
        none = col.is_null()
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            none = pc.or_kleene(none, pc.equal(pc.utf8_trim_whitespace(col), ""))
        empty &= np.asarray(none.to_numpy(zero_copy_only=False), dtype=bool)
    if not empty.any():
        return table, rows, 0
    kept = np.flatnonzero(~empty)
    return table.take(pa.array(kept)), rows[kept], int(empty.sum())


def _times(
    table: pa.Table, colmap: ColumnMap, tz: str | None, probs: _Problems, date_format: str | None, dayfirst: bool | None
) -> np.ndarray:
    cols = [table.column(c) for c in colmap.time]
    label = " + ".join(colmap.time)
    parsed = parse_times(cols, tz, label, probs.source.name, date_format=date_format, dayfirst=dayfirst)
    where = f" in {tz}" if tz else ""
    how = f" (the column is {parsed.note})" if parsed.note else ""
    probs.add("ts", parsed.missing, lambda i: f"time ({label}) is missing")
    probs.add("ts", parsed.unreadable, lambda i: f"time {_text(cols, i)!r} cannot be read as a time{where}{how}")
    return parsed.values


def _text(cols: list[pa.ChunkedArray], i: int) -> str:
    return " ".join(str(c[i].as_py()) for c in cols)


def _values(table: pa.Table, colmap: ColumnMap, probs: _Problems) -> dict[str, np.ndarray]:
    n = table.num_rows
    out: dict[str, np.ndarray] = {}
    for name in VALUE_FIELDS:
        if name not in colmap.fields:
            out[name] = np.zeros(n) if name == "volume" else np.full(n, np.nan)
            continue
        source_col = colmap.fields[name]
        if name == "volume" and colmap.tick_volume is not None and _all_zero(table.column(source_col)):
            source_col = colmap.tick_volume  # MetaTrader: no real volume (forex), so the tick volume
        if name == "volume" and colmap.tick_volume is not None:
            unused = colmap.tick_volume if source_col == colmap.fields[name] else colmap.fields[name]
            probs.ignored.append(unused)
        col = table.column(source_col)
        parsed: Parsed = parse_numbers(col, source_col, probs.source.name)
        if name != "adj_close":
            probs.add(name, parsed.missing, _missing(name))
        probs.add(name, parsed.unreadable, _not_a_number(name, col))
        out[name] = parsed.values
    adj = out["adj_close"]
    given = ~np.isnan(adj)
    probs.add(
        "adj_close",
        given & ~(np.isfinite(adj) & (adj > 0)),
        lambda i: f"adj_close is {adj[i]}: prices must be finite and positive",
    )
    return out


def _all_zero(col: pa.ChunkedArray) -> bool:
    try:
        values = pc.cast(col, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return bool(pc.all(pc.equal(values.fill_null(0.0), 0.0)).as_py() in (True, None))


def _missing(name: str) -> Reason:
    return lambda i: f"{name} is missing"


def _not_a_number(name: str, col: pa.ChunkedArray) -> Reason:
    return lambda i: f"{name} is {col[i].as_py()!r}, not a number"


def _symbols(
    table: pa.Table, colmap: ColumnMap, symbol: str | None, src: str, probs: _Problems
) -> tuple[np.ndarray, list[str]]:
    n = table.num_rows
    column = colmap.fields.get("symbol")
    if symbol is not None:
        name = str(symbol).strip()
        if not name:
            raise ValueError("symbol must be a non-empty name such as 'AAPL'")
        if column is not None:
            found = pd.unique(table.column(column).drop_null().to_pandas().astype(str).str.strip())
            if len(found) > 1:
                listed = ", ".join(map(str, found[:5])) + (", ..." if len(found) > 5 else "")
                raise SourceError(
                    f"{src} holds {len(found)} symbols in column {column!r} ({listed}); import it "
                    f"without symbol= to keep them apart, or filter it to one symbol"
                )
        return np.zeros(n, dtype=np.int64), [name]
    if column is None:
        raise SourceError(f"{src} has no symbol column; pass the symbol, e.g. symbol='AAPL'")
    text = pd.Series(table.column(column).to_pandas(), dtype="string").str.strip()
    missing = np.asarray((text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True))
    probs.add("symbol", missing, lambda i: "symbol is missing")
    codes, uniques = pd.factorize(text.where(~pd.Series(missing, index=text.index)), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    codes[codes < 0] = 0
    return codes, [str(u) for u in uniques] or [""]


def _one_row_per_time(
    ts: np.ndarray, codes: np.ndarray, cols: dict[str, np.ndarray], bad: np.ndarray, probs: _Problems
) -> tuple[np.ndarray, int]:
    """Good rows in (symbol, time) order, repeats of a row dropped; a time that appears
    with different values marks all its rows bad. Returns (rows to keep, repeats)."""
    good = np.flatnonzero(~bad)
    c, t = codes[good], ts[good]
    if len(good) > 1:
        dc, dt = np.diff(c), np.diff(t)
        if not np.all((dc > 0) | ((dc == 0) & (dt >= 0))):
            good = good[np.lexsort((t, c))]
            c, t = codes[good], ts[good]
    same = (c[1:] == c[:-1]) & (t[1:] == t[:-1])
    if not same.any():
        return good, 0
    differs = np.zeros(len(same), dtype=bool)
    for a in (v[good] for v in cols.values()):
        differs |= ~((a[1:] == a[:-1]) | (np.isnan(a[1:]) & np.isnan(a[:-1])))
    group = np.concatenate([[0], np.cumsum(~same)])
    clash = np.isin(group, np.unique(group[1:][same & differs]))
    if clash.any():
        first = np.searchsorted(group, group)  # sorted position of each group's first row
        order_of = np.full(len(ts), -1, dtype=np.int64)
        order_of[good] = np.arange(len(good))

        def reason(i: int) -> str:
            k = int(order_of[i])
            other = int(good[first[k] if first[k] != k else k + 1])
            line, pos = probs.where(other)
            at = f"line {line}" if line is not None else f"row {pos}"
            verb = "repeats" if first[k] != k else "appears again at"
            return f"time {pd.Timestamp(int(ts[i]))} {verb} {at} with different values"

        mask = np.zeros(len(ts), dtype=bool)
        mask[good[clash]] = True
        probs.add("ts", mask, reason)
    repeat = np.concatenate([[False], same]) & ~clash
    return good[~repeat & ~clash], int(repeat.sum())


def _batch(
    ts: np.ndarray, codes: np.ndarray, names: list[str], cols: dict[str, np.ndarray], report: ImportReport
) -> Batch:
    """Group by symbol (rows are sorted by code), check each with ``engine.bars.validate``."""
    present = np.unique(codes)
    starts = np.searchsorted(codes, present).tolist() + [len(codes)]
    symbols = [names[int(k)] for k in present]
    for sym, lo, hi in zip(symbols, starts[:-1], starts[1:], strict=True):
        try:
            validate(ts[lo:hi], {k: v[lo:hi] for k, v in cols.items()})
        except InvalidBarsError as exc:  # the row checks above missed a rule of Bars: a bug
            raise SourceError(f"{report.source}: {sym}: {exc}") from exc
    return Batch(symbols, np.asarray(starts, dtype=np.int64), ts, cols, report)

"""What an import did: rows read, bad rows (the first few, with reasons), and per
series how many bars were added, changed or already there."""

from __future__ import annotations

from dataclasses import dataclass, field

SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class RowProblem:
    """One bad row of a source.

    Attributes:
        source: the file name (or "DataFrame", "Arrow table").
        line: the 1-based line of a CSV file (the header is line 1), else None.
        row: the 0-based position among the source's rows, or None for a CSV line
            that could not be split into the header's columns.
        column: the field at fault (``ts``, ``close``, ...), or None for the whole row.
        reason: what is wrong, in words.
    """

    source: str
    line: int | None
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"row {self.row}"
        return f"{self.source}, {where}: {self.reason}"


@dataclass(frozen=True)
class SeriesChange:
    """What one import did to one (symbol, timeframe) series."""

    symbol: str
    timeframe: str
    added: int
    changed: int
    unchanged: int


@dataclass(frozen=True)
class ImportReport:
    """The outcome of ``Store.import_bars``.

    Attributes:
        source: the file name (or "DataFrame", "Arrow table").
        rows_read: data rows in the source (blank lines not counted).
        rows_bad: rows that broke a rule (skipped with ``skip_bad=True``, else the
            import was rejected).
        rows_skipped: bad rows left out of the store (0 unless ``skip_bad=True``).
        rows_empty: rows with a time and no prices at all (Yahoo writes ``null`` on
            such days), left out of the store and not counted as bad.
        duplicates: rows repeating another row exactly, stored once.
        problems: the first bad rows, with reasons (up to 20).
        series: per series, bars added, changed and already present.
        ignored_columns: source columns the store does not keep.
    """

    source: str
    rows_read: int
    rows_bad: int = 0
    rows_skipped: int = 0
    duplicates: int = 0
    rows_empty: int = 0
    problems: tuple[RowProblem, ...] = ()
    series: tuple[SeriesChange, ...] = field(default=())
    ignored_columns: tuple[str, ...] = ()

    @property
    def added(self) -> int:
        return sum(s.added for s in self.series)

    @property
    def changed(self) -> int:
        return sum(s.changed for s in self.series)

    @property
    def unchanged(self) -> int:
        return sum(s.unchanged for s in self.series)

    def __str__(self) -> str:
        lines = [
            f"{self.source}: {self.rows_read} rows read, {self.added} bars added, "
            f"{self.changed} changed, {self.unchanged} already stored"
        ]
        if self.duplicates:
            lines.append(f"  {_rows(self.duplicates)} repeated an earlier row exactly and were stored once")
        if self.rows_empty:
            lines.append(f"  {_rows(self.rows_empty)} had a time but no prices (null) and were left out")
        if self.rows_skipped:
            lines.append(f"  {_rows(self.rows_skipped, 'bad row')} skipped")
        for s in self.series:
            lines.append(f"  {s.symbol} {s.timeframe}: +{s.added} new, {s.changed} changed, {s.unchanged} unchanged")
        lines.extend(f"  {p}" for p in self.problems)
        if self.rows_bad > len(self.problems):
            lines.append(f"  ... and {_rows(self.rows_bad - len(self.problems), 'more bad row')}")
        return "\n".join(lines)


def _rows(n: int, word: str = "row") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"

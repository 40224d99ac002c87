"""``anvil data import | list``: market data in the local store (``$ANVIL_DB``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from api.cli import output
from api.cli.errors import CliError
from api.cli.options import OrderedGroup

DB_OPTION = click.option("--db", metavar="FILE", envvar="ANVIL_DB",
                         help="the DuckDB store [env ANVIL_DB; default: anvil.duckdb in the user's data folder]")  # fmt: skip


def open_store(db: str | None) -> Any:
    from engine.store import Store

    return Store(db)


@click.group("data", cls=OrderedGroup, short_help="Import bars into the local store, list what it holds.")
def group() -> None:
    """Market data in the local store: a DuckDB file (``$ANVIL_DB``), filled with the
    shipped S&P 500 (SPX) and NASDAQ (IXIC) daily sample on first use."""


@group.command("import", epilog="""\b
Examples:
  anvil data import aapl.csv --symbol AAPL --timeframe 1d
  anvil data import eurusd_hourly.parquet --symbol EURUSD --timeframe 1h --skip-bad
  anvil data import prices_with_symbol_column.csv""")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--symbol", help="the symbol of every row (unless the file has a symbol column)")
@click.option("--timeframe", help="bar size: 1m, 5m, 1h, 1d ... (default: the usual step between bars)")
@click.option("--tz", metavar="ZONE", help="time zone of times written without an offset (default UTC)")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), help="when the file name does not say")
@click.option("--skip-bad", is_flag=True, help="import the good rows and report the bad ones (default: reject the file)")
@click.option("--json", "as_json", is_flag=True, help="the import reports as JSON")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@DB_OPTION
def import_(files: tuple[str, ...], symbol: str | None, timeframe: str | None, tz: str | None,
            fmt: str | None, skip_bad: bool, as_json: bool, quiet: bool, db: str | None) -> None:  # fmt: skip
    """Import CSV or Parquet bars (a time column, open, high, low, close, optional volume).

    Importing the same file twice changes nothing; a file with bad rows is
    rejected as a whole unless --skip-bad.
    """
    from engine.store import BadRowsError

    reports = []
    with open_store(db) as store:
        bar = _bar(len(files), quiet)
        try:
            for name in files:
                try:
                    reports.append(store.import_bars(name, symbol=symbol, timeframe=timeframe, tz=tz, format=fmt,
                                                     skip_bad=skip_bad))  # fmt: skip
                except BadRowsError as exc:
                    _rejected(exc.report, as_json)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    if as_json:
        output.print_json({"count": len(reports), "data": [_report_dict(r) for r in reports]})
        return
    for r in reports:
        output.echo(str(r))


def _rejected(report: Any, as_json: bool) -> None:
    """A file refused for bad rows: its report on stdout, one line on stderr (exit 1)."""
    if as_json:
        output.print_json({"count": 1, "data": [_report_dict(report)]})
    else:
        for problem in report.problems:
            output.echo(str(problem))
    good = report.rows_read - report.rows_bad - report.duplicates
    raise CliError(f"{report.source}: {report.rows_bad} bad row{'s' if report.rows_bad != 1 else ''}, nothing "
                   f"imported; fix them, or pass --skip-bad to import the {good} good ones")  # fmt: skip


def _bar(n: int, quiet: bool) -> Any:
    if n < 2 or not output.interactive(quiet):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n, desc="import", unit="file")


def _report_dict(report: Any) -> dict[str, Any]:
    d = dataclasses.asdict(report)
    d.update(added=report.added, changed=report.changed, unchanged=report.unchanged)
    return d


@group.command("list", epilog="\b\nExamples:\n  anvil data list\n  ANVIL_DB=~/research.duckdb anvil data list --json")
@click.option("--json", "as_json", is_flag=True, help="the catalog as JSON")
@DB_OPTION
def list_(as_json: bool, db: str | None) -> None:
    """Every stored series: symbol, timeframe, first and last bar, bar count."""
    with open_store(db) as store:
        infos = [s.as_dict() for s in store.catalog()]
        where = store.path
    if as_json:
        output.print_json({"count": len(infos), "data": infos})
        return
    if not infos:
        output.echo(f"{where} holds no bars; `anvil data import FILE --symbol NAME` adds some")
        return
    output.echo(output.table(infos, ["symbol", "timeframe", "first", "last", "bars"]))

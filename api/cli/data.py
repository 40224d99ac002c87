"""``anvil data import | list | delete``: market data in the local store (``$ANVIL_DB``),
or with ``--url`` in the store of a running service (``anvil serve``); ``anvil data
universe ...`` (``api.cli.universes``) names lists of its symbols."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from api.cli import output
from api.cli.errors import CliError, UsageError
from api.cli.options import OrderedGroup

DB_OPTION = click.option(
    "--db",
    metavar="FILE",
    envvar="ANVIL_DB",
    help="the DuckDB store [env ANVIL_DB; default: anvil.duckdb in the user's data folder]",
)
URL_OPTION = click.option(
    "--url",
    metavar="URL",
    help="go through the anvil service at URL (`anvil serve`) instead of the file; the "
    "token is $ANVIL_API_TOKEN or the service's token file",
)


T = TypeVar("T")


def open_store(db: str | None) -> Any:
    from engine.store import Store

    return Store(db)


def service_or_store(
    url: str | None, db: str | None, service: Callable[[Any], T], local: Callable[[Any], T]
) -> tuple[T, Any]:
    """The one switch of the ``--url``/``--db`` commands: ``service(client)`` against the
    anvil service at ``url`` when one is given, else ``local(store)`` on the store file
    ``db``. Returns the answer and where it came from (for "holds nothing" messages)."""
    if url:
        from api.cli.client import Client

        with Client(url) as client:
            return service(client), f"the service at {client.url}"
    with open_store(db) as store:
        return local(store), store.path


@click.group(
    "data", cls=OrderedGroup, short_help="Import bars into the store, list or delete what it holds, name universes."
)
def group() -> None:
    """Market data in the local store: a DuckDB file (``$ANVIL_DB``), filled with the
    shipped S&P 500 (SPX) and NASDAQ (IXIC) daily sample on first use.

    The file is open only while a command reads or writes it, so a notebook, other
    commands and a running sweep can use it at the same time. While `anvil serve`
    runs on it, the service owns the file: give its address with --url.
    """


@group.command(
    "import",
    epilog="""\b
Examples:
  anvil data import aapl.csv --symbol AAPL --timeframe 1d
  anvil data import eurusd_hourly.parquet --symbol EURUSD --timeframe 1h --skip-bad
  anvil data import prices_with_symbol_column.csv
  anvil data import dax.csv --symbol DAX --dayfirst            # 02/01/2015 is 2 January
  anvil data import es.csv --symbol ES --columns ts=Time,close=Last
  anvil data import BTCUSDT-1h-2024-01.csv --symbol BTCUSDT    # Binance klines, with or without header
  anvil data import aapl.csv --symbol AAPL --url http://127.0.0.1:8000   # into a running service""",
)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--symbol", help="the symbol of every row (unless the file has a symbol column)")
@click.option("--timeframe", help="bar size: 1m, 5m, 1h, 1d ... (default: the usual step between bars)")
@click.option("--tz", metavar="ZONE", help="time zone of times written without an offset (default UTC)")
@click.option(
    "--date-format",
    metavar="FMT",
    help="how dates are written, e.g. '%d/%m/%Y' or '%d.%m.%Y %H:%M' (default: the whole column "
    "decides; a column that reads both day-first and month-first is refused)",
)
@click.option(
    "--dayfirst/--monthfirst",
    "dayfirst",
    default=None,
    help="02/01/2015 is 2 January (--dayfirst) or 1 February (--monthfirst)",
)
@click.option(
    "--columns", metavar="MAP", help="which column is which field, e.g. ts=Time,close=Last (ts=Date+Time joins two)"
)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), help="when the file name does not say")
@click.option(
    "--skip-bad", is_flag=True, help="import the good rows and report the bad ones (default: reject the file)"
)
@click.option("--json", "as_json", is_flag=True, help="the import reports as JSON")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@URL_OPTION
@DB_OPTION
def import_(
    files: tuple[str, ...],
    symbol: str | None,
    timeframe: str | None,
    tz: str | None,
    date_format: str | None,
    dayfirst: bool | None,
    columns: str | None,
    fmt: str | None,
    skip_bad: bool,
    as_json: bool,
    quiet: bool,
    url: str | None,
    db: str | None,
) -> None:
    """Import CSV or Parquet bars (a time column, open, high, low, close, optional volume).

    Importing the same file twice changes nothing; a file with bad rows is
    rejected as a whole unless --skip-bad. Rows with a time and no prices at all
    (Yahoo's `null` rows) are left out and counted. Binance klines, MetaTrader
    exports (<DATE> <TIME> <OPEN> ... <TICKVOL>) and `;`-separated files with
    decimal commas are read as they are.
    """
    from engine.store import BadRowsError, parse_columns

    try:
        mapping = parse_columns(columns) if columns else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    options = dict(
        symbol=symbol,
        timeframe=timeframe,
        tz=tz,
        format=fmt,
        skip_bad=skip_bad,
        date_format=date_format,
        dayfirst=dayfirst,
    )
    if url:
        _import_through(url, files, options, columns, as_json, quiet)
        return
    reports = []
    with open_store(db) as store:
        bar = _bar(len(files), quiet)
        try:
            for name in files:
                try:
                    reports.append(store.import_bars(name, columns=mapping, **options))
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


def _import_through(
    url: str, files: tuple[str, ...], options: dict[str, Any], columns: str | None, as_json: bool, quiet: bool
) -> None:
    """Send each file to the service's upload endpoint (``POST /data``)."""
    from api.cli.client import Client

    params = {k: v for k, v in options.items() if v not in (None, False)}
    if columns:
        params["columns"] = columns
    docs = []
    with Client(url, timeout=600) as client:
        for name in files:
            path = Path(name).expanduser()
            if not path.is_file():
                raise CliError(f"{path}: no such file (looked from {Path.cwd()})")
            if output.interactive(quiet):
                output.note(f"sending {path.name} ({path.stat().st_size:,} bytes) to {client.url}")
            with open(path, "rb") as body:
                doc = client.json(
                    "POST",
                    "/data",
                    content=body,
                    params={**params, "name": path.name},
                    headers={"Content-Type": "application/octet-stream"},
                )
            docs.append(doc)
    if as_json:
        output.print_json({"count": len(docs), "data": docs})
        return
    for doc in docs:
        output.echo(str(_report_of(doc)))


def _report_of(doc: dict[str, Any]) -> Any:
    """A service's import report (JSON) as an ``ImportReport``, to print it the same way."""
    from engine.store import ImportReport, RowProblem, SeriesChange

    fields = {f.name for f in dataclasses.fields(ImportReport)}
    kept = {k: v for k, v in doc.items() if k in fields}
    kept["problems"] = tuple(RowProblem(**p) for p in doc.get("problems", ()))
    kept["series"] = tuple(SeriesChange(**s) for s in doc.get("series", ()))
    kept["ignored_columns"] = tuple(doc.get("ignored_columns", ()))
    return ImportReport(**kept)


def _rejected(report: Any, as_json: bool) -> None:
    """A file refused for bad rows: its report on stdout, one line on stderr (exit 1)."""
    if as_json:
        output.print_json({"count": 1, "data": [_report_dict(report)]})
    else:
        for problem in report.problems:
            output.echo(str(problem))
    good = report.rows_read - report.rows_bad - report.duplicates - report.rows_empty
    raise CliError(
        f"{report.source}: {report.rows_bad} bad row{'s' if report.rows_bad != 1 else ''}, nothing "
        f"imported; fix them, or pass --skip-bad to import the {good} good ones"
    )


def _bar(n: int, quiet: bool) -> Any:
    if n < 2 or not output.interactive(quiet):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n, desc="import", unit="file")


def _report_dict(report: Any) -> dict[str, Any]:
    d = dataclasses.asdict(report)
    d.update(added=report.added, changed=report.changed, unchanged=report.unchanged)
    return d


@group.command(
    "list",
    epilog="""\b
Examples:
  anvil data list
  ANVIL_DB=~/research.duckdb anvil data list --json
  anvil data list --url http://127.0.0.1:8000""",
)
@click.option("--json", "as_json", is_flag=True, help="the catalog as JSON")
@URL_OPTION
@DB_OPTION
def list_(as_json: bool, url: str | None, db: str | None) -> None:
    """Every stored series: symbol, timeframe, first and last bar, bar count."""
    infos, where = service_or_store(
        url,
        db,
        lambda client: client.json("GET", "/data")["data"],
        lambda store: [s.as_dict() for s in store.catalog()],
    )
    if as_json:
        output.print_json({"count": len(infos), "data": infos})
        return
    if not infos:
        output.echo(f"{where} holds no bars; `anvil data import FILE --symbol NAME` adds some")
        return
    output.echo(output.table(infos, ["symbol", "timeframe", "first", "last", "bars"]))


@group.command(
    "delete",
    epilog="""\b
Examples:
  anvil data delete AAPL                  # every timeframe of AAPL
  anvil data delete EURUSD --timeframe 1h
  anvil data delete AAPL --url http://127.0.0.1:8000""",
)
@click.argument("symbol")
@click.option("--timeframe", help="only this timeframe (default: every stored timeframe of SYMBOL)")
@click.option("--json", "as_json", is_flag=True, help="what was deleted, as JSON")
@URL_OPTION
@DB_OPTION
def delete(symbol: str, timeframe: str | None, as_json: bool, url: str | None, db: str | None) -> None:
    """Delete a symbol's bars (one timeframe, or all) and say what went."""
    params = {"timeframe": timeframe} if timeframe else {}
    gone, _ = service_or_store(
        url,
        db,
        lambda client: client.json("DELETE", f"/data/{symbol}", params=params)["data"],
        lambda store: [s.as_dict() for s in store.delete_series(symbol, timeframe)],
    )
    if as_json:
        output.print_json({"count": len(gone), "data": gone})
        return
    for s in gone:
        output.echo(f"deleted {symbol} {s['timeframe']}: {s['bars']:,} bars ({s['first'][:10]} .. {s['last'][:10]})")

"""``anvil data universe save | list | show | delete``: named universes in the local store,
or with ``--url`` in the store of a running service (``/api/v1/universes``).

A universe is a name for a list of stored symbols (``engine.save_universe``); jobs take
it as ``--universe NAME`` in place of ``--symbols A,B,C``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from api.cli import output
from api.cli.data import DB_OPTION, URL_OPTION, service_or_store
from api.cli.errors import CliError, UsageError
from api.cli.options import OrderedGroup


@click.group("universe", cls=OrderedGroup, short_help="Save, list, show or delete named universes.")
def group() -> None:
    """Named universes: a name for a list of stored symbols, kept in the store's file.

    Jobs run on one with --universe NAME (`anvil sweep -s cross_sectional_momentum
    --universe tech ...`), or in a job spec as data: {"universe": "tech"}.
    """


@group.command(
    "save",
    epilog="""\b
Examples:
  anvil data universe save tech AAPL,MSFT,IBM,FB --note "four large caps"
  anvil data universe save tech AAPL,MSFT --replace
  anvil data universe save tech AAPL,MSFT --url http://127.0.0.1:8000""",
)
@click.argument("name")
@click.argument("symbols")
@click.option("--note", help="a line saying what the universe is")
@click.option("--replace", is_flag=True, help="overwrite a universe already saved under NAME")
@click.option("--json", "as_json", is_flag=True, help="the saved universe as JSON")
@URL_OPTION
@DB_OPTION
def save(
    name: str, symbols: str, note: str | None, replace: bool, as_json: bool, url: str | None, db: str | None
) -> None:
    """Save SYMBOLS (stored symbols, separated by commas) under NAME."""
    names = [s.strip() for s in symbols.split(",") if s.strip()]
    if not names:
        raise UsageError("SYMBOLS takes stored symbols separated by commas, e.g. AAPL,MSFT,IBM")

    def local(store: Any) -> Any:
        from engine.store import UniverseError

        try:
            return store.save_universe(name, names, note, replace=replace).as_dict()
        except UniverseError as exc:
            raise CliError(str(exc)) from None

    body = {"symbols": names, "note": note}
    saved, _ = service_or_store(
        url,
        db,
        lambda client: client.json(
            "PUT", f"/universes/{quote(name, safe='')}", json=body, params={"replace": str(replace).lower()}
        ),
        local,
    )
    if as_json:
        output.print_json(saved)
        return
    output.echo(f"saved universe {saved['name']}: {len(saved['symbols'])} symbols ({', '.join(saved['symbols'])})")


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="the universes as JSON")
@URL_OPTION
@DB_OPTION
def list_(as_json: bool, url: str | None, db: str | None) -> None:
    """Every saved universe: name, symbol count, symbols, note."""
    found, where = service_or_store(
        url,
        db,
        lambda client: client.json("GET", "/universes")["data"],
        lambda store: [u.as_dict() for u in store.universes()],
    )
    if as_json:
        output.print_json({"count": len(found), "data": found})
        return
    if not found:
        output.echo(f"{where} holds no universes; `anvil data universe save NAME A,B,C` saves one")
        return
    rows = [
        {"name": u["name"], "symbols": len(u["symbols"]), "members": _short(u["symbols"]), "note": u["note"] or ""}
        for u in found
    ]
    output.echo(output.table(rows, ["name", "symbols", "members", "note"]))


@group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="the universe as JSON")
@URL_OPTION
@DB_OPTION
def show(name: str, as_json: bool, url: str | None, db: str | None) -> None:
    """A saved universe's symbols (one a line), note and save time."""
    found, _ = service_or_store(
        url,
        db,
        lambda client: client.json("GET", f"/universes/{quote(name, safe='')}"),
        lambda store: store.universe(name).as_dict(),
    )
    if as_json:
        output.print_json(found)
        return
    output.echo(f"universe {found['name']}: {len(found['symbols'])} symbols, saved {found['saved'][:19]} UTC")
    if found["note"]:
        output.echo(f"note: {found['note']}")
    for symbol in found["symbols"]:
        output.echo(f"  {symbol}")


@group.command("delete")
@click.argument("name")
@URL_OPTION
@DB_OPTION
def delete(name: str, url: str | None, db: str | None) -> None:
    """Delete the universe NAME (its symbols' bars stay in the store)."""
    gone, _ = service_or_store(
        url,
        db,
        lambda client: client.json("DELETE", f"/universes/{quote(name, safe='')}"),
        lambda store: store.delete_universe(name).as_dict(),
    )
    output.echo(f"deleted universe {gone['name']} ({len(gone['symbols'])} symbols)")


def _short(symbols: list[str], most: int = 6) -> str:
    return ", ".join(symbols[:most]) + (f" ... (+{len(symbols) - most})" if len(symbols) > most else "")

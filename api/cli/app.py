"""The ``anvil`` command group: every command, in the order ``--help`` lists them."""

from __future__ import annotations

from typing import Any

import click

from api.cli import data, jobs, run, serve, strategies, universes
from api.cli.options import OrderedGroup


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anvil")
    except PackageNotFoundError:
        return "unknown"


@click.group(
    cls=OrderedGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog="""\b
Examples:
  anvil data list
  anvil backtest -s sma_cross --symbol SPX -p fast=10 slow=50
  anvil sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5 --out runs.csv
  anvil serve &
  anvil jobs submit sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5
\b
Every command takes --help. Errors end with one line, `anvil: error: ...`, exit
status 2 for a bad command line and 1 for anything else; --debug adds the traceback.""",
)
@click.version_option(version=_version(), prog_name="anvil", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="show the traceback of an error (anywhere on the line)")
def cli(**_: Any) -> None:
    """anvil: backtest trading strategies, from one run to sweeps on a Ray cluster."""


for command in (*run.COMMANDS, data.group, strategies.group, serve.serve, jobs.group):
    cli.add_command(command)
data.group.add_command(universes.group)

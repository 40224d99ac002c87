"""``anvil serve``: the job service (``api.app:create_app``) under uvicorn."""

from __future__ import annotations

import importlib.util
import os
import socket

import click

from api.cli import output
from api.cli.client import loopback
from api.cli.errors import CliError

APP = "api.app:create_app"


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@click.command(
    "serve",
    epilog="""\b
Examples:
  anvil serve                                   # http://127.0.0.1:8000/api/v1, schema at /api/v1/openapi.json
  ANVIL_API_TOKEN=$(openssl rand -hex 32) anvil serve --host 0.0.0.0 --port 9000
  anvil serve --db ~/research.duckdb --address auto   # run jobs on the Ray cluster this machine is in""",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="ANVIL_HOST",
    help="address to listen on; keep the loopback default unless others must reach it [env ANVIL_HOST]",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    envvar="ANVIL_PORT",
    help="[env ANVIL_PORT]",
)
@click.option("--db", metavar="FILE", help="the DuckDB store for data, jobs and results [env ANVIL_DB]")
@click.option(
    "--address",
    metavar="ADDR",
    help="where jobs run: a local Ray (default), auto, ray://host:port, local-threads [env ANVIL_ADDRESS]",
)
@click.option("--workers", type=click.IntRange(0), default=None, help="Ray actors per job (0: one per CPU)")
@click.option("--max-running-jobs", type=click.IntRange(1), default=None, help="jobs run at once; the rest queue")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(
    host: str,
    port: int,
    db: str | None,
    address: str | None,
    workers: int | None,
    max_running_jobs: int | None,
    log_level: str,
) -> None:
    """Run the anvil job service: submit, watch and download jobs over HTTP.

    Every request needs the header ``Authorization: Bearer <token>``: the token is
    $ANVIL_API_TOKEN, or else one generated on first start into the file
    ``api-token`` beside the store (only its owner can read it); `anvil jobs`
    finds it there on the same machine. Settings not given here come from
    ANVIL_* environment variables.
    """
    if importlib.util.find_spec("api.app") is None:
        raise CliError("the job service (api.app) is not part of this anvil install")
    for name, value in (
        ("ANVIL_DB", db),
        ("ANVIL_ADDRESS", address),
        ("ANVIL_WORKERS", workers),
        ("ANVIL_MAX_RUNNING_JOBS", max_running_jobs),
        ("ANVIL_HOST", host),
        ("ANVIL_PORT", port),
    ):
        if value is not None:
            os.environ[name] = str(value)
    if not _port_free(host, port):
        raise CliError(
            f"cannot listen on {host}:{port}: the port is in use or the address is not this "
            "machine's; pick another with --port"
        )
    if not loopback(host):
        output.note(f"anvil: listening on {host}, reachable from other machines; every request needs the token")
    import uvicorn

    output.note(
        f"anvil: serving on http://{host if ':' not in host else f'[{host}]'}:{port}/api/v1 "
        "(its OpenAPI schema: /api/v1/openapi.json, with the token); Ctrl-C stops it"
    )
    uvicorn.run(APP, factory=True, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)

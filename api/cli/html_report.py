"""HTML reports from the command line: ``--report FILE.html`` on the job commands, and
``anvil jobs report ID --out FILE.html`` for a job the service ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from api.cli import output
from api.cli.client import Client
from api.cli.errors import CliError
from api.cli.options import URL

F = Callable[..., Any]


def report_option(fn: F) -> F:
    """``--report FILE.html``."""
    return click.option(
        "--report",
        "report_file",
        metavar="FILE.html",
        help="also write the result's report: one HTML file with charts that opens offline",
    )(fn)


def check_target(path: str | None) -> Path | None:
    """The report's path, refused now (before a long run) if it cannot be written."""
    if not path:
        return None
    target = Path(path).expanduser()
    if target.suffix.lower() not in (".html", ".htm"):
        raise CliError(f"--report {path}: a report is an HTML file; name it FILE.html")
    if not target.parent.exists():
        raise CliError(f"--report {path}: the folder {target.parent} does not exist")
    return target


def write(result: Any, path: str | None, quiet: bool) -> None:
    """Write the report of a result run here (no-op without ``--report``)."""
    target = check_target(path)
    if target is None:
        return
    from api import report

    report.write(result, target)
    output.note(f"wrote the report to {target}", quiet)


@click.command(
    "report",
    epilog="""\b
Examples:
  anvil jobs report 3f2a... --out sweep.html""",
)
@click.argument("job_id", metavar="ID")
@URL
@click.option("--out", "-o", "out", metavar="FILE.html", required=True, help="where to write the report")
@click.option("--quiet", "-q", is_flag=True, help="no notes on stderr")
def jobs_report(job_id: str, url: str, out: str, quiet: bool) -> None:
    """Download a finished job's report: one HTML file with charts that opens offline."""
    target = check_target(out)
    assert target is not None
    if not job_id or "/" in job_id or job_id in (".", ".."):
        raise CliError(f"{job_id!r} is not a job id; `anvil jobs list` shows them")
    with Client(url) as client:
        size = client.download(f"/jobs/{job_id}/report", target)
    output.note(f"wrote {size:,} bytes (the report of job {job_id}) to {target}", quiet)

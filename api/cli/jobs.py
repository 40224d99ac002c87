"""``anvil jobs submit | list | show | watch | results | report | cancel | resume``: a running service.

The service is ``--url`` (or ``$ANVIL_URL``, default http://127.0.0.1:8000); the
token comes from the environment (see ``api.cli.client``).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import click
import httpx

from api.cli import args, html_report, output, report, tables
from api.cli.client import DEFAULT_URL, Client
from api.cli.errors import INTERRUPTED, CliError
from api.cli.options import URL, JobCommand, OrderedGroup, job_options, top_option
from api.cli.run import EXAMPLES, HELP

FINAL = frozenset({"done", "failed", "cancelled", "interrupted"})
POLL_SECONDS = 0.5
PAGE = 1000  # jobs listed per request when looking up a short id


def client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        (
            URL,
            click.option("--no-wait", is_flag=True, help="print the job id and return; do not follow the job"),
            click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout"),
            click.option(
                "--out", "-o", "out", metavar="FILE", help="download the full results to FILE (.csv or .parquet)"
            ),
            click.option("--quiet", "-q", is_flag=True, help="no progress bar or notes on stderr"),
            top_option("sweeps: 10 best"),
        )
    ):
        fn = opt(fn)
    return fn


@click.group("jobs", cls=OrderedGroup, short_help="Submit jobs to an anvil service, follow them, fetch results.")
def group() -> None:
    """Jobs on a running anvil service (`anvil serve`): submit, follow, download, cancel.

    \b
    The service is --url or $ANVIL_URL (default http://127.0.0.1:8000); requests
    carry $ANVIL_API_TOKEN (for a service on this machine, the token file
    `anvil serve` made is used when the variable is not set).
    """


# -- following a job ------------------------------------------------------------
def job_path(job_id: str) -> str:
    if not job_id or "/" in job_id or job_id in (".", ".."):
        raise CliError(f"{job_id!r} is not a job id; `anvil jobs list` shows them")
    return f"/jobs/{job_id}"


ID_LENGTH = 32  # a job id: 32 hex digits; the CLI shows the first 8, and takes any unique start


def resolve(client: Client, job_id: str) -> str:
    """The full id of ``job_id``, which may be the start of one (as the progress bar shows it).

    Raises:
        CliError: no job has that id or starts with it, or several start with it.
    """
    path = job_path(job_id)
    if len(job_id) >= ID_LENGTH:
        return job_id
    try:
        response = client.http.get(path)
    except httpx.HTTPError as exc:
        raise client._failed(exc) from None
    if response.status_code != 404:
        client.check(response)
        return job_id
    found: list[str] = []
    offset = 0
    while True:
        page = client.json("GET", "/jobs", params={"offset": offset, "limit": PAGE})
        found += [j["id"] for j in page.get("data", []) if str(j.get("id", "")).startswith(job_id)]
        offset += PAGE
        if offset >= int(page.get("count") or 0) or len(found) > 1:
            break
    if len(found) == 1:
        return found[0]
    if found:
        raise CliError(
            f"several jobs start with {job_id!r} ({', '.join(f[:12] for f in found)}, ...); give more of the id"
        )
    client.check(response)  # the service's own "no job" message
    return job_id


class _Progress:
    """A progress bar on stderr fed by job snapshots (nothing when not on a terminal)."""

    def __init__(self, job_id: str, live: bool) -> None:
        self.bar: Any = None
        self.live = live
        self.job_id = job_id

    def update(self, snap: dict[str, Any]) -> None:
        if not self.live:
            return
        done, total, failed = counts(snap)
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total or None, desc=f"job {self.job_id[:8]}", unit="run", dynamic_ncols=True)
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(max(0, done - self.bar.n))
        post: dict[str, Any] = {"status": snap.get("status", "?")}
        metric, value = best_value(snap.get("best"))
        if metric:
            post[f"best {metric}"] = f"{value:.4g}"
        if failed:
            post["failed"] = failed
        self.bar.set_postfix(post)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def counts(job: dict[str, Any]) -> tuple[int, int, int]:
    """(done, total, failed) of a job record (``progress`` inside) or a progress event."""
    p = job.get("progress") if isinstance(job.get("progress"), dict) else job
    return int(p.get("done") or 0), int(p.get("total") or 0), int(p.get("failed") or 0)


def best_value(best: Any) -> tuple[str | None, float]:
    """The metric and value of a best-so-far record (``{"item_id", "item", metric: value}``)."""
    if not isinstance(best, dict):
        return None, float("nan")
    for key, value in best.items():
        if key in report.METRICS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return key, float(value)
    return None, float("nan")


def follow(client: Client, job_id: str, live: bool) -> dict[str, Any]:
    """Wait for the job to reach a final status, showing progress; returns its record."""
    bar = _Progress(job_id, live)
    try:
        try:
            for snap in _snapshots(client, job_id):
                bar.update(snap)
                if snap.get("status") in FINAL:
                    break
        except KeyboardInterrupt:
            raise CliError(
                f"stopped watching; job {job_id} goes on (`anvil jobs cancel {job_id}` stops it)", INTERRUPTED
            ) from None
    finally:
        bar.close()
    return client.json("GET", job_path(job_id))


def _snapshots(client: Client, job_id: str) -> Any:
    """The job's states as they change: from its event stream, else by polling."""
    try:
        for _event, data in client.events(job_path(job_id) + "/events"):
            if isinstance(data, dict):
                yield data
                if data.get("status") in FINAL:
                    return
    except CliError:
        pass  # no event stream (or it broke): poll instead
    while True:
        record = client.json("GET", job_path(job_id))
        yield record
        if record.get("status") in FINAL:
            return
        time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def results_file(client: Client, job_id: str, rows: int, out: str | None) -> Iterator[Path | None]:
    """The job's rows as a Parquet file on disk, streamed from the service (``--out`` itself
    when that is a Parquet file, else a temporary one); None when there are no rows."""
    if rows == 0:
        yield None
        return
    if out and output.file_format(out) == "parquet":
        yield Path(out).expanduser()
        return
    with tempfile.TemporaryDirectory(prefix="anvil-results-") as folder:
        path = Path(folder) / "results.parquet"
        client.download(job_path(job_id) + "/results", path, params={"format": "parquet"})
        yield path


def finish(client: Client, record: dict[str, Any], o: dict[str, Any]) -> None:
    """Report a job that reached a final status: error, or its results as asked.

    The rows are streamed to a Parquet file and the report is queried from it (top
    runs, counts, percentiles), so a job of millions of runs never sits in memory.
    """
    job_id, status = record["id"], record.get("status")
    if status != "done":
        why = f": {record['error']}" if record.get("error") else ""
        resumable = status in ("interrupted", "cancelled", "failed")
        hint = f" (`anvil jobs resume {job_id}` continues it)" if resumable else ""
        raise CliError(f"job {job_id} {status}{why}{hint}")
    if o.get("out"):
        download(client, job_id, o["out"], o.get("quiet", False))
    kind = record.get("kind", "sweep")
    spec = record.get("spec") or {}
    metric = spec.get("metric", "sharpe")
    summary = record.get("summary") or {}
    n_rows = int(record.get("rows") or 0)
    top = o.get("top")
    with results_file(client, job_id, n_rows, o.get("out")) as path:
        if o.get("as_json"):
            head = report.document(kind, summary, count=n_rows, id=job_id, status=status, spec=spec)
            output.print_document(head, tables.json_lines(_json_rows(path, kind, metric, top)))
            return
        title = f"job {job_id}: {report.kind_name(kind)} {record.get('strategy', '')}".rstrip()
        output.echo(_report(path, kind, summary, metric, top, n_rows, title))
    if kind == "sweep" and not (summary.get("best") or {}):
        raise CliError(f"job {job_id}: {report.why_no_best(n_rows, counts(record)[2], metric)}")


def _json_rows(path: Path | None, kind: str, metric: str, top: int | None) -> Iterator[Any]:
    """The rows ``--json`` prints: every row a slice at a time, or the ``top`` ones."""
    if path is None:
        return iter(())
    if top and kind == "sweep":
        return iter([tables.sweep_view_parquet(path, metric, top, report.METRICS, pool=False).best])
    if top:
        return iter([tables.read_parquet(path, limit=top)])
    return tables.parquet_frames(path)


def _report(
    path: Path | None, kind: str, summary: dict[str, Any], metric: str, top: int | None, n_rows: int, title: str
) -> str:
    """The text report of a finished job from its Parquet rows."""
    empty = tables.frame_of([])
    if kind == "sweep":
        n = top or report.SWEEP_TOP
        view = (
            tables.sweep_view_parquet(path, metric, n, report.METRICS)
            if path is not None
            else tables.SweepView(0, 0, 0, empty)
        )
        return report.text(kind, summary, empty, metric=metric, top=top, title=title, view=view)
    if kind == "monte_carlo":
        keys = report.spread_keys(summary, metric)
        spread = tables.quantiles_parquet(path, keys) if path is not None else {}
        return report.text(kind, summary, empty, metric=metric, top=top, title=title, spread=spread)
    if kind == "backtest":
        trades = tables.read_parquet(path, limit=top, last=True) if path is not None and top else empty
        return report.text(kind, {**summary, "trades": n_rows}, trades, metric=metric, top=top, title=title)
    windows = tables.read_parquet(path) if path is not None else empty  # one row a window: few
    return report.text(kind, summary, windows, metric=metric, top=top, title=title)


def download(client: Client, job_id: str, out: str, quiet: bool) -> Path:
    fmt = output.file_format(out)
    target = Path(out).expanduser()
    if not target.parent.exists():
        raise CliError(f"--out {out}: the folder {target.parent} does not exist")
    size = client.download(job_path(job_id) + "/results", target, params={"format": fmt})
    output.note(f"wrote {size:,} bytes of {fmt} to {target}", quiet)
    return target


def upload(client: Client, path: Path) -> dict[str, Any]:
    """Upload a strategy file; the service checks it and answers with its id."""
    from api.cli.strategies import read_source

    return client.json("POST", "/strategies", json={"source": read_source(path)})


def _submit(spec: dict[str, Any], o: dict[str, Any]) -> None:
    if o.get("out"):
        output.file_format(o["out"])
    with Client(o["url"]) as client:
        strategy = spec.get("strategy")
        if isinstance(strategy, str) and strategy.endswith(".py"):
            uploaded = upload(client, Path(strategy).expanduser())
            output.note(f"uploaded {strategy} as {uploaded['id']} ({uploaded.get('name', '')})", o["quiet"])
            spec = {**spec, "strategy": uploaded["id"]}
        made = client.json("POST", "/jobs", json=spec)
        job_id = made["id"]
        if o["no_wait"]:
            if o["as_json"]:
                output.print_json(made)
            else:
                output.echo(job_id)
                output.note(f"follow it with `anvil jobs watch {job_id}`", o["quiet"])
            return
        output.note(f"submitted job {job_id}", o["quiet"])
        record = follow(client, job_id, output.interactive(o["quiet"]))
        finish(client, record, o)


# -- submit -------------------------------------------------------------------
@click.group(
    "submit",
    cls=OrderedGroup,
    invoke_without_command=True,
    epilog="""\b
Examples:
  anvil jobs submit sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5 --out runs.csv
  anvil jobs submit backtest -s sma_cross --symbol SPX -p fast=10 slow=50 --no-wait
  anvil sweep -s sma_cross --symbol SPX --space fast=5:50 --dry-run > sweep.json
  anvil jobs submit --spec sweep.json""",
)
@click.option("--spec", "spec_file", metavar="FILE", help="submit this JSON job spec (- reads stdin)")
@client_options
@click.pass_context
def submit(ctx: click.Context, spec_file: str | None, **o: Any) -> None:
    """Submit a job: `submit KIND [options]` (the options of `anvil KIND`), or `submit --spec FILE`.

    Follows the job with a progress bar until it ends, then prints its results
    like the local command would (--no-wait returns at once with the job id).
    """
    if ctx.invoked_subcommand is not None:
        if spec_file:
            raise click.UsageError("give either --spec FILE or a job kind, not both")
        return
    if not spec_file:
        raise click.UsageError("give a job kind (backtest, sweep, walk-forward, monte-carlo) or --spec FILE")
    spec = args.json_arg(spec_file, "--spec")
    if not isinstance(spec, dict):
        raise click.UsageError("--spec must hold a JSON object (a job spec)")
    _submit(spec, o)


def _submit_command(kind: str) -> click.Command:
    @click.pass_context
    def callback(ctx: click.Context, **o: Any) -> None:
        parent = ctx.parent.params if ctx.parent is not None else {}
        for key in ("no_wait", "as_json", "quiet", "out", "top"):  # given before the kind
            if not o.get(key) and parent.get(key):
                o[key] = parent[key]
        if o["url"] == DEFAULT_URL and parent.get("url"):
            o["url"] = parent["url"]
        _submit(args.job_spec(kind, o), o)

    name = report.kind_name(kind)
    lines = EXAMPLES[kind].replace("\n  anvil ", "\n  anvil jobs submit ").split("\n")
    epilog = "\n".join(line for line in lines if "--address" not in line)
    text = f"{HELP[kind]} Runs on the service, followed with a progress bar (--no-wait: print the job id)."
    cmd = click.command(name, cls=JobCommand, help=text, short_help=HELP[kind], epilog=epilog)(
        job_options(kind)(client_options(callback))
    )
    return cmd


for _kind in ("backtest", "sweep", "walk_forward", "monte_carlo"):
    submit.add_command(_submit_command(_kind))
group.add_command(submit)


@group.command(
    "upload",
    epilog="""\b
Examples:
  anvil jobs upload my_strategy.py
  anvil jobs submit sweep -s up_3f2a9c... --symbol SPX --space window=10:60
  anvil jobs submit sweep -s my_strategy.py --symbol SPX --space window=10:60   # uploads it first""",
)
@click.argument("file", metavar="FILE")
@URL
@click.option("--json", "as_json", is_flag=True, help="the service's answer as JSON")
def upload_(file: str, url: str, as_json: bool) -> None:
    """Upload a strategy file to the service; prints the id jobs name as their strategy.

    The service checks it with the same loader as `anvil strategies validate`.
    """
    with Client(url) as client:
        answer = upload(client, Path(file).expanduser())
    if as_json:
        output.print_json(answer)
        return
    output.echo(answer["id"])
    output.note(f"{file}: {answer.get('name', '')} uploaded; name it in jobs as -s {answer['id']}")


# -- the other commands ------------------------------------------------------------
@group.command("list", epilog="\b\nExamples:\n  anvil jobs list\n  anvil jobs list --status running --json")
@URL
@click.option(
    "--status", metavar="STATUS", help="only jobs in this state: queued, running, done, failed, cancelled, interrupted"
)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="the service's answer as JSON")
def list_(url: str, status: str | None, offset: int, limit: int, as_json: bool) -> None:
    """Jobs on the service, newest first."""
    params: dict[str, Any] = {"offset": offset, "limit": limit}
    if status:
        params["status"] = status
    with Client(url) as client:
        page = client.json("GET", "/jobs", params=params)
        names = (
            uploaded_names(client)
            if any(str(j.get("strategy", "")).startswith("up_") for j in page.get("data", []))
            else {}
        )
    if as_json:
        output.print_json(page)
        return
    jobs = page.get("data", [])
    if not jobs:
        output.echo("no jobs" + (f" with status {status}" if status else ""))
        return
    rows = [
        {
            "id": j.get("id"),
            "kind": report.kind_name(j.get("kind", "")),
            "strategy": strategy_text(j.get("strategy"), names),
            "status": j.get("status"),
            "progress": _progress_text(j),
            "created": j.get("created_at"),
        }
        for j in jobs
    ]
    output.echo(output.table(rows))
    count = page.get("count", len(jobs))
    if count > offset + len(jobs):
        output.echo(f"{offset + 1}..{offset + len(jobs)} of {count}; --offset {offset + len(jobs)} shows more")


def uploaded_names(client: Client) -> dict[str, str]:
    """The service's uploaded strategies: id -> class name."""
    listed = client.json("GET", "/strategies") or {}
    return {d["id"]: d.get("name", "") for d in listed.get("data", []) if not d.get("builtin")}


def strategy_text(strategy: Any, names: dict[str, str]) -> str:
    """A job's strategy as a person reads it: an uploaded one by its name and short id."""
    text = str(strategy or "")
    name = names.get(text)
    return f"{name} ({text[:11]})" if name else text


@group.command("strategies", epilog="\b\nExamples:\n  anvil jobs strategies\n  anvil jobs strategies --json")
@URL
@click.option("--json", "as_json", is_flag=True, help="the service's answer as JSON")
def strategies_(url: str, as_json: bool) -> None:
    """Strategies jobs on the service can name: built-in ones, and uploaded ones by name and id."""
    with Client(url) as client:
        listed = client.json("GET", "/strategies") or {}
    if as_json:
        output.print_json(listed)
        return
    found = listed.get("data", [])
    rows = [
        {
            "name": d.get("name"),
            "id (what -s takes)": d.get("id"),
            "source": "built-in" if d.get("builtin") else "uploaded",
            "kind": str(d.get("kind", "")).replace("_", " "),
            "parameters": ", ".join(d.get("parameters") or {}),
        }
        for d in sorted(found, key=lambda d: (bool(d.get("builtin")), str(d.get("name"))))
    ]
    output.echo(output.table(rows) if rows else "no strategies")


def _ask(url: str, job_id: str, method: str) -> tuple[str, Any]:
    """``method`` on the record of job ``job_id`` (or of the one job it starts): the full id
    and the service's answer."""
    with Client(url) as client:
        job_id = resolve(client, job_id)
        return job_id, client.json(method, job_path(job_id))


def _progress_text(job: dict[str, Any]) -> str:
    done, total, failed = counts(job)
    more = f", {failed:,} failed" if failed else ""
    return f"{done:,}/{total:,}{more}"


@group.command("show", epilog="\b\nExamples:\n  anvil jobs show 3f2a...\n  anvil jobs show 3f2a... --json")
@click.argument("job_id", metavar="ID")
@URL
@click.option("--json", "as_json", is_flag=True, help="the job record as JSON")
def show(job_id: str, url: str, as_json: bool) -> None:
    """A job's state: status, progress, timings, best run so far, error."""
    job_id, record = _ask(url, job_id, "GET")
    if as_json:
        output.print_json(record)
        return
    items: list[tuple[str, Any]] = [
        ("id", record.get("id")),
        ("kind", report.kind_name(record.get("kind", ""))),
        ("strategy", record.get("strategy")),
        ("status", record.get("status")),
        ("progress", _progress_text(record)),
        ("created", record.get("created_at")),
        ("started", record.get("started_at")),
        ("finished", record.get("finished_at")),
    ]
    if record.get("seconds") is not None:
        items.append(("seconds", round(float(record["seconds"]), 1)))
    if record.get("error"):
        items.append(("error", record["error"]))
    final_best = (record.get("summary") or {}).get("best")
    if isinstance(final_best, dict):
        items.append(
            (
                "best",
                " ".join(
                    f"{k}={output.cell(k, v)}"
                    for k, v in final_best.items()
                    if k not in report.METRICS or k == _metric(record)
                ),
            )
        )
    else:
        metric, value = best_value(record.get("best"))
        if metric:
            items.append((f"best {metric} so far", value))
    width = max(len(k) for k, _ in items)
    for k, v in items:
        output.echo(f"{k.ljust(width)}  {output.cell(k, v)}")


def _metric(record: dict[str, Any]) -> str:
    return str((record.get("spec") or {}).get("metric", "sharpe"))


@group.command("watch", epilog="\b\nExamples:\n  anvil jobs watch 3f2a...")
@click.argument("job_id", metavar="ID")
@client_options
def watch(job_id: str, **o: Any) -> None:
    """Follow a job with a progress bar until it ends, then print its results."""
    with Client(o["url"]) as client:
        job_id = resolve(client, job_id)
        record = follow(client, job_id, output.interactive(o["quiet"]))
        finish(client, record, o)


@group.command(
    "results",
    epilog="""\b
Examples:
  anvil jobs results 3f2a...                     # a table, like the local command prints
  anvil jobs results 3f2a... --out runs.parquet  # every row
  anvil jobs results 3f2a... --json --offset 0 --limit 100
  anvil jobs results 3f2a... --sort sharpe --limit 100   # the 100 best, ranked by the service""",
)
@click.argument("job_id", metavar="ID")
@URL
@click.option("--out", "-o", "out", metavar="FILE", help="download every row to FILE (.csv or .parquet)")
@click.option("--json", "as_json", is_flag=True, help="one page of rows as the service sends it (--offset, --limit)")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True, help="with --json")
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="with --json or --sort (default: the service's page)"
)
@click.option(
    "--sort",
    metavar="COLUMN",
    default=None,
    help="one page of rows ordered by COLUMN (a metric), ranked by the service (--offset, --limit)",
)
@click.option("--order", type=click.Choice(["desc", "asc"]), default="desc", show_default=True, help="with --sort")
@click.option("--quiet", "-q", is_flag=True, help="no notes on stderr")
@top_option("sweeps: 10 best")
def results(
    job_id: str,
    url: str,
    out: str | None,
    as_json: bool,
    offset: int,
    limit: int | None,
    sort: str | None,
    order: str,
    quiet: bool,
    top: int | None,
) -> None:
    """A finished job's results: a table, a page of JSON, or a CSV/Parquet file."""
    with Client(url) as client:
        job_id = resolve(client, job_id)
        if out:
            download(client, job_id, out, quiet)
        if as_json or sort:
            params: dict[str, Any] = {"offset": offset}
            if limit is not None:
                params["limit"] = limit
            if sort:
                params.update(sort=sort, order=order)
            page = client.json("GET", job_path(job_id) + "/results", params=params)
            if as_json:
                output.print_json(page)
            else:
                output.echo(output.table(page.get("data") or [], page.get("columns") or None))
            return
        if out:
            return
        record = client.json("GET", job_path(job_id))
        status = record.get("status")
        if status in ("queued", "running"):
            raise CliError(
                f"job {job_id} is {status}; its table comes when it is done (`anvil jobs watch "
                f"{job_id}` follows it; --out FILE or --json gets the rows so far)"
            )
        if status != "done":
            more = f" ({record['error']})" if record.get("error") else ""
            raise CliError(
                f"job {job_id} is {status}{more}; `anvil jobs resume {job_id}` finishes it "
                "(--out FILE or --json gets the rows it has)"
            )
        finish(client, record, {"top": top, "quiet": quiet})


@group.command("cancel", epilog="\b\nExamples:\n  anvil jobs cancel 3f2a...")
@click.argument("job_id", metavar="ID")
@URL
@click.option("--json", "as_json", is_flag=True, help="the service's answer as JSON")
def cancel(job_id: str, url: str, as_json: bool) -> None:
    """Stop a queued or running job; runs already finished are kept (resume continues it)."""
    job_id, answer = _ask(url, job_id, "DELETE")
    if as_json:
        output.print_json(answer)
        return
    status = answer.get("status") if isinstance(answer, dict) else None
    if status in ("queued", "running"):
        output.echo(f"job {job_id}: cancelling (it stops within a second or two and keeps its finished runs)")
    else:
        output.echo(f"job {job_id}: {status}")


@group.command("resume", epilog="\b\nExamples:\n  anvil jobs resume 3f2a...")
@click.argument("job_id", metavar="ID")
@client_options
def resume(job_id: str, **o: Any) -> None:
    """Continue an interrupted, cancelled or failed job from the runs it already has."""
    with Client(o["url"]) as client:
        job_id = resolve(client, job_id)
        answer = client.json("POST", job_path(job_id) + "/resume")
        if o["no_wait"]:
            if o["as_json"]:
                output.print_json(answer)
            else:
                output.echo(job_id)
            return
        record = follow(client, job_id, output.interactive(o["quiet"]))
        finish(client, record, o)


group.add_command(html_report.jobs_report)
group.commands = {
    name: group.commands[name]
    for name in ("submit", "watch", "list", "show", "results", "report", "cancel", "resume", "upload", "strategies")
}

"""``anvil backtest | sweep | walk-forward | monte-carlo``: jobs run from here.

Each command builds the same JSON job spec the service takes (``--dry-run``
prints it), checks it with ``api.specs.check`` and runs it with
``api.specs.execute`` — the path a job submitted over HTTP takes too.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Callable

import click

from api.cli import args, html_report, output, progress, report, tables, where
from api.cli.errors import INTERRUPTED, CliError
from api.cli.options import JobCommand, backtest_files, job_options, output_options, run_options, top_option

EXAMPLES = {
    "backtest": """\b
Examples:
  anvil backtest -s sma_cross --symbol SPX -p fast=10 slow=50
  anvil backtest -s rsi_reversion --symbol IXIC --start 2010-01-01 --fee-rate 0.001 --json
  anvil backtest -s sma_cross --symbol SPX --out trades.csv --equity equity.csv
  anvil backtest -s sma_cross --symbol SPX -p fast=20 slow=100 --report backtest.html""",
    "sweep": """\b
Examples:
  anvil sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5
  anvil sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5 --report sweep.html
  anvil sweep -s sma_cross --symbol SPX --symbol IXIC --space fast=5:50:5 slow=50:200:10 --out runs.parquet
  anvil sweep -s bollinger_reversion --symbol SPX --space period=10:60 stdevs=0.5~3 --method tpe --trials 200
  ray job submit --working-dir . -- anvil sweep --address auto -s sma_cross --symbol SPX --space fast=5:50 slow=20:200""",
    "walk_forward": """\b
Examples:
  anvil walk-forward -s sma_cross --symbol SPX --space fast=5:50:5 slow=20:200:20 --train 750 --test 250
  anvil walk-forward -s sma_cross --symbol SPX --space fast=5:30 slow=40:120:10 --train 1095D --test 365D --anchored""",
    "monte_carlo": """\b
Examples:
  anvil monte-carlo -s sma_cross --symbol SPX -p fast=10 slow=50 --paths 1000
  anvil monte-carlo -s sma_cross --symbol SPX --method bootstrap --of trades --confidence 0.9 --json""",
}

HELP = {
    "backtest": "Backtest one strategy with one parameter set; prints its stats.",
    "sweep": "Backtest a strategy over a parameter space; prints the best runs.",
    "walk_forward": "Optimise on rolling train windows, trade each next test window.",
    "monte_carlo": "Test a backtest against resampled paths: p-value or intervals.",
}


def build_spec(kind: str, o: dict[str, Any]) -> tuple[Any, Callable[[str], Any] | None]:
    """The validated ``api.specs`` job and, for a strategy file, its lookup."""
    from pydantic import TypeAdapter

    from api import specs

    spec_dict = args.job_spec(kind, o)
    uploaded = _strategy_file(spec_dict["strategy"], bool(o.get("sandbox")))
    spec = TypeAdapter(specs.JobSpec).validate_python(spec_dict)
    if "space" in spec_dict:
        _check_space(spec.strategy, spec_dict["space"], o["space"], uploaded)
    return spec, uploaded


def _check_space(strategy: str, space: dict[str, Any], words: Any, uploaded: Any) -> None:
    """Each value of a --space against the strategy's parameter schema, so that the error
    quotes the value at fault (``fast=5,10,x`` names ``x``; ``fast=5:500`` names 500)."""
    from api import specs

    try:
        strat = specs.find_strategy(strategy, uploaded)
    except (LookupError, ValueError):
        return  # check() says so, naming the strategy
    given = dict(w.partition("=")[::2] for w in words)
    for name, entry in space.items():
        param = getattr(strat, "_params", {}).get(name)
        if param is None:
            continue  # check() names it, with "did you mean"
        values = entry if isinstance(entry, list) else [entry["low"], entry["high"]]
        for value in values:
            try:
                param.check(value)
            except ValueError as exc:
                raise CliError(f"--space {name}={given.get(name, '')}: {exc}") from None


def _strategy_file(name: str, sandbox: bool = False) -> Callable[[str], Any] | None:
    """A lookup for ``--strategy my_strategy.py`` (ordinary Python; with ``--sandbox``
    through the service's safe loader), else None."""
    if not name.endswith(".py"):
        return None
    from api.cli.strategies import runnable_file

    cls = runnable_file(Path(name).expanduser(), sandbox)
    return lambda asked: cls


def _max_grid_points() -> int:
    """The grid limit: ``ANVIL_MAX_GRID_POINTS`` when set, as for the service, else the default."""
    from api.settings import Settings

    return Settings().max_grid_points


def run_job(kind: str, o: dict[str, Any]) -> None:
    """Check, run and report a job of ``kind`` from the command's options ``o``.

    Anything a strategy file prints (loading or running) goes to stderr: stdout
    carries only the result.
    """
    from api import specs

    with contextlib.redirect_stdout(sys.stderr):
        spec, result = _run(kind, o)
    if result is None:  # --dry-run: the checked spec is the answer
        output.print_json(spec.model_dump(mode="json", exclude_none=True))
        return
    frame = specs.result_table(result)
    _write_files(kind, result, frame, o)
    html_report.write(result, o.get("report_file"), o["quiet"])
    if kind != "sweep":
        show(kind, spec, specs.summary(result), frame, o, result=result)
        return
    view = tables.sweep_view(frame, spec.metric, o["top"] or report.SWEEP_TOP, result.pooled)
    show(kind, spec, sweep_summary(result, view, spec.metric), frame, o, view=view)
    if not view.runs or view.failed >= view.runs:
        raise CliError(f"sweep: {report.why_no_best(view.runs, view.failed, spec.metric, view.first_error)}")


def sweep_summary(result: Any, view: tables.SweepView, metric: str) -> dict[str, Any]:
    """``api.specs.summary`` of a sweep, its best run taken from the ranked view (no sort
    or copy of the whole table): runs, best, deflated Sharpe."""
    out: dict[str, Any] = {"runs": view.runs, "best": None}
    if not view.best.empty and tables.metric_values(view.best.head(1), metric).notna().iloc[0]:
        row = view.best.iloc[0]
        out["best"] = {
            k: output.plain(v) if not isinstance(v, bool) else v
            for k, v in row.items()
            if k not in ("item_id", "error")
        }
    dsr = result.diagnostics.get("deflated_sharpe")
    if dsr:
        out["deflated_sharpe"] = dsr.get("dsr")
    return out


def _run(kind: str, o: dict[str, Any]) -> tuple[Any, Any]:
    """The job checked and run: (spec, result); with --dry-run only checked (result None)."""
    from api import specs
    from api.resolve import resolve_timeframes

    spec, uploaded = build_spec(kind, o)
    spec = resolve_timeframes(spec)  # the header names the timeframe used; none is resampled unasked
    for option in ("out", "equity", "trades"):  # a bad name fails now, not after the run
        if o.get(option):
            output.file_format(o[option], f"--{option}")
    html_report.check_target(o.get("report_file"))
    checked = specs.check(spec, uploaded=uploaded, max_grid_points=_max_grid_points())
    runs = checked.items or 0
    if o["dry_run"]:
        output.note(f"{report.kind_name(kind)} checked: {runs:,} run{'s' if runs != 1 else ''}", o["quiet"])
        return spec, None
    choice = _where(kind, checked, o, uploaded)
    bar = None
    if output.interactive(o["quiet"]) and kind != "backtest":
        bar = progress.Bar(f"{report.kind_name(kind)} {spec.strategy}", progress.stored_runs(o["checkpoint"]))
    shown = bar if bar is not None else _log_lines(kind, o, choice.address)
    try:
        result = specs.execute(
            checked,
            progress=shown,
            address=choice.address,
            workers=o["workers"],
            out=o["checkpoint"] if kind != "backtest" else None,
        )
    except KeyboardInterrupt:
        raise CliError(_interrupted(o), INTERRUPTED) from None
    finally:
        if bar is not None:
            bar.close()
    return spec, result


def _interrupted(o: dict[str, Any]) -> str:
    """What Ctrl-C during a job says: how to go on from where it stopped."""
    if o.get("checkpoint"):
        return f"interrupted; the finished runs are in {o['checkpoint']}: the same command resumes from there"
    return "interrupted; add --checkpoint DIR to keep finished runs, so that rerunning the command resumes"


def _where(kind: str, checked: Any, o: dict[str, Any], uploaded: Any) -> where.Choice:
    """The executor for the checked job, said in the header (a backtest runs here, always)."""
    if kind == "backtest":
        return where.Choice("local-threads", "one run")
    choice = where.choose(checked, o["address"], o["workers"], o["checkpoint"])
    output.note(f"{report.kind_name(kind)}: {checked.items:,} runs; {choice}", o["quiet"])
    if choice.address != "local-threads":  # Ray's own log lines only with --debug
        import logging

        from cluster import runtime

        runtime.set_logging(logging.INFO if output.debug else logging.ERROR, to_driver=output.debug)
    if choice.address != "local-threads" and uploaded is not None:
        from api.cli.strategies import ship_by_value

        ship_by_value(checked.strategy)
    if choice.address != "local-threads" and output.interactive(o["quiet"]):
        output.note("connecting to Ray ..." if choice.address else "starting a local Ray ...")
    return choice


def _write_files(kind: str, result: Any, frame: Any, o: dict[str, Any]) -> None:
    """``--out`` (the result table), and for a backtest ``--equity`` and ``--trades``."""
    if o["out"]:
        path = output.write_frame(frame, o["out"])
        output.note(f"wrote {len(frame):,} rows to {path}", o["quiet"])
    if kind != "backtest":
        return
    if o.get("trades"):
        path = output.write_frame(result.trades, o["trades"], "--trades")
        output.note(f"wrote {len(result.trades):,} trades to {path}", o["quiet"])
    if o.get("equity"):
        curve = result.equity.rename("equity").rename_axis("ts").reset_index()
        path = output.write_frame(curve, o["equity"], "--equity")
        output.note(f"wrote {len(curve):,} bars of equity to {path}", o["quiet"])


def show(
    kind: str,
    spec: Any,
    summary: dict[str, Any],
    frame: Any,
    o: dict[str, Any],
    *,
    view: tables.SweepView | None = None,
    result: Any = None,
) -> None:
    """Print a finished job's report (or with ``--json`` its document) from its result table."""
    metric = getattr(spec, "metric", "sharpe")
    if o["as_json"]:
        rows = frame
        if o["top"] and kind == "sweep":
            rows = report.ranked(frame, metric, o["top"])
        elif o["top"]:
            rows = frame.head(o["top"])
        head = report.document(kind, summary, count=len(frame), spec=spec.model_dump(mode="json", exclude_none=True))
        output.print_document(head, tables.json_lines(tables.slices(rows)))
        return
    output.echo(report.text(kind, summary, frame, metric=metric, top=o["top"], title=_title(spec), view=view))


def _log_lines(kind: str, o: dict[str, Any], address: str | None) -> Any:
    """Plain progress lines (and the workers that came up) for a job on a cluster whose
    stderr is a log, e.g. one read with ``ray job logs``; else nothing."""
    from cluster.jobs import LINES

    if kind == "backtest" or o["quiet"] or address in (None, "local-threads"):
        return None
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("cluster.ray_executor")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return LINES


def _title(spec: Any) -> str:
    datas = spec.data if isinstance(spec.data, list) else [spec.data]
    on = ", ".join(f"{getattr(d, 'universe', None) or d.symbol} {d.timeframe}" for d in datas)
    return f"{report.kind_name(spec.kind)} {spec.strategy} on {on}"


def _command(kind: str, top_text: str) -> click.Command:
    def callback(**o: Any) -> None:
        run_job(kind, o)

    decorated = job_options(kind)(
        run_options(output_options(html_report.report_option(top_option(top_text)(callback))))
    )
    if kind == "backtest":
        decorated = backtest_files(decorated)
    name = report.kind_name(kind)
    return click.command(name, cls=JobCommand, help=HELP[kind], epilog=EXAMPLES[kind], short_help=HELP[kind])(decorated)


backtest = _command("backtest", "with N, also the last N trades")
sweep = _command("sweep", f"default {report.SWEEP_TOP} best")
walk_forward = _command("walk_forward", "default every window")
monte_carlo = _command("monte_carlo", "with --json, the first N paths")

COMMANDS = (backtest, sweep, walk_forward, monte_carlo)

"""``anvil backtest | sweep | walk-forward | monte-carlo``: jobs run from here.

Each command builds the same JSON job spec the service takes (``--dry-run``
prints it), checks it with ``api.specs.check`` and runs it with
``api.specs.execute`` — the path a job submitted over HTTP takes too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from api.cli import args, output, report
from api.cli.options import job_options, output_options, run_options, top_option

EXAMPLES = {
    "backtest": """\b
Examples:
  anvil backtest -s sma_cross --symbol SPX -p fast=10 slow=50
  anvil backtest -s rsi_reversion --symbol IXIC --start 2010-01-01 --fee-rate 0.001 --json
  anvil backtest -s sma_cross --symbol SPX --out trades.csv""",
    "sweep": """\b
Examples:
  anvil sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5
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
    uploaded = _strategy_file(spec_dict["strategy"])
    spec = TypeAdapter(specs.JobSpec).validate_python(spec_dict)
    return spec, uploaded


def _strategy_file(name: str) -> Callable[[str], Any] | None:
    """A lookup for ``--strategy my_strategy.py`` (checked by the safe loader), else None."""
    if not name.endswith(".py"):
        return None
    from api.cli.strategies import runnable_file

    cls = runnable_file(Path(name).expanduser())
    return lambda asked: cls


def run_job(kind: str, o: dict[str, Any]) -> None:
    """Check, run and report a job of ``kind`` from the command's options ``o``."""
    from api import specs

    spec, uploaded = build_spec(kind, o)
    if o["out"]:
        output.file_format(o["out"])  # a bad name fails now, not after the run
    runs = specs.check(spec, uploaded=uploaded)
    if o["dry_run"]:
        output.note(f"{report.kind_name(kind)} checked: {runs:,} run{'s' if runs != 1 else ''}", o["quiet"])
        output.print_json(spec.model_dump(mode="json", exclude_none=True))
        return
    live = output.interactive(o["quiet"])
    if live and o["address"] != "local-threads" and kind != "backtest":
        output.note("connecting to Ray ..." if o["address"] else "starting a local Ray ...")
    progress = _progress(kind, o, live)
    result = specs.execute(spec, uploaded=uploaded, progress=progress,
                           address=o["address"], workers=o["workers"],
                           out=o["checkpoint"] if kind != "backtest" else None)  # fmt: skip
    summary = specs.summary(result)
    frame = specs.result_table(result)
    if o["out"]:
        path = output.write_frame(frame, o["out"])
        output.note(f"wrote {len(frame):,} rows to {path}", o["quiet"])
    metric = getattr(spec, "metric", "sharpe")
    if o["as_json"]:
        rows = frame.to_dict("records")
        if o["top"] and kind == "sweep":
            rows = report.ranked(rows, metric)[: o["top"]]
        elif o["top"]:
            rows = rows[: o["top"]]
        output.print_json(report.document(kind, summary, rows, total=len(frame), spec=spec.model_dump(
            mode="json", exclude_none=True)))  # fmt: skip
        return
    pooled = getattr(result, "pooled", None)
    output.echo(report.text(kind, summary, frame.to_dict("records"), metric=metric, top=o["top"],
                            title=_title(spec),
                            pooled=pooled.to_dict("records") if pooled is not None else None))  # fmt: skip


def _progress(kind: str, o: dict[str, Any], live: bool) -> Any:
    """A bar on a terminal; plain lines (and the workers that came up) for a job on a
    cluster whose stderr is a log, e.g. one read with ``ray job logs``; else nothing."""
    from cluster.jobs import LINES

    if kind == "backtest":
        return None
    if live:
        return True
    if o["quiet"] or o["address"] in (None, "local-threads"):
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
    on = ", ".join(f"{d.symbol} {d.timeframe}" for d in datas)
    return f"{report.kind_name(spec.kind)} {spec.strategy} on {on}"


def _command(kind: str, top_text: str) -> click.Command:
    def callback(**o: Any) -> None:
        run_job(kind, o)

    decorated = job_options(kind)(run_options(output_options(top_option(top_text)(callback))))
    name = report.kind_name(kind)
    return click.command(name, help=HELP[kind], epilog=EXAMPLES[kind], short_help=HELP[kind])(decorated)


backtest = _command("backtest", "with N, also the last N trades")
sweep = _command("sweep", f"default {report.SWEEP_TOP} best")
walk_forward = _command("walk_forward", "default every window")
monte_carlo = _command("monte_carlo", "with --json, the first N paths")

COMMANDS = (backtest, sweep, walk_forward, monte_carlo)

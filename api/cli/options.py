"""Click options the commands share: data, config, spaces, output.

The four job kinds take the same options whether they run here (``anvil sweep``)
or on a service (``anvil jobs submit sweep``); both read them with
``api.cli.args.job_spec``.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from api.cli.client import DEFAULT_URL

F = Callable[..., Any]


class OrderedGroup(click.Group):
    """A command group that lists its commands in the order they were added."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


# the service a client command speaks to
URL = click.option(
    "--url",
    envvar="ANVIL_URL",
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="the anvil service [env ANVIL_URL]; the token is $ANVIL_API_TOKEN",
)

METRIC_HELP = "the metric that ranks runs: sharpe, total_return, max_drawdown, calmar, ..."


def _method(default: str, text: str) -> F:
    """``--method``: how a job picks its runs (or resamples)."""
    return click.option("--method", default=default, show_default=True, metavar="METHOD", help=text)


def _metric(text: str) -> F:
    """``--metric``: the metric a job ranks, optimises or tests (default sharpe)."""
    return click.option("--metric", default="sharpe", show_default=True, help=text)


def _whole(*decls: str, low: int, default: int, text: str) -> F:
    """A whole-number option ``>= low`` whose default is shown: ``--trials``, ``--paths`` ..."""
    return click.option(*decls, type=click.IntRange(low), default=default, show_default=True, help=text)


def _stack(*decorators: F) -> F:
    def apply(fn: F) -> F:
        for d in reversed(decorators):
            fn = d(fn)
        return fn

    return apply


class JobCommand(click.Command):
    """A job command: one option per ``engine.Config`` field, made from
    ``engine.config.FIELDS`` when first needed (to parse a command line or show its
    help), placed before ``--config``; so ``anvil`` starts without loading the engine."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not any(getattr(p, "config_field", False) for p in self.params):
            at = next((i for i, p in enumerate(self.params) if p.name == "config"), len(self.params))
            self.params[at:at] = config_field_options()
        return super().get_params(ctx)


def config_field_options(fields: tuple[Any, ...] | None = None) -> list[click.Option]:
    """One option per ``engine.Config`` field (``engine.config.FIELDS`` unless given):
    ``--fee-rate X``, ``--allow-short/--no-allow-short``, ..."""
    if fields is None:
        from engine.config import FIELDS as fields

    out = []
    for f in fields:
        flag = "--" + f.name.replace("_", "-")
        text = f.description.rstrip(".")
        if f.default is not None and f.kind != "bool":
            text += f" (default {f.default:g})" if f.kind in ("float", "int") else f" (default {f.default})"
        if f.kind == "bool":
            option = click.Option([f"{flag}/--no-{flag[2:]}", f.name], default=None, help=text)
        elif f.kind == "choice":
            option = click.Option([flag, f.name], type=click.Choice(f.choices), default=None, help=text)
        else:
            kind, metavar = (int, "N") if f.kind == "int" else (float, "X")
            option = click.Option([flag, f.name], type=kind, default=None, metavar=metavar, help=text)
        option.config_field = True  # type: ignore[attr-defined]
        out.append(option)
    return out


def config_options(fn: F) -> F:
    """``--config`` JSON; a ``JobCommand`` adds every ``engine.Config`` field as an option
    before it."""
    return click.option(
        "--config",
        "config",
        metavar="JSON|FILE",
        help="engine Config as JSON or a JSON file, e.g. '{\"fee_rate\": 0.001}'; the options above override it",
    )(fn)


def data_options(fn: F) -> F:
    return _stack(
        click.option(
            "--symbol",
            "symbol",
            multiple=True,
            metavar="SYMBOL",
            help="the stored series to run on (`anvil data list`); repeat for several in a sweep",
        ),
        click.option(
            "--symbols",
            "symbols",
            metavar="A,B,...",
            help="a universe: stored symbols run as one portfolio, e.g. AAPL,MSFT,IBM "
            "(universe strategies: `anvil strategies list`)",
        ),
        click.option(
            "--universe",
            "universe",
            metavar="NAME",
            help="a saved universe (`anvil data universe list`) in place of --symbols",
        ),
        click.option(
            "--timeframe",
            help="bar size: 1m, 5m, 1h, 1d, 1w ... (default: the stored 1d bars; "
            "other data must be named, it is never resampled unasked)",
        ),
        click.option("--start", metavar="TIME", help="first bar time, e.g. 2010-01-01"),
        click.option("--end", metavar="TIME", help="last bar time (a date includes its whole day)"),
    )(fn)


def strategy_options(fn: F) -> F:
    return _stack(
        click.option(
            "--strategy",
            "-s",
            required=True,
            metavar="NAME",
            help="a built-in strategy (`anvil strategies list`), a strategy file (my_strategy.py), "
            "or on a service an uploaded id",
        ),
        click.option(
            "--seed",
            type=click.IntRange(0, 2**32 - 1),
            default=None,
            help="drives random points, samplers and resampling (default 0)",
        ),
    )(fn)


PARAM = click.option(
    "--param",
    "-p",
    "param",
    multiple=True,
    metavar="NAME=VALUE",
    help="a strategy parameter, e.g. -p fast=10 slow=50; unnamed ones keep their default",
)
SPACE = click.option(
    "--space",
    "space",
    multiple=True,
    required=True,
    metavar="NAME=SPEC",
    help="a parameter's values: fast=5:50 (grid, step 1), slow=20:200:5 (step 5), "
    "band=0.5,1,2 (list), w=0.1~0.9 (range for random/tpe; 0.001~0.1:log); "
    "several after one --space",
)


def sweep_options(fn: F) -> F:
    return _stack(
        SPACE,
        _method("grid", "grid, random, tpe, cmaes or nsga2"),
        _metric(METRIC_HELP),
        click.option("--metrics", metavar="A,B", help="nsga2 objectives, e.g. sharpe,max_drawdown"),
        _whole("--trials", low=1, default=100, text="runs per symbol for random, tpe, cmaes and nsga2"),
    )(fn)


def walk_forward_options(fn: F) -> F:
    return _stack(
        SPACE,
        click.option(
            "--train", required=True, metavar="BARS|SPAN", help="train window: bars (750) or a duration (730D)"
        ),
        click.option("--test", required=True, metavar="BARS|SPAN", help="test window after it: bars or a duration"),
        click.option("--step", metavar="BARS|SPAN", help="how far each window moves (default: the test length)"),
        click.option("--anchored", is_flag=True, help="every train window starts at the first bar"),
        _whole("--embargo", low=0, default=0, text="bars skipped between train and test"),
        _method("grid", "grid or random"),
        _metric("the metric each window optimises"),
        _whole("--trials", low=1, default=100, text="parameter sets per window for random"),
    )(fn)


def monte_carlo_options(fn: F) -> F:
    return _stack(
        PARAM,
        _whole("--paths", "-n", "paths", low=1, default=1000, text="simulated paths"),
        _method("permutation", "permutation (p-value), bootstrap or block_bootstrap (intervals)"),
        _metric("the metric tested"),
        click.option(
            "--of",
            default="returns",
            show_default=True,
            metavar="returns|trades",
            help="resample per-bar returns or closed trades",
        ),
        _whole("--block", low=1, default=20, text="block length of block_bootstrap"),
        click.option(
            "--confidence",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.95,
            show_default=True,
            help="level of the bootstrap intervals",
        ),
    )(fn)


KIND_OPTIONS: dict[str, F] = {
    "backtest": PARAM,
    "sweep": sweep_options,
    "walk_forward": walk_forward_options,
    "monte_carlo": monte_carlo_options,
}


def job_options(kind: str) -> F:
    """Everything a job of ``kind`` is built from."""
    return _stack(strategy_options, KIND_OPTIONS[kind], data_options, config_options)


def output_options(fn: F) -> F:
    """``--json``, ``--out FILE``, ``--quiet``."""
    return _stack(
        click.option("--json", "as_json", is_flag=True, help="print one JSON document (summary and rows) on stdout"),
        click.option(
            "--out", "-o", "out", metavar="FILE", help="write the full result table to FILE (.csv or .parquet)"
        ),
        click.option("--quiet", "-q", is_flag=True, help="no progress bars or notes on stderr"),
    )(fn)


def backtest_files(fn: F) -> F:
    """``--equity FILE`` and ``--trades FILE`` of a backtest."""
    return _stack(
        click.option("--equity", metavar="FILE", help="write the equity curve (ts, equity) to FILE (.csv or .parquet)"),
        click.option("--trades", metavar="FILE", help="write the closed trades to FILE (.csv or .parquet)"),
    )(fn)


def top_option(default_text: str) -> F:
    return click.option(
        "--top",
        type=click.IntRange(1),
        default=None,
        metavar="N",
        help=f"rows to show ({default_text}; --json: all unless given)",
    )


def run_options(fn: F) -> F:
    """Where a local job runs."""
    return _stack(
        click.option(
            "--address",
            metavar="ADDR",
            envvar="ANVIL_ADDRESS",
            help="where the runs go: not given = threads of this process for a job of a few "
            "seconds, else a local Ray; local = a local Ray whatever the size; auto = the Ray "
            "cluster this machine belongs to (inside `ray job submit`); ray://host:10001; "
            "local-threads = this process only [env ANVIL_ADDRESS]",
        ),
        click.option("--workers", type=click.IntRange(0), default=0, help="Ray actors or threads (0: one per CPU)"),
        click.option(
            "--checkpoint",
            metavar="DIR",
            help="save results in DIR as they arrive; the same command with the same DIR resumes",
        ),
        click.option(
            "--sandbox",
            is_flag=True,
            help="run a strategy file (-s my_strategy.py) the way the service runs an upload: "
            "through the safe loader, with its import and builtin limits",
        ),
        click.option(
            "--dry-run",
            is_flag=True,
            help="check the job and print its JSON spec (what POST /api/v1/jobs takes); run nothing",
        ),
    )(fn)

"""``cluster.walk_forward``: optimise on a train window, trade the next test window, roll.

Windows (in bars, or in calendar time given as a pandas offset like ``"365D"``):
train ``[s, s + train)``, then ``embargo`` bars skipped, then test
``[s + train + embargo, ... + test)``; the next window starts ``step`` later
(default: ``test``). ``anchored=True`` keeps every train window starting at the
first bar.

Two phases run on the executor, each a flat list of independent items, so all
windows proceed in parallel: (1) every (window, parameter set) on its train
part; (2) each window's best parameters on its test part. Either kind of
strategy sees all bars up to the window's end (``strategies.run(..., start=)``):
a vectorized strategy's signals are computed over them and cut, a bar-by-bar one
gets them in ``prepare`` and ``ctx.history`` — so indicators are warmed up on
history, the same way for both, and never see the future.

Each window's run starts flat: a position open at a boundary is marked at the
window's last close and the next window enters again (a bar later) if it wants
it. The test parts are stitched into one out-of-sample equity curve by
compounding the windows' returns; its money amounts (``total_fees``: what each
window paid; ``expectancy``, ``profit_factor``: from its closed trades) are
scaled to the stitched equity at each window's start — exact when costs scale
with capital, NaN otherwise (a fixed fee, whole units). ``carry=True`` instead runs the
chosen parameters of consecutive test windows as one account
(``strategies.run_windows``), which keeps a position across a boundary; its
metrics are that account's.

Walk-forward efficiency: out-of-sample annual return of the stitched curve over
the mean in-sample annual return of the chosen parameter sets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

import engine
from cluster import data as data_mod
from cluster import jobs
from cluster.executor import Executor
from cluster.job import Job, Options, shippable
from cluster.scheduler import JobRun, Objective
from cluster.sinks import Sink
from cluster.space import Space
from cluster.space import items as sweep_items
from cluster.tasks import Chunk, ChunkResult
from cluster.universe import UNIVERSE, UniverseWindowWork
from cluster.windows import Window, WindowWork, windows
from cluster.work import per_bar_returns
from engine.reportable import Reportable
from strategies import Strategy
from strategies import run_windows


TEST_IDS = 10**12  # item ids of test runs: TEST_IDS + window number
TEST_CHUNKS = 10**9  # chunk ids of test runs start here


@dataclass
class WalkForwardResult(Reportable):
    """The outcome of a walk-forward run.

    Attributes:
        windows: one row per window: its bounds and times, the chosen parameters,
            in-sample and out-of-sample metrics (``is_*`` / ``oos_*``) and the window's
            efficiency.
        equity: the stitched out-of-sample equity curve.
        stats: metrics of the stitched curve (see the module docstring for the
            trade amounts, and for ``carry``).
        efficiency: walk-forward efficiency (see the module docstring).
        train_table: every (window, parameter set) in-sample run.
    """

    windows: pd.DataFrame
    equity: pd.Series
    stats: dict[str, float]
    efficiency: float
    train_table: pd.DataFrame
    metric: str
    run: JobRun | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    carry: bool = False
    bars: engine.Bars | engine.Panel | None = None  # what it ran on (for reports: buy-and-hold)

    def __repr__(self) -> str:
        return (
            f"<WalkForwardResult {len(self.windows)} windows: out-of-sample "
            f"{self.metric}={self.stats.get(self.metric, float('nan')):.4g}, "
            f"total_return={self.stats['total_return']:.2%}, efficiency={self.efficiency:.3g}>"
        )


def walk_forward(
    strategy: type[Strategy],
    data: Any,
    space: Mapping[str, Any],
    train: Any,
    test: Any,
    step: Any = None,
    anchored: bool = False,
    embargo: int = 0,
    metric: str = "sharpe",
    method: str = "grid",
    config: engine.Config | None = None,
    *,
    n_trials: int = 100,
    maximize: bool | None = None,
    carry: bool = False,
    seed: int = 0,
    address: str | None = None,
    workers: int = 0,
    executor: Executor | None = None,
    progress: jobs.ProgressArg = None,
    cancel: threading.Event | None = None,
    out: str | Any | None = None,
) -> WalkForwardResult:
    """Walk-forward optimisation of ``strategy`` over ``space`` on one series or a universe.

    Args:
        strategy, data, space, config, metric, n_trials, maximize: as for
            ``cluster.sweep`` (``data`` names one symbol, or one universe: an
            ``engine.Panel`` or ``{"symbols": [...]}``, whose windows are portfolio
            runs; the stitched curve of a universe has no trade records, so its
            trade metrics are NaN).
        train, test, step: window lengths in bars (int) or durations ("365D").
        anchored: every train window starts at the first bar.
        embargo: bars skipped between a train part and its test part.
        method: "grid" or "random" (the search run inside each train window).
        carry: stitch the out-of-sample curve as one account that keeps its position
            across window boundaries (``strategies.run_windows``); needs test windows
            that follow one another (``step`` = ``test``, the default). Otherwise each
            window's test starts flat, as its ``oos_*`` metrics always do.
        seed, address, workers, executor, progress, cancel, out: how the job runs,
            the same for every job kind (``cluster.job.Options``).
    """
    if method not in ("grid", "random"):
        raise ValueError(f"walk-forward searches with method 'grid' or 'random', not {method!r}")
    maximize = jobs.maximize_default(metric) if maximize is None else maximize
    universe = data_mod.is_universe(strategy, data)
    if universe:
        bars: Any = data_mod.resolve_panel(data)
        by_symbol = {UNIVERSE: bars}
        if carry:
            raise ValueError(
                "carry=True keeps one series' position across windows; a universe's "
                "test windows each start flat: leave carry=False"
            )
    else:
        by_symbol = data_mod.resolve(data)
        if len(by_symbol) != 1:
            raise ValueError(
                f"walk-forward runs on one series; got {len(by_symbol)}: {', '.join(by_symbol)} "
                "(a universe: give an engine.Panel or {'symbols': [...]})"
            )
        ((symbol, bars),) = by_symbol.items()
    cfg = config or engine.Config()
    if cfg.periods_per_year is None:  # every window annualises like the whole series
        cfg = cfg.replace(periods_per_year=bars.periods_per_year())
    sp = Space.of(strategy, space)
    sp.check_shorts(cfg.allow_short)
    wins = windows(bars.ts, train, test, step, anchored, embargo)
    if carry:
        for a, b in zip(wins, wins[1:]):
            if b.test_start != a.test_end:
                raise ValueError(
                    f"carry=True needs test windows that follow one another, but window {b.number}'s "
                    f"test starts at bar {b.test_start} and window {a.number}'s ended at bar "
                    f"{a.test_end}; leave step at its default (= test) or carry=False"
                )
    options = Options(seed, address, workers, executor, progress, cancel, out)
    work = (UniverseWindowWork if universe else WindowWork)(shippable(strategy), bars, cfg, wins)
    stride = sp.size if method == "grid" else n_trials  # item ids: window * stride + point
    n_params = round(sp.size * sp.valid_fraction(seed=seed)) if method == "grid" else n_trials
    total = n_params * len(wins) + len(wins)

    def train_items() -> Iterator[tuple[int, Any]]:
        for w in wins:
            for point, (_, params) in sweep_items(method, sp, ["x"], n_trials, seed):
                yield w.number * stride + point, (("train", w.number), params)

    spec = {
        "kind": "walk_forward",
        "strategy": strategy.name,
        "space": sp.describe(),
        "windows": [w.__dict__ for w in wins],
        "metric": metric,
        "method": method,
        "config": cfg.to_dict(),
        "seed": seed,
        "n_trials": n_trials,
    }
    if carry:  # only then, so that jobs kept before this option keep their hash
        spec["carry"] = True
    if universe:
        spec["universe"] = list(bars.symbols)

    def record(result: ChunkResult, chunk: Chunk) -> None:
        cols: dict[str, list[Any]] = {"window": [it[0][1] for it in chunk.items]}
        for name in strategy._params:
            cols[name] = [it[1][name] for it in chunk.items]
        job.sink.write(chunk.id, jobs.stats_frame(result, cols), result.extra)

    def record_test(result: ChunkResult, chunk: Chunk) -> None:
        curve = result.extra[0] if result.extra else None
        extra = None
        if curve is not None:
            extra = {"equity": curve[0], "trades": curve[1]}
        job.sink.write(chunk.id, jobs.stats_frame(result, {}), extra)

    with Job(
        "walk_forward", spec, data_mod.fingerprint(by_symbol), work, options, total, f"walk-forward {strategy.name}"
    ) as job:
        size = job.chunk_size(jobs.first(8, train_items()), n_params * len(wins))
        run = job.run(jobs.chunked(train_items(), size), record, Objective(metric, maximize))
        frames = [f for f in job.sink.frames() if len(f) and f["item_id"].iloc[0] < TEST_IDS]
        columns = ["item_id", "window", *strategy._params, *engine.METRICS, "error"]
        train_table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        train_table = train_table.sort_values("item_id", kind="stable").reset_index(drop=True)
        chosen = _choose(train_table, wins, metric, maximize, tuple(strategy._params))
        test_items = [
            (TEST_IDS + w.number, (("test", w.number), chosen[w.number]))
            for w in wins
            if w.number in chosen and not run.cancelled
        ]
        test_run = job.run(jobs.chunked(test_items, 1, first_id=TEST_CHUNKS), record_test, offset=run.done_items)
        run.done_items += test_run.done_items
        run.failed_items += test_run.failed_items
        run.cancelled = run.cancelled or test_run.cancelled
    return _assemble(
        strategy, bars, cfg, wins, train_table, chosen, job.sink, metric, maximize, run, job.manifest, carry
    )


def _choose(
    table: pd.DataFrame, wins: list[Window], metric: str, maximize: bool, params: tuple[str, ...]
) -> dict[int, dict[str, Any]]:
    """Each window's best parameters on its train part (ties: the earliest item)."""
    chosen = {}
    ok = table[table["error"].isna() & table[metric].notna()]
    for w in wins:
        rows = ok[ok["window"] == w.number]
        if rows.empty:
            continue
        best = rows.sort_values([metric, "item_id"], ascending=[not maximize, True], kind="stable").iloc[0]
        chosen[w.number] = {k: jobs.np_py(best[k]) for k in params}
    return chosen


def _assemble(
    strategy: type[Strategy],
    bars: engine.Bars,
    cfg: engine.Config,
    wins: list[Window],
    train_table: pd.DataFrame,
    chosen: dict[int, dict[str, Any]],
    sink: Sink,
    metric: str,
    maximize: bool,
    run: JobRun,
    job_manifest: dict[str, Any],
    carry: bool,
) -> WalkForwardResult:
    params = tuple(strategy._params)
    tests = {
        int(f["item_id"].iloc[0]) - TEST_IDS: (f, e)
        for f, e in zip(sink.frames(), sink.extras())
        if len(f) and f["item_id"].iloc[0] >= TEST_IDS
    }
    index = bars.index
    rows, returns, times, trade_parts = [], [], [], []
    held = 0.0
    offset = 0
    level = 1.0  # stitched equity before the window, per unit of initial capital
    fees = 0.0  # paid by the stitched account (open positions' entry fees too)
    for w in wins:
        row: dict[str, Any] = {
            "window": w.number,
            "train_start": index[w.train_start],
            "train_end": index[w.train_end - 1],
            "test_start": index[w.test_start],
            "test_end": index[w.test_end - 1],
        }
        params_w = chosen.get(w.number)
        row.update(params_w or {k: None for k in params})
        if params_w is not None:
            is_rows = train_table[train_table["window"] == w.number]
            match = np.ones(len(is_rows), bool)
            for k, v in params_w.items():
                match &= (is_rows[k] == v).to_numpy()
            for m in engine.METRICS:
                row[f"is_{m}"] = is_rows[match][m].iloc[0]
        frame, curve = tests.get(w.number, (None, None))
        if frame is not None:
            for m in engine.METRICS:
                row[f"oos_{m}"] = frame[m].iloc[0]
        if curve is not None:
            equity, trades = curve["equity"], curve["trades"]
            r = per_bar_returns(equity, cfg.initial_capital)
            returns.append(r)
            times.append(index[w.test_start : w.test_end])
            held += float(frame["exposure"].iloc[0]) * len(equity)
            if len(trades):
                shifted = trades.copy()
                shifted["entry_bar"] += offset
                shifted["exit_bar"] += offset
                for amount in ("units", "entry_fees", "exit_fees", "pnl"):  # into the stitched account's money
                    shifted[amount] *= level
                trade_parts.append(shifted)
            offset += len(equity)
            fees += float(frame["total_fees"].iloc[0]) * level
            level *= float(np.prod(1.0 + r))
        is_ann, oos_ann = row.get("is_annual_return", np.nan), row.get("oos_annual_return", np.nan)
        row["efficiency"] = oos_ann / is_ann if is_ann and np.isfinite(is_ann) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if carry and chosen:
        res = run_windows(strategy, bars, [(chosen.get(w.number), w.test_start, w.test_end) for w in wins], cfg)
        stats, curve = dict(res.stats), res.equity
    elif returns:
        equity = cfg.initial_capital * np.cumprod(1.0 + np.concatenate(returns))
        trades_all = np.concatenate(trade_parts) if trade_parts else None
        ppy = cfg.periods_per_year or bars.periods_per_year()
        stats = engine.stats_from_equity(equity, cfg.initial_capital, ppy, trades=trades_all)
        stats["exposure"] = held / len(equity)  # each window's exposure, weighted by its bars
        stats["total_fees"] = fees
        if not _scales_with_capital(cfg):  # amounts of accounts that are not one account scaled
            for m in AMOUNTS:
                stats[m] = float("nan")
        stamps = pd.DatetimeIndex(np.concatenate([t.to_numpy() for t in times]), name="ts")
        curve = pd.Series(equity, index=stamps, name="equity")
    else:
        stats = {m: float("nan") for m in engine.METRICS}
        curve = pd.Series([], dtype=float, name="equity")
    is_mean = table["is_annual_return"].mean() if "is_annual_return" in table else np.nan
    eff = stats["annual_return"] / is_mean if is_mean and np.isfinite(is_mean) else float("nan")
    return WalkForwardResult(
        table,
        curve,
        stats,
        float(eff),
        train_table,
        metric,
        run,
        job_manifest,
        carry=carry,
        bars=bars if isinstance(bars, (engine.Bars, engine.Panel)) else None,
    )


AMOUNTS = ("total_fees", "expectancy", "profit_factor")
"""Stitched metrics that add money amounts of the windows' trades."""


def _scales_with_capital(cfg: engine.Config) -> bool:
    """Whether an account's trades scale with its capital (no fixed fee, fractional units).

    Then a window's trades, run on the initial capital, times the stitched equity at
    the window's start over the initial capital, are the trades of the stitched curve.
    """
    return cfg.fixed_fee == 0 and not cfg.integer_units

"""``SweepResult``: what a sweep gives back, and its overfitting diagnostics.

Its own module, so that the grid and random sweep (``cluster.sweep``) and the
Optuna sweep (``cluster.optuna_search``) both build it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

import engine
from cluster import diagnostics, jobs
from cluster.scheduler import JobRun
from cluster.sinks import Sink
from cluster.space import Space
from engine.reportable import Reportable


@dataclass
class SweepResult(Reportable):
    """The outcome of a sweep.

    Attributes:
        table: one row per run: ``symbol``, the parameters, every metric, ``error``.
        metric, maximize: what ``best`` ranks by.
        pooled: with several symbols, metrics averaged per parameter set.
        best: the best parameter set and its metrics (pooled over symbols).
        pareto: for ``nsga2``, the non-dominated rows.
        diagnostics: deflated Sharpe of the best result, and PBO when returns were kept.
        plan, run, manifest: what was planned, what happened, what reproduces it.
        study: the Optuna study, for the sampler methods.
    """

    table: pd.DataFrame
    metric: str
    maximize: bool
    params: tuple[str, ...]
    pooled: pd.DataFrame | None = None
    pareto: pd.DataFrame | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    plan: jobs.Plan | None = None
    run: JobRun | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    study: Any = None

    @property
    def best(self) -> dict[str, Any]:
        """The best row (parameters and metrics) by ``metric``."""
        frame = self.pooled if self.pooled is not None else self.table
        ok = frame[frame[self.metric].notna()]
        if ok.empty:
            raise ValueError(f"no run produced a {self.metric}; see the table's error column")
        row = ok.sort_values(self.metric, ascending=not self.maximize, kind="stable").iloc[0]
        return {k: jobs.np_py(v) for k, v in row.items() if k not in ("item_id", "error")}

    @property
    def best_params(self) -> dict[str, Any]:
        best = self.best
        return {k: best[k] for k in self.params}

    def to_parquet(self, path: str | Path) -> None:
        self.table.to_parquet(path, index=False)

    def to_csv(self, path: str | Path) -> None:
        self.table.to_csv(path, index=False)

    def counts(self) -> tuple[int, int]:
        """(runs, failed runs)."""
        return len(self.table), int(self.table["error"].notna().sum())

    def summary(self) -> dict[str, Any]:
        """The job record's digest of a sweep: runs, best row, deflated Sharpe (a stored
        result answers from queries, through its own ``counts`` and ``best``)."""
        out: dict[str, Any] = {"runs": self.counts()[0]}
        try:
            out["best"] = self.best
        except ValueError:
            out["best"] = None
        dsr = self.diagnostics.get("deflated_sharpe")
        if dsr:
            out["deflated_sharpe"] = dsr.get("dsr")
        return out

    def __repr__(self) -> str:
        n, failed = self.counts()
        try:
            best = ", ".join(f"{k}={v}" for k, v in self.best_params.items())
            head = f"best {self.metric}={self.best[self.metric]:.4g} at {best}"
        except ValueError:
            head = "no successful run"
        return f"<SweepResult {n} runs ({failed} failed): {head}>"


def assemble(
    work: Any,
    sp: Space,
    symbols: list[str],
    sink: Sink,
    metric: str,
    maximize: bool,
    plan: jobs.Plan | None,
    run: JobRun | None,
    job_manifest: dict[str, Any],
    study: Any = None,
) -> SweepResult:
    """The sweep's result from its stored chunks.

    A sink that keeps its rows in Parquet files (``files()``: a folder, the service's
    job store) of a one-symbol sweep without kept returns gives a ``StoredSweepResult``:
    its best run, counts and diagnostics are DuckDB queries over the files, and its
    ``table`` is read only when asked for. Otherwise (memory, several symbols, PBO
    from kept returns) the whole table is built in pandas.
    """
    params = tuple(sp.strategy._params)
    if len(symbols) == 1 and not getattr(work, "keep_returns", False) and callable(getattr(sink, "files", None)):
        stored = StoredSweepResult(sink, metric, maximize, params, plan=plan, run=run, manifest=job_manifest)
        stored._deflate = (work, symbols[0])  # computed when first asked for
        return stored
    frames = sink.frames()
    if frames:
        table = pd.concat(frames, ignore_index=True).sort_values("item_id", kind="stable")
        table = table.reset_index(drop=True)
    else:
        table = pd.DataFrame(columns=["item_id", "symbol", *params, *engine.METRICS, "error"])
    pooled = None
    if len(symbols) > 1 and not table.empty:
        ok = table[table["error"].isna()]
        pooled = ok.groupby(list(params), sort=False, dropna=False)[list(engine.METRICS)].mean()
        pooled = pooled.reset_index()
    result = SweepResult(
        table, metric, maximize, params, pooled, plan=plan, run=run, manifest=job_manifest, study=study
    )
    result.diagnostics = _diagnostics(work, sp, symbols, table, sink, result)
    return result


REPORT_ROWS = 20_000  # rows a stored sweep's report draws, at most: the best by its metric
REPORT_METRICS = ("total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "total_trades", "win_rate")


class StoredSweepResult(SweepResult):
    """A ``SweepResult`` whose rows stay in its sink's Parquet files.

    What a finished job needs — the run count, the failures, the best run, the deflated
    Sharpe's inputs, the top runs — are DuckDB queries over the files (``query``),
    which read the columns they use a row group at a time. ``table`` is the whole
    table in pandas, as ``SweepResult`` has it, read on first use only
    (``table_reads`` counts how often), so a library user sees no difference and the
    service never asks for it.
    """

    def __init__(self, sink: Any, metric: str, maximize: bool, params: tuple[str, ...], **fields: Any) -> None:
        self._sink = sink
        self._table: pd.DataFrame | None = None
        self._best: dict[str, Any] | None = None
        self._diagnostics: dict[str, Any] | None = None
        self._deflate: tuple[Any, str] | None = None
        self.table_reads = 0
        self.queries: list[str] = []  # every SQL statement run, for the curious (and tests)
        super().__init__(None, metric, maximize, params, **fields)  # type: ignore[arg-type]

    @property  # type: ignore[override]
    def table(self) -> pd.DataFrame:
        """Every run as one frame, in item order (read from the files on first use)."""
        if self._table is None:
            self.table_reads += 1
            frames = self._sink.frames()
            if frames:
                table = pd.concat(frames, ignore_index=True).sort_values("item_id", kind="stable")
                self._table = table.reset_index(drop=True)
            else:
                self._table = pd.DataFrame(columns=["item_id", "symbol", *self.params, *engine.METRICS, "error"])
        return self._table

    @table.setter
    def table(self, value: pd.DataFrame | None) -> None:
        self._table = value

    @property  # type: ignore[override]
    def diagnostics(self) -> dict[str, Any]:
        """The deflated Sharpe of the best run, computed on first use (so the service can
        join its chunk files into a few parts before the queries run)."""
        if self._diagnostics is None:
            self._diagnostics = self.deflated(*self._deflate) if self._deflate is not None else {}
        return self._diagnostics

    @diagnostics.setter
    def diagnostics(self, value: dict[str, Any]) -> None:
        self._diagnostics = value or None

    def files(self) -> list[Path]:
        return [Path(p) for p in self._sink.files()]

    def query(self, select: str, rest: str = "") -> list[tuple[Any, ...]]:
        """``SELECT {select} FROM <the rows> {rest}`` in DuckDB over the files (no rows: [])."""
        files = self.files()
        if not files:
            return []
        paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        sql = f"SELECT {select} FROM read_parquet([{paths}], union_by_name = true) {rest}"
        self.queries.append(sql)
        with duckdb.connect() as con:
            return con.execute(sql).fetchall()

    def columns(self) -> list[str]:
        files = self.files()
        if not files:
            return []
        import pyarrow.parquet as pq

        return list(pq.read_schema(files[0]).names)

    def counts(self) -> tuple[int, int]:
        """(runs, failed runs)."""
        rows = self.query("count(*), count(error)")
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def top(self, n: int, metric: str | None = None) -> pd.DataFrame:
        """The ``n`` best rows by ``metric`` (default: the result's), best first, ties in item order."""
        metric = metric or self.metric
        if metric not in self.columns():
            return pd.DataFrame()
        m = _quote(metric)
        files = self.files()
        paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        sql = (
            f"SELECT * FROM read_parquet([{paths}], union_by_name = true) WHERE {m} IS NOT NULL "
            f"AND NOT isnan(CAST({m} AS DOUBLE)) ORDER BY {m} {'DESC' if self.maximize else 'ASC'}, "
            f"item_id LIMIT {int(n)}"
        )
        self.queries.append(sql)
        with duckdb.connect() as con:
            return con.sql(sql).df()

    @property
    def best(self) -> dict[str, Any]:
        """The best row by ``metric`` (a DuckDB query, not the table)."""
        if self._best is None:
            top = self.top(1)
            if top.empty:
                raise ValueError(f"no run produced a {self.metric}; see the table's error column")
            self._best = {k: jobs.np_py(v) for k, v in top.iloc[0].items() if k not in ("item_id", "error")}
        return dict(self._best)

    def deflated(self, work: Any, symbol: str) -> dict[str, Any]:
        """The deflated Sharpe of the best successful run, as ``_diagnostics`` computes it."""
        ok = "error IS NULL AND sharpe IS NOT NULL AND NOT isnan(sharpe)"
        rows = self.query("count(*), var_samp(sharpe)", f"WHERE {ok}")
        trials = int(rows[0][0]) if rows else 0
        if trials < 2 or self.metric not in self.columns():
            return {}
        bars = work.bars[symbol]
        ppy = work.config.periods_per_year or bars.periods_per_year()
        m = _quote(self.metric)
        missing = f"({m} IS NULL OR isnan(CAST({m} AS DOUBLE)))"
        order = f"ORDER BY {missing}, {m} {'DESC' if self.maximize else 'ASC'}, item_id LIMIT 1"
        names = ", ".join(_quote(p) for p in self.params)
        best = self.query(names, f"WHERE {ok} {order}")[0]
        params = {k: jobs.np_py(v) for k, v in zip(self.params, best)}
        returns = work.returns_of(symbol, params)
        out: dict[str, Any] = {"symbol": symbol, "trials": trials, "best_params": params}
        out["deflated_sharpe"] = diagnostics.deflated_sharpe(returns, trials, float(rows[0][1]) / ppy)
        return out

    def errors(self, limit: int = 1000) -> list[str]:
        """Distinct error messages of failed runs (at most ``limit``)."""
        if "error" not in self.columns():
            return []
        return [str(r[0]) for r in self.query("DISTINCT error", f"WHERE error IS NOT NULL LIMIT {int(limit)}")]

    def for_report(self, limit: int = REPORT_ROWS) -> SweepResult:
        """A ``SweepResult`` for ``api.report``, read by DuckDB: only the columns a report
        draws (symbol, the parameters, the shown metrics, error) and, of a sweep of more
        than ``limit`` runs, only the ``limit`` best by the metric (in item order), so the
        report costs the same memory at 10^6 runs as at 10^4."""
        have = self.columns()
        wanted = ["item_id", "symbol", *self.params, self.metric, *REPORT_METRICS, "error"]
        names = [c for c in dict.fromkeys(wanted) if c in have]
        files = self.files()
        if files:
            paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
            rows = f"read_parquet([{paths}], union_by_name = true)"
            if self.counts()[0] > limit and self.metric in have:
                m = _quote(self.metric)
                rows = (
                    f"(SELECT {', '.join(_quote(c) for c in names)} FROM {rows} ORDER BY ({m} IS NULL OR isnan(CAST({m} AS DOUBLE))), "
                    f"{m} {'DESC' if self.maximize else 'ASC'}, item_id LIMIT {int(limit)})"
                )
            sql = f"SELECT {', '.join(_quote(c) for c in names)} FROM {rows} ORDER BY item_id"
            self.queries.append(sql)
            with duckdb.connect() as con:
                table = con.sql(sql).df()
        else:
            table = pd.DataFrame(columns=names)
        return SweepResult(
            table,
            self.metric,
            self.maximize,
            self.params,
            diagnostics=self.diagnostics,
            plan=self.plan,
            run=self.run,
            manifest=self.manifest,
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _diagnostics(
    work: Any, sp: Space, symbols: list[str], table: pd.DataFrame, sink: Sink, result: SweepResult
) -> dict[str, Any]:
    """Deflated Sharpe of the best run; PBO when per-bar returns were kept."""
    ok = table[table["error"].isna() & table["sharpe"].notna()]
    if len(ok) < 2:
        return {}
    symbol = symbols[0]
    first = ok[ok["symbol"] == symbol]
    if first.empty:
        return {}
    bars = work.bars[symbol]
    ppy = work.config.periods_per_year or bars.periods_per_year()
    per_bar_sharpe = first["sharpe"].to_numpy() / np.sqrt(ppy)
    best = first.sort_values(result.metric, ascending=not result.maximize, kind="stable").iloc[0]
    params = {k: jobs.np_py(best[k]) for k in result.params}
    returns = work.returns_of(symbol, params)
    out: dict[str, Any] = {"symbol": symbol, "trials": int(len(first)), "best_params": params}
    out["deflated_sharpe"] = diagnostics.deflated_sharpe(returns, len(first), float(np.var(per_bar_sharpe, ddof=1)))
    extras = [e for e in sink.extras() if e is not None]
    if work.keep_returns and extras:
        syms = np.concatenate([f["symbol"].to_numpy() for f in sink.frames()])
        matrix = np.concatenate(extras, axis=0)[syms == symbol]
        keep = np.isfinite(matrix).all(axis=1)
        if keep.sum() >= 2 and matrix.shape[1] >= 32:
            blocks = 16 if matrix.shape[1] >= 64 else 8
            out["pbo"] = diagnostics.probability_of_overfitting(matrix[keep].T, blocks=blocks)
    return out

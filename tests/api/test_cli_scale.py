"""The CLI's report at sweep scale: ranked and counted on the table, not row by row.

A 50,000-run table is ranked and printed with work proportional to the rows shown
(counted: cells formatted, values unwrapped one by one), and the table a service
sends is ranked by DuckDB from its Parquet file with the same answer as pandas.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

import engine
from api.cli import output, report, tables

ROWS = 50_000


def _sweep_table(n: int = ROWS, symbols: tuple[str, ...] = ("SPX",), seed: int = 7) -> pd.DataFrame:
    """A sweep's result table as ``cluster.sweep`` makes it: ids, symbol, params, every metric, error."""
    rng = np.random.default_rng(seed)
    per = n // len(symbols)
    fast = np.arange(per) % 250 + 2
    slow = np.arange(per) // 250 + 5
    frames = []
    for s, symbol in enumerate(symbols):
        frame = pd.DataFrame(
            {
                "item_id": np.arange(per) + s * per,
                "symbol": symbol,
                "fast": fast,
                "slow": slow,
                "short": (np.arange(per) % 2 == 0),
            }
        )
        for name in engine.METRICS:
            frame[name] = rng.normal(size=per)
        frame["total_trades"] = rng.integers(0, 200, per).astype(float)
        errors = np.full(per, None, dtype=object)
        errors[rng.choice(per, per // 100, replace=False)] = "ValueError: boom"
        frame["error"] = errors
        frame.loc[frame["error"].notna(), list(engine.METRICS)] = np.nan
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


class _Counter:
    """Counts calls to a function (the report's per-value helpers)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def test_a_50k_run_table_is_ranked_and_printed_with_work_for_the_shown_rows_only(monkeypatch):
    frame = _sweep_table()
    plain = _Counter(output.plain)
    monkeypatch.setattr(report, "plain", plain)  # the per-row unwrapping the old ranking did
    monkeypatch.setattr(output, "plain", plain)
    summary = {"runs": len(frame), "best": None}
    text = report.text("sweep", summary, frame, metric="sharpe", top=10, title="sweep")
    # 10 rows x ~12 columns are formatted (cell -> plain), plus their headers: not 50,000 rows.
    assert plain.calls < 1_000, plain.calls
    lines = text.splitlines()
    assert lines[1] == f"{ROWS:,} runs, {ROWS // 100:,} failed; top 10 by sharpe (best first)"
    want = frame["sharpe"].dropna().sort_values(ascending=False, kind="stable").head(10)
    shown = [float(line.split()[3]) for line in lines[4:14]]
    assert shown == pytest.approx(want.to_numpy(), abs=5e-4)


def test_ranking_50k_runs_costs_about_what_the_python_path_pays_to_find_the_best():
    """The same process times the Python path (``SweepResult.best``: one sort of the table)
    and the CLI's ranking and report; the report may not cost more than a few such sorts."""
    frame = _sweep_table()
    ok = frame[frame["sharpe"].notna()]

    def python_best() -> None:
        ok.sort_values("sharpe", ascending=False, kind="stable").iloc[0]

    def cli_report() -> None:
        report.text("sweep", {"runs": len(frame)}, frame, metric="sharpe", top=10)

    def best_of(fn, n: int = 5) -> float:
        times = []
        for _ in range(n):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times)

    python, cli = best_of(python_best), best_of(cli_report)
    assert cli < 10 * python + 0.05, (cli, python)  # the old ranking took ~1,000x (quadratic)


def test_ranked_keeps_table_order_for_ties_and_puts_runs_without_the_metric_last():
    frame = pd.DataFrame(
        {"fast": [1, 2, 3, 4, 5], "sharpe": [0.5, np.nan, 0.9, 0.5, 0.1], "max_drawdown": [0.3, 0.1, np.nan, 0.1, 0.2]}
    )
    assert report.ranked(frame, "sharpe")["fast"].tolist() == [3, 1, 4, 5, 2]
    assert report.ranked(frame, "sharpe", 2)["fast"].tolist() == [3, 1]
    assert report.ranked(frame, "max_drawdown")["fast"].tolist() == [2, 4, 5, 1, 3]  # smaller is better
    assert report.ranked(frame, "sharpe", 10)["fast"].tolist() == [3, 1, 4, 5, 2]


@pytest.mark.parametrize("symbols", [("SPX",), ("SPX", "IXIC")], ids=["one symbol", "pooled"])
def test_duckdb_on_the_parquet_file_ranks_as_pandas_does(tmp_path, symbols):
    frame = _sweep_table(20_000, symbols)
    path = tmp_path / "runs.parquet"
    output.write_frame(frame, str(path))
    pooled = None
    if len(symbols) > 1:
        ok = frame[frame["error"].isna()]
        pooled = ok.groupby(["fast", "slow", "short"], sort=False)[list(engine.METRICS)].mean().reset_index()
    here = tables.sweep_view(frame, "sharpe", 10, pooled)
    there = tables.sweep_view_parquet(path, "sharpe", 10, engine.METRICS)
    assert (there.runs, there.failed, there.symbols, there.pooled) == (
        here.runs,
        here.failed,
        here.symbols,
        here.pooled,
    )
    assert (
        there.best[["fast", "slow", "short"]].to_numpy().tolist()
        == here.best[["fast", "slow", "short"]].to_numpy().tolist()
    )
    assert there.best["sharpe"].to_numpy() == pytest.approx(here.best["sharpe"].to_numpy(), rel=1e-12)
    assert there.first_error == here.first_error == "ValueError: boom"


def test_out_streams_the_table_to_csv_and_parquet_that_read_back_equal(tmp_path):
    frame = _sweep_table(output.WRITE_ROWS + 10_000)  # two slices
    frame["error"] = None  # an all-null column still gets a Parquet type
    for name in ("runs.csv", "runs.parquet"):
        output.write_frame(frame, str(tmp_path / name))
        back = pd.read_csv(tmp_path / name) if name.endswith(".csv") else pd.read_parquet(tmp_path / name)
        assert len(back) == len(frame) and list(back.columns) == list(frame.columns)
        np.testing.assert_allclose(back["sharpe"].to_numpy(), frame["sharpe"].to_numpy(), rtol=1e-12)
        assert back["fast"].tolist() == frame["fast"].tolist() and back["short"].tolist() == frame["short"].tolist()
    assert not list(tmp_path.glob("*.part"))


def test_json_lines_are_valid_json_with_nan_and_inf_as_null():
    frame = pd.DataFrame(
        {
            "a": [1.5, np.nan, np.inf],
            "ts": pd.to_datetime(["2020-01-02", None, "2021-03-04"]),
            "n": [1, 2, 3],
            "e": [None, "x", None],
        }
    )
    rows = [json.loads(line) for line in tables.json_lines(tables.slices(frame, 2))]
    assert rows == [
        {"a": 1.5, "ts": "2020-01-02T00:00:00", "n": 1, "e": None},
        {"a": None, "ts": None, "n": 2, "e": "x"},
        {"a": None, "ts": "2021-03-04T00:00:00", "n": 3, "e": None},
    ]


def test_monte_carlo_percentiles_from_parquet_match_those_in_memory(tmp_path):
    rng = np.random.default_rng(3)
    paths = pd.DataFrame(
        {"path": np.arange(5_000), "sharpe": rng.normal(size=5_000), "total_return": rng.normal(size=5_000)}
    )
    paths.loc[::97, "sharpe"] = np.nan
    paths.loc[5, "total_return"] = np.inf
    output.write_frame(paths, str(tmp_path / "paths.parquet"))
    here = tables.quantiles(paths, ["sharpe", "total_return", "missing"])
    there = tables.quantiles_parquet(tmp_path / "paths.parquet", ["sharpe", "total_return", "missing"])
    assert set(here) == set(there) == {"sharpe", "total_return"}
    for k in here:
        assert there[k] == pytest.approx(here[k], rel=1e-12)


def test_the_top_rows_of_a_parquet_file_and_its_last_trades(tmp_path):
    frame = pd.DataFrame({"n": np.arange(200_000)})
    output.write_frame(frame, str(tmp_path / "t.parquet"))
    assert tables.read_parquet(tmp_path / "t.parquet", limit=3)["n"].tolist() == [0, 1, 2]
    assert tables.read_parquet(tmp_path / "t.parquet", limit=2, last=True)["n"].tolist() == [199_998, 199_999]


def test_a_services_results_are_reported_from_the_parquet_file_without_reading_it_whole(tmp_path, monkeypatch):
    """``anvil jobs results|watch``: the report, the ``--top`` rows and every row of ``--json``
    come from the downloaded file by DuckDB queries and batches, never one read of it all."""
    import pyarrow.parquet as pq

    from api.cli import jobs

    n = 100_000
    path = tmp_path / "runs.parquet"
    output.write_frame(_sweep_table(n), str(path), "--out")

    def whole(*args, **kwargs):
        raise AssertionError("the whole results file was read at once")

    monkeypatch.setattr(pq, "read_table", whole)
    monkeypatch.setattr(pd, "read_parquet", whole)
    text = jobs._report(path, "sweep", {"runs": n}, "sharpe", None, n, "job x: sweep")
    assert f"{n:,} runs, {n // 100:,} failed; top 10 by sharpe (best first)" in text
    top = [json.loads(line) for line in tables.json_lines(jobs._json_rows(path, "sweep", "sharpe", 5))]
    assert [r["item_id"] for r in top] == [r["item_id"] for r in sorted(top, key=lambda r: -r["sharpe"])]
    assert len(top) == 5
    frames = jobs._json_rows(path, "sweep", "sharpe", None)
    sizes = [len(f) for f in frames]
    assert sum(sizes) == n and max(sizes) <= tables.JSON_SLICE

"""Two defects users hit: an NSGA-II sweep without ``metrics=`` (it raised a TypeError;
its objectives now default to the metric and max_drawdown), and the progress bar of a
resumed job (it counted from 0; it now starts at the runs the output already holds)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cluster
from cluster.optuna_search import nsga2_objectives
from tests.cluster.conftest import COST, SmaX

SPACE = {"fast": [5, 10, 15, 20], "slow": [50, 100, 150]}  # 12 points, all valid


def local(**kw):
    return {"address": "local-threads", "workers": 2, **kw}


def test_nsga2_without_metrics_trades_the_metric_against_max_drawdown(small_bars):
    res = cluster.sweep(SmaX, small_bars, SPACE, COST, method="nsga2", n_trials=6, seed=1, **local())
    assert res.manifest["spec"]["objectives"] == ["sharpe", "max_drawdown"]
    assert 1 <= len(res.pareto) <= 6
    assert {"sharpe", "max_drawdown"} <= set(res.pareto.columns)


def test_nsga2_objectives_default_and_bad_ones_are_named():
    assert nsga2_objectives("sharpe", None) == ["sharpe", "max_drawdown"]
    assert nsga2_objectives("total_return", []) == ["total_return", "max_drawdown"]
    assert nsga2_objectives("max_drawdown", None) == ["sharpe", "max_drawdown"]
    assert nsga2_objectives("sharpe", ("sortino", "volatility")) == ["sortino", "volatility"]
    with pytest.raises(ValueError, match="list of metric names"):
        nsga2_objectives("sharpe", "sharpe,max_drawdown")
    with pytest.raises(ValueError, match="sharpe twice"):
        nsga2_objectives("sharpe", ["sharpe", "sharpe"])
    with pytest.raises(ValueError, match=r"unknown metric 'sharp'.*did you mean 'sharpe'"):
        nsga2_objectives("sharpe", ["sharp", "max_drawdown"])


def _counts(err: str) -> list[tuple[int, int]]:
    """Every ``done/total`` a tqdm bar drew on stderr, in order."""
    return [(int(a), int(b)) for a, b in re.findall(r"(\d+)/(\d+) \[", err)]


@pytest.mark.parametrize("removed", [1, 0])
def test_a_resumed_sweeps_progress_bar_counts_the_runs_already_done(small_bars, tmp_path: Path, capsys, removed):
    out = tmp_path / "sweep"
    first = cluster.sweep(SmaX, small_bars, SPACE, COST, out=out, **local(), progress=None)
    chunks = sorted(out.glob("chunk-*.parquet"))
    assert len(chunks) >= 2, "the sweep must run in several chunks for a resume to skip some"
    for path in chunks[:removed]:  # this many chunks are run again; the others are kept
        path.unlink()
    capsys.readouterr()
    again = cluster.sweep(SmaX, small_bars, SPACE, COST, out=out, **local(), progress=True)
    assert len(again.table) == len(first.table) == 12
    drawn = _counts(capsys.readouterr().err)
    assert drawn, "the bar drew nothing"
    assert drawn[-1] == (12, 12), drawn  # it ends at the job's total, the kept runs included

"""cluster.sweep: every method, failures, persistence and resume, diagnostics."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import cluster
import engine
import strategies
from cluster.sinks import JobMismatchError
from strategies import ParameterError
from tests.cluster.conftest import COST, Fragile, Slow, SmaX

SPACE = {"fast": range(5, 40, 5), "slow": range(20, 120, 20)}
VALID = [(f, s) for f in range(5, 40, 5) for s in range(20, 120, 20) if f < s]
METRIC_COLS = list(engine.METRICS)


def local(**kw):
    return {"address": "local-threads", "workers": 2, **kw}


def test_grid_runs_each_valid_point_exactly_once(small_bars):
    res = cluster.sweep(SmaX, small_bars, SPACE, COST, **local())
    pairs = list(zip(res.table["fast"], res.table["slow"]))
    assert pairs == VALID
    assert res.table["error"].isna().all()
    assert res.run.done_items == len(VALID) and res.plan.items == len(VALID)


def test_table_rows_equal_single_backtests(small_bars):
    res = cluster.sweep(SmaX, small_bars, {"fast": [10], "slow": [40, 60]}, COST, **local())
    for _, row in res.table.iterrows():
        direct = engine.backtest(small_bars, SmaX().signals(small_bars, fast=10, slow=int(row["slow"])), COST)
        assert row[METRIC_COLS].to_dict() == pytest.approx(direct.stats, nan_ok=True, rel=0, abs=0)


def test_best_follows_the_metric_and_direction(small_bars):
    res = cluster.sweep(SmaX, small_bars, SPACE, COST, metric="max_drawdown", **local())
    assert res.maximize is False
    assert res.best["max_drawdown"] == res.table["max_drawdown"].min()
    assert set(res.best_params) == {"fast", "slow"}
    res2 = cluster.sweep(SmaX, small_bars, SPACE, COST, metric="sharpe", **local())
    assert res2.best["sharpe"] == res2.table["sharpe"].max()


def test_one_failing_item_is_reported_and_the_rest_complete(small_bars):
    res = cluster.sweep(Fragile, small_bars, {"fast": [10, 13, 15], "slow": [50]}, COST, **local())
    bad = res.table[res.table["fast"] == 13]
    assert len(res.table) == 3 and len(bad) == 1
    assert "thirteen is unlucky" in bad["error"].iloc[0]
    assert bad["sharpe"].isna().all()
    assert res.table[res.table["fast"] != 13]["error"].isna().all()
    assert res.run.failed_items == 1


class ManyFragile(Fragile):
    """Fragile with signals_many, which fails whenever a chunk holds fast == 13."""

    def signals_many(self, bars, param_sets):
        return np.stack([self.signals(bars, **p) for p in param_sets])


class OneByOne(strategies.SmaCross):
    """SmaCross without signals_many."""

    signals_many = None


def test_signals_many_gives_the_table_one_by_one_gives(small_bars):
    space = {"fast": range(3, 30, 4), "slow": range(10, 100, 15), "short": [False, True]}
    cfg = COST.replace(allow_short=True)  # the space turns shorts on
    many = cluster.sweep(strategies.SmaCross, small_bars, space, cfg, **local())
    one = cluster.sweep(OneByOne, small_bars, space, cfg, **local())
    assert len(many.table) == len(one.table) > 50
    pd.testing.assert_frame_equal(many.table, one.table)


def test_a_failing_signals_many_falls_back_to_items(small_bars):
    res = cluster.sweep(ManyFragile, small_bars, {"fast": [10, 13, 15], "slow": [50, 60]}, COST, **local())
    bad = res.table[res.table["fast"] == 13]
    assert len(res.table) == 6 and len(bad) == 2
    assert bad["error"].str.contains("thirteen is unlucky").all()
    good = res.table[res.table["fast"] != 13]
    assert good["error"].isna().all() and good["sharpe"].notna().all()


def test_random_search_is_reproducible_and_respects_constraints(small_bars):
    a = cluster.sweep(
        SmaX,
        small_bars,
        {"fast": range(2, 60), "slow": range(5, 200)},
        COST,
        method="random",
        n_trials=40,
        seed=5,
        **local(),
    )
    b = cluster.sweep(
        SmaX,
        small_bars,
        {"fast": range(2, 60), "slow": range(5, 200)},
        COST,
        method="random",
        n_trials=40,
        seed=5,
        **local(workers=1),
    )
    pd.testing.assert_frame_equal(a.table, b.table)
    assert (a.table["fast"] < a.table["slow"]).all() and len(a.table) == 40


def test_several_symbols_report_each_and_pooled(sp500_bars, shared_data):
    nasdaq = engine.Bars.from_pandas(pd.read_parquet(shared_data / "nasdaq_daily.parquet"))
    res = cluster.sweep(SmaX, [sp500_bars[-1500:], nasdaq[-1500:]], {"fast": [10, 20], "slow": [50]}, COST, **local())
    assert sorted(res.table["symbol"].unique()) == ["IXIC", "SPX"]
    assert len(res.table) == 4 and len(res.pooled) == 2
    row = res.pooled[res.pooled["fast"] == 10].iloc[0]
    assert row["sharpe"] == pytest.approx(res.table[res.table["fast"] == 10]["sharpe"].mean())


def test_results_persist_as_they_arrive_and_a_rerun_resumes(small_bars, tmp_path):
    out = tmp_path / "job"
    cancel = threading.Event()
    seen = []

    def stop_after_some(p):
        seen.append(p.done)
        if p.done >= 6:
            cancel.set()

    first = cluster.sweep(
        Slow,
        small_bars,
        SPACE,
        COST,
        out=out,
        chunk_size=2,
        progress=stop_after_some,
        cancel=cancel,
        **local(workers=1),
    )
    assert first.run.cancelled and 0 < len(first.table) < len(VALID)
    stored = len(list(out.glob("chunk-*.parquet")))
    finished: list[int] = []
    second = cluster.sweep(
        Slow, small_bars, SPACE, COST, out=out, progress=lambda p: finished.append(p.done), **local()
    )
    assert list(zip(second.table["fast"], second.table["slow"])) == VALID
    assert second.run.done_items == len(VALID) - 2 * stored  # only the missing chunks ran
    full = cluster.sweep(SmaX, small_bars, SPACE, COST, **local())
    pd.testing.assert_frame_equal(second.table[METRIC_COLS], full.table[METRIC_COLS])


def test_an_output_folder_of_another_job_is_refused(small_bars, tmp_path):
    cluster.sweep(SmaX, small_bars, {"fast": [10], "slow": [50]}, COST, out=tmp_path, **local())
    with pytest.raises(JobMismatchError, match="another job"):
        cluster.sweep(SmaX, small_bars, {"fast": [20], "slow": [50]}, COST, out=tmp_path, **local())


def test_manifest_records_seed_data_and_code(small_bars):
    res = cluster.sweep(SmaX, small_bars, {"fast": [10], "slow": [50]}, COST, seed=9, **local())
    m = res.manifest
    assert m["seed"] == 9 and len(m["data"]) == 16 and "+" in m["code"] and m["chunk_size"] >= 1


@pytest.mark.parametrize("method", ["tpe", "cmaes"])
def test_optuna_samplers_find_good_parameters(small_bars, method):
    space = {"fast": range(2, 60), "slow": range(20, 250)}
    res = cluster.sweep(SmaX, small_bars, space, COST, method=method, n_trials=24, seed=1, **local())
    assert len(res.table) == 24 and res.table["error"].isna().all()
    assert res.study is not None and len([t for t in res.study.trials if t.state.name == "COMPLETE"]) == 24
    assert res.best["sharpe"] == res.table["sharpe"].max()


def test_nsga2_returns_a_pareto_front(small_bars):
    res = cluster.sweep(
        SmaX,
        small_bars,
        {"fast": range(2, 60), "slow": range(20, 250)},
        COST,
        method="nsga2",
        metrics=["sharpe", "max_drawdown"],
        n_trials=20,
        seed=2,
        **local(),
    )
    front = res.pareto
    assert 1 <= len(front) <= 20
    for _, row in front.iterrows():  # nothing in the table dominates a front row
        dominated = (
            (res.table["sharpe"] >= row["sharpe"])
            & (res.table["max_drawdown"] <= row["max_drawdown"])
            & ((res.table["sharpe"] > row["sharpe"]) | (res.table["max_drawdown"] < row["max_drawdown"]))
        )
        assert not dominated.any()


def test_an_optuna_study_resumes_from_its_journal(small_bars, tmp_path):
    path = tmp_path / "study.log"
    space = {"fast": range(2, 60), "slow": range(20, 250)}
    first = cluster.sweep(SmaX, small_bars, space, COST, method="tpe", n_trials=8, seed=3, study_path=path, **local())
    more = cluster.sweep(SmaX, small_bars, space, COST, method="tpe", n_trials=14, seed=3, study_path=path, **local())
    assert len(first.table) == 8 and len(more.table) == 14
    pd.testing.assert_frame_equal(
        more.table.iloc[:8][METRIC_COLS].reset_index(drop=True), first.table[METRIC_COLS].reset_index(drop=True)
    )


def test_diagnostics_deflate_the_best_sharpe_and_measure_overfitting(small_bars):
    res = cluster.sweep(SmaX, small_bars, SPACE, COST, keep_returns=True, **local())
    dsr = res.diagnostics["deflated_sharpe"]
    assert 0.0 <= dsr["dsr"] <= 1.0 and dsr["sr0"] > 0
    assert res.diagnostics["trials"] == len(VALID)
    assert 0.0 <= res.diagnostics["pbo"]["pbo"] <= 1.0


def test_bad_requests_fail_before_any_work(small_bars):
    with pytest.raises(ValueError, match="method must be one of"):
        cluster.sweep(SmaX, small_bars, SPACE, COST, method="grd", **local())
    with pytest.raises(ValueError, match="did you mean 'sharpe'"):
        cluster.sweep(SmaX, small_bars, SPACE, COST, metric="sharp", **local())
    with pytest.raises(ParameterError, match="did you mean 'slow'"):
        cluster.sweep(SmaX, small_bars, {"slwo": [3]}, COST, **local())
    with pytest.raises(TypeError, match="data must be"):
        cluster.sweep(SmaX, 42, SPACE, COST, **local())


def test_the_same_sweep_on_ray_gives_the_same_table(small_bars, local_ray):
    threads = cluster.sweep(SmaX, small_bars, SPACE, COST, **local())
    on_ray = cluster.sweep(SmaX, small_bars, SPACE, COST, workers=2)
    pd.testing.assert_frame_equal(threads.table, on_ray.table)

"""The sweep report: the heatmap, marginals, top runs and diagnostics are the result's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from api import report
from api.report import _display
from api.report.sweep import frame_of
from tests.api.report.conftest import CONFIG

MAX_BYTES_10K = 7_500_000


def _cell(trace, x, y):
    xs, ys = list(trace.x), list(trace.y)
    return trace.z[ys.index(str(y))][xs.index(str(x))]


def test_best_cell_holds_the_best_runs_metric(sweep, sweep_report):
    fig = sweep_report.section("heatmap").figure
    best = sweep.best
    first = fig.data[0]
    assert first.meta == {"x": "fast", "y": "slow", "mode": "fixed"}
    assert _cell(first, best["fast"], best["slow"]) == pytest.approx(best["sharpe"])
    star = fig.data[-1]
    assert (star.x[0], star.y[0]) == (str(best["fast"]), str(best["slow"]))


def test_every_heatmap_cell_is_a_run(sweep, sweep_report):
    fig = sweep_report.section("heatmap").figure
    t = fig.data[0]
    table = frame_of(sweep)
    for _, row in table.iterrows():
        assert _cell(t, row["fast"], row["slow"]) == pytest.approx(row["sharpe"])
    assert np.isfinite(np.asarray(t.z, dtype=float)).sum() == len(table)


def test_marginal_means_are_the_runs_means(sweep, sweep_report):
    fig = sweep_report.section("marginals").figure
    table = frame_of(sweep)
    means = [t for t in fig.data if t.mode == "lines+markers"]
    want = table.groupby("fast")["sharpe"].mean()
    assert list(means[0].y) == pytest.approx(want.tolist())


def test_top_table_is_ranked_by_the_metric(sweep, sweep_report):
    table = sweep_report.section("top").table
    col = list(table.header).index("sharpe")
    assert table.rows[0][col] == _display.fmt(sweep.best["sharpe"], "sharpe")
    assert len(table.rows) == 20


def test_diagnostics_are_read_in_a_plain_sentence(sweep, sweep_report):
    sec = sweep_report.section("diagnostics")
    dsr = sweep.diagnostics["deflated_sharpe"]["dsr"]
    pbo = sweep.diagnostics["pbo"]["pbo"]
    rows = dict(sec.table.rows)
    assert any(v == f"{dsr:.3f}" for v in rows.values())
    assert any(v == f"{pbo:.3f}" for v in rows.values())
    assert f"{dsr:.0%}" in sec.note and f"{pbo:.0%}" in sec.note


def test_more_than_two_parameters_get_parallel_coordinates_and_a_mode_menu(sp500_bars):
    import cluster
    import strategies

    strat = strategies.get_strategy("macd_cross")
    res = cluster.sweep(
        strat,
        sp500_bars,
        {"fast": range(5, 30, 5), "slow": range(30, 90, 20), "signal": [5, 9, 15]},
        CONFIG,
        address="local-threads",
    )
    rep = report.build(res)
    runs = frame_of(res)
    par = rep.section("parallel").figure.data[0]
    assert [d["label"] for d in par.dimensions] == ["fast", "slow", "signal", "sharpe"]
    assert list(par.dimensions[-1]["values"]) == runs["sharpe"].tolist()
    heat = rep.section("heatmap").figure.data
    assert {t.meta["mode"] for t in heat[:-1]} == {"fixed", "mean", "best"}
    mean = next(t for t in heat[:-1] if t.meta == {"x": "fast", "y": "slow", "mode": "mean"})
    want = runs[(runs["fast"] == 10) & (runs["slow"] == 50)]["sharpe"].mean()
    assert _cell(mean, 10, 50) == pytest.approx(want)


def test_sampler_sweeps_show_their_history_and_pareto_front(sp500_bars, sma):
    import cluster

    res = cluster.sweep(
        sma,
        sp500_bars,
        {"fast": range(5, 50), "slow": range(60, 200, 5)},
        CONFIG,
        method="nsga2",
        metrics=["sharpe", "max_drawdown"],
        n_trials=24,
        address="local-threads",
    )
    rep = report.build(res)
    hist = rep.section("history").figure
    y = np.asarray(hist.data[1].y, dtype=float)
    assert np.nanmax(y) == pytest.approx(res.table["sharpe"].max())
    front = rep.section("pareto").figure.data[1]
    assert sorted(front.x) == sorted(res.pareto["sharpe"].tolist())


def test_a_10k_run_sweep_stays_small(sp500_bars, sma, check_document):
    import cluster

    bars = sp500_bars[:1500]
    res = cluster.sweep(sma, bars, {"fast": range(2, 82), "slow": range(105, 355, 2)}, CONFIG, address="local-threads")
    assert len(res.table) == 10_000
    rep = report.build(res)
    best = res.best
    assert _cell(rep.section("heatmap").figure.data[0], best["fast"], best["slow"]) == pytest.approx(best["sharpe"])
    doc = report.render(rep)
    assert len(doc.encode()) < MAX_BYTES_10K, f"{len(doc.encode()):,} bytes"
    check_document(doc)


def test_file_stands_alone(sweep, tmp_path, check_document):
    check_document(sweep.report(tmp_path / "s.html").read_text())
    assert math.isfinite(sweep.best["sharpe"])

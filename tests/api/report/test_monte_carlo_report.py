"""The Monte Carlo report: the distribution, the real value, the fan of bootstrap paths."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from api import report
from api.report.monte_carlo import fan_paths


def test_distribution_holds_every_path_and_marks_the_real_value(permutation):
    rep = report.build(permutation)
    fig = rep.section("distribution").figure
    want = permutation.paths["sharpe"].to_numpy()
    assert sorted(fig.data[0].x) == sorted(want[np.isfinite(want)].tolist())
    line = fig.layout.shapes[0]
    assert line.x0 == pytest.approx(permutation.real["sharpe"])
    assert f"{permutation.p_value:.4f}" in dict(rep.headline)["p-value"]
    assert f"{permutation.p_value:.4f}" in rep.section("distribution").note


def test_fan_paths_are_the_paths_the_workers_drew(bootstrap):
    paths = fan_paths(bootstrap, count=10)
    ppy = bootstrap.manifest["spec"]["config"]["periods_per_year"]
    for i, equity in enumerate(paths):
        stats = engine.stats_from_equity(equity, 10_000.0, ppy)
        row = bootstrap.paths.iloc[i]
        assert stats["final_equity"] == pytest.approx(row["final_equity"], rel=1e-12)
        assert stats["max_drawdown"] == pytest.approx(row["max_drawdown"], rel=1e-12)


def test_fan_chart_and_intervals(bootstrap, check_document):
    rep = report.build(bootstrap)
    fan = rep.section("fan").figure
    median = [t for t in fan.data if t.name == "median"][0]
    assert median.x[0] == 1 and median.x[-1] == len(bootstrap.real_equity)
    rows = {r[0]: r for r in rep.section("intervals").table.rows}
    lo, hi = bootstrap.intervals["sharpe"]
    assert rows["sharpe"][2] == report._display.fmt(lo, "sharpe")
    assert rows["sharpe"][3] == report._display.fmt(hi, "sharpe")
    check_document(report.render(rep))


def test_permutation_has_no_fan(permutation):
    keys = [s.key for s in report.build(permutation).sections]
    assert "fan" not in keys and "intervals" not in keys


def test_fan_bands_are_percentiles_of_the_paths_at_each_step(bootstrap):
    fan = report.build(bootstrap).section("fan").figure
    paths = fan_paths(bootstrap)
    assert len(paths) == len(bootstrap.paths)  # 120 paths: all of them (at most FAN_PATHS)
    by_name = {t.name: t for t in fan.data if t.name}
    for name, q in (("median", 50), ("5–95 %", 5), ("25–75 %", 25)):
        t = by_name[name]
        steps = np.asarray(t.x, dtype=int) - 1
        assert np.allclose(np.asarray(t.y, dtype=float), np.percentile(paths[:, steps], q, axis=0))
    upper = [t for t in fan.data if not t.name]  # each band's upper edge, drawn before it
    steps = np.asarray(upper[0].x, dtype=int) - 1
    assert np.allclose(np.asarray(upper[0].y, dtype=float), np.percentile(paths[:, steps], 95, axis=0))


def test_a_real_run_with_no_value_says_why_there_is_no_p_value(sp500_bars, check_document):
    import cluster
    from strategies import Float, Strategy

    class AboveLevel(Strategy):
        """Long above ``level``: above the highest close, the real series never trades."""

        level = Float(1.0, 0.0, 1e9)

        def signals(self, bars, level):
            return np.where(bars.close > level, 1, 0).astype(np.int8)

    bars = sp500_bars[-800:]
    res = cluster.monte_carlo(
        AboveLevel, {"level": float(bars.close.max())}, bars, n=40, seed=3, address="local-threads"
    )
    assert np.isnan(res.p_value) and 0 < res.nan_paths < 40
    rep = report.build(res)
    assert dict(rep.headline)["p-value"] == "NaN (the real run has no value)"
    note = rep.section("distribution").note
    assert "the real run's sharpe is NaN" in note and f"{res.nan_paths} paths with sharpe NaN" in note
    check_document(report.render(rep))

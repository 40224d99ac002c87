"""The portfolio report: it reads a portfolio result by attribute — a real
``engine.backtest_portfolio`` result on the shipped four-stock sample, and a plain
object with the attributes the module documents (a turnover series, ``kind`` events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from api import report


@dataclass
class PortfolioResult:
    equity: pd.Series
    stats: dict[str, float]
    weights: pd.DataFrame
    contributions: dict[str, float]
    turnover: pd.Series
    risk_events: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)


def test_portfolio_sections_draw_what_the_result_holds(check_document):
    idx = pd.date_range("2020-01-01", periods=300, freq="D")
    rng = np.random.default_rng(1)
    equity = pd.Series(10_000 * np.cumprod(1 + rng.normal(0, 0.01, 300)), index=idx)
    w = pd.DataFrame({"AAA": np.full(300, 0.6), "BBB": np.full(300, 0.4)}, index=idx)
    res = PortfolioResult(
        equity,
        {"total_return": equity.iloc[-1] / 10_000 - 1, "sharpe": 0.5},
        w,
        {"AAA": 120.0, "BBB": -30.0},
        pd.Series(rng.random(300), index=idx),
        pd.DataFrame({"time": [idx[50]], "kind": ["max_drawdown_stop"]}),
    )
    assert report.kind_of(res) == "portfolio"
    rep = report.build(res)
    assert rep.section("equity").figure.data[0].y[-1] == pytest.approx(equity.iloc[-1])
    assert [t.name for t in rep.section("weights").figure.data] == ["AAA", "BBB"]
    assert sorted(rep.section("contributions").figure.data[0].x) == [-30.0, 120.0]
    assert len(rep.section("turnover").figure.data[0].y) == 300
    check_document(report.render(rep))


def test_a_real_portfolio_run_reports_its_equity_weights_contributions_and_risk_events(
    portfolio, check_document, tmp_path
):
    res = portfolio
    panel = res.panel
    assert set(res.events["rule"]) == {"max_drawdown_halt"}  # the 20 % drawdown halt fires on this sample
    assert report.kind_of(res) == "portfolio"
    rep = report.build(res)
    equity, markers = rep.section("equity").figure.data
    assert equity.y[-1] == pytest.approx(res.stats["final_equity"])
    assert len(markers.x) == len(res.events)
    assert [t.name for t in rep.section("weights").figure.data] == list(panel.symbols)
    drawn = dict(zip(rep.section("contributions").figure.data[0].y, rep.section("contributions").figure.data[0].x))
    assert drawn == pytest.approx(res.contributions.to_dict())
    assert dict(rep.headline)["turnover"] == report._display.fmt(res.stats["turnover"], "turnover")
    for t in rep.section("weights").figure.data:  # each symbol's weights, thinned for display only
        kept = res.weights[t.name].to_numpy()
        assert len(t.y) == len(kept) and np.allclose(np.asarray(t.y, float), kept, equal_nan=True)
    path = res.report(tmp_path / "portfolio.html")
    check_document(path.read_text())
    assert "AAPL" in res._repr_html_()

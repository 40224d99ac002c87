"""The backtest report: what it draws is the result's data, and the file stands alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
from api import report
from api.report import _display
from tests.api.report.conftest import CONFIG, trace

MAX_BYTES_100K = 7_500_000  # plotly.js (~4.8 MB) + thinned series and tables
MAX_BYTES_1M = 8_000_000  # the same bound, nearly: what is drawn does not grow with the bars


def test_equity_trace_ends_at_final_equity(backtest, bt_report):
    rep = bt_report
    fig = rep.section("panels").figure
    eq = trace(fig, "equity")
    assert eq.y[-1] == pytest.approx(backtest.stats["final_equity"], rel=1e-12)
    assert pd.Timestamp(eq.x[-1]).tz_localize("UTC") == backtest.bars.index[-1]
    assert eq.y[0] == backtest.equity.iloc[0]


def test_exits_are_told_apart_by_reason(backtest, bt_report):
    fig = bt_report.section("panels").figure
    trades = backtest.trades
    for reason, label in (
        ("stop_loss", "exit (stop-loss)"),
        ("take_profit", "exit (take-profit)"),
        ("signal", "exit (signal)"),
    ):
        want = trades[trades["exit_reason"] == reason]
        assert len(want) > 0, f"the fixture should close trades by {reason}"
        t = trace(fig, label)
        assert list(t.y) == want["exit_price"].tolist()
        assert list(pd.DatetimeIndex(t.x)) == list(want["exit_time"].dt.tz_localize(None))
    entries = trace(fig, "entry (long)")
    assert len(entries.x) == len(trades)


def test_buy_and_hold_uses_the_same_capital_and_series(backtest, bt_report):
    fig = bt_report.section("panels").figure
    hold = trace(fig, "buy and hold")
    close = backtest.bars.close
    assert hold.y[0] == pytest.approx(CONFIG.initial_capital)
    assert hold.y[-1] == pytest.approx(CONFIG.initial_capital * close[-1] / close[0])


def test_worst_drawdown_is_the_results_max_drawdown(backtest, bt_report):
    worst = _display.worst_drawdowns(_display.underwater(backtest.equity))
    assert -worst[0]["depth"] == pytest.approx(backtest.stats["max_drawdown"], rel=1e-9)
    assert max(p["bars"] for p in worst) == backtest.stats["max_drawdown_duration"]
    rows = bt_report.section("drawdowns").table.rows
    assert rows[0][1] == _display.fmt(worst[0]["depth"], "max_drawdown")


def test_stats_table_holds_every_metric_unrounded_in_order(backtest, bt_report):
    table = bt_report.section("stats").table
    assert [r[0] for r in table.rows] == list(engine.METRICS)
    assert dict(table.rows)["total_trades"] == _display.fmt(backtest.stats["total_trades"], "total_trades")


def test_monthly_heatmap_compounds_to_the_total_return(backtest, bt_report):
    fig = bt_report.section("monthly").figure
    z = np.asarray(fig.data[0].z, dtype=float)
    growth = np.prod(1.0 + z[np.isfinite(z)])
    assert growth - 1.0 == pytest.approx(backtest.stats["total_return"], rel=1e-9)


def test_trade_return_histogram_holds_every_trade(backtest, bt_report):
    fig = bt_report.section("trade_returns").figure
    drawn = sorted([*trace(fig, "winners").x, *trace(fig, "losers").x])
    assert drawn == sorted(backtest.trades["return"].tolist())


def test_provenance_names_data_hash_and_code_version(backtest, bt_report):
    from cluster import data, manifest

    rows = dict(bt_report.section("provenance").table.rows)
    assert rows["data hash"] == data.fingerprint({backtest.bars.symbol: backtest.bars})
    assert rows["code version"] == manifest.code_version()
    assert rows["config.stop_loss"] == "0.05"


def test_file_stands_alone(backtest, tmp_path, check_document):
    path = backtest.report(tmp_path / "bt.html")
    check_document(path.read_text())


def test_user_strings_are_escaped(backtest, check_document):
    doc = report.html(backtest, title="<script>alert(1)</script>", provenance={"strategy": "<img src=x onerror=1>"})
    assert "<script>alert(1)" not in doc and "&lt;script&gt;alert(1)" in doc
    assert "<img src=x" not in doc
    check_document(doc)


def test_notebook_display_is_a_sandboxed_frame(backtest):
    out = backtest._repr_html_()
    assert out.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in out


def test_a_100k_bar_backtest_is_thinned_and_stays_small(check_document):
    bars = engine.synthetic.bars(100_000, seed=3, timeframe="1h")
    close = bars.close
    fast = pd.Series(close).rolling(24).mean().to_numpy()
    slow = pd.Series(close).rolling(240).mean().to_numpy()
    signal = np.where(fast > slow, 1.0, 0.0)
    res = engine.backtest(bars, signal, CONFIG)
    rep = report.build(res)
    fig = rep.section("panels").figure
    assert len(trace(fig, "close").x) <= _display.MAX_POINTS + 2
    assert trace(fig, "equity").y[-1] == pytest.approx(res.stats["final_equity"])
    assert max(trace(fig, "close").y) == pytest.approx(close.max())  # extremes survive thinning
    doc = report.render(rep)
    assert len(doc.encode()) < MAX_BYTES_100K, f"{len(doc.encode()):,} bytes"
    check_document(doc)


def test_a_million_bar_backtest_draws_a_few_thousand_points_and_tables_keep_every_number(check_document):
    bars = engine.synthetic.bars(1_000_000, seed=5, timeframe="1m")
    close = pd.Series(bars.close)
    signal = np.where(close.rolling(60).mean() > close.rolling(600).mean(), 1.0, 0.0)
    res = engine.backtest(bars, signal, CONFIG)
    rep = report.build(res)
    fig = rep.section("panels").figure
    for name in ("close", "equity", "buy and hold", "drawdown"):
        assert len(trace(fig, name).x) <= _display.MAX_POINTS + 2, name
    assert trace(fig, "equity").y[-1] == res.stats["final_equity"]  # the last point survives thinning
    assert min(trace(fig, "drawdown").y) == pytest.approx(-res.stats["max_drawdown"])  # so does the worst
    assert dict(rep.section("stats").table.rows) == dict(_display.stats_rows(res.stats))  # numbers: all, exact
    doc = report.render(rep)
    assert len(doc.encode()) < MAX_BYTES_1M, f"{len(doc.encode()):,} bytes"
    check_document(doc)


def test_thin_keeps_first_last_and_extremes():
    rng = np.random.default_rng(0)
    v = np.cumsum(rng.normal(size=50_000))
    idx = _display.thin(v, 400)
    assert idx[0] == 0 and idx[-1] == len(v) - 1
    assert np.argmax(v) in idx and np.argmin(v) in idx
    assert len(idx) <= 402
    assert np.array_equal(_display.thin(v[:100], 400), np.arange(100))


def test_not_a_result_is_refused():
    with pytest.raises(TypeError, match="no report for a dict"):
        report.build({})
    with pytest.raises(ValueError, match="name it with .html"):
        report.write(object(), "x.txt")


def test_worst_periods_are_shaded_at_their_dates(backtest, bt_report):
    fig = bt_report.section("panels").figure
    worst = _display.worst_drawdowns(_display.underwater(backtest.equity), top=3)
    shaded = [(pd.Timestamp(s.x0), pd.Timestamp(s.x1)) for s in fig.layout.shapes]
    assert shaded == [(p["start"].tz_localize(None), p["end"].tz_localize(None)) for p in worst]


def test_the_strategys_own_lines_are_drawn_over_the_price(backtest, bt_report, sp500_bars):
    import strategies

    fig = bt_report.section("panels").figure
    idx = _display.thin(sp500_bars.close)
    for period in (20, 100):  # the fixture's fast and slow
        line = trace(fig, f"SMA {period}")
        want = strategies.indicators.sma(sp500_bars.close, period)[idx]
        assert np.array_equal(np.asarray(line.y, dtype=float), want, equal_nan=True)
        assert list(line.x) == list(trace(fig, "close").x)


def test_lines_of_a_run_from_a_later_bar_cover_the_bars_it_traded(sp500_bars, sma):
    import strategies

    res = strategies.run(sma, sp500_bars, CONFIG, {"fast": 20, "slow": 100}, start=500)
    lines = res.report_lines()
    assert len(lines["SMA 100"]) == len(res.bars) == len(sp500_bars) - 500
    want = strategies.indicators.sma(sp500_bars.close, 100)[500:]  # warmed up on the history before
    assert np.array_equal(lines["SMA 100"], want, equal_nan=True) and np.isfinite(want[0])


def test_a_strategy_whose_lines_fail_still_gets_its_report(sp500_bars):
    import strategies

    class Broken(strategies.SmaCross):
        def report_lines(self, bars, fast, slow, short):
            return {"half": bars.close[: len(bars) // 2]}

    res = strategies.run(Broken, sp500_bars, CONFIG, {"fast": 20, "slow": 100})
    rep = report.build(res)
    assert "report_lines gave 'half' with shape" in rep.section("panels").note
    assert [t.name for t in rep.section("panels").figure.data][:1] == ["close"]
    assert "half" not in [t.name for t in rep.section("panels").figure.data]


def test_a_strategy_without_lines_draws_none(sp500_bars):
    import strategies

    res = strategies.run(strategies.get_strategy("rsi_reversion"), sp500_bars, CONFIG)
    assert not hasattr(res, "report_lines")
    names = [t.name for t in report.build(res).section("panels").figure.data]
    assert names[0] == "close" and not any(n.startswith(("SMA", "EMA")) for n in names)

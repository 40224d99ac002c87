"""Real results for the report tests: backtests, sweeps, walk-forward and Monte Carlo
runs on the S&P 500 sample, in this process (``address="local-threads"``)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

import engine

CONFIG = engine.Config(fee_rate=0.001, stop_loss=0.05, take_profit=0.1)


@pytest.fixture(scope="session")
def sma():
    import strategies

    return strategies.get_strategy("sma_cross")


@pytest.fixture(scope="session")
def backtest(sp500_bars, sma):
    import strategies

    return strategies.run(sma, sp500_bars, CONFIG, {"fast": 20, "slow": 100})


@pytest.fixture(scope="session")
def sweep(sp500_bars, sma):
    import cluster

    return cluster.sweep(
        sma,
        sp500_bars,
        {"fast": range(5, 50, 5), "slow": range(20, 200, 20)},
        CONFIG,
        address="local-threads",
        keep_returns=True,
    )


@pytest.fixture(scope="session")
def walk_forward(sp500_bars, sma):
    import cluster

    return cluster.walk_forward(
        sma,
        sp500_bars,
        {"fast": range(5, 50, 10), "slow": range(20, 200, 40)},
        1000,
        250,
        embargo=5,
        config=CONFIG,
        address="local-threads",
    )


@pytest.fixture(scope="session")
def bootstrap(sp500_bars, sma):
    import cluster

    return cluster.monte_carlo(
        sma,
        {"fast": 20, "slow": 100},
        sp500_bars,
        n=120,
        method="block_bootstrap",
        config=CONFIG,
        address="local-threads",
    )


@pytest.fixture(scope="session")
def permutation(sp500_bars, sma):
    import cluster

    return cluster.monte_carlo(
        sma, {"fast": 20, "slow": 100}, sp500_bars, n=60, method="permutation", config=CONFIG, address="local-threads"
    )


@pytest.fixture(scope="session")
def portfolio():
    """The shipped four stocks rebalanced to equal weights each month, weights kept; its
    20 % drawdown halt fires on this sample (a risk event to draw)."""
    import numpy as np

    panel = engine.sample_panel()
    first = np.r_[True, panel.index.month[1:] != panel.index.month[:-1]]
    live = panel.tradable[first]
    w = np.full(panel.shape, np.nan)
    w[first] = live / live.sum(axis=1, keepdims=True)
    cfg = engine.Config(initial_capital=100_000, fee_rate=0.0005, max_weight=0.4, max_drawdown_halt=0.2)
    return engine.backtest_portfolio(panel, w, cfg, keep_weights=True)


class Page(HTMLParser):
    """Parses a document strictly enough to catch unbalanced tags, and collects every
    URL the document would load or link to."""

    VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.urls: list[str] = []
        self.tags: dict[str, int] = {}
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href", "action", "data", "poster", "srcset") and value:
                self.urls.append(value)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def parse(document: str) -> Page:
    """The parsed document; fails the test if its tags do not balance."""
    page = Page()
    page.feed(document)
    page.close()
    assert not page.problems, page.problems[:5]
    assert not page.stack, f"unclosed tags: {page.stack}"
    return page


def outside(urls: list[str]) -> list[str]:
    return [u for u in urls if "://" in u or u.startswith("//")]


@pytest.fixture
def check_document():
    def check(document: str) -> Page:
        page = parse(document)
        assert outside(page.urls) == [], outside(page.urls)
        assert page.tags.get("script", 0) >= 2
        assert "* Licensed under the MIT license" in document  # plotly.js's header, kept with it
        return page

    return check


def trace(fig: Any, name: str) -> Any:
    """The figure's trace called ``name``."""
    for t in fig.data:
        if t.name == name:
            return t
    raise AssertionError(f"no trace {name!r}; traces: {[t.name for t in fig.data]}")


@pytest.fixture(scope="session")
def bt_report(backtest):
    from api import report

    return report.build(backtest)


@pytest.fixture(scope="session")
def sweep_report(sweep):
    from api import report

    return report.build(sweep)


@pytest.fixture(scope="session")
def wf_report(walk_forward):
    from api import report

    return report.build(walk_forward)

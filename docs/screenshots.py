"""Make the report screenshots in docs/ (one per report kind) from the shipped sample.

    .venv/bin/python docs/screenshots.py          # needs Chromium (make browser)

Each report is written to tmp/artefacts/reports/, opened in headless Chromium, and the
top of it down to one chosen section is saved as a small PNG.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

import cluster  # noqa: E402
import engine  # noqa: E402
from api import report  # noqa: E402
import strategies  # noqa: E402
from tests.api.browser import CHROMIUM_ARGS, require_chromium  # noqa: E402

SHOTS = {  # name -> (section the picture ends at, width in px)
    "backtest": "monthly",
    "portfolio": "contributions",
    "sweep": "marginals",
    "walk_forward": "equity",
    "monte_carlo": "fan",
}


def results() -> dict[str, object]:
    with engine.Store(REPO / "tmp" / "artefacts" / "docs.duckdb") as store:
        bars = store.bars("SPX", "1d")
    sma = strategies.get_strategy("sma_cross")
    cfg = engine.Config(fee_rate=0.001, slippage_bps=2, stop_loss=0.08, take_profit=0.25)
    threads = {"address": "local-threads"}
    panel = engine.sample_panel()  # four stocks, equal weights set each month, weights kept
    first = np.r_[True, panel.index.month[1:] != panel.index.month[:-1]]
    weights = np.full(panel.shape, np.nan)
    weights[first] = panel.tradable[first] / panel.tradable[first].sum(axis=1, keepdims=True)
    book = engine.Config(initial_capital=100_000, fee_rate=0.0005, max_weight=0.4, max_drawdown_halt=0.2)
    return {
        "backtest": strategies.run(sma, bars, cfg, {"fast": 20, "slow": 100}),
        "portfolio": engine.backtest_portfolio(panel, weights, book, keep_weights=True),
        "sweep": cluster.sweep(
            sma, bars, {"fast": range(5, 55, 5), "slow": range(60, 260, 20)}, cfg, keep_returns=True, **threads
        ),
        "walk_forward": cluster.walk_forward(
            sma,
            bars,
            {"fast": range(5, 55, 5), "slow": range(60, 260, 40)},
            1000,
            250,
            embargo=5,
            config=cfg,
            **threads,
        ),
        "monte_carlo": cluster.monte_carlo(
            sma, {"fast": 20, "slow": 100}, bars, n=500, method="block_bootstrap", config=cfg, **threads
        ),
    }


def main() -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    out = REPO / "tmp" / "artefacts" / "reports"
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: report.write(res, out / f"{name}.html") for name, res in results().items()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        for name, path in paths.items():
            page.goto(path.as_uri())
            page.wait_for_selector(".main-svg")
            page.wait_for_timeout(500)
            box = page.locator(f"#{SHOTS[name]}").bounding_box()
            height = min(2200, int(box["y"] + box["height"] + 10))
            raw = out / f"{name}.png"
            page.screenshot(path=str(raw), clip={"x": 0, "y": 0, "width": 1200, "height": height}, full_page=True)
            img = Image.open(raw).convert("RGB")
            img = img.resize((img.width * 2 // 3, img.height * 2 // 3), Image.LANCZOS)
            img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
            target = REPO / "docs" / f"report-{name.replace('_', '-')}.png"
            img.save(target, optimize=True)
            print(f"{target.relative_to(REPO)}: {target.stat().st_size:,} bytes")
        browser.close()


if __name__ == "__main__":
    main()

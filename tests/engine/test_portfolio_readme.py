"""The README's "Portfolios" example runs as printed, on the shipped sample."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_portfolio_example_runs() -> None:
    text = README.read_text()
    section = text.split("## Portfolios", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2
    scope: dict = {}
    exec(compile(blocks[0], "README.md (Portfolios)", "exec"), scope)  # noqa: S102 - our own README
    res, table = scope["res"], scope["table"]
    assert repr(res).startswith("<PortfolioResult: 4 symbols x 3270 bars, total_return=3.3277, sharpe=0.538")
    assert abs(res.contributions.sum() - res.stats["net_pnl"]) < 1e-6 * res.stats["final_equity"]
    assert len(table) == 2
    exec(compile(blocks[1], "README.md (Portfolios, on_bar)", "exec"), scope)  # noqa: S102
    stepped = scope["res"]
    assert set(stepped.trades["symbol"]) <= {"AAPL", "IBM"} and stepped.stats["total_trades"] > 0

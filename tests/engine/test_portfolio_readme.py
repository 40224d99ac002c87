"""The README's "Portfolios" example runs as printed, on the shipped sample."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_portfolio_example_runs() -> None:
    text = README.read_text()
    section = text.split("## Portfolios", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    scope: dict = {}
    exec(compile(code, "README.md (Portfolios)", "exec"), scope)  # noqa: S102 - our own README
    res, table = scope["res"], scope["table"]
    assert repr(res).startswith("<PortfolioResult: 4 symbols x 3270 bars, total_return=3.3277, sharpe=0.538")
    assert abs(res.contributions.sum() - res.stats["net_pnl"]) < 1e-6 * res.stats["final_equity"]
    assert len(table) == 2

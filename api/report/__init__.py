"""Self-contained HTML reports of anvil's results — one module per result kind.

    from api import report
    report.write(result, "sweep.html")      # or result.report("sweep.html")
    rep = report.build(result)              # the report as data: sections, figures, tables
    rep.section("heatmap").figure.data      # what is drawn, testable before it is HTML

A report is one HTML file that opens offline: plotly.js (shipped inside the
``plotly`` package) is inlined once, each figure's data sits beside it as JSON. Long
series are thinned for display; tables hold the result's exact numbers. Nothing here
computes a metric: every one shown comes from the result object.

Reports live with the front doors (``api`` parses, validates, submits and reports);
the result classes of ``engine`` and ``cluster`` reach them only through their
``report()`` and ``_repr_html_()`` methods, which import this package when called.
"""

from __future__ import annotations

import html as _html
from pathlib import Path
from typing import Any

from api.report._page import Report, Section, Table, render, script_hashes

KINDS = ("backtest", "portfolio", "sweep", "walk_forward", "monte_carlo")

__all__ = ["KINDS", "Report", "Section", "Table", "build", "html", "kind_of", "notebook", "script_hashes", "write"]


def kind_of(result: Any) -> str:
    """Which report fits ``result``: one of ``KINDS``.

    Raises:
        TypeError: ``result`` is no anvil result.
    """
    name = type(result).__name__
    by_name = {
        "Result": "backtest",
        "SweepResult": "sweep",
        "WalkForwardResult": "walk_forward",
        "MonteCarloResult": "monte_carlo",
        "PortfolioResult": "portfolio",
    }
    if name in by_name:
        return by_name[name]
    if hasattr(result, "weights") and hasattr(result, "equity"):
        return "portfolio"
    raise TypeError(
        f"no report for a {name}; give an engine.Result, a cluster SweepResult, WalkForwardResult, "
        "MonteCarloResult or a portfolio result"
    )


def build(result: Any, **options: Any) -> Report:
    """The report of ``result`` as data (see ``report.backtest.build`` and friends for options)."""
    kind = kind_of(result)
    if kind == "backtest":
        from api.report.backtest import build as make
    elif kind == "sweep":
        from api.report.sweep import build as make
    elif kind == "walk_forward":
        from api.report.walk_forward import build as make
    elif kind == "monte_carlo":
        from api.report.monte_carlo import build as make
    else:
        from api.report.portfolio import build as make
    return make(result, **options)


def html(result: Any, **options: Any) -> str:
    """The report of ``result`` as one self-contained HTML document."""
    return render(build(result, **options))


def write(result: Any, path: str | Path, **options: Any) -> Path:
    """Write the report of ``result`` to ``path`` (an .html file); returns the path."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"a report is an HTML file; name it with .html, not {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html(result, **options), encoding="utf-8")
    return out


def notebook(result: Any, height: int = 900) -> str:
    """The report for a notebook cell: the whole document in a sandboxed iframe, so its
    scripts and styles stay inside it."""
    doc = _html.escape(html(result), quote=True)
    return (
        f'<iframe srcdoc="{doc}" sandbox="allow-scripts" style="width:100%;height:{int(height)}px;border:0"></iframe>'
    )

"""One report as data (sections of figures, tables and notes), and that data as one
self-contained HTML file: plotly.js inlined once, every figure's JSON beside it, every
string from a result or a user escaped. Nothing here computes a number."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

import plotly.graph_objects as go
import plotly.io as pio

Cell = Any
Rows = Sequence[Sequence[Cell]]


@dataclass
class Table:
    """A table of already-computed values: a header and rows (shown as they are)."""

    header: Sequence[str]
    rows: Rows
    caption: str = ""


@dataclass
class Section:
    """One part of a report: a title, then a figure and/or a table and a plain note."""

    title: str
    figure: go.Figure | None = None
    table: Table | None = None
    note: str = ""
    key: str = ""  # a stable name for tests and links (e.g. "equity")


@dataclass
class Report:
    """A whole report: its kind, headline, key figures and sections."""

    kind: str
    title: str
    subtitle: str = ""
    headline: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def section(self, key: str) -> Section:
        """The section named ``key`` (KeyError if the report has none)."""
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(
            f"this {self.kind} report has no section {key!r}; it has {', '.join(s.key for s in self.sections)}"
        )


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the ``plotly`` package (MIT; no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


_BOOT = """(function () {
  var nodes = document.querySelectorAll('script.anvil-figure');
  for (var i = 0; i < nodes.length; i++) {
    var spec = JSON.parse(nodes[i].textContent);
    var div = document.getElementById(nodes[i].getAttribute('data-target'));
    Plotly.newPlot(div, spec.data, spec.layout, {responsive: true, displaylogo: false});
  }
})();"""

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#1f2933;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cbd2d9}
main{max-width:1200px;margin:0 auto;padding:18px 28px}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin:0 0 14px}
.kpi{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:8px 14px;min-width:120px}
.kpi b{display:block;font-size:18px}.kpi span{color:#616e7c;font-size:12px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:12px 16px;margin:0 0 14px}
section h2{font-size:16px;margin:0 0 8px}.note{color:#3e4c59;margin:6px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border-bottom:1px solid #e4e7eb;padding:3px 10px;text-align:right}
th{background:#f5f7fa}td:first-child,th:first-child{text-align:left}
caption{text-align:left;color:#616e7c;padding:4px 0}
.figure{width:100%;min-height:320px}
footer{color:#7b8794;font-size:12px;padding:10px 28px 30px;text-align:center}
"""


def _json(fig: go.Figure) -> str:
    text = pio.to_json(fig, validate=False, engine="json")
    # inside <script>: no "</script>" or "<!--" may appear in the JSON text
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _table(t: Table) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in t.rows)
    cap = f"<caption>{esc(t.caption)}</caption>" if t.caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: Report) -> str:
    """``report`` as one HTML document that opens offline."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(report.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{esc(report.title)}</h1><p>{esc(report.subtitle)}</p></header><main>",
    ]
    if report.headline:
        cards = "".join(f'<div class="kpi"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in report.headline)
        parts.append(f'<div class="kpis" id="headline">{cards}</div>')
    figures = []
    for i, s in enumerate(report.sections):
        sid = esc(s.key or f"section-{i}")
        parts.append(f'<section id="{sid}" data-kind="{sid}"><h2>{esc(s.title)}</h2>')
        if s.note:
            parts.append(f'<p class="note">{esc(s.note)}</p>')
        if s.figure is not None:
            target = f"fig-{i}"
            parts.append(f'<div class="figure" id="{target}"></div>')
            figures.append(
                f'<script type="application/json" class="anvil-figure" data-target="{target}">'
                f"{_json(s.figure)}</script>"
            )
        if s.table is not None:
            parts.append(_table(s.table))
        parts.append("</section>")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(
        f"</main><footer>anvil {report.kind} report, made {stamp}. "
        "Charts show long series thinned for display; every number in a table is exact.</footer>"
    )
    parts.extend(figures)
    parts.append(f"<script>{plotly_js()}</script>")
    parts.append(f"<script>{_BOOT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)


_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def script_hashes(document: str) -> list[str]:
    """CSP source expressions (``'sha256-...'``) of the document's inline scripts, so a
    server can allow exactly these and nothing else."""
    import base64

    out = []
    for body in _SCRIPT.findall(document):
        digest = hashlib.sha256(body.encode()).digest()
        out.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return out


def dumps(value: Any) -> str:
    """A JSON text of plain values (for provenance tables)."""
    return json.dumps(value, sort_keys=True, default=str)

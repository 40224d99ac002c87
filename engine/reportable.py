"""What every result kind offers: an HTML report file and its view in a notebook.

The report is drawn by ``api.report`` (one module per result kind), imported when
asked for, so that the engine and the cluster load without the report layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Reportable:
    """``report(path)`` and ``_repr_html_`` for a result class (a mixin with no state)."""

    def report(self, path: str | Path, **options: Any) -> Path:
        """Write a self-contained HTML report of this result to ``path`` (see ``api.report``)."""
        from api import report

        return report.write(self, path, **options)

    def _repr_html_(self) -> str:
        from api import report

        return report.notebook(self)

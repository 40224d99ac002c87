"""Every result kind writes its report and shows it in a notebook the same way
(``engine.reportable.Reportable``)."""

from __future__ import annotations

import pytest

from api import report
from engine.reportable import Reportable


@pytest.mark.parametrize("name", ["backtest", "portfolio", "sweep", "walk_forward", "bootstrap", "permutation"])
def test_each_result_kind_writes_its_own_report(request: pytest.FixtureRequest, tmp_path, check_document, name: str):
    result = request.getfixturevalue(name)
    assert isinstance(result, Reportable)
    path = result.report(tmp_path / f"{name}.html")
    assert path == tmp_path / f"{name}.html"
    assert path.read_text(encoding="utf-8") == report.html(result)  # the report of its own kind
    check_document(path.read_text(encoding="utf-8"))
    assert result._repr_html_() == report.notebook(result)
    with pytest.raises(ValueError, match="name it with .html"):
        result.report(tmp_path / f"{name}.txt")

"""Each kind of report opened from its file in Chromium: every figure is drawn, nothing
is fetched from anywhere, and the console stays clean. Screenshots go to the artefacts."""

from __future__ import annotations

from typing import Any

import pytest

from api import report
from tests.api.browser import artefacts, browser  # noqa: F401 - the module's Chromium

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("name", ["backtest", "portfolio", "sweep", "walk_forward", "bootstrap", "permutation"])
def test_report_draws_every_figure_offline(browser: Any, request: pytest.FixtureRequest, tmp_path, name: str):
    result = request.getfixturevalue(name)
    rep = report.build(result)
    path = tmp_path / f"{name}.html"
    path.write_text(report.render(rep))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    context.route("**/*", lambda route: (requested.append(route.request.url), route.continue_()))
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.as_uri())
        want = sum(1 for s in rep.sections if s.figure is not None)
        page.locator(".js-plotly-plot .main-svg").nth(want - 1).wait_for()
        assert page.locator(".js-plotly-plot").count() == want
        page.screenshot(path=str(artefacts() / f"report-{name}.png"), full_page=True)
    finally:
        context.close()
    assert errors == []
    assert [u for u in requested if not u.startswith("file://")] == []

"""The web page in a real browser: Chromium (Playwright) against a real uvicorn.

Sign in; submit a sweep from the form and watch its progress move; read its report
(charts drawn, no console errors); download the CSV and compare it with the API's
rows; cancel a job; a bad form value shows its message by its field; an uploaded
strategy whose name and error carry ``<script>`` is shown escaped; requests without
the session or the CSRF token are refused. Each page is saved as a screenshot.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.browser import artefacts, browser  # noqa: F401 - the module's Chromium
from tests.api.conftest import SLOW_SOURCE, TOKEN, Server, all_rows, submit, upload_slow, wait_for

pytestmark = pytest.mark.timeout(300)


class Tab:
    """A browser tab on the service, with its console errors collected."""

    def __init__(self, context: Any, base: str) -> None:
        self.context = context
        self.page = context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def unexpected(self, *statuses: int) -> list[str]:
        """Console errors other than the browser's note of an expected refusal (e.g. 422)."""
        return [e for e in self.errors if not any(f"status of {s} " in e for s in statuses)]

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(artefacts() / f"{name}.png"), full_page=True)

    def sign_in(self) -> None:
        page = self.go("/")
        assert page.url.endswith("/login")
        page.fill("#token", TOKEN)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(self.base + "/")


@pytest.fixture
def tab(browser: Any, api_server: Server) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    t = Tab(context, api_server.url.removesuffix("/api/v1"))
    yield t
    context.close()


@pytest.fixture(scope="module")
def slow_id(api_server: Server) -> str:
    with api_server.client() as c:
        return upload_slow(c)


def test_sign_in_submit_a_sweep_watch_it_and_read_its_report(tab: Tab, api: httpx.Client, slow_id: str):
    tab.go("/login")
    tab.shot("login")
    tab.sign_in()
    page = tab.go(f"/submit?strategy={slow_id}&kind=sweep")
    page.fill('[data-path="space.window.low"]', "2")
    page.fill('[data-path="space.window.high"]', "120")
    page.fill('[data-path="space.window.step"]', "2")
    tab.shot("submit")
    page.click("#submit")
    page.wait_for_url(f"{tab.base}/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]
    seen = set()
    deadline = time.monotonic() + 120
    while page.get_attribute("#job", "data-status") != "done":
        seen.add(page.text_content("#progress-text"))
        assert time.monotonic() < deadline, f"the job never finished; saw {seen}"
        page.wait_for_timeout(100)
    moving = {s for s in seen if s and not s.startswith("0 of") and not s.startswith("60 of")}
    assert moving, f"progress never showed a value between start and end: {seen}"
    frame = page.frame_locator("#report")
    frame.locator(".js-plotly-plot").first.wait_for()
    frame.locator("#marginals .js-plotly-plot .main-svg").first.wait_for()  # one parameter: no heatmap
    assert frame.locator("#top table tbody tr").count() == 20
    page.wait_for_timeout(300)
    tab.shot("job-sweep-report")
    assert tab.errors == []

    with page.expect_download() as info:
        page.click("#csv")
    text = info.value.path().read_text()
    got = list(csv.DictReader(io.StringIO(text)))
    rows = all_rows(api, job_id)
    assert len(got) == len(rows) == 60
    by_id = {int(r["item_id"]): r for r in rows}
    assert sorted(by_id) == sorted(int(r["item_id"]) for r in got)
    for r in got:  # every column of every row
        want = by_id[int(r["item_id"])]
        assert set(r) == set(want)
        for column, value in want.items():
            if value is None or value == "":
                assert r[column] in ("", "NaN", "nan"), (column, r[column])
            elif isinstance(value, bool):
                assert r[column].lower() == str(value).lower(), column
            elif isinstance(value, (int, float)):
                assert float(r[column]) == pytest.approx(value, rel=1e-12, nan_ok=True), column
            else:
                assert r[column] == str(value), column

    page = tab.go("/")
    page.locator(f"#job-{job_id}").wait_for()
    assert page.text_content(f"#job-{job_id} .status") == "done"
    page.select_option("#filter-kind", "backtest")
    page.locator(f"#job-{job_id}").wait_for(state="detached")
    page.select_option("#filter-kind", "sweep")
    page.locator(f"#job-{job_id}").wait_for()
    tab.shot("jobs")
    assert tab.errors == []


def test_cancel_a_running_job(tab: Tab, api: httpx.Client, slow_id: str):
    job = submit(
        api,
        {
            "kind": "sweep",
            "strategy": slow_id,
            "data": {"symbol": "SPX"},
            "space": {"window": {"low": 2, "high": 400, "step": 1}},
        },
    )
    tab.sign_in()
    page = tab.go("/")  # the list follows the running job
    row = f"#job-{job['id']}"
    page.locator(f'{row}[data-status="running"]').wait_for()
    shown, deadline = set(), time.monotonic() + 120
    while not any(s not in ("0 %", "100 %") for s in shown):
        assert time.monotonic() < deadline, f"the list never showed the job's progress move: {shown}"
        shown.add(page.text_content(f"{row} .progress-cell"))
        page.wait_for_timeout(100)
    page = tab.go(f"/jobs/{job['id']}")
    page.locator("#cancel").wait_for(state="visible")
    page.click("#cancel")
    page.wait_for_selector('#job[data-status="cancelled"]')
    assert wait_for(api, job["id"])["status"] == "cancelled"
    page.locator("#resume").wait_for(state="visible")
    tab.shot("job-cancelled")
    page.click("#resume")
    page.locator('#job:not([data-status="cancelled"])').wait_for()  # (the CSP forbids wait_for_function's eval)
    # The page shows it queued again at once; its second attempt counts when a runner starts it.
    deadline = time.monotonic() + 60
    while (record := api.get(f"/jobs/{job['id']}").json())["attempts"] < 2 and record["status"] == "queued":
        assert time.monotonic() < deadline, f"the resumed job never started: {record['status']}"
        time.sleep(0.1)
    assert record["attempts"] == 2, record
    api.delete(f"/jobs/{job['id']}")  # not to slow the tests after this one
    wait_for(api, job["id"])
    assert tab.errors == []


@pytest.mark.parametrize(
    "kind, fill, section",
    [
        ("backtest", {"params.fast": "15", "params.slow": "60"}, "panels"),
        (
            "walk_forward",
            {
                "space.fast.low": "5",
                "space.fast.high": "25",
                "space.fast.step": "10",
                "space.slow.low": "50",
                "space.slow.high": "150",
                "space.slow.step": "50",
                "space.short.values": "false",
                "train": "1500",
                "test": "500",
            },
            "timeline",
        ),
        ("monte_carlo", {"n": "30", "params.fast": "15", "params.slow": "60"}, "distribution"),
    ],
)
def test_other_kinds_from_the_form(tab: Tab, api: httpx.Client, kind: str, fill: dict[str, str], section: str):
    tab.sign_in()
    page = tab.go(f"/submit?strategy=sma_cross&kind={kind}")
    for path, value in fill.items():
        page.fill(f'[data-path="{path}"]', value)
    page.click("#submit")
    page.wait_for_url(f"{tab.base}/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]
    assert wait_for(api, job_id)["status"] == "done"
    page.wait_for_selector('#job[data-status="done"]')
    frame = page.frame_locator("#report")
    frame.locator(f"#{section} .main-svg").first.wait_for()
    spec = api.get(f"/jobs/{job_id}").json()["spec"]
    assert spec["kind"] == kind and spec["data"]["symbol"] == "IXIC"  # the catalog's first symbol
    tab.shot(f"job-{kind.replace('_', '-')}-report")
    assert tab.errors == []


def test_a_sweep_over_several_symbols_from_the_form(tab: Tab, api: httpx.Client):
    tab.sign_in()
    page = tab.go("/submit?strategy=sma_cross&kind=sweep")
    page.select_option('[data-path="data"]', ["IXIC|1d", "SPX|1d"])
    page.fill('[data-path="data.start"]', "2010-01-01")
    for path, value in {
        "space.fast.low": "5",
        "space.fast.high": "15",
        "space.fast.step": "5",
        "space.slow.low": "50",
        "space.slow.high": "100",
        "space.slow.step": "50",
        "space.short.values": "false",
    }.items():
        page.fill(f'[data-path="{path}"]', value)
    page.click("#submit")
    page.wait_for_url(f"{tab.base}/jobs/*")
    spec = api.get(f"/jobs/{page.url.rsplit('/', 1)[1]}").json()["spec"]
    assert [(d["symbol"], d["start"][:10]) for d in spec["data"]] == [("IXIC", "2010-01-01"), ("SPX", "2010-01-01")]
    assert spec["space"]["short"] == [False]
    assert tab.errors == []


def test_a_bad_form_value_shows_its_message_by_its_field(tab: Tab):
    tab.sign_in()
    page = tab.go("/submit?strategy=sma_cross&kind=sweep")
    page.fill('[data-path="config.fee_rate"]', "-1")
    page.click("#submit")
    message = page.locator('[data-error-for="config.fee_rate"]')
    message.wait_for(state="visible")
    assert "fee_rate" in message.text_content() and ">= 0" in message.text_content()
    page.fill('[data-path="config.fee_rate"]', "0")
    page.fill('[data-path="n_trials"]', "0")
    page.click("#submit")
    page.locator('[data-error-for="n_trials"]').wait_for(state="visible")
    assert page.url.endswith("kind=sweep")  # nothing was submitted
    tab.shot("submit-error")
    assert tab.unexpected(422) == []


def test_an_uploaded_strategys_name_and_error_are_shown_escaped(tab: Tab):
    tab.sign_in()
    page = tab.go("/strategies")
    evil = SLOW_SOURCE.replace(
        "class SlowTrend(Strategy):",
        "class SlowTrend(Strategy):\n    name = '<script>window.pwned=1</script><img src=x onerror=alert(1)>'",
    )
    page.fill("#strategy-source", evil)
    page.click("#upload-strategy button[type=submit]")
    page.locator("#upload-ok").wait_for(state="visible")
    page.wait_for_load_state("load")
    page.locator("td.name", has_text="<script>window.pwned=1</script>").wait_for()
    bad = "x = '<script>window.pwned=2</script>'\nimport os\n"
    page.fill("#strategy-source", bad)
    page.click("#upload-strategy button[type=submit]")
    err = page.locator("#upload-error")
    err.wait_for(state="visible")
    assert "line 2:1: import os" in err.text_content()  # the refusal, with its line:col
    assert page.evaluate("window.pwned") is None
    assert page.locator("#upload-error script, td.name script, td.name img").count() == 0
    tab.shot("strategies")
    assert tab.unexpected(422) == []


def test_import_data_from_the_data_page(tab: Tab, tmp_path):
    tab.sign_in()
    page = tab.go("/data")
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,open,high,low,close,volume\n2020-01-02,10,9,8,9.5,100\n")
    page.set_input_files("#data-file", str(bad))
    page.fill("#data-symbol", "<b>BAD</b>")
    page.click("#upload-data button[type=submit]")
    err = page.locator("#data-error")
    err.wait_for(state="visible")
    assert "line 2: open (10.0) is outside [low, high]" in err.text_content()  # the store's words
    assert page.locator("#data-error b").count() == 0
    good = tmp_path / "good.csv"
    good.write_text("ts,open,high,low,close,volume\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12,10,11,120\n")
    page.set_input_files("#data-file", str(good))
    page.fill("#data-symbol", "WEBTEST")
    page.fill("#data-timeframe", "1d")
    page.click("#upload-data button[type=submit]")
    page.locator("#catalog td", has_text="WEBTEST").wait_for()
    tab.shot("data")
    assert tab.unexpected(422) == []


def test_requests_without_the_session_or_the_csrf_token_are_refused(tab: Tab, browser: Any):
    tab.sign_in()
    spec = {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}}
    no_csrf = tab.page.request.post(f"{tab.base}/api/v1/jobs", data=spec)
    assert no_csrf.status == 403
    stranger = browser.new_context()
    try:
        r = stranger.request.post(f"{tab.base}/api/v1/jobs", data=spec)
        assert r.status == 401
        assert stranger.request.get(f"{tab.base}/api/v1/jobs").status == 401
    finally:
        stranger.close()
    cookies = tab.context.cookies()
    session = next(c for c in cookies if c["name"] == "anvil_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert tab.page.evaluate("document.cookie") == ""


EVIL_ERROR = "<script>window.pwned=3</script><img src=x onerror=alert(3)>"
FAILING = f"""\
from strategies import Int, Strategy


class Failing(Strategy):
    \"\"\"Raises an error whose message is markup.\"\"\"

    name = "<script>window.pwned=4</script>"
    window = Int(20, low=2, high=400)

    def signals(self, bars, window):
        raise ValueError({EVIL_ERROR!r})
"""


def test_a_jobs_error_from_an_uploaded_strategy_is_shown_escaped(tab: Tab, api: httpx.Client):
    r = api.post("/strategies", json={"source": FAILING})
    assert r.status_code == 201, r.text
    job = wait_for(api, submit(api, {"kind": "backtest", "strategy": r.json()["id"], "data": {"symbol": "SPX"}})["id"])
    assert job["status"] == "failed" and EVIL_ERROR in job["error"]
    tab.sign_in()
    served = tab.page.request.get(f"{tab.base}/jobs/{job['id']}").text()  # as the server wrote it
    assert "&lt;script&gt;window.pwned=3&lt;/script&gt;" in served and "<script>window.pwned" not in served
    page = tab.go(f"/jobs/{job['id']}")
    err = page.locator("#job-error")
    err.wait_for(state="visible")
    page.wait_for_timeout(500)  # the script shows the job again from the API (textContent)
    assert EVIL_ERROR in err.text_content()  # the markup as text
    assert page.locator("#job-error *").count() == 0
    page = tab.go("/")
    page.locator(f"#job-{job['id']}").wait_for()
    assert page.locator(f"#job-{job['id']} script, #job-{job['id']} img").count() == 0
    assert page.evaluate("window.pwned") is None
    tab.shot("job-failed-escaped")
    assert tab.errors == []

"""The web page over plain HTTP: sign-in, the session cookie, CSRF, the CSP, escaping,
and the report endpoint (the browser tests drive the same page in Chromium)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import TOKEN, Server, submit, upload_slow, wait_for

SWEEP = {
    "kind": "sweep",
    "strategy": "sma_cross",
    "data": {"symbol": "SPX"},
    "space": {"fast": {"low": 5, "high": 30, "step": 5}, "slow": {"low": 40, "high": 120, "step": 40}},
}


def root(server: Server) -> str:
    return server.url.removesuffix("/api/v1")


def sign_in(server: Server, token: str = TOKEN) -> tuple[httpx.Client, httpx.Response]:
    """A browser-like client (cookies, no bearer token) after posting the sign-in form."""
    c = httpx.Client(base_url=root(server), timeout=30)
    form = c.get("/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"token": token, "nonce": nonce})
    return c, r


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/")
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def browser_client(api_server: Server) -> Iterator[httpx.Client]:
    c, r = sign_in(api_server)
    assert r.status_code == 303, r.text
    yield c
    c.close()


def test_pages_need_a_session(api_server: Server):
    with httpx.Client(base_url=root(api_server)) as c:
        for path in ("/", "/submit", "/strategies", "/data", "/jobs/0123456789abcdef"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/login", path


def test_sign_in_sets_a_cookie_no_script_can_read(api_server: Server):
    c, r = sign_in(api_server)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("anvil_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert c.get("/").status_code == 200
    c.close()


def test_a_wrong_token_or_a_missing_form_nonce_is_refused(api_server: Server):
    c, r = sign_in(api_server, token="not-the-token")
    assert r.status_code == 401 and "not the service&#39;s token" in r.text
    assert "set-cookie" not in r.headers or "anvil_session" not in r.headers["set-cookie"]
    c.close()
    with httpx.Client(base_url=root(api_server)) as c2:  # a cross-site form has no nonce cookie
        r = c2.post("/login", data={"token": TOKEN, "nonce": "forged"})
        assert r.status_code == 401 and "anvil_session" not in r.headers.get("set-cookie", "")


def test_every_page_has_a_csp_without_inline_or_outside_scripts(browser_client: httpx.Client):
    for path in ("/login", "/", "/submit", "/strategies", "/data", "/static/app.js"):
        r = browser_client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        script = re.search(r"script-src ([^;]+)", csp).group(1)  # type: ignore[union-attr]
        assert script.strip() == "'self'", csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        if path != "/static/app.js":
            assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) is None, "an inline script"
            assert re.search(r"<[^>]+\s(on\w+|style)=", r.text) is None, "an inline handler or style"


def test_the_api_takes_the_session_for_reads_and_the_csrf_token_for_writes(
    browser_client: httpx.Client, api_server: Server
):
    assert browser_client.get("/api/v1/jobs").status_code == 200
    r = browser_client.post("/api/v1/jobs", json=SWEEP)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = browser_client.post("/api/v1/jobs", json=SWEEP, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = browser_client.post("/api/v1/jobs", json=SWEEP, headers={"X-CSRF-Token": csrf_of(browser_client)})
    assert r.status_code == 202, r.text
    with httpx.Client(base_url=root(api_server)) as anonymous:
        assert anonymous.post("/api/v1/jobs", json=SWEEP).status_code == 401
        assert anonymous.get("/api/v1/jobs").status_code == 401


def test_sign_out_ends_the_session(api_server: Server):
    c, _ = sign_in(api_server)
    token = csrf_of(c)
    assert c.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert c.post("/logout", data={"csrf": token}).status_code == 303
    assert c.get("/api/v1/jobs").status_code == 401
    c.close()


def test_user_strings_are_escaped_in_pages(browser_client: httpx.Client, api: httpx.Client):
    source = (
        '"""Evil."""\nfrom strategies import Int, Strategy\n\n\nclass Evil(Strategy):\n'
        '    """<script>alert(1)</script>"""\n\n    name = "<script>alert(2)</script>"\n'
        "    window = Int(5, low=2, high=50)\n\n    def signals(self, bars):\n"
        "        return bars.close > 0\n"
    )
    r = api.post("/strategies", json={"source": source})
    assert r.status_code == 201, r.text
    for path in ("/strategies", f"/submit?strategy={r.json()['id']}&kind=backtest"):
        page = browser_client.get(path).text
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_the_submit_form_follows_the_parameter_schema(browser_client: httpx.Client):
    page = browser_client.get("/submit?strategy=sma_cross&kind=sweep").text
    for path in (
        "space.fast.low",
        "space.fast.high",
        "space.fast.step",
        "space.slow.low",
        "space.short.values",
        "config.fee_rate",
        "config.fill",
        "method",
        "metric",
        "n_trials",
        "data",
    ):
        assert f'data-path="{path}"' in page, path
    assert 'value="SPX|1d"' in page  # symbols come from the store's catalog
    page = browser_client.get("/submit?strategy=sma_cross&kind=backtest").text
    assert 'data-path="params.fast"' in page and 'value="10"' in page  # the default


def test_the_submit_form_offers_only_strategies_its_data_field_can_feed(browser_client: httpx.Client):
    # its data field picks single series: a universe strategy chosen there could only end in a 422
    page = browser_client.get("/submit?strategy=cross_sectional_momentum&kind=backtest").text
    assert 'value="sma_cross"' in page
    assert 'value="cross_sectional_momentum"' not in page and "params.lookback" not in page


def test_a_finished_job_has_a_report_with_its_scripts_pinned(api: httpx.Client, browser_client: httpx.Client):
    job = submit(api, SWEEP)
    done = wait_for(api, job["id"])
    assert done["status"] == "done"
    r = api.get(f"/jobs/{job['id']}/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    assert len(scripts) == 2
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "sandbox allow-scripts" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "Sweep — SmaCross" in r.text
    assert browser_client.get(f"/api/v1/jobs/{job['id']}/report").status_code == 200
    dl = api.get(f"/jobs/{job['id']}/report", params={"download": "true"})
    assert "attachment" in dl.headers["content-disposition"]


def test_report_of_an_unknown_or_unfinished_job(api: httpx.Client):
    assert api.get("/jobs/0123456789abcdef0123456789abcdef/report").status_code == 404
    slow = upload_slow(api)
    spec = {"kind": "sweep", "strategy": slow, "data": {"symbol": "SPX"}, "space": {"window": list(range(2, 400))}}
    job = submit(api, spec)
    try:
        r = api.get(f"/jobs/{job['id']}/report")
        assert r.status_code == 409 and "its report is written when it is done" in r.json()["detail"], r.text
    finally:
        api.delete(f"/jobs/{job['id']}")
        wait_for(api, job["id"])
    assert api.get(f"/jobs/{job['id']}/report").status_code == 409  # cancelled: no report either


def test_a_backtest_jobs_report_draws_the_strategys_own_lines(api: httpx.Client):
    spec = {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "params": {"fast": 15, "slow": 60}}
    job = wait_for(api, submit(api, spec)["id"])
    assert job["status"] == "done", job
    doc = api.get(f"/jobs/{job['id']}/report").text
    for line in ("SMA 15", "SMA 60"):
        assert re.search(rf'"name":\s*"{line}"', doc), line

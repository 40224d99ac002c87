"""Security at the door: bearer tokens, body and job size limits, strict specs, safe names."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from api.settings import Settings
from tests.api.conftest import TOKEN, Server, server_env, submit, wait_for

SOME_ID = "0123456789abcdef0123456789abcdef"
DATA = Path(__file__).resolve().parents[1] / "data"


def every_operation(api) -> list[tuple[str, str]]:
    schema = api.get("/openapi.json").json()
    out = []
    for path, methods in schema["paths"].items():
        for method in methods:
            out.append((method.upper(), path.removeprefix("/api/v1").replace("{job_id}", SOME_ID)))
    return out


def test_every_endpoint_but_health_needs_the_token(api_server, api):
    operations = every_operation(api)
    assert len(operations) >= 11
    bad_headers = [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ]
    with api_server.client(token=None) as anonymous:
        for method, path in [*operations, ("GET", "/openapi.json")]:
            for headers in bad_headers:
                r = anonymous.request(method, path, headers=headers)
                if path == "/health":
                    assert r.status_code == 200
                    continue
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
        assert anonymous.get("/health").json()["status"] == "ok"
    assert api.get("/jobs").status_code == 200


def test_bodies_over_the_limits_are_refused_with_413(api):
    huge = {
        "kind": "sweep",
        "strategy": "sma_cross",
        "data": {"symbol": "SPX"},
        "space": {"fast": list(range(200_000))},
    }
    r = api.post("/jobs", json=huge)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]

    upload = b"Date,Open,High,Low,Close,Volume\n" + b"2024-01-02,50,51,49,50.5,100\n" * 20_000  # ~580 kB > 300 kB
    r = api.post("/data", params={"symbol": "BIG", "name": "big.csv"}, content=upload)
    assert r.status_code == 413

    def chunks():  # no Content-Length: the limit holds as the body streams in
        for _ in range(40):
            yield upload[:20_000]

    r = api.post("/data", params={"symbol": "BIG", "name": "big.csv"}, content=chunks())
    assert r.status_code == 413
    assert all(s["symbol"] != "BIG" for s in api.get("/data").json()["data"])


def test_a_job_over_the_item_cap_is_refused_before_it_runs(api):
    before = api.get("/jobs").json()["count"]
    big = {
        "kind": "sweep",
        "strategy": "sma_cross",
        "data": {"symbol": "SPX"},
        "space": {"fast": {"low": 2, "high": 100, "step": 1}, "slow": {"low": 5, "high": 400, "step": 1}},
    }
    r = api.post("/jobs", json=big)
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "space"] and "at most 20,000" in detail["msg"]
    r = api.post("/jobs", json={"kind": "monte_carlo", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "n": 30_000})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "n"]
    assert api.get("/jobs").json()["count"] == before


@pytest.mark.parametrize(
    ("spec", "loc", "words"),
    [
        (
            {"kind": "sweep", "strategy": "sma_crosss", "data": {"symbol": "SPX"}, "space": {"fast": [5]}},
            ["body", "strategy"],
            "did you mean 'sma_cross'",
        ),
        ({"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "NOPE"}}, ["body", "data"], "NOPE"),
        (
            {
                "kind": "sweep",
                "strategy": "sma_cross",
                "data": {"symbol": "SPX"},
                "space": {"fast": [5]},
                "metric": "sharp",
            },
            ["body", "metric"],
            "did you mean 'sharpe'",
        ),
        (
            {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "params": {"fast": 500}},
            ["body", "params"],
            "fast",
        ),
        (
            {"kind": "sweep", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "space": {"fats": [5]}},
            ["body", "space"],
            "fast",
        ),
        (
            {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "config": {"fee_rate": -1}},
            ["body", "config"],
            "fee_rate",
        ),
        (
            {
                "kind": "walk_forward",
                "strategy": "sma_cross",
                "data": {"symbol": "SPX"},
                "space": {"fast": [5]},
                "train": 100_000,
                "test": 10,
            },
            ["body", "train"],
            "",
        ),
        (
            {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "colour": "red"},
            ["body", "backtest", "colour"],
            "Extra inputs",
        ),
        ({"kind": "bake", "strategy": "sma_cross"}, ["body"], "backtest"),
        (
            {"kind": "monte_carlo", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "n": 0},
            ["body", "monte_carlo", "n"],
            "greater than",
        ),
    ],
)
def test_invalid_specs_get_422_naming_the_field_and_never_run(api, spec, loc, words):
    before = api.get("/jobs").json()["count"]
    r = api.post("/jobs", json=spec)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"][: len(loc)] == loc, detail
    assert words in str(detail)
    assert api.get("/jobs").json()["count"] == before


def test_malformed_json_is_422(api):
    r = api.post("/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422


def test_an_uploaded_file_name_is_a_label_never_a_path(api, api_server):
    content = (DATA / "yahoo_acme.csv").read_bytes()
    r = api.post(
        "/data", params={"symbol": "ACME", "timeframe": "1d", "name": "../../../../tmp/evil.csv"}, content=content
    )
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "evil.csv"
    assert not Path("/tmp/evil.csv").exists()
    assert not (api_server.folder.parent / "evil.csv").exists()


def test_a_generated_token_lives_in_a_file_only_its_owner_can_read(tmp_path):
    env = server_env(tmp_path, ANVIL_API_TOKEN="")
    token_file = tmp_path / "api-token"
    server = Server(tmp_path, env).start()
    try:
        assert token_file.exists()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32 and token != TOKEN
        with server.client(token=token) as api:
            assert api.get("/jobs").status_code == 200
        with server.client() as other:
            assert other.get("/jobs").status_code == 401
    finally:
        server.kill()

    server = Server(tmp_path, env).start()  # a restart keeps the token
    try:
        with server.client(token=token) as api:
            assert api.get("/jobs").status_code == 200
    finally:
        server.kill()

    os.chmod(token_file, 0o644)  # readable by others: the service will not use it
    with pytest.raises(RuntimeError, match="chmod 600"):
        Server(tmp_path, env).start()


def test_the_service_binds_to_loopback_unless_told_otherwise():
    assert Settings.model_fields["host"].default == "127.0.0.1"
    assert Settings(host="0.0.0.0").host == "0.0.0.0"


def test_jobs_run_fine_after_all_that(api):
    job = wait_for(api, submit(api, {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}})["id"])
    assert job["status"] == "done"


def test_what_anvil_serve_points_at_is_there_and_no_docs_page_is_claimed(tmp_path: Path):
    """A real ``anvil serve``: the schema its start-up line names answers (with the token),
    and nothing it says points at /docs, which is a 404 (issue 13: it said "interactive
    docs at /docs")."""
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from tests.api.conftest import REPO, free_port

    port = free_port()
    env = server_env(tmp_path, ANVIL_ADDRESS="local-threads")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=out
        )
    server = Server(tmp_path, env, port=port, proc=proc)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        said = log.read_text()
        assert f"http://127.0.0.1:{port}/api/v1 (its OpenAPI schema: /api/v1/openapi.json, with the token)" in said
        with server.client() as api:
            assert api.get("/openapi.json").json()["paths"]
            assert api.get(f"http://127.0.0.1:{port}/docs").status_code == 404
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        server.kill()
    helped = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--help"], cwd=REPO, env=env, capture_output=True, text=True
    ).stdout
    assert "/api/v1/openapi.json" in helped
    assert "/docs" not in said + helped  # (the log after it holds our own GET /docs)

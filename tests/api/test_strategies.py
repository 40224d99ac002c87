"""``/strategies``: the library with parameter schemas; uploads checked by the loader, then run."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import all_rows, submit, upload_slow, wait_for

VECTORIZED = '''\
import numpy as np
from strategies import Int, Strategy, indicators


class AboveSma(Strategy):
    """Long while the close is above its SMA."""

    window = Int(20, low=2, high=200)

    def signals(self, bars, window):
        return np.where(bars.close > indicators.sma(bars.close, window), 1, 0).astype(np.int8)
'''
DATA = {"symbol": "SPX", "start": "2010-01-01"}


def descendants(pid: int) -> list[str]:
    """Names of every process below ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        me = int(stat.parent.name)
        parent[me], names[me] = int(fields[1]), name
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += [names[c] for c in kids]
        frontier += kids
    return found


def test_the_library_is_listed_with_parameter_schemas(api):
    body = api.get("/strategies").json()
    builtin = {s["id"]: s for s in body["data"] if s["builtin"]}
    assert len(builtin) == 12 + 6 and body["count"] == len(body["data"])  # single-series, then universe
    assert sum(s["runs_on"] == "universe" for s in builtin.values()) == 6
    sma = builtin["sma_cross"]
    assert sma["name"] == "SmaCross" and sma["kind"] == "vectorized" and sma["doc"]
    assert sma["parameters"]["fast"]["type"] == "int"
    assert {"low", "high", "default", "step"} <= set(sma["parameters"]["fast"])
    assert sma["constraints"] == ["fast < slow"]


def test_an_upload_gets_an_id_that_jobs_can_name(api):
    r = api.post("/strategies", json={"source": VECTORIZED})
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["id"].startswith("up_") and up["builtin"] is False and up["name"] == "AboveSma"
    assert up["parameters"]["window"]["default"] == 20
    assert api.post("/strategies", json={"source": VECTORIZED}).json()["id"] == up["id"]  # same source, same id
    listed = [s for s in api.get("/strategies").json()["data"] if s["id"] == up["id"]]
    assert len(listed) == 1 and listed[0]["uploaded_at"]

    job = wait_for(
        api, submit(api, {"kind": "sweep", "strategy": up["id"], "data": DATA, "space": {"window": [10, 20, 50]}})["id"]
    )
    assert job["status"] == "done", job["error"]
    assert {row["window"] for row in all_rows(api, job["id"])} == {10, 20, 50}
    bad = api.post("/jobs", json={"kind": "backtest", "strategy": up["id"], "data": DATA, "params": {"windo": 3}})
    assert bad.status_code == 422 and "did you mean 'window'" in bad.json()["detail"][0]["msg"]


def test_refused_sources_get_422_with_the_reason(api):
    cases = {
        "import os\n": "os",
        "from strategies import Strategy\nclass X(Strategy):\n    def signals(self, bars):\n"
        "        return open('/etc/passwd')\n": "open",
        "x = 1\n": "Strategy",
        "def broken(:\n": "line 1",
    }
    for source, words in cases.items():
        r = api.post("/strategies", json={"source": source})
        assert r.status_code == 422, source
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", "source"] and words in detail["msg"], detail
    assert api.post("/strategies", json={"source": ""}).status_code == 422
    assert api.post("/strategies", json={"code": VECTORIZED}).status_code == 422


def test_an_uploaded_strategy_runs_on_ray_workers(launch_server, api):
    """A real local Ray: the uploaded class travels as its source and is loaded again on the
    worker (never pickled), giving the same table as threads in the service's own process."""
    spec = {"kind": "sweep", "data": DATA, "space": {"window": [10, 30, 60, 120]}}
    local = wait_for(api, submit(api, {**spec, "strategy": upload_slow(api)})["id"])
    ray_server = launch_server(ANVIL_ADDRESS="", ANVIL_WORKERS="2")
    try:
        with ray_server.client() as ray_api:
            slow = upload_slow(ray_api)
            job = wait_for(ray_api, submit(ray_api, {**spec, "strategy": slow})["id"], timeout=300)
            assert job["status"] == "done", job["error"]
            on_ray = all_rows(ray_api, job["id"])
        assert ray_server.proc is not None
        family = descendants(ray_server.proc.pid)
        assert any("raylet" in name for name in family), family  # the service started a local Ray
    finally:
        ray_server.stop()
    assert [r["sharpe"] for r in on_ray] == [r["sharpe"] for r in all_rows(api, local["id"])]
    assert all(r["error"] is None for r in on_ray)

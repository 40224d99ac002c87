"""Requests that cannot cost more than they say: submit-time bombs answered 422 at once.

A real service (uvicorn on 127.0.0.1) with a small grid limit takes each bomb —
a grid of 10^15 points, a product of ranges over the limit, a step of 1e-300,
``Infinity`` and ``NaN`` bounds, a timeframe of 10^20 days, a constraint that
compares text with a number — and must answer 422 naming the field, the size and
the limit, without listing anything: the server's memory (RSS) stays flat across
all of them, and no job is created. Latencies are recorded (``record_property``),
never asserted: the machine is shared.
(``pytest tests/api/test_bombs.py -rA`` prints them.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Server

MAX_GRID = 100_000
SPX = {"symbol": "SPX"}

# An upload whose constraint compares a parameter holding text with a number: the
# check used to raise TypeError (a 500); now the constraint says which parameter.
TEXT_CONSTRAINT = '''\
"""Long or flat, by a mode that is text."""
import numpy as np
from strategies import Categorical, Int, Strategy


class Moody(Strategy):
    """Long or flat, by a mode that is text."""

    window = Int(20, low=2, high=200)
    mode = Categorical("long", ["long", "flat"])
    constraints = ("mode < window",)

    def signals(self, bars):
        return np.zeros(len(bars.close), np.int8)
'''


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def record(request: pytest.FixtureRequest, name: str, value: float) -> None:
    """Keep a figure with the test's report (shown by ``-rA``), never asserted."""
    request.node.user_properties.append((name, round(value, 1)))
    print(f"{request.node.name}: {name} = {value:.1f}")


def sweep(space: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"kind": "sweep", "strategy": "sma_cross", "data": SPX, "space": space, **more}


BOMBS = [
    pytest.param(
        sweep({"fast": {"low": 2, "high": 1e15, "step": 1}, "slow": [50]}),
        ["body", "space", "fast"],
        ["999,999,999,999,999 values", f"at most {MAX_GRID:,}"],
        id="1e15-values",
    ),
    pytest.param(
        sweep({"fast": {"low": 2, "high": 1001, "step": 1}, "slow": {"low": 5, "high": 1004, "step": 1}}),
        ["body", "space"],
        ["1,000,000 points", f"at most {MAX_GRID:,}", "max_grid_points"],
        id="product-over-limit",
    ),
    pytest.param(
        sweep({"fast": {"low": 2, "high": 50, "step": 1e-300}, "slow": [50]}),
        ["body", "space", "fast"],
        ["values", f"at most {MAX_GRID:,}"],
        id="tiny-step",
    ),
    pytest.param(
        sweep({"fast": {"low": 2, "high": 1e15, "step": 1}, "slow": [50]}, method="random", n_trials=10),
        ["body", "space", "fast"],
        ["values", f"at most {MAX_GRID:,}"],
        id="random-over-a-huge-list",
    ),
    pytest.param(
        '{"kind": "sweep", "strategy": "sma_cross", "data": {"symbol": "SPX"}, '
        '"space": {"fast": {"low": 2, "high": Infinity, "step": 1}}}',
        ["body", "sweep", "space", "fast"],
        ["finite"],
        id="high-Infinity",
    ),
    pytest.param(
        '{"kind": "sweep", "strategy": "sma_cross", "data": {"symbol": "SPX"}, '
        '"space": {"fast": {"low": NaN, "high": 5, "step": 1}}}',
        ["body", "sweep", "space", "fast"],
        ["finite"],
        id="low-NaN",
    ),
    pytest.param(
        '{"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}, '
        '"config": {"initial_capital": Infinity}}',
        ["body", "backtest", "config", "initial_capital"],
        ["finite"],
        id="capital-Infinity",
    ),
    pytest.param(
        {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX", "timeframe": "99999999999999999999d"}},
        ["body", "data"],
        ["wider than anvil reads", "366d"],
        id="timeframe-1e20-days",
    ),
    pytest.param(
        {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX", "timeframe": "9" * 5000 + "d"}},
        ["body", "backtest", "data", "timeframe"],
        ["at most 32"],
        id="timeframe-5000-digits",
    ),
]


@pytest.fixture(scope="module")
def bomb_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.api.conftest import server_env

    folder = tmp_path_factory.mktemp("bombs")
    server = Server(folder, server_env(folder, ANVIL_MAX_GRID_POINTS=str(MAX_GRID))).start()
    yield server
    server.kill()


def _post(client: Any, body: Any) -> Any:
    if isinstance(body, str):
        return client.post("/jobs", content=body.encode(), headers={"Content-Type": "application/json"})
    return client.post("/jobs", json=body)


@pytest.mark.parametrize("body, loc, words", BOMBS)
def test_a_submit_time_bomb_is_422_naming_the_field_and_the_limit(
    bomb_server: Server, body: Any, loc: list[Any], words: list[str], request: pytest.FixtureRequest
) -> None:
    with bomb_server.client() as client:
        before = client.get("/jobs").json()["count"]
        started = time.perf_counter()
        r = _post(client, body)
        record(request, "latency_ms", (time.perf_counter() - started) * 1000)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        # a field of one form of a union (data: DataSpec | UniverseSpec) has the form's name in its loc
        named = [part for part in detail[0]["loc"] if part not in ("DataSpec", "UniverseSpec")]
        assert named[: len(loc)] == loc, detail
        for word in words:
            assert word in json.dumps(detail), detail
        assert client.get("/jobs").json()["count"] == before


def test_a_constraint_on_text_is_422_naming_the_parameter(bomb_server: Server, request: pytest.FixtureRequest) -> None:
    with bomb_server.client() as client:
        r = client.post("/strategies", json={"source": TEXT_CONSTRAINT})
        assert r.status_code == 201, r.text
        spec = {"kind": "sweep", "strategy": r.json()["id"], "data": SPX, "space": {"window": [10, 20]}}
        started = time.perf_counter()
        r = client.post("/jobs", json=spec)
        record(request, "latency_ms", (time.perf_counter() - started) * 1000)
        assert r.status_code == 422, r.text
        assert "uses 'mode'" in r.text and "not numbers" in r.text
        backtest = {"kind": "backtest", "strategy": spec["strategy"], "data": SPX}
        r = client.post("/jobs", json=backtest)
        assert r.status_code == 422 and "uses 'mode'" in r.text, r.text


def test_memory_stays_flat_through_every_bomb(bomb_server: Server, request: pytest.FixtureRequest) -> None:
    """Each bomb 20 times over: a listed grid or a 10^20-day bucket would show here."""
    assert bomb_server.proc is not None
    with bomb_server.client() as client:
        _post(client, BOMBS[1].values[0])  # warm: the first check imports and caches
        before = rss_bytes(bomb_server.proc.pid)
        for _ in range(20):
            for bomb in BOMBS:
                assert _post(client, bomb.values[0]).status_code == 422
        grown = rss_bytes(bomb_server.proc.pid) - before
        record(request, "rss_growth_mb", grown / 2**20)
        assert grown < 64 * 2**20, f"the service grew by {grown / 2**20:.0f} MB answering bombs"
        assert client.get("/health").status_code == 200


def test_the_cli_names_the_grid_size_and_the_limit(tmp_path: Path) -> None:
    from tests.api.conftest_cli import REPO, SMA_SPX, anvil, cli_env

    env = cli_env(tmp_path, ANVIL_MAX_GRID_POINTS="1000")
    ran = anvil("sweep", *SMA_SPX, "--space", "fast=2:1000000000000", "slow=50", "--dry-run", env=env, cwd=REPO)
    assert ran.status != 0  # refused at the schema's bound, from the range's ends: nothing is listed
    line = ran.error_line()
    assert "1000000000000" in line and "it must lie in [2, 100]" in line, line
    ran = anvil("sweep", *SMA_SPX, "--space", "fast=2:100", "slow=50:400", "--dry-run", env=env, cwd=REPO)
    assert ran.status != 0 and "34,749 points" in ran.error_line() and "at most 1,000" in ran.error_line()

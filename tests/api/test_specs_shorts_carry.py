"""A parameter that asks for shorts needs shorts allowed: the CLI and the service refuse it
at the door, with the message Python gives; the service's walk-forward can carry positions
across windows."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from api import specs
from tests.api.conftest_cli import main_folder, run_main  # noqa: F401 - fixtures

SPEC = TypeAdapter(specs.JobSpec)
DATA = {"symbol": "SPX", "start": "2015-01-01"}
SAYS = "SmaCross with short=True sells short, but the config does not allow shorts"


@pytest.mark.parametrize(
    "job, loc",
    [
        ({"kind": "backtest", "params": {"short": True}}, ("params",)),
        ({"kind": "monte_carlo", "params": {"short": True}, "n": 10}, ("params",)),
        ({"kind": "sweep", "space": {"fast": [5, 10], "short": [False, True]}}, ("space",)),
        ({"kind": "walk_forward", "space": {"short": [True]}, "train": 500, "test": 100}, ("space",)),
    ],
    ids=["backtest", "monte-carlo", "sweep", "walk-forward"],
)
def test_the_service_refuses_short_params_without_shorts(job, loc):
    spec = SPEC.validate_python({**job, "strategy": "sma_cross", "data": DATA})
    with pytest.raises(specs.SpecError) as err:
        specs.check(spec)
    assert err.value.loc == loc and SAYS in err.value.message and "allow_short" in err.value.message
    allowed = SPEC.validate_python({**job, "strategy": "sma_cross", "data": DATA, "config": {"allow_short": True}})
    assert specs.check(allowed).items >= 1


def test_the_cli_refuses_short_true_without_allow_short(run_main):  # noqa: F811
    ran = run_main("backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "short=true")
    assert ran.status == 1 and ran.out == ""
    assert SAYS in ran.error_line() and "--allow-short" in ran.error_line()
    ok = run_main("backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "short=true", "--allow-short", "--json")
    assert ok.status == 0, ok.err


def test_the_service_runs_a_walk_forward_that_carries_its_position():
    job = {
        "kind": "walk_forward",
        "strategy": "sma_cross",
        "data": DATA,
        "space": {"fast": [10], "slow": [40]},
        "train": 500,
        "test": 250,
        "carry": True,
    }
    spec = SPEC.validate_python(job)
    checked = specs.check(spec)
    assert checked.items == 2 * len(specs.cluster.walk_forward_windows(spec.data.load().ts, 500, 250))
    res = specs.execute(checked, address="local-threads")
    assert res.carry and res.stats["total_trades"] > 0
    with pytest.raises(specs.SpecError) as err:
        specs.check(SPEC.validate_python({**job, "step": 400}))
    assert err.value.loc == ("carry",)

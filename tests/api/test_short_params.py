"""A parameter that asks for shorts needs shorts allowed: the CLI and the service refuse it
at the door, with the message Python gives (issue 13, item 3)."""

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
    [({"kind": "backtest", "params": {"short": True}}, ("params",)),
     ({"kind": "monte_carlo", "params": {"short": True}, "n": 10}, ("params",)),
     ({"kind": "sweep", "space": {"fast": [5, 10], "short": [False, True]}}, ("space",)),
     ({"kind": "walk_forward", "space": {"short": [True]}, "train": 500, "test": 100}, ("space",))],
    ids=["backtest", "monte-carlo", "sweep", "walk-forward"],
)  # fmt: skip
def test_the_service_refuses_short_params_without_shorts(job, loc):
    spec = SPEC.validate_python({**job, "strategy": "sma_cross", "data": DATA})
    with pytest.raises(specs.SpecError) as err:
        specs.check(spec)
    assert err.value.loc == loc and SAYS in err.value.message and "allow_short" in err.value.message
    allowed = SPEC.validate_python({**job, "strategy": "sma_cross", "data": DATA, "config": {"allow_short": True}})
    assert specs.check(allowed) >= 1


def test_the_cli_refuses_short_true_without_allow_short(run_main):  # noqa: F811
    ran = run_main("backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "short=true")
    assert ran.status == 1 and ran.out == ""
    assert SAYS in ran.error_line() and "--allow-short" in ran.error_line()
    ok = run_main("backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "short=true", "--allow-short", "--json")
    assert ok.status == 0, ok.err

"""Checking specs at the door: remembered space checks give the answers a fresh check gives."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

import cluster
import strategies
import strategies.library
from api import specs
from strategies import Int, Strategy

SPEC = TypeAdapter(specs.JobSpec)
DATA = {"symbol": "SPX", "start": "2015-01-01"}


def sweep(strategy: str, space: dict, method: str = "grid", **more) -> object:
    return SPEC.validate_python(
        {"kind": "sweep", "strategy": strategy, "data": DATA, "space": space, "method": method, **more}
    )


def test_a_grid_counts_the_points_its_constraints_keep_every_time():
    space = {"fast": {"low": 5, "high": 50, "step": 5}, "slow": {"low": 20, "high": 100, "step": 20}}
    fresh = cluster.Space.of(strategies.SmaCross, specs.space_of(sweep("sma_cross", space).space))
    expected = round(fresh.size * fresh.valid_fraction())
    assert 0 < expected < fresh.size  # fast < slow drops some points
    assert [specs.check(sweep("sma_cross", space)).items for _ in range(3)] == [expected] * 3
    two = sweep("sma_cross", space, data=[DATA, {**DATA, "start": "2016-01-01"}])
    assert specs.check(two).items == 2 * expected
    assert specs.check(sweep("sma_cross", space, method="random", n_trials=7)).items == 7


def test_a_space_checked_for_one_strategy_is_checked_again_for_another():
    space = {"fast": [5, 10], "slow": [50]}
    assert specs.check(sweep("sma_cross", space)).items == 2
    with pytest.raises(specs.SpecError) as err:
        specs.check(sweep("rsi_reversion", space))
    assert err.value.loc == ("space",) and "'fast'" in err.value.message


def test_values_of_another_type_are_another_space():
    assert specs.check(sweep("roc_momentum", {"period": [1]})).items == 1
    with pytest.raises(specs.SpecError) as err:
        specs.check(sweep("roc_momentum", {"period": [True]}))  # True == 1, but a period is a number
    assert err.value.loc == ("space",) and "must be a number" in err.value.message
    with pytest.raises(specs.SpecError) as err:
        specs.check(sweep("sma_cross", {"fast": [5, 10], "slow": [50], "fats": [1]}))
    assert err.value.loc == ("space",) and "did you mean 'fast'" in err.value.message


def test_a_strategy_added_to_the_library_is_found(monkeypatch):
    class Breakout(Strategy):
        """Long above the prior high."""

        window = Int(20, low=2, high=200)

        def signals(self, bars, window):
            raise NotImplementedError

    assert specs.find_strategy("sma_cross") is strategies.SmaCross  # the lookup keys are built
    with pytest.raises(LookupError):
        specs.find_strategy("breakout")
    monkeypatch.setattr(strategies.library, "LIBRARY", (*strategies.library.LIBRARY, Breakout))
    assert specs.find_strategy("breakout") is Breakout
    monkeypatch.setattr(Breakout, "name", "Range Breakout")
    assert specs.find_strategy("range-breakout") is Breakout

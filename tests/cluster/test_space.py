"""Parameter spaces: lazy grids, constraints before scheduling, seeded random points."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cluster import Range, Space
from strategies import Float, Int, ParameterError, Strategy
from tests.cluster.conftest import SmaX


class Wide(Strategy):
    """Ten parameters of 8 values each: a grid of 8**10 (about 10**9) points."""

    a = Int(0, 0, 7)
    b = Int(0, 0, 7)
    c = Int(0, 0, 7)
    d = Int(0, 0, 7)
    e = Int(0, 0, 7)
    f = Int(0, 0, 7)
    g = Int(0, 0, 7)
    h = Int(0, 0, 7)
    i = Int(0, 0, 7)
    j = Int(0, 0, 7)
    w = Float(0.5, 0.0, 1.0)
    constraints = ("a < b",)


def test_grid_enumerates_every_valid_point_once_in_order():
    sp = Space.of(SmaX, {"fast": range(5, 30, 5), "slow": range(10, 40, 10)})
    assert sp.shape == (5, 3) and sp.size == 15
    idx = np.concatenate(list(sp.grid_indices()))
    params = sp.params_at(idx)
    pairs = [(p["fast"], p["slow"]) for p in params]
    expected = [(f, s) for f in range(5, 30, 5) for s in range(10, 40, 10) if f < s]
    assert pairs == expected
    assert len(set(idx.tolist())) == len(idx)


def test_a_billion_point_grid_is_sized_without_being_listed():
    sp = Space.of(Wide, {k: range(8) for k in "abcdefghij"})
    started = time.perf_counter()
    assert sp.size == 8**10
    frac = sp.valid_fraction()
    first = next(sp.grid_indices())
    elapsed = time.perf_counter() - started
    assert abs(frac - 28 / 64) < 0.02  # a < b holds for 28 of the 64 (a, b) pairs
    assert len(first) < 70_000  # one block, not the grid
    assert elapsed < 30  # generous: a full listing would not finish at all
    assert sp.params_at(first[:1])[0]["a"] < sp.params_at(first[:1])[0]["b"]


def test_unknown_names_and_out_of_bounds_values_are_refused():
    with pytest.raises(ParameterError, match="did you mean 'fast'"):
        Space.of(SmaX, {"fats": range(3)})
    with pytest.raises(ParameterError, match="parameter 'fast' is 1"):
        Space.of(SmaX, {"fast": [1, 2]})


def test_continuous_ranges_cannot_be_gridded_but_can_be_sampled():
    sp = Space.of(Wide, {"w": Range(0.1, 0.9), "a": range(3), "b": [5]})
    with pytest.raises(ParameterError, match="continuous"):
        sp.size
    p = sp.sample(7, 3)
    assert 0.1 <= p["w"] <= 0.9 and p["a"] in (0, 1, 2)


def test_random_points_depend_only_on_seed_and_index():
    sp = Space.of(SmaX, {"fast": range(2, 100), "slow": range(5, 400)})
    a = [sp.sample(11, i) for i in range(50)]
    b = [sp.sample(11, i) for i in reversed(range(50))][::-1]
    assert a == b
    assert all(p["fast"] < p["slow"] for p in a)
    assert a != [sp.sample(12, i) for i in range(50)]


def test_unsearched_parameters_keep_their_defaults():
    sp = Space.of(SmaX, {"fast": [5]})
    assert sp.params_at([0]) == [{"fast": 5, "slow": 30}]


def test_a_space_is_sized_by_arithmetic_before_anything_is_listed():
    import strategies
    from cluster.space import count_candidates, grid_points

    huge = {"fast": range(2, 10**15), "slow": range(5, 10**12, 7)}
    assert grid_points(strategies.SmaCross, huge) == (10**15 - 2) * len(range(5, 10**12, 7))
    assert count_candidates(strategies.SmaCross, "fast", range(10**30)) == 10**30  # len() would overflow
    with pytest.raises(ValueError, match=r"space\['fast'\] holds 999,999,999,999,998 values; at most 1,000"):
        Space.of(strategies.SmaCross, huge, max_values=1000)
    assert Space.of(strategies.SmaCross, {"fast": range(2, 50), "slow": [60]}, max_values=1000).size == 48


def test_a_long_numeric_grid_is_checked_at_numpy_speed_with_the_same_message():
    import strategies

    with pytest.raises(ValueError, match=r"parameter 'fast' is 0; it must lie in \[2, 100\]"):
        Space.of(strategies.SmaCross, {"fast": np.arange(0, 5000), "slow": [60]})

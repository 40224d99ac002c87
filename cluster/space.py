"""Parameter spaces, enumerated lazily: a grid of 10^9 points is never a list.

A ``Space`` maps each searched parameter to its candidates: a finite set of
values (a ``range``, a list, one value) or a continuous ``Range`` for samplers.
A grid point is identified by its flat index (mixed radix over the parameters,
last parameter fastest), so any block of points can be decoded with numpy,
filtered by the strategy's constraints, and turned into parameter dicts only
when a worker needs them. Random search draws point ``i`` from a generator
seeded with ``(seed, i)``: the same point whoever draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence, Union

import numpy as np

from strategies import Strategy
from strategies.params import ParameterError

BLOCK = 65_536  # grid points decoded at a time


@dataclass(frozen=True)
class Range:
    """A continuous interval for random and Optuna search (``log`` samples in log space)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ParameterError(f"Range needs finite low < high, got [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ParameterError(f"a log Range needs low > 0, not {self.low}")

    def draw(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


Candidates = Union[np.ndarray, Range]


def _range_length(r: range) -> int:
    """``len(r)`` for any range (``len`` itself overflows past ``sys.maxsize``)."""
    span = r.stop - r.start
    if r.step > 0:
        return max(0, (span + r.step - 1) // r.step)
    return max(0, (span + r.step + 1) // r.step)


def count_candidates(strategy: type[Strategy], name: str, spec: Any) -> int | None:
    """How many values ``spec`` gives parameter ``name``, worked out without listing them
    (None for a continuous ``Range``, or a float parameter without a step)."""
    if isinstance(spec, Range):
        return None
    if spec is None:
        return strategy._params[name].grid_size()
    if isinstance(spec, range):
        return _range_length(spec)
    if isinstance(spec, (list, tuple, np.ndarray)):
        return len(spec)
    return 1


def grid_points(strategy: type[Strategy], space: Mapping[str, Any]) -> int:
    """The points a grid over ``space`` holds before constraints (a Python int, however
    large), worked out from the counts of values alone; continuous parameters count 1."""
    strategy.check_names(space)
    return math.prod(count_candidates(strategy, k, v) or 1 for k, v in space.items())


def _candidates(strategy: type[Strategy], name: str, spec: Any) -> Candidates:
    param = strategy._params[name]
    if isinstance(spec, Range):
        param.check(spec.low)
        param.check(spec.high)
        if param.type != "float":
            raise ParameterError(f"space[{name!r}]: a continuous Range needs a float parameter")
        return spec
    if spec is None:
        if param.type == "float" and not param.step:
            assert param.low is not None and param.high is not None
            return Range(param.low, param.high, param.log)
        spec = param.grid()
    if isinstance(spec, range):
        arr = np.arange(spec.start, spec.stop, spec.step, dtype=np.int64)
    elif isinstance(spec, (list, tuple, np.ndarray)):
        arr = np.asarray(spec)
    elif np.isscalar(spec):
        arr = np.asarray([spec])
    else:
        raise ParameterError(
            f"space[{name!r}] is {spec!r}; give a range, a list of values, one value, "
            "a cluster.Range, or None for the parameter's declared bounds"
        )
    if arr.ndim != 1 or arr.size == 0:
        raise ParameterError(f"space[{name!r}] holds no values")
    for v in _needing_a_check(param, arr):
        param.check(v.item() if hasattr(v, "item") else v)
    return arr


def _needing_a_check(param: Any, arr: np.ndarray) -> np.ndarray:
    """The values of ``arr`` that ``param.check`` must see: all of them, or for a long
    numeric grid only the first that breaks a bound (so a grid of millions is checked
    at numpy's speed, with the same message)."""
    if param.type == "categorical" or arr.dtype.kind not in "iuf" or arr.size <= 1000:
        return arr
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, dtype=bool)
        if param.type == "int" and arr.dtype.kind == "f":
            bad |= np.mod(arr, 1) != 0
        if param.low is not None:
            bad |= arr < param.low
        if param.high is not None:
            bad |= arr > param.high
    return arr[bad][:1]


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


@dataclass(frozen=True)
class Space:
    """The candidates of each searched parameter of ``strategy``; the others keep
    their default. Build with ``Space.of``."""

    strategy: type[Strategy]
    names: tuple[str, ...]
    candidates: tuple[Candidates, ...]
    fixed: Mapping[str, Any]

    @classmethod
    def of(cls, strategy: type[Strategy], space: Mapping[str, Any], max_values: int | None = None) -> Space:
        """Check ``space`` against the strategy's parameters and build it.

        Args:
            strategy: the Strategy class searched.
            space: parameter name -> range, list of values, one value, ``Range``,
                or ``None`` for the parameter's declared bounds.
            max_values: the most values one parameter may take, checked by
                arithmetic before any is listed (None: no limit).

        Raises:
            ParameterError: an unknown name ("did you mean"), a value out of bounds,
                more than ``max_values`` values.
        """
        if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
            raise TypeError(f"expected a Strategy class, not {strategy!r}")
        strategy.check_names(space)
        if max_values is not None:
            for name, spec in space.items():
                count = count_candidates(strategy, name, spec)
                if count is not None and count > max_values:
                    raise ParameterError(f"space[{name!r}] holds {count:,} values; at most {max_values:,} are allowed")
        names = tuple(k for k in strategy._params if k in space)
        cands = tuple(_candidates(strategy, k, space[k]) for k in names)
        fixed = {k: p.default for k, p in strategy._params.items() if k not in space}
        return cls(strategy, names, cands, fixed)

    def check_shorts(self, allow_short: bool) -> None:
        """Refuse a space in which some point asks for shorts the config does not allow
        (``Strategy.check_shorts``)."""
        tried = {n: c for n, c in zip(self.names, self.candidates) if not isinstance(c, Range)}
        self.strategy.check_shorts({**self.fixed, **tried}, allow_short)

    @property
    def discrete(self) -> bool:
        """True when every searched parameter has a finite set of values (griddable)."""
        return not any(isinstance(c, Range) for c in self.candidates)

    def _need_discrete(self) -> None:
        if not self.discrete:
            cont = [n for n, c in zip(self.names, self.candidates) if isinstance(c, Range)]
            raise ParameterError(
                f"{', '.join(cont)} {'is' if len(cont) == 1 else 'are'} continuous: a grid needs "
                "values (a range, a list, or a step); search continuous spaces with "
                "method='random', 'tpe' or 'cmaes'"
            )

    # -- size -----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        self._need_discrete()
        return tuple(len(c) for c in self.candidates)  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        """Grid points before constraints (a Python int: it may exceed 2**63)."""
        return math.prod(self.shape)

    def valid_fraction(self, sample: int = 20_000, seed: int = 0) -> float:
        """The share of grid points the constraints keep, from a random sample."""
        if not self.strategy._rules:
            return 1.0
        size = self.size
        n = min(sample, size)
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, size, n) if size > n else np.arange(n)
        return float(np.mean(self._keep(self.decode(idx))))

    # -- grid -------------------------------------------------------------------
    def decode(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter arrays of the grid points with these flat indices."""
        self._need_discrete()
        cols: dict[str, np.ndarray] = {}
        rest = np.asarray(index, dtype=np.int64).copy()
        for name, vals in zip(reversed(self.names), reversed(self.candidates)):
            assert isinstance(vals, np.ndarray)
            rest, digit = np.divmod(rest, len(vals))
            cols[name] = vals[digit]
        return {k: cols[k] for k in self.names}

    def _keep(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(cols.values()))) if cols else 1
        env = {
            **{k: np.full(n, v, dtype=object if isinstance(v, str) else None) for k, v in self.fixed.items()},
            **cols,
        }
        keep = self.strategy.satisfies(env)
        return np.broadcast_to(np.asarray(keep, dtype=bool), (n,))

    def grid_indices(self, start: int = 0) -> Iterator[np.ndarray]:
        """Blocks of flat indices of the points that satisfy the constraints, in order."""
        size = self.size
        if size >= 2**62:
            raise ParameterError(f"the grid holds {size:.3g} points, beyond what anvil indexes")
        for lo in range(start, size, BLOCK):
            idx = np.arange(lo, min(lo + BLOCK, size), dtype=np.int64)
            keep = self._keep(self.decode(idx))
            if keep.any():
                yield idx[keep]

    def params_at(self, index: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """Complete parameter dicts (fixed ones included) of these grid points."""
        cols = self.decode(np.asarray(index, dtype=np.int64))
        # Each column to Python values at once (tolist), not element by element: a sweep's
        # driver builds every item here, holding the GIL the job service also needs.
        columns = [[_py(v) for v in cols[k]] if cols[k].dtype == object else cols[k].tolist() for k in self.names]
        return (
            [{**self.fixed, **dict(zip(self.names, values))} for values in zip(*columns)]
            if columns
            else [dict(self.fixed) for _ in range(len(index))]
        )

    # -- random -----------------------------------------------------------------
    def sample(self, seed: int, index: int) -> dict[str, Any]:
        """Random point ``index`` of a search seeded ``seed``; constraints are met by
        redrawing from the same generator, so the point is the same wherever drawn."""
        rng = np.random.default_rng([seed, index])
        for _ in range(1000):
            p = dict(self.fixed)
            for k, c in zip(self.names, self.candidates):
                p[k] = c.draw(rng) if isinstance(c, Range) else _py(c[rng.integers(len(c))])
            if self.strategy.satisfies(p):
                return p
        raise ParameterError(
            "no parameter set drawn in 1000 tries satisfies the strategy's constraints; check the space against them"
        )

    def describe(self) -> dict[str, Any]:
        """JSON-ready: each searched parameter's values or range, and the fixed ones."""
        out: dict[str, Any] = {}
        for k, c in zip(self.names, self.candidates):
            out[k] = {"low": c.low, "high": c.high, "log": c.log} if isinstance(c, Range) else [_py(v) for v in c]
        return {"search": out, "fixed": dict(self.fixed)}


def items(
    method: str, space: Space, symbols: Sequence[str], n_trials: int, seed: int
) -> Iterator[tuple[int, tuple[str, dict[str, Any]]]]:
    """Lazy ``(item_id, (symbol, params))`` pairs of a grid or random search over ``space``
    (for each symbol, every grid point meeting the constraints, or ``n_trials`` random points)."""
    if method == "grid":
        size = space.size
        for s, symbol in enumerate(symbols):
            for block in space.grid_indices():
                for idx, params in zip(block.tolist(), space.params_at(block)):
                    yield s * size + idx, (symbol, params)
    else:
        for s, symbol in enumerate(symbols):
            for i in range(n_trials):
                yield s * n_trials + i, (symbol, space.sample(seed, i))

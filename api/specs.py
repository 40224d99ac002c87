"""Job specs: what a user asks for, validated at the door, and how it runs.

One typed model per job kind (``backtest``, ``sweep``, ``walk_forward``,
``monte_carlo``), told apart by ``kind``. The HTTP service and the CLI both
build these, check them with ``check`` (everything that can be known before
running: strategy, parameters or space, config, data, size), and run them with
``execute`` — the one place that turns a spec into a ``cluster`` call.

Spaces in JSON: a parameter maps to a list of values, to ``{"low", "high",
"step"}`` (a grid, high included), or to ``{"low", "high", "log"}`` without a
step (a continuous range, for random and Optuna search).

What a spec may cost is known before anything is listed: a grid's size is the
product of its parameters' counts of values, each worked out from low, high and
step, and a grid larger than ``max_grid_points`` is refused (so is one parameter
with more values, whatever the method). Numbers are finite (``Infinity`` and
``NaN`` are refused by the models), timeframes at most a year wide.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

import cluster
import engine
import strategies
from cluster.space import Range
from cluster.universe import UNIVERSE
from engine.config import FIELDS as CONFIG_FIELDS, ConfigField
from strategies import Strategy
from strategies.params import ParameterError, steps_between

MAX_GRID_POINTS = 10_000_000
"""The default most grid points (before constraints) one job may ask for; the service's
setting ``max_grid_points`` (``ANVIL_MAX_GRID_POINTS``) changes it."""


class SpecError(ValueError):
    """A spec that cannot run; ``loc`` names the field (as pydantic does)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DataSpec(_Model):
    """Bars from the store: a symbol, its timeframe, an optional time range."""

    symbol: str = Field(min_length=1, max_length=64)
    timeframe: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="bar size (1m, 1h, 1d ...); without it the stored 1d bars, never bars resampled unasked",
    )
    start: dt.datetime | dt.date | None = None
    end: dt.datetime | dt.date | None = None

    def load(self, store: engine.Store | None = None) -> engine.Bars:
        """The bars, read from ``store`` (the process's default store, ``engine.load``'s, when None)."""
        if store is None:
            return engine.load(self.symbol, self.timeframe, start=self.start, end=self.end)
        return store.bars(self.symbol, self.timeframe, self.start, self.end)


class UniverseSpec(_Model):
    """A universe from the store: its symbols' bars on one time axis (``engine.load_panel``).

    Name the symbols, or a universe saved in the store (``engine.save_universe``,
    ``anvil data universe save``). A job on a universe runs one portfolio per parameter
    set (``cluster.universe``). The service stores a job's spec with the saved
    universe's symbols filled in beside its name (``resolve``), so the job reruns on
    the symbols it was submitted with, whatever happens to the name later; when both
    are given the symbols are what runs (the service refuses symbols that are not the
    saved universe's)."""

    symbols: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=5000
    )
    universe: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a universe saved in the store (`anvil data universe list`), in place of symbols",
    )
    timeframe: str | None = Field(
        default=None, min_length=1, max_length=32, description="bar size of every symbol (default: the stored 1d bars)"
    )
    start: dt.datetime | dt.date | None = None
    end: dt.datetime | dt.date | None = None
    adjusted: bool = Field(default=False, description="scale prices by adj_close / close where stored")

    @field_validator("symbols")
    @classmethod
    def _distinct(cls, v: list[str] | None) -> list[str] | None:
        seen: set[str] = set()
        for s in v or []:
            if s in seen:
                raise ValueError(f"{s!r} is listed twice; name each symbol once")
            seen.add(s)
        return v

    @model_validator(mode="after")
    def _named(self) -> UniverseSpec:
        if self.symbols is None and self.universe is None:
            raise ValueError(
                'name the universe\'s symbols ("symbols": ["AAPL", "MSFT"]) or a saved universe '
                '("universe": "tech"; `anvil data universe list` shows them)'
            )
        return self

    def members(self, store: engine.Store | None = None) -> list[str]:
        """The symbols: those given, else the saved universe's.

        Raises:
            UnknownUniverseError: no universe is saved under that name (with a did-you-mean).
        """
        if self.symbols is not None:
            return list(self.symbols)
        return list(engine.universe(str(self.universe), store=store).symbols)

    def resolve(self, store: engine.Store | None = None) -> UniverseSpec:
        """This spec with the saved universe's symbols and the timeframe filled in (what a job stores)."""
        return self.model_copy(update={"symbols": self.members(store), "timeframe": self.timeframe or "1d"})

    @property
    def symbol(self) -> str:
        """What a universe's rows carry as their symbol."""
        return UNIVERSE

    def load(self, store: engine.Store | None = None) -> engine.Panel:
        """The panel, read from ``store`` (the default store when None); refused when
        its symbols' dates never overlap."""
        panel = engine.load_panel(
            self.members(store), self.timeframe or "1d", self.start, self.end, adjusted=self.adjusted, store=store
        )
        first, last = panel.first_bars(), panel.last_bars()
        late, early = int(np.argmax(first)), int(np.argmin(last))
        if first[late] > last[early]:
            when = panel.index
            raise ValueError(
                f"the symbols' dates do not overlap: {panel.symbols[late]} starts on {when[first[late]]:%Y-%m-%d}, "
                f"after {panel.symbols[early]} ended on {when[last[early]]:%Y-%m-%d}; choose symbols that trade "
                "at the same time (`anvil data list` shows each one's dates)"
            )
        return panel


def _config_spec_field(f: ConfigField) -> tuple[Any, Any]:
    """One ``engine.Config`` field as a ConfigSpec field: its type, its description and
    default, and its range in the JSON schema (``engine.Config`` checks the range, so
    its message names the field and the bound)."""
    kind: Any = {"float": float, "int": int, "bool": bool}.get(f.kind) or Literal[f.choices]  # type: ignore[valid-type]
    bounds: dict[str, Any] = {}
    if math.isfinite(f.low):
        bounds["exclusiveMinimum" if f.low_open else "minimum"] = f.low
    if math.isfinite(f.high):
        bounds["exclusiveMaximum"] = f.high
    default = "off" if f.default is None else repr(f.default)
    text = f"{f.description} Default: {default}."
    return kind | None, Field(default=None, description=text, json_schema_extra=bounds or None)


class _ConfigSpecBase(_Model):
    def build(self) -> engine.Config:
        return engine.Config(**self.model_dump(exclude_none=True))


def config_spec(fields: tuple[ConfigField, ...] = CONFIG_FIELDS) -> type[_ConfigSpecBase]:
    """The pydantic model of ``engine.Config`` with these fields (all of them by default)."""
    return create_model(  # type: ignore[call-overload, no-any-return]
        "ConfigSpec",
        __base__=_ConfigSpecBase,
        __doc__="The engine Config; omitted fields keep ``engine.Config``'s defaults.",
        __module__=__name__,
        **{f.name: _config_spec_field(f) for f in fields},
    )


ConfigSpec = config_spec()
"""The engine Config as a job spec takes it, made from ``engine.config.FIELDS``: every
field of ``engine.Config`` with its description, default and range; omitted fields
keep the defaults."""


class GridSpec(_Model):
    """Values from low to high (included) by step; without a step, a continuous range."""

    low: float
    high: float
    step: float | None = Field(default=None, gt=0)
    log: bool = False

    def count(self) -> int | None:
        """How many values the grid holds, from low, high and step (None: continuous)."""
        return None if self.step is None else steps_between(self.low, self.high, self.step)


SpaceSpec = dict[str, Union[list[Union[int, float, str, bool]], GridSpec]]


class _Job(_Model):
    strategy: str = Field(min_length=1, max_length=128, description="built-in name or uploaded id")
    config: ConfigSpec = Field(default_factory=ConfigSpec)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)


class BacktestJob(_Job):
    kind: Literal["backtest"] = "backtest"
    params: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec | UniverseSpec


class SweepJob(_Job):
    kind: Literal["sweep"] = "sweep"
    space: SpaceSpec
    data: DataSpec | UniverseSpec | list[DataSpec]
    method: Literal["grid", "random", "tpe", "cmaes", "nsga2"] = "grid"
    metric: str = "sharpe"
    metrics: list[str] | None = None
    n_trials: int = Field(default=100, ge=1, le=10_000_000)

    @field_validator("data")
    @classmethod
    def _some_data(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:
            raise ValueError("give at least one data series")
        return v


class WalkForwardJob(_Job):
    kind: Literal["walk_forward"] = "walk_forward"
    space: SpaceSpec
    data: DataSpec | UniverseSpec
    train: int | str
    test: int | str
    step: int | str | None = None
    anchored: bool = False
    embargo: int = Field(default=0, ge=0)
    method: Literal["grid", "random"] = "grid"
    metric: str = "sharpe"
    n_trials: int = Field(default=100, ge=1, le=1_000_000)
    carry: bool = False  # stitch the test windows as one account that keeps its position


class MonteCarloJob(_Job):
    kind: Literal["monte_carlo"] = "monte_carlo"
    params: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec | UniverseSpec
    n: int = Field(default=1000, ge=1, le=10_000_000)
    method: Literal["permutation", "bootstrap", "block_bootstrap"] = "permutation"
    metric: str = "sharpe"
    of: Literal["returns", "trades"] = "returns"
    block: int = Field(default=20, ge=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)


JobSpec = Annotated[Union[BacktestJob, SweepJob, WalkForwardJob, MonteCarloJob], Field(discriminator="kind")]

StrategyLookup = Callable[[str], type[Strategy]]
BarsOf = Callable[[Any], Any]
"""Reads the bars a ``DataSpec`` names, or the panel of a ``UniverseSpec`` (the service:
from its store, bars through its memory)."""


def _load(data: Any) -> Any:
    """The bars or panel ``data`` names, from the process's default store."""
    return data.load()


@dataclass(frozen=True)
class Checked:
    """A spec made runnable: its strategy class, Config and bars, found once.

    ``check`` makes it (after every check), ``prepare`` remakes it for a job checked
    before (a stored record keeps only the spec's JSON); ``execute`` runs it.

    Attributes:
        spec: the job spec (``spec.model_dump(mode="json")`` is what is stored).
        strategy: the strategy class.
        config: the engine Config.
        data: the bars (a list of them for a sweep over several series).
        items: the runs the job makes (None when remade by ``prepare``).
    """

    spec: Any
    strategy: type[Strategy]
    config: engine.Config
    data: Any
    items: int | None = None


def prepare(spec: Any, uploaded: StrategyLookup | None = None, bars: BarsOf | None = None) -> Checked:
    """The strategy, Config and bars of a spec that was checked before (no checks again)."""
    load = bars or _load
    data = [load(d) for d in spec.data] if isinstance(spec.data, list) else load(spec.data)
    return Checked(spec, find_strategy(spec.strategy, uploaded), spec.config.build(), data)


def find_strategy(name: str, uploaded: StrategyLookup | None = None) -> type[Strategy]:
    """A built-in strategy by name, else an uploaded one (through ``uploaded``)."""
    try:
        return strategies.get_strategy(name)
    except strategies.UnknownStrategyError:
        if uploaded is not None:
            return uploaded(name)
        raise


def space_of(space: SpaceSpec) -> dict[str, Any]:
    """The JSON space as ``cluster.sweep`` takes it."""
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, GridSpec):
            count = spec.count()
            if count is None:
                out[name] = Range(spec.low, spec.high, spec.log)
            elif all(float(v).is_integer() for v in (spec.low, spec.high, spec.step)):
                low, step = int(spec.low), int(spec.step)  # type: ignore[arg-type]
                out[name] = range(low, low + count * step, step)
            else:
                out[name] = spec.low + np.arange(count, dtype=np.float64) * spec.step
        else:
            out[name] = list(spec)
    return out


def check_space_size(space: SpaceSpec, grid: bool, max_points: int) -> int | None:
    """The grid's points before constraints (None when not a grid), from the counts alone.

    Raises:
        SpecError: a grid of more than ``max_points`` points, or one parameter with
            more than ``max_points`` values, naming the size and the limit.
    """
    counts: dict[str, int | None] = {}
    for name, spec in space.items():
        try:
            counts[name] = spec.count() if isinstance(spec, GridSpec) else len(spec)
        except ParameterError as exc:
            raise SpecError(("space", name), f"space[{name!r}]: {exc}") from None
    for name, count in counts.items():
        if count is not None and count > max_points:
            raise SpecError(
                ("space", name),
                f"space[{name!r}] holds {count:,} values; this service allows at most "
                f"{max_points:,} (the max_grid_points setting); use a larger step or a narrower range",
            )
    if not grid:
        return None
    size = math.prod(c or 1 for c in counts.values())
    if size > max_points:
        raise SpecError(
            ("space",),
            f"the grid holds {size:,} points before constraints; this service allows at most "
            f"{max_points:,} (the max_grid_points setting); use fewer values or larger steps, "
            "or search with method='random' or 'tpe'",
        )
    return size


_CHECKED_SPACES = 256  # spaces whose check is remembered (the most recently used)
_checked: OrderedDict[tuple[Any, ...], int | None] = OrderedDict()
_checked_lock = threading.Lock()


def _grid_size(strat: type[Strategy], space: SpaceSpec, grid: bool, max_points: int = MAX_GRID_POINTS) -> int | None:
    """Check ``space`` against the strategy; for a grid, the points its constraints keep.

    The answer depends only on the strategy class and the space, and clients submit the
    same few spaces again and again, so it is remembered (estimating the share of
    points the constraints keep costs more than the rest of a check).

    Raises:
        SpecError: the space does not fit the strategy's parameters.
    """
    key = (strat, grid, *((name, _frozen(value)) for name, value in space.items()))
    with _checked_lock:
        if key in _checked:
            _checked.move_to_end(key)
            return _checked[key]
    check_space_size(space, grid, max_points)  # before anything is listed
    try:
        sp = cluster.Space.of(strat, space_of(space), max_values=max_points)
        size = round(sp.size * sp.valid_fraction()) if grid else None
    except ValueError as exc:
        raise SpecError(("space",), str(exc)) from None
    with _checked_lock:
        _checked[key] = size
        while len(_checked) > _CHECKED_SPACES:
            _checked.popitem(last=False)
    return size


def _frozen(value: list[Any] | GridSpec) -> tuple[Any, ...]:
    """A space entry as a hashable key; values keep their type (``1``, ``1.0`` and ``True`` differ)."""
    if isinstance(value, GridSpec):
        return ("grid", value.low, value.high, value.step, value.log)
    return ("values", *((type(v), v) for v in value))


def check(
    spec: Any,
    uploaded: StrategyLookup | None = None,
    max_items: int | None = None,
    max_grid_points: int = MAX_GRID_POINTS,
    bars: BarsOf | None = None,
) -> Checked:
    """Everything about ``spec`` that can be checked without running it.

    A grid's size is checked against ``max_grid_points`` by arithmetic, before the
    space is listed or the data loaded.

    Args:
        bars: reads the bars of a ``DataSpec`` (default: from the default store).

    Returns:
        The spec made runnable; ``items`` is the number of runs the job will make
        (what ``max_items`` caps).

    Raises:
        SpecError: naming the field at fault and why.
    """
    try:
        strat = find_strategy(spec.strategy, uploaded)
    except (LookupError, ValueError) as exc:
        raise SpecError(("strategy",), str(exc)) from None
    try:
        config = spec.config.build()
    except (ValueError, TypeError) as exc:
        raise SpecError(("config",), str(exc)) from None
    if isinstance(spec, (SweepJob, WalkForwardJob)):
        check_space_size(spec.space, spec.method == "grid", max_grid_points)
    datas = spec.data if isinstance(spec.data, list) else [spec.data]
    load = bars or _load
    loaded = []
    for i, d in enumerate(datas):
        try:
            loaded.append(load(d))
        except (LookupError, ValueError) as exc:
            loc: tuple[str | int, ...] = ("data", i) if isinstance(spec.data, list) else ("data",)
            if isinstance(d, UniverseSpec):
                loc = ("data", "universe") if isinstance(exc, engine.UnknownUniverseError) else ("data", "symbols")
            raise SpecError(loc, str(exc)) from None
        if isinstance(d, UniverseSpec):
            _check_universe_size(spec, strat, len(loaded[-1].symbols))
    for metric in [getattr(spec, "metric", "sharpe"), *(getattr(spec, "metrics", None) or [])]:
        try:
            cluster.jobs.maximize_default(metric)
        except ValueError as exc:
            raise SpecError(("metric",), str(exc)) from None
    items = 1
    if isinstance(spec, (BacktestJob, MonteCarloJob)):
        try:
            strat.check_shorts(strat.check(spec.params), config.allow_short)
        except ValueError as exc:
            raise SpecError(("params",), str(exc)) from None
        items = spec.n if isinstance(spec, MonteCarloJob) else 1
    else:
        grid = _grid_size(strat, spec.space, spec.method == "grid", max_grid_points)
        try:
            cluster.Space.of(strat, space_of(spec.space)).check_shorts(config.allow_short)
        except ValueError as exc:
            raise SpecError(("space",), str(exc)) from None
        items = grid if grid is not None else spec.n_trials
        items *= len(datas)
        if isinstance(spec, WalkForwardJob):
            try:
                wins = cluster.walk_forward_windows(
                    loaded[0].ts, spec.train, spec.test, spec.step, spec.anchored, spec.embargo
                )
            except ValueError as exc:
                raise SpecError(("train",), str(exc)) from None
            if spec.carry and any(b.test_start != a.test_end for a, b in zip(wins, wins[1:])):
                raise SpecError(
                    ("carry",),
                    "carry needs test windows that follow one another: "
                    "leave step at its default (= test) or carry false",
                )
            items = items * len(wins) + len(wins)
    if max_items is not None and items > max_items:
        raise SpecError(
            ("space",) if not isinstance(spec, MonteCarloJob) else ("n",),
            f"the job would make {items:,} runs; this service allows at most {max_items:,} per job",
        )
    data = loaded if isinstance(spec.data, list) else loaded[0]
    return Checked(spec, strat, config, data, int(items))


HOLDINGS = ("top_k", "k")
"""Parameters that say how many symbols a strategy holds: a universe needs at least as many."""


def _check_universe_size(spec: Any, strat: type[Strategy], n_symbols: int) -> None:
    """Refuse a universe with fewer symbols than the strategy is asked to hold."""
    for name in HOLDINGS:
        if name not in strat._params:
            continue
        if isinstance(spec, (BacktestJob, MonteCarloJob)):
            loc: tuple[str | int, ...] = ("params", name)
            values = [spec.params.get(name, strat.defaults().get(name))]
        else:
            loc = ("space", name)
            given = spec.space.get(name)
            if given is None:
                values = [strat.defaults().get(name)]
            elif isinstance(given, GridSpec):
                values = [given.high]
            else:
                values = list(given)
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers and max(numbers) > n_symbols:
            raise SpecError(
                loc,
                f"{name}={max(numbers):g} holds more symbols than the universe has ({n_symbols}); "
                f"give at least {max(numbers):g} symbols or a smaller {name}",
            )


SAMPLERS = frozenset({"tpe", "cmaes", "nsga2"})
"""Sweep methods whose trials depend on the earlier ones (Optuna samplers)."""


def execute(
    checked: Checked,
    *,
    progress: cluster.jobs.ProgressArg = None,
    cancel: threading.Event | None = None,
    out: Any = None,
    study_path: str | Path | None = None,
    address: str | None = None,
    workers: int = 0,
) -> Any:
    """Run a checked spec (``check`` or ``prepare``); returns ``engine.Result`` (backtest)
    or the cluster result.

    ``out`` keeps the rows of grid and random sweeps, walk-forward and Monte Carlo as
    chunks finish; a sampler sweep (TPE, CMA-ES, NSGA-II) keeps its trials in the Optuna
    study at ``study_path`` instead. Either way a rerun goes on from what was kept.
    """
    spec, strat, config, data = checked.spec, checked.strategy, checked.config, checked.data
    common = {"progress": progress, "cancel": cancel, "address": address, "workers": workers}
    if isinstance(spec, BacktestJob):
        return strategies.run(strat, data, config, spec.params)
    if isinstance(spec, SweepJob):
        sampled = spec.method in SAMPLERS  # rows live in the study, not in `out`
        return cluster.sweep(
            strat,
            data,
            space=space_of(spec.space),
            config=config,
            metric=spec.metric,
            method=spec.method,
            n_trials=spec.n_trials,
            metrics=spec.metrics,
            study_path=study_path if sampled else None,
            seed=spec.seed,
            out=out,
            **common,
        )
    if isinstance(spec, WalkForwardJob):
        return cluster.walk_forward(
            strat,
            data,
            space=space_of(spec.space),
            train=spec.train,
            test=spec.test,
            step=spec.step,
            anchored=spec.anchored,
            embargo=spec.embargo,
            metric=spec.metric,
            method=spec.method,
            config=config,
            n_trials=spec.n_trials,
            carry=spec.carry,
            seed=spec.seed,
            out=out,
            **common,
        )
    return cluster.monte_carlo(
        strat,
        spec.params,
        data,
        n=spec.n,
        method=spec.method,
        config=config,
        metric=spec.metric,
        of=spec.of,
        block=spec.block,
        confidence=spec.confidence,
        seed=spec.seed,
        out=out,
        **common,
    )


def result_table(result: Any) -> pd.DataFrame:
    """The rows a job's results are served as: runs of a sweep, windows of a
    walk-forward, paths of a Monte Carlo run, the trades of a backtest."""
    if isinstance(result, cluster.SweepResult):
        return result.table
    if isinstance(result, cluster.WalkForwardResult):
        return result.windows
    if isinstance(result, cluster.MonteCarloResult):
        return result.paths
    if isinstance(result, (engine.Result, engine.PortfolioResult)):
        return result.trades
    raise TypeError(f"not a job result: {type(result).__name__}")


def summary(result: Any) -> dict[str, Any]:
    """A small JSON-ready digest of a result (best run, p-value, stats ...)."""
    if isinstance(result, cluster.SweepResult):
        return result.summary()  # a stored sweep's from DuckDB queries, never its whole table
    if isinstance(result, cluster.WalkForwardResult):
        return {"windows": len(result.windows), "stats": result.stats, "efficiency": result.efficiency}
    if isinstance(result, cluster.MonteCarloResult):
        return {
            "method": result.method,
            "paths": len(result.paths),
            "real": result.real,
            "p_value": result.p_value,
            "nan_paths": result.nan_paths,
            "intervals": {k: list(v) for k, v in result.intervals.items()},
        }
    if isinstance(result, engine.Result):
        return {"stats": result.stats, "notes": result.notes, "buy_and_hold": buy_and_hold(result)}
    if isinstance(result, engine.PortfolioResult):
        return {"stats": result.stats, "notes": []}
    raise TypeError(f"not a job result: {type(result).__name__}")


def buy_and_hold(result: engine.Result) -> dict[str, float]:
    """Return, Sharpe and max drawdown of holding the backtest's series over its bars
    (the same definitions as the backtest's own, through ``engine.stats_from_equity``);
    empty when the first close is not a price."""
    close = np.asarray(result.bars.close, dtype=np.float64)
    if len(close) == 0 or not close[0] > 0:
        return {}
    config = result.config
    equity = config.initial_capital * close / close[0]
    ppy = config.periods_per_year or result.bars.periods_per_year()
    stats = engine.stats_from_equity(equity, config.initial_capital, ppy)
    return {k: stats[k] for k in ("total_return", "annual_return", "sharpe", "max_drawdown")}

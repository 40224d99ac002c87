"""Strategies whose code runs only in a jail: the classes the trusted side holds.

``jailed(source, description)`` makes a ``Strategy`` subclass that declares the
uploaded strategy's parameters, constraints, name and rule (from the
description the jail gave at upload) and holds only its *source*. Nothing of the
source runs on the trusted side: ``signals`` and ``signals_many`` ask the job's
pool of jailed processes for the signal matrix and check it like any signal; a
bar-by-bar strategy's whole backtest runs in the jail (``run_in_jail``, which
``strategies.run`` uses) and comes back as stats, equity and trade records, each
checked. A universe strategy's jail answers weight matrices only — ``weights`` /
``weights_many`` for a vectorized one, the rows its ``on_bar`` decided for a bar-by-bar
one — and the trusted side checks them (``as_weights``) and backtests them in the
core. The class pickles by value (Ray ships it to workers as it is) and each
worker process starts its own jails, so the same jail holds on every node.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, ClassVar, Sequence

import numpy as np

from engine.errors import InvalidSignalError
from engine.signals import as_signal
from strategies.base import Strategy
from strategies.universe import UniverseStrategy
from strategies.jail._limits import Limits
from strategies.jail._pool import JailPool, pool
from strategies.jail._process import JailError
from strategies.params import Param

MAX_NAME, MAX_DOC, MAX_PARAMS, MAX_CONSTRAINTS, MAX_CHOICES = 128, 10_000, 64, 32, 1000
PARAM_TYPES = frozenset({"int", "float", "categorical"})


def bars_message(bars: Any) -> tuple[str, dict[str, Any], list[np.ndarray]]:
    """``(key, header, arrays)`` that give a jail the series ``bars``."""
    arrays = [np.ascontiguousarray(bars.ts, dtype=np.int64)]
    arrays += [
        np.ascontiguousarray(getattr(bars, f), dtype=np.float64) for f in ("open", "high", "low", "close", "volume")
    ]
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(a.data)
    return h.hexdigest(), {"symbol": bars.symbol}, arrays


def panel_message(panel: Any) -> tuple[str, dict[str, Any], list[np.ndarray]]:
    """``(key, header, arrays)`` that give a jail the panel ``panel`` (times, the five
    price and volume matrices and ``tradable``, with the symbols in the header)."""
    arrays = [np.ascontiguousarray(panel.ts, dtype=np.int64)]
    arrays += [
        np.ascontiguousarray(getattr(panel, f), dtype=np.float64) for f in ("open", "high", "low", "close", "volume")
    ]
    arrays.append(np.ascontiguousarray(panel.tradable, dtype=np.bool_))
    symbols = list(panel.symbols)
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(a.data)
    h.update("\x00".join(symbols).encode())
    return "panel-" + h.hexdigest(), {"symbols": symbols}, arrays


class JailedStrategy(Strategy):
    """Base of the jailed stand-ins (see the module docstring)."""

    _source: ClassVar[str] = ""
    _job: ClassVar[str] = ""
    _limits: ClassVar[Limits] = Limits()

    @classmethod
    def _pool(cls) -> JailPool:
        return pool(cls._job, cls._source, cls._limits)

    @classmethod
    def for_job(cls, job: str, limits: Limits | None = None) -> type[JailedStrategy]:
        """This strategy with its jails pooled under ``job`` (killed by ``release(job)``)."""
        attrs = {
            "_job": job,
            "_limits": limits or cls._limits,
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
        }
        return type(cls.__name__, (cls,), attrs)

    @classmethod
    def warm(cls) -> None:
        """Start one jailed process of this job now (calibration then times calls, not start-up)."""
        cls._pool().warm()

    @classmethod
    def release(cls) -> None:
        """Kill this job's jailed processes in this process."""
        from strategies.jail._pool import release

        release(cls._job)


class JailedSignals(JailedStrategy):
    """A vectorized uploaded strategy, run in its jail."""

    def signals(self, bars: Any, **params: Any) -> Any:
        return self.signals_many(bars, [params])[0]

    def signals_many(self, bars: Any, param_sets: Sequence[dict[str, Any]]) -> np.ndarray:
        sets = [dict(p) for p in param_sets]
        message = bars_message(bars)
        head, arrays = self._pool().call({"op": "signals", "bars": message[0], "sets": sets}, bars=message)
        if len(arrays) != 1:
            raise InvalidSignalError(f"{type(self).__name__}: its jail answered {len(arrays)} arrays, not one")
        matrix = as_signal(arrays[0], len(bars), ndim=2)
        if len(matrix) != len(sets):
            raise InvalidSignalError(
                f"{type(self).__name__}: its jail answered {len(matrix)} rows for {len(sets)} parameter sets"
            )
        return matrix


class JailedBars(JailedStrategy):
    """A bar-by-bar uploaded strategy: each backtest runs whole in its jail."""

    def on_bar(self, bar: Any, ctx: Any) -> None:
        raise TypeError(f"{type(self).__name__} is uploaded code: it runs in its jail (strategies.run does that)")

    def run_in_jail(
        self,
        bars: Any,
        config: Any,
        equity: bool,
        trades: bool,
        windows: Sequence[tuple[dict[str, Any] | None, int, int]] | None = None,
    ) -> Any:
        """The ``engine.Result`` of one backtest, run in the jail: with this instance's
        parameters over all ``bars``, or over ``windows`` as ``strategies.run_windows``
        (``(params, lo, hi)``, checked by the caller) would run them."""
        from engine.records import METRICS, TRADE_DTYPE
        from engine.result import Result

        if windows is None:
            windows = [(self.params, 0, len(bars))]
        spans = [(None if p is None else dict(p), int(lo), int(hi)) for p, lo, hi in windows]
        first, last = spans[0][1], spans[-1][2]
        message = bars_message(bars)
        request = {
            "op": "backtest",
            "bars": message[0],
            "config": config.to_dict(),
            "windows": spans,
            "equity": bool(equity),
            "trades": bool(trades),
        }
        head, arrays = self._pool().call(request, bars=message)
        traded = bars if (first, last) == (0, len(bars)) else bars[first:last]
        n = len(traded)
        stats = head.get("stats")
        if not isinstance(stats, dict) or set(stats) != set(METRICS):
            raise InvalidSignalError(f"{type(self).__name__}: its jail answered stats without the metrics")
        clean = {}
        for k in METRICS:
            v = stats[k]
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise InvalidSignalError(f"{type(self).__name__}: its jail answered a {type(v).__name__} for {k}")
            clean[k] = float(v)
        want = int(bool(equity)) + int(bool(trades))
        if len(arrays) != want:
            raise InvalidSignalError(f"{type(self).__name__}: its jail answered {len(arrays)} arrays, not {want}")
        eq = tr = None
        if equity:
            eq = np.array(arrays[0], dtype=np.float64)
            if eq.shape != (n,):
                raise InvalidSignalError(f"{type(self).__name__}: equity of shape {eq.shape}, not ({n},)")
        if trades:
            raw = arrays[-1]
            if raw.dtype != np.uint8 or raw.size % TRADE_DTYPE.itemsize:
                raise InvalidSignalError(f"{type(self).__name__}: trade records of a size no record has")
            tr = np.frombuffer(raw.tobytes(), TRADE_DTYPE).copy()
            _check_trades(tr, n, type(self).__name__)
        return Result(traded, config, clean, eq, tr)


class JailedUniverse(JailedStrategy, UniverseStrategy):
    """Base of the jailed universe stand-ins: the jail answers weight matrices only,
    each checked like any weights (``engine.portfolio.as_weights``)."""

    def _matrices(self, panel: Any, request: dict[str, Any], count: int) -> list[np.ndarray]:
        from engine.portfolio import as_weights

        message = panel_message(panel)
        head, arrays = self._pool().call({**request, "panel": message[0]}, bars=message)
        who = type(self).__name__
        if len(arrays) != 1 or arrays[0].dtype != np.float64 or arrays[0].ndim != 3:
            raise InvalidSignalError(f"{who}: its jail did not answer one float64 [k, n_bars, n_symbols] array")
        stack = arrays[0]
        if len(stack) != count:
            raise InvalidSignalError(f"{who}: its jail answered {len(stack)} weight matrices for {count}")
        return [as_weights(panel, np.array(w), what=f"{who} (uploaded) weights") for w in stack]


class JailedWeights(JailedUniverse):
    """A vectorized uploaded universe strategy, run in its jail."""

    def weights(self, panel: Any, **params: Any) -> Any:
        return self._matrices(panel, {"op": "weights", "sets": [dict(params)]}, 1)[0]

    def weights_many(self, panel: Any, param_sets: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        sets = [dict(p) for p in param_sets]
        return self._matrices(panel, {"op": "weights", "sets": sets}, len(sets))


class JailedUniverseBars(JailedUniverse):
    """A bar-by-bar uploaded universe strategy: its jail steps ``on_bar`` over the panel
    and answers the rows it decided (its context shows no account state, so those
    rows are its whole decision); the backtest of them runs here, in the core."""

    def on_bar(self, bar: Any, ctx: Any) -> None:
        raise TypeError(f"{type(self).__name__} is uploaded code: it runs in its jail (strategies.run does that)")

    def run_in_jail_panel(self, panel: Any, config: Any, equity: bool, start: int, keep_weights: bool) -> Any:
        import engine

        rows = self._rows_from(panel, start)
        traded = panel if start == 0 else panel[start:]
        return engine.backtest_portfolio(traded, rows, config, equity=equity, keep_weights=keep_weights)

    def _rows_from(self, panel: Any, start: int) -> np.ndarray:
        from engine.portfolio import as_weights

        message = panel_message(panel)
        head, arrays = self._pool().call(
            {"op": "rows", "panel": message[0], "sets": [dict(self.params)], "start": int(start)}, bars=message
        )
        who = type(self).__name__
        if len(arrays) != 1 or arrays[0].dtype != np.float64 or arrays[0].ndim != 3 or len(arrays[0]) != 1:
            raise InvalidSignalError(f"{who}: its jail did not answer one float64 [1, n_bars, n_symbols] array")
        return as_weights(panel[start:], np.array(arrays[0][0]), what=f"{who} (uploaded) weights")


def _check_trades(tr: np.ndarray, n: int, who: str) -> None:
    from engine import _bindings

    for name in ("entry_bar", "exit_bar"):
        bad = (tr[name] < 0) | (tr[name] >= n)
        if bad.any():
            raise InvalidSignalError(f"{who}: its jail answered a trade with {name} outside the bars")
    reasons = tr["exit_reason"].astype(np.int64)
    if (~np.isin(reasons, list(_bindings.EXIT_REASONS))).any():  # the codes are not 0..n-1 (risk is 11)
        raise InvalidSignalError(f"{who}: its jail answered a trade with an unknown exit reason")


def _param(name: str, schema: Any) -> Param:
    if not isinstance(schema, dict) or schema.get("type") not in PARAM_TYPES:
        raise JailError(f"parameter {name!r}: its description is not one anvil knows")
    choices = schema.get("choices")
    if choices is not None:
        if not isinstance(choices, list) or len(choices) > MAX_CHOICES:
            raise JailError(f"parameter {name!r}: its choices are not a list of at most {MAX_CHOICES}")
        choices = tuple(choices)
    for key in ("low", "high", "step"):
        v = schema.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)):
            raise JailError(f"parameter {name!r}: {key} is not a finite number")
    return Param(
        schema["type"],
        schema.get("default"),
        schema.get("low"),
        schema.get("high"),
        schema.get("step"),
        bool(schema.get("log")),
        choices,
        str(schema.get("doc") or "")[:MAX_DOC],
    )


def jailed(
    source: str, description: dict[str, Any], job: str = "", limits: Limits | None = None
) -> type[JailedStrategy]:
    """A stand-in running ``source`` in jails, declared as ``description`` says (as the jail
    described it: ``name``, ``doc``, ``kind``, ``parameters``, ``constraints``).

    Raises:
        JailError: the description is malformed (names, sizes, parameter schemas).
    """
    name = description.get("name")
    params = description.get("parameters") or {}
    constraints = description.get("constraints") or []
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise JailError(f"the strategy's name must be text of 1 to {MAX_NAME} characters")
    if not isinstance(params, dict) or len(params) > MAX_PARAMS:
        raise JailError(f"a strategy declares at most {MAX_PARAMS} parameters")
    if (
        not isinstance(constraints, list)
        or len(constraints) > MAX_CONSTRAINTS
        or not all(isinstance(c, str) and len(c) <= 500 for c in constraints)
    ):
        raise JailError(f"a strategy has at most {MAX_CONSTRAINTS} constraints of at most 500 characters")
    attrs: dict[str, Any] = {}
    for key, schema in params.items():
        if (
            not isinstance(key, str)
            or not key.isidentifier()
            or key.startswith("_")
            or any(hasattr(b, key) for b in (JailedBars, JailedSignals, JailedWeights, JailedUniverseBars))
        ):
            raise JailError(f"{str(key)[:40]!r} cannot be a parameter's name")
        attrs[key] = _param(key, schema)
    vectorized = description.get("kind") == "vectorized"
    if description.get("universe") is True:
        base: type[JailedStrategy] = JailedWeights if vectorized else JailedUniverseBars
    else:
        base = JailedSignals if vectorized else JailedBars
    cls_name = "".join(ch for ch in name if ch.isalnum() or ch == "_") or "Uploaded"
    if not cls_name.isidentifier():
        cls_name = "Uploaded_" + cls_name
    attrs.update(
        name=name,
        constraints=tuple(constraints),
        __doc__=str(description.get("doc") or "")[:MAX_DOC],
        _source=source,
        _job=job,
        _limits=limits or Limits(),
        __module__=__name__,
        __qualname__=cls_name,
    )
    try:
        return type(cls_name, (base,), attrs)
    except Exception as exc:  # a constraint the parser refuses, a default out of bounds ...
        raise JailError(f"the strategy's declarations do not hold: {exc}") from None

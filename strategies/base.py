"""``Strategy``: the base class every strategy derives from.

A strategy declares its parameters once, as class attributes, and decides in one
of two ways:

- vectorized — ``signals(self, bars, **params)`` returns an int8 or float64
  signal array (see ``engine.signals``) computed from the whole series at once;
- bar by bar — ``on_bar(self, bar, ctx)`` places orders through ``ctx`` as each
  bar closes; an optional ``prepare(self, bars)`` runs once before the first bar
  (compute indicators there).

A vectorized strategy may also define ``signals_many(self, bars, param_sets)``,
returning the signals of many complete, validated parameter sets at once (one
row each, as ``signal_matrix`` would stack them) when sharing work across sets
makes that faster — ``strategies.blocks.above_rows`` compares shared indicator
lines for a whole sweep in one pass. ``run_many`` uses it; it must give exactly
the rows ``signals`` gives (the library's tests check theirs).

Either way the same class runs in a single backtest, a sweep, a walk-forward
and a Monte Carlo run (``strategies.run``, ``cluster``). Example::

    class SmaCross(Strategy):
        \"\"\"Long while the fast SMA is above the slow SMA, flat otherwise.\"\"\"
        fast = Int(10, low=2, high=100)
        slow = Int(30, low=5, high=400)
        constraints = ("fast < slow",)

        def signals(self, bars, fast, slow):
            f, s = indicators.sma(bars.close, fast), indicators.sma(bars.close, slow)
            return np.where(f > s, 1, 0).astype(np.int8)
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Mapping

from engine.errors import did_you_mean
from strategies.params import Constraint, Param, ParameterError


class Strategy:
    """Base class of strategies (see the module docstring for the contract).

    Class attributes:
        name: how users and the job service refer to it (defaults to the class name).
        constraints: expressions that valid parameter sets satisfy, e.g. ``"fast < slow"``.
    """

    name: ClassVar[str] = "Strategy"
    constraints: ClassVar[tuple[str, ...]] = ()
    short_switches: ClassVar[tuple[str, ...]] = ("short",)
    """True/False parameters that make the strategy sell short when true: a run that
    turns one on needs ``Config(allow_short=True)`` (``check_shorts`` refuses it
    otherwise). A parameter of that name that is not a True/False choice (say, the
    length of a short moving average) is not a switch."""
    _params: ClassVar[dict[str, Param]] = {}
    _rules: ClassVar[tuple[Constraint, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        declared: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Param):
                    declared[attr] = value
        cls._params = declared
        if isinstance(cls.constraints, str):
            raise ParameterError(
                f"{cls.__name__}.constraints must be a tuple of expressions, "
                f"e.g. ({cls.constraints!r},) — note the trailing comma"
            )
        cls._rules = tuple(Constraint(c, declared) for c in cls.constraints)
        if "signals" in cls.__dict__:
            cls.signals = _checked_signals(cls.__dict__["signals"])  # type: ignore[attr-defined]

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = self.check(params)

    # -- parameters -----------------------------------------------------------
    @classmethod
    def parameters(cls) -> dict[str, dict[str, Any]]:
        """Each parameter's schema: type, low, high, step, log, default, choices."""
        return {name: p.schema() for name, p in cls._params.items()}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {name: p.default for name, p in cls._params.items()}

    @classmethod
    def check_names(cls, names: Any) -> None:
        """Raise ParameterError (with "did you mean") for a name that is not a parameter."""
        for key in names:
            if key not in cls._params:
                more = did_you_mean(key, cls._params, before="; ", after="")
                known = ", ".join(cls._params) or "none"
                raise ParameterError(f"{cls.name} has no parameter {key!r}{more} (its parameters: {known})")

    @classmethod
    def check(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Validate ``params`` (defaults filled in) or raise ParameterError naming the culprit."""
        cls.check_names(params)
        full = cls.defaults()
        for key, value in params.items():
            full[key] = cls._params[key].check(value)
        for rule in cls._rules:
            if not rule(full):
                shown = ", ".join(f"{k}={full[k]!r}" for k in full if k in rule.expr)
                raise ParameterError(f"{cls.name} needs {rule.expr} (got {shown})")
        return full

    @classmethod
    def check_shorts(cls, values: Mapping[str, Any], allow_short: bool) -> None:
        """Refuse parameters that ask for shorts the config does not allow.

        Without ``allow_short`` a short signal means flat, so a run with
        ``short=True`` would quietly trade long only; it is an error instead.

        Args:
            values: parameter name -> its value, or the candidates a search tries
                (a list, tuple, range or array).
            allow_short: the config's ``allow_short``.

        Raises:
            ParameterError: naming the parameter and the two ways to fix it.
        """
        if allow_short:
            return
        for key in cls.short_switches:
            param = cls._params.get(key)
            if param is None or key not in values or not _is_switch(param):
                continue
            value = values[key]
            many = isinstance(value, (list, tuple, range)) or getattr(value, "ndim", 0) > 0
            if any(bool(v) for v in (value if many else [value])):
                raise ParameterError(
                    f"{cls.name} with {key}=True sells short, but the config does not allow "
                    f"shorts (a short would be read as flat, leaving a long-only run): set "
                    f"allow_short=True (CLI --allow-short, API config.allow_short) or {key}=False"
                )

    @classmethod
    def satisfies(cls, params: dict[str, Any]) -> Any:
        """Whether parameter sets satisfy the constraints; arrays in, bool array out."""
        result: Any = True
        for rule in cls._rules:
            result = result & rule(params)
        return result

    # -- reports --------------------------------------------------------------
    def report_lines(self, bars: Any, **params: Any) -> dict[str, Any]:
        """Lines a backtest's report draws over the price: name -> one value per bar
        (e.g. the two averages an SMA cross compares). None by default.

        Called with the run's parameters, only when a report is drawn
        (``strategies.run`` keeps the way to call it on the result).
        """
        return {}

    # -- kind -----------------------------------------------------------------
    @classmethod
    def is_universe(cls) -> bool:
        """True for a ``UniverseStrategy`` (weights over a Panel), False for one series."""
        return False

    @classmethod
    def is_vectorized(cls) -> bool:
        """True when the strategy decides with ``signals``, False for ``on_bar``."""
        return callable(getattr(cls, "signals", None))

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, rule (the docstring), kind and parameter schemas, ready for JSON."""
        return {
            "name": cls.name,
            "doc": (cls.__doc__ or "").strip(),
            "kind": "vectorized" if cls.is_vectorized() else "bar_by_bar",
            "universe": cls.is_universe(),
            "parameters": cls.parameters(),
            "constraints": list(cls.constraints),
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def _is_switch(param: Param) -> bool:
    """Whether ``param`` is a True/False choice."""
    return param.type == "categorical" and all(isinstance(c, bool) for c in param.choices or ())


def _checked_signals(fn: Any) -> Any:
    """Wrap a subclass's ``signals`` so every call sees validated, complete parameters."""

    @functools.wraps(fn)
    def signals(self: Strategy, bars: Any, **params: Any) -> Any:
        return fn(self, bars, **self.check({**self.params, **params}))

    return signals

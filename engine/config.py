"""``Config``: costs, sizing, risk exits and fill timing of a backtest."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from typing import Any

import numpy as np

from engine import _bindings
from engine.errors import InvalidConfigError, did_you_mean
from engine.records import CONFIG_DTYPE

FILLS = {"next_open": _bindings.FILL_NEXT_OPEN, "close": _bindings.FILL_CLOSE}


def _field(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A Config field with its allowed range (``low <= v < high``, ``low < v`` when
    ``low_open``) or choices, kept in the field's metadata for ``FIELDS``."""
    meta: dict[str, Any] = {}
    if low is not None:
        meta.update(low=low, low_open=low_open)
    if high is not None:
        meta["high"] = high
    if choices is not None:
        meta["choices"] = choices
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Config:
    """How a backtest trades. Every field has a default; fractions are 0.01 = 1 %.

    Attributes:
        initial_capital: starting cash.
        fee_rate: fee as a fraction of each order's notional.
        fee_per_unit: fee per unit traded.
        fixed_fee: fee per order.
        slippage_bps: basis points each fill moves against the trader.
        stop_loss: exit when price moves this fraction against the entry (None = off).
        take_profit: exit when price moves this fraction in favour (None = off).
        trailing_stop: exit this fraction off the best price since entry (None = off).
        max_leverage: cap on |target exposure| as a multiple of equity.
        allow_short: whether a short signal opens a short (otherwise it means flat).
        integer_units: whether positions are whole units (rounded toward zero).
        close_at_end: whether a position still open at the last bar is closed there.
        fill: "next_open" (a signal on bar t fills at the open of t+1) or "close"
            (it fills at the close of t).
        periods_per_year: bars per year for annualising; None = measured from the bars.
        borrow_rate: portfolios: yearly cost of a short as a fraction of its value,
            accrued at every close.
        rebalance_threshold: portfolios: skip a trade whose weight change is smaller.
        max_weight: cap on |weight| per symbol (one series: on |exposure| at a
            fill); each cap is recorded as a risk event (None = off).
        max_drawdown_halt: when equity at a fill is this fraction below its peak,
            close everything and ignore the weights (orders) for ``halt_bars`` bars;
            the peak then restarts (None = off).
        halt_bars: bars a drawdown halt lasts (>= 1).
        daily_loss_limit: when equity at a fill is this fraction below the UTC
            day's starting equity, close everything and ignore the weights (orders)
            until the next day (None = off).
        cooldown_bars: after a stop-loss or trailing-stop exit, ignore increases of
            that symbol (the series) for this many bars.
        Risk rules act the same for one series and for portfolios; an order they
        ignore is dropped (a signal that keeps its value does not re-enter).
    """

    initial_capital: float = _field(10_000.0, low=0.0, low_open=True)
    fee_rate: float = _field(0.0, low=0.0, high=1.0)
    fee_per_unit: float = _field(0.0, low=0.0)
    fixed_fee: float = _field(0.0, low=0.0)
    slippage_bps: float = _field(0.0, low=0.0, high=10_000.0)
    stop_loss: float | None = _field(None, low=0.0, high=1.0, low_open=True)
    take_profit: float | None = _field(None, low=0.0, low_open=True)
    trailing_stop: float | None = _field(None, low=0.0, high=1.0, low_open=True)
    max_leverage: float = _field(1.0, low=0.0, low_open=True)
    allow_short: bool = False
    integer_units: bool = False
    close_at_end: bool = False
    fill: str = _field("next_open", choices=tuple(FILLS))
    periods_per_year: float | None = _field(None, low=0.0, low_open=True)
    # -- portfolios (issue 10) --
    borrow_rate: float = _field(0.0, low=0.0)
    rebalance_threshold: float = _field(0.0, low=0.0)
    max_weight: float | None = _field(None, low=0.0, low_open=True)
    max_drawdown_halt: float | None = _field(None, low=0.0, high=1.0, low_open=True)
    halt_bars: int = _field(20, low=1, high=2**40 + 1)
    daily_loss_limit: float | None = _field(None, low=0.0, high=1.0, low_open=True)
    cooldown_bars: int = _field(0, low=0, high=2**40 + 1)

    def __post_init__(self) -> None:
        # Checked in this order (bools, choices, numbers, whole numbers): the first
        # field at fault is the one named.
        for f in _BY_KIND["bool"]:
            value = getattr(self, f.name)
            if not isinstance(value, (bool, np.bool_)):
                raise InvalidConfigError(f"Config.{f.name} must be True or False, not {value!r}")
            object.__setattr__(self, f.name, bool(value))
        for f in _BY_KIND["choice"]:
            value = getattr(self, f.name)
            if not isinstance(value, str) or value not in f.choices:
                raise InvalidConfigError(
                    f"Config.{f.name} is {value!r}; choose one of {', '.join(map(repr, f.choices))}"
                    f"{did_you_mean(value, f.choices, cutoff=0.5)}"
                )
        for f in _BY_KIND["float"]:
            _number(self, f)
        for f in _BY_KIND["int"]:
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not f.low <= value < f.high:
                raise InvalidConfigError(
                    f"Config.{f.name} is {value!r}; it must be a whole number of bars >= {f.low:g}"
                )
            object.__setattr__(self, f.name, int(value))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """A Config from a mapping, with a "did you mean" for unknown names."""
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated like a new Config)."""
        _reject_unknown(changes)
        return dataclasses.replace(self, **changes)

    def to_record(self, periods_per_year: float) -> np.ndarray:
        """The C record of this config; ``periods_per_year`` fills in when unset.

        Built once per ``periods_per_year`` and kept (a Config is frozen): the
        array is read-only, copy it to change it.
        """
        key = float(self.periods_per_year or periods_per_year)
        cache = self.__dict__.get("_records")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_records", cache)
        rec = cache.get(key)
        if rec is None:
            rec = self._build_record(key)
            rec.flags.writeable = False
            if len(cache) < 8:
                cache[key] = rec
        return rec

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_records", None)  # a cache, rebuilt on demand
        return state

    def _build_record(self, periods_per_year: float) -> np.ndarray:
        rec = np.zeros(1, CONFIG_DTYPE)
        r = rec[0]
        for name in ("initial_capital", "fee_rate", "fee_per_unit", "fixed_fee", "slippage_bps", "max_leverage"):
            r[name] = getattr(self, name)
        for name in (
            "stop_loss",
            "take_profit",
            "trailing_stop",
            "max_weight",
            "max_drawdown_halt",
            "daily_loss_limit",
        ):
            r[name] = getattr(self, name) or 0.0
        r["halt_bars"] = self.halt_bars
        r["cooldown_bars"] = self.cooldown_bars
        r["periods_per_year"] = periods_per_year
        r["fill"] = FILLS[self.fill]
        r["allow_short"] = self.allow_short
        r["integer_units"] = self.integer_units
        r["close_at_end"] = self.close_at_end
        return rec


@dataclasses.dataclass(frozen=True)
class ConfigField:
    """One ``Config`` field as the API and the command line offer it.

    Attributes:
        name: the field's name.
        kind: "float", "int", "bool" or "choice".
        default: its default (None = off, or measured).
        optional: whether None is allowed (to turn it off).
        description: the line of the ``Config`` docstring about it.
        low, high: the range of a number: ``low <= value < high`` (``low < value``
            when ``low_open``); ``high`` is ``inf`` when unbounded.
        choices: the allowed values of a "choice" field.
    """

    name: str
    kind: str
    default: Any
    optional: bool
    description: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    choices: tuple[str, ...] = ()


def describe(cls: type) -> tuple[ConfigField, ...]:
    """Every field of the dataclass ``cls`` (``Config``) with its type, default, range
    (from the field's metadata) and the line its docstring's ``Attributes:`` gives it."""
    docs = _attribute_docs(cls.__doc__ or "")
    out = []
    for f in dataclasses.fields(cls):
        annotation = str(f.type)
        optional = "None" in annotation
        base = annotation.replace("| None", "").strip()
        kind = "choice" if "choices" in f.metadata else {"float": "float", "int": "int", "bool": "bool"}[base]
        bounds = {k: f.metadata[k] for k in ("low", "high", "low_open", "choices") if k in f.metadata}
        out.append(ConfigField(f.name, kind, f.default, optional, docs.get(f.name, ""), **bounds))
    return tuple(out)


def _attribute_docs(doc: str) -> dict[str, str]:
    """``{name: text}`` from the ``Attributes:`` section of a Google-style docstring."""
    lines = inspect.cleandoc(doc).splitlines()
    out: dict[str, str] = {}
    if "Attributes:" not in lines:
        return out
    name = None
    for line in lines[lines.index("Attributes:") + 1 :]:
        if not line.strip():
            break
        head = re.match(r"^    (\w+): (.*)$", line)
        if head:
            name = head.group(1)
            out[name] = head.group(2).strip()
        elif name is not None:
            out[name] += " " + line.strip()
    return out


FIELDS: tuple[ConfigField, ...] = describe(Config)
"""Every ``Config`` field, described once: the API model (``api.specs.ConfigSpec``), the
command-line options and the web form are made from this."""

_FIELDS = tuple(f.name for f in FIELDS)
_BY_KIND = {kind: tuple(f for f in FIELDS if f.kind == kind) for kind in ("bool", "choice", "float", "int")}


def _reject_unknown(values: dict[str, Any]) -> None:
    for key in values:
        if key not in _FIELDS:
            raise InvalidConfigError(
                f"Config has no field {key!r}{did_you_mean(key, _FIELDS, cutoff=0.5)}; fields are {', '.join(_FIELDS)}"
            )


def _number(cfg: Config, f: ConfigField) -> None:
    value = getattr(cfg, f.name)
    if value is None and f.optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidConfigError(f"Config.{f.name} must be a number, not {value!r}")
    v = float(value)
    too_low = v <= f.low if f.low_open else v < f.low
    if not math.isfinite(v) or too_low or v >= f.high:
        lo = f"> {f.low:g}" if f.low_open else f">= {f.low:g}"
        hi = f" and < {f.high:g}" if math.isfinite(f.high) else ""
        off = " (or None to turn it off)" if f.optional else ""
        raise InvalidConfigError(f"Config.{f.name} is {value!r}; it must be {lo}{hi}{off}")
    object.__setattr__(cfg, f.name, v)


def _init_with_suggestions(init: Any) -> Any:
    def __init__(self: Config, *args: Any, **kwargs: Any) -> None:
        _reject_unknown(kwargs)
        init(self, *args, **kwargs)

    __init__.__doc__ = init.__doc__
    __init__.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
    return __init__


Config.__init__ = _init_with_suggestions(Config.__init__)  # type: ignore[method-assign]

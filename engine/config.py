"""``Config``: costs, sizing, risk exits and fill timing of a backtest."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
from typing import Any

import numpy as np

from engine import _bindings
from engine.errors import InvalidConfigError
from engine.records import CONFIG_DTYPE

FILLS = {"next_open": _bindings.FILL_NEXT_OPEN, "close": _bindings.FILL_CLOSE}


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

    initial_capital: float = 10_000.0
    fee_rate: float = 0.0
    fee_per_unit: float = 0.0
    fixed_fee: float = 0.0
    slippage_bps: float = 0.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_leverage: float = 1.0
    allow_short: bool = False
    integer_units: bool = False
    close_at_end: bool = False
    fill: str = "next_open"
    periods_per_year: float | None = None
    # -- portfolios (issue 10) --
    borrow_rate: float = 0.0
    rebalance_threshold: float = 0.0
    max_weight: float | None = None
    max_drawdown_halt: float | None = None
    halt_bars: int = 20
    daily_loss_limit: float | None = None
    cooldown_bars: int = 0

    def __post_init__(self) -> None:
        for name in ("allow_short", "integer_units", "close_at_end"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise InvalidConfigError(f"Config.{name} must be True or False, not {value!r}")
            object.__setattr__(self, name, bool(value))
        if not isinstance(self.fill, str) or self.fill not in FILLS:
            hint = _did_you_mean(str(self.fill), FILLS)
            raise InvalidConfigError(
                f"Config.fill is {self.fill!r}; choose one of {', '.join(map(repr, FILLS))}{hint}"
            )
        _number(self, "initial_capital", low=0.0, low_open=True)
        _number(self, "fee_rate", low=0.0, high=1.0)
        _number(self, "fee_per_unit", low=0.0)
        _number(self, "fixed_fee", low=0.0)
        _number(self, "slippage_bps", low=0.0, high=10_000.0)
        _number(self, "stop_loss", low=0.0, high=1.0, low_open=True, optional=True)
        _number(self, "take_profit", low=0.0, low_open=True, optional=True)
        _number(self, "trailing_stop", low=0.0, high=1.0, low_open=True, optional=True)
        _number(self, "max_leverage", low=0.0, low_open=True)
        _number(self, "periods_per_year", low=0.0, low_open=True, optional=True)
        # -- portfolios, and risk rules for one series too (issue 10) --
        _number(self, "borrow_rate", low=0.0)
        _number(self, "rebalance_threshold", low=0.0)
        _number(self, "max_weight", low=0.0, low_open=True, optional=True)
        _number(self, "max_drawdown_halt", low=0.0, high=1.0, low_open=True, optional=True)
        _number(self, "daily_loss_limit", low=0.0, high=1.0, low_open=True, optional=True)
        for name, low in (("halt_bars", 1), ("cooldown_bars", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= 2**40:
                raise InvalidConfigError(f"Config.{name} is {value!r}; it must be a whole number of bars >= {low}")
            object.__setattr__(self, name, int(value))

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
        for name in ("initial_capital", "fee_rate", "fee_per_unit", "fixed_fee", "slippage_bps",
                     "max_leverage"):  # fmt: skip
            r[name] = getattr(self, name)
        for name in ("stop_loss", "take_profit", "trailing_stop", "max_weight", "max_drawdown_halt",
                     "daily_loss_limit"):  # fmt: skip
            r[name] = getattr(self, name) or 0.0
        r["halt_bars"] = self.halt_bars
        r["cooldown_bars"] = self.cooldown_bars
        r["periods_per_year"] = periods_per_year
        r["fill"] = FILLS[self.fill]
        r["allow_short"] = self.allow_short
        r["integer_units"] = self.integer_units
        r["close_at_end"] = self.close_at_end
        return rec


_FIELDS = tuple(f.name for f in dataclasses.fields(Config))


def _did_you_mean(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _reject_unknown(values: dict[str, Any]) -> None:
    for key in values:
        if key not in _FIELDS:
            raise InvalidConfigError(
                f"Config has no field {key!r}{_did_you_mean(key, _FIELDS)}; "
                f"fields are {', '.join(_FIELDS)}"
            )


def _number(
    cfg: Config,
    name: str,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    optional: bool = False,
) -> None:
    value = getattr(cfg, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidConfigError(f"Config.{name} must be a number, not {value!r}")
    v = float(value)
    too_low = v <= low if low_open else v < low
    if not math.isfinite(v) or too_low or v >= high:
        lo = f"> {low:g}" if low_open else f">= {low:g}"
        hi = f" and < {high:g}" if math.isfinite(high) else ""
        off = " (or None to turn it off)" if optional else ""
        raise InvalidConfigError(f"Config.{name} is {value!r}; it must be {lo}{hi}{off}")
    object.__setattr__(cfg, name, v)


def _init_with_suggestions(init: Any) -> Any:
    def __init__(self: Config, *args: Any, **kwargs: Any) -> None:
        _reject_unknown(kwargs)
        init(self, *args, **kwargs)

    __init__.__doc__ = init.__doc__
    __init__.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
    return __init__


Config.__init__ = _init_with_suggestions(Config.__init__)  # type: ignore[method-assign]

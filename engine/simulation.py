"""``Simulation``: a backtest driven one bar at a time, matched and accounted by the core.

The bar-by-bar Strategy API (``strategies``) sits on this. A target order trades
exactly as a signal change to that target would, so a strategy written as a
signal array and as ``on_bar`` calls gives the same trades and statistics.

Sizes are exposures, as in float signals: ``buy(0.5)`` makes the position long
half of equity (closing a short first), ``sell(1.0)`` fully short (flat when the
config does not allow shorts), ``close()`` flat.
"""

from __future__ import annotations

import math
from typing import Any

from engine import _bindings
from engine.bars import Bars
from engine._run import sealed
from engine.config import Config
from engine.errors import InvalidSignalError
from engine.result import Result, stats_dict


def _positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidSignalError(f"{name} must be a number, not {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise InvalidSignalError(f"{name} is {value!r}; it must be a positive, finite number")
    return v


class Simulation:
    """One backtest, stepped bar by bar.

    For each bar ``t`` in order: ``open_bar(t)`` (fills at the open, risk exits,
    resting limit and stop orders), then place orders, then ``close_bar(t)``
    (market orders under ``fill="close"``, marking). ``finish()`` returns the
    ``Result`` after the last bar. Orders placed at bar t act from bar t+1, except
    market orders under ``fill="close"``, which fill at the close of t. The trades
    an order closes carry its kind as their exit reason: ``"stop_loss"`` for a stop
    order, ``"take_profit"`` for a limit order, ``"signal"`` for a market order.
    """

    def __init__(
        self,
        bars: Bars,
        config: Config | None = None,
        *,
        equity: bool = True,
        trades: bool = True,
    ) -> None:
        if not isinstance(bars, Bars):
            raise TypeError(f"bars must be engine.Bars, not {type(bars).__name__}")
        self.bars = bars
        self.config = config if config is not None else Config()
        record = self.config.to_record(bars.periods_per_year())
        self._core = _bindings.Stepper(bars.prices, record, equity, trades, bars.ts, checked=sealed(bars))
        self._t = -1

    # -- the clock ------------------------------------------------------------
    def open_bar(self, t: int) -> None:
        """Run bar ``t`` from its open up to just before its close."""
        self._core.open_bar(t)
        self._t = t

    def close_bar(self, t: int) -> None:
        """Finish bar ``t``: close fills, close_at_end on the last bar, marking."""
        self._core.close_bar(t)

    def finish(self) -> Result:
        """The Result, once the last bar is closed."""
        stats, equity, trades, events = self._core.finish()
        return Result(self.bars, self.config, stats_dict(stats), equity, trades, events)

    # -- orders ---------------------------------------------------------------
    def buy(self, size: float = 1.0) -> int:
        """Market order: be long ``size`` x equity. Returns the order id."""
        size = _positive("buy size", size)
        return self._core.order(_bindings.ORDER_MARKET, _bindings.SIDE_BUY, 0.0, size)

    def sell(self, size: float = 1.0) -> int:
        """Market order: be short ``size`` x equity (flat if shorts are off)."""
        size = _positive("sell size", size)
        return self._core.order(_bindings.ORDER_MARKET, _bindings.SIDE_SELL, 0.0, -size)

    def close(self) -> int:
        """Market order: close the position, whichever side it is on."""
        return self._core.order(_bindings.ORDER_MARKET, _bindings.SIDE_EXIT, 0.0, 0.0)

    def target(self, exposure: float) -> int:
        """Market order to a target exposure, exactly like a float signal value."""
        v = float(exposure)
        if not math.isfinite(v):
            raise InvalidSignalError(f"target exposure is {exposure!r}; it must be finite")
        side = _bindings.SIDE_BUY if v > 0 else _bindings.SIDE_SELL if v < 0 else _bindings.SIDE_EXIT
        return self._core.order(_bindings.ORDER_MARKET, side, 0.0, v)

    def limit(self, price: float, size: float) -> int:
        """Limit order: ``size > 0`` buys to long ``size`` when the low reaches
        ``price``; ``size < 0`` sells to short ``|size|`` when the high does."""
        price = _positive("limit price", price)
        return self._resting(_bindings.ORDER_LIMIT, price, size, "limit")

    def stop(self, price: float, size: float | None = None) -> int:
        """Stop order. Without ``size``: a protective stop that closes the position
        when price crosses ``price`` against it. With ``size > 0``: buy to long
        ``size`` when the high reaches ``price``; ``size < 0``: sell when the low does."""
        price = _positive("stop price", price)
        if size is None:
            return self._core.order(_bindings.ORDER_STOP, _bindings.SIDE_EXIT, price, 0.0)
        return self._resting(_bindings.ORDER_STOP, price, size, "stop")

    def take_profit(self, price: float) -> int:
        """Limit exit: close the position when price reaches ``price`` in its favour."""
        price = _positive("take-profit price", price)
        return self._core.order(_bindings.ORDER_LIMIT, _bindings.SIDE_EXIT, price, 0.0)

    def _resting(self, kind: int, price: float, size: float, what: str) -> int:
        v = float(size)
        if not math.isfinite(v) or v == 0:
            raise InvalidSignalError(
                f"{what} size is {size!r}; give a positive size to buy, a negative one to sell "
                "(use stop(price) or take_profit(price) to exit)"
            )
        side = _bindings.SIDE_BUY if v > 0 else _bindings.SIDE_SELL
        return self._core.order(kind, side, price, v)

    def cancel(self, order_id: int) -> bool:
        """Cancel a live order; False when it already filled or never existed."""
        return self._core.cancel(int(order_id))

    def cancel_all(self) -> None:
        """Cancel every live order."""
        self._core.cancel_all()

    # -- the account ----------------------------------------------------------
    @property
    def t(self) -> int:
        """The bar being stepped (-1 before the first)."""
        return self._t

    @property
    def position(self) -> float:
        """Units held: positive long, negative short, 0 flat."""
        return self._core.state()[1]

    @property
    def cash(self) -> float:
        return self._core.state()[0]

    @property
    def equity(self) -> float:
        """Cash plus the position marked at the current bar's close."""
        cash, units = self._core.state()[:2]
        return cash + units * float(self.bars.close[max(self._t, 0)])

    @property
    def entry_price(self) -> float:
        """Average entry price of the open position (NaN when flat)."""
        s = self._core.state()
        return s[2] if s[1] != 0 else math.nan

    @property
    def open_orders(self) -> int:
        """How many orders are live."""
        return self._core.state()[6]

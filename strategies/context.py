"""What an ``on_bar`` strategy sees: the bar that just closed and a trading context."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine import Bars, Simulation


class Bar(NamedTuple):
    """One bar as ``on_bar`` receives it, after its close."""

    t: int  # position in the series
    ts: int  # time, ns since the epoch, UTC
    open: float
    high: float
    low: float
    close: float
    volume: float


class History(NamedTuple):
    """The last bars up to and including the current one (read-only arrays)."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


class Context:
    """Orders and account state for ``on_bar``; matching and accounting are the core's.

    Sizes are exposures, as in float signals: ``buy()`` goes all-in long (closing a
    short first), ``buy(0.5)`` makes the position half of equity, ``sell()`` goes
    short (flat when the config does not allow shorts), ``close()`` goes flat.
    Market orders fill at the next bar's open (``fill="next_open"``) or at this
    bar's close (``fill="close"``); limit and stop orders rest from the next bar on.
    A trade closed by a stop order exits as ``"stop_loss"``, by a limit order (a
    take-profit) as ``"take_profit"``, by a market order as ``"signal"``.
    """

    __slots__ = ("_sim", "_bars", "_t")

    def __init__(self, sim: Simulation, bars: Bars) -> None:
        self._sim = sim
        self._bars = bars
        self._t = -1

    # -- orders (each returns an order id) ------------------------------------
    def buy(self, size: float = 1.0) -> int:
        """Be long ``size`` x equity."""
        return self._sim.buy(size)

    def sell(self, size: float = 1.0) -> int:
        """Be short ``size`` x equity (flat if shorts are off)."""
        return self._sim.sell(size)

    def close(self) -> int:
        """Close the position."""
        return self._sim.close()

    def target(self, exposure: float) -> int:
        """Trade to a target exposure, exactly like a float signal value."""
        return self._sim.target(exposure)

    def limit(self, price: float, size: float) -> int:
        """Buy (size > 0) when the low reaches ``price``, or sell (size < 0) when the high does."""
        return self._sim.limit(price, size)

    def stop(self, price: float, size: float | None = None) -> int:
        """A protective stop for the position (no size) or a stop entry (size > 0 buys, < 0 sells)."""
        return self._sim.stop(price, size)

    def take_profit(self, price: float) -> int:
        """Close the position when price reaches ``price`` in its favour."""
        return self._sim.take_profit(price)

    def cancel(self, order_id: int) -> bool:
        """Cancel a live order; False if it already filled or never existed."""
        return self._sim.cancel(order_id)

    def cancel_all(self) -> None:
        self._sim.cancel_all()

    # -- state (read-only) ----------------------------------------------------
    @property
    def position(self) -> float:
        """Units held: > 0 long, < 0 short, 0 flat."""
        return self._sim.position

    @property
    def equity(self) -> float:
        """Cash plus the position at this bar's close."""
        return self._sim.equity

    @property
    def cash(self) -> float:
        return self._sim.cash

    @property
    def entry_price(self) -> float:
        """Average entry price of the open position (NaN when flat)."""
        return self._sim.entry_price

    @property
    def open_orders(self) -> int:
        return self._sim.open_orders

    def history(self, n: int) -> History:
        """The last ``n`` bars up to and including this one (fewer near the start)."""
        if n < 1:
            raise ValueError(f"history needs n >= 1, not {n}")
        lo, hi = max(0, self._t - n + 1), self._t + 1
        b = self._bars
        return History(b.ts[lo:hi], b.open[lo:hi], b.high[lo:hi], b.low[lo:hi], b.close[lo:hi], b.volume[lo:hi])

"""A bar-by-bar breakout with a trailing stop: collections, dataclasses, enum, functools."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from strategies import Float, Int, Strategy


class Side(Enum):
    FLAT = 0
    LONG = 1


@dataclass
class Book:
    """What the strategy remembers between bars."""

    highs: deque = field(default_factory=deque)
    side: Side = Side.FLAT
    best: float = 0.0
    entries: int = 0


@lru_cache(maxsize=None)
def stop_level(best: float, trail: float) -> float:
    return best * (1.0 - trail)


class DequeBreakout(Strategy):
    """Buy a close above the highest high of the last `lookback` bars; trail a stop."""

    lookback = Int(20, low=2, high=200)
    trail = Float(0.05, low=0.01, high=0.3)

    def prepare(self, bars):
        self._book = Book(highs=deque(maxlen=self.lookback))

    def on_bar(self, bar, ctx):
        book = self._book
        full = len(book.highs) == book.highs.maxlen
        if book.side is Side.FLAT and full and bar.close > max(book.highs):
            ctx.buy()
            book.side, book.best = Side.LONG, bar.close
            book.entries += 1
        elif book.side is Side.LONG:
            book.best = max(book.best, bar.close)
            if bar.close < stop_level(book.best, self.trail):
                ctx.close()
                book.side = Side.FLAT
        book.highs.append(bar.high)

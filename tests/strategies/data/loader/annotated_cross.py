"""A crossover with every Python nicety a strategy may use: annotations, properties,
class methods, named tuples, a helper class with a private attribute, lambdas."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from strategies import Categorical, Int, Strategy, indicators
from strategies.blocks import crossover, crossunder, from_entries_exits, effective_position

Pair = namedtuple("Pair", "fast slow")
FAST, SLOW = 8, 34
KINDS = ("sma", "ema")


class Averages:
    """Moving averages by name."""

    def __init__(self, kind: str) -> None:
        self._kind = kind

    @property
    def kind(self) -> str:
        return self._kind

    def __call__(self, values: np.ndarray, n: int) -> np.ndarray:
        pick = {"sma": indicators.sma, "ema": indicators.ema}
        return pick[self._kind](values, n)


class AnnotatedCross(Strategy):
    """Long from a crossover of the fast average above the slow one to the next crossunder."""

    fast = Int(FAST, low=2, high=100)
    slow = Int(SLOW, low=5, high=400)
    kind = Categorical("ema", KINDS)
    constraints = ("fast < slow",)

    @staticmethod
    def label(fast: int, slow: int) -> str:
        pair = Pair(fast, slow)
        return "{}/{}".format(*pair) + f" ({pair.fast:d}<{pair._asdict()['slow']:d})"

    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        return tuple(sorted(KINDS, key=lambda k: (len(k), k)))

    def signals(self, bars, fast: int, slow: int, kind: str) -> np.ndarray:
        average = Averages(kind)
        f, s = average(bars.close, fast), average(bars.close, slow)
        events = from_entries_exits(crossover(f, s), crossunder(f, s))
        assert self.label(fast, slow).startswith(str(fast)) and average.kind in self.kinds()
        return effective_position(events)

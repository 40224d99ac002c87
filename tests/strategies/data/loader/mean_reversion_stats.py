"""Mean reversion on a z-score, bar by bar: statistics, itertools, operator, typing."""

import itertools
import operator
import statistics
from typing import List, Optional

from strategies import Bar, Context, Int, Float, Strategy


class StatsReversion(Strategy):
    """Buy when the close is `entry` deviations below its mean; sell back at the mean."""

    window = Int(20, low=5, high=100)
    entry = Float(1.5, low=0.5, high=4.0)
    constraints = ("window >= 5",)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.closes: List[float] = []

    def prepare(self, bars) -> None:
        self.closes = []

    def zscore(self) -> Optional[float]:
        recent = list(itertools.islice(reversed(self.closes), self.window))
        if len(recent) < self.window:
            return None
        sd = statistics.pstdev(recent)
        if sd == 0:
            return None
        return operator.truediv(recent[0] - statistics.fmean(recent), sd)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        self.closes.append(bar.close)
        z = self.zscore()
        if z is None:
            return
        if ctx.position == 0 and z < -self.entry:
            ctx.buy()
        elif ctx.position > 0 and z >= 0:
            ctx.close()

"""Donchian breakout: buy a close above the highest high of the previous bars (Turtle rules)."""

import numpy as np

from strategies import Categorical, Int, Strategy, blocks, indicators


class DonchianBreakout(Strategy):
    """Donchian breakout: buy a close above the prior highs, sell one below the prior lows.

    Rule at bar t (the channels exclude bar t itself):
      - enter long when close[t] > max(high[t-entry_period .. t-1]);
      - exit the long when close[t] < min(low[t-exit_period .. t-1]);
      - with ``short=True``: enter short when close[t] < min(low[t-entry_period .. t-1]),
        cover when close[t] > max(high[t-exit_period .. t-1]);
      - otherwise the position carries; flat before the first entry (the first
        `entry_period` bars have no full channel).
    """

    name = "DonchianBreakout"
    entry_period = Int(20, low=2, high=250, doc="bars in the breakout channel")
    exit_period = Int(10, low=2, high=250, doc="bars in the exit channel")
    short = Categorical(False, (False, True), doc="also sell breakdowns short")
    constraints = ("exit_period <= entry_period",)

    def signals(self, bars, entry_period, exit_period, short):
        c = bars.close
        entry_high = self.previous(indicators.highest(bars.high, entry_period))
        exit_low = self.previous(indicators.lowest(bars.low, exit_period))
        if short:
            entry_low = self.previous(indicators.lowest(bars.low, entry_period))
            exit_high = self.previous(indicators.highest(bars.high, exit_period))
            events = blocks.from_entries_exits(c > entry_high, c < exit_low, c < entry_low, c > exit_high)
        else:
            events = blocks.from_entries_exits(c > entry_high, c < exit_low)
        return blocks.effective_position(events)

    def previous(self, values):
        """``values`` one bar later: the value at t is the one at t - 1 (NaN at bar 0)."""
        out = np.empty(len(values))
        out[:1] = np.nan
        out[1:] = values[:-1]
        return out

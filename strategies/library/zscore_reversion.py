"""Z-score mean reversion: buy a close far below its rolling mean, exit near the mean."""

from strategies import Categorical, Float, Int, Strategy, blocks, indicators


class ZScoreReversion(Strategy):
    """Z-score mean reversion: enter long when z < -entry_z, exit once z > -exit_z.

    Rule at bar t, with z = (close - SMA(close, period)) / sd, sd the population
    standard deviation of the last `period` closes (z = 0 on a flat window):
      - enter long when z[t] < -entry_z;
      - exit the long when z[t] > -exit_z;
      - with ``short=True``: enter short when z[t] > entry_z, cover when z[t] < exit_z;
      - otherwise the position carries; flat before the first entry and while z
        warms up (t < period - 1).
    """

    name = "ZScoreReversion"
    period = Int(20, low=5, high=250, doc="bars in the rolling mean and deviation")
    entry_z = Float(2.0, low=0.5, high=4.0, step=0.25, doc="enter this many deviations out")
    exit_z = Float(0.5, low=0.0, high=3.0, step=0.25, doc="exit back within this many deviations")
    short = Categorical(False, (False, True), doc="also sell stretched highs short")
    constraints = ("exit_z < entry_z",)

    def signals(self, bars, period, entry_z, exit_z, short):
        z = indicators.zscore(bars.close, period)
        if short:
            events = blocks.from_entries_exits(z < -entry_z, z > -exit_z, z > entry_z, z < exit_z)
        else:
            events = blocks.from_entries_exits(z < -entry_z, z > -exit_z)
        return blocks.effective_position(events)

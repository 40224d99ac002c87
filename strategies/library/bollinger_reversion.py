"""Bollinger mean reversion: buy a close below the lower band, sell at the middle band."""

from strategies import Categorical, Float, Int, Strategy, blocks, indicators


class BollingerReversion(Strategy):
    """Bollinger mean reversion: enter long below the lower band, exit above the middle band.

    Rule at bar t, with mid = SMA(close, period), sd = the population standard
    deviation of the last `period` closes, lower = mid - stdevs * sd and upper =
    mid + stdevs * sd (TA-Lib's BBANDS):
      - enter long when close[t] < lower[t];
      - exit the long when close[t] > mid[t];
      - with ``short=True``: enter short when close[t] > upper[t], cover when
        close[t] < mid[t];
      - otherwise the position carries; flat before the first entry and while the
        bands warm up (t < period - 1).
    """

    name = "BollingerReversion"
    period = Int(20, low=5, high=200, doc="bars in the middle band (SMA) and the deviation")
    stdevs = Float(2.0, low=0.5, high=4.0, step=0.25, doc="band distance in standard deviations")
    short = Categorical(False, (False, True), doc="also sell closes above the upper band short")

    def signals(self, bars, period, stdevs, short):
        c = bars.close
        upper, mid, lower, width = indicators.bbands(c, period, stdevs, stdevs)
        if short:
            events = blocks.from_entries_exits(c < lower, c > mid, c > upper, c < mid)
        else:
            events = blocks.from_entries_exits(c < lower, c > mid)
        return blocks.effective_position(events)

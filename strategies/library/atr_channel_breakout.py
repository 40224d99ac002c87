"""ATR channel breakout: buy a close above an EMA plus a multiple of the ATR (Keltner)."""

from strategies import Categorical, Float, Int, Strategy, blocks, indicators


class AtrChannelBreakout(Strategy):
    """ATR channel breakout: enter long above EMA + mult * ATR, exit below the EMA.

    Rule at bar t, with mid = EMA(close, period), a = ATR(high, low, close,
    atr_period) (Wilder's, as TA-Lib), upper = mid + mult * a, lower = mid - mult * a:
      - enter long when close[t] > upper[t];
      - exit the long when close[t] < mid[t];
      - with ``short=True``: enter short when close[t] < lower[t], cover when
        close[t] > mid[t];
      - otherwise the position carries; flat before the first entry and while the
        channel warms up.
    """

    name = "AtrChannelBreakout"
    period = Int(20, low=2, high=200, doc="bars in the EMA at the channel's centre")
    atr_period = Int(10, low=2, high=100, doc="bars in the ATR that sets the channel's width")
    mult = Float(2.0, low=0.25, high=6.0, step=0.25, doc="channel half-width in ATRs")
    short = Categorical(False, (False, True), doc="also sell breakdowns below the channel short")

    def signals(self, bars, period, atr_period, mult, short):
        c = bars.close
        mid = indicators.ema(c, period)
        width = mult * indicators.atr(bars.high, bars.low, c, atr_period)
        upper, lower = mid + width, mid - width
        if short:
            events = blocks.from_entries_exits(c > upper, c < mid, c < lower, c > mid)
        else:
            events = blocks.from_entries_exits(c > upper, c < mid)
        return blocks.effective_position(events)

"""VWAP reversion: buy a close stretched well below the rolling VWAP, sell once back above it."""

from strategies import Categorical, Float, Int, Strategy, blocks, indicators


class VwapReversion(Strategy):
    """VWAP reversion: enter long below VWAP - band * ATR, exit above the VWAP.

    Rule at bar t, with v = the rolling VWAP of the last `period` bars,
    sum(typical * volume) / sum(volume) with typical = (high + low + close) / 3,
    and a = ATR(high, low, close, period) (Wilder's, as TA-Lib), so that the band
    scales with the market's volatility:
      - enter long when close[t] < v[t] - band * a[t];
      - exit the long when close[t] > v[t];
      - with ``short=True``: enter short when close[t] > v[t] + band * a[t], cover
        when close[t] < v[t];
      - otherwise the position carries; flat before the first entry, during the
        warm-up (t < period) and where the window traded no volume.
    """

    name = "VwapReversion"
    period = Int(20, low=2, high=500, doc="bars in the rolling VWAP and the ATR")
    band = Float(2.0, low=0.25, high=6.0, step=0.25, doc="entry distance from the VWAP, in ATRs")
    short = Categorical(False, (False, True), doc="also sell closes far above the VWAP short")

    def signals(self, bars, period, band, short):
        c = bars.close
        v = indicators.vwap(bars.high, bars.low, c, bars.volume, period)
        width = band * indicators.atr(bars.high, bars.low, c, period)
        if short:
            events = blocks.from_entries_exits(c < v - width, c > v, c > v + width, c < v)
        else:
            events = blocks.from_entries_exits(c < v - width, c > v)
        return blocks.effective_position(events)

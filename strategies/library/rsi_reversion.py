"""RSI mean reversion: buy an oversold market, sell once its RSI has recovered."""

from strategies import Categorical, Int, Strategy, blocks, indicators


class RsiReversion(Strategy):
    """RSI mean reversion: enter long when RSI drops below `lower`, exit above `exit_level`.

    Rule at bar t, with r = RSI(close, period) (Wilder's smoothing, as TA-Lib):
      - enter long when r[t] < lower;
      - exit the long when r[t] > exit_level;
      - with ``short=True``: enter short when r[t] > upper, cover when
        r[t] < exit_level (an entry below `lower` while short reverses to long);
      - otherwise the position carries; flat before the first entry and while RSI
        warms up (t < period).
    """

    name = "RsiReversion"
    period = Int(14, low=2, high=100, doc="bars in the RSI")
    lower = Int(30, low=5, high=50, doc="oversold: enter long below this RSI")
    upper = Int(70, low=50, high=95, doc="overbought: enter short above this RSI")
    exit_level = Int(50, low=20, high=80, doc="exit a long above, a short below this RSI")
    short = Categorical(False, (False, True), doc="also trade the overbought side short")
    constraints = ("lower < exit_level < upper",)

    def signals(self, bars, period, lower, upper, exit_level, short):
        r = indicators.rsi(bars.close, period)
        if short:
            events = blocks.from_entries_exits(r < lower, r > exit_level, r > upper, r < exit_level)
        else:
            events = blocks.from_entries_exits(r < lower, r > exit_level)
        return blocks.effective_position(events)

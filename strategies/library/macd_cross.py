"""MACD cross: long while the MACD line is above its signal line."""

import numpy as np

from strategies import Categorical, Int, Strategy, indicators


class MacdCross(Strategy):
    """MACD cross: long while the MACD line is above its signal line, flat otherwise.

    Rule at bar t, with line = EMA(close, fast) - EMA(close, slow) and sig =
    EMA(line, signal) (TA-Lib's MACD):
      - 1 (long) while line[t] > sig[t] (the histogram is positive);
      - -1 (short) while line[t] < sig[t] when ``short=True``, else 0 (flat);
      - 0 when they are equal or still warming up (t < slow + signal - 2).
    So the position turns the bar after the line crosses its signal line.
    """

    name = "MacdCross"
    fast = Int(12, low=2, high=100, doc="bars in the fast EMA")
    slow = Int(26, low=5, high=300, doc="bars in the slow EMA")
    signal = Int(9, low=2, high=100, doc="bars in the EMA of the MACD line (the signal line)")
    short = Categorical(False, (False, True), doc="short while the line is below its signal")
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow, signal, short):
        line, sig, hist = indicators.macd(bars.close, fast, slow, signal)
        out = np.where(line > sig, 1, 0)
        if short:
            out = np.where(line < sig, -1, out)
        return out.astype(np.int8)

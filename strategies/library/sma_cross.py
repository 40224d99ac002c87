"""SMA cross: follow the trend while a fast simple moving average is above a slow one."""

import numpy as np

from strategies import Categorical, Int, Strategy, blocks, indicators


class SmaCross(Strategy):
    """SMA cross: long while SMA(close, fast) is above SMA(close, slow), flat otherwise.

    Rule at bar t, with f = SMA(close, fast) and s = SMA(close, slow):
      - 1 (long) while f[t] > s[t];
      - -1 (short) while f[t] < s[t] when ``short=True``, else 0 (flat);
      - 0 when they are equal or the slow SMA is still warming up (t < slow - 1).
    So the position flips the bar after the averages cross (fills at the next open).
    """

    name = "SmaCross"
    fast = Int(10, low=2, high=100, doc="bars in the fast SMA")
    slow = Int(30, low=5, high=400, doc="bars in the slow SMA")
    short = Categorical(False, (False, True), doc="short while fast < slow, instead of flat")
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow, short):
        f = indicators.sma(bars.close, fast)
        s = indicators.sma(bars.close, slow)
        out = (f > s).view(np.int8)  # NaN compares false: flat while warming up
        if short:
            out = out - (f < s).view(np.int8)
        return out

    def report_lines(self, bars, fast, slow, short):
        """The two averages, drawn over the price in a backtest's report."""
        return {f"SMA {fast}": indicators.sma(bars.close, fast), f"SMA {slow}": indicators.sma(bars.close, slow)}

    def signals_many(self, bars, param_sets):
        """The signals of many parameter sets at once: the sets' SMAs (45 windows
        serve 990 pairs) compared in one pass (``blocks.above_rows``)."""
        sma = {w: indicators.sma(bars.close, w) for w in {p[k] for p in param_sets for k in ("fast", "slow")}}
        return blocks.above_rows(
            [sma[p["fast"]] for p in param_sets],
            [sma[p["slow"]] for p in param_sets],
            short=[p["short"] for p in param_sets],
        )

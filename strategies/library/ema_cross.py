"""EMA cross: follow the trend while a fast exponential moving average is above a slow one."""

import numpy as np

from strategies import Categorical, Int, Strategy, blocks, indicators


class EmaCross(Strategy):
    """EMA cross: long while EMA(close, fast) is above EMA(close, slow), flat otherwise.

    Rule at bar t, with f = EMA(close, fast) and s = EMA(close, slow) (TA-Lib's EMA:
    alpha = 2 / (period + 1), seeded with the SMA of the first ``period`` closes):
      - 1 (long) while f[t] > s[t];
      - -1 (short) while f[t] < s[t] when ``short=True``, else 0 (flat);
      - 0 when they are equal or the slow EMA is still warming up (t < slow - 1).
    """

    name = "EmaCross"
    fast = Int(12, low=2, high=100, doc="bars in the fast EMA")
    slow = Int(26, low=5, high=400, doc="bars in the slow EMA")
    short = Categorical(False, (False, True), doc="short while fast < slow, instead of flat")
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow, short):
        f = indicators.ema(bars.close, fast)
        s = indicators.ema(bars.close, slow)
        out = np.where(f > s, 1, 0)
        if short:
            out = np.where(f < s, -1, out)
        return out.astype(np.int8)

    def report_lines(self, bars, fast, slow, short):
        """The two averages, drawn over the price in a backtest's report."""
        return {f"EMA {fast}": indicators.ema(bars.close, fast), f"EMA {slow}": indicators.ema(bars.close, slow)}

    def signals_many(self, bars, param_sets):
        """The signals of many parameter sets at once: the sets' EMAs compared in
        one pass (``blocks.above_rows``)."""
        ema = {w: indicators.ema(bars.close, w) for w in {p[k] for p in param_sets for k in ("fast", "slow")}}
        return blocks.above_rows(
            [ema[p["fast"]] for p in param_sets],
            [ema[p["slow"]] for p in param_sets],
            short=[p["short"] for p in param_sets],
        )

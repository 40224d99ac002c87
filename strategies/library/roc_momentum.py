"""Rate-of-change momentum: long while the close is up more than a threshold over `period` bars."""

import numpy as np

from strategies import Categorical, Float, Int, Strategy, indicators


class RocMomentum(Strategy):
    """Rate-of-change momentum: long while ROC(close, period) is above `threshold` percent.

    Rule at bar t, with roc = (close[t] / close[t - period] - 1) * 100:
      - 1 (long) while roc[t] > threshold;
      - -1 (short) while roc[t] < -threshold when ``short=True``, else 0 (flat);
      - 0 otherwise, and for the first `period` bars.
    """

    name = "RocMomentum"
    period = Int(20, low=1, high=250, doc="bars the change is measured over")
    threshold = Float(0.0, low=0.0, high=20.0, step=0.5, doc="percent change needed to be long")
    short = Categorical(False, (False, True), doc="short while the change is below -threshold")

    def signals(self, bars, period, threshold, short):
        roc = indicators.roc(bars.close, period)
        out = np.where(roc > threshold, 1, 0)
        if short:
            out = np.where(roc < -threshold, -1, out)
        return out.astype(np.int8)

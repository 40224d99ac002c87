"""Dual momentum: the strongest symbols, each only while its own return beats a threshold."""

import numpy as np

from strategies import Categorical, Float, Int, UniverseStrategy, blocks


class DualMomentum(UniverseStrategy):
    """Dual momentum: relative (top_k by return) and absolute (return > threshold).

    Rule on each rebalance bar t: ret_j = close[t] / close[t - lookback] - 1; the
    top_k symbols by ret (ties: the lower column) that also have ret_j > threshold
    get 1 / top_k each; a pick that fails the absolute test leaves its share in
    cash, and when nothing qualifies the whole portfolio is cash (every weight 0).
    """

    name = "DualMomentum"
    lookback = Int(250, low=5, high=500, doc="bars the return is measured over")
    top_k = Int(1, low=1, high=500, doc="symbols held at most")
    threshold = Float(0.0, low=-0.5, high=1.0, step=0.01, doc="return a pick needs (0.0: it must be up)")
    rebalance = Categorical(
        "month_end", ("daily", "week_end", "month_end", "quarter_end"), doc="when the holdings are chosen"
    )

    def weights(self, panel, lookback, top_k, threshold, rebalance):
        ret = blocks.momentum(panel.close, lookback)
        picks = blocks.top_k(ret, top_k) & (ret > threshold)
        w = np.where(picks, 1.0 / top_k, 0.0)
        return blocks.on_rebalance(w, blocks.schedule(panel.ts, rebalance))

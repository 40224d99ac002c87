"""Cross-sectional momentum: hold the symbols that rose most, rebalanced on a schedule."""

import numpy as np

from strategies import Categorical, Int, UniverseStrategy, blocks


class CrossSectionalMomentum(UniverseStrategy):
    """Cross-sectional momentum: equal weight on the top_k symbols by past return.

    Rule on each rebalance bar t (the last bar of each week / month / quarter, or
    every bar): score_j = close[t - skip] / close[t - lookback] - 1 (symbols without
    both prices are out); hold the top_k scores (ties: the lower column) at
    1 / top_k each, 0 on every other symbol. Between rebalance bars nothing trades.
    """

    name = "CrossSectionalMomentum"
    lookback = Int(120, low=5, high=500, doc="bars the return is measured over")
    skip = Int(0, low=0, high=100, doc="most recent bars left out of the return")
    top_k = Int(2, low=1, high=500, doc="symbols held")
    rebalance = Categorical(
        "month_end", ("daily", "week_end", "month_end", "quarter_end"), doc="when the holdings are chosen"
    )
    constraints = ("skip < lookback",)

    def weights(self, panel, lookback, skip, top_k, rebalance):
        rows = np.flatnonzero(blocks.schedule(panel.ts, rebalance))
        score = blocks.momentum(panel.close, lookback, skip)[rows]
        return self.place(panel, rows, score, top_k)

    def weights_many(self, panel, param_sets):
        """The same matrices, sharing each schedule and each (lookback, skip, rebalance) score."""
        when, scores = {}, {}
        for p in param_sets:
            if p["rebalance"] not in when:
                when[p["rebalance"]] = np.flatnonzero(blocks.schedule(panel.ts, p["rebalance"]))
            rows = when[p["rebalance"]]
            key = (p["lookback"], p["skip"], p["rebalance"])
            if key not in scores:
                scores[key] = blocks.momentum(panel.close, p["lookback"], p["skip"])[rows]
            yield self.place(panel, rows, scores[key], p["top_k"])

    def place(self, panel, rows, score, top_k):
        """Equal weight on the top_k of each scored row, written on its rebalance bar; NaN elsewhere."""
        out = np.full(panel.shape, np.nan)
        out[rows] = blocks.equal_weight(blocks.top_k(score, top_k))
        return out

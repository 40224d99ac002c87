"""Cross-sectional momentum: hold the symbols that rose most, rebalanced on a schedule."""

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
    rebalance = Categorical("month_end", ("daily", "week_end", "month_end", "quarter_end"), doc="when the holdings are chosen")
    constraints = ("skip < lookback",)

    def weights(self, panel, lookback, skip, top_k, rebalance):
        score = blocks.momentum(panel.close, lookback, skip)
        picks = blocks.top_k(score, top_k)
        return blocks.on_rebalance(blocks.equal_weight(picks), blocks.schedule(panel.ts, rebalance))

    def weights_many(self, panel, param_sets):
        """The same matrices, sharing each (lookback, skip) score and each schedule."""
        scores, when = {}, {}
        for p in param_sets:
            key = (p["lookback"], p["skip"])
            if key not in scores:
                scores[key] = blocks.momentum(panel.close, p["lookback"], p["skip"])
            if p["rebalance"] not in when:
                when[p["rebalance"]] = blocks.schedule(panel.ts, p["rebalance"])
            picks = blocks.top_k(scores[key], p["top_k"])
            yield blocks.on_rebalance(blocks.equal_weight(picks), when[p["rebalance"]])

"""Short-term reversal: buy the recent losers, sell the recent winners."""

import numpy as np

from strategies import Categorical, Int, UniverseStrategy, blocks


class ShortTermReversal(UniverseStrategy):
    """Short-term reversal: long the k worst and short the k best recent returns.

    Rule on each rebalance bar t: ret_j = close[t] / close[t - lookback] - 1. With
    ``short=True`` the k lowest returns are long 0.5 / k each and the k highest
    short 0.5 / k each (gross 1, net 0; a symbol in both lists — fewer than 2k
    symbols with a return — is left out); with ``short=False`` the k lowest are
    long 1 / k each. Ties: the lower column. 0 on every other symbol.
    """

    name = "ShortTermReversal"
    lookback = Int(5, low=1, high=120, doc="bars the return is measured over")
    k = Int(1, low=1, high=250, doc="symbols on each side")
    short = Categorical(True, (False, True), doc="also short the winners (needs allow_short)")
    rebalance = Categorical(
        "week_end", ("daily", "week_end", "month_end", "quarter_end"), doc="when the book is rebuilt"
    )

    def weights(self, panel, lookback, k, short, rebalance):
        ret = blocks.momentum(panel.close, lookback)
        losers = blocks.bottom_k(ret, k)
        if short:
            winners = blocks.top_k(ret, k)
            both = losers & winners
            w = np.where(losers & ~both, 0.5 / k, 0.0) - np.where(winners & ~both, 0.5 / k, 0.0)
        else:
            w = np.where(losers, 1.0 / k, 0.0)
        return blocks.on_rebalance(w, blocks.schedule(panel.ts, rebalance))

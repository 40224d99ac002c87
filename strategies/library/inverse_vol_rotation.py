"""Inverse-volatility rotation: the strongest symbols, the calmer ones held larger."""

import numpy as np

from strategies import Categorical, Int, UniverseStrategy, blocks


class InverseVolRotation(UniverseStrategy):
    """Inverse-volatility rotation: top_k symbols by return, weighted by 1 / volatility.

    Rule on each rebalance bar t: pick the top_k symbols by close[t] /
    close[t - lookback] - 1 (ties: the lower column) among those with a volatility
    (population std of the last vol_period daily returns, all present); weight
    each pick by (1 / vol_j) / sum over picks of (1 / vol); 0 elsewhere.
    """

    name = "InverseVolRotation"
    lookback = Int(120, low=5, high=500, doc="bars the return is measured over")
    vol_period = Int(60, low=2, high=500, doc="returns in the volatility")
    top_k = Int(3, low=1, high=500, doc="symbols held")
    rebalance = Categorical(
        "month_end", ("daily", "week_end", "month_end", "quarter_end"), doc="when the holdings are chosen"
    )

    def weights(self, panel, lookback, vol_period, top_k, rebalance):
        vol = blocks.rolling_vol(panel.close, vol_period)
        score = blocks.momentum(panel.close, lookback)
        score[~(vol > 0)] = np.nan
        w = blocks.inverse_vol(vol, blocks.top_k(score, top_k))
        return blocks.on_rebalance(w, blocks.schedule(panel.ts, rebalance))

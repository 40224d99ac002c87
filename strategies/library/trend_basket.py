"""Trend-filtered basket: an equal-weight basket of every symbol, held only in an uptrend."""

import numpy as np

from strategies import Categorical, Int, UniverseStrategy, blocks, indicators


class TrendBasket(UniverseStrategy):
    """Equal-weight basket held while the basket is above its moving average.

    Rule: the basket's return at bar t is the mean of the returns of the symbols
    with prices at t - 1 and t (0 when none); its index is the running product of
    (1 + return) from 1. The filter is on at bar t while index[t] > SMA(index,
    period)[t] (off while the SMA warms up). Rows are written on rebalance bars and
    on bars where the filter flips: on, 1 / k on each of the k symbols with a price
    at t; off, 0 everywhere (cash).
    """

    name = "TrendBasket"
    period = Int(200, low=2, high=500, doc="bars in the basket's moving average")
    rebalance = Categorical(
        "month_end",
        ("daily", "week_end", "month_end", "quarter_end"),
        doc="when the basket is brought back to equal weight",
    )

    def weights(self, panel, period, rebalance):
        r = blocks.returns(panel.close)
        have = np.isfinite(r)
        count = have.sum(axis=1)
        mean = np.divide(np.where(have, r, 0.0).sum(axis=1), count, out=np.zeros(len(r)), where=count > 0)
        index = np.cumprod(1.0 + mean)
        on = index > indicators.sma(index, period)
        basket = blocks.equal_weight(np.isfinite(panel.close))
        w = np.where(on[:, None], basket, 0.0)
        flips = np.zeros(len(on), dtype=bool)
        flips[0] = on[0]
        flips[1:] = on[1:] != on[:-1]
        return blocks.on_rebalance(w, blocks.schedule(panel.ts, rebalance) | flips)

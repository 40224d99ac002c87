"""Dual-timeframe trend: a higher-timeframe trend gates a lower-timeframe entry."""

import numpy as np

from strategies import Categorical, Int, Strategy, indicators


class DualTimeframeTrend(Strategy):
    """Dual-timeframe trend: long while the higher-timeframe trend is up and close > EMA.

    The higher timeframe is built from the bars themselves: bucket j holds bars
    j*bucket .. (j+1)*bucket - 1 (counted from the first bar; bucket=5 on weekday
    daily bars is about a week) and closes at the close of its last bar. Its trend
    is up when the bucket's close is above the SMA of the last `trend` bucket
    closes (down when below). At bar t only buckets completed by t count (the last
    is j = (t + 1) // bucket - 1), so nothing is read ahead.

    Rule at bar t:
      - 1 (long) while the last completed bucket's trend is up and close[t] >
        EMA(close, entry)[t];
      - -1 (short) while that trend is down and close[t] < EMA(close, entry)[t],
        when ``short=True``;
      - 0 (flat) otherwise, and until `trend` buckets have completed.
    """

    name = "DualTimeframeTrend"
    bucket = Int(5, low=2, high=100, doc="bars per higher-timeframe bar")
    trend = Int(10, low=2, high=100, doc="higher-timeframe bars in the trend SMA")
    entry = Int(20, low=2, high=200, doc="bars in the lower-timeframe EMA")
    short = Categorical(False, (False, True), doc="short while both timeframes point down")

    def signals(self, bars, bucket, trend, entry, short):
        c = bars.close
        n = len(c)
        closes = c[bucket - 1 :: bucket]
        average = indicators.sma(closes, trend) if len(closes) else closes
        direction = np.zeros(len(closes) + 1, np.int8)
        direction[1:] = np.sign(np.nan_to_num(closes - average, nan=0.0))
        completed = (np.arange(n) + 1) // bucket
        higher = direction[completed]
        ema = indicators.ema(c, entry)
        out = np.where((higher == 1) & (c > ema), 1, 0)
        if short:
            out = np.where((higher == -1) & (c < ema), -1, out)
        return out.astype(np.int8)

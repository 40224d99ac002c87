"""Pairs trading: trade the spread of two symbols when it strays from its mean."""

import numpy as np

from strategies import Float, Int, UniverseStrategy, indicators


class PairsTrading(UniverseStrategy):
    """Pairs trading on a rolling hedge ratio, with z-score entry and exit.

    The pair is columns ``first`` and ``second`` of the panel; only bars where both
    trade count (the others hold). On those bars, with a = log close of first and
    b = log close of second:
      - hedge ratio beta[t] = cov(a, b) / var(b) over the last ``window`` bars;
      - spread[t] = a[t] - beta[t] * b[t]; z[t] = (spread[t] - mean) / std of the
        last ``window`` spreads (population std; 0 when that std is 0, NaN while
        warming up or while beta is undefined);
      - flat: z > entry_z -> short the spread, z < -entry_z -> long it; in a
        position: |z| < exit_z -> flat (a jump past the other side's entry_z reverses).
    Long the spread is first +1 / (1 + |beta|), second -beta / (1 + |beta|) of
    equity (gross 1), short the spread the opposite, both at beta on the entry bar;
    flat is 0 on both. A row is written only when the position changes.
    """

    name = "PairsTrading"
    first = Int(0, low=0, high=499, doc="column of the first symbol")
    second = Int(1, low=0, high=499, doc="column of the second symbol")
    window = Int(60, low=5, high=500, doc="bars in the hedge ratio and the z-score")
    entry_z = Float(2.0, low=0.5, high=4.0, step=0.1, doc="|z| that opens a position")
    exit_z = Float(0.5, low=0.0, high=3.0, step=0.1, doc="|z| under which it closes")
    constraints = ("first != second", "exit_z < entry_z")

    def weights(self, panel, first, second, window, entry_z, exit_z):
        n, m = panel.shape
        if first >= m or second >= m:
            raise ValueError(f"PairsTrading: the panel has {m} symbols; first and second must be below {m}")
        both = np.flatnonzero(panel.tradable[:, first] & panel.tradable[:, second])
        out = np.full((n, m), np.nan)
        if len(both) < window:
            return out
        a = np.log(panel.close[both, first])
        b = np.log(panel.close[both, second])
        mean_a, mean_b = indicators.sma(a, window), indicators.sma(b, window)
        var_b = indicators.sma(b * b, window) - mean_b * mean_b
        cov = indicators.sma(a * b, window) - mean_a * mean_b
        beta = np.divide(cov, var_b, out=np.full(len(a), np.nan), where=var_b > 0)
        spread = a - beta * b
        z = indicators.zscore(spread, window)
        state = 0
        for i in range(len(both)):
            zi = z[i]
            if not np.isfinite(zi) or not np.isfinite(beta[i]):
                continue
            new = state
            if state == 0 or (state == 1 and zi > entry_z) or (state == -1 and zi < -entry_z):
                new = -1 if zi > entry_z else (1 if zi < -entry_z else 0)
            elif abs(zi) < exit_z:
                new = 0
            if new != state:
                row = np.full(m, np.nan)
                scale = 1.0 / (1.0 + abs(beta[i]))
                row[first] = new * scale
                row[second] = -new * beta[i] * scale
                out[both[i]] = row
                state = new
        return out

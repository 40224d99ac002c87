"""RSI + MACD: take MACD's bullish crosses only while RSI is not overbought."""

from strategies import Categorical, Int, Strategy, blocks, indicators


class RsiMacd(Strategy):
    """RSI + MACD: buy MACD's crosses up while RSI is low; sell a cross down or a high RSI.

    Rule at bar t, with line, sig = MACD(close, fast, slow, signal) and r =
    RSI(close, rsi_period) (TA-Lib's):
      - enter long when line crosses above sig at t (line[t] > sig[t], and below
        it at the last earlier bar where they differed) and r[t] < entry_rsi;
      - exit the long when line[t] < sig[t] or r[t] > exit_rsi;
      - with ``short=True``, mirrored: enter short on a cross below while
        r[t] > 100 - entry_rsi; cover when line[t] > sig[t] or r[t] < 100 - exit_rsi;
      - otherwise the position carries; flat before the first entry.
    """

    name = "RsiMacd"
    fast = Int(12, low=2, high=100, doc="bars in MACD's fast EMA")
    slow = Int(26, low=5, high=300, doc="bars in MACD's slow EMA")
    signal = Int(9, low=2, high=100, doc="bars in MACD's signal line")
    rsi_period = Int(14, low=2, high=100, doc="bars in the RSI")
    entry_rsi = Int(60, low=10, high=90, doc="take a cross up only while RSI is below this")
    exit_rsi = Int(70, low=10, high=95, doc="exit a long once RSI rises above this")
    short = Categorical(False, (False, True), doc="also take crosses down short (mirrored levels)")
    constraints = ("fast < slow", "entry_rsi <= exit_rsi")

    def signals(self, bars, fast, slow, signal, rsi_period, entry_rsi, exit_rsi, short):
        c = bars.close
        line, sig, hist = indicators.macd(c, fast, slow, signal)
        r = indicators.rsi(c, rsi_period)
        entries = blocks.crossover(line, sig) & (r < entry_rsi)
        exits = (line < sig) | (r > exit_rsi)
        if short:
            short_entries = blocks.crossunder(line, sig) & (r > 100 - entry_rsi)
            short_exits = (line > sig) | (r < 100 - exit_rsi)
            events = blocks.from_entries_exits(entries, exits, short_entries, short_exits)
        else:
            events = blocks.from_entries_exits(entries, exits)
        return blocks.effective_position(events)

"""Long while the close is above its SMA, decided bar by bar."""

from strategies import Int, Strategy, indicators


class SlowTrend(Strategy):
    """Long while the close is above its SMA, decided bar by bar."""

    window = Int(20, low=2, high=400)

    def prepare(self, bars):
        self.sma = indicators.sma(bars.close, self.window)

    def on_bar(self, bar, ctx):
        above = bar.close > self.sma[bar.t]
        if above and ctx.position == 0:
            ctx.buy()
        elif not above and ctx.position > 0:
            ctx.close()

"""An infinite loop in signals()."""

from strategies import Strategy


class Forever(Strategy):
    """Never returns from signals()."""

    def signals(self, bars):
        n = 0
        while True:
            n += 1

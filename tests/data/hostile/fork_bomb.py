"""A fork bomb."""

import os

from strategies import Strategy


class ForkBomb(Strategy):
    """Forks until something stops it."""

    def signals(self, bars):
        n = 0
        for _ in range(10_000):
            if os.fork() == 0:
                os._exit(0)
            n += 1
        raise RuntimeError(f"FOUND: forked {n} processes")

"""is_vectorized() that never returns (the service used to call it at upload)."""

import numpy as np

from strategies import Strategy


class HungKind(Strategy):
    """Its is_vectorized never returns."""

    @classmethod
    def is_vectorized(cls):
        n = 0
        while True:
            n += 1

    def signals(self, bars):
        return np.zeros(len(bars), np.int8)

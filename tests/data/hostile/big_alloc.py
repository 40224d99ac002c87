"""A 50 GB allocation."""

import numpy as np

from strategies import Strategy


class BigAlloc(Strategy):
    """Asks for 50 GB of memory."""

    def signals(self, bars):
        big = np.ones(50 * 1024**3 // 8)
        raise RuntimeError("FOUND: allocated " + str(big.nbytes))

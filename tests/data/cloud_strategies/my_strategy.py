"""A user's strategy file, as `ray job submit --working-dir .` uploads it (tests/cluster/test_job_submit.py)."""

import numpy as np

from strategies import Int, Strategy, indicators


class MyCross(Strategy):
    """Long while the fast moving average of the close is above the slow one."""

    fast = Int(10, low=2, high=100)
    slow = Int(50, low=5, high=400)

    def signals(self, bars, fast, slow):
        return (indicators.sma(bars.close, fast) > indicators.sma(bars.close, slow)).astype(np.int8)

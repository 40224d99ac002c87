"""A user's strategy that takes its time (0.2 s a run), so that a job over it is still
running when the test stops it (tests/cluster/test_job_submit.py)."""

import time

import numpy as np

from strategies import Int, Strategy, indicators


class SlowCross(Strategy):
    """MyCross, slowly."""

    fast = Int(10, low=2, high=100)
    slow = Int(50, low=5, high=400)

    def signals(self, bars, fast, slow):
        time.sleep(0.2)
        return (indicators.sma(bars.close, fast) > indicators.sma(bars.close, slow)).astype(np.int8)

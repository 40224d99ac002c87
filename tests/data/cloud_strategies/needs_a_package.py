"""A user's strategy importing a package the cluster's nodes lack (tests/cluster/test_job_submit.py)."""

import numpy as np
from not_installed_on_the_cluster import crossed

from strategies import Int, Strategy


class NeedsAPackage(Strategy):
    """Long while the fast average is above the slow one, by a helper package."""

    fast = Int(10, low=2, high=100)
    slow = Int(50, low=5, high=400)

    def signals(self, bars, fast, slow):
        return crossed(bars.close, fast, slow).astype(np.int8)

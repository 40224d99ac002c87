"""A strategy file the safe loader refuses: it imports subprocess (tests/cluster/test_job_submit.py)."""

import subprocess

from strategies import Strategy


class Sneaky(Strategy):
    def signals(self, bars):
        subprocess.run(["touch", "owned"])
        return bars.close * 0

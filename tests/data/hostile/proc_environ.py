"""Reads /proc/1/environ and its own environment, and looks for the service's processes."""

import os

from strategies import Strategy


class ProcEnviron(Strategy):
    """Reads environments it should not see."""

    def signals(self, bars):
        with open("/proc/1/environ", "rb") as f:
            first = f.read().decode(errors="replace")
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        raise RuntimeError(
            "FOUND: pid1 env=" + repr(first) + " own env=" + repr(dict(os.environ)) + " pids=" + repr(pids)
        )

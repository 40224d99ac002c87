"""A local Ray for the cluster tests: started here, on this machine only, stopped at the end."""

from __future__ import annotations

import time

import numpy as np
import pytest

import cluster
import engine
import strategies
from cluster.executor import InProcessExecutor
from strategies import Int, Strategy


@pytest.fixture(scope="session")
def local_ray():
    """Ray on this machine with 2 CPUs, shut down after the session."""
    from cluster import runtime

    runtime.ensure(None, num_cpus=2)
    yield
    runtime.shutdown()


@pytest.fixture(params=["threads", "ray"])
def executor(request):
    """Each executor implementation in turn; the contract tests run against both."""
    if request.param == "threads":
        ex = InProcessExecutor(workers=2)
    else:
        request.getfixturevalue("local_ray")
        from cluster.ray_executor import RayExecutor

        ex = RayExecutor(workers=2)
    yield ex
    ex.close()


class SmaX(Strategy):
    """Long while SMA(fast) > SMA(slow)."""

    fast = Int(10, 2, 100)
    slow = Int(30, 5, 400)
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow):
        f = strategies.indicators.sma(bars.close, fast)
        s = strategies.indicators.sma(bars.close, slow)
        return np.where(f > s, 1, 0).astype(np.int8)


class Fragile(Strategy):
    """Raises for fast == 13 (to test that one failing item does not sink a job)."""

    fast = Int(10, 2, 100)
    slow = Int(30, 5, 400)
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow):
        if fast == 13:
            raise RuntimeError("thirteen is unlucky")
        return SmaX().signals(bars, fast=fast, slow=slow)


class Slow(SmaX):
    """SmaX that takes 50 ms a run, so a job lasts long enough to interrupt."""

    def signals(self, bars, fast, slow):
        time.sleep(0.05)
        return super().signals(bars, fast=fast, slow=slow)


@pytest.fixture(scope="session")
def small_bars(sp500_bars):
    """The last ~6 years of the S&P 500: quick to backtest many times."""
    return sp500_bars[-1500:]


COST = engine.Config(fee_rate=0.001)
__all__ = ["COST", "Fragile", "Slow", "SmaX", "cluster"]

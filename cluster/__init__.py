"""anvil's scale-out: sweeps, walk-forward and Monte Carlo on Ray, local by default.

    import cluster
    result = cluster.sweep(SmaCross, bars, space={"fast": range(5, 50), "slow": range(20, 200, 5)},
                           config=cfg, metric="sharpe")
    result.best, result.table, result.diagnostics

No address: a local Ray on this machine's cores, started once per process.
``address="auto"`` or ``"ray://host:port"`` joins a cluster; ``address="local-threads"``
runs in this process only.
"""

import os

# Before Ray is imported (it reads this once): otherwise Ray's C++ core installs a crash
# handler for SIGTERM in the driver that aborts it, so a service's graceful shutdown (which
# stops the local Ray it started) never runs and Ray's processes outlive it.
os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")

from cluster import jobs  # noqa: E402
from cluster.executor import Executor, InProcessExecutor
from cluster.jobs import Plan
from cluster.monte_carlo import MonteCarloResult, monte_carlo
from cluster.runtime import shutdown
from cluster.space import Range, Space
from cluster.sweep import SweepResult, sweep
from cluster.tasks import Progress
from cluster.walk_forward import WalkForwardResult, walk_forward
from cluster.walk_forward import windows as walk_forward_windows

__all__ = [
    "Executor",
    "InProcessExecutor",
    "MonteCarloResult",
    "Plan",
    "Progress",
    "Range",
    "Space",
    "SweepResult",
    "WalkForwardResult",
    "shutdown",
    "monte_carlo",
    "sweep",
    "walk_forward",
    "walk_forward_windows",
]

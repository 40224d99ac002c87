"""anvil's scale-out: sweeps, walk-forward and Monte Carlo on Ray, local by default.

    import cluster
    result = cluster.sweep(SmaCross, bars, space={"fast": range(5, 50), "slow": range(20, 200, 5)},
                           config=cfg, metric="sharpe")
    result.best, result.table, result.diagnostics

No address: a local Ray on this machine's cores, started once per process.
``address="auto"`` or ``"ray://host:port"`` joins a cluster; ``address="local-threads"``
runs in this process only.
"""

from cluster import jobs
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

"""Where a local job runs: this process's threads when it is small, Ray when it is not.

Starting a local Ray costs seconds (about nine on a busy machine), more than a
sweep of thousands of runs takes on threads. So without ``--address`` the CLI
times a few runs of the job here (as ``cluster.jobs.calibrate`` does), estimates
the whole job on this machine's cores, and starts Ray only when the job is
larger than ``cluster.runtime.LOCAL_SECONDS``. A checkpoint that already holds
every run needs no workers at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_ITEMS = 64  # runs timed for a vectorized strategy (one batch, as a chunk runs them)
BUDGET_SECONDS = 0.3  # the most the estimate may take


@dataclass(frozen=True)
class Choice:
    """The executor chosen for a job and why: ``address`` as ``specs.execute`` takes it."""

    address: str | None
    reason: str

    @property
    def name(self) -> str:
        if self.address == "local-threads":
            return "threads in this process"
        if self.address is None:
            return "a local Ray"
        return f"Ray at {self.address}"

    def __str__(self) -> str:
        return f"runs on {self.name} ({self.reason})"


def choose(checked: Any, address: str | None, workers: int, checkpoint: str | None) -> Choice:
    """The executor for a checked job (``api.specs.Checked``): what ``address`` says, else by
    the job's size."""
    from cluster import runtime

    if address == "local":
        return Choice(None, "--address local")
    if address:
        return Choice(address, f"--address {address}")
    runs = checked.items or 0
    if checkpoint and _finished(Path(checkpoint).expanduser(), runs):
        return Choice("local-threads", "its checkpoint holds every run")
    cores = workers or runtime.local_cpus()
    try:
        seconds = seconds_per_run(checked) * runs / max(cores, 1)
    except (ValueError, LookupError, TypeError):  # the job fails as it starts, and says why
        return Choice("local-threads", "its runs cannot be timed")
    return Choice(runtime.choose(address, seconds), f"{_duration(seconds)} of work on {cores} cores")


def seconds_per_run(checked: Any) -> float:
    """Seconds one run of a checked job takes on one core (its bars, its strategy, its config)."""
    import cluster
    from api import specs
    from cluster.tasks import Chunk
    import engine
    from cluster.universe import UniverseWork
    from cluster.work import SweepWork

    spec, strat = checked.spec, checked.strategy
    data = spec.data[0] if isinstance(spec.data, list) else spec.data
    bars = checked.data[0] if isinstance(checked.data, list) else checked.data
    work: Any = (
        UniverseWork(strat, bars, checked.config)
        if isinstance(bars, engine.Panel)
        else SweepWork(strat, {data.symbol: bars}, checked.config)
    )
    if hasattr(spec, "space"):
        space = cluster.Space.of(strat, specs.space_of(spec.space))
        points = (space.sample(spec.seed, i) for i in range(SAMPLE_ITEMS))
    else:
        fixed = strat.check(dict(spec.params))
        points = (fixed for _ in range(SAMPLE_ITEMS))
    items = [(data.symbol, p) for p in points]

    def timed(some: list[Any]) -> float:
        started = time.perf_counter()
        work.run(Chunk(-1, tuple(range(len(some))), tuple(some)))
        return time.perf_counter() - started

    one = timed(items[:1])  # one run: enough for a slow strategy
    if not strat.is_vectorized():
        return one
    if one * len(items) > BUDGET_SECONDS:
        # The first run also pays what a process pays once (imports, first calls, a busy
        # machine's cold caches): a vectorized run that looks slow is timed again, warm,
        # so a job of seconds is not sent to a Ray that takes longer to start.
        one = min(one, timed(items[:1]))
        if one * len(items) > BUDGET_SECONDS:
            return one
    return timed(items) / len(items)


def _finished(folder: Path, runs: int) -> bool:
    """Whether a checkpoint folder already holds ``runs`` rows."""
    from api.cli.progress import stored_runs

    if not (folder / "manifest.json").exists():
        return False
    return stored_runs(str(folder)) >= runs > 0


def _duration(s: float) -> str:
    if s < 1:
        return "under a second"
    if s < 90:
        return f"about {s:.0f} s"
    if s < 5400:
        return f"about {s / 60:.0f} min"
    return f"about {s / 3600:.1f} h"

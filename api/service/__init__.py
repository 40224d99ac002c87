"""The service's logic, shared by the HTTP routes and the CLI.

    from api.service import Services
    from api.settings import Settings

    with Services.open(Settings()) as svc:          # opens the store, starts the job threads
        job = svc.jobs.submit(svc.jobs.parse({"kind": "backtest", "strategy": "sma_cross",
                                              "data": {"symbol": "SPX"}}))
        svc.jobs.get(job.id).status

Opening stops the local Ray a crashed service left running (listed beside the
store, ``<db>.ray-processes.json``), stores the job records a crashed process left
in the journal, then marks jobs that a previous process left queued or running as
``interrupted``; closing interrupts running jobs (resumable), stops Ray if this
process started it (every process of it) and stores every journaled record.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import TracebackType

from api.jobstore import JobStore
from api.service.data import DataRejected, DataService, service_url
from api.service.jobs import JobConflict, JobNotFound, JobService, runnable
from api.service.runner import Runner
from api.service.strategies import StrategyRejected, StrategyService
from api.settings import Settings
from engine.store import Store

__all__ = [
    "DataRejected",
    "DataService",
    "JobConflict",
    "JobNotFound",
    "JobService",
    "Services",
    "StrategyRejected",
    "StrategyService",
]


@dataclass
class Services:
    """Everything the front doors need, opened on one store file."""

    settings: Settings
    store: Store
    jobstore: JobStore
    runner: Runner
    jobs: JobService
    strategies: StrategyService
    data: DataService

    @classmethod
    def open(cls, settings: Settings | None = None) -> Services:
        """Open the store at ``settings.db_path()``, recover old jobs, start the job threads.

        Jobs read their bars from this store (``DataService.bars``), never the process's
        default store.
        """
        settings = settings or Settings()
        path = settings.db_path()
        import cluster.runtime

        ray_pids = path.with_name(path.name + ".ray-processes.json")
        cluster.runtime.reap(ray_pids)  # a crashed service's Ray, if any
        cluster.runtime.record_processes(ray_pids)
        store = Store(path)
        jobstore: JobStore | None = None
        try:
            # Opening the job store first stores the records a crash left in its journal.
            jobstore = JobStore(store.database, flush_every=settings.journal_flush_seconds)
            jobstore.recover()
            strategies = StrategyService(jobstore, settings)
            data = DataService(store, url=service_url(settings.host, settings.port))
            runner = Runner(jobstore, settings, strategies.lookup, functools.partial(runnable, data))
            jobs = JobService(jobstore, runner, strategies, data, settings)
        except BaseException:
            if jobstore is not None:
                jobstore.close()
            store.close()
            raise
        runner.start()
        return cls(settings, store, jobstore, runner, jobs, strategies, data)

    def close(self) -> None:
        """Interrupt running jobs (they stay resumable), stop Ray if started here, store every
        journaled job record, close the store."""
        try:
            self.runner.stop()
            self.strategies.close()
            import cluster

            cluster.shutdown()
        finally:
            try:
                self.jobstore.close()
            finally:
                self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

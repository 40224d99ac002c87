"""Runs jobs on background threads of the service, first in, first out.

``max_running_jobs`` threads take queued jobs in order and call ``api.specs.execute``
(which blocks on the cluster, mostly waiting on Ray). Each chunk's rows land in the
job store as they arrive (``DuckSink``; a grid or random sweep's chunks are then
its stored result, never written again) — a sampler sweep's trials go to its
Optuna study beside the store instead (``JobStore.study_path``, removed once the
job is done); progress goes to the job's ``LiveJob``
(for pollers and event streams) and, at most once a second, to its record.
Cancelling sets the job's event: the cluster stops within a second or two and the
rows it had are kept. Stopping the service interrupts running jobs the same way,
leaving them ``interrupted`` and resumable.

A job of an uploaded strategy runs it only in jailed processes pooled under the
run's key (``LiveJob.jail_key``; ``strategies.jail``): a cancel also kills the job's jails in this
process (Ray's actors take theirs with them), the job fails when it runs past
``jail_job_seconds`` or when its strategy crashes its jail twice (the reason is
the job's error), and its jails are killed when it ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from api import specs
from api.jobrecord import jsonable
from api.jobstore import JobStore
from api.service import reports
from api.service.live import LiveJob, Snapshot
from api.settings import Settings
from cluster.sweep_result import StoredSweepResult
from cluster.tasks import Progress
from strategies import jail

log = logging.getLogger("anvil.api")

RECORD_EVERY = 1.0  # seconds between progress writes to a job's record
STOP_WAIT = 30.0  # seconds a shutting-down service waits for running jobs to stop


class ServiceStopping(RuntimeError):
    """The service is shutting down and takes no more jobs."""


class Runner:
    """The job queue and the threads that work through it.

    Args:
        store: where jobs and their rows are kept.
        settings: ``address``, ``workers`` and ``max_running_jobs``.
        lookup: finds uploaded strategies by id (for ``specs.execute``).
        load_spec: a stored record's spec (checked when the job was submitted) made
            runnable with a strategy lookup bound to the job (``specs.Checked``); a queued
            job keeps none of its own until it starts.
    """

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        lookup: specs.StrategyLookup,
        load_spec: Callable[[dict[str, Any], specs.StrategyLookup], specs.Checked],
    ) -> None:
        self.store = store
        self.settings = settings
        self.lookup = lookup
        self.load_spec = load_spec
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._live: dict[str, LiveJob] = {}
        self._lock = threading.Lock()
        self._transition = threading.RLock()  # every job's queued -> running -> final
        self._snapshots = threading.Lock()  # every job's snapshot and watchers
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        """Start the worker threads."""
        for i in range(self.settings.max_running_jobs):
            t = threading.Thread(target=self._work, name=f"anvil-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def live(self, job_id: str) -> LiveJob | None:
        """The job's live state, while it is queued or running."""
        return self._live.get(job_id)

    def enqueue(self, job_id: str, total: int, done: int = 0, failed: int = 0) -> LiveJob:
        """Queue a stored job (new, or being resumed)."""
        snapshot = Snapshot("queued", done=done, total=total, failed=failed)
        live = LiveJob(job_id, snapshot, self._transition, self._snapshots)
        with self._lock:
            if self._stopping:
                raise ServiceStopping("the service is shutting down; submit the job again once it is back")
            self._live[job_id] = live
        self._queue.put(job_id)
        return live

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop; False if it is neither."""
        live = self._live.get(job_id)
        if live is None:
            return False
        with live.transition:
            if live.snapshot.final:
                return False
            live.cancel.set()
            if live.snapshot.status == "queued":
                self._finish(live, "cancelled")
        jail.release(live.jail_key)  # a call into uploaded code returns at once
        return True

    def _stop_with(self, live: LiveJob, status: str, why: str) -> None:
        """Stop a running job that will end ``status`` (failed) with the reason ``why``."""
        with live.transition:
            if live.snapshot.final or live.cancel.is_set():
                return
            live.stop_reason, live.stop_error = status, why
            live.cancel.set()
        log.warning("job %s: %s", live.id, why)
        jail.release(live.jail_key)

    def _lookup_for(self, live: LiveJob, timers: list[threading.Timer]) -> specs.StrategyLookup:
        """``self.lookup`` with uploaded strategies bound to this job's jails and time limit."""

        def lookup(name: str) -> Any:
            cls = self.lookup(name)
            if isinstance(cls, type) and issubclass(cls, jail.JailedStrategy):
                if not timers:
                    limit = self.settings.jail_job_seconds
                    timer = threading.Timer(
                        limit,
                        self._stop_with,
                        (live, "failed", f"the job ran longer than its limit of {limit:g} s (ANVIL_JAIL_JOB_SECONDS)"),
                    )
                    timer.daemon = True
                    timer.start()
                    timers.append(timer)
                jail.watch(live.jail_key, lambda why: self._stop_with(live, "failed", why))
                return cls.for_job(live.jail_key)
            return cls

        return lookup

    def stop(self) -> None:
        """Interrupt every job (kept resumable) and stop the threads."""
        with self._lock:
            self._stopping = True
            lives = list(self._live.values())
        for live in lives:
            with live.transition:
                if live.snapshot.final:
                    continue
                live.stop_reason = "interrupted"
                live.cancel.set()
                if live.snapshot.status == "queued":
                    self._finish(live, "interrupted", "the service stopped before the job started; resume it")
            jail.release(live.jail_key)
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + STOP_WAIT
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # -- the worker threads ---------------------------------------------------------
    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            live = self._live.get(job_id)
            if live is None:
                continue
            with live.transition:
                if live.cancelled:
                    continue  # cancelled while queued: already recorded
                self.store.set_status(job_id, "running")
                live.publish(status="running")
            try:
                self._run(live)
            except Exception:  # a bug here must not kill the thread that runs every later job
                log.exception("job %s: the runner failed", job_id)
                with live.transition:
                    if not live.snapshot.final:
                        self._finish(live, "failed", "the service failed while running the job; see its log")

    def _run(self, live: LiveJob) -> None:
        record = self.store.get(live.id)
        assert record is not None
        base_done, base_failed = record.done, record.failed
        live.publish(done=base_done, failed=base_failed, total=record.total)
        saved = [0.0]

        computed = [base_done]
        sink = self.store.sink(live.id)

        # The sink stores chunks on the store's row writer after the cluster has counted
        # them: while rows go to the sink, "done" shows no more than it has stored, so a
        # killed service never showed rows it then lacks. Refreshed when the cluster
        # reports and when rows land.
        def shown() -> int:
            return min(computed[0], base_done + sink.stored) if sink.stored or sink.handed else computed[0]

        def landed(_stored: int) -> None:
            if not live.snapshot.final:
                live.publish(done=shown())

        def progress(p: Progress) -> None:
            computed[0] = base_done + p.done
            snap = live.publish(
                done=shown(),
                failed=base_failed + p.failed,
                total=max(p.total, base_done + p.done),
                best=_best(p.best) or live.snapshot.best,
            )
            if time.monotonic() - saved[0] >= RECORD_EVERY:
                saved[0] = time.monotonic()
                self.store.set_progress(live.id, snap.total, snap.best)

        timers: list[threading.Timer] = []
        try:
            checked = self.load_spec(record.spec, self._lookup_for(live, timers))
            spec = checked.spec
            sink.on_stored = landed
            try:
                result = specs.execute(
                    checked,
                    progress=progress,
                    cancel=live.cancel,
                    out=sink,
                    study_path=self.store.study_path(live.id),
                    address=self.settings.address,
                    workers=self.settings.workers,
                )
            except BaseException:
                sink.wait()  # the chunks handed over land before the job's end is recorded
                raise
            sink.flush()
            if not live.cancel.is_set():
                # A sweep whose rows are its stored files answers from DuckDB queries over
                # them: the whole table is never built in this process.
                stored = isinstance(result, StoredSweepResult) and _rows_are_chunks(spec)
                if stored:
                    self.store.join_chunks(live.id)  # the queries below then read a few parts
                table = None if stored else specs.result_table(result)
                summary = specs.summary(result)
                broken = _broken(result.errors() if stored else _errors(table))
                if broken:
                    self._stop_with(live, "failed", broken)
                elif stored:  # before "done": a finished job has its report
                    reports.save(self.store, live.id, *_report_of(result, summary["runs"]))
                else:
                    reports.save(self.store, live.id, result)
        except Exception as exc:
            if not live.cancel.is_set():
                log.warning("job %s failed:\n%s", live.id, traceback.format_exc())
                with live.transition:
                    self._finish(live, "failed", f"{type(exc).__name__}: {exc}")
                return
        finally:
            sink.on_stored = None
            for timer in timers:
                timer.cancel()
            jail.release(live.jail_key)
        with live.transition:
            if live.cancel.is_set():
                why = {"cancelled": None, "failed": live.stop_error}.get(
                    live.stop_reason, "the service stopped while the job ran; resume it"
                )
                self._finish(live, live.stop_reason, why)
                return
            total = live.snapshot.total or record.items
            self.store.set_progress(live.id, total, live.snapshot.best)
            self.store.complete(
                live.id, None if _rows_are_chunks(spec) else table, summary, done=total, failed=live.snapshot.failed
            )
            self.store.study_path(live.id).unlink(missing_ok=True)  # its trials are in the results now
            self._forget(live, status="done", done=total, total=total)

    def _finish(self, live: LiveJob, status: str, error: str | None = None) -> None:
        """Record a final status other than done (caller holds ``live.transition``)."""
        self.store.set_status(live.id, status, error)
        if live.snapshot.best is not None:
            self.store.set_progress(live.id, live.snapshot.total, live.snapshot.best)
        self._forget(live, status=status)

    def _forget(self, live: LiveJob, **changes: Any) -> None:
        """Publish the final snapshot (already stored) and drop the live state."""
        live.publish(**changes)
        with self._lock:
            self._live.pop(live.id, None)


def _rows_are_chunks(spec: Any) -> bool:
    """Whether the job's result table is its stored chunks, in order (a grid or random
    sweep's runs): then the chunks stay as its result and no row is written twice."""
    return isinstance(spec, specs.SweepJob) and spec.method not in specs.SAMPLERS


def _report_of(result: StoredSweepResult, runs: int) -> tuple[Any, str | None]:
    """What a stored sweep's report draws (its best ``REPORT_ROWS`` runs at most), and a
    title that says so when that is not every run."""
    shown = result.for_report()
    if len(shown.table) >= runs:
        return shown, None
    strategy = (result.manifest or {}).get("spec", {}).get("strategy", "strategy")
    return shown, f"Sweep — {strategy}: the best {len(shown.table):,} of {runs:,} runs by {result.metric}"


def _errors(table: Any) -> list[str]:
    """The rows' error messages."""
    if "error" not in getattr(table, "columns", ()):
        return []
    return [str(e) for e in table["error"].dropna()]


def _broken(errors: list[str]) -> str | None:
    """The reason of a jail broken on a worker, if a row's error says so."""
    for error in errors:
        if jail.broken_reason(error):
            return error
    return None


def _best(best: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scheduler's best-so-far in plain words: the metric, and the params, symbol or window."""
    if not best:
        return None
    out = {k: v for k, v in best.items() if k != "item"}
    item = best.get("item")
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict):
        head, out["params"] = item
        if isinstance(head, str):
            out["symbol"] = head
        elif isinstance(head, tuple) and len(head) == 2:
            out["window"] = head[1]
    elif item is not None:
        out["item"] = item
    return jsonable(out)  # type: ignore[no-any-return]

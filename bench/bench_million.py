"""A million runs, end to end, through the service: ``python -m bench million [--runs N]``.

Starts the service (uvicorn in a subprocess on 127.0.0.1, a store in a temporary
folder, jobs on a local Ray of every core), uploads 10,000 one-minute synthetic
bars through ``POST /data``, submits one grid sweep of RocMomentum with ``N`` parameter
sets through ``POST /jobs`` and, while it runs, polls ``GET /jobs/{id}`` (about 20
requests a second, one client) and samples the memory of the service (the sweep's
driver runs in it) and of every process under it (Ray's). Once it is done:

- runs per second, from the job's own start and finish times;
- the top 100 by sharpe through ``GET /jobs/{id}/results?sort=sharpe&limit=100`` (a
  DuckDB query over the job's Parquet files), timed over the loopback;
- every row streamed as Parquet (``?format=parquet``) to a file, the service's peak
  memory before and after, and the file checked: every item id exactly once;
- the time split: signals and the core measured in this process on one chunk's
  parameter sets (``signals_many`` or ``signals``, then ``engine.run_batch``),
  storing one chunk (``DuckSink.write``) likewise; Ray is what is left of the
  workers' wall time.

The strategy is RocMomentum (long while the close is up more than ``threshold``
percent over ``period`` bars, short while down as much when ``short``): its space has
a million distinct parameter sets (``period`` 1..250, 2,000 thresholds 0.0001 %
apart, ``short``), and its signals cost about what its core run does. The grid is
``2 · periods · thresholds = N`` (10^4: 125 × 40, 10^5: 250 × 200, 10^6: 250 × 2,000).
Without ``--runs`` the sizes 10^4 and 10^5 run (``--quick``: 10^4 only); 10^6 takes
about as long as its compute (minutes on 2 cores) and is asked for by name.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq

import engine
from bench.bench_api import AUTH, _start
from engine import synthetic

BARS = 10_000
POLL_EVERY = 0.05  # seconds between two GET /jobs/{id}
SAMPLE_EVERY = 0.25  # seconds between two memory samples
TOP = 100
PERIODS = 250  # RocMomentum's period: 1..250 bars
STEP = 0.0001  # threshold step, in percent: a minute's move is about 0.006 %, 250 minutes' about 0.1 %


def grid(runs: int) -> dict[str, Any]:
    """A RocMomentum space of exactly ``runs`` parameter sets: 2 · periods · thresholds."""
    if runs % 2:
        raise SystemExit(f"--runs must be even (short is False or True), not {runs}")
    half = runs // 2
    periods = next((p for p in range(min(PERIODS, half), 0, -1) if half % p == 0 and half // p >= p // 5), 1)
    thresholds = half // periods
    return {
        "period": {"low": 1, "high": periods, "step": 1},
        "threshold": [round(i * STEP, 6) for i in range(thresholds)],
        "short": [False, True],
    }


def _rss(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process, in bytes (0, 0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    fields = {line.split(":")[0]: line.split()[1] for line in text.splitlines() if line.startswith("Vm")}
    return int(fields.get("VmRSS", 0)) * 1024, int(fields.get("VmHWM", 0)) * 1024


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    out, todo = [], list(children.get(pid, ()))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


class Memory(threading.Thread):
    """Samples the service's memory and its descendants' (Ray's) until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stopped = threading.Event()
        self.service_peak = 0
        self.others_peak = 0  # the largest descendant (a Ray worker, raylet, GCS ...)
        self.others_total_peak = 0

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_EVERY):
            self.service_peak = max(self.service_peak, _rss(self.pid)[1])
            sizes = [_rss(p)[0] for p in _descendants(self.pid)]
            self.others_peak = max([self.others_peak, *sizes])
            self.others_total_peak = max(self.others_total_peak, sum(sizes))


def _percentile(ms: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(ms), q)) if ms else float("nan")


def _upload(client: httpx.Client, folder: Path) -> None:
    path = folder / "bars.parquet"
    pq.write_table(synthetic.table(BARS, symbol="MIL", timeframe="1m", seed=7), path)
    r = client.post(
        "/data",
        params={"symbol": "MIL", "timeframe": "1m", "name": "bars.parquet"},
        content=path.read_bytes(),
        timeout=120,
    )
    r.raise_for_status()


def _split(space: dict[str, Any], chunk: int, folder: Path) -> dict[str, float]:
    """Seconds per run of the signals and of the core, and per chunk of storing it, in this process."""
    from api.jobstore import JobStore
    from cluster.space import Space
    from engine.store import open_database, release
    from strategies.library import RocMomentum

    bars = synthetic.bars(BARS, symbol="MIL", timeframe="1m", seed=7)
    sp = Space.of(
        RocMomentum, {k: (range(v["low"], v["high"] + 1) if isinstance(v, dict) else v) for k, v in space.items()}
    )
    block = np.sort(np.random.default_rng(0).choice(sp.size, min(chunk, sp.size), replace=False))
    params = sp.params_at(block)
    strat = RocMomentum()
    started = time.perf_counter()
    many = getattr(strat, "signals_many", None)
    signals = (
        np.asarray(many(bars, params)) if many is not None else np.stack([strat.signals(bars, **p) for p in params])
    )
    signal_s = time.perf_counter() - started
    started = time.perf_counter()
    table = engine.run_batch(bars, signals, engine.Config(allow_short=True), threads=1)
    core_s = time.perf_counter() - started
    db = open_database(folder / "split.duckdb")
    store = JobStore(db)
    try:
        job = store.create("sweep", "RocMomentum", {"kind": "sweep"}, len(params)).id
        frame = table.assign(item_id=np.arange(len(params)), error=None)
        sink = store.sink(job)
        started = time.perf_counter()
        sink.write(0, frame)  # hands the chunk to the store's row writer ...
        sink.flush()  # ... and waits until it is stored: what one chunk costs the writer thread
        store_s = time.perf_counter() - started
    finally:
        store.close()
        release(db)
    n = len(params)
    return {"runs": n, "signals": signal_s / n, "core": core_s / n, "store_chunk": store_s}


def one(runs: int) -> None:
    space = grid(runs)
    print(
        f"\n-- {runs:,} runs: RocMomentum {' x '.join(str(_count(v)) for v in space.values())} "
        f"on {BARS:,} one-minute bars, local Ray, {os.cpu_count()} cores --",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="anvil-million-") as tmp:
        folder = Path(tmp)
        proc, url = _start(folder, None, 0)
        memory = Memory(proc.pid)
        try:
            with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
                _upload(client, folder)
                _, idle_peak = _rss(proc.pid)
                memory.start()
                spec = {
                    "kind": "sweep",
                    "strategy": "roc_momentum",
                    "data": {"symbol": "MIL", "timeframe": "1m"},
                    "space": space,
                    "config": {"allow_short": True},
                    "metric": "sharpe",
                }
                r = client.post("/jobs", json=spec)
                r.raise_for_status()
                job_id = r.json()["id"]
                gets: list[float] = []
                first: tuple[float, int] | None = None  # (when, runs done) at the first progress seen
                for attempt in range(3):
                    while True:
                        started = time.perf_counter()
                        r = client.get(f"/jobs/{job_id}")
                        gets.append((time.perf_counter() - started) * 1e3)
                        job = r.json()
                        if first is None and job.get("progress", {}).get("done"):
                            first = (time.perf_counter(), int(job["progress"]["done"]))
                        if job["status"] not in ("queued", "running"):
                            break
                        time.sleep(POLL_EVERY)
                    if job["status"] == "failed" and "during startup" in str(job.get("error")) and attempt < 2:
                        # Ray gives its raylet 30 s to start; a busy machine can take longer. Resuming runs again.
                        print(f"Ray did not start ({job['error'][:60]}...); resuming the job", flush=True)
                        client.post(f"/jobs/{job_id}/resume").raise_for_status()
                        continue
                    break
                if job["status"] != "done":
                    raise SystemExit(f"the job ended {job['status']}: {job.get('error')}")
                run_peak = memory.service_peak
                print(
                    f"GET /jobs/{{id}} while it ran: {len(gets):,} requests, p50 {_percentile(gets, 50):.2f} "
                    f"p99 {_percentile(gets, 99):.2f} max {max(gets):.2f} ms (target p99 < 20 ms)"
                )
                seconds = _seconds(job)
                ended = time.perf_counter()
                print(
                    f"done: {job['rows']:,} rows in {seconds:.1f} s from start to finish = {runs / seconds:,.0f} runs/s"
                )
                if first is not None and ended > first[0]:
                    print(
                        f"  once the first chunk was in (Ray up, workers started): "
                        f"{(runs - first[1]) / (ended - first[0]):,.0f} runs/s over {ended - first[0]:.1f} s"
                    )
                tops = []
                for _ in range(7):
                    started = time.perf_counter()
                    r = client.get(f"/jobs/{job_id}/results", params={"sort": "sharpe", "limit": TOP})
                    tops.append((time.perf_counter() - started) * 1e3)
                    r.raise_for_status()
                best = r.json()["data"]
                print(
                    f"top {TOP} by sharpe (DuckDB over the job's files, over HTTP): median "
                    f"{_percentile(tops, 50):.1f} ms, max {max(tops):.1f} ms (target < 100 ms); "
                    f"best sharpe {best[0]['sharpe']:.3f}"
                )
                started = time.perf_counter()
                target = folder / "rows.parquet"
                with client.stream("GET", f"/jobs/{job_id}/results", params={"format": "parquet"}) as body:
                    body.raise_for_status()
                    with open(target, "wb") as f:
                        for piece in body.iter_bytes():
                            f.write(piece)
                stream_s = time.perf_counter() - started
                memory.stopped.set()
                memory.join()
                _, after_peak = _rss(proc.pid)
                ids = pq.read_table(target, columns=["item_id"]).column("item_id").to_numpy()
                once = len(ids) == runs and len(np.unique(ids)) == runs
                print(
                    f"all rows as Parquet: {target.stat().st_size / 1e6:.1f} MB in {stream_s:.1f} s; "
                    f"{len(ids):,} rows, every item id exactly once: {once}"
                )
                mb = 1024 * 1024
                print(
                    f"peak RSS: service (the driver) {idle_peak / mb:.0f} MB idle, {run_peak / mb:.0f} MB through "
                    f"the sweep, {after_peak / mb:.0f} MB after the Parquet stream; largest process under it "
                    f"(Ray) {memory.others_peak / mb:.0f} MB, all of them together "
                    f"{memory.others_total_peak / mb:.0f} MB"
                )
                chunk = _chunk_rows(folder, job_id)
                split = _split(space, chunk, folder)
                _print_split(split, runs, seconds, chunk)
        finally:
            memory.stopped.set()
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(60)
                except Exception:  # noqa: BLE001 - a stuck server is killed
                    proc.kill()


def _count(value: Any) -> int:
    return value["high"] - value["low"] + 1 if isinstance(value, dict) else len(value)


def _seconds(job: dict[str, Any]) -> float:
    import datetime as dt

    start = dt.datetime.fromisoformat(job["started_at"])
    end = dt.datetime.fromisoformat(job["finished_at"])
    return (end - start).total_seconds()


def _chunk_rows(folder: Path, job_id: str) -> int:
    """Rows in the job's largest chunk file (its chunk size)."""
    files = list((folder / "anvil.duckdb.results" / job_id).glob("chunk-*.parquet"))
    return max(pq.ParquetFile(p).metadata.num_rows for p in files) if files else 1000


def _print_split(split: dict[str, float], runs: int, seconds: float, chunk: int) -> None:
    cores = os.cpu_count() or 1
    signals, core = split["signals"] * runs, split["core"] * runs
    storing = split["store_chunk"] * -(-runs // chunk)
    ray = max(0.0, seconds * cores - signals - core)
    total = seconds * cores
    print(
        f"time split over {cores} cores x {seconds:.1f} s = {total:.1f} core-s (signals and core measured "
        f"here on {split['runs']:,} runs, storing on one chunk of {chunk:,} rows):"
    )
    for name, value in (("signals", signals), ("core (run_batch)", core), ("Ray and the rest", ray)):
        print(f"  {name:18s} {value:8.1f} core-s  {100 * value / total:5.1f} %")
    print(
        f"  {'storage':18s} {storing:8.1f} s on the driver ({1e3 * split['store_chunk']:.1f} ms a chunk), "
        "overlapping the workers"
    )


def main(quick: bool = False, runs: int | None = None) -> None:
    for n in [runs] if runs else ([10_000] if quick else [10_000, 100_000]):
        one(n)


if __name__ == "__main__":
    import sys

    main("--quick" in sys.argv)

"""The command line at sweep scale: the same sweep from Python and from ``anvil sweep``.

    python -m bench cli [--quick]

A cheap vectorized strategy (two integer parameters, ``signals_many``) on 100 daily
bars, swept over grids of 10^4, 10^5 and 10^6 points, each run in a fresh process:

- Python: ``cluster.sweep(..., address="local-threads")``, then ``result.best``;
- CLI: ``anvil sweep -s <the same file> --address local-threads --quiet``
  (``api.cli.main``; its table goes to /dev/null).

Both time from loading the strategy file to the answer; the CLI's imports (what
``anvil`` loads before its first line of work) are shown on their own.

Both run on this process's threads so that the two do the same work, their chunks
sized from the same fixed cost a run (``PER_RUN``; timed, it varies from process to
process on a shared machine, and the chunk count with it); the CLI's
overhead is its time over Python's, as a share of the job (target < 5 %), and its
memory is its peak RSS over Python's (target: flat from 10^5 to 10^6 runs). The
load average is printed at the start and the end (the machine is shared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 20_000)
BARS = 100
REPEATS = 3  # each size runs this many times per side, the sides taking turns; the best time is kept
# Both sides size their chunks by the library's rule (cluster.jobs.chunk_size_for) from this
# cost a run (Cycle's, quiet core) instead of timing 16 runs first: that timing varies 3x
# from one process to the next on a shared machine, and with it the chunk count and the
# sweep's time, on either side; pinned, the two sides do the same work.
PER_RUN = 1e-4

STRATEGY = '''
"""A cycle: long for the first half of every ``period + 2`` bars, shifted by ``phase``."""

import numpy as np

from strategies import Int, Strategy


class Cycle(Strategy):
    """Long for the first half of each cycle of period + 2 bars, shifted by phase."""

    phase = Int(0, low=0, high=1_000_000)
    period = Int(0, low=0, high=1_000_000)

    def signals(self, bars, phase, period):
        t = np.arange(len(bars)) + phase
        return ((t % (period + 2)) < (period + 2) // 2).astype(np.int8)

    def signals_many(self, bars, sets):
        t = np.arange(len(bars))[None, :]
        phase = np.array([s["phase"] for s in sets])[:, None]
        cycle = np.array([s["period"] for s in sets])[:, None] + 2
        return (((t + phase) % cycle) < cycle // 2).astype(np.int8)
'''

RUNNER = textwrap.dedent("""
    import json, os, resource, sys, time
    side, strategy_file, n_phase, n_period, per_run = sys.argv[1:6]
    n_phase, n_period = int(n_phase), int(n_period)
    started = time.perf_counter()
    from cluster import jobs
    calibrated = jobs.chunk_size_for  # chunks as the library sizes them, from a fixed cost a run
    jobs.chunk_size_for = lambda seconds, n, capacity: calibrated(float(per_run), n, capacity)
    if side == "python":
        import cluster, engine
        from api.cli.strategies import import_file
        from pathlib import Path
        startup = time.perf_counter() - started
        t0 = time.perf_counter()
        cls = import_file(Path(strategy_file))
        with engine.Store(os.environ["ANVIL_DB"], read_only=True) as store:
            bars = store.bars("CYC", "1d")
        result = cluster.sweep(cls, bars, {"phase": range(n_phase), "period": range(n_period)},
                               address="local-threads")
        result.best
        seconds = time.perf_counter() - t0
        chunk = result.plan.chunk_size
        # The CLI's own work on this result (ranked view, summary, the table's text),
        # timed here on the same table, then again under tracemalloc for its peak memory.
        import tracemalloc
        from api import specs
        from api.cli import report, run as cli_run, tables

        def cli_work():  # what api.cli.run.run_job does with a sweep's result
            frame = specs.result_table(result)
            view = tables.sweep_view(frame, "sharpe", report.SWEEP_TOP, result.pooled)
            summary = cli_run.sweep_summary(result, view, "sharpe")
            report.text("sweep", summary, frame, metric="sharpe", view=view)

        t1 = time.perf_counter()
        cli_work()
        report_s = time.perf_counter() - t1
        tracemalloc.start()
        cli_work()
        report_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        from api.cli import main
        import api.cli.app, api.specs  # what `anvil` imports before its first line of work
        startup = time.perf_counter() - started
        execute, plans = api.specs.execute, []
        api.specs.execute = lambda *a, **k: plans.append(execute(*a, **k)) or plans[-1]
        sys.stdout = open(os.devnull, "w")
        t0 = time.perf_counter()
        status = main(["sweep", "-s", strategy_file, "--symbol", "CYC", "--space",
                       f"phase=0:{n_phase - 1}", f"period=0:{n_period - 1}", "--address", "local-threads",
                       "--quiet"])
        assert status == 0, status
        seconds = time.perf_counter() - t0
        chunk = plans[0].plan.chunk_size
        report_s = report_peak = None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sys.stderr.write(json.dumps({"seconds": seconds, "peak": peak, "startup": startup, "report_s": report_s,
                                 "report_peak": report_peak, "chunk": chunk}) + "\\n")
""")


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" 1/")[0].rsplit(" ", 2)[0]
    except OSError:
        return "n/a"


def _run(side: str, folder: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    n_phase = 100
    n_period = runs // n_phase
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, side, str(folder / "cycle.py"), str(n_phase), str(n_period), str(PER_RUN)],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{side} sweep of {runs:,} runs failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stderr.strip().splitlines()[-1])


def main(quick: bool = False) -> None:
    import engine
    from engine import synthetic

    sizes = QUICK_SIZES if quick else SIZES
    print(f"load average at start: {_loadavg()}  ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="anvil-bench-cli-") as tmp:
        folder = Path(tmp)
        (folder / "cycle.py").write_text(STRATEGY)
        db = folder / "bench.duckdb"
        with engine.Store(db) as store:
            bars = synthetic.bars(BARS, timeframe="1d", seed=3, symbol="CYC")
            store.import_bars(bars.to_pandas(), symbol="CYC", timeframe="1d")
        repo = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "ANVIL_DB": str(db), "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("ANVIL_ADDRESS", None)
        print(
            f"{'runs':>10} {'python s':>9} {'cli s':>8} {'end-to-end':>11} {'cli work s':>11} {'share':>7} "
            f"{'cli work MB':>12} {'python MB':>10} {'cli MB':>8} {'cli imports s':>14} {'chunks of':>10}"
        )
        for runs in sizes:
            py, cli = [], []
            for _ in range(REPEATS):  # taking turns, so that a busy spell hits both sides
                py.append(_run("python", folder, env, runs))
                cli.append(_run("cli", folder, env, runs))
            t_py, t_cli = min(r["seconds"] for r in py), min(r["seconds"] for r in cli)
            work = min(r["report_s"] for r in py)
            work_mb = max(r["report_peak"] for r in py) / 2**20
            m_py, m_cli = min(r["peak"] for r in py) / 2**20, min(r["peak"] for r in cli) / 2**20
            startup = min(r["startup"] for r in cli)
            chunks = sorted({r["chunk"] for r in py + cli})  # one size: both sides did the same work
            print(
                f"{runs:>10,} {t_py:>9.2f} {t_cli:>8.2f} {(t_cli - t_py) / t_py:>10.1%} {work:>11.3f} "
                f"{work / t_py:>6.1%} {work_mb:>12.1f} {m_py:>10.0f} {m_cli:>8.0f} {startup:>14.2f} "
                f"{'/'.join(f'{c:,}' for c in chunks):>10}",
                flush=True,
            )
    print(f"load average at end: {_loadavg()}")
    print(
        "end-to-end: the CLI's time over the Python path's (each the best of its turns; noisy on a busy "
        "machine); cli work: the CLI's own work on the result (summary, ranked table, failed count), timed on "
        "the Python path's result, and its share of the job (target < 5 %); cli work MB: its peak allocation "
        "(tracemalloc; target: flat from 10^5 to 10^6 runs); python/cli MB: peak RSS; cli imports: once per "
        "command; chunks of: runs a chunk on both sides (the library's rule at a fixed cost a run, PER_RUN)"
    )

"""``backtest`` and ``run_batch``: validate at the door, then hand off to the core."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Sequence

import numpy as np
import pandas as pd

from engine import _bindings
from engine.bars import Bars
from engine.config import Config
from engine.errors import InvalidConfigError, InvalidSignalError
from engine.records import CONFIG_DTYPE, METRICS, STATS_DTYPE
from engine.result import Result, stats_dict
from engine.signals import as_signal


def _need_bars(bars: Any) -> Bars:
    if not isinstance(bars, Bars):
        raise TypeError(
            f"bars must be engine.Bars, not {type(bars).__name__}; build them with engine.Bars.from_pandas(df)"
        )
    return bars


def _need_config(config: Any) -> Config:
    if config is None:
        return Config()
    if isinstance(config, dict):
        return Config.from_dict(config)
    if not isinstance(config, Config):
        raise TypeError(f"config must be engine.Config or a dict, not {type(config).__name__}")
    return config


def backtest(
    bars: Bars,
    signal: Any,
    config: Config | dict | None = None,
    *,
    equity: bool = True,
    trades: bool = True,
) -> Result:
    """Backtest one signal over ``bars``.

    Args:
        bars: the price series.
        signal: one value per bar — int (1 long, -1 short, 0 flat, ``HOLD``) or
            float target exposure (NaN = change nothing). See ``engine.signals``.
        config: costs, sizing, risk exits and fill timing; defaults to ``Config()``.
        equity: keep the per-bar equity curve (``Result.equity``).
        trades: keep the trade list (``Result.trades``).

    Returns:
        A ``Result`` with ``stats``, ``equity`` and ``trades``.

    Raises:
        InvalidSignalError, InvalidConfigError: bad input, named with its first bad index.
    """
    bars = _need_bars(bars)
    cfg = _need_config(config)
    n = len(bars)
    sig = _ready_signal(signal, n)
    record = cfg.to_record(bars.periods_per_year())
    try:
        stats, eq, tr, ev = _bindings.backtest(bars.prices, sig, record, equity, trades, bars.ts, checked=sealed(bars))
    except InvalidSignalError:
        as_signal(signal, n)  # raises naming the bar and the value
        raise
    return Result(bars, cfg, stats_dict(stats), eq, tr, ev)


def sealed(bars: Bars) -> bool:
    """Whether ``bars`` still hold the prices they were validated with, so the core may
    skip its own check of every bar (reading 32 bytes a bar costs as much as a quiet
    backtest). Bars keep read-only views of arrays they own; only unlocking an owner
    (``flags.writeable = True``) can change them, and then the core checks again."""
    for a in bars.prices:
        base = a.base
        if a.flags.writeable or not isinstance(base, np.ndarray) or base.flags.writeable:
            return False
    return True


def _ready_signal(signal: Any, n_bars: int) -> np.ndarray:
    """``signal`` as the core reads it. A C-contiguous int8 or float64 array of one
    value per bar goes as it is: the core checks every value it reads (a bad one is
    then named by ``as_signal``). Anything else is converted and checked first."""
    if (
        type(signal) is np.ndarray
        and signal.shape == (n_bars,)
        and signal.flags.c_contiguous
        and (signal.dtype == np.int8 or signal.dtype == np.float64)
    ):
        return signal
    return as_signal(signal, n_bars)


def resolve_threads(threads: int) -> int:
    """``threads`` as a count of worker threads; 0 means every core this process may use."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
        raise InvalidConfigError(f"threads is {threads!r}; give a count >= 1, or 0 for every core")
    if threads == 0:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1
    return int(threads)


def _config_records(config: Any, n_runs: int, ppy: float) -> np.ndarray:
    if isinstance(config, (list, tuple)):
        if len(config) != n_runs:
            raise InvalidConfigError(f"got {len(config)} configs for {n_runs} runs; give one Config, or one per run")
        recs = np.empty(n_runs, CONFIG_DTYPE)
        for i, c in enumerate(config):
            try:
                recs[i] = _need_config(c).to_record(ppy)[0]
            except InvalidConfigError as exc:
                raise InvalidConfigError(f"config[{i}]: {exc}") from None
            except TypeError as exc:
                raise TypeError(f"config[{i}]: {exc}") from None
        return recs
    return _need_config(config).to_record(ppy)


def run_batch_records(
    bars: Bars,
    signals: Any,
    config: Config | dict | Sequence[Config] | None = None,
    threads: int = 0,
) -> np.ndarray:
    """Like ``run_batch`` but returns the raw stats records (``STATS_DTYPE``)."""
    bars = _need_bars(bars)
    sig = _batch_signals(signals, len(bars))
    n_runs = sig.shape[0]
    cfgs = _config_records(config, n_runs, bars.periods_per_year())
    out = np.zeros(n_runs, STATS_DTYPE)
    workers = min(resolve_threads(threads), max(n_runs, 1))
    try:
        _run_batch(bars, sig, cfgs, out, workers)
    except InvalidSignalError:
        as_signal(sig, len(bars), ndim=2)  # raises naming the run, the bar and the value
        raise
    return out


def _batch_signals(signals: Any, n_bars: int) -> np.ndarray:
    """``signals`` as the core reads them. A C-contiguous int8 or float64 matrix
    of the right width goes as it is, unchecked here: the core checks every
    value it reads (one pass the batch makes anyway), and a bad one is then
    reported by ``as_signal``. Anything else is converted and checked first."""
    if (
        isinstance(signals, np.ndarray)
        and signals.ndim == 2
        and signals.shape[1] == n_bars
        and signals.dtype in (np.int8, np.float64)
        and signals.flags.c_contiguous
    ):
        return signals
    return as_signal(signals, n_bars, ndim=2)


_CHUNK_STEPS = 1_000_000
"""Bar-steps a batch chunk holds at least (when there are enough)."""
_CHUNKS_PER_THREAD = 16
"""Chunks a batch is cut into per thread, at most."""


def batch_edges(n_runs: int, n_bars: int, workers: int) -> np.ndarray:
    """Where a batch of ``n_runs`` runs over ``n_bars`` bars is cut for ``workers``
    threads: ``edges[k]:edges[k + 1]`` is chunk k.

    Up to ``_CHUNKS_PER_THREAD`` chunks a thread, handed out in order as threads free
    up, so that runs of uneven cost (a sweep's fast windows trade far more than its slow
    ones) still balance: the last chunk, not the slowest quarter, sets the tail. Each
    chunk keeps at least ``_CHUNK_STEPS`` bar-steps (about a millisecond of C work) so
    its door (a few microseconds, under the GIL) stays small."""
    n_chunks = int(min(n_runs, workers * _CHUNKS_PER_THREAD, max(workers, n_runs * n_bars // _CHUNK_STEPS)))
    return np.linspace(0, n_runs, n_chunks + 1).astype(np.int64)


def _run_batch(bars: Bars, sig: np.ndarray, cfgs: np.ndarray, out: np.ndarray, workers: int) -> None:
    n_runs = sig.shape[0]
    if workers <= 1 or n_runs < 2:
        _bindings.batch(bars.prices, sig, cfgs, out, bars.ts, checked=sealed(bars))
        return

    # Every run is computed alone by one thread, so results do not depend on the split.
    edges = batch_edges(n_runs, sig.shape[1], workers)
    n_chunks = len(edges) - 1
    checked = sealed(bars)

    def work(k: int) -> None:
        lo, hi = int(edges[k]), int(edges[k + 1])
        part_cfg = cfgs if len(cfgs) == 1 else cfgs[lo:hi]
        _bindings.batch(bars.prices, sig[lo:hi], part_cfg, out[lo:hi], bars.ts, checked=checked)

    pool = _batch_pool(workers)
    futures = [pool.submit(work, k) for k in range(n_chunks)]
    wait(futures)  # every chunk done (none still writing into ``out``) before an error is raised
    for f in futures:
        f.result()


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _batch_pool(workers: int) -> ThreadPoolExecutor:
    """The threads this process's batches run on, ``workers`` of them, started once.

    Starting two threads for every call cost a 40 ms two-thread batch 2 ms at best and
    7 ms at the median (1 -> 2 cores 1.84x instead of 1.93x): new threads wait to be
    placed on the other core. A forked child starts its own (``_forget_pools``); calls
    from several threads share a pool, each waiting for its own chunks."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anvil-batch")
        return pool


def _forget_pools() -> None:
    """In a forked child: the parent's pool threads are not in this process (and its
    lock may have been held by one of them), so start from none."""
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_forget_pools)


def run_batch(
    bars: Bars,
    signals: Any,
    config: Config | dict | Sequence[Config] | None = None,
    threads: int = 0,
) -> pd.DataFrame:
    """Backtest many signals over the same bars; one row of stats per run.

    Args:
        bars: the price series every run shares.
        signals: ``[n_runs, n_bars]`` array of int or float signals (a 1-D array is one run).
        config: one Config for all runs, or a sequence with one per run.
        threads: worker threads; 0 = every core. Results are identical for any count.

    Returns:
        A DataFrame with one row per run and one column per metric (``engine.METRICS``).
    """
    out = run_batch_records(bars, signals, config, threads)
    return pd.DataFrame({name: out[name] for name in METRICS})

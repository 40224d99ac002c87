"""The default store (``$ANVIL_DB`` or the user's data folder) and ``engine.load``."""

from __future__ import annotations

import threading
from pathlib import Path

from engine.bars import Bars
from engine.store._paths import resolve_path
from engine.store._query import TimeLike
from engine.store._store import Store

_stores: dict[Path, Store] = {}
_lock = threading.Lock()


def default_store() -> Store:
    """The store at the default path, opened once per process (and per ``ANVIL_DB``)."""
    path = resolve_path(None)
    with _lock:
        store = _stores.get(path)
        if store is None or store._closed:
            store = _stores[path] = Store(path)
        return store


def load(
    symbol: str,
    timeframe: str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    adjusted: bool = False,
    partial: str = "drop",
) -> Bars:
    """Bars of ``symbol`` from the default store: ``engine.load("SPX", "1d")``.

    A new store is filled with the shipped sample (SPX, IXIC daily, 1999..2018) on
    first use, so this works offline. The file is open only while the bars are read:
    other processes (the CLI, a sweep, another notebook) can use it meanwhile. See
    ``Store.bars`` for the arguments.

    Raises:
        NoDataError: nothing stored for that symbol, timeframe or range; the message
            lists what the store holds.
        TimeframeError: no timeframe given and the symbol has no ``1d`` bars (hourly
            data is not resampled to daily unless asked with ``timeframe="1d"``).
        StoreBusyError: the job service owns the file; the message says how to use it.
    """
    return default_store().bars(symbol, timeframe, start, end, adjusted=adjusted, partial=partial)

"""The default store (``$ANVIL_DB`` or the user's data folder) and ``engine.load``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from engine.bars import Bars
from engine.store._paths import resolve_path
from engine.store._query import TimeLike
from engine.store._store import Store
from engine.store._universes import UniverseInfo

if TYPE_CHECKING:
    from engine.panel import Panel

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


# -- named universes ----------------------------------------------------------------


def save_universe(
    name: str,
    symbols: list[str] | tuple[str, ...],
    note: str | None = None,
    *,
    replace: bool = False,
    store: Store | None = None,
) -> UniverseInfo:
    """Save ``symbols`` under ``name`` in the store's catalog: ``engine.save_universe("tech", ["AAPL", "MSFT"])``.

    See ``Store.save_universe``; ``store`` is the default store when None.
    """
    return (store or default_store()).save_universe(name, symbols, note, replace=replace)


def universes(*, store: Store | None = None) -> list[UniverseInfo]:
    """Every saved universe, by name (``store``: the default store when None)."""
    return (store or default_store()).universes()


def universe(name: str, *, store: Store | None = None) -> UniverseInfo:
    """The universe saved under ``name``: its symbols, note and save time.

    Raises:
        UnknownUniverseError: none is; the message lists the saved ones, with a did-you-mean.
    """
    return (store or default_store()).universe(name)


def delete_universe(name: str, *, store: Store | None = None) -> UniverseInfo:
    """Delete the universe saved under ``name`` (its symbols' bars stay); returns what went."""
    return (store or default_store()).delete_universe(name)


def load_universe(
    name: str,
    timeframe: str = "1d",
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    adjusted: bool = False,
    store: Store | None = None,
) -> Panel:
    """The panel of a saved universe: ``engine.load_universe("tech", "1d")`` is
    ``engine.load_panel(engine.universe("tech").symbols, "1d")``.

    Raises:
        UnknownUniverseError: no universe is saved under ``name``.
        NoDataError: one of its symbols has no bars at ``timeframe`` (deleted since, say).
    """
    from engine.panel import load_panel

    st = store or default_store()
    return load_panel(st.universe(name).symbols, timeframe, start, end, adjusted=adjusted, store=st)

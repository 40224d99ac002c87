"""What a job spec leaves to the store, filled in from it: the timeframe of each data
entry that names none, and the symbols of a saved universe.

Shared by the service (at submit) and the CLI (before its header), and kept out of
``api.service`` so that a CLI command does not import the service to read it.
"""

from __future__ import annotations

from typing import Any

from api.specs import DataSpec, UniverseSpec
from engine.store import NoDataError, Store


def resolve_timeframes(spec: Any, store: Store | None = None) -> Any:
    """``spec`` with what its data entries leave to the store filled in: the timeframe
    of every entry that names none, as the store reads it (``Store.pick_timeframe``:
    the stored ``1d`` bars, else refused), and the symbols of a saved universe
    (``UniverseSpec.resolve``; its timeframe defaults to ``1d``).

    Raises:
        TimeframeError: a symbol with no ``1d`` bars and no timeframe asked for.
    """
    from engine.store import UnknownUniverseError, default_store

    found = store or default_store()

    def fill(d: DataSpec | UniverseSpec) -> DataSpec | UniverseSpec:
        if isinstance(d, UniverseSpec):
            try:
                return d.resolve(found)
            except UnknownUniverseError:
                return d  # checking the spec names the field, with a did-you-mean
        if d.timeframe:
            return d
        try:
            return d.model_copy(update={"timeframe": found.pick_timeframe(d.symbol).name})
        except NoDataError:
            return d  # checking the spec says what is missing, where

    if isinstance(spec.data, list):
        return spec.model_copy(update={"data": [fill(d) for d in spec.data]})
    return spec.model_copy(update={"data": fill(spec.data)})

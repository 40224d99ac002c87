"""Uploaded strategies run in-process: only with ``ANVIL_UNSAFE_INPROCESS_UPLOADS=1``.

The service runs uploads in jails (``strategies.jail``); this module is the
operator's opt-out where no jail can be built, behind the loader's
language-level checks only. It is also what ``anvil backtest -s file.py`` uses
for a local file of your own. Such a strategy travels to workers as a stand-in
holding its source: ``cluster.portable`` (the one way a loaded strategy is shipped).
"""

from __future__ import annotations

import hashlib

from cluster.portable import loaded, stand_in

__all__ = ["loaded", "stand_in", "strategy_id"]


def strategy_id(source: str) -> str:
    """The id of an uploaded source: ``up_`` and 16 hex digits of its SHA-256."""
    return "up_" + hashlib.sha256(source.encode()).hexdigest()[:16]

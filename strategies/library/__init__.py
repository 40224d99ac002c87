"""The built-in strategy library, and the registry that finds its strategies by name.

    from strategies import get_strategy, list_strategies
    SmaCross = get_strategy("sma_cross")      # or "SmaCross", "SMA cross", any case
    [d["name"] for d in list_strategies()]    # each entry is the strategy's describe()

Each strategy lives in its own module here (one class, its rule in the docstring,
imports only from numpy, math, ``strategies`` and ``engine``), so that the same
source can go through the job service's safe loader unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import EngineError, did_you_mean
from strategies.base import Strategy
from strategies.library.atr_channel_breakout import AtrChannelBreakout
from strategies.library.bollinger_reversion import BollingerReversion
from strategies.library.donchian_breakout import DonchianBreakout
from strategies.library.dual_timeframe_trend import DualTimeframeTrend
from strategies.library.ema_cross import EmaCross
from strategies.library.macd_cross import MacdCross
from strategies.library.roc_momentum import RocMomentum
from strategies.library.rsi_macd import RsiMacd
from strategies.library.rsi_reversion import RsiReversion
from strategies.library.sma_cross import SmaCross
from strategies.library.vwap_reversion import VwapReversion
from strategies.library.zscore_reversion import ZScoreReversion

# universe strategies (issue 11): target weights over an engine.Panel
from strategies.library.dual_momentum import DualMomentum  # noqa: E402
from strategies.library.inverse_vol_rotation import InverseVolRotation  # noqa: E402
from strategies.library.pairs_trading import PairsTrading  # noqa: E402
from strategies.library.short_term_reversal import ShortTermReversal  # noqa: E402
from strategies.library.trend_basket import TrendBasket  # noqa: E402
from strategies.library.xs_momentum import CrossSectionalMomentum  # noqa: E402

LIBRARY: tuple[type[Strategy], ...] = (
    SmaCross,
    EmaCross,
    MacdCross,
    RsiReversion,
    BollingerReversion,
    ZScoreReversion,
    DonchianBreakout,
    AtrChannelBreakout,
    RocMomentum,
    DualTimeframeTrend,
    VwapReversion,
    RsiMacd,
)
"""Every built-in single-series strategy, in the order the issue lists them."""

UNIVERSE_LIBRARY: tuple[type[Strategy], ...] = (
    CrossSectionalMomentum,
    DualMomentum,
    InverseVolRotation,
    ShortTermReversal,
    PairsTrading,
    TrendBasket,
)
"""Every built-in universe strategy (``is_universe()``; they trade an ``engine.Panel``)."""


class UnknownStrategyError(EngineError, LookupError):
    """A strategy name the library does not hold."""


def snake_case(name: str) -> str:
    """``"ZScoreReversion"`` -> ``"zscore_reversion"``, ``"RsiMacd"`` -> ``"rsi_macd"``."""
    words = re.findall(r"[A-Z]+[a-z0-9]*|[a-z0-9]+", name)
    return "_".join(w.lower() for w in words)


def _key(name: str) -> str:
    """What a lookup compares: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_table: tuple[tuple[Any, ...], dict[str, type[Strategy]]] | None = None  # (what it was built from, keys)


def _by_key() -> dict[str, type[Strategy]]:
    """Lookup key -> strategy, built once and again only if ``LIBRARY`` or a name in it changes."""
    global _table
    every = (*LIBRARY, *UNIVERSE_LIBRARY)
    source = (every, *(cls.name for cls in every))
    if _table is None or _table[0] != source:
        table: dict[str, type[Strategy]] = {}
        for cls in every:
            for alias in (cls.name, cls.__name__, snake_case(cls.__name__)):
                table[_key(alias)] = cls
        _table = (source, table)
    return _table[1]


def list_strategies() -> list[dict[str, Any]]:
    """Every built-in strategy's ``describe()``: name, rule, kind, universe, parameters,
    constraints — the single-series ones (``LIBRARY``), then the universe ones
    (``UNIVERSE_LIBRARY``)."""
    return [cls.describe() for cls in (*LIBRARY, *UNIVERSE_LIBRARY)]


def get_strategy(name: str) -> type[Strategy]:
    """The built-in strategy class called ``name``.

    Matches the class name (``"SmaCross"``), its snake_case form (``"sma_cross"``)
    or any spelling that differs only in case, spaces, dashes and underscores.

    Raises:
        UnknownStrategyError: no strategy has that name; the message suggests the
            closest names and lists them all.
        TypeError: ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"a strategy name is a string such as 'sma_cross', not {name!r}")
    table = _by_key()
    found = table.get(_key(name))
    if found is not None:
        return found
    names = [snake_case(cls.__name__) for cls in (*LIBRARY, *UNIVERSE_LIBRARY)]
    more = did_you_mean(
        _key(name), table, n=3, cutoff=0.5, show=lambda k: snake_case(table[k].__name__), before="; ", after=""
    )
    raise UnknownStrategyError(f"no built-in strategy is called {name!r}{more} (the library holds: {', '.join(names)})")


__all__ = [
    "LIBRARY",
    "UNIVERSE_LIBRARY",
    "CrossSectionalMomentum",
    "DualMomentum",
    "InverseVolRotation",
    "PairsTrading",
    "ShortTermReversal",
    "TrendBasket",
    "AtrChannelBreakout",
    "BollingerReversion",
    "DonchianBreakout",
    "DualTimeframeTrend",
    "EmaCross",
    "MacdCross",
    "RocMomentum",
    "RsiMacd",
    "RsiReversion",
    "SmaCross",
    "UnknownStrategyError",
    "VwapReversion",
    "ZScoreReversion",
    "get_strategy",
    "list_strategies",
]

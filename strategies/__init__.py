"""anvil's strategies: indicators, the Strategy API, building blocks and a built-in library.

from strategies import SmaCross
signal = SmaCross().signals(bars, fast=10, slow=20)
res = strategies.run(SmaCross, bars, config, params={"fast": 10, "slow": 20})
"""

from strategies import blocks, indicators
from strategies.base import Strategy
from strategies.context import Bar, Context, History
from strategies.params import Categorical, Constraint, Float, Int, Param, ParameterError
from strategies.runner import run, run_many, run_windows, signal, signal_matrix, target_weights
from strategies.universe import PanelBar, UniverseContext, UniverseStrategy

# Last: the library's modules import the names above from this package.
from strategies import library  # noqa: E402
from strategies.library import (  # noqa: E402
    AtrChannelBreakout,
    BollingerReversion,
    CrossSectionalMomentum,
    DonchianBreakout,
    DualMomentum,
    InverseVolRotation,
    PairsTrading,
    ShortTermReversal,
    TrendBasket,
    DualTimeframeTrend,
    EmaCross,
    MacdCross,
    RocMomentum,
    RsiMacd,
    RsiReversion,
    SmaCross,
    UnknownStrategyError,
    VwapReversion,
    ZScoreReversion,
    get_strategy,
    list_strategies,
)

# The library's strategies, its error and its look-ups are the callables strategies.library lists
# (its LIBRARY tuples stay there); the others are named here.
__all__ = [
    *(name for name in library.__all__ if callable(getattr(library, name))),
    "Bar",
    "Categorical",
    "Constraint",
    "Context",
    "Float",
    "History",
    "Int",
    "Param",
    "ParameterError",
    "Strategy",
    "blocks",
    "indicators",
    "run",
    "run_many",
    "run_windows",
    "signal",
    "signal_matrix",
    "target_weights",
    "PanelBar",
    "UniverseContext",
    "UniverseStrategy",
]

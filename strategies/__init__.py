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

__all__ = [
    "CrossSectionalMomentum",
    "DualMomentum",
    "InverseVolRotation",
    "PairsTrading",
    "ShortTermReversal",
    "TrendBasket",
    "AtrChannelBreakout",
    "Bar",
    "BollingerReversion",
    "Categorical",
    "Constraint",
    "Context",
    "DonchianBreakout",
    "DualTimeframeTrend",
    "EmaCross",
    "Float",
    "History",
    "Int",
    "MacdCross",
    "Param",
    "ParameterError",
    "RocMomentum",
    "RsiMacd",
    "RsiReversion",
    "SmaCross",
    "Strategy",
    "UnknownStrategyError",
    "VwapReversion",
    "ZScoreReversion",
    "blocks",
    "get_strategy",
    "indicators",
    "list_strategies",
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

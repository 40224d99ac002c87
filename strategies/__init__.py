"""anvil's strategies: indicators, the Strategy API, building blocks and a built-in library.

    from strategies import SmaCross
    signal = SmaCross().signals(bars, fast=10, slow=20)
    res = strategies.run(SmaCross, bars, config, params={"fast": 10, "slow": 20})
"""

from strategies import indicators
from strategies.base import Strategy
from strategies.context import Bar, Context, History
from strategies.params import Categorical, Constraint, Float, Int, Param, ParameterError
from strategies.runner import run, run_many, signal, signal_matrix

__all__ = [
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
    "indicators",
    "run",
    "run_many",
    "signal",
    "signal_matrix",
]

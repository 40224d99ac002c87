"""anvil's engine: the Python face of the C core.

import engine
bars = engine.Bars.from_pandas(df)
cfg = engine.Config(initial_capital=10_000, fee_rate=0.001, fill="next_open")
res = engine.backtest(bars, signal, cfg)
res.stats, res.equity, res.trades
table = engine.run_batch(bars, signals, cfg, threads=0)
"""

from engine._run import backtest, run_batch, run_batch_records
from engine.bars import Bars
from engine.config import Config
from engine.errors import (
    EngineError,
    InvalidBarsError,
    InvalidConfigError,
    InvalidSignalError,
)
from engine.records import METRICS
from engine.result import Result, stats_from_equity
from engine.simulation import Simulation
from engine.signals import HOLD
from engine.store import Store, load
from engine import synthetic

__all__ = [
    "HOLD",
    "METRICS",
    "Bars",
    "Config",
    "EngineError",
    "InvalidBarsError",
    "InvalidConfigError",
    "InvalidSignalError",
    "Result",
    "Simulation",
    "Store",
    "backtest",
    "load",
    "run_batch",
    "run_batch_records",
    "stats_from_equity",
    "synthetic",
]

# -- portfolios (issue 10) --
from engine.panel import InvalidPanelError, Panel, load_panel, sample_panel  # noqa: E402
from engine.portfolio import (  # noqa: E402
    PORTFOLIO_METRICS,
    PortfolioResult,
    PortfolioSimulation,
    backtest_portfolio,
    backtest_portfolio_on_bar,
    run_portfolio_batch,
)

__all__ += [
    "InvalidPanelError",
    "PORTFOLIO_METRICS",
    "Panel",
    "PortfolioResult",
    "PortfolioSimulation",
    "backtest_portfolio",
    "backtest_portfolio_on_bar",
    "load_panel",
    "run_portfolio_batch",
    "sample_panel",
]

# -- named universes (issue 11) --
from engine.store import (  # noqa: E402
    UniverseError,
    UniverseInfo,
    UnknownUniverseError,
    delete_universe,
    load_universe,
    save_universe,
    universe,
    universes,
)

__all__ += [
    "UniverseError",
    "UniverseInfo",
    "UnknownUniverseError",
    "delete_universe",
    "load_universe",
    "save_universe",
    "universe",
    "universes",
]

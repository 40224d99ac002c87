"""Vectorized building blocks for signals: numpy (or pandas Series) in, numpy out.

    from strategies import blocks
    up, down = blocks.crossover(fast, slow), blocks.crossunder(fast, slow)
    direction = blocks.from_entries_exits(up, down)                 # int8, HOLD between events
    direction = blocks.time_of_day(direction, bars.ts, "08:00", "17:00")
    signal = blocks.volatility_target(direction, bars.close, 0.10)  # float exposures

- ``crossing``: crossovers, signals from entry/exit events, the position a signal holds;
- ``sizing``: direction -> target exposure (fixed fraction, volatility target, Kelly);
- ``filters``: block entries by time of day or volatility, pause after a drawdown;
- ``combine``: several strategies' signals -> one (majority, weighted, unanimous, any);
- ``rows``: many parameter sets' signals at once, for ``Strategy.signals_many``;
- ``cross``: cross-sectional blocks over ``[n_bars, n_symbols]`` for universe
  strategies (rank, top-k, z-score, equal / inverse-vol / risk-parity weights,
  gross / net, rebalance schedules, rows on rebalance bars), in the C core.

Signals follow README.md, "The fill model": int8 1 / -1 / 0 / ``engine.HOLD``, or
float64 exposures with NaN for "change nothing". Every block is causal: its value
at bar t reads inputs up to and including bar t, and fills at the next open.
"""

from strategies.blocks import cross
from strategies.blocks.combine import any_of, majority, unanimous, weighted
from strategies.blocks.cross import (
    bottom_k,
    equal_weight,
    inverse_vol,
    momentum,
    normalize,
    on_rebalance,
    rank,
    returns,
    risk_parity,
    rolling_vol,
    schedule,
    top_k,
    zscore,
)
from strategies.blocks.crossing import crossover, crossunder, effective_position, from_entries_exits
from strategies.blocks.filters import (
    allow_entries,
    drawdown_pause,
    in_window,
    time_of_day,
    volatility_band,
)
from strategies.blocks.rows import above_rows
from strategies.blocks.sizing import (
    fixed_fraction,
    kelly_fraction,
    realised_volatility,
    volatility_target,
)

# The cross-sectional blocks are the functions blocks.cross lists (its SCHEDULES stays there);
# the others are named here.
__all__ = [
    *(name for name in cross.__all__ if callable(getattr(cross, name))),
    "above_rows",
    "allow_entries",
    "any_of",
    "crossover",
    "crossunder",
    "drawdown_pause",
    "effective_position",
    "fixed_fraction",
    "from_entries_exits",
    "in_window",
    "kelly_fraction",
    "majority",
    "realised_volatility",
    "time_of_day",
    "unanimous",
    "volatility_band",
    "volatility_target",
    "weighted",
]

"""``UniverseStrategy``: a strategy that holds many symbols in one account.

A universe strategy declares its parameters like any ``Strategy`` and decides in
one of two ways:

- vectorized — ``weights(self, panel, **params)`` returns target weights
  ``[n_bars, n_symbols]`` (float64; fraction of portfolio equity, negative =
  short) computed from the whole ``engine.Panel`` at once. Row t is decided at
  the close of bar t and fills as every portfolio does (``open[t+1]`` with
  ``fill="next_open"``, ``close[t]`` with ``fill="close"``; see DESIGN.md,
  "Portfolios"). A row holding a value for a symbol trades it to that weight;
  NaN leaves that symbol alone (so a monthly rebalance is one row a month and
  NaN rows in between — ``strategies.blocks.on_rebalance`` writes that). A
  symbol without a bar at the fill ignores its value and keeps its position; a
  symbol whose data has ended is closed at its last close. A strategy that
  wants a symbol out says 0, not NaN.
- bar by bar — ``on_bar(self, bar, ctx)`` with ``bar`` a ``PanelBar`` (row t of
  every symbol) and ``ctx`` a ``UniverseContext``: ``ctx.target_weights({...})``
  or ``ctx.order_target_percent(symbol, w)`` make row t, through the portfolio
  stepping path (``engine.PortfolioSimulation``). An optional
  ``prepare(self, panel)`` runs once first.

A vectorized universe strategy may define ``weights_many(self, panel,
param_sets)`` giving one matrix per (complete, validated) parameter set, in
order — a list or any iterable; ``run_many`` asks it for a chunk of sets at a
time, so the matrices of a sweep are never all held at once. It must give
exactly the matrices ``weights`` gives.

The same class runs in ``strategies.run`` / ``run_many`` with a Panel (and in
the cluster's sweeps). Example::

    class Momentum(UniverseStrategy):
        \"\"\"Each month end, equal weight on the top_k symbols by return over lookback bars.\"\"\"
        lookback = Int(120, low=5, high=500)
        top_k = Int(2, low=1, high=50)

        def weights(self, panel, lookback, top_k):
            picks = blocks.top_k(blocks.momentum(panel.close, lookback), top_k)
            return blocks.on_rebalance(blocks.equal_weight(picks), blocks.schedule(panel.ts, "month_end"))
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Mapping, NamedTuple

import numpy as np

import engine
from strategies.base import Strategy


class UniverseStrategy(Strategy):
    """Base class of strategies over a Panel (see the module docstring for the contract)."""

    name: ClassVar[str] = "UniverseStrategy"
    universe: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "weights" in cls.__dict__:
            cls.weights = _checked_weights(cls.__dict__["weights"])  # type: ignore[attr-defined]

    @classmethod
    def is_universe(cls) -> bool:
        return True

    @classmethod
    def is_vectorized(cls) -> bool:
        """True when the strategy decides with ``weights``, False for ``on_bar``."""
        return callable(getattr(cls, "weights", None))


def _checked_weights(fn: Any) -> Any:
    """Wrap a subclass's ``weights`` so every call sees validated, complete parameters."""

    @functools.wraps(fn)
    def weights(self: Strategy, panel: Any, **params: Any) -> Any:
        return fn(self, panel, **self.check({**self.params, **params}))

    return weights


class PanelBar(NamedTuple):
    """Row t of a panel as a universe ``on_bar`` receives it, after its close.

    The price arrays hold one value per symbol (``ctx.symbols`` order), NaN where
    the symbol has no bar (``tradable`` False)."""

    t: int  # position in the panel
    ts: int  # time, ns since the epoch, UTC
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    tradable: np.ndarray


class UniverseContext:
    """Orders for a universe ``on_bar``: the target weights of row t.

    ``target_weights`` and ``order_target_percent`` set this bar's row, which fills
    as a row of a weights matrix does (see ``strategies.universe``). ``panel`` is
    the history up to and including this bar (a view, no copy).
    """

    __slots__ = ("_sim", "_panel", "_t")

    def __init__(self, sim: engine.PortfolioSimulation, panel: engine.Panel) -> None:
        self._sim = sim
        self._panel = panel
        self._t = -1

    def target_weights(self, weights: Mapping[str, float] | np.ndarray) -> None:
        """Trade to these weights: ``{symbol: w}`` (others left alone) or one value per
        symbol in ``symbols`` order (NaN = leave alone)."""
        if isinstance(weights, Mapping):
            self._sim.target_weights(weights)
            return
        row = np.asarray(weights, dtype=np.float64)
        syms = self._panel.symbols
        if row.shape != (len(syms),):
            raise ValueError(
                f"target_weights got {row.shape} values; give one per symbol ({len(syms)}) "
                "or a {symbol: weight} mapping"
            )
        for j in np.flatnonzero(~np.isnan(row)):
            self._sim.order_target_percent(syms[j], float(row[j]))

    def order_target_percent(self, symbol: str, weight: float) -> None:
        """Trade ``symbol`` to ``weight`` x equity (negative = short)."""
        self._sim.order_target_percent(symbol, weight)

    @property
    def t(self) -> int:
        """The bar that just closed (position in the full panel)."""
        return self._t

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._panel.symbols

    @property
    def panel(self) -> engine.Panel:
        """Every bar up to and including this one."""
        return self._panel[: self._t + 1]

    def history(self, field: str, n: int) -> np.ndarray:
        """The last ``n`` rows (fewer at the start) of ``field`` up to this bar, ``[<=n, n_symbols]``."""
        if field not in ("open", "high", "low", "close", "volume", "tradable"):
            raise ValueError(f"history field {field!r}: use open, high, low, close, volume or tradable")
        return getattr(self._panel, field)[max(0, self._t + 1 - n) : self._t + 1]  # type: ignore[no-any-return]

"""The C core against the plain-Python reference (tests/engine/reference.py).

Random bars (a random walk with gaps, flat bars and the odd crash), random
signals (int8 with HOLD; floats with NaN, beyond ``max_leverage``, negative) and
random configs (every field). Both sides must agree on every metric (NaN in the
same places), every equity point and every field of every trade, to 1e-9
relative, with an absolute floor only where a value can be ~0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine.records import PERCENT_METRICS
from tests.engine.reference import simulate_config

Config = engine.Config
RTOL = 1e-9

# Metrics that are money, and metrics that are fractions (returns and the like);
# the rest are ratios and counts, compared relatively only.
MONEY_METRICS = {"net_pnl", "final_equity", "total_fees", "expectancy"}
# the fractions (engine.records.PERCENT_METRICS) but volatility, a ratio of returns here
RETURN_METRICS = PERCENT_METRICS - {"volatility"}
RATIO_ATOL = 1e-9  # sharpe, sortino, calmar, volatility: a mean of returns can cancel to ~0
MONEY_TRADE_FIELDS = ("entry_fees", "exit_fees", "pnl")
PRICE_TRADE_FIELDS = ("entry_price", "exit_price")


# -- what random inputs look like ----------------------------------------------


@st.composite
def random_bars(draw: st.DrawFn, max_bars: int = 300) -> engine.Bars:
    """Valid OHLC bars from a random walk, with gaps through the open, flat bars
    (repeated prices) and rare crashes or spikes."""
    n = draw(st.integers(1, max_bars))
    seed = draw(st.integers(0, 2**32 - 1))
    start = draw(st.sampled_from([0.5, 20.0, 100.0, 2500.0]))
    vol = draw(st.sampled_from([0.002, 0.01, 0.03]))
    gap_rate = draw(st.sampled_from([0.0, 0.1, 0.3]))
    flat_rate = draw(st.sampled_from([0.0, 0.1]))
    freq = draw(st.sampled_from(["D", "B", "h"]))
    rng = np.random.default_rng(seed)

    gap = np.where(rng.random(n) < gap_rate, rng.normal(0, 6 * vol, n), 0.0)
    shock = np.where(rng.random(n) < 0.01, rng.choice([-0.5, 0.4], n), 0.0)
    open_ = np.empty(n)
    close = np.empty(n)
    prev = start
    for i in range(n):
        open_[i] = prev * math.exp(gap[i] + shock[i])
        close[i] = open_[i] * math.exp(rng.normal(0, vol))
        prev = close[i]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol, n)))
    flat = rng.random(n) < flat_rate
    flat[0] = False
    for i in np.flatnonzero(flat):  # o = h = l = c = the previous close
        open_[i] = high[i] = low[i] = close[i] = close[i - 1]
    ts = pd.date_range("2021-01-04", periods=n, freq=freq)
    return engine.Bars.from_numpy(ts.values, open_, high, low, close)


@st.composite
def int_signals(draw: st.DrawFn, n: int) -> np.ndarray:
    """int8 signals: 1, -1, 0 and HOLD, sparse or busy, with repeats."""
    seed = draw(st.integers(0, 2**32 - 1))
    p_hold = draw(st.sampled_from([0.0, 0.5, 0.9]))
    weights = np.array(draw(st.sampled_from([(1, 1, 1), (3, 1, 1), (1, 3, 1), (1, 1, 3)])), float)
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array([1, -1, 0], np.int8), n, p=weights / weights.sum())
    return np.where(rng.random(n) < p_hold, np.int8(engine.HOLD), values).astype(np.int8)


@st.composite
def float_signals(draw: st.DrawFn, n: int, max_leverage: float) -> np.ndarray:
    """float64 targets: NaN, 0, ±1, ±max_leverage, values beyond it, small and
    negative sizes, and repeats of the previous value."""
    seed = draw(st.integers(0, 2**32 - 1))
    p_nan = draw(st.sampled_from([0.0, 0.5, 0.9]))
    p_repeat = draw(st.sampled_from([0.0, 0.3]))
    rng = np.random.default_rng(seed)
    palette = np.array([0.0, 1.0, -1.0, max_leverage, -max_leverage, 0.5, -0.25])
    kind = rng.integers(0, 3, n)
    out = np.where(kind == 0, rng.choice(palette, n), rng.uniform(-3.5, 3.5, n))
    out = np.where(kind == 2, rng.uniform(-0.2, 0.2, n), out)
    for i in range(1, n):
        if rng.random() < p_repeat:
            out[i] = out[i - 1]
    out[rng.random(n) < p_nan] = np.nan
    return out


def configs() -> st.SearchStrategy[Config]:
    """Every Config field, risk levels and risk rules on and off, both fills."""
    level = st.one_of(st.none(), st.sampled_from([0.005, 0.02, 0.05, 0.15]), st.floats(0.001, 0.3))
    return st.builds(
        Config,
        initial_capital=st.sampled_from([50.0, 1_000.0, 10_000.0, 1e6]),
        fee_rate=st.sampled_from([0.0, 0.0005, 0.002, 0.02]),
        fee_per_unit=st.sampled_from([0.0, 0.005, 0.1]),
        fixed_fee=st.sampled_from([0.0, 0.5, 5.0]),
        slippage_bps=st.sampled_from([0.0, 1.0, 10.0, 75.0]),
        stop_loss=level,
        take_profit=level,
        trailing_stop=level,
        max_leverage=st.sampled_from([0.3, 1.0, 1.5, 3.0]),
        allow_short=st.booleans(),
        integer_units=st.booleans(),
        close_at_end=st.booleans(),
        fill=st.sampled_from(["next_open", "close"]),
        periods_per_year=st.one_of(st.none(), st.sampled_from([12.0, 252.0, 8760.0])),
        max_weight=st.one_of(st.none(), st.none(), st.sampled_from([0.2, 0.5, 1.0, 2.0])),
        max_drawdown_halt=st.one_of(st.none(), st.none(), st.sampled_from([0.01, 0.03, 0.1])),
        halt_bars=st.sampled_from([1, 3, 20]),
        daily_loss_limit=st.one_of(st.none(), st.none(), st.sampled_from([0.005, 0.02, 0.05])),
        cooldown_bars=st.sampled_from([0, 0, 1, 5]),
    )


# -- comparing -----------------------------------------------------------------


def _same(got: float, want: float, atol: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= atol + RTOL * max(abs(got), abs(want))


def _metric_atol(name: str, cfg: Config) -> float:
    if name in MONEY_METRICS:
        return 1e-9 * cfg.initial_capital
    if name in RETURN_METRICS:
        return 1e-12
    if name in ("sharpe", "sortino", "calmar", "volatility"):
        return RATIO_ATOL
    return 0.0


def assert_agree(bars: engine.Bars, signal: np.ndarray, cfg: Config) -> None:
    """Core and reference agree on stats, equity and trades."""
    got = engine.backtest(bars, signal, cfg)
    events: list[tuple[int, str, float]] = []
    stats, equity, trades = simulate_config(bars, signal, cfg, events)
    where = f"\nconfig={cfg}\nsignal={signal.tolist()}\n" + "\n".join(
        f"{name}={a.tolist()}" for name, a in zip("ohlc", bars.prices)
    )

    bad = {
        k: (got.stats[k], stats[k]) for k in engine.METRICS if not _same(got.stats[k], stats[k], _metric_atol(k, cfg))
    }
    assert not bad, f"metrics differ (core, reference): {bad}{where}"

    core_eq = got.equity.to_numpy()
    assert len(core_eq) == len(equity)
    money = 1e-9 * cfg.initial_capital
    off = [i for i, (a, b) in enumerate(zip(core_eq, equity)) if not _same(a, b, money)]
    assert not off, f"equity differs at bars {off[:5]}: core {core_eq[off[0]]}, reference {equity[off[0]]}{where}"

    core_events = got.risk_events[got.risk_events["rule"] != "margin"]
    assert len(core_events) == len(events), (
        f"core fired {core_events[['bar', 'rule', 'value']].values.tolist()}, reference {events}{where}"
    )
    for i, (c, r) in enumerate(zip(core_events.itertuples(index=False), events)):
        assert (c.bar, c.rule) == r[:2] and _same(c.value, r[2], 1e-12), (
            f"risk event {i}: core {(c.bar, c.rule, c.value)}, reference {r}{where}"
        )

    core_trades = got.trades.to_dict("records")
    assert len(core_trades) == len(trades), f"core closed {len(core_trades)} trades, reference {len(trades)}{where}"
    units_atol = money / float(np.min(bars.low))
    for i, (c, r) in enumerate(zip(core_trades, trades)):
        for k in ("entry_bar", "exit_bar", "direction", "exit_reason"):
            assert c[k] == r[k], f"trade {i}: {k} core {c[k]!r}, reference {r[k]!r}{where}"
        for k, atol in (
            ("units", units_atol),
            *((f, money) for f in MONEY_TRADE_FIELDS),
            *((f, 0.0) for f in PRICE_TRADE_FIELDS),
            ("return", 1e-12),
        ):
            assert _same(c[k], r[k], atol), f"trade {i}: {k} core {c[k]!r}, reference {r[k]!r}{where}"


# -- the tests -----------------------------------------------------------------


@given(data=st.data(), bars=random_bars(), cfg=configs())
def test_core_matches_reference_on_int_signals(data: Any, bars: engine.Bars, cfg: Config) -> None:
    signal = data.draw(int_signals(len(bars)), label="signal")
    assert_agree(bars, signal, cfg)


@given(data=st.data(), bars=random_bars(), cfg=configs())
def test_core_matches_reference_on_float_signals(data: Any, bars: engine.Bars, cfg: Config) -> None:
    signal = data.draw(float_signals(len(bars), cfg.max_leverage), label="signal")
    assert_agree(bars, signal, cfg)


@given(data=st.data(), cfg=configs())
def test_core_matches_reference_on_real_prices(data: Any, sp500_bars: engine.Bars, cfg: Config) -> None:
    n = data.draw(st.integers(1, 400), label="n")
    start = data.draw(st.integers(0, len(sp500_bars) - n), label="start")
    bars = sp500_bars[start : start + n]
    signal = data.draw(signal_stack(n, cfg.max_leverage, runs=1), label="signal")[0]
    assert_agree(bars, signal, cfg)


def signal_stack(n: int, max_leverage: float, runs: int) -> st.SearchStrategy[np.ndarray]:
    """``runs`` signals of one kind (int8 or float64), stacked ``[runs, n]``."""
    return st.one_of(
        st.lists(int_signals(n), min_size=runs, max_size=runs).map(np.stack),
        st.lists(float_signals(n, max_leverage), min_size=runs, max_size=runs).map(np.stack),
    )


def _same_bits(a: float, b: float) -> bool:
    return bool(np.float64(a).view(np.uint64) == np.float64(b).view(np.uint64))


def _bits(table: pd.DataFrame) -> np.ndarray:
    return np.ascontiguousarray(table[list(engine.METRICS)].to_numpy(np.float64)).view(np.uint64)


@given(data=st.data(), bars=random_bars(max_bars=120), cfg=configs(), runs=st.integers(1, 6))
def test_run_batch_equals_backtest_of_each(data: Any, bars: engine.Bars, cfg: Config, runs: int) -> None:
    signals = data.draw(signal_stack(len(bars), cfg.max_leverage, runs), label="signals")
    table = engine.run_batch(bars, signals, cfg, threads=1)
    assert list(table.columns) == list(engine.METRICS)
    assert len(table) == runs
    for i, signal in enumerate(signals):
        one = engine.backtest(bars, signal, cfg, equity=False, trades=False).stats
        row = table.iloc[i].to_dict()
        differ = {k: (row[k], one[k]) for k in engine.METRICS if not _same_bits(row[k], one[k])}
        assert not differ, f"run {i}: batch vs backtest {differ}\nconfig={cfg}"


@given(data=st.data(), bars=random_bars(max_bars=120), cfgs=st.lists(configs(), min_size=6, max_size=6))
def test_run_batch_with_a_config_per_run_matches_the_reference(
    data: Any, bars: engine.Bars, cfgs: list[Config]
) -> None:
    signals = data.draw(signal_stack(len(bars), 1.0, len(cfgs)), label="signals")
    table = engine.run_batch(bars, signals, cfgs, threads=1)
    for i, (signal, cfg) in enumerate(zip(signals, cfgs)):
        want, _, _ = simulate_config(bars, signal, cfg)
        got = table.iloc[i].to_dict()
        bad = {k: (got[k], want[k]) for k in engine.METRICS if not _same(got[k], want[k], _metric_atol(k, cfg))}
        assert not bad, f"run {i}: batch vs reference {bad}\nconfig={cfg}"


@given(data=st.data(), bars=random_bars(max_bars=120), cfg=configs(), runs=st.integers(2, 24))
def test_run_batch_is_bit_identical_for_one_and_two_threads(
    data: Any, bars: engine.Bars, cfg: Config, runs: int
) -> None:
    signals = data.draw(signal_stack(len(bars), cfg.max_leverage, runs), label="signals")
    one = engine.run_batch(bars, signals, cfg, threads=1)
    two = engine.run_batch(bars, signals, cfg, threads=2)
    np.testing.assert_array_equal(_bits(one), _bits(two))

"""The single-backtest door (issue 14): cheap, and still every input check.

``engine.backtest`` hands a ready int8/float64 signal to the core unconverted (the
core reads, and so checks, every value), builds a Config's C record once, and lets
the core skip re-reading Bars that are still as they were validated.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import engine
from engine._run import sealed

N = 64


def make_bars() -> engine.Bars:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    open_ = np.concatenate(([100.0], close[:-1]))
    ts = pd.date_range("2024-01-01", periods=N, freq="D").values
    return engine.Bars.from_numpy(ts, open_, np.maximum(open_, close) * 1.01, np.minimum(open_, close) * 0.99, close)


def test_a_config_record_is_built_once_and_cannot_be_changed() -> None:
    cfg = engine.Config(fee_rate=0.001, max_weight=0.5, halt_bars=7)
    rec = cfg.to_record(252.0)
    assert cfg.to_record(252.0) is rec
    assert cfg.to_record(365.0) is not rec and cfg.to_record(365.0)["periods_per_year"][0] == 365.0
    assert rec["max_weight"][0] == 0.5 and rec["halt_bars"][0] == 7
    with pytest.raises(ValueError):
        rec["fee_rate"] = 0.5
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and "_records" not in again.__dict__
    assert again.to_record(252.0).tobytes() == rec.tobytes()


@pytest.mark.parametrize(
    "signal",
    [
        np.array([1, 0, 5] + [0] * (N - 3), np.int8),
        np.array([1.0, np.inf] + [0.0] * (N - 2)),
    ],
)
def test_a_ready_signal_with_a_bad_value_is_still_named(signal: np.ndarray) -> None:
    with pytest.raises(engine.InvalidSignalError, match=r"signal\[[12]\]"):
        engine.backtest(make_bars(), signal)


@pytest.mark.parametrize(
    "convert",
    [
        lambda s: s.astype(np.int64),
        lambda s: s.tolist(),
        lambda s: s.astype(bool),
        lambda s: np.repeat(s, 2)[::2],
        lambda s: pd.Series(s),
    ],
)
def test_other_signals_are_converted_to_the_same_answer(convert) -> None:
    bars = make_bars()
    signal = (np.arange(N) % 9 < 4).astype(np.int8)
    want = engine.backtest(bars, signal, engine.Config(fee_rate=0.001))
    got = engine.backtest(bars, convert(signal), engine.Config(fee_rate=0.001))
    assert got.stats == want.stats


def test_bars_are_sealed_until_their_owner_is_unlocked() -> None:
    bars = make_bars()
    assert sealed(bars)
    assert sealed(bars[10:40])
    bars.close.base.flags.writeable = True
    assert not sealed(bars)


def test_equity_and_trades_are_wrapped_only_when_read() -> None:
    res = engine.backtest(make_bars(), (np.arange(N) % 9 < 4).astype(np.int8))
    assert "equity" not in res.__dict__ and "trades" not in res.__dict__
    assert len(res.trades) == res.stats["total_trades"]
    assert "trades" in res.__dict__
    bare = engine.backtest(make_bars(), np.ones(N, np.int8), equity=False, trades=False)
    with pytest.raises(AttributeError, match="equity=True"):
        bare.equity

"""engine.synthetic: valid, seeded OHLCV with the volatility, regimes and jumps asked for."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import synthetic


def log_returns(bars: engine.Bars) -> np.ndarray:
    return np.diff(np.log(bars.close))


@pytest.mark.parametrize("n", [1, 1_000, 100_000, 1_000_000])
def test_any_size_gives_valid_bars(n):
    bars = synthetic.bars(n, regimes=synthetic.Regimes(), jumps=synthetic.Jumps())
    assert isinstance(bars, engine.Bars) and len(bars) == n  # Bars validated every rule
    assert np.all(bars.volume > 0)


def test_the_same_seed_gives_the_same_bars_and_another_seed_others():
    a, b = synthetic.bars(5_000, seed=11), synthetic.bars(5_000, seed=11)
    c = synthetic.bars(5_000, seed=12)
    for field in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.close, c.close)


def test_bars_are_spaced_by_the_timeframe_from_start():
    bars = synthetic.bars(100, timeframe="5m", start="2024-03-01 09:30")
    assert str(bars.index[0]) == "2024-03-01 09:30:00+00:00"
    assert set(np.diff(bars.ts).tolist()) == {300 * 10**9}


def test_daily_bars_skip_weekends_and_intraday_bars_do_not_unless_asked():
    daily = synthetic.bars(300, timeframe="1d")
    assert set(daily.index.day_of_week) == {0, 1, 2, 3, 4}
    assert 250 < daily.periods_per_year() < 262
    assert set(synthetic.bars(5_000, timeframe="1h").index.day_of_week) == set(range(7))
    assert set(synthetic.bars(5_000, timeframe="1h", weekdays=True).index.day_of_week) == {0, 1, 2, 3, 4}


def test_volatility_and_drift_are_annual_figures():
    bars = synthetic.bars(200_000, seed=5, timeframe="1h", volatility=0.3, drift=0.5)
    r = log_returns(bars)
    ppy = bars.periods_per_year()
    assert r.std(ddof=1) * np.sqrt(ppy) == pytest.approx(0.3, rel=0.02)
    assert r.mean() * ppy == pytest.approx(0.5, abs=0.2)  # drift is hard to pin down: ~23 years


def test_regimes_switch_volatility():
    calm, wild = 0.1, 0.5
    bars = synthetic.bars(100_000, seed=2, timeframe="1h", regimes=synthetic.Regimes((calm, wild), 2_000))
    r = log_returns(bars) * np.sqrt(bars.periods_per_year())
    windows = r[: len(r) // 500 * 500].reshape(-1, 500).std(axis=1)
    assert windows.min() < 1.3 * calm and windows.max() > 0.8 * wild
    plain = log_returns(synthetic.bars(100_000, seed=2, timeframe="1h", volatility=0.3))
    plain_windows = plain[:99_500].reshape(-1, 500).std(axis=1) * np.sqrt(8766)
    assert plain_windows.max() / plain_windows.min() < 1.5


def test_jumps_open_bars_with_gaps():
    smooth = synthetic.bars(20_000, seed=4)
    gappy = synthetic.bars(20_000, seed=4, jumps=synthetic.Jumps(rate=0.01, std=0.05))
    gap = np.abs(np.log(gappy.open[1:] / gappy.close[:-1]))
    assert np.abs(np.log(smooth.open[1:] / smooth.close[:-1])).max() < 1e-12
    assert 150 < np.count_nonzero(gap > 1e-9) < 250  # about 1 % of 20,000 bars
    assert gap.max() > 0.1


def test_prices_can_sit_on_a_tick_grid():
    bars = synthetic.bars(50_000, seed=1, tick=0.01, price=5.0, volatility=0.8)
    for prices in bars.prices:
        assert all(len(repr(float(p)).split(".")[1]) <= 2 for p in prices)  # 100.02, not 100.02000000000001
        assert np.array_equal(prices, np.round(prices * 100) / 100) and prices.min() >= 0.01
    with pytest.raises(ValueError, match="tick must be a positive"):
        synthetic.bars(10, tick=0.0)


def test_the_arrow_table_writes_and_imports(tmp_path):
    table = synthetic.table(1_000, seed=9, timeframe="1m", symbol="SYN")
    assert table.column_names == ["symbol", "ts", "open", "high", "low", "close", "volume"]
    with engine.Store(tmp_path / "s.duckdb", sample=False) as store:
        assert store.import_bars(table).series[0].timeframe == "1m"
        np.testing.assert_array_equal(store.bars("SYN", "1m").close, synthetic.bars(1_000, seed=9).close)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "at least 1"),
        ({"n": 10, "price": -1.0}, "price must be positive"),
        ({"n": 10, "volatility": 0.0}, "volatility must be positive"),
        ({"n": 10, "volume": -1.0}, "volume must not be negative"),
        ({"n": 1_000_000, "timeframe": "1d"}, "past the year 2262"),
        ({"n": 10, "timeframe": "1M"}, "months"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic.bars(**kwargs)


def test_regimes_and_jumps_check_their_numbers():
    with pytest.raises(ValueError, match="positive annualised"):
        synthetic.Regimes((0.1, -0.2))
    with pytest.raises(ValueError, match="probability"):
        synthetic.Jumps(rate=2.0)

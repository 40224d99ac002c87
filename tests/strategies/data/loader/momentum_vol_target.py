"""Momentum with a volatility target: numpy, math and the indicators, vectorized."""

import math

import numpy as np

import engine
from strategies import Float, Int, Strategy, blocks, indicators

TRADING_DAYS = 252
ANNUALISE = math.sqrt(TRADING_DAYS)


class MomentumVolTarget(Strategy):
    """Long while the rate of change is positive, sized to a target volatility."""

    period = Int(60, low=5, high=250)
    target = Float(0.15, low=0.05, high=0.5)
    vol_window = Int(20, low=5, high=100)

    def signals(self, bars, period, target, vol_window):
        close = bars.close
        direction = np.where(indicators.roc(close, period) > 0, 1, 0).astype(np.int8)
        direction[: period + 1] = engine.HOLD
        returns = np.diff(np.log(close), prepend=np.nan)
        vol = indicators.stddev(returns, vol_window) * ANNUALISE
        size = np.clip(target / np.where(vol > 0, vol, np.nan), 0.0, 1.0)
        size[np.isnan(size)] = 0.0
        held = blocks.effective_position(direction)
        return np.where(held == 1, size, 0.0)

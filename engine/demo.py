"""``make demo``: a built-in strategy backtested on the shipped S&P 500 sample."""

from __future__ import annotations

import engine
import strategies


def main() -> None:
    bars = engine.load("SPX", "1d")
    cfg = engine.Config(initial_capital=10_000, fee_rate=0.001, slippage_bps=2)
    params = {"fast": 50, "slow": 200}
    res = strategies.run(strategies.get_strategy("sma_cross"), bars, cfg, params)
    print(f"{bars}\nSmaCross {params}, long only, 0.1 % fees, 2 bps slippage\n")
    print(res.summary())
    print(f"\nlast trades:\n{res.trades.tail(5).to_string(index=False)}")


if __name__ == "__main__":
    main()

"""A plain-Python backtester that follows README.md's "fill model" word for word.

It is written from the README, not from ``csrc/``: loops over bars, plain floats,
one small function per rule. The C core is tested against it
(``test_reference_vs_core.py``), so where the two disagree one of them misreads
the README — and this file is short enough to check by eye.

    stats, equity, trades = simulate(open, high, low, close, signal, fee_rate=0.001)
    stats, equity, trades = simulate_config(bars, signal, engine.Config(...))

Readings of points the README leaves open (each is pinned by a test):
  - the "signal differs" test compares the raw signal values, before the
    ``max_leverage`` cap and the ``allow_short`` rule;
  - ``max_leverage`` caps int targets too (an int ``1`` with ``max_leverage=0.5``
    is a half-equity long);
  - ``equity`` in the sizing formula is taken when each step runs, so after a
    flip's closing order it is the cash that closing left;
  - adding to a position keeps its entry bar; the add's fill price is a price
    seen since entry, so ``best`` moves to it when it is better;
  - the ``close_at_end`` order is a fill at the last close and, like any fill at
    a close, comes before that close's mark: the last equity point is the cash
    it leaves, and the last bar does not count as exposed;
  - margin: after a bar's fills and exits, a position whose equity at the close
    is zero or below is closed at that close ("margin", before ``close_at_end``),
    an order still pending is dropped, and the account trades no more: later
    signals are not read, each later bar marks the cash left, and the bar of the
    liquidation does not count as exposed (like a ``close_at_end`` bar).

Risk rules (DESIGN.md "risk rules, for one series and portfolios alike", with the
meaning ``engine.Config`` gives them for portfolios), each firing an event
(bar, rule, value):
  - a "fill point" is where a bar's order fills: the open of every bar t >= 1
    (next_open) or the close of every bar but the last (close) -- whether or not
    an order is due there;
  - drawdown halt: at a fill point, before the order, when no halt runs and the
    equity at the raw fill price is below peak × (1 − max_drawdown_halt): event
    (1 − equity / peak), the position closes there ("risk"), the orders of this
    fill point and of the next ``halt_bars`` − 1 bars are dropped, the peak
    restarts from the equity left. The peak is the highest equity at a close;
  - daily loss limit: likewise against the equity at the last close before the
    UTC day's first bar (initial capital at first), once a day; the day's
    remaining orders are dropped;
  - a dropped order is gone: the signal keeps its value, so nothing re-enters
    until the signal changes;
  - max_weight: an order whose exposure asked (shorts not allowed ask 0) is
    above it in size trades to max_weight on its side (still capped by
    max_leverage): event (the exposure asked);
  - cool-down: a stop-loss or trailing-stop exit at bar t: event (cooldown_bars);
    through bar t + cooldown_bars an order may close or shrink, never open or grow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HOLD = -128
LONG, SHORT = 1, -1

Trade = dict[str, Any]
Outcome = tuple[dict[str, float], list[float], list[Trade]]
"""(stats by metric name, equity at each close, closed trades)."""


# -- the rules of one backtest -------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """The parts of a Config that the fill model reads."""

    initial_capital: float = 10_000.0
    fee_rate: float = 0.0
    fee_per_unit: float = 0.0
    fixed_fee: float = 0.0
    slippage_bps: float = 0.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_leverage: float = 1.0
    allow_short: bool = False
    integer_units: bool = False
    close_at_end: bool = False
    fill: str = "next_open"
    max_weight: float | None = None
    max_drawdown_halt: float | None = None
    halt_bars: int = 20
    daily_loss_limit: float | None = None
    cooldown_bars: int = 0


def fill_price(price: float, side: int, rules: Rules) -> float:
    """The slipped price: a buy fills at price × (1 + bps/10⁴), a sell at × (1 − bps/10⁴).

    Args:
        price: the raw price (an open, a close, or a stop or take-profit level).
        side: +1 for a buy, −1 for a sell.
    """
    return price * (1.0 + side * rules.slippage_bps / 10_000.0)


def order_fee(units: float, price: float, rules: Rules) -> float:
    """fee_rate × units × fill_price + fee_per_unit × units + fixed_fee."""
    return rules.fee_rate * units * price + rules.fee_per_unit * units + rules.fixed_fee


def units_for(exposure: float, equity: float, price: float, rules: Rules) -> float:
    """units(f, P) = (|f| × equity − fixed_fee) / (P × (1 + fee_rate) + fee_per_unit), ≥ 0."""
    units = (abs(exposure) * equity - rules.fixed_fee) / (price * (1.0 + rules.fee_rate) + rules.fee_per_unit)
    if rules.integer_units:
        units = float(math.trunc(units))
    return max(units, 0.0)


def target_exposure(value: float, rules: Rules) -> float:
    """The exposure a (non-HOLD, non-NaN) signal value asks for: capped, and 0 for a
    short that is not allowed."""
    f = float(value)
    if f < 0 and not rules.allow_short:
        return 0.0
    return max(-rules.max_leverage, min(rules.max_leverage, f))


class SignalReader:
    """Turns each bar's signal into an order target, or None when nothing changes."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.last = 0.0  # before the first bar we are flat

    def read(self, value: float) -> float | None:
        if value == HOLD or math.isnan(value):
            return None
        if value == self.last:
            return None
        self.last = value
        return target_exposure(value, self.rules)


# -- positions, trades and the account -----------------------------------------


@dataclass
class Position:
    """An open position: one side, its units, average entry price and entry fees."""

    direction: int
    units: float
    entry_price: float
    entry_fees: float
    entry_bar: int
    best: float  # highest price since entry for a long, lowest for a short

    def stop_level(self, rules: Rules) -> tuple[float | None, str]:
        """The effective stop (tighter of stop-loss and trailing) and its exit reason."""
        d = self.direction
        stop: float | None = None
        reason = ""
        if rules.stop_loss is not None:
            stop, reason = self.entry_price * (1.0 - d * rules.stop_loss), "stop_loss"
        if rules.trailing_stop is not None:
            trail = self.best * (1.0 - d * rules.trailing_stop)
            # the tighter is the higher for a long, the lower for a short; a tie stays stop_loss
            if stop is None or (trail > stop if d == LONG else trail < stop):
                stop, reason = trail, "trailing_stop"
        return stop, reason

    def take_profit_level(self, rules: Rules) -> float | None:
        if rules.take_profit is None:
            return None
        return self.entry_price * (1.0 + self.direction * rules.take_profit)


@dataclass
class Account:
    """Cash, the open position, the fees paid and the closed trades."""

    rules: Rules
    cash: float
    position: Position | None = None
    fees_paid: float = 0.0
    trades: list[Trade] = field(default_factory=list)

    def equity(self, price: float) -> float:
        """cash + position × price."""
        if self.position is None:
            return self.cash
        return self.cash + self.position.direction * self.position.units * price

    def _pay(self, side: int, units: float, price: float) -> float:
        """Cash moves for a fill of ``units`` at ``price``; returns the fee."""
        fee = order_fee(units, price, self.rules)
        self.cash -= side * units * price + fee
        self.fees_paid += fee
        return fee

    def grow(self, direction: int, units: float, price: float, bar: int) -> None:
        """Open a position or add to one on the same side (averaging its entry)."""
        fee = self._pay(direction, units, price)
        pos = self.position
        if pos is None:
            self.position = Position(direction, units, price, fee, bar, best=price)
            return
        total = pos.units + units
        pos.best = max(pos.best, price) if direction == LONG else min(pos.best, price)
        pos.entry_price = (pos.entry_price * pos.units + price * units) / total
        pos.units = total
        pos.entry_fees += fee

    def shrink(self, units: float, price: float, bar: int, reason: str) -> None:
        """Take ``units`` off the position at ``price`` and record that part as a trade."""
        pos = self.position
        assert pos is not None
        fee = self._pay(-pos.direction, units, price)
        if units >= pos.units:
            share = pos.entry_fees
        else:
            share = pos.entry_fees * units / pos.units
        pnl = pos.direction * (price - pos.entry_price) * units - share - fee
        self.trades.append(
            {
                "entry_bar": pos.entry_bar,
                "exit_bar": bar,
                "direction": "long" if pos.direction == LONG else "short",
                "units": units,
                "entry_price": pos.entry_price,
                "exit_price": price,
                "entry_fees": share,
                "exit_fees": fee,
                "pnl": pnl,
                "return": pnl / (units * pos.entry_price),
                "exit_reason": reason,
            }
        )
        if units >= pos.units:
            self.position = None
        else:
            pos.units -= units
            pos.entry_fees -= share

    def close(self, raw_price: float, bar: int, reason: str) -> None:
        """Close the whole position at ``raw_price`` (slipped against the trader)."""
        pos = self.position
        assert pos is not None
        self.shrink(pos.units, fill_price(raw_price, -pos.direction, self.rules), bar, reason)


# -- the rules, one function each ----------------------------------------------


def trade_to_target(book: Account, f: float, p: float, bar: int, may_grow: bool = True) -> None:
    """Trade from the current position to target exposure ``f`` at raw price ``p``
    (without opening or growing a position when ``may_grow`` is False)."""
    rules = book.rules
    pos = book.position
    # 1. a position on the other side of f (or f = 0) is closed first, all of it.
    if pos is not None and (f == 0 or (f > 0) != (pos.direction == LONG)):
        book.close(p, bar, "signal")
    if f == 0:
        return
    # 2. grow, else shrink, else do nothing.
    side = LONG if f > 0 else SHORT
    held = book.position.units if book.position is not None else 0.0
    p_in = fill_price(p, side, rules)
    u_in = units_for(f, book.equity(p), p_in, rules)
    if u_in > held:
        if may_grow:
            book.grow(side, u_in - held, p_in, bar)
        return
    p_out = fill_price(p, -side, rules)
    u_out = units_for(f, book.equity(p), p_out, rules)
    if u_out < held:
        book.shrink(held - u_out, p_out, bar, "signal")


def run_risk_exits(book: Account, bar: int, o: float, h: float, lo: float) -> str | None:
    """Stop-loss, take-profit and trailing stop over one bar, in the README's order;
    returns the exit reason of a position it closed."""
    pos = book.position
    if pos is None:
        return None
    rules = book.rules
    long = pos.direction == LONG
    # 1. best moves to the open if the open is better.
    pos.best = max(pos.best, o) if long else min(pos.best, o)
    stop, stop_reason = pos.stop_level(rules)
    tp = pos.take_profit_level(rules)

    def against(price: float, level: float) -> bool:  # at or through the stop
        return price <= level if long else price >= level

    def beyond(price: float, level: float) -> bool:  # at or through the take-profit
        return price >= level if long else price <= level

    # 2. gaps: the open is at or through a level -> exit at the open.
    if stop is not None and against(o, stop):
        book.close(o, bar, stop_reason)
        return stop_reason
    if tp is not None and beyond(o, tp):
        book.close(o, bar, "take_profit")
        return "take_profit"
    # 3. touches within the bar; a bar that reaches both is taken as the stop.
    if stop is not None and against(lo if long else h, stop):
        book.close(stop, bar, stop_reason)
        return stop_reason
    if tp is not None and beyond(h if long else lo, tp):
        book.close(tp, bar, "take_profit")
        return "take_profit"
    # 4. still open: best moves to the high (low for shorts).
    pos.best = max(pos.best, h) if long else min(pos.best, lo)
    return None


DAY_NS = 86_400_000_000_000


class RiskRules:
    """The drawdown halt, daily loss limit, max_weight and cool-down of one series."""

    def __init__(self, rules: Rules, ts: list[int] | None, events: list[tuple[int, str, float]]) -> None:
        self.rules = rules
        self.ts = ts
        self.events = events
        self.peak = self.last_eq = self.day_start = rules.initial_capital
        self.halt_until = -1
        self.day: int | None = None
        self.day_halted = False
        self.cool_until = -1

    def new_bar(self, t: int) -> None:
        if self.rules.daily_loss_limit:
            assert self.ts is not None, "daily_loss_limit needs bar times"
            day = self.ts[t] // DAY_NS
            if day != self.day:
                self.day, self.day_start, self.day_halted = day, self.last_eq, False

    def gate(self, book: Account, t: int, price: float) -> bool:
        """The halts at a fill point; True when its orders are dropped."""
        r = self.rules
        e = book.equity(price)
        if r.max_drawdown_halt and t >= self.halt_until and e < self.peak * (1 - r.max_drawdown_halt):
            self.events.append((t, "max_drawdown_halt", 1 - e / self.peak))
            if book.position is not None:
                book.close(price, t, "risk")
            self.halt_until = t + r.halt_bars
            e = self.peak = book.equity(price)
        if r.daily_loss_limit and not self.day_halted and e < self.day_start * (1 - r.daily_loss_limit):
            self.events.append((t, "daily_loss_limit", 1 - e / self.day_start))
            if book.position is not None:
                book.close(price, t, "risk")
            self.day_halted = True
        return t < self.halt_until or self.day_halted

    def order(self, book: Account, t: int, f: float, asked: float, price: float) -> None:
        mw = self.rules.max_weight
        if mw and abs(asked) > mw:
            self.events.append((t, "max_weight", asked))
            f = math.copysign(min(abs(f), mw), f)
        trade_to_target(book, f, price, t, may_grow=t > self.cool_until)

    def exited(self, t: int, reason: str | None) -> None:
        if self.rules.cooldown_bars and reason in ("stop_loss", "trailing_stop"):
            self.cool_until = t + self.rules.cooldown_bars
            self.events.append((t, "cooldown", float(self.rules.cooldown_bars)))

    def mark(self, equity: float) -> None:
        self.last_eq = equity
        self.peak = max(self.peak, equity)


# -- the bar loop --------------------------------------------------------------


def _signal_values(signal: Any, n: int) -> list[float]:
    arr = np.asarray(signal)
    if arr.shape != (n,):
        raise ValueError(f"signal has shape {arr.shape}; give one value per bar ({n})")
    if arr.dtype.kind in "biu":
        return [float(v) for v in arr.astype(np.int64)]
    if arr.dtype.kind == "f":
        return [float(v) for v in arr]
    raise TypeError(f"signals are ints, bools or floats, not {arr.dtype}")


def simulate(
    open: Any,  # noqa: A002 - the trader's word
    high: Any,
    low: Any,
    close: Any,
    signal: Any,
    *,
    initial_capital: float = 10_000.0,
    fee_rate: float = 0.0,
    fee_per_unit: float = 0.0,
    fixed_fee: float = 0.0,
    slippage_bps: float = 0.0,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    trailing_stop: float | None = None,
    max_leverage: float = 1.0,
    periods_per_year: float = 252.0,
    fill: str = "next_open",
    allow_short: bool = False,
    integer_units: bool = False,
    close_at_end: bool = False,
    max_weight: float | None = None,
    max_drawdown_halt: float | None = None,
    halt_bars: int = 20,
    daily_loss_limit: float | None = None,
    cooldown_bars: int = 0,
    ts: Any = None,
    events: list[tuple[int, str, float]] | None = None,
) -> Outcome:
    """Backtest ``signal`` over OHLC bars by the README's fill model.

    Args:
        open, high, low, close: prices, one per bar.
        signal: int (1, -1, 0, HOLD = -128; bools are 1/0) or float target exposure
            (NaN = change nothing), one per bar.
        The keywords are the fields of ``engine.Config``; ``periods_per_year`` must
        be given (the bars here have no times). ``ts`` (int ns, one per bar) is
        read by ``daily_loss_limit``; risk events are appended to ``events``
        as (bar, rule, value) when a list is given.

    Returns:
        (stats by metric name, equity at each close, closed trades as dicts with the
        columns of ``engine.Result.trades`` less the times).
    """
    if fill not in ("next_open", "close"):
        raise ValueError(f"fill is {fill!r}; choose 'next_open' or 'close'")
    rules = Rules(
        initial_capital=float(initial_capital),
        fee_rate=float(fee_rate),
        fee_per_unit=float(fee_per_unit),
        fixed_fee=float(fixed_fee),
        slippage_bps=float(slippage_bps),
        stop_loss=None if stop_loss is None else float(stop_loss),
        take_profit=None if take_profit is None else float(take_profit),
        trailing_stop=None if trailing_stop is None else float(trailing_stop),
        max_leverage=float(max_leverage),
        allow_short=bool(allow_short),
        integer_units=bool(integer_units),
        close_at_end=bool(close_at_end),
        fill=fill,
        max_weight=max_weight,
        max_drawdown_halt=max_drawdown_halt,
        halt_bars=int(halt_bars),
        daily_loss_limit=daily_loss_limit,
        cooldown_bars=int(cooldown_bars),
    )
    o, h, lo, c = (np.asarray(a, dtype=np.float64).tolist() for a in (open, high, low, close))
    n = len(c)
    values = _signal_values(signal, n)
    book = Account(rules, cash=rules.initial_capital)
    reader = SignalReader(rules)
    equity: list[float] = []
    exposed_bars = 0
    pending: tuple[float, float] | None = None
    halted = False
    risk = RiskRules(
        rules, None if ts is None else [int(x) for x in np.asarray(ts)], events if events is not None else []
    )
    halts = bool(max_drawdown_halt or daily_loss_limit)

    def asked(value: float) -> float:
        return 0.0 if value < 0 and not rules.allow_short else value

    for t in range(n):
        last_bar = t == n - 1
        if halted:
            equity.append(book.cash)
            continue
        risk.new_bar(t)
        if fill == "next_open":
            dropped = halts and t > 0 and risk.gate(book, t, o[t])
            if pending is not None:
                if not dropped:
                    risk.order(book, t, pending[0], pending[1], o[t])
                pending = None
            risk.exited(t, run_risk_exits(book, t, o[t], h[t], lo[t]))
            target = reader.read(values[t])
            if target is not None and not last_bar:
                pending = (target, asked(values[t]))
        else:
            risk.exited(t, run_risk_exits(book, t, o[t], h[t], lo[t]))
            dropped = halts and not last_bar and risk.gate(book, t, c[t])
            target = reader.read(values[t])
            if target is not None and not last_bar and not dropped:
                risk.order(book, t, target, asked(values[t]), c[t])
        if book.position is not None and book.equity(c[t]) <= 0:
            book.close(c[t], t, "margin")
            pending, halted = None, True
        if last_bar and close_at_end and book.position is not None:
            book.close(c[t], t, "end")
        exposed_bars += book.position is not None
        equity.append(book.equity(c[t]))
        risk.mark(equity[-1])

    stats = metrics(equity, book.trades, rules.initial_capital, float(periods_per_year), book.fees_paid, exposed_bars)
    return stats, equity, book.trades


def simulate_config(bars: Any, signal: Any, config: Any, events: list[tuple[int, str, float]] | None = None) -> Outcome:
    """``simulate`` with the prices and times of an ``engine.Bars`` and the fields of an
    ``engine.Config``.

    ``periods_per_year`` comes from the config, or when unset from ``bars.periods_per_year()``.
    """
    ppy = config.periods_per_year or bars.periods_per_year()
    return simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        signal,
        initial_capital=config.initial_capital,
        fee_rate=config.fee_rate,
        fee_per_unit=config.fee_per_unit,
        fixed_fee=config.fixed_fee,
        slippage_bps=config.slippage_bps,
        stop_loss=config.stop_loss,
        take_profit=config.take_profit,
        trailing_stop=config.trailing_stop,
        max_leverage=config.max_leverage,
        periods_per_year=ppy,
        fill=config.fill,
        allow_short=config.allow_short,
        integer_units=config.integer_units,
        close_at_end=config.close_at_end,
        max_weight=config.max_weight,
        max_drawdown_halt=config.max_drawdown_halt,
        halt_bars=config.halt_bars,
        daily_loss_limit=config.daily_loss_limit,
        cooldown_bars=config.cooldown_bars,
        ts=bars.ts,
        events=events,
    )


# -- metrics -------------------------------------------------------------------


def _ratio(num: float, den: float) -> float:
    """num / den, NaN when the denominator is zero (or NaN)."""
    if den == 0 or math.isnan(den) or math.isnan(num):
        return math.nan
    return num / den


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def _std(xs: list[float]) -> float:
    """Sample standard deviation (ddof=1); NaN with fewer than two values."""
    if len(xs) < 2:
        return math.nan
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def bar_returns(equity: list[float], initial_capital: float) -> list[float]:
    """r_t = equity_t / equity_{t-1} − 1, equity_{-1} = initial; 0 once the previous is ≤ 0."""
    out, prev = [], initial_capital
    for e in equity:
        out.append(e / prev - 1.0 if prev > 0 else 0.0)
        prev = e
    return out


def drawdowns(equity: list[float], initial_capital: float) -> tuple[float, int]:
    """(max over bars of 1 − equity/peak, longest run of bars below the running peak)."""
    peak, worst, run, longest = initial_capital, 0.0, 0, 0
    for e in equity:
        peak = max(peak, e)
        worst = max(worst, 1.0 - e / peak)
        run = run + 1 if e < peak else 0
        longest = max(longest, run)
    return worst, longest


def annual_return(final: float, initial: float, ppy: float, n: int) -> float:
    """(final / initial) ^ (ppy / n) − 1, or −1 when final ≤ 0."""
    if final <= 0:
        return -1.0
    try:
        return (final / initial) ** (ppy / n) - 1.0
    except OverflowError:
        return math.inf


def metrics(
    equity: list[float],
    trades: list[Trade],
    initial_capital: float,
    periods_per_year: float,
    fees_paid: float,
    exposed_bars: int,
) -> dict[str, float]:
    """Every metric of README.md's table, in ``engine.METRICS`` order."""
    n = len(equity)
    final = equity[-1]
    r = bar_returns(equity, initial_capital)
    root = math.sqrt(periods_per_year)
    mean_r, std_r = _mean(r), _std(r)
    downside = math.sqrt(_mean([min(x, 0.0) ** 2 for x in r]))
    max_dd, dd_bars = drawdowns(equity, initial_capital)
    annual = annual_return(final, initial_capital, periods_per_year, n)

    pnls = [t["pnl"] for t in trades]
    rets = [t["return"] for t in trades]
    gross_profit = sum(p for p in pnls if p > 0)
    gross_loss = -sum(p for p in pnls if p < 0)
    if gross_loss == 0:
        profit_factor = math.inf if gross_profit > 0 else math.nan
    else:
        profit_factor = gross_profit / gross_loss

    return {
        "total_return": final / initial_capital - 1.0,
        "annual_return": annual,
        "net_pnl": final - initial_capital,
        "final_equity": final,
        "total_fees": fees_paid,
        "sharpe": _ratio(mean_r, std_r) * root,
        "sortino": _ratio(mean_r, downside) * root,
        "calmar": _ratio(annual, max_dd),
        "max_drawdown": max_dd,
        "max_drawdown_duration": float(dd_bars),
        "volatility": std_r * root,
        "total_trades": float(len(trades)),
        "win_rate": _ratio(sum(p > 0 for p in pnls), len(pnls)),
        "profit_factor": profit_factor,
        "avg_trade_return": _mean(rets),
        "best_trade": max(rets) if rets else math.nan,
        "worst_trade": min(rets) if rets else math.nan,
        "avg_win": _mean([t["return"] for t in trades if t["pnl"] > 0]),
        "avg_loss": _mean([t["return"] for t in trades if t["pnl"] < 0]),
        "expectancy": _mean(pnls),
        "exposure": exposed_bars / n,
        "avg_bars_held": _mean([float(t["exit_bar"] - t["entry_bar"]) for t in trades]),
    }

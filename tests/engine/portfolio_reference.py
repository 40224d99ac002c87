"""A plain-Python portfolio simulator written from DESIGN.md ("Portfolios: many
symbols, one account") and the rules in engine/portfolio.py's docstring: slow,
obvious, one symbol and one bar at a time. The C loop must agree with it.

Within bar t, in this order:
  1. a symbol whose data has ended (t after its last bar) is closed at its last
     close (reason ``delisted``);
  2. fill="close": per-position stops first (the position carried into the bar);
  3. at a fill: the drawdown halt, then the daily loss limit (equity valued at the
     fill prices; a firing closes everything that trades, reason ``risk``, and the
     weights are ignored while halted); then the pending rebalance (row t-1 at open[t], or row t at close[t] — never the
     last bar's row): value equity at the raw fill prices (last close for symbols
     not trading), turn weights into units, execute every reduction, then every
     increase, all increases shrunk by one common factor when cash is short;
  4. fill="next_open": per-position stops (a position entered at the open is exposed);
  5. the last bar with close_at_end: close everything at the close (reason ``end``);
  6. mark at the close (last close for symbols not trading), short borrow accrues;
  7. an equity of zero or below there liquidates everything at the marked prices
     (reason ``margin``, one ``margin`` event) and the portfolio trades no more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.engine.reference import metrics

SIGNAL, STOP_LOSS, TAKE_PROFIT, TRAILING, END, DELISTED, RISK, MARGIN = (
    "signal",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "end",
    "delisted",
    "risk",
    "margin",
)
DAY_NS = 86_400 * 10**9
CASH_SLACK = 1e-12  # increases shrink only when they need more than cash by this relative margin


@dataclass
class Pos:
    units: float = 0.0
    avg: float = 0.0
    entry_fees: float = 0.0
    best: float = 0.0
    entry_bar: int = -1


@dataclass
class Book:
    cfg: dict[str, Any]
    m: int
    cash: float = 0.0
    fees: float = 0.0
    traded: float = 0.0
    borrow: float = 0.0
    trades: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    pos: list[Pos] = field(default_factory=list)
    contrib: list[float] = field(default_factory=list)
    cool_until: list[int] = field(default_factory=list)

    def slip(self, j: int, side: int, price: float) -> float:
        s = self.cfg["slippage_bps"][j] * 1e-4
        return price * (1.0 + s) if side > 0 else price * (1.0 - s)

    def fee(self, j: int, units: float, px: float) -> float:
        return units * px * self.cfg["fee_rate"][j] + units * self.cfg["fee_per_unit"][j] + self.cfg["fixed_fee"][j]

    def size(self, j: int, exposure: float, equity: float, px: float) -> float:
        u = (exposure * equity - self.cfg["fixed_fee"][j]) / (
            px * (1.0 + self.cfg["fee_rate"][j]) + self.cfg["fee_per_unit"][j]
        )
        if self.cfg["integer_units"]:
            u = math.trunc(u)
        return u if u > 0.0 else 0.0

    def add(self, j: int, t: int, d: int, units: float, px: float) -> None:
        p = self.pos[j]
        fee = self.fee(j, units, px)
        held = abs(p.units)
        self.cash -= d * units * px + fee
        self.contrib[j] -= d * units * px + fee
        self.fees += fee
        self.traded += units * px
        if held == 0.0:
            p.avg, p.entry_fees, p.entry_bar, p.best = px, fee, t, px
        else:
            p.avg = (held * p.avg + units * px) / (held + units)
            p.entry_fees += fee
            if (px > p.best) if d > 0 else (px < p.best):
                p.best = px
        p.units += d * units

    def reduce(self, j: int, t: int, units: float, px: float, why: str) -> None:
        p = self.pos[j]
        held = abs(p.units)
        d = 1 if p.units > 0 else -1
        fee = self.fee(j, units, px)
        share = 1.0 if units >= held else units / held
        ef = p.entry_fees * share
        pnl = d * units * (px - p.avg) - ef - fee
        self.cash += d * units * px - fee
        self.contrib[j] += d * units * px - fee
        self.fees += fee
        self.traded += units * px
        p.entry_fees -= ef
        self.trades.append(
            dict(
                symbol=j,
                entry_bar=p.entry_bar,
                exit_bar=t,
                units=units,
                entry_price=p.avg,
                exit_price=px,
                entry_fees=ef,
                exit_fees=fee,
                pnl=pnl,
                **{"return": pnl / (units * p.avg)},
                direction=d,
                exit_reason=why,
            )
        )
        if units >= held:
            p.units, p.entry_fees = 0.0, 0.0
        else:
            p.units -= d * units

    def close(self, j: int, t: int, price: float, why: str) -> None:
        p = self.pos[j]
        if p.units != 0.0:
            side = -1 if p.units > 0 else 1
            self.reduce(j, t, abs(p.units), self.slip(j, side, price), why)

    def stop_exit(self, j: int, t: int, price: float, why: str) -> None:
        self.close(j, t, price, why)
        if self.cfg["cooldown_bars"] > 0:
            self.cool_until[j] = t + self.cfg["cooldown_bars"]
            self.events.append(dict(bar=t, symbol=j, rule="cooldown", value=float(self.cfg["cooldown_bars"])))

    def value(self, px: np.ndarray, tradable: np.ndarray, last_close: list[float]) -> float:
        equity = self.cash
        for j in range(self.m):
            if self.pos[j].units != 0.0:
                equity += self.pos[j].units * (px[j] if tradable[j] else last_close[j])
        return equity

    def flatten(self, t: int, px: np.ndarray, tradable: np.ndarray) -> None:
        for j in range(self.m):
            if tradable[j] and self.pos[j].units != 0.0:
                self.close(j, t, px[j], RISK)


def _stops(b: Book, j: int, t: int, o: float, h: float, lo: float) -> None:
    c, p = b.cfg, b.pos[j]
    sl, tp, tr = c["stop_loss"], c["take_profit"], c["trailing_stop"]
    if p.units > 0:
        p.best = max(p.best, o)
        stop, why = -math.inf, STOP_LOSS
        if sl > 0:
            stop = p.avg * (1 - sl)
        if tr > 0 and p.best * (1 - tr) > stop:
            stop, why = p.best * (1 - tr), TRAILING
        take = p.avg * (1 + tp) if tp > 0 else math.inf
        if o <= stop:
            b.stop_exit(j, t, o, why)
        elif o >= take:
            b.close(j, t, o, TAKE_PROFIT)
        elif lo <= stop:
            b.stop_exit(j, t, stop, why)
        elif h >= take:
            b.close(j, t, take, TAKE_PROFIT)
        elif h > p.best:
            p.best = h
    elif p.units < 0:
        p.best = min(p.best, o)
        stop, why = math.inf, STOP_LOSS
        if sl > 0:
            stop = p.avg * (1 + sl)
        if tr > 0 and p.best * (1 + tr) < stop:
            stop, why = p.best * (1 + tr), TRAILING
        take = p.avg * (1 - tp) if tp > 0 else -math.inf
        if o >= stop:
            b.stop_exit(j, t, o, why)
        elif o <= take:
            b.close(j, t, o, TAKE_PROFIT)
        elif h >= stop:
            b.stop_exit(j, t, stop, why)
        elif lo <= take:
            b.close(j, t, take, TAKE_PROFIT)
        elif lo < p.best:
            p.best = lo


def _rebalance(b: Book, t: int, row: np.ndarray, px: np.ndarray, tradable: np.ndarray, last_close: list[float]) -> None:
    c = b.cfg
    m = b.m
    equity = b.value(px, tradable, last_close)
    if not equity > 0.0:
        return  # a portfolio worth nothing trades no more
    targets: dict[int, float] = {}
    for j in range(m):
        w = float(row[j])
        if math.isnan(w) or not tradable[j]:
            continue
        if w < 0 and not c["allow_short"]:
            w = 0.0
        if c["max_weight"] > 0 and abs(w) > c["max_weight"]:
            b.events.append(dict(bar=t, symbol=j, rule="max_weight", value=w))
            w = math.copysign(c["max_weight"], w)
        targets[j] = w
    gross = sum(abs(w) for w in targets.values())
    if gross > c["max_leverage"]:
        k = c["max_leverage"] / gross
        targets = {j: w * k for j, w in targets.items()}
    reductions: list[tuple[int, float, float]] = []
    increases: list[tuple[int, int, float, float]] = []
    for j, w in targets.items():
        p = b.pos[j]
        if c["rebalance_threshold"] > 0 and abs(w - p.units * px[j] / equity) < c["rebalance_threshold"]:
            continue
        want = int(w > 0) - int(w < 0)
        have = int(p.units > 0) - int(p.units < 0)
        held = abs(p.units)
        if have != 0 and have != want:
            reductions.append((j, held, b.slip(j, -have, px[j])))
            held = 0.0
        if want == 0:
            continue
        px_in = b.slip(j, want, px[j])
        u_in = b.size(j, abs(w), equity, px_in)
        if u_in > held:
            if t <= b.cool_until[j]:
                continue  # cooling down after a stop
            increases.append((j, want, u_in - held, px_in))
            continue
        px_out = b.slip(j, -want, px[j])
        u_out = b.size(j, abs(w), equity, px_out)
        if u_out < held:
            reductions.append((j, held - u_out, px_out))
    for j, units, p_out in reductions:
        b.reduce(j, t, units, p_out, SIGNAL)
    if not increases:
        return
    need = sum(
        u * (p * c["fee_rate"][j] + c["fee_per_unit"][j]) + (u * p if d > 0 else 0.0) for j, d, u, p in increases
    )
    fixed = sum(c["fixed_fee"][j] for j, _, _, _ in increases)
    room = b.cash + (c["max_leverage"] - 1.0) * equity - fixed
    scale = 1.0
    if need > room * (1.0 + CASH_SLACK):
        scale = max(room, 0.0) / need
        b.events.append(dict(bar=t, symbol=-1, rule="cash", value=scale))
    for j, d, u, p in increases:
        if scale < 1.0:
            u *= scale
            if c["integer_units"]:
                u = math.trunc(u)
        if u > 0.0:
            b.add(j, t, d, u, p)


def simulate(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    cl: np.ndarray,
    tradable: np.ndarray,
    weights: np.ndarray,
    cfg: dict[str, Any],
    ts: np.ndarray | None = None,
) -> dict[str, Any]:
    """Run the portfolio; returns equity, cash, trades, events, contributions, stats."""
    n, m = cl.shape
    c = dict(cfg)
    for k in ("fee_rate", "slippage_bps", "fee_per_unit", "fixed_fee"):
        c[k] = list(np.broadcast_to(np.asarray(c[k], float), (m,)))
    for k, v in (("max_drawdown_halt", 0.0), ("daily_loss_limit", 0.0), ("halt_bars", 0), ("cooldown_bars", 0)):
        c.setdefault(k, v)
    b = Book(c, m, cash=c["initial_capital"], pos=[Pos() for _ in range(m)], contrib=[0.0] * m, cool_until=[-1] * m)
    peak = last_eq = day_start = c["initial_capital"]
    halt_until, day, day_halted, liquidated = -1, None, False, False
    last_bar = [max((t for t in range(n) if tradable[t, j]), default=-1) for j in range(m)]
    last_close = [math.nan] * m
    equity, cash, exposed = [], [], 0
    ppy = c["periods_per_year"]
    close_fill = c["fill"] == "close"
    stops_on = c["stop_loss"] > 0 or c["take_profit"] > 0 or c["trailing_stop"] > 0
    for t in range(n):
        if c["daily_loss_limit"] > 0:
            d = int(ts[t]) // DAY_NS
            if d != day:
                day, day_start, day_halted = d, last_eq, False
        for j in range(m):
            if b.pos[j].units != 0.0 and t > last_bar[j]:
                b.close(j, t, last_close[j], DELISTED)
        if close_fill and stops_on:
            for j in range(m):
                if tradable[t, j] and b.pos[j].units != 0.0:
                    _stops(b, j, t, o[t, j], h[t, j], lo[t, j])
        fills = (t < n - 1 if close_fill else t > 0) and not liquidated
        px = cl[t] if close_fill else o[t]
        ignore = False
        if fills and (c["max_drawdown_halt"] > 0 or c["daily_loss_limit"] > 0):
            e = b.value(px, tradable[t], last_close)
            if c["max_drawdown_halt"] > 0 and t >= halt_until and e < peak * (1 - c["max_drawdown_halt"]):
                b.events.append(dict(bar=t, symbol=-1, rule="max_drawdown_halt", value=1 - e / peak))
                b.flatten(t, px, tradable[t])
                halt_until = t + c["halt_bars"]
                e = peak = b.value(px, tradable[t], last_close)
            if c["daily_loss_limit"] > 0 and not day_halted and e < day_start * (1 - c["daily_loss_limit"]):
                b.events.append(dict(bar=t, symbol=-1, rule="daily_loss_limit", value=1 - e / day_start))
                b.flatten(t, px, tradable[t])
                day_halted = True
            ignore = t < halt_until or day_halted
        if fills and not ignore:
            _rebalance(b, t, weights[t if close_fill else t - 1], px, tradable[t], last_close)
        if not close_fill and stops_on:
            for j in range(m):
                if tradable[t, j] and b.pos[j].units != 0.0:
                    _stops(b, j, t, o[t, j], h[t, j], lo[t, j])
        if t == n - 1 and c["close_at_end"]:
            for j in range(m):
                b.close(j, t, cl[t, j], END)
        for j in range(m):
            if tradable[t, j]:
                last_close[j] = float(cl[t, j])
        for j in range(m):
            p = b.pos[j]
            if p.units < 0.0 and c["borrow_rate"] > 0:
                cost = -p.units * last_close[j] * c["borrow_rate"] / ppy
                b.cash -= cost
                b.contrib[j] -= cost
                b.borrow += cost
        eq = b.cash
        held = False
        for j in range(m):
            if b.pos[j].units != 0.0:
                eq += b.pos[j].units * last_close[j]
                held = True
        if held and not eq > 0.0 and not liquidated:
            b.events.append(dict(bar=t, symbol=-1, rule="margin", value=eq))
            for j in range(m):
                b.close(j, t, last_close[j], MARGIN)
            liquidated, held, eq = True, False, b.cash
        equity.append(eq)
        cash.append(b.cash)
        last_eq = eq
        peak = max(peak, eq)
        exposed += held
    contrib = [b.contrib[j] + b.pos[j].units * (last_close[j] if b.pos[j].units else 0.0) for j in range(m)]
    stats = metrics(equity, b.trades, c["initial_capital"], ppy, b.fees, exposed)
    stats["turnover"] = b.traded / (sum(equity) / n)
    return dict(
        equity=np.array(equity),
        cash=np.array(cash),
        trades=b.trades,
        events=b.events,
        contributions=np.array(contrib),
        stats=stats,
        borrow=b.borrow,
        units=[p.units for p in b.pos],
    )

/*
 * account.h -- cash, the open position, fills, sizing and trade records
 * (private to csrc/). Inline so the bar loop compiles into one tight body.
 *
 * The rules (DESIGN.md, "Fills, costs, risk exits"):
 *   - a buy fills at price * (1 + slippage), a sell at price * (1 - slippage);
 *   - each order pays fee_rate * notional + fee_per_unit * units + fixed_fee;
 *   - sizing: units = (|target| * equity - fixed_fee)
 *                     / (fill_price * (1 + fee_rate) + fee_per_unit),
 *     equity marked at the unslipped price, rounded toward zero with
 *     integer_units, so an all-in entry never leaves cash negative;
 *   - a position is reduced or closed before one of the other side is opened;
 *   - adding to a position averages its entry price; reducing it closes a
 *     trade record for the units that left, carrying their share of entry fees.
 */
#ifndef ANVIL_ACCOUNT_H
#define ANVIL_ACCOUNT_H

#include <math.h>
#include <stdint.h>

#include "anvil.h"
#include "inline.h"
#include "metrics.h"

typedef struct {
    double cash;
    double units;       /* signed: > 0 long, < 0 short */
    double avg_price;   /* average entry fill price of the open units */
    double entry_fees;  /* entry fees still carried by the open units */
    double best;        /* best price since entry: highest (long) / lowest (short) */
    int64_t entry_bar;
    int64_t closes;     /* positions closed in full so far */
    double total_fees;
    /* costs */
    double fee_rate;
    double fee_per_unit;
    double fixed_fee;
    double slip;        /* slippage as a fraction */
    int integer_units;
    int rate_only;      /* fee_per_unit and fixed_fee are zero (see account_fee) */
    /* outputs */
    anvil_trade *trades;
    int64_t trades_cap;
    int64_t n_trades;
    trade_acc *metrics;
} account;

ANVIL_INLINE void account_init(account *a, const anvil_config *cfg, trade_acc *m,
                               anvil_trade *trades, int64_t trades_cap)
{
    *a = (account){0};
    a->cash = cfg->initial_capital;
    a->fee_rate = cfg->fee_rate;
    a->fee_per_unit = cfg->fee_per_unit;
    a->fixed_fee = cfg->fixed_fee;
    a->slip = cfg->slippage_bps * 1e-4;
    a->integer_units = cfg->integer_units;
    a->rate_only = cfg->fee_per_unit == 0.0 && cfg->fixed_fee == 0.0;
    a->trades = trades;
    a->trades_cap = trades ? trades_cap : 0;
    a->metrics = m;
}

ANVIL_INLINE double account_equity(const account *a, double price)
{
    return a->cash + a->units * price;
}

/* With only a fee rate the two terms that add +0.0 are left out: the same bits
 * (units, price and fee_rate are never negative, so the product is never -0.0),
 * two additions fewer on the chain that runs from one order's cash to the next. */
ANVIL_INLINE double account_fee(const account *a, double units, double price)
{
    if (a->rate_only)
        return units * price * a->fee_rate;
    return units * price * a->fee_rate + units * a->fee_per_unit + a->fixed_fee;
}

/* Price of a fill on `side` (+1 buy, -1 sell) after slippage. */
ANVIL_INLINE double account_fill_price(const account *a, int side, double price)
{
    return side > 0 ? price * (1.0 + a->slip) : price * (1.0 - a->slip);
}

/* Units a target of |exposure| buys at fill_price out of `equity`. */
ANVIL_INLINE double account_size(const account *a, double exposure, double equity,
                                 double fill_price)
{
    double cost = fill_price * (1.0 + a->fee_rate) + a->fee_per_unit;
    /* x - 0.0 is x: without a fixed fee the subtraction is left out (as in account_fee) */
    double u = (a->rate_only ? exposure * equity : exposure * equity - a->fixed_fee) / cost;
    if (a->integer_units)
        u = trunc(u);
    return u > 0.0 ? u : 0.0;
}

/* Add `units` (> 0) in direction dir (+1 long, -1 short) at fill price px. */
ANVIL_INLINE void account_add(account *a, int64_t t, int dir, double units, double px)
{
    double fee = account_fee(a, units, px);
    double held = fabs(a->units);
    a->cash -= dir * units * px + fee;
    a->total_fees += fee;
    if (held == 0.0) {
        a->avg_price = px;
        a->entry_fees = fee;
        a->entry_bar = t;
        a->best = px;
    } else {
        a->avg_price = (held * a->avg_price + units * px) / (held + units);
        a->entry_fees += fee;
        if (dir > 0 ? px > a->best : px < a->best)
            a->best = px;
    }
    a->units += dir * units;
}

/* Take `units` (0 < units <= held) off the position at fill price px and
 * record the trade they close. */
ANVIL_INLINE void account_reduce(account *a, int64_t t, double units, double px, int reason)
{
    double held = fabs(a->units);
    int dir = a->units > 0.0 ? 1 : -1;
    double fee = account_fee(a, units, px);
    double share = units >= held ? 1.0 : units / held;
    double entry_fees = a->entry_fees * share;
    double pnl = dir * units * (px - a->avg_price) - entry_fees - fee;
    double ret = pnl / (units * a->avg_price);

    a->cash += dir * units * px - fee;
    a->total_fees += fee;
    a->entry_fees -= entry_fees;
    if (units >= held) {
        a->units = 0.0;
        a->entry_fees = 0.0;
        a->closes += 1;
    } else {
        a->units -= dir * units;
    }

    if (a->n_trades < a->trades_cap) {
        anvil_trade *tr = &a->trades[a->n_trades];
        tr->entry_bar = a->entry_bar;
        tr->exit_bar = t;
        tr->units = units;
        tr->entry_price = a->avg_price;
        tr->exit_price = px;
        tr->entry_fees = entry_fees;
        tr->exit_fees = fee;
        tr->pnl = pnl;
        tr->ret = ret;
        tr->direction = dir;
        tr->exit_reason = reason;
    }
    a->n_trades += 1;
    trade_acc_add(a->metrics, pnl, ret, t - a->entry_bar);
}

/* Close the whole position at raw price `price` (slippage applied here). */
ANVIL_INLINE void account_close(account *a, int64_t t, double price, int reason)
{
    if (a->units == 0.0)
        return;
    int side = a->units > 0.0 ? -1 : 1;
    account_reduce(a, t, fabs(a->units), account_fill_price(a, side, price), reason);
}

/* A requested exposure as the account may take it: capped at +-max_leverage,
 * and a short read as flat when shorts are not allowed. */
ANVIL_INLINE double account_cap_target(double v, double max_leverage, int allow_short)
{
    if (v > max_leverage)
        v = max_leverage;
    else if (v < -max_leverage)
        v = -max_leverage;
    if (v < 0.0 && !allow_short)
        v = 0.0;
    return v;
}

/* Trade from the current position to `target` exposure (already capped and
 * with shorts already mapped to flat when not allowed) at raw price `price`.
 * When may_grow is 0 (a cool-down) the position may shrink or close, never
 * open or grow. */
ANVIL_INLINE void account_to_target_gated(account *a, int64_t t, double target, double price,
                                          int may_grow)
{
    int want = (target > 0.0) - (target < 0.0);
    int have = (a->units > 0.0) - (a->units < 0.0);
    if (have != 0 && have != want)
        account_close(a, t, price, ANVIL_EXIT_SIGNAL);
    if (want == 0)
        return;

    double exposure = fabs(target);
    /* Grow toward the target at the price of growing ... */
    double px_in = account_fill_price(a, want, price);
    if (a->units == 0.0) {
        /* Flat (an entry, or the second half of a reversal): the general path below
         * with the steps that change no bits left out of the chain from the cash to
         * the order -- the equity is the cash (cash + 0 * price; a cash of -0.0 sizes
         * no units either way) and all the units sized are added (u - 0). */
        double u = account_size(a, exposure, a->cash, px_in);
        if (u > 0.0 && may_grow)
            account_add(a, t, want, u, px_in);
        return;
    }
    double equity = account_equity(a, price);
    double held = fabs(a->units);
    double u_in = account_size(a, exposure, equity, px_in);
    if (u_in > held) {
        if (may_grow)
            account_add(a, t, want, u_in - held, px_in);
        return;
    }
    /* ... or shrink toward it at the price of shrinking. */
    double px_out = account_fill_price(a, -want, price);
    double u_out = account_size(a, exposure, equity, px_out);
    if (u_out < held)
        account_reduce(a, t, held - u_out, px_out, ANVIL_EXIT_SIGNAL);
}

ANVIL_INLINE void account_to_target(account *a, int64_t t, double target, double price)
{
    account_to_target_gated(a, t, target, price, 1);
}

#endif /* ANVIL_ACCOUNT_H */

/*
 * rules.h -- the risk rules of one series (private to csrc/): max_weight, the
 * drawdown halt, the daily loss limit and the cool-down after a stop exit, with
 * the meaning the portfolio loop gives them (csrc/portfolio.c), shared by the
 * signal loop (backtest.c) and the stepping API (step.c).
 *
 *   - At every fill point -- the open of each bar t >= 1 under next_open, the
 *     close of each bar t < last under close -- and before that point's order,
 *     equity is valued at the raw fill price:
 *       drawdown: when no halt is running and equity < peak * (1 - halt), the
 *         event fires (value 1 - equity / peak), the position closes there (exit
 *         reason ANVIL_EXIT_RISK), orders are ignored at this fill point and
 *         the next halt_bars - 1 bars, and the peak restarts from the equity left;
 *       daily loss: when it has not fired today and equity < the day's starting
 *         equity * (1 - limit), the event fires (value 1 - equity / start), the
 *         position closes, and orders are ignored for the rest of the UTC day.
 *     An ignored order is dropped, not delayed: in the signal loop a signal that
 *     keeps its value afterwards does not re-enter (orders come from changes).
 *   - The peak is the highest equity at a close (from initial_capital); a day's
 *     starting equity is the equity at the last close before its first bar.
 *   - max_weight: a target whose |exposure| is above it trades to max_weight on
 *     the same side; the event's value is the exposure asked (a short asked
 *     where shorts are off is flat, and asks nothing).
 *   - cool-down: a stop-loss or trailing-stop exit at bar t blocks every
 *     increase (opening or adding) through bar t + cooldown_bars; reductions
 *     and closes still fill. The event's value is cooldown_bars.
 */
#ifndef ANVIL_RULES_H
#define ANVIL_RULES_H

#include <math.h>
#include <stdint.h>

#include "account.h"
#include "anvil.h"

#define RULES_DAY_NS 86400000000000LL

typedef struct {
    double max_weight, dd, dll;
    int64_t halt_bars, cool_bars;
    int gate; /* drawdown halt or daily loss limit on: every fill point checks */
    int any;  /* any rule on */
    double peak, last_eq, day_start;
    int64_t halt_until, day, cool_until;
    int day_halted;
    const int64_t *ts;
    anvil_pf_event *events;
    int64_t events_cap, n_events;
} rule_book;

static inline void rules_init(rule_book *r, const anvil_config *cfg, const int64_t *ts,
                              anvil_pf_event *events, int64_t events_cap)
{
    *r = (rule_book){0};
    r->max_weight = cfg->max_weight;
    r->dd = cfg->max_drawdown_halt;
    r->dll = cfg->daily_loss_limit;
    r->halt_bars = cfg->halt_bars;
    r->cool_bars = cfg->cooldown_bars;
    r->gate = r->dd > 0.0 || r->dll > 0.0;
    r->any = r->gate || r->max_weight > 0.0 || r->cool_bars > 0;
    r->peak = r->last_eq = r->day_start = cfg->initial_capital;
    r->halt_until = -1;
    r->cool_until = -1;
    r->day = INT64_MIN;
    r->ts = ts;
    r->events = events;
    r->events_cap = events ? events_cap : 0;
}

static inline void rules_event(rule_book *r, int64_t t, int32_t rule, double value)
{
    if (r->n_events < r->events_cap) {
        anvil_pf_event *e = &r->events[r->n_events];
        e->bar = t;
        e->symbol = 0;
        e->rule = rule;
        e->reserved = 0;
        e->value = value;
    }
    r->n_events += 1;
}

/* The start of bar t: a new UTC day restarts the daily loss limit. */
static inline void rules_new_bar(rule_book *r, int64_t t)
{
    if (r->dll > 0.0) {
        int64_t d = r->ts[t] / RULES_DAY_NS - (r->ts[t] % RULES_DAY_NS < 0); /* floor */
        if (d != r->day) {
            r->day = d;
            r->day_start = r->last_eq;
            r->day_halted = 0;
        }
    }
}

/* The drawdown halt and the daily loss limit at a fill point of bar t at raw
 * price `price`; returns whether that point's orders are ignored. */
static inline int rules_gate(rule_book *r, account *a, int64_t t, double price)
{
    double e = account_equity(a, price);
    if (r->dd > 0.0 && t >= r->halt_until && e < r->peak * (1.0 - r->dd)) {
        rules_event(r, t, ANVIL_RULE_DRAWDOWN, 1.0 - e / r->peak);
        account_close(a, t, price, ANVIL_EXIT_RISK);
        r->halt_until = t + r->halt_bars;
        e = r->peak = account_equity(a, price);
    }
    if (r->dll > 0.0 && !r->day_halted && e < r->day_start * (1.0 - r->dll)) {
        rules_event(r, t, ANVIL_RULE_DAILY_LOSS, 1.0 - e / r->day_start);
        account_close(a, t, price, ANVIL_EXIT_RISK);
        r->day_halted = 1;
    }
    return t < r->halt_until || r->day_halted;
}

/* Equity marked at a close. */
static inline void rules_mark(rule_book *r, double eq)
{
    r->last_eq = eq;
    if (eq > r->peak)
        r->peak = eq;
}

/* A target at a fill of bar t: `target` already capped at max_leverage (shorts
 * already flat when not allowed), `asked` the exposure asked (shorts likewise). */
static inline double rules_cap(rule_book *r, int64_t t, double target, double asked)
{
    const double cap = r->max_weight;
    if (cap > 0.0 && fabs(asked) > cap) {
        rules_event(r, t, ANVIL_RULE_MAX_WEIGHT, asked);
        if (fabs(target) > cap)
            target = copysign(cap, target);
    }
    return target;
}

/* A risk exit at bar t closed the position for `why` (ANVIL_EXIT_*). */
static inline void rules_exit(rule_book *r, int64_t t, int why)
{
    if (r->cool_bars > 0 && (why == ANVIL_EXIT_STOP_LOSS || why == ANVIL_EXIT_TRAILING_STOP)) {
        r->cool_until = t + r->cool_bars;
        rules_event(r, t, ANVIL_RULE_COOLDOWN, (double)r->cool_bars);
    }
}

/* Whether a fill at bar t may open or add to a position. */
static inline int rules_may_grow(const rule_book *r, int64_t t)
{
    return t > r->cool_until;
}

#endif /* ANVIL_RULES_H */

/*
 * step.c -- the stepping entry points: the same account, risk exits and
 * metrics as the signal loop, driven one bar at a time by a strategy that
 * places market, limit and stop orders (see anvil.h for the call sequence).
 *
 * Within bar t, after anvil_sim_open(t):
 *   1. market orders pending from bar t-1 fill at the open (fill=next_open),
 *      in the order they were placed;
 *   2. the config's risk exits run over the bar, as in the signal loop;
 *   3. limit and stop orders the open is already through fill at the open,
 *      in the order they were placed;
 *   4. the rest are checked against the bar's range, stop orders before limit
 *      orders (the adverse case first), and fill at their level.
 * A buy limit triggers when the low reaches its price, a sell limit when the
 * high does; a buy stop when the high reaches its price, a sell stop when the
 * low does. Every fill pays slippage and fees. A trade closed by a stop order
 * exits as "stop_loss", by a limit order as "take_profit", by a market order as
 * "signal". An exit order (side EXIT)
 * closes whatever position is open when it triggers; it lives until it fills,
 * is cancelled, or the position it was placed for (the next one, if placed
 * while flat) is closed.
 * At each close, a position whose equity is zero or below is liquidated at that
 * close (margin.h); from then on the simulation fills nothing: resting orders
 * are dropped and new ones are accepted but never fill.
 * The config's risk rules (rules.h) act as in the signal loop: the drawdown
 * halt and the daily loss limit at the market orders' fill point (the open
 * under next_open, the close under close), before them -- when they hold,
 * the market orders due there are dropped; max_weight caps every target an
 * order fills; a config stop exit starts the cool-down, during which (and
 * during a halt) no fill may open or grow a position (the order is used up).
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "account.h"
#include "anvil.h"
#include "check.h"
#include "margin.h"
#include "metrics.h"
#include "risk.h"
#include "rules.h"

#define SIM_MAGIC 0x616e76696c73696dULL /* "anvilsim" */

typedef struct {
    int64_t id;
    int32_t type;
    int32_t side;
    double price;
    double target;
    double asked;  /* the exposure asked, before the max_leverage cap */
    int64_t epoch; /* exit orders: account.closes when placed */
} sim_order;

enum { STAGE_OPEN = 0, STAGE_CLOSE = 1, STAGE_DONE = 2 };

struct anvil_sim {
    uint64_t magic;
    anvil_bars bars;
    anvil_config cfg;
    bar_acc bars_acc;
    trade_acc trades_acc;
    account acct;
    risk_rules risk;
    rule_book rules;
    double *equity;
    int64_t next_bar;
    int32_t stage;
    int64_t next_id;
    int64_t n_orders;
    sim_order orders[ANVIL_MAX_ORDERS];
    int32_t halted; /* liquidated for lack of margin: nothing fills any more */
};

int64_t anvil_sim_size(void)
{
    return (int64_t)sizeof(struct anvil_sim);
}

static int sim_ok(const anvil_sim *sim)
{
    return sim != NULL && sim->magic == SIM_MAGIC;
}

int anvil_sim_init(anvil_sim *sim, int64_t sim_size, const anvil_bars *bars,
                   const anvil_config *cfg, double *equity, anvil_trade *trades,
                   int64_t trades_cap)
{
    if (sim == NULL)
        return ANVIL_E_NULL;
    if (sim_size < (int64_t)sizeof(struct anvil_sim))
        return ANVIL_E_SIZE;
    sim->magic = 0; /* a failed init leaves no usable simulation behind */
    if (trades != NULL && trades_cap < 0)
        return ANVIL_E_SIZE;
    int rc = anvil_check_config(cfg);
    if (rc != ANVIL_OK)
        return rc;
    rc = check_bars_unless_checked(bars, NULL);
    if (rc != ANVIL_OK)
        return rc;
    if (cfg->daily_loss_limit > 0.0 && bars->ts == NULL)
        return ANVIL_E_NULL;
    memset(sim, 0, sizeof *sim);
    sim->bars = *bars;
    sim->cfg = *cfg;
    sim->bars_acc = bar_acc_new(cfg->initial_capital);
    account_init(&sim->acct, cfg, &sim->trades_acc, trades, trades_cap);
    sim->risk = risk_from_config(cfg);
    rules_init(&sim->rules, cfg, bars->ts, NULL, 0);
    sim->equity = equity;
    sim->next_id = 1;
    sim->magic = SIM_MAGIC;
    return ANVIL_OK;
}

static void drop_order(anvil_sim *sim, int64_t k)
{
    memmove(&sim->orders[k], &sim->orders[k + 1],
            (size_t)(sim->n_orders - k - 1) * sizeof(sim_order));
    sim->n_orders -= 1;
}

/* Exit orders whose position has closed since they were placed. */
static void drop_stale_exits(anvil_sim *sim)
{
    for (int64_t k = sim->n_orders - 1; k >= 0; k--) {
        const sim_order *o = &sim->orders[k];
        if (o->side == ANVIL_SIDE_EXIT && o->epoch != sim->acct.closes)
            drop_order(sim, k);
    }
}

/* The exit reason of a trade an order closes: a stop order stops it out, a
 * limit order takes its profit, a market order is the strategy's signal. */
static int exit_reason_of(int32_t type)
{
    return type == ANVIL_ORDER_STOP    ? ANVIL_EXIT_STOP_LOSS
           : type == ANVIL_ORDER_LIMIT ? ANVIL_EXIT_TAKE_PROFIT
                                       : ANVIL_EXIT_SIGNAL;
}

static void fill(anvil_sim *sim, const sim_order *o, int64_t t, double price)
{
    account *a = &sim->acct;
    int64_t first = a->n_trades;
    double target = o->side == ANVIL_SIDE_EXIT ? 0.0 : o->target;
    rule_book *r = &sim->rules;
    if (r->any) {
        double asked = o->side == ANVIL_SIDE_EXIT ? 0.0 : o->asked;
        int halted = t < r->halt_until || r->day_halted;
        account_to_target_gated(a, t, rules_cap(r, t, target, asked), price,
                                rules_may_grow(r, t) && !halted);
    } else {
        account_to_target(a, t, target, price);
    }
    /* the trades this fill closed carry the order's reason (account.h says "signal") */
    for (int64_t k = first; k < a->n_trades && k < a->trades_cap; k++)
        a->trades[k].exit_reason = exit_reason_of(o->type);
}

/* Fill the market orders in placement order at `price` -- or, when a risk
 * rule holds there (ignore), drop them. */
static void fill_market(anvil_sim *sim, int64_t t, double price, int ignore)
{
    for (int64_t k = 0; k < sim->n_orders;) {
        sim_order o = sim->orders[k];
        if (o.type != ANVIL_ORDER_MARKET) {
            k++;
            continue;
        }
        drop_order(sim, k);
        if (ignore || (o.side == ANVIL_SIDE_EXIT && o.epoch != sim->acct.closes))
            continue;
        fill(sim, &o, t, price);
    }
    drop_stale_exits(sim);
}

/* The side an order trades on now: exits sell a long and buy a short. */
static int order_side(const anvil_sim *sim, const sim_order *o)
{
    if (o->side != ANVIL_SIDE_EXIT)
        return o->side;
    return sim->acct.units > 0.0 ? ANVIL_SIDE_SELL : sim->acct.units < 0.0 ? ANVIL_SIDE_BUY : 0;
}

/* Does the open (gap = 1) or the bar's range (gap = 0) reach the order? */
static int triggered(int type, int side, double level, double o, double h, double l, int gap)
{
    int buys_low = (type == ANVIL_ORDER_LIMIT) == (side == ANVIL_SIDE_BUY);
    if (buys_low) /* buy limit, sell stop: wait for the price to fall to the level */
        return gap ? o <= level : l <= level;
    return gap ? o >= level : h >= level; /* sell limit, buy stop */
}

/* One pass over the resting orders of `type` (-1: every resting order). */
static void scan_orders(anvil_sim *sim, int64_t t, int type, int gap)
{
    double o = sim->bars.open[t], h = sim->bars.high[t], l = sim->bars.low[t];
    for (int64_t k = 0; k < sim->n_orders;) {
        sim_order ord = sim->orders[k];
        int side = order_side(sim, &ord);
        int eligible = ord.type != ANVIL_ORDER_MARKET && (type < 0 || ord.type == type);
        if (!eligible || side == 0 || !triggered(ord.type, side, ord.price, o, h, l, gap)) {
            k++;
            continue;
        }
        drop_order(sim, k);
        fill(sim, &ord, t, gap ? o : ord.price);
        drop_stale_exits(sim);
        k = 0; /* the book changed: start over (filled orders are gone) */
    }
}

int anvil_sim_open(anvil_sim *sim, int64_t t)
{
    if (!sim_ok(sim))
        return ANVIL_E_NULL;
    if (sim->stage != STAGE_OPEN || t != sim->next_bar || t >= sim->bars.n)
        return ANVIL_E_STATE;
    if (sim->halted) {
        sim->n_orders = 0;
        sim->stage = STAGE_CLOSE;
        return ANVIL_OK;
    }
    rule_book *r = &sim->rules;
    if (r->gate)
        rules_new_bar(r, t);
    if (sim->cfg.fill == ANVIL_FILL_NEXT_OPEN) {
        int ignore = r->gate && t > 0 ? rules_gate(r, &sim->acct, t, sim->bars.open[t]) : 0;
        fill_market(sim, t, sim->bars.open[t], ignore);
    }
    if (sim->risk.on && sim->acct.units != 0.0) {
        int why = risk_check(&sim->acct, &sim->risk, t, sim->bars.open[t], sim->bars.high[t],
                             sim->bars.low[t]);
        if (why >= 0)
            rules_exit(r, t, why);
        drop_stale_exits(sim);
    }
    scan_orders(sim, t, -1, 1);
    scan_orders(sim, t, ANVIL_ORDER_STOP, 0);
    scan_orders(sim, t, ANVIL_ORDER_LIMIT, 0);
    sim->stage = STAGE_CLOSE;
    return ANVIL_OK;
}

int anvil_sim_close(anvil_sim *sim, int64_t t)
{
    if (!sim_ok(sim))
        return ANVIL_E_NULL;
    if (sim->stage != STAGE_CLOSE || t != sim->next_bar)
        return ANVIL_E_STATE;
    double c = sim->bars.close[t];
    int last = t + 1 == sim->bars.n;
    if (sim->cfg.fill == ANVIL_FILL_CLOSE && !last && !sim->halted) {
        int ignore = sim->rules.gate ? rules_gate(&sim->rules, &sim->acct, t, c) : 0;
        fill_market(sim, t, c, ignore);
    }
    if (margin_call(&sim->acct, c)) {
        margin_liquidate(&sim->acct, t, c);
        sim->halted = 1;
        sim->n_orders = 0;
    }
    if (last && sim->cfg.close_at_end) {
        account_close(&sim->acct, t, c, ANVIL_EXIT_END);
        drop_stale_exits(sim);
    }
    double eq = account_equity(&sim->acct, c);
    bar_acc_add(&sim->bars_acc, eq, sim->acct.units != 0.0);
    if (sim->equity)
        sim->equity[t] = eq;
    if (sim->rules.gate)
        rules_mark(&sim->rules, eq);
    sim->next_bar = t + 1;
    sim->stage = last ? STAGE_DONE : STAGE_OPEN;
    return ANVIL_OK;
}

int anvil_sim_order(anvil_sim *sim, int32_t type, int32_t side, double price, double target,
                    int64_t *order_id)
{
    if (!sim_ok(sim))
        return ANVIL_E_NULL;
    if (sim->stage == STAGE_DONE)
        return ANVIL_E_STATE;
    if (type != ANVIL_ORDER_MARKET && type != ANVIL_ORDER_LIMIT && type != ANVIL_ORDER_STOP)
        return ANVIL_E_KIND;
    if (side != ANVIL_SIDE_BUY && side != ANVIL_SIDE_SELL && side != ANVIL_SIDE_EXIT)
        return ANVIL_E_KIND;
    if (type != ANVIL_ORDER_MARKET && !(price > 0.0 && price < INFINITY))
        return ANVIL_E_PRICE;
    if (side != ANVIL_SIDE_EXIT && !isfinite(target))
        return ANVIL_E_SIGNAL;
    if (sim->n_orders >= ANVIL_MAX_ORDERS)
        return ANVIL_E_CAPACITY;
    sim_order *o = &sim->orders[sim->n_orders++];
    o->id = sim->next_id++;
    o->type = type;
    o->side = side;
    o->price = type == ANVIL_ORDER_MARKET ? 0.0 : price;
    o->target = side == ANVIL_SIDE_EXIT
                    ? 0.0
                    : account_cap_target(target, sim->cfg.max_leverage, sim->cfg.allow_short);
    o->asked = side == ANVIL_SIDE_EXIT || (target < 0.0 && !sim->cfg.allow_short) ? 0.0 : target;
    o->epoch = sim->acct.closes;
    if (order_id)
        *order_id = o->id;
    return ANVIL_OK;
}

int anvil_sim_cancel(anvil_sim *sim, int64_t order_id)
{
    if (!sim_ok(sim))
        return ANVIL_E_NULL;
    for (int64_t k = 0; k < sim->n_orders; k++) {
        if (sim->orders[k].id == order_id) {
            drop_order(sim, k);
            return ANVIL_OK;
        }
    }
    return ANVIL_E_STATE;
}

int anvil_sim_cancel_all(anvil_sim *sim)
{
    if (!sim_ok(sim))
        return ANVIL_E_NULL;
    sim->n_orders = 0;
    return ANVIL_OK;
}

int anvil_sim_get_state(const anvil_sim *sim, anvil_sim_state *out)
{
    if (!sim_ok(sim) || out == NULL)
        return ANVIL_E_NULL;
    const account *a = &sim->acct;
    out->cash = a->cash;
    out->units = a->units;
    out->avg_price = a->units != 0.0 ? a->avg_price : 0.0;
    out->total_fees = a->total_fees;
    out->entry_bar = a->units != 0.0 ? a->entry_bar : -1;
    out->n_trades = a->n_trades;
    out->n_orders = sim->n_orders;
    out->next_bar = sim->next_bar;
    return ANVIL_OK;
}

int anvil_sim_finish(anvil_sim *sim, anvil_stats *stats, int64_t *n_trades)
{
    if (!sim_ok(sim) || stats == NULL)
        return ANVIL_E_NULL;
    if (sim->stage != STAGE_DONE)
        return ANVIL_E_STATE;
    metrics_finish(&sim->bars_acc, &sim->trades_acc, sim->acct.total_fees, sim->cfg.periods_per_year, stats);
    if (n_trades)
        *n_trades = sim->acct.n_trades;
    if (sim->acct.trades && sim->acct.n_trades > sim->acct.trades_cap)
        return ANVIL_E_CAPACITY;
    if (sim->rules.events && sim->rules.n_events > sim->rules.events_cap)
        return ANVIL_E_CAPACITY;
    return ANVIL_OK;
}

int anvil_sim_set_events(anvil_sim *sim, anvil_pf_event *events, int64_t events_cap)
{
    if (!sim_ok(sim))
        return ANVIL_E_NULL;
    if (events != NULL && events_cap < 0)
        return ANVIL_E_SIZE;
    if (sim->next_bar != 0 || sim->stage != STAGE_OPEN)
        return ANVIL_E_STATE;
    sim->rules.events = events;
    sim->rules.events_cap = events ? events_cap : 0;
    return ANVIL_OK;
}

int anvil_sim_n_events(const anvil_sim *sim, int64_t *n_events)
{
    if (!sim_ok(sim) || n_events == NULL)
        return ANVIL_E_NULL;
    *n_events = sim->rules.n_events;
    return ANVIL_OK;
}

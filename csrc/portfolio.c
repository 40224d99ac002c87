/*
 * portfolio.c -- many symbols, one cash account: the bar loop of a portfolio.
 *
 * Within bar t, in this order (DESIGN.md, "Portfolios"):
 *   1. a symbol whose data has ended (t after its last bar) is closed at its
 *      last close, exit reason ANVIL_EXIT_DELISTED;
 *   2. fill=close: per-position stops for the positions carried into the bar;
 *   3. the pending rebalance -- row t-1 at open[t] (next_open) or row t at
 *      close[t] (close); the last bar's row never fills:
 *        equity is valued at the raw fill prices (last close for symbols not
 *        trading); weights of symbols trading at t become targets (shorts
 *        flat unless allowed, |w| capped at max_weight, the row's gross scaled
 *        down to max_leverage, changes under rebalance_threshold skipped);
 *        targets become units with the one-series sizing rule; every
 *        reduction executes first, then every increase, all increases shrunk
 *        by one common factor when they need more cash than there is (cash
 *        may go down to -(max_leverage - 1) x equity);
 *   4. fill=next_open: per-position stops (a position entered at this open
 *      is already exposed to them);
 *   5. on the last bar with close_at_end: every position closes at the close;
 *   6. the close marks every position (symbols not trading at their last
 *      close) and a short pays borrow_rate / periods_per_year of its value;
 *   7. when that equity is zero or below, every position is liquidated at the
 *      price it was marked at (exit reason ANVIL_EXIT_MARGIN, one
 *      ANVIL_RULE_MARGIN event) and the portfolio trades no more: later rows,
 *      stops and risk rules are ignored and every later bar marks the cash left
 *      (as margin.h does for one series).
 * A symbol with no bar at the fill keeps its position. Slippage and fees apply
 * to every fill, per symbol.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "anvil.h"
#include "metrics.h"
#include "portfolio.h"

#define PF_CASH_SLACK 1e-12 /* increases shrink only past this relative excess */

static void pf_event(pf_book *b, int64_t t, int64_t j, int32_t rule, double value)
{
    if (b->out && b->out->events && b->n_events < b->out->events_cap) {
        anvil_pf_event *e = &b->out->events[b->n_events];
        e->bar = t;
        e->symbol = j;
        e->rule = rule;
        e->reserved = 0;
        e->value = value;
    }
    b->n_events += 1;
}

/* Symbol j became held / flat: the list of held symbols stays in column order,
 * so sums over it add in the same order as over every column. */
static inline void pf_hold(pf_book *b, int64_t j)
{
    int64_t *h = b->s.held, i = b->n_held++;
    for (; i > 0 && h[i - 1] > j; i--)
        h[i] = h[i - 1];
    h[i] = j;
}

static inline void pf_unhold(pf_book *b, int64_t j)
{
    int64_t *h = b->s.held, lo = 0, hi = b->n_held - 1;
    while (lo < hi) { /* the position of j: the first entry >= j */
        int64_t mid = lo + (hi - lo) / 2;
        if (h[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    b->n_held--;
    memmove(h + lo, h + lo + 1, (size_t)(b->n_held - lo) * sizeof *h);
}

static inline double pf_fee(const pf_book *b, int64_t j, double units, double px)
{
    return units * px * b->s.fee_rate[j] + units * b->s.fee_unit[j] + b->s.fixed[j];
}

static inline double pf_slip(const pf_book *b, int64_t j, int side, double price)
{
    return side > 0 ? price * (1.0 + b->s.slip[j]) : price * (1.0 - b->s.slip[j]);
}

static inline double pf_size(const pf_book *b, int64_t j, double exposure, double equity, double px)
{
    double u = (exposure * equity - b->s.fixed[j]) / (px * (1.0 + b->s.fee_rate[j]) + b->s.fee_unit[j]);
    if (b->cfg->base.integer_units)
        u = trunc(u);
    return u > 0.0 ? u : 0.0;
}

static void pf_add(pf_book *b, int64_t j, int64_t t, int dir, double units, double px)
{
    pf_state *s = &b->s;
    double fee = pf_fee(b, j, units, px);
    double held = fabs(s->units[j]);
    b->cash -= dir * units * px + fee;
    s->contrib[j] -= dir * units * px + fee;
    b->fees += fee;
    b->traded += units * px;
    if (held == 0.0) {
        pf_hold(b, j);
        s->avg[j] = px;
        s->entry_fees[j] = fee;
        s->entry_bar[j] = t;
        s->best[j] = px;
    } else {
        s->avg[j] = (held * s->avg[j] + units * px) / (held + units);
        s->entry_fees[j] += fee;
        if (dir > 0 ? px > s->best[j] : px < s->best[j])
            s->best[j] = px;
    }
    s->units[j] += dir * units;
}

static void pf_reduce(pf_book *b, int64_t j, int64_t t, double units, double px, int reason)
{
    pf_state *s = &b->s;
    double held = fabs(s->units[j]);
    int dir = s->units[j] > 0.0 ? 1 : -1;
    double fee = pf_fee(b, j, units, px);
    double share = units >= held ? 1.0 : units / held;
    double ef = s->entry_fees[j] * share;
    double pnl = dir * units * (px - s->avg[j]) - ef - fee;
    double ret = pnl / (units * s->avg[j]);
    b->cash += dir * units * px - fee;
    s->contrib[j] += dir * units * px - fee;
    b->fees += fee;
    b->traded += units * px;
    s->entry_fees[j] -= ef;
    if (b->out && b->out->trades && b->n_trades < b->out->trades_cap) {
        anvil_pf_trade *tr = &b->out->trades[b->n_trades];
        tr->entry_bar = s->entry_bar[j];
        tr->exit_bar = t;
        tr->units = units;
        tr->entry_price = s->avg[j];
        tr->exit_price = px;
        tr->entry_fees = ef;
        tr->exit_fees = fee;
        tr->pnl = pnl;
        tr->ret = ret;
        tr->direction = dir;
        tr->exit_reason = reason;
        tr->symbol = j;
    }
    b->n_trades += 1;
    trade_acc_add(&b->closed, pnl, ret, t - s->entry_bar[j]);
    if (units >= held) {
        s->units[j] = 0.0;
        s->entry_fees[j] = 0.0;
        pf_unhold(b, j);
    } else { /* held - units > 0 exactly: the position stays open */
        s->units[j] -= dir * units;
    }
}

static void pf_close(pf_book *b, int64_t j, int64_t t, double price, int reason)
{
    double u = b->s.units[j];
    if (u == 0.0)
        return;
    pf_reduce(b, j, t, fabs(u), pf_slip(b, j, u > 0.0 ? -1 : 1, price), reason);
}

/* A stop-loss or trailing-stop exit, which starts the symbol's cool-down. */
static void pf_stop_exit(pf_book *b, int64_t j, int64_t t, double price, int why)
{
    pf_close(b, j, t, price, why);
    int64_t cool = b->cfg->cooldown_bars;
    if (cool > 0) {
        b->s.cool_until[j] = t + cool;
        pf_event(b, t, j, ANVIL_RULE_COOLDOWN, (double)cool);
    }
}

/* Stop-loss, take-profit and trailing stop of symbol j within bar t (the rules
 * of csrc/risk.h, per position). */
static void pf_stops(pf_book *b, int64_t j, int64_t t, double o, double h, double l)
{
    const anvil_config *c = &b->cfg->base;
    pf_state *s = &b->s;
    double u = s->units[j], avg = s->avg[j];
    if (u > 0.0) {
        if (o > s->best[j])
            s->best[j] = o;
        double stop = -INFINITY;
        int why = ANVIL_EXIT_STOP_LOSS;
        if (c->stop_loss > 0.0)
            stop = avg * (1.0 - c->stop_loss);
        if (c->trailing_stop > 0.0 && s->best[j] * (1.0 - c->trailing_stop) > stop) {
            stop = s->best[j] * (1.0 - c->trailing_stop);
            why = ANVIL_EXIT_TRAILING_STOP;
        }
        double take = c->take_profit > 0.0 ? avg * (1.0 + c->take_profit) : INFINITY;
        if (o <= stop)
            pf_stop_exit(b, j, t, o, why);
        else if (o >= take)
            pf_close(b, j, t, o, ANVIL_EXIT_TAKE_PROFIT);
        else if (l <= stop)
            pf_stop_exit(b, j, t, stop, why);
        else if (h >= take)
            pf_close(b, j, t, take, ANVIL_EXIT_TAKE_PROFIT);
        else if (h > s->best[j])
            s->best[j] = h;
    } else if (u < 0.0) {
        if (o < s->best[j])
            s->best[j] = o;
        double stop = INFINITY;
        int why = ANVIL_EXIT_STOP_LOSS;
        if (c->stop_loss > 0.0)
            stop = avg * (1.0 + c->stop_loss);
        if (c->trailing_stop > 0.0 && s->best[j] * (1.0 + c->trailing_stop) < stop) {
            stop = s->best[j] * (1.0 + c->trailing_stop);
            why = ANVIL_EXIT_TRAILING_STOP;
        }
        double take = c->take_profit > 0.0 ? avg * (1.0 - c->take_profit) : -INFINITY;
        if (o >= stop)
            pf_stop_exit(b, j, t, o, why);
        else if (o <= take)
            pf_close(b, j, t, o, ANVIL_EXIT_TAKE_PROFIT);
        else if (h >= stop)
            pf_stop_exit(b, j, t, stop, why);
        else if (l <= take)
            pf_close(b, j, t, take, ANVIL_EXIT_TAKE_PROFIT);
        else if (l < s->best[j])
            s->best[j] = l;
    }
}

/* Check one row of weights; returns the first column with an infinite weight,
 * or -1. *any is set when some weight is not NaN where the symbol trades.
 * Branch-free counting first (most rows of a monthly rebalance are all NaN). */
int64_t pf_scan_row(const double *row, const uint8_t *trad, int64_t m, int *any)
{
    int64_t given = 0; /* weights that are not NaN: a count the compiler vectorises */
    for (int64_t j = 0; j < m; j++)
        given += row[j] == row[j];
    *any = 0;
    if (given == 0)
        return -1;
    for (int64_t j = 0; j < m; j++) {
        double w = row[j];
        if (isinf(w))
            return j;
        if (!isnan(w) && trad[j])
            *any = 1;
    }
    return -1;
}

/* The rebalance of bar t to the weights in row at raw prices px (row t of open
 * or close). Returns -1, or the column of an infinite weight. */
static int64_t pf_rebalance(pf_book *b, int64_t t, const double *row, const double *px,
                            const uint8_t *trad, int ignore)
{
    const anvil_pf_config *cfg = b->cfg;
    const anvil_config *c = &cfg->base;
    pf_state *s = &b->s;
    const int64_t m = b->m;
    int any = 0;
    int64_t bad = pf_scan_row(row, trad, m, &any);
    if (bad >= 0 || !any || ignore)
        return bad;

    double equity = b->cash;
    for (int64_t i = 0; i < b->n_held; i++) {
        int64_t j = s->held[i];
        equity += s->units[j] * (trad[j] ? px[j] : s->last_close[j]);
    }
    if (!(equity > 0.0))
        return -1; /* a portfolio worth nothing trades no more */

    /* Targets: kept in inc_units for now (NaN = no instruction). */
    double gross = 0.0;
    for (int64_t j = 0; j < m; j++) {
        double w = row[j];
        if (isnan(w) || !trad[j]) {
            s->inc_units[j] = NAN;
            continue;
        }
        if (w < 0.0 && !c->allow_short)
            w = 0.0;
        if (cfg->max_weight > 0.0 && fabs(w) > cfg->max_weight) {
            pf_event(b, t, j, ANVIL_RULE_MAX_WEIGHT, w);
            w = copysign(cfg->max_weight, w);
        }
        s->inc_units[j] = w;
        gross += fabs(w);
    }
    double k = gross > c->max_leverage ? c->max_leverage / gross : 1.0;

    int64_t n_red = 0, n_inc = 0;
    for (int64_t j = 0; j < m; j++) {
        double w = s->inc_units[j];
        if (isnan(w))
            continue;
        if (k != 1.0)
            w *= k;
        double u = s->units[j];
        if (cfg->rebalance_threshold > 0.0
            && fabs(w - u * px[j] / equity) < cfg->rebalance_threshold)
            continue;
        int want = (w > 0.0) - (w < 0.0);
        int have = (u > 0.0) - (u < 0.0);
        double held = fabs(u);
        if (have != 0 && have != want) {
            s->red_sym[n_red] = j;
            s->red_units[n_red] = held;
            s->red_px[n_red++] = pf_slip(b, j, -have, px[j]);
            held = 0.0;
        }
        if (want == 0)
            continue;
        double px_in = pf_slip(b, j, want, px[j]);
        double u_in = pf_size(b, j, fabs(w), equity, px_in);
        if (u_in > held) {
            if (t <= s->cool_until[j])
                continue; /* cooling down after a stop: no new exposure */
            s->inc_sym[n_inc] = j;
            s->inc_dir[n_inc] = want;
            s->inc_units[n_inc] = u_in - held; /* n_inc <= j: targets not yet read stay intact */
            s->inc_px[n_inc++] = px_in;
            continue;
        }
        double px_out = pf_slip(b, j, -want, px[j]);
        double u_out = pf_size(b, j, fabs(w), equity, px_out);
        if (u_out < held) {
            s->red_sym[n_red] = j;
            s->red_units[n_red] = held - u_out;
            s->red_px[n_red++] = px_out;
        }
    }
    for (int64_t i = 0; i < n_red; i++)
        pf_reduce(b, s->red_sym[i], t, s->red_units[i], s->red_px[i], ANVIL_EXIT_SIGNAL);
    if (n_inc == 0)
        return -1;

    double need = 0.0, fixed = 0.0;
    for (int64_t i = 0; i < n_inc; i++) {
        int64_t j = s->inc_sym[i];
        double u = s->inc_units[i], p = s->inc_px[i];
        need += u * (p * s->fee_rate[j] + s->fee_unit[j]) + (s->inc_dir[i] > 0 ? u * p : 0.0);
        fixed += s->fixed[j];
    }
    double room = b->cash + (c->max_leverage - 1.0) * equity - fixed;
    double scale = 1.0;
    if (need > room * (1.0 + PF_CASH_SLACK)) {
        scale = (room > 0.0 ? room : 0.0) / need;
        pf_event(b, t, -1, ANVIL_RULE_CASH, scale);
    }
    for (int64_t i = 0; i < n_inc; i++) {
        double u = s->inc_units[i];
        if (scale < 1.0) {
            u *= scale;
            if (c->integer_units)
                u = trunc(u);
        }
        if (u > 0.0)
            pf_add(b, s->inc_sym[i], t, (int)s->inc_dir[i], u, s->inc_px[i]);
    }
    return -1;
}

#define PF_DAY_NS 86400000000000LL

/* Equity at raw prices px (the last close for symbols not trading). */
static double pf_value(const pf_book *b, const double *px, const uint8_t *trad)
{
    double equity = b->cash;
    for (int64_t i = 0; i < b->n_held; i++) {
        int64_t j = b->s.held[i];
        equity += b->s.units[j] * (trad[j] ? px[j] : b->s.last_close[j]);
    }
    return equity;
}

/* Close every position that trades at t, at raw prices px (a risk rule fired). */
static void pf_flatten(pf_book *b, int64_t t, const double *px, const uint8_t *trad)
{
    for (int64_t j = 0; j < b->m; j++)
        if (trad[j] && b->s.units[j] != 0.0)
            pf_close(b, j, t, px[j], ANVIL_EXIT_RISK);
}

static int cmp_pairs(const void *x, const void *y)
{
    const int64_t *a = (const int64_t *)x, *b = (const int64_t *)y;
    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}

static void pf_layout(pf_state *s, void *work, int64_t m)
{
    double *d = (double *)work;
    double **dp[PF_DOUBLES] = {&s->units, &s->avg, &s->entry_fees, &s->best, &s->last_close,
                               &s->contrib, &s->fee_rate, &s->slip, &s->fee_unit, &s->fixed,
                               &s->red_units, &s->red_px, &s->inc_units, &s->inc_px};
    for (int k = 0; k < PF_DOUBLES; k++)
        *dp[k] = d + k * m;
    int64_t *i = (int64_t *)(d + PF_DOUBLES * m);
    s->entry_bar = i;
    s->red_sym = i + m;
    s->inc_sym = i + 2 * m;
    s->inc_dir = i + 3 * m;
    s->cool_until = i + 4 * m;
    s->delist = i + 5 * m; /* 2 * m */
    s->held = i + 7 * m;
}

void pf_setup(pf_sim *r, const anvil_panel *p, const anvil_pf_config *cfg,
              const anvil_pf_costs *costs, void *work, const anvil_pf_outputs *out)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->p = *p;
    const int64_t n = p->n_bars, m = p->n_symbols, ts = p->tradable_stride;
    const anvil_config *c = &r->cfg.base;
    pf_book *b = &r->b;
    b->p = &r->p;
    b->cfg = &r->cfg;
    b->m = m;
    b->cash = c->initial_capital;
    if (out) {
        r->out = *out;
        b->out = &r->out;
    }
    pf_layout(&b->s, work, m);
    pf_state *s = &b->s;
    static const anvil_pf_costs none = {NULL, NULL, NULL, NULL};
    const anvil_pf_costs *k = costs ? costs : &none;
    for (int64_t j = 0; j < m; j++) {
        s->units[j] = s->avg[j] = s->entry_fees[j] = s->best[j] = s->contrib[j] = 0.0;
        s->last_close[j] = 0.0; /* read only once the symbol has traded */
        s->entry_bar[j] = -1;
        s->cool_until[j] = -1;
        s->fee_rate[j] = k->fee_rate ? k->fee_rate[j] : c->fee_rate;
        s->slip[j] = (k->slippage_bps ? k->slippage_bps[j] : c->slippage_bps) * 1e-4;
        s->fee_unit[j] = k->fee_per_unit ? k->fee_per_unit[j] : c->fee_per_unit;
        s->fixed[j] = k->fixed_fee ? k->fixed_fee[j] : c->fixed_fee;
        int64_t last = -1;
        for (int64_t t = n - 1; t >= 0; t--)
            if (p->tradable[t * ts + j]) {
                last = t;
                break;
            }
        s->delist[2 * j] = last;
        s->delist[2 * j + 1] = j;
    }
    qsort(s->delist, (size_t)m, 2 * sizeof(int64_t), cmp_pairs);
    r->acc = bar_acc_new(c->initial_capital);
    r->close_fill = c->fill == ANVIL_FILL_CLOSE;
    r->stops_on = c->stop_loss > 0.0 || c->take_profit > 0.0 || c->trailing_stop > 0.0;
    r->peak = r->last_eq = r->day_start = c->initial_capital;
    r->halt_until = -1;
    r->day = INT64_MIN;
}

/* The risk rules at a fill of bar t; returns whether the weights are ignored. */
static int pf_risk_at_fill(pf_sim *r, int64_t t, const double *px, const uint8_t *trad)
{
    const anvil_pf_config *cfg = &r->cfg;
    if (!(cfg->max_drawdown_halt > 0.0 || cfg->daily_loss_limit > 0.0))
        return 0;
    pf_book *b = &r->b;
    double e = pf_value(b, px, trad);
    if (cfg->max_drawdown_halt > 0.0 && t >= r->halt_until && e < r->peak * (1.0 - cfg->max_drawdown_halt)) {
        pf_event(b, t, -1, ANVIL_RULE_DRAWDOWN, 1.0 - e / r->peak);
        pf_flatten(b, t, px, trad);
        r->halt_until = t + cfg->halt_bars;
        e = r->peak = pf_value(b, px, trad);
    }
    if (cfg->daily_loss_limit > 0.0 && !r->day_halted && e < r->day_start * (1.0 - cfg->daily_loss_limit)) {
        pf_event(b, t, -1, ANVIL_RULE_DAILY_LOSS, 1.0 - e / r->day_start);
        pf_flatten(b, t, px, trad);
        r->day_halted = 1;
    }
    return t < r->halt_until || r->day_halted;
}

static void pf_run_stops(pf_sim *r, int64_t t)
{
    const anvil_panel *p = &r->p;
    const uint8_t *trad = p->tradable + t * p->tradable_stride;
    const int64_t ps = p->stride;
    const double *o = p->open + t * ps, *h = p->high + t * ps, *l = p->low + t * ps;
    for (int64_t j = 0; j < r->b.m; j++)
        if (trad[j] && r->b.s.units[j] != 0.0)
            pf_stops(&r->b, j, t, o[j], h[j], l[j]);
}

/* Bar t from its open to just before the close: the new day, delistings, then
 * (close) stops, or (next_open) the pending rebalance and stops. Returns -1 or
 * the column of an infinite weight in the pending row. */
int64_t pf_open_bar(pf_sim *r, int64_t t)
{
    const anvil_panel *p = &r->p;
    pf_book *b = &r->b;
    pf_state *s = &b->s;
    const int64_t m = b->m;
    if (r->cfg.daily_loss_limit > 0.0) {
        int64_t d = p->ts[t] / PF_DAY_NS - (p->ts[t] % PF_DAY_NS < 0); /* floor */
        if (d != r->day) {
            r->day = d;
            r->day_start = r->last_eq;
            r->day_halted = 0;
        }
    }
    while (r->next_delist < m && s->delist[2 * r->next_delist] < t) {
        int64_t j = s->delist[2 * r->next_delist + 1];
        if (s->units[j] != 0.0)
            pf_close(b, j, t, s->last_close[j], ANVIL_EXIT_DELISTED);
        r->next_delist++;
    }
    if (r->liquidated) { /* the pending row is checked as at any fill, never filled */
        int any = 0;
        int64_t bad = r->pending && t > 0
                          ? pf_scan_row(r->pending, p->tradable + t * p->tradable_stride, m, &any)
                          : -1;
        r->pending = NULL;
        return bad;
    }
    if (r->close_fill) {
        if (r->stops_on)
            pf_run_stops(r, t);
        return -1;
    }
    int64_t bad = -1;
    if (t > 0) {
        const uint8_t *trad = p->tradable + t * p->tradable_stride;
        const double *o = p->open + t * p->stride;
        int ignore = pf_risk_at_fill(r, t, o, trad);
        if (r->pending)
            bad = pf_rebalance(b, t, r->pending, o, trad, ignore);
    }
    r->pending = NULL;
    if (bad < 0 && r->stops_on)
        pf_run_stops(r, t);
    return bad;
}

/* The rest of bar t with the row decided at its close (NULL: no instruction):
 * (close) the rebalance, close_at_end on the last bar, marking; (next_open) the
 * row waits for the next open. Returns -1 or the column of an infinite weight. */
int64_t pf_close_bar(pf_sim *r, int64_t t, const double *row)
{
    const anvil_panel *p = &r->p;
    const anvil_pf_config *cfg = &r->cfg;
    const anvil_config *c = &cfg->base;
    pf_book *b = &r->b;
    pf_state *s = &b->s;
    const int64_t n = p->n_bars, m = b->m;
    const uint8_t *trad = p->tradable + t * p->tradable_stride;
    const double *cl = p->close + t * p->stride;
    if (r->liquidated) { /* the row is checked as at any fill, never filled */
        int any = 0;
        int64_t bad = r->close_fill && t < n - 1 && row ? pf_scan_row(row, trad, m, &any) : -1;
        if (bad >= 0)
            return bad;
    } else if (r->close_fill && t < n - 1 && row) {
        int ignore = pf_risk_at_fill(r, t, cl, trad);
        int64_t bad = pf_rebalance(b, t, row, cl, trad, ignore);
        if (bad >= 0)
            return bad;
    } else if (r->close_fill && t < n - 1) {
        pf_risk_at_fill(r, t, cl, trad);
    }
    if (t == n - 1 && c->close_at_end)
        for (int64_t j = 0; j < m; j++)
            pf_close(b, j, t, cl[j], ANVIL_EXIT_END);

    /* Mark at the close: only the symbols held (a flat one's last close is never
     * read: it is set again at the close of the bar that opens a position, which
     * trades there). */
    const int64_t *hs = s->held;
    const int64_t nh = b->n_held;
    double *lcs = s->last_close;
    const double *us = s->units;
    if (cfg->borrow_rate > 0.0) {
        for (int64_t i = 0; i < nh; i++) {
            int64_t j = hs[i];
            if (trad[j])
                lcs[j] = cl[j];
            double u = us[j];
            if (u < 0.0) {
                double cost = -u * lcs[j] * cfg->borrow_rate / c->periods_per_year;
                b->cash -= cost;
                s->contrib[j] -= cost;
                b->borrow += cost;
            }
        }
    }
    double eq = b->cash;
    for (int64_t i = 0; i < nh; i++) {
        int64_t j = hs[i];
        double lc = trad[j] ? cl[j] : lcs[j];
        lcs[j] = lc;
        eq += us[j] * lc;
    }
    int64_t held = nh;
    if (held && !(eq > 0.0) && !r->liquidated) {
        pf_event(b, t, -1, ANVIL_RULE_MARGIN, eq);
        for (int64_t j = 0; j < m; j++)
            if (us[j] != 0.0)
                pf_close(b, j, t, lcs[j], ANVIL_EXIT_MARGIN);
        r->liquidated = 1;
        eq = b->cash;
        held = 0;
    }
    bar_acc_add(&r->acc, eq, held != 0);
    r->last_eq = eq;
    if (eq > r->peak)
        r->peak = eq;
    r->sum_equity += eq;
    const anvil_pf_outputs *out = b->out;
    if (out) {
        if (out->equity)
            out->equity[t] = eq;
        if (out->cash)
            out->cash[t] = b->cash;
        if (out->weights)
            for (int64_t j = 0; j < m; j++)
                out->weights[t * m + j] = s->units[j] != 0.0 ? s->units[j] * s->last_close[j] / eq : 0.0;
    }
    if (!r->close_fill)
        r->pending = row;
    return -1;
}

int pf_finish(pf_sim *r, anvil_stats *stats, anvil_pf_extra *extra)
{
    pf_book *b = &r->b;
    pf_state *s = &b->s;
    const int64_t n = r->p.n_bars, m = b->m;
    metrics_finish(&r->acc, &b->closed, b->fees, r->cfg.base.periods_per_year, stats);
    if (extra) {
        extra->traded = b->traded;
        extra->turnover = n > 0 ? b->traded / (r->sum_equity / (double)n) : NAN;
        extra->borrow_cost = b->borrow;
        extra->n_trades = b->n_trades;
        extra->n_events = b->n_events;
    }
    const anvil_pf_outputs *out = b->out;
    if (out) {
        if (out->contributions)
            for (int64_t j = 0; j < m; j++)
                out->contributions[j] = s->contrib[j] + (s->units[j] != 0.0 ? s->units[j] * s->last_close[j] : 0.0);
        if ((out->trades && b->n_trades > out->trades_cap) || (out->events && b->n_events > out->events_cap))
            return ANVIL_E_CAPACITY;
    }
    return ANVIL_OK;
}

int pf_run(const anvil_panel *p, const double *weights, const anvil_pf_config *cfg,
           const anvil_pf_costs *costs, void *work, anvil_stats *stats, anvil_pf_extra *extra, const anvil_pf_outputs *out,
                  int64_t *bad_index)
{
    pf_sim r;
    pf_setup(&r, p, cfg, costs, work, out);
    const int64_t n = p->n_bars, m = p->n_symbols;
    for (int64_t t = 0; t < n; t++) {
        int64_t bad = pf_open_bar(&r, t);
        if (bad >= 0) {
            if (bad_index)
                *bad_index = (t - 1) * m + bad;
            return ANVIL_E_SIGNAL;
        }
        bad = pf_close_bar(&r, t, weights + t * m);
        if (bad >= 0) {
            if (bad_index)
                *bad_index = t * m + bad;
            return ANVIL_E_SIGNAL;
        }
    }
    /* The last row is never acted on, but must hold allowed values too. */
    int any;
    int64_t bad = pf_scan_row(weights + (n - 1) * m, p->tradable + (n - 1) * p->tradable_stride, m, &any);
    if (bad >= 0) {
        if (bad_index)
            *bad_index = (n - 1) * m + bad;
        return ANVIL_E_SIGNAL;
    }
    return pf_finish(&r, stats, extra);
}

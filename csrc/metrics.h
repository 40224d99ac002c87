/*
 * metrics.h -- streaming statistics of one backtest (private to csrc/).
 *
 * Everything in anvil_stats is computed from running sums fed once per bar
 * (bar_acc) and once per closed trade (trade_acc), so a batch never needs an
 * equity curve in memory. The two are separate so that the bar loop can keep
 * its sums in registers: bar_acc lives in the loop's own frame and never
 * escapes it, while trades reach trade_acc through the account.
 *
 * Definitions (the plain-Python reference in tests/ computes the same):
 *   r_t          equity_t / equity_{t-1} - 1, with equity_{-1} = initial
 *                capital; 0 once the previous equity is not positive.
 *   sharpe       mean(r) / std(r, ddof=1) * sqrt(periods_per_year)
 *   sortino      mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periods_per_year)
 *   volatility   std(r, ddof=1) * sqrt(periods_per_year)
 *   max_drawdown max over t of 1 - equity_t / peak_t, peak including the
 *                initial capital; max_drawdown_duration is the longest run of
 *                consecutive bars below the running peak.
 *   exposure     fraction of bars whose close finds a position open.
 * A ratio whose denominator is zero is NaN (no trades, no variance, ...).
 */
#ifndef ANVIL_METRICS_H
#define ANVIL_METRICS_H

#include <stdint.h>

#include "anvil.h"

/* Sums over the bars' closing equity. */
typedef struct {
    double initial;
    double prev;      /* the last equity fed */
    double peak;      /* running peak, the initial capital included */
    double trough;    /* lowest equity since that peak */
    double sum_r;
    double sum_r2;
    double sum_down2;
    double max_dd;
    int64_t n;
    int64_t underwater;  /* bars below the peak so far in this run */
    int64_t max_underwater;
    int64_t in_market;
} bar_acc;

/* Sums over closed trades. */
typedef struct {
    int64_t n;
    int64_t wins;
    int64_t losses;
    int64_t bars_held;
    double sum_pnl;
    double gross_win;
    double gross_loss;
    double sum_ret;
    double sum_win_ret;
    double sum_loss_ret;
    double best;
    double worst;
} trade_acc;

static inline bar_acc bar_acc_new(double initial_capital)
{
    bar_acc b = {0};
    b.initial = initial_capital;
    b.prev = initial_capital;
    b.peak = initial_capital;
    b.trough = initial_capital;
    return b;
}

/* Feed the equity at one bar's close. */
static inline void bar_acc_add(bar_acc *b, double equity, int in_market)
{
    double r = b->prev > 0.0 ? equity / b->prev - 1.0 : 0.0;
    double down = r < 0.0 ? r : 0.0; /* branch-free: the sign of r is a coin flip */
    b->sum_r += r;
    b->sum_r2 += r * r;
    b->sum_down2 += down * down;
    b->prev = equity;
    b->n += 1;
    b->in_market += in_market;
    if (equity >= b->peak) {
        if (b->underwater > b->max_underwater)
            b->max_underwater = b->underwater;
        b->underwater = 0;
        b->peak = equity;
        b->trough = equity;
    } else {
        b->underwater += 1;
        /* For a fixed peak, 1 - equity / peak only grows at a new low. */
        if (equity < b->trough) {
            b->trough = equity;
            double dd = 1.0 - equity / b->peak;
            if (dd > b->max_dd)
                b->max_dd = dd;
        }
    }
}

/* Feed `count` bars whose equity equals the last one fed and that hold no
 * position: each return is exactly 0, so only the counts move. */
static inline void bar_acc_repeat(bar_acc *b, int64_t count)
{
    b->n += count;
    if (!(b->prev >= b->peak)) /* as bar_acc_add decides, NaN equity included */
        b->underwater += count;
}

static inline void trade_acc_add(trade_acc *m, double pnl, double ret, int64_t bars_held)
{
    if (m->n == 0) {
        m->best = ret;
        m->worst = ret;
    } else {
        if (ret > m->best)
            m->best = ret;
        if (ret < m->worst)
            m->worst = ret;
    }
    m->n += 1;
    m->sum_pnl += pnl;
    m->sum_ret += ret;
    m->bars_held += bars_held;
    if (pnl > 0.0) {
        m->wins += 1;
        m->gross_win += pnl;
        m->sum_win_ret += ret;
    } else if (pnl < 0.0) {
        m->losses += 1;
        m->gross_loss -= pnl;
        m->sum_loss_ret += ret;
    }
}

/* Turn the sums into the stats record. */
void metrics_finish(const bar_acc *b, const trade_acc *m, double total_fees,
                    double periods_per_year, anvil_stats *out);

#endif /* ANVIL_METRICS_H */

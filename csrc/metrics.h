/*
 * metrics.h -- streaming statistics of one backtest (private to csrc/).
 *
 * Everything in anvil_stats is computed from running sums fed once per bar and
 * once per closed trade, so a batch never needs an equity curve in memory.
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

typedef struct {
    double initial;
    double prev_equity;
    double peak;
    double sum_r;
    double sum_r2;
    double sum_down2;
    double max_dd;
    int64_t n_bars;
    int64_t underwater;
    int64_t max_underwater;
    int64_t bars_in_market;
    /* closed trades */
    int64_t n_trades;
    int64_t n_wins;
    int64_t n_losses;
    int64_t sum_bars_held;
    double sum_pnl;
    double gross_win;
    double gross_loss;
    double sum_ret;
    double sum_win_ret;
    double sum_loss_ret;
    double best_ret;
    double worst_ret;
} metrics_acc;

static inline void metrics_init(metrics_acc *m, double initial_capital)
{
    *m = (metrics_acc){0};
    m->initial = initial_capital;
    m->prev_equity = initial_capital;
    m->peak = initial_capital;
}

/* Feed the equity at one bar's close. */
static inline void metrics_bar(metrics_acc *m, double equity, int in_market)
{
    double r = m->prev_equity > 0.0 ? equity / m->prev_equity - 1.0 : 0.0;
    m->sum_r += r;
    m->sum_r2 += r * r;
    if (r < 0.0)
        m->sum_down2 += r * r;
    m->prev_equity = equity;
    m->n_bars += 1;
    m->bars_in_market += in_market;
    if (equity >= m->peak) {
        m->peak = equity;
        m->underwater = 0;
    } else {
        double dd = 1.0 - equity / m->peak;
        if (dd > m->max_dd)
            m->max_dd = dd;
        m->underwater += 1;
        if (m->underwater > m->max_underwater)
            m->max_underwater = m->underwater;
    }
}

/* Feed one closed trade. */
static inline void metrics_trade(metrics_acc *m, double pnl, double ret, int64_t bars_held)
{
    if (m->n_trades == 0) {
        m->best_ret = ret;
        m->worst_ret = ret;
    } else {
        if (ret > m->best_ret)
            m->best_ret = ret;
        if (ret < m->worst_ret)
            m->worst_ret = ret;
    }
    m->n_trades += 1;
    m->sum_pnl += pnl;
    m->sum_ret += ret;
    m->sum_bars_held += bars_held;
    if (pnl > 0.0) {
        m->n_wins += 1;
        m->gross_win += pnl;
        m->sum_win_ret += ret;
    } else if (pnl < 0.0) {
        m->n_losses += 1;
        m->gross_loss -= pnl;
        m->sum_loss_ret += ret;
    }
}

/* Turn the sums into the stats record. */
void metrics_finish(const metrics_acc *m, double total_fees, double periods_per_year,
                    anvil_stats *out);

#endif /* ANVIL_METRICS_H */

/* metrics.c -- turn streaming sums into anvil_stats (definitions in metrics.h). */
#include <math.h>
#include <stddef.h>

#include "anvil.h"
#include "metrics.h"

static double ratio(double num, double den)
{
    return den != 0.0 ? num / den : NAN;
}

void metrics_finish(const bar_acc *b, const trade_acc *m, double total_fees,
                    double periods_per_year, anvil_stats *out)
{
    double n = (double)b->n;
    double final_equity = b->prev;
    double growth = final_equity / b->initial;
    double ann = sqrt(periods_per_year);

    out->final_equity = final_equity;
    out->net_pnl = final_equity - b->initial;
    out->total_return = growth - 1.0;
    if (b->n == 0)
        out->annual_return = NAN;
    else if (growth <= 0.0)
        out->annual_return = -1.0;
    else
        out->annual_return = pow(growth, periods_per_year / n) - 1.0;
    out->total_fees = total_fees;

    double sum_r = b->sum_r + b->sum_r_alt;
    double sum_r2 = b->sum_r2 + b->sum_r2_alt;
    double sum_down2 = b->sum_down2 + b->sum_down2_alt;
    double mean = b->n > 0 ? sum_r / n : NAN;
    double var = NAN;
    if (b->n > 1) {
        var = (sum_r2 - sum_r * mean) / (n - 1.0);
        if (var < 0.0)
            var = 0.0; /* rounding of a constant series */
    }
    double sd = sqrt(var);
    out->volatility = sd * ann;
    out->sharpe = sd > 0.0 ? mean / sd * ann : NAN;
    double downside = b->n > 0 ? sqrt(sum_down2 / n) : NAN;
    out->sortino = downside > 0.0 ? mean / downside * ann : NAN;

    double open_dd = 1.0 - b->trough / b->peak; /* the stretch still below the peak */
    double max_dd = open_dd > b->max_dd ? open_dd : b->max_dd;
    out->max_drawdown = max_dd;
    int64_t longest = b->underwater > b->max_underwater ? b->underwater : b->max_underwater;
    out->max_drawdown_duration = (double)longest;
    out->calmar = max_dd > 0.0 ? out->annual_return / max_dd : NAN;

    double trades = (double)m->n;
    out->total_trades = trades;
    out->win_rate = ratio((double)m->wins, trades);
    out->profit_factor = m->gross_loss > 0.0 ? m->gross_win / m->gross_loss
                         : (m->gross_win > 0.0 ? INFINITY : NAN);
    out->avg_trade_return = ratio(m->sum_ret, trades);
    out->best_trade = m->n > 0 ? m->best : NAN;
    out->worst_trade = m->n > 0 ? m->worst : NAN;
    out->avg_win = ratio(m->sum_win_ret, (double)m->wins);
    out->avg_loss = ratio(m->sum_loss_ret, (double)m->losses);
    out->expectancy = ratio(m->sum_pnl, trades);
    out->exposure = ratio((double)b->in_market, n);
    out->avg_bars_held = ratio((double)m->bars_held, trades);
}

int anvil_stats_from_equity(const double *equity, int64_t n, double initial_capital,
                            double periods_per_year, const uint8_t *in_market,
                            const anvil_trade *trades, int64_t n_trades, anvil_stats *stats)
{
    if (equity == NULL || stats == NULL || (trades == NULL && n_trades > 0))
        return ANVIL_E_NULL;
    if (n < 1 || n_trades < 0)
        return ANVIL_E_SIZE;
    if (!(initial_capital > 0.0 && initial_capital < INFINITY)
        || !(periods_per_year > 0.0 && periods_per_year < INFINITY))
        return ANVIL_E_CONFIG;
    for (int64_t t = 0; t < n; t++)
        if (!isfinite(equity[t]))
            return ANVIL_E_PRICE;
    for (int64_t k = 0; k < n_trades; k++)
        if (!(trades[k].entry_bar >= 0 && trades[k].entry_bar <= trades[k].exit_bar
              && trades[k].exit_bar < n))
            return ANVIL_E_SIZE;
    bar_acc b = bar_acc_new(initial_capital);
    for (int64_t t = 0; t < n; t++)
        bar_acc_add(&b, equity[t], in_market ? in_market[t] != 0 : 0);
    trade_acc m = {0};
    double fees = 0.0;
    for (int64_t k = 0; k < n_trades; k++) {
        const anvil_trade *tr = &trades[k];
        trade_acc_add(&m, tr->pnl, tr->ret, tr->exit_bar - tr->entry_bar);
        fees += tr->entry_fees + tr->exit_fees;
    }
    metrics_finish(&b, &m, fees, periods_per_year, stats);
    return ANVIL_OK;
}

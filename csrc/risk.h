/*
 * risk.h -- stop-loss, take-profit and trailing-stop exits within a bar
 * (private to csrc/).
 *
 * Levels are fractions of the average entry price (trailing: of the best price
 * since entry). Within a bar the open comes first: the best price moves with
 * the open, then a level the open is already through fills at the open (a gap).
 * Otherwise the low and high decide; when a bar reaches both the stop and the
 * take-profit, the stop is taken (we cannot know which came first, so assume the
 * worse). Only after the bar survives does its high (low, for shorts) move the
 * trailing best. When stop-loss and trailing stop sit at the same level the exit
 * is reported as a stop-loss.
 */
#ifndef ANVIL_RISK_H
#define ANVIL_RISK_H

#include <math.h>

#include "account.h"

typedef struct {
    double stop_loss;
    double take_profit;
    double trailing_stop;
    int on;
} risk_rules;

static inline risk_rules risk_from_config(const anvil_config *cfg)
{
    risk_rules r = {cfg->stop_loss, cfg->take_profit, cfg->trailing_stop, 0};
    r.on = r.stop_loss > 0.0 || r.take_profit > 0.0 || r.trailing_stop > 0.0;
    return r;
}

/* Apply the exits to the open position during bar t (open o, high h, low l);
 * returns the exit reason of a position it closed, or -1. */
static inline int risk_check(account *a, const risk_rules *r, int64_t t, double o, double h,
                              double l)
{
    if (a->units > 0.0) {
        if (o > a->best)
            a->best = o;
        double stop = -INFINITY;
        int why = ANVIL_EXIT_STOP_LOSS;
        if (r->stop_loss > 0.0)
            stop = a->avg_price * (1.0 - r->stop_loss);
        if (r->trailing_stop > 0.0) {
            double trail = a->best * (1.0 - r->trailing_stop);
            if (trail > stop) {
                stop = trail;
                why = ANVIL_EXIT_TRAILING_STOP;
            }
        }
        double take = r->take_profit > 0.0 ? a->avg_price * (1.0 + r->take_profit) : INFINITY;
        if (o <= stop)
            return account_close(a, t, o, why), why;
        else if (o >= take)
            return account_close(a, t, o, ANVIL_EXIT_TAKE_PROFIT), ANVIL_EXIT_TAKE_PROFIT;
        else if (l <= stop)
            return account_close(a, t, stop, why), why;
        else if (h >= take)
            return account_close(a, t, take, ANVIL_EXIT_TAKE_PROFIT), ANVIL_EXIT_TAKE_PROFIT;
        else if (h > a->best)
            a->best = h;
    } else if (a->units < 0.0) {
        if (o < a->best)
            a->best = o;
        double stop = INFINITY;
        int why = ANVIL_EXIT_STOP_LOSS;
        if (r->stop_loss > 0.0)
            stop = a->avg_price * (1.0 + r->stop_loss);
        if (r->trailing_stop > 0.0) {
            double trail = a->best * (1.0 + r->trailing_stop);
            if (trail < stop) {
                stop = trail;
                why = ANVIL_EXIT_TRAILING_STOP;
            }
        }
        double take = r->take_profit > 0.0 ? a->avg_price * (1.0 - r->take_profit) : -INFINITY;
        if (o >= stop)
            return account_close(a, t, o, why), why;
        else if (o <= take)
            return account_close(a, t, o, ANVIL_EXIT_TAKE_PROFIT), ANVIL_EXIT_TAKE_PROFIT;
        else if (h >= stop)
            return account_close(a, t, stop, why), why;
        else if (l <= take)
            return account_close(a, t, take, ANVIL_EXIT_TAKE_PROFIT), ANVIL_EXIT_TAKE_PROFIT;
        else if (l < a->best)
            a->best = l;
    }
    return -1;
}

#endif /* ANVIL_RISK_H */

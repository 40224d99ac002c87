/*
 * margin.h -- liquidation when equity reaches zero (private to csrc/).
 *
 * At each bar's close, after that bar's fills and risk exits, a position whose
 * equity cash + units * close is zero or below is closed at that close (slippage
 * and fees as any fill) with exit reason ANVIL_EXIT_MARGIN, and the account
 * trades no more: later signals and orders are ignored and every later bar marks
 * the cash that is left. (A gap can leave that cash below zero: the rule stops
 * trading on below zero, it cannot undo the gap.) Without leverage a long cannot
 * reach zero (cash >= 0, price > 0); shorts and leveraged longs can.
 */
#ifndef ANVIL_MARGIN_H
#define ANVIL_MARGIN_H

#include <stdint.h>

#include "account.h"

/* Whether the open position's equity at `price` is zero or below. */
static inline int margin_call(const account *a, double price)
{
    return a->units != 0.0 && a->cash + a->units * price <= 0.0;
}

/* Whether the open position can reach zero equity at some positive price. */
static inline int margin_possible(const account *a)
{
    return a->units != 0.0 && !(a->units > 0.0 && a->cash >= 0.0);
}

/* The first bar in [t, stop) whose close calls the position in, or stop. */
static inline int64_t margin_first_call(const account *a, const double *close, int64_t t,
                                        int64_t stop)
{
    if (a->units == 0.0 || (a->units > 0.0 && a->cash >= 0.0))
        return stop; /* equity stays above zero at every positive price */
    for (; t < stop; t++)
        if (a->cash + a->units * close[t] <= 0.0)
            return t;
    return stop;
}

/* Close the position at `price` for lack of margin. */
static inline void margin_liquidate(account *a, int64_t t, double price)
{
    account_close(a, t, price, ANVIL_EXIT_MARGIN);
}

#endif /* ANVIL_MARGIN_H */

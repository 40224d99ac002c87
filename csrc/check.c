/* check.c -- validation of bars and configs at the C boundary. */
#include <math.h>
#include <stddef.h>

#include "anvil.h"

int anvil_check_bars(const anvil_bars *bars, int64_t *bad_index)
{
    if (bars == NULL)
        return ANVIL_E_NULL;
    if (bars->n < 1)
        return ANVIL_E_SIZE;
    if (!bars->open || !bars->high || !bars->low || !bars->close)
        return ANVIL_E_NULL;
    const double *o = bars->open, *h = bars->high, *l = bars->low, *c = bars->close;
    for (int64_t i = 0; i < bars->n; i++) {
        /* Written so that NaN fails every test: comparisons with NaN are false. */
        int ok = l[i] > 0.0 && h[i] < INFINITY && l[i] <= o[i] && o[i] <= h[i]
                 && l[i] <= c[i] && c[i] <= h[i];
        if (!ok) {
            if (bad_index)
                *bad_index = i;
            return ANVIL_E_PRICE;
        }
    }
    return ANVIL_OK;
}

int anvil_check_config(const anvil_config *cfg)
{
    if (cfg == NULL)
        return ANVIL_E_NULL;
    /* Each test is written to fail on NaN. */
    int ok = cfg->initial_capital > 0.0 && cfg->initial_capital < INFINITY
             && cfg->fee_rate >= 0.0 && cfg->fee_rate < 1.0
             && cfg->fee_per_unit >= 0.0 && cfg->fee_per_unit < INFINITY
             && cfg->fixed_fee >= 0.0 && cfg->fixed_fee < INFINITY
             && cfg->slippage_bps >= 0.0 && cfg->slippage_bps < 10000.0
             && cfg->stop_loss >= 0.0 && cfg->stop_loss < 1.0
             && cfg->take_profit >= 0.0 && cfg->take_profit < INFINITY
             && cfg->trailing_stop >= 0.0 && cfg->trailing_stop < 1.0
             && cfg->max_leverage > 0.0 && cfg->max_leverage < INFINITY
             && cfg->periods_per_year > 0.0 && cfg->periods_per_year < INFINITY;
    if (!ok)
        return ANVIL_E_CONFIG;
    if (cfg->fill != ANVIL_FILL_NEXT_OPEN && cfg->fill != ANVIL_FILL_CLOSE)
        return ANVIL_E_KIND;
    if ((cfg->allow_short | cfg->integer_units | cfg->close_at_end) & ~1)
        return ANVIL_E_CONFIG;
    return ANVIL_OK;
}

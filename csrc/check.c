/* check.c -- validation of bars and configs at the C boundary. */
#include <math.h>
#include <stddef.h>

#include "anvil.h"
#include "check.h"

/* Whether bar i is valid. Written so that NaN fails: comparisons with NaN are false. */
static int bar_ok(const double *o, const double *h, const double *l, const double *c, int64_t i)
{
    return l[i] > 0.0 && h[i] < INFINITY && l[i] <= o[i] && o[i] <= h[i] && l[i] <= c[i]
           && c[i] <= h[i];
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* bar_ok for every bar in [start, stop), two bars at a time. The packed
 * comparisons are the ordered ones, false on NaN, exactly as bar_ok's. */
static int block_ok(const double *o, const double *h, const double *l, const double *c,
                    int64_t start, int64_t stop)
{
    const __m128d zero = _mm_setzero_pd(), inf = _mm_set1_pd(INFINITY);
    __m128d all = _mm_cmpeq_pd(zero, zero); /* every lane true */
    int64_t i = start;
    for (; i + 2 <= stop; i += 2) {
        __m128d lo = _mm_loadu_pd(l + i), hi = _mm_loadu_pd(h + i);
        __m128d op = _mm_loadu_pd(o + i), cl = _mm_loadu_pd(c + i);
        __m128d ok = _mm_and_pd(_mm_cmpgt_pd(lo, zero), _mm_cmplt_pd(hi, inf));
        ok = _mm_and_pd(ok, _mm_and_pd(_mm_cmple_pd(lo, op), _mm_cmple_pd(op, hi)));
        ok = _mm_and_pd(ok, _mm_and_pd(_mm_cmple_pd(lo, cl), _mm_cmple_pd(cl, hi)));
        all = _mm_and_pd(all, ok);
    }
    int fine = _mm_movemask_pd(all) == 3;
    for (; i < stop; i++)
        fine &= bar_ok(o, h, l, c, i);
    return fine;
}
#else
static int block_ok(const double *o, const double *h, const double *l, const double *c,
                    int64_t start, int64_t stop)
{
    for (int64_t i = start; i < stop; i++)
        if (!bar_ok(o, h, l, c, i))
            return 0;
    return 1;
}
#endif

int anvil_check_bars(const anvil_bars *bars, int64_t *bad_index)
{
    if (bars == NULL)
        return ANVIL_E_NULL;
    if (bars->n < 1)
        return ANVIL_E_SIZE;
    if (!bars->open || !bars->high || !bars->low || !bars->close)
        return ANVIL_E_NULL;
    const double *o = bars->open, *h = bars->high, *l = bars->low, *c = bars->close;
    const int64_t n = bars->n, block = 1024;
    for (int64_t start = 0; start < n; start += block) {
        int64_t stop = n - start > block ? start + block : n;
        if (block_ok(o, h, l, c, start, stop))
            continue;
        for (int64_t i = start; i < stop; i++) { /* find the first bad bar exactly */
            if (!bar_ok(o, h, l, c, i)) {
                if (bad_index)
                    *bad_index = i;
                return ANVIL_E_PRICE;
            }
        }
    }
    return ANVIL_OK;
}

int check_bars_unless_checked(const anvil_bars *bars, int64_t *bad_index)
{
    if (bars == NULL)
        return ANVIL_E_NULL;
    if (bars->checked != 1)
        return anvil_check_bars(bars, bad_index);
    if (bars->n < 1)
        return ANVIL_E_SIZE;
    if (!bars->open || !bars->high || !bars->low || !bars->close)
        return ANVIL_E_NULL;
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
             && cfg->periods_per_year > 0.0 && cfg->periods_per_year < INFINITY
             && RISK_RULES_OK(cfg);
    if (!ok)
        return ANVIL_E_CONFIG;
    if (cfg->fill != ANVIL_FILL_NEXT_OPEN && cfg->fill != ANVIL_FILL_CLOSE)
        return ANVIL_E_KIND;
    if ((cfg->allow_short | cfg->integer_units | cfg->close_at_end) & ~1)
        return ANVIL_E_CONFIG;
    return ANVIL_OK;
}

/*
 * indicator_kit.h -- what the indicators share (private to csrc/): the
 * contract below, output helpers, compensated sums and rolling windows.
 *
 * The indicators, one family a file: ind_averages.c (SMA, EMA, WMA),
 * ind_momentum.c (RSI, MACD, ROC, momentum), ind_dispersion.c (standard
 * deviation, z-score, Bollinger bands), ind_ranges.c (highest, lowest, true
 * range, ATR, stochastic, Williams %R, CCI, ADX), ind_volume.c (VWAP, OBV).
 *
 * Technical indicators over price series, TA-Lib's definitions.
 *
 * Each indicator has TA-Lib's warm-up (outputs are NaN until enough bars have
 * been seen), seeding and smoothing: EMA seeds with the SMA of its first
 * `period` values, RSI/ATR/ADX use Wilder's smoothing with no unstable period,
 * standard deviations are population ones, stochastic %K and %D are SMAs.
 * Degenerate windows answer as TA-Lib does (a flat stochastic or CCI is 0).
 *
 * Cost is O(n) per call: compensated running sums, the Wilder and EMA
 * recursions, a van Herk / Gil-Werman scan for the highest and lowest value.
 * The exception is CCI, whose mean absolute deviation around a moving mean has
 * no running form: O(n * period), as in TA-Lib.
 *
 * Accuracy: a plain running sum keeps the rounding residue of every value that
 * ever passed through it, so sums are compensated (two-sum) and the rolling
 * variance works on deviations from a shift near the window mean, re-anchored
 * (a fresh two-pass over the window) when the shift has gone stale, when a
 * large value leaves, and every 32 windows; WMA's weighted sum is rebuilt from
 * its window every 8 windows.
 *
 * Contract of every indicator (anvil_* in ind_*.c): the inputs hold n values
 * each, the outputs are n values each, owned by the caller, and must not
 * overlap the inputs or one another. n = 0 writes nothing; a period longer
 * than the series is not an error (every output is NaN); n < 0 or a period < 1
 * is ANVIL_E_SIZE; a NULL pointer is ANVIL_E_NULL. Inputs are meant to be
 * finite: a NaN or an infinity spoils the outputs it reaches but never makes a
 * function read or write outside its n values.
 */
#ifndef ANVIL_INDICATOR_KIT_H
#define ANVIL_INDICATOR_KIT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "anvil.h"

/* Relative size below which a difference of two nearly equal values is taken
 * as rounding noise: a flat window. */
#define FLAT_EPS 1e-14

static inline void fill_nan(double *out, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++)
        out[i] = NAN;
}

/* A window of one bar: out is the input. */
static inline int copy_series(const double *in, int64_t n, double *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = in[i];
    return ANVIL_OK;
}

/* The whole output is warm-up: every value NaN. */
static inline int all_warmup(double *out, int64_t n)
{
    fill_nan(out, 0, n);
    return ANVIL_OK;
}

/* A running sum that carries its own rounding error: each addition's exact
 * error (Knuth's branch-free two-sum) is accumulated apart in lo. */
typedef struct {
    double hi;
    double lo;
} csum;

static inline void csum_add(csum *s, double x)
{
    double t = s->hi + x;
    double z = t - s->hi;
    s->lo += (s->hi - (t - z)) + (x - z);
    s->hi = t;
}

static inline double csum_value(const csum *s)
{
    return s->hi + s->lo;
}

static inline double true_range(double high, double low, double prev_close)
{
    double r = high - low;
    double up = fabs(prev_close - high);
    double down = fabs(prev_close - low);
    if (up > r)
        r = up;
    if (down > r)
        r = down;
    return r;
}

#define CHECK_SIZE(n, period)                                                                  \
    do {                                                                                       \
        if ((n) < 0 || (period) < 1)                                                           \
            return ANVIL_E_SIZE;                                                               \
    } while (0)

/* The start of a one-series indicator whose first value comes after `warm` bars
 * (period - 1 for a window of period values, period for one of period changes):
 * the buffers present and the sizes valid, else their status; all NaN when the
 * data has no value after the warm-up; else NaN over the warm-up. */
#define START_INDICATOR(in, out, n, period, warm)                                              \
    do {                                                                                       \
        if (!(in) || !(out))                                                                   \
            return ANVIL_E_NULL;                                                               \
        CHECK_SIZE(n, period);                                                                 \
        if ((warm) >= (n))                                                                     \
            return all_warmup(out, n);                                                         \
        fill_nan(out, 0, warm);                                                                \
    } while (0)

/* out[i] = mean of x[i-p+1 .. i] for i in [first+p-1, n); reads x from first.
 * out must not be x. */
void ind_rolling_mean(const double *x, int64_t first, int64_t n, int64_t p, double *out);

/* out[i] = population variance of x[i-p+1 .. i] for i in [p-1, n); p <= n.
 * The running sums hold deviations from a shift k: d1 = sum(x - k) and
 * d2 = sum((x - k)^2), so var = d2/p - (d1/p)^2 subtracts quantities of the
 * variance's own size while k stays near the window mean. */
void ind_rolling_variance(const double *x, int64_t n, int64_t p, double *out);

/* out[i] = max (sign = 1) or min (sign = -1) of x[i-p+1 .. i] for i in
 * [p-1, n); p <= n; out must not be x. van Herk / Gil-Werman: cut the series
 * into blocks of p bars; a window is the tail of one block and the head of the
 * next, so its extreme is max(suffix extreme of the older block, prefix extreme
 * of the newer one). The suffix extreme at j is stored in out[j+p-1], the slot
 * of the one window that needs it, until that window's result replaces it.
 * Multiplying by sign (exact for +-1) turns the minimum into a maximum. */
void ind_rolling_extreme(const double *x, int64_t n, int64_t p, double sign, double *out);

#endif /* ANVIL_INDICATOR_KIT_H */

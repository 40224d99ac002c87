/*
 * indicators.c -- technical indicators over price series, TA-Lib's definitions.
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
 * Contract of every anvil_* function here: the inputs hold n values each, the
 * outputs are n values each, owned by the caller, and must not overlap the
 * inputs or one another. n = 0 writes nothing; a period longer than the series
 * is not an error (every output is NaN); n < 0 or a period < 1 is ANVIL_E_SIZE;
 * a NULL pointer is ANVIL_E_NULL. Inputs are meant to be finite: a NaN or an
 * infinity spoils the outputs it reaches but never makes a function read or
 * write outside its n values.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "anvil.h"

/* Relative size below which a difference of two nearly equal values is taken
 * as rounding noise: a flat window. */
#define FLAT_EPS 1e-14

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static void fill_nan(double *out, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++)
        out[i] = NAN;
}

/* The whole output is warm-up: every value NaN. */
static int all_warmup(double *out, int64_t n)
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

/* out[i] = mean of x[i-p+1 .. i] for i in [first+p-1, n); reads x from first.
 * out must not be x. */
static void rolling_mean(const double *x, int64_t first, int64_t n, int64_t p, double *out)
{
    if (p == 1) {
        for (int64_t i = first; i < n; i++)
            out[i] = x[i];
        return;
    }
    const double dp = (double)p;
    csum s = {0.0, 0.0};
    const int64_t full = first + p - 1 < n ? first + p - 1 : n;
    for (int64_t i = first; i < full; i++)
        csum_add(&s, x[i]);
    for (int64_t i = full; i < n; i++) {
        /* x[i] in, x[i - p] out, as one compensated step: the difference's own
         * rounding error (exact, from TwoSum) goes to the low part, so the
         * running sum waits on one addition per bar instead of two. */
        double in = x[i], out_ = i > full ? x[i - p] : 0.0;
        double d = in - out_;
        double bv = d - in;
        s.lo += (in - (d - bv)) + (-out_ - bv);
        csum_add(&s, d);
        out[i] = csum_value(&s) / dp;
    }
}

/* Two-pass moments of x[lo .. hi]: *shift becomes their mean, *d1 and *d2 the
 * sums of the deviations from it and of their squares. */
static void window_moments(const double *x, int64_t lo, int64_t hi, double *shift, double *d1,
                           double *d2)
{
    double s = 0.0;
    for (int64_t j = lo; j <= hi; j++)
        s += x[j];
    const double k = s / (double)(hi - lo + 1);
    double a = 0.0, b = 0.0;
    for (int64_t j = lo; j <= hi; j++) {
        double d = x[j] - k;
        a += d;
        b += d * d;
    }
    *shift = k;
    *d1 = a;
    *d2 = b;
}

/* out[i] = population variance of x[i-p+1 .. i] for i in [p-1, n); p <= n.
 * The running sums hold deviations from a shift k: d1 = sum(x - k) and
 * d2 = sum((x - k)^2), so var = d2/p - (d1/p)^2 subtracts quantities of the
 * variance's own size while k stays near the window mean. */
static void rolling_variance(const double *x, int64_t n, int64_t p, double *out)
{
    if (p == 1) {
        for (int64_t i = 0; i < n; i++)
            out[i] = 0.0;
        return;
    }
    const double inv = 1.0 / (double)p;
    const int64_t every = p > INT64_MAX / 32 ? INT64_MAX : 32 * p;
    double k = 0.0, d1 = 0.0, d2 = 0.0, var = 0.0;
    int64_t until_reseed = 0;
    for (int64_t i = p - 1; i < n; i++) {
        int reseed = i == p - 1;
        if (!reseed) {
            double in = x[i] - k, gone = x[i - p] - k;
            d1 += in - gone;
            d2 += in * in - gone * gone;
            var = d2 * inv - (d1 * inv) * (d1 * inv);
            /* A stale shift (the subtraction would lose more than 3 digits), a
             * large value just left (its square buried the small terms), or
             * time for a fresh start. Each test is also true for NaN. */
            reseed = !(var >= 1e-3 * (d2 * inv)) || !(gone * gone <= 1e6 * d2)
                     || --until_reseed <= 0;
        }
        if (reseed) {
            window_moments(x, i - p + 1, i, &k, &d1, &d2);
            var = d2 * inv - (d1 * inv) * (d1 * inv);
            /* Below 1e-12 of the fresh mean square the spread is the rounding
             * of the mean itself: the window is flat. */
            if (var < 1e-12 * (d2 * inv))
                var = 0.0;
            until_reseed = every;
        }
        out[i] = var < 0.0 ? 0.0 : var;
    }
}

/* out[i] = max (sign = 1) or min (sign = -1) of x[i-p+1 .. i] for i in
 * [p-1, n); p <= n; out must not be x. van Herk / Gil-Werman: cut the series
 * into blocks of p bars; a window is the tail of one block and the head of the
 * next, so its extreme is max(suffix extreme of the older block, prefix extreme
 * of the newer one). The suffix extreme at j is stored in out[j+p-1], the slot
 * of the one window that needs it, until that window's result replaces it.
 * Multiplying by sign (exact for +-1) turns the minimum into a maximum. */
static void rolling_extreme(const double *x, int64_t n, int64_t p, double sign, double *out)
{
    if (p == 1) {
        for (int64_t i = 0; i < n; i++)
            out[i] = x[i];
        return;
    }
    const int64_t last_start = n - p; /* the last window starts here */
    for (int64_t b = 0; b <= last_start; b += p) {
        int64_t e = b + p - 1 < n - 1 ? b + p - 1 : n - 1;
        double m = sign * x[e];
        for (int64_t j = e; j >= b; j--) {
            double v = sign * x[j];
            if (v > m)
                m = v;
            if (j <= last_start)
                out[j + p - 1] = m;
        }
    }
    double g = 0.0;     /* prefix extreme of the block holding i */
    int64_t at = 0;     /* i's place in its block */
    for (int64_t i = 0; i < n; i++, at = at + 1 == p ? 0 : at + 1) {
        double v = sign * x[i];
        g = (at == 0 || v > g) ? v : g;
        if (i >= p - 1) {
            double h = out[i]; /* suffix extreme of the older block, signed */
            out[i] = sign * (h > g ? h : g);
        }
    }
}

#define CHECK_SIZE(n, period)                                                                  \
    do {                                                                                       \
        if ((n) < 0 || (period) < 1)                                                           \
            return ANVIL_E_SIZE;                                                               \
    } while (0)

/* ------------------------------------------------------------------------ */
/* moving averages                                                          */

int anvil_sma(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    fill_nan(out, 0, period - 1);
    rolling_mean(close, 0, n, period, out);
    return ANVIL_OK;
}

int anvil_ema(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    fill_nan(out, 0, period - 1);
    if (period == 1) {
        for (int64_t i = 0; i < n; i++)
            out[i] = close[i];
        return ANVIL_OK;
    }
    const double k = 2.0 / ((double)period + 1.0);
    double e = 0.0;
    for (int64_t i = 0; i < period; i++)
        e += close[i];
    e /= (double)period;
    out[period - 1] = e;
    for (int64_t i = period; i < n; i++) {
        e += (close[i] - e) * k;
        out[i] = e;
    }
    return ANVIL_OK;
}

/* Weights 1 .. p, newest heaviest. With S the window sum and W the weighted
 * sum, moving one bar is W' = W - S + p * x_new and S' = S - x_old + x_new;
 * both are rebuilt from the window every 8 windows to bound the drift. */
int anvil_wma(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    fill_nan(out, 0, period - 1);
    if (period == 1) {
        for (int64_t i = 0; i < n; i++)
            out[i] = close[i];
        return ANVIL_OK;
    }
    const double dp = (double)period;
    const double divider = dp * (dp + 1.0) / 2.0;
    const int64_t every = period > INT64_MAX / 8 ? INT64_MAX : 8 * period;
    int64_t until_rebuild = 0;
    double s = 0.0, w = 0.0;
    for (int64_t i = period - 1; i < n; i++) {
        if (until_rebuild-- <= 0) {
            s = 0.0;
            w = 0.0;
            for (int64_t j = i - period + 1, weight = 1; j <= i; j++, weight++) {
                s += close[j];
                w += close[j] * (double)weight;
            }
            until_rebuild = every - 1;
        } else {
            w += dp * close[i] - s;
            s += close[i] - close[i - period];
        }
        out[i] = w / divider;
    }
    return ANVIL_OK;
}

/* ------------------------------------------------------------------------ */
/* momentum oscillators                                                      */

static inline double rsi_value(double gain, double loss)
{
    double total = gain + loss;
    return total > 0.0 ? 100.0 * (gain / total) : 0.0;
}

/* Wilder: the first averages are plain means of the first `period` changes
 * (first output at bar `period`), then avg = (avg * (period - 1) + x) / period,
 * computed as beta * avg + alpha * x with beta = (period - 1) / period and
 * alpha = 1 - beta (no division on the loop-carried chain).
 * No change at all in the averages answers 0, as TA-Lib does. */
int anvil_rsi(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period >= n)
        return all_warmup(out, n);
    fill_nan(out, 0, period);
    const double dp = (double)period;
    const double beta = (double)(period - 1) / dp, alpha = 1.0 - beta;
    double gain = 0.0, loss = 0.0;
    for (int64_t i = 1; i <= period; i++) {
        double d = close[i] - close[i - 1];
        if (d > 0.0)
            gain += d;
        else
            loss -= d;
    }
    gain /= dp;
    loss /= dp;
    out[period] = rsi_value(gain, loss);
    for (int64_t i = period + 1; i < n; i++) {
        double d = close[i] - close[i - 1];
        gain = beta * gain + alpha * (d > 0.0 ? d : 0.0);
        loss = beta * loss + alpha * (d < 0.0 ? -d : 0.0);
        out[i] = rsi_value(gain, loss);
    }
    return ANVIL_OK;
}

/* TA-Lib's MACD: slow and fast are swapped if given the wrong way round; both
 * EMAs are seeded with SMAs whose windows end on bar slow-1 (so the fast seed
 * covers bars slow-fast .. slow-1); the signal EMA is seeded with the mean of
 * the first `signal` MACD values. All three outputs start at bar
 * (slow - 1) + (signal - 1). */
int anvil_macd(const double *close, int64_t n, int64_t fast, int64_t slow, int64_t signal,
               double *line, double *signal_line, double *hist)
{
    if (!close || !line || !signal_line || !hist)
        return ANVIL_E_NULL;
    if (n < 0 || fast < 1 || slow < 1 || signal < 1)
        return ANVIL_E_SIZE;
    if (slow < fast) {
        int64_t t = slow;
        slow = fast;
        fast = t;
    }
    if (slow > n || signal > n || (slow - 1) + (signal - 1) >= n) {
        fill_nan(line, 0, n);
        fill_nan(signal_line, 0, n);
        return all_warmup(hist, n);
    }
    const int64_t start = (slow - 1) + (signal - 1);
    fill_nan(line, 0, start);
    fill_nan(signal_line, 0, start);
    fill_nan(hist, 0, start);
    const double kf = 2.0 / ((double)fast + 1.0), ks = 2.0 / ((double)slow + 1.0);
    const double kg = 2.0 / ((double)signal + 1.0);
    double ef = 0.0, es = 0.0;
    for (int64_t i = 0; i < slow - fast; i++)
        es += close[i];
    for (int64_t i = slow - fast; i < slow; i++) {
        ef += close[i];
        es += close[i];
    }
    ef /= (double)fast;
    es /= (double)slow;
    double m = ef - es;
    double sig = m;
    for (int64_t i = slow; i <= start; i++) {
        ef += (close[i] - ef) * kf;
        es += (close[i] - es) * ks;
        m = ef - es;
        sig += m;
    }
    sig = signal == 1 ? m : sig / (double)signal;
    line[start] = m;
    signal_line[start] = sig;
    hist[start] = m - sig;
    for (int64_t i = start + 1; i < n; i++) {
        ef += (close[i] - ef) * kf;
        es += (close[i] - es) * ks;
        m = ef - es;
        sig = signal == 1 ? m : sig + (m - sig) * kg;
        line[i] = m;
        signal_line[i] = sig;
        hist[i] = m - sig;
    }
    return ANVIL_OK;
}

int anvil_roc(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period >= n)
        return all_warmup(out, n);
    fill_nan(out, 0, period);
    for (int64_t i = period; i < n; i++) {
        double before = close[i - period];
        out[i] = before != 0.0 ? (close[i] / before - 1.0) * 100.0 : 0.0;
    }
    return ANVIL_OK;
}

int anvil_momentum(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period >= n)
        return all_warmup(out, n);
    fill_nan(out, 0, period);
    for (int64_t i = period; i < n; i++)
        out[i] = close[i] - close[i - period];
    return ANVIL_OK;
}

/* ------------------------------------------------------------------------ */
/* dispersion                                                               */

int anvil_stddev(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    fill_nan(out, 0, period - 1);
    rolling_variance(close, n, period, out);
    for (int64_t i = period - 1; i < n; i++)
        out[i] = sqrt(out[i]);
    return ANVIL_OK;
}

/* (close - SMA) / population std over the same window; 0 on a flat window. */
int anvil_zscore(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    fill_nan(out, 0, period - 1);
    rolling_variance(close, n, period, out);
    const double dp = (double)period;
    csum s = {0.0, 0.0};
    for (int64_t i = 0; i < n; i++) {
        csum_add(&s, close[i]);
        if (i >= period - 1) {
            double sd = sqrt(out[i]);
            double dev = close[i] - csum_value(&s) / dp;
            out[i] = sd > 0.0 ? dev / sd : (sd == 0.0 ? 0.0 : sd);
            csum_add(&s, -close[i - period + 1]);
        }
    }
    return ANVIL_OK;
}

/* middle = SMA, upper/lower = middle +- nbdev * population std,
 * width = (upper - lower) / middle (NaN where middle is 0). */
int anvil_bbands(const double *close, int64_t n, int64_t period, double nbdev_up,
                 double nbdev_dn, double *upper, double *middle, double *lower, double *width)
{
    if (!close || !upper || !middle || !lower || !width)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n) {
        fill_nan(upper, 0, n);
        fill_nan(middle, 0, n);
        fill_nan(lower, 0, n);
        return all_warmup(width, n);
    }
    const int64_t w = period - 1;
    fill_nan(upper, 0, w);
    fill_nan(middle, 0, w);
    fill_nan(lower, 0, w);
    fill_nan(width, 0, w);
    rolling_mean(close, 0, n, period, middle);
    rolling_variance(close, n, period, width); /* width holds the variance for now */
    for (int64_t i = w; i < n; i++) {
        double sd = sqrt(width[i]), mid = middle[i];
        upper[i] = mid + sd * nbdev_up;
        lower[i] = mid - sd * nbdev_dn;
        width[i] = mid != 0.0 ? (upper[i] - lower[i]) / mid : NAN;
    }
    return ANVIL_OK;
}

/* ------------------------------------------------------------------------ */
/* ranges                                                                   */

int anvil_highest(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    rolling_extreme(close, n, period, 1.0, out);
    fill_nan(out, 0, period - 1);
    return ANVIL_OK;
}

int anvil_lowest(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    rolling_extreme(close, n, period, -1.0, out);
    fill_nan(out, 0, period - 1);
    return ANVIL_OK;
}

int anvil_true_range(const double *high, const double *low, const double *close, int64_t n,
                     double *out)
{
    if (!high || !low || !close || !out)
        return ANVIL_E_NULL;
    if (n < 0)
        return ANVIL_E_SIZE;
    if (n == 0)
        return ANVIL_OK;
    out[0] = NAN;
    for (int64_t i = 1; i < n; i++)
        out[i] = true_range(high[i], low[i], close[i - 1]);
    return ANVIL_OK;
}

/* Wilder's average of the true range: the first value (bar `period`) is the
 * mean of the first `period` true ranges, then
 * atr = (atr * (period - 1) + tr) / period. */
int anvil_atr(const double *high, const double *low, const double *close, int64_t n,
              int64_t period, double *out)
{
    if (!high || !low || !close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period >= n)
        return all_warmup(out, n);
    fill_nan(out, 0, period);
    const double dp = (double)period;
    const double beta = (double)(period - 1) / dp, alpha = 1.0 - beta;
    double atr = 0.0;
    for (int64_t i = 1; i <= period; i++)
        atr += true_range(high[i], low[i], close[i - 1]);
    atr /= dp;
    out[period] = atr;
    for (int64_t i = period + 1; i < n; i++) {
        atr = beta * atr + alpha * true_range(high[i], low[i], close[i - 1]);
        out[i] = atr;
    }
    return ANVIL_OK;
}

/* Stochastic: raw %K = 100 * (close - lowest low) / (highest high - lowest
 * low) over `fastk` bars (0 on a flat window), %K = SMA(raw %K, slowk),
 * %D = SMA(%K, slowd). Both start at bar (fastk-1) + (slowk-1) + (slowd-1). */
int anvil_stoch(const double *high, const double *low, const double *close, int64_t n,
                int64_t fastk, int64_t slowk, int64_t slowd, double *k, double *d)
{
    if (!high || !low || !close || !k || !d)
        return ANVIL_E_NULL;
    if (n < 0 || fastk < 1 || slowk < 1 || slowd < 1)
        return ANVIL_E_SIZE;
    if (fastk > n || slowk > n || slowd > n || (fastk - 1) + (slowk - 1) + (slowd - 1) >= n) {
        fill_nan(k, 0, n);
        return all_warmup(d, n);
    }
    const int64_t raw_from = fastk - 1, k_from = raw_from + slowk - 1;
    const int64_t start = k_from + slowd - 1;
    rolling_extreme(high, n, fastk, 1.0, k); /* k: highest high */
    rolling_extreme(low, n, fastk, -1.0, d); /* d: lowest low */
    for (int64_t i = raw_from; i < n; i++) {
        double hh = k[i], ll = d[i];
        double range = hh - ll;
        int flat = fabs(range) <= FLAT_EPS * (fabs(hh) + fabs(ll));
        k[i] = flat ? 0.0 : (close[i] - ll) / (range / 100.0); /* k: raw %K */
    }
    rolling_mean(k, raw_from, n, slowk, d);   /* d: %K */
    rolling_mean(d, k_from, n, slowd, k);     /* k: %D */
    for (int64_t i = start; i < n; i++) {
        double t = k[i];
        k[i] = d[i];
        d[i] = t;
    }
    fill_nan(k, 0, start);
    fill_nan(d, 0, start);
    return ANVIL_OK;
}

/* Williams %R = -100 * (highest high - close) / (highest high - lowest low)
 * over `period` bars; 0 on a flat window. work: n values of scratch. */
int anvil_willr(const double *high, const double *low, const double *close, int64_t n,
                int64_t period, double *out, double *work)
{
    if (!high || !low || !close || !out || !work)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    rolling_extreme(high, n, period, 1.0, out);
    rolling_extreme(low, n, period, -1.0, work);
    for (int64_t i = period - 1; i < n; i++) {
        double hh = out[i];
        double diff = (hh - work[i]) / -100.0;
        out[i] = diff != 0.0 ? (hh - close[i]) / diff : 0.0;
    }
    fill_nan(out, 0, period - 1);
    return ANVIL_OK;
}

/* CCI = (tp - mean(tp)) / (0.015 * mean(|tp - mean(tp)|)) over `period` bars,
 * tp = (high + low + close) / 3; 0 on a flat window. The typical prices are
 * written into out first; walking backwards, the window of bar i (bars
 * i-period+1 .. i) is still intact when bar i's value replaces its own tp. */
int anvil_cci(const double *high, const double *low, const double *close, int64_t n,
              int64_t period, double *out)
{
    if (!high || !low || !close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    const double dp = (double)period;
    for (int64_t i = 0; i < n; i++)
        out[i] = (high[i] + low[i] + close[i]) / 3.0;
    for (int64_t i = n - 1; i >= period - 1; i--) {
        const double *win = out + (i - period + 1);
        double sum = 0.0, scale = 0.0;
        for (int64_t j = 0; j < period; j++) {
            sum += win[j];
            scale += fabs(win[j]);
        }
        const double mean = sum / dp;
        double dev = 0.0;
        for (int64_t j = 0; j < period; j++)
            dev += fabs(win[j] - mean);
        double diff = win[period - 1] - mean;
        int flat = !(dev > FLAT_EPS * scale);
        out[i] = flat ? (isnan(dev) ? dev : 0.0) : diff / (0.015 * (dev / dp));
    }
    fill_nan(out, 0, period - 1);
    return ANVIL_OK;
}

/* Wilder's ADX (TA-Lib's sequence): +DM/-DM and the true range are summed
 * over the first period-1 bars, then Wilder-smoothed (x -= x/period; x += new);
 * DX = 100 * |+DI - -DI| / (+DI + -DI); the first ADX (bar 2*period-1) is the
 * mean of `period` DX values, then adx += (dx - adx) / period. A bar whose
 * true range or DI sum is zero leaves the ADX where it was. */
int anvil_adx(const double *high, const double *low, const double *close, int64_t n,
              int64_t period, double *out)
{
    if (!high || !low || !close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n || 2 * period - 1 >= n)
        return all_warmup(out, n);
    const int64_t start = 2 * period - 1;
    fill_nan(out, 0, start);
    const double dp = (double)period, inv = 1.0 / dp;
    double plus_dm = 0.0, minus_dm = 0.0, tr = 0.0, sum_dx = 0.0, adx = 0.0;
    for (int64_t i = 1; i < n; i++) {
        double up = high[i] - high[i - 1];
        double down = low[i - 1] - low[i];
        double pdm = (up > 0.0 && up > down) ? up : 0.0;
        double mdm = (down > 0.0 && down > up) ? down : 0.0;
        double r = true_range(high[i], low[i], close[i - 1]);
        if (i < period) {
            plus_dm += pdm;
            minus_dm += mdm;
            tr += r;
            continue;
        }
        plus_dm = plus_dm - plus_dm * inv + pdm;
        minus_dm = minus_dm - minus_dm * inv + mdm;
        tr = tr - tr * inv + r;
        double dx = NAN;
        if (tr > 0.0) {
            double pdi = 100.0 * (plus_dm / tr), mdi = 100.0 * (minus_dm / tr);
            double s = pdi + mdi;
            if (!(fabs(s) < FLAT_EPS))
                dx = 100.0 * (fabs(mdi - pdi) / s);
        }
        if (i < start) {
            if (!isnan(dx))
                sum_dx += dx;
            continue;
        }
        if (i == start) {
            if (!isnan(dx))
                sum_dx += dx;
            adx = sum_dx / dp;
        } else if (!isnan(dx)) {
            adx += (dx - adx) * inv;
        }
        out[i] = adx;
    }
    return ANVIL_OK;
}

/* ------------------------------------------------------------------------ */
/* volume                                                                   */

/* Sum of tp * volume over sum of volume for the last `period` bars,
 * tp = (high + low + close) / 3; NaN where the window traded no volume. */
int anvil_vwap(const double *high, const double *low, const double *close, const double *volume,
               int64_t n, int64_t period, double *out)
{
    if (!high || !low || !close || !volume || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    fill_nan(out, 0, period - 1);
    csum pv = {0.0, 0.0}, vol = {0.0, 0.0};
    int64_t traded = 0; /* bars in the window with non-zero volume */
    for (int64_t i = 0; i < n; i++) {
        double v = volume[i];
        csum_add(&pv, (high[i] + low[i] + close[i]) / 3.0 * v);
        csum_add(&vol, v);
        traded += v != 0.0;
        if (i >= period - 1) {
            out[i] = traded > 0 ? csum_value(&pv) / csum_value(&vol) : NAN;
            int64_t j = i - period + 1;
            double vj = volume[j];
            csum_add(&pv, -((high[j] + low[j] + close[j]) / 3.0 * vj));
            csum_add(&vol, -vj);
            traded -= vj != 0.0;
        }
    }
    return ANVIL_OK;
}

/* On-balance volume, TA-Lib's: starts at the first bar's volume, then adds the
 * volume of an up close and subtracts that of a down close. */
int anvil_obv(const double *close, const double *volume, int64_t n, double *out)
{
    if (!close || !volume || !out)
        return ANVIL_E_NULL;
    if (n < 0)
        return ANVIL_E_SIZE;
    if (n == 0)
        return ANVIL_OK;
    double obv = volume[0];
    out[0] = obv;
    for (int64_t i = 1; i < n; i++) {
        if (close[i] > close[i - 1])
            obv += volume[i];
        else if (close[i] < close[i - 1])
            obv -= volume[i];
        out[i] = obv;
    }
    return ANVIL_OK;
}

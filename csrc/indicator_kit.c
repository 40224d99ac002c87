/*
 * indicator_kit.c -- the rolling windows the indicators share (see indicator_kit.h).
 */
#include "indicator_kit.h"

/* out[i] = mean of x[i-p+1 .. i] for i in [first+p-1, n); reads x from first.
 * out must not be x. */
void ind_rolling_mean(const double *x, int64_t first, int64_t n, int64_t p, double *out)
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
void ind_rolling_variance(const double *x, int64_t n, int64_t p, double *out)
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
void ind_rolling_extreme(const double *x, int64_t n, int64_t p, double sign, double *out)
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

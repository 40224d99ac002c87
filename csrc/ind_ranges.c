/*
 * ind_ranges.c -- ranges: highest, lowest, true range, ATR, stochastic, Williams %R, CCI, ADX
 * (TA-Lib's definitions; the shared contract is in indicator_kit.h).
 */
#include "indicator_kit.h"

int anvil_highest(const double *close, int64_t n, int64_t period, double *out)
{
    if (!close || !out)
        return ANVIL_E_NULL;
    CHECK_SIZE(n, period);
    if (period > n)
        return all_warmup(out, n);
    ind_rolling_extreme(close, n, period, 1.0, out);
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
    ind_rolling_extreme(close, n, period, -1.0, out);
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
    ind_rolling_extreme(high, n, fastk, 1.0, k); /* k: highest high */
    ind_rolling_extreme(low, n, fastk, -1.0, d); /* d: lowest low */
    for (int64_t i = raw_from; i < n; i++) {
        double hh = k[i], ll = d[i];
        double range = hh - ll;
        int flat = fabs(range) <= FLAT_EPS * (fabs(hh) + fabs(ll));
        k[i] = flat ? 0.0 : (close[i] - ll) / (range / 100.0); /* k: raw %K */
    }
    ind_rolling_mean(k, raw_from, n, slowk, d);   /* d: %K */
    ind_rolling_mean(d, k_from, n, slowd, k);     /* k: %D */
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
    ind_rolling_extreme(high, n, period, 1.0, out);
    ind_rolling_extreme(low, n, period, -1.0, work);
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

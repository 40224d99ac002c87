/*
 * ind_dispersion.c -- dispersion: standard deviation, z-score, Bollinger bands
 * (TA-Lib's definitions; the shared contract is in indicator_kit.h).
 */
#include "indicator_kit.h"

int anvil_stddev(const double *close, int64_t n, int64_t period, double *out)
{
    START_INDICATOR(close, out, n, period, period - 1);
    ind_rolling_variance(close, n, period, out);
    for (int64_t i = period - 1; i < n; i++)
        out[i] = sqrt(out[i]);
    return ANVIL_OK;
}

/* (close - SMA) / population std over the same window; 0 on a flat window. */
int anvil_zscore(const double *close, int64_t n, int64_t period, double *out)
{
    START_INDICATOR(close, out, n, period, period - 1);
    ind_rolling_variance(close, n, period, out);
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
    ind_rolling_mean(close, 0, n, period, middle);
    ind_rolling_variance(close, n, period, width); /* width holds the variance for now */
    for (int64_t i = w; i < n; i++) {
        double sd = sqrt(width[i]), mid = middle[i];
        upper[i] = mid + sd * nbdev_up;
        lower[i] = mid - sd * nbdev_dn;
        width[i] = mid != 0.0 ? (upper[i] - lower[i]) / mid : NAN;
    }
    return ANVIL_OK;
}

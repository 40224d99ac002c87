/*
 * ind_averages.c -- moving averages: SMA, EMA, WMA
 * (TA-Lib's definitions; the shared contract is in indicator_kit.h).
 */
#include "indicator_kit.h"

int anvil_sma(const double *close, int64_t n, int64_t period, double *out)
{
    START_INDICATOR(close, out, n, period, period - 1);
    ind_rolling_mean(close, 0, n, period, out);
    return ANVIL_OK;
}

int anvil_ema(const double *close, int64_t n, int64_t period, double *out)
{
    START_INDICATOR(close, out, n, period, period - 1);
    if (period == 1)
        return copy_series(close, n, out);
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
    START_INDICATOR(close, out, n, period, period - 1);
    if (period == 1)
        return copy_series(close, n, out);
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

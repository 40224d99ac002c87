/*
 * ind_volume.c -- volume: rolling VWAP, OBV
 * (TA-Lib's definitions; the shared contract is in indicator_kit.h).
 */
#include "indicator_kit.h"

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

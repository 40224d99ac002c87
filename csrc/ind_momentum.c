/*
 * ind_momentum.c -- momentum oscillators: RSI, MACD, ROC, momentum
 * (TA-Lib's definitions; the shared contract is in indicator_kit.h).
 */
#include "indicator_kit.h"

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
    START_INDICATOR(close, out, n, period, period);
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
    START_INDICATOR(close, out, n, period, period);
    for (int64_t i = period; i < n; i++) {
        double before = close[i - period];
        out[i] = before != 0.0 ? (close[i] / before - 1.0) * 100.0 : 0.0;
    }
    return ANVIL_OK;
}

int anvil_momentum(const double *close, int64_t n, int64_t period, double *out)
{
    START_INDICATOR(close, out, n, period, period);
    for (int64_t i = period; i < n; i++)
        out[i] = close[i] - close[i - period];
    return ANVIL_OK;
}

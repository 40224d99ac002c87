/*
 * cross.c -- cross-sectional blocks: per-bar rank, top/bottom-k, z-score, equal
 * and inverse-volatility weights, risk parity, gross/net normalisation, rebalance
 * schedules from bar times, and weights kept only on rebalance bars.
 *
 * Shapes: x[t * m + j] is bar t, symbol j. NaN means "no value" everywhere: a
 * symbol without a price, before its listing, in a gap. Nothing here reads a
 * row after the one it writes.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "anvil.h"
#include "cross.h"

#define XS_CHECK(n, m)                   \
    do {                                 \
        if ((n) < 0 || (m) < 0)          \
            return ANVIL_E_SIZE;         \
        if ((m) > 0 && (n) > INT64_MAX / (m)) \
            return ANVIL_E_SIZE;         \
    } while (0)

/* Stable bottom-up merge sort of idx[0..k) by key[idx] ascending (or descending
 * when desc); ties keep their order, i.e. the lower column first. tmp holds k. */
static void sort_idx(int64_t *idx, int64_t *tmp, int64_t k, const double *key, int desc)
{
    int64_t *a = idx, *b = tmp;
    for (int64_t width = 1; width < k; width *= 2) {
        for (int64_t lo = 0; lo < k; lo += 2 * width) {
            int64_t mid = lo + width < k ? lo + width : k;
            int64_t hi = lo + 2 * width < k ? lo + 2 * width : k;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                double ki = key[a[i]], kj = key[a[j]];
                int take_right = desc ? (kj > ki) : (kj < ki);
                b[o++] = take_right ? a[j++] : a[i++];
            }
            while (i < mid)
                b[o++] = a[i++];
            while (j < hi)
                b[o++] = a[j++];
        }
        int64_t *s = a;
        a = b;
        b = s;
    }
    if (a != idx)
        memcpy(idx, a, (size_t)k * sizeof(int64_t));
}

/* The finite cells of row into idx; returns how many. */
static int64_t finite_cols(const double *row, int64_t m, int64_t *idx)
{
    int64_t k = 0;
    for (int64_t j = 0; j < m; j++)
        if (isfinite(row[j]))
            idx[k++] = j;
    return k;
}

/* Rank of each finite value among the row's finite values, ascending from 1; equal
 * values share the mean of the ranks they span (1, 2.5, 2.5, 4). NaN -> NaN.
 * work: 2 * m int64. */
int anvil_xs_rank(const double *x, int64_t n, int64_t m, int64_t *work, double *out)
{
    if (!x || !out || (!work && m > 0))
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    for (int64_t t = 0; t < n; t++) {
        const double *row = x + t * m;
        double *o = out + t * m;
        for (int64_t j = 0; j < m; j++)
            o[j] = NAN;
        int64_t k = finite_cols(row, m, work);
        sort_idx(work, work + m, k, row, 0);
        for (int64_t i = 0; i < k;) {
            int64_t e = i;
            while (e + 1 < k && row[work[e + 1]] == row[work[i]])
                e++;
            double r = (double)(i + e) / 2.0 + 1.0;
            for (int64_t q = i; q <= e; q++)
                o[work[q]] = r;
            i = e + 1;
        }
    }
    return ANVIL_OK;
}

/* 1 on the k largest (largest != 0) or k smallest finite values of each row, else 0.
 * Ties at the boundary go to the lower column; a row with fewer than k finite
 * values selects all of them; NaN is never selected. work: 2 * m int64. */
int anvil_xs_top_k(const double *x, int64_t n, int64_t m, int64_t k, int largest,
                   int64_t *work, uint8_t *out)
{
    if (!x || !out || (!work && m > 0))
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    if (k < 0)
        return ANVIL_E_SIZE;
    for (int64_t t = 0; t < n; t++) {
        const double *row = x + t * m;
        uint8_t *o = out + t * m;
        memset(o, 0, (size_t)m);
        int64_t f = finite_cols(row, m, work);
        sort_idx(work, work + m, f, row, largest != 0);
        for (int64_t i = 0; i < f && i < k; i++)
            o[work[i]] = 1;
    }
    return ANVIL_OK;
}

/* (x - mean) / std over the row's finite values (population std); 0 where the row
 * has one finite value or they are all equal; NaN stays NaN. */
int anvil_xs_zscore(const double *x, int64_t n, int64_t m, double *out)
{
    if (!x || !out)
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    for (int64_t t = 0; t < n; t++) {
        const double *row = x + t * m;
        double *o = out + t * m;
        double sum = 0.0;
        int64_t k = 0;
        for (int64_t j = 0; j < m; j++)
            if (isfinite(row[j])) {
                sum += row[j];
                k++;
            }
        double mean = k ? sum / (double)k : 0.0, ss = 0.0;
        for (int64_t j = 0; j < m; j++)
            if (isfinite(row[j]))
                ss += (row[j] - mean) * (row[j] - mean);
        double sd = k ? sqrt(ss / (double)k) : 0.0;
        for (int64_t j = 0; j < m; j++) {
            if (!isfinite(row[j]))
                o[j] = NAN;
            else
                o[j] = sd > 0.0 ? (row[j] - mean) / sd : 0.0;
        }
    }
    return ANVIL_OK;
}

/* 1/k on the k selected cells of each row, 0 elsewhere (all 0 when none is). */
int anvil_xs_equal_weight(const uint8_t *mask, int64_t n, int64_t m, double *out)
{
    if (!mask || !out)
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    for (int64_t t = 0; t < n; t++) {
        const uint8_t *row = mask + t * m;
        double *o = out + t * m;
        int64_t k = 0;
        for (int64_t j = 0; j < m; j++)
            k += row[j] != 0;
        double w = k ? 1.0 / (double)k : 0.0;
        for (int64_t j = 0; j < m; j++)
            o[j] = row[j] ? w : 0.0;
    }
    return ANVIL_OK;
}

/* (1 / vol_j) / sum(1 / vol) over the row's cells with a finite vol > 0; 0 for the
 * others (all 0 when none qualifies). */
int anvil_xs_inverse_vol(const double *vol, int64_t n, int64_t m, double *out)
{
    if (!vol || !out)
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    for (int64_t t = 0; t < n; t++) {
        const double *row = vol + t * m;
        double *o = out + t * m;
        double sum = 0.0;
        for (int64_t j = 0; j < m; j++)
            if (isfinite(row[j]) && row[j] > 0.0)
                sum += 1.0 / row[j];
        for (int64_t j = 0; j < m; j++)
            o[j] = (sum > 0.0 && isfinite(row[j]) && row[j] > 0.0) ? (1.0 / row[j]) / sum : 0.0;
    }
    return ANVIL_OK;
}

/* Per symbol, the population std of the last `period` returns (rows t-period+1..t);
 * NaN until the symbol has `period` finite returns in a row (a NaN in the window
 * makes it NaN). Recomputed over each window: no drift from running sums. */
int anvil_xs_rolling_vol(const double *returns, int64_t n, int64_t m, int64_t period, double *out)
{
    if (!returns || !out)
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    if (period < 1)
        return ANVIL_E_SIZE;
    for (int64_t j = 0; j < m; j++) {
        int64_t run = 0; /* finite returns in a row ending at t */
        for (int64_t t = 0; t < n; t++) {
            double r = returns[t * m + j];
            run = isfinite(r) ? run + 1 : 0;
            if (run < period) {
                out[t * m + j] = NAN;
                continue;
            }
            double s = 0.0;
            for (int64_t q = t - period + 1; q <= t; q++)
                s += returns[q * m + j];
            double mean = s / (double)period, ss = 0.0;
            for (int64_t q = t - period + 1; q <= t; q++) {
                double d = returns[q * m + j] - mean;
                ss += d * d;
            }
            out[t * m + j] = sqrt(ss / (double)period);
        }
    }
    return ANVIL_OK;
}

/* Risk parity on the rows where `when` is 1 (every row when NULL; other rows NaN).
 * Eligible symbols: `period` finite returns ending at t. Sigma: their population
 * covariance over those rows (k of them). Start from inverse-vol weights (sum 1)
 * times 1 / sqrt(w' Sigma w) when that is positive (the solution has w' Sigma w = 1);
 * `iters` sweeps of cyclical coordinate descent on 0.5 w'Sigma w - sum(log w_i) / k:
 * for i = 0..k-1 in turn, s = sum_{j != i} Sigma_ij w_j (with the weights as updated
 * so far) and w_i = (sqrt(s^2 + 4 Sigma_ii / k) - s) / (2 Sigma_ii). Then rescale to
 * sum 1. Each step is the positive root, so weights stay positive, and the sweeps
 * converge to equal risk contributions for any covariance (Griveau-Billion, Richard
 * and Roncalli 2013), where the multiplicative update w_i *= sqrt(mean(rc) / rc_i)
 * oscillates once correlations are strongly negative. Ineligible symbols, and every
 * symbol of a row where any eligible one has zero variance or none is eligible, or
 * where the weights overflow, get 0.
 * work: m * m + 4 * m doubles. */
int anvil_xs_risk_parity(const double *returns, int64_t n, int64_t m, int64_t period,
                         int64_t iters, const uint8_t *when, double *work, double *out)
{
    if (!returns || !out || (!work && m > 0))
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    if (period < 2 || iters < 0 || (m > 0 && m > INT64_MAX / m / 8))
        return ANVIL_E_SIZE;
    double *cov = work, *w = work + m * m, *mean = w + m, *sw = mean + m;
    int64_t *cols = (int64_t *)(sw + m); /* m slots of 8 bytes */
    for (int64_t t = 0; t < n; t++) {
        double *o = out + t * m;
        if (when && !when[t]) {
            for (int64_t j = 0; j < m; j++)
                o[j] = NAN;
            continue;
        }
        for (int64_t j = 0; j < m; j++)
            o[j] = 0.0;
        if (t + 1 < period)
            continue;
        int64_t k = 0;
        for (int64_t j = 0; j < m; j++) {
            int ok = 1;
            for (int64_t q = t - period + 1; q <= t && ok; q++)
                ok = isfinite(returns[q * m + j]);
            if (ok)
                cols[k++] = j;
        }
        if (k == 0)
            continue;
        for (int64_t a = 0; a < k; a++) {
            double s = 0.0;
            for (int64_t q = t - period + 1; q <= t; q++)
                s += returns[q * m + cols[a]];
            mean[a] = s / (double)period;
        }
        int degenerate = 0;
        for (int64_t a = 0; a < k; a++)
            for (int64_t b = a; b < k; b++) {
                double s = 0.0;
                for (int64_t q = t - period + 1; q <= t; q++)
                    s += (returns[q * m + cols[a]] - mean[a]) * (returns[q * m + cols[b]] - mean[b]);
                cov[a * k + b] = cov[b * k + a] = s / (double)period;
            }
        double total = 0.0;
        for (int64_t a = 0; a < k; a++) {
            if (!(cov[a * k + a] > 0.0)) {
                degenerate = 1;
                break;
            }
            w[a] = 1.0 / sqrt(cov[a * k + a]);
            total += w[a];
        }
        if (degenerate)
            continue;
        for (int64_t a = 0; a < k; a++)
            w[a] /= total;
        /* to the solution's scale, w' Sigma w = 1: the sweeps then only turn the weights */
        double q = 0.0;
        for (int64_t a = 0; a < k; a++)
            for (int64_t b = 0; b < k; b++)
                q += w[a] * cov[a * k + b] * w[b];
        if (q > 0.0 && isfinite(q)) {
            double scale = 1.0 / sqrt(q);
            for (int64_t a = 0; a < k; a++)
                w[a] *= scale;
        }
        double budget = 1.0 / (double)k;
        for (int64_t it = 0; it < iters; it++)
            for (int64_t a = 0; a < k; a++) {
                double s = 0.0;
                for (int64_t b = 0; b < k; b++)
                    if (b != a)
                        s += cov[a * k + b] * w[b];
                double v = cov[a * k + a];
                w[a] = (sqrt(s * s + 4.0 * v * budget) - s) / (2.0 * v);
            }
        total = 0.0;
        for (int64_t a = 0; a < k; a++)
            total += w[a];
        if (!(total > 0.0) || !isfinite(total))
            continue; /* overflowed on an extreme covariance: all 0, as documented */
        for (int64_t a = 0; a < k; a++)
            o[cols[a]] = w[a] / total;
    }
    return ANVIL_OK;
}

/* Scale each row to a gross exposure (sum |w|) and, when net is finite, a net one:
 * longs to (gross + net) / 2 and shorts to (gross - net) / 2, each side in its own
 * proportions (a side with nothing in it stays empty). NaN cells stay NaN and do not
 * count; a row without a nonzero value is copied as is. Needs gross >= 0 and, with
 * a net, |net| <= gross. */
int anvil_xs_normalize(const double *w, int64_t n, int64_t m, double gross, double net, double *out)
{
    if (!w || !out)
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    if (!isfinite(gross) || gross < 0.0 || isinf(net) || (isfinite(net) && fabs(net) > gross))
        return ANVIL_E_CONFIG;
    int use_net = isfinite(net);
    for (int64_t t = 0; t < n; t++) {
        const double *row = w + t * m;
        double *o = out + t * m;
        double longs = 0.0, shorts = 0.0;
        for (int64_t j = 0; j < m; j++) {
            if (row[j] > 0.0)
                longs += row[j];
            else if (row[j] < 0.0)
                shorts -= row[j];
        }
        double kl, ks;
        if (longs + shorts == 0.0) {
            kl = ks = 1.0;
        } else if (use_net) {
            kl = longs > 0.0 ? (gross + net) / 2.0 / longs : 0.0;
            ks = shorts > 0.0 ? (gross - net) / 2.0 / shorts : 0.0;
        } else {
            kl = ks = gross / (longs + shorts);
        }
        for (int64_t j = 0; j < m; j++)
            o[j] = row[j] > 0.0 ? row[j] * kl : (row[j] < 0.0 ? row[j] * ks : row[j]);
    }
    return ANVIL_OK;
}

/* Days since 1970-01-01 -> (year, month 1..12): H. Hinnant's civil_from_days. */
static void civil(int64_t days, int64_t *year, int64_t *month)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t mo = mp < 10 ? mp + 3 : mp - 9;
    *year = yoe + era * 400 + (mo <= 2);
    *month = mo;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* The calendar period (UTC) of a bar time for a schedule kind. */
static int64_t period_of(int64_t ts, int kind)
{
    int64_t days = floor_div(ts, INT64_C(86400000000000));
    if (kind == ANVIL_SCHED_WEEK_START || kind == ANVIL_SCHED_WEEK_END)
        return floor_div(days + 3, 7); /* weeks run Monday..Sunday; 1970-01-01 was a Thursday */
    int64_t y, mo;
    civil(days, &y, &mo);
    if (kind == ANVIL_SCHED_MONTH_START || kind == ANVIL_SCHED_MONTH_END)
        return y * 12 + (mo - 1);
    return y * 4 + (mo - 1) / 3;
}

/* 1 on the rebalance bars of a schedule. EVERY_N: bars 0, every, 2*every, ...
 * *_START: the first bar of each calendar period (UTC), bar 0 included. *_END: the
 * last bar of each period, i.e. a bar whose next bar falls in another period; the
 * final bar is not marked (its period may go on after the data). */
int anvil_schedule(const int64_t *ts, int64_t n, int kind, int64_t every, uint8_t *out)
{
    if (!ts || !out)
        return ANVIL_E_NULL;
    if (n < 0)
        return ANVIL_E_SIZE;
    if (kind < ANVIL_SCHED_EVERY_N || kind > ANVIL_SCHED_QUARTER_END)
        return ANVIL_E_KIND;
    if (kind == ANVIL_SCHED_EVERY_N) {
        if (every < 1)
            return ANVIL_E_SIZE;
        for (int64_t t = 0; t < n; t++)
            out[t] = t % every == 0;
        return ANVIL_OK;
    }
    int end = kind == ANVIL_SCHED_WEEK_END || kind == ANVIL_SCHED_MONTH_END || kind == ANVIL_SCHED_QUARTER_END;
    int64_t prev = 0;
    for (int64_t t = 0; t < n; t++) {
        int64_t p = period_of(ts[t], kind);
        if (end) {
            out[t] = 0;
            if (t > 0 && p != prev)
                out[t - 1] = 1;
        } else {
            out[t] = t == 0 || p != prev;
        }
        prev = p;
    }
    return ANVIL_OK;
}

/* Row t of w where when[t] is 1 (as it is, NaN cells included); NaN rows elsewhere,
 * so the portfolio holds its positions between rebalances. */
int anvil_xs_on_rebalance(const double *w, int64_t n, int64_t m, const uint8_t *when, double *out)
{
    if (!w || !when || !out)
        return ANVIL_E_NULL;
    XS_CHECK(n, m);
    for (int64_t t = 0; t < n; t++) {
        if (when[t])
            memcpy(out + t * m, w + t * m, (size_t)m * sizeof(double));
        else
            for (int64_t j = 0; j < m; j++)
                out[t * m + j] = NAN;
    }
    return ANVIL_OK;
}

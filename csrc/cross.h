/*
 * cross.h -- cross-sectional blocks over [n_bars, n_symbols] matrices (row-major,
 * C-contiguous, float64; masks are one byte per cell, 0 or 1).
 *
 * Every function takes pointers and lengths and returns an anvil status
 * (ANVIL_OK, ANVIL_E_NULL, ANVIL_E_SIZE, ANVIL_E_KIND, ANVIL_E_CONFIG); the
 * caller owns every buffer, scratch included. Each block reads row t (and, for
 * the rolling ones, rows before it) only: all are causal. The rules are stated
 * at each function in cross.c and in strategies/blocks/cross.py.
 *
 * engine/_build.py reads the region between the cdef markers into the cffi cdef.
 */
#ifndef ANVIL_CROSS_H
#define ANVIL_CROSS_H

#include <stdint.h>

/* cdef-begin */
#define ANVIL_SCHED_EVERY_N 0
#define ANVIL_SCHED_WEEK_START 1
#define ANVIL_SCHED_WEEK_END 2
#define ANVIL_SCHED_MONTH_START 3
#define ANVIL_SCHED_MONTH_END 4
#define ANVIL_SCHED_QUARTER_START 5
#define ANVIL_SCHED_QUARTER_END 6

int anvil_xs_rank(const double *x, int64_t n, int64_t m, int64_t *work, double *out);
int anvil_xs_top_k(const double *x, int64_t n, int64_t m, int64_t k, int largest,
                   int64_t *work, uint8_t *out);
int anvil_xs_zscore(const double *x, int64_t n, int64_t m, double *out);
int anvil_xs_equal_weight(const uint8_t *mask, int64_t n, int64_t m, double *out);
int anvil_xs_inverse_vol(const double *vol, int64_t n, int64_t m, double *out);
int anvil_xs_rolling_vol(const double *returns, int64_t n, int64_t m, int64_t period, double *out);
int anvil_xs_risk_parity(const double *returns, int64_t n, int64_t m, int64_t period,
                         int64_t iters, const uint8_t *when, double *work, double *out);
int anvil_xs_normalize(const double *w, int64_t n, int64_t m, double gross, double net,
                       double *out);
int anvil_schedule(const int64_t *ts, int64_t n, int kind, int64_t every, uint8_t *out);
int anvil_xs_on_rebalance(const double *w, int64_t n, int64_t m, const uint8_t *when,
                          double *out);
/* cdef-end */

#endif

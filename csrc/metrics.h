/*
 * metrics.h -- streaming statistics of one backtest (private to csrc/).
 *
 * Everything in anvil_stats is computed from running sums fed once per bar
 * (bar_acc) and once per closed trade (trade_acc), so a batch never needs an
 * equity curve in memory. The two are separate so that the bar loop can keep
 * its sums in registers: bar_acc lives in the loop's own frame and never
 * escapes it, while trades reach trade_acc through the account.
 *
 * Definitions (the plain-Python reference in tests/ computes the same):
 *   r_t          equity_t / equity_{t-1} - 1, with equity_{-1} = initial
 *                capital; 0 once the previous equity is not positive.
 *   sharpe       mean(r) / std(r, ddof=1) * sqrt(periods_per_year)
 *   sortino      mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periods_per_year)
 *   volatility   std(r, ddof=1) * sqrt(periods_per_year)
 *   max_drawdown max over t of 1 - equity_t / peak_t, peak including the
 *                initial capital; max_drawdown_duration is the longest run of
 *                consecutive bars below the running peak.
 *   exposure     fraction of bars whose close finds a position open.
 * A ratio whose denominator is zero is NaN (no trades, no variance, ...).
 */
#ifndef ANVIL_METRICS_H
#define ANVIL_METRICS_H

#include <stdint.h>

#include "anvil.h"
#include "inline.h"

/* Sums over the bars' closing equity.
 *
 * The sums of returns are kept in two lanes that bars alternate between (the
 * next bar's lane first, swapped after every bar) and are added at the end.
 * That lets a run of bars be fed two at a time (bar_acc_hold) with the same
 * bits as feeding them one by one (bar_acc_add), as the stepping API does.
 *
 * Drawdown is kept per stretch below a peak: the lowest equity since the peak
 * (trough) and the stretch's length; a new peak closes the stretch, and the
 * stretch's depth 1 - trough / peak is its deepest point, so a bar only
 * compares. metrics_finish closes the stretch still open. */
typedef struct {
    double initial;
    double prev;      /* the last equity fed */
    double peak;      /* running peak, the initial capital included */
    double trough;    /* lowest equity since that peak */
    double sum_r, sum_r_alt;          /* sum of r: next bar's lane, the other */
    double sum_r2, sum_r2_alt;        /* sum of r^2 */
    double sum_down2, sum_down2_alt;  /* sum of min(r, 0)^2 */
    double max_dd;    /* deepest stretch closed so far */
    int64_t n;
    int64_t underwater;  /* bars below the peak so far in this stretch */
    int64_t max_underwater;
    int64_t in_market;
} bar_acc;

/* Sums over closed trades. */
typedef struct {
    int64_t n;
    int64_t wins;
    int64_t losses;
    int64_t bars_held;
    double sum_pnl;
    double gross_win;
    double gross_loss;
    double sum_ret;
    double sum_win_ret;
    double sum_loss_ret;
    double best;
    double worst;
} trade_acc;

ANVIL_INLINE bar_acc bar_acc_new(double initial_capital)
{
    bar_acc b = {0};
    b.initial = initial_capital;
    b.prev = initial_capital;
    b.peak = initial_capital;
    b.trough = initial_capital;
    return b;
}

#define BAR_ACC_SWAP(x, y)  \
    do {                    \
        double tmp_ = (x);  \
        (x) = (y);          \
        (y) = tmp_;         \
    } while (0)

/* The return r from `prev` to `equity` (0 once prev is not positive). */
ANVIL_INLINE double bar_return(double prev, double equity)
{
    return prev > 0.0 ? equity / prev - 1.0 : 0.0;
}

/* Add one return to the current lanes and move to the other lanes. */
ANVIL_INLINE void bar_acc_sum(bar_acc *b, double r)
{
    double down = r < 0.0 ? r : 0.0; /* branch-free: the sign of r is a coin flip */
    b->sum_r += r;
    b->sum_r2 += r * r;
    b->sum_down2 += down * down;
    BAR_ACC_SWAP(b->sum_r, b->sum_r_alt);
    BAR_ACC_SWAP(b->sum_r2, b->sum_r2_alt);
    BAR_ACC_SWAP(b->sum_down2, b->sum_down2_alt);
}

/* Close the stretch below the old peak at a new one. */
ANVIL_INLINE void bar_acc_new_peak(bar_acc *b, double equity)
{
    double dd = 1.0 - b->trough / b->peak;
    if (dd > b->max_dd)
        b->max_dd = dd;
    if (b->underwater > b->max_underwater)
        b->max_underwater = b->underwater;
    b->underwater = 0;
    b->peak = equity;
    b->trough = equity;
}

/* Follow drawdown through one bar's equity. */
ANVIL_INLINE void bar_acc_mark(bar_acc *b, double equity)
{
    if (equity >= b->peak) {
        bar_acc_new_peak(b, equity);
    } else {
        b->underwater += 1;
        b->trough = equity < b->trough ? equity : b->trough;
    }
}

/* Feed the equity at one bar's close. */
ANVIL_INLINE void bar_acc_add(bar_acc *b, double equity, int in_market)
{
    bar_acc_sum(b, bar_return(b->prev, equity));
    b->prev = equity;
    b->n += 1;
    b->in_market += in_market;
    bar_acc_mark(b, equity);
}

/* Feed `count` bars whose equity equals the last one fed and that hold no
 * position: each return is exactly 0, so only the counts (and lanes) move. */
ANVIL_INLINE void bar_acc_repeat(bar_acc *b, int64_t count)
{
    b->n += count;
    if (!(b->prev >= b->peak)) /* as bar_acc_mark decides, NaN equity included */
        b->underwater += count;
    if (count & 1) {
        BAR_ACC_SWAP(b->sum_r, b->sum_r_alt);
        BAR_ACC_SWAP(b->sum_r2, b->sum_r2_alt);
        BAR_ACC_SWAP(b->sum_down2, b->sum_down2_alt);
    }
}

/* The held-position loop may also run four bars a step, in copies of the bar loop
 * compiled for AVX2 and chosen at load time (backtest.c); GCC and clang on x86-64. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define ANVIL_WIDE_HOLD 1
/* The two pairs of a four-wide vector (memcpy, not a shuffle builtin: GCC before 12
 * has no __builtin_shufflevector; this compiles to one extract). */
#define HOLD_HALVES(v, lo, hi)                                                 \
    do {                                                                       \
        __builtin_memcpy(&(lo), &(v), sizeof(lo));                             \
        __builtin_memcpy(&(hi), (const char *)&(v) + sizeof(lo), sizeof(hi)); \
    } while (0)
/* ANVIL_AVX_BUILTINS: the wide paths (`wide`, reached only in the copies compiled for
 * AVX2) may call GCC's AVX builtins. GCC compiles a builtin only in code that survives
 * optimisation, and the plain copies drop those paths (`wide` is 0) once optimised; at
 * -O0, and under clang (which checks a builtin's target where it is written), they
 * are plain vector code or absent. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#define ANVIL_AVX_BUILTINS 1
#include <immintrin.h> /* declares the AVX builtins */
#else
#define ANVIL_AVX_BUILTINS 0
#endif
/* For the four-wide step: HOLD_ALL4(mask), whether a comparison held in all four
 * lanes, and HOLD_MIN4(a, b), per lane a < b ? a : b. The step is bound by how many
 * instructions it issues, and GCC turns `m[0] & m[1] & m[2] & m[3]` into six (extracts
 * and ANDs) where VMOVMSKPD is one, and a compare-and-mask into two where VMINPD is
 * one: held bars 99 -> 73 us per 100,000 in a C driver, the same bits. */
#if ANVIL_AVX_BUILTINS
#define HOLD_ALL4(mask) (__builtin_ia32_movmskpd256((v4d)(mask)) == 15)
#define HOLD_MIN4(a, b) __builtin_ia32_minpd256((a), (b))
#else
#define HOLD_ALL4(mask) ((mask)[0] & (mask)[1] & (mask)[2] & (mask)[3])
#define HOLD_MIN4(a, b) ((v4d)(((v4i)(a) & (v4i)((a) < (b))) | ((v4i)(b) & ~(v4i)((a) < (b)))))
#endif
#else
#define ANVIL_WIDE_HOLD 0
#define ANVIL_AVX_BUILTINS 0
#endif

/* Feed `count` bars holding `units` with `cash` and no order: the equity at
 * bar k is cash + units * close[k] (written to equity[k] unless NULL). Gives
 * the same bits as bar_acc_add bar by bar, two bars at a time. With `watch`
 * (a position that can lose all its equity) it stops before the first bar
 * whose equity is zero or below, which takes the full path (margin.h).
 * Returns the bars fed.
 *
 * After the first bar, the equity a bar's return divides by is recomputed from
 * the previous close (the same expression, so the same bits) rather than carried
 * from the last pair: no shuffle sits between one pair and the next. Below the
 * peak (the common case) the trough is kept per lane and folded into one value
 * when a pair reaches the peak and at the end; a minimum is exact in any order.
 * With `wide` (a constant; only where ANVIL_WIDE_HOLD, in code compiled for AVX2)
 * the pairs go four bars a step first, with the same bits. */
#if defined(__GNUC__) || defined(__clang__)
typedef double bar_v2d __attribute__((vector_size(16)));
typedef int64_t bar_v2i __attribute__((vector_size(16))); /* a comparison of two bar_v2d */
/* Per lane, a < b ? a : b: one MINPD on x86 (a one-cycle step of the loop's trough
 * chain, where a compare-and-blend is four). */
ANVIL_INLINE bar_v2d lane_min(bar_v2d a, bar_v2d b)
{
#if defined(__SSE2__)
    return __builtin_ia32_minpd(a, b);
#else
    typedef int64_t v2i_ __attribute__((vector_size(16)));
    v2i_ lower = (v2i_)(a < b);
    return (bar_v2d)(((v2i_)a & lower) | ((v2i_)b & ~lower));
#endif
}

/* Whether a comparison of two pairs held in both lanes: one MOVMSKPD on x86 (GCC makes
 * `held[0] & held[1]` three instructions). */
ANVIL_INLINE int lane_both(bar_v2i held)
{
#if defined(__SSE2__)
    return __builtin_ia32_movmskpd((bar_v2d)held) == 3;
#else
    return (held[0] & held[1]) != 0;
#endif
}

/* The running sums of a held stretch in bar_acc_hold and its four-wide steps (a local:
 * always inlined, the compiler keeps it in registers). */
typedef struct {
    bar_v2d sum_r, sum_r2, sum_down2; /* the two lanes of each sum */
    bar_v2d trough;                   /* lowest equity below the peak, per lane */
    double peak;
    int64_t underwater;
} hold_run;
#endif

#if ANVIL_WIDE_HOLD && defined(__GNUC__) && !defined(__clang__)
/* GCC warns that HOLD_MIN4's builtin returns an AVX vector in a function not compiled
 * for AVX (a change of calling convention); it is no call, and only the AVX2 copies
 * keep it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#if ANVIL_WIDE_HOLD
/* bar_acc_hold's steps of four bars (AVX2 copies only) from bar k; returns the bar it
 * stopped at. Each pair's sums are added pair after pair, as the two-bar step and bar by
 * bar add them, so the bits are the same. `watched` (a constant: one copy each way):
 * the position can lose all its equity, and a step with an equity at zero or below
 * leaves for bar_acc_hold's loops (the scalar one finds the bar). A return divides by
 * the equity before it, and is 0 when that is not above zero (bar_return); watched, every
 * such equity is one already found above zero -- the step's own first three, the last
 * step's fourth, and the bar before the stretch (fed or checked above zero there, or the
 * account would have been liquidated) -- so only the unwatched copy tests it. Each copy
 * issues the one test it needs: two instructions fewer a step watched, four unwatched. */
ANVIL_INLINE int64_t hold_steps4(bar_acc *b, hold_run *run, double cash, double units,
                                 const double *close, int64_t k, int64_t count, double *equity,
                                 const int watched)
{
    typedef bar_v2d v2d;
    typedef double v4d __attribute__((vector_size(32)));
    typedef int64_t v4i __attribute__((vector_size(32)));
    const v4d zero4 = {0.0, 0.0, 0.0, 0.0}, one4 = {1.0, 1.0, 1.0, 1.0};
    const v4d cash4 = {cash, cash, cash, cash}, units4 = {units, units, units, units};
    double peak = run->peak;
    int64_t underwater = run->underwater;
    v2d sum_r = run->sum_r, sum_r2 = run->sum_r2, sum_down2 = run->sum_down2;
    v4d peak4 = {peak, peak, peak, peak};
    v4d trough4 = {run->trough[0], run->trough[0], run->trough[0], run->trough[0]}; /* one per lane */
    for (; k + 4 <= count; k += 4) {
        v4d px, px_before;
        __builtin_memcpy(&px, close + k, sizeof px);
        __builtin_memcpy(&px_before, close + k - 1, sizeof px_before);
        v4d eq = cash4 + units4 * px;
        if (watched && !HOLD_ALL4(eq > zero4))
            break;
        v4d before = cash4 + units4 * px_before;
        v4d r = eq / before - one4;
        if (!watched)
            r = (v4d)((v4i)r & (v4i)(before > zero4));
        v4d down = HOLD_MIN4(r, zero4); /* r < 0 ? r : +0.0, NaN and -0.0 included */
        v4d r2 = r * r, down2 = down * down;
        v2d lo, hi;
        HOLD_HALVES(r, lo, hi);
        sum_r += lo;
        sum_r += hi;
        HOLD_HALVES(r2, lo, hi);
        sum_r2 += lo;
        sum_r2 += hi;
        HOLD_HALVES(down2, lo, hi);
        sum_down2 += lo;
        sum_down2 += hi;
        if (equity)
            __builtin_memcpy(equity + k, &eq, sizeof eq);
        if (HOLD_ALL4(eq < peak4)) {
            underwater += 4;
            trough4 = HOLD_MIN4(eq, trough4);
        } else {
            HOLD_HALVES(trough4, lo, hi);
            v2d low = lane_min(lo, hi);
            b->peak = peak, b->underwater = underwater;
            b->trough = low[0] < low[1] ? low[0] : low[1];
            for (int j = 0; j < 4; j++)
                bar_acc_mark(b, eq[j]);
            peak = b->peak, underwater = b->underwater;
            peak4 = (v4d){peak, peak, peak, peak};
            trough4 = (v4d){b->trough, b->trough, b->trough, b->trough};
        }
    }
    v2d lo, hi;
    HOLD_HALVES(trough4, lo, hi);
    run->trough = lane_min(lo, hi);
    run->sum_r = sum_r, run->sum_r2 = sum_r2, run->sum_down2 = sum_down2;
    run->peak = peak, run->underwater = underwater;
    return k;
}
#endif

/* Always inlined (ANVIL_INLINE): a copy of the bar loop compiled for AVX2 must hold its
 * own copy of this loop (an out-of-line one would be compiled for the plain target).
 * `after_a_bar`: close[-1] exists and the equity last fed was marked at it with this
 * cash and units, so the first bar's return may be taken from close[-1] in the pairs
 * (checked here too: an equity that differs takes the first bar alone). */
ANVIL_INLINE int64_t bar_acc_hold(bar_acc *b, double cash, double units, const double *close,
                                  int64_t count, double *equity, int watch, int after_a_bar,
                                  const int wide)
{
    int64_t k = 0;
#if defined(__GNUC__) || defined(__clang__)
    typedef bar_v2d v2d;
    typedef bar_v2i v2i;
    if (count >= 4) {
        int64_t fed = 0; /* bars fed one by one before the pairs */
        if (!(after_a_bar && b->prev == cash + units * close[-1])) {
            double eq0 = cash + units * close[0];
            if (watch && !(eq0 > 0.0))
                return 0;
            bar_acc_add(b, eq0, 1); /* its return divides by the equity before the stretch */
            if (equity)
                equity[0] = eq0;
            k = fed = 1;
        }
        const v2d zero = {0.0, 0.0}, one = {1.0, 1.0};
        const v2d vcash = {cash, cash}, vunits = {units, units};
        hold_run run = {{b->sum_r, b->sum_r_alt}, {b->sum_r2, b->sum_r2_alt},
                        {b->sum_down2, b->sum_down2_alt}, {b->trough, b->trough},
                        b->peak, b->underwater};
#if ANVIL_WIDE_HOLD
        if (wide)
            k = watch ? hold_steps4(b, &run, cash, units, close, k, count, equity, 1)
                      : hold_steps4(b, &run, cash, units, close, k, count, equity, 0);
#else
        (void)wide;
#endif
        v2d vpeak = {run.peak, run.peak};
        for (; k + 2 <= count; k += 2) {
            v2d px, px_before;
            __builtin_memcpy(&px, close + k, sizeof px);
            __builtin_memcpy(&px_before, close + k - 1, sizeof px_before);
            v2d eq = vcash + vunits * px;
            if (watch && !lane_both(eq > zero))
                break; /* the scalar loop finds which bar */
            v2d before = vcash + vunits * px_before;
            v2d r = eq / before - one;
            r = (v2d)((v2i)r & (v2i)(before > zero));
            v2d down = lane_min(r, zero); /* as in the four-wide step */
            run.sum_r += r;
            run.sum_r2 += r * r;
            run.sum_down2 += down * down;
            if (equity)
                __builtin_memcpy(equity + k, &eq, sizeof eq);
            if (lane_both(eq < vpeak)) { /* below the peak: the common case */
                run.underwater += 2;
                run.trough = lane_min(eq, run.trough);
            } else {
                b->peak = run.peak, b->underwater = run.underwater;
                b->trough = run.trough[0] < run.trough[1] ? run.trough[0] : run.trough[1];
                bar_acc_mark(b, eq[0]);
                bar_acc_mark(b, eq[1]);
                run.peak = b->peak, run.underwater = b->underwater;
                vpeak = (v2d){run.peak, run.peak};
                run.trough = (v2d){b->trough, b->trough};
            }
        }
        b->sum_r = run.sum_r[0], b->sum_r_alt = run.sum_r[1];
        b->sum_r2 = run.sum_r2[0], b->sum_r2_alt = run.sum_r2[1];
        b->sum_down2 = run.sum_down2[0], b->sum_down2_alt = run.sum_down2[1];
        if (k > fed)
            b->prev = cash + units * close[k - 1];
        b->peak = run.peak, b->underwater = run.underwater;
        b->trough = run.trough[0] < run.trough[1] ? run.trough[0] : run.trough[1];
        b->n += k - fed;
        b->in_market += k - fed;
    }
#endif
    for (; k < count; k++) {
        double eq = cash + units * close[k];
        if (watch && !(eq > 0.0))
            break;
        bar_acc_add(b, eq, 1);
        if (equity)
            equity[k] = eq;
    }
    return k;
}
#if ANVIL_WIDE_HOLD && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

ANVIL_INLINE void trade_acc_add(trade_acc *m, double pnl, double ret, int64_t bars_held)
{
    if (m->n == 0) {
        m->best = ret;
        m->worst = ret;
    } else {
        if (ret > m->best)
            m->best = ret;
        if (ret < m->worst)
            m->worst = ret;
    }
    m->n += 1;
    m->sum_pnl += pnl;
    m->sum_ret += ret;
    m->bars_held += bars_held;
    /* Branch-free (a trade's sign is a coin flip): adding or subtracting +0.0
     * leaves every sum's bits as they were. */
    int win = pnl > 0.0, loss = pnl < 0.0;
    m->wins += win;
    m->losses += loss;
    m->gross_win += win ? pnl : 0.0;
    m->sum_win_ret += win ? ret : 0.0;
    m->gross_loss -= loss ? pnl : 0.0;
    m->sum_loss_ret += loss ? ret : 0.0;
}

/* Turn the sums into the stats record. */
void metrics_finish(const bar_acc *b, const trade_acc *m, double total_fees,
                    double periods_per_year, anvil_stats *out);

#endif /* ANVIL_METRICS_H */

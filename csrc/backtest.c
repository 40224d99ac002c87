/*
 * backtest.c -- the bar loop: signals to orders, fills, risk exits, marking.
 *
 * Order of events within bar t:
 *   next_open: the order from signal[t-1] fills at open[t]; risk exits run over
 *              bar t (a position entered at this open is already exposed);
 *              equity is marked at close[t]; signal[t] is read for open[t+1].
 *   close:     risk exits run over bar t for the position carried into it;
 *              signal[t] fills at close[t]; equity is marked at close[t].
 * A signal orders only when it differs from the last signal that was not
 * HOLD / NaN (the first bar compares with flat). A signal on the last bar does
 * not fill. close_at_end closes what is open at the last close.
 * After each bar's fills, a position whose equity at the close is zero or below
 * is liquidated there and the account trades no more (margin.h).
 * The config's risk rules (rules.h) act at each bar's fill point: the drawdown
 * halt and the daily loss limit before that point's order, max_weight and the
 * cool-down on the order itself; a stop exit starts the cool-down.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "anvil.h"
#include "check.h"
#include "inline.h"
#include "margin.h"
#include "metrics.h"
#include "risk.h"
#include "rules.h"

int64_t anvil_max_events(int64_t n_bars)
{
    /* Per bar at most: a drawdown halt, a daily loss limit, a capped order and
     * a cool-down. */
    if (n_bars < 0)
        return 0;
    return n_bars > INT64_MAX / 4 ? INT64_MAX : 4 * n_bars;
}

int64_t anvil_max_trades(int64_t n_bars)
{
    /* At most one signal fill and one risk exit per bar, plus the end. */
    if (n_bars < 0)
        return 0;
    return n_bars > (INT64_MAX - 1) / 2 ? INT64_MAX : 2 * n_bars + 1;
}

/* The last signal that was not HOLD / NaN, kept in the signal's own type. */
typedef struct {
    double f64;
    int8_t i8;
} last_signal;

/* Whether the signal value at t is one a signal may hold (checked on the last
 * bar too, where it is never acted on). */
ANVIL_INLINE int signal_allowed(const void *sig, int kind, int64_t t)
{
    if (kind == ANVIL_SIGNAL_I8) {
        int8_t s = ((const int8_t *)sig)[t];
        return s == ANVIL_HOLD || (s >= -1 && s <= 1);
    }
    return !isinf(((const double *)sig)[t]);
}

/* Reads the signal at t. Returns 1 when it asks for a new target (in *target),
 * 0 when it changes nothing, -1 when the value is not allowed. */
ANVIL_INLINE int read_signal(const void *sig, int kind, int64_t t, last_signal *last,
                             double max_leverage, int allow_short, double *target, double *asked)
{
    double v;
    if (kind == ANVIL_SIGNAL_I8) {
        int8_t s = ((const int8_t *)sig)[t];
        if (s == ANVIL_HOLD || s == last->i8)
            return 0;
        if (s < -1 || s > 1)
            return -1;
        last->i8 = s;
        v = (double)s;
    } else {
        v = ((const double *)sig)[t];
        if (isnan(v) || v == last->f64)
            return 0;
        if (isinf(v))
            return -1;
        last->f64 = v;
    }
    *target = account_cap_target(v, max_leverage, allow_short);
    *asked = v < 0.0 && !allow_short ? 0.0 : v;
    return 1;
}

/* Per byte of w, the top bit set where the byte is not zero (exact: no carry
 * crosses a byte). */
ANVIL_INLINE uint64_t nonzero_bytes(uint64_t w)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    return (((w & low7) + low7) | w) & ~low7;
}

/* The first bar in [t, stop) whose signal asks for a change (or stop). int8
 * signals are read eight bars at a time, or 32 in the AVX2 copies (`wide`):
 * two byte compares and one VPMOVMSKB a step (a trade-heavy run 152 -> 147 us,
 * 100,000 held bars 73 -> 65 us in a C driver). */
ANVIL_INLINE int64_t next_change(const void *sig, int kind, int64_t t, int64_t stop,
                                 const last_signal *last, const int wide)
{
    if (kind == ANVIL_SIGNAL_I8) {
        const int8_t *s = (const int8_t *)sig;
        const int8_t same = last->i8;
#if ANVIL_AVX_BUILTINS
        if (wide) {
            typedef char v32c __attribute__((vector_size(32)));
            const v32c as_same32 = (v32c){0} + (char)same;
            const v32c as_hold32 = (v32c){0} + (char)ANVIL_HOLD;
            while (t + 32 <= stop) {
                v32c w;
                memcpy(&w, s + t, sizeof w);
                v32c changes = (v32c)((w != as_same32) & (w != as_hold32));
                unsigned mask = (unsigned)__builtin_ia32_pmovmskb256(changes);
                if (mask)
                    return t + __builtin_ctz(mask); /* the first such byte */
                t += 32;
            }
        }
#else
        (void)wide;
#endif
        const uint64_t ones = 0x0101010101010101ULL;
        const uint64_t as_same = ones * (uint8_t)same, as_hold = ones * (uint8_t)ANVIL_HOLD;
        while (t + 8 <= stop) {
            uint64_t w;
            memcpy(&w, s + t, sizeof w);
            uint64_t changes = nonzero_bytes(w ^ as_same) & nonzero_bytes(w ^ as_hold);
            if (changes) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                return t + (__builtin_ctzll(changes) >> 3); /* the first such byte */
#else
                break; /* found byte by byte below */
#endif
            }
            t += 8;
        }
        while (t < stop && (s[t] == ANVIL_HOLD || s[t] == same))
            t++;
    } else {
        const double *s = (const double *)sig;
        const double same = last->f64;
        while (t < stop && (isnan(s[t]) || s[t] == same))
            t++;
    }
    return t;
}

/* Fill the order to `target` (asked: the exposure before the caps) at raw price. */
ANVIL_INLINE void fill_order(account *a, rule_book *rb, int any_rules, int64_t t, double target,
                             double asked, double price)
{
    if (any_rules)
        account_to_target_gated(a, t, rules_cap(rb, t, target, asked), price,
                                rules_may_grow(rb, t));
    else
        account_to_target(a, t, target, price);
}

/* The config's stop-loss, take-profit and trailing stop over bar t. */
ANVIL_INLINE void exits(account *a, const risk_rules *risk, rule_book *rb, int64_t t, double o,
                        double h, double l)
{
    int why = risk_check(a, risk, t, o, h, l);
    if (why >= 0)
        rules_exit(rb, t, why);
}

ANVIL_INLINE int simulate(const anvil_bars *bars, const void *sig, const int kind, const int fill,
                          const anvil_config *cfg, anvil_stats *stats, double *equity,
                          anvil_trade *trades, int64_t trades_cap, int64_t *n_trades,
                          anvil_pf_event *events, int64_t events_cap, int64_t *n_events,
                          int64_t *bad_index, const int wide)
{
    const double *o = bars->open, *h = bars->high, *l = bars->low, *c = bars->close;
    const int64_t last = bars->n - 1;
    trade_acc closed = {0};
    account a;
    account_init(&a, cfg, &closed, trades, trades_cap);
    bar_acc b = bar_acc_new(cfg->initial_capital); /* never escapes: stays in registers */
    const risk_rules risk = risk_from_config(cfg);
    const double max_lev = cfg->max_leverage;
    const int allow_short = cfg->allow_short;
    last_signal seen = {0.0, 0};
    rule_book rb;
    rules_init(&rb, cfg, bars->ts, events, events_cap);
    /* Fixed for the run: held in locals the compiler can see never change. */
    const int gate = rb.gate, any_rules = rb.any, risk_on = risk.on;
    double target = 0.0, asked = 0.0;
    int pending = 0;
    int64_t t = 0;

    while (t < last) {
        if (!pending && a.units != 0.0 && !risk_on && !gate) {
            /* Holding, nothing pending, no risk exits: until the signal changes,
             * each bar only marks the position. */
            int64_t next = next_change(sig, kind, t, last, &seen, wide);
            /* A bar whose close calls the position in takes the full path. */
            int watch = margin_possible(&a);
            t += bar_acc_hold(&b, a.cash, a.units, c + t, next - t, equity ? equity + t : NULL, watch,
                              t > 0, wide);
            if (t == last)
                break;
        }
        if (!pending && a.units == 0.0 && !gate) {
            /* Flat with nothing to do until the signal changes: equity stays at
             * cash (the last mark) and every return is exactly 0. */
            int64_t next = next_change(sig, kind, t, last, &seen, wide);
            if (next > t) {
                bar_acc_repeat(&b, next - t);
                if (equity)
                    for (int64_t k = t; k < next; k++)
                        equity[k] = a.cash;
                t = next;
                if (t == last)
                    break;
            }
        }
        if (gate)
            rules_new_bar(&rb, t);
        if (fill == ANVIL_FILL_NEXT_OPEN) {
            int ignore = gate && t > 0 ? rules_gate(&rb, &a, t, o[t]) : 0;
            if (pending) {
                if (!ignore)
                    fill_order(&a, &rb, any_rules, t, target, asked, o[t]);
                pending = 0;
            }
            if (risk_on && a.units != 0.0)
                exits(&a, &risk, &rb, t, o[t], h[t], l[t]);
            pending = read_signal(sig, kind, t, &seen, max_lev, allow_short, &target, &asked);
            if (pending < 0)
                goto bad_signal;
        } else {
            if (risk_on && a.units != 0.0)
                exits(&a, &risk, &rb, t, o[t], h[t], l[t]);
            int ignore = gate ? rules_gate(&rb, &a, t, c[t]) : 0;
            int s = read_signal(sig, kind, t, &seen, max_lev, allow_short, &target, &asked);
            if (s < 0)
                goto bad_signal;
            if (s && !ignore)
                fill_order(&a, &rb, any_rules, t, target, asked, c[t]);
        }
        int called = margin_call(&a, c[t]);
        if (called)
            margin_liquidate(&a, t, c[t]);
        double eq = account_equity(&a, c[t]);
        bar_acc_add(&b, eq, a.units != 0.0);
        if (equity)
            equity[t] = eq;
        if (gate)
            rules_mark(&rb, eq);
        if (called)
            goto halted;
        t++;
    }

    /* The last bar: its signal is checked but never acted on. */
    if (gate)
        rules_new_bar(&rb, last);
    if (fill == ANVIL_FILL_NEXT_OPEN) {
        int ignore = gate && last > 0 ? rules_gate(&rb, &a, last, o[last]) : 0;
        if (pending && !ignore)
            fill_order(&a, &rb, any_rules, last, target, asked, o[last]);
    }
    if (risk_on && a.units != 0.0)
        exits(&a, &risk, &rb, last, o[last], h[last], l[last]);
    t = last;
    if (!signal_allowed(sig, kind, last))
        goto bad_signal;
    if (margin_call(&a, c[last]))
        margin_liquidate(&a, last, c[last]);
    if (cfg->close_at_end)
        account_close(&a, last, c[last], ANVIL_EXIT_END);
    double eq = account_equity(&a, c[last]);
    bar_acc_add(&b, eq, a.units != 0.0);
    if (equity)
        equity[last] = eq;

finish:
    metrics_finish(&b, &closed, a.total_fees, cfg->periods_per_year, stats);
    if (n_trades)
        *n_trades = a.n_trades;
    if (n_events)
        *n_events = rb.n_events;
    if ((trades && a.n_trades > trades_cap) || (events && rb.n_events > events_cap))
        return ANVIL_E_CAPACITY;
    return ANVIL_OK;

halted:
    /* Liquidated at bar t: later signals are still checked, never acted on, and
     * every later bar marks the cash that is left (each return exactly 0). */
    for (int64_t k = t + 1; k <= last; k++) {
        if (!signal_allowed(sig, kind, k)) {
            t = k;
            goto bad_signal;
        }
    }
    bar_acc_repeat(&b, last - t);
    if (equity)
        for (int64_t k = t + 1; k <= last; k++)
            equity[k] = a.cash;
    goto finish;

bad_signal:
    if (bad_index)
        *bad_index = t;
    return ANVIL_E_SIGNAL;
}

/* One specialised copy of the loop per signal kind, fill mode and whether it
 * writes outputs (a batch's stats-only copy carries no output branches); on x86-64
 * each has a second copy compiled for AVX2, whose held-position loop goes four bars
 * a step (metrics.h), used when the CPU has AVX2. Both give the same bits:
 * ANVIL_CORE_NARROW=1 in the environment when the library loads picks the first
 * copies anyway (the tests compare the two). */
#define ANVIL_SIM_ARGS                                                                     \
    const anvil_bars *b, const void *sig, const anvil_config *cfg, anvil_stats *stats,     \
        double *equity, anvil_trade *trades, int64_t cap, int64_t *n_trades,               \
        anvil_pf_event *events, int64_t ev_cap, int64_t *n_events, int64_t *bad
#define ANVIL_SIM_VARIANT(name, kind, fill, outputs, wide, attr)                           \
    attr static int name(ANVIL_SIM_ARGS)                                                   \
    {                                                                                      \
        return simulate(b, sig, kind, fill, cfg, stats, (outputs) ? equity : NULL,         \
                        (outputs) ? trades : NULL, cap, n_trades,                          \
                        (outputs) ? events : NULL, ev_cap, n_events, bad, wide);           \
    }
#define ANVIL_SIM_VARIANTS(prefix, wide, attr)                                                   \
    ANVIL_SIM_VARIANT(prefix##sim_i8_open, ANVIL_SIGNAL_I8, ANVIL_FILL_NEXT_OPEN, 1, wide, attr) \
    ANVIL_SIM_VARIANT(prefix##sim_i8_close, ANVIL_SIGNAL_I8, ANVIL_FILL_CLOSE, 1, wide, attr)    \
    ANVIL_SIM_VARIANT(prefix##sim_f64_open, ANVIL_SIGNAL_F64, ANVIL_FILL_NEXT_OPEN, 1, wide, attr) \
    ANVIL_SIM_VARIANT(prefix##sim_f64_close, ANVIL_SIGNAL_F64, ANVIL_FILL_CLOSE, 1, wide, attr)  \
    ANVIL_SIM_VARIANT(prefix##stats_i8_open, ANVIL_SIGNAL_I8, ANVIL_FILL_NEXT_OPEN, 0, wide, attr) \
    ANVIL_SIM_VARIANT(prefix##stats_i8_close, ANVIL_SIGNAL_I8, ANVIL_FILL_CLOSE, 0, wide, attr)  \
    ANVIL_SIM_VARIANT(prefix##stats_f64_open, ANVIL_SIGNAL_F64, ANVIL_FILL_NEXT_OPEN, 0, wide, attr) \
    ANVIL_SIM_VARIANT(prefix##stats_f64_close, ANVIL_SIGNAL_F64, ANVIL_FILL_CLOSE, 0, wide, attr)

typedef int (*sim_fn)(ANVIL_SIM_ARGS);

ANVIL_SIM_VARIANTS(, 0, )
#define ANVIL_SIM_TABLE(prefix)                                                            \
    {                                                                                      \
        {{prefix##stats_i8_open, prefix##stats_i8_close},                                  \
         {prefix##stats_f64_open, prefix##stats_f64_close}},                               \
        {{prefix##sim_i8_open, prefix##sim_i8_close}, {prefix##sim_f64_open, prefix##sim_f64_close}}, \
    }
static const sim_fn narrow[2][2][2] = ANVIL_SIM_TABLE();

#if ANVIL_WIDE_HOLD
ANVIL_SIM_VARIANTS(wide_, 1, __attribute__((target("avx2"))))
static const sim_fn wide[2][2][2] = ANVIL_SIM_TABLE(wide_);
static const sim_fn (*loops)[2][2] = narrow;

/* At load time: the AVX2 copies when the CPU has AVX2 and ANVIL_CORE_NARROW is unset or 0. */
__attribute__((constructor)) static void choose_loops(void)
{
    const char *narrow_asked = getenv("ANVIL_CORE_NARROW");
    int asked = narrow_asked != NULL && narrow_asked[0] != '\0' && strcmp(narrow_asked, "0") != 0;
    __builtin_cpu_init();
    loops = !asked && __builtin_cpu_supports("avx2") ? wide : narrow;
}
#else
static const sim_fn (*const loops)[2][2] = narrow;
#endif

int anvil_core_wide(void)
{
    return loops != narrow;
}

static sim_fn pick(int32_t kind, int32_t fill, int outputs)
{
    return loops[outputs != 0][kind == ANVIL_SIGNAL_F64][fill == ANVIL_FILL_CLOSE];
}

int anvil_backtest(const anvil_bars *bars, const void *signal, int32_t signal_kind,
                   const anvil_config *cfg, anvil_stats *stats, double *equity,
                   anvil_trade *trades, int64_t trades_cap, int64_t *n_trades,
                   int64_t *bad_index)
{
    return anvil_backtest_events(bars, signal, signal_kind, cfg, stats, equity, trades,
                                 trades_cap, n_trades, NULL, 0, NULL, bad_index);
}

int anvil_backtest_events(const anvil_bars *bars, const void *signal, int32_t signal_kind,
                          const anvil_config *cfg, anvil_stats *stats, double *equity,
                          anvil_trade *trades, int64_t trades_cap, int64_t *n_trades,
                          anvil_pf_event *events, int64_t events_cap, int64_t *n_events,
                          int64_t *bad_index)
{
    if (signal == NULL || stats == NULL)
        return ANVIL_E_NULL;
    if (signal_kind != ANVIL_SIGNAL_I8 && signal_kind != ANVIL_SIGNAL_F64)
        return ANVIL_E_KIND;
    if ((trades != NULL && trades_cap < 0) || (events != NULL && events_cap < 0))
        return ANVIL_E_SIZE;
    int rc = anvil_check_config(cfg);
    if (rc != ANVIL_OK)
        return rc;
    rc = check_bars_unless_checked(bars, bad_index);
    if (rc != ANVIL_OK)
        return rc;
    if (cfg->daily_loss_limit > 0.0 && bars->ts == NULL)
        return ANVIL_E_NULL;
    sim_fn run = pick(signal_kind, cfg->fill, equity != NULL || trades != NULL || events != NULL);
    return run(bars, signal, cfg, stats, equity, trades, trades_cap, n_trades, events, events_cap,
               n_events, bad_index);
}

int anvil_batch(const anvil_bars *bars, const void *signals, int32_t signal_kind,
                int64_t n_runs, const anvil_config *cfgs, int64_t n_cfgs,
                anvil_stats *stats, int64_t *bad_index)
{
    if (signals == NULL || stats == NULL || cfgs == NULL)
        return ANVIL_E_NULL;
    if (signal_kind != ANVIL_SIGNAL_I8 && signal_kind != ANVIL_SIGNAL_F64)
        return ANVIL_E_KIND;
    if (n_runs < 0 || (n_cfgs != 1 && n_cfgs != n_runs))
        return ANVIL_E_SIZE;
    int rc = check_bars_unless_checked(bars, bad_index);
    if (rc != ANVIL_OK)
        return rc;
    const int64_t n = bars->n;
    if (n_runs > 0 && n > INT64_MAX / 8 / n_runs)
        return ANVIL_E_SIZE;
    for (int64_t k = 0; k < n_cfgs; k++) {
        rc = anvil_check_config(&cfgs[k]);
        if (rc != ANVIL_OK)
            return rc;
        if (cfgs[k].daily_loss_limit > 0.0 && bars->ts == NULL)
            return ANVIL_E_NULL;
    }
    const size_t width = signal_kind == ANVIL_SIGNAL_I8 ? sizeof(int8_t) : sizeof(double);
    for (int64_t run = 0; run < n_runs; run++) {
        const anvil_config *cfg = &cfgs[n_cfgs == 1 ? 0 : run];
        const void *sig = (const char *)signals + (size_t)run * (size_t)n * width;
        int64_t bad = 0;
        rc = pick(signal_kind, cfg->fill, 0)(bars, sig, cfg, &stats[run], NULL, NULL, 0, NULL, NULL,
                                             0, NULL, &bad);
        if (rc != ANVIL_OK) {
            if (bad_index)
                *bad_index = run * n + bad;
            return rc;
        }
    }
    return ANVIL_OK;
}

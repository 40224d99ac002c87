/*
 * hostile.c -- drive every public entry point of csrc/anvil.h with hostile and
 * random input: the signal loop (anvil_backtest, anvil_batch), the stepping
 * API (anvil_sim_*), the indicators, anvil_compare_rows,
 * anvil_stats_from_equity and the cross-sectional blocks of cross.h. `make
 * sanitize` builds it with the core sources under AddressSanitizer and
 * UndefinedBehaviorSanitizer (-fno-sanitize-recover=all: any report aborts).
 *
 * Beyond "no sanitizer report", it checks that
 *   - every call returns a status the header defines, and the one its input
 *     calls for (NULL -> ANVIL_E_NULL, bad count -> ANVIL_E_SIZE, ...);
 *   - on ANVIL_E_PRICE / ANVIL_E_SIGNAL, *bad_index is the first bad bar;
 *   - a trade buffer too small gives ANVIL_E_CAPACITY and the true trade count,
 *     and nothing is written past any buffer (every buffer is an exact-size heap
 *     block, so ASan sees a write one element too far);
 *   - results are well formed: counts are whole and in range, fractions lie in
 *     [0, 1], trades point at real bars, equity and indicator outputs are
 *     written for every bar, and with moderate inputs every number is finite
 *     (NaN only where a ratio has no denominator);
 *   - the same input gives the same numbers alone, in a batch, and stepped.
 *
 * Deterministic (seeded xorshift). Uses only what anvil.h declares; status codes
 * are the header's macros. Prints "hostile: N calls, F failures" and exits
 * non-zero when F > 0; `hostile 10` runs ten times as many random cases.
 * Passing a length beyond a buffer's real size is a caller contract violation
 * in C (pointer + length), so it is not tested here.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anvil.h"

/* ---- bookkeeping ---------------------------------------------------------- */

static long n_calls;
static long n_failures;
static const char *section = "";

#define CALL(expr) (n_calls++, (expr))

static void fail(const char *fmt, ...)
{
    n_failures++;
    if (n_failures > 50)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hostile: FAIL [%s] ", section);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *status_name(int rc)
{
    switch (rc) {
    case ANVIL_OK: return "ANVIL_OK";
    case ANVIL_E_NULL: return "ANVIL_E_NULL";
    case ANVIL_E_SIZE: return "ANVIL_E_SIZE";
    case ANVIL_E_PRICE: return "ANVIL_E_PRICE";
    case ANVIL_E_SIGNAL: return "ANVIL_E_SIGNAL";
    case ANVIL_E_CONFIG: return "ANVIL_E_CONFIG";
    case ANVIL_E_CAPACITY: return "ANVIL_E_CAPACITY";
    case ANVIL_E_KIND: return "ANVIL_E_KIND";
    case ANVIL_E_STATE: return "ANVIL_E_STATE";
    default: return "(no status anvil.h defines)";
    }
}

/* rc must be one of the statuses in want[0 .. n_want). */
static int expect_in(const char *what, int rc, const int *want, int n_want)
{
    for (int k = 0; k < n_want; k++)
        if (rc == want[k])
            return 1;
    char buf[200] = "";
    for (int k = 0; k < n_want; k++) {
        strncat(buf, k ? " or " : "", sizeof buf - strlen(buf) - 1);
        strncat(buf, status_name(want[k]), sizeof buf - strlen(buf) - 1);
    }
    fail("%s: got %s (%d), want %s", what, status_name(rc), rc, buf);
    return 0;
}

static int expect_rc(const char *what, int rc, int want)
{
    return expect_in(what, rc, &want, 1);
}

static int expect_rc2(const char *what, int rc, int want1, int want2)
{
    int want[2] = {want1, want2};
    return expect_in(what, rc, want, 2);
}

static void expect_i64(const char *what, int64_t got, int64_t want)
{
    if (got != want)
        fail("%s: got %lld, want %lld", what, (long long)got, (long long)want);
}

static void expect_true(const char *what, int ok)
{
    if (!ok)
        fail("%s", what);
}

/* ---- random numbers (xorshift64*) ----------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_u64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static double uniform(void) /* [0, 1) */
{
    return (double)(next_u64() >> 11) * 0x1.0p-53;
}

static int64_t below(int64_t k) /* [0, k), k > 0 */
{
    return (int64_t)(next_u64() % (uint64_t)k);
}

static int chance(double p)
{
    return uniform() < p;
}

static double log_uniform(double lo, double hi)
{
    return exp(log(lo) + uniform() * (log(hi) - log(lo)));
}

static double gaussian(void)
{
    double u = uniform() + 0x1.0p-60, v = uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- exact-size heap buffers ---------------------------------------------- */

/* malloc that never fails quietly and gives at least one byte, so a buffer of
 * zero elements is still a real pointer whose every element access ASan sees. */
static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL) {
        fputs("hostile: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

/* Equity slots start as this signalling-NaN pattern, which arithmetic never
 * produces, so a slot the core did not write is recognisable. */
#define UNWRITTEN 0x7FF0DEADBEEF0001ULL

static double *equity_new(int64_t n)
{
    double *e = xmalloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        memcpy(&e[i], &(uint64_t){UNWRITTEN}, sizeof(double));
    return e;
}

static int unwritten(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits == UNWRITTEN;
}

static int same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

_Static_assert(sizeof(anvil_stats) % sizeof(double) == 0, "anvil_stats holds only doubles");
#define N_STATS ((int)(sizeof(anvil_stats) / sizeof(double)))

/* Index of the first stats field that differs, or -1. */
static int stats_differ(const anvil_stats *a, const anvil_stats *b)
{
    double x[N_STATS], y[N_STATS];
    memcpy(x, a, sizeof x);
    memcpy(y, b, sizeof y);
    for (int k = 0; k < N_STATS; k++)
        if (!same_double(x[k], y[k]))
            return k;
    return -1;
}

static int same_trade(const anvil_trade *a, const anvil_trade *b)
{
    return a->entry_bar == b->entry_bar && a->exit_bar == b->exit_bar
           && same_double(a->units, b->units) && same_double(a->entry_price, b->entry_price)
           && same_double(a->exit_price, b->exit_price)
           && same_double(a->entry_fees, b->entry_fees)
           && same_double(a->exit_fees, b->exit_fees) && same_double(a->pnl, b->pnl)
           && same_double(a->ret, b->ret) && a->direction == b->direction
           && a->exit_reason == b->exit_reason;
}

/* ---- bars ----------------------------------------------------------------- */

typedef struct {
    double *open, *high, *low, *close;
    int64_t *ts;
    anvil_bars b;
} owned_bars;

static owned_bars bars_new(int64_t n)
{
    owned_bars ob;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof(double);
    ob.open = xmalloc(size);
    ob.high = xmalloc(size);
    ob.low = xmalloc(size);
    ob.close = xmalloc(size);
    ob.ts = xmalloc((size_t)(n > 0 ? n : 0) * sizeof(int64_t));
    /* Bar times for the daily loss limit: from before or after 1970 (the day is a
     * floor), 1 to 30 bars a day, with the odd jump of days. */
    int64_t step = 86400000000000LL / (1 + below(30)), at = (below(2) ? -1 : 1) * below(1LL << 40) * 1000000LL;
    for (int64_t i = 0; i < n; i++) {
        ob.ts[i] = at;
        at += chance(0.05) ? 3 * 86400000000000LL : step;
    }
    ob.b = (anvil_bars){ob.open, ob.high, ob.low, ob.close, n, ob.ts};
    return ob;
}

static void bars_free(owned_bars *ob)
{
    free(ob->open);
    free(ob->high);
    free(ob->low);
    free(ob->close);
    free(ob->ts);
}

/* A random walk from p0 with per-bar volatility sigma: some gaps at the open,
 * some bars with open = high = low = close. Every bar is valid. */
static void bars_fill(owned_bars *ob, double p0, double sigma)
{
    double prev = p0;
    for (int64_t i = 0; i < ob->b.n; i++) {
        double o = chance(0.1) ? prev * exp(3.0 * sigma * gaussian()) : prev;
        double c = chance(0.03) ? o : o * exp(sigma * gaussian());
        double h = fmax(o, c), l = fmin(o, c);
        if (!chance(0.05)) {
            h *= exp(sigma * fabs(gaussian()));
            l *= exp(-sigma * fabs(gaussian()));
        }
        if (!isfinite(h))
            h = fmax(o, c);
        if (!(l > 0.0))
            l = fmin(o, c);
        ob->open[i] = o;
        ob->high[i] = h;
        ob->low[i] = l;
        ob->close[i] = c;
        prev = c;
    }
}

/* Bars in a narrow range that zigzag, so signals and risk levels trade often. */
static owned_bars bars_zigzag(int64_t n)
{
    owned_bars ob = bars_new(n);
    for (int64_t i = 0; i < n; i++) {
        double mid = 100.0 + ((i % 4) < 2 ? 5.0 : -5.0) + (double)(i % 7);
        ob.open[i] = mid;
        ob.close[i] = mid + ((i % 3) - 1.0);
        ob.high[i] = fmax(ob.open[i], ob.close[i]) + 3.0;
        ob.low[i] = fmin(ob.open[i], ob.close[i]) - 3.0;
    }
    return ob;
}

/* Our own reading of a valid bar, to predict the core's answer. */
static int bar_ok(const owned_bars *ob, int64_t i)
{
    double o = ob->open[i], h = ob->high[i], l = ob->low[i], c = ob->close[i];
    return isfinite(o) && isfinite(h) && isfinite(l) && isfinite(c) && l > 0.0 && l <= o
           && o <= h && l <= c && c <= h;
}

static int64_t first_bad_bar(const owned_bars *ob)
{
    for (int64_t i = 0; i < ob->b.n; i++)
        if (!bar_ok(ob, i))
            return i;
    return -1;
}

#define N_BAR_FAULTS 10
static const char *const bar_fault_names[N_BAR_FAULTS] = {
    "NaN", "+inf", "-inf", "zero", "-0.0", "negative", "high < low",
    "open > high", "close < low", "-NaN"};

/* Make bar i bad in way `how` (field: 0 open, 1 high, 2 low, 3 close). */
static void bar_spoil(owned_bars *ob, int64_t i, int field, int how)
{
    double *col[4] = {ob->open, ob->high, ob->low, ob->close};
    double *f = col[field];
    switch (how) {
    case 0: f[i] = NAN; break;
    case 1: f[i] = INFINITY; break;
    case 2: f[i] = -INFINITY; break;
    case 3: f[i] = 0.0; break;
    case 4: f[i] = -0.0; break;
    case 5: f[i] = -fabs(f[i]) - 1.0; break;
    case 6: {
        double hi = ob->high[i];
        ob->high[i] = ob->low[i] * 0.5;
        ob->low[i] = hi;
        ob->open[i] = ob->close[i] = 0.5 * (ob->high[i] + ob->low[i]);
    } break;
    case 7: ob->open[i] = ob->high[i] * 1.5; break;
    case 8: ob->close[i] = ob->low[i] * 0.5; break;
    default: f[i] = -NAN; break;
    }
}

/* ---- signals -------------------------------------------------------------- */

static size_t signal_width(int32_t kind)
{
    return kind == ANVIL_SIGNAL_I8 ? sizeof(int8_t) : sizeof(double);
}

static int i8_allowed(int8_t v)
{
    return v == -1 || v == 0 || v == 1 || v == ANVIL_HOLD;
}

static int signal_ok(const void *sig, int32_t kind, int64_t i)
{
    if (kind == ANVIL_SIGNAL_I8)
        return i8_allowed(((const int8_t *)sig)[i]);
    return !isinf(((const double *)sig)[i]);
}

static int64_t first_bad_signal(const void *sig, int32_t kind, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!signal_ok(sig, kind, i))
            return i;
    return -1;
}

/* Random runs of signal values; `extreme` adds huge, tiny and negative-zero
 * float targets. p_change sets how often the value changes. */
static void signal_fill(void *sig, int32_t kind, int64_t n, double p_change, int extreme)
{
    if (kind == ANVIL_SIGNAL_I8) {
        static const int8_t values[4] = {-1, 0, 1, ANVIL_HOLD};
        int8_t *s = sig, cur = 0;
        for (int64_t i = 0; i < n; i++) {
            if (chance(p_change))
                cur = values[below(4)];
            s[i] = chance(0.05) ? (int8_t)ANVIL_HOLD : cur;
        }
        return;
    }
    double *s = sig, cur = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (chance(p_change)) {
            switch (below(extreme ? 12 : 8)) {
            case 0: cur = 0.0; break;
            case 1: cur = 1.0; break;
            case 2: cur = -1.0; break;
            case 3: cur = 0.5; break;
            case 4: cur = -0.25; break;
            case 5: cur = NAN; break;
            case 6: cur = 6.0 * uniform() - 3.0; break;
            case 7: cur = 2.0; break;
            case 8: cur = chance(0.5) ? 1e300 : -DBL_MAX; break;
            case 9: cur = chance(0.5) ? 0x1p-1074 : -1e-300; break;
            case 10: cur = -0.0; break;
            default: cur = -NAN; break;
            }
        }
        s[i] = cur;
    }
}

/* Put a value outside the allowed set at i. */
static void signal_spoil(void *sig, int32_t kind, int64_t i)
{
    if (kind == ANVIL_SIGNAL_I8) {
        int8_t v;
        do
            v = (int8_t)(below(256) - 128);
        while (i8_allowed(v));
        ((int8_t *)sig)[i] = v;
    } else {
        ((double *)sig)[i] = chance(0.5) ? INFINITY : -INFINITY;
    }
}

/* ---- configs -------------------------------------------------------------- */

static anvil_config config_default(void)
{
    anvil_config c;
    memset(&c, 0, sizeof c);
    c.initial_capital = 10000.0;
    c.max_leverage = 1.0;
    c.periods_per_year = 252.0;
    c.fill = ANVIL_FILL_NEXT_OPEN;
    c.halt_bars = 1;
    return c;
}

/* The double fields of anvil_config with the edges of their ranges. */
typedef struct {
    const char *name;
    size_t offset;
    double lowest_ok;  /* the smallest value allowed */
    double too_low;    /* the largest value refused below the range */
    double too_high;   /* the smallest value refused above it (inf: none) */
} config_field;

#define TINY 0x1p-1074 /* the smallest positive double */

static const config_field config_fields[] = {
    {"initial_capital", offsetof(anvil_config, initial_capital), TINY, 0.0, INFINITY},
    {"fee_rate", offsetof(anvil_config, fee_rate), 0.0, -TINY, 1.0},
    {"fee_per_unit", offsetof(anvil_config, fee_per_unit), 0.0, -TINY, INFINITY},
    {"fixed_fee", offsetof(anvil_config, fixed_fee), 0.0, -TINY, INFINITY},
    {"slippage_bps", offsetof(anvil_config, slippage_bps), 0.0, -TINY, 10000.0},
    {"stop_loss", offsetof(anvil_config, stop_loss), 0.0, -TINY, 1.0},
    {"take_profit", offsetof(anvil_config, take_profit), 0.0, -TINY, INFINITY},
    {"trailing_stop", offsetof(anvil_config, trailing_stop), 0.0, -TINY, 1.0},
    {"max_leverage", offsetof(anvil_config, max_leverage), TINY, 0.0, INFINITY},
    {"periods_per_year", offsetof(anvil_config, periods_per_year), TINY, 0.0, INFINITY},
    {"max_weight", offsetof(anvil_config, max_weight), 0.0, -TINY, INFINITY},
    {"max_drawdown_halt", offsetof(anvil_config, max_drawdown_halt), 0.0, -TINY, 1.0},
    {"daily_loss_limit", offsetof(anvil_config, daily_loss_limit), 0.0, -TINY, 1.0},
};
#define N_CONFIG_FIELDS ((int)(sizeof config_fields / sizeof config_fields[0]))

static double *config_at(anvil_config *c, int k)
{
    return (double *)((char *)c + config_fields[k].offset);
}

static int32_t *config_flag(anvil_config *c, int k, const char **name)
{
    static const char *names[3] = {"allow_short", "integer_units", "close_at_end"};
    int32_t *flags[3] = {&c->allow_short, &c->integer_units, &c->close_at_end};
    *name = names[k];
    return flags[k];
}

/* The largest value field k allows. */
static double highest_ok(int k)
{
    double hi = config_fields[k].too_high;
    return isinf(hi) ? DBL_MAX : nextafter(hi, 0.0);
}

/* Costs and risk in the range traders use, plus the edges that stay finite. */
static anvil_config config_moderate(void)
{
    anvil_config c = config_default();
    c.initial_capital = log_uniform(1e-3, 1e9);
    c.fee_rate = chance(0.5) ? 0.0 : chance(0.8) ? 0.01 * uniform() : 0.999999;
    c.fee_per_unit = chance(0.7) ? 0.0 : log_uniform(1e-6, 1.0);
    c.fixed_fee = chance(0.7) ? 0.0 : log_uniform(1e-3, 10.0);
    c.slippage_bps = chance(0.5) ? 0.0 : chance(0.8) ? 50.0 * uniform() : 9999.0;
    c.stop_loss = chance(0.6) ? 0.0 : 0.5 * uniform();
    c.take_profit = chance(0.6) ? 0.0 : log_uniform(1e-3, 10.0);
    c.trailing_stop = chance(0.7) ? 0.0 : 0.5 * uniform();
    c.max_leverage = chance(0.6) ? 1.0 : log_uniform(0.01, 1000.0);
    c.periods_per_year = chance(0.5) ? 252.0 : log_uniform(1.0, 1e5);
    c.fill = chance(0.5) ? ANVIL_FILL_NEXT_OPEN : ANVIL_FILL_CLOSE;
    c.allow_short = chance(0.5);
    c.integer_units = chance(0.3);
    c.close_at_end = chance(0.5);
    /* risk rules of one series */
    c.max_weight = chance(0.7) ? 0.0 : log_uniform(0.01, 10.0);
    c.max_drawdown_halt = chance(0.7) ? 0.0 : 0.3 * uniform();
    c.daily_loss_limit = chance(0.7) ? 0.0 : 0.3 * uniform();
    c.halt_bars = 1 + below(chance(0.5) ? 3 : 1000);
    c.cooldown_bars = chance(0.6) ? 0 : below(chance(0.8) ? 10 : INT64_MAX / 4);
    return c;
}

/* Anything the range allows, however silly: 1e-300 and 1e300 capital,
 * leverage 1e6, fees near their limits. Overflow to inf / NaN is honest here. */
static anvil_config config_extreme(void)
{
    anvil_config c = config_moderate();
    for (int k = 0; k < N_CONFIG_FIELDS; k++) {
        if (!chance(0.4))
            continue;
        double lo = config_fields[k].lowest_ok, hi = highest_ok(k);
        double *f = config_at(&c, k);
        switch (below(4)) {
        case 0: *f = lo; break;
        case 1: *f = hi; break;
        case 2: *f = lo > 0.0 ? log_uniform(lo,
                                            fmin(hi, 1e300)) : uniform() * fmin(hi, 1e300); break;
        default: *f = lo > 0.0 ? 1e-300 : 0.0; break;
        }
    }
    if (chance(0.3))
        c.initial_capital = chance(0.5) ? 1e-300 : 1e300;
    if (chance(0.3))
        c.max_leverage = 1e6;
    if (chance(0.2))
        c.fee_rate = 0.999999;
    if (chance(0.2))
        c.slippage_bps = 9999.0;
    return c;
}

/* Make one thing in c bad; returns the status the core should give. */
static int config_spoil(anvil_config *c)
{
    int64_t what = below(12);
    if (what == 10) { /* a halt that lasts no bars, or a count out of range */
        static const int64_t bad_bars[4] = {0, -1, INT64_MIN, INT64_MAX};
        c->max_drawdown_halt = 0.1;
        c->halt_bars = bad_bars[below(4)];
        return ANVIL_E_CONFIG;
    }
    if (what == 11) {
        static const int64_t bad_cool[3] = {-1, INT64_MIN, INT64_MAX};
        c->cooldown_bars = bad_cool[below(3)];
        return ANVIL_E_CONFIG;
    }
    if (what == 0) {
        static const int32_t bad_fill[4] = {-1, 2, INT32_MIN, INT32_MAX};
        c->fill = bad_fill[below(4)];
        return ANVIL_E_KIND;
    }
    if (what == 1) {
        static const int32_t bad_flag[4] = {2, -1, INT32_MIN, INT32_MAX};
        const char *name;
        *config_flag(c, (int)below(3), &name) = bad_flag[below(4)];
        return ANVIL_E_CONFIG;
    }
    int k = (int)below(N_CONFIG_FIELDS);
    double bad[6] = {NAN, -NAN, INFINITY, -INFINITY, config_fields[k].too_low,
                     config_fields[k].too_high};
    *config_at(c, k) = bad[below(6)];
    return ANVIL_E_CONFIG;
}

/* ---- one backtest with exact-size outputs --------------------------------- */

typedef struct {
    int rc;
    anvil_stats stats;
    double *equity;      /* n values, or NULL */
    anvil_trade *trades; /* cap records, or NULL */
    int64_t n_trades;    /* -7 when the core did not write it */
    int64_t bad;         /* -7 when the core did not write it */
} run_out;

/* cap < 0: no trade buffer. */
static run_out run_backtest(const anvil_bars *b, const void *sig, int32_t kind,
                            const anvil_config *cfg, int want_equity, int64_t cap)
{
    run_out r;
    memset(&r, 0, sizeof r);
    anvil_stats *stats = xmalloc(sizeof *stats);
    int64_t *n_trades = xmalloc(sizeof *n_trades), *bad = xmalloc(sizeof *bad);
    *n_trades = -7;
    *bad = -7;
    r.equity = want_equity ? equity_new(b->n) : NULL;
    r.trades = cap >= 0 ? xmalloc((size_t)cap * sizeof(anvil_trade)) : NULL;
    r.rc = CALL(anvil_backtest(b, sig, kind, cfg, stats, r.equity, r.trades, cap >= 0 ? cap : 0,
                               n_trades, bad));
    memcpy(&r.stats, stats, sizeof r.stats);
    r.n_trades = *n_trades;
    r.bad = *bad;
    free(stats);
    free(n_trades);
    free(bad);
    return r;
}

static void run_free(run_out *r)
{
    free(r->equity);
    free(r->trades);
}

/* ---- what a well-formed result looks like --------------------------------- */

static int whole(double x, double lo, double hi)
{
    return x == floor(x) && x >= lo && x <= hi;
}

/* Stats of a run over n bars that closed n_trades trades. */
static void check_stats(const char *where, const anvil_stats *s, int64_t n, int64_t n_trades,
                        int moderate)
{
    int none = n_trades == 0;
    if (!(s->total_trades == (double)n_trades && n_trades >= 0))
        fail("%s: total_trades %g for %lld trades", where, s->total_trades, (long long)n_trades);
    if (!(s->exposure >= 0.0 && s->exposure <= 1.0))
        fail("%s: exposure %g outside [0, 1]", where, s->exposure);
    if (!whole(s->max_drawdown_duration, 0.0, (double)n))
        fail("%s: max_drawdown_duration %g not a count of bars", where, s->max_drawdown_duration);
    if (!(s->max_drawdown >= 0.0))
        fail("%s: max_drawdown %g is not >= 0", where, s->max_drawdown);
    if (s->total_fees < 0.0)
        fail("%s: total_fees %g < 0", where, s->total_fees);
    if (none ? !isnan(s->win_rate) : !(s->win_rate >= 0.0 && s->win_rate <= 1.0))
        fail("%s: win_rate %g with %lld trades", where, s->win_rate, (long long)n_trades);
    int held_ok = s->avg_bars_held >= 0.0 && s->avg_bars_held < (double)n;
    if (none ? !isnan(s->avg_bars_held) : !held_ok)
        fail("%s: avg_bars_held %g with %lld trades", where, s->avg_bars_held, (long long)n_trades);
    if (none && !(isnan(s->best_trade) && isnan(s->worst_trade) && isnan(s->expectancy)
                  && isnan(s->avg_trade_return)))
        fail("%s: trade metrics are not NaN without trades", where);
    if (s->best_trade < s->worst_trade)
        fail("%s: best_trade %g < worst_trade %g", where, s->best_trade, s->worst_trade);
    if (s->profit_factor < 0.0)
        fail("%s: profit_factor %g < 0", where, s->profit_factor);
    if (!moderate)
        return;
    /* Moderate inputs: finite, NaN only for a ratio without a denominator. */
    double must_be_finite[] = {s->total_return, s->net_pnl, s->final_equity, s->total_fees,
                               s->max_drawdown};
    for (size_t k = 0; k < sizeof must_be_finite / sizeof must_be_finite[0]; k++)
        if (!isfinite(must_be_finite[k]))
            fail("%s: a money or return metric (#%zu) is %g", where, k, must_be_finite[k]);
    /* Annualising a short run at many periods per year may overflow to +inf. */
    if (!(s->annual_return >= -1.0))
        fail("%s: annual_return %g", where, s->annual_return);
    double finite_or_nan[] = {s->sharpe, s->sortino, s->volatility, s->avg_win, s->avg_loss,
                              isinf(s->annual_return) ? 0.0 : s->calmar};
    for (size_t k = 0; k < sizeof finite_or_nan / sizeof finite_or_nan[0]; k++)
        if (isinf(finite_or_nan[k]))
            fail("%s: a ratio metric (#%zu) is infinite", where, k);
    if (n >= 2 && !isfinite(s->volatility))
        fail("%s: volatility %g over %lld bars", where, s->volatility, (long long)n);
    if (!none && !(isfinite(s->best_trade) && isfinite(s->worst_trade) && isfinite(s->expectancy)
                   && isfinite(s->avg_trade_return)))
        fail("%s: trade metrics not finite with %lld trades", where, (long long)n_trades);
}

static void check_trades(const char *where, const anvil_trade *tr, int64_t count, int64_t n,
                         const anvil_config *cfg, int moderate)
{
    for (int64_t k = 0; k < count; k++) {
        const anvil_trade *t = &tr[k];
        int reason_ok = t->exit_reason == ANVIL_EXIT_SIGNAL
                        || (t->exit_reason == ANVIL_EXIT_STOP_LOSS && cfg->stop_loss > 0.0)
                        || (t->exit_reason == ANVIL_EXIT_TAKE_PROFIT && cfg->take_profit > 0.0)
                        || (t->exit_reason == ANVIL_EXIT_TRAILING_STOP && cfg->trailing_stop > 0.0)
                        || (t->exit_reason == ANVIL_EXIT_END && cfg->close_at_end
                            && t->exit_bar == n - 1)
                        || t->exit_reason == ANVIL_EXIT_MARGIN
                        || (t->exit_reason == ANVIL_EXIT_RISK
                            && (cfg->max_drawdown_halt > 0.0 || cfg->daily_loss_limit > 0.0));
        if (!(t->entry_bar >= 0 && t->entry_bar <= t->exit_bar && t->exit_bar < n))
            fail("%s: trade %lld bars %lld..%lld outside 0..%lld", where, (long long)k,
                 (long long)t->entry_bar, (long long)t->exit_bar, (long long)n - 1);
        if (!(t->direction == 1 || (t->direction == -1 && cfg->allow_short)))
            fail("%s: trade %lld direction %d (allow_short %d)", where, (long long)k,
                 t->direction, cfg->allow_short);
        if (!reason_ok)
            fail("%s: trade %lld exit_reason %d does not fit the config", where, (long long)k,
                 t->exit_reason);
        if (t->units <= 0.0)
            fail("%s: trade %lld units %g <= 0", where, (long long)k, t->units);
        if (t->entry_fees < 0.0 || t->exit_fees < 0.0)
            fail("%s: trade %lld negative fees", where, (long long)k);
        if (!moderate)
            continue;
        if (!(isfinite(t->units) && t->units > 0.0 && t->entry_price > 0.0
              && isfinite(t->entry_price) && t->exit_price > 0.0 && isfinite(t->exit_price)
              && isfinite(t->entry_fees) && isfinite(t->exit_fees) && isfinite(t->pnl)
              && isfinite(t->ret)))
            fail("%s: trade %lld not finite: units %g entry %g exit %g pnl %g ret %g", where,
                 (long long)k, t->units, t->entry_price, t->exit_price, t->pnl, t->ret);
        if (cfg->integer_units && t->units != floor(t->units))
            fail("%s: trade %lld units %g not whole with integer_units", where, (long long)k,
                 t->units);
    }
    /* After a margin call nothing trades: it is the last trade. */
    for (int64_t k = 0; k + 1 < count; k++)
        if (tr[k].exit_reason == ANVIL_EXIT_MARGIN)
            fail("%s: trade %lld follows a margin call at bar %lld", where, (long long)k + 1,
                 (long long)tr[k].exit_bar);
}

static void check_equity(const char *where, const double *eq, int64_t n,
                         const anvil_stats *s, int moderate)
{
    for (int64_t i = 0; i < n; i++) {
        if (unwritten(eq[i])) {
            fail("%s: equity[%lld] never written", where, (long long)i);
            return;
        }
        if (moderate && !isfinite(eq[i])) {
            fail("%s: equity[%lld] = %g", where, (long long)i, eq[i]);
            return;
        }
    }
    if (!same_double(eq[n - 1], s->final_equity))
        fail("%s: final_equity %g but equity[n-1] %g", where, s->final_equity, eq[n - 1]);
}

/* ---- anvil_max_trades ----------------------------------------------------- */

static void test_max_trades(void)
{
    section = "anvil_max_trades";
    const int64_t ns[] = {INT64_MIN, -1, 0, 1, 2, 1000, INT64_MAX / 4, (INT64_MAX - 1) / 2,
                          (INT64_MAX - 1) / 2 + 1, INT64_MAX - 1, INT64_MAX};
    int64_t prev = 0;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int64_t m = CALL(anvil_max_trades(ns[k]));
        if (m < 0)
            fail("anvil_max_trades(%lld) = %lld < 0", (long long)ns[k], (long long)m);
        if (m < prev)
            fail("anvil_max_trades(%lld) = %lld shrinks", (long long)ns[k], (long long)m);
        if (ns[k] > 0 && m < ns[k])
            fail("anvil_max_trades(%lld) = %lld < n", (long long)ns[k], (long long)m);
        prev = m;
    }
}

/* ---- anvil_core_wide ------------------------------------------------------ */

static void test_core_wide(void)
{
    section = "anvil_core_wide";
    int first = CALL(anvil_core_wide());
    if (first != 0 && first != 1)
        fail("anvil_core_wide() = %d, not 0 or 1", first);
    if (CALL(anvil_core_wide()) != first)
        fail("anvil_core_wide() changed between calls");
}

/* ---- anvil_check_bars ----------------------------------------------------- */

static void test_check_bars(void)
{
    section = "anvil_check_bars";
    int64_t bad = -7;
    const int64_t n = 7;
    owned_bars ob = bars_new(n);
    bars_fill(&ob, 100.0, 0.02);

    expect_rc("valid bars", CALL(anvil_check_bars(&ob.b, &bad)), ANVIL_OK);
    expect_rc("valid bars, bad_index NULL", CALL(anvil_check_bars(&ob.b, NULL)), ANVIL_OK);
    expect_rc("bars NULL", CALL(anvil_check_bars(NULL, &bad)), ANVIL_E_NULL);
    expect_rc("bars NULL, bad_index NULL", CALL(anvil_check_bars(NULL, NULL)), ANVIL_E_NULL);

    const int64_t bad_n[] = {0, -1, INT64_MIN};
    for (size_t k = 0; k < 3; k++) {
        anvil_bars b = ob.b;
        b.n = bad_n[k];
        expect_rc("n <= 0", CALL(anvil_check_bars(&b, &bad)), ANVIL_E_SIZE);
        anvil_bars nulls = {NULL, NULL, NULL, NULL, bad_n[k]};
        expect_rc2("n <= 0 and NULL prices", CALL(anvil_check_bars(&nulls, &bad)), ANVIL_E_SIZE,
                   ANVIL_E_NULL);
    }
    for (int f = 0; f < 4; f++) {
        anvil_bars b = ob.b;
        const double **col[4] = {&b.open, &b.high, &b.low, &b.close};
        *col[f] = NULL;
        expect_rc("one price pointer NULL", CALL(anvil_check_bars(&b, &bad)), ANVIL_E_NULL);
    }
    anvil_bars nulls = {NULL, NULL, NULL, NULL, n};
    expect_rc("every price pointer NULL", CALL(anvil_check_bars(&nulls, &bad)), ANVIL_E_NULL);

    /* Each fault, in each field, at the first, a middle and the last bar. */
    const int64_t where[3] = {0, n / 2, n - 1};
    char what[160];
    for (int how = 0; how < N_BAR_FAULTS; how++)
        for (int f = 0; f < 4; f++)
            for (int w = 0; w < 3; w++) {
                owned_bars sp = bars_new(n);
                bars_fill(&sp, 100.0, 0.02);
                bar_spoil(&sp, where[w], f, how);
                snprintf(what, sizeof what, "%s in field %d at bar %lld", bar_fault_names[how], f,
                         (long long)where[w]);
                bad = -7;
                if (expect_rc(what, CALL(anvil_check_bars(&sp.b, &bad)), ANVIL_E_PRICE))
                    expect_i64(what, bad, where[w]);
                expect_rc(what, CALL(anvil_check_bars(&sp.b, NULL)), ANVIL_E_PRICE);
                /* A second fault later does not move the index. */
                if (where[w] + 2 < n) {
                    bar_spoil(&sp, where[w] + 2, (f + 1) % 4, (how + 3) % N_BAR_FAULTS);
                    bad = -7;
                    CALL(anvil_check_bars(&sp.b, &bad));
                    expect_i64("two faults: the first", bad, where[w]);
                }
                bars_free(&sp);
            }

    /* Valid extremes: tiny, huge and subnormal prices, a flat bar. */
    owned_bars ex = bars_new(4);
    const double lo[4] = {TINY, 1e-300, 1.0, 1e300};
    const double hi[4] = {2 * TINY, 1e300, 1.0, DBL_MAX};
    for (int i = 0; i < 4; i++) {
        ex.low[i] = lo[i];
        ex.high[i] = hi[i];
        ex.open[i] = lo[i];
        ex.close[i] = hi[i];
    }
    expect_rc("extreme but valid prices", CALL(anvil_check_bars(&ex.b, &bad)), ANVIL_OK);
    bars_free(&ex);
    bars_free(&ob);
}

/* ---- anvil_check_config --------------------------------------------------- */

static void test_check_config(void)
{
    section = "anvil_check_config";
    char what[160];
    anvil_config c = config_default();
    expect_rc("default config", CALL(anvil_check_config(&c)), ANVIL_OK);
    expect_rc("config NULL", CALL(anvil_check_config(NULL)), ANVIL_E_NULL);

    for (int k = 0; k < N_CONFIG_FIELDS; k++) {
        const config_field *f = &config_fields[k];
        const double refused[6] = {NAN, -NAN, INFINITY, -INFINITY, f->too_low, f->too_high};
        for (int v = 0; v < 6; v++) {
            c = config_default();
            *config_at(&c, k) = refused[v];
            snprintf(what, sizeof what, "%s = %g", f->name, refused[v]);
            expect_rc(what, CALL(anvil_check_config(&c)), ANVIL_E_CONFIG);
        }
        const double allowed[3] = {f->lowest_ok, highest_ok(k), f->lowest_ok == 0.0 ? -0.0 : 1.0};
        for (int v = 0; v < 3; v++) {
            c = config_default();
            *config_at(&c, k) = allowed[v];
            snprintf(what, sizeof what, "%s = %a (allowed)", f->name, allowed[v]);
            expect_rc(what, CALL(anvil_check_config(&c)), ANVIL_OK);
        }
    }
    const int32_t bad_enum[5] = {-1, 2, 3, INT32_MIN, INT32_MAX};
    for (int v = 0; v < 5; v++) {
        c = config_default();
        c.fill = bad_enum[v];
        snprintf(what, sizeof what, "fill = %d", bad_enum[v]);
        expect_rc(what, CALL(anvil_check_config(&c)), ANVIL_E_KIND);
        for (int k = 0; k < 3; k++) {
            const char *name;
            c = config_default();
            *config_flag(&c, k, &name) = bad_enum[v];
            snprintf(what, sizeof what, "%s = %d", name, bad_enum[v]);
            expect_rc(what, CALL(anvil_check_config(&c)), ANVIL_E_CONFIG);
            *config_flag(&c, k, &name) = 1;
            expect_rc("flag = 1", CALL(anvil_check_config(&c)), ANVIL_OK);
        }
    }
    c = config_default();
    c.fill = ANVIL_FILL_CLOSE;
    expect_rc("fill = close", CALL(anvil_check_config(&c)), ANVIL_OK);
}

/* Every config at the edge of its range runs a backtest without trouble. */
static void test_edge_configs_run(void)
{
    section = "edge configs";
    char what[160];
    const int64_t n = 40;
    owned_bars ob = bars_zigzag(n);
    int8_t *sig = xmalloc((size_t)n);
    for (int64_t i = 0; i < n; i++)
        sig[i] = (int8_t)((i % 5) < 2 ? 1 : (i % 5) == 2 ? -1 : 0);
    for (int k = 0; k < N_CONFIG_FIELDS; k++)
        for (int edge = 0; edge < 2; edge++)
            for (int fill = 0; fill < 2; fill++) {
                anvil_config c = config_default();
                c.allow_short = 1;
                c.close_at_end = 1;
                c.fill = fill ? ANVIL_FILL_CLOSE : ANVIL_FILL_NEXT_OPEN;
                *config_at(&c, k) = edge ? highest_ok(k) : config_fields[k].lowest_ok;
                snprintf(what, sizeof what, "%s at its %s edge", config_fields[k].name,
                         edge ? "upper" : "lower");
                run_out r = run_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &c, 1, anvil_max_trades(n));
                if (expect_rc(what, r.rc, ANVIL_OK)) {
                    check_stats(what, &r.stats, n, r.n_trades, 0);
                    check_trades(what, r.trades, r.n_trades, n, &c, 0);
                    check_equity(what, r.equity, n, &r.stats, 0);
                }
                run_free(&r);
            }
    free(sig);
    bars_free(&ob);
}

/* ---- anvil_backtest: pointers, sizes, kinds ------------------------------- */

static void test_backtest_arguments(void)
{
    section = "anvil_backtest arguments";
    const int64_t n = 8;
    owned_bars ob = bars_zigzag(n);
    int8_t *sig = xmalloc((size_t)n);
    for (int64_t i = 0; i < n; i++)
        sig[i] = (int8_t)(i % 2);
    anvil_config cfg = config_default();
    int64_t cap = anvil_max_trades(n);
    anvil_stats *st = xmalloc(sizeof *st);
    double *eq = equity_new(n);
    anvil_trade *tr = xmalloc((size_t)cap * sizeof *tr);
    int64_t *nt = xmalloc(sizeof *nt), *bad = xmalloc(sizeof *bad);

#define BT(b, s, k, c, stats, e, t, tc, ntp, badp) \
    CALL(anvil_backtest(b, s, k, c, stats, e, t, tc, ntp, badp))

    expect_rc("all valid", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, tr, cap, nt, bad),
              ANVIL_OK);
    expect_rc("bars NULL", BT(NULL, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, tr, cap, nt, bad),
              ANVIL_E_NULL);
    expect_rc("signal NULL", BT(&ob.b, NULL, ANVIL_SIGNAL_I8, &cfg, st, eq, tr, cap, nt, bad),
              ANVIL_E_NULL);
    expect_rc("signal NULL (f64)",
              BT(&ob.b, NULL, ANVIL_SIGNAL_F64, &cfg, st, eq, tr, cap, nt, bad), ANVIL_E_NULL);
    expect_rc("config NULL", BT(&ob.b, sig, ANVIL_SIGNAL_I8, NULL, st, eq, tr, cap, nt, bad),
              ANVIL_E_NULL);
    expect_rc("stats NULL", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, NULL, eq, tr, cap, nt, bad),
              ANVIL_E_NULL);
    expect_rc("every pointer NULL",
              BT(NULL, NULL, ANVIL_SIGNAL_I8, NULL, NULL, NULL, NULL, 0, NULL, NULL), ANVIL_E_NULL);
    expect_rc("equity NULL", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, NULL, tr, cap, nt, bad),
              ANVIL_OK);
    expect_rc("trades NULL", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, NULL, 0, nt, bad),
              ANVIL_OK);
    expect_rc("n_trades NULL", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, tr, cap, NULL, bad),
              ANVIL_OK);
    expect_rc("bad_index NULL", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, tr, cap, nt, NULL),
              ANVIL_OK);
    expect_rc("every optional NULL",
              BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, NULL, NULL, 0, NULL, NULL), ANVIL_OK);

    const int64_t neg_cap[3] = {-1, -1000, INT64_MIN};
    for (int k = 0; k < 3; k++) {
        expect_rc("trades_cap < 0",
                  BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, tr, neg_cap[k], nt, bad),
                  ANVIL_E_SIZE);
        expect_rc2("trades NULL, trades_cap < 0",
                   BT(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, NULL, neg_cap[k], nt, bad),
                   ANVIL_OK, ANVIL_E_SIZE);
    }
    const int32_t bad_kind[4] = {-1, 2, INT32_MIN, INT32_MAX};
    for (int k = 0; k < 4; k++)
        expect_rc("unknown signal kind",
                  BT(&ob.b, sig, bad_kind[k], &cfg, st, eq, tr, cap, nt, bad), ANVIL_E_KIND);

    const int64_t bad_n[3] = {0, -1, INT64_MIN};
    for (int k = 0; k < 3; k++) {
        anvil_bars b = ob.b;
        b.n = bad_n[k];
        expect_rc("bars n <= 0", BT(&b, sig, ANVIL_SIGNAL_I8, &cfg, st, NULL, tr, cap, nt, bad),
                  ANVIL_E_SIZE);
    }
    for (int f = 0; f < 4; f++) {
        anvil_bars b = ob.b;
        const double **col[4] = {&b.open, &b.high, &b.low, &b.close};
        *col[f] = NULL;
        expect_rc("a price pointer NULL",
                  BT(&b, sig, ANVIL_SIGNAL_I8, &cfg, st, eq, tr, cap, nt, bad), ANVIL_E_NULL);
    }
    anvil_config c = cfg;
    c.fill = 5;
    expect_rc("unknown fill", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &c, st, eq, tr, cap, nt, bad),
              ANVIL_E_KIND);
    c = cfg;
    c.fee_rate = NAN;
    expect_rc("fee_rate NaN", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &c, st, eq, tr, cap, nt, bad),
              ANVIL_E_CONFIG);
    c = cfg;
    c.close_at_end = 2;
    expect_rc("close_at_end 2", BT(&ob.b, sig, ANVIL_SIGNAL_I8, &c, st, eq, tr, cap, nt, bad),
              ANVIL_E_CONFIG);

    /* A bar of one. */
    anvil_bars one = ob.b;
    one.n = 1;
    run_out r = run_backtest(&one, sig, ANVIL_SIGNAL_I8, &cfg, 1, anvil_max_trades(1));
    if (expect_rc("one bar", r.rc, ANVIL_OK)) {
        check_stats("one bar", &r.stats, 1, r.n_trades, 1);
        check_equity("one bar", r.equity, 1, &r.stats, 1);
    }
    run_free(&r);
#undef BT
    free(st);
    free(eq);
    free(tr);
    free(nt);
    free(bad);
    free(sig);
    bars_free(&ob);
}

/* ---- signals outside the set ---------------------------------------------- */

static void test_bad_signals(void)
{
    section = "signals";
    char what[200];
    const int64_t n = 9;
    owned_bars ob = bars_zigzag(n);
    const int8_t bad_i8[6] = {2, 127, -127, -2, 3, -126};
    const double bad_f64[2] = {INFINITY, -INFINITY};
    const int64_t where[3] = {0, 4, n - 2};

    for (int kind = 0; kind < 2; kind++)
        for (int fill = 0; fill < 2; fill++) {
            int32_t k = kind ? ANVIL_SIGNAL_F64 : ANVIL_SIGNAL_I8;
            int n_bad = kind ? 2 : 6;
            anvil_config cfg = config_default();
            cfg.fill = fill ? ANVIL_FILL_CLOSE : ANVIL_FILL_NEXT_OPEN;
            void *sig = xmalloc((size_t)n * signal_width(k));
            for (int v = 0; v < n_bad; v++)
                for (int w = 0; w < 3; w++) {
                    for (int64_t i = 0; i < n; i++) {
                        if (kind)
                            ((double *)sig)[i] = (double)(i % 3) - 1.0;
                        else
                            ((int8_t *)sig)[i] = (int8_t)((i % 3) - 1);
                    }
                    if (kind)
                        ((double *)sig)[where[w]] = bad_f64[v];
                    else
                        ((int8_t *)sig)[where[w]] = bad_i8[v];
                    snprintf(what, sizeof what, "%s signal %g at bar %lld of %lld (%s)",
                             kind ? "float" : "int8", kind ? bad_f64[v] : (double)bad_i8[v],
                             (long long)where[w], (long long)n,
                             fill ? "fill=close" : "fill=next_open");
                    run_out r = run_backtest(&ob.b, sig, k, &cfg, 1, anvil_max_trades(n));
                    if (expect_rc(what, r.rc, ANVIL_E_SIGNAL))
                        expect_i64(what, r.bad, where[w]);
                    run_free(&r);
                    anvil_stats *st = xmalloc(sizeof *st);
                    int rc = CALL(anvil_backtest(&ob.b, sig, k, &cfg, st, NULL, NULL, 0, NULL,
                                                 NULL));
                    expect_rc("bad signal, bad_index NULL", rc, ANVIL_E_SIGNAL);
                    free(st);
                }
            /* A bad value on the last bar, which never fills, is still bad. */
            memset(sig, 0, (size_t)n * signal_width(k));
            if (kind)
                ((double *)sig)[n - 1] = -INFINITY;
            else
                ((int8_t *)sig)[n - 1] = 2;
            snprintf(what, sizeof what, "%s signal out of the set on the last bar only (%s)",
                     kind ? "float" : "int8", fill ? "fill=close" : "fill=next_open");
            run_out last = run_backtest(&ob.b, sig, k, &cfg, 1, anvil_max_trades(n));
            if (expect_rc(what, last.rc, ANVIL_E_SIGNAL))
                expect_i64(what, last.bad, n - 1);
            run_free(&last);
            /* Two bad values: the first is named. */
            memset(sig, 0, (size_t)n * signal_width(k));
            for (int64_t i = 2; i < n; i += 3) {
                if (kind)
                    ((double *)sig)[i] = INFINITY;
                else
                    ((int8_t *)sig)[i] = 5;
            }
            run_out r = run_backtest(&ob.b, sig, k, &cfg, 0, -1);
            if (expect_rc("several bad signals", r.rc, ANVIL_E_SIGNAL))
                expect_i64("several bad signals: the first", r.bad, 2);
            run_free(&r);
            free(sig);
        }

    /* Allowed values that look odd: HOLD, NaN of either sign, huge and tiny
     * targets, negative zero. */
    int8_t ok_i8[9] = {ANVIL_HOLD, -1, ANVIL_HOLD, 1, 0, 0, ANVIL_HOLD, -1, 1};
    const double ok_f64[9] = {NAN, -NAN, DBL_MAX, -DBL_MAX, TINY, -0.0, 1e300, -1e-300, 0.0};
    anvil_config cfg = config_default();
    cfg.allow_short = 1;
    cfg.max_leverage = 3.0;
    run_out r = run_backtest(&ob.b, ok_i8, ANVIL_SIGNAL_I8, &cfg, 1, anvil_max_trades(n));
    expect_rc("HOLD, -1, 0, 1", r.rc, ANVIL_OK);
    run_free(&r);
    double *f = xmalloc(sizeof ok_f64);
    memcpy(f, ok_f64, sizeof ok_f64);
    r = run_backtest(&ob.b, f, ANVIL_SIGNAL_F64, &cfg, 1, anvil_max_trades(n));
    if (expect_rc("NaN, -NaN, +-DBL_MAX, tiny, -0.0", r.rc, ANVIL_OK))
        check_trades("odd float targets", r.trades, r.n_trades, n, &cfg, 1);
    run_free(&r);
    free(f);
    bars_free(&ob);
}

/* ---- trade buffers too small ---------------------------------------------- */

static void test_capacity(void)
{
    section = "trade capacity";
    char what[160];
    const int64_t n = 60;
    owned_bars ob = bars_zigzag(n);
    int8_t *sig = xmalloc((size_t)n);
    for (int64_t i = 0; i < n; i++)
        sig[i] = (int8_t)(i % 2 ? 1 : -1);
    for (int fill = 0; fill < 2; fill++) {
        anvil_config cfg = config_default();
        cfg.fill = fill ? ANVIL_FILL_CLOSE : ANVIL_FILL_NEXT_OPEN;
        cfg.allow_short = 1;
        cfg.close_at_end = 1;
        cfg.stop_loss = 0.02;
        cfg.take_profit = 0.03;
        run_out full = run_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, 1, anvil_max_trades(n));
        expect_rc("full capacity", full.rc, ANVIL_OK);
        int64_t count = full.n_trades;
        expect_true("the zigzag closes trades", count > 4);
        const int64_t caps[6] = {0, 1, count / 2, count - 1, count, count + 1};
        for (int k = 0; k < 6; k++) {
            snprintf(what, sizeof what, "capacity %lld for %lld trades", (long long)caps[k],
                     (long long)count);
            run_out r = run_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, k % 2, caps[k]);
            expect_rc(what, r.rc, caps[k] < count ? ANVIL_E_CAPACITY : ANVIL_OK);
            expect_i64("n_trades is the true count", r.n_trades, count);
            if (stats_differ(&r.stats, &full.stats) >= 0)
                fail("%s: stats differ from the full run", what);
            for (int64_t t = 0; t < caps[k] && t < count; t++)
                if (!same_trade(&r.trades[t], &full.trades[t]))
                    fail("%s: trade %lld differs from the full run", what, (long long)t);
            run_free(&r);
        }
        anvil_stats *st = xmalloc(sizeof *st);
        anvil_trade *one = xmalloc(sizeof *one);
        int rc = CALL(anvil_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, st, NULL, one, 1, NULL,
                                     NULL));
        expect_rc("capacity 1, n_trades NULL", rc, ANVIL_E_CAPACITY);
        free(one);
        free(st);
        run_free(&full);
    }
    free(sig);
    bars_free(&ob);
}

/* ---- anvil_batch: pointers, sizes, kinds ---------------------------------- */

static void test_batch_arguments(void)
{
    section = "anvil_batch arguments";
    char what[160];
    const int64_t n = 6, runs = 3;
    owned_bars ob = bars_zigzag(n);
    int8_t *sig = xmalloc((size_t)(runs * n));
    for (int64_t i = 0; i < runs * n; i++)
        sig[i] = (int8_t)((i / 2) % 2);
    anvil_config *cfgs = xmalloc((size_t)runs * sizeof *cfgs);
    for (int64_t r = 0; r < runs; r++)
        cfgs[r] = config_default();
    anvil_stats *st = xmalloc((size_t)runs * sizeof *st);
    int64_t *bad = xmalloc(sizeof *bad);

#define BA(b, s, k, nr, c, nc, stats, badp) CALL(anvil_batch(b, s, k, nr, c, nc, stats, badp))

    expect_rc("valid, one config", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, 1, st, bad),
              ANVIL_OK);
    expect_rc("valid, a config per run", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, runs, st, bad),
              ANVIL_OK);
    expect_rc("bad_index NULL", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, runs, st, NULL),
              ANVIL_OK);
    expect_rc("bars NULL", BA(NULL, sig, ANVIL_SIGNAL_I8, runs, cfgs, 1, st, bad), ANVIL_E_NULL);
    expect_rc("signals NULL", BA(&ob.b, NULL, ANVIL_SIGNAL_I8, runs, cfgs, 1, st, bad),
              ANVIL_E_NULL);
    expect_rc("configs NULL", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, NULL, 1, st, bad),
              ANVIL_E_NULL);
    expect_rc("stats NULL", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, 1, NULL, bad),
              ANVIL_E_NULL);
    expect_rc("every pointer NULL", BA(NULL, NULL, ANVIL_SIGNAL_I8, runs, NULL, 1, NULL, NULL),
              ANVIL_E_NULL);

    const int32_t bad_kind[4] = {-1, 2, INT32_MIN, INT32_MAX};
    for (int k = 0; k < 4; k++)
        expect_rc("unknown signal kind", BA(&ob.b, sig, bad_kind[k], runs, cfgs, 1, st, bad),
                  ANVIL_E_KIND);

    const int64_t bad_runs[3] = {-1, -1000, INT64_MIN};
    for (int k = 0; k < 3; k++) {
        expect_rc("n_runs < 0", BA(&ob.b, sig, ANVIL_SIGNAL_I8, bad_runs[k], cfgs, 1, st, bad),
                  ANVIL_E_SIZE);
        expect_rc("n_runs < 0 = n_cfgs",
                  BA(&ob.b, sig, ANVIL_SIGNAL_I8, bad_runs[k], cfgs, bad_runs[k], st, bad),
                  ANVIL_E_SIZE);
    }
    const int64_t bad_cfgs[7] = {0, 2, runs + 1, -1, INT64_MIN, INT64_MAX, runs * 2};
    for (int k = 0; k < 7; k++) {
        snprintf(what, sizeof what, "n_cfgs %lld for %lld runs", (long long)bad_cfgs[k],
                 (long long)runs);
        expect_rc(what, BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, bad_cfgs[k], st, bad),
                  ANVIL_E_SIZE);
    }
    /* Counts whose signal block could not exist: n_runs * n (* 8) past int64. */
    const int64_t huge_runs[3] = {INT64_MAX, INT64_MAX / n + 1, INT64_MAX / 8 / n + 1};
    for (int k = 0; k < 3; k++)
        for (int kind = 0; kind < 2; kind++) {
            if (kind == 0 && k == 2)
                continue; /* int8: that many bytes still fit in int64 */
            snprintf(what, sizeof what, "n_runs %lld over %lld bars", (long long)huge_runs[k],
                     (long long)n);
            expect_rc(what,
                      BA(&ob.b, sig, kind ? ANVIL_SIGNAL_F64 : ANVIL_SIGNAL_I8, huge_runs[k], cfgs,
                         1, st, bad),
                      ANVIL_E_SIZE);
        }

    anvil_stats *none = xmalloc(0);
    expect_rc("no runs", BA(&ob.b, sig, ANVIL_SIGNAL_I8, 0, cfgs, 1, none, bad), ANVIL_OK);
    expect_rc2("no runs, no configs", BA(&ob.b, sig, ANVIL_SIGNAL_I8, 0, cfgs, 0, none, bad),
               ANVIL_OK, ANVIL_E_SIZE);
    free(none);

    const int64_t bad_n[3] = {0, -1, INT64_MIN};
    for (int k = 0; k < 3; k++) {
        anvil_bars b = ob.b;
        b.n = bad_n[k];
        expect_rc("bars n <= 0", BA(&b, sig, ANVIL_SIGNAL_I8, runs, cfgs, 1, st, bad),
                  ANVIL_E_SIZE);
    }
    for (int f = 0; f < 4; f++) {
        anvil_bars b = ob.b;
        const double **col[4] = {&b.open, &b.high, &b.low, &b.close};
        *col[f] = NULL;
        expect_rc("a price pointer NULL", BA(&b, sig, ANVIL_SIGNAL_I8, runs, cfgs, 1, st, bad),
                  ANVIL_E_NULL);
    }

    /* A bad config in the last run's slot. */
    cfgs[runs - 1].fill = 9;
    expect_rc("unknown fill in run 2", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, runs, st, bad),
              ANVIL_E_KIND);
    cfgs[runs - 1] = config_default();
    cfgs[runs - 1].slippage_bps = 10000.0;
    expect_rc("slippage 10000 in run 2", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, runs, st, bad),
              ANVIL_E_CONFIG);
    cfgs[runs - 1].slippage_bps = 9999.0;
    cfgs[runs - 1].allow_short = -1;
    expect_rc("allow_short -1 in run 2", BA(&ob.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, runs, st, bad),
              ANVIL_E_CONFIG);
    cfgs[runs - 1] = config_default();

    /* A bad price: bad_index is the bar. */
    owned_bars sp = bars_zigzag(n);
    sp.close[4] = NAN;
    *bad = -7;
    if (expect_rc("NaN close", BA(&sp.b, sig, ANVIL_SIGNAL_I8, runs, cfgs, 1, st, bad),
                  ANVIL_E_PRICE))
        expect_i64("NaN close at bar 4", *bad, 4);
    bars_free(&sp);

    /* A bad signal: bad_index is run * n + bar, also at a run's last bar. */
    const int64_t spots[4][2] = {{0, 0}, {1, 3}, {2, 1}, {1, n - 1}};
    for (int k = 0; k < 4; k++)
        for (int kind = 0; kind < 2; kind++) {
            int32_t sk = kind ? ANVIL_SIGNAL_F64 : ANVIL_SIGNAL_I8;
            void *s = xmalloc((size_t)(runs * n) * signal_width(sk));
            memset(s, 0, (size_t)(runs * n) * signal_width(sk));
            int64_t at = spots[k][0] * n + spots[k][1];
            if (kind)
                ((double *)s)[at] = -INFINITY;
            else
                ((int8_t *)s)[at] = 100;
            snprintf(what, sizeof what, "%s bad signal at run %lld bar %lld of %lld",
                     kind ? "float" : "int8", (long long)spots[k][0], (long long)spots[k][1],
                     (long long)n);
            *bad = -7;
            if (expect_rc(what, BA(&ob.b, s, sk, runs, cfgs, 1, st, bad), ANVIL_E_SIGNAL))
                expect_i64(what, *bad, at);
            if (k < 3) /* the last bar: one report per kind is enough */
                expect_rc(what, BA(&ob.b, s, sk, runs, cfgs, runs, st, NULL), ANVIL_E_SIGNAL);
            free(s);
        }
#undef BA
    free(bad);
    free(st);
    free(cfgs);
    free(sig);
    bars_free(&ob);
}

/* ---- random runs ---------------------------------------------------------- */

static int64_t random_length(void)
{
    return chance(0.1) ? 1 + below(3) : 1 + below(300);
}

static double random_start_price(int moderate)
{
    return moderate ? log_uniform(1e-2, 1e4) : log_uniform(1e-300, 1e300);
}

/* The statuses a call with these faults may give; the header does not say
 * which check comes first when several fail. */
static int faults_to_status(int cfg_rc, int64_t bad_bar, int64_t bad_sig, int *want)
{
    int k = 0;
    if (cfg_rc != ANVIL_OK)
        want[k++] = cfg_rc;
    if (bad_bar >= 0)
        want[k++] = ANVIL_E_PRICE;
    if (bad_sig >= 0)
        want[k++] = ANVIL_E_SIGNAL;
    return k;
}

static void random_backtest(long case_no)
{
    char what[120];
    snprintf(what, sizeof what, "random backtest %ld", case_no);
    int moderate = chance(0.7);
    int64_t n = random_length();
    owned_bars ob = bars_new(n);
    bars_fill(&ob, random_start_price(moderate), chance(0.1) ? 0.0 : log_uniform(1e-4, 0.08));
    int32_t kind = chance(0.5) ? ANVIL_SIGNAL_I8 : ANVIL_SIGNAL_F64;
    void *sig = xmalloc((size_t)n * signal_width(kind));
    signal_fill(sig, kind, n, log_uniform(0.02, 0.9), !moderate);
    anvil_config cfg = moderate ? config_moderate() : config_extreme();

    int cfg_rc = ANVIL_OK;
    if (chance(0.1))
        bar_spoil(&ob, below(n), (int)below(4), (int)below(N_BAR_FAULTS));
    if (chance(0.1) && n > 1) /* the last bar is covered in test_bad_signals */
        signal_spoil(sig, kind, below(n - 1));
    if (chance(0.1))
        cfg_rc = config_spoil(&cfg);
    int64_t bad_bar = first_bad_bar(&ob), bad_sig = first_bad_signal(sig, kind, n);
    int want[3];
    int n_want = faults_to_status(cfg_rc, bad_bar, bad_sig, want);

    run_out a = run_backtest(&ob.b, sig, kind, &cfg, 1, -1);
    if (n_want > 0) {
        if (expect_in(what, a.rc, want, n_want)) {
            if (a.rc == ANVIL_E_PRICE)
                expect_i64("random: first bad bar", a.bad, bad_bar);
            if (a.rc == ANVIL_E_SIGNAL)
                expect_i64("random: first bad signal", a.bad, bad_sig);
        }
        run_free(&a);
        goto done;
    }
    if (!expect_rc(what, a.rc, ANVIL_OK)) {
        run_free(&a);
        goto done;
    }
    check_stats(what, &a.stats, n, a.n_trades, moderate);
    check_equity(what, a.equity, n, &a.stats, moderate);
    int64_t count = a.n_trades;
    if (count > anvil_max_trades(n))
        fail("%s: %lld trades, more than anvil_max_trades(%lld)", what, (long long)count,
             (long long)n);

    run_out full = run_backtest(&ob.b, sig, kind, &cfg, 0, anvil_max_trades(n));
    expect_rc("random: buffer of anvil_max_trades", full.rc, ANVIL_OK);
    expect_i64("random: same trade count with a buffer", full.n_trades, count);
    if (stats_differ(&full.stats, &a.stats) >= 0)
        fail("%s: stats change with a trade buffer", what);
    check_trades(what, full.trades, count, n, &cfg, moderate);

    int64_t cap;
    switch (below(4)) {
    case 0: cap = 0; break;
    case 1: cap = count > 0 ? count - 1 : 0; break;
    case 2: cap = count; break;
    default: cap = below(count + 2); break;
    }
    run_out tight = run_backtest(&ob.b, sig, kind, &cfg, chance(0.5), cap);
    expect_rc(what, tight.rc, cap < count ? ANVIL_E_CAPACITY : ANVIL_OK);
    expect_i64("random: n_trades with a small buffer", tight.n_trades, count);
    for (int64_t t = 0; t < cap && t < count; t++)
        if (!same_trade(&tight.trades[t], &full.trades[t]))
            fail("%s: trade %lld differs in a small buffer", what, (long long)t);

    anvil_stats *one = xmalloc(sizeof *one);
    anvil_config *c1 = xmalloc(sizeof *c1);
    *c1 = cfg;
    if (expect_rc("random: batch of one", CALL(anvil_batch(&ob.b, sig, kind, 1, c1, 1, one, NULL)),
                  ANVIL_OK)) {
        int k = stats_differ(one, &a.stats);
        if (k >= 0)
            fail("%s: batch of one differs in stats field %d", what, k);
    }
    free(c1);
    free(one);
    run_free(&tight);
    run_free(&full);
    run_free(&a);
done:
    free(sig);
    bars_free(&ob);
}

static void random_batch(long case_no)
{
    char what[120];
    snprintf(what, sizeof what, "random batch %ld", case_no);
    int moderate = chance(0.7);
    int64_t n = random_length(), runs = 1 + below(6);
    owned_bars ob = bars_new(n);
    bars_fill(&ob, random_start_price(moderate), log_uniform(1e-4, 0.08));
    int32_t kind = chance(0.5) ? ANVIL_SIGNAL_I8 : ANVIL_SIGNAL_F64;
    size_t width = signal_width(kind);
    char *sig = xmalloc((size_t)(runs * n) * width);
    for (int64_t r = 0; r < runs; r++)
        signal_fill(sig + (size_t)(r * n) * width, kind, n, log_uniform(0.02, 0.9), !moderate);
    int64_t n_cfgs = chance(0.5) ? 1 : runs;
    anvil_config *cfgs = xmalloc((size_t)n_cfgs * sizeof *cfgs);
    for (int64_t k = 0; k < n_cfgs; k++)
        cfgs[k] = moderate ? config_moderate() : config_extreme();

    int cfg_rc = ANVIL_OK;
    if (chance(0.1))
        bar_spoil(&ob, below(n), (int)below(4), (int)below(N_BAR_FAULTS));
    if (chance(0.15) && n > 1)
        signal_spoil(sig + (size_t)(below(runs) * n) * width, kind, below(n - 1));
    if (chance(0.1))
        cfg_rc = config_spoil(&cfgs[below(n_cfgs)]);
    int64_t bad_bar = first_bad_bar(&ob), bad_sig = -1;
    for (int64_t r = 0; r < runs && bad_sig < 0; r++) {
        int64_t i = first_bad_signal(sig + (size_t)(r * n) * width, kind, n);
        if (i >= 0)
            bad_sig = r * n + i;
    }
    int want[3];
    int n_want = faults_to_status(cfg_rc, bad_bar, bad_sig, want);

    anvil_stats *st = xmalloc((size_t)runs * sizeof *st);
    int64_t *bad = xmalloc(sizeof *bad);
    *bad = -7;
    int rc = CALL(anvil_batch(&ob.b, sig, kind, runs, cfgs, n_cfgs, st, bad));
    if (n_want > 0) {
        if (expect_in(what, rc, want, n_want)) {
            if (rc == ANVIL_E_PRICE)
                expect_i64("random batch: first bad bar", *bad, bad_bar);
            if (rc == ANVIL_E_SIGNAL)
                expect_i64("random batch: first bad signal", *bad, bad_sig);
        }
    } else if (expect_rc(what, rc, ANVIL_OK)) {
        for (int64_t r = 0; r < runs; r++) {
            const anvil_config *c = &cfgs[n_cfgs == 1 ? 0 : r];
            run_out alone = run_backtest(&ob.b, sig + (size_t)(r * n) * width, kind, c, 0, -1);
            expect_rc("random batch: the run alone", alone.rc, ANVIL_OK);
            int k = stats_differ(&st[r], &alone.stats);
            if (k >= 0)
                fail("%s: run %lld differs from the run alone in stats field %d", what,
                     (long long)r, k);
            check_stats(what, &st[r], n, alone.n_trades, moderate);
            run_free(&alone);
        }
    }
    free(bad);
    free(st);
    free(cfgs);
    free(sig);
    bars_free(&ob);
}

/* ---- stepping: anvil_sim_* ------------------------------------------------ */

static anvil_sim *sim_new(void)
{
    int64_t size = anvil_sim_size();
    anvil_sim *sim = xmalloc((size_t)size);
    memset(sim, 0, (size_t)size); /* "never initialised" reads as zeros */
    return sim;
}

/* Run every bar of an initialised sim with no orders. */
static void sim_run_through(anvil_sim *sim, int64_t n)
{
    for (int64_t t = 0; t < n; t++) {
        expect_rc("sim_open in sequence", CALL(anvil_sim_open(sim, t)), ANVIL_OK);
        expect_rc("sim_close in sequence", CALL(anvil_sim_close(sim, t)), ANVIL_OK);
    }
}

static void test_sim_arguments(void)
{
    section = "anvil_sim arguments";
    char what[160];
    const int64_t n = 12;
    owned_bars ob = bars_zigzag(n);
    anvil_config cfg = config_default();
    int64_t size = CALL(anvil_sim_size());
    expect_true("anvil_sim_size() > 0", size > 0);
    anvil_sim *sim = sim_new();
    double *eq = equity_new(n);
    anvil_trade *tr = xmalloc(4 * sizeof *tr);
    anvil_stats *st = xmalloc(sizeof *st);
    anvil_sim_state *state = xmalloc(sizeof *state);
    int64_t *id = xmalloc(sizeof *id), *nt = xmalloc(sizeof *nt);

    /* Nothing works on a sim that was never initialised, or on NULL. */
    const int not_live[2] = {ANVIL_E_NULL, ANVIL_E_STATE};
    expect_in("open, never initialised", CALL(anvil_sim_open(sim, 0)), not_live, 2);
    expect_in("close, never initialised", CALL(anvil_sim_close(sim, 0)), not_live, 2);
    expect_in("order, never initialised",
              CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, ANVIL_SIDE_BUY, 0.0, 1.0, id)),
              not_live, 2);
    expect_in("cancel, never initialised", CALL(anvil_sim_cancel(sim, 1)), not_live, 2);
    expect_in("cancel_all, never initialised", CALL(anvil_sim_cancel_all(sim)), not_live, 2);
    expect_in("get_state, never initialised", CALL(anvil_sim_get_state(sim, state)), not_live, 2);
    expect_in("finish, never initialised", CALL(anvil_sim_finish(sim, st, nt)), not_live, 2);
    expect_rc("open NULL", CALL(anvil_sim_open(NULL, 0)), ANVIL_E_NULL);
    expect_rc("close NULL", CALL(anvil_sim_close(NULL, 0)), ANVIL_E_NULL);
    expect_rc("order NULL",
              CALL(anvil_sim_order(NULL, ANVIL_ORDER_MARKET, ANVIL_SIDE_BUY, 0.0, 1.0, id)),
              ANVIL_E_NULL);
    expect_rc("cancel NULL", CALL(anvil_sim_cancel(NULL, 1)), ANVIL_E_NULL);
    expect_rc("cancel_all NULL", CALL(anvil_sim_cancel_all(NULL)), ANVIL_E_NULL);
    expect_rc("get_state NULL", CALL(anvil_sim_get_state(NULL, state)), ANVIL_E_NULL);
    expect_rc("finish NULL", CALL(anvil_sim_finish(NULL, st, nt)), ANVIL_E_NULL);

    /* init: pointers, sizes, bad bars and configs. */
    expect_rc("init sim NULL", CALL(anvil_sim_init(NULL, size, &ob.b, &cfg, eq, tr, 4)),
              ANVIL_E_NULL);
    expect_rc("init bars NULL", CALL(anvil_sim_init(sim, size, NULL, &cfg, eq, tr, 4)),
              ANVIL_E_NULL);
    expect_rc("init config NULL", CALL(anvil_sim_init(sim, size, &ob.b, NULL, eq, tr, 4)),
              ANVIL_E_NULL);
    const int64_t small[4] = {0, -1, size - 1, INT64_MIN};
    for (int k = 0; k < 4; k++) {
        snprintf(what, sizeof what, "init sim_size %lld of %lld", (long long)small[k],
                 (long long)size);
        expect_rc(what, CALL(anvil_sim_init(sim, small[k], &ob.b, &cfg, eq, tr, 4)), ANVIL_E_SIZE);
    }
    expect_rc("init trades_cap < 0", CALL(anvil_sim_init(sim, size, &ob.b, &cfg, eq, tr, -1)),
              ANVIL_E_SIZE);
    expect_rc("init trades_cap INT64_MIN",
              CALL(anvil_sim_init(sim, size, &ob.b, &cfg, eq, tr, INT64_MIN)), ANVIL_E_SIZE);
    anvil_bars b0 = ob.b;
    b0.n = 0;
    expect_rc("init n = 0", CALL(anvil_sim_init(sim, size, &b0, &cfg, eq, tr, 4)), ANVIL_E_SIZE);
    b0.n = -5;
    expect_rc("init n < 0", CALL(anvil_sim_init(sim, size, &b0, &cfg, eq, tr, 4)), ANVIL_E_SIZE);
    b0 = ob.b;
    b0.low = NULL;
    expect_rc("init low NULL", CALL(anvil_sim_init(sim, size, &b0, &cfg, eq, tr, 4)), ANVIL_E_NULL);
    owned_bars sp = bars_zigzag(n);
    sp.high[3] = sp.low[3] * 0.9;
    expect_rc("init high < low", CALL(anvil_sim_init(sim, size, &sp.b, &cfg, eq, tr, 4)),
              ANVIL_E_PRICE);
    bars_free(&sp);
    anvil_config c = cfg;
    c.periods_per_year = -NAN;
    expect_rc("init periods_per_year NaN", CALL(anvil_sim_init(sim, size, &ob.b, &c, eq, tr, 4)),
              ANVIL_E_CONFIG);
    c = cfg;
    c.fill = -3;
    expect_rc("init unknown fill", CALL(anvil_sim_init(sim, size, &ob.b, &c, eq, tr, 4)),
              ANVIL_E_KIND);
    expect_in("open after failed inits", CALL(anvil_sim_open(sim, 0)), not_live, 2);

    /* Out of sequence. */
    expect_rc("init", CALL(anvil_sim_init(sim, size, &ob.b, &cfg, eq, tr, 4)), ANVIL_OK);
    expect_rc("close before open", CALL(anvil_sim_close(sim, 0)), ANVIL_E_STATE);
    expect_rc("finish before the end", CALL(anvil_sim_finish(sim, st, nt)), ANVIL_E_STATE);
    const int64_t wrong_t[5] = {1, -1, n, INT64_MIN, INT64_MAX};
    for (int k = 0; k < 5; k++) {
        snprintf(what, sizeof what, "open(%lld) first", (long long)wrong_t[k]);
        expect_rc(what, CALL(anvil_sim_open(sim, wrong_t[k])), ANVIL_E_STATE);
    }
    expect_rc("open(0)", CALL(anvil_sim_open(sim, 0)), ANVIL_OK);
    expect_rc("open(0) twice", CALL(anvil_sim_open(sim, 0)), ANVIL_E_STATE);
    expect_rc("open(1) before close(0)", CALL(anvil_sim_open(sim, 1)), ANVIL_E_STATE);
    expect_rc("close(1) for bar 0", CALL(anvil_sim_close(sim, 1)), ANVIL_E_STATE);
    expect_rc("close(-1)", CALL(anvil_sim_close(sim, -1)), ANVIL_E_STATE);

    /* Orders: unknown kinds, bad prices and targets, too many. */
    const int32_t bad_type[4] = {-1, 3, INT32_MIN, INT32_MAX};
    const int32_t bad_side[4] = {2, -2, INT32_MIN, INT32_MAX};
    for (int k = 0; k < 4; k++) {
        expect_rc("unknown order type",
                  CALL(anvil_sim_order(sim, bad_type[k], ANVIL_SIDE_BUY, 100.0, 1.0, id)),
                  ANVIL_E_KIND);
        expect_rc("unknown side",
                  CALL(anvil_sim_order(sim, ANVIL_ORDER_LIMIT, bad_side[k], 100.0, 1.0, id)),
                  ANVIL_E_KIND);
    }
    const double bad_price[7] = {NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, -100.0};
    for (int k = 0; k < 7; k++)
        for (int type = ANVIL_ORDER_LIMIT; type <= ANVIL_ORDER_STOP; type++) {
            snprintf(what, sizeof what, "order type %d at price %g", type, bad_price[k]);
            expect_rc(what,
                      CALL(anvil_sim_order(sim, type, ANVIL_SIDE_SELL, bad_price[k], 1.0, id)),
                      ANVIL_E_PRICE);
        }
    expect_rc("market order ignores a NaN price",
              CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, ANVIL_SIDE_BUY, NAN, 0.5, id)),
              ANVIL_OK);
    const double bad_target[4] = {NAN, -NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 4; k++) {
        snprintf(what, sizeof what, "target %g", bad_target[k]);
        double tg = bad_target[k];
        expect_rc(what, CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, ANVIL_SIDE_BUY, 0.0, tg, id)),
                  ANVIL_E_SIGNAL);
        expect_rc(what, CALL(anvil_sim_order(sim, ANVIL_ORDER_STOP, ANVIL_SIDE_SELL, 50.0, tg, id)),
                  ANVIL_E_SIGNAL);
        int rc = CALL(anvil_sim_order(sim, ANVIL_ORDER_LIMIT, ANVIL_SIDE_EXIT, 500.0, tg, NULL));
        expect_rc("an exit ignores its target", rc, ANVIL_OK);
    }
    expect_rc("cancel_all", CALL(anvil_sim_cancel_all(sim)), ANVIL_OK);
    int64_t last_id = -1;
    for (int k = 0; k < ANVIL_MAX_ORDERS; k++)
        if (!expect_rc("orders up to ANVIL_MAX_ORDERS",
                       CALL(anvil_sim_order(sim, ANVIL_ORDER_LIMIT, ANVIL_SIDE_BUY, 1.0 + k, 1.0,
                                            id)),
                       ANVIL_OK))
            break;
        else
            last_id = *id;
    expect_rc("one order too many",
              CALL(anvil_sim_order(sim, ANVIL_ORDER_LIMIT, ANVIL_SIDE_BUY, 1.0, 1.0, id)),
              ANVIL_E_CAPACITY);
    expect_rc("get_state", CALL(anvil_sim_get_state(sim, state)), ANVIL_OK);
    expect_i64("n_orders at the limit", state->n_orders, ANVIL_MAX_ORDERS);
    expect_rc("get_state out NULL", CALL(anvil_sim_get_state(sim, NULL)), ANVIL_E_NULL);
    expect_rc("cancel the last", CALL(anvil_sim_cancel(sim, last_id)), ANVIL_OK);
    expect_rc("cancel it again", CALL(anvil_sim_cancel(sim, last_id)), ANVIL_E_STATE);
    const int64_t never[4] = {0, -1, INT64_MIN, INT64_MAX};
    for (int k = 0; k < 4; k++)
        expect_rc("cancel an id never given", CALL(anvil_sim_cancel(sim, never[k])), ANVIL_E_STATE);
    expect_rc("cancel_all", CALL(anvil_sim_cancel_all(sim)), ANVIL_OK);
    CALL(anvil_sim_get_state(sim, state));
    expect_i64("n_orders after cancel_all", state->n_orders, 0);
    expect_rc("close(0)", CALL(anvil_sim_close(sim, 0)), ANVIL_OK);
    for (int64_t t = 1; t < n; t++) {
        CALL(anvil_sim_open(sim, t));
        CALL(anvil_sim_close(sim, t));
    }
    expect_rc("open after the last bar", CALL(anvil_sim_open(sim, n)), ANVIL_E_STATE);
    expect_rc("close after the last bar", CALL(anvil_sim_close(sim, n - 1)), ANVIL_E_STATE);
    expect_rc("order after the last bar",
              CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, ANVIL_SIDE_BUY, 0.0, 1.0, id)),
              ANVIL_E_STATE);
    expect_rc("finish stats NULL", CALL(anvil_sim_finish(sim, NULL, nt)), ANVIL_E_NULL);
    expect_rc("finish", CALL(anvil_sim_finish(sim, st, NULL)), ANVIL_OK);
    check_equity("sim", eq, n, st, 1);

    /* A failed init must not leave the previous simulation live. */
    expect_rc("init again", CALL(anvil_sim_init(sim, size, &ob.b, &cfg, NULL, NULL, 0)), ANVIL_OK);
    c = cfg;
    c.fee_rate = 1.0;
    expect_rc("re-init with fee_rate 1", CALL(anvil_sim_init(sim, size, &ob.b, &c, NULL, NULL, 0)),
              ANVIL_E_CONFIG);
    expect_in("open after a failed re-init", CALL(anvil_sim_open(sim, 0)), not_live, 2);

    /* A sim of one bar, no optional buffers. */
    anvil_bars one = ob.b;
    one.n = 1;
    expect_rc("init one bar", CALL(anvil_sim_init(sim, size, &one, &cfg, NULL, NULL, 0)), ANVIL_OK);
    CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, ANVIL_SIDE_BUY, 0.0, 1.0, NULL));
    sim_run_through(sim, 1);
    expect_rc("finish one bar", CALL(anvil_sim_finish(sim, st, nt)), ANVIL_OK);
    expect_i64("no trades on one bar", *nt, 0);

    free(nt);
    free(id);
    free(state);
    free(st);
    free(tr);
    free(eq);
    free(sim);
    bars_free(&ob);
}

/* Market orders placed as float signals would be: the same numbers as
 * anvil_backtest, with equity and trades in exact-size buffers. */
static void random_sim_as_signals(long case_no)
{
    char what[120];
    snprintf(what, sizeof what, "random sim as signals %ld", case_no);
    int moderate = chance(0.7);
    int64_t n = random_length();
    owned_bars ob = bars_new(n);
    bars_fill(&ob, random_start_price(moderate), log_uniform(1e-4, 0.08));
    double *sig = xmalloc((size_t)n * sizeof *sig);
    signal_fill(sig, ANVIL_SIGNAL_F64, n, log_uniform(0.02, 0.9), !moderate);
    anvil_config cfg = moderate ? config_moderate() : config_extreme();
    run_out ref = run_backtest(&ob.b, sig, ANVIL_SIGNAL_F64, &cfg, 1, anvil_max_trades(n));
    expect_rc("random sim: the backtest", ref.rc, ANVIL_OK);

    anvil_sim *sim = sim_new();
    double *eq = equity_new(n);
    int64_t cap = below(ref.n_trades + 2);
    anvil_trade *tr = xmalloc((size_t)cap * sizeof *tr);
    expect_rc(what, CALL(anvil_sim_init(sim, anvil_sim_size(), &ob.b, &cfg, eq, tr, cap)),
              ANVIL_OK);
    double last = 0.0;
    anvil_sim_state *state = xmalloc(sizeof *state);
    for (int64_t t = 0; t < n; t++) {
        CALL(anvil_sim_open(sim, t));
        double v = sig[t];
        if (t + 1 < n && !isnan(v) && v != last) {
            last = v;
            int32_t side = v < 0 ? ANVIL_SIDE_SELL : ANVIL_SIDE_BUY;
            int rc = CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, side, 0.0, v, NULL));
            expect_rc("random sim: market order", rc, ANVIL_OK);
        }
        expect_rc("random sim: close", CALL(anvil_sim_close(sim, t)), ANVIL_OK);
    }
    anvil_stats *st = xmalloc(sizeof *st);
    int64_t *nt = xmalloc(sizeof *nt);
    int rc = CALL(anvil_sim_finish(sim, st, nt));
    expect_rc(what, rc, cap < ref.n_trades ? ANVIL_E_CAPACITY : ANVIL_OK);
    expect_i64("random sim: trade count", *nt, ref.n_trades);
    CALL(anvil_sim_get_state(sim, state));
    expect_i64("random sim: state n_trades", state->n_trades, ref.n_trades);
    int k = stats_differ(st, &ref.stats);
    if (k >= 0)
        fail("%s: stats field %d differs from anvil_backtest", what, k);
    for (int64_t i = 0; i < n; i++)
        if (!same_double(eq[i], ref.equity[i])) {
            fail("%s: equity[%lld] %g vs %g from anvil_backtest", what, (long long)i, eq[i],
                 ref.equity[i]);
            break;
        }
    for (int64_t i = 0; i < cap && i < ref.n_trades; i++)
        if (!same_trade(&tr[i], &ref.trades[i]))
            fail("%s: trade %lld differs from anvil_backtest", what, (long long)i);
    free(nt);
    free(st);
    free(state);
    free(tr);
    free(eq);
    free(sim);
    run_free(&ref);
    free(sig);
    bars_free(&ob);
}

/* Random market, limit, stop and exit orders, valid and not, many per bar. */
static void random_sim_orders(long case_no)
{
    char what[120];
    snprintf(what, sizeof what, "random sim orders %ld", case_no);
    int moderate = chance(0.7);
    int64_t n = random_length();
    owned_bars ob = bars_new(n);
    bars_fill(&ob, random_start_price(moderate), log_uniform(1e-4, 0.08));
    anvil_config cfg = moderate ? config_moderate() : config_extreme();
    anvil_sim *sim = sim_new();
    double *eq = chance(0.5) ? equity_new(n) : NULL;
    int64_t cap = below(2 * n + 4);
    anvil_trade *tr = chance(0.8) ? xmalloc((size_t)cap * sizeof *tr) : NULL;
    expect_rc(what, CALL(anvil_sim_init(sim, anvil_sim_size(), &ob.b, &cfg, eq, tr, cap)),
              ANVIL_OK);
    anvil_sim_state *state = xmalloc(sizeof *state);
    int64_t *id = xmalloc(sizeof *id), max_id = 0;
    /* Bursts: hundreds of orders per bar, past ANVIL_MAX_ORDERS. Such churning
     * can grind equity down into subnormal numbers, where a trade's notional
     * underflows and its ret is NaN or inf: only the structure is checked then. */
    int burst = chance(0.1);
    if (burst)
        moderate = 0;
    for (int64_t t = 0; t < n; t++) {
        expect_rc("random sim: open", CALL(anvil_sim_open(sim, t)), ANVIL_OK);
        int64_t n_orders = burst ? below(400) : below(4);
        for (int64_t k = 0; k < n_orders; k++) {
            static const int32_t sides[3] = {ANVIL_SIDE_BUY, ANVIL_SIDE_SELL, ANVIL_SIDE_EXIT};
            int32_t type = (int32_t)below(3), side = sides[below(3)];
            double price = ob.close[t] * exp(0.05 * gaussian());
            double target = chance(0.1) ? (chance(0.5) ? 1e300 : -1e300) : 4.0 * uniform() - 2.0;
            int want = ANVIL_OK;
            if (chance(0.05)) {
                price = chance(0.5) ? NAN : -price;
                if (type != ANVIL_ORDER_MARKET)
                    want = ANVIL_E_PRICE;
            } else if (chance(0.05)) {
                target = INFINITY;
                if (side != ANVIL_SIDE_EXIT)
                    want = ANVIL_E_SIGNAL;
            }
            CALL(anvil_sim_get_state(sim, state));
            if (want == ANVIL_OK && state->n_orders >= ANVIL_MAX_ORDERS)
                want = ANVIL_E_CAPACITY;
            *id = -7;
            int rc = CALL(anvil_sim_order(sim, type, side, price, target, id));
            expect_rc(what, rc, want);
            if (rc == ANVIL_OK) {
                if (*id <= max_id)
                    fail("%s: order id %lld not new (after %lld)", what, (long long)*id,
                         (long long)max_id);
                max_id = *id;
            }
        }
        if (chance(0.1) && max_id > 0)
            expect_rc2("random sim: cancel", CALL(anvil_sim_cancel(sim, 1 + below(max_id))),
                       ANVIL_OK, ANVIL_E_STATE);
        if (chance(0.03))
            expect_rc("random sim: cancel_all", CALL(anvil_sim_cancel_all(sim)), ANVIL_OK);
        expect_rc("random sim: close", CALL(anvil_sim_close(sim, t)), ANVIL_OK);
        CALL(anvil_sim_get_state(sim, state));
        expect_i64("random sim: next_bar", state->next_bar, t + 1);
        if (state->n_orders < 0 || state->n_orders > ANVIL_MAX_ORDERS)
            fail("%s: n_orders %lld", what, (long long)state->n_orders);
        if ((state->units == 0.0) != (state->entry_bar == -1))
            fail("%s: units %g but entry_bar %lld", what, state->units,
                 (long long)state->entry_bar);
        if (state->entry_bar > t)
            fail("%s: entry_bar %lld after bar %lld", what, (long long)state->entry_bar,
                 (long long)t);
    }
    anvil_stats *st = xmalloc(sizeof *st);
    int64_t *nt = xmalloc(sizeof *nt);
    int rc = CALL(anvil_sim_finish(sim, st, nt));
    expect_rc(what, rc, tr != NULL && cap < *nt ? ANVIL_E_CAPACITY : ANVIL_OK);
    check_stats(what, st, n, *nt, moderate);
    if (eq)
        check_equity(what, eq, n, st, moderate);
    if (tr) {
        /* stop and limit orders close trades as stop_loss and take_profit, config or not */
        anvil_config reasons = cfg;
        reasons.stop_loss = cfg.stop_loss > 0.0 ? cfg.stop_loss : 1.0;
        reasons.take_profit = cfg.take_profit > 0.0 ? cfg.take_profit : 1.0;
        check_trades(what, tr, *nt < cap ? *nt : cap, n, &reasons, moderate);
    }
    free(nt);
    free(st);
    free(id);
    free(state);
    free(tr);
    free(eq);
    free(sim);
    bars_free(&ob);
}

/* ---- anvil_stats_from_equity ---------------------------------------------- */

static int stats_from(const double *eq, int64_t n, double initial, double ppy,
                      const uint8_t *in_market, const anvil_trade *tr, int64_t n_trades,
                      anvil_stats *out)
{
    return CALL(anvil_stats_from_equity(eq, n, initial, ppy, in_market, tr, n_trades, out));
}

static void test_stats_from_equity(void)
{
    section = "anvil_stats_from_equity";
    char what[160];
    const int64_t n = 30;
    owned_bars ob = bars_zigzag(n);
    int8_t *sig = xmalloc((size_t)n);
    for (int64_t i = 0; i < n; i++)
        sig[i] = (int8_t)((i / 3) % 2);
    anvil_config cfg = config_default();
    cfg.close_at_end = 1;
    run_out r = run_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, 1, anvil_max_trades(n));
    expect_rc("the backtest behind it", r.rc, ANVIL_OK);
    int64_t nt = r.n_trades;
    anvil_trade *tr = xmalloc((size_t)nt * sizeof *tr);
    memcpy(tr, r.trades, (size_t)nt * sizeof *tr);
    uint8_t *flags = xmalloc((size_t)n);
    memset(flags, 1, (size_t)n);
    anvil_stats *st = xmalloc(sizeof *st);
    const double cap = cfg.initial_capital, ppy = cfg.periods_per_year;

    expect_rc("valid", stats_from(r.equity, n, cap, ppy, flags, tr, nt, st), ANVIL_OK);
    expect_rc("no flags, no trades", stats_from(r.equity, n, cap, ppy, NULL, NULL, 0, st),
              ANVIL_OK);
    expect_rc("equity NULL", stats_from(NULL, n, cap, ppy, flags, tr, nt, st), ANVIL_E_NULL);
    expect_rc("stats NULL", stats_from(r.equity, n, cap, ppy, flags, tr, nt, NULL), ANVIL_E_NULL);
    expect_rc("trades NULL, n_trades > 0", stats_from(r.equity, n, cap, ppy, flags, NULL, nt, st),
              ANVIL_E_NULL);
    const int64_t bad_n[3] = {0, -1, INT64_MIN};
    for (int k = 0; k < 3; k++)
        expect_rc("n <= 0", stats_from(r.equity, bad_n[k], cap, ppy, flags, tr, nt, st),
                  ANVIL_E_SIZE);
    expect_rc("n_trades < 0", stats_from(r.equity, n, cap, ppy, flags, tr, -1, st), ANVIL_E_SIZE);
    expect_rc("n_trades INT64_MIN", stats_from(r.equity, n, cap, ppy, flags, tr, INT64_MIN, st),
              ANVIL_E_SIZE);
    const double bad_num[5] = {NAN, 0.0, -1.0, INFINITY, -INFINITY};
    for (int k = 0; k < 5; k++) {
        snprintf(what, sizeof what, "initial_capital %g", bad_num[k]);
        expect_rc(what, stats_from(r.equity, n, bad_num[k], ppy, flags, tr, nt, st),
                  ANVIL_E_CONFIG);
        snprintf(what, sizeof what, "periods_per_year %g", bad_num[k]);
        expect_rc(what, stats_from(r.equity, n, cap, bad_num[k], flags, tr, nt, st),
                  ANVIL_E_CONFIG);
    }
    const double bad_eq[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        double *eq = xmalloc((size_t)n * sizeof *eq);
        memcpy(eq, r.equity, (size_t)n * sizeof *eq);
        eq[(k * 11) % n] = bad_eq[k];
        snprintf(what, sizeof what, "equity %g", bad_eq[k]);
        expect_rc(what, stats_from(eq, n, cap, ppy, flags, tr, nt, st), ANVIL_E_PRICE);
        free(eq);
    }
    /* Flags other than 0/1: any status, no trouble. */
    for (int64_t i = 0; i < n; i++)
        flags[i] = (uint8_t)(i * 37);
    const int any[4] = {ANVIL_OK, ANVIL_E_CONFIG, ANVIL_E_SIZE, ANVIL_E_KIND};
    expect_in("in_market flags of 0..255", stats_from(r.equity, n, cap, ppy, flags, tr, nt, st),
              any, 4);

    /* The stats of the backtest come back from its own equity and trades
     * (exposure and fees aside: no flags here, and fee sums in another order). */
    if (expect_rc("round trip", stats_from(r.equity, n, cap, ppy, NULL, tr, nt, st), ANVIL_OK)) {
        anvil_stats a = *st, b = r.stats;
        a.exposure = b.exposure = 0.0;
        if (fabs(a.total_fees - b.total_fees) <= 1e-9 * fabs(b.total_fees))
            a.total_fees = b.total_fees;
        int k = stats_differ(&a, &b);
        if (k >= 0)
            fail("round trip: stats field %d differs from the backtest's", k);
    }

    /* Trades the caller made up: bars far outside the series, exits before
     * entries. Any status the header defines, but no arithmetic overflow. */
    const int64_t far[4][2] = {{-5, 3}, {10, 2}, {0, INT64_MAX}, {INT64_MIN, INT64_MAX}};
    const int hostile_trade_ok[5] = {ANVIL_OK, ANVIL_E_SIZE, ANVIL_E_CONFIG, ANVIL_E_PRICE,
                                     ANVIL_E_KIND};
    for (int k = 0; k < 4 && nt >= 2; k++) {
        anvil_trade *bad = xmalloc(2 * sizeof *bad);
        memcpy(bad, tr, 2 * sizeof *bad);
        bad[0].entry_bar = bad[1].entry_bar = far[k][0];
        bad[0].exit_bar = bad[1].exit_bar = far[k][1];
        snprintf(what, sizeof what, "trades over bars %lld..%lld", (long long)far[k][0],
                 (long long)far[k][1]);
        expect_in(what, stats_from(r.equity, n, cap, ppy, NULL, bad, 2, st), hostile_trade_ok, 5);
        free(bad);
    }
    free(st);
    free(flags);
    free(tr);
    run_free(&r);
    free(sig);
    bars_free(&ob);
}

/* ---- indicators ----------------------------------------------------------- */

/* What each indicator reads and writes, so one driver can call them all:
 * inputs from {high, low, close, volume}, up to three periods, up to two
 * double parameters, up to four outputs, and willr's scratch buffer. */
enum { READS_C, READS_HLC, READS_CV, READS_HLCV };

typedef struct {
    const char *name;
    int reads;
    int n_periods;
    int n_params;
    int n_outputs;
    int work;
} indicator_spec;

static const indicator_spec indicators[] = {
    {"sma", READS_C, 1, 0, 1, 0},        {"ema", READS_C, 1, 0, 1, 0},
    {"wma", READS_C, 1, 0, 1, 0},        {"rsi", READS_C, 1, 0, 1, 0},
    {"macd", READS_C, 3, 0, 3, 0},       {"roc", READS_C, 1, 0, 1, 0},
    {"momentum", READS_C, 1, 0, 1, 0},   {"stddev", READS_C, 1, 0, 1, 0},
    {"zscore", READS_C, 1, 0, 1, 0},     {"bbands", READS_C, 1, 2, 4, 0},
    {"highest", READS_C, 1, 0, 1, 0},    {"lowest", READS_C, 1, 0, 1, 0},
    {"true_range", READS_HLC, 0, 0, 1, 0}, {"atr", READS_HLC, 1, 0, 1, 0},
    {"stoch", READS_HLC, 3, 0, 2, 0},    {"willr", READS_HLC, 1, 0, 1, 1},
    {"cci", READS_HLC, 1, 0, 1, 0},      {"adx", READS_HLC, 1, 0, 1, 0},
    {"vwap", READS_HLCV, 1, 0, 1, 0},    {"obv", READS_CV, 0, 0, 1, 0},
};
#define N_INDICATORS ((int)(sizeof indicators / sizeof indicators[0]))

/* in: high, low, close, volume. */
static int call_indicator(int k, const double *const in[4], int64_t n, const int64_t p[3],
                          const double d[2], double *const out[4], double *work)
{
    const double *h = in[0], *l = in[1], *c = in[2], *v = in[3];
    switch (k) {
    case 0: return CALL(anvil_sma(c, n, p[0], out[0]));
    case 1: return CALL(anvil_ema(c, n, p[0], out[0]));
    case 2: return CALL(anvil_wma(c, n, p[0], out[0]));
    case 3: return CALL(anvil_rsi(c, n, p[0], out[0]));
    case 4: return CALL(anvil_macd(c, n, p[0], p[1], p[2], out[0], out[1], out[2]));
    case 5: return CALL(anvil_roc(c, n, p[0], out[0]));
    case 6: return CALL(anvil_momentum(c, n, p[0], out[0]));
    case 7: return CALL(anvil_stddev(c, n, p[0], out[0]));
    case 8: return CALL(anvil_zscore(c, n, p[0], out[0]));
    case 9: return CALL(anvil_bbands(c, n, p[0], d[0], d[1], out[0], out[1], out[2], out[3]));
    case 10: return CALL(anvil_highest(c, n, p[0], out[0]));
    case 11: return CALL(anvil_lowest(c, n, p[0], out[0]));
    case 12: return CALL(anvil_true_range(h, l, c, n, out[0]));
    case 13: return CALL(anvil_atr(h, l, c, n, p[0], out[0]));
    case 14: return CALL(anvil_stoch(h, l, c, n, p[0], p[1], p[2], out[0], out[1]));
    case 15: return CALL(anvil_willr(h, l, c, n, p[0], out[0], work));
    case 16: return CALL(anvil_cci(h, l, c, n, p[0], out[0]));
    case 17: return CALL(anvil_adx(h, l, c, n, p[0], out[0]));
    case 18: return CALL(anvil_vwap(h, l, c, v, n, p[0], out[0]));
    default: return CALL(anvil_obv(c, v, n, out[0]));
    }
}

/* Which of high, low, close, volume indicator k reads. */
static int reads_input(int k, int which)
{
    switch (indicators[k].reads) {
    case READS_C: return which == 2;
    case READS_HLC: return which <= 2;
    case READS_CV: return which >= 2;
    default: return 1;
    }
}

/* Exact-size inputs and outputs for one indicator call over n bars. */
typedef struct {
    int64_t n;
    double *in[4];
    double *out[4];
    double *work;
} indicator_io;

static indicator_io io_new(int64_t n)
{
    indicator_io io;
    io.n = n;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof(double);
    for (int j = 0; j < 4; j++) {
        io.in[j] = xmalloc(size);
        io.out[j] = equity_new(n > 0 ? n : 0);
    }
    io.work = xmalloc(size);
    return io;
}

static void io_free(indicator_io *io)
{
    for (int j = 0; j < 4; j++) {
        free(io->in[j]);
        free(io->out[j]);
    }
    free(io->work);
}

/* Inputs: a bar walk from p0 (high, low, close) and a positive volume. */
static void io_fill(indicator_io *io, double p0, double sigma)
{
    owned_bars ob = bars_new(io->n);
    bars_fill(&ob, p0, sigma);
    for (int64_t i = 0; i < io->n; i++) {
        io->in[0][i] = ob.high[i];
        io->in[1][i] = ob.low[i];
        io->in[2][i] = ob.close[i];
        io->in[3][i] = chance(0.05) ? 0.0 : log_uniform(1.0, 1e6);
    }
    bars_free(&ob);
}

/* Every output of indicator k written in full; with moderate inputs, no inf. */
static void check_outputs(const char *what, int k, const indicator_io *io, int moderate)
{
    for (int j = 0; j < indicators[k].n_outputs; j++)
        for (int64_t i = 0; i < io->n; i++) {
            if (unwritten(io->out[j][i])) {
                fail("%s: output %d [%lld] of %lld never written", what, j, (long long)i,
                     (long long)io->n);
                return;
            }
            if (moderate && isinf(io->out[j][i])) {
                fail("%s: output %d [%lld] is %g", what, j, (long long)i, io->out[j][i]);
                return;
            }
        }
}

static void test_indicator_arguments(void)
{
    section = "indicator arguments";
    char what[200];
    const int64_t n = 40;
    const double d_ok[2] = {2.0, 2.0};
    for (int k = 0; k < N_INDICATORS; k++) {
        const indicator_spec *s = &indicators[k];
        indicator_io io = io_new(n);
        io_fill(&io, 100.0, 0.02);
        const int64_t p_ok[3] = {3, 7, 4};

        snprintf(what, sizeof what, "%s, valid", s->name);
        if (expect_rc(what,
                      call_indicator(k, (const double *const *)io.in, n, p_ok, d_ok, io.out,
                                     io.work),
                      ANVIL_OK))
            check_outputs(what, k, &io, 1);

        /* NULL in each pointer the function reads or writes. */
        for (int j = 0; j < 4; j++) {
            if (!reads_input(k, j))
                continue;
            const double *in[4] = {io.in[0], io.in[1], io.in[2], io.in[3]};
            in[j] = NULL;
            snprintf(what, sizeof what, "%s, input %d NULL", s->name, j);
            expect_rc(what, call_indicator(k, in, n, p_ok, d_ok, io.out, io.work), ANVIL_E_NULL);
        }
        for (int j = 0; j < s->n_outputs; j++) {
            double *out[4] = {io.out[0], io.out[1], io.out[2], io.out[3]};
            out[j] = NULL;
            snprintf(what, sizeof what, "%s, output %d NULL", s->name, j);
            expect_rc(what,
                      call_indicator(k, (const double *const *)io.in, n, p_ok, d_ok, out, io.work),
                      ANVIL_E_NULL);
        }
        if (s->work) {
            snprintf(what, sizeof what, "%s, work NULL", s->name);
            expect_rc(what,
                      call_indicator(k, (const double *const *)io.in, n, p_ok, d_ok, io.out, NULL),
                      ANVIL_E_NULL);
        }

        /* Sizes: n < 0 refused, n = 0 writes nothing (1-byte buffers). */
        const int64_t bad_n[2] = {-1, INT64_MIN};
        for (int j = 0; j < 2; j++) {
            snprintf(what, sizeof what, "%s, n = %lld", s->name, (long long)bad_n[j]);
            expect_rc(what,
                      call_indicator(k, (const double *const *)io.in, bad_n[j], p_ok, d_ok, io.out,
                                     io.work),
                      ANVIL_E_SIZE);
        }
        indicator_io empty = io_new(0);
        snprintf(what, sizeof what, "%s, n = 0", s->name);
        expect_rc(what,
                  call_indicator(k, (const double *const *)empty.in, 0, p_ok, d_ok, empty.out,
                                 empty.work),
                  ANVIL_OK);
        io_free(&empty);

        /* Periods: below 1 refused; longer than the series gives all NaN. */
        for (int j = 0; j < s->n_periods; j++) {
            const int64_t bad_p[3] = {0, -1, INT64_MIN};
            for (int v = 0; v < 3; v++) {
                int64_t p[3] = {p_ok[0], p_ok[1], p_ok[2]};
                p[j] = bad_p[v];
                snprintf(what, sizeof what, "%s, period %d = %lld", s->name, j,
                         (long long)bad_p[v]);
                expect_rc(what,
                          call_indicator(k, (const double *const *)io.in, n, p, d_ok, io.out,
                                         io.work),
                          ANVIL_E_SIZE);
            }
            const int64_t long_p[4] = {n, n + 1, INT64_MAX / 2, INT64_MAX};
            for (int v = 0; v < 4; v++) {
                int64_t p[3] = {p_ok[0], p_ok[1], p_ok[2]};
                p[j] = long_p[v];
                indicator_io fresh = io_new(n);
                io_fill(&fresh, 100.0, 0.02);
                snprintf(what, sizeof what, "%s, period %d = %lld over %lld bars", s->name, j,
                         (long long)long_p[v], (long long)n);
                if (expect_rc(what,
                              call_indicator(k, (const double *const *)fresh.in, n, p, d_ok,
                                             fresh.out, fresh.work),
                              ANVIL_OK)) {
                    check_outputs(what, k, &fresh, 1);
                    if (long_p[v] > n)
                        for (int o = 0; o < s->n_outputs; o++)
                            for (int64_t i = 0; i < n; i++)
                                if (!isnan(fresh.out[o][i])) {
                                    fail("%s: output %d [%lld] = %g, want NaN", what, o,
                                         (long long)i, fresh.out[o][i]);
                                    i = n;
                                    o = s->n_outputs;
                                }
                }
                io_free(&fresh);
            }
        }
        /* Odd band widths: any status the header defines, outputs whole on OK. */
        if (s->n_params) {
            const double odd[5] = {NAN, INFINITY, -INFINITY, -2.0, 0.0};
            for (int v = 0; v < 5; v++) {
                const double d[2] = {odd[v], odd[(v + 1) % 5]};
                snprintf(what, sizeof what, "%s, nbdev %g / %g", s->name, d[0], d[1]);
                int rc = call_indicator(k, (const double *const *)io.in, n, p_ok, d, io.out,
                                        io.work);
                const int known[4] = {ANVIL_OK, ANVIL_E_SIZE, ANVIL_E_CONFIG, ANVIL_E_PRICE};
                if (expect_in(what, rc, known, 4) && rc == ANVIL_OK)
                    check_outputs(what, k, &io, 0);
            }
        }
        io_free(&io);
    }
}

/* Random series, valid or spoilt with NaN, infinities, zeros and negatives,
 * and random periods, for every indicator. */
static void random_indicator(long case_no)
{
    char what[160];
    int k = (int)below(N_INDICATORS);
    const indicator_spec *s = &indicators[k];
    snprintf(what, sizeof what, "random %s %ld", s->name, case_no);
    int64_t n = chance(0.05) ? 0 : random_length();
    int moderate = chance(0.6);
    indicator_io io = io_new(n);
    io_fill(&io, moderate ? log_uniform(1e-2, 1e4) : log_uniform(1e-300, 1e300),
            chance(0.1) ? 0.0 : log_uniform(1e-4, 0.1));
    if (!moderate && n > 0) {
        static const double hostile[8] = {NAN,  INFINITY, -INFINITY, 0.0,
                                          -1.0, 1e300,    TINY,      -0.0};
        int64_t spoil = below(4);
        for (int64_t m = 0; m < spoil; m++)
            io.in[below(4)][below(n)] = hostile[below(8)];
    }
    int64_t p[3];
    for (int j = 0; j < 3; j++)
        p[j] = chance(0.05) ? INT64_MAX - below(3) : 1 + below(n + 3);
    const double d[2] = {moderate ? 4.0 * uniform() : 1e300 * (uniform() - 0.5), 4.0 * uniform()};
    int rc = call_indicator(k, (const double *const *)io.in, n, p, d, io.out, io.work);
    if (expect_rc(what, rc, ANVIL_OK))
        check_outputs(what, k, &io, moderate);
    io_free(&io);
}

/* ---- main ----------------------------------------------------------------- */

/* ---- anvil_compare_rows --------------------------------------------------- */

static void test_compare_rows_arguments(void)
{
    section = "compare_rows arguments";
    double x[3] = {1.0, 2.0, 3.0};
    const double *a[2] = {x, x}, *b[2] = {x, NULL};
    int8_t out[6];
    expect_rc("compare_rows a NULL", CALL(anvil_compare_rows(NULL, a, NULL, 1, 3, out)), ANVIL_E_NULL);
    expect_rc("compare_rows b NULL", CALL(anvil_compare_rows(a, NULL, NULL, 1, 3, out)), ANVIL_E_NULL);
    expect_rc("compare_rows out NULL", CALL(anvil_compare_rows(a, a, NULL, 1, 3, NULL)), ANVIL_E_NULL);
    expect_rc("compare_rows a line NULL", CALL(anvil_compare_rows(a, b, NULL, 2, 3, out)), ANVIL_E_NULL);
    expect_rc("compare_rows rows < 0", CALL(anvil_compare_rows(a, a, NULL, -1, 3, out)), ANVIL_E_SIZE);
    expect_rc("compare_rows n < 0", CALL(anvil_compare_rows(a, a, NULL, 1, -3, out)), ANVIL_E_SIZE);
    expect_rc("compare_rows rows * n overflows",
              CALL(anvil_compare_rows(a, a, NULL, INT64_MAX / 2, 3, out)), ANVIL_E_SIZE);
    expect_rc("compare_rows nothing", CALL(anvil_compare_rows(a, a, NULL, 0, 3, out)), ANVIL_OK);
    expect_rc("compare_rows no bars", CALL(anvil_compare_rows(a, a, NULL, 2, 0, out)), ANVIL_OK);
}

/* Random lines (NaN, infinities, ties) in exact-size buffers, any length, rows
 * sharing lines, mixed sign flags: every value is the rule's. */
static void random_compare_rows(long case_no)
{
    static const double odd[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, DBL_MAX, -DBL_MIN};
    int64_t n = chance(0.5) ? below(40) : below(5000);
    int64_t n_lines = 1 + below(6), rows = below(12);
    double **lines = xmalloc((size_t)n_lines * sizeof *lines);
    for (int64_t k = 0; k < n_lines; k++) {
        lines[k] = xmalloc((size_t)n * sizeof(double));
        for (int64_t t = 0; t < n; t++)
            lines[k][t] = chance(0.05) ? odd[below(7)] : (double)below(4);
    }
    const double **a = xmalloc((size_t)rows * sizeof *a), **b = xmalloc((size_t)rows * sizeof *b);
    int8_t *sign = xmalloc((size_t)rows), *out = xmalloc((size_t)(rows * n));
    for (int64_t r = 0; r < rows; r++) {
        a[r] = lines[below(n_lines)];
        b[r] = lines[below(n_lines)];
        sign[r] = (int8_t)(chance(0.5) ? below(3) - 1 : 0);
    }
    int with_sign = chance(0.7);
    if (expect_rc("compare_rows", CALL(anvil_compare_rows(a, b, with_sign ? sign : NULL, rows, n, out)),
                  ANVIL_OK)) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t t = 0; t < n; t++) {
                double x = a[r][t], y = b[r][t];
                int want = (x > y) - (with_sign && sign[r] && x < y);
                if (out[r * n + t] != want) {
                    fail("case %ld: compare_rows row %lld bar %lld is %d, want %d", case_no,
                         (long long)r, (long long)t, out[r * n + t], want);
                    r = rows;
                    break;
                }
            }
    }
    for (int64_t k = 0; k < n_lines; k++)
        free(lines[k]);
    free(lines);
    free(a);
    free(b);
    free(sign);
    free(out);
}

/* ---- margin: liquidation when equity reaches zero -------------------------- */

/* A short of the whole account at open[1] = 100 squeezed to `peak`, then prices
 * wander (extreme ones included); n bars. */
static owned_bars bars_squeeze(int64_t n, double peak)
{
    owned_bars ob = bars_new(n);
    for (int64_t i = 0; i < n; i++) {
        double p = i < 2 ? 100.0 : i < n / 2 ? 100.0 + (peak - 100.0) * (double)(i - 1) / (double)(n / 2)
                                            : (i % 3 == 0 ? 1e300 : i % 3 == 1 ? 1e-300 : peak);
        ob.open[i] = ob.high[i] = ob.low[i] = ob.close[i] = p;
    }
    return ob;
}

static void test_margin(void)
{
    section = "margin";
    char what[160];
    const int64_t n = 64;
    owned_bars ob = bars_squeeze(n, 400.0);
    anvil_config cfg = config_default();
    cfg.allow_short = 1;
    cfg.max_leverage = 3.0;
    int8_t *sig = xmalloc((size_t)n);
    for (int fill = 0; fill < 2; fill++) {
        for (int busy = 0; busy < 2; busy++) {
            cfg.fill = fill;
            for (int64_t i = 0; i < n; i++) /* short, then (busy) ask to buy and sell all along */
                sig[i] = i == 0                  ? -1
                         : busy && i > n / 2 ? (int8_t)(i % 2 ? 1 : -1)
                                             : ANVIL_HOLD;
            run_out r = run_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, 1, anvil_max_trades(n));
            snprintf(what, sizeof what, "squeeze fill %d busy %d", fill, busy);
            expect_rc(what, r.rc, ANVIL_OK);
            int64_t m = -1;
            for (int64_t k = 0; k < r.n_trades; k++)
                if (r.trades[k].exit_reason == ANVIL_EXIT_MARGIN)
                    m = k;
            expect_true(what, m == r.n_trades - 1 && m >= 0);
            check_trades(what, r.trades, r.n_trades, n, &cfg, 0);
            check_equity(what, r.equity, n, &r.stats, 0);
            if (m >= 0) {
                int64_t at = r.trades[m].exit_bar;
                for (int64_t i = at + 1; i < n; i++)
                    if (!same_double(r.equity[i], r.equity[at])) {
                        fail("%s: equity[%lld] %g moved after the margin call at bar %lld", what,
                             (long long)i, r.equity[i], (long long)at);
                        break;
                    }
            }
            /* stats-only (no outputs) takes the same path */
            run_out q = run_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, 0, -1);
            expect_true("margin: stats without outputs agree", stats_differ(&r.stats, &q.stats) < 0);
            run_free(&q);
            run_free(&r);
        }
    }
    /* A bad signal after the call is still an error, at its own bar. */
    cfg.fill = ANVIL_FILL_NEXT_OPEN;
    for (int64_t i = 0; i < n; i++)
        sig[i] = i == 0 ? -1 : ANVIL_HOLD;
    sig[n - 3] = 7;
    run_out r = run_backtest(&ob.b, sig, ANVIL_SIGNAL_I8, &cfg, 1, anvil_max_trades(n));
    expect_rc("margin: bad signal after the call", r.rc, ANVIL_E_SIGNAL);
    expect_i64("margin: bad signal index", r.bad, n - 3);
    run_free(&r);

    /* The stepping path: liquidated, then orders are accepted and never fill. */
    anvil_sim *sim = sim_new();
    double *eq = equity_new(n);
    int64_t cap = anvil_max_trades(n);
    anvil_trade *tr = xmalloc((size_t)cap * sizeof *tr);
    anvil_stats *st = xmalloc(sizeof *st);
    int64_t id = 0, nt = -7;
    expect_rc("margin sim init", CALL(anvil_sim_init(sim, anvil_sim_size(), &ob.b, &cfg, eq, tr, cap)),
              ANVIL_OK);
    for (int64_t t = 0; t < n; t++) {
        expect_rc("margin sim open", CALL(anvil_sim_open(sim, t)), ANVIL_OK);
        expect_rc("margin sim close", CALL(anvil_sim_close(sim, t)), ANVIL_OK);
        if (t == 0)
            expect_rc("margin sim short",
                      CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, ANVIL_SIDE_SELL, 0.0, -3.0, &id)),
                      ANVIL_OK);
        if (t > n / 2 && t + 1 < n) { /* long after the call: accepted, never filled */
            expect_rc("margin sim order",
                      CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, ANVIL_SIDE_BUY, 0.0, 3.0, &id)),
                      ANVIL_OK);
            expect_rc("margin sim limit",
                      CALL(anvil_sim_order(sim, ANVIL_ORDER_LIMIT, ANVIL_SIDE_BUY, 1e-299, 1.0, &id)),
                      ANVIL_OK);
        }
    }
    expect_rc("margin sim finish", CALL(anvil_sim_finish(sim, st, &nt)), ANVIL_OK);
    int64_t m = -1;
    for (int64_t k = 0; k < nt && k < cap; k++)
        if (tr[k].exit_reason == ANVIL_EXIT_MARGIN)
            m = k;
    expect_true("margin sim: the margin call is the last trade", m >= 0 && m == nt - 1);
    check_trades("margin sim", tr, nt, n, &cfg, 0);
    check_equity("margin sim", eq, n, st, 0);
    free(sim);
    free(eq);
    free(tr);
    free(st);
    free(sig);
    bars_free(&ob);
}

/* ==== portfolios (issue 10): anvil_portfolio, anvil_portfolio_batch, anvil_check_panel ====
 * Appended section: hostile sizes, NaN / inf weights, empty panels, one symbol,
 * one bar, capacity, and batch == one at a time. */

typedef struct {
    int64_t n, m;
    double *o, *h, *l, *c;
    uint8_t *trad;
    double *w;
    int64_t *ts;
    anvil_panel p;
} pf_case;

/* A random valid panel (listings, delistings, gaps) and random weights. */
static void pf_case_new(pf_case *k, int64_t n, int64_t m, int extreme)
{
    k->n = n;
    k->m = m;
    size_t cells = (size_t)(n * m);
    k->o = xmalloc(cells * sizeof(double));
    k->h = xmalloc(cells * sizeof(double));
    k->l = xmalloc(cells * sizeof(double));
    k->c = xmalloc(cells * sizeof(double));
    k->trad = xmalloc(cells);
    k->w = xmalloc(cells * sizeof(double));
    for (int64_t j = 0; j < m; j++) {
        int64_t first = chance(0.3) ? below(n) : 0;
        int64_t last = chance(0.3) ? first + below(n - first) : n - 1;
        double px = extreme && chance(0.2) ? log_uniform(1e-200, 1e200) : log_uniform(1.0, 1000.0);
        for (int64_t t = 0; t < n; t++) {
            size_t i = (size_t)(t * m + j);
            int on = t >= first && t <= last && !(t > first && chance(0.05));
            k->trad[i] = (uint8_t)on;
            double step = exp(0.05 * gaussian());
            double o = px, c = px * step;
            double hi = fmax(o, c) * (1.0 + 0.01 * uniform()), lo = fmin(o, c) * (1.0 - 0.01 * uniform());
            k->o[i] = on ? o : (chance(0.5) ? NAN : -1.0); /* not read where not tradable */
            k->h[i] = on ? hi : NAN;
            k->l[i] = on ? lo : INFINITY;
            k->c[i] = on ? c : NAN;
            px = c;
            double w = chance(0.7) ? NAN : 2.0 * uniform() - 0.5;
            if (extreme && chance(0.02))
                w = chance(0.5) ? 1e300 : -1e300;
            if (chance(0.02))
                w = 0.0;
            k->w[i] = w;
        }
    }
    k->ts = xmalloc((size_t)n * sizeof(int64_t));
    int64_t step_ns = chance(0.5) ? 86400000000000LL : 3600000000000LL;
    int64_t t0 = chance(0.2) ? -(int64_t)below(1000) * step_ns : (int64_t)below(1000) * step_ns;
    for (int64_t t = 0; t < n; t++)
        k->ts[t] = t0 + t * step_ns;
    k->p = (anvil_panel){k->o, k->h, k->l, k->c, k->trad, k->ts, n, m, m, m};
}

static void pf_case_free(pf_case *k)
{
    free(k->o);
    free(k->h);
    free(k->l);
    free(k->c);
    free(k->trad);
    free(k->w);
    free(k->ts);
}

static anvil_pf_config pf_config(int extreme)
{
    anvil_pf_config c;
    memset(&c, 0, sizeof c);
    c.base = extreme ? config_extreme() : config_moderate();
    c.borrow_rate = chance(0.5) ? 0.0 : extreme ? log_uniform(1e-9, 1e9) : 0.1 * uniform();
    c.rebalance_threshold = chance(0.7) ? 0.0 : 0.1 * uniform();
    c.max_weight = chance(0.6) ? 0.0 : extreme ? log_uniform(1e-9, 1e9) : uniform();
    c.max_drawdown_halt = chance(0.7) ? 0.0 : 0.999 * uniform();
    c.halt_bars = c.max_drawdown_halt > 0.0 ? 1 + below(10) : below(3);
    c.daily_loss_limit = chance(0.7) ? 0.0 : 0.999 * uniform();
    c.cooldown_bars = chance(0.6) ? 0 : below(10);
    return c;
}

static void test_portfolio_arguments(void)
{
    section = "portfolio arguments";
    expect_true("pf_work_size(-1) is -1", anvil_pf_work_size(-1) == -1);
    expect_true("pf_work_size(huge) is -1", anvil_pf_work_size(INT64_MAX / 4) == -1);
    expect_true("pf_work_size(0) is 0", anvil_pf_work_size(0) == 0);
    pf_case k;
    pf_case_new(&k, 5, 3, 0);
    anvil_pf_config cfg = pf_config(0);
    int64_t ws = anvil_pf_work_size(3);
    void *work = xmalloc((size_t)ws);
    anvil_stats st;
    anvil_pf_extra ex;
    int64_t bad = -7;
    expect_rc("portfolio NULL panel", CALL(anvil_portfolio(NULL, k.w, &cfg, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_NULL);
    expect_rc("portfolio NULL weights", CALL(anvil_portfolio(&k.p, NULL, &cfg, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_NULL);
    expect_rc("portfolio NULL config", CALL(anvil_portfolio(&k.p, k.w, NULL, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_NULL);
    expect_rc("portfolio NULL work", CALL(anvil_portfolio(&k.p, k.w, &cfg, NULL, NULL, ws, &st, &ex, NULL, &bad)), ANVIL_E_NULL);
    expect_rc("portfolio NULL stats", CALL(anvil_portfolio(&k.p, k.w, &cfg, NULL, work, ws, NULL, &ex, NULL, &bad)), ANVIL_E_NULL);
    expect_rc("portfolio small work", CALL(anvil_portfolio(&k.p, k.w, &cfg, NULL, work, ws - 1, &st, &ex, NULL, &bad)), ANVIL_E_SIZE);
    anvil_panel p = k.p;
    p.n_bars = 0;
    expect_rc("portfolio empty panel", CALL(anvil_portfolio(&p, k.w, &cfg, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_SIZE);
    p = k.p;
    p.n_symbols = 0;
    expect_rc("portfolio no symbols", CALL(anvil_portfolio(&p, k.w, &cfg, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_SIZE);
    p = k.p;
    p.stride = 2;
    expect_rc("portfolio stride < n_symbols", CALL(anvil_portfolio(&p, k.w, &cfg, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_SIZE);
    p = k.p;
    p.n_bars = INT64_MAX;
    expect_rc("portfolio huge panel", CALL(anvil_check_panel(&p, &bad)), ANVIL_E_SIZE);
    p = k.p;
    p.tradable = NULL;
    expect_rc("check_panel NULL tradable", CALL(anvil_check_panel(&p, &bad)), ANVIL_E_NULL);

    /* A bad price where the symbol trades, and the first one is named. */
    for (int64_t i = 0; i < 15; i++)
        k.trad[i] = 1, k.o[i] = k.h[i] = k.l[i] = k.c[i] = 10.0;
    double keep = k.c[7];
    k.c[7] = NAN;
    bad = -7;
    expect_rc("check_panel NaN close", CALL(anvil_check_panel(&k.p, &bad)), ANVIL_E_PRICE);
    expect_i64("check_panel bad index", bad, 7);
    k.c[7] = keep;
    k.trad[4] = 2;
    expect_rc("check_panel tradable 2", CALL(anvil_check_panel(&k.p, &bad)), ANVIL_E_PRICE);
    expect_i64("check_panel bad index (tradable)", bad, 4);
    k.trad[4] = 1;

    /* Infinite weights, named by their cell, on any row (the last one too). */
    for (int64_t cell = 0; cell < 15; cell += 4) {
        double w = k.w[cell];
        k.w[cell] = chance(0.5) ? INFINITY : -INFINITY;
        bad = -7;
        expect_rc("portfolio inf weight", CALL(anvil_portfolio(&k.p, k.w, &cfg, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_SIGNAL);
        expect_i64("portfolio inf weight index", bad, cell);
        k.w[cell] = w;
    }

    /* Bad settings. */
    anvil_pf_config bc = cfg;
    bc.borrow_rate = -1e-300;
    expect_rc("portfolio negative borrow", CALL(anvil_portfolio(&k.p, k.w, &bc, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    bc = cfg;
    bc.max_weight = NAN;
    expect_rc("portfolio NaN max_weight", CALL(anvil_portfolio(&k.p, k.w, &bc, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    bc = cfg;
    bc.rebalance_threshold = INFINITY;
    expect_rc("portfolio inf threshold", CALL(anvil_portfolio(&k.p, k.w, &bc, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    expect_rc("check_pf_config NULL", CALL(anvil_check_pf_config(NULL)), ANVIL_E_NULL);
    expect_rc("check_pf_config ok", CALL(anvil_check_pf_config(&cfg)), ANVIL_OK);
    bc = cfg;
    bc.base.fill = 7;
    expect_rc("check_pf_config bad fill", CALL(anvil_check_pf_config(&bc)), ANVIL_E_KIND);
    bc = cfg;
    bc.daily_loss_limit = 1.0;
    expect_rc("check_pf_config daily limit 1", CALL(anvil_check_pf_config(&bc)), ANVIL_E_CONFIG);
    bc = cfg;
    bc.max_drawdown_halt = 0.5;
    bc.halt_bars = 0;
    expect_rc("portfolio halt without bars", CALL(anvil_portfolio(&k.p, k.w, &bc, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    bc = cfg;
    bc.cooldown_bars = -1;
    expect_rc("portfolio negative cooldown", CALL(anvil_portfolio(&k.p, k.w, &bc, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    bc = cfg;
    bc.daily_loss_limit = 0.1;
    p = k.p;
    p.ts = NULL;
    expect_rc("portfolio daily limit without times", CALL(anvil_portfolio(&p, k.w, &bc, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_NULL);
    bc = cfg;
    bc.rebalance_threshold = INFINITY;
    expect_rc("portfolio inf threshold", CALL(anvil_portfolio(&k.p, k.w, &bc, NULL, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    double fees[3] = {0.0, NAN, 0.0}, slips[3] = {0.0, 0.0, 10000.0};
    double units[3] = {0.0, 0.0, -1.0}, fixed[3] = {INFINITY, 0.0, 0.0};
    anvil_pf_costs bad_fee = {fees, NULL, NULL, NULL}, bad_slip = {NULL, slips, NULL, NULL};
    anvil_pf_costs bad_unit = {NULL, NULL, units, NULL}, bad_fixed = {NULL, NULL, NULL, fixed};
    expect_rc("portfolio NaN fee", CALL(anvil_portfolio(&k.p, k.w, &cfg, &bad_fee, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    expect_rc("portfolio slippage 10000", CALL(anvil_portfolio(&k.p, k.w, &cfg, &bad_slip, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    expect_rc("portfolio negative fee per unit", CALL(anvil_portfolio(&k.p, k.w, &cfg, &bad_unit, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);
    expect_rc("portfolio inf fixed fee", CALL(anvil_portfolio(&k.p, k.w, &cfg, &bad_fixed, work, ws, &st, &ex, NULL, &bad)), ANVIL_E_CONFIG);

    /* Batch arguments. */
    const double *one[1] = {k.w}, *none[1] = {NULL};
    expect_rc("pf batch NULL run", CALL(anvil_portfolio_batch(&k.p, none, 1, &cfg, 1, NULL, work, ws, &st, &ex, &bad)), ANVIL_E_NULL);
    expect_rc("pf batch negative runs", CALL(anvil_portfolio_batch(&k.p, one, -1, &cfg, 1, NULL, work, ws, &st, &ex, &bad)), ANVIL_E_SIZE);
    expect_rc("pf batch config count", CALL(anvil_portfolio_batch(&k.p, one, 1, &cfg, 2, NULL, work, ws, &st, &ex, &bad)), ANVIL_E_SIZE);
    expect_rc("pf batch zero runs", CALL(anvil_portfolio_batch(&k.p, one, 0, &cfg, 1, NULL, work, ws, &st, &ex, &bad)), ANVIL_OK);
    expect_rc("pf batch huge runs", CALL(anvil_portfolio_batch(&k.p, one, INT64_MAX / 2, &cfg, 1, NULL, work, ws, &st, &ex, &bad)), ANVIL_E_SIZE);
    free(work);
    pf_case_free(&k);
}

/* One random portfolio: every output an exact-size heap block; a first run with
 * buffers one record too small must say ANVIL_E_CAPACITY and the true counts. */
static void random_portfolio(long case_no)
{
    int extreme = chance(0.3);
    int64_t n = chance(0.1) ? 1 : 1 + below(60), m = chance(0.2) ? 1 : 1 + below(8);
    pf_case k;
    pf_case_new(&k, n, m, extreme);
    anvil_pf_config cfg = pf_config(extreme);
    int64_t ws = anvil_pf_work_size(m);
    void *work = xmalloc((size_t)ws);
    double *fees = NULL, *slips = NULL;
    if (chance(0.3)) {
        fees = xmalloc((size_t)m * sizeof(double));
        for (int64_t j = 0; j < m; j++)
            fees[j] = 0.02 * uniform();
    }
    if (chance(0.3)) {
        slips = xmalloc((size_t)m * sizeof(double));
        for (int64_t j = 0; j < m; j++)
            slips[j] = 100.0 * uniform();
    }
    double *units = NULL, *fixed = NULL;
    if (chance(0.3)) {
        units = xmalloc((size_t)m * sizeof(double));
        fixed = xmalloc((size_t)m * sizeof(double));
        for (int64_t j = 0; j < m; j++) {
            units[j] = extreme && chance(0.2) ? 1e300 : 0.05 * uniform();
            fixed[j] = extreme && chance(0.2) ? 1e300 : 2.0 * uniform();
        }
    }
    anvil_pf_costs costs = {fees, slips, units, fixed};
    anvil_stats st, st2;
    anvil_pf_extra ex, ex2;
    int64_t bad = -7;
    int rc = CALL(anvil_portfolio(&k.p, k.w, &cfg, &costs, work, ws, &st, &ex, NULL, &bad));
    if (!expect_rc("random portfolio (stats only)", rc, ANVIL_OK)) {
        fail("case %ld: n %lld m %lld", case_no, (long long)n, (long long)m);
        goto done;
    }
    anvil_pf_outputs out;
    memset(&out, 0, sizeof out);
    out.equity = equity_new(n);
    out.cash = equity_new(n);
    out.weights = equity_new(n * m);
    out.contributions = equity_new(m);
    int64_t tcap = ex.n_trades > 0 ? ex.n_trades - 1 : 0, ecap = ex.n_events > 0 ? ex.n_events - 1 : 0;
    out.trades = xmalloc((size_t)tcap * sizeof(anvil_pf_trade));
    out.trades_cap = tcap;
    out.events = xmalloc((size_t)ecap * sizeof(anvil_pf_event));
    out.events_cap = ecap;
    rc = CALL(anvil_portfolio(&k.p, k.w, &cfg, &costs, work, ws, &st2, &ex2, &out, &bad));
    if (ex.n_trades > 0 || ex.n_events > 0)
        expect_rc("portfolio short buffers", rc, ANVIL_E_CAPACITY);
    else
        expect_rc("portfolio outputs", rc, ANVIL_OK);
    expect_i64("portfolio trade count", ex2.n_trades, ex.n_trades);
    expect_i64("portfolio event count", ex2.n_events, ex.n_events);
    if (stats_differ(&st, &st2) >= 0)
        fail("case %ld: portfolio stats differ with outputs on", case_no);
    for (int64_t t = 0; t < n; t++)
        if (unwritten(out.equity[t]) || unwritten(out.cash[t])) {
            fail("case %ld: portfolio equity/cash %lld not written", case_no, (long long)t);
            break;
        }
    for (int64_t i = 0; i < n * m; i++)
        if (unwritten(out.weights[i])) {
            fail("case %ld: portfolio weight %lld not written", case_no, (long long)i);
            break;
        }
    if (!extreme && !isfinite(st.final_equity))
        fail("case %ld: moderate portfolio final equity %g", case_no, st.final_equity);
    expect_true("portfolio exposure in [0, 1]", !(st.exposure < 0.0 || st.exposure > 1.0));
    expect_true("portfolio win rate in [0, 1]", isnan(st.win_rate) || (st.win_rate >= 0.0 && st.win_rate <= 1.0));
    int64_t shown = tcap < ex2.n_trades ? tcap : ex2.n_trades;
    for (int64_t i = 0; i < shown; i++) {
        const anvil_pf_trade *tr = &out.trades[i];
        if (!(tr->entry_bar >= 0 && tr->entry_bar <= tr->exit_bar && tr->exit_bar < n && tr->symbol >= 0
              && tr->symbol < m)) {
            fail("case %ld: portfolio trade %lld points outside the panel", case_no, (long long)i);
            break;
        }
    }
    free(out.equity);
    free(out.cash);
    free(out.weights);
    free(out.contributions);
    free(out.trades);
    free(out.events);

    /* A batch of the same weights twice gives the same numbers as one run. */
    double *ww = xmalloc((size_t)(n * m) * sizeof(double));
    memcpy(ww, k.w, (size_t)(n * m) * sizeof(double));
    const double *runs[2] = {k.w, ww};
    anvil_stats bs[2];
    anvil_pf_extra be[2];
    rc = CALL(anvil_portfolio_batch(&k.p, runs, 2, &cfg, 1, &costs, work, ws, bs, be, &bad));
    if (expect_rc("portfolio batch", rc, ANVIL_OK))
        for (int r = 0; r < 2; r++)
            if (stats_differ(&bs[r], &st) >= 0 || be[r].n_trades != ex.n_trades)
                fail("case %ld: portfolio batch run %d differs from the single run", case_no, r);
    /* With scratch for both, the two runs are stepped together: the same numbers. */
    void *work2 = xmalloc((size_t)(2 * ws) + 1);
    rc = CALL(anvil_portfolio_batch(&k.p, runs, 2, &cfg, 1, &costs, work2, 2 * ws + 1, bs, be, &bad));
    if (expect_rc("portfolio batch stepped together", rc, ANVIL_OK))
        for (int r = 0; r < 2; r++)
            if (stats_differ(&bs[r], &st) >= 0 || be[r].n_trades != ex.n_trades)
                fail("case %ld: portfolio batch (together) run %d differs from the single run", case_no, r);
    free(work2);
    free(ww);

    /* Stepped bar by bar with the same rows: the same numbers. */
    int64_t size = anvil_pf_sim_size(m);
    anvil_pf_sim *sim = xmalloc((size_t)size);
    expect_rc("pf_sim_init small", CALL(anvil_pf_sim_init(sim, size - 1, &k.p, &cfg, &costs, NULL)), ANVIL_E_SIZE);
    if (expect_rc("pf_sim_init", CALL(anvil_pf_sim_init(sim, size, &k.p, &cfg, &costs, NULL)), ANVIL_OK)) {
        expect_rc("pf_sim_close before open", CALL(anvil_pf_sim_close(sim, 0, k.w, &bad)), ANVIL_E_STATE);
        int ok = 1;
        for (int64_t t = 0; t < n && ok; t++) {
            ok = expect_rc("pf_sim_open", CALL(anvil_pf_sim_open(sim, t)), ANVIL_OK);
            if (ok && chance(0.02))
                expect_rc("pf_sim_open twice", CALL(anvil_pf_sim_open(sim, t)), ANVIL_E_STATE);
            ok = ok && expect_rc("pf_sim_close", CALL(anvil_pf_sim_close(sim, t, k.w + t * m, &bad)), ANVIL_OK);
        }
        anvil_stats ss;
        anvil_pf_extra se;
        if (ok && expect_rc("pf_sim_finish", CALL(anvil_pf_sim_finish(sim, &ss, &se)), ANVIL_OK)
            && (stats_differ(&ss, &st) >= 0 || se.n_trades != ex.n_trades || se.n_events != ex.n_events))
            fail("case %ld: stepped portfolio differs from the run", case_no);
        expect_rc("pf_sim_finish twice", CALL(anvil_pf_sim_finish(sim, &ss, &se)), ANVIL_E_STATE);
    }
    free(sim);
done:
    free(work);
    free(fees);
    free(slips);
    free(units);
    free(fixed);
    pf_case_free(&k);
}

static void test_portfolios(long scale)
{
    test_portfolio_arguments();
    section = "random portfolios";
    for (long k = 0; k < 3000 * scale; k++)
        random_portfolio(k);
}
/* ==== end of the portfolio section ==== */

/* ---- cross-sectional blocks (issue 11): csrc/cross.h ----------------------- */

#include "cross.h"

static double *xs_doubles(int64_t k)
{
    return malloc((size_t)(k > 0 ? k : 1) * sizeof(double));
}

/* A random [n, m] matrix: NaN holes, late listings, ties, and with `extreme`
 * infinities and huge magnitudes. */
static void xs_fill(double *x, int64_t n, int64_t m, int extreme, int positive)
{
    for (int64_t j = 0; j < m; j++) {
        int64_t first = (int64_t)(uniform() * (double)(n + 1));
        for (int64_t t = 0; t < n; t++) {
            double u = uniform(), v;
            if (t < first || u < 0.1)
                v = NAN;
            else if (u < 0.3)
                v = positive ? 1.0 + (double)(next_u64() % 3) : (double)(next_u64() % 3) - 1.0;
            else if (extreme && u < 0.35)
                v = (next_u64() & 1) ? INFINITY : -INFINITY;
            else if (extreme && u < 0.4)
                v = (next_u64() & 1) ? 1e300 : -1e300;
            else
                v = positive ? 0.5 + uniform() * 100.0 : (uniform() - 0.5) * 10.0;
            x[t * m + j] = v;
        }
    }
}

static void test_cross_arguments(void)
{
    section = "cross arguments";
    double x[6] = {1, 2, 3, 4, NAN, 6}, o[6], w[64];
    int64_t work[6];
    uint8_t mask[6] = {1, 0, 1, 1, 1, 0}, when[2] = {1, 0};
    int64_t ts[2] = {0, 86400000000000};
    expect_rc("rank NULL x", CALL(anvil_xs_rank(NULL, 2, 3, work, o)), ANVIL_E_NULL);
    expect_rc("rank NULL work", CALL(anvil_xs_rank(x, 2, 3, NULL, o)), ANVIL_E_NULL);
    expect_rc("rank n < 0", CALL(anvil_xs_rank(x, -1, 3, work, o)), ANVIL_E_SIZE);
    expect_rc("rank m < 0", CALL(anvil_xs_rank(x, 2, -3, work, o)), ANVIL_E_SIZE);
    expect_rc("rank n*m overflows", CALL(anvil_xs_rank(x, INT64_MAX, 3, work, o)), ANVIL_E_SIZE);
    expect_rc("rank empty", CALL(anvil_xs_rank(x, 0, 3, work, o)), ANVIL_OK);
    expect_rc("top_k NULL out", CALL(anvil_xs_top_k(x, 2, 3, 1, 1, work, NULL)), ANVIL_E_NULL);
    expect_rc("top_k k < 0", CALL(anvil_xs_top_k(x, 2, 3, -1, 1, work, mask)), ANVIL_E_SIZE);
    expect_rc("zscore NULL", CALL(anvil_xs_zscore(x, 2, 3, NULL)), ANVIL_E_NULL);
    expect_rc("equal_weight NULL", CALL(anvil_xs_equal_weight(NULL, 2, 3, o)), ANVIL_E_NULL);
    expect_rc("inverse_vol m < 0", CALL(anvil_xs_inverse_vol(x, 2, -1, o)), ANVIL_E_SIZE);
    expect_rc("rolling_vol period 0", CALL(anvil_xs_rolling_vol(x, 2, 3, 0, o)), ANVIL_E_SIZE);
    expect_rc("risk_parity period 1", CALL(anvil_xs_risk_parity(x, 2, 3, 1, 5, NULL, w, o)), ANVIL_E_SIZE);
    expect_rc("risk_parity iters < 0", CALL(anvil_xs_risk_parity(x, 2, 3, 2, -1, NULL, w, o)), ANVIL_E_SIZE);
    expect_rc("risk_parity NULL work", CALL(anvil_xs_risk_parity(x, 2, 3, 2, 5, NULL, NULL, o)), ANVIL_E_NULL);
    expect_rc("risk_parity huge m", CALL(anvil_xs_risk_parity(x, 1, INT64_MAX / 4, 2, 5, NULL, w, o)), ANVIL_E_SIZE);
    expect_rc("normalize gross < 0", CALL(anvil_xs_normalize(x, 2, 3, -1.0, NAN, o)), ANVIL_E_CONFIG);
    expect_rc("normalize gross NaN", CALL(anvil_xs_normalize(x, 2, 3, NAN, NAN, o)), ANVIL_E_CONFIG);
    expect_rc("normalize |net| > gross", CALL(anvil_xs_normalize(x, 2, 3, 1.0, 1.5, o)), ANVIL_E_CONFIG);
    expect_rc("normalize net inf", CALL(anvil_xs_normalize(x, 2, 3, 1.0, INFINITY, o)), ANVIL_E_CONFIG);
    expect_rc("schedule kind", CALL(anvil_schedule(ts, 2, 99, 1, when)), ANVIL_E_KIND);
    expect_rc("schedule kind < 0", CALL(anvil_schedule(ts, 2, -1, 1, when)), ANVIL_E_KIND);
    expect_rc("schedule every 0", CALL(anvil_schedule(ts, 2, ANVIL_SCHED_EVERY_N, 0, when)), ANVIL_E_SIZE);
    expect_rc("schedule NULL", CALL(anvil_schedule(NULL, 2, ANVIL_SCHED_MONTH_END, 1, when)), ANVIL_E_NULL);
    expect_rc("schedule n < 0", CALL(anvil_schedule(ts, -2, ANVIL_SCHED_MONTH_END, 1, when)), ANVIL_E_SIZE);
    expect_rc("on_rebalance NULL when", CALL(anvil_xs_on_rebalance(x, 2, 3, NULL, o)), ANVIL_E_NULL);
    /* the extremes of the time axis */
    int64_t edge[4] = {INT64_MIN, -1, 0, INT64_MAX};
    uint8_t e_out[4];
    for (int kind = ANVIL_SCHED_EVERY_N; kind <= ANVIL_SCHED_QUARTER_END; kind++)
        expect_rc("schedule at the edges of int64", CALL(anvil_schedule(edge, 4, kind, 3, e_out)), ANVIL_OK);
}

static void random_cross(long case_no)
{
    (void)case_no;
    int64_t n = (int64_t)(next_u64() % 30), m = (int64_t)(next_u64() % 9);
    int extreme = uniform() < 0.3;
    int64_t nm = n * m;
    double *x = xs_doubles(nm), *o = xs_doubles(nm), *o2 = xs_doubles(nm);
    double *rw = xs_doubles(m * m + 4 * m);
    int64_t *work = malloc((size_t)(2 * m > 0 ? 2 * m : 1) * sizeof(int64_t));
    uint8_t *mask = malloc((size_t)(nm > 0 ? nm : 1)), *when = malloc((size_t)(n > 0 ? n : 1));
    int64_t *ts = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    xs_fill(x, n, m, extreme, 0);

    expect_rc("rank", CALL(anvil_xs_rank(x, n, m, work, o)), ANVIL_OK);
    for (int64_t t = 0; t < n; t++) {
        int64_t k = 0;
        for (int64_t j = 0; j < m; j++)
            k += isfinite(x[t * m + j]) != 0;
        for (int64_t j = 0; j < m; j++) {
            double r = o[t * m + j];
            if (isfinite(x[t * m + j]))
                expect_true("rank within 1..k", r >= 1.0 && r <= (double)k);
            else
                expect_true("rank NaN where the value is", isnan(r));
        }
        (void)k;
    }
    int64_t k = (int64_t)(next_u64() % 10);
    int largest = (int)(next_u64() & 1);
    expect_rc("top_k", CALL(anvil_xs_top_k(x, n, m, k, largest, work, mask)), ANVIL_OK);
    for (int64_t t = 0; t < n; t++) {
        int64_t f = 0, chosen = 0;
        for (int64_t j = 0; j < m; j++) {
            f += isfinite(x[t * m + j]) != 0;
            chosen += mask[t * m + j];
            expect_true("top_k mask is 0 or 1", mask[t * m + j] <= 1);
            if (mask[t * m + j])
                expect_true("top_k never picks NaN", isfinite(x[t * m + j]));
        }
        expect_i64("top_k picks min(k, finite)", chosen, f < k ? f : k);
    }
    expect_rc("equal_weight", CALL(anvil_xs_equal_weight(mask, n, m, o)), ANVIL_OK);
    for (int64_t t = 0; t < n; t++) {
        double s = 0.0;
        for (int64_t j = 0; j < m; j++)
            s += o[t * m + j];
        expect_true("equal_weight sums to 1 or 0", fabs(s - 1.0) < 1e-12 || s == 0.0);
    }
    expect_rc("zscore", CALL(anvil_xs_zscore(x, n, m, o)), ANVIL_OK);
    expect_rc("inverse_vol", CALL(anvil_xs_inverse_vol(x, n, m, o)), ANVIL_OK);
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < m; j++)
            expect_true("inverse_vol in [0, 1]", o[t * m + j] >= 0.0 && o[t * m + j] <= 1.0 + 1e-12);
    int64_t period = 1 + (int64_t)(next_u64() % 6);
    expect_rc("rolling_vol", CALL(anvil_xs_rolling_vol(x, n, m, period, o)), ANVIL_OK);
    for (int64_t t = 0; t < n; t++)
        when[t] = (uint8_t)(next_u64() & 1);
    expect_rc("risk_parity", CALL(anvil_xs_risk_parity(x, n, m, period + 1, (int64_t)(next_u64() % 20),
                                                       (next_u64() & 1) ? when : NULL, rw, o)), ANVIL_OK);
    if (!extreme)
        for (int64_t t = 0; t < n; t++) {
            double s = 0.0;
            int any_nan = 0;
            for (int64_t j = 0; j < m; j++) {
                any_nan |= isnan(o[t * m + j]);
                s += isnan(o[t * m + j]) ? 0.0 : o[t * m + j];
            }
            expect_true("risk_parity row sums to 1, 0, or is NaN", any_nan || s == 0.0 || fabs(s - 1.0) < 1e-9);
        }
    double gross = uniform() * 2.0, net = (next_u64() & 1) ? NAN : (uniform() * 2.0 - 1.0) * gross;
    expect_rc("normalize", CALL(anvil_xs_normalize(x, n, m, gross, net, o)), ANVIL_OK);
    if (!extreme && isnan(net))
        for (int64_t t = 0; t < n; t++) {
            double s = 0.0, before = 0.0;
            for (int64_t j = 0; j < m; j++) {
                double v = x[t * m + j];
                before += isfinite(v) ? fabs(v) : 0.0;
                s += isfinite(o[t * m + j]) ? fabs(o[t * m + j]) : 0.0;
            }
            expect_true("normalize reaches gross", before == 0.0 || fabs(s - gross) < 1e-9 * (1.0 + gross));
        }
    int64_t t0 = (int64_t)(next_u64() % 2000000) * 3600000000000LL - 1000000LL * 3600000000000LL;
    for (int64_t t = 0; t < n; t++) {
        t0 += 1 + (int64_t)(next_u64() % (40LL * 86400000000000LL));
        ts[t] = t0;
    }
    int kind = (int)(next_u64() % 7);
    expect_rc("schedule", CALL(anvil_schedule(ts, n, kind, 1 + (int64_t)(next_u64() % 5), when)), ANVIL_OK);
    if (n > 0 && (kind == ANVIL_SCHED_WEEK_END || kind == ANVIL_SCHED_MONTH_END || kind == ANVIL_SCHED_QUARTER_END))
        expect_true("an end schedule leaves the final bar unmarked", when[n - 1] == 0);
    if (n > 0 && kind != ANVIL_SCHED_WEEK_END && kind != ANVIL_SCHED_MONTH_END && kind != ANVIL_SCHED_QUARTER_END)
        expect_true("a start schedule marks bar 0", when[0] == 1);
    expect_rc("on_rebalance", CALL(anvil_xs_on_rebalance(x, n, m, when, o2)), ANVIL_OK);
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < m; j++)
            expect_true("on_rebalance: the row or NaN",
                        when[t] ? memcmp(&o2[t * m + j], &x[t * m + j], sizeof(double)) == 0 : isnan(o2[t * m + j]));
    free(x);
    free(o);
    free(o2);
    free(rw);
    free(work);
    free(mask);
    free(when);
    free(ts);
}

static void test_cross(long scale)
{
    test_cross_arguments();
    section = "random cross-sectional blocks";
    for (long k = 0; k < 3000 * scale; k++)
        random_cross(k);
}

/* ---- risk rules of one series (csrc/rules.h) ------------------------------ */

static int event_ok(const anvil_pf_event *e, int64_t n)
{
    int rule_ok = e->rule == ANVIL_RULE_MAX_WEIGHT || e->rule == ANVIL_RULE_DRAWDOWN
                  || e->rule == ANVIL_RULE_DAILY_LOSS || e->rule == ANVIL_RULE_COOLDOWN;
    return rule_ok && e->bar >= 0 && e->bar < n && e->symbol == 0 && e->reserved == 0
           && !isnan(e->value);
}

static int same_event(const anvil_pf_event *a, const anvil_pf_event *b)
{
    return a->bar == b->bar && a->symbol == b->symbol && a->rule == b->rule
           && same_double(a->value, b->value);
}

static void random_risk_rules(long case_no)
{
    char what[160];
    snprintf(what, sizeof what, "risk rules %ld", case_no);
    int64_t n = 1 + below(chance(0.8) ? 120 : 3000);
    owned_bars ob = bars_zigzag(n);
    if (case_no % 2) /* a random walk instead */
        bars_fill(&ob, 100.0, log_uniform(1e-3, 0.1));
    double *sig = xmalloc((size_t)n * sizeof *sig);
    signal_fill(sig, ANVIL_SIGNAL_F64, n, log_uniform(0.05, 0.9), 0);
    anvil_config cfg = config_moderate();
    cfg.max_weight = chance(0.3) ? 0.0 : log_uniform(0.01, 3.0);
    cfg.max_drawdown_halt = chance(0.3) ? 0.0 : 0.2 * uniform();
    cfg.daily_loss_limit = chance(0.3) ? 0.0 : 0.2 * uniform();
    cfg.cooldown_bars = below(6);
    if (chance(0.5))
        cfg.stop_loss = 0.01 + 0.1 * uniform();

    /* every event fits in anvil_max_events(n) */
    int64_t cap = anvil_max_events(n), tcap = anvil_max_trades(n);
    anvil_pf_event *ev = xmalloc((size_t)cap * sizeof *ev);
    anvil_trade *tr = xmalloc((size_t)tcap * sizeof *tr);
    anvil_stats *st = xmalloc(sizeof *st), *st2 = xmalloc(sizeof *st2);
    int64_t *nt = xmalloc(sizeof *nt), *ne = xmalloc(sizeof *ne), *bad = xmalloc(sizeof *bad);
    double *eq = equity_new(n);
    int rc = CALL(anvil_backtest_events(&ob.b, sig, ANVIL_SIGNAL_F64, &cfg, st, eq, tr, tcap, nt,
                                        ev, cap, ne, bad));
    if (expect_rc(what, rc, ANVIL_OK)) {
        expect_true("events fit anvil_max_events", *ne >= 0 && *ne <= cap);
        for (int64_t i = 0; i < *ne; i++)
            if (!event_ok(&ev[i], n))
                fail("%s: event %lld is malformed", what, (long long)i);
        check_stats(what, st, n, *nt, 0);
        check_equity(what, eq, n, st, 0);
        /* the same stats without outputs, and through the batch */
        rc = CALL(anvil_batch(&ob.b, sig, ANVIL_SIGNAL_F64, 1, &cfg, 1, st2, NULL));
        expect_rc("risk rules: batch", rc, ANVIL_OK);
        if (stats_differ(st, st2) >= 0)
            fail("%s: batch stats differ from the backtest's", what);
        /* bars the caller vouches for: the same numbers; pointers and n still checked */
        anvil_bars vouched = ob.b;
        vouched.checked = 1;
        rc = CALL(anvil_batch(&vouched, sig, ANVIL_SIGNAL_F64, 1, &cfg, 1, st2, NULL));
        expect_rc("risk rules: checked bars", rc, ANVIL_OK);
        if (stats_differ(st, st2) >= 0)
            fail("%s: stats differ when the bars are marked checked", what);
        anvil_bars hollow = vouched;
        hollow.close = NULL;
        expect_rc("checked bars without close", CALL(anvil_batch(&hollow, sig, ANVIL_SIGNAL_F64, 1,
                                                                   &cfg, 1, st2, NULL)), ANVIL_E_NULL);
        hollow = vouched;
        hollow.n = 0;
        expect_rc("checked bars of length 0", CALL(anvil_batch(&hollow, sig, ANVIL_SIGNAL_F64, 1, &cfg,
                                                                 1, st2, NULL)), ANVIL_E_SIZE);
        /* a short events buffer: the true count and ANVIL_E_CAPACITY */
        int64_t small = below(*ne + 2);
        anvil_pf_event *few = xmalloc((size_t)small * sizeof *few);
        int64_t *ne2 = xmalloc(sizeof *ne2);
        rc = CALL(anvil_backtest_events(&ob.b, sig, ANVIL_SIGNAL_F64, &cfg, st2, NULL, NULL, 0,
                                        NULL, few, small, ne2, NULL));
        expect_rc("risk rules: short events buffer", rc, small < *ne ? ANVIL_E_CAPACITY : ANVIL_OK);
        expect_i64("risk rules: n_events is the true count", *ne2, *ne);
        for (int64_t i = 0; i < small && i < *ne; i++)
            if (!same_event(&few[i], &ev[i]))
                fail("%s: event %lld differs with a short buffer", what, (long long)i);
        free(ne2);
        free(few);
        /* stepping the same decisions fires the same events */
        anvil_sim *sim = sim_new();
        anvil_pf_event *sev = xmalloc((size_t)cap * sizeof *sev);
        expect_rc(what, CALL(anvil_sim_init(sim, anvil_sim_size(), &ob.b, &cfg, NULL, NULL, 0)),
                  ANVIL_OK);
        expect_rc("sim_set_events", CALL(anvil_sim_set_events(sim, sev, cap)), ANVIL_OK);
        double last = 0.0;
        for (int64_t t = 0; t < n; t++) {
            CALL(anvil_sim_open(sim, t));
            if (t == 0)
                expect_rc("sim_set_events after the first bar", CALL(anvil_sim_set_events(sim, sev, cap)),
                          ANVIL_E_STATE);
            double v = sig[t];
            if (t + 1 < n && !isnan(v) && v != last) {
                last = v;
                int32_t side = v < 0 ? ANVIL_SIDE_SELL : ANVIL_SIDE_BUY;
                CALL(anvil_sim_order(sim, ANVIL_ORDER_MARKET, side, 0.0, v, NULL));
            }
            CALL(anvil_sim_close(sim, t));
        }
        int64_t *sne = xmalloc(sizeof *sne);
        expect_rc("sim_n_events", CALL(anvil_sim_n_events(sim, sne)), ANVIL_OK);
        expect_i64("risk rules: stepping fires as many events", *sne, *ne);
        for (int64_t i = 0; i < *sne && i < *ne; i++)
            if (!same_event(&sev[i], &ev[i]))
                fail("%s: stepped event %lld differs", what, (long long)i);
        rc = CALL(anvil_sim_finish(sim, st2, NULL));
        expect_rc("risk rules: sim_finish", rc, ANVIL_OK);
        if (stats_differ(st, st2) >= 0)
            fail("%s: stepped stats differ from the backtest's", what);
        free(sne);
        free(sev);
        free(sim);
    }
    /* a daily loss limit without bar times is refused everywhere */
    if (cfg.daily_loss_limit > 0.0) {
        anvil_bars no_ts = ob.b;
        no_ts.ts = NULL;
        rc = CALL(anvil_backtest_events(&no_ts, sig, ANVIL_SIGNAL_F64, &cfg, st, NULL, NULL, 0,
                                        NULL, NULL, 0, NULL, NULL));
        expect_rc("daily loss limit without ts: backtest", rc, ANVIL_E_NULL);
        rc = CALL(anvil_batch(&no_ts, sig, ANVIL_SIGNAL_F64, 1, &cfg, 1, st, NULL));
        expect_rc("daily loss limit without ts: batch", rc, ANVIL_E_NULL);
        anvil_sim *sim = sim_new();
        rc = CALL(anvil_sim_init(sim, anvil_sim_size(), &no_ts, &cfg, NULL, NULL, 0));
        expect_rc("daily loss limit without ts: sim_init", rc, ANVIL_E_NULL);
        free(sim);
    }
    rc = CALL(anvil_backtest_events(&ob.b, sig, ANVIL_SIGNAL_F64, &cfg, st, NULL, NULL, 0, NULL,
                                    ev, -1, NULL, NULL));
    expect_rc("negative events capacity", rc, ANVIL_E_SIZE);
    expect_i64("anvil_max_events(-1)", anvil_max_events(-1), 0);
    free(eq);
    free(bad);
    free(ne);
    free(nt);
    free(st2);
    free(st);
    free(tr);
    free(ev);
    free(sig);
    bars_free(&ob);
}

int main(int argc, char **argv)
{
    /* Optional scale factor for the random part: `hostile 10` runs ten times as many. */
    long scale = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
    if (scale < 1)
        scale = 1;

    test_max_trades();
    test_core_wide();
    test_check_bars();
    test_check_config();
    test_edge_configs_run();
    test_backtest_arguments();
    test_bad_signals();
    test_capacity();
    test_batch_arguments();
    test_sim_arguments();
    test_margin();
    test_indicator_arguments();
    test_compare_rows_arguments();

    section = "random backtests";
    for (long k = 0; k < 12000 * scale; k++)
        random_backtest(k);
    section = "random batches";
    for (long k = 0; k < 3000 * scale; k++)
        random_batch(k);
    section = "random sim as signals";
    for (long k = 0; k < 3000 * scale; k++)
        random_sim_as_signals(k);
    section = "random sim orders";
    for (long k = 0; k < 3000 * scale; k++)
        random_sim_orders(k);
    section = "random risk rules";
    for (long k = 0; k < 1500 * scale; k++)
        random_risk_rules(k);
    section = "random indicators";
    for (long k = 0; k < 12000 * scale; k++)
        random_indicator(k);
    section = "random compare_rows";
    for (long k = 0; k < 2000 * scale; k++)
        random_compare_rows(k);

    test_portfolios(scale); /* issue 10 */
    test_cross(scale);      /* issue 11 */

    /* Last: its made-up trades trip UBSan (signed overflow) if the core does
     * arithmetic on their bar numbers unchecked, which aborts the run. */
    test_stats_from_equity();

    printf("hostile: %ld calls, %ld failures\n", n_calls, n_failures);
    return n_failures == 0 ? 0 : 1;
}

/*
 * same_bits.c -- every output of the signal loop, for a fixed set of runs, as
 * one line per run: `make same-bits REF=<commit>` builds it against the core of
 * <commit> and against the working tree and compares the lines, so a change made
 * for speed can show that it changed no result, bit for bit (the statistics, the
 * equity curve, every trade and every risk event), in both copies of the bar
 * loop (the AVX2 one and, with ANVIL_CORE_NARROW=1, the plain one).
 *
 * The runs: 100,000 bars of a seeded random walk (open at the last close, high
 * and low around both); four signals -- SMA 10/30 long/short flips (int8, one
 * order pair every ~26 bars), SMA 50/200 long or flat (int8), the flips with
 * HOLD in runs of 37 bars of every 111 and on every 11th bar (int8), and a float
 * signal of varying exposure with NaN holds -- under 64 configurations that
 * cover fees (rate, per unit, fixed), slippage, integer units, shorts,
 * leverage, both fill modes, close at end, stops, take profit, trailing stops
 * with a cool-down, the drawdown halt with the daily loss limit, and max
 * weight. Each run goes through anvil_backtest_events (all outputs) and
 * anvil_batch (statistics only); a line holds the status codes, the counts and
 * a 64-bit FNV-1a hash of the bytes written.
 *
 * Uses only what anvil.h declares, as a caller would, so it builds against any
 * commit whose header has anvil_backtest_events.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anvil.h"

#define N_BARS 100000
#define N_CONFIGS 64
#define N_SIGNALS 4

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static double uniform(void) /* xorshift64*, in [0, 1) */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
}

static void sma(const double *x, int64_t n, int w, double *out)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        sum += x[i];
        if (i >= w)
            sum -= x[i - w];
        out[i] = i + 1 >= w ? sum / w : 0.0;
    }
}

static void config(int k, anvil_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->initial_capital = 10000.0;
    cfg->periods_per_year = 252.0;
    cfg->max_leverage = (k & 32) ? 2.0 : 1.0;
    cfg->fee_rate = (k & 1) ? 0.001 : 0.0;
    cfg->fee_per_unit = (k & 2) ? 0.01 : 0.0;
    cfg->fixed_fee = (k & 4) ? 1.0 : 0.0;
    cfg->fill = (k & 8) ? ANVIL_FILL_NEXT_OPEN : ANVIL_FILL_CLOSE;
    cfg->allow_short = (k & 16) != 0;
    cfg->slippage_bps = (k % 3) * 2.0;
    cfg->integer_units = k % 5 == 0;
    cfg->close_at_end = k % 2;
    switch (k % 6) {
    case 1:
        cfg->stop_loss = 0.01;
        cfg->take_profit = 0.02;
        break;
    case 2:
        cfg->trailing_stop = 0.015;
        cfg->stop_loss = 0.01;
        cfg->cooldown_bars = 5;
        break;
    case 3:
        cfg->max_drawdown_halt = 0.05;
        cfg->halt_bars = 100;
        cfg->daily_loss_limit = 0.02;
        break;
    case 4:
        cfg->max_weight = 0.5;
        break;
    default:
        break;
    }
}

int main(void)
{
    const int64_t n = N_BARS;
    double *open = malloc(n * sizeof *open), *high = malloc(n * sizeof *high);
    double *low = malloc(n * sizeof *low), *close = malloc(n * sizeof *close);
    double *fast = malloc(n * sizeof *fast), *slow = malloc(n * sizeof *slow);
    int8_t *flips = malloc(n), *calm = malloc(n), *holds = malloc(n);
    double *exposure = malloc(n * sizeof *exposure);
    int64_t *ts = malloc(n * sizeof *ts);
    double *equity = malloc(n * sizeof *equity);
    int64_t trades_cap = anvil_max_trades(n), events_cap = anvil_max_events(n);
    anvil_trade *trades = malloc((size_t)trades_cap * sizeof *trades);
    anvil_pf_event *events = malloc((size_t)events_cap * sizeof *events);
    if (!open || !high || !low || !close || !fast || !slow || !flips || !calm || !holds || !exposure || !ts ||
        !equity || !trades || !events) {
        fprintf(stderr, "same_bits: out of memory\n");
        return 2;
    }

    double price = 100.0;
    for (int64_t i = 0; i < n; i++) {
        open[i] = price;
        price *= 1.0 + (uniform() - 0.5) * 0.004;
        close[i] = price;
        double top = open[i] > close[i] ? open[i] : close[i];
        double bottom = open[i] < close[i] ? open[i] : close[i];
        high[i] = top * (1.0 + uniform() * 0.001);
        low[i] = bottom * (1.0 - uniform() * 0.001);
        ts[i] = 1700000000000000000LL + i * 60000000000LL; /* one-minute bars */
    }
    sma(close, n, 10, fast);
    sma(close, n, 30, slow);
    for (int64_t i = 0; i < n; i++)
        flips[i] = i < 30 ? ANVIL_HOLD : (fast[i] > slow[i] ? 1 : -1);
    sma(close, n, 50, fast);
    sma(close, n, 200, slow);
    for (int64_t i = 0; i < n; i++) {
        calm[i] = i < 200 ? 0 : fast[i] > slow[i];
        holds[i] = (i / 37) % 3 == 0 || i % 11 == 0 ? ANVIL_HOLD : flips[i];
        exposure[i] = i % 7 == 0 ? (double)NAN : flips[i] * 0.5 * (1 + i % 3);
    }

    anvil_bars bars = {open, high, low, close, n, ts, 0};
    const void *signals[N_SIGNALS] = {flips, calm, holds, exposure};
    const int32_t kinds[N_SIGNALS] = {ANVIL_SIGNAL_I8, ANVIL_SIGNAL_I8, ANVIL_SIGNAL_I8,
                                      ANVIL_SIGNAL_F64};
    const char *names[N_SIGNALS] = {"flips", "calm", "holds", "float"};
    for (int k = 0; k < N_CONFIGS; k++) {
        anvil_config cfg;
        config(k, &cfg);
        for (int s = 0; s < N_SIGNALS; s++) {
            anvil_stats stats, batch_stats;
            int64_t n_trades = 0, n_events = 0, bad = -1, batch_bad = -1;
            memset(&stats, 0, sizeof stats);
            memset(&batch_stats, 0, sizeof batch_stats);
            int rc = anvil_backtest_events(&bars, signals[s], kinds[s], &cfg, &stats, equity, trades,
                                           trades_cap, &n_trades, events, events_cap, &n_events,
                                           &bad);
            int batch_rc = anvil_batch(&bars, signals[s], kinds[s], 1, &cfg, 1, &batch_stats,
                                       &batch_bad);
            uint64_t h = 14695981039346656037ULL;
            h = fnv(h, &stats, sizeof stats);
            h = fnv(h, equity, (size_t)n * sizeof *equity);
            h = fnv(h, trades, (size_t)n_trades * sizeof *trades);
            h = fnv(h, events, (size_t)n_events * sizeof *events);
            int batch_same = memcmp(&stats, &batch_stats, sizeof stats) == 0;
            printf("config %2d %-5s rc %d trades %6lld events %6lld outputs %016llx | batch rc %d "
                   "stats %s\n",
                   k, names[s], rc, (long long)n_trades, (long long)n_events,
                   (unsigned long long)h, batch_rc, batch_same ? "the same" : "DIFFERENT");
        }
    }
    free(open), free(high), free(low), free(close), free(fast), free(slow), free(flips);
    free(calm), free(holds), free(exposure), free(ts), free(equity), free(trades), free(events);
    return 0;
}

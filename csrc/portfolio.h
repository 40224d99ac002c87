/*
 * portfolio.h -- the state of one portfolio run, shared by csrc/portfolio.c (the
 * book and the bar) and csrc/portfolio_api.c (the public entry points and the
 * stepping API). Private to csrc/.
 */
#ifndef ANVIL_PORTFOLIO_H
#define ANVIL_PORTFOLIO_H

#include <stdint.h>

#include "anvil.h"
#include "metrics.h"

/* Per-symbol state and the rebalance plan, laid out in the caller's work buffer. */
typedef struct {
    double *units, *avg, *entry_fees, *best, *last_close, *contrib, *fee_rate, *slip, *fee_unit, *fixed;
    double *red_units, *red_px, *inc_units, *inc_px;
    int64_t *entry_bar, *red_sym, *inc_sym, *inc_dir, *cool_until, *delist; /* delist: 2 per symbol */
    /* The symbols held (units != 0), in column order: bars without a rebalance
     * mark only these. */
    int64_t *held;
} pf_state;

/* Doubles and int64s per symbol in the work buffer (delist counts twice). */
enum { PF_DOUBLES = 14, PF_INTS = 8 };

/* Cash, costs, outputs and closed-trade sums of one run. */
typedef struct {
    const anvil_panel *p;
    const anvil_pf_config *cfg;
    pf_state s;
    int64_t m;
    int64_t n_held;
    double cash;
    double fees;
    double traded;
    double borrow;
    const anvil_pf_outputs *out;
    int64_t n_trades, n_events;
    trade_acc closed;
} pf_book;

/* One portfolio run as it moves through the bars: what pf_run and the stepping
 * API (anvil_pf_sim_*) share, so both give the same numbers by construction. */
typedef struct {
    pf_book b;
    anvil_pf_config cfg;
    anvil_panel p;
    anvil_pf_outputs out;
    bar_acc acc;
    double sum_equity, peak, last_eq, day_start;
    int64_t halt_until, day, next_delist;
    int day_halted, close_fill, stops_on;
    int liquidated; /* equity reached zero at a close: the portfolio trades no more */
    const double *pending; /* next_open: the row decided at the last close */
} pf_sim;

/* Set a run up over panel p with its work buffer (anvil_pf_work_size bytes). */
void pf_setup(pf_sim *r, const anvil_panel *p, const anvil_pf_config *cfg, const anvil_pf_costs *costs,
              void *work, const anvil_pf_outputs *out);
/* Bar t up to its close; -1, or the column of an infinite weight in the pending row. */
int64_t pf_open_bar(pf_sim *r, int64_t t);
/* The rest of bar t with the row decided at its close (NULL: none); -1 or a bad column. */
int64_t pf_close_bar(pf_sim *r, int64_t t, const double *row);
/* Stats and extra after the last bar (ANVIL_E_CAPACITY when outputs overflowed). */
int pf_finish(pf_sim *r, anvil_stats *stats, anvil_pf_extra *extra);
/* The first column of row with an infinite weight, or -1; *any: some weight is
 * not NaN where the symbol trades. */
int64_t pf_scan_row(const double *row, const uint8_t *trad, int64_t m, int *any);
/* A whole run over a weights matrix (inputs already checked). */
int pf_run(const anvil_panel *p, const double *weights, const anvil_pf_config *cfg,
           const anvil_pf_costs *costs, void *work, anvil_stats *stats,
           anvil_pf_extra *extra, const anvil_pf_outputs *out, int64_t *bad_index);

#endif /* ANVIL_PORTFOLIO_H */

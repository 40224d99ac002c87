/*
 * portfolio_api.c -- the public portfolio entry points of csrc/anvil.h: checks,
 * one run, a batch, and the stepping API (anvil_pf_sim_*). The loop itself is
 * in csrc/portfolio.c.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "anvil.h"
#include "check.h"
#include "portfolio.h"

int64_t anvil_pf_work_size(int64_t n_symbols)
{
    if (n_symbols < 0 || n_symbols > INT64_MAX / 8 / (PF_DOUBLES + PF_INTS))
        return -1;
    return n_symbols * 8 * (PF_DOUBLES + PF_INTS);
}

int anvil_check_panel(const anvil_panel *p, int64_t *bad_index)
{
    if (p == NULL || p->open == NULL || p->high == NULL || p->low == NULL || p->close == NULL
        || p->tradable == NULL)
        return ANVIL_E_NULL;
    if (p->n_bars < 1 || p->n_symbols < 1 || p->stride < p->n_symbols
        || p->tradable_stride < p->n_symbols || p->n_bars > INT64_MAX / p->stride
        || p->n_bars > INT64_MAX / p->tradable_stride || p->n_bars > INT64_MAX / p->n_symbols)
        return ANVIL_E_SIZE;
    for (int64_t t = 0; t < p->n_bars; t++) {
        const uint8_t *trad = p->tradable + t * p->tradable_stride;
        const int64_t r = t * p->stride;
        for (int64_t j = 0; j < p->n_symbols; j++) {
            if (!trad[j])
                continue;
            double o = p->open[r + j], h = p->high[r + j], l = p->low[r + j], c = p->close[r + j];
            /* Written to fail on NaN. */
            int ok = l > 0.0 && h < INFINITY && l <= h && o >= l && o <= h && c >= l && c <= h;
            if (!ok || trad[j] != 1) {
                if (bad_index)
                    *bad_index = t * p->n_symbols + j;
                return ANVIL_E_PRICE;
            }
        }
    }
    return ANVIL_OK;
}

int anvil_check_pf_config(const anvil_pf_config *cfg)
{
    if (cfg == NULL)
        return ANVIL_E_NULL;
    int rc = anvil_check_config(&cfg->base);
    if (rc != ANVIL_OK)
        return rc;
    int ok = cfg->borrow_rate >= 0.0 && cfg->borrow_rate < INFINITY
             && cfg->rebalance_threshold >= 0.0 && cfg->rebalance_threshold < INFINITY
             && RISK_RULES_OK(cfg);
    return ok ? ANVIL_OK : ANVIL_E_CONFIG;
}

/* Per-symbol costs in the ranges anvil_check_config allows their scalars. */
static int check_costs(const anvil_pf_costs *k, int64_t m)
{
    if (k == NULL)
        return ANVIL_OK;
    for (int64_t j = 0; j < m; j++) { /* each test is written to fail on NaN */
        if (k->fee_rate && !(k->fee_rate[j] >= 0.0 && k->fee_rate[j] < 1.0))
            return ANVIL_E_CONFIG;
        if (k->slippage_bps && !(k->slippage_bps[j] >= 0.0 && k->slippage_bps[j] < 10000.0))
            return ANVIL_E_CONFIG;
        if (k->fee_per_unit && !(k->fee_per_unit[j] >= 0.0 && k->fee_per_unit[j] < INFINITY))
            return ANVIL_E_CONFIG;
        if (k->fixed_fee && !(k->fixed_fee[j] >= 0.0 && k->fixed_fee[j] < INFINITY))
            return ANVIL_E_CONFIG;
    }
    return ANVIL_OK;
}

/* What one run and a stepping simulation check beyond the config and the panel: a
 * daily loss limit needs the bar times, output capacities are not negative, and the
 * per-symbol costs are in range. */
static int check_run(const anvil_panel *panel, const anvil_pf_config *cfg, const anvil_pf_costs *costs,
                     const anvil_pf_outputs *out)
{
    if (cfg->daily_loss_limit > 0.0 && panel->ts == NULL)
        return ANVIL_E_NULL;
    if (out && ((out->trades && out->trades_cap < 0) || (out->events && out->events_cap < 0)))
        return ANVIL_E_SIZE;
    return check_costs(costs, panel->n_symbols);
}

int anvil_portfolio(const anvil_panel *panel, const double *weights, const anvil_pf_config *cfg,
                    const anvil_pf_costs *costs, void *work,
                    int64_t work_size, anvil_stats *stats, anvil_pf_extra *extra,
                    const anvil_pf_outputs *out, int64_t *bad_index)
{
    if (weights == NULL || stats == NULL || work == NULL)
        return ANVIL_E_NULL;
    int rc = anvil_check_pf_config(cfg);
    if (rc != ANVIL_OK)
        return rc;
    rc = anvil_check_panel(panel, bad_index);
    if (rc != ANVIL_OK)
        return rc;
    if (work_size < anvil_pf_work_size(panel->n_symbols))
        return ANVIL_E_SIZE;
    rc = check_run(panel, cfg, costs, out);
    if (rc != ANVIL_OK)
        return rc;
    return pf_run(panel, weights, cfg, costs, work, stats, extra, out, bad_index);
}

/* k (<= ANVIL_PF_GROUP) runs stepped together, bar by bar, each with its own
 * scratch (one bytes apiece in work): the panel's row t is read from memory once
 * for all of them. Returns 1 when every run finished (stats written), 0 when a
 * weight was bad (nothing to keep: the caller reruns them one by one). */
static int pf_group(const anvil_panel *panel, const double *const *weights, int64_t k,
                    const anvil_pf_config *cfgs, int shared_cfg, const anvil_pf_costs *costs,
                    char *work, int64_t one, anvil_stats *stats, anvil_pf_extra *extras)
{
    pf_sim sims[ANVIL_PF_GROUP];
    const int64_t n = panel->n_bars, m = panel->n_symbols;
    for (int64_t r = 0; r < k; r++)
        pf_setup(&sims[r], panel, &cfgs[shared_cfg ? 0 : r], costs, work + r * one, NULL);
    for (int64_t t = 0; t < n; t++) {
        for (int64_t r = 0; r < k; r++) {
            if (pf_open_bar(&sims[r], t) >= 0 || pf_close_bar(&sims[r], t, weights[r] + t * m) >= 0)
                return 0;
        }
    }
    const uint8_t *last = panel->tradable + (n - 1) * panel->tradable_stride;
    for (int64_t r = 0; r < k; r++) {
        int any;
        if (pf_scan_row(weights[r] + (n - 1) * m, last, m, &any) >= 0)
            return 0; /* the last row is never acted on, but must hold allowed values */
    }
    for (int64_t r = 0; r < k; r++)
        pf_finish(&sims[r], &stats[r], extras ? &extras[r] : NULL); /* no outputs: ANVIL_OK */
    return 1;
}

int anvil_portfolio_batch(const anvil_panel *panel, const double *const *weights, int64_t n_runs,
                          const anvil_pf_config *cfgs, int64_t n_cfgs, const anvil_pf_costs *costs,
                          void *work, int64_t work_size,
                          anvil_stats *stats, anvil_pf_extra *extras, int64_t *bad_index)
{
    if (weights == NULL || stats == NULL || cfgs == NULL || work == NULL)
        return ANVIL_E_NULL;
    if (n_runs < 0 || (n_cfgs != 1 && n_cfgs != n_runs))
        return ANVIL_E_SIZE;
    int rc = anvil_check_panel(panel, bad_index);
    if (rc != ANVIL_OK)
        return rc;
    const int64_t cells = panel->n_bars * panel->n_symbols;
    if (n_runs > 0 && cells > INT64_MAX / 8 / n_runs)
        return ANVIL_E_SIZE;
    if (work_size < anvil_pf_work_size(panel->n_symbols))
        return ANVIL_E_SIZE;
    for (int64_t k = 0; k < n_cfgs; k++) {
        rc = anvil_check_pf_config(&cfgs[k]);
        if (rc != ANVIL_OK)
            return rc;
        if (cfgs[k].daily_loss_limit > 0.0 && panel->ts == NULL)
            return ANVIL_E_NULL;
    }
    rc = check_costs(costs, panel->n_symbols);
    if (rc != ANVIL_OK)
        return rc;
    for (int64_t run = 0; run < n_runs; run++)
        if (weights[run] == NULL)
            return ANVIL_E_NULL;
    const int64_t one = anvil_pf_work_size(panel->n_symbols);
    int64_t group = work_size / one; /* one >= 8: the panel has a symbol */
    if (group > ANVIL_PF_GROUP)
        group = ANVIL_PF_GROUP;
    for (int64_t lo = 0; lo < n_runs; lo += group) {
        int64_t k = n_runs - lo < group ? n_runs - lo : group;
        if (k > 1 && pf_group(panel, weights + lo, k, n_cfgs == 1 ? cfgs : cfgs + lo, n_cfgs == 1,
                              costs, (char *)work, one, stats + lo, extras ? extras + lo : NULL))
            continue;
        /* One run, or a group that met a bad weight: one run at a time, which
         * names the first bad weight of the first run that has one. */
        for (int64_t run = lo; run < lo + k; run++) {
            int64_t bad = 0;
            rc = pf_run(panel, weights[run], &cfgs[n_cfgs == 1 ? 0 : run], costs, work, &stats[run],
                        extras ? &extras[run] : NULL, NULL, &bad);
            if (rc != ANVIL_OK) {
                if (bad_index)
                    *bad_index = run * cells + bad;
                return rc;
            }
        }
    }
    return ANVIL_OK;
}

/* ---- stepping ---------------------------------------------------------------- */

struct anvil_pf_sim {
    pf_sim run;
    int64_t next_bar;  /* the bar anvil_pf_sim_open expects */
    int opened;        /* anvil_pf_sim_open(next_bar) ran, close not yet */
    int finished;
    double *rows[2];   /* the last two rows decided (next_open reads the previous one) */
    /* then: the run's work buffer, then 2 x n_symbols doubles for the rows */
};

static int64_t pf_sim_header(void)
{
    return ((int64_t)sizeof(struct anvil_pf_sim) + 15) / 16 * 16;
}

int64_t anvil_pf_sim_size(int64_t n_symbols)
{
    int64_t work = anvil_pf_work_size(n_symbols);
    if (work < 0 || n_symbols > INT64_MAX / 32 - work)
        return -1;
    return pf_sim_header() + work + 2 * n_symbols * (int64_t)sizeof(double);
}

int anvil_pf_sim_init(anvil_pf_sim *sim, int64_t sim_size, const anvil_panel *panel,
                      const anvil_pf_config *cfg, const anvil_pf_costs *costs,
                      const anvil_pf_outputs *out)
{
    if (sim == NULL)
        return ANVIL_E_NULL;
    int rc = anvil_check_pf_config(cfg);
    if (rc != ANVIL_OK)
        return rc;
    rc = anvil_check_panel(panel, NULL);
    if (rc != ANVIL_OK)
        return rc;
    int64_t need = anvil_pf_sim_size(panel->n_symbols);
    if (need < 0 || sim_size < need)
        return ANVIL_E_SIZE;
    rc = check_run(panel, cfg, costs, out);
    if (rc != ANVIL_OK)
        return rc;
    char *base = (char *)sim;
    void *work = base + pf_sim_header();
    double *rows = (double *)(base + pf_sim_header() + anvil_pf_work_size(panel->n_symbols));
    pf_setup(&sim->run, panel, cfg, costs, work, out);
    sim->next_bar = 0;
    sim->opened = 0;
    sim->finished = 0;
    sim->rows[0] = rows;
    sim->rows[1] = rows + panel->n_symbols;
    return ANVIL_OK;
}

int anvil_pf_sim_open(anvil_pf_sim *sim, int64_t t)
{
    if (sim == NULL)
        return ANVIL_E_NULL;
    if (sim->finished || sim->opened || t != sim->next_bar || t >= sim->run.p.n_bars)
        return ANVIL_E_STATE;
    int64_t bad = pf_open_bar(&sim->run, t);
    sim->opened = 1;
    return bad >= 0 ? ANVIL_E_SIGNAL : ANVIL_OK; /* cannot happen: rows are checked at close */
}

int anvil_pf_sim_close(anvil_pf_sim *sim, int64_t t, const double *row, int64_t *bad_index)
{
    if (sim == NULL)
        return ANVIL_E_NULL;
    if (sim->finished || !sim->opened || t != sim->next_bar)
        return ANVIL_E_STATE;
    const int64_t m = sim->run.b.m;
    double *mine = NULL;
    if (row) {
        for (int64_t j = 0; j < m; j++)
            if (isinf(row[j])) {
                if (bad_index)
                    *bad_index = j;
                return ANVIL_E_SIGNAL;
            }
        mine = sim->rows[t & 1]; /* the previous bar's row, if pending, is in the other */
        memcpy(mine, row, (size_t)m * sizeof(double));
    }
    pf_close_bar(&sim->run, t, mine);
    sim->opened = 0;
    sim->next_bar = t + 1;
    return ANVIL_OK;
}

int anvil_pf_sim_finish(anvil_pf_sim *sim, anvil_stats *stats, anvil_pf_extra *extra)
{
    if (sim == NULL || stats == NULL)
        return ANVIL_E_NULL;
    if (sim->finished || sim->opened || sim->next_bar != sim->run.p.n_bars)
        return ANVIL_E_STATE;
    sim->finished = 1;
    return pf_finish(&sim->run, stats, extra);
}

/*
 * check.h -- the checks every entry point runs: bars, and the risk rules of a
 * config (private to csrc/).
 */
#ifndef ANVIL_CHECK_H
#define ANVIL_CHECK_H

#include <math.h>
#include <stdint.h>

#include "anvil.h"

/* The risk rules' fields of a config (a series' anvil_config or a portfolio's
 * own) are in range; written to fail on NaN. An expression over cfg->fields,
 * so that both config structs use it. */
#define RISK_RULES_OK(cfg)                                                                     \
    ((cfg)->max_weight >= 0.0 && (cfg)->max_weight < INFINITY                                 \
     && (cfg)->max_drawdown_halt >= 0.0 && (cfg)->max_drawdown_halt < 1.0                     \
     && (cfg)->daily_loss_limit >= 0.0 && (cfg)->daily_loss_limit < 1.0                       \
     && (cfg)->halt_bars >= 0 && (cfg)->halt_bars <= INT64_MAX / 4                            \
     && ((cfg)->max_drawdown_halt == 0.0 || (cfg)->halt_bars >= 1)                            \
     && (cfg)->cooldown_bars >= 0 && (cfg)->cooldown_bars <= INT64_MAX / 4)

/* anvil_check_bars, or for bars the caller has already checked (bars->checked)
 * only their pointers and length. */
int check_bars_unless_checked(const anvil_bars *bars, int64_t *bad_index);

#endif /* ANVIL_CHECK_H */

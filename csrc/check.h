/*
 * check.h -- the bars check every entry point runs (private to csrc/).
 */
#ifndef ANVIL_CHECK_H
#define ANVIL_CHECK_H

#include <stdint.h>

#include "anvil.h"

/* anvil_check_bars, or for bars the caller has already checked (bars->checked)
 * only their pointers and length. */
int check_bars_unless_checked(const anvil_bars *bars, int64_t *bad_index);

#endif /* ANVIL_CHECK_H */

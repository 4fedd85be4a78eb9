/* SPDX-License-Identifier: MIT */
/*
 * burn's verdict (burn.health): what the intervals found, the health counters at start and end
 * (probes/health.h), the sampler's throttle reasons over the whole burn. A device is unhealthy
 * (the result fails, naming every reason) on: a wrong answer in any interval, a thermal or
 * power-brake clock state in more than --throttle-share of the samples, growth of ECC errors,
 * retired pages, remapped rows or PCIe replays, a pending retirement or remap, a remap failure,
 * an XID event. Checks a device cannot make are listed with the reason and decide nothing.
 */
#ifndef AB_BURN_VERDICT_H
#define AB_BURN_VERDICT_H

#include "burn.h"

typedef struct burn_state burn_state;

/* Opens the device's health counters and takes the start reading. NULL on out of memory. */
burn_state *burn_state_new(ab_suite_ctx *ctx, const burn_plan *p);
void burn_state_free(burn_state *st);
/* After each phase: the result as emitted (its first metric's median, its status). */
void burn_note_phase(burn_state *st, const char *what, const char *dtype, long interval,
                     const ab_result *r, const burn_phase *ph);
void burn_note_problem(burn_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void burn_interval_done(burn_state *st);
/* The end reading, the checks, the burn.health result. */
int burn_verdict_emit(ab_suite_ctx *ctx, burn_state *st, long planned);

/* The largest share of samples in one thermal or power-brake state, from a sampler summary
 * (extra.sampler's layout): 1 with *share and the state's name, 0 with why when the summary
 * has no throttle reasons. Exposed for tests. */
int burn_throttle_share(const json_t *summary, double *share, char *reason, size_t len, char *why,
                        size_t why_len);

#endif

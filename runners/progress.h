/* SPDX-License-Identifier: MIT */
/*
 * Progress on stderr while a run goes: where it is (suite, device, case), k of n cases, the
 * time elapsed and an ETA.
 *
 *   live   one status line rewritten in place (a terminal: carriage return, erase line), plus a
 *          permanent line for every result that did not pass or skip
 *   plain  one line per result, prefixed "[k/n elapsed ETA]" (stderr not a terminal, or
 *          --progress plain)
 *   none   nothing (--quiet, --progress none)
 *
 * The plan: n is the number of cases per device x suite "slot", counted from the suites' case
 * lists when the device is opened (ab_progress_count); a slot of a device not opened yet is
 * estimated as the mean count of that suite's counted slots (the count is then shown as
 * "~n"). The ETA is the sum over slots of the cases left times the seconds per case measured
 * so far in that slot, else in that suite on other devices, else over the whole run; with a
 * time budget, never past the budget's end.
 */
#ifndef AB_PROGRESS_H
#define AB_PROGRESS_H

#include "reporter.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    AB_PROGRESS_AUTO, /* live when the stream is a terminal, else plain */
    AB_PROGRESS_PLAIN,
    AB_PROGRESS_LIVE,
    AB_PROGRESS_NONE,
} ab_progress_mode;

/* "plain", "live", "none", "auto": 0, or -1 with err naming --progress. */
int ab_progress_mode_parse(const char *s, ab_progress_mode *m, char *err);

typedef struct ab_progress_slot {
    char device[64], suite[32];
    int pass;       /* the pass of a budgeted run (budget.h); 0 otherwise */
    size_t planned; /* cases counted (when counted) */
    size_t done;    /* results seen */
    double spent;   /* wall seconds of the slot so far */
    bool counted;
} ab_progress_slot;

typedef struct ab_progress_plan {
    ab_progress_slot *v;
    size_t n;
    double deadline; /* the budget's end (ab_now() seconds); 0: no budget */
} ab_progress_plan;

/* Totals and the ETA at `now` (seconds; NAN when no case has finished yet) of a plan: *done,
 * *total (counted and estimated), *estimated set when a slot is not counted yet. */
double ab_progress_eta(const ab_progress_plan *p, double now, size_t *done, size_t *total,
                       bool *estimated);

/* "1:05", "1:02:03", "?" for NAN. */
void ab_progress_clock(double sec, char *buf, size_t len);

/* The progress reporter on f in mode (AUTO resolved with isatty); NULL for NONE, or out of
 * memory. */
ab_reporter *ab_reporter_progress_mode(FILE *f, ab_progress_mode mode);

/* The runner's calls (rp may be NULL: no progress). A slot for each selected device x suite
 * (and pass), before anything runs; its count when the device is open (counted); a case
 * about to run; the end of a time budget (ab_now() seconds). */
void ab_progress_slot_add(ab_reporter *rp, const char *device, const char *suite, int pass);
void ab_progress_count(ab_reporter *rp, const char *device, const char *suite, int pass,
                       size_t cases);
void ab_progress_slot_begin(ab_reporter *rp, const char *device, const char *suite, int pass);
void ab_progress_started(ab_reporter *rp, const ab_result *r);
void ab_progress_budget(ab_reporter *rp, double deadline);
/* The reporter's plan (for tests); NULL when rp is not a progress reporter. */
const ab_progress_plan *ab_progress_get_plan(const ab_reporter *rp);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A time budget for `accelbench run` (--budget 15m, or the profile's default): the run is planned
 * so it ends in time, every suite on every device first, then the long sweeps.
 *
 *   pass 1, cover:  every selected suite on every selected device with the quick profile's
 *                   cases and sampling (its smallest representative sweep: the headline sizes
 *                   and a few points of each sweep);
 *   pass 2, extend: every suite on every device again with the run's profile; a case the cover
 *                   pass measured is not run again (no second result), the others run while
 *                   they fit: the time left is shared out over the device x suite slots still
 *                   to come (what a slot does not use goes to the later ones) and a case whose
 *                   estimate does not fit its slot is a skip with reason "budget: ...".
 *
 * The estimate of a case: the seconds the last case of the same key on the device took, times
 * the ratio of their first metric's amount per iteration (bytes, FLOP) when it is larger,
 * doubled when that case ran in the cover pass (the run's profile samples longer); a key not
 * run on the device yet: from the work the case declared (ab_case_work: FLOP and bytes per
 * iteration, sampled or once) over the device's own best measured rates earlier in the run
 * (ab_budget_rate: the first metric of a passing result in FLOP/s, of the same impl label --
 * portable and vendor differ by orders of magnitude -- and dtype where one ran, and in B/s, of
 * any), times the iterations its sampling takes (ab_sampling_seconds); without either: its
 * time on another device times how much slower this device was on the keys both ran (geometric
 * mean of seconds per unit of amount); none known: let through.
 * A suite the cover pass has not yet represented on a device (no case of it ran there with a
 * result other than a skip) is owed one: its case runs unless twice its estimate (a margin: the
 * rates come from smaller kernels) overruns the end -- or, past the end, now -- by more than a
 * tenth of the budget; the last selected case of the
 * suite's list runs whatever its estimate, so the suite is represented. A suite declares a
 * smaller representative for that (ab_case.cover_only: run only while its suite is owed, placed
 * last). Otherwise nothing starts after the end. A series headline of the cover pass (gemm's
 * largest square size) gives way to the
 * extend pass's headline of the same series. The run document records the budget, what it
 * left out and why in settings.budget (results/SCHEMA.md); summary.md says it in a note.
 */
#ifndef AB_BUDGET_H
#define AB_BUDGET_H

#include "../core/measure.h"
#include "../core/rundoc.h"

#include <stdbool.h>

enum { AB_PASS_ONE = 0, AB_PASS_COVER = 1, AB_PASS_EXTEND = 2 };

typedef struct ab_budget ab_budget;

/* "15m", "90s", "1.5h", "900" (seconds); "0" or "none": no budget (*sec = 0). -1 with err
 * naming --budget. */
int ab_budget_parse(const char *s, double *sec, char *err);
/* The default budget of a profile in seconds: standard 12 minutes (with the build, charts and
 * report, ./run_all.sh within 20 minutes on a 2-core VM); quick and full none (0). */
double ab_budget_default(const char *profile);

/* A budget of sec seconds from now; source says where it came from ("--budget", "the standard
 * profile's default"). NULL when out of memory. */
ab_budget *ab_budget_new(double sec, const char *source);
void ab_budget_free(ab_budget *b);

/* The end of the budget (ab_now() seconds). */
double ab_budget_deadline(const ab_budget *b);
/* Starts a pass over nslots device x suite slots. */
void ab_budget_pass(ab_budget *b, int pass, size_t nslots);
int ab_budget_current_pass(const ab_budget *b);
/* Starts the next slot: its share of the time left. */
void ab_budget_slot(ab_budget *b);

/* One term of what a case will do (ab_case_work): FLOP and bytes of one iteration, measured
 * with the case's sampling (sampled) or done once (a validation, a reference). */
typedef struct ab_work_term {
    double flop, bytes;
    bool sampled;
} ab_work_term;

/* What the budget knows of a case besides its key and identity. */
typedef struct ab_budget_work {
    const ab_work_term *t; /* n terms; none: no estimate from rates */
    size_t n;
    const ab_sampling *sampling; /* the case's */
    const char *impl, *dtype;    /* its impl label and "dtype" param (NULL: none) */
    bool last;                   /* the last selected case of its suite's list on the device */
} ab_budget_work;

/* Seconds ab_measure takes with sampling s for an iteration of t seconds: the warm-up runs,
 * the calibration batch and the samples (fewer past max_time, at least 3). */
double ab_sampling_seconds(const ab_sampling *s, double t);
/* A rate the device reached: the first metric's median of a passing result (unit "FLOP/s" or
 * "B/s"; others are ignored); the budget keeps the best per device, unit, impl and dtype. */
void ab_budget_rate(ab_budget *b, const char *device, const char *impl, const char *dtype,
                    const char *unit, double rate);
/* The estimate of w's terms on device from its rates; NAN when a term has no rate to go by. */
double ab_budget_work_seconds(const ab_budget *b, const char *device, const ab_budget_work *w);
/* Whether the cover pass owes device a case of key's suite (none has represented it yet). */
bool ab_budget_owed(const ab_budget *b, const char *device, const char *key);

/* Before a case runs: 0 to run it; 2 (AB_CASE_ABSENT) when the cover pass measured it (no
 * result); 1 (AB_CASE_SKIP) with the reason in why (AB_ERRLEN) when it does not fit. id: the
 * case's identity (device, key, impl, params); amount: its first metric's amount per
 * iteration, NAN when unknown; w: what it will do (NULL: nothing known). */
int ab_budget_admit(ab_budget *b, const char *device, const char *key, const char *id,
                    double amount, const ab_budget_work *w, char *why);
/* Whether every case of key on device would be a budget skip now (checked before a group's
 * setup, so a spent budget costs no setup): past the end, or past the slot's share, unless the
 * cover pass still owes the device a case of the suite (or a first case of the key while the
 * budget lasts). No side effect. */
bool ab_budget_spent(const ab_budget *b, const char *device, const char *key);
/* The skip of a case the budget left out (counted in what it left out): why (AB_ERRLEN). */
void ab_budget_skip(ab_budget *b, const char *device, const char *key, char *why);
/* Whether the extend pass will leave id out as measured by the cover pass (the progress count). */
bool ab_budget_measured(const ab_budget *b, const char *id);
/* After a case ran (seconds from its start to its result); w: what ab_budget_admit was told it
 * would do (NULL: nothing known); represents: its result is not a skip (it represents its suite
 * on the device). */
void ab_budget_ran(ab_budget *b, const char *device, const char *key, const char *id, double amount,
                   const ab_budget_work *w, double seconds, bool represents);
/* A series headline was marked and emitted: a cover-pass one of the same device, suite and
 * series is no longer a headline once the extend pass marks one. */
void ab_budget_series(ab_budget *b, const char *device, const char *suite, const char *series,
                      ab_result *r);
/* settings.budget of the run document: {seconds, source, left_out: {"suite on device": n},
 * skipped, superseded_headlines, note, estimates: {case identity: [estimated s, took s or null
 * when it did not run]}}; and the one-line note (also for summary.md). */
void ab_budget_record(const ab_budget *b, ab_run *run);

#endif

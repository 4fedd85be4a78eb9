/* SPDX-License-Identifier: MIT */
/*
 * Suites as declared cases, run by one runner loop (runners/caserun.c).
 *
 * A suite states WHAT it measures; the loop does the rest the same way for every suite:
 * impl lookup, selection by key, skips, setup and teardown, sampling (ab_measure), the
 * "interrupted before the first sample" skip, metrics from the declared per-iteration amounts
 * and the time, --test-corrupt KEY, validation status, headline marking, emission (ab_emit).
 *
 *   static const ab_case_suite x_cases = {.impl = x_impl, .plan_size = sizeof(x_plan),
 *                                         .plan_init = x_plan_init, .generate = x_generate};
 *   const ab_suite ab_suite_x = {.name = "x", .keys = .., .params = .., .run = ab_caserun,
 *                                .cases = &x_cases};
 *
 * (ab_suite.check left NULL: making the plan, ab_caserun_check_suite, is the usage check.)
 *
 * Per device the loop: looks up the backend's kernel table (ab_case_suite.impl; none: one skip
 * "x has no <backend> implementation", key "x", impl "none"), makes the plan (plan_new; an
 * error: one error result, key "x", impl "none"), calls generate(), which walks the suite's
 * parameter sweep (dtype x size x shape ...) and adds GROUPS of CASES to the list, then runs
 * the list in order:
 *
 *   for each group with at least one selected case (key matched by --suite):
 *     group setup (shared buffers; optional) -- skip/error: every selected case gets it, or
 *                                               one result for the group (ab_group.skip_one)
 *                                               or one per selected key (skip_per_key)
 *     for each selected case, in order, until a signal arrives:
 *       applies(device)   -> skip with the reason (no setup, no extra); AB_CASE_ABSENT: no
 *                            result at all
 *       extra = {}, the declared extra amounts recorded (ab_case_extra)
 *       setup             -> skip / error (teardown still runs: it must handle partial setup)
 *       measure           -> ab_measure(sampling, run) unless the case has its own measure()
 *                            error; skip (run returned AB_CASE_SKIP);
 *                            "interrupted before the first sample" (skip) when no sample
 *       warmup_runs, iters_per_sample; every declared metric, then ops->metrics() if any
 *       corrupt(), when --test-corrupt names this case's key (error: "corrupting output: ..")
 *       validate()        -> fail with the verdict's message; -1: error "validation: .."
 *       teardown; time_spent
 *     group teardown
 *     headline: among the group's passing candidates (ab_case.headline) the best by the first
 *               metric's median is marked; with ab_case.series set, the LAST passing
 *               candidate of that series over all groups is marked instead (held back from
 *               emission until a later one replaces it, a group with flush_series, or the end;
 *               held ones come out in ab_caselist_series order, then first-candidate order)
 *     the group's results are emitted in case order
 *
 * Everything a suite hands to the list (groups, cases, results, data) is owned and freed by the
 * loop. Nothing here prints. Return conventions: 0 / -1 with a one-line message in err
 * (AB_ERRLEN bytes), and AB_CASE_SKIP where a skip is allowed (reason in err / why).
 */
#ifndef AB_CASE_H
#define AB_CASE_H

#include "suite.h"

/* Returned by applies/setup/run (and group setup): the case is skipped, the reason in err. */
#define AB_CASE_SKIP 1
/* Returned by applies only: the case does not exist in this run and leaves no result (which of
 * two alternative cases of a group reports is decided at run time, e.g. by what the group's
 * setup found from earlier measurements). */
#define AB_CASE_ABSENT 2

typedef struct ab_caselist ab_caselist;
typedef struct ab_group ab_group;
typedef struct ab_case ab_case;

/* What validate() found. The loop starts it as a pass (fail = false, max_error = NAN). */
typedef struct ab_verdict {
    bool fail;         /* a wrong answer: the result is `fail` with msg as its reason */
    char msg[512];
    double max_error;  /* largest error found, in the suite's own measure (relative error,
                        * error over tolerance, ...); NAN when not computed. Recorded as
                        * extra[ab_case_suite.max_error_key] when that key is set. */
} ab_verdict;

typedef struct ab_case_ops {
    /* Whether the case can run on d: 0, AB_CASE_SKIP with the reason in why, or
     * AB_CASE_ABSENT (no result at all). Optional. */
    int (*applies)(ab_case *c, const ab_device *d, char *why);
    /* Allocates and initialises what the case needs beyond its group: 0, AB_CASE_SKIP (reason
     * in err: does not fit, unsupported shape ...) or -1 (error). Optional. */
    int (*setup)(ab_case *c, char *err);
    /* Runs `iters` back-to-back iterations, bracketed by the backend timer, seconds in *sec
     * (an ab_timed_fn). 0, -1 (error) or AB_CASE_SKIP (e.g. over a time budget; reason in err).
     * Required unless measure is given. */
    int (*run)(ab_case *c, long iters, double *sec, char *err);
    /* Replaces the default ab_measure(sampling, run, c): for cases that time more than one
     * thing (the extra timings kept in c->data). Must fill t as ab_measure does. Optional. */
    int (*measure)(ab_case *c, const ab_sampling *s, ab_timing *t, char *err);
    /* Adds metrics the declared ones cannot express (derived samples), and timing extras;
     * called after the declared metrics, before corruption and validation. Optional. */
    int (*metrics)(ab_case *c, const ab_timing *t, ab_result *r, char *err);
    /* --test-corrupt KEY: damages the case's output as a broken kernel would. Optional (a
     * case without one cannot be corruption-tested: the run records an error). */
    int (*corrupt)(ab_case *c, char *err);
    /* Checks the output: fills v (fail + msg, max_error) and may add extras to r (counts,
     * sums). -1 with err when it could not check at all. Optional (then the result passes). */
    int (*validate)(ab_case *c, ab_result *r, ab_verdict *v, char *err);
    /* Frees what setup made; called whenever setup was called, even when it failed. */
    void (*teardown)(ab_case *c);
} ab_case_ops;

typedef struct ab_group_ops {
    /* Resources shared by the group's cases (input buffers, references): 0, AB_CASE_SKIP or
     * -1, message in err. Runs only when one of the group's cases is selected. Optional. */
    int (*setup)(ab_group *g, char *err);
    /* Called whenever setup was called. Optional. */
    void (*teardown)(ab_group *g);
} ab_group_ops;

/* The declarative half of a suite (ab_suite.cases). */
typedef struct ab_case_suite {
    /* The device's kernel table for this suite, its member of ab_device_impls(d) (typed there;
     * ab_case.impl carries it): e.g. `return ab_device_impls(d)->membw;`. A NULL table is one
     * skip "x has no B implementation". NULL accessor: the suite needs none (impl is NULL). */
    const void *(*impl)(const ab_device *d);
    /* The suite's options parsed once per device run (and by ab_caserun_check for usage
     * errors): returns the plan or NULL with err. Optional (plan is then NULL). */
    void *(*plan_new)(const ab_options *o, char *err);
    void (*plan_free)(void *plan);
    /* Or, instead of plan_new/plan_free: the loop allocates plan_size zeroed bytes, plan_init
     * fills them (0, or -1 with err) and plan_clear (optional) frees what init allocated inside;
     * the loop frees the block. */
    size_t plan_size;
    int (*plan_init)(const ab_options *o, void *plan, char *err);
    void (*plan_clear)(void *plan);
    /* Adds the groups and cases for l's device (ab_caselist_ctx(l)->dev) from the plan; -1 with
     * err stops the suite with one error result (key = suite name, impl "none"). */
    int (*generate)(ab_caselist *l, char *err);
    /* The sampling policy when not the run's (ab_options.sampling). Optional. */
    void (*sampling)(const ab_options *o, ab_sampling *s);
    /* extra key for ab_verdict.max_error; NULL: not recorded. */
    const char *max_error_key;
} ab_case_suite;

/* A group: cases that share setup (buffers, a reference) and a headline choice. */
struct ab_group {
    ab_caselist *list;
    void *data;      /* data_size zeroed bytes, freed by the loop; the suite's group state */
    ab_result *r;    /* the group's own result: its key, impl and params are copied into every
                      * case added after them, and it is what skip_one emits */
    bool skip_one;   /* a group setup skip/error is ONE result (r), not one per selected case;
                      * group setup may set it for the failure it is returning (e.g. one
                      * error for inputs it could not fill, a skip per case when they do
                      * not fit) */
    bool skip_per_key; /* ... one result per distinct selected key, in case order: that key
                        * with r's impl and params (a model shared by a sweep that cannot be
                        * built is one skip per key, not one per point) */
    bool flush_series; /* before this group runs, held series headlines are marked and emitted */
    const ab_group_ops *ops;
    /* loop-private */
    ab_case **cases;
    size_t ncases, cap;
    bool preset; /* r is emitted as it is (ab_caselist_suite_result) */
};

/* One case instance: a key, an impl label, its params, and how to run it. */
struct ab_case {
    ab_group *group;
    ab_suite_ctx *ctx;  /* device, options, manifest, energy */
    const void *impl;   /* the backend's kernel table (ab_case_suite.impl), or NULL */
    void *plan;         /* from plan_new */
    void *data;         /* data_size zeroed bytes, freed by the loop; the suite's case state */
    ab_result *r;       /* key, impl and params: set params with ab_result_param_*() while
                         * generating; the loop fills the rest */
    const ab_case_ops *ops;
    bool headline;      /* a headline candidate (see the loop above) */
    const char *series; /* static string: headline is the last passing candidate of the series
                         * (e.g. "vendor/f32" over a size sweep); NULL: best of the group */
    bool cover_only;    /* a smaller representative of the suite for a time budget's cover pass
                         * (runners/budget.h): runs only while the cover pass owes the device a
                         * case of the suite (none represented it yet), else leaves no result;
                         * added last */
    /* loop-private */
    struct ab_work_term *work; /* ab_case_work */
    size_t nwork;
    struct ab_case_amount *amounts;
    size_t namounts;
    struct ab_case_binding *vars;
    size_t nvars;
};

/* ---- generating (inside ab_case_suite.generate) ---- */

ab_suite_ctx *ab_caselist_ctx(const ab_caselist *l);
void *ab_caselist_plan(const ab_caselist *l);
const void *ab_caselist_impl(const ab_caselist *l);

/* A new group at the end of the list; key/impl may be NULL (no skip_one result then). NULL on
 * out of memory. */
ab_group *ab_group_add(ab_caselist *l, const char *key, const char *impl,
                       const ab_group_ops *ops, size_t data_size);
/* A new case at the end of g, with g's params. NULL on out of memory. */
ab_case *ab_case_add(ab_group *g, const char *key, const char *impl, const ab_case_ops *ops,
                     size_t data_size);
/* A case in a group of its own (no shared setup). */
ab_case *ab_case_new(ab_caselist *l, const char *key, const char *impl, const ab_case_ops *ops,
                     size_t data_size);
/* A result of the suite as a whole (key = suite name, impl "none", no params), emitted in
 * list order whatever --suite selects: "no requested --dtype applies ...". */
int ab_caselist_suite_result(ab_caselist *l, ab_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with the suite's own key, impl and params: returns the result (set its params and
 * status), emitted as it is in list order whatever --suite selects; NULL on out of memory. */
ab_result *ab_caselist_result(ab_caselist *l, const char *key, const char *impl);
/* Reserves a place for `series` (static string) in the order held series headlines are emitted
 * (flush_series, the end); otherwise that order is the order of their first candidates. */
int ab_caselist_series(ab_caselist *l, const char *series);

/* A variable of the case's formulas besides its numeric params (which are variables under
 * their names): ab_case_var(c, "s", 8) for the element size. */
int ab_case_var(ab_case *c, const char *name, double value);
/*
 * A metric: with `amount` (a formula over the case's variables, per iteration) each sample is
 * amount / t; without (NULL), each sample is t itself (seconds per iteration). `formula` is
 * the recorded text and must contain `amount` verbatim (the loop refuses one that does not:
 * the record then names what was computed); NULL gives "<amount> / t" (or "t"). Metrics are recorded in
 * the order declared; the first one decides the headline among candidates.
 */
int ab_case_metric(ab_case *c, const char *name, const char *unit, bool higher_is_better,
                   const char *amount, const char *formula);
/* extra[key] = the formula's value per iteration, recorded before setup (so a skipped or
 * failed case still says what it would have moved); as a JSON integer, or real when `real`. */
int ab_case_extra(ab_case *c, const char *key, const char *amount, bool real);
/* What one iteration of the case's measurement does -- about flop FLOP through its impl and
 * bytes of memory traffic -- for a time budget's estimate before any case of its key ran on the
 * device (runners/budget.h); sampled: measured with the case's sampling, else done once (a
 * validation, the model's fill). A case that times several things declares a term for each.
 * Optional: without, the budget goes by the key's times here or elsewhere. */
int ab_case_work(ab_case *c, double flop, double bytes, bool sampled);
/* The value of a formula over c's variables (what the loop computes for metrics). */
int ab_case_eval(const ab_case *c, const char *amount, double *out, char *err);

/* ---- the loop ---- */

/* ab_suite.run for a suite with .cases: the whole procedure above on ctx->dev. Returns -1
 * only when a result could not be recorded. */
int ab_caserun(ab_suite_ctx *ctx);
/* ab_suite.check for a suite with .cases: plan_new + plan_free. */
int ab_caserun_check_suite(const ab_case_suite *cs, const ab_options *o, char *err);

#endif

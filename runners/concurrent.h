/* SPDX-License-Identifier: MIT */
/*
 * accelbench run --concurrent: the selected suites on every selected device at the same time.
 *
 * One host thread per device, pinned for it the way the sequential run pins its one thread
 * (ab_run_probes_before_device: the CPU backend's team thread 0, a GPU's nearest cores); the
 * device is opened on its own thread. Before each suite every thread waits at one barrier, so
 * the suite starts on all devices together. The runner's emit (run document, journal, reporters,
 * sampler and counter summaries, peaks) is called under one mutex: results come out whole, one
 * at a time, in the order they finish.
 *
 * Per-device results are the suites' ordinary results with the parameter concurrent = N (the
 * number of devices run at once), so they never align with a run of one device alone. After the
 * threads join, one aggregate result per (key, impl, params) that passed on a device: device id
 * "concurrent", its first metric "<metric>_sum" (rates only: units per second) whose sample i is
 * the sum over the devices of their sample i, and extra.concurrent with each device's median, the
 * spread (min, median, max over devices, the slowest and fastest device) and the overlap of the
 * devices' time windows (1: they ran entirely at the same time). It passes when every device
 * passed, else it is a skip naming those that did not. results/SCHEMA.md describes the layout.
 */
#ifndef AB_CONCURRENT_H
#define AB_CONCURRENT_H

#include "../backends/registry.h"
#include "../suites/suite.h"
#include "run_probes.h"

#define AB_CONCURRENT_DEVICE "concurrent" /* the device id of aggregate results */

typedef struct ab_concurrent_env {
    ab_device **devices; /* the selected devices, in platform order */
    size_t ndevices;
    const ab_suite *const *suites; /* NULL-terminated: ab_suites() (tests pass their own) */
    const bool *suite_on;          /* per suites[] entry: selected */
    const ab_options *views;       /* per suites[] entry: the suite's parameter view */
    ab_run_probes *probes;         /* pinning before each device (called under the lock) */
    /* the runner's: records a result (taking ownership), -1 when the run cannot go on */
    int (*emit)(ab_suite_ctx *ctx, ab_result *r);
    int (*energy)(ab_suite_ctx *ctx, double t0, double t1, double *joules, char *what, char *why);
    json_t *(*sampler)(ab_suite_ctx *ctx, double t0, double t1);
    void *runner;
    const json_t *manifest;
} ab_concurrent_env;

/* Runs everything, then emits the aggregates. 0, or -1 when emit failed (the run stops). */
int ab_concurrent_run(const ab_concurrent_env *env);

/* The aggregate of n per-device results of one case (exposed for tests): NULL when none passed
 * or on out of memory. `ndevices` is how many devices ran at once. */
ab_result *ab_concurrent_aggregate(const ab_result *const *members, size_t n, size_t ndevices);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * run --concurrent's threads (runners/concurrent.c) as a plain program so ThreadSanitizer can
 * run it (Criterion does not start under TSan, and the real backends' OpenMP runtime is not
 * instrumented): four devices of a stand-in backend, two stand-in suites that emit from each
 * device's thread, and an emit that keeps unguarded state, as the runner's does. Any emit that
 * is not serialised is a data race TSan reports; the counts check the barrier and aggregates.
 * Built in every configuration; `scripts/test.sh --tsan` runs it under ThreadSanitizer.
 */
#include "core/ab.h"
#include "runners/concurrent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NDEV      4
#define PER_SUITE 3 /* results per device and suite */

static int fake_open(void *be, int idx, void **dev, char *err)
{
    (void)be;
    (void)err;
    int *h = malloc(sizeof(*h));
    if (!h) return -1;
    *h = idx;
    *dev = h;
    return 0;
}

static const ab_backend_ops fake_ops = {.abi = AB_BACKEND_ABI, .name = "fake", .open = fake_open};

/* the runner's side: unguarded on purpose */
static size_t emitted, per_device[NDEV], aggregates;
static double suite_start[2][NDEV];

static int emit(ab_suite_ctx *ctx, ab_result *r)
{
    (void)ctx;
    emitted++;
    if (strcmp(r->device, AB_CONCURRENT_DEVICE) == 0)
        aggregates++;
    else
        per_device[r->device[3] - '0']++;
    ab_result_free(r);
    return 0;
}

/* Devices inside a suite right now: each waits (up to 5 s) until every device is inside, which
 * only happens when their threads run at the same time. */
static atomic_int inside[2], all_inside[2];

static int run_suite(ab_suite_ctx *ctx, int which)
{
    int dev = *(int *)ctx->dev->h;
    suite_start[which][dev] = ab_now();
    atomic_fetch_add(&inside[which], 1);
    for (double t0 = ab_now(); atomic_load(&inside[which]) < NDEV && ab_now() - t0 < 5;)
        ;
    if (atomic_load(&inside[which]) == NDEV) atomic_fetch_add(&all_inside[which], 1);
    for (int k = 0; k < PER_SUITE; k++) {
        ab_result *r = ab_suite_result(ctx, which ? "two.k" : "one.k", "x");
        double v[3] = {1.0 + dev, 2.0 + dev, 3.0 + dev};
        ab_result_add_metric(r, "bandwidth", "B/s", true, "n / t", v, 3);
        r->started = ab_wall_time();
        r->time_spent = 0.001;
        if (ab_emit(ctx, r) != 0) return -1;
    }
    return 0;
}

static int run_one(ab_suite_ctx *ctx)
{
    return run_suite(ctx, 0);
}

static int run_two(ab_suite_ctx *ctx)
{
    /* the slowest device finishes the first suite last: the barrier holds the others */
    return run_suite(ctx, 1);
}

static const char *const keys_one[] = {"one.k", NULL}, *const keys_two[] = {"two.k", NULL};
static const ab_param_desc no_params[] = {{NULL, NULL, NULL}};
static const ab_suite one = {.name = "one", .keys = keys_one, .params = no_params, .run = run_one};
static const ab_suite two = {.name = "two", .keys = keys_two, .params = no_params, .run = run_two};

int main(void)
{
    ab_backend_entry be = {.name = "fake", .built = true, .available = true, .ops = &fake_ops};
    ab_device devs[NDEV];
    ab_device *dp[NDEV];
    memset(devs, 0, sizeof(devs));
    for (int i = 0; i < NDEV; i++) {
        snprintf(devs[i].id, sizeof(devs[i].id), "fk:%d", i);
        snprintf(devs[i].info.name, sizeof(devs[i].info.name), "Fake");
        devs[i].backend = &be;
        devs[i].index = i;
        dp[i] = &devs[i];
    }
    const ab_suite *suites[] = {&one, &two, NULL};
    bool on[2] = {true, true};
    ab_options views[2];
    memset(views, 0, sizeof(views));
    ab_run_probes probes;
    memset(&probes, 0, sizeof(probes));
    ab_concurrent_env env = {.suites = suites,
                             .devices = dp,
                             .ndevices = NDEV,
                             .suite_on = on,
                             .views = views,
                             .probes = &probes,
                             .emit = emit};
    int failed = 0;
    for (int round = 0; round < 20; round++) {
        emitted = aggregates = 0;
        for (int k = 0; k < 2; k++)
            atomic_store(&inside[k], 0), atomic_store(&all_inside[k], 0);
        memset(per_device, 0, sizeof(per_device));
        if (ab_concurrent_run(&env) != 0) {
            fprintf(stderr, "FAIL: round %d: ab_concurrent_run\n", round);
            failed++;
        }
        /* per device: both suites' results; aggregates: one per (suite, key, occurrence) */
        for (int i = 0; i < NDEV; i++)
            if (per_device[i] != 2 * PER_SUITE) {
                fprintf(stderr, "FAIL: round %d: %zu results from %s\n", round, per_device[i],
                        devs[i].id);
                failed++;
            }
        if (aggregates != 2 * PER_SUITE) {
            fprintf(stderr, "FAIL: round %d: %zu aggregates\n", round, aggregates);
            failed++;
        }
        for (int k = 0; k < 2; k++)
            if (atomic_load(&all_inside[k]) != NDEV) {
                fprintf(stderr, "FAIL: round %d: suite %d never had every device at once\n", round,
                        k);
                failed++;
            }
        /* the barrier: no device starts suite two before every device started suite one */
        double last_one = 0, first_two = 1e300;
        for (int i = 0; i < NDEV; i++) {
            last_one = suite_start[0][i] > last_one ? suite_start[0][i] : last_one;
            first_two = suite_start[1][i] < first_two ? suite_start[1][i] : first_two;
        }
        if (first_two < last_one) {
            fprintf(stderr, "FAIL: round %d: suite two started before suite one everywhere\n",
                    round);
            failed++;
        }
    }
    for (int i = 0; i < NDEV; i++)
        free(devs[i].h);
    printf("concurrent_threads: %s\n", failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}

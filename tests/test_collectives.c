/* SPDX-License-Identifier: MIT */
/* The collectives suite on the CPU backend (host-thread ranks) end to end through the binary:
 * every op passes its exact host check at uneven chunk sizes, busbw and algbw follow
 * nccl-tests' formulas, a corrupted output fails, bad input is a usage error; the reference
 * itself against a direct computation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "suite_helpers.h"
#include "suites/collectives/coll_suite.h"

static long long iparam(const ab_result *r, const char *name)
{
    return json_integer_value(json_object_get(r->params, name));
}

/* busbw / algbw, nccl-tests' PERFORMANCE.md */
static double bus_factor(const char *op, int n)
{
    if (strcmp(op, "all_reduce") == 0) return 2.0 * (n - 1) / n;
    if (strcmp(op, "broadcast") == 0 || strcmp(op, "sendrecv") == 0) return 1.0;
    return (double)(n - 1) / n;
}

Test(collectives, every_op_passes_with_nccl_tests_formulas, .timeout = 120)
{
    /* 3 ranks, 28 B = 7 elements: all_reduce chunks of 2, 2, 3; all_gather rounds 28 B down
     * to 24 B (2 per rank); 4 B is less than one element per rank for the chunked ops */
    ab_run *run = ab_test_run_doc(
        "coll", AB_EXIT_OK, 0, NULL, (const char *[]){"--quiet", NULL},
        (const char *[]){"--suite", "collectives", "--device", "cpu", "--profile", "quick",
                         "--ranks", "3", "--coll-sizes", "4,28,4000,1MiB", "-r", "3", NULL});
    size_t pass = 0, skip = 0, headlines = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->device, "cpu") != 0) continue;
        const char *op = json_string_value(json_object_get(r->params, "op"));
        cr_assert_not_null(op, "%s has no op param", r->key);
        cr_expect_str_eq(json_string_value(json_object_get(r->params, "devices")), "cpu");
        cr_expect_eq(iparam(r, "ranks"), 3);
        if (r->status == AB_SKIP) {
            skip++;
            cr_expect(strstr(r->reason, "less than one f32 per rank"), "%s", r->reason);
            continue;
        }
        cr_assert_eq(r->status, AB_PASS, "%s %s: %s", r->key, op, r->reason ? r->reason : "");
        pass++;
        headlines += r->headline;
        cr_expect_eq(json_integer_value(json_object_get(r->extra, "wrong")), 0);
        size_t count = (size_t)iparam(r, "count");
        size_t per_rank =
            strcmp(op, "all_gather") == 0 || strcmp(op, "all_to_all") == 0 ? 3 * count : count;
        cr_expect_eq(json_integer_value(json_object_get(r->extra, "checked")),
                     (long long)(3 * per_rank), "%s checks every received element", op);
        const ab_metric *bus = ab_result_metric(r, "busbw"), *alg = ab_result_metric(r, "algbw"),
                        *t = ab_result_metric(r, "time");
        cr_assert(bus && alg && t);
        cr_expect(strstr(bus->formula, "nccl-tests busbw"), "%s", bus->formula);
        double want = bus_factor(op, 3);
        cr_expect(fabs(bus->stats.median / alg->stats.median - want) < 1e-9,
                  "%s busbw/algbw %g, expected %g", op, bus->stats.median / alg->stats.median,
                  want);
        cr_expect(fabs(alg->samples[0] * t->samples[0] - (double)iparam(r, "bytes")) <
                      1e-6 * (double)iparam(r, "bytes"),
                  "%s algbw is size / time", op);
    }
    cr_expect_eq(skip, 3, "all_gather, reduce_scatter, all_to_all at 4 B");
    cr_expect_eq(pass, 21);
    cr_expect_eq(headlines, 6, "one headline per op: its largest passing size");
    ab_run_free(run);
}

Test(collectives, corrupted_output_fails, .timeout = 60)
{
    ab_run *run =
        ab_test_run_doc("coll-corrupt", AB_EXIT_FAIL, 0, NULL, (const char *[]){"--quiet", NULL},
                        (const char *[]){"--suite", "collectives.all_reduce", "--device", "cpu",
                                         "--profile", "quick", "--coll-sizes", "64", "-r", "3",
                                         "--test-corrupt", "collectives.all_reduce", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    cr_expect_eq(r->status, AB_FAIL);
    cr_expect(strstr(r->reason, "1 of 32 elements wrong"), "%s", r->reason);
    cr_expect_eq(json_integer_value(json_object_get(r->extra, "wrong")), 1);
    ab_run_free(run);
}

Test(collectives, bad_input_is_a_usage_error, .timeout = 60)
{
    ab_test_expect_usage("collectives", "--coll-sizes",
                         (const char *[]){"--coll-sizes", "6", "--device", "cpu", NULL});
    ab_test_expect_usage("collectives", "--coll-sizes",
                         (const char *[]){"--coll-sizes", "8,lots", "--device", "cpu", NULL});
    ab_test_expect_usage("collectives", "--ranks",
                         (const char *[]){"--ranks", "1", "--device", "cpu", NULL});
    ab_test_expect_usage("collectives", "--ranks",
                         (const char *[]){"--ranks", "x", "--device", "cpu", NULL});
    ab_test_expect_usage("collectives", "no such device",
                         (const char *[]){"--device", "cpu,cpu:7", NULL});
}

Test(collectives, a_size_that_does_not_fit_is_a_skip, .timeout = 60)
{
    ab_run *run =
        ab_test_run_doc("coll-fit", AB_EXIT_OK, 0, NULL, (const char *[]){"--quiet", NULL},
                        (const char *[]){"--suite", "collectives.broadcast", "--device", "cpu",
                                         "--profile", "quick", "--coll-sizes", "1000TiB", NULL});
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_SKIP);
    cr_expect(strstr(run->results[0]->reason, "does not fit"), "%s", run->results[0]->reason);
    ab_run_free(run);
}

Test(collectives, reference_matches_a_direct_computation)
{
    const int n = 4;
    const size_t count = 5;
    float *sums = ab_coll_sum_table(n);
    cr_assert_not_null(sums);
    for (int r = 0; r < n; r++)
        for (size_t i = 0; i < n * count; i++) {
            float s = 0;
            for (int j = 0; j < n; j++)
                s += ab_coll_input(j, i);
            if (i < count) {
                cr_expect_eq(ab_coll_expected(AB_COLL_ALL_REDUCE, sums, n, r, 0, count, i), s);
                float rs = 0;
                for (int j = 0; j < n; j++)
                    rs += ab_coll_input(j, (size_t)r * count + i);
                cr_expect_eq(ab_coll_expected(AB_COLL_REDUCE_SCATTER, sums, n, r, 0, count, i), rs);
                cr_expect_eq(ab_coll_expected(AB_COLL_BROADCAST, sums, n, r, 2, count, i),
                             ab_coll_input(2, i));
                cr_expect_eq(ab_coll_expected(AB_COLL_SENDRECV, sums, n, r, 0, count, i),
                             ab_coll_input((r + n - 1) % n, i));
            }
            size_t j = i / count, o = i % count;
            cr_expect_eq(ab_coll_expected(AB_COLL_ALL_GATHER, sums, n, r, 0, count, i),
                         ab_coll_input((int)j, o));
            cr_expect_eq(ab_coll_expected(AB_COLL_ALL_TO_ALL, sums, n, r, 0, count, i),
                         ab_coll_input((int)j, (size_t)r * count + o));
        }
    /* distinct ranks and neighbouring chunks differ: a misplaced chunk is caught */
    cr_expect_neq(ab_coll_input(0, 0), ab_coll_input(1, 0));
    cr_expect_neq(ab_coll_input(0, 0), ab_coll_input(0, 1));
    free(sums);
}

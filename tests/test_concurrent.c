/* SPDX-License-Identifier: MIT */
/* accelbench run --concurrent (runners/concurrent.c): every device at once, the aggregates. */
#include "../core/rundoc.h"
#include "../runners/concurrent.h"
#include "helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static ab_result *member(const char *dev, ab_status st, const double *v, size_t n, double t0)
{
    ab_result *r = ab_result_new("membw", "membw.triad", "ordinary");
    ab_result_set_device(r, dev, "Model", "cpu");
    ab_result_param_str(r, "dtype", "f64");
    ab_result_add_metric(r, "bandwidth", "B/s", true, "3*n*8 B / t", v, n);
    r->status = st;
    r->started = t0;
    r->time_spent = 2.0;
    return r;
}

Test(concurrent, aggregate_sums_samples_and_names_the_slowest)
{
    ab_result *m[3] = {member("a", AB_PASS, (double[]){10, 12, 11}, 3, 100.0),
                       member("b", AB_PASS, (double[]){5, 6, 4}, 3, 100.5),
                       member("c", AB_PASS, (double[]){20, 21, 22, 23}, 4, 101.0)};
    ab_result *r = ab_concurrent_aggregate((const ab_result *const *)m, 3, 3);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, AB_PASS, "%s", r->reason);
    cr_expect_str_eq(r->device, AB_CONCURRENT_DEVICE);
    cr_expect_str_eq(r->device_name, "3x Model");
    const ab_metric *s = ab_result_metric(r, "bandwidth_sum");
    cr_assert_not_null(s);
    cr_assert_eq(s->nsamples, 3, "the shortest member's count");
    cr_expect_float_eq(s->samples[0], 35, 1e-12);
    cr_expect_float_eq(s->samples[1], 39, 1e-12);
    cr_expect_float_eq(s->samples[2], 37, 1e-12);
    json_t *c = json_object_get(r->extra, "concurrent");
    cr_expect_str_eq(json_string_value(json_object_get(c, "slowest")), "b");
    cr_expect_str_eq(json_string_value(json_object_get(c, "fastest")), "c");
    cr_expect_float_eq(json_number_value(json_object_get(c, "min")), 5, 1e-12);
    cr_expect_float_eq(json_number_value(json_object_get(c, "median")), 11, 1e-12);
    cr_expect_float_eq(json_number_value(json_object_get(c, "max")), 21.5, 1e-12);
    /* windows [100,102], [100.5,102.5], [101,103]: all three overlap over [101,102] */
    cr_expect_float_eq(json_number_value(json_object_get(c, "overlap")), 0.5, 1e-12);
    cr_expect_float_eq(r->time_spent, 3.0, 1e-12);
    ab_result_free(r);
    for (int i = 0; i < 3; i++)
        ab_result_free(m[i]);
}

Test(concurrent, aggregate_of_a_failed_or_missing_device_is_a_skip)
{
    ab_result *m[2] = {member("a", AB_PASS, (double[]){10, 12}, 2, 0),
                       member("b", AB_FAIL, (double[]){5, 6}, 2, 0)};
    ab_result *r = ab_concurrent_aggregate((const ab_result *const *)m, 2, 2);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, AB_SKIP);
    cr_expect(r->reason && strstr(r->reason, "b fail"), "%s", r->reason);
    cr_expect_null(ab_result_metric(r, "bandwidth_sum"), "no sum over a failed device");
    ab_result_free(r);
    /* two of three devices reported: no sum either */
    m[1]->status = AB_PASS;
    r = ab_concurrent_aggregate((const ab_result *const *)m, 2, 3);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, AB_SKIP);
    ab_result_free(r);
    /* none passed: no aggregate */
    m[0]->status = m[1]->status = AB_SKIP;
    cr_expect_null(ab_concurrent_aggregate((const ab_result *const *)m, 2, 2));
    /* a time is not summed */
    m[0]->status = m[1]->status = AB_PASS;
    free(m[0]->metrics[0].unit);
    m[0]->metrics[0].unit = strdup("s");
    m[0]->metrics[0].higher_is_better = false;
    r = ab_concurrent_aggregate((const ab_result *const *)m, 2, 2);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, AB_SKIP);
    cr_expect(r->reason && strstr(r->reason, "not a rate"), "%s", r->reason);
    ab_result_free(r);
    ab_result_free(m[0]);
    ab_result_free(m[1]);
}

static ab_run *run_concurrent(const char *tag, const char *const *extra, int want)
{
    char *dir = ab_test_tmpdir(tag);
    const char *argv[40] = {"run",     "--out",        dir,        "--run-id",     "r",
                            "--quiet", "--concurrent", "--device", "cpu,opencl:0", "--profile",
                            "quick",   "--repeat",     "3"};
    size_t n = 13;
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect_eq(p.status, want, "exit %d; stderr: %s", p.status, p.err);
    if (want == 0) cr_expect(strstr(p.out, "## Devices run at once"), "summary: %s", p.out);
    ab_proc_free(&p);
    char path[700], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/r/run.json", dir);
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "%s", err);
    free(dir);
    return run;
}

/* Per-device results carry concurrent = 2; the aggregate sums their samples. */
static void check_run(ab_run *run, const char *metric, size_t want_aggregates, size_t want_heads)
{
    size_t agg = 0, heads = 0, per[2] = {0, 0};
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        json_t *c = json_object_get(r->params, "concurrent");
        cr_expect_eq(json_integer_value(c), 2, "%s on %s: concurrent param", r->key, r->device);
        if (strcmp(r->device, "cpu") == 0)
            per[0] += r->status == AB_PASS;
        else if (strcmp(r->device, "opencl:0") == 0)
            per[1] += r->status == AB_PASS;
        if (strcmp(r->device, AB_CONCURRENT_DEVICE) != 0) continue;
        agg++;
        heads += r->headline;
        cr_expect_eq(r->status, AB_PASS, "%s: %s", r->key, r->reason);
        char name[64];
        snprintf(name, sizeof(name), "%s_sum", metric);
        const ab_metric *s = ab_result_metric(r, name);
        cr_assert_not_null(s, "%s: no %s", r->key, name);
        /* the members: each device's result of the key whose median extra names */
        json_t *per = json_object_get(json_object_get(r->extra, "concurrent"), "per_device_median");
        cr_expect_eq(json_object_size(per), 2);
        double lo = 0, hi = 0;
        size_t found = 0;
        for (size_t k = 0; k < run->nresults; k++) {
            const ab_result *o = run->results[k];
            const ab_metric *om = ab_result_metric(o, metric);
            json_t *want = json_object_get(per, o->device);
            if (o == r || strcmp(o->key, r->key) || !om || !want ||
                json_real_value(want) != om->stats.median)
                continue;
            lo += om->stats.min;
            hi += om->stats.max;
            found++;
        }
        cr_expect_eq(found, 2, "%s: members not found", r->key);
        cr_expect(s->stats.median >= lo * 0.999 && s->stats.median <= hi * 1.001,
                  "%s: sum %g outside [%g, %g]", r->key, s->stats.median, lo, hi);
        json_t *c2 = json_object_get(r->extra, "concurrent");
        const char *slow = json_string_value(json_object_get(c2, "slowest"));
        cr_expect(slow && (!strcmp(slow, "cpu") || !strcmp(slow, "opencl:0")), "slowest %s", slow);
        /* how much the windows overlapped depends on the machine's load (tests/concurrent_threads.c
         * checks that the devices run at once): here only that it is a share */
        double ov = json_number_value(json_object_get(c2, "overlap"));
        cr_expect(ov >= 0 && ov <= 1, "%s: overlap %g", r->key, ov);
    }
    cr_expect_geq(agg, want_aggregates, "%zu aggregates", agg);
    cr_expect_leq(agg, want_aggregates + 1, "%zu aggregates", agg);
    cr_expect_eq(heads, want_heads, "%zu headline aggregates", heads);
    cr_expect_gt(per[0], 0, "no passing cpu result");
    cr_expect_gt(per[1], 0, "no passing opencl:0 result");
}

Test(concurrent, membw_on_cpu_and_opencl_at_once, .timeout = 300)
{
    ab_run *run = run_concurrent("conc-membw",
                                 (const char *[]){"--suite", "membw.triad", "--sweep", "triad",
                                                  "--sizes", "48MiB", "--dtype", "f64", NULL},
                                 0);
    /* ordinary on both devices; plus the headlines' when the cpu's is its streaming variant */
    check_run(run, "bandwidth", 1, 1);
    ab_run_free(run);
}

Test(concurrent, gemm_on_cpu_and_opencl_at_once, .timeout = 300)
{
    ab_run *run = run_concurrent("conc-gemm",
                                 (const char *[]){"--suite", "gemm.custom", "--shape", "128",
                                                  "--dtype", "f32", "--impl", "portable", NULL},
                                 0);
    check_run(run, "throughput", 1, 0); /* custom shapes have no headline */
    ab_run_free(run);
}

Test(concurrent, a_wrong_answer_on_one_device_fails_the_run, .timeout = 300)
{
    ab_run *run =
        run_concurrent("conc-corrupt",
                       (const char *[]){"--suite", "membw.triad", "--sweep", "none", "--dtype",
                                        "f64", "--test-corrupt", "membw.triad", NULL},
                       1);
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        cr_expect(strcmp(r->device, AB_CONCURRENT_DEVICE) != 0 || r->status != AB_PASS,
                  "an aggregate of failed results passed");
    }
    ab_run_free(run);
}

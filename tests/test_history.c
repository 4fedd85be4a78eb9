/* SPDX-License-Identifier: MIT */
/* The run history: recording, listing, the median-of-N baseline, trends with step changes, and
 * the gate against the history. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rundoc.h"
#include "core/stats.h"
#include "helpers.h"
#include "synthetic.h"

static char *db_in(const char *dir)
{
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/h.sqlite", dir);
    return p;
}

static void hist(ab_proc *p, const char *const *argv)
{
    cr_assert_eq(ab_test_run(p, 0, argv), 0);
}

Test(history, add_list_replace_remove)
{
    char *dir = ab_test_tmpdir("hist");
    char *db = db_in(dir);
    char *runs[3];
    const char *ids[3] = {"h1", "h2", "h3"};
    for (unsigned i = 0; i < 3; i++) {
        ab_syn s = ab_syn_default(ids[i], i + 1);
        runs[i] = ab_syn_write(dir, &s);
        cr_assert_not_null(runs[i]);
    }
    ab_proc p;
    hist(&p, (const char *[]){"history", "add", runs[0], runs[1], runs[2], "--db", db, NULL});
    cr_expect_eq(p.status, 0, "%s", p.err);
    cr_expect_eq(ab_count_lines(p.err), 3, "%s", p.err);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"history", "add", runs[1], "--db", db, NULL});
    cr_expect_eq(p.status, 0);
    cr_expect(strstr(p.err, "already has h2") != NULL, "%s", p.err);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"history", "add", runs[1], "--db", db, "--replace", NULL});
    cr_expect(strstr(p.err, "recorded h2") != NULL, "%s", p.err);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"history", "list", "--db", db, "-f", "json", NULL});
    cr_expect_eq(p.status, 0, "%s", p.err);
    json_t *j = json_loads(p.out, 0, NULL);
    cr_assert_eq(json_array_size(j), 3, "%s", p.out);
    /* oldest first */
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "id")), "h1");
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(j, 2), "pass")), 12);
    json_decref(j);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"history", "remove", "h2", "--db", db, NULL});
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"history", "remove", "h2", "--db", db, NULL});
    cr_expect_eq(p.status, 2, "removing twice: %s", p.err);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"history", "list", "--db", db, NULL});
    cr_expect(strstr(p.out, "h1") && !strstr(p.out, "h2") && strstr(p.out, "h3"), "%s", p.out);
    ab_proc_free(&p);
    /* the stored document comes back whole */
    char exp[700];
    snprintf(exp, sizeof(exp), "%s/export.json", dir);
    hist(&p, (const char *[]){"history", "export", "h3", "--db", db, "-o", exp, NULL});
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char err[AB_ERRLEN];
    ab_run *a = ab_run_read(exp, err), *b = ab_run_read(runs[2], err);
    cr_assert_not_null(a, "%s", err);
    cr_assert_eq(a->nresults, b->nresults);
    cr_expect_float_eq(a->results[5]->metrics[0].samples[3], b->results[5]->metrics[0].samples[3],
                       0.0);
    ab_run_free(a);
    ab_run_free(b);
    for (int i = 0; i < 3; i++)
        free(runs[i]);
    free(db);
    free(dir);
}

Test(history, bad_databases)
{
    char *dir = ab_test_tmpdir("histbad");
    char *db = db_in(dir);
    ab_proc p;
    hist(&p, (const char *[]){"history", "list", "--db", db, NULL});
    cr_expect_eq(p.status, 2);
    cr_expect(strstr(p.err, "no history database") != NULL, "%s", p.err);
    ab_proc_free(&p);
    FILE *f = fopen(db, "w");
    fputs("this is not a database, it is a text file with enough bytes to look like one maybe\n", f);
    fclose(f);
    hist(&p, (const char *[]){"history", "list", "--db", db, NULL});
    cr_expect_eq(p.status, 2);
    cr_expect_eq(ab_count_lines(p.err), 1);
    cr_expect(strstr(p.err, db) != NULL, "%s", p.err);
    ab_proc_free(&p);
    /* the gate with an unreadable history: an input error, before anything is compared */
    ab_syn s = ab_syn_default("n", 1);
    char *run = ab_syn_write(dir, &s);
    hist(&p, (const char *[]){"gate", "--baseline-last", "3", run, "--db", db, NULL});
    cr_expect_eq(p.status, 2, "%s", p.err);
    ab_proc_free(&p);
    free(run);
    free(db);
    free(dir);
}

Test(history, median_baseline_and_gate)
{
    char *dir = ab_test_tmpdir("histbase");
    char *db = db_in(dir);
    /* six runs with between-run noise of up to +-4 % per result */
    double med0[6];
    for (unsigned i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof(id), "b%u", i);
        ab_syn s = ab_syn_default(id, i + 1);
        s.run_shift = 0.04;
        char *path = ab_syn_write(dir, &s);
        ab_run *r = ab_syn_run(&s);
        med0[i] = r->results[0]->metrics[0].stats.median;
        ab_run_free(r);
        ab_proc p;
        hist(&p, (const char *[]){"history", "add", path, "--db", db, NULL});
        cr_assert_eq(p.status, 0, "%s", p.err);
        ab_proc_free(&p);
        free(path);
    }
    char bl[700];
    snprintf(bl, sizeof(bl), "%s/baseline.json", dir);
    ab_proc p;
    hist(&p, (const char *[]){"history", "baseline", "--last", "5", "--db", db, "-o", bl, NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char err[AB_ERRLEN];
    ab_run *b = ab_run_read(bl, err);
    cr_assert_not_null(b, "%s", err);
    cr_expect_str_eq(b->id, "history:median-of-5");
    cr_assert_eq(b->nresults, 12);
    json_t *h = json_object_get(json_object_get(json_object_get(b->results[0]->extra, "history"),
                                                "metrics"),
                                "bandwidth");
    cr_assert_not_null(h);
    cr_expect_eq(json_integer_value(json_object_get(h, "runs")), 5);
    cr_expect_eq(b->results[0]->metrics[0].nsamples, 25, "samples pooled from 5 runs");
    /* the newest five runs: b1..b5; their medians' median */
    cr_expect_float_eq(json_real_value(json_object_get(h, "median")), ab_median(med0 + 1, 5),
                       1e-6 * med0[1]);
    double sl = json_real_value(json_object_get(h, "sigma_log"));
    cr_expect(sl > 0 && sl < 0.1, "sigma_log %g", sl);
    ab_run_free(b);
    /* the gate against the history: a new run 30 % slower on one metric fails, an ordinary one
     * passes */
    ab_syn s = ab_syn_default("new-ok", 9);
    s.run_shift = 0.04;
    char *ok = ab_syn_write(dir, &s);
    s.id = "new-slow";
    s.slow_index = 2;
    s.slow_factor = 1.3;
    char *slow = ab_syn_write(dir, &s);
    hist(&p, (const char *[]){"gate", "--baseline-last", "5", ok, "--db", db, NULL});
    cr_expect_eq(p.status, 0, "%s\n%s", p.out, p.err);
    cr_expect(strstr(p.out, "history:median-of-5") != NULL, "%s", p.out);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"gate", "--baseline-last", "5", slow, "--db", db, NULL});
    cr_expect_eq(p.status, 3, "%s\n%s", p.out, p.err);
    cr_expect(strstr(p.err, "worse: syn.k2 plain") != NULL, "%s", p.err);
    ab_proc_free(&p);
    free(ok);
    free(slow);
    free(db);
    free(dir);
}

Test(history, trend_finds_the_step)
{
    char *dir = ab_test_tmpdir("histtrend");
    char *db = db_in(dir);
    /* 16 nightly runs; from the 9th on, result 0 (syn.k0 plain, 1 KiB) is 30 % slower */
    for (unsigned i = 0; i < 16; i++) {
        char id[16];
        snprintf(id, sizeof(id), "n%02u", i);
        ab_syn s = ab_syn_default(id, i + 1);
        s.run_shift = 0.02;
        if (i >= 8) {
            s.slow_index = 0;
            s.slow_factor = 1.0 / 0.7;
        }
        char *path = ab_syn_write(dir, &s);
        ab_proc p;
        hist(&p, (const char *[]){"history", "add", path, "--db", db, NULL});
        cr_assert_eq(p.status, 0, "%s", p.err);
        ab_proc_free(&p);
        free(path);
    }
    char plot[700];
    snprintf(plot, sizeof(plot), "%s/trend", dir);
    ab_proc p;
    hist(&p, (const char *[]){"history", "trend", "--metric", "syn.k0", "--impl", "plain", "--db",
                              db, "-f", "json", "--plot", plot, NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    json_t *j = json_loads(p.out, 0, NULL);
    cr_assert_eq(json_array_size(j), 3, "syn.k0 plain has three sizes: %s", p.out);
    size_t i;
    json_t *s;
    json_array_foreach(j, i, s)
    {
        json_t *pts = json_object_get(s, "points");
        cr_assert_eq(json_array_size(pts), 16);
        bool slowed = strstr(json_string_value(json_object_get(s, "result_id")), "size=1024|");
        for (size_t k = 0; k < 16; k++) {
            bool step = json_is_true(json_object_get(json_array_get(pts, k), "step"));
            cr_expect_eq(step, slowed && k == 8, "series %zu point %zu: step %d", i, k, step);
        }
    }
    json_decref(j);
    ab_proc_free(&p);
    char png[720];
    snprintf(png, sizeof(png), "%s/trend.png", plot);
    cr_expect_eq(access(png, R_OK), 0, "no %s", png);
    /* the table form names the step and its size */
    hist(&p, (const char *[]){"history", "trend", "--metric", "syn.k0", "--param", "size=1KiB",
                              "--db", db, NULL});
    cr_expect_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.out, "STEP -29.5% (worse)") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "1 series, 1 step change") != NULL, "%s", p.out);
    ab_proc_free(&p);
    hist(&p, (const char *[]){"history", "trend", "--metric", "nosuch", "--db", db, NULL});
    cr_expect_eq(p.status, 2);
    ab_proc_free(&p);
    free(db);
    free(dir);
}

/* run --record and run --baseline-last against a real run (the verdict itself depends on this
 * machine's noise, so only its form is checked here). */
Test(history, run_records_and_gates, .timeout = 300)
{
    char *dir = ab_test_tmpdir("histrun");
    char *db = db_in(dir);
    char out[600], junit[700];
    snprintf(out, sizeof(out), "%s/results", dir);
    snprintf(junit, sizeof(junit), "%s/junit.xml", dir);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--suite", "membw.triad", "--device", "cpu",
                                              "--profile", "quick", "--sweep", "none", "--dtype",
                                              "f64", "--min-time", "0.005", "--out", out,
                                              "--run-id", "first", "-q", "--record", "--db", db,
                                              NULL}),
                 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--suite", "membw.triad", "--device", "cpu",
                                              "--profile", "quick", "--sweep", "none", "--dtype",
                                              "f64", "--min-time", "0.005", "--out", out,
                                              "--run-id", "second", "-q", "--baseline-last", "1",
                                              "--db", db, "--junit", junit, NULL}),
                 0);
    cr_expect(p.status == 0 || p.status == 3, "exit %d: %s", p.status, p.err);
    cr_expect(strstr(p.out, "## Regression gate: second against history:median-of-1") != NULL,
              "%s", p.out);
    ab_proc_free(&p);
    char gate[700];
    snprintf(gate, sizeof(gate), "%s/second/gate.md", out);
    cr_expect_eq(access(gate, R_OK), 0);
    cr_expect_eq(access(junit, R_OK), 0);
    /* a bad baseline is a usage error before anything runs */
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--suite", "membw.triad", "--device", "cpu",
                                              "--out", out, "--run-id", "third", "--baseline",
                                              "/nonexistent.json", NULL}),
                 0);
    cr_expect_eq(p.status, 2);
    ab_proc_free(&p);
    char third[700];
    snprintf(third, sizeof(third), "%s/third", out);
    cr_expect_neq(access(third, F_OK), 0, "nothing may be written on a usage error");
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"run", "--junit", junit, NULL}), 0);
    cr_expect_eq(p.status, 2, "--junit without a baseline");
    ab_proc_free(&p);
    free(db);
    free(dir);
}

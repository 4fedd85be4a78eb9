/* SPDX-License-Identifier: MIT */
/*
 * compare and gate: verdicts on synthetic runs whose differences are known, the command line
 * (formats, exit codes, JUnit), and clear errors for malformed run documents.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rundoc.h"
#include "helpers.h"
#include "runners/compare.h"
#include "runners/output.h"
#include "synthetic.h"

typedef ab_syn syn;
#define make_run ab_syn_run
#define base_syn ab_syn_default

static ab_cmp_opts default_opts(void)
{
    ab_cmp_opts o;
    ab_cmp_opts_default(&o);
    return o;
}

Test(compare, identical_runs_are_same)
{
    syn a = base_syn("a", 1);
    ab_run *runs[2] = {make_run(&a), make_run(&a)};
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    cr_expect_eq(c.nrows, 12);
    cr_expect_eq(c.counts[1][AB_V_SAME], 12);
    cr_expect_eq(ab_cmp_aligned(&c), 12);
    cr_expect_str_eq(c.labels[1], "a#2", "duplicate ids get a suffix");
    for (size_t i = 0; i < c.nrows; i++)
        cr_expect_float_eq(c.rows[i].cells[1].ratio, 1.0, 1e-12);
    ab_cmp_free(&c);
    ab_run_free(runs[0]);
    ab_run_free(runs[1]);
}

Test(compare, thirty_percent_slower_is_worse)
{
    syn a = base_syn("base", 1), b = base_syn("new", 2);
    b.slow_index = 3;
    b.slow_factor = 1.3;
    ab_run *runs[2] = {make_run(&a), make_run(&b)};
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    for (size_t i = 0; i < c.nrows; i++) {
        const ab_cmp_cell *x = &c.rows[i].cells[1];
        if (i == 3) {
            cr_expect_eq(x->verdict, AB_V_WORSE, "row 3: %s (%s)", ab_verdict_name(x->verdict),
                         x->note);
            cr_expect_float_eq(x->ratio, 1.0 / 1.3, 0.03);
            cr_expect_eq(x->test.method, AB_MWU_EXACT);
            cr_expect_float_eq(x->test.p, 2.0 / 252.0, 1e-12);
        } else {
            cr_expect_eq(x->verdict, AB_V_SAME, "row %zu: %s", i, ab_verdict_name(x->verdict));
        }
    }
    cr_expect_eq(c.counts[1][AB_V_WORSE], 1);
    ab_cmp_free(&c);
    ab_run_free(runs[0]);
    ab_run_free(runs[1]);
}

Test(compare, lower_is_better)
{
    syn a = base_syn("base", 1), b = base_syn("slow", 2), f = base_syn("fast", 3);
    a.time_metric = b.time_metric = f.time_metric = true;
    b.slow_index = 0;
    b.slow_factor = 1.3;  /* times x 1.3 */
    f.slow_index = 1;
    f.slow_factor = 0.7;  /* times x 0.7 */
    ab_run *runs[3] = {make_run(&a), make_run(&b), make_run(&f)};
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 3, &o, &c, err), 0, "%s", err);
    cr_expect_eq(c.rows[0].cells[1].verdict, AB_V_WORSE);
    cr_expect_gt(c.rows[0].cells[1].ratio, 1.25, "a time went up");
    cr_expect_eq(c.rows[1].cells[2].verdict, AB_V_BETTER);
    cr_expect_eq(c.counts[1][AB_V_WORSE], 1);
    cr_expect_eq(c.counts[2][AB_V_BETTER], 1);
    cr_expect_eq(c.counts[2][AB_V_WORSE], 0);
    ab_cmp_free(&c);
    for (int i = 0; i < 3; i++)
        ab_run_free(runs[i]);
}

Test(compare, noise_between_runs_raises_the_minimum_effect)
{
    /* every result moves independently by up to +-25 % between the runs (a noisy VM), and one is
     * 30 % slower on top: with that noise, 30 % cannot be told from chance */
    syn a = base_syn("base", 1), b = base_syn("new", 2);
    a.nres = b.nres = 24;
    b.run_shift = 0.25;
    b.slow_index = 5;
    b.slow_factor = 1.3;
    ab_run *runs[2] = {make_run(&a), make_run(&b)};
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    cr_assert_eq(c.nnoise, 1);
    cr_expect_eq(c.noise[0].n, 24);
    cr_expect_gt(c.noise[0].sigma, 0.08, "sigma %g", c.noise[0].sigma);
    const ab_cmp_cell *x = &c.rows[5].cells[1];
    cr_expect_str_eq(x->noise_src, "runs");
    cr_expect_gt(x->threshold, 0.3, "threshold %g", x->threshold);
    cr_expect_float_eq(x->threshold, expm1(3.0 * c.noise[0].sigma), 1e-12);
    cr_expect_eq(c.counts[1][AB_V_WORSE] + c.counts[1][AB_V_BETTER], 0,
                 "no verdict beyond the noise");
    ab_cmp_free(&c);
    /* with the noise term off, the same data gives verdicts: the threshold is what decides */
    o.noise_k = 0.0;
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    cr_expect_gt(c.counts[1][AB_V_WORSE] + c.counts[1][AB_V_BETTER], 1);
    ab_cmp_free(&c);
    ab_run_free(runs[0]);
    ab_run_free(runs[1]);
}

Test(compare, few_samples_decide_on_the_effect)
{
    syn a = base_syn("base", 1), b = base_syn("new", 2);
    a.nsamp = b.nsamp = 2;
    b.slow_index = 0;
    b.slow_factor = 1.3;
    ab_run *runs[2] = {make_run(&a), make_run(&b)};
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    const ab_cmp_cell *x = &c.rows[0].cells[1];
    cr_expect_eq(x->verdict, AB_V_WORSE, "a gate blind below 4 samples would be no gate");
    cr_expect(strstr(x->note, "too few samples") != NULL, "%s", x->note);
    ab_cmp_free(&c);
    ab_run_free(runs[0]);
    ab_run_free(runs[1]);
}

Test(compare, history_noise_and_median)
{
    syn a = base_syn("history:median-of-5", 1), b = base_syn("new", 2);
    b.slow_index = 0;
    b.slow_factor = 1.3;
    ab_run *base = make_run(&a);
    /* what a history baseline carries: the median of run medians and the between-run noise */
    ab_result *r = base->results[0];
    r->extra = json_pack("{s:{s:i,s:{s:{s:i,s:f,s:f}}}}", "history", "runs", 5, "metrics",
                         "bandwidth", "runs", 5, "median", r->metrics[0].stats.median * 1.01,
                         "sigma_log", 0.2);
    ab_run *runs[2] = {base, make_run(&b)};
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    const ab_cmp_cell *x0 = &c.rows[0].cells[0], *x = &c.rows[0].cells[1];
    cr_expect_float_eq(x0->value, r->metrics[0].stats.median * 1.01, 1e-3);
    cr_expect_str_eq(x->noise_src, "history");
    cr_expect_float_eq(x->threshold, expm1(0.6), 1e-12);
    cr_expect_eq(x->verdict, AB_V_SAME, "30 %% is within 3 x 20 %% history noise");
    cr_expect_str_eq(c.rows[1].cells[1].noise_src, "runs", "no history for this metric");
    ab_cmp_free(&c);
    ab_run_free(runs[0]);
    ab_run_free(runs[1]);
}

Test(compare, status_and_alignment)
{
    syn a = base_syn("base", 1), b = base_syn("new", 2), other = base_syn("other", 3);
    other.model = "Other CPU";
    ab_run *runs[2] = {make_run(&a), make_run(&b)};
    ab_result_set_status(runs[1]->results[2], AB_FAIL, "element 7: 0.5, expected 0.6");
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    const ab_cmp_cell *x = &c.rows[2].cells[1];
    cr_expect_eq(x->verdict, AB_V_NA);
    cr_expect(strstr(x->note, "fail: element 7") != NULL, "%s", x->note);
    ab_cmp_free(&c);
    ab_run_free(runs[1]);
    /* another device model aligns with nothing exactly, with everything by headline */
    runs[1] = make_run(&other);
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    cr_expect_eq(ab_cmp_aligned(&c), 0);
    cr_expect_eq(c.nrows, 24);
    ab_cmp_free(&c);
    o.align = AB_ALIGN_ANY_DEVICE;
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    cr_expect_eq(ab_cmp_aligned(&c), 12);
    /* across models the spread of ratios is a real difference, not noise */
    cr_expect_eq(c.nnoise, 0);
    ab_cmp_free(&c);
    o.align = AB_ALIGN_HEADLINE;
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    cr_expect_eq(c.nrows, 2, "headline rows only");
    cr_expect_eq(ab_cmp_aligned(&c), 2);
    ab_cmp_free(&c);
    ab_run_free(runs[0]);
    ab_run_free(runs[1]);
}

Test(compare, same_model_twice_in_a_run)
{
    syn a = base_syn("base", 1);
    a.nres = 2;
    ab_run *run = make_run(&a);
    /* a second device of the same model with the same cases (two GPUs of one kind) */
    ab_run *twin = make_run(&a);
    for (size_t i = 0; i < twin->nresults; i++) {
        ab_result *r = twin->results[i];
        ab_result_set_device(r, "cuda:1", "Test CPU", "cpu");
        ab_run_add(run, r, NULL);
    }
    twin->nresults = 0;
    ab_run_free(twin);
    ab_run *runs[2] = {run, run};
    ab_cmp c;
    ab_cmp_opts o = default_opts();
    char err[AB_ERRLEN];
    cr_assert_eq(ab_compare(runs, 2, &o, &c, err), 0, "%s", err);
    cr_expect_eq(c.nrows, 4, "each device keeps its own row");
    cr_expect(strstr(c.rows[2].ident, "@cuda:1") != NULL, "%s", c.rows[2].ident);
    ab_cmp_free(&c);
    ab_run_free(run);
}

/* ------------------------------------------------------------------ command line */

static char *write_syn(const char *dir, const syn *s)
{
    char *p = ab_syn_write(dir, s);
    cr_assert_not_null(p);
    return p;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc((size_t)n + 1, 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(gate_cli, regression_exit_code_names_metric_and_junit)
{
    char *dir = ab_test_tmpdir("gate");
    syn a = base_syn("base", 1), b = base_syn("new", 2);
    b.slow_index = 3;
    b.slow_factor = 1.3;
    char *pa = write_syn(dir, &a), *pb = write_syn(dir, &b);
    char junit[700];
    snprintf(junit, sizeof(junit), "%s/junit.xml", dir);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"gate", pa, pb, "--threshold", "5%",
                                                     "--junit", junit, NULL}),
                 0);
    cr_expect_eq(p.status, 3, "exit %d: %s", p.status, p.err);
    cr_expect(strstr(p.err, "worse: syn.k3 fast") != NULL, "stderr names the metric: %s", p.err);
    cr_expect(strstr(p.out, "REGRESSION") != NULL, "%s", p.out);
    ab_proc_free(&p);
    char *x = slurp(junit);
    cr_assert_not_null(x);
    cr_expect(strstr(x, "<testsuites name=\"accelbench gate\" tests=\"12\" failures=\"1\"") != NULL,
              "%s", x);
    cr_expect_eq(count(x, "<testcase "), 12);
    cr_expect_eq(count(x, "<failure "), 1);
    /* the failed test case is the slowed metric */
    const char *fail = strstr(x, "<failure ");
    const char *tc = fail;
    while (tc > x && strncmp(tc, "<testcase ", 10) != 0)
        tc--;
    cr_expect(strncmp(tc, "<testcase classname=\"syn.k3.fast\"", 33) == 0, "%.120s", tc);
    cr_expect(strstr(tc, "size=8 KiB") != NULL, "%.200s", tc);
    free(x);
    /* well-formed XML (xmllint comes with libxml2-utils, installed by install-deps.sh) */
    ab_proc v;
    cr_assert_eq(ab_test_exec(&v, 0, "/usr/bin/xmllint", (const char *[]){"--noout", junit, NULL}),
                 0);
    cr_expect_eq(v.status, 0, "xmllint: %s", v.err);
    ab_proc_free(&v);
    /* the same run against itself: no regression */
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"gate", pa, pa, NULL}), 0);
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    cr_expect(strstr(p.out, "verdict: ok") != NULL, "%s", p.out);
    ab_proc_free(&p);
    free(pa);
    free(pb);
    free(dir);
}

Test(gate_cli, failed_results_and_nothing_to_compare)
{
    char *dir = ab_test_tmpdir("gate2");
    syn a = base_syn("base", 1), o = base_syn("other", 3);
    o.model = "Other CPU";
    char *pa = write_syn(dir, &a), *po = write_syn(dir, &o);
    /* a new run with a failed validation: exit 1, JUnit <error> */
    ab_run *bad = make_run(&a);
    free(bad->id);
    bad->id = strdup("bad");
    ab_result *old = bad->results[4];
    ab_result *nr = ab_result_new(old->suite, old->key, old->impl);
    ab_result_set_device(nr, old->device, old->device_name, old->backend);
    json_decref(nr->params);
    nr->params = json_deep_copy(old->params);
    ab_result_set_status(nr, AB_FAIL, "wrong answer");
    ab_result_free(old);
    bad->results[4] = nr;
    char pb[700], junit[700];
    snprintf(pb, sizeof(pb), "%s/bad.json", dir);
    snprintf(junit, sizeof(junit), "%s/j.xml", dir);
    char err[AB_ERRLEN];
    cr_assert_eq(ab_run_write(bad, pb, err), 0, "%s", err);
    ab_run_free(bad);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"gate", pa, pb, "--junit", junit, NULL}), 0);
    cr_expect_eq(p.status, 1, "exit %d: %s", p.status, p.err);
    ab_proc_free(&p);
    char *x = slurp(junit);
    cr_assert_not_null(x);
    cr_expect_eq(count(x, "<error "), 1, "%s", x);
    free(x);
    /* different device models align with nothing: a gate that compares nothing must not pass */
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"gate", pa, po, NULL}), 0);
    cr_expect_eq(p.status, 2, "exit %d", p.status);
    cr_expect(strstr(p.err, "--align headline") != NULL, "%s", p.err);
    ab_proc_free(&p);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"gate", pa, po, "--align", "any-device", NULL}),
                 0);
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    ab_proc_free(&p);
    free(pa);
    free(po);
    free(dir);
}

Test(compare_cli, formats)
{
    char *dir = ab_test_tmpdir("cmpfmt");
    syn a = base_syn("base", 1), b = base_syn("new", 2), c3 = base_syn("third", 3);
    b.slow_index = 3;
    b.slow_factor = 1.3;
    char *pa = write_syn(dir, &a), *pb = write_syn(dir, &b), *pc = write_syn(dir, &c3);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", pa, pb, pc, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.out, "[3] verdict") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "worse") != NULL);
    cr_expect(strstr(p.out, "[2] vs [1]: 12 compared: 11 same") != NULL, "%s", p.out);
    ab_proc_free(&p);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", pa, pb, "-f", "json", NULL}), 0);
    cr_expect_eq(p.status, 0);
    json_error_t je;
    json_t *j = json_loads(p.out, 0, &je);
    cr_assert_not_null(j, "not JSON: %s", je.text);
    cr_expect_str_eq(json_string_value(json_object_get(j, "schema")), "accelbench.compare");
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 12);
    json_t *cell = json_array_get(json_object_get(json_array_get(rows, 3), "cells"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(cell, "verdict")), "worse");
    cr_expect_float_eq(json_real_value(json_object_get(cell, "p")), 2.0 / 252.0, 1e-9);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(
                     json_array_get(json_object_get(j, "runs"), 1), "verdicts"), "worse")),
                 1);
    json_decref(j);
    ab_proc_free(&p);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", pa, pb, "-f", "csv", NULL}), 0);
    cr_expect_eq(ab_count_lines(p.out), 1 + 12 * 2, "%s", p.out);
    cr_expect(strncmp(p.out, "run_index,run_id,key,", 21) == 0);
    ab_proc_free(&p);
    char md[700];
    snprintf(md, sizeof(md), "%s/cmp.md", dir);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", pa, pb, "-f", "md", "--changed",
                                                     "-o", md, NULL}),
                 0);
    cr_expect_eq(p.status, 0);
    cr_expect_str_eq(p.out, "");
    ab_proc_free(&p);
    char *m = slurp(md);
    cr_assert_not_null(m);
    cr_expect(strstr(m, "| syn.k3 | fast |") != NULL, "%s", m);
    cr_expect_eq(count(m, "| syn.k"), 1, "--changed keeps the changed row only");
    free(m);
    free(pa);
    free(pb);
    free(pc);
    free(dir);
}

/* Bad input: exit 2, one line on stderr naming the file and where the problem is. */
static void expect_bad(const char *dir, const char *name, const char *content, const char *needle)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
    const char *cmds[][2] = {{"compare", NULL}, {"gate", path}, {"report", NULL}};
    for (size_t i = 0; i < 3; i++) {
        ab_proc p;
        char html[720];
        snprintf(html, sizeof(html), "%s/r.html", dir);
        const char *argv[8] = {cmds[i][0], path, NULL};
        if (i == 1)
            argv[2] = path, argv[3] = NULL;
        if (i == 2)
            argv[2] = "--html", argv[3] = html, argv[4] = NULL;
        cr_assert_eq(ab_test_run(&p, 0, argv), 0);
        cr_expect_eq(p.status, 2, "%s %s: exit %d", cmds[i][0], name, p.status);
        cr_expect_eq(ab_count_lines(p.err), 1, "%s: stderr not one line: %s", name, p.err);
        cr_expect(strstr(p.err, path) != NULL, "%s: file not named: %s", name, p.err);
        cr_expect(strstr(p.err, needle) != NULL, "%s: '%s' not in: %s", name, needle, p.err);
        cr_expect_str_eq(p.out, "");
        ab_proc_free(&p);
    }
}

Test(compare_cli, malformed_documents)
{
    char *dir = ab_test_tmpdir("malformed");
    syn a = base_syn("good", 1);
    char *good = write_syn(dir, &a);
    char *text = slurp(good);
    cr_assert_not_null(text);
    /* truncated in the middle: the line and column where the text ends */
    char *cut = strndup(text, strlen(text) / 2);
    char where[32];
    int line = 1;
    for (const char *q = cut; *q; q++)
        line += *q == '\n';
    snprintf(where, sizeof(where), ".json:%d:", line);
    expect_bad(dir, "truncated.json", cut, where);
    free(cut);
    expect_bad(dir, "garbled.json", "{\"schema\": \"accelbench.run\", ]]]", "garbled.json:1:");
    expect_bad(dir, "binary.json", "\x7f" "ELF\x01\x02", "binary.json");
    /* a version this build does not read */
    char *v = strdup(text);
    char *sv = strstr(v, "\"schema_version\": 1");
    cr_assert_not_null(sv);
    memcpy(sv, "\"schema_version\": 9", 19);
    expect_bad(dir, "future.json", v, "schema_version: 9 is not supported");
    free(v);
    /* a wrong type deep inside: the JSON path */
    char *w = strdup(text);
    char *st = strstr(w, "\"samples\": [");
    cr_assert_not_null(st);
    st += strlen("\"samples\": [");
    *st = '"';
    char *comma = strchr(st, ',');
    *(comma - 1) = '"';
    expect_bad(dir, "wrongtype.json", w, "results[0].metrics[0].samples: element 0 is not a number");
    free(w);
    expect_bad(dir, "other.json", "{\"schema\": \"something.else\"}", "not an accelbench run");
    /* a folder without a run document, and a missing file */
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", dir, NULL}), 0);
    cr_expect_eq(p.status, 2);
    cr_expect(strstr(p.err, "no run.json in this folder") != NULL, "%s", p.err);
    ab_proc_free(&p);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", "/nonexistent/run.json", NULL}), 0);
    cr_expect_eq(p.status, 2);
    cr_expect_eq(ab_count_lines(p.err), 1);
    ab_proc_free(&p);
    free(text);
    free(good);
    free(dir);
}

Test(compare_cli, usage_errors)
{
    static const char *const cases[][6] = {
        {"compare", NULL},
        {"compare", "x.json", "--threshold", "5", NULL},
        {"compare", "x.json", "--threshold", "abc", NULL},
        {"compare", "x.json", "--alpha", "0.9", NULL},
        {"compare", "x.json", "--align", "sideways", NULL},
        {"compare", "x.json", "--format", "xml", NULL},
        {"gate", "only-one.json", NULL},
        {"gate", "a", "b", "c", NULL},
        {"history", "frobnicate", NULL},
        {"history", "trend", NULL},
        {"report", "x.json", NULL},
        {"plot", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ab_proc p;
        cr_assert_eq(ab_test_run(&p, 0, cases[i]), 0);
        cr_expect_eq(p.status, 2, "%s %s: exit %d", cases[i][0], cases[i][1] ? cases[i][1] : "",
                     p.status);
        cr_expect_eq(ab_count_lines(p.err), 1, "not one line: %s", p.err);
        ab_proc_free(&p);
    }
    ab_proc p;
    const char *cmds[] = {"compare", "gate", "history", "plot", "report"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(ab_test_run(&p, 0, (const char *[]){cmds[i], "--help", NULL}), 0);
        cr_expect_eq(p.status, 0, "%s --help", cmds[i]);
        cr_expect(strstr(p.out, "usage: accelbench") != NULL);
        ab_proc_free(&p);
    }
}

/* Two real back-to-back runs: every passing metric aligns and gets a verdict (the fraction that
 * is "same" on a noisy machine is measured by bench/compare_noise.sh, not asserted here). */
Test(compare_cli, real_runs_align, .timeout = 300)
{
    char *dir = ab_test_tmpdir("realcmp");
    char out[600];
    snprintf(out, sizeof(out), "%s/results", dir);
    const char *ids[] = {"r1", "r2"};
    for (int i = 0; i < 2; i++) {
        ab_proc p;
        cr_assert_eq(ab_test_run(&p, 0,
                                 (const char *[]){"run", "--suite", "membw", "--device", "cpu",
                                                  "--profile", "quick", "--sweep", "none",
                                                  "--min-time", "0.005", "--out", out,
                                                  "--run-id", ids[i], "-q", NULL}),
                     0);
        cr_assert_eq(p.status, 0, "%s", p.err);
        ab_proc_free(&p);
    }
    char a[700], b[700];
    snprintf(a, sizeof(a), "%s/r1", out);
    snprintf(b, sizeof(b), "%s/r2", out);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", a, b, "-f", "json", NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    json_t *j = json_loads(p.out, 0, NULL);
    cr_assert_not_null(j);
    size_t i, judged = 0;
    json_t *row;
    json_array_foreach(json_object_get(j, "rows"), i, row)
    {
        json_t *c0 = json_array_get(json_object_get(row, "cells"), 0);
        json_t *c1 = json_array_get(json_object_get(row, "cells"), 1);
        if (strcmp(json_string_value(json_object_get(c0, "status")), "pass") != 0)
            continue;
        cr_expect_str_eq(json_string_value(json_object_get(c1, "status")), "pass");
        cr_expect(json_is_string(json_object_get(c1, "verdict")), "row %zu has no verdict", i);
        judged++;
    }
    cr_expect_geq(judged, 10, "only %zu metrics compared", judged);
    json_decref(j);
    ab_proc_free(&p);
    free(dir);
}

/* Must-show 2 on real data: a real run as the baseline and a copy whose samples for one headline
 * metric are 30 % slower (x 0.7). The metric is the headline with the least sample spread, so a
 * busy machine's noise within the run cannot hide the shift from a 5-against-5 rank test. */
Test(gate_cli, real_run_thirty_percent_slower, .timeout = 300)
{
    char *dir = ab_test_tmpdir("realgate");
    char out[600];
    snprintf(out, sizeof(out), "%s/results", dir);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--suite", "membw", "--device", "cpu",
                                              "--profile", "quick", "--sweep", "none",
                                              "--min-time", "0.005", "--out", out, "--run-id",
                                              "base", "-q", NULL}),
                 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char base[700], slow[700], junit[700];
    snprintf(base, sizeof(base), "%s/base/run.json", out);
    snprintf(slow, sizeof(slow), "%s/slow.json", dir);
    snprintf(junit, sizeof(junit), "%s/junit.xml", dir);
    char err[AB_ERRLEN];
    ab_run *run = ab_run_read(base, err);
    cr_assert_not_null(run, "%s", err);
    ab_result *pick = NULL;
    for (size_t i = 0; i < run->nresults; i++) {
        ab_result *r = run->results[i];
        if (r->headline && r->status == AB_PASS && r->nmetrics &&
            (!pick || r->metrics[0].stats.cv < pick->metrics[0].stats.cv))
            pick = r;
    }
    cr_assert_not_null(pick, "no headline result");
    for (size_t k = 0; k < pick->metrics[0].nsamples; k++)
        pick->metrics[0].samples[k] *= 0.7;
    free(run->id);
    run->id = strdup("slow");
    char label[256];
    snprintf(label, sizeof(label), "worse: %s %s", pick->key, pick->impl);
    cr_assert_eq(ab_run_write(run, slow, err), 0, "%s", err);
    ab_run_free(run);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"gate", base, slow, "--junit", junit, NULL}),
                 0);
    cr_expect_eq(p.status, 3, "exit %d: %s %s", p.status, p.out, p.err);
    cr_expect(strstr(p.err, label) != NULL, "'%s' not in: %s", label, p.err);
    ab_proc_free(&p);
    char *x = slurp(junit);
    cr_assert_not_null(x);
    cr_expect_eq(count(x, "<failure "), 1, "%s", x);
    free(x);
    free(dir);
}

/* CSV formula injection (issue 20): a device name a spreadsheet would evaluate reaches
 * `compare --format csv` and results.csv as a quoted text cell with a leading single quote. */
Test(compare, csv_neutralises_formula_cells)
{
    static const char *const evil = "=cmd|' /C calc'!A0";
    char *dir = ab_test_tmpdir("csvinj");
    ab_syn a = ab_syn_default("evil-a", 1), b = ab_syn_default("evil-b", 2);
    a.model = b.model = evil;
    char *pa = ab_syn_write(dir, &a), *pb = ab_syn_write(dir, &b);
    cr_assert(pa && pb);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", pa, pb, "-f", "csv", NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.out, ",\"'=cmd|' /C calc'!A0\",") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, ",=cmd") == NULL, "an unneutralised cell: %s", p.out);
    ab_proc_free(&p);
    /* results.csv: its writer over the same document */
    char err[AB_ERRLEN] = "";
    ab_run *run = ab_run_read(pa, err);
    cr_assert_not_null(run, "%s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(ab_write_csv(run, f), 0);
    fclose(f);
    cr_expect(strstr(buf, ",\"'=cmd|' /C calc'!A0\",") != NULL, "%s", buf);
    cr_expect(strstr(buf, ",=cmd") == NULL, "an unneutralised cell: %s", buf);
    free(buf);
    ab_run_free(run);
    free(pa);
    free(pb);
    free(dir);
}

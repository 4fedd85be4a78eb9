/* SPDX-License-Identifier: MIT */
/* Charts a person reads (issue 19): the properties of the generated .gp/.dat files — devices side
 * by side in headline bars, one metric per chart and no empty series, sweeps only over declared
 * parameters, readable log2 byte axes, a roofline scaled to its data, unique file stems. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rundoc.h"
#include "helpers.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
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

static ab_result *res(const char *suite, const char *key, const char *impl, const char *dev,
                      const char *metric, const char *unit, double v)
{
    ab_result *r = ab_result_new(suite, key, impl);
    ab_result_set_device(r, dev, strcmp(dev, "cpu") ? "Some GPU" : "Some CPU",
                         strcmp(dev, "cpu") ? "opencl" : "cpu");
    double s[3] = {v, 1.05 * v, 0.95 * v};
    ab_result_add_metric(r, metric, unit, strcmp(unit, "s") != 0, "x / t", s, 3);
    return r;
}

/* cpu and opencl:0 measuring the same things with different implementations, a sweep whose n
 * only follows the working set, an attention case with a small second metric, a suite this
 * binary does not know, two metrics whose names collide as file stems. */
static char *make_run(void)
{
    char *dir = ab_test_tmpdir("charts");
    ab_run *run = ab_run_new();
    run->id = strdup("c");
    run->complete = true;
    const char *devs[] = {"cpu", "opencl:0"};
    for (int d = 0; d < 2; d++) {
        for (int i = 0; i < 12; i++) { /* 32 KiB .. 64 MiB, not powers of two */
            long ws = (long)(3 * 1024.0 * pow(2.0, i + 3.4)) / 1024 * 1024;
            ab_result *r = res("membw", "membw.triad", d ? "ordinary" : "streaming", devs[d],
                               "bandwidth", "B/s", 1e10 * (1 + i % 3));
            ab_result_param_str(r, "dtype", "f64");
            ab_result_param_int(r, "working_set", ws);
            ab_result_param_int(r, "n", ws / 24);
            r->headline = i == 11;
            r->extra = json_pack("{s:f,s:f}", "flops_per_iter", 2.0 * (double)(ws / 24),
                                 "bytes_per_iter", (double)ws);
            ab_run_add(run, r, NULL);
        }
        for (int t = 0; t < 2; t++) { /* copy: one point per dtype, n differs */
            ab_result *r =
                res("membw", "membw.copy", "ordinary", devs[d], "bandwidth", "B/s", 2e10);
            ab_result_param_str(r, "dtype", t ? "f32" : "f64");
            ab_result_param_int(r, "working_set", 1L << 26);
            ab_result_param_int(r, "n", (1L << 26) / (t ? 8 : 16));
            ab_run_add(run, r, NULL);
        }
        ab_result *a =
            res("attention", "attention.decode", "fused", devs[d], "latency", "s", 2e-5 * (d + 1));
        double kv[3] = {4e6, 4e6, 4e6};
        ab_result_add_metric(a, "kv_bandwidth", "B/s", true, "kv / t", kv, 3);
        a->headline = true;
        ab_run_add(run, a, NULL);
        ab_result *g =
            res("gemm", "gemm.square", "vendor", devs[d], "throughput", "FLOP/s", 1.8e11);
        ab_result_param_int(g, "n", 4096);
        g->extra = json_pack("{s:f,s:f}", "flops_per_iter", 2.0 * 4096 * 4096 * 4096.0,
                             "bytes_per_iter", 3.0 * 4096 * 4096 * 4);
        g->headline = true;
        ab_run_add(run, g, NULL);
    }
    for (int i = 0; i < 4; i++) { /* a suite unknown to this binary: no sweep is inferred */
        ab_result *r = res("future", "future.thing", "default", "cpu", "rate", "OP/s", 1e9 * i);
        ab_result_param_int(r, "size", 1L << (10 + i));
        ab_run_add(run, r, NULL);
    }
    ab_result *x = res("future", "future.pair", "default", "cpu", "a/b", "B/s", 1e9);
    double s2[3] = {2e9, 2e9, 2e9};
    ab_result_add_metric(x, "a_b", "B/s", true, "y / t", s2, 3);
    x->headline = true;
    ab_run_add(run, x, NULL);
    char path[700], err[AB_ERRLEN];
    snprintf(path, sizeof(path), "%s/run.json", dir);
    cr_assert_eq(ab_run_write(run, path, err), 0, "%s", err);
    ab_run_free(run);
    return dir;
}

static char *chart_file(const char *dir, const char *name, const char *ext)
{
    char p[900];
    snprintf(p, sizeof(p), "%s/plots/%s.%s", dir, name, ext);
    return slurp(p);
}

/* Every data row of a headline .dat has a value, every column one somewhere. */
static void expect_no_empty_series(const char *dat, const char *name)
{
    size_t ncols = 0, rows = 0;
    bool col_seen[16] = {false};
    for (const char *line = dat; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (*line == '#' || *line == '\n') continue;
        const char *end = strchr(line, '\n');
        char buf[1024];
        size_t len = end ? (size_t)(end - line) : strlen(line);
        snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
        if (!ncols) { /* the header: "case" then one quoted name per column */
            for (const char *q = buf; (q = strchr(q, '"')); q = strchr(q + 1, '"') + 1)
                ncols++;
            ncols -= 1;
            continue;
        }
        rows++;
        const char *vals = strrchr(buf, '"') + 1;
        size_t ci = 0, filled = 0;
        for (char *save = NULL, *tok = strtok_r((char *)vals, " ", &save); tok && ci < 16;
             tok = strtok_r(NULL, " ", &save), ci++)
            if (strcmp(tok, "-") != 0 && strtod(tok, NULL) > 0) filled++, col_seen[ci] = true;
        cr_expect(filled > 0, "%s: an empty row: %s", name, buf);
    }
    cr_expect(rows > 0, "%s has no rows", name);
    for (size_t c = 0; c < ncols && c < 16; c++)
        cr_expect(col_seen[c], "%s: column %zu is empty", name, c);
}

Test(charts, read_well, .timeout = 120)
{
    char *dir = make_run();
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"plot", dir, NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    /* unique stems: no chart name listed twice */
    char *out = strdup(p.out);
    ab_proc_free(&p);
    for (char *l = out; l && *l;) {
        char *nl = strchr(l, '\n');
        char *brace = strstr(l, ".{");
        if (brace && (!nl || brace < nl)) {
            char name[512];
            snprintf(name, sizeof(name), "%.*s.{", (int)(brace - l), l);
            cr_expect(strstr(brace + 1, name) == NULL, "stem listed twice: %s", name);
        }
        l = nl ? nl + 1 : NULL;
    }
    cr_expect(strstr(out, "headline-a_b-B_s.{") && strstr(out, "headline-a_b-B_s-2.{"),
              "colliding stems are told apart: %s", out);
    /* sweeps: triad over its declared working_set; nothing over n; copy (one point a series)
     * and the unknown suite give none */
    cr_expect(strstr(out, "sweep-membw.triad-bandwidth.{") != NULL, "%s", out);
    cr_expect(strstr(out, "sweep-membw.copy") == NULL, "%s", out);
    cr_expect(strstr(out, "sweep-future") == NULL, "%s", out);
    /* headline bars: one chart per metric, devices side by side in one cluster */
    char *dat = chart_file(dir, "headline-bandwidth-B_s", "dat");
    cr_assert_not_null(dat, "%s", out);
    cr_expect(strstr(dat, "\"membw.triad f64\" ") != NULL, "one row for both devices: %s", dat);
    cr_expect(strstr(dat, "streaming") == NULL && strstr(dat, "kv_bandwidth") == NULL, "%s", dat);
    cr_expect(strstr(dat, "\"cpu (Some CPU)\" \"opencl:0 (Some GPU)\"") != NULL, "%s", dat);
    expect_no_empty_series(dat, "headline-bandwidth-B_s");
    free(dat);
    const char *others[] = {"headline-kv_bandwidth-B_s", "headline-latency-s",
                            "headline-throughput-FLOP_s"};
    for (size_t i = 0; i < 3; i++) {
        dat = chart_file(dir, others[i], "dat");
        cr_assert_not_null(dat, "%s missing: %s", others[i], out);
        expect_no_empty_series(dat, others[i]);
        free(dat);
    }
    /* the byte axis: log2, at most 8 tics, IEC labels, 1 MiB among them */
    char *gp = chart_file(dir, "sweep-membw.triad-bandwidth", "gp");
    cr_assert_not_null(gp);
    cr_expect(strstr(gp, "set logscale x 2") != NULL);
    const char *tics = strstr(gp, "set xtics (");
    cr_assert_not_null(tics, "%s", gp);
    size_t ntics = 0;
    for (const char *q = tics; *q && *q != '\n'; q++)
        ntics += *q == ',';
    cr_expect(ntics + 1 <= 8, "%zu tics: %.200s", ntics + 1, tics);
    cr_expect(strstr(tics, "'1 MiB' 1048576") != NULL, "%.300s", tics);
    cr_expect(strstr(tics, ".") == NULL || strstr(tics, ".") > strchr(tics, '\n'),
              "only whole powers of two: %.300s", tics);
    free(gp);
    /* the roofline: the y axis ends at twice the highest roof or point, not decades above */
    gp = chart_file(dir, "roofline-Some_GPU", "gp");
    cr_assert_not_null(gp, "%s", out);
    const char *yr = strstr(gp, "set yrange [");
    cr_assert_not_null(yr);
    double y0, y1;
    cr_assert_eq(sscanf(yr, "set yrange [%lf:%lf]", &y0, &y1), 2);
    /* GFLOP/s: the GEMM at 180 GFLOP/s is the highest; 2x is 360 */
    cr_expect(y1 <= 361 && y1 >= 180, "y axis to %g GFLOP/s", y1);
    cr_expect(y0 > 0 && y0 < 1, "y from %g", y0);
    free(gp);
    free(out);
    free(dir);
}

/* The charts in the report, opened in headless Chromium: no console errors, every chart inline,
 * and a screenshot of the page kept as a test artefact (build/test-artefacts/charts-report.png)
 * for a person to look at. */
Test(charts, in_the_report_in_chromium, .timeout = 300)
{
    char *dir = make_run();
    char html[700], shot[700];
    snprintf(html, sizeof(html), "%s/report.html", dir);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"report", dir, "--html", html, NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    mkdir(AB_TEST_ARTEFACTS, 0755);
    snprintf(shot, sizeof(shot), "%s/charts-report.png", AB_TEST_ARTEFACTS);
    unlink(shot);
    const char *argv[] = {"--min-svg", "6", "--require-rendered", "--screenshot", shot, html, NULL};
    cr_assert_eq(ab_test_exec(&p, 0, AB_TEST_BROWSER_CHECK, argv), 0);
    if (p.status == 77) {
        char why[512];
        snprintf(why, sizeof(why), "%s", p.err);
        ab_proc_free(&p);
        cr_skip_test("no Chromium: %s", why);
    }
    cr_expect_eq(p.status, 0, "%s %s", p.out, p.err);
    ab_proc_free(&p);
    char *png = slurp(shot);
    cr_assert_not_null(png, "no screenshot at %s", shot);
    cr_expect(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
    free(png);
    free(dir);
}

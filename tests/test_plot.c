/* SPDX-License-Identifier: MIT */
/* Charts: from a real run, without gnuplot, and for suites this code has never heard of. */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rundoc.h"
#include "helpers.h"

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

static bool exists(const char *dir, const char *name, const char *ext)
{
    char p[900];
    snprintf(p, sizeof(p), "%s/%s.%s", dir, name, ext);
    return access(p, R_OK) == 0;
}

static char *real_run(const char *tag)
{
    char *dir = ab_test_tmpdir(tag);
    char out[600];
    snprintf(out, sizeof(out), "%s/results", dir);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--suite", "membw", "--device", "cpu",
                                              "--profile", "quick", "--min-time", "0.005",
                                              "--dtype", "f64", "--out", out, "--run-id", "r",
                                              "-q", NULL}),
                 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char *run = malloc(700);
    snprintf(run, 700, "%s/r", out);
    free(dir);
    return run;
}

Test(plot, from_a_real_run, .timeout = 300)
{
    char *run = real_run("plotreal");
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"plot", run, NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_expect_str_eq(p.err, "", "no warning with gnuplot installed: %s", p.err);
    ab_proc_free(&p);
    char dir[800];
    snprintf(dir, sizeof(dir), "%s/plots", run);
    const char *charts[] = {"sweep-membw.triad-bandwidth", "headline-bandwidth-B_s"};
    for (size_t i = 0; i < 2; i++) {
        const char *ext[] = {"gp", "dat", "png", "svg"};
        for (size_t e = 0; e < 4; e++)
            cr_expect(exists(dir, charts[i], ext[e]), "%s.%s missing", charts[i], ext[e]);
    }
    char path[900];
    snprintf(path, sizeof(path), "%s/%s.png", dir, charts[0]);
    char *png = slurp(path);
    cr_assert_not_null(png);
    cr_expect(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
    free(png);
    snprintf(path, sizeof(path), "%s/%s.svg", dir, charts[0]);
    char *svg = slurp(path);
    cr_expect(svg && strstr(svg, "<svg") && strstr(svg, "streaming f64"), "SVG without series");
    free(svg);
    /* the script is kept beside its data, rerunnable, and the working-set axis is in IEC units */
    snprintf(path, sizeof(path), "%s/%s.gp", dir, charts[0]);
    char *gp = slurp(path);
    cr_assert_not_null(gp);
    cr_expect(strstr(gp, "data = 'sweep-membw.triad-bandwidth.dat'") != NULL);
    cr_expect(strstr(gp, "'1 MiB' 1048576") != NULL, "%s", gp);
    cr_expect(strstr(gp, "set logscale x 2") != NULL);
    free(gp);
    /* the roofline places membw's arithmetic kernels (flops_per_iter) under the memory roof */
    snprintf(path, sizeof(path), "%s/roofline-*.dat", dir);
    glob_t gl;
    cr_assert_eq(glob(path, 0, NULL, &gl), 0, "no roofline chart");
    char *dat = slurp(gl.gl_pathv[0]);
    globfree(&gl);
    cr_assert_not_null(dat);
    cr_expect(strstr(dat, "\"membw.triad\"") != NULL, "%s", dat);
    cr_expect(strstr(dat, "\"membw.copy\"") == NULL, "copy has no FLOPs");
    free(dat);
    free(run);
}

Test(plot, without_gnuplot, .timeout = 300)
{
    char *run = real_run("plotnognu");
    setenv("AB_GNUPLOT", "", 1);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"plot", run, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.err, "gnuplot not found: plots skipped") != NULL, "%s", p.err);
    cr_expect_eq(ab_count_lines(p.err), 1, "%s", p.err);
    ab_proc_free(&p);
    char dir[800];
    snprintf(dir, sizeof(dir), "%s/plots", run);
    cr_expect(exists(dir, "sweep-membw.triad-bandwidth", "gp"));
    cr_expect(exists(dir, "sweep-membw.triad-bandwidth", "dat"));
    cr_expect(!exists(dir, "sweep-membw.triad-bandwidth", "png"));
    /* the report still comes out, with the warning in it */
    char html[900];
    snprintf(html, sizeof(html), "%s/report.html", run);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"report", run, "--html", html, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.err, "plots skipped") != NULL, "%s", p.err);
    ab_proc_free(&p);
    char *h = slurp(html);
    cr_assert_not_null(h);
    cr_expect(strstr(h, "gnuplot not found") != NULL);
    cr_expect(strstr(h, "<table") != NULL, "the tables are there without gnuplot");
    free(h);
    free(run);
}

/* Charts follow from the data and the suites' declarations (ab_suite_display.sweeps): the
 * sweeps drawn are the parameters the suite declares for the key, with no code for them in
 * plot.c. */
Test(plot, data_driven_for_new_suites)
{
    char *dir = ab_test_tmpdir("plotnew");
    ab_run *run = ab_run_new();
    run->id = strdup("future");
    run->complete = true;
    run->start_time = 1795000000;
    const long seq[] = {512, 1024, 2048, 4096};
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 4; i++) {
            ab_result *r = ab_result_new("attention", "attention.prefill", "flash");
            ab_result_set_device(r, "cuda:0", "Some GPU", "cuda");
            ab_result_param_str(r, "dtype", "bf16");
            ab_result_param_int(r, "seq", seq[i]);
            ab_result_param_int(r, "batch", b ? 8 : 1);
            double w = 1e-6 * (double)seq[i] * (b ? 8 : 1);
            double t[3] = {w, 1.1 * w, 0.95 * w};
            ab_result_add_metric(r, "latency", "s", false, "t", t, 3);
            ab_run_add(run, r, NULL);
        }
    const long sizes[] = {256, 1024, 4096};
    const char *dts[] = {"f16", "f32"};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 3; i++) {
            ab_result *r = ab_result_new("gemm", "gemm.square", "vendor");
            ab_result_set_device(r, "cuda:0", "Some GPU", "cuda");
            ab_result_param_str(r, "dtype", dts[d]);
            ab_result_param_int(r, "m", sizes[i]);
            ab_result_param_int(r, "n", sizes[i]);
            ab_result_param_int(r, "k", sizes[i]);
            double n3 = (double)sizes[i];
            double f[3] = {1e13 * (double)(i + 1) / (d + 1), 1.1e13, 0.9e13};
            ab_result_add_metric(r, "flops", "FLOP/s", true, "2mnk / t", f, 3);
            r->extra = json_pack("{s:f,s:f}", "flops_per_iter", 2 * n3 * n3 * n3, "bytes_per_iter",
                                 3 * n3 * n3 * (d ? 4.0 : 2.0));
            r->headline = i == 2;
            ab_run_add(run, r, NULL);
        }
    ab_result *m = ab_result_new("membw", "membw.read", "default");
    ab_result_set_device(m, "cuda:0", "Some GPU", "cuda");
    double bw[3] = {3e12, 3.1e12, 2.9e12};
    ab_result_add_metric(m, "bandwidth", "B/s", true, "n*s / t", bw, 3);
    m->headline = true;
    m->extra = json_pack("{s:{s:s,s:f,s:s,s:f,s:s,s:s,s:s,s:s}}", "peak", "metric", "bandwidth",
                         "value", 3.35e12, "unit", "B/s", "fraction", 0.9, "model", "Some GPU",
                         "column", "bandwidth_tbs", "source", "datasheet", "accessed",
                         "2026-01-01");
    ab_run_add(run, m, NULL);
    ab_result *tk = ab_result_new("tokens", "tokens.decode", "default");
    ab_result_set_device(tk, "cuda:0", "Some GPU", "cuda");
    double tps[3] = {1500, 1510, 1490};
    ab_result_add_metric(tk, "throughput", "tokens/s", true, "tokens / t", tps, 3);
    ab_run_add(run, tk, NULL);
    char path[700];
    snprintf(path, sizeof(path), "%s/run.json", dir);
    char err[AB_ERRLEN];
    cr_assert_eq(ab_run_write(run, path, err), 0, "%s", err);
    ab_run_free(run);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"plot", dir, NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.out, "sweep-attention.prefill-latency") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "sweep-gemm.square-flops") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "headline-throughput-tokens_s") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "roofline-Some_GPU") != NULL, "%s", p.out);
    ab_proc_free(&p);
    char pd[800];
    snprintf(pd, sizeof(pd), "%s/plots/sweep-attention.prefill-latency.dat", dir);
    char *dat = slurp(pd);
    cr_assert_not_null(dat);
    /* batch is not a function of seq: it splits the series; time in ms */
    cr_expect(strstr(dat, "\"flash bf16 batch=1\"") && strstr(dat, "\"flash bf16 batch=8\""),
              "%s", dat);
    cr_expect(strstr(dat, "(ms)") != NULL, "%s", dat);
    free(dat);
    snprintf(pd, sizeof(pd), "%s/plots/sweep-gemm.square-flops.dat", dir);
    dat = slurp(pd);
    cr_assert_not_null(dat);
    /* n and k follow m: one series per dtype, in TFLOP/s */
    cr_expect(strstr(dat, "\"vendor f16\"") && strstr(dat, "\"vendor f32\"") && !strstr(dat, "n="),
              "%s", dat);
    cr_expect(strstr(dat, "TFLOP/s") != NULL);
    free(dat);
    snprintf(pd, sizeof(pd), "%s/plots/roofline-Some_GPU.gp", dir);
    char *gp = slurp(pd);
    cr_assert_not_null(gp);
    cr_expect(strstr(gp, "datasheet: 3.35 TB/s") != NULL, "%s", gp);
    cr_expect(strstr(gp, "measured roof: 3.00 TB/s") != NULL, "%s", gp);
    free(gp);
    free(dir);
}

/* Peer copies (params src and dst): a source x destination heatmap per key, a pair without a
 * passing result left blank (NaN), the diagonal absent. */
Test(plot, heatmap_of_device_pairs, .timeout = 120)
{
    char *dir = ab_test_tmpdir("plotheat");
    ab_run *run = ab_run_new();
    run->id = strdup("pairs");
    run->complete = true;
    run->start_time = 1795000000;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            if (a == b) continue;
            char s[16], d[16];
            snprintf(s, sizeof(s), "cuda:%d", a);
            snprintf(d, sizeof(d), "cuda:%d", b);
            ab_result *r = ab_result_new("p2p", "p2p.ce_unidir", "copy_engine");
            ab_result_set_device(r, s, "Some GPU", "cuda");
            ab_result_param_str(r, "src", s);
            ab_result_param_str(r, "dst", d);
            double bw[3] = {1e11 * (a + b + 1), 1.01e11 * (a + b + 1), 0.99e11 * (a + b + 1)};
            ab_result_add_metric(r, "bandwidth", "B/s", true, "bytes / t", bw, 3);
            if (a == 0 && b == 2) ab_result_set_status(r, AB_SKIP, "no peer access");
            ab_run_add(run, r, NULL);
        }
    char path[700];
    snprintf(path, sizeof(path), "%s/run.json", dir);
    char err[AB_ERRLEN];
    cr_assert_eq(ab_run_write(run, path, err), 0, "%s", err);
    ab_run_free(run);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"plot", dir, NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.out, "heatmap-p2p.ce_unidir") != NULL, "%s", p.out);
    snprintf(path, sizeof(path), "%s/plots/heatmap-p2p.ce_unidir.dat", dir);
    char *dat = NULL;
    size_t len = 0;
    cr_assert_eq(ab_read_input(path, 1 << 20, "dat", &dat, &len, err), 0, "%s", err);
    cr_expect(strstr(dat, "\"cuda:0\" \"cuda:1\" \"cuda:2\""), "%s", dat);
    /* row cuda:0: diagonal and the skipped pair blank, 0 -> 1 at 200 GB/s */
    cr_expect(strstr(dat, "\"cuda:0\" NaN 200 NaN"), "%s", dat);
    free(dat);
    snprintf(path, sizeof(path), "%s/plots/heatmap-p2p.ce_unidir.png", dir);
    FILE *f = fopen(path, "rb");
    cr_expect_not_null(f, "gnuplot rendered %s", path);
    if (f) fclose(f);
    ab_proc_free(&p);
    free(dir);
}

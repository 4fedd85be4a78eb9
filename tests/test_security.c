/* SPDX-License-Identifier: MIT */
/*
 * Hostile input (SECURITY.md): run documents whose strings try to run commands through the
 * gnuplot scripts that plot, report and history trend --plot write, and the same scripts rerun by
 * hand. A marker file that any of the payloads would create must never appear. The control test
 * shows the check can fail: gnuplot here does run a backquoted command from a double-quoted
 * string, as the old quoting wrote them.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rundoc.h"
#include "helpers.h"

static char mark[720];

static bool marked(void)
{
    return access(mark, F_OK) == 0;
}

static bool have_gnuplot(void)
{
    return access("/usr/bin/gnuplot", X_OK) == 0 || access("/usr/local/bin/gnuplot", X_OK) == 0;
}

static const char *gnuplot_bin(void)
{
    return access("/usr/bin/gnuplot", X_OK) == 0 ? "/usr/bin/gnuplot" : "/usr/local/bin/gnuplot";
}

/* The payloads: each would create the marker if gnuplot (or a shell) expanded it. */
static char **payloads(void)
{
    static char *p[9];
    static char buf[9][1024];
    const char *fmt[] = {
        "gpu `touch %s`",                    /* backquote substitution */
        "gpu\nsystem(\"touch %s\")",         /* a newline starts a command */
        "gpu\"; system(\"touch %s\"); x=\"", /* break out of a double-quoted string */
        "gpu'; system('touch %s'); x='",     /* ... and of a single-quoted one */
        "gpu $(touch %s) \\",                /* shell substitution, trailing backslash */
        "gpu\r!touch %s",                    /* a shell escape line */
        "gpu\n# \n!touch %s\n@x",            /* comment, shell escape, macro */
        "<script>alert(1)</script><img src=x onerror=alert(2)>%.0s", /* markup in the report */
    };
    for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
        snprintf(buf[i], sizeof(buf[i]), fmt[i], mark);
        p[i] = buf[i];
    }
    p[8] = NULL;
    return p;
}

/* A run document with every string that reaches a chart set to a payload. */
static void hostile_run(const char *path, long t0)
{
    char **pl = payloads();
    ab_run *run = ab_run_new();
    run->id = strdup(pl[0]);
    run->complete = true;
    run->start_time = t0;
    size_t np = 0;
    while (pl[np])
        np++;
    const long sizes[] = {256, 1024, 4096};
    for (size_t d = 0; d < np; d++) {
        for (int i = 0; i < 3; i++) {
            ab_result *r = ab_result_new("gemm", "gemm.matmul", pl[(d + 1) % np]);
            ab_result_set_device(r, "cuda:0", pl[d], "cuda");
            ab_result_param_str(r, "dtype", pl[(d + 2) % np]);
            ab_result_param_int(r, "m", sizes[i]);
            ab_result_param_int(r, "n", sizes[i]);
            ab_result_param_int(r, "k", sizes[i]);
            double n3 = (double)sizes[i];
            double f[3] = {1e12 * (double)(i + 1), 1.1e12, 0.9e12};
            ab_result_add_metric(r, pl[(d + 3) % np], "FLOP/s", true, pl[(d + 4) % np], f, 3);
            r->extra = json_pack("{s:f,s:f}", "flops_per_iter", 2 * n3 * n3 * n3, "bytes_per_iter",
                                 3 * n3 * n3 * 4.0);
            r->headline = i == 2;
            ab_run_add(run, r, NULL);
        }
        ab_result *m = ab_result_new("membw", "membw.read", "default");
        ab_result_set_device(m, "cuda:0", pl[d], "cuda");
        double bw[3] = {3e12, 3.1e12, 2.9e12};
        ab_result_add_metric(m, "bandwidth", "B/s", true, "n*s / t", bw, 3);
        m->headline = true;
        m->extra = json_pack("{s:{s:s,s:f,s:s,s:f,s:s,s:s,s:s,s:s}}", "peak", "metric", "bandwidth",
                             "value", 3.35e12, "unit", "B/s", "fraction", 0.9, "model", pl[d],
                             "column", pl[(d + 5) % np], "source", pl[d], "accessed", "2026-01-01");
        ab_run_add(run, m, NULL);
    }
    char err[AB_ERRLEN];
    cr_assert_eq(ab_run_write(run, path, err), 0, "%s", err);
    ab_run_free(run);
}

/* Runs gnuplot by hand on every script in dir, as the README invites. */
static size_t rerun_scripts(const char *dir)
{
    char pat[800];
    snprintf(pat, sizeof(pat), "%s/*.gp", dir);
    glob_t g;
    size_t n = 0;
    if (glob(pat, 0, NULL, &g) != 0) return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        ab_proc p;
        char cmd[1800];
        snprintf(cmd, sizeof(cmd), "cd '%s' && %s -e \"formats='svg'\" '%s' >/dev/null 2>&1", dir,
                 gnuplot_bin(), strrchr(g.gl_pathv[i], '/') + 1);
        cr_assert_eq(ab_test_exec(&p, 0, "/bin/sh", (const char *[]){"-c", cmd, NULL}), 0);
        ab_proc_free(&p);
        n++;
    }
    globfree(&g);
    return n;
}

static void setup_mark(const char *tag, char *dir, size_t len)
{
    snprintf(dir, len, "%s", ab_test_tmpdir(tag));
    snprintf(mark, sizeof(mark), "%.700s/MARK", dir);
    unlink(mark);
}

Test(security, control_gnuplot_expands_double_quoted_backquotes)
{
    if (!have_gnuplot()) {
        cr_skip_test("gnuplot is not installed: the control cannot run");
    }
    char dir[700];
    setup_mark("secctl", dir, sizeof(dir));
    char gp[800];
    snprintf(gp, sizeof(gp), "%s/old.gp", dir);
    FILE *f = fopen(gp, "w");
    cr_assert_not_null(f);
    fprintf(f, "chart_title = \"gpu `touch %s`\"\n", mark);
    fclose(f);
    ab_proc p;
    cr_assert_eq(ab_test_exec(&p, 0, gnuplot_bin(), (const char *[]){gp, NULL}), 0);
    ab_proc_free(&p);
    cr_assert(marked(), "the old double-quoted form runs the command: the checks below can fail");
}

Test(security, plot_and_report_run_nothing, .timeout = 300)
{
    char dir[700];
    setup_mark("secplot", dir, sizeof(dir));
    char doc[800];
    snprintf(doc, sizeof(doc), "%s/run.json", dir);
    hostile_run(doc, 1795000000);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"plot", dir, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    cr_assert_not(marked(), "accelbench plot ran a command from the run document");
    char html[800];
    snprintf(html, sizeof(html), "%s/report.html", dir);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"report", dir, "--html", html, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    cr_assert_not(marked(), "accelbench report ran a command from the run document");
    char *page = NULL;
    size_t plen = 0;
    FILE *hf = fopen(html, "r");
    cr_assert_not_null(hf);
    cr_assert_gt(getdelim(&page, &plen, '\0', hf), 0);
    fclose(hf);
    cr_expect_null(strstr(page, "<script>alert"), "markup from the document reached the page");
    cr_expect_null(strstr(page, "<img src=x"), "markup from the document reached the page");
    cr_expect_not_null(strstr(page, "&lt;img src=x"), "the hostile name is shown, escaped");
    free(page);
    char plots[800];
    snprintf(plots, sizeof(plots), "%s/plots", dir);
    if (have_gnuplot()) {
        cr_expect_gt(rerun_scripts(plots), 2);
        cr_assert_not(marked(), "rerunning a saved .gp script ran a command");
    }
    /* the scripts themselves: no payload outside a single-quoted literal */
    char pat[900];
    snprintf(pat, sizeof(pat), "%s/*.gp", plots);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        cr_assert_not_null(f);
        int c;
        bool sq = false;
        while ((c = fgetc(f)) != EOF) {
            if (c == '\'')
                sq = !sq; /* a doubled quote toggles twice */
            else if (!sq)
                cr_assert(c != '`', "%s: a backquote outside a single-quoted string",
                          g.gl_pathv[i]);
            if (c == '\n')
                cr_assert_not(sq, "%s: a single-quoted string spans a line", g.gl_pathv[i]);
        }
        fclose(f);
    }
    globfree(&g);
}

Test(security, history_trend_plot_runs_nothing, .timeout = 300)
{
    char dir[700];
    setup_mark("sectrend", dir, sizeof(dir));
    char db[800];
    snprintf(db, sizeof(db), "%s/h.sqlite", dir);
    for (int k = 0; k < 3; k++) {
        char sub[800], doc[900];
        snprintf(sub, sizeof(sub), "%s/r%d", dir, k);
        mkdir(sub, 0755);
        snprintf(doc, sizeof(doc), "%s/run.json", sub);
        hostile_run(doc, 1795000000 + 3600L * k);
        /* distinct ids: the history keys runs by id */
        json_error_t je;
        json_t *j = json_load_file(doc, 0, &je);
        cr_assert_not_null(j);
        char id[64];
        snprintf(id, sizeof(id), "hostile-%d `touch %s`", k, "x");
        json_object_set_new(j, "id", json_string(id));
        cr_assert_eq(json_dump_file(j, doc, 0), 0);
        json_decref(j);
        ab_proc p;
        cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"history", "add", sub, "--db", db, NULL}),
                     0);
        cr_assert_eq(p.status, 0, "%s", p.err);
        ab_proc_free(&p);
    }
    char plots[800];
    snprintf(plots, sizeof(plots), "%s/trend", dir);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"history", "trend", "--metric", "gemm.matmul", "--db",
                                              db, "--plot", plots, NULL}),
                 0);
    cr_expect_eq(p.status, 0, "%s%s", p.out, p.err);
    ab_proc_free(&p);
    cr_assert_not(marked(), "history trend --plot ran a command from a recorded run");
    if (have_gnuplot()) {
        cr_expect_eq(rerun_scripts(plots), 1);
        cr_assert_not(marked(), "rerunning trend.gp ran a command");
    }
}

/* ---- input limits, run ids, duplicated flags, wrong types (issue 20 items 2, 3, 5) ---- */

static void expect_usage(const char *needle, const char *const *argv, const char *outdir)
{
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect_eq(p.status, 2, "exit %d (stderr: %s)", p.status, p.err);
    cr_expect_eq(ab_count_lines(p.err), 1, "stderr is not one line: '%s'", p.err);
    cr_expect(strstr(p.err, needle) != NULL, "stderr '%s' does not mention '%s'", p.err, needle);
    if (outdir) cr_expect(ab_dir_entries(outdir) <= 0, "a usage error left files in %s", outdir);
    ab_proc_free(&p);
}

Test(security, dev_zero_and_oversized_inputs_end_at_once, .timeout = 60)
{
    char *dir = ab_test_tmpdir("seclimit");
    char out[700];
    snprintf(out, sizeof(out), "%s/results", dir);
    /* the price sheet is read (and refused) before anything runs */
    expect_usage("4 MiB limit",
                 (const char *[]){"run", "--suite", "tokens", "--device", "cpu", "--out", out,
                                  "--price-sheet", "/dev/zero", NULL},
                 out);
    expect_usage("4 MiB limit",
                 (const char *[]){"run", "--suite", "gemm", "--device", "cpu", "--out", out,
                                  "--shape-file", "/dev/zero", NULL},
                 out);
    expect_usage("256 MiB limit", (const char *[]){"compare", "/dev/zero", "/dev/zero", NULL},
                 NULL);
    /* a regular file over the limit is refused by its size, without reading it */
    char big[800];
    snprintf(big, sizeof(big), "%s/big.json", dir);
    FILE *f = fopen(big, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), (off_t)AB_MAX_RUNDOC_BYTES + 1), 0);
    fclose(f);
    expect_usage("256 MiB limit", (const char *[]){"gate", big, big, NULL}, NULL);
    expect_usage("is a directory",
                 (const char *[]){"run", "--suite", "tokens", "--device", "cpu", "--out", out,
                                  "--price-sheet", "/", NULL},
                 out);
    free(dir);
}

Test(security, bom_price_sheet_is_read)
{
    char *dir = ab_test_tmpdir("secbom");
    char path[700];
    snprintf(path, sizeof(path), "%s/prices.csv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("\xEF\xBB\xBFprovider,instance,usd_per_hour\naws,p5.48xlarge,98.32\n", f);
    fclose(f);
    char *buf;
    size_t len;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_read_input(path, 1024, "price sheet", &buf, &len, err), 0, "%s", err);
    cr_expect_eq(strncmp(buf, "provider,", 9), 0, "the byte-order mark was kept: %s", buf);
    free(buf);
    cr_expect_eq(ab_read_input(path, 16, "price sheet", &buf, &len, err), -1);
    cr_expect(strstr(err, "limit for a price sheet") != NULL, "%s", err);
    free(dir);
}

Test(security, run_ids_are_checked_on_the_way_in, .timeout = 60)
{
    char *dir = ab_test_tmpdir("secid");
    char out[700];
    snprintf(out, sizeof(out), "%s/results", dir);
    char longid[AB_RUN_ID_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    const char *bad[][2] = {{"\xff\xfe", "not valid UTF-8"},
                            {"latest", "reserved"},
                            {"a\nb", "control character"},
                            {"a\xc2\x85"
                             "b",
                             "control character"}, /* U+0085, a C1 newline */
                            {longid, "longer than the 128-byte maximum"},
                            {"a/b", "'/'"},
                            {"..", "start with '.'"},
                            {"", "empty"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_usage(bad[i][1],
                     (const char *[]){"run", "--suite", "membw.copy", "--device", "cpu", "--out",
                                      out, "--run-id", bad[i][0], NULL},
                     out);
}

/* Whatever the tool writes, it reads back: an unusual but valid id, device names with quotes,
 * commas, a BOM character and invalid UTF-8 through run.json, compare, history and report. */
Test(security, what_the_tool_writes_it_reads_back, .timeout = 300)
{
    char *dir = ab_test_tmpdir("secrt");
    char out[700];
    snprintf(out, sizeof(out), "%s/results", dir);
    const char *id = "r\xC3\xBCn \"q\",1 \xE2\x80\x94 \xF0\x9F\x9A\x80";
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"run", "--suite",    "membw.copy", "--device",
                                                     "cpu", "--profile",  "quick",      "--dtype",
                                                     "f64", "--sizes",    "1MiB",       "--repeat",
                                                     "2",   "--min-time", "0.001",      "--out",
                                                     out,   "--run-id",   id,           "-q",
                                                     NULL}),
                 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char run[900];
    snprintf(run, sizeof(run), "%s/%s", out, id);
    char doc[1000];
    snprintf(doc, sizeof(doc), "%s/run.json", run);
    char err[AB_ERRLEN];
    ab_run *r = ab_run_read(doc, err);
    cr_assert_not_null(r, "%s", err);
    cr_expect_str_eq(r->id, id);
    cr_assert_gt(r->nresults, 0);
    /* names from the environment: invalid UTF-8 must not make a field vanish */
    free(r->results[0]->device_name);
    r->results[0]->device_name = strdup("GPU \"x\", y\n\xEF\xBB\xBF z \xff\xfe end");
    cr_assert_eq(ab_run_write(r, doc, err), 0, "%s", err);
    ab_run_free(r);
    r = ab_run_read(doc, err);
    cr_assert_not_null(r, "the tool refused what it wrote: %s", err);
    cr_expect_str_eq(r->results[0]->device_name,
                     "GPU \"x\", y\n\xEF\xBB\xBF z \xEF\xBF\xBD\xEF\xBF\xBD end");
    ab_run_free(r);
    char db[800];
    snprintf(db, sizeof(db), "%s/h.sqlite", dir);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"history", "add", run, "--db", db, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", run, run, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char html[900];
    snprintf(html, sizeof(html), "%s/r.html", dir);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"report", run, "--html", html, NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    free(dir);
}

Test(security, duplicated_flags_are_refused)
{
    char *dir = ab_test_tmpdir("secdup");
    char out[700];
    snprintf(out, sizeof(out), "%s/results", dir);
    expect_usage("--suite given twice",
                 (const char *[]){"run", "--out", out, "--suite", "membw", "-s", "gemm", NULL},
                 out);
    expect_usage(
        "--profile given twice",
        (const char *[]){"run", "--out", out, "--profile", "quick", "--profile", "full", NULL},
        out);
    expect_usage("--format given twice",
                 (const char *[]){"compare", "-f", "csv", "--format", "md", "a", "b", NULL}, NULL);
    expect_usage("--threshold given twice",
                 (const char *[]){"gate", "--threshold", "5%", "--threshold", "1%", "a", "b", NULL},
                 NULL);
    expect_usage("--out given twice", (const char *[]){"plot", "-o", "x", "--out", "y", "a", NULL},
                 NULL);
    free(dir);
}

Test(security, wrong_types_are_named)
{
    char *dir = ab_test_tmpdir("sectype");
    char doc[700];
    snprintf(doc, sizeof(doc), "%s/run.json", dir);
    const char *text =
        "{\"schema\":\"accelbench.run\",\"schema_version\":1,\"id\":\"t\",\"results\":[{\"suite\":"
        "\"membw\",\"key\":\"membw.copy\",\"device\":\"cpu\",\"status\":\"pass\",\"metrics\":[{"
        "\"name\":\"bandwidth\",\"unit\":\"B/s\",\"direction\":\"higher\",\"samples\":[1.0],"
        "\"stats\":\"fast\"}]}]}";
    FILE *f = fopen(doc, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    char err[AB_ERRLEN];
    ab_run *r = ab_run_read(doc, err);
    cr_expect_null(r);
    cr_expect(strstr(err, "stats: expected an object") != NULL, "%s", err);
    ab_run_free(r);
    free(dir);
}

Test(security, wrong_type_history_median_is_named)
{
    char *dir = ab_test_tmpdir("sechist");
    char doc[700];
    snprintf(doc, sizeof(doc), "%s/run.json", dir);
    FILE *f = fopen(doc, "w");
    cr_assert_not_null(f);
    fputs(
        "{\"schema\":\"accelbench.run\",\"schema_version\":1,\"id\":\"t\",\"results\":[{\"suite\":"
        "\"membw\",\"key\":\"membw.copy\",\"device\":\"cpu\",\"status\":\"pass\",\"metrics\":[{"
        "\"name\":\"bandwidth\",\"unit\":\"B/s\",\"direction\":\"higher\",\"samples\":[1.0]}],"
        "\"extra\":{\"history\":{\"metrics\":{\"bandwidth\":{\"median\":\"9e99\"}}}}}]}",
        f);
    fclose(f);
    char err[AB_ERRLEN];
    ab_run *r = ab_run_read(doc, err);
    cr_expect_null(r, "a baseline median of the wrong type was accepted");
    cr_expect(strstr(err, "bandwidth.median: expected a number") != NULL, "%s", err);
    ab_run_free(r);
    free(dir);
}

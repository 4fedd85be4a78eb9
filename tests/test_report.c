/* SPDX-License-Identifier: MIT */
/*
 * The HTML report: self-contained, escapes what it shows, renders any manifest, and opens in
 * headless Chromium without console errors. The browser check is itself tested: pages with a
 * script error, a console error, an external resource or a missing image must fail it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rundoc.h"
#include "helpers.h"
#include "synthetic.h"

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

/* Runs the browser check; skips the test (with the reason) when no Chromium is installed. */
static int browser_check(const char *html, const char *min_svg, ab_proc *p)
{
    const char *argv[6] = {"--require-rendered", html, NULL};
    if (min_svg) {
        argv[0] = "--min-svg";
        argv[1] = min_svg;
        argv[2] = "--require-rendered";
        argv[3] = html;
        argv[4] = NULL;
    }
    cr_assert_eq(ab_test_exec(p, 0, AB_TEST_BROWSER_CHECK, argv), 0);
    if (p->status == 77) {
        char why[512];
        snprintf(why, sizeof(why), "%s", p->err);
        ab_proc_free(p);
        cr_skip_test("no Chromium: %s", why);
    }
    return p->status;
}

static void write_page(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>t</title></head>"
               "<body><p>page</p>%s<script>document.documentElement.setAttribute("
               "'data-rendered','1');</script></body></html>\n",
            body);
    fclose(f);
}

Test(browser_check, catches_broken_pages, .timeout = 300)
{
    char *dir = ab_test_tmpdir("browser");
    static const struct {
        const char *name, *body, *expect;
    } bad[] = {
        {"exception", "<script>undefinedFunction();</script>", "exception"},
        {"console", "<script>console.error('broken on purpose');</script>",
         "console.error: broken on purpose"},
        {"external", "<script src=\"https://example.invalid/x.js\"></script>", "log error"},
        {"missing", "<img src=\"missing-image.png\" alt=\"x\">", "missing-image.png"},
    };
    char path[700];
    ab_proc p;
    snprintf(path, sizeof(path), "%s/good.html", dir);
    write_page(path, "<p>fine</p>");
    cr_expect_eq(browser_check(path, NULL, &p), 0, "a clean page fails: %s %s", p.out, p.err);
    ab_proc_free(&p);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s.html", dir, bad[i].name);
        write_page(path, bad[i].body);
        cr_expect_eq(browser_check(path, NULL, &p), 1, "%s: exit %d: %s %s", bad[i].name, p.status,
                     p.out, p.err);
        cr_expect(strstr(p.out, bad[i].expect) != NULL, "%s: '%s' not reported: %s", bad[i].name,
                  bad[i].expect, p.out);
        ab_proc_free(&p);
    }
    /* a page whose script never completes, and one without the expected charts */
    snprintf(path, sizeof(path), "%s/noscript.html", dir);
    FILE *f = fopen(path, "w");
    fputs("<!DOCTYPE html><html><head><title>t</title></head><body>x</body></html>\n", f);
    fclose(f);
    cr_expect_eq(browser_check(path, NULL, &p), 1, "%s", p.out);
    ab_proc_free(&p);
    snprintf(path, sizeof(path), "%s/good.html", dir);
    cr_expect_eq(browser_check(path, "1", &p), 1, "no svg in the page: %s", p.out);
    ab_proc_free(&p);
    free(dir);
}

Test(report, real_run_opens_without_errors, .timeout = 300)
{
    char *dir = ab_test_tmpdir("report");
    char out[600];
    snprintf(out, sizeof(out), "%s/results", dir);
    ab_proc p;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ab_test_run(&p, 0,
                                 (const char *[]){"run", "--suite", "membw", "--device", "cpu",
                                                  "--profile", "quick", "--min-time", "0.005",
                                                  "--dtype", "f64", "--out", out, "--run-id",
                                                  i ? "two" : "one", "-q", NULL}),
                     0);
        cr_assert_eq(p.status, 0, "%s", p.err);
        ab_proc_free(&p);
    }
    char one[700], two[700], html[700], keep[700];
    snprintf(one, sizeof(one), "%s/one", out);
    snprintf(two, sizeof(two), "%s/two", out);
    snprintf(html, sizeof(html), "%s/report.html", dir);
    snprintf(keep, sizeof(keep), "%s/charts", dir);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"report", one, two, "--html", html,
                                                     "--plots-dir", keep, NULL}),
                 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char *h = slurp(html);
    cr_assert_not_null(h);
    /* self-contained: nothing to load (the SVG namespace is a name, not a fetch) */
    cr_expect(strstr(h, "src=") == NULL, "the report references a file");
    cr_expect(strstr(h, "<link") == NULL);
    cr_expect(strstr(h, "Content-Security-Policy") != NULL);
    static const char *const sections[] = {
        "id=\"scorecard\"", "id=\"runs\"",       "id=\"compare\"",
        "id=\"headlines\"", "id=\"charts\"",     "id=\"results\"",
        "id=\"machine\"",   "cores_in_affinity", "<svg role=\"img\""};
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        cr_expect(strstr(h, sections[i]) != NULL, "no %s", sections[i]);
    /* ids of the inline SVGs are made unique per chart */
    cr_expect(strstr(h, "id='c0-gpPt0'") && strstr(h, "id='c1-gpPt0'"), "chart ids not prefixed");
    free(h);
    cr_expect_eq(access(keep, F_OK), 0, "--plots-dir keeps the charts");
    cr_expect_eq(browser_check(html, "3", &p), 0, "console errors: %s %s", p.out, p.err);
    ab_proc_free(&p);
    free(dir);
}

Test(report, renders_any_manifest_escaped, .timeout = 120)
{
    char *dir = ab_test_tmpdir("reportjson");
    ab_syn s = ab_syn_default("manifest<run>", 1);
    ab_run *run = ab_syn_run(&s);
    /* what a fuller probe manifest and a sampler could look like: nested, with hostile text */
    json_object_set_new(run->host, "manifest",
                        json_pack("{s:[{s:s,s:{s:i,s:i}},{s:s,s:{s:i}}],s:s,s:I}", "gpus", "name",
                                  "GPU <b>0</b>", "clocks_mhz", "sm", 1980, "mem", 2619, "name",
                                  "GPU 1", "clocks_mhz", "sm", 1755, "<script>alert(1)</script>",
                                  "x\"y'z&", "memory_bytes", (json_int_t)1 << 34));
    /* a probe manifest: facts with status, value/reason and source (results/MANIFEST.md) */
    run->manifest = json_pack("{s:s,s:{s:{s:s,s:s,s:s},s:{s:s,s:s}}}", "schema",
                              "accelbench.manifest", "host", "hostname", "status", "ok", "value",
                              "box<1>", "source", "/proc/sys/kernel/hostname", "governor",
                              "status", "unavailable", "reason", "no cpufreq driver");
    run->results[0]->extra = json_pack("{s:{s:[f,f,f],s:s}}", "sampler", "power_w", 301.5, 302.25,
                                       299.0, "throttle", "none");
    char path[700], html[700];
    snprintf(path, sizeof(path), "%s/run.json", dir);
    snprintf(html, sizeof(html), "%s/r.html", dir);
    char err[AB_ERRLEN];
    cr_assert_eq(ab_run_write(run, path, err), 0, "%s", err);
    ab_run_free(run);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"report", path, "--html", html, "--title",
                                                     "T <&>", NULL}),
                 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char *h = slurp(html);
    cr_assert_not_null(h);
    cr_expect(strstr(h, "<script>alert(1)</script>") == NULL, "unescaped key");
    cr_expect(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    cr_expect(strstr(h, "GPU &lt;b&gt;0&lt;/b&gt;") != NULL);
    cr_expect(strstr(h, "x&quot;y&#39;z&amp;") != NULL);
    cr_expect(strstr(h, "<th>clocks_mhz</th>") != NULL, "array of objects as a table");
    cr_expect(strstr(h, "17179869184 (16 GiB)") != NULL, "byte counts readable");
    cr_expect(strstr(h, "power_w") && strstr(h, "302.25"), "extra.sampler rendered");
    cr_expect(strstr(h, "<title>T &lt;&amp;&gt;</title>") != NULL);
    cr_expect(strstr(h, "manifest&lt;run&gt;") != NULL);
    cr_expect(strstr(h, "<h3>Probe manifest</h3>") != NULL);
    cr_expect(strstr(h, "box&lt;1&gt; <span class=\"src\">(/proc/sys/kernel/hostname)</span>") !=
                  NULL,
              "a fact shows its value and source");
    cr_expect(strstr(h, "unavailable: no cpufreq driver") != NULL);
    free(h);
    cr_expect_eq(browser_check(html, NULL, &p), 0, "console errors: %s %s", p.out, p.err);
    ab_proc_free(&p);
    free(dir);
}

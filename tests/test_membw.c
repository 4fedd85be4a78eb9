/* SPDX-License-Identifier: MIT */
/* membw end to end through the binary: quick runs on cpu and opencl:0 produce valid documents;
 * a corrupted output fails; an interrupted run keeps what finished. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ab.h"
#include "core/rundoc.h"
#include "helpers.h"
#include "suite_helpers.h"

static ab_run *run_and_read(const char *tag, int want_exit, double interrupt, const char **extra)
{
    return ab_test_run_doc(tag, want_exit, interrupt, NULL, (const char *[]){"--quiet", NULL},
                           extra);
}

static void expect_all_pass(const ab_run *run, const char *device, size_t min_results)
{
    size_t n = 0, headlines = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->device, device) != 0)
            continue;
        if (strstr(r->key, "membw.h2d") || strstr(r->key, "membw.d2h") ||
            strstr(r->key, "membw.d2d")) {
            cr_expect(r->status == AB_PASS || r->status == AB_SKIP, "%s: %s", r->key,
                      ab_status_name(r->status));
            continue;
        }
        n++;
        cr_expect_eq(r->status, AB_PASS, "%s %s: %s (%s)", device, r->key,
                     ab_status_name(r->status), r->reason ? r->reason : "");
        const ab_metric *m = ab_result_metric(r, "bandwidth");
        cr_assert_not_null(m, "%s: no bandwidth metric", r->key);
        cr_expect_str_eq(m->unit, "B/s");
        /* a plausibility floor for the large (headline) sizes only: tiny working sets measure
         * launch and scheduling costs too, which an overloaded machine inflates without bound */
        if (r->headline)
            cr_expect_gt(m->stats.median, 1e8, "%s: %g B/s is not plausible", r->key,
                         m->stats.median);
        cr_expect_eq(m->nsamples, m->stats.n);
        cr_expect_geq(m->nsamples, 3);
        headlines += r->headline;
    }
    cr_expect_geq(n, min_results, "only %zu membw results on %s", n, device);
    /* one headline per kernel and dtype: 7 kernels x 2 dtypes */
    cr_expect_eq(headlines, 14, "%zu headline results on %s", headlines, device);
}

Test(membw, quick_cpu, .timeout = 300)
{
    ab_run *run = run_and_read("cpu", AB_EXIT_OK, 0,
                               (const char *[]){"--suite", "membw", "--device", "cpu", "--profile",
                                                "quick", NULL});
    cr_expect(run->complete);
    cr_expect(!run->interrupted);
    expect_all_pass(run, "cpu", 24);
    /* ordinary and streaming stores are both reported for the CPU's writing kernels */
    bool ordinary = false, streaming = false;
    for (size_t i = 0; i < run->nresults; i++) {
        ordinary |= strcmp(run->results[i]->key, "membw.triad") == 0 &&
                    strcmp(run->results[i]->impl, "ordinary") == 0;
        streaming |= strcmp(run->results[i]->key, "membw.triad") == 0 &&
                     strcmp(run->results[i]->impl, "streaming") == 0;
    }
    cr_expect(ordinary && streaming);
    ab_run_free(run);
}

Test(membw, quick_opencl, .timeout = 300)
{
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device (install pocl-opencl-icd): opencl:0 not listed");
    ab_run *run = run_and_read("ocl", AB_EXIT_OK, 0,
                               (const char *[]){"--suite", "membw", "--device", "opencl:0",
                                                "--profile", "quick", NULL});
    expect_all_pass(run, "opencl:0", 14);
    /* transfers run on an OpenCL device */
    bool h2d = false;
    for (size_t i = 0; i < run->nresults; i++)
        h2d |= strcmp(run->results[i]->key, "membw.h2d") == 0 &&
               run->results[i]->status == AB_PASS;
    cr_expect(h2d, "membw.h2d did not pass on opencl:0");
    ab_run_free(run);
}

static void expect_corruption_caught(const char *device, const char *key, const char *needle)
{
    ab_run *run = run_and_read("corrupt", AB_EXIT_FAIL, 0,
                               (const char *[]){"--suite", key, "--device", device, "--profile",
                                                "quick", "--sweep", "none", "--dtype", "f64",
                                                "--repeat", "3", "--test-corrupt", key, NULL});
    bool failed = false;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->key, key) != 0)
            continue;
        cr_expect_eq(r->status, AB_FAIL, "%s on %s: corrupted output was %s", key, device,
                     ab_status_name(r->status));
        cr_expect(r->reason && strstr(r->reason, needle), "reason: %s", r->reason);
        failed = true;
    }
    cr_expect(failed, "no %s result", key);
    ab_run_free(run);
}

Test(membw, validation_catches_corruption, .timeout = 300)
{
    expect_corruption_caught("cpu", "membw.triad", "elements of a wrong");
    expect_corruption_caught("cpu", "membw.dot", "expected");
    expect_corruption_caught("cpu", "membw.write", "elements of c wrong");
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device: only the CPU path was checked");
    expect_corruption_caught("opencl:0", "membw.copy", "elements of c wrong");
    expect_corruption_caught("opencl:0", "membw.read", "expected");
    expect_corruption_caught("opencl:0", "membw.h2d", "differs");
}

Test(membw, interrupt_keeps_partial_results, .timeout = 300)
{
    /* the standard profile runs far longer than 3 s; SIGINT must stop it after the current
     * sample with everything finished so far kept and marked interrupted */
    ab_run *run = run_and_read("sigint", AB_EXIT_INTERRUPTED, 3.0,
                               (const char *[]){"--suite", "membw", "--device", "cpu", "--profile",
                                                "standard", NULL});
    cr_expect(run->interrupted);
    cr_expect(!run->complete);
    cr_expect_gt(run->nresults, 0, "nothing kept");
    for (size_t i = 0; i < run->nresults; i++)
        cr_expect(run->results[i]->status == AB_PASS || run->results[i]->status == AB_SKIP,
                  "%s: %s", run->results[i]->key, ab_status_name(run->results[i]->status));
    ab_run_free(run);
}

Test(membw, unavailable_backends_are_skipped_with_reason, .timeout = 300)
{
    ab_run *run = run_and_read("skips", AB_EXIT_OK, 0,
                               (const char *[]){"--suite", "membw.triad", "--profile", "quick",
                                                "--sweep", "none", "--dtype", "f64", "--repeat",
                                                "3", NULL});
    bool cuda = false;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->backend, "cuda") != 0)
            continue;
        cuda = true;
        if (r->status == AB_SKIP)
            cr_expect(r->reason && strncmp(r->reason, "cuda: ", 6) == 0, "reason: %s", r->reason);
    }
    cr_expect(cuda, "no cuda entry: neither measured nor skipped");
    ab_run_free(run);
}

Test(membw, sigkill_keeps_finished_results_from_the_journal, .timeout = 300)
{
    /* SIGKILL allows no cleanup: whatever finished must already be on disk, in the journal */
    char *dir = ab_test_tmpdir("sigkill");
    char path[700], jpath[700], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/r/run.json", dir);
    snprintf(jpath, sizeof(jpath), "%s/r/%s", dir, AB_JOURNAL_NAME);
    ab_proc p;
    /* killed once the journal holds three results (header line + 3) */
    cr_assert_eq(ab_test_run_signal_when(&p, jpath, 4, SIGKILL,
                                         (const char *[]){"run", "--out", dir, "--run-id", "r",
                                                          "--quiet", "--suite", "membw",
                                                          "--device", "cpu", "--profile",
                                                          "standard", NULL}),
                 0);
    cr_expect_eq(p.status, 128 + SIGKILL, "exit %d; stderr: %s", p.status, p.err);
    ab_proc_free(&p);
    /* run.json on disk is still the header written at the start: the run does not rewrite it
     * per result */
    json_error_t je;
    json_t *raw = json_load_file(path, 0, &je);
    cr_assert_not_null(raw, "%s: %s", path, je.text);
    cr_expect_eq(json_array_size(json_object_get(raw, "results")), 0,
                 "run.json was rewritten during the run");
    cr_expect(json_is_null(json_object_get(raw, "end_time")));
    json_decref(raw);
    size_t lines = ab_file_lines(jpath);
    cr_expect_geq(lines, 4, "the journal holds %zu lines", lines);
    /* every reader takes the killed run with its finished results */
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "%s", err);
    cr_expect_eq(run->nresults, lines - 1, "%zu results, %zu journal lines", run->nresults, lines);
    cr_expect(!run->complete);
    for (size_t i = 0; i < run->nresults; i++)
        cr_expect(run->results[i]->status == AB_PASS || run->results[i]->status == AB_SKIP,
                  "%s: %s", run->results[i]->key, ab_status_name(run->results[i]->status));
    ab_run_free(run);
    /* so does compare (the folder, through ab_load_run_arg) */
    char rdir[700];
    snprintf(rdir, sizeof(rdir), "%s/r", dir);
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", rdir, rdir, NULL}), 0);
    cr_expect(p.status == AB_EXIT_OK || p.status == AB_EXIT_FAIL, "compare: exit %d: %s",
              p.status, p.err);
    cr_expect(strstr(p.out, "membw.") != NULL, "compare shows no result: %s", p.out);
    ab_proc_free(&p);
    free(dir);
}

Test(membw, finished_run_is_written_once_and_agrees_with_the_journal, .timeout = 300)
{
    char *dir = ab_test_tmpdir("journal");
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--out", dir, "--run-id", "r", "--quiet",
                                              "--suite", "membw.triad", "--device", "cpu",
                                              "--profile", "quick", "--sweep", "none", NULL}),
                 0);
    cr_expect_eq(p.status, AB_EXIT_OK, "stderr: %s", p.err);
    ab_proc_free(&p);
    char path[700], jpath[700], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/r/run.json", dir);
    snprintf(jpath, sizeof(jpath), "%s/r/%s", dir, AB_JOURNAL_NAME);
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "%s", err);
    cr_expect(run->complete);
    cr_expect_gt(run->nresults, 0);
    cr_expect_eq(run->nresults + 1, ab_file_lines(jpath), "run.json and the journal disagree");
    /* a finalised document does not take the journal again */
    size_t added = 99;
    cr_expect_eq(ab_run_merge_journal(run, jpath, &added, err), 0, "%s", err);
    cr_expect_eq(added, 0);
    ab_run_free(run);
    free(dir);
}

Test(membw, write_failure_leaves_csv_and_document_consistent, .timeout = 300)
{
    /* the header's size, from a tiny run: the per-file limit lets the header through and stops
     * the journal after some results, the way a full disk does */
    char *dir = ab_test_tmpdir("fsize");
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--out", dir, "--run-id", "h", "--quiet",
                                              "--suite", "membw.triad", "--device", "cpu",
                                              "--profile", "quick", "--sweep", "none",
                                              "--dtype", "f64", "--repeat", "3", NULL}),
                 0);
    ab_proc_free(&p);
    char path[700], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/h/run.json", dir);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    json_object_set_new(doc, "results", json_array());
    char *hdr = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    long limit = (long)strlen(hdr) + 8192;
    free(hdr);
    json_decref(doc);
    cr_assert_eq(ab_test_run_fsize(&p, limit,
                                   (const char *[]){"run", "--out", dir, "--run-id", "r",
                                                    "--quiet", "--suite", "membw", "--device",
                                                    "cpu", "--profile", "quick", NULL}),
                 0);
    cr_expect_eq(p.status, AB_EXIT_IO, "exit %d; stderr: %s", p.status, p.err);
    ab_proc_free(&p);
    snprintf(path, sizeof(path), "%s/r/run.json", dir);
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "%s", err);
    cr_expect_gt(run->nresults, 0);
    char csv[700];
    snprintf(csv, sizeof(csv), "%s/r/results.csv", dir);
    size_t rows = ab_file_lines(csv);
    cr_expect_eq(rows, run->nresults + 1, "results.csv has %zu rows for %zu results", rows - 1,
                 run->nresults);
    ab_run_free(run);
    free(dir);
}

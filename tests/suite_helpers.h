/* SPDX-License-Identifier: MIT */
/*
 * What the suites' end-to-end tests share: run the binary and read the run document it wrote,
 * check that bad input is a one-line usage error that writes nothing, ask whether a device is
 * there. Static functions in a header because they assert with Criterion, which only the test
 * executables link.
 */
#ifndef AB_SUITE_HELPERS_H
#define AB_SUITE_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ab.h"
#include "core/rundoc.h"
#include "helpers.h"

/* `accelbench run --out TMP --run-id r` + lead + extra (both NULL-terminated; lead may be NULL);
 * asserts the exit status and that results.csv and summary.md were written beside the run
 * document, and returns the document. *out (may be NULL) receives stdout. */
static inline ab_run *ab_test_run_doc(const char *tag, int want_exit, double interrupt, char **out,
                                      const char *const *lead, const char *const *extra)
{
    char *dir = ab_test_tmpdir(tag);
    const char *argv[64] = {"run", "--out", dir, "--run-id", "r"};
    size_t n = 5;
    for (size_t i = 0; lead && lead[i] && n < 40; i++)
        argv[n++] = lead[i];
    for (size_t i = 0; extra && extra[i] && n < 63; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, interrupt, argv), 0);
    cr_expect_eq(p.status, want_exit, "exit %d, expected %d; stderr: %s", p.status, want_exit,
                 p.err);
    char path[700], err[AB_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/r/run.json", dir);
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "run document unreadable: %s", err);
    for (const char *f = "results.csv"; f; f = strcmp(f, "results.csv") == 0 ? "summary.md" : NULL) {
        snprintf(path, sizeof(path), "%s/r/%s", dir, f);
        FILE *fp = fopen(path, "r");
        cr_expect_not_null(fp, "%s missing", path);
        if (fp)
            fclose(fp);
    }
    if (out) *out = strdup(p.out ? p.out : "");
    ab_proc_free(&p);
    free(dir);
    return run;
}

/* `accelbench run --out TMP/results --suite SUITE args...` must exit 2 with one line on stderr
 * naming `needle`, nothing on stdout and no files. */
static inline void ab_test_expect_usage(const char *suite, const char *needle,
                                        const char *const *args)
{
    char *dir = ab_test_tmpdir("usage");
    char outarg[600];
    snprintf(outarg, sizeof(outarg), "%s/results", dir);
    const char *argv[40] = {"run", "--out", outarg, "--suite", suite};
    size_t n = 5;
    for (size_t i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect_eq(p.status, AB_EXIT_USAGE, "exit %d for %s %s (stderr: %s)", p.status, args[0],
                 args[1] ? args[1] : "", p.err);
    cr_expect_eq(ab_count_lines(p.err), 1, "stderr is not one line: '%s'", p.err);
    cr_expect(strstr(p.err, needle) != NULL, "stderr '%s' does not mention '%s'", p.err, needle);
    cr_expect_str_eq(p.out, "", "stdout should be empty on a usage error");
    cr_expect_leq(ab_dir_entries(outarg), 0, "files were written for a usage error");
    ab_proc_free(&p);
    free(dir);
}

/* Does `accelbench list` show the device as available? */
static inline bool ab_test_device_available(const char *id)
{
    ab_proc p;
    ab_test_run(&p, 0, (const char *[]){"list", NULL});
    char needle[64];
    snprintf(needle, sizeof(needle), "\n  %s ", id);
    bool ok = p.out && strstr(p.out, needle) != NULL;
    ab_proc_free(&p);
    return ok;
}

#endif

/* SPDX-License-Identifier: MIT */
/* Progress (issue 19): the ETA arithmetic, plain lines, the live line on a pseudo-terminal; the
 * time budget: its parsing, and a budgeted run that covers every suite and records what it left
 * out. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rundoc.h"
#include "helpers.h"
#include "runners/budget.h"
#include "runners/progress.h"

static ab_progress_slot slot(const char *dev, const char *suite, size_t planned, size_t done,
                             double spent, bool counted)
{
    ab_progress_slot s = {.planned = planned, .done = done, .spent = spent, .counted = counted};
    snprintf(s.device, sizeof(s.device), "%s", dev);
    snprintf(s.suite, sizeof(s.suite), "%s", suite);
    return s;
}

Test(progress, eta_arithmetic)
{
    ab_progress_slot v[4] = {
        slot("cpu", "membw", 10, 10, 20.0, true), /* done: 2 s a case */
        slot("cpu", "gemm", 8, 2, 30.0, true),    /* 6 left at 15 s: 90 s */
        slot("gpu", "membw", 0, 0, 0.0, false),   /* estimated 10 cases at cpu's 2 s: 20 s */
        slot("gpu", "gemm", 4, 0, 0.0, true),     /* 4 at gemm's 15 s: 60 s */
    };
    ab_progress_plan p = {.v = v, .n = 4};
    size_t done, total;
    bool est;
    double eta = ab_progress_eta(&p, 100.0, &done, &total, &est);
    cr_expect_eq(done, 12);
    cr_expect_eq(total, 32);
    cr_expect(est, "a slot not counted yet makes the total an estimate");
    cr_expect(fabs(eta - 170.0) < 1e-9, "eta %g", eta);
    /* a budget ending in 50 s bounds it */
    p.deadline = 150.0;
    eta = ab_progress_eta(&p, 100.0, &done, &total, &est);
    cr_expect(fabs(eta - 50.0) < 1e-9, "eta %g", eta);
    /* nothing finished yet: no rate, no ETA */
    ab_progress_slot w[1] = {slot("cpu", "membw", 5, 0, 0.0, true)};
    ab_progress_plan q = {.v = w, .n = 1};
    cr_expect(isnan(ab_progress_eta(&q, 0.0, &done, &total, &est)));
    cr_expect(!est);
    char buf[32];
    ab_progress_clock(3725.0, buf, sizeof(buf));
    cr_expect_str_eq(buf, "1:02:05");
    ab_progress_clock(65.4, buf, sizeof(buf));
    cr_expect_str_eq(buf, "1:05");
    ab_progress_clock(NAN, buf, sizeof(buf));
    cr_expect_str_eq(buf, "?");
}

static const char *small_run[] = {
    "run",   "--suite", "membw.copy", "--device", "cpu",       "--profile", "quick", "--min-time",
    "0.002", "--dtype", "f64",        "--sizes",  "1MiB,2MiB", "--run-id",  "p",     "--out"};
#define NSMALL (sizeof(small_run) / sizeof(small_run[0]))

static void small_argv(const char **argv, const char *out, const char *mode)
{
    for (size_t i = 0; i < NSMALL; i++)
        argv[i] = small_run[i];
    argv[NSMALL] = out;
    argv[NSMALL + 1] = "--progress";
    argv[NSMALL + 2] = mode;
    argv[NSMALL + 3] = NULL;
}

Test(progress, plain_lines, .timeout = 120)
{
    char *dir = ab_test_tmpdir("progplain");
    const char *argv[NSMALL + 4];
    small_argv(argv, dir, "plain");
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    /* two sizes x two implementations; the plan counted them when the device opened */
    cr_expect(strstr(p.err, "[1/4 ") != NULL, "%s", p.err);
    cr_expect(strstr(p.err, "[4/4 ") != NULL, "%s", p.err);
    cr_expect(strstr(p.err, " ETA ") != NULL && strstr(p.err, "membw.copy") != NULL, "%s", p.err);
    cr_expect(strstr(p.err, "\r") == NULL && strstr(p.err, "\033[K") == NULL,
              "no terminal control in plain mode: %s", p.err);
    ab_proc_free(&p);
    /* --progress none and --quiet: no progress lines */
    small_argv(argv, dir, "none");
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect(strstr(p.err, "ETA") == NULL, "%s", p.err);
    ab_proc_free(&p);
    small_argv(argv, dir, "sideways");
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect_eq(p.status, 2);
    cr_expect(strstr(p.err, "--progress: unknown mode 'sideways'") != NULL, "%s", p.err);
    ab_proc_free(&p);
    free(dir);
}

/* The run with stderr on a pseudo-terminal (openpty): the status line is rewritten in place. */
Test(progress, live_on_a_terminal, .timeout = 120)
{
    char *dir = ab_test_tmpdir("proglive");
    const char *argv[NSMALL + 5];
    argv[0] = AB_TEST_BINARY;
    small_argv(argv + 1, dir, "auto");
    int master, slave;
    cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(slave, 2);
        close(master);
        execv(AB_TEST_BINARY, (char *const *)argv);
        _exit(127);
    }
    close(slave);
    char *text = calloc(1, 1 << 16);
    size_t len = 0;
    for (;;) {
        struct pollfd pf = {.fd = master, .events = POLLIN};
        if (poll(&pf, 1, 60000) <= 0) break;
        ssize_t n = read(master, text + len, (1 << 16) - 1 - len);
        if (n <= 0) break; /* EIO once the child closed the terminal */
        len += (size_t)n;
    }
    int st = 0;
    waitpid(pid, &st, 0);
    close(master);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, text);
    cr_expect(strstr(text, "\r\033[K[") != NULL, "a line rewritten in place: %s", text);
    cr_expect(strstr(text, "membw on cpu: membw.copy") != NULL, "the case running: %s", text);
    cr_expect(strstr(text, "accelbench: 4 results in ") != NULL, "%s", text);
    cr_expect(strstr(text, "  pass  cpu") == NULL, "no per-result lines: %s", text);
    free(text);
    free(dir);
}

Test(budget, parse)
{
    double s;
    char err[AB_ERRLEN];
    cr_expect(ab_budget_parse("15m", &s, err) == 0 && s == 900.0);
    cr_expect(ab_budget_parse("90s", &s, err) == 0 && s == 90.0);
    cr_expect(ab_budget_parse("1.5h", &s, err) == 0 && s == 5400.0);
    cr_expect(ab_budget_parse("42", &s, err) == 0 && s == 42.0);
    cr_expect(ab_budget_parse("none", &s, err) == 0 && s == 0.0);
    const char *bad[] = {"", "m", "15x", "-3m", "9999h", "1e400", "15 m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect(ab_budget_parse(bad[i], &s, err) == -1, "'%s' accepted", bad[i]);
        cr_expect(strstr(err, "--budget") != NULL, "%s", err);
    }
    cr_expect_eq(ab_budget_default("standard"), 720.0);
    cr_expect_eq(ab_budget_default("quick"), 0.0);
    cr_expect_eq(ab_budget_default("full"), 0.0);
}

/* A budget far too small for the standard profile: every suite selected still has results on
 * the device (the cover pass), what did not fit is a skip with reason "budget", and the document
 * and summary.md say what was left out. */
Test(budget, covers_every_suite_then_skips, .timeout = 300)
{
    char *dir = ab_test_tmpdir("budget");
    ab_proc p;
    cr_assert_eq(
        ab_test_run(&p, 0,
                    (const char *[]){"run", "--suite", "membw,attention", "--device", "cpu",
                                     "--min-time", "0.002", "--dtype", "f32", "--budget", "2s",
                                     "--out", dir, "--run-id", "b", "-q", NULL}),
        0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    ab_proc_free(&p);
    char path[700], err[AB_ERRLEN];
    snprintf(path, sizeof(path), "%s/b/run.json", dir);
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "%s", err);
    size_t pass_membw = 0, pass_attn = 0, budget_skips = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        pass_membw += r->status == AB_PASS && !strcmp(r->suite, "membw");
        pass_attn += r->status == AB_PASS && !strcmp(r->suite, "attention");
        if (r->status == AB_SKIP && r->reason && !strncmp(r->reason, "budget: ", 8)) budget_skips++;
    }
    cr_expect(pass_membw > 0 && pass_attn > 0, "membw %zu, attention %zu", pass_membw, pass_attn);
    cr_expect(budget_skips > 0, "nothing left out of a 2 s standard run");
    json_t *b = json_object_get(run->settings, "budget");
    cr_expect_eq(json_number_value(json_object_get(b, "seconds")), 2.0);
    cr_expect_eq((size_t)json_integer_value(json_object_get(b, "skipped")), budget_skips);
    cr_expect(json_object_size(json_object_get(b, "left_out")) > 0);
    ab_run_free(run);
    snprintf(path, sizeof(path), "%s/b/summary.md", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[1024];
    bool noted = false;
    while (fgets(line, sizeof(line), f))
        noted |= strstr(line, "- time budget 2 s (--budget)") != NULL;
    fclose(f);
    cr_expect(noted, "summary.md names the budget");
    /* a bad budget is a usage error before anything runs */
    cr_assert_eq(
        ab_test_run(&p, 0, (const char *[]){"run", "--budget", "soon", "--out", dir, NULL}), 0);
    cr_expect_eq(p.status, 2);
    cr_expect(strstr(p.err, "--budget: 'soon'") != NULL, "%s", p.err);
    ab_proc_free(&p);
    free(dir);
}

/* The estimate from the device's own rates: the impl's FLOP/s (portable and vendor differ), the
 * device's best B/s, times the iterations the sampling takes. */
Test(budget, estimates_from_the_device_rates)
{
    ab_sampling q;
    ab_sampling_profile("quick", &q);
    /* a 10 s iteration: 2 warm-up runs, one calibration batch, 3 samples (past max_time) */
    cr_expect_float_eq(ab_sampling_seconds(&q, 10.0), 60.0, 1e-9);
    /* a 1 ms one: 5 samples of about min_time */
    cr_expect_lt(ab_sampling_seconds(&q, 1e-3), 0.2);
    ab_budget *b = ab_budget_new(720, "--budget");
    cr_assert_not_null(b);
    ab_budget_pass(b, AB_PASS_COVER, 4);
    ab_work_term t[2] = {{.flop = 1e12, .sampled = true}, {.bytes = 1e9, .sampled = false}};
    ab_budget_work w = {.t = t, .n = 2, .sampling = &q, .impl = "portable", .dtype = "f32"};
    cr_expect(isnan(ab_budget_work_seconds(b, "opencl:0", &w)), "no rate yet: no estimate");
    ab_budget_rate(b, "opencl:0", "portable", "f32", "FLOP/s", 2e9);
    ab_budget_rate(b, "opencl:0", "portable", "f32", "FLOP/s", 1e9); /* the best is kept */
    ab_budget_rate(b, "opencl:0", "vendor", "f32", "FLOP/s", 1e12);
    ab_budget_rate(b, "opencl:0", "ordinary", NULL, "B/s", 1e10);
    ab_budget_rate(b, "opencl:0", "ordinary", NULL, "tokens/s", 1e15); /* not a rate of work */
    /* 500 s an iteration through the portable kernels, sampled; 0.1 s for the bytes, once */
    cr_expect_float_eq(ab_budget_work_seconds(b, "opencl:0", &w), 6 * 500.0 + 0.1, 1e-6);
    w.impl = "vendor";
    cr_expect_lt(ab_budget_work_seconds(b, "opencl:0", &w), 10.0);
    w.dtype = "bf16"; /* no bf16 measured: the impl's best of any dtype */
    cr_expect_lt(ab_budget_work_seconds(b, "opencl:0", &w), 10.0);
    cr_expect(isnan(ab_budget_work_seconds(b, "cpu", &w)), "another device's rates do not count");
    /* the suite of a case whose estimate overruns is still owed a case; the last one runs */
    char why[AB_ERRLEN];
    w.impl = "portable";
    cr_expect(ab_budget_owed(b, "opencl:0", "tokens.prefill"));
    cr_expect_eq(ab_budget_admit(b, "opencl:0", "tokens.prefill", "id1", NAN, &w, why), 1);
    cr_expect(strstr(why, "budget: estimated 3e+03 s") != NULL, "%s", why);
    cr_expect(ab_budget_owed(b, "opencl:0", "tokens.decode"));
    w.last = true;
    cr_expect_eq(ab_budget_admit(b, "opencl:0", "tokens.decode", "id2", NAN, &w, why), 0);
    ab_budget_ran(b, "opencl:0", "tokens.decode", "id2", NAN, &w, 1.0, true);
    cr_expect(!ab_budget_owed(b, "opencl:0", "tokens.decode"), "represented now");
    ab_budget_free(b);
}

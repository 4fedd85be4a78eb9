/* SPDX-License-Identifier: MIT */
/*
 * The pjrt backend's suites through `accelbench run` on the stand-in plugin (tests/fake_pjrt.c):
 * membw, gemm, attention and tokens validated, every buffer, event and program freed, wrong
 * results failing, the loop-in-program timer's overhead subtraction, and the generated programs'
 * syntax through mlir-opt-16 where it is installed.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pjrt_test.h"

#define MLIR_OPT "/usr/bin/mlir-opt-16"

/* Every program the backend compiled (ACCELBENCH_PJRT_DUMP=dir) parses with mlir-opt-16, which
 * knows MLIR's generic syntax and types but not the StableHLO dialect; a broken copy does not.
 * Returns the number of programs checked. */
static int check_syntax(const char *dir)
{
    if (access(MLIR_OPT, X_OK) != 0) return -1;
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int n = 0;
    char path[800], bad[800] = "";
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".mlir")) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ab_proc p;
        const char *argv[] = {"--allow-unregistered-dialect", path, "-o", "/dev/null", NULL};
        cr_assert_eq(ab_test_exec(&p, 0, MLIR_OPT, argv), 0);
        cr_expect_eq(p.status, 0, "%s: %s", e->d_name, p.err);
        ab_proc_free(&p);
        if (!*bad) snprintf(bad, sizeof(bad), "%s", path);
        n++;
    }
    closedir(d);
    /* the checker does check: one program with its last result's type changed */
    if (n) {
        FILE *f = fopen(bad, "r");
        char text[1 << 16];
        size_t len = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[len] = 0;
        char *ret = strstr(text, "\"func.return\"");
        cr_assert_not_null(ret);
        char *ty = strstr(ret, ": (tensor<");
        cr_assert_not_null(ty);
        memcpy(ty + 3, "tensor<7x", 9); /* a shape nobody returns */
        snprintf(path, sizeof(path), "%s/broken.txt", dir);
        f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        ab_proc p;
        const char *argv[] = {"--allow-unregistered-dialect", path, "-o", "/dev/null", NULL};
        cr_assert_eq(ab_test_exec(&p, 0, MLIR_OPT, argv), 0);
        cr_expect_neq(p.status, 0, "mlir-opt-16 accepted a broken program");
        ab_proc_free(&p);
    }
    return n;
}

/* `accelbench run` on pjrt:0 into a fresh folder; the run document, parsed. */
static json_t *run_doc(const char *tag, int want_exit, const char *const *args)
{
    char *out = ab_test_tmpdir(tag);
    const char *argv[40] = {"run",     "--out",    out,      "--run-id",  "r",
                            "--quiet", "--device", "pjrt:0", "--profile", "quick"};
    int n = 10;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    ab_proc pr;
    cr_assert_eq(ab_test_run(&pr, 0, argv), 0);
    cr_expect_eq(pr.status, want_exit, "exit %d: %s", pr.status, pr.err);
    char path[600];
    snprintf(path, sizeof(path), "%s/r/run.json", out);
    free(out);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    cr_assert_not_null(doc, "%s: %s; stderr %s", path, je.text, pr.err);
    ab_proc_free(&pr);
    return doc;
}

/* status of every result of key (with dtype, when given) into out; returns how many */
static int statuses(json_t *doc, const char *key, const char *status, int *other)
{
    int n = 0;
    size_t i;
    json_t *r;
    *other = 0;
    json_array_foreach(json_object_get(doc, "results"), i, r)
    {
        if (strncmp(json_string_value(json_object_get(r, "key")), key, strlen(key)) != 0) continue;
        const char *st = json_string_value(json_object_get(r, "status"));
        if (strcmp(st, status) == 0)
            n++;
        else if (strcmp(st, "skip") != 0)
            (*other)++;
    }
    return n;
}

static long report_count(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no report %s", path);
    char name[32];
    long v, found = -1;
    while (fscanf(f, "%31s %ld", name, &v) == 2)
        if (strcmp(name, what) == 0) found = v;
    fclose(f);
    return found;
}

Test(pjrt, membw_kernels_validate_and_free_every_buffer_event_and_program, .timeout = 300)
{
    use_fake();
    char report[600];
    char *rdir = ab_test_tmpdir("pjrt-report");
    snprintf(report, sizeof(report), "%s/report.txt", rdir);
    free(rdir);
    setenv("FAKE_PJRT_REPORT", report, 1);
    char *dump = ab_test_tmpdir("pjrt-membw-programs");
    setenv("ACCELBENCH_PJRT_DUMP", dump, 1);
    json_t *doc = run_doc("pjrt-membw", 0,
                          (const char *[]){"--suite", "membw", "--sizes", "48KiB", "--dtype",
                                           "f32,f64", "--transfer-size", "64KiB", NULL});
    int other;
    cr_expect_eq(statuses(doc, "membw.", "pass", &other), 10); /* 7 kernels, h2d, d2h, d2d */
    cr_expect_eq(other, 0);
    json_decref(doc);
    cr_expect_gt(report_count(report, "executed"), 7);
    cr_expect_gt(report_count(report, "compiled"), 7);
    cr_expect_eq(report_count(report, "buffers"), 0, "buffers left at client destroy");
    cr_expect_eq(report_count(report, "events"), 0, "events left at client destroy");
    cr_expect_eq(report_count(report, "executables"), 0, "programs left at client destroy");
    char over[600];
    snprintf(over, sizeof(over), "%s/overheads.txt", dump);
    cr_expect_eq(ab_file_lines(over), 7, "one launch overhead per looped program");
    int checked = check_syntax(dump);
    free(dump);
    if (checked < 0)
        cr_skip_test(MLIR_OPT " not installed (scripts/install-deps.sh): syntax not checked");
    cr_expect_eq(checked, 8, "7 kernels and the device copy");
}

/* small shapes of every suite the backend implements */
#define SMALL_SUITES                                                                               \
    "--sizes", "48KiB", "--shape", "64x96x32", "--layout", "NN,TN", "--heads", "4", "--kv-heads",  \
        "2", "--head-dim", "16", "--seq", "32", "--kv-len", "64", "--batch", "1"

Test(pjrt, gemm_and_attention_validate_and_their_programs_parse, .timeout = 300)
{
    use_fake();
    char *dump = ab_test_tmpdir("pjrt-programs");
    setenv("ACCELBENCH_PJRT_DUMP", dump, 1);
    const char *args[] = {"--suite", "gemm,attention",   SMALL_SUITES,
                          "--dtype", "f32,bf16,i8,e4m3", NULL};
    json_t *doc = run_doc("pjrt-gemm-attn", 0, args);
    int other;
    /* gemm: f32, bf16, i8 x NN, TN; e4m3 and the portable kernel skipped */
    cr_expect_eq(statuses(doc, "gemm.custom", "pass", &other), 6);
    cr_expect_eq(other, 0);
    /* attention: naive (composed) prefill causal and not, decode, for f32 and bf16 */
    cr_expect_eq(statuses(doc, "attention.", "pass", &other), 6);
    cr_expect_eq(other, 0);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "results"), i, r)
    {
        const char *impl = json_string_value(json_object_get(r, "impl"));
        const char *st = json_string_value(json_object_get(r, "status"));
        const char *kernel =
            json_string_value(json_object_get(json_object_get(r, "extra"), "kernel"));
        if (strcmp(st, "pass") == 0 && strncmp(impl, "naive", 5) == 0)
            cr_expect(kernel && strstr(kernel, "composed"), "attention not labelled composed");
        if (strcmp(st, "skip") == 0) cr_expect(json_string_value(json_object_get(r, "reason")));
    }
    json_decref(doc);
    int checked = check_syntax(dump);
    free(dump);
    if (checked < 0)
        cr_skip_test(MLIR_OPT " not installed (scripts/install-deps.sh): syntax not checked");
    cr_expect_eq(checked, 12, "6 gemm and 6 attention programs, %d found", checked);
}

Test(pjrt, wrong_results_fail_validation, .timeout = 300)
{
    use_fake();
    setenv("FAKE_PJRT_WRONG", "1", 1);
    const char *args[] = {"--suite",    "membw.triad,membw.read,gemm,attention",
                          SMALL_SUITES, "--dtype",
                          "f32",        "--impl",
                          "naive",      NULL};
    json_t *doc = run_doc("pjrt-wrong", 1, args); /* exit 1: a case failed */
    int other;
    cr_expect_eq(statuses(doc, "membw.", "fail", &other), 2);
    cr_expect_eq(statuses(doc, "gemm.custom", "fail", &other), 2);
    cr_expect_eq(statuses(doc, "attention.", "fail", &other), 3);
    json_decref(doc);
    unsetenv("FAKE_PJRT_WRONG");
    const char *corrupt[] = {"--suite", "membw.scale",    "--sizes",     "48KiB", "--dtype",
                             "f32",     "--test-corrupt", "membw.scale", NULL};
    doc = run_doc("pjrt-corrupt", 1, corrupt);
    cr_expect_eq(statuses(doc, "membw.scale", "fail", &other), 1);
    json_decref(doc);
}

/* the tokens suite on the stand-in, small: a tiny model with narrower layers, one prefill and
 * one decode point (the fixed 256 MiB reserve of the suite's fit check wants >= 302 MB) */
#define TINY_TOKENS                                                                                \
    "--model", "tiny", "--model-shape", "d_model=128,ffn=256,vocab=512", "--prefill", "8",         \
        "--batch", "2", "--context", "16"

static json_t *extra(json_t *r, const char *k)
{
    return json_object_get(json_object_get(r, "extra"), k);
}

/* Both phases of both dtypes validate through the step's programs (k layers, layer 0, head),
 * labelled as one program per step, on a device that matches no datasheet row; the programs
 * parse with mlir-opt-16. */
Test(pjrt, tokens_run_one_program_per_step_and_validate, .timeout = 300)
{
    use_fake();
    setenv("FAKE_PJRT_MEMORY", "330000000", 1);
    char *dump = ab_test_tmpdir("pjrt-tokens-programs");
    setenv("ACCELBENCH_PJRT_DUMP", dump, 1);
    json_t *doc =
        run_doc("pjrt-tokens", 0,
                (const char *[]){"--suite", "tokens", TINY_TOKENS, "--dtype", "f32,bf16", NULL});
    int other;
    cr_expect_eq(statuses(doc, "tokens.", "pass", &other), 4, "prefill and decode, f32 and bf16");
    cr_expect_eq(other, 0);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "results"), i, r)
    {
        const char *k = json_string_value(json_object_get(extra(r, "kernels"), "kernels"));
        cr_expect(k && strstr(k, "one StableHLO program for the 2 layers"), "%s", k);
        cr_expect_str_eq(json_string_value(json_object_get(r, "device_name")),
                         "PJRT stand-in (tests, not hardware)");
        json_t *ds = json_object_get(extra(r, "roofline"), "datasheet");
        cr_expect_str_eq(json_string_value(json_object_get(ds, "status")), "unavailable",
                         "a stand-in figure against a datasheet");
        /* the bandwidth and GEMM references ran on the stand-in too */
        json_t *ms = json_object_get(extra(r, "roofline"), "measured");
        cr_expect_null(json_object_get(ms, "reason"), "%s",
                       json_string_value(json_object_get(ms, "reason")));
        /* f32: the interpreter computes in double, so the step matches the reference closely:
         * an op out of place would not */
        json_t *v = extra(r, "validation");
        const char *dt = json_string_value(json_object_get(json_object_get(r, "params"), "dtype"));
        double worst = json_number_value(json_object_get(v, "attention_block"));
        double mlp = json_number_value(json_object_get(v, "mlp_output"));
        if (dt && strcmp(dt, "f32") == 0)
            cr_expect(worst < 1e-4 && mlp < 1e-4, "f32 errors %g %g", worst, mlp);
    }
    json_decref(doc);
    int checked = check_syntax(dump);
    free(dump);
    unsetenv("ACCELBENCH_PJRT_DUMP");
    if (checked < 0)
        cr_skip_test(MLIR_OPT " not installed (scripts/install-deps.sh): syntax not checked");
    /* per dtype and phase 3 step programs (12); membw read and triad; the GEMM reference per
     * dtype */
    cr_expect_eq(checked, 16, "%d programs", checked);
}

/* a wrong result from the device, and weights damaged by --test-corrupt, fail validation */
Test(pjrt, tokens_wrong_results_and_corrupted_weights_fail, .timeout = 300)
{
    use_fake();
    setenv("FAKE_PJRT_MEMORY", "330000000", 1);
    setenv("FAKE_PJRT_WRONG", "1", 1);
    json_t *doc =
        run_doc("pjrt-tokens-wrong", 1,
                (const char *[]){"--suite", "tokens.decode", TINY_TOKENS, "--dtype", "f32", NULL});
    int other;
    cr_expect_eq(statuses(doc, "tokens.decode", "fail", &other), 1);
    json_decref(doc);
    unsetenv("FAKE_PJRT_WRONG");
    doc = run_doc("pjrt-tokens-corrupt", 1,
                  (const char *[]){"--suite", "tokens.prefill", TINY_TOKENS, "--dtype", "f32",
                                   "--test-corrupt", "tokens.prefill", NULL});
    cr_expect_eq(statuses(doc, "tokens.prefill", "fail", &other), 1);
    json_decref(doc);
}

/* The stand-in takes 50 ms per launch and 2 ms per loop iteration: with the launch overhead
 * subtracted, one triad iteration is 2 ms (12 KiB / 2 ms = 6.1 MB/s); without, a batch of the
 * ~30 iterations that last the 0.05 s minimum would come out twice as slow. */
Test(pjrt, the_timer_subtracts_the_launch_overhead, .timeout = 300)
{
    use_fake();
    setenv("FAKE_PJRT_LAUNCH_US", "50000", 1);
    setenv("FAKE_PJRT_ITER_US", "2000", 1);
    const char *args[] = {"--suite",    "membw.triad", "--sizes",  "12KiB", "--dtype", "f32",
                          "--min-time", "0.05",        "--repeat", "3",     NULL};
    json_t *doc = run_doc("pjrt-timer", 0, args);
    json_t *r = json_array_get(json_object_get(doc, "results"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "pass");
    json_t *m = json_array_get(json_object_get(r, "metrics"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "name")), "bandwidth");
    double median = json_number_value(json_object_get(json_object_get(m, "stats"), "median"));
    double want = 12288.0 / 2e-3;
    cr_expect(median > 0.85 * want && median < 1.02 * want, "median %.4g B/s, want %.4g", median,
              want);
    json_decref(doc);
}

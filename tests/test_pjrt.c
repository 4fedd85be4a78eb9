/* SPDX-License-Identifier: MIT */
/*
 * The pjrt backend (issue 18) without TPU or Trainium: the real plugin libaccelbench-pjrt.so
 * against tests/fake_pjrt.c, a stand-in PJRT plugin that interprets the generated StableHLO on
 * the host. Loading, the version and struct checks, bad plugins (the backend unavailable with a
 * reason, every other backend unaffected), libtpu off Google Cloud, the suites' programs
 * validated (and failing when the results are wrong), the loop-in-program timer, buffer and
 * event lifetimes, and the programs' syntax through mlir-opt-16 where it is installed.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>
#include <dlfcn.h>

#include "backends/pjrt_api.h"
#include "backends/registry.h"
#include "core/peaks.h"
#include "helpers.h"

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

static void use_fake(void)
{
    setenv("ACCELBENCH_PJRT_PLUGIN", AB_TEST_FAKE_PJRT, 1);
    setenv("ACCELBENCH_PLUGIN_DIR", AB_TEST_PLUGIN_DIR, 1);
    unsetenv("TPU_LIBRARY_PATH");
}

/* The pjrt entry of a fresh platform (p must be finished by the caller). */
static const ab_backend_entry *pjrt_entry(ab_platform *p)
{
    char err[AB_ERRLEN];
    cr_assert_eq(ab_platform_init(p, err), 0, "%s", err);
    const ab_backend_entry *e = ab_platform_backend(p, "pjrt");
    cr_assert_not_null(e);
    cr_assert(e->built, "pjrt not built: %s", e->reason);
    return e;
}

Test(pjrt, stand_in_devices_are_listed_and_say_they_are_not_hardware)
{
    use_fake();
    setenv("FAKE_PJRT_DEVICES", "2", 1);
    setenv("FAKE_PJRT_MEMORY", "123456789", 1);
    ab_platform p;
    const ab_backend_entry *e = pjrt_entry(&p);
    cr_assert(e->available, "%s", e->reason);
    int n = 0;
    for (size_t i = 0; i < p.ndevices; i++) {
        const ab_device *d = &p.devices[i];
        if (d->backend != e) continue;
        char id[16];
        snprintf(id, sizeof(id), "pjrt:%d", n++);
        cr_expect_str_eq(d->id, id);
        cr_expect_str_eq(d->info.name, "PJRT stand-in (tests, not hardware)");
        cr_expect_null(strstr(d->info.name, "TPU"));
        cr_expect_str_eq(d->info.arch, "stand-in");
        cr_expect_eq(d->info.mem_bytes, 123456789u);
        cr_expect(!d->info.fp64 && d->info.default_bf16 && !d->info.host_memory);
        cr_expect_eq(d->info.kind, AB_KIND_GPU);
        cr_expect_not_null(strstr(d->info.driver, "PJRT 0.113, StableHLO 1.2.3"), "%s",
                           d->info.driver);
    }
    cr_expect_eq(n, 2);
    ab_platform_fini(&p);
}

/* One bad plugin: pjrt unavailable with `reason` in its message, cpu unaffected. */
static void expect_unavailable(const char *reason)
{
    ab_platform p;
    const ab_backend_entry *e = pjrt_entry(&p);
    cr_expect(!e->available, "pjrt available with %s", reason);
    cr_expect_not_null(strstr(e->reason, reason), "reason '%s', wanted '%s'", e->reason, reason);
    cr_expect_null(strchr(e->reason, '\n'));
    const ab_backend_entry *cpu = ab_platform_backend(&p, "cpu");
    cr_expect(cpu && cpu->available);
    cr_expect_not_null(ab_platform_device(&p, "cpu"));
    cr_expect_null(ab_platform_device(&p, "pjrt:0"));
    ab_platform_fini(&p);
}

Test(pjrt, bad_plugins_are_unavailable_with_a_reason_and_nothing_else_changes)
{
    use_fake();
    static const struct {
        const char *var, *value, *reason;
    } cases[] = {
        {"FAKE_PJRT_MINOR", "20", "PJRT API 0.20 is older than 0.33"},
        {"FAKE_PJRT_MAJOR", "1", "PJRT API 1.113, this build speaks major version 0 only"},
        {"FAKE_PJRT_TABLE_BYTES", "200", "function table of 200 bytes"},
        {"FAKE_PJRT_NULL_API", "1", "GetPjrtApi returned NULL"},
        /* a plugin built against a newer header than ours refuses our args structs */
        {"FAKE_PJRT_GROW", "8", "Unexpected PJRT_Plugin_Initialize_Args size: expected 24, got 16"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv(cases[i].var, cases[i].value, 1);
        expect_unavailable(cases[i].reason);
        unsetenv(cases[i].var);
    }
}

Test(pjrt, files_that_are_not_pjrt_plugins)
{
    use_fake();
    setenv("ACCELBENCH_PJRT_PLUGIN", AB_TEST_PLUGIN_DIR "/libaccelbench-pjrt.so", 1);
    expect_unavailable("has no GetPjrtApi: not a PJRT plugin");
    char *dir = ab_test_tmpdir("pjrt-notelf");
    char path[512];
    snprintf(path, sizeof(path), "%s/libtext.so", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("not a shared library\n", f);
    fclose(f);
    setenv("ACCELBENCH_PJRT_PLUGIN", path, 1);
    expect_unavailable("cannot load");
    setenv("ACCELBENCH_PJRT_PLUGIN", "/nonexistent/libtpu.so", 1);
    expect_unavailable("ACCELBENCH_PJRT_PLUGIN=/nonexistent/libtpu.so: no such file");
    free(dir);
}

Test(pjrt, without_a_plugin_the_reason_says_how_to_name_one)
{
    unsetenv("ACCELBENCH_PJRT_PLUGIN");
    unsetenv("TPU_LIBRARY_PATH");
    setenv("ACCELBENCH_PLUGIN_DIR", AB_TEST_PLUGIN_DIR, 1);
    char *home = ab_test_tmpdir("pjrt-home");
    setenv("HOME", home, 1);
    free(home);
    ab_platform p;
    const ab_backend_entry *e = pjrt_entry(&p);
    if (e->available) cr_skip_test("a PJRT plugin is installed on this machine");
    cr_expect_not_null(strstr(e->reason, "no PJRT plugin found"), "%s", e->reason);
    cr_expect_not_null(strstr(e->reason, "ACCELBENCH_PJRT_PLUGIN"), "%s", e->reason);
    ab_platform_fini(&p);
}

/* libtpu hangs off GCE: a plugin named libtpu* is loaded only where DMI says Google. */
Test(pjrt, libtpu_is_loaded_on_google_compute_engine_only)
{
    use_fake();
    char *dir = ab_test_tmpdir("pjrt-libtpu");
    char link[512];
    snprintf(link, sizeof(link), "%s/libtpu.so", dir);
    cr_assert_eq(symlink(AB_TEST_FAKE_PJRT, link), 0);
    free(dir);
    unsetenv("ACCELBENCH_PJRT_PLUGIN");
    setenv("TPU_LIBRARY_PATH", link, 1);
    setenv("ACCELBENCH_PROBE_ROOT", AB_TEST_FIXTURES "/dmi/onprem", 1);
    expect_unavailable("not a Google Compute Engine VM");
    setenv("ACCELBENCH_PROBE_ROOT", AB_TEST_FIXTURES "/dmi/gcp-a3", 1);
    ab_platform p;
    const ab_backend_entry *e = pjrt_entry(&p);
    cr_expect(e->available, "%s", e->reason);
    ab_platform_fini(&p);
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

/* tokens has no PJRT decoder kernels yet: a skip that names them */
Test(pjrt, tokens_is_a_skip_naming_the_missing_kernels, .timeout = 300)
{
    use_fake();
    setenv("FAKE_PJRT_MEMORY", "4000000000", 1);
    const char *args[] = {"--suite", "tokens", "--model", "tiny", NULL};
    json_t *doc = run_doc("pjrt-tokens", 0, args);
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(json_object_get(doc, "results"), i, r)
    {
        cr_expect_str_eq(json_string_value(json_object_get(r, "status")), "skip");
        const char *why = json_string_value(json_object_get(r, "reason"));
        cr_expect(why && strstr(why, "no decoder (RMSNorm/RoPE/SwiGLU) kernels"), "%s", why);
        n++;
    }
    cr_expect_gt(n, 0);
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

/* The device kinds libtpu reports (PJRT_DeviceDescription_Kind) find their datasheet rows; the
 * stand-in's finds none, so no stand-in figure is ever shown as a percentage of a TPU's peak. */
Test(pjrt, device_kinds_match_their_datasheet_rows)
{
    ab_peaks pk;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_peaks_load(NULL, &pk, err), 0, "%s", err);
    static const char *const kinds[][2] = {{"TPU v5 lite", "Google TPU v5e"},
                                           {"TPU v5", "Google TPU v5p"},
                                           {"TPU v5p", "Google TPU v5p"},
                                           {"TPU v6 lite", "Google TPU v6e"}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        int r = ab_peaks_match(&pk, kinds[i][0]);
        cr_expect_str_eq(ab_peaks_str(&pk, r, "model"), kinds[i][1], "%s", kinds[i][0]);
    }
    cr_expect_eq(ab_peaks_match(&pk, "PJRT stand-in (tests, not hardware)"), -1);
    ab_peaks_free(&pk);
}

/* The stand-in itself refuses what an XLA plugin refuses: a compile without one replica and one
 * partition, an args struct shorter than its own, a call before PJRT_Plugin_Initialize. */
static const char *fake_error(const PJRT_Api *api, PJRT_Error *e, char *buf, size_t len)
{
    cr_assert_not_null(e, "the stand-in accepted it");
    PJRT_Error_Message_Args m = {.struct_size = sizeof(m), .error = e};
    api->PJRT_Error_Message(&m);
    snprintf(buf, len, "%.*s", (int)m.message_size, m.message);
    PJRT_Error_Destroy_Args d = {.struct_size = sizeof(d), .error = e};
    api->PJRT_Error_Destroy(&d);
    return buf;
}

Test(pjrt, the_stand_in_checks_what_xla_checks)
{
    void *dl = dlopen(AB_TEST_FAKE_PJRT, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(dl, "%s", dlerror());
    const PJRT_Api *(*get)(void) = (const PJRT_Api *(*)(void))dlsym(dl, "GetPjrtApi");
    const PJRT_Api *api = get();
    char msg[400];
    PJRT_Client_Create_Args ca = {.struct_size = sizeof(ca)};
    cr_expect_not_null(strstr(fake_error(api, api->PJRT_Client_Create(&ca), msg, sizeof(msg)),
                              "PJRT_Plugin_Initialize was not called"),
                       "%s", msg);
    PJRT_Plugin_Initialize_Args ia = {.struct_size = sizeof(ia)};
    cr_assert_null(api->PJRT_Plugin_Initialize(&ia));
    ca.struct_size = sizeof(ca) - sizeof(void *); /* a caller built against an older header */
    cr_expect_not_null(strstr(fake_error(api, api->PJRT_Client_Create(&ca), msg, sizeof(msg)),
                              "Unexpected PJRT_Client_Create_Args size"),
                       "%s", msg);
    ca.struct_size = sizeof(ca);
    cr_assert_null(api->PJRT_Client_Create(&ca));
    char text[] = "module @m {\n  func.func public @main(%v0: tensor<i64>) -> (tensor<i64>) {\n"
                  "    \"func.return\"(%v0) : (tensor<i64>) -> ()\n  }\n}\n";
    PJRT_Program prog = {.struct_size = sizeof(prog),
                         .code = text,
                         .code_size = strlen(text),
                         .format = "mlir",
                         .format_size = 4};
    PJRT_Client_Compile_Args co = {.struct_size = sizeof(co),
                                   .client = ca.client,
                                   .program = &prog,
                                   .compile_options = "",
                                   .compile_options_size = 0};
    cr_expect_not_null(strstr(fake_error(api, api->PJRT_Client_Compile(&co), msg, sizeof(msg)),
                              "0 replicas, 0 partitions"),
                       "%s", msg);
    co.compile_options = AB_PJRT_COMPILE_OPTIONS;
    co.compile_options_size = AB_PJRT_COMPILE_OPTIONS_LEN;
    cr_assert_null(api->PJRT_Client_Compile(&co));
    PJRT_LoadedExecutable_Destroy_Args xd = {.struct_size = sizeof(xd),
                                             .executable = co.executable};
    cr_expect_null(api->PJRT_LoadedExecutable_Destroy(&xd));
    text[8] = '!'; /* "module @m" -> "module @!": not a module name */
    co.executable = NULL;
    cr_expect_not_null(strstr(fake_error(api, api->PJRT_Client_Compile(&co), msg, sizeof(msg)),
                              "MLIR parse error"),
                       "%s", msg);
    PJRT_Client_Destroy_Args cd = {.struct_size = sizeof(cd), .client = ca.client};
    cr_expect_null(api->PJRT_Client_Destroy(&cd));
}

/* Buffers are immutable arrays: writes and reads at an offset go through the host, and a part
 * read after a write sees the write (the host copy kept for slice-by-slice reads is renewed). */
Test(pjrt, partial_copies_see_every_write)
{
    use_fake();
    ab_platform p;
    pjrt_entry(&p);
    ab_device *d = ab_platform_device(&p, "pjrt:0");
    cr_assert_not_null(d);
    char err[AB_ERRLEN];
    cr_assert_eq(ab_device_open(d, err), 0, "%s", err);
    const ab_backend_ops *ops = d->backend->ops;
    void *m;
    unsigned char src[256], got[16];
    for (int i = 0; i < 256; i++)
        src[i] = (unsigned char)i;
    cr_assert_eq(ops->mem_alloc(d->h, sizeof(src), &m, err), 0, "%s", err);
    cr_assert_eq(ops->copy(d->h, AB_COPY_H2D, m, src, 0, sizeof(src), err), 0, "%s", err);
    cr_assert_eq(ops->copy(d->h, AB_COPY_D2H, got, m, 100, 16, err), 0, "%s", err);
    cr_expect_eq(got[0], 100);
    cr_expect_eq(got[15], 115);
    unsigned char patch = 0xee;
    cr_assert_eq(ops->copy(d->h, AB_COPY_H2D, m, &patch, 101, 1, err), 0, "%s", err);
    cr_assert_eq(ops->copy(d->h, AB_COPY_D2H, got, m, 100, 16, err), 0, "%s", err);
    cr_expect_eq(got[1], 0xee, "a part read after a write returned stale data");
    cr_expect_eq(got[2], 102);
    cr_expect_neq(ops->copy(d->h, AB_COPY_D2H, got, m, 250, 16, err), 0);
    cr_expect_not_null(strstr(err, "past an array of 256 bytes"), "%s", err);
    cr_expect_neq(ops->copy(d->h, AB_COPY_D2D, m, m, 8, 16, err), 0);
    cr_expect_not_null(strstr(err, "not bytes at an offset"), "%s", err);
    ops->mem_free(d->h, m);
    ab_platform_fini(&p);
}

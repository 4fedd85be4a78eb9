/* SPDX-License-Identifier: MIT */
/*
 * The pjrt backend (issue 18) without TPU or Trainium, in process: the real plugin
 * libaccelbench-pjrt.so against tests/fake_pjrt.c, a stand-in PJRT plugin that interprets the
 * generated StableHLO on the host. Loading, the version and struct checks, bad plugins (the
 * backend unavailable with a reason, every other backend unaffected), libtpu off Google Cloud,
 * the datasheet rows of the device kinds, the stand-in's own checks, copies at an offset. The
 * suites run through `accelbench run` in tests/test_pjrt_run.c.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/pjrt_api.h"
#include "backends/registry.h"
#include "core/peaks.h"
#include "helpers.h"
#include "pjrt_test.h"

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

/* SPDX-License-Identifier: MIT */
/* Bad input gets one line on stderr, the documented exit code, and leaves no files behind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <unistd.h>

#include "backends/registry.h"
#include "core/ab.h"
#include "helpers.h"

static void expect_usage_error(const char *needle, const char *const *args)
{
    char *out = ab_test_tmpdir("cli");
    char outarg[600];
    snprintf(outarg, sizeof(outarg), "%s/results", out);
    /* --out goes right after "run", so a trailing option without its value stays last */
    const char *argv[32];
    size_t n = 0;
    bool has_out = false;
    for (size_t i = 0; args[i]; i++)
        has_out |= strcmp(args[i], "--out") == 0;
    for (size_t i = 0; args[i]; i++) {
        argv[n++] = args[i];
        if (i == 0 && !has_out && strcmp(args[0], "run") == 0) {
            argv[n++] = "--out";
            argv[n++] = outarg;
        }
    }
    argv[n] = NULL;
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect_eq(p.status, AB_EXIT_USAGE, "exit %d for %s (stderr: %s)", p.status, args[1], p.err);
    cr_expect_eq(ab_count_lines(p.err), 1, "stderr is not one line: '%s'", p.err);
    cr_expect(strstr(p.err, needle) != NULL, "stderr '%s' does not mention '%s'", p.err, needle);
    cr_expect_str_eq(p.out, "", "stdout should be empty on a usage error");
    /* nothing written: no results folder at all, or an empty one */
    int entries = ab_dir_entries(outarg);
    cr_expect(entries <= 0, "%d files left in %s", entries, outarg);
    ab_proc_free(&p);
    free(out);
}

Test(cli, unknown_suite)
{
    expect_usage_error("nosuch", (const char *[]){"run", "--suite", "nosuch", NULL});
}

Test(cli, unknown_device)
{
    expect_usage_error("cuda:9", (const char *[]){"run", "--device", "cuda:9", NULL});
    expect_usage_error("no such device", (const char *[]){"run", "--device", "cpu:3", NULL});
}

Test(cli, bad_sizes)
{
    expect_usage_error("negative", (const char *[]){"run", "--sizes", "-64MiB", NULL});
    expect_usage_error("absurd", (const char *[]){"run", "--sizes", "1e30", NULL});
    expect_usage_error("not a number", (const char *[]){"run", "--sizes", "big", NULL});
    expect_usage_error("1 KiB", (const char *[]){"run", "--sizes", "12", NULL});
    expect_usage_error("--dtype", (const char *[]){"run", "--dtype", "f33", NULL});
    expect_usage_error("--repeat", (const char *[]){"run", "--repeat", "0", NULL});
    expect_usage_error("--min-time", (const char *[]){"run", "--min-time", "-1", NULL});
    expect_usage_error("--profile", (const char *[]){"run", "--profile", "turbo", NULL});
}

Test(cli, unknown_flag)
{
    expect_usage_error("--frobnicate", (const char *[]){"run", "--frobnicate", NULL});
    expect_usage_error("frobnicate", (const char *[]){"frobnicate", NULL});
    expect_usage_error("needs a value", (const char *[]){"run", "--suite", NULL});
}

Test(cli, unwritable_out)
{
    /* a path below a regular file cannot be created, whoever runs the test (root included) */
    char *dir = ab_test_tmpdir("unwritable");
    char file[600], out[700];
    snprintf(file, sizeof(file), "%s/plainfile", dir);
    FILE *f = fopen(file, "w");
    fputs("x", f);
    fclose(f);
    snprintf(out, sizeof(out), "%s/results", file);
    expect_usage_error("--out", (const char *[]){"run", "--device", "cpu", "--out", out, NULL});
    cr_expect_eq(ab_dir_entries(dir), 1, "only the plain file may remain");
    free(dir);
}

Test(cli, help_and_version)
{
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"--version", NULL}), 0);
    cr_expect_eq(p.status, 0);
    cr_expect(strncmp(p.out, "accelbench ", 11) == 0, "%s", p.out);
    ab_proc_free(&p);
    const char *cmds[] = {"run", "list"};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(ab_test_run(&p, 0, (const char *[]){cmds[i], "--help", NULL}), 0);
        cr_expect_eq(p.status, 0);
        cr_expect(strstr(p.out, "usage: accelbench") != NULL);
        ab_proc_free(&p);
    }
}

Test(cli, list_reports_backends)
{
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"list", "--json", NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    json_error_t je;
    json_t *o = json_loads(p.out, 0, &je);
    cr_assert_not_null(o, "list --json is not JSON: %s", je.text);
    json_t *bs = json_object_get(o, "backends");
    cr_assert_eq(json_array_size(bs), 5); /* cpu, opencl, cuda, hip, pjrt */
    size_t i;
    json_t *b;
    json_array_foreach(bs, i, b)
    {
        bool avail = json_is_true(json_object_get(b, "available"));
        const char *why = json_string_value(json_object_get(b, "reason"));
        /* every backend is either available or says why not */
        cr_expect(avail || (why && *why), "backend %s: no reason",
                  json_string_value(json_object_get(b, "name")));
    }
    cr_expect_gt(json_array_size(json_object_get(o, "devices")), 0);
    json_decref(o);
    ab_proc_free(&p);
}

/* On a machine without the vendor's driver, each GPU backend is listed as unavailable with the
 * reason (or as not built, with the reason the configure step gave). */
static void expect_gpu_backend_reason(const char *name, const char *driver_missing_reason,
                                      const char *device_node)
{
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"list", "--json", NULL}), 0);
    cr_assert_eq(p.status, 0, "%s", p.err);
    json_t *o = json_loads(p.out, 0, NULL);
    cr_assert_not_null(o);
    json_t *b = NULL, *it;
    size_t i;
    json_array_foreach(json_object_get(o, "backends"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "name")), name) == 0)
            b = it;
    }
    cr_assert_not_null(b, "no %s backend listed", name);
    bool built = json_is_true(json_object_get(b, "built"));
    bool avail = json_is_true(json_object_get(b, "available"));
    const char *why = json_string_value(json_object_get(b, "reason"));
    if (!built) {
        cr_expect(why && strncmp(why, "not built: ", 11) == 0, "%s: reason '%s'", name, why);
    } else if (access(device_node, F_OK) != 0) {
        /* the driver is absent here: the backend must say so, not claim a device */
        cr_expect(!avail, "%s available without %s", name, device_node);
        cr_expect(why && strstr(why, driver_missing_reason), "%s: reason '%s'", name, why);
    }
    json_decref(o);
    ab_proc_free(&p);
}

Test(cli, hip_unavailable_without_amd_gpu)
{
    expect_gpu_backend_reason("hip", "no AMD GPU driver", "/dev/kfd");
}

Test(cli, cuda_unavailable_without_nvidia_driver)
{
    expect_gpu_backend_reason("cuda", "no NVIDIA driver", "/dev/nvidiactl");
}

/* Issue 5: without an AMD GPU, asking for hip:0 by name is an input error naming the reason
 * (exit 2, one line, nothing written), and the default --device all records every suite on hip
 * as a skip with that reason (exit 0). */
Test(cli, hip_device_asked_for_without_amd_gpu)
{
    if (access("/dev/kfd", F_OK) == 0)
        cr_skip_test("this machine has /dev/kfd");
#ifdef AB_HAVE_HIP
    expect_usage_error("--device hip:0: hip is unavailable: no AMD GPU driver",
                       (const char *[]){"run", "--device", "hip:0", NULL});
#else
    expect_usage_error("--device hip:0: hip is", (const char *[]){"run", "--device", "hip:0", NULL});
#endif
}

Test(cli, hip_skipped_with_reason_in_every_suite, .timeout = 300)
{
    if (access("/dev/kfd", F_OK) == 0)
        cr_skip_test("this machine has /dev/kfd");
    char *out = ab_test_tmpdir("cli-hip");
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0,
                             (const char *[]){"run", "--out", out, "--quiet", "--profile", "quick",
                                             "--suite", "gemm,membw.read,attention.decode",
                                             "--shape", "64", "--dtype", "f32", "--sizes",
                                             "32KiB", "--kv-len", "256", "--heads", "2",
                                             "--kv-heads", "1", "--head-dim", "64", "--batch",
                                             "1", NULL}),
                 0);
    cr_expect_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    char path[700];
    snprintf(path, sizeof(path), "%s/latest/results.csv", out);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    const char *suites[] = {"gemm", "membw", "attention"};
    int found[3] = {0, 0, 0};
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        if (!strstr(line, ",hip,"))
            continue;
        for (int s = 0; s < 3; s++) {
            char key[64];
            snprintf(key, sizeof(key), ",%s,", suites[s]);
            if (!strstr(line, key))
                continue;
            found[s]++;
            cr_expect(strstr(line, ",skip,") != NULL, "%s", line);
#ifdef AB_HAVE_HIP
            cr_expect(strstr(line, "hip: unavailable: no AMD GPU driver") != NULL, "%s", line);
#endif
        }
    }
    fclose(f);
    for (int s = 0; s < 3; s++)
        cr_expect_eq(found[s], 1, "%s: %d hip rows", suites[s], found[s]);
    ab_proc_free(&p);
}

/* Issue 14: suite parameters have a short form (--impl) and a namespaced one (--gemm.impl). */

/* Runs gemm and attention decode on the CPU backend with tiny shapes plus `extra`; returns the
 * results.csv text (caller frees) and the process in *p. */
static char *run_gemm_attention(ab_proc *p, const char *const *extra)
{
    char *out = ab_test_tmpdir("cli-params");
    const char *argv[48] = {"run", "--out", out, "--quiet", "--profile", "quick", "--device",
                            "cpu", "--suite", "gemm,attention.decode", "--shape", "64",
                            "--dtype", "f32", "--kv-len", "256", "--heads", "2", "--kv-heads",
                            "1", "--head-dim", "64", "--batch", "1"};
    size_t n = 24;
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert_eq(ab_test_run(p, 0, argv), 0);
    char path[700];
    snprintf(path, sizeof(path), "%s/latest/results.csv", out);
    FILE *f = fopen(path, "r");
    char *text = NULL;
    if (f) {
        text = calloc(1, 1 << 20);
        size_t got = fread(text, 1, (1 << 20) - 1, f);
        text[got] = '\0';
        fclose(f);
    }
    free(out);
    return text;
}

/* How many results.csv rows have suite `suite` and impl `impl` (NULL: any). */
static int rows(const char *csv, const char *suite, const char *impl)
{
    int n = 0;
    char want[64];
    snprintf(want, sizeof(want), ",%s,%s.", suite, suite);
    for (const char *l = csv; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        char line[4096];
        snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
        char *at = strstr(line, want);
        if (at) {
            /* ...,suite,key,impl,... */
            char *key = at + strlen(suite) + 2;
            char *comma = strchr(key, ',');
            char im[64] = "";
            if (comma)
                sscanf(comma + 1, "%63[^,]", im);
            if (!impl || strcmp(im, impl) == 0)
                n++;
        }
        l = e ? e + 1 : l + len;
    }
    return n;
}

/* A full selection with --impl fused: attention runs fused, gemm (whose --impl takes vendor or
 * portable) runs its default instead of refusing the whole command line. */
Test(cli, short_form_goes_to_the_suites_that_take_it, .timeout = 300)
{
    ab_proc p;
    char *csv = run_gemm_attention(&p, (const char *[]){"--impl", "fused", NULL});
    cr_assert_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    cr_assert_not_null(csv);
    cr_expect_gt(rows(csv, "attention", NULL), 0, "%s", csv);
    cr_expect_eq(rows(csv, "attention", NULL), rows(csv, "attention", "fused"), "%s", csv);
    cr_expect_gt(rows(csv, "gemm", "vendor"), 0, "%s", csv);
    cr_expect_gt(rows(csv, "gemm", "portable"), 0, "%s", csv);
    cr_expect(strstr(p.err, "--impl fused does not apply to gemm") != NULL, "stderr: %s", p.err);
    free(csv);
    ab_proc_free(&p);
}

/* --SUITE.NAME sets one suite's value and wins over the short form there. */
Test(cli, namespaced_form_wins_for_its_suite, .timeout = 300)
{
    ab_proc p;
    char *csv = run_gemm_attention(
        &p, (const char *[]){"--impl", "fused", "--gemm.impl", "portable", NULL});
    cr_assert_eq(p.status, 0, "exit %d: %s", p.status, p.err);
    cr_assert_not_null(csv);
    cr_expect_gt(rows(csv, "gemm", "portable"), 0, "%s", csv);
    cr_expect_eq(rows(csv, "gemm", "vendor"), 0, "%s", csv);
    cr_expect_gt(rows(csv, "attention", "fused"), 0, "%s", csv);
    cr_expect_eq(rows(csv, "attention", NULL), rows(csv, "attention", "fused"), "%s", csv);
    cr_expect(strstr(p.err, "does not apply") == NULL, "stderr: %s", p.err);
    free(csv);
    ab_proc_free(&p);
}

Test(cli, suite_parameter_errors)
{
    /* a value no selected suite takes */
    expect_usage_error("--impl bogus: no selected suite accepts it",
                       (const char *[]){"run", "--impl", "bogus", NULL});
    expect_usage_error("--dtype f33: no selected suite accepts it",
                       (const char *[]){"run", "--dtype", "f33", NULL});
    /* the only selected suite declaring it checks it as always */
    expect_usage_error("--impl: unknown value 'fused'",
                       (const char *[]){"run", "--suite", "gemm,membw", "--impl", "fused", NULL});
    /* the namespaced form is checked by its suite, whatever else is selected */
    expect_usage_error("gemm: --impl: unknown value 'fused'",
                       (const char *[]){"run", "--gemm.impl", "fused", NULL});
    expect_usage_error("attention: --impl",
                       (const char *[]){"run", "--attention.impl", "portable", NULL});
    expect_usage_error("--gemm.impl given twice",
                       (const char *[]){"run", "--gemm.impl", "vendor", "--gemm.impl", "vendor",
                                        NULL});
    expect_usage_error("--gemm.seq", (const char *[]){"run", "--gemm.seq", "1", NULL});
}

Test(cli, help_names_the_namespaced_form)
{
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"run", "--help", NULL}), 0);
    cr_expect_eq(p.status, 0);
    cr_expect(strstr(p.out, "--SUITE.NAME") != NULL, "%s", p.out);
    cr_expect(strstr(p.out, "no selected suite accepts") != NULL, "%s", p.out);
    ab_proc_free(&p);
}

/* Issue 14: what suites and runners need comes from the device's capabilities, which every
 * backend fills; the registry's declared kind (what compare reads from documents) matches. */
Test(cli, backends_declare_capabilities)
{
    ab_platform p;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_platform_init(&p, err), 0, "%s", err);
    cr_expect_gt(p.nbackends, 0);
    for (size_t i = 0; i < p.nbackends; i++) {
        ab_device_kind k;
        cr_expect(ab_backend_declared_kind(p.backends[i].name, &k), "%s: no declared kind",
                  p.backends[i].name);
    }
    for (size_t i = 0; i < p.ndevices; i++) {
        const ab_device *d = &p.devices[i];
        ab_device_kind k = AB_KIND_COUNT;
        cr_assert(ab_backend_declared_kind(d->backend->name, &k));
        cr_expect_eq(d->info.kind, k, "%s: kind %d, declared %d", d->id, d->info.kind, k);
        const ab_suite_impls *impls = ab_device_impls(d);
        cr_assert_not_null(impls);
        if (d->info.kind == AB_KIND_HOST) {
            cr_expect_gt(d->info.threads, 0, "%s", d->id);
            cr_expect(d->info.host_memory, "%s", d->id);
            cr_expect_eq(d->info.sampler, AB_SAMPLER_HOST_CPU, "%s", d->id);
            cr_expect_not_null(d->backend->ops->host_cpu, "%s", d->id);
            cr_expect_not_null(d->backend->ops->counters, "%s", d->id);
        } else {
            cr_expect_eq(d->info.threads, 0, "%s", d->id);
        }
        /* the backends built here implement every suite */
        cr_expect(impls->membw && impls->gemm && impls->attention && impls->tokens, "%s", d->id);
    }
    ab_device_kind k;
    cr_expect(!ab_backend_declared_kind("nosuch", &k));
    cr_expect(!ab_backend_declared_kind(NULL, &k));
    /* a device without a backend table reads as "implements nothing", never NULL */
    ab_device none;
    memset(&none, 0, sizeof(none));
    cr_expect_null(ab_device_impls(&none)->gemm);
    ab_platform_fini(&p);
}

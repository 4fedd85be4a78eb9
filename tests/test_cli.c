/* SPDX-License-Identifier: MIT */
/* Bad input gets one line on stderr, the documented exit code, and leaves no files behind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <unistd.h>

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
    cr_assert_eq(json_array_size(bs), 4);
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

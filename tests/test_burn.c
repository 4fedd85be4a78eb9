/* SPDX-License-Identifier: MIT */
/*
 * The burn suite and its health verdict: on cpu + opencl:0 at once (the default), a wrong
 * answer fails it, health counters read from the NVML/ROCm SMI stand-in (tests/fake_gpumgmt.c)
 * fail it when they grow, SIGINT keeps every finished interval, bad input is a usage error.
 */
#include "../probes/health.h"
#include "../suites/burn/burn_verdict.h"
#include "suite_helpers.h"

#include <dlfcn.h>
#include <signal.h>

/* short: 2 intervals of 0.4 s, a 64-cube GEMM, a 3 MiB triad */
#define SHORT                                                                                      \
    "--profile", "quick", "--duration", "0.8", "--interval", "0.4", "--burn-size", "64",           \
        "--membw-size", "3MiB", "--quiet"

static const ab_result *find(const ab_run *run, const char *device, const char *key, size_t *n)
{
    const ab_result *last = NULL;
    *n = 0;
    for (size_t i = 0; i < run->nresults; i++)
        if (strcmp(run->results[i]->device, device) == 0 &&
            strcmp(run->results[i]->key, key) == 0) {
            last = run->results[i];
            (*n)++;
        }
    return last;
}

static const char *check_state(const ab_result *r, const char *counter)
{
    json_t *c =
        json_object_get(json_object_get(json_object_get(r->extra, "health"), "counters"), counter);
    return json_string_value(json_object_get(c, "check"));
}

Test(burn, healthy_on_cpu_and_opencl_at_once, .timeout = 300)
{
    ab_run *run =
        ab_test_run_doc("burn-ok", AB_EXIT_OK, 0, NULL,
                        (const char *[]){"--suite", "burn", "--device", "cpu,opencl:0", NULL},
                        (const char *[]){SHORT, NULL});
    const char *devs[2] = {"cpu", "opencl:0"};
    for (int d = 0; d < 2; d++) {
        size_t ng, nm, nh;
        const ab_result *g = find(run, devs[d], "burn.gemm", &ng);
        const ab_result *m = find(run, devs[d], "burn.membw", &nm);
        const ab_result *h = find(run, devs[d], "burn.health", &nh);
        cr_expect_eq(ng, 2, "%s: %zu gemm intervals", devs[d], ng);
        cr_expect_eq(nm, 2, "%s: %zu membw intervals", devs[d], nm);
        cr_assert_eq(nh, 1);
        cr_assert_not_null(g);
        cr_assert_not_null(m);
        cr_expect_eq(g->status, AB_PASS, "%s", g->reason);
        cr_expect_eq(m->status, AB_PASS, "%s", m->reason);
        cr_expect_eq(h->status, AB_PASS, "%s: %s", devs[d], h->reason);
        /* burn defaults to every device at once */
        cr_expect_eq(json_integer_value(json_object_get(h->params, "concurrent")), 2);
        cr_expect_gt(ab_result_metric(g, "throughput")->stats.median, 0);
        cr_expect_gt(ab_result_metric(h, "sustained_throughput")->nsamples, 1);
        /* no management library for OpenCL (and no EDAC in most VMs): said, not passed */
        json_t *c = json_object_get(json_object_get(h->extra, "health"), "counters");
        if (d == 1 || !json_object_get(c, "ecc_corrected")) {
            cr_expect_str_eq(json_string_value(json_object_get(c, "check")), "unavailable");
            cr_expect_not_null(json_string_value(json_object_get(c, "reason")));
        } else {
            cr_expect_str_eq(check_state(h, "ecc_corrected"), "pass");
        }
    }
    ab_run_free(run);
}

Test(burn, a_wrong_answer_fails_the_device_and_the_run, .timeout = 300)
{
    char *out = NULL;
    ab_run *run = ab_test_run_doc("burn-bad", AB_EXIT_FAIL, 0, &out,
                                  (const char *[]){"--suite", "burn", "--device", "cpu", NULL},
                                  (const char *[]){SHORT, "--test-corrupt", "burn.gemm", NULL});
    size_t n;
    const ab_result *h = find(run, "cpu", "burn.health", &n);
    cr_assert_not_null(h);
    cr_expect_eq(h->status, AB_FAIL);
    cr_expect(h->reason && strstr(h->reason, "interval 0 gemm f32") &&
                  strstr(h->reason, "interval 1 gemm f32"),
              "reason: %s", h->reason);
    cr_expect(strstr(out, "unhealthy: interval 0 gemm"), "summary does not say why: %s", out);
    free(out);
    ab_run_free(run);
    run = ab_test_run_doc("burn-bad-mb", AB_EXIT_FAIL, 0, NULL,
                          (const char *[]){"--suite", "burn", "--device", "opencl:0", NULL},
                          (const char *[]){SHORT, "--test-corrupt", "burn.membw", NULL});
    h = find(run, "opencl:0", "burn.health", &n);
    cr_assert_not_null(h);
    cr_expect(h->status == AB_FAIL && strstr(h->reason, "membw f32: 1 of"), "%s", h->reason);
    ab_run_free(run);
}

/* The CPU device read through the stand-in NVML's GPU (the test hook; labelled as such). */
static ab_run *stand_in_run(const char *tag, const char *grow, const char *xid, int want)
{
    setenv("ACCELBENCH_NVML_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    setenv("ACCELBENCH_TEST_HEALTH_NVML", "0000:18:00.0", 1);
    if (grow) setenv("FAKE_GPU_GROW", grow, 1);
    if (xid) setenv("FAKE_GPU_XID", xid, 1);
    ab_run *run = ab_test_run_doc(tag, want, 0, NULL,
                                  (const char *[]){"--suite", "burn", "--device", "cpu", NULL},
                                  (const char *[]){SHORT, NULL});
    unsetenv("FAKE_GPU_GROW");
    unsetenv("FAKE_GPU_XID");
    unsetenv("ACCELBENCH_TEST_HEALTH_NVML");
    return run;
}

Test(burn, health_counters_from_the_stand_in, .timeout = 300)
{
    ab_run *run = stand_in_run("burn-nv-ok", NULL, NULL, AB_EXIT_OK);
    size_t n;
    const ab_result *h = find(run, "cpu", "burn.health", &n);
    cr_assert_not_null(h);
    cr_expect_eq(h->status, AB_PASS, "%s", h->reason);
    cr_expect_str_eq(h->impl, "nvml");
    for (int i = 0; i < AB_HC_COUNT; i++)
        cr_expect_str_eq(check_state(h, ab_health_name(i)), "pass", "%s", ab_health_name(i));
    const char *src =
        json_string_value(json_object_get(json_object_get(h->extra, "health"), "counters_source"));
    cr_expect(src && strstr(src, "STAND-IN"), "the stand-in is not labelled: %s", src);
    ab_run_free(run);

    run = stand_in_run("burn-nv-ecc", "ecc_uncorrected,remapped_rows", NULL, AB_EXIT_FAIL);
    h = find(run, "cpu", "burn.health", &n);
    cr_assert_not_null(h);
    cr_expect_eq(h->status, AB_FAIL);
    cr_expect(h->reason && strstr(h->reason, "ecc_uncorrected grew by 1") &&
                  strstr(h->reason, "remapped_rows grew by 1"),
              "reason: %s", h->reason);
    cr_expect_str_eq(check_state(h, "ecc_uncorrected"), "fail");
    cr_expect_str_eq(check_state(h, "ecc_corrected"), "pass");
    ab_run_free(run);

    run = stand_in_run("burn-nv-xid", "pcie_replay", "79", AB_EXIT_FAIL);
    h = find(run, "cpu", "burn.health", &n);
    cr_assert_not_null(h);
    cr_expect(h->reason && strstr(h->reason, "pcie_replay grew") &&
                  strstr(h->reason, "1 XID event (last XID 79)"),
              "reason: %s", h->reason);
    ab_run_free(run);
}

Test(burn, health_counters_in_process)
{
    setenv("ACCELBENCH_NVML_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    setenv("ACCELBENCH_ROCM_SMI_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    void *dl = dlopen(AB_TEST_FAKE_GPU_LIB, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(dl);
    int (*set)(const char *, unsigned long long) =
        (int (*)(const char *, unsigned long long))dlsym(dl, "fake_gpumgmt_set");
    cr_assert_not_null(set);
    char why[AB_ERRLEN] = "", problems[1024];
    ab_health *h = NULL;
    cr_expect_eq(ab_health_open("nvml", "0000:99:00.0", &h, why), -1);
    cr_expect(strstr(why, "no GPU at PCI"), "%s", why);
    cr_assert_eq(ab_health_open("nvml", "18:00.0", &h, why), 0, "%s", why);
    ab_health_reading a, b;
    ab_health_read(h, &a);
    set("remap_pending", 1);
    set("retired_pages", 2);
    ab_health_read(h, &b);
    json_t *o = ab_health_judge(&a, &b, problems, sizeof(problems));
    cr_expect(strstr(problems, "retired_pages grew by 2") && strstr(problems, "remap_pending set"),
              "%s", problems);
    json_decref(o);
    /* no change and no flag set: no problem; a flag still set at the end fails by itself */
    o = ab_health_judge(&a, &a, problems, sizeof(problems));
    cr_expect_str_eq(problems, "");
    json_decref(o);
    o = ab_health_judge(&b, &b, problems, sizeof(problems));
    cr_expect_str_eq(problems, "remap_pending set");
    json_decref(o);
    ab_health_close(h);
    set("remap_pending", 0);
    /* ROCm SMI: ECC, replays and reserved pages; no remaps, no XID (unavailable, with reasons) */
    cr_assert_eq(ab_health_open("rocm_smi", "0000:c1:00.0", &h, why), 0, "%s", why);
    ab_health_read(h, &a);
    set("ecc_corrected", 9);
    ab_health_read(h, &b);
    o = ab_health_judge(&a, &b, problems, sizeof(problems));
    cr_expect(strstr(problems, "ecc_corrected grew by 6 (3 -> 9)"), "%s", problems);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(o, "xid_events"), "check")),
                     "unavailable");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(o, "pcie_replay"), "check")),
                     "pass");
    json_decref(o);
    ab_health_close(h);
    dlclose(dl);
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[900], cmd[1000];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
    cr_assert_eq(system(cmd), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(burn, host_ecc_from_edac)
{
    char *root = ab_test_tmpdir("edac");
    char why[AB_ERRLEN] = "", problems[1024];
    ab_health *h = NULL;
    setenv("ACCELBENCH_PROBE_ROOT", root, 1);
    cr_expect_eq(ab_health_open("edac", NULL, &h, why), -1);
    cr_expect(strstr(why, "no EDAC memory controller"), "%s", why);
    const char *mc = "sys/devices/system/edac/mc";
    char rel[128];
    for (int i = 0; i < 2; i++) {
        snprintf(rel, sizeof(rel), "%s/mc%d/ce_count", mc, i);
        write_file(root, rel, i ? "1\n" : "2\n");
        snprintf(rel, sizeof(rel), "%s/mc%d/ue_count", mc, i);
        write_file(root, rel, "0\n");
    }
    cr_assert_eq(ab_health_open("edac", NULL, &h, why), 0, "%s", why);
    cr_expect_str_eq(ab_health_source(h), "edac");
    ab_health_reading a, b;
    ab_health_read(h, &a);
    snprintf(rel, sizeof(rel), "%s/mc1/ce_count", mc);
    write_file(root, rel, "5\n");
    ab_health_read(h, &b);
    json_t *o = ab_health_judge(&a, &b, problems, sizeof(problems));
    cr_expect_str_eq(problems, "ecc_corrected grew by 4 (3 -> 7)");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(o, "xid_events"), "check")),
                     "unavailable");
    json_decref(o);
    ab_health_close(h);
    unsetenv("ACCELBENCH_PROBE_ROOT");
    free(root);
}

Test(burn, throttle_share_counts_thermal_and_brake_states_only)
{
    json_t *s = json_pack("{s:i,s:{s:s,s:[{s:s,s:i},{s:s,s:i},{s:s,s:i}]}}", "samples", 40,
                          "throttle_reasons", "status", "ok", "value", "reason", "sw_power_cap",
                          "samples", 40, "reason", "hw_slowdown", "samples", 6, "reason",
                          "hw_thermal_slowdown", "samples", 10);
    double share;
    char reason[64], why[256];
    cr_assert_eq(burn_throttle_share(s, &share, reason, sizeof(reason), why, sizeof(why)), 1);
    cr_expect_float_eq(share, 0.25, 1e-12);
    cr_expect_str_eq(reason, "hw_thermal_slowdown");
    json_decref(s);
    s = json_pack("{s:i,s:{s:s,s:s}}", "samples", 40, "throttle_reasons", "status", "unavailable",
                  "reason", "no throttle reasons here");
    cr_expect_eq(burn_throttle_share(s, &share, reason, sizeof(reason), why, sizeof(why)), 0);
    cr_expect_str_eq(why, "no throttle reasons here");
    json_decref(s);
}

Test(burn, sigint_keeps_every_finished_interval, .timeout = 300)
{
    char *dir = ab_test_tmpdir("burn-int");
    char jpath[700], path[700], err[AB_ERRLEN] = "";
    snprintf(jpath, sizeof(jpath), "%s/r/%s", dir, AB_JOURNAL_NAME);
    snprintf(path, sizeof(path), "%s/r/run.json", dir);
    ab_proc p;
    /* 100 intervals planned; SIGINT once the journal holds 6 results (header + 6) */
    cr_assert_eq(
        ab_test_run_signal_when(
            &p, jpath, 7, SIGINT,
            (const char *[]){"run",  "--out",      dir,   "--run-id",    "r",     "--suite",
                             "burn", "--device",   "cpu", "--profile",   "quick", "--duration",
                             "30",   "--interval", "0.3", "--burn-size", "64",    "--membw-size",
                             "3MiB", "--quiet",    NULL}),
        0);
    cr_expect_eq(p.status, AB_EXIT_INTERRUPTED, "exit %d: %s", p.status, p.err);
    ab_proc_free(&p);
    ab_run *run = ab_run_read(path, err);
    cr_assert_not_null(run, "%s", err);
    cr_expect(run->interrupted);
    size_t ng, nm, nh;
    find(run, "cpu", "burn.gemm", &ng);
    find(run, "cpu", "burn.membw", &nm);
    const ab_result *h = find(run, "cpu", "burn.health", &nh);
    cr_expect_geq(ng + nm, 6, "%zu intervals kept", ng + nm);
    cr_expect_lt(ng, 100);
    /* every kept interval in order, each passed; the verdict says it is none */
    long next[2] = {0, 0};
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        int k = strcmp(r->key, "burn.gemm") == 0 ? 0 : strcmp(r->key, "burn.membw") == 0 ? 1 : -1;
        if (k < 0) continue;
        cr_expect_eq(json_integer_value(json_object_get(r->params, "interval")), next[k]++);
        cr_expect_eq(r->status, AB_PASS, "%s: %s", r->key, r->reason);
    }
    cr_assert_eq(nh, 1);
    cr_expect_eq(h->status, AB_SKIP);
    cr_expect(h->reason && strstr(h->reason, "interrupted after"), "%s", h->reason);
    cr_expect_eq(run->nresults + 1, ab_file_lines(jpath), "run.json and the journal disagree");
    ab_run_free(run);
    free(dir);
}

Test(burn, bad_input_is_a_usage_error)
{
    ab_test_expect_usage("burn", "--interval 5 s is longer than --duration 2 s",
                         (const char *[]){"--duration", "2", "--interval", "5", NULL});
    ab_test_expect_usage("burn", "--duration", (const char *[]){"--duration", "-1", NULL});
    ab_test_expect_usage("burn", "not i8", (const char *[]){"--dtype", "i8", NULL});
    ab_test_expect_usage("burn", "--throttle-share: 2 is above 1",
                         (const char *[]){"--throttle-share", "2", NULL});
    ab_test_expect_usage("burn", "--burn-size", (const char *[]){"--burn-size", "8", NULL});
    ab_test_expect_usage("burn", "--membw-size", (const char *[]){"--membw-size", "1KiB", NULL});
}

/* SPDX-License-Identifier: MIT */
/*
 * Probes (issue 7): hwloc XML fixtures of machines we do not have (two sockets; an 8-GPU node),
 * DMI strings of AWS, GCP, Azure and OCI instances, NVML and ROCm SMI absent (unavailable with
 * the reason), the same libraries present through a fake that answers like them, the sampler's
 * window arithmetic (energy interpolated at the edges, throttle flag) and its rate, PAPI
 * disabled (the reason), the CPU power source over a fake sysfs, and `accelbench probe`'s
 * usage errors. Criterion runs every test in its own process, so setenv stays local.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ab.h"
#include "helpers.h"
#include "probes/counters.h"
#include "probes/cpupower.h"
#include "probes/gpumgmt.h"
#include "probes/probe.h"
#include "probes/sampler.h"
#include "probes/topo.h"

#ifdef AB_HAVE_HWLOC
#define NEED_HWLOC() ((void)0)
#else
#define NEED_HWLOC() cr_skip_test("not built with hwloc: topology fixtures cannot be replayed")
#endif

/* ---- helpers ---- */

/* The field at a dotted path ("host.cpu.cores", "accelerators.3.numa_node"). */
static json_t *at(json_t *o, const char *path)
{
    char buf[256];
    ab_strlcpy(buf, path, sizeof(buf));
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save)) {
        if (json_is_array(o))
            o = json_array_get(o, (size_t)atoi(t));
        else if (ab_field_value(o) && json_is_object(ab_field_value(o)) && !json_object_get(o, t))
            o = json_object_get(ab_field_value(o), t); /* step into an ok field's value */
        else if (ab_field_value(o) && json_is_array(ab_field_value(o)))
            o = json_array_get(ab_field_value(o), (size_t)atoi(t));
        else
            o = json_object_get(o, t);
    }
    return o;
}

static const char *st(json_t *o, const char *path)
{
    const char *s = ab_field_status(at(o, path));
    return s ? s : "(not a field)";
}

static const char *reason(json_t *o, const char *path)
{
    const char *r = json_string_value(json_object_get(at(o, path), "reason"));
    return r ? r : "";
}

/* The value at a path: an ok field's value, or a plain value inside one. */
static json_t *val(json_t *o, const char *path)
{
    json_t *n = at(o, path);
    return ab_field_status(n) ? ab_field_value(n) : n;
}

static const char *sval(json_t *o, const char *path)
{
    const char *s = json_string_value(val(o, path));
    return s ? s : "(none)";
}

static long long ival(json_t *o, const char *path)
{
    json_t *v = val(o, path);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static double rval(json_t *o, const char *path)
{
    json_t *v = val(o, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *replay(const char *root, const char *topo)
{
    char r[1024], t[1024];
    ab_probe_opts o = {0};
    if (root) {
        snprintf(r, sizeof(r), "%s/%s", AB_TEST_FIXTURES, root);
        o.root = r;
    }
    if (topo) {
        snprintf(t, sizeof(t), "%s/%s", AB_TEST_FIXTURES, topo);
        o.topology = t;
    }
    o.no_vendor = true;
    json_t *m = ab_manifest(&o);
    cr_assert_not_null(m);
    return m;
}

/* ---- fields ---- */

Test(probes, field_helpers)
{
    json_t *o = json_object();
    ab_field_str(o, "a", "  x  ", "here", "empty");
    ab_field_str(o, "b", "   ", "here", "nothing there");
    ab_field_str(o, "c", NULL, "here", "no value");
    cr_expect_str_eq(sval(o, "a"), "x");
    cr_expect_str_eq(st(o, "b"), "unavailable");
    cr_expect_str_eq(reason(o, "b"), "nothing there");
    cr_expect_str_eq(reason(o, "c"), "no value");
    ab_field_error(o, "d", "broken: %d", 42);
    cr_expect_str_eq(st(o, "d"), "error");
    cr_expect_str_eq(reason(o, "d"), "broken: 42");
    json_decref(o);
}

/* ---- cloud from DMI fixtures ---- */

Test(probes, cloud_aws_nitro)
{
    json_t *m = replay("dmi/aws-p5", NULL);
    cr_expect_str_eq(sval(m, "cloud.provider"), "aws");
    cr_expect_str_eq(sval(m, "cloud.instance_type"), "p5.48xlarge");
    cr_expect_str_eq(sval(m, "host.virtualization.type"), "vm");
    cr_expect_str_eq(sval(m, "host.virtualization.hypervisor"), "KVM (AWS Nitro)");
    cr_expect_str_eq(sval(m, "host.firmware.bios_vendor"), "Amazon EC2");
    /* an empty DMI string is unavailable, never "" */
    cr_expect_str_eq(st(m, "host.firmware.product_version"), "unavailable");
    json_decref(m);
}

Test(probes, cloud_aws_xen)
{
    json_t *m = replay("dmi/aws-xen", NULL);
    cr_expect_str_eq(sval(m, "cloud.provider"), "aws");
    cr_expect_str_eq(st(m, "cloud.instance_type"), "unavailable");
    cr_expect(strstr(reason(m, "cloud.instance_type"), "metadata") != NULL, "%s",
              reason(m, "cloud.instance_type"));
    cr_expect_str_eq(sval(m, "host.virtualization.hypervisor"), "Xen");
    json_decref(m);
}

Test(probes, cloud_gcp)
{
    json_t *m = replay("dmi/gcp-a3", NULL);
    cr_expect_str_eq(sval(m, "cloud.provider"), "gcp");
    cr_expect_str_eq(st(m, "cloud.instance_type"), "unavailable");
    cr_expect(strstr(reason(m, "cloud.instance_type"), "no network") != NULL);
    json_decref(m);
}

Test(probes, cloud_azure)
{
    json_t *m = replay("dmi/azure-nd", NULL);
    cr_expect_str_eq(sval(m, "cloud.provider"), "azure");
    cr_expect_str_eq(sval(m, "cloud.instance_type"), "Standard_ND96isr_H100_v5");
    cr_expect(strstr(json_string_value(json_object_get(at(m, "cloud.instance_type"), "source")),
                     "cloud-init") != NULL);
    cr_expect_str_eq(sval(m, "cloud.region"), "eastus");
    cr_expect_str_eq(sval(m, "host.virtualization.hypervisor"), "Hyper-V");
    json_decref(m);
}

Test(probes, cloud_oci)
{
    json_t *m = replay("dmi/oci-vm", NULL);
    cr_expect_str_eq(sval(m, "cloud.provider"), "oci");
    cr_expect_str_eq(st(m, "cloud.instance_type"), "unavailable");
    json_decref(m);
}

Test(probes, cloud_onprem_and_placeholders)
{
    json_t *m = replay("dmi/onprem", NULL);
    cr_expect_str_eq(sval(m, "cloud.provider"), "none");
    cr_expect_str_eq(sval(m, "host.firmware.sys_vendor"), "Supermicro");
    cr_expect(strstr(reason(m, "host.firmware.product_version"), "placeholder") != NULL);
    /* SMBIOS type 17: one populated module, the empty slot is not counted */
    cr_expect_eq(ival(m, "host.memory.dimm_speed_mts.modules"), 1);
    cr_expect_eq(ival(m, "host.memory.dimm_speed_mts.max"), 4800);
    cr_expect_eq(ival(m, "host.memory.dimm_speed_mts.configured"), 4400);
    json_decref(m);
}

Test(probes, cloud_without_dmi)
{
    char *empty = ab_test_tmpdir("nodmi");
    ab_probe_opts o = {.root = empty, .no_vendor = true};
    json_t *c = ab_probe_cloud(&o);
    cr_expect_str_eq(st(c, "provider"), "unavailable");
    cr_expect(strstr(reason(c, "provider"), "No such file") != NULL, "%s", reason(c, "provider"));
    json_decref(c);
    free(empty);
}

/* ---- hwloc XML fixtures ---- */

Test(probes, two_socket_topology)
{
    NEED_HWLOC();
    json_t *m = replay("dmi/onprem", "topo/two-socket.xml");
    cr_expect_eq(ival(m, "host.cpu.sockets"), 2);
    cr_expect_eq(ival(m, "host.cpu.numa_nodes"), 2);
    cr_expect_eq(ival(m, "host.cpu.cores"), 64);
    cr_expect_eq(ival(m, "host.cpu.pus"), 128);
    json_t *caches = ab_field_value(at(m, "host.cpu.caches"));
    cr_assert_eq(json_array_size(caches), 4);
    struct {
        int level;
        const char *type;
        long long size, n;
    } want[] = {{1, "data", 49152, 64},
                {1, "instruction", 32768, 64},
                {2, "unified", 2097152, 64},
                {3, "unified", 62914560, 2}};
    for (size_t i = 0; i < 4; i++) {
        json_t *c = json_array_get(caches, i);
        cr_expect_eq(json_integer_value(json_object_get(c, "level")), want[i].level);
        cr_expect_str_eq(json_string_value(json_object_get(c, "type")), want[i].type);
        cr_expect_eq(json_integer_value(json_object_get(c, "size_bytes")), want[i].size);
        cr_expect_eq(json_integer_value(json_object_get(c, "instances")), want[i].n);
    }
    json_t *nodes = ab_field_value(at(m, "host.memory.numa_nodes"));
    cr_expect_eq(json_array_size(nodes), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(nodes, 1), "cpus")),
                     "64-127");
    cr_expect_eq(json_array_size(json_object_get(m, "accelerators")), 0);
    json_decref(m);
}

Test(probes, eight_gpu_node)
{
    NEED_HWLOC();
    json_t *m = replay("sys-8gpu", "topo/8gpu-node.xml");
    json_t *acc = json_object_get(m, "accelerators");
    cr_assert_eq(json_array_size(acc), 8, "the BMC's VGA must not count as an accelerator");
    static const char *const bus[8] = {"0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
                                       "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0",
                                       "0000:ba:00.0", "0000:db:00.0"};
    for (int i = 0; i < 8; i++) {
        json_t *a = json_array_get(acc, (size_t)i);
        char p[64];
        cr_expect_str_eq(json_string_value(json_object_get(a, "pci_bus_id")), bus[i]);
        cr_expect_str_eq(json_string_value(json_object_get(a, "vendor")), "NVIDIA");
        cr_expect_str_eq(sval(a, "name"), "GH100 [H100 SXM5 80GB]");
        /* idle GPUs train their link down: current gen1, max gen5, both x16 */
        cr_expect_eq(ival(a, "pcie_link.current.generation"), 1);
        cr_expect_eq(ival(a, "pcie_link.max.generation"), 5);
        cr_expect_eq(ival(a, "pcie_link.current.width"), 16);
        cr_expect_eq(ival(a, "pcie_link.max.width"), 16);
        cr_expect_eq(ival(a, "numa_node"), i / 4, "GPU %d", i);
        snprintf(p, sizeof(p), "%s", i < 4 ? "0-111" : "112-223");
        cr_expect_str_eq(
            json_string_value(json_object_get(ab_field_value(at(a, "nearest_cpus")), "cpus")), p);
        cr_expect_eq(
            json_integer_value(json_object_get(ab_field_value(at(a, "nearest_cpus")), "cores")),
            56);
    }
    json_decref(m);
}

Test(probes, gpu_locality_for_pinning)
{
    NEED_HWLOC();
    char why[AB_ERRLEN], path[1024];
    snprintf(path, sizeof(path), "%s/topo/8gpu-node.xml", AB_TEST_FIXTURES);
    ab_topo *t = ab_topo_load(path, why);
    cr_assert_not_null(t, "%s", why);
    ab_locality loc;
    /* NVML spells bus ids with an 8-digit domain and upper case */
    cr_assert_eq(ab_topo_pci_locality(t, "00000000:9A:00.0", &loc, why), 0, "%s", why);
    cr_expect_eq(CPU_COUNT(&loc.set), 112);
    cr_expect(CPU_ISSET(112, &loc.set) && CPU_ISSET(223, &loc.set) && !CPU_ISSET(0, &loc.set));
    cr_expect_eq(loc.numa_node, 1);
    cr_expect_eq(ab_topo_pci_locality(t, "0000:77:00.0", &loc, why), -1);
    cr_expect(strstr(why, "not in the hwloc topology") != NULL, "%s", why);
    cr_expect_eq(ab_topo_pci_locality(t, "garbage", &loc, why), -1);
    ab_topo_free(t);
}

/* ---- NVML and ROCm SMI ---- */

Test(probes, nvml_absent)
{
    setenv("ACCELBENCH_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    json_t *n = ab_probe_nvml();
    const char *keys[] = {"library", "driver_version", "cuda_driver_version", "devices"};
    for (size_t i = 0; i < 4; i++) {
        cr_expect_str_eq(st(n, keys[i]), "unavailable", "%s", keys[i]);
        cr_expect(strstr(reason(n, keys[i]), "libnvidia-ml.so.1") != NULL, "%s: %s", keys[i],
                  reason(n, keys[i]));
    }
    json_decref(n);
    ab_sample_source src;
    char why[AB_ERRLEN];
    cr_expect_eq(ab_nvml_source("0000:18:00.0", &src, why), -1);
    cr_expect(strstr(why, "libnvidia-ml.so.1") != NULL, "%s", why);
}

Test(probes, rocm_smi_absent)
{
    setenv("ACCELBENCH_ROCM_SMI_LIB", "/nonexistent/librocm_smi64.so", 1);
    json_t *r = ab_probe_rocm_smi();
    cr_expect_str_eq(st(r, "library"), "unavailable");
    cr_expect(strstr(reason(r, "library"), "librocm_smi64.so") != NULL, "%s", reason(r, "library"));
    cr_expect_str_eq(st(r, "devices"), "unavailable");
    json_decref(r);
}

Test(probes, nvml_init_fails)
{
    setenv("ACCELBENCH_NVML_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    setenv("FAKE_GPU_FAIL_INIT", "1", 1);
    json_t *n = ab_probe_nvml();
    cr_expect_str_eq(st(n, "library"), "unavailable");
    cr_expect(strstr(reason(n, "library"), "nvmlInit failed: Driver Not Loaded") != NULL, "%s",
              reason(n, "library"));
    json_decref(n);
}

Test(probes, nvml_through_fake_library)
{
    setenv("ACCELBENCH_NVML_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    json_t *n = ab_probe_nvml();
    cr_expect_str_eq(sval(n, "driver_version"), "550.54.15");
    cr_expect_str_eq(sval(n, "cuda_driver_version"), "12.4");
    json_t *devs = ab_field_value(at(n, "devices"));
    cr_assert_eq(json_array_size(devs), 2);
    json_t *d1 = json_array_get(devs, 1);
    cr_expect_str_eq(sval(d1, "name"), "NVIDIA H100 80GB HBM3");
    cr_expect_str_eq(sval(d1, "pci_bus_id"), "0000:2a:00.0");
    cr_expect_str_eq(sval(d1, "vbios"), "96.00.99.00.01");
    cr_expect_eq(ival(d1, "clocks_mhz.sm.current"), 1980);
    cr_expect_eq(ival(d1, "clocks_mhz.sm.application"), 1755);
    cr_expect_eq(ival(d1, "clocks_mhz.memory.max"), 2619);
    cr_expect_eq(rval(d1, "power_limit_w.current"), 700.0);
    cr_expect_eq(ival(d1, "ecc_errors.aggregate_corrected"), 3);
    cr_expect_str_eq(st(d1, "mig_mode"), "unavailable");
    cr_expect(strstr(reason(d1, "mig_mode"), "not supported") != NULL);
    cr_expect_eq(json_array_size(ab_field_value(at(d1, "nvlink"))), 18);
    json_t *thr = ab_field_value(at(d1, "throttle_reasons"));
    cr_expect_eq(json_array_size(thr), 1);
    cr_expect_str_eq(json_string_value(json_array_get(thr, 0)), "sw_power_cap");
    cr_expect_eq(ival(d1, "pcie_link.max_generation"), 5);
    cr_expect_gt(rval(d1, "energy_counter_j"), 999.0);
    json_decref(n);
}

Test(probes, rocm_smi_through_fake_library)
{
    setenv("ACCELBENCH_ROCM_SMI_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    json_t *r = ab_probe_rocm_smi();
    cr_expect_str_eq(sval(r, "rocm_smi_version"), "7.0.0");
    cr_expect_str_eq(sval(r, "driver_version"), "6.7.0-fake");
    json_t *d = json_array_get(ab_field_value(at(r, "devices")), 0);
    cr_assert_not_null(d);
    cr_expect_str_eq(sval(d, "name"), "AMD Instinct MI300X");
    cr_expect_str_eq(sval(d, "pci_bus_id"), "0000:c1:00.0");
    cr_expect_str_eq(sval(d, "vbios"), "113-M3000100-102");
    /* ROCm 6 frequency layout: current index 2 of 3 */
    cr_expect_float_eq(rval(d, "clocks_mhz.gfx.current"), 2100.0, 1e-9);
    cr_expect_float_eq(rval(d, "clocks_mhz.memory.current"), 1300.0, 1e-9);
    cr_expect_float_eq(rval(d, "temperature_c"), 48.0, 1e-9); /* junction: no edge sensor */
    cr_expect_float_eq(rval(d, "power_w"), 750.0, 1e-9);      /* socket power */
    cr_expect_str_eq(st(d, "throttle_reasons"), "unavailable");
    json_decref(r);
}

/* ---- the sampler's arithmetic ---- */

static ab_sample_source fake_caps(bool energy, bool power, bool throttle)
{
    ab_sample_source s;
    memset(&s, 0, sizeof(s));
    s.name = "fake";
    ab_strlcpy(s.clock_what, "fake clock", sizeof(s.clock_what));
    ab_strlcpy(s.energy_what, "fake counter", sizeof(s.energy_what));
    if (!energy) ab_strlcpy(s.why_energy, "no counter", sizeof(s.why_energy));
    if (!power) ab_strlcpy(s.why_power, "no power", sizeof(s.why_power));
    if (!throttle) ab_strlcpy(s.why_throttle, "no reasons", sizeof(s.why_throttle));
    ab_strlcpy(s.why_temp, "no temperature", sizeof(s.why_temp));
    ab_strlcpy(s.why_mem_clock, "no memory clock", sizeof(s.why_mem_clock));
    return s;
}

static void ramp(ab_sample *v, int n, double watts)
{
    for (int i = 0; i < n; i++) {
        v[i] = (ab_sample){.t = i,
                           .clock_mhz = 1000 + 10 * i,
                           .mem_clock_mhz = NAN,
                           .power_w = watts,
                           .temp_c = NAN,
                           .energy_j = watts * i,
                           .throttle_valid = true};
    }
}

Test(probes, sampler_energy_interpolated_at_edges)
{
    ab_sample v[11];
    ramp(v, 11, 100.0);
    ab_sample_source src = fake_caps(true, true, true);
    json_t *o = ab_sampler_summarize(&src, v, 11, 2.5, 7.25, 1.0);
    /* 100 W between t = 2.5 and 7.25: the counter interpolated at both edges */
    cr_expect_float_eq(rval(o, "energy_j"), 475.0, 1e-9);
    cr_expect_float_eq(rval(o, "mean_power_w"), 100.0, 1e-9);
    cr_expect_eq(json_integer_value(json_object_get(o, "samples")), 5); /* t = 3..7 */
    cr_expect_float_eq(rval(o, "clock_mhz.min"), 1030.0, 1e-9);
    cr_expect_float_eq(rval(o, "clock_mhz.median"), 1050.0, 1e-9);
    cr_expect_float_eq(rval(o, "clock_mhz.max"), 1070.0, 1e-9);
    cr_expect_eq(json_is_false(ab_field_value(at(o, "throttled"))), true);
    cr_expect_str_eq(st(o, "temperature_c"), "unavailable");
    json_decref(o);
}

Test(probes, sampler_power_integrated_without_counter)
{
    ab_sample v[11];
    ramp(v, 11, 200.0);
    for (int i = 0; i < 11; i++)
        v[i].energy_j = NAN;
    ab_sample_source src = fake_caps(false, true, true);
    json_t *o = ab_sampler_summarize(&src, v, 11, 1.5, 4.0, 1.0);
    cr_expect_float_eq(rval(o, "energy_j"), 500.0, 1e-9);
    cr_expect(strstr(json_string_value(json_object_get(at(o, "energy_j"), "source")),
                     "integrated") != NULL);
    json_decref(o);
}

Test(probes, sampler_throttle_flag_and_reasons)
{
    ab_sample v[6];
    ramp(v, 6, 300.0);
    v[2].throttle = AB_THR_SW_POWER;
    v[3].throttle = AB_THR_SW_POWER | AB_THR_HW_THERMAL;
    v[4].throttle = AB_THR_IDLE;
    ab_sample_source src = fake_caps(true, true, true);
    json_t *o = ab_sampler_summarize(&src, v, 6, 0.5, 5.0, 1.0);
    cr_expect(json_is_true(ab_field_value(at(o, "throttled"))));
    const char *why = json_string_value(json_object_get(at(o, "throttled"), "source"));
    cr_expect(strstr(why, "sw_power_cap in 2 of 5 samples") != NULL, "%s", why);
    cr_expect(strstr(why, "hw_thermal_slowdown in 1 of 5") != NULL, "%s", why);
    json_t *rs = ab_field_value(at(o, "throttle_reasons"));
    cr_expect_eq(json_array_size(rs), 3); /* idle is listed, but is not limiting */
    json_decref(o);
    /* idle alone is not throttling */
    json_t *o2 = ab_sampler_summarize(&src, v, 6, 3.5, 4.5, 1.0);
    cr_expect(json_is_false(ab_field_value(at(o2, "throttled"))));
    json_decref(o2);
}

Test(probes, sampler_window_edges)
{
    ab_sample v[5];
    ramp(v, 5, 100.0);
    ab_sample_source src = fake_caps(true, true, false);
    json_t *o = ab_sampler_summarize(&src, v, 5, -1.0, 2.0, 1.0);
    cr_expect_str_eq(st(o, "energy_j"), "unavailable");
    cr_expect(strstr(reason(o, "energy_j"), "before the window start") != NULL);
    cr_expect_str_eq(reason(o, "throttled"), "no reasons");
    json_decref(o);
    v[3].energy_j = 10.0; /* counter reset inside the window */
    o = ab_sampler_summarize(&src, v, 5, 0.5, 3.5, 1.0);
    cr_expect_str_eq(st(o, "energy_j"), "error");
    json_decref(o);
    /* a window between two samples: no reading inside it, but the energy is still known */
    o = ab_sampler_summarize(&src, v, 3, 0.25, 0.75, 1.0);
    cr_expect_eq(json_integer_value(json_object_get(o, "samples")), 0);
    cr_expect_str_eq(st(o, "clock_mhz"), "unavailable");
    cr_expect_float_eq(rval(o, "energy_j"), 50.0, 1e-9);
    json_decref(o);
}

/* ---- the sampler thread ---- */

typedef struct counting {
    double t0;
    double watts;
} counting;

static int counting_read(void *ctx, ab_sample *s, char *err)
{
    (void)err;
    counting *c = ctx;
    double t = ab_now();
    s->clock_mhz = 1500;
    s->power_w = c->watts;
    s->energy_j = c->watts * (t - c->t0);
    s->throttle_valid = true;
    return 0;
}

Test(probes, sampler_thread_rate_and_energy)
{
    ab_sampler *s = ab_sampler_new(0.05, 0);
    cr_assert_not_null(s);
    static counting ctx;
    ctx.t0 = ab_now();
    ctx.watts = 250.0;
    ab_sample_source src = fake_caps(true, true, true);
    src.ctx = &ctx;
    src.read = counting_read;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_sampler_add(s, "gpu:0", &src, err), 0, "%s", err);
    cr_assert_eq(ab_sampler_add_missing(s, "cpu", "no cpufreq here"), 0);
    cr_assert_eq(ab_sampler_start(s, err), 0, "%s", err);
    double t0 = ab_now();
    usleep(1200 * 1000);
    double t1 = ab_now();
    ab_sampler_poll(s, "gpu:0");
    json_t *o = ab_sampler_summary(s, "gpu:0", t0 + 0.05, t1 - 0.05);
    cr_assert_not_null(o);
    double rate = json_number_value(json_object_get(o, "rate_hz"));
    cr_expect_geq(rate, 10.0, "sampling rate %.1f Hz is below the 10 Hz the method asks for", rate);
    /* each reading is stamped at the midpoint of its read: agreement to 1 % */
    double want = 250.0 * (t1 - t0 - 0.1);
    cr_expect(fabs(rval(o, "energy_j") - want) < 0.01 * want, "%.4f J vs %.4f J",
              rval(o, "energy_j"), want);
    json_decref(o);
    json_t *m = ab_sampler_summary(s, "cpu", t0, t1);
    cr_expect_str_eq(reason(m, "energy_j"), "no cpufreq here");
    json_decref(m);
    cr_expect_null(ab_sampler_summary(s, "nosuch", t0, t1));
    ab_sampler_stop(s);
    ab_sampler_stop(s); /* idempotent */
    o = ab_sampler_summary(s, "gpu:0", t0, t1);
    cr_expect_not_null(o);
    json_decref(o);
    ab_sampler_free(s);
}

static void energy_over_window(const char *bus, double watts, bool throttled)
{
    ab_sample_source src;
    char why[AB_ERRLEN];
    cr_assert_eq(ab_nvml_source(bus, &src, why) == 0 || ab_rsmi_source(bus, &src, why) == 0, true,
                 "%s", why);
    ab_sampler *s = ab_sampler_new(0.02, 0);
    cr_assert_eq(ab_sampler_add(s, bus, &src, why), 0);
    cr_assert_eq(ab_sampler_start(s, why), 0);
    double t0 = ab_now();
    usleep(500 * 1000);
    ab_sampler_poll(s, bus);
    json_t *o = ab_sampler_summary(s, bus, t0 + 0.1, t0 + 0.4);
    /* the fakes' counters grow at exactly `watts`; interpolation error is the clock jitter */
    cr_expect(fabs(rval(o, "energy_j") - watts * 0.3) < watts * 0.3 * 0.03,
              "%s: energy %.3f J, expected %.3f J", bus, rval(o, "energy_j"), watts * 0.3);
    cr_expect_gt(rval(o, "energy_j"), 0.0);
    if (strcmp(src.name, "nvml") == 0)
        cr_expect_eq(json_is_true(ab_field_value(at(o, "throttled"))), throttled, "%s", bus);
    else
        cr_expect_str_eq(st(o, "throttled"), "unavailable");
    json_decref(o);
    ab_sampler_free(s);
}

Test(probes, sampler_nvml_energy_through_fake_library)
{
    setenv("ACCELBENCH_NVML_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    energy_over_window("0000:18:00.0", 350.0, false);
    energy_over_window("00000000:2A:00.0", 350.0, true); /* this one is power capped */
    ab_sample_source src;
    char why[AB_ERRLEN];
    cr_expect_eq(ab_nvml_source("0000:77:00.0", &src, why), -1);
    cr_expect(strstr(why, "no GPU at PCI 0000:77:00.0") != NULL, "%s", why);
}

Test(probes, sampler_rocm_smi_energy_through_fake_library)
{
    setenv("ACCELBENCH_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    setenv("ACCELBENCH_ROCM_SMI_LIB", AB_TEST_FAKE_GPU_LIB, 1);
    energy_over_window("0000:c1:00.0", 750.0, false);
}

/* ---- PAPI ---- */

Test(probes, papi_disabled_gives_the_reason)
{
    setenv("ACCELBENCH_PAPI", "0", 1);
    char why[AB_ERRLEN] = "";
    cr_expect_null(ab_counters_new(2, why));
    cr_expect_str_eq(why, "disabled by ACCELBENCH_PAPI=0");
    json_t *o = ab_counters_missing(why);
    cr_expect_str_eq(reason(o, "cycles"), "disabled by ACCELBENCH_PAPI=0");
    cr_expect_str_eq(reason(o, "llc_misses"), "disabled by ACCELBENCH_PAPI=0");
    json_decref(o);
    json_t *p = ab_probe_counters();
    cr_expect_str_eq(reason(p, "papi.events"), "disabled by ACCELBENCH_PAPI=0");
    json_decref(p);
}

Test(probes, papi_on_this_machine)
{
    char why[AB_ERRLEN] = "";
    ab_counters *c = ab_counters_new(1, why);
    if (!c) {
        /* no counters here (a VM): the reason names PAPI's own error */
        cr_expect(strncmp(why, "PAPI", 4) == 0 || strncmp(why, "not built", 9) == 0, "%s", why);
        return;
    }
    double t0 = ab_now();
    ab_counters_thread_start(c, 0);
    volatile double x = 0;
    for (int i = 0; i < 1000000; i++)
        x += i * 0.5;
    ab_counters_thread_stop(c, 0);
    ab_counters_interval(c, t0, ab_now());
    json_t *o = ab_counters_summary(c, t0 - 1, ab_now() + 1);
    cr_expect_eq(json_integer_value(json_object_get(o, "batches")), 1);
    if (ab_field_value(at(o, "instructions"))) cr_expect_gt(ival(o, "instructions"), 1000000);
    json_decref(o);
    ab_counters_free(c);
}

/* ---- CPU frequency and RAPL over a fake sysfs ---- */

static void put(const char *root, const char *rel, const char *text)
{
    char p[1024], d[1024];
    snprintf(p, sizeof(p), "%s%s", root, rel);
    ab_strlcpy(d, p, sizeof(d));
    *strrchr(d, '/') = '\0';
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", d);
    cr_assert_eq(system(cmd), 0);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(probes, cpu_source_frequency_and_rapl_wrap)
{
    char *root = ab_test_tmpdir("cpusys");
    put(root, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n");
    put(root, "/sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "2600000\n");
    put(root, "/sys/class/powercap/intel-rapl:0/energy_uj", "1000000\n");
    put(root, "/sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
    put(root, "/sys/class/powercap/intel-rapl:0/name", "package-0\n");
    put(root, "/sys/class/powercap/intel-rapl:0:0/energy_uj", "999\n"); /* a sub-zone: ignored */
    ab_probe_opts o = {.root = root};
    int cpus[2] = {0, 1};
    ab_sample_source src;
    char why[AB_ERRLEN];
    cr_assert_eq(ab_cpu_source(&o, cpus, 2, &src, why), 0, "%s", why);
    ab_sample s = {.energy_j = NAN, .clock_mhz = NAN};
    cr_assert_eq(src.read(src.ctx, &s, why), 0);
    cr_expect_float_eq(s.clock_mhz, 2500.0, 1e-9);
    cr_expect_float_eq(s.energy_j, 0.0, 1e-12);
    put(root, "/sys/class/powercap/intel-rapl:0/energy_uj", "3000000\n");
    cr_assert_eq(src.read(src.ctx, &s, why), 0);
    cr_expect_float_eq(s.energy_j, 2.0, 1e-9);
    put(root, "/sys/class/powercap/intel-rapl:0/energy_uj", "500000\n"); /* wrapped */
    cr_assert_eq(src.read(src.ctx, &s, why), 0);
    cr_expect_float_eq(s.energy_j, 2.0 + (262143328850.0 - 3000000.0 + 500000.0) / 1e6, 1e-6);
    src.close(src.ctx);
    json_t *p = ab_probe_power(&o);
    cr_expect_str_eq(json_string_value(json_array_get(ab_field_value(at(p, "rapl")), 0)),
                     "package-0");
    json_decref(p);
    free(root);
}

Test(probes, cpu_source_absent)
{
    char *root = ab_test_tmpdir("nocpusys");
    ab_probe_opts o = {.root = root};
    int cpus[1] = {0};
    ab_sample_source src;
    char why[AB_ERRLEN];
    cr_expect_eq(ab_cpu_source(&o, cpus, 1, &src, why), -1);
    cr_expect(strstr(why, "cpufreq") && strstr(why, "powercap"), "%s", why);
    free(root);
}

/* ---- the command ---- */

static void usage_error(const char *needle, const char *const *argv)
{
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, argv), 0);
    cr_expect_eq(p.status, AB_EXIT_USAGE, "exit %d: %s", p.status, p.err);
    cr_expect_eq(ab_count_lines(p.err), 1, "'%s'", p.err);
    cr_expect(strstr(p.err, needle) != NULL, "'%s' lacks '%s'", p.err, needle);
    cr_expect_str_eq(p.out, "");
    ab_proc_free(&p);
}

Test(probes, probe_command_usage_errors)
{
    usage_error("--root", (const char *[]){"probe", "--root", "/nonexistent/dir", NULL});
    usage_error("--topology", (const char *[]){"probe", "--topology", "/nonexistent/t.xml", NULL});
    usage_error("--topology", (const char *[]){"probe", "--topology", "/etc/hostname", NULL});
    usage_error("--frobnicate", (const char *[]){"probe", "--frobnicate", NULL});
    usage_error("unexpected", (const char *[]){"probe", "extra", NULL});
}

Test(probes, probe_command_text)
{
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"probe", NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    cr_expect(strstr(p.out, "NVIDIA (NVML)") && strstr(p.out, "AMD (ROCm SMI)") &&
              strstr(p.out, "Accelerators") && strstr(p.out, "caches"));
    ab_proc_free(&p);
}

/* SPDX-License-Identifier: MIT */
/* NVML as a sampler source: clocks, power, temperature, energy, throttle reasons (sampler.h). */
#include "gpumgmt.h"
#include "nvml_lib.h"
#include "probe.h"
#include "topo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nv_src {
    nvml_lib l;
    nvdev d;
} nv_src;

static int nv_read(void *ctx, ab_sample *s, char *err)
{
    nv_src *c = ctx;
    nvml_lib *l = &c->l;
    unsigned v;
    int ok = 0;
    if (l->DeviceGetClockInfo && l->DeviceGetClockInfo(c->d, NV_CLOCK_SM, &v) == NV_SUCCESS) {
        s->clock_mhz = v;
        ok++;
    }
    if (l->DeviceGetClockInfo && l->DeviceGetClockInfo(c->d, NV_CLOCK_MEM, &v) == NV_SUCCESS)
        s->mem_clock_mhz = v;
    if (l->DeviceGetPowerUsage && l->DeviceGetPowerUsage(c->d, &v) == NV_SUCCESS) {
        s->power_w = v / 1000.0;
        ok++;
    }
    if (l->DeviceGetTemperature && l->DeviceGetTemperature(c->d, NV_TEMP_GPU, &v) == NV_SUCCESS)
        s->temp_c = v;
    unsigned long long e;
    if (l->DeviceGetTotalEnergyConsumption &&
        l->DeviceGetTotalEnergyConsumption(c->d, &e) == NV_SUCCESS) {
        s->energy_j = (double)e / 1000.0;
        ok++;
    }
    unsigned long long r;
    if (l->DeviceGetThrottleReasons && l->DeviceGetThrottleReasons(c->d, &r) == NV_SUCCESS) {
        s->throttle = ab_nvml_throttle_bits(r);
        s->throttle_valid = true;
    }
    if (!ok) return ab_err(err, "NVML returned no clock, power or energy reading");
    return 0;
}

static void nv_close(void *ctx)
{
    nv_src *c = ctx;
    ab_nvml_lib_close(&c->l);
    free(c);
}

/* Why a sampled quantity is missing: probe it once at setup. */
static void probe_once(nvml_lib *l, nvret rc, bool have, const char *fn, char *why)
{
    if (!have)
        snprintf(why, AB_ERRLEN, "this NVML has no %s", fn);
    else if (rc == NV_ERR_NOT_SUPPORTED)
        snprintf(why, AB_ERRLEN, "not supported on this GPU (%s)", fn);
    else if (rc != NV_SUCCESS)
        snprintf(why, AB_ERRLEN, "%s: %s", fn, l->ErrorString(rc));
    else
        why[0] = '\0';
}

int ab_nvml_source(const char *pci_bus_id, ab_sample_source *src, char *why)
{
    char want[32];
    ab_pci_canon(pci_bus_id, want, sizeof(want));
    if (!*want) return ab_err(why, "no PCI bus id to find the GPU in NVML");
    nv_src *c = calloc(1, sizeof(*c));
    if (!c) return ab_err(why, "out of memory");
    if (ab_nvml_lib_open(&c->l, why) != 0) {
        free(c);
        return -1;
    }
    nvml_lib *l = &c->l;
    unsigned n = 0;
    bool found = false;
    if (l->DeviceGetCount(&n) == NV_SUCCESS)
        for (unsigned i = 0; i < n && !found; i++) {
            nvdev d;
            nvpci pci;
            char canon[32];
            if (l->DeviceGetHandleByIndex(i, &d) != NV_SUCCESS ||
                l->DeviceGetPciInfo(d, &pci) != NV_SUCCESS)
                continue;
            ab_pci_canon(pci.busId, canon, sizeof(canon));
            if (strcmp(canon, want) == 0) {
                c->d = d;
                found = true;
            }
        }
    if (!found) {
        ab_err(why, "NVML lists no GPU at PCI %s", want);
        nv_close(c);
        return -1;
    }
    memset(src, 0, sizeof(*src));
    src->name = "nvml";
    src->ctx = c;
    src->read = nv_read;
    src->close = nv_close;
    ab_strlcpy(src->clock_what, "SM clock (nvmlDeviceGetClockInfo)", sizeof(src->clock_what));
    ab_strlcpy(src->energy_what, "NVML total energy counter", sizeof(src->energy_what));
    unsigned v;
    unsigned long long e;
    probe_once(l, l->DeviceGetClockInfo ? l->DeviceGetClockInfo(c->d, NV_CLOCK_SM, &v) : 0,
               l->DeviceGetClockInfo, "nvmlDeviceGetClockInfo", src->why_clock);
    probe_once(l, l->DeviceGetClockInfo ? l->DeviceGetClockInfo(c->d, NV_CLOCK_MEM, &v) : 0,
               l->DeviceGetClockInfo, "nvmlDeviceGetClockInfo", src->why_mem_clock);
    probe_once(l, l->DeviceGetPowerUsage ? l->DeviceGetPowerUsage(c->d, &v) : 0,
               l->DeviceGetPowerUsage, "nvmlDeviceGetPowerUsage", src->why_power);
    probe_once(l, l->DeviceGetTemperature ? l->DeviceGetTemperature(c->d, NV_TEMP_GPU, &v) : 0,
               l->DeviceGetTemperature, "nvmlDeviceGetTemperature", src->why_temp);
    probe_once(
        l, l->DeviceGetTotalEnergyConsumption ? l->DeviceGetTotalEnergyConsumption(c->d, &e) : 0,
        l->DeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption", src->why_energy);
    probe_once(l, l->DeviceGetThrottleReasons ? l->DeviceGetThrottleReasons(c->d, &e) : 0,
               l->DeviceGetThrottleReasons, "nvmlDeviceGetCurrentClocksEventReasons",
               src->why_throttle);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * NVIDIA Management Library through dlopen. The few types and entry points used are declared
 * here from NVML's documented API (docs.nvidia.com/deploy/nvml-api): every call returns an
 * nvmlReturn_t (0 = success), strings are caller buffers, power in milliwatts, energy in
 * millijoules, clocks in MHz.
 */
#include "gpumgmt.h"
#include "probe.h"
#include "topo.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvret;                 /* nvmlReturn_t */
typedef struct nvml_dev_st *nvdev; /* nvmlDevice_t */
enum { NV_SUCCESS = 0, NV_ERR_NOT_SUPPORTED = 3, NV_ERR_NO_PERMISSION = 4 };
enum { NV_CLOCK_GRAPHICS = 0, NV_CLOCK_SM = 1, NV_CLOCK_MEM = 2 };
enum { NV_TEMP_GPU = 0 };
enum { NV_INFOROM_OEM = 0, NV_INFOROM_ECC = 1, NV_INFOROM_POWER = 2 };
enum { NV_MEMORY_ERROR_CORRECTED = 0, NV_MEMORY_ERROR_UNCORRECTED = 1 };
enum { NV_VOLATILE_ECC = 0, NV_AGGREGATE_ECC = 1 };
#define NV_NVLINK_MAX_LINKS 18

typedef struct nvpci { /* nvmlPciInfo_t (v3 layout) */
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvpci;

typedef struct nvmem { /* nvmlMemory_t */
    unsigned long long total, free, used;
} nvmem;

typedef struct nvml_lib {
    void *dl;
    nvret (*Init)(void);
    nvret (*Shutdown)(void);
    const char *(*ErrorString)(nvret);
    nvret (*SystemGetDriverVersion)(char *, unsigned);
    nvret (*SystemGetNVMLVersion)(char *, unsigned);
    nvret (*SystemGetCudaDriverVersion)(int *);
    nvret (*DeviceGetCount)(unsigned *);
    nvret (*DeviceGetHandleByIndex)(unsigned, nvdev *);
    nvret (*DeviceGetName)(nvdev, char *, unsigned);
    nvret (*DeviceGetUUID)(nvdev, char *, unsigned);
    nvret (*DeviceGetPciInfo)(nvdev, nvpci *);
    nvret (*DeviceGetVbiosVersion)(nvdev, char *, unsigned);
    nvret (*DeviceGetInforomImageVersion)(nvdev, char *, unsigned);
    nvret (*DeviceGetInforomVersion)(nvdev, int, char *, unsigned);
    nvret (*DeviceGetEccMode)(nvdev, int *, int *);
    nvret (*DeviceGetTotalEccErrors)(nvdev, int, int, unsigned long long *);
    nvret (*DeviceGetPersistenceMode)(nvdev, int *);
    nvret (*DeviceGetPowerManagementLimit)(nvdev, unsigned *);
    nvret (*DeviceGetPowerManagementDefaultLimit)(nvdev, unsigned *);
    nvret (*DeviceGetEnforcedPowerLimit)(nvdev, unsigned *);
    nvret (*DeviceGetClockInfo)(nvdev, int, unsigned *);
    nvret (*DeviceGetApplicationsClock)(nvdev, int, unsigned *);
    nvret (*DeviceGetMaxClockInfo)(nvdev, int, unsigned *);
    nvret (*DeviceGetMigMode)(nvdev, unsigned *, unsigned *);
    nvret (*DeviceGetNvLinkState)(nvdev, unsigned, int *);
    nvret (*DeviceGetNvLinkVersion)(nvdev, unsigned, unsigned *);
    nvret (*DeviceGetTemperature)(nvdev, int, unsigned *);
    nvret (*DeviceGetPowerUsage)(nvdev, unsigned *);
    nvret (*DeviceGetTotalEnergyConsumption)(nvdev, unsigned long long *);
    nvret (*DeviceGetThrottleReasons)(nvdev, unsigned long long *);
    nvret (*DeviceGetCurrPcieLinkGeneration)(nvdev, unsigned *);
    nvret (*DeviceGetCurrPcieLinkWidth)(nvdev, unsigned *);
    nvret (*DeviceGetMaxPcieLinkGeneration)(nvdev, unsigned *);
    nvret (*DeviceGetMaxPcieLinkWidth)(nvdev, unsigned *);
    nvret (*DeviceGetMemoryInfo)(nvdev, nvmem *);
    char path[256];
} nvml_lib;

static const char *lib_name(void)
{
    const char *e = getenv("ACCELBENCH_NVML_LIB");
    return e && *e ? e : "libnvidia-ml.so.1";
}

/* Symbol lookup: the newest versioned name first (NVML keeps old names for old ABIs). */
static void *sym(void *dl, const char *a, const char *b)
{
    void *p = dlsym(dl, a);
    if (!p && b) p = dlsym(dl, b);
    return p;
}

static int nvml_open(nvml_lib *l, char *why)
{
    memset(l, 0, sizeof(*l));
    ab_strlcpy(l->path, lib_name(), sizeof(l->path));
    l->dl = dlopen(l->path, RTLD_NOW | RTLD_LOCAL);
    if (!l->dl) {
        const char *e = dlerror();
        return ab_err(why, "%s (no NVIDIA driver installed)", e ? e : l->path);
    }
#define REQ(field, a, b)                                                                           \
    do {                                                                                           \
        *(void **)&l->field = sym(l->dl, a, b);                                                    \
        if (!l->field) {                                                                           \
            ab_err(why, "%s has no %s", l->path, a);                                               \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
#define OPT(field, a, b) (*(void **)&l->field = sym(l->dl, a, b))
    REQ(Init, "nvmlInit_v2", "nvmlInit");
    REQ(Shutdown, "nvmlShutdown", NULL);
    REQ(ErrorString, "nvmlErrorString", NULL);
    REQ(DeviceGetCount, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    REQ(DeviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    REQ(DeviceGetPciInfo, "nvmlDeviceGetPciInfo_v3", NULL);
    OPT(SystemGetDriverVersion, "nvmlSystemGetDriverVersion", NULL);
    OPT(SystemGetNVMLVersion, "nvmlSystemGetNVMLVersion", NULL);
    OPT(SystemGetCudaDriverVersion, "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlSystemGetCudaDriverVersion");
    OPT(DeviceGetName, "nvmlDeviceGetName", NULL);
    OPT(DeviceGetUUID, "nvmlDeviceGetUUID", NULL);
    OPT(DeviceGetVbiosVersion, "nvmlDeviceGetVbiosVersion", NULL);
    OPT(DeviceGetInforomImageVersion, "nvmlDeviceGetInforomImageVersion", NULL);
    OPT(DeviceGetInforomVersion, "nvmlDeviceGetInforomVersion", NULL);
    OPT(DeviceGetEccMode, "nvmlDeviceGetEccMode", NULL);
    OPT(DeviceGetTotalEccErrors, "nvmlDeviceGetTotalEccErrors", NULL);
    OPT(DeviceGetPersistenceMode, "nvmlDeviceGetPersistenceMode", NULL);
    OPT(DeviceGetPowerManagementLimit, "nvmlDeviceGetPowerManagementLimit", NULL);
    OPT(DeviceGetPowerManagementDefaultLimit, "nvmlDeviceGetPowerManagementDefaultLimit", NULL);
    OPT(DeviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit", NULL);
    OPT(DeviceGetClockInfo, "nvmlDeviceGetClockInfo", NULL);
    OPT(DeviceGetApplicationsClock, "nvmlDeviceGetApplicationsClock", NULL);
    OPT(DeviceGetMaxClockInfo, "nvmlDeviceGetMaxClockInfo", NULL);
    OPT(DeviceGetMigMode, "nvmlDeviceGetMigMode", NULL);
    OPT(DeviceGetNvLinkState, "nvmlDeviceGetNvLinkState", NULL);
    OPT(DeviceGetNvLinkVersion, "nvmlDeviceGetNvLinkVersion", NULL);
    OPT(DeviceGetTemperature, "nvmlDeviceGetTemperature", NULL);
    OPT(DeviceGetPowerUsage, "nvmlDeviceGetPowerUsage", NULL);
    OPT(DeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption", NULL);
    /* renamed "clocks event reasons" in CUDA 12; same bits */
    OPT(DeviceGetThrottleReasons, "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons");
    OPT(DeviceGetCurrPcieLinkGeneration, "nvmlDeviceGetCurrPcieLinkGeneration", NULL);
    OPT(DeviceGetCurrPcieLinkWidth, "nvmlDeviceGetCurrPcieLinkWidth", NULL);
    OPT(DeviceGetMaxPcieLinkGeneration, "nvmlDeviceGetMaxPcieLinkGeneration", NULL);
    OPT(DeviceGetMaxPcieLinkWidth, "nvmlDeviceGetMaxPcieLinkWidth", NULL);
    OPT(DeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo", NULL);
#undef REQ
#undef OPT
    nvret rc = l->Init();
    if (rc != NV_SUCCESS) {
        ab_err(why, "nvmlInit failed: %s", l->ErrorString(rc));
        goto fail;
    }
    return 0;
fail:
    dlclose(l->dl);
    l->dl = NULL;
    return -1;
}

static void nvml_close(nvml_lib *l)
{
    if (!l->dl) return;
    l->Shutdown();
    dlclose(l->dl);
    l->dl = NULL;
}

/* A field from an NVML return code: ok with value, or the reason NVML gives. */
static void nv_field(const nvml_lib *l, json_t *o, const char *key, nvret rc, json_t *value,
                     const char *fn)
{
    if (rc == NV_SUCCESS) {
        ab_field_set(o, key, value, fn);
        return;
    }
    json_decref(value);
    if (rc == NV_ERR_NOT_SUPPORTED)
        ab_field_unavailable(o, key, "not supported on this GPU (%s)", fn);
    else if (rc == NV_ERR_NO_PERMISSION)
        ab_field_unavailable(o, key, "%s needs more privileges", fn);
    else
        ab_field_error(o, key, "%s: %s", fn, l->ErrorString(rc));
}

static void nv_missing(json_t *o, const char *key, const char *fn)
{
    ab_field_unavailable(o, key, "this NVML has no %s", fn);
}

#define NV_STR(o, key, fnptr, fnname, dev, len)                                                    \
    do {                                                                                           \
        if (!(fnptr)) {                                                                            \
            nv_missing(o, key, fnname);                                                            \
            break;                                                                                 \
        }                                                                                          \
        char b_[len] = "";                                                                         \
        nvret r_ = (fnptr)(dev, b_, sizeof(b_));                                                   \
        if (r_ == NV_SUCCESS && !*b_)                                                              \
            ab_field_unavailable(o, key, "%s returned an empty string", fnname);                   \
        else                                                                                       \
            nv_field(l, o, key, r_, json_string(b_), fnname);                                      \
    } while (0)

static const struct {
    unsigned long long bit;
    unsigned ab;
} nv_thr[] = {
    {0x1ull, AB_THR_IDLE},        {0x2ull, AB_THR_APP_CLOCKS},   {0x4ull, AB_THR_SW_POWER},
    {0x8ull, AB_THR_HW_SLOWDOWN}, {0x10ull, AB_THR_SYNC_BOOST},  {0x20ull, AB_THR_SW_THERMAL},
    {0x40ull, AB_THR_HW_THERMAL}, {0x80ull, AB_THR_POWER_BRAKE}, {0x100ull, AB_THR_DISPLAY}};

static uint32_t map_throttle(unsigned long long r)
{
    uint32_t m = 0;
    for (size_t i = 0; i < sizeof(nv_thr) / sizeof(nv_thr[0]); i++)
        if (r & nv_thr[i].bit) {
            m |= nv_thr[i].ab;
            r &= ~nv_thr[i].bit;
        }
    if (r) m |= AB_THR_OTHER;
    return m;
}

static json_t *clock_triplet(const nvml_lib *l, nvdev d, int type)
{
    json_t *o = json_object();
    unsigned v = 0;
    if (l->DeviceGetClockInfo) {
        nvret r = l->DeviceGetClockInfo(d, type, &v);
        nv_field(l, o, "current", r, json_integer(v), "nvmlDeviceGetClockInfo");
    } else
        nv_missing(o, "current", "nvmlDeviceGetClockInfo");
    v = 0;
    if (l->DeviceGetApplicationsClock) {
        nvret r = l->DeviceGetApplicationsClock(d, type, &v);
        nv_field(l, o, "application", r, json_integer(v), "nvmlDeviceGetApplicationsClock");
    } else
        nv_missing(o, "application", "nvmlDeviceGetApplicationsClock");
    v = 0;
    if (l->DeviceGetMaxClockInfo) {
        nvret r = l->DeviceGetMaxClockInfo(d, type, &v);
        nv_field(l, o, "max", r, json_integer(v), "nvmlDeviceGetMaxClockInfo");
    } else
        nv_missing(o, "max", "nvmlDeviceGetMaxClockInfo");
    return o;
}

static json_t *device_json(const nvml_lib *l, unsigned idx, nvdev d)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(idx));
    NV_STR(o, "name", l->DeviceGetName, "nvmlDeviceGetName", d, 96);
    NV_STR(o, "uuid", l->DeviceGetUUID, "nvmlDeviceGetUUID", d, 96);
    nvpci pci;
    memset(&pci, 0, sizeof(pci));
    nvret rc = l->DeviceGetPciInfo(d, &pci);
    char canon[32];
    ab_pci_canon(pci.busId, canon, sizeof(canon));
    nv_field(l, o, "pci_bus_id", rc == NV_SUCCESS && !*canon ? -1 : rc, json_string(canon),
             "nvmlDeviceGetPciInfo_v3");
    NV_STR(o, "vbios", l->DeviceGetVbiosVersion, "nvmlDeviceGetVbiosVersion", d, 64);

    json_t *ir = json_object();
    NV_STR(ir, "image", l->DeviceGetInforomImageVersion, "nvmlDeviceGetInforomImageVersion", d, 32);
    static const char *const objs[] = {"oem", "ecc", "power"};
    for (int k = 0; k < 3; k++) {
        if (!l->DeviceGetInforomVersion) {
            nv_missing(ir, objs[k], "nvmlDeviceGetInforomVersion");
            continue;
        }
        char b[32] = "";
        nvret r = l->DeviceGetInforomVersion(d, k, b, sizeof(b));
        nv_field(l, ir, objs[k], r, json_string(b), "nvmlDeviceGetInforomVersion");
    }
    json_object_set_new(o, "inforom", ir);

    int cur = 0, pend = 0;
    if (l->DeviceGetEccMode) {
        rc = l->DeviceGetEccMode(d, &cur, &pend);
        json_t *v = json_object();
        json_object_set_new(v, "current", json_boolean(cur));
        json_object_set_new(v, "pending", json_boolean(pend));
        nv_field(l, o, "ecc_mode", rc, v, "nvmlDeviceGetEccMode");
    } else {
        nv_missing(o, "ecc_mode", "nvmlDeviceGetEccMode");
    }
    if (l->DeviceGetTotalEccErrors) {
        json_t *e = json_object();
        static const char *const names[2][2] = {{"volatile_corrected", "aggregate_corrected"},
                                                {"volatile_uncorrected", "aggregate_uncorrected"}};
        for (int t = 0; t < 2; t++)
            for (int c = 0; c < 2; c++) {
                unsigned long long n = 0;
                nvret r = l->DeviceGetTotalEccErrors(d, t, c, &n);
                nv_field(l, e, names[t][c], r, json_integer((json_int_t)n),
                         "nvmlDeviceGetTotalEccErrors");
            }
        json_object_set_new(o, "ecc_errors", e);
    } else {
        nv_missing(o, "ecc_errors", "nvmlDeviceGetTotalEccErrors");
    }
    if (l->DeviceGetPersistenceMode) {
        int m = 0;
        rc = l->DeviceGetPersistenceMode(d, &m);
        nv_field(l, o, "persistence_mode", rc, json_boolean(m), "nvmlDeviceGetPersistenceMode");
    } else {
        nv_missing(o, "persistence_mode", "nvmlDeviceGetPersistenceMode");
    }

    json_t *pl = json_object();
    struct {
        const char *key, *fn;
        nvret (*f)(nvdev, unsigned *);
    } lims[] = {{"current", "nvmlDeviceGetPowerManagementLimit", l->DeviceGetPowerManagementLimit},
                {"default", "nvmlDeviceGetPowerManagementDefaultLimit",
                 l->DeviceGetPowerManagementDefaultLimit},
                {"enforced", "nvmlDeviceGetEnforcedPowerLimit", l->DeviceGetEnforcedPowerLimit}};
    for (int k = 0; k < 3; k++) {
        unsigned mw = 0;
        if (!lims[k].f)
            nv_missing(pl, lims[k].key, lims[k].fn);
        else {
            rc = lims[k].f(d, &mw);
            nv_field(l, pl, lims[k].key, rc, json_real(mw / 1000.0), lims[k].fn);
        }
    }
    json_object_set_new(o, "power_limit_w", pl);

    json_t *clocks = json_object();
    json_object_set_new(clocks, "graphics", clock_triplet(l, d, NV_CLOCK_GRAPHICS));
    json_object_set_new(clocks, "sm", clock_triplet(l, d, NV_CLOCK_SM));
    json_object_set_new(clocks, "memory", clock_triplet(l, d, NV_CLOCK_MEM));
    json_object_set_new(o, "clocks_mhz", clocks);

    if (l->DeviceGetMigMode) {
        unsigned mc = 0, mp = 0;
        rc = l->DeviceGetMigMode(d, &mc, &mp);
        json_t *v = json_object();
        json_object_set_new(v, "current", json_boolean(mc));
        json_object_set_new(v, "pending", json_boolean(mp));
        nv_field(l, o, "mig_mode", rc, v, "nvmlDeviceGetMigMode");
    } else {
        nv_missing(o, "mig_mode", "nvmlDeviceGetMigMode");
    }

    if (l->DeviceGetNvLinkState) {
        json_t *links = json_array();
        nvret first_rc = NV_SUCCESS;
        for (unsigned k = 0; k < NV_NVLINK_MAX_LINKS; k++) {
            int active = 0;
            nvret r = l->DeviceGetNvLinkState(d, k, &active);
            if (r != NV_SUCCESS) {
                if (k == 0) first_rc = r;
                break; /* links are numbered densely: the first failure ends the list */
            }
            json_t *lk = json_object();
            json_object_set_new(lk, "link", json_integer(k));
            json_object_set_new(lk, "active", json_boolean(active));
            unsigned ver = 0;
            if (l->DeviceGetNvLinkVersion && l->DeviceGetNvLinkVersion(d, k, &ver) == NV_SUCCESS)
                json_object_set_new(lk, "version", json_integer(ver));
            json_array_append_new(links, lk);
        }
        if (json_array_size(links) || first_rc == NV_SUCCESS)
            ab_field_set(o, "nvlink", links, "nvmlDeviceGetNvLinkState");
        else {
            json_decref(links);
            nv_field(l, o, "nvlink", first_rc, NULL, "nvmlDeviceGetNvLinkState");
        }
    } else {
        nv_missing(o, "nvlink", "nvmlDeviceGetNvLinkState");
    }

    unsigned v = 0;
    if (l->DeviceGetTemperature) {
        rc = l->DeviceGetTemperature(d, NV_TEMP_GPU, &v);
        nv_field(l, o, "temperature_c", rc, json_integer(v), "nvmlDeviceGetTemperature");
    } else
        nv_missing(o, "temperature_c", "nvmlDeviceGetTemperature");
    if (l->DeviceGetPowerUsage) {
        rc = l->DeviceGetPowerUsage(d, &v);
        nv_field(l, o, "power_w", rc, json_real(v / 1000.0), "nvmlDeviceGetPowerUsage");
    } else {
        nv_missing(o, "power_w", "nvmlDeviceGetPowerUsage");
    }
    if (l->DeviceGetTotalEnergyConsumption) {
        unsigned long long mj = 0;
        rc = l->DeviceGetTotalEnergyConsumption(d, &mj);
        nv_field(l, o, "energy_counter_j", rc, json_real((double)mj / 1000.0),
                 "nvmlDeviceGetTotalEnergyConsumption");
    } else {
        nv_missing(o, "energy_counter_j", "nvmlDeviceGetTotalEnergyConsumption");
    }
    if (l->DeviceGetThrottleReasons) {
        unsigned long long r = 0;
        rc = l->DeviceGetThrottleReasons(d, &r);
        json_t *names = json_array();
        uint32_t m = map_throttle(r);
        for (unsigned b = 0; b < 16; b++)
            if (m & (1u << b)) json_array_append_new(names, json_string(ab_throttle_name(1u << b)));
        nv_field(l, o, "throttle_reasons", rc, names, "nvmlDeviceGetCurrentClocksEventReasons");
    } else {
        nv_missing(o, "throttle_reasons", "nvmlDeviceGetCurrentClocksEventReasons");
    }

    json_t *link = json_object();
    struct {
        const char *key, *fn;
        nvret (*f)(nvdev, unsigned *);
    } lk[] = {
        {"current_generation", "nvmlDeviceGetCurrPcieLinkGeneration",
         l->DeviceGetCurrPcieLinkGeneration},
        {"current_width", "nvmlDeviceGetCurrPcieLinkWidth", l->DeviceGetCurrPcieLinkWidth},
        {"max_generation", "nvmlDeviceGetMaxPcieLinkGeneration", l->DeviceGetMaxPcieLinkGeneration},
        {"max_width", "nvmlDeviceGetMaxPcieLinkWidth", l->DeviceGetMaxPcieLinkWidth}};
    for (int k = 0; k < 4; k++) {
        unsigned x = 0;
        if (!lk[k].f)
            nv_missing(link, lk[k].key, lk[k].fn);
        else {
            nvret r = lk[k].f(d, &x);
            nv_field(l, link, lk[k].key, r, json_integer(x), lk[k].fn);
        }
    }
    json_object_set_new(o, "pcie_link", link);
    if (l->DeviceGetMemoryInfo) {
        nvmem m;
        memset(&m, 0, sizeof(m));
        rc = l->DeviceGetMemoryInfo(d, &m);
        nv_field(l, o, "memory_bytes", rc, json_integer((json_int_t)m.total),
                 "nvmlDeviceGetMemoryInfo");
    } else {
        nv_missing(o, "memory_bytes", "nvmlDeviceGetMemoryInfo");
    }
    return o;
}

json_t *ab_probe_nvml(void)
{
    json_t *o = json_object();
    nvml_lib l;
    char why[AB_ERRLEN];
    if (nvml_open(&l, why) != 0) {
        const char *keys[] = {"library", "driver_version", "cuda_driver_version", "nvml_version",
                              "devices"};
        for (size_t i = 0; i < 5; i++)
            ab_field_unavailable(o, keys[i], "%s%s", i ? "NVML unavailable: " : "", why);
        return o;
    }
    ab_field_set(o, "library", json_string(l.path), "dlopen");
    char b[96];
    if (l.SystemGetDriverVersion) {
        b[0] = '\0';
        nvret r = l.SystemGetDriverVersion(b, sizeof(b));
        nv_field(&l, o, "driver_version", r, json_string(b), "nvmlSystemGetDriverVersion");
    } else {
        nv_missing(o, "driver_version", "nvmlSystemGetDriverVersion");
    }
    if (l.SystemGetCudaDriverVersion) {
        int v = 0;
        nvret rc = l.SystemGetCudaDriverVersion(&v);
        snprintf(b, sizeof(b), "%d.%d", v / 1000, (v % 1000) / 10);
        nv_field(&l, o, "cuda_driver_version", rc, json_string(b),
                 "nvmlSystemGetCudaDriverVersion");
    } else {
        nv_missing(o, "cuda_driver_version", "nvmlSystemGetCudaDriverVersion");
    }
    if (l.SystemGetNVMLVersion) {
        b[0] = '\0';
        nvret r = l.SystemGetNVMLVersion(b, sizeof(b));
        nv_field(&l, o, "nvml_version", r, json_string(b), "nvmlSystemGetNVMLVersion");
    } else {
        nv_missing(o, "nvml_version", "nvmlSystemGetNVMLVersion");
    }
    unsigned n = 0;
    nvret rc = l.DeviceGetCount(&n);
    if (rc != NV_SUCCESS) {
        ab_field_error(o, "devices", "nvmlDeviceGetCount: %s", l.ErrorString(rc));
    } else {
        json_t *devs = json_array();
        for (unsigned i = 0; i < n; i++) {
            nvdev d;
            rc = l.DeviceGetHandleByIndex(i, &d);
            if (rc != NV_SUCCESS) {
                char r[AB_ERRLEN];
                snprintf(r, sizeof(r), "nvmlDeviceGetHandleByIndex(%u): %s", i, l.ErrorString(rc));
                json_t *e = json_object();
                json_object_set_new(e, "index", json_integer(i));
                json_object_set_new(e, "handle", ab_field_new_missing("error", r));
                json_array_append_new(devs, e);
                continue;
            }
            json_array_append_new(devs, device_json(&l, i, d));
        }
        ab_field_set(o, "devices", devs, "nvmlDeviceGetCount");
    }
    nvml_close(&l);
    return o;
}

/* ---- sampler source ---- */

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
        s->throttle = map_throttle(r);
        s->throttle_valid = true;
    }
    if (!ok) return ab_err(err, "NVML returned no clock, power or energy reading");
    return 0;
}

static void nv_close(void *ctx)
{
    nv_src *c = ctx;
    nvml_close(&c->l);
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
    if (nvml_open(&c->l, why) != 0) {
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

/* SPDX-License-Identifier: MIT */
/* The NVML part of the machine manifest: the driver and, per GPU, identity, clocks, power,
 * ECC, NVLink (nvml_lib.h for the library). */
#include "gpumgmt.h"
#include "nvml_lib.h"
#include "probe.h"
#include "topo.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * The per-device manifest as a table: each entry names its key, the NVML entry point (the
 * field's source, or the function named in its reason) and how the reading becomes the value.
 */
enum nv_kind {
    NVK_STR,       /* nv_str_fn, arg = buffer length; an empty string is unavailable */
    NVK_TSTR,      /* nv_tstr_fn with arg, 32-byte buffer */
    NVK_U,         /* nv_u_fn, integer */
    NVK_U_MILLI,   /* nv_u_fn, real / 1000 (mW -> W) */
    NVK_TU,        /* nv_tu_fn with arg, integer */
    NVK_ULL_MILLI, /* nv_ull_fn, real / 1000 (mJ -> J) */
    NVK_BOOL,      /* nv_int_fn, boolean */
    NVK_IMODE,     /* nv_imode_fn, {current, pending} */
    NVK_UMODE,     /* nv_umode_fn, {current, pending} */
    NVK_MEM,       /* nv_mem_fn, total bytes */
    NVK_THROTTLE,  /* nv_ull_fn, the reasons' names */
    NVK_PCI,       /* DeviceGetPciInfo, the canonical bus id */
    NVK_ECC,       /* nv_ecc_fn, the four counters */
    NVK_NVLINK,    /* DeviceGetNvLinkState/Version, one entry per link */
    NVK_CLOCKS,    /* graphics, sm and memory clock triplets */
    NVK_GROUP,     /* an object of the fields in sub */
};

typedef struct nv_spec {
    const char *key, *fn;
    enum nv_kind kind;
    size_t off; /* offsetof(nvml_lib, the getter), of the type the kind names */
    int arg;
    const struct nv_spec *sub;
    size_t nsub;
} nv_spec;

#define NV_F(key, field, fn, kind, arg) {key, fn, kind, offsetof(nvml_lib, field), arg, NULL, 0}
#define NV_X(key, fn, kind)             {key, fn, kind, 0, 0, NULL, 0}
#define NV_G(key, sub)                  {key, NULL, NVK_GROUP, 0, 0, sub, sizeof(sub) / sizeof(sub[0])}
#define NV_SLOT(T)                      (*(const T *)(const void *)((const char *)l + f->off))
#define NV_STR_MAX                      96

static const nv_spec nv_inforom[] = {
    NV_F("image", DeviceGetInforomImageVersion, "nvmlDeviceGetInforomImageVersion", NVK_STR, 32),
    NV_F("oem", DeviceGetInforomVersion, "nvmlDeviceGetInforomVersion", NVK_TSTR, NV_INFOROM_OEM),
    NV_F("ecc", DeviceGetInforomVersion, "nvmlDeviceGetInforomVersion", NVK_TSTR, NV_INFOROM_ECC),
    NV_F("power", DeviceGetInforomVersion, "nvmlDeviceGetInforomVersion", NVK_TSTR,
         NV_INFOROM_POWER)};

static const nv_spec nv_power_limit[] = {
    NV_F("current", DeviceGetPowerManagementLimit, "nvmlDeviceGetPowerManagementLimit",
         NVK_U_MILLI, 0),
    NV_F("default", DeviceGetPowerManagementDefaultLimit,
         "nvmlDeviceGetPowerManagementDefaultLimit", NVK_U_MILLI, 0),
    NV_F("enforced", DeviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit", NVK_U_MILLI,
         0)};

/* arg (the clock type) is filled in per clock */
static const nv_spec nv_clock[] = {
    NV_F("current", DeviceGetClockInfo, "nvmlDeviceGetClockInfo", NVK_TU, 0),
    NV_F("application", DeviceGetApplicationsClock, "nvmlDeviceGetApplicationsClock", NVK_TU, 0),
    NV_F("max", DeviceGetMaxClockInfo, "nvmlDeviceGetMaxClockInfo", NVK_TU, 0)};

static const nv_spec nv_pcie_link[] = {
    NV_F("current_generation", DeviceGetCurrPcieLinkGeneration,
         "nvmlDeviceGetCurrPcieLinkGeneration", NVK_U, 0),
    NV_F("current_width", DeviceGetCurrPcieLinkWidth, "nvmlDeviceGetCurrPcieLinkWidth", NVK_U, 0),
    NV_F("max_generation", DeviceGetMaxPcieLinkGeneration, "nvmlDeviceGetMaxPcieLinkGeneration",
         NVK_U, 0),
    NV_F("max_width", DeviceGetMaxPcieLinkWidth, "nvmlDeviceGetMaxPcieLinkWidth", NVK_U, 0)};

static const nv_spec nv_device[] = {
    NV_F("name", DeviceGetName, "nvmlDeviceGetName", NVK_STR, 96),
    NV_F("uuid", DeviceGetUUID, "nvmlDeviceGetUUID", NVK_STR, 96),
    NV_X("pci_bus_id", "nvmlDeviceGetPciInfo_v3", NVK_PCI),
    NV_F("vbios", DeviceGetVbiosVersion, "nvmlDeviceGetVbiosVersion", NVK_STR, 64),
    NV_G("inforom", nv_inforom),
    NV_F("ecc_mode", DeviceGetEccMode, "nvmlDeviceGetEccMode", NVK_IMODE, 0),
    NV_F("ecc_errors", DeviceGetTotalEccErrors, "nvmlDeviceGetTotalEccErrors", NVK_ECC, 0),
    NV_F("persistence_mode", DeviceGetPersistenceMode, "nvmlDeviceGetPersistenceMode", NVK_BOOL,
         0),
    NV_G("power_limit_w", nv_power_limit),
    NV_X("clocks_mhz", NULL, NVK_CLOCKS),
    NV_F("mig_mode", DeviceGetMigMode, "nvmlDeviceGetMigMode", NVK_UMODE, 0),
    NV_X("nvlink", "nvmlDeviceGetNvLinkState", NVK_NVLINK),
    NV_F("temperature_c", DeviceGetTemperature, "nvmlDeviceGetTemperature", NVK_TU, NV_TEMP_GPU),
    NV_F("power_w", DeviceGetPowerUsage, "nvmlDeviceGetPowerUsage", NVK_U_MILLI, 0),
    NV_F("energy_counter_j", DeviceGetTotalEnergyConsumption,
         "nvmlDeviceGetTotalEnergyConsumption", NVK_ULL_MILLI, 0),
    /* the entry point is named after its CUDA 12 spelling whichever one was found */
    NV_F("throttle_reasons", DeviceGetThrottleReasons, "nvmlDeviceGetCurrentClocksEventReasons",
         NVK_THROTTLE, 0),
    NV_G("pcie_link", nv_pcie_link),
    NV_F("memory_bytes", DeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo", NVK_MEM, 0)};

static void nv_fields(const nvml_lib *l, nvdev d, json_t *o, const nv_spec *f, size_t n);

static json_t *mode_pair(bool current, bool pending)
{
    json_t *v = json_object();
    json_object_set_new(v, "current", json_boolean(current));
    json_object_set_new(v, "pending", json_boolean(pending));
    return v;
}

static json_t *throttle_names(unsigned long long r)
{
    json_t *names = json_array();
    uint32_t m = ab_nvml_throttle_bits(r);
    for (unsigned b = 0; b < 16; b++)
        if (m & (1u << b)) json_array_append_new(names, json_string(ab_throttle_name(1u << b)));
    return names;
}

static json_t *ecc_counts(const nvml_lib *l, nvdev d, nv_ecc_fn fn, const char *fname)
{
    json_t *e = json_object();
    static const char *const names[2][2] = {{"volatile_corrected", "aggregate_corrected"},
                                            {"volatile_uncorrected", "aggregate_uncorrected"}};
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 2; c++) {
            unsigned long long n = 0;
            nvret r = fn(d, t, c, &n);
            nv_field(l, e, names[t][c], r, json_integer((json_int_t)n), fname);
        }
    return e;
}

static json_t *clocks_json(const nvml_lib *l, nvdev d)
{
    static const struct {
        const char *key;
        int type;
    } clk[] = {{"graphics", NV_CLOCK_GRAPHICS}, {"sm", NV_CLOCK_SM}, {"memory", NV_CLOCK_MEM}};
    json_t *clocks = json_object();
    for (size_t i = 0; i < 3; i++) {
        nv_spec f[3];
        memcpy(f, nv_clock, sizeof(f));
        for (size_t k = 0; k < 3; k++)
            f[k].arg = clk[i].type;
        json_t *t = json_object();
        nv_fields(l, d, t, f, 3);
        json_object_set_new(clocks, clk[i].key, t);
    }
    return clocks;
}

static void nvlink_field(const nvml_lib *l, nvdev d, json_t *o, const char *key, const char *fn)
{
    if (!l->DeviceGetNvLinkState) {
        nv_missing(o, key, fn);
        return;
    }
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
        ab_field_set(o, key, links, fn);
    else {
        json_decref(links);
        nv_field(l, o, key, first_rc, NULL, fn);
    }
}

/* Objects without a status of their own (groups, clocks), or fields with their own rules. */
static bool nv_compound(const nvml_lib *l, nvdev d, json_t *o, const nv_spec *f)
{
    switch (f->kind) {
    case NVK_GROUP: {
        json_t *g = json_object();
        nv_fields(l, d, g, f->sub, f->nsub);
        json_object_set_new(o, f->key, g);
        return true;
    }
    case NVK_CLOCKS: json_object_set_new(o, f->key, clocks_json(l, d)); return true;
    case NVK_NVLINK: nvlink_field(l, d, o, f->key, f->fn); return true;
    case NVK_ECC: {
        nv_ecc_fn fn = NV_SLOT(nv_ecc_fn);
        if (fn)
            json_object_set_new(o, f->key, ecc_counts(l, d, fn, f->fn));
        else
            nv_missing(o, f->key, f->fn);
        return true;
    }
    default: return false;
    }
}

/* One field: the getter is called if this NVML has it, its reading converted per the kind. */
static void nv_get(const nvml_lib *l, nvdev d, json_t *o, const nv_spec *f)
{
    if (nv_compound(l, d, o, f)) return;
    nvret rc = NV_SUCCESS;
    json_t *v = NULL;
    bool have = true;
    unsigned u = 0, u2 = 0;
    unsigned long long ull = 0;
    int i = 0, i2 = 0;
    char b[NV_STR_MAX] = "";
    /* true if this NVML has the getter (rc: what it returned) */
#define NV_CALL(T, ...) ((have = NV_SLOT(T) != NULL) && (rc = NV_SLOT(T)(d, __VA_ARGS__), 1))
    switch (f->kind) {
    case NVK_STR:
        if (!NV_CALL(nv_str_fn, b, (unsigned)f->arg)) break;
        if (rc == NV_SUCCESS && !*b) {
            ab_field_unavailable(o, f->key, "%s returned an empty string", f->fn);
            return;
        }
        v = json_string(b);
        break;
    case NVK_TSTR:
        if (NV_CALL(nv_tstr_fn, f->arg, b, 32)) v = json_string(b);
        break;
    case NVK_U:
        if (NV_CALL(nv_u_fn, &u)) v = json_integer(u);
        break;
    case NVK_U_MILLI:
        if (NV_CALL(nv_u_fn, &u)) v = json_real(u / 1000.0);
        break;
    case NVK_TU:
        if (NV_CALL(nv_tu_fn, f->arg, &u)) v = json_integer(u);
        break;
    case NVK_ULL_MILLI:
        if (NV_CALL(nv_ull_fn, &ull)) v = json_real((double)ull / 1000.0);
        break;
    case NVK_THROTTLE:
        if (NV_CALL(nv_ull_fn, &ull)) v = throttle_names(ull);
        break;
    case NVK_BOOL:
        if (NV_CALL(nv_int_fn, &i)) v = json_boolean(i);
        break;
    case NVK_IMODE:
        if (NV_CALL(nv_imode_fn, &i, &i2)) v = mode_pair(i, i2);
        break;
    case NVK_UMODE:
        if (NV_CALL(nv_umode_fn, &u, &u2)) v = mode_pair(u, u2);
        break;
    case NVK_MEM: {
        nvmem m;
        memset(&m, 0, sizeof(m));
        if (NV_CALL(nv_mem_fn, &m)) v = json_integer((json_int_t)m.total);
        break;
    }
    case NVK_PCI: {
        nvpci pci;
        memset(&pci, 0, sizeof(pci));
        rc = l->DeviceGetPciInfo(d, &pci);
        ab_pci_canon(pci.busId, b, 32);
        if (rc == NV_SUCCESS && !*b) rc = -1;
        v = json_string(b);
        break;
    }
    default: return;
    }
#undef NV_CALL
    if (have)
        nv_field(l, o, f->key, rc, v, f->fn);
    else
        nv_missing(o, f->key, f->fn);
}

static void nv_fields(const nvml_lib *l, nvdev d, json_t *o, const nv_spec *f, size_t n)
{
    for (size_t k = 0; k < n; k++)
        nv_get(l, d, o, &f[k]);
}

static json_t *device_json(const nvml_lib *l, unsigned idx, nvdev d)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(idx));
    nv_fields(l, d, o, nv_device, sizeof(nv_device) / sizeof(nv_device[0]));
    return o;
}

json_t *ab_probe_nvml(void)
{
    json_t *o = json_object();
    nvml_lib l;
    char why[AB_ERRLEN];
    if (ab_nvml_lib_open(&l, why) != 0) {
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
    ab_nvml_lib_close(&l);
    return o;
}

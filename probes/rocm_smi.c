/* SPDX-License-Identifier: MIT */
/*
 * ROCm SMI through dlopen. Types and entry points are declared here from the library's
 * documented C API (rocm_smi.h): calls return rsmi_status_t (0 = success), take the device
 * index first, report power in microwatts, temperature in millidegrees Celsius, clocks in Hz.
 *
 * One structure changed layout between releases: rsmi_frequencies_t gained a leading
 * `bool has_deep_sleep` and a 33rd frequency slot in ROCm 6. The library's own version
 * (rsmi_version_get) picks the layout; a result that does not make sense in it (current index
 * beyond the list) is an error, never a guess.
 */
#include "gpumgmt.h"
#include "probe.h"
#include "topo.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int rsret; /* rsmi_status_t */
enum { RS_SUCCESS = 0, RS_NOT_SUPPORTED = 2, RS_PERMISSION = 4 };
enum { RS_CLK_SYS = 0, RS_CLK_MEM = 4 };                             /* rsmi_clk_type_t */
enum { RS_TEMP_EDGE = 0, RS_TEMP_JUNCTION = 1, RS_TEMP_MEMORY = 2 }; /* rsmi_temperature_type_t */
enum { RS_TEMP_CURRENT = 0 };                                        /* rsmi_temperature_metric_t */
enum { RS_SW_COMP_DRIVER = 0 };                                      /* rsmi_sw_component_t */

typedef struct rsver { /* rsmi_version_t */
    uint32_t major, minor, patch;
    const char *build;
} rsver;

typedef struct rsfreq5 { /* rsmi_frequencies_t up to ROCm 5 */
    uint32_t num_supported, current;
    uint64_t frequency[32];
} rsfreq5;

typedef struct rsfreq6 { /* rsmi_frequencies_t from ROCm 6 */
    bool has_deep_sleep;
    uint32_t num_supported, current;
    uint64_t frequency[33];
} rsfreq6;

typedef struct rsmi_lib {
    void *dl;
    rsret (*init)(uint64_t);
    rsret (*shut_down)(void);
    rsret (*status_string)(rsret, const char **);
    rsret (*version_get)(rsver *);
    rsret (*version_str_get)(int, char *, uint32_t);
    rsret (*num_devices)(uint32_t *);
    rsret (*pci_id_get)(uint32_t, uint64_t *);
    rsret (*name_get)(uint32_t, char *, size_t);
    rsret (*vbios_get)(uint32_t, char *, uint32_t);
    rsret (*temp_get)(uint32_t, uint32_t, int, int64_t *);
    rsret (*power_ave_get)(uint32_t, uint32_t, uint64_t *);
    rsret (*socket_power_get)(uint32_t, uint64_t *);
    rsret (*power_cap_get)(uint32_t, uint32_t, uint64_t *);
    rsret (*clk_get)(uint32_t, int, void *);
    rsret (*energy_get)(uint32_t, uint64_t *, float *, uint64_t *);
    rsret (*unique_id_get)(uint32_t, uint64_t *);
    unsigned major;
    char path[256];
} rsmi_lib;

static const char *rs_str(const rsmi_lib *l, rsret rc)
{
    const char *s = NULL;
    if (l->status_string && l->status_string(rc, &s) == RS_SUCCESS && s) return s;
    return "unknown ROCm SMI status";
}

static int rsmi_open(rsmi_lib *l, char *why)
{
    memset(l, 0, sizeof(*l));
    const char *env = getenv("ACCELBENCH_ROCM_SMI_LIB");
    const char *cands[] = {env && *env ? env : NULL, "librocm_smi64.so",
                           "librocm_smi64.so.7",     "librocm_smi64.so.6",
                           "librocm_smi64.so.5",     "/opt/rocm/lib/librocm_smi64.so"};
    char first[AB_ERRLEN] = "";
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]) && !l->dl; i++) {
        if (!cands[i]) continue;
        l->dl = dlopen(cands[i], RTLD_NOW | RTLD_LOCAL);
        if (l->dl)
            ab_strlcpy(l->path, cands[i], sizeof(l->path));
        else if (!*first) {
            const char *e = dlerror();
            ab_strlcpy(first, e ? e : cands[i], sizeof(first));
        }
        if (env && *env && i == 0 && !l->dl)
            break; /* an explicit library that fails is the answer; do not fall back */
    }
    if (!l->dl) return ab_err(why, "%s (ROCm SMI not installed)", first);
#define REQ(field, name)                                                                           \
    do {                                                                                           \
        *(void **)&l->field = dlsym(l->dl, name);                                                  \
        if (!l->field) {                                                                           \
            ab_err(why, "%s has no %s", l->path, name);                                            \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
#define OPT(field, name) (*(void **)&l->field = dlsym(l->dl, name))
    REQ(init, "rsmi_init");
    REQ(shut_down, "rsmi_shut_down");
    REQ(num_devices, "rsmi_num_monitor_devices");
    REQ(pci_id_get, "rsmi_dev_pci_id_get");
    OPT(status_string, "rsmi_status_string");
    OPT(version_get, "rsmi_version_get");
    OPT(version_str_get, "rsmi_version_str_get");
    OPT(name_get, "rsmi_dev_name_get");
    OPT(vbios_get, "rsmi_dev_vbios_version_get");
    OPT(temp_get, "rsmi_dev_temp_metric_get");
    OPT(power_ave_get, "rsmi_dev_power_ave_get");
    OPT(socket_power_get, "rsmi_dev_current_socket_power_get");
    OPT(power_cap_get, "rsmi_dev_power_cap_get");
    OPT(clk_get, "rsmi_dev_gpu_clk_freq_get");
    OPT(energy_get, "rsmi_dev_energy_count_get");
    OPT(unique_id_get, "rsmi_dev_unique_id_get");
#undef REQ
#undef OPT
    rsret rc = l->init(0);
    if (rc != RS_SUCCESS) {
        ab_err(why, "rsmi_init failed: %s", rs_str(l, rc));
        goto fail;
    }
    rsver v;
    memset(&v, 0, sizeof(v));
    if (l->version_get && l->version_get(&v) == RS_SUCCESS) l->major = v.major;
    return 0;
fail:
    dlclose(l->dl);
    l->dl = NULL;
    return -1;
}

static void rsmi_close(rsmi_lib *l)
{
    if (!l->dl) return;
    l->shut_down();
    dlclose(l->dl);
    l->dl = NULL;
}

static void rs_field(const rsmi_lib *l, json_t *o, const char *key, rsret rc, json_t *value,
                     const char *fn)
{
    if (rc == RS_SUCCESS) {
        ab_field_set(o, key, value, fn);
        return;
    }
    json_decref(value);
    if (rc == RS_NOT_SUPPORTED)
        ab_field_unavailable(o, key, "not supported on this GPU (%s)", fn);
    else if (rc == RS_PERMISSION)
        ab_field_unavailable(o, key, "%s needs more privileges", fn);
    else
        ab_field_error(o, key, "%s: %s", fn, rs_str(l, rc));
}

/* Current clock in MHz from rsmi_dev_gpu_clk_freq_get, in the layout of this library. */
static rsret clock_mhz(const rsmi_lib *l, uint32_t dv, int type, double *mhz, double *max_mhz)
{
    union {
        rsfreq5 v5;
        rsfreq6 v6;
    } f;
    memset(&f, 0, sizeof(f));
    rsret rc = l->clk_get(dv, type, &f);
    if (rc != RS_SUCCESS) return rc;
    uint32_t n, cur;
    const uint64_t *hz;
    uint32_t cap;
    if (l->major >= 6) {
        n = f.v6.num_supported;
        cur = f.v6.current;
        hz = f.v6.frequency;
        cap = 33;
    } else {
        n = f.v5.num_supported;
        cur = f.v5.current;
        hz = f.v5.frequency;
        cap = 32;
    }
    if (n == 0 || n > cap || cur >= n)
        return -1000; /* the layout does not match this library: do not guess */
    *mhz = (double)hz[cur] / 1e6;
    if (max_mhz) {
        uint64_t m = 0;
        for (uint32_t i = 0; i < n; i++)
            if (hz[i] > m) m = hz[i];
        *max_mhz = (double)m / 1e6;
    }
    return RS_SUCCESS;
}

static void clock_field(const rsmi_lib *l, json_t *o, const char *key, uint32_t dv, int type)
{
    if (!l->clk_get) {
        ab_field_unavailable(o, key, "this ROCm SMI has no rsmi_dev_gpu_clk_freq_get");
        return;
    }
    double cur = NAN, max = NAN;
    rsret rc = clock_mhz(l, dv, type, &cur, &max);
    if (rc == -1000) {
        ab_field_error(o, key,
                       "rsmi_dev_gpu_clk_freq_get: frequency table does not fit the "
                       "ROCm SMI %u layout",
                       l->major);
        return;
    }
    json_t *v = json_object();
    json_object_set_new(v, "current", json_real(cur));
    json_object_set_new(v, "max", json_real(max));
    rs_field(l, o, key, rc, v, "rsmi_dev_gpu_clk_freq_get");
}

/* Socket power (MI300, ROCm 6) first; the older average power otherwise. */
static rsret power_w(const rsmi_lib *l, uint32_t dv, double *w, const char **fn)
{
    uint64_t uw = 0;
    rsret rc = -1;
    if (l->socket_power_get) {
        *fn = "rsmi_dev_current_socket_power_get";
        rc = l->socket_power_get(dv, &uw);
        if (rc == RS_SUCCESS) {
            *w = (double)uw / 1e6;
            return rc;
        }
    }
    if (l->power_ave_get) {
        *fn = "rsmi_dev_power_ave_get";
        rc = l->power_ave_get(dv, 0, &uw);
        if (rc == RS_SUCCESS) *w = (double)uw / 1e6;
    }
    return rc;
}

/* Junction (hotspot) first: MI300X reports no edge sensor. */
static rsret temp_c(const rsmi_lib *l, uint32_t dv, double *c)
{
    int64_t mc = 0;
    rsret rc = l->temp_get(dv, RS_TEMP_JUNCTION, RS_TEMP_CURRENT, &mc);
    if (rc != RS_SUCCESS) rc = l->temp_get(dv, RS_TEMP_EDGE, RS_TEMP_CURRENT, &mc);
    if (rc == RS_SUCCESS) *c = (double)mc / 1000.0;
    return rc;
}

static rsret energy_j(const rsmi_lib *l, uint32_t dv, double *j)
{
    uint64_t count = 0, ts = 0;
    float res = 0;
    rsret rc = l->energy_get(dv, &count, &res, &ts);
    if (rc == RS_SUCCESS)
        *j = (double)count * (double)res / 1e6; /* counter x resolution = microjoules */
    return rc;
}

static void bdf_string(uint64_t bdf, char *out, size_t len)
{
    /* BDFID = domain << 32 | bus << 8 | device << 3 | function */
    snprintf(out, len, "%04x:%02x:%02x.%x", (unsigned)(bdf >> 32) & 0xffff,
             (unsigned)(bdf >> 8) & 0xff, (unsigned)(bdf >> 3) & 0x1f, (unsigned)bdf & 0x7);
}

json_t *ab_probe_rocm_smi(void)
{
    json_t *o = json_object();
    rsmi_lib l;
    char why[AB_ERRLEN];
    if (rsmi_open(&l, why) != 0) {
        const char *keys[] = {"library", "driver_version", "rocm_smi_version", "devices"};
        for (size_t i = 0; i < 4; i++)
            ab_field_unavailable(o, keys[i], "%s%s", i ? "ROCm SMI unavailable: " : "", why);
        return o;
    }
    ab_field_set(o, "library", json_string(l.path), "dlopen");
    char b[256] = "";
    if (l.version_str_get) {
        rsret r = l.version_str_get(RS_SW_COMP_DRIVER, b, sizeof(b));
        rs_field(&l, o, "driver_version", r, json_string(b), "rsmi_version_str_get");
    } else
        ab_field_unavailable(o, "driver_version", "this ROCm SMI has no rsmi_version_str_get");
    rsver v;
    memset(&v, 0, sizeof(v));
    if (l.version_get && l.version_get(&v) == RS_SUCCESS) {
        snprintf(b, sizeof(b), "%u.%u.%u", v.major, v.minor, v.patch);
        ab_field_set(o, "rocm_smi_version", json_string(b), "rsmi_version_get");
    } else {
        ab_field_unavailable(o, "rocm_smi_version", "rsmi_version_get failed or is missing");
    }
    uint32_t n = 0;
    rsret rc = l.num_devices(&n);
    if (rc != RS_SUCCESS) {
        ab_field_error(o, "devices", "rsmi_num_monitor_devices: %s", rs_str(&l, rc));
        rsmi_close(&l);
        return o;
    }
    json_t *devs = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "index", json_integer(i));
        char s[256] = "";
        if (l.name_get) {
            rc = l.name_get(i, s, sizeof(s));
            rs_field(&l, d, "name", rc, json_string(s), "rsmi_dev_name_get");
        } else
            ab_field_unavailable(d, "name", "this ROCm SMI has no rsmi_dev_name_get");
        uint64_t bdf = 0;
        rc = l.pci_id_get(i, &bdf);
        bdf_string(bdf, s, sizeof(s));
        rs_field(&l, d, "pci_bus_id", rc, json_string(s), "rsmi_dev_pci_id_get");
        if (l.unique_id_get) {
            uint64_t uid = 0;
            rc = l.unique_id_get(i, &uid);
            snprintf(s, sizeof(s), "0x%016llx", (unsigned long long)uid);
            rs_field(&l, d, "unique_id", rc, json_string(s), "rsmi_dev_unique_id_get");
        } else {
            ab_field_unavailable(d, "unique_id", "this ROCm SMI has no rsmi_dev_unique_id_get");
        }
        s[0] = '\0';
        if (l.vbios_get) {
            rc = l.vbios_get(i, s, sizeof(s));
            rs_field(&l, d, "vbios", rc, json_string(s), "rsmi_dev_vbios_version_get");
        } else
            ab_field_unavailable(d, "vbios", "this ROCm SMI has no rsmi_dev_vbios_version_get");
        double x = NAN;
        if (l.temp_get) {
            rc = temp_c(&l, i, &x);
            rs_field(&l, d, "temperature_c", rc, json_real(x), "rsmi_dev_temp_metric_get");
        } else
            ab_field_unavailable(d, "temperature_c",
                                 "this ROCm SMI has no rsmi_dev_temp_metric_get");
        const char *fn = "rsmi_dev_power_ave_get";
        rc = power_w(&l, i, &x, &fn);
        rs_field(&l, d, "power_w", rc, json_real(x), fn);
        if (l.power_cap_get) {
            uint64_t uw = 0;
            rc = l.power_cap_get(i, 0, &uw);
            rs_field(&l, d, "power_cap_w", rc, json_real((double)uw / 1e6),
                     "rsmi_dev_power_cap_get");
        } else {
            ab_field_unavailable(d, "power_cap_w", "this ROCm SMI has no rsmi_dev_power_cap_get");
        }
        json_t *clk = json_object();
        clock_field(&l, clk, "gfx", i, RS_CLK_SYS);
        clock_field(&l, clk, "memory", i, RS_CLK_MEM);
        json_object_set_new(d, "clocks_mhz", clk);
        if (l.energy_get) {
            rc = energy_j(&l, i, &x);
            rs_field(&l, d, "energy_counter_j", rc, json_real(x), "rsmi_dev_energy_count_get");
        } else
            ab_field_unavailable(d, "energy_counter_j",
                                 "this ROCm SMI has no rsmi_dev_energy_count_get");
        ab_field_unavailable(d, "throttle_reasons",
                             "ROCm SMI reports throttle status only inside the versioned "
                             "gpu_metrics table, which this build does not decode");
        json_array_append_new(devs, d);
    }
    ab_field_set(o, "devices", devs, "rsmi_num_monitor_devices");
    rsmi_close(&l);
    return o;
}

/* ---- sampler source ---- */

typedef struct rs_src {
    rsmi_lib l;
    uint32_t dv;
} rs_src;

static int rs_read(void *ctx, ab_sample *s, char *err)
{
    rs_src *c = ctx;
    const rsmi_lib *l = &c->l;
    int ok = 0;
    double x;
    const char *fn;
    if (l->clk_get && clock_mhz(l, c->dv, RS_CLK_SYS, &x, NULL) == RS_SUCCESS) {
        s->clock_mhz = x;
        ok++;
    }
    if (l->clk_get && clock_mhz(l, c->dv, RS_CLK_MEM, &x, NULL) == RS_SUCCESS) s->mem_clock_mhz = x;
    if (power_w(l, c->dv, &x, &fn) == RS_SUCCESS) {
        s->power_w = x;
        ok++;
    }
    if (l->temp_get && temp_c(l, c->dv, &x) == RS_SUCCESS) s->temp_c = x;
    if (l->energy_get && energy_j(l, c->dv, &x) == RS_SUCCESS) {
        s->energy_j = x;
        ok++;
    }
    if (!ok) return ab_err(err, "ROCm SMI returned no clock, power or energy reading");
    return 0;
}

static void rs_close(void *ctx)
{
    rs_src *c = ctx;
    rsmi_close(&c->l);
    free(c);
}

static void why_of(const rsmi_lib *l, rsret rc, bool have, const char *fn, char *why)
{
    if (!have)
        snprintf(why, AB_ERRLEN, "this ROCm SMI has no %s", fn);
    else if (rc == -1000)
        snprintf(why, AB_ERRLEN, "%s: frequency table does not fit the ROCm SMI %u layout", fn,
                 l->major);
    else if (rc == RS_NOT_SUPPORTED)
        snprintf(why, AB_ERRLEN, "not supported on this GPU (%s)", fn);
    else if (rc != RS_SUCCESS)
        snprintf(why, AB_ERRLEN, "%s: %s", fn, rs_str(l, rc));
    else
        why[0] = '\0';
}

int ab_rsmi_source(const char *pci_bus_id, ab_sample_source *src, char *why)
{
    char want[32];
    ab_pci_canon(pci_bus_id, want, sizeof(want));
    if (!*want) return ab_err(why, "no PCI bus id to find the GPU in ROCm SMI");
    rs_src *c = calloc(1, sizeof(*c));
    if (!c) return ab_err(why, "out of memory");
    if (rsmi_open(&c->l, why) != 0) {
        free(c);
        return -1;
    }
    const rsmi_lib *l = &c->l;
    uint32_t n = 0;
    bool found = false;
    if (l->num_devices(&n) == RS_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) {
            uint64_t bdf;
            char s[32];
            if (l->pci_id_get(i, &bdf) != RS_SUCCESS) continue;
            bdf_string(bdf, s, sizeof(s));
            if (strcmp(s, want) == 0) {
                c->dv = i;
                found = true;
            }
        }
    if (!found) {
        ab_err(why, "ROCm SMI lists no GPU at PCI %s", want);
        rs_close(c);
        return -1;
    }
    memset(src, 0, sizeof(*src));
    src->name = "rocm_smi";
    src->ctx = c;
    src->read = rs_read;
    src->close = rs_close;
    ab_strlcpy(src->clock_what, "GFX clock (sclk, rsmi_dev_gpu_clk_freq_get)",
               sizeof(src->clock_what));
    ab_strlcpy(src->energy_what, "ROCm SMI energy counter", sizeof(src->energy_what));
    double x;
    const char *fn = "rsmi_dev_power_ave_get";
    why_of(l, l->clk_get ? clock_mhz(l, c->dv, RS_CLK_SYS, &x, NULL) : 0, l->clk_get,
           "rsmi_dev_gpu_clk_freq_get", src->why_clock);
    why_of(l, l->clk_get ? clock_mhz(l, c->dv, RS_CLK_MEM, &x, NULL) : 0, l->clk_get,
           "rsmi_dev_gpu_clk_freq_get", src->why_mem_clock);
    rsret prc = power_w(l, c->dv, &x, &fn);
    why_of(l, prc, l->socket_power_get || l->power_ave_get, fn, src->why_power);
    why_of(l, l->temp_get ? temp_c(l, c->dv, &x) : 0, l->temp_get, "rsmi_dev_temp_metric_get",
           src->why_temp);
    why_of(l, l->energy_get ? energy_j(l, c->dv, &x) : 0, l->energy_get,
           "rsmi_dev_energy_count_get", src->why_energy);
    snprintf(src->why_throttle, AB_ERRLEN,
             "ROCm SMI reports throttle status only inside the "
             "versioned gpu_metrics table, which this build does "
             "not decode");
    return 0;
}

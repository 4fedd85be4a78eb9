/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for libnvidia-ml.so.1 and librocm_smi64.so in tests: the entry points accelbench
 * loads, with the documented signatures, answering for made-up GPUs. Loaded through
 * $ACCELBENCH_NVML_LIB / $ACCELBENCH_ROCM_SMI_LIB, it exercises the real dlopen, lookup,
 * manifest and sampler code on a machine without GPUs.
 *
 *   NVML: 2 GPUs at 0000:18:00.0 and 0000:2a:00.0, 350 W each, energy counter = 350 W x time
 *         since load (so a window's energy is known), GPU 1 reports the software power cap.
 *   ROCm SMI (6.x layout): 1 GPU at 0000:c1:00.0, 750 W, energy counter of 15.3 uJ ticks.
 *   $FAKE_GPU_FAIL_INIT=1: both initialisations fail (driver not loaded).
 *   Health counters (ECC, retired pages, row remaps, PCIe replays, XID): settable, see below.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double t_load;
__attribute__((constructor)) static void on_load(void)
{
    t_load = now();
}

static bool fail_init(void)
{
    const char *e = getenv("FAKE_GPU_FAIL_INIT");
    return e && strcmp(e, "1") == 0;
}

/* ---------------- NVML ---------------- */

typedef struct nvml_dev_st {
    int idx;
} nvml_dev;
static nvml_dev devs[2] = {{0}, {1}};
static const char *const busids[2] = {"00000000:18:00.0", "00000000:2A:00.0"};

EXPORT int nvmlInit_v2(void)
{
    return fail_init() ? 9 : 0;
}
EXPORT int nvmlShutdown(void)
{
    return 0;
}
EXPORT const char *nvmlErrorString(int r)
{
    return r == 9 ? "Driver Not Loaded" : r == 3 ? "Not Supported" : "Unknown Error";
}
EXPORT int nvmlSystemGetDriverVersion(char *v, unsigned n)
{
    snprintf(v, n, "550.54.15");
    return 0;
}
EXPORT int nvmlSystemGetNVMLVersion(char *v, unsigned n)
{
    snprintf(v, n, "12.550.54.15");
    return 0;
}
EXPORT int nvmlSystemGetCudaDriverVersion_v2(int *v)
{
    *v = 12040;
    return 0;
}
EXPORT int nvmlDeviceGetCount_v2(unsigned *n)
{
    *n = 2;
    return 0;
}
EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvml_dev **d)
{
    if (i >= 2) return 2;
    *d = &devs[i];
    return 0;
}
EXPORT int nvmlDeviceGetName(nvml_dev *d, char *s, unsigned n)
{
    (void)d;
    snprintf(s, n, "NVIDIA H100 80GB HBM3");
    return 0;
}
EXPORT int nvmlDeviceGetUUID(nvml_dev *d, char *s, unsigned n)
{
    snprintf(s, n, "GPU-00000000-fake-0000-0000-00000000000%d", d->idx);
    return 0;
}
typedef struct {
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} pci_t;
EXPORT int nvmlDeviceGetPciInfo_v3(nvml_dev *d, pci_t *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->busId, sizeof(p->busId), "%s", busids[d->idx]);
    p->bus = d->idx ? 0x2a : 0x18;
    p->pciDeviceId = 0x233010de;
    return 0;
}
EXPORT int nvmlDeviceGetVbiosVersion(nvml_dev *d, char *s, unsigned n)
{
    (void)d;
    snprintf(s, n, "96.00.99.00.01");
    return 0;
}
EXPORT int nvmlDeviceGetInforomImageVersion(nvml_dev *d, char *s, unsigned n)
{
    (void)d;
    snprintf(s, n, "G520.0200.00.05");
    return 0;
}
EXPORT int nvmlDeviceGetInforomVersion(nvml_dev *d, int obj, char *s, unsigned n)
{
    (void)d;
    snprintf(s, n, obj == 0 ? "2.1" : obj == 1 ? "7.0" : "N/A");
    return obj == 2 ? 3 : 0;
}
EXPORT int nvmlDeviceGetEccMode(nvml_dev *d, int *c, int *p)
{
    (void)d;
    *c = *p = 1;
    return 0;
}
/* Health counters (the burn suite's verdict), the same on every GPU of both libraries. Their
 * values can be set (fake_gpumgmt_set, for tests that load this library themselves), and those
 * named in $FAKE_GPU_GROW (comma-separated: ecc_corrected, ecc_uncorrected, retired_pages,
 * remapped_rows, pcie_replay, remap_pending) grow by one on every read after the first, so a run
 * sees them grow between its start and end readings. $FAKE_GPU_XID=N: one XID N event, delivered
 * from the second drain of an event set on. */
enum { C_ECC_CE, C_ECC_UE, C_RETIRED, C_REMAPPED, C_REPLAY, C_REMAP_PENDING, C_N };
static const char *const c_names[C_N] = {"ecc_corrected", "ecc_uncorrected", "retired_pages",
                                         "remapped_rows", "pcie_replay",     "remap_pending"};
static unsigned long long c_value[C_N] = {3, 0, 0, 0, 0, 0};
static unsigned c_reads[C_N];

EXPORT int fake_gpumgmt_set(const char *name, unsigned long long v)
{
    for (int i = 0; i < C_N; i++)
        if (strcmp(name, c_names[i]) == 0) {
            c_value[i] = v;
            return 0;
        }
    return -1;
}

static bool grows(int i)
{
    const char *e = getenv("FAKE_GPU_GROW");
    size_t n = strlen(c_names[i]);
    for (const char *p = e; p && (p = strstr(p, c_names[i])); p += n)
        if ((p == e || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

static unsigned long long counter(int i)
{
    if (grows(i) && c_reads[i]++ > 0) c_value[i]++;
    return c_value[i];
}

EXPORT int nvmlDeviceGetTotalEccErrors(nvml_dev *d, int t, int c, unsigned long long *n)
{
    (void)d;
    *n = c == 1 ? counter(t == 0 ? C_ECC_CE : C_ECC_UE) : 0;
    return 0;
}
EXPORT int nvmlDeviceGetRetiredPages(nvml_dev *d, int cause, unsigned *count,
                                     unsigned long long *addr)
{
    (void)d;
    (void)addr;
    unsigned have = cause == 1 ? (unsigned)counter(C_RETIRED) : 0;
    int rc = *count < have ? 7 : 0; /* NVML_ERROR_INSUFFICIENT_SIZE */
    *count = have;
    return rc;
}
EXPORT int nvmlDeviceGetRetiredPagesPendingStatus(nvml_dev *d, int *pending)
{
    (void)d;
    *pending = 0;
    return 0;
}
EXPORT int nvmlDeviceGetRemappedRows(nvml_dev *d, unsigned *corr, unsigned *unc, unsigned *pend,
                                     unsigned *fail)
{
    (void)d;
    *corr = 0;
    *unc = (unsigned)counter(C_REMAPPED);
    *pend = (unsigned)counter(C_REMAP_PENDING);
    *fail = 0;
    return 0;
}
EXPORT int nvmlDeviceGetPcieReplayCounter(nvml_dev *d, unsigned *v)
{
    (void)d;
    *v = (unsigned)counter(C_REPLAY);
    return 0;
}
typedef struct fake_evset {
    unsigned drains;
    bool delivered;
} fake_evset;
typedef struct {
    nvml_dev *device;
    unsigned long long type, data;
    unsigned gi, ci;
} nv_event;
EXPORT int nvmlEventSetCreate(fake_evset **s)
{
    *s = calloc(1, sizeof(**s));
    return *s ? 0 : 2;
}
EXPORT int nvmlDeviceRegisterEvents(nvml_dev *d, unsigned long long types, fake_evset *s)
{
    (void)d;
    (void)s;
    return types & 0x8ull ? 0 : 3;
}
EXPORT int nvmlEventSetWait_v2(fake_evset *s, nv_event *ev, unsigned ms)
{
    (void)ms;
    const char *x = getenv("FAKE_GPU_XID");
    if (!x || !*x || s->delivered || s->drains++ == 0) return 10; /* NVML_ERROR_TIMEOUT */
    s->delivered = true;
    memset(ev, 0, sizeof(*ev));
    ev->device = &devs[0];
    ev->type = 0x8ull;
    ev->data = strtoull(x, NULL, 10);
    return 0;
}
EXPORT int nvmlEventSetFree(fake_evset *s)
{
    free(s);
    return 0;
}
EXPORT int nvmlDeviceGetPersistenceMode(nvml_dev *d, int *m)
{
    (void)d;
    *m = 1;
    return 0;
}
EXPORT int nvmlDeviceGetPowerManagementLimit(nvml_dev *d, unsigned *mw)
{
    (void)d;
    *mw = 700000;
    return 0;
}
EXPORT int nvmlDeviceGetPowerManagementDefaultLimit(nvml_dev *d, unsigned *mw)
{
    (void)d;
    *mw = 700000;
    return 0;
}
EXPORT int nvmlDeviceGetEnforcedPowerLimit(nvml_dev *d, unsigned *mw)
{
    (void)d;
    *mw = 700000;
    return 0;
}
EXPORT int nvmlDeviceGetClockInfo(nvml_dev *d, int type, unsigned *mhz)
{
    (void)d;
    *mhz = type == 2 ? 2619 : 1980;
    return 0;
}
EXPORT int nvmlDeviceGetApplicationsClock(nvml_dev *d, int type, unsigned *mhz)
{
    (void)d;
    *mhz = type == 2 ? 2619 : 1755;
    return 0;
}
EXPORT int nvmlDeviceGetMaxClockInfo(nvml_dev *d, int type, unsigned *mhz)
{
    (void)d;
    *mhz = type == 2 ? 2619 : 1980;
    return 0;
}
EXPORT int nvmlDeviceGetMigMode(nvml_dev *d, unsigned *c, unsigned *p)
{
    (void)d;
    (void)c;
    (void)p;
    return 3; /* not supported */
}
EXPORT int nvmlDeviceGetNvLinkState(nvml_dev *d, unsigned link, int *active)
{
    (void)d;
    if (link >= 18) return 2;
    *active = 1;
    return 0;
}
EXPORT int nvmlDeviceGetNvLinkVersion(nvml_dev *d, unsigned link, unsigned *v)
{
    (void)d;
    (void)link;
    *v = 4;
    return 0;
}
EXPORT int nvmlDeviceGetTemperature(nvml_dev *d, int s, unsigned *c)
{
    (void)d;
    (void)s;
    *c = 41;
    return 0;
}
EXPORT int nvmlDeviceGetPowerUsage(nvml_dev *d, unsigned *mw)
{
    (void)d;
    *mw = 350000;
    return 0;
}
EXPORT int nvmlDeviceGetTotalEnergyConsumption(nvml_dev *d, unsigned long long *mj)
{
    (void)d;
    *mj = 1000000ull + (unsigned long long)((now() - t_load) * 350.0 * 1000.0);
    return 0;
}
EXPORT int nvmlDeviceGetCurrentClocksEventReasons(nvml_dev *d, unsigned long long *r)
{
    *r = d->idx == 1 ? 0x4ull : 0x0ull;
    return 0;
}
EXPORT int nvmlDeviceGetCurrPcieLinkGeneration(nvml_dev *d, unsigned *v)
{
    (void)d;
    *v = 5;
    return 0;
}
EXPORT int nvmlDeviceGetCurrPcieLinkWidth(nvml_dev *d, unsigned *v)
{
    (void)d;
    *v = 16;
    return 0;
}
EXPORT int nvmlDeviceGetMaxPcieLinkGeneration(nvml_dev *d, unsigned *v)
{
    (void)d;
    *v = 5;
    return 0;
}
EXPORT int nvmlDeviceGetMaxPcieLinkWidth(nvml_dev *d, unsigned *v)
{
    (void)d;
    *v = 16;
    return 0;
}
typedef struct {
    unsigned long long total, free, used;
} mem_t;
EXPORT int nvmlDeviceGetMemoryInfo(nvml_dev *d, mem_t *m)
{
    (void)d;
    m->total = 85520809984ull;
    m->free = m->total;
    m->used = 0;
    return 0;
}

/* ---------------- ROCm SMI (6.x) ---------------- */

typedef struct {
    uint32_t major, minor, patch;
    const char *build;
} rsver;
typedef struct {
    bool has_deep_sleep;
    uint32_t num_supported, current;
    uint64_t frequency[33];
} rsfreq6;

EXPORT int rsmi_init(uint64_t f)
{
    (void)f;
    return fail_init() ? 8 : 0;
}
EXPORT int rsmi_shut_down(void)
{
    return 0;
}
EXPORT int rsmi_status_string(int s, const char **str)
{
    *str = s == 2   ? "RSMI_STATUS_NOT_SUPPORTED"
           : s == 8 ? "RSMI_STATUS_INIT_ERROR"
                    : "RSMI_STATUS_UNKNOWN";
    return 0;
}
EXPORT int rsmi_version_get(rsver *v)
{
    v->major = 7;
    v->minor = 0;
    v->patch = 0;
    v->build = "fake";
    return 0;
}
EXPORT int rsmi_version_str_get(int comp, char *s, uint32_t n)
{
    (void)comp;
    snprintf(s, n, "6.7.0-fake");
    return 0;
}
EXPORT int rsmi_num_monitor_devices(uint32_t *n)
{
    *n = 1;
    return 0;
}
EXPORT int rsmi_dev_pci_id_get(uint32_t dv, uint64_t *bdf)
{
    (void)dv;
    *bdf = (0ull << 32) | (0xc1ull << 8) | (0ull << 3) | 0ull;
    return 0;
}
EXPORT int rsmi_dev_name_get(uint32_t dv, char *s, size_t n)
{
    (void)dv;
    snprintf(s, n, "AMD Instinct MI300X");
    return 0;
}
EXPORT int rsmi_dev_vbios_version_get(uint32_t dv, char *s, uint32_t n)
{
    (void)dv;
    snprintf(s, n, "113-M3000100-102");
    return 0;
}
EXPORT int rsmi_dev_temp_metric_get(uint32_t dv, uint32_t sensor, int metric, int64_t *mc)
{
    (void)dv;
    (void)metric;
    if (sensor == 0) return 2; /* MI300X: no edge sensor */
    *mc = 48000;
    return 0;
}
EXPORT int rsmi_dev_current_socket_power_get(uint32_t dv, uint64_t *uw)
{
    (void)dv;
    *uw = 750000000ull;
    return 0;
}
EXPORT int rsmi_dev_power_ave_get(uint32_t dv, uint32_t s, uint64_t *uw)
{
    (void)dv;
    (void)s;
    (void)uw;
    return 2;
}
EXPORT int rsmi_dev_power_cap_get(uint32_t dv, uint32_t s, uint64_t *uw)
{
    (void)dv;
    (void)s;
    *uw = 750000000ull;
    return 0;
}
EXPORT int rsmi_dev_gpu_clk_freq_get(uint32_t dv, int type, rsfreq6 *f)
{
    (void)dv;
    memset(f, 0, sizeof(*f));
    f->num_supported = 3;
    f->current = 2;
    f->frequency[0] = 500000000ull;
    f->frequency[1] = type == 4 ? 900000000ull : 1500000000ull;
    f->frequency[2] = type == 4 ? 1300000000ull : 2100000000ull;
    return 0;
}
EXPORT int rsmi_dev_energy_count_get(uint32_t dv, uint64_t *count, float *res, uint64_t *ts)
{
    (void)dv;
    double j = 5000.0 + (now() - t_load) * 750.0;
    *res = 15.3f;
    *count = (uint64_t)(j * 1e6 / 15.3);
    *ts = (uint64_t)(now() * 1e9);
    return 0;
}
EXPORT int rsmi_dev_ecc_count_get(uint32_t dv, uint64_t block, uint64_t *ec)
{
    (void)dv;
    if (block != 0x1 && block != 0x4) return 2; /* UMC and GFX have ECC here */
    ec[0] = block == 0x1 ? counter(C_ECC_CE) : 0;
    ec[1] = block == 0x1 ? counter(C_ECC_UE) : 0;
    return 0;
}
EXPORT int rsmi_dev_pci_replay_counter_get(uint32_t dv, uint64_t *v)
{
    (void)dv;
    *v = counter(C_REPLAY);
    return 0;
}
EXPORT int rsmi_dev_memory_reserved_pages_get(uint32_t dv, uint32_t *n, void *records)
{
    (void)dv;
    (void)records;
    *n = (uint32_t)counter(C_RETIRED);
    return 0;
}
EXPORT int rsmi_dev_unique_id_get(uint32_t dv, uint64_t *id)
{
    (void)dv;
    *id = 0x1234abcd5678ef90ull;
    return 0;
}

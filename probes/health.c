/* SPDX-License-Identifier: MIT */
/*
 * GPU health counters (health.h) through NVML and ROCm SMI, loaded with dlopen. The prototypes
 * are declared here from the libraries' documented C APIs (docs.nvidia.com/deploy/nvml-api,
 * rocm_smi.h), as nvml.c and rocm_smi.c do; this file keeps its own small loader so that the
 * sampler's and the manifest's code stay as they are.
 */
#include "health.h"

#include "probe.h"
#include "topo.h"

#include <dirent.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[AB_HC_COUNT] = {
    "ecc_corrected", "ecc_uncorrected", "retired_pages", "retired_pending", "remapped_rows",
    "remap_pending", "remap_failure",   "pcie_replay",   "xid_events"};

const char *ab_health_name(int i)
{
    return i >= 0 && i < AB_HC_COUNT ? names[i] : "?";
}

typedef int hret;
typedef struct nvml_dev_st *nvdev;
typedef struct nvml_evset_st *nvevset;
enum { NV_OK = 0, NV_NOT_SUPPORTED = 3, NV_INSUFFICIENT_SIZE = 7, NV_TIMEOUT = 10 };
enum { NV_CORRECTED = 0, NV_UNCORRECTED = 1, NV_AGGREGATE = 1 };
enum { NV_RETIRE_SBE = 0, NV_RETIRE_DBE = 1 };
#define NV_EVENT_XID 0x0000000000000008ull /* nvmlEventTypeXidCriticalError */

typedef struct nvpci { /* nvmlPciInfo_t (v3) */
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvpci;

typedef struct nvevent { /* nvmlEventData_t */
    nvdev device;
    unsigned long long type, data;
    unsigned gpu_instance, compute_instance;
} nvevent;

struct ab_health {
    const char *source;
    void *dl;
    /* NVML */
    hret (*nv_shutdown)(void);
    const char *(*nv_error)(hret);
    hret (*ecc)(nvdev, int, int, unsigned long long *);
    hret (*retired)(nvdev, int, unsigned *, unsigned long long *);
    hret (*retired_pending)(nvdev, int *);
    hret (*remapped)(nvdev, unsigned *, unsigned *, unsigned *, unsigned *);
    hret (*replay)(nvdev, unsigned *);
    hret (*ev_wait)(nvevset, nvevent *, unsigned);
    hret (*ev_free)(nvevset);
    nvdev d;
    nvevset evs;
    char why_xid[160];
    unsigned long long xids, last_xid;
    /* EDAC (host memory controllers) */
    ab_probe_opts probe;
    int nmc;
    /* ROCm SMI */
    hret (*rs_shutdown)(void);
    hret (*rs_ecc)(uint32_t, uint64_t, uint64_t *); /* the block enum is 64-bit */
    hret (*rs_replay)(uint32_t, uint64_t *);
    hret (*rs_reserved)(uint32_t, uint32_t *, void *);
    uint32_t dv;
};

const char *ab_health_source(const ab_health *h)
{
    return h->source;
}

static void *sym2(void *dl, const char *a, const char *b)
{
    void *p = dlsym(dl, a);
    return p || !b ? p : dlsym(dl, b);
}

static const char *nv_err(const ab_health *h, hret rc)
{
    return rc == NV_NOT_SUPPORTED ? "not supported on this GPU"
           : h->nv_error          ? h->nv_error(rc)
                                  : "NVML error";
}

/* The NVML device at want (canonical bus id), and its XID event set. */
static int nv_find(ab_health *h, const char *want, char *why)
{
    hret (*count)(unsigned *) = sym2(h->dl, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    hret (*by_index)(unsigned, nvdev *) =
        sym2(h->dl, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    hret (*pci)(nvdev, nvpci *) = sym2(h->dl, "nvmlDeviceGetPciInfo_v3", NULL);
    unsigned n = 0;
    if (!count || !by_index || !pci || count(&n) != NV_OK)
        return ab_err(why, "NVML cannot list the GPUs");
    for (unsigned i = 0; i < n; i++) {
        nvpci p;
        char canon[32];
        if (by_index(i, &h->d) != NV_OK || pci(h->d, &p) != NV_OK) continue;
        ab_pci_canon(p.busId, canon, sizeof(canon));
        if (strcmp(canon, want) == 0) return 0;
    }
    return ab_err(why, "NVML lists no GPU at PCI %s", want);
}

static void nv_events(ab_health *h)
{
    hret (*create)(nvevset *) = sym2(h->dl, "nvmlEventSetCreate", NULL);
    hret (*reg)(nvdev, unsigned long long, nvevset) = sym2(h->dl, "nvmlDeviceRegisterEvents", NULL);
    *(void **)&h->ev_wait = sym2(h->dl, "nvmlEventSetWait_v2", "nvmlEventSetWait");
    *(void **)&h->ev_free = sym2(h->dl, "nvmlEventSetFree", NULL);
    hret rc;
    if (!create || !reg || !h->ev_wait || !h->ev_free)
        snprintf(h->why_xid, sizeof(h->why_xid), "this NVML has no event sets");
    else if ((rc = create(&h->evs)) != NV_OK)
        snprintf(h->why_xid, sizeof(h->why_xid), "nvmlEventSetCreate: %s", nv_err(h, rc));
    else if ((rc = reg(h->d, NV_EVENT_XID, h->evs)) != NV_OK) {
        snprintf(h->why_xid, sizeof(h->why_xid), "nvmlDeviceRegisterEvents(XID): %s",
                 nv_err(h, rc));
        h->ev_free(h->evs);
        h->evs = NULL;
    }
}

static int nv_open(ab_health *h, const char *want, char *why)
{
    const char *e = getenv("ACCELBENCH_NVML_LIB");
    const char *path = e && *e ? e : "libnvidia-ml.so.1";
    if (!(h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        const char *de = dlerror();
        return ab_err(why, "%s (no NVIDIA driver installed)", de ? de : path);
    }
    hret (*init)(void) = sym2(h->dl, "nvmlInit_v2", "nvmlInit");
    *(void **)&h->nv_shutdown = sym2(h->dl, "nvmlShutdown", NULL);
    *(void **)&h->nv_error = sym2(h->dl, "nvmlErrorString", NULL);
    hret rc;
    if (!init || !h->nv_shutdown) return ab_err(why, "%s has no nvmlInit/nvmlShutdown", path);
    if ((rc = init()) != NV_OK) return ab_err(why, "nvmlInit failed: %s", nv_err(h, rc));
    if (nv_find(h, want, why) != 0) {
        h->nv_shutdown();
        h->nv_shutdown = NULL;
        return -1;
    }
    *(void **)&h->ecc = sym2(h->dl, "nvmlDeviceGetTotalEccErrors", NULL);
    *(void **)&h->retired = sym2(h->dl, "nvmlDeviceGetRetiredPages", NULL);
    *(void **)&h->retired_pending = sym2(h->dl, "nvmlDeviceGetRetiredPagesPendingStatus", NULL);
    *(void **)&h->remapped = sym2(h->dl, "nvmlDeviceGetRemappedRows", NULL);
    *(void **)&h->replay = sym2(h->dl, "nvmlDeviceGetPcieReplayCounter", NULL);
    nv_events(h);
    return 0;
}

static void set(ab_health_counter *c, hret rc, unsigned long long v, const ab_health *h,
                const char *fn)
{
    c->ok = rc == NV_OK;
    c->value = c->ok ? v : 0;
    if (!c->ok) snprintf(c->why, sizeof(c->why), "%s: %s", fn, nv_err(h, rc));
}

static void note(ab_health_counter *c, const char *why)
{
    c->ok = false;
    snprintf(c->why, sizeof(c->why), "%s", why);
}

static void no_fn(ab_health_counter *c, const char *lib, const char *fn)
{
    c->ok = false;
    snprintf(c->why, sizeof(c->why), "this %s has no %s", lib, fn);
}

static void nv_read(ab_health *h, ab_health_reading *r)
{
    ab_health_counter *c = r->c;
    unsigned long long v = 0;
    unsigned a = 0, b = 0, p = 0, f = 0;
    if (h->ecc) {
        /* each call before the set() that reads its value (argument order is unspecified) */
        hret rc = h->ecc(h->d, NV_CORRECTED, NV_AGGREGATE, &v);
        set(&c[AB_HC_ECC_CORRECTED], rc, v, h, "nvmlDeviceGetTotalEccErrors");
        rc = h->ecc(h->d, NV_UNCORRECTED, NV_AGGREGATE, &v);
        set(&c[AB_HC_ECC_UNCORRECTED], rc, v, h, "nvmlDeviceGetTotalEccErrors");
    } else {
        no_fn(&c[AB_HC_ECC_CORRECTED], "NVML", "nvmlDeviceGetTotalEccErrors");
        c[AB_HC_ECC_UNCORRECTED] = c[AB_HC_ECC_CORRECTED];
    }
    if (h->retired) {
        /* a count query: pageCount 0 and no buffer ("insufficient size" when pages exist) */
        hret r1 = h->retired(h->d, NV_RETIRE_SBE, &a, NULL);
        hret r2 = h->retired(h->d, NV_RETIRE_DBE, &b, NULL);
        r1 = r1 == NV_INSUFFICIENT_SIZE ? NV_OK : r1;
        r2 = r2 == NV_INSUFFICIENT_SIZE ? NV_OK : r2;
        set(&c[AB_HC_RETIRED_PAGES], r1 != NV_OK ? r1 : r2, (unsigned long long)a + b, h,
            "nvmlDeviceGetRetiredPages");
    } else {
        no_fn(&c[AB_HC_RETIRED_PAGES], "NVML", "nvmlDeviceGetRetiredPages");
    }
    int pend = 0;
    if (h->retired_pending) {
        hret rc = h->retired_pending(h->d, &pend);
        set(&c[AB_HC_RETIRED_PENDING], rc, pend != 0, h, "nvmlDeviceGetRetiredPagesPendingStatus");
    } else
        no_fn(&c[AB_HC_RETIRED_PENDING], "NVML", "nvmlDeviceGetRetiredPagesPendingStatus");
    if (h->remapped) {
        hret rc = h->remapped(h->d, &a, &b, &p, &f);
        set(&c[AB_HC_REMAPPED_ROWS], rc, (unsigned long long)a + b, h, "nvmlDeviceGetRemappedRows");
        set(&c[AB_HC_REMAP_PENDING], rc, p, h, "nvmlDeviceGetRemappedRows");
        set(&c[AB_HC_REMAP_FAILURE], rc, f, h, "nvmlDeviceGetRemappedRows");
    } else {
        for (int i = AB_HC_REMAPPED_ROWS; i <= AB_HC_REMAP_FAILURE; i++)
            no_fn(&c[i], "NVML", "nvmlDeviceGetRemappedRows");
    }
    if (h->replay) {
        hret rc = h->replay(h->d, &a);
        set(&c[AB_HC_PCIE_REPLAY], rc, a, h, "nvmlDeviceGetPcieReplayCounter");
    } else
        no_fn(&c[AB_HC_PCIE_REPLAY], "NVML", "nvmlDeviceGetPcieReplayCounter");
    if (h->evs) {
        nvevent ev;
        for (int k = 0; k < 1024 && h->ev_wait(h->evs, &ev, 0) == NV_OK; k++)
            if (ev.type & NV_EVENT_XID) {
                h->xids++;
                h->last_xid = ev.data;
            }
        c[AB_HC_XID].ok = true;
        c[AB_HC_XID].value = h->xids;
        r->last_xid = h->last_xid;
    } else {
        note(&c[AB_HC_XID], h->why_xid);
    }
}

/* ---- ROCm SMI ---- */

static int rs_open(ab_health *h, const char *want, char *why)
{
    const char *e = getenv("ACCELBENCH_ROCM_SMI_LIB");
    const char *path = e && *e ? e : "librocm_smi64.so";
    if (!(h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        const char *de = dlerror();
        return ab_err(why, "%s (ROCm SMI not installed)", de ? de : path);
    }
    hret (*init)(uint64_t) = dlsym(h->dl, "rsmi_init");
    hret (*num)(uint32_t *) = dlsym(h->dl, "rsmi_num_monitor_devices");
    hret (*pci)(uint32_t, uint64_t *) = dlsym(h->dl, "rsmi_dev_pci_id_get");
    *(void **)&h->rs_shutdown = dlsym(h->dl, "rsmi_shut_down");
    if (!init || !num || !pci || !h->rs_shutdown)
        return ab_err(why, "%s lacks rsmi_init, rsmi_num_monitor_devices or rsmi_dev_pci_id_get",
                      path);
    hret rc = init(0);
    if (rc != 0) return ab_err(why, "rsmi_init failed (status %d)", rc);
    uint32_t n = 0;
    bool found = false;
    if (num(&n) == 0)
        for (uint32_t i = 0; i < n && !found; i++) {
            uint64_t bdf;
            char s[32], canon[32];
            if (pci(i, &bdf) != 0) continue;
            snprintf(s, sizeof(s), "%04x:%02x:%02x.%x", (unsigned)(bdf >> 32),
                     (unsigned)((bdf >> 8) & 0xff), (unsigned)((bdf >> 3) & 0x1f),
                     (unsigned)(bdf & 0x7));
            ab_pci_canon(s, canon, sizeof(canon));
            if (strcmp(canon, want) == 0) {
                h->dv = i;
                found = true;
            }
        }
    if (!found) {
        h->rs_shutdown();
        h->rs_shutdown = NULL;
        return ab_err(why, "ROCm SMI lists no GPU at PCI %s", want);
    }
    *(void **)&h->rs_ecc = dlsym(h->dl, "rsmi_dev_ecc_count_get");
    *(void **)&h->rs_replay = dlsym(h->dl, "rsmi_dev_pci_replay_counter_get");
    *(void **)&h->rs_reserved = dlsym(h->dl, "rsmi_dev_memory_reserved_pages_get");
    return 0;
}

static void rs_set(ab_health_counter *c, hret rc, unsigned long long v, const char *fn)
{
    c->ok = rc == 0;
    c->value = c->ok ? v : 0;
    if (!c->ok)
        snprintf(c->why, sizeof(c->why), "%s: %s", fn,
                 rc == 2 ? "not supported on this GPU" : "ROCm SMI error");
}

static void rs_read(ab_health *h, ab_health_reading *r)
{
    ab_health_counter *c = r->c;
    if (h->rs_ecc) {
        /* rsmi_gpu_block_t is a bit mask: UMC 0x1 ... MPIO 0x2000; a block without ECC says
         * "not supported" and is left out */
        unsigned long long ce = 0, ue = 0;
        int any = 0;
        for (uint64_t blk = 1; blk <= 0x2000; blk <<= 1) {
            /* rsmi_error_count_t: correctable, uncorrectable (and, from ROCm 6.1, deferred) */
            uint64_t ec[3] = {0, 0, 0};
            if (h->rs_ecc(h->dv, blk, ec) == 0) {
                ce += ec[0];
                ue += ec[1];
                any++;
            }
        }
        rs_set(&c[AB_HC_ECC_CORRECTED], any ? 0 : 2, ce, "rsmi_dev_ecc_count_get");
        rs_set(&c[AB_HC_ECC_UNCORRECTED], any ? 0 : 2, ue, "rsmi_dev_ecc_count_get");
    } else {
        no_fn(&c[AB_HC_ECC_CORRECTED], "ROCm SMI", "rsmi_dev_ecc_count_get");
        c[AB_HC_ECC_UNCORRECTED] = c[AB_HC_ECC_CORRECTED];
    }
    uint32_t pages = 0;
    if (h->rs_reserved) {
        hret rc = h->rs_reserved(h->dv, &pages, NULL);
        rs_set(&c[AB_HC_RETIRED_PAGES], rc, pages, "rsmi_dev_memory_reserved_pages_get");
    } else
        no_fn(&c[AB_HC_RETIRED_PAGES], "ROCm SMI", "rsmi_dev_memory_reserved_pages_get");
    uint64_t replay = 0;
    if (h->rs_replay) {
        hret rc = h->rs_replay(h->dv, &replay);
        rs_set(&c[AB_HC_PCIE_REPLAY], rc, replay, "rsmi_dev_pci_replay_counter_get");
    } else
        no_fn(&c[AB_HC_PCIE_REPLAY], "ROCm SMI", "rsmi_dev_pci_replay_counter_get");
    note(&c[AB_HC_RETIRED_PENDING], "ROCm SMI reports no pending retirement");
    for (int i = AB_HC_REMAPPED_ROWS; i <= AB_HC_REMAP_FAILURE; i++)
        note(&c[i], "ROCm SMI reports no row remapping (retired pages cover it)");
    note(&c[AB_HC_XID], "XID events are NVIDIA's; ROCm SMI has none");
}

/* ---- EDAC: the host's memory controllers (the CPU device), /sys/devices/system/edac/mc ---- */

#define EDAC_MC "/sys/devices/system/edac/mc"

/* mc0, mc1, ... present below the probe root */
static int edac_count(const ab_probe_opts *o)
{
    char path[4096];
    ab_probe_path(o, EDAC_MC, path, sizeof(path));
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "mc", 2) == 0 && e->d_name[2] >= '0' && e->d_name[2] <= '9';
    closedir(d);
    return n;
}

static int edac_open(ab_health *h, char *why)
{
    ab_probe_opts_env(&h->probe);
    h->nmc = edac_count(&h->probe);
    if (h->nmc <= 0)
        return ab_err(why,
                      "no EDAC memory controller under %s (no ECC reporting for this "
                      "host's memory: typical in a VM)",
                      EDAC_MC);
    return 0;
}

static void edac_sum(ab_health *h, const char *file, ab_health_counter *c)
{
    unsigned long long sum = 0;
    for (int i = 0; i < h->nmc; i++) {
        char path[128], buf[64], why[AB_ERRLEN];
        snprintf(path, sizeof(path), EDAC_MC "/mc%d/%s", i, file);
        if (ab_probe_read(&h->probe, path, buf, sizeof(buf), why) != 0) {
            note(c, why);
            return;
        }
        sum += strtoull(buf, NULL, 10);
    }
    c->ok = true;
    c->value = sum;
}

static void edac_read(ab_health *h, ab_health_reading *r)
{
    edac_sum(h, "ce_count", &r->c[AB_HC_ECC_CORRECTED]);
    edac_sum(h, "ue_count", &r->c[AB_HC_ECC_UNCORRECTED]);
    for (int i = AB_HC_RETIRED_PAGES; i < AB_HC_COUNT; i++)
        note(&r->c[i], i == AB_HC_PCIE_REPLAY ? "EDAC counts memory errors only"
                                              : "a GPU's counter: host memory has none");
}

int ab_health_open(const char *source, const char *pci_bus_id, ab_health **out, char *why)
{
    char want[32] = "";
    *out = NULL;
    bool edac = strcmp(source, "edac") == 0, nv = strcmp(source, "nvml") == 0;
    if (!edac) ab_pci_canon(pci_bus_id, want, sizeof(want));
    if (!edac && !*want) return ab_err(why, "no PCI bus id to find the GPU");
    ab_health *h = calloc(1, sizeof(*h));
    if (!h) return ab_err(why, "out of memory");
    h->source = edac ? "edac" : nv ? "nvml" : "rocm_smi";
    int rc = edac ? edac_open(h, why) : nv ? nv_open(h, want, why) : rs_open(h, want, why);
    if (rc != 0) {
        if (h->dl) dlclose(h->dl);
        free(h);
        return -1;
    }
    *out = h;
    return 0;
}

void ab_health_read(ab_health *h, ab_health_reading *r)
{
    memset(r, 0, sizeof(*r));
    if (h->nmc > 0)
        edac_read(h, r);
    else if (h->nv_shutdown)
        nv_read(h, r);
    else
        rs_read(h, r);
}

void ab_health_close(ab_health *h)
{
    if (!h) return;
    if (h->evs && h->ev_free) h->ev_free(h->evs);
    if (h->nv_shutdown) h->nv_shutdown();
    if (h->rs_shutdown) h->rs_shutdown();
    if (h->dl) dlclose(h->dl);
    free(h);
}

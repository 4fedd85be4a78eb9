/* SPDX-License-Identifier: MIT */
/*
 * GPU health counters for the burn suite's verdict, read through the vendor management
 * libraries (dlopen, as gpumgmt.h: $ACCELBENCH_NVML_LIB, $ACCELBENCH_ROCM_SMI_LIB):
 *
 *   counter             NVML                                        ROCm SMI
 *   ecc_corrected       nvmlDeviceGetTotalEccErrors(corrected,      rsmi_dev_ecc_count_get, summed
 *                       aggregate)                                  over the blocks (correctable)
 *   ecc_uncorrected     ... (uncorrected, aggregate)                ... (uncorrectable)
 *   retired_pages       nvmlDeviceGetRetiredPages (SBE + DBE) rsmi_dev_memory_reserved_pages_get
 *   retired_pending     nvmlDeviceGetRetiredPagesPendingStatus      -
 *   remapped_rows       nvmlDeviceGetRemappedRows (corr + unc)      -
 *   remap_pending       ... isPending                               -
 *   remap_failure       ... failureOccurred                         -
 *   pcie_replay         nvmlDeviceGetPcieReplayCounter              rsmi_dev_pci_replay_counter_get
 *   xid_events          nvmlEventSetWait_v2 on an event set          -
 *                       registered for nvmlEventTypeXidCriticalError
 *
 * Source "edac" is the host's memory controllers (the CPU device): ecc_corrected and
 * ecc_uncorrected are the sums of /sys/devices/system/edac/mc/mc*\/{ce,ue}_count (below
 * $ACCELBENCH_PROBE_ROOT, as every probe); the other counters are a GPU's.
 *
 * A counter the library or the GPU does not have is unavailable with the reason; the verdict
 * (ab_health_judge) names it and does not pass or fail on it. Clock throttling is the sampler's
 * (probes/sampler.h); the burn suite judges it from the sampler summary.
 */
#ifndef AB_HEALTH_H
#define AB_HEALTH_H

#include "../core/ab.h"

#include <jansson.h>
#include <stdbool.h>

enum {
    AB_HC_ECC_CORRECTED = 0,
    AB_HC_ECC_UNCORRECTED,
    AB_HC_RETIRED_PAGES,
    AB_HC_RETIRED_PENDING,
    AB_HC_REMAPPED_ROWS,
    AB_HC_REMAP_PENDING,
    AB_HC_REMAP_FAILURE,
    AB_HC_PCIE_REPLAY,
    AB_HC_XID,
    AB_HC_COUNT
};

typedef struct ab_health_counter {
    bool ok;                  /* read; else why */
    unsigned long long value; /* a count (xid_events: events since open) */
    char why[160];
} ab_health_counter;

typedef struct ab_health_reading {
    ab_health_counter c[AB_HC_COUNT];
    unsigned long long last_xid; /* the last XID number seen (xid_events > 0) */
} ab_health_reading;

typedef struct ab_health ab_health;

/* Name of counter i ("ecc_uncorrected"), and what reads it on this source. */
const char *ab_health_name(int i);

/* Opens the counters of the GPU at pci_bus_id: source "nvml" or "rocm_smi"; or "edac" (the host,
 * pci_bus_id unused). 0, or -1 with why (library missing, GPU not listed, no EDAC). */
int ab_health_open(const char *source, const char *pci_bus_id, ab_health **h, char *why);
/* "nvml", "rocm_smi", "edac" */
const char *ab_health_source(const ab_health *h);
/* Reads every counter now (xid_events drains the event set: it counts since open). */
void ab_health_read(ab_health *h, ab_health_reading *r);
void ab_health_close(ab_health *h);

/* The checks between two readings of the same GPU: `problems` gets one "; "-separated phrase per
 * failed check ("" when none), and the returned object the start and end of every counter, its
 * growth, and the checks' state (pass, fail, unavailable with the reason). */
json_t *ab_health_judge(const ab_health_reading *start, const ab_health_reading *end,
                        char *problems, size_t len);

#endif

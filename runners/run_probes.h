/* SPDX-License-Identifier: MIT */
/*
 * What `accelbench run` adds from the probes (issue 7), kept out of cmd_run.c's flow:
 *   - the manifest, annotated with the run's device ids;
 *   - the sampler: one source per selected device (NVML for cuda:N, ROCm SMI for hip:N, sysfs
 *     for the CPU), running for the whole run; each result gets extra.sampler summarised over
 *     its own window [started, started + time_spent];
 *   - PAPI counts of the CPU backend summed over the same window (extra.counters);
 *   - pinning: before a GPU's suites run, the main thread (and with it the helper threads the
 *     runtime creates when the device opens) is pinned to the cores nearest to the GPU
 *     (hwloc); the CPU device gets its team's first core back; others the original mask.
 */
#ifndef AB_RUN_PROBES_H
#define AB_RUN_PROBES_H

#include "../backends/registry.h"
#include "../core/rundoc.h"

#include <sched.h>

typedef struct ab_topo ab_topo;
typedef struct ab_sampler ab_sampler;

typedef struct ab_run_probes {
    ab_sampler *sampler;
    ab_topo *topo;
    char topo_why[AB_ERRLEN];
    cpu_set_t orig; /* the process's affinity before any device pinned a thread */
    bool have_orig;
    double wall_minus_mono; /* maps result start times (wall clock) to the monotonic clock */
    json_t *affinity;       /* device id -> {"cpus", "reason"} of the pinning done for it */
} ab_run_probes;

/* Call after ab_platform_init and before any device is opened. `selected` is the --device
 * list (NULL: all). Annotates manifest.accelerators[].devices with the run's device ids.
 * Never fails: what cannot be set up is recorded as a reason. */
void ab_run_probes_init(ab_run_probes *rp, ab_platform *p, char *const *selected, json_t *manifest);
/* Before d's suites run: pins the calling thread for d. */
void ab_run_probes_before_device(ab_run_probes *rp, ab_device *d);
/* At emit: attaches extra.sampler, extra.counters and extra.host_affinity to r. */
void ab_run_probes_attach(ab_run_probes *rp, ab_platform *p, ab_result *r);
void ab_run_probes_fini(ab_run_probes *rp);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The CPU's sampler source: the current frequency of the cores that run the kernels (cpufreq's
 * scaling_cur_freq, averaged over them) and package energy from RAPL through the powercap
 * sysfs interface (energy_uj, wrap-around handled with max_energy_range_uj). Either may be
 * missing (VMs have neither; energy_uj is root-only on most kernels): the source then says why.
 */
#ifndef AB_CPUPOWER_H
#define AB_CPUPOWER_H

#include "probe.h"
#include "sampler.h"

/* A source for the logical CPUs cpus[0..n). -1 with why when neither frequency nor energy is
 * readable. */
int ab_cpu_source(const ab_probe_opts *o, const int *cpus, int n, ab_sample_source *src, char *why);

#endif

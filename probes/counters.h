/* SPDX-License-Identifier: MIT */
/*
 * Hardware counters around the CPU kernels, through PAPI: cycles, instructions, L1D, L2 and
 * last-level cache misses, counted on every thread of the CPU backend's OpenMP team for each
 * timed batch (between the backend's timer_start and timer_stop), and summed by the runner over
 * a result's window. Where the machine exposes no counters (most VMs), the reason PAPI gives is
 * recorded instead.
 *
 * Overhead stays out of the timed region: counting starts before the timer's first clock read
 * and stops after its last. Counts therefore also cover the two clock reads and the OpenMP fork
 * of the kernel launch, nothing else.
 *
 * Threading: ab_counters_thread_start/stop are called by team thread `tid` itself inside a
 * parallel region (PAPI counts the calling thread); everything else by the thread that owns
 * the device.
 */
#ifndef AB_COUNTERS_H
#define AB_COUNTERS_H

#include <jansson.h>

typedef struct ab_counters ab_counters;

/* PAPI for a team of nthreads. NULL with why when counting is unavailable: not built with PAPI,
 * disabled ($ACCELBENCH_PAPI=0), or no event could be added (PAPI's own message). */
ab_counters *ab_counters_new(int nthreads, char *why);
void ab_counters_free(ab_counters *c);
void ab_counters_thread_start(ab_counters *c, int tid);
void ab_counters_thread_stop(ab_counters *c, int tid);
/* After every thread stopped: logs the interval [t0, t1] (CLOCK_MONOTONIC) with the summed
 * counts. */
void ab_counters_interval(ab_counters *c, double t0, double t1);
/* extra.counters for a result whose window is [t0, t1]. */
json_t *ab_counters_summary(ab_counters *c, double t0, double t1);
/* extra.counters when counting is unavailable. */
json_t *ab_counters_missing(const char *why);

#endif

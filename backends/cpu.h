/* SPDX-License-Identifier: MIT */
/* The CPU backend's device handle, shared with the CPU implementations of the suites. */
#ifndef AB_BACKEND_CPU_H
#define AB_BACKEND_CPU_H

#include "backend.h"

#define AB_CPU_MAX_THREADS 1024

typedef struct ab_cpu_dev {
    int threads;                  /* OpenMP team size used by every CPU kernel */
    int cpus[AB_CPU_MAX_THREADS]; /* logical CPU each thread is pinned to (-1: not pinned) */
    bool pinned;                  /* every thread was pinned successfully */
    double timer_t0;              /* timer_start stamp */
    /* Hardware counters around every timed batch (probes/counters.h): NULL when unavailable,
     * with the reason in counters_why. The runner sums them over each result's window. */
    struct ab_counters *counters;
    char counters_why[256];
} ab_cpu_dev;

extern const ab_backend_ops ab_backend_cpu;

/* Splits [0, n) into `parts` contiguous chunks whose boundaries are multiples of `align`
 * elements (so vector and streaming stores stay aligned); chunk `i` is [*lo, *hi). */
void ab_cpu_chunk(size_t n, int parts, int i, size_t align, size_t *lo, size_t *hi);

/* Page-aligned allocation (2 MiB-aligned and advised into transparent huge pages from 8 MiB).
 * Pages are left untouched: the first parallel write places each page on the NUMA node of the
 * thread that writes it, so initialise with the same static partition the kernels use.
 * `d` may be NULL. */
void *ab_cpu_alloc(const ab_cpu_dev *d, size_t bytes);
void ab_cpu_free(void *p);

#endif

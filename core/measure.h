/* SPDX-License-Identifier: MIT */
/*
 * The sampling policy every suite uses (DESIGN.md, "Measurement rules"):
 *   1. warm-up launches, never recorded;
 *   2. calibration: the iteration count grows until one timed batch lasts at least min_time
 *      (calibration batches are counted as warm-up, not recorded);
 *   3. `samples` timed batches of that many iterations, each giving seconds per iteration.
 * Every sample is kept. SIGINT/SIGTERM stop sampling after the current batch.
 */
#ifndef AB_MEASURE_H
#define AB_MEASURE_H

#include "ab.h"

typedef struct ab_sampling {
    double min_time; /* seconds a timed batch must last at least */
    int samples;     /* batches to record */
    int warmup;      /* untimed single-iteration launches before calibration (>= 1) */
    double max_time; /* sampling stops early past this many seconds once 3 samples exist; 0 = no cap */
    long max_iters;  /* upper bound on iterations per batch */
} ab_sampling;

/*
 * Runs `iters` back-to-back repetitions of a kernel and stores in *seconds the time they took,
 * measured with the device's own timer (CUDA/HIP events, OpenCL profiling events, the monotonic
 * clock on the CPU). Must block until the work is complete. Returns 0 or -1 with err.
 */
typedef int (*ab_timed_fn)(void *arg, long iters, double *seconds, char *err);

typedef struct ab_timing {
    double *per_iter; /* seconds per iteration, one value per recorded batch */
    size_t n;
    long iters;       /* iterations per recorded batch */
    int warmup_runs;  /* launches not recorded (warm-up plus calibration batches) */
    bool interrupted; /* a signal stopped sampling; per_iter holds what finished */
    double spent;     /* wall seconds spent in ab_measure */
} ab_timing;

/* Fills defaults for the named profile ("quick", "standard", "full"); -1 for an unknown name. */
int ab_sampling_profile(const char *profile, ab_sampling *s);

int ab_measure(const ab_sampling *s, ab_timed_fn fn, void *arg, ab_timing *t, char *err);
void ab_timing_free(ab_timing *t);

#endif

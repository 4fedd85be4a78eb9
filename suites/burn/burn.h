/* SPDX-License-Identifier: MIT */
/*
 * burn: sustained GEMM and memory traffic on a device for --duration, in intervals; every
 * interval's output is checked against the exact f64 reference (GEMM, the same entries every
 * interval, every entry scanned for being written and finite) or the expected values (membw
 * triad, every element), and at the end a health verdict per device (burn.health) from the
 * checks, the sampler's throttle reasons and the management library's health counters
 * (probes/health.h). Kernels are the gemm and membw suites' tables; nothing new runs.
 *
 *   burn.c       descriptor, parameters, plan, the interval loop, the verdict
 *   burn_work.c  the GEMM and membw phases of an interval
 */
#ifndef AB_BURN_H
#define AB_BURN_H

#include "../gemm/gemm_cases.h"
#include "../membw/membw.h"
#include "../suite.h"

#define AB_BURN_MAX_DTYPES 4

typedef struct burn_plan {
    double duration, interval; /* seconds */
    double throttle_share;     /* largest share of samples allowed in a thermal/brake state */
    long size;                 /* GEMM M = N = K; 0: by device */
    bool dtype[AB_DT_COUNT];
    bool dtype_given;
    uint64_t membw_bytes; /* membw working set over the three arrays; 0: by device */
} burn_plan;

/* One GEMM of the burn: buffers, plan, the reference of its sampled entries. */
typedef struct burn_gemm {
    ab_dtype dt;
    const ab_gemm_impl *impl;
    const ab_gemm_backend *gb;
    ab_gemm_op op;
    void *plan;
    ab_gemm_group g; /* a, b, c of set 0, scratch, ref: what ab_gemm_check reads */
    char library[256];
} burn_gemm;

typedef struct burn_membw {
    const ab_membw_impl *impl;
    ab_membw_args args;
    void *host; /* readback buffer (not on host-memory devices) */
} burn_membw;

/* What one phase measured: samples (seconds per iteration of each timed batch) and the check. */
typedef struct burn_phase {
    double *per_iter;
    size_t n, cap;
    long iters; /* of the last batch */
    bool fail;
    char msg[512];
} burn_phase;

/* burn_work.c: 0, AB_CASE_SKIP (reason in err) or -1 */
int burn_gemm_setup(const ab_device *d, const burn_plan *p, ab_dtype dt, burn_gemm *g, char *err);
void burn_gemm_free(const ab_device *d, burn_gemm *g);
/* Multiplies for `seconds`, then checks C (filled with the never-written marker first). */
int burn_gemm_phase(const ab_device *d, burn_gemm *g, double seconds, burn_phase *ph, ab_result *r,
                    const char *corrupt, char *err);
int burn_membw_setup(const ab_device *d, const burn_plan *p, burn_membw *m, char *err);
void burn_membw_free(const ab_device *d, burn_membw *m);
int burn_membw_phase(const ab_device *d, burn_membw *m, double seconds, burn_phase *ph,
                     const char *corrupt, char *err);
void burn_phase_free(burn_phase *ph);

#endif

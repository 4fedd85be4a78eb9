/* SPDX-License-Identifier: MIT */
/*
 * gemm's own declarations shared by its driver files (not a public interface; the kernels'
 * contract is gemm.h):
 *   gemm.c         descriptor, parameters, the plan, generation (suite skips, a group per
 *                  shape x dtype, its cases)
 *   gemm_cases.c   the group (time estimate, memory, buffer sets) and the case hooks (prepare,
 *                  timed multiplies, metrics extras, corruption, validation)
 *   gemm_verify.c  the f64 reference and the check of C
 */
#ifndef AB_GEMM_CASES_H
#define AB_GEMM_CASES_H

#include "gemm.h"

#include "../case.h"

#include <string.h>


enum { AB_GL_NN = 0, AB_GL_NT, AB_GL_TN, AB_GL_COUNT };

/* seeds of the input matrices (any fixed values: the data must be the same every run) */
#define AB_GEMM_SEED_A 0x243F6A8885A308D3ull
#define AB_GEMM_SEED_B 0x13198A2E03707344ull
/* at most this many buffer sets rotate for small shapes */
#define AB_GEMM_MAX_SETS 64
/* sampled entries at least (rows x columns of a stratified grid) */
#define AB_GEMM_MIN_SAMPLES 256

/* The options of a device run, and what the run has learned so far. */
typedef struct ab_gemm_plan {
    bool dtype[AB_DT_COUNT];
    bool impl[AB_GEMM_NIMPL];
    bool layout[AB_GL_COUNT];
    bool layout_given; /* --layout: applies to every shape; otherwise LLM sets run NT only */
    ab_gemm_shape *shapes;
    size_t nshapes;
    bool custom; /* shapes given with --shape: never skipped for time */
    double budget;
    /* state of the device run */
    bool usable[AB_GEMM_NIMPL][AB_DT_COUNT]; /* implementation present and dtype supported */
    ab_gemm_type out[AB_GEMM_NIMPL][AB_DT_COUNT];
    double rate[AB_GEMM_NIMPL][AB_DT_COUNT]; /* best FLOP/s seen, for the time estimate */
    double bw[AB_GEMM_NIMPL][AB_DT_COUNT];   /* best B/s seen on skinny shapes */
} ab_gemm_plan;

/* The entries checked and their f64 reference. */
typedef struct ab_gemm_ref {
    int64_t *rows, *cols;
    size_t nr, nc;
    bool full;
    double *ref, *sumabs; /* nr x nc */
} ab_gemm_ref;

/* A group: one shape and dtype, every implementation and layout, sharing the inputs. */
typedef struct ab_gemm_group {
    ab_gemm_shape sh;
    ab_dtype dt;
    bool want[AB_GEMM_NIMPL][AB_GL_COUNT]; /* a case exists */
    ab_gemm_op op[AB_GEMM_NIMPL][AB_GL_COUNT];
    /* decided by the group setup: why a pair is skipped before anything is allocated (these
     * are reported first), and why every remaining pair is skipped (does not fit) */
    bool pre[AB_GEMM_NIMPL][AB_GL_COUNT];
    char pre_why[AB_GEMM_NIMPL][AB_GL_COUNT][AB_ERRLEN];
    char why[AB_ERRLEN];
    int nsets;
    void *a[AB_GEMM_MAX_SETS], *b[AB_GEMM_MAX_SETS], *c[AB_GEMM_MAX_SETS];
    void *scratch; /* host slice for reading C back */
    size_t scratch_bytes;
    /* the reference of one layout, shared by the implementations (only C's type differs) */
    int ref_layout; /* -1: none */
    bool ref_failed;
    char ref_err[AB_ERRLEN];
    ab_gemm_ref ref;
} ab_gemm_group;

/* One implementation on one layout. */
typedef struct ab_gemm_case {
    int impl, layout;
    void *plan; /* the implementation's */
    long next;  /* buffer set of the next multiply */
} ab_gemm_case;

/* ---- capabilities (ab_device_info) ---- */

/* the device's cores compute in host memory: C is read in place */
static inline bool ab_gemm_host_backend(const ab_device *d)
{
    return d->info.kind == AB_KIND_HOST;
}

/* the host backend's thread count (the "threads" param), -1 on other backends */
static inline int ab_gemm_cpu_threads(const ab_device *d)
{
    return ab_gemm_host_backend(d) ? d->info.threads : -1;
}

/* gemm_cases.c */
extern const ab_group_ops ab_gemm_group_ops;
extern const ab_case_ops ab_gemm_pre_ops; /* the skip decided before allocation, or absent */
extern const ab_case_ops ab_gemm_run_ops; /* the measurement, or absent */

/* gemm_verify.c */
int ab_gemm_ref_make(const ab_gemm_op *op, ab_gemm_ref *r, char *err);
void ab_gemm_ref_free(ab_gemm_ref *r);
/* Damages one sampled entry of buffer c (--test-corrupt). */
int ab_gemm_corrupt(const ab_device *d, const ab_gemm_op *op, const ab_gemm_ref *r, void *c,
                    char *err);
/* Checks every buffer set's C against r: fills v (and the "validation" extra of res). */
int ab_gemm_check(const ab_device *d, const ab_gemm_group *g, const ab_gemm_op *op,
                  ab_result *res, ab_verdict *v, char *err);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * attention's own declarations shared by its driver files (not a public interface; the public
 * one is attention.h):
 *   attention.c        descriptor, parameters, the plan, the shape sweep (generation)
 *   attention_cases.c  a group per (dtype, shape) owning the inputs, the fp64 reference and the
 *                      naive output; a case per implementation: setup, run, corrupt, validate
 *   attention_check.c  the fp64 reference rows and the verdict (range, reference, naive)
 *   attention_host.c   the host helpers attention.h declares (conversions, counts, reference row)
 */
#ifndef AB_ATTENTION_CASES_H
#define AB_ATTENTION_CASES_H

#include "attention.h"

#include "../case.h"

#include <string.h>

/* Input pattern: seeds per tensor; Q and K in [-2, 2) so the scores (std ≈ 1.3 after the
 * 1/sqrt(d) scale) give peaked softmax rows, as trained models do, instead of a near-uniform
 * average that would hide masking and rescaling errors; V in [-1, 1), so every output element,
 * a convex combination of V values, lies in [-1, 1]. */
#define AB_ATTN_SEED_Q 11
#define AB_ATTN_SEED_K 23
#define AB_ATTN_SEED_V 37
#define AB_ATTN_AMP_QK 2.0f
#define AB_ATTN_AMP_V 1.0f

/* ---- capabilities (ab_device_info) ---- */

/* the device's cores run the kernels in host memory: its buffers are readable in place */
static inline bool ab_attn_host_backend(const ab_device *d)
{
    return d->info.kind == AB_KIND_HOST;
}

/* f32 is the default dtype where the device does not default to bf16 (CPU, OpenCL) */
static inline bool ab_attn_f32_default(const ab_device *d)
{
    return !d->info.default_bf16;
}

/* ---- the fp64 reference and the verdict (attention_check.c) ---- */

/* A reference row: output row i of query head h in sequence b. */
typedef struct ab_attn_refrow {
    long b, h, i;
} ab_attn_refrow;

typedef struct ab_attn_ref {
    ab_attn_refrow *rows;
    size_t n;
    double *out; /* n × head_dim */
    bool all;    /* every output row is a reference row */
} ab_attn_ref;

/* What validation found, for the result's extra and its status. */
typedef struct ab_attn_verdict {
    size_t scanned, out_of_range, first_bad;
    double first_bad_val;
    size_t ref_rows, ref_bad;
    double ref_max_err;
    ab_attn_refrow ref_worst;
    double ref_worst_got, ref_worst_want;
    size_t naive_compared, naive_bad;
    double naive_max_diff;
} ab_attn_verdict;

/* splitmix-style finaliser (reference rows, the corrupted element) */
uint64_t ab_attn_mix(uint64_t x);
/* element i of buf (dtype t) as a double */
double ab_attn_to_double(ab_attn_dtype t, const void *buf, size_t i);
/* Picks the reference rows (all of them when they fit the profile's fp64 budget) and computes
 * them from the regenerated inputs: 0, or -1 with err ("" when out of memory picking). */
int ab_attn_ref_make(const ab_attn_shape *s, ab_attn_dtype t, const char *profile,
                     ab_attn_ref *r, char *err);
void ab_attn_ref_free(ab_attn_ref *r);
/* Checks output o (host memory): every element in range, the reference rows, and every element
 * against naive_out (the naive path's output) when not NULL. */
void ab_attn_validate(const ab_attn_shape *s, ab_attn_dtype t, const void *o,
                      const ab_attn_ref *ref, const float *naive_out, ab_attn_verdict *v);
/* extra.validation */
json_t *ab_attn_verdict_json(const ab_attn_verdict *v, const ab_attn_ref *ref, ab_attn_dtype t);
/* true with the failure message in msg when the verdict is a fail */
bool ab_attn_verdict_failed(const ab_attn_verdict *v, const ab_attn_shape *s, char *msg,
                            size_t len);

/* ---- the cases (attention_cases.c) ---- */

/* Adds the group of one (dtype, shape) case: the inputs shared by one case per implementation
 * in impl[] (naive, fused, vendor); with `headline` the fused case is the headline candidate. */
int ab_attn_add_group(ab_caselist *l, const ab_attn_shape *s, ab_attn_dtype t, bool decode,
                      const bool impl[AB_ATTN_NKINDS], bool headline);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * attention on OpenCL (f32): kernels in attention.cl, embedded at build time
 * (ab_attention_cl_source), built once per device and head dimension; kernels come from the
 * device's cache (ab_ocl_kernel), so every run sets all their arguments before launching.
 *
 * naive   at_scores (a float8 dot product per score, into the materialised scores),
 *         at_softmax (a work-item per row), at_pv (a work-item per 8 output columns)
 * fused   prefill: at_flash, a work-item per query row, BC-key tiles of K and V in local memory,
 *         online softmax once per tile; decode: at_decode (a work-item per cache chunk and KV
 *         head, all its query heads at once) + at_combine
 */
#include "attention.h"

#include "../../backends/opencl.h"
#include "../../core/ab.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern const char ab_attention_cl_source[];

#define BR 32 /* query rows per at_flash work-group */
#define BC 32 /* keys per tile */

static bool is_decode(const ab_attn_shape *s)
{
    return s->q_len == 1;
}

static int get_program(ab_ocl_dev *d, int head_dim, cl_program *p, char *err)
{
    char opts[160], key[32];
    snprintf(opts, sizeof(opts), "-cl-std=CL1.2 -DD=%d -DBR=%d -DBC=%d", head_dim, BR, BC);
    snprintf(key, sizeof(key), "attention-d%d", head_dim);
    return ab_ocl_program(d, key, ab_attention_cl_source, opts, p, err);
}

static long decode_splits(const ab_ocl_dev *d, const ab_attn_shape *s)
{
    long units = (long)s->batch * s->kv_heads;
    long want = (4L * (long)d->compute_units + units - 1) / units;
    long most = s->kv_len / 512;
    if (want > most)
        want = most;
    return want < 1 ? 1 : want;
}

static size_t ocl_workspace(void *dev, ab_attn_kind kind, ab_attn_dtype dt,
                            const ab_attn_shape *s)
{
    (void)dt;
    if (kind == AB_ATTN_NAIVE)
        return (size_t)s->batch * s->heads * (size_t)s->q_len * (size_t)s->kv_len * sizeof(float);
    if (is_decode(s))
        return (size_t)s->batch * s->heads * (size_t)decode_splits(dev, s) *
               ((size_t)s->head_dim + 2) * sizeof(float);
    return 0;
}

static int ocl_supports(void *dev, ab_attn_kind kind, ab_attn_dtype dt, const ab_attn_shape *s,
                        char *why)
{
    ab_ocl_dev *d = dev;
    if (kind == AB_ATTN_VENDOR)
        return ab_err(why, "no vendor fused-attention library behind OpenCL");
    if (dt != AB_ATTN_F32)
        return ab_err(why, "the OpenCL kernels compute in f32 only (%s is not implemented)",
                      ab_attn_dtype_name(dt));
    if (s->head_dim % 8 != 0)
        return ab_err(why, "head_dim %d is not a multiple of 8", s->head_dim);
    cl_ulong local = 0;
    clGetDeviceInfo(d->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof(local), &local, NULL);
    size_t need = 0;
    if (kind == AB_ATTN_FUSED && !is_decode(s)) {
        need = 2 * (size_t)BC * s->head_dim * sizeof(float);
        if (d->max_wg < BR)
            return ab_err(why, "work-groups of %d needed, device allows %zu", BR, d->max_wg);
    }
    if (need > local)
        return ab_err(why, "needs %zu bytes of local memory, device has %llu", need,
                      (unsigned long long)local);
    return 0;
}

#define ARG AB_OCL_ARG

/* the SHAPE_ARGS of attention.cl, from index i */
static int shape_args(cl_kernel k, cl_uint i, const ab_attn_shape *s, char *err)
{
    cl_int heads = s->heads, kvh = s->kv_heads, causal = s->causal;
    cl_long sq = s->q_len, skv = s->kv_len;
    cl_float scale = s->scale;
    return ARG(k, i, heads) || ARG(k, i + 1, kvh) || ARG(k, i + 2, sq) || ARG(k, i + 3, skv) ||
           ARG(k, i + 4, causal) || ARG(k, i + 5, scale);
}

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

static int ocl_fill(void *dev, ab_attn_dtype dt, void *buf, size_t n, uint64_t seed, float amp,
                    char *err)
{
    ab_ocl_dev *d = dev;
    if (dt != AB_ATTN_F32)
        return ab_err(err, "opencl: fill: only f32");
    cl_program p;
    cl_kernel k;
    /* the pattern kernel does not depend on the head dimension: any build will do */
    if (get_program(d, 128, &p, err) || ab_ocl_kernel(d, p, "at_fill", &k, err))
        return -1;
    cl_ulong nn = n, sd = seed;
    cl_float a = amp;
    size_t gws = round_up(n, 256);
    if (ARG(k, 0, buf) || ARG(k, 1, nn) || ARG(k, 2, sd) || ARG(k, 3, a) ||
        ab_ocl_launch(d, k, 1, &gws, NULL, err))
        return -1;
    cl_int rc = clFinish(d->q);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clFinish: %s", ab_ocl_strerror(rc));
    return 0;
}

static int run_naive(ab_ocl_dev *d, cl_program p, const ab_attn_args *a, long iters, char *err)
{
    const ab_attn_shape *s = &a->s;
    cl_kernel ks = NULL, km = NULL, kp = NULL;
    int r = ab_ocl_kernel(d, p, "at_scores", &ks, err) ||
            ab_ocl_kernel(d, p, "at_softmax", &km, err) || ab_ocl_kernel(d, p, "at_pv", &kp, err);
    cl_mem q = a->q, k = a->k, v = a->v, o = a->o, w = a->work;
    r = r || ARG(ks, 0, q) || ARG(ks, 1, k) || ARG(ks, 2, w) || shape_args(ks, 3, s, err) ||
        ARG(km, 0, w) || shape_args(km, 1, s, err) || ARG(kp, 0, w) || ARG(kp, 1, v) ||
        ARG(kp, 2, o) || shape_args(kp, 3, s, err);
    size_t bh = (size_t)s->batch * s->heads;
    size_t g1[3] = {(size_t)s->kv_len, (size_t)s->q_len, bh};
    size_t g2[1] = {bh * (size_t)s->q_len};
    size_t g3[3] = {(size_t)s->head_dim / 8, (size_t)s->q_len, bh};
    for (long it = 0; !r && it < iters; it++)
        r = ab_ocl_launch(d, ks, 3, g1, NULL, err) || ab_ocl_launch(d, km, 1, g2, NULL, err) ||
            ab_ocl_launch(d, kp, 3, g3, NULL, err);
    return r ? -1 : 0;
}

static int run_flash(ab_ocl_dev *d, cl_program p, const ab_attn_args *a, long iters, char *err)
{
    const ab_attn_shape *s = &a->s;
    cl_kernel k = NULL;
    cl_mem q = a->q, kk = a->k, v = a->v, o = a->o;
    int r = ab_ocl_kernel(d, p, "at_flash", &k, err) || ARG(k, 0, q) || ARG(k, 1, kk) ||
            ARG(k, 2, v) || ARG(k, 3, o) || shape_args(k, 4, s, err);
    size_t gws[2] = {round_up((size_t)s->q_len, BR), (size_t)s->batch * s->heads};
    size_t lws[2] = {BR, 1};
    for (long it = 0; !r && it < iters; it++)
        r = ab_ocl_launch(d, k, 2, gws, lws, err);
    return r ? -1 : 0;
}

static int run_decode(ab_ocl_dev *d, cl_program p, const ab_attn_args *a, long iters, char *err)
{
    const ab_attn_shape *s = &a->s;
    cl_kernel kd = NULL, kc = NULL;
    cl_mem q = a->q, k = a->k, v = a->v, o = a->o, w = a->work;
    cl_int g = s->heads / s->kv_heads, nsplit = (cl_int)decode_splits(d, s);
    cl_long chunk = (s->kv_len + nsplit - 1) / nsplit, rows = (cl_long)s->batch * s->heads;
    int r = ab_ocl_kernel(d, p, "at_decode", &kd, err) ||
            ab_ocl_kernel(d, p, "at_combine", &kc, err) || ARG(kd, 0, q) || ARG(kd, 1, k) ||
            ARG(kd, 2, v) || ARG(kd, 3, w) || shape_args(kd, 4, s, err) || ARG(kd, 10, g) ||
            ARG(kd, 11, chunk) || ARG(kd, 12, nsplit) || ARG(kc, 0, w) || ARG(kc, 1, o) ||
            ARG(kc, 2, nsplit) || ARG(kc, 3, rows);
    size_t g1[2] = {(size_t)nsplit, (size_t)s->batch * s->kv_heads};
    size_t g2[1] = {round_up((size_t)rows * s->head_dim, 64)};
    /* On a CPU driver every (chunk, KV head) work-item is its own work-group, so the driver
     * spreads them over its threads (left to itself PoCL put all of them in one group, one
     * core); GPUs choose for themselves. */
    size_t one[2] = {1, 1};
    const size_t *l1 = (d->type & CL_DEVICE_TYPE_CPU) ? one : NULL;
    for (long it = 0; !r && it < iters; it++)
        r = ab_ocl_launch(d, kd, 2, g1, l1, err) || ab_ocl_launch(d, kc, 1, g2, NULL, err);
    return r ? -1 : 0;
}

static int ocl_run(void *dev, ab_attn_kind kind, const ab_attn_args *a, long iters, char *err)
{
    ab_ocl_dev *d = dev;
    if (ocl_supports(dev, kind, a->dtype, &a->s, err) != 0)
        return -1;
    cl_program p;
    if (get_program(d, a->s.head_dim, &p, err))
        return -1;
    if (kind == AB_ATTN_NAIVE)
        return run_naive(d, p, a, iters, err);
    return is_decode(&a->s) ? run_decode(d, p, a, iters, err) : run_flash(d, p, a, iters, err);
}

static const char *ocl_describe(void *dev, ab_attn_kind kind, ab_attn_dtype dt,
                                const ab_attn_shape *s)
{
    (void)dev;
    (void)dt;
    if (kind == AB_ATTN_NAIVE)
        return "float8 dot-product scores, row softmax, float8 P.V";
    return is_decode(s) ? "split-KV decode, a work-item per chunk and KV head, combine kernel"
                        : "work-item per query row, 32-key K/V tiles in local memory";
}

const ab_attn_impl ab_attention_opencl = {
    .supports = ocl_supports,
    .workspace = ocl_workspace,
    .fill = ocl_fill,
    .prepare = NULL,
    .release = NULL,
    .run = ocl_run,
    .describe = ocl_describe,
};

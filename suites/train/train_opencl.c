/* SPDX-License-Identifier: MIT */
/*
 * The training step's small kernels on OpenCL (train.h): kernels in train.cl, embedded at build
 * time (ab_train_cl_source), built once per device and cached with the device's other programs.
 * f32 throughout (but the bf16 cast). Every call but fill only enqueues on the device's in-order
 * queue.
 *
 * rmsnorm      a work-item per row (forward, dx); the weight gradient a work-item per column
 * rope         a work-item per (pair, head, token)
 * attention    forward a work-item per (query row, head, sequence), online softmax; backward two
 *              recomputing passes, dQ per query row (also D = rowsum(dO o) into the workspace),
 *              then dK, dV per (key row, KV head, sequence) summed over the query heads that
 *              share it: nothing of size seq x seq in memory
 * swiglu       a work-item per element; xent a work-item per row; adamw, fill, zero, the bf16
 *              cast (bf16 training) per element
 */
#include "train.h"

#include "../../backends/opencl.h"
#include "../../core/ab.h"
#include "../tokens/tokens.h"

#include <math.h>

extern const char ab_train_cl_source[];

#define MAX_DH 256 /* train.cl's private accumulators */

typedef struct karg {
    size_t size;
    const void *p;
} karg;

#define A(v) ((karg){sizeof(v), &(v)})

/* sets the n arguments of train.cl's kernel `name` and enqueues it over gws */
static int launch(void *dev, const char *name, cl_uint dims, const size_t *gws, int n,
                  const karg *args, char *err)
{
    ab_ocl_dev *od = dev;
    for (cl_uint i = 0; i < dims; i++)
        if (gws[i] == 0) return 0; /* nothing to do */
    cl_program p;
    cl_kernel k;
    if (ab_ocl_program(od, "train", ab_train_cl_source, "-cl-std=CL1.2", &p, err) ||
        ab_ocl_kernel(od, p, name, &k, err))
        return -1;
    for (int i = 0; i < n; i++)
        if (ab_ocl_set_arg(k, (cl_uint)i, args[i].size, args[i].p, err)) return -1;
    return ab_ocl_launch(od, k, dims, gws, NULL, err);
}

#define CM(x) ((cl_mem)(uintptr_t)(x))

static int ocl_rmsnorm_fwd(void *dev, long rows, int d, const void *x, const void *w, float eps,
                           void *y, void *rstd, char *err)
{
    cl_mem xm = CM(x), wm = CM(w), ym = y, rm = rstd;
    cl_long r = rows;
    cl_int cd = d;
    cl_float e = eps;
    size_t gws = (size_t)rows;
    karg a[] = {A(xm), A(wm), A(ym), A(rm), A(r), A(cd), A(e)};
    return launch(dev, "tr_rmsnorm_fwd", 1, &gws, 7, a, err);
}

static int ocl_rmsnorm_bwd(void *dev, long rows, int d, const void *x, const void *w,
                           const void *rstd, const void *dy, const void *dres, void *dx, void *dw,
                           char *err)
{
    cl_mem xm = CM(x), wm = CM(w), rm = CM(rstd), dym = CM(dy), drm = CM(dres), dxm = dx, dwm = dw;
    cl_int has = dres != NULL, cd = d;
    cl_long r = rows;
    size_t g1 = (size_t)d, g2 = (size_t)rows;
    karg a1[] = {A(xm), A(rm), A(dym), A(dwm), A(r), A(cd)};
    karg a2[] = {A(xm), A(wm), A(rm), A(dym), A(drm), A(has), A(dxm), A(r), A(cd)};
    return launch(dev, "tr_rmsnorm_bwd_dw", 1, &g1, 6, a1, err) ||
                   launch(dev, "tr_rmsnorm_bwd_dx", 1, &g2, 9, a2, err)
               ? -1
               : 0;
}

static int check_attn(const ab_train_attn *a, char *err)
{
    if (a->batch < 0 || a->seq < 0 || a->heads < 1 || a->kv_heads < 1 || a->heads % a->kv_heads ||
        a->head_dim < 2 || a->head_dim % 2 || a->head_dim > MAX_DH)
        return ab_err(err,
                      "opencl: train attention: bad shape (heads %d/%d, head_dim %d; at most %d)",
                      a->heads, a->kv_heads, a->head_dim, MAX_DH);
    return 0;
}

static int ocl_rope(void *dev, const ab_train_attn *a, void *qkv, bool inverse, char *err)
{
    if (check_attn(a, err)) return -1;
    cl_mem m = qkv;
    cl_int seq = a->seq, H = a->heads, G = a->kv_heads, dh = a->head_dim;
    cl_float sgn = inverse ? -1.0f : 1.0f;
    /* theta^(-2i/Dh) = exp2(-2i * log2(theta)/Dh): the constant in double, rounded once */
    cl_float c = (cl_float)(log2(AB_TOK_ROPE_THETA) / a->head_dim);
    size_t gws[3] = {(size_t)dh / 2, (size_t)(H + G), (size_t)a->batch * (size_t)a->seq};
    karg k[] = {A(m), A(seq), A(H), A(G), A(dh), A(sgn), A(c)};
    return launch(dev, "tr_rope", 3, gws, 7, k, err);
}

static int ocl_attn_fwd(void *dev, const ab_train_attn *a, const void *qkv, void *o, void *lse,
                        char *err)
{
    if (check_attn(a, err)) return -1;
    cl_mem qm = CM(qkv), om = o, lm = lse;
    cl_int seq = a->seq, H = a->heads, G = a->kv_heads, dh = a->head_dim;
    cl_float sc = a->scale;
    size_t gws[3] = {(size_t)seq, (size_t)H, (size_t)a->batch};
    karg k[] = {A(qm), A(om), A(lm), A(seq), A(H), A(G), A(dh), A(sc)};
    return launch(dev, "tr_attn_fwd", 3, gws, 8, k, err);
}

static size_t ocl_attn_bwd_work(void *dev, const ab_train_attn *a)
{
    (void)dev;
    return (size_t)a->batch * (size_t)a->heads * (size_t)a->seq * sizeof(float); /* D */
}

static int ocl_attn_bwd(void *dev, const ab_train_attn *a, const void *qkv, const void *o,
                        const void *lse, const void *dout, void *dqkv, void *work, char *err)
{
    if (check_attn(a, err)) return -1;
    cl_mem qm = CM(qkv), om = CM(o), lm = CM(lse), dom = CM(dout), dqm = dqkv, wm = work;
    cl_int seq = a->seq, H = a->heads, G = a->kv_heads, dh = a->head_dim;
    cl_float sc = a->scale;
    size_t g1[3] = {(size_t)seq, (size_t)H, (size_t)a->batch};
    size_t g2[3] = {(size_t)seq, (size_t)G, (size_t)a->batch};
    karg k1[] = {A(qm), A(om), A(lm), A(dom), A(dqm), A(wm), A(seq), A(H), A(G), A(dh), A(sc)};
    karg k2[] = {A(qm), A(lm), A(dom), A(wm), A(dqm), A(seq), A(H), A(G), A(dh), A(sc)};
    return launch(dev, "tr_attn_bwd_dq", 3, g1, 11, k1, err) ||
                   launch(dev, "tr_attn_bwd_dkv", 3, g2, 10, k2, err)
               ? -1
               : 0;
}

static int ocl_swiglu_fwd(void *dev, long rows, int f, const void *gu, void *act, char *err)
{
    cl_mem gm = CM(gu), am = act;
    cl_int cf = f;
    size_t gws[2] = {(size_t)f, (size_t)rows};
    karg k[] = {A(gm), A(am), A(cf)};
    return launch(dev, "tr_swiglu_fwd", 2, gws, 3, k, err);
}

static int ocl_swiglu_bwd(void *dev, long rows, int f, const void *gu, const void *dact, void *dgu,
                          char *err)
{
    cl_mem gm = CM(gu), dam = CM(dact), dgm = dgu;
    cl_int cf = f;
    size_t gws[2] = {(size_t)f, (size_t)rows};
    karg k[] = {A(gm), A(dam), A(dgm), A(cf)};
    return launch(dev, "tr_swiglu_bwd", 2, gws, 4, k, err);
}

static int ocl_xent(void *dev, long rows, int vocab, void *logits, const void *targets, void *loss,
                    float gscale, char *err)
{
    cl_mem lm = logits, tm = CM(targets), sm = loss;
    cl_long r = rows;
    cl_int v = vocab;
    cl_float gs = gscale;
    size_t gws = (size_t)rows;
    karg k[] = {A(lm), A(tm), A(sm), A(r), A(v), A(gs)};
    return launch(dev, "tr_xent", 1, &gws, 6, k, err);
}

static int ocl_adamw(void *dev, size_t n, void *w, const void *g, void *m, void *v,
                     const ab_train_adamw *h, char *err)
{
    cl_mem wm = w, gm = CM(g), mm = m, vm = v;
    cl_ulong cn = n;
    cl_float lr = h->lr, b1 = h->b1, b2 = h->b2, eps = h->eps, wd = h->wd;
    /* the bias corrections as the CPU kernel computes them (f32 powf) */
    cl_float c1 = 1.0f / (1.0f - powf(h->b1, (float)h->t)),
             c2 = 1.0f / (1.0f - powf(h->b2, (float)h->t));
    size_t gws = n;
    karg k[] = {A(wm), A(gm), A(mm),  A(vm), A(cn), A(lr),
                A(b1), A(b2), A(eps), A(wd), A(c1), A(c2)};
    return launch(dev, "tr_adamw", 1, &gws, 12, k, err);
}

static int ocl_fill(void *dev, void *buf, size_t n, uint64_t seed, float amp, float offset,
                    char *err)
{
    ab_ocl_dev *od = dev;
    cl_mem m = buf;
    cl_ulong cn = n, sd = seed;
    cl_float a = amp, off = offset;
    size_t gws = n;
    karg k[] = {A(m), A(cn), A(sd), A(a), A(off)};
    if (launch(dev, "tr_fill", 1, &gws, 5, k, err)) return -1;
    cl_int rc = clFinish(od->q);
    if (rc != CL_SUCCESS) return ab_err(err, "opencl: clFinish: %s", ab_ocl_strerror(rc));
    return 0;
}

static int ocl_zero(void *dev, void *buf, size_t n, char *err)
{
    cl_mem m = buf;
    cl_ulong cn = n;
    size_t gws = n;
    karg k[] = {A(m), A(cn)};
    return launch(dev, "tr_zero", 1, &gws, 2, k, err);
}

static int ocl_cast_bf16(void *dev, size_t n, const void *src, void *dst, char *err)
{
    cl_mem sm = CM(src), dm = dst;
    cl_ulong cn = n;
    size_t gws = n;
    karg k[] = {A(sm), A(dm), A(cn)};
    return launch(dev, "tr_cast_bf16", 1, &gws, 3, k, err);
}

static const char *ocl_describe(void *dev)
{
    (void)dev;
    return "OpenCL C, f32: a work-item per row (RMSNorm, cross-entropy), per element elsewhere;"
           " attention a work-item per query row with online softmax, backward recomputing the"
           " scores from the saved log-sum-exp (dQ per query row, dK/dV per key row)";
}

const ab_train_ops ab_train_opencl = {
    .rmsnorm_fwd = ocl_rmsnorm_fwd,
    .rmsnorm_bwd = ocl_rmsnorm_bwd,
    .rope = ocl_rope,
    .attn_fwd = ocl_attn_fwd,
    .attn_bwd = ocl_attn_bwd,
    .attn_bwd_work = ocl_attn_bwd_work,
    .swiglu_fwd = ocl_swiglu_fwd,
    .swiglu_bwd = ocl_swiglu_bwd,
    .xent = ocl_xent,
    .adamw = ocl_adamw,
    .fill = ocl_fill,
    .zero = ocl_zero,
    .describe = ocl_describe,
    .cast_bf16 = ocl_cast_bf16,
};

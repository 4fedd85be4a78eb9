/* SPDX-License-Identifier: MIT */
/*
 * The decoder's small kernels on OpenCL (tokens.h): kernels in tokens.cl, embedded at build time
 * (ab_tokens_cl_source), built once per device and cached with the device's other programs.
 * Element types are kernel arguments, not build options, so one program serves every mix of
 * f32 and bf16. Every call but fill only enqueues on the device's in-order queue.
 *
 * add_rmsnorm   one work-group per row (a power of two up to 256 work-items), local-memory tree
 * rope_scatter  a work-item per (pair, head, token)
 * gather_heads  a work-item per element
 * swiglu        a work-item per output element
 */
#include "tokens.h"

#include "../../backends/opencl.h"
#include "../../core/ab.h"

#include <math.h>
#include <string.h>

extern const char ab_tokens_cl_source[];

#define NORM_WG 256 /* most work-items per RMSNorm row */

static int get_program(ab_ocl_dev *d, cl_program *p, char *err)
{
    return ab_ocl_program(d, "tokens", ab_tokens_cl_source, "-cl-std=CL1.2", p, err);
}

/* the device's kernel `name` of the tokens program, created once (ab_ocl_kernel); every call
 * below sets all its arguments before launching */
static int get_kernel(ab_ocl_dev *d, const char *name, cl_kernel *k, char *err)
{
    cl_program p;
    return get_program(d, &p, err) || ab_ocl_kernel(d, p, name, k, err) ? -1 : 0;
}

#define ARG AB_OCL_ARG

static int check_type(ab_tok_type t, const char *what, char *err)
{
    if (t != AB_TT_F32 && t != AB_TT_BF16)
        return ab_err(err, "opencl: tokens: %s: unknown element type %d", what, (int)t);
    return 0;
}

static int ocl_add_rmsnorm(void *dev, long row0, long rows, int d, void *h, const void *y,
                           ab_tok_type ty, const void *w, ab_tok_type tw, float eps, void *x,
                           ab_tok_type tx, char *err)
{
    ab_ocl_dev *od = dev;
    if (row0 < 0 || rows < 0 || d < 1)
        return ab_err(err, "opencl: add_rmsnorm: bad shape (row0 %ld, rows %ld, d %d)", row0,
                      rows, d);
    if (check_type(ty, "add_rmsnorm y", err) || check_type(tw, "add_rmsnorm w", err) ||
        check_type(tx, "add_rmsnorm x", err))
        return -1;
    if (rows == 0)
        return 0;
    cl_kernel k;
    if (get_kernel(od, "tk_add_rmsnorm", &k, err))
        return -1;
    /* the largest power of two the device and this kernel allow, up to NORM_WG */
    size_t most = NORM_WG, kwg = 0;
    if (od->max_wg && od->max_wg < most)
        most = od->max_wg;
    if (clGetKernelWorkGroupInfo(k, od->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof(kwg), &kwg,
                                 NULL) == CL_SUCCESS &&
        kwg && kwg < most)
        most = kwg;
    size_t lws = 1;
    while (lws * 2 <= most)
        lws *= 2;
    cl_mem hm = h, ym = (cl_mem)(uintptr_t)y, wm = (cl_mem)(uintptr_t)w, xm = x;
    cl_int cty = ty, has_y = y != NULL, ctw = tw, ctx = tx, cd = d;
    cl_long r0 = row0;
    cl_float e = eps;
    int bad = ARG(k, 0, hm) || ARG(k, 1, ym) || ARG(k, 2, cty) || ARG(k, 3, has_y) ||
              ARG(k, 4, wm) || ARG(k, 5, ctw) || ARG(k, 6, xm) || ARG(k, 7, ctx) ||
              ARG(k, 8, r0) || ARG(k, 9, cd) || ARG(k, 10, e) ||
              ab_ocl_set_arg(k, 11, lws * sizeof(cl_float), NULL, err);
    size_t gws = (size_t)rows * lws;
    return bad || ab_ocl_launch(od, k, 1, &gws, &lws, err) ? -1 : 0;
}

static int ocl_rope_scatter(void *dev, const ab_tok_rope *r, const void *qkv, void *q, void *k,
                            void *v, char *err)
{
    ab_ocl_dev *od = dev;
    if (r->batch < 0 || r->seq < 0 || r->heads < 1 || r->kv_heads < 1 || r->head_dim < 2 ||
        r->head_dim % 2 || r->pos0 < 0 || r->cache_len < r->pos0 + r->seq)
        return ab_err(err,
                      "opencl: rope_scatter: bad shape (batch %d, seq %d, heads %d/%d, head_dim %d,"
                      " pos0 %ld, cache_len %ld)",
                      r->batch, r->seq, r->heads, r->kv_heads, r->head_dim, r->pos0, r->cache_len);
    if (check_type(r->qkv_type, "rope_scatter qkv", err) ||
        check_type(r->out_type, "rope_scatter out", err))
        return -1;
    if (r->batch == 0 || r->seq == 0)
        return 0;
    cl_kernel kk;
    if (get_kernel(od, "tk_rope_scatter", &kk, err))
        return -1;
    cl_mem qkvm = (cl_mem)(uintptr_t)qkv, qm = q, km = k, vm = v;
    cl_int tq = r->qkv_type, to = r->out_type, seq = r->seq, heads = r->heads,
           kvh = r->kv_heads, dh = r->head_dim;
    cl_long pos0 = r->pos0, cache_len = r->cache_len;
    /* theta^(-2i/Dh) = exp2(-2i * log2(theta)/Dh): the constant in double, rounded once */
    cl_float c = (cl_float)(log2(AB_TOK_ROPE_THETA) / r->head_dim);
    int bad = ARG(kk, 0, qkvm) || ARG(kk, 1, tq) || ARG(kk, 2, qm) || ARG(kk, 3, km) ||
              ARG(kk, 4, vm) || ARG(kk, 5, to) || ARG(kk, 6, seq) || ARG(kk, 7, heads) ||
              ARG(kk, 8, kvh) || ARG(kk, 9, dh) || ARG(kk, 10, pos0) || ARG(kk, 11, cache_len) ||
              ARG(kk, 12, c);
    size_t gws[3] = {(size_t)r->head_dim / 2, (size_t)r->heads + 2 * (size_t)r->kv_heads,
                     (size_t)r->batch * (size_t)r->seq};
    return bad || ab_ocl_launch(od, kk, 3, gws, NULL, err) ? -1 : 0;
}

static int ocl_gather_heads(void *dev, int batch, int seq, int heads, int head_dim,
                            const void *o, ab_tok_type to, void *x, ab_tok_type tx, char *err)
{
    ab_ocl_dev *od = dev;
    if (batch < 0 || seq < 0 || heads < 0 || head_dim < 0)
        return ab_err(err, "opencl: gather_heads: bad shape");
    if (check_type(to, "gather_heads o", err) || check_type(tx, "gather_heads x", err))
        return -1;
    if (!batch || !seq || !heads || !head_dim)
        return 0;
    cl_kernel k;
    if (get_kernel(od, "tk_gather_heads", &k, err))
        return -1;
    cl_mem om = (cl_mem)(uintptr_t)o, xm = x;
    cl_int cto = to, ctx = tx, cs = seq, ch = heads, cdh = head_dim;
    int bad = ARG(k, 0, om) || ARG(k, 1, cto) || ARG(k, 2, xm) || ARG(k, 3, ctx) ||
              ARG(k, 4, cs) || ARG(k, 5, ch) || ARG(k, 6, cdh);
    size_t gws[3] = {(size_t)head_dim, (size_t)heads, (size_t)batch * (size_t)seq};
    return bad || ab_ocl_launch(od, k, 3, gws, NULL, err) ? -1 : 0;
}

static int ocl_swiglu(void *dev, long rows, int f, const void *gu, ab_tok_type tg, void *a,
                      ab_tok_type ta, char *err)
{
    ab_ocl_dev *od = dev;
    if (rows < 0 || f < 0)
        return ab_err(err, "opencl: swiglu: bad shape (rows %ld, f %d)", rows, f);
    if (check_type(tg, "swiglu gate_up", err) || check_type(ta, "swiglu a", err))
        return -1;
    if (!rows || !f)
        return 0;
    cl_kernel k;
    if (get_kernel(od, "tk_swiglu", &k, err))
        return -1;
    cl_mem gm = (cl_mem)(uintptr_t)gu, am = a;
    cl_int ctg = tg, cta = ta, cf = f;
    int bad = ARG(k, 0, gm) || ARG(k, 1, ctg) || ARG(k, 2, am) || ARG(k, 3, cta) || ARG(k, 4, cf);
    size_t gws[2] = {(size_t)f, (size_t)rows};
    return bad || ab_ocl_launch(od, k, 2, gws, NULL, err) ? -1 : 0;
}

static int ocl_fill(void *dev, void *buf, ab_tok_type t, size_t n, uint64_t seed, float amp,
                    char *err)
{
    ab_ocl_dev *od = dev;
    if (check_type(t, "fill", err))
        return -1;
    if (n == 0)
        return 0;
    cl_kernel k;
    if (get_kernel(od, "tk_fill", &k, err))
        return -1;
    cl_mem m = buf;
    cl_int ct = t;
    cl_ulong nn = n, sd = seed;
    cl_float a = amp;
    int bad = ARG(k, 0, m) || ARG(k, 1, ct) || ARG(k, 2, nn) || ARG(k, 3, sd) || ARG(k, 4, a);
    size_t gws = (n + 255) / 256 * 256;
    if (bad || ab_ocl_launch(od, k, 1, &gws, NULL, err))
        return -1;
    cl_int rc = clFinish(od->q);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clFinish: %s", ab_ocl_strerror(rc));
    return 0;
}

static const char *ocl_describe(void *dev)
{
    (void)dev;
    return "OpenCL C: RMSNorm a work-group per row (local-memory tree), a work-item per RoPE pair"
           " and per element elsewhere, f32 arithmetic";
}

const ab_tok_ops ab_tokens_opencl = {
    .add_rmsnorm = ocl_add_rmsnorm,
    .rope_scatter = ocl_rope_scatter,
    .gather_heads = ocl_gather_heads,
    .swiglu = ocl_swiglu,
    .fill = ocl_fill,
    .describe = ocl_describe,
};

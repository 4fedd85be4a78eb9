/* SPDX-License-Identifier: MIT */
/* burn: the GEMM and membw phases of an interval (burn.h). */
#include "burn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a timed batch lasts at least this long (or the phase's fifth, when shorter) */
#define BATCH_S 0.05

void burn_phase_free(burn_phase *ph)
{
    free(ph->per_iter);
    memset(ph, 0, sizeof(*ph));
}

static int add_sample(burn_phase *ph, double per_iter, char *err)
{
    if (ph->n == ph->cap) {
        size_t cap = ph->cap ? 2 * ph->cap : 64;
        double *v = realloc(ph->per_iter, cap * sizeof(*v));
        if (!v) return ab_err(err, "out of memory");
        ph->per_iter = v;
        ph->cap = cap;
    }
    ph->per_iter[ph->n++] = per_iter;
    return 0;
}

typedef int (*batch_fn)(const ab_device *d, void *w, long iters, char *err);

/* Timed batches for `seconds` of wall time (at least one): the iteration count doubles until a
 * batch lasts BATCH_S, then stays. A signal ends the phase after the current batch. */
static int timed(const ab_device *d, batch_fn fn, void *w, double seconds, burn_phase *ph,
                 char *err)
{
    const ab_backend_ops *ops = d->backend->ops;
    double t_end = ab_now() + seconds, want = fmin(BATCH_S, seconds / 5);
    long iters = 1;
    do {
        double sec = 0;
        if (ops->timer_start(d->h, err) || fn(d, w, iters, err) || ops->timer_stop(d->h, &sec, err))
            return -1;
        if (sec > 0 && add_sample(ph, sec / (double)iters, err)) return -1;
        ph->iters = iters;
        if (sec < want && iters < (1L << 30)) iters *= 2;
    } while (ab_now() < t_end && !ab_interrupted());
    return 0;
}

/* ---- GEMM ---- */

static ab_gemm_type out_type(const ab_gemm_impl *im, void *h, ab_gemm_op *op, char *why)
{
    /* bf16/f16 write their own type (or f32), fp8 writes bf16: what the gemm suite prefers */
    ab_gemm_type cands[3] = {op->a, AB_GT_F32, AB_GT_F32};
    if (op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2) cands[0] = AB_GT_BF16, cands[1] = AB_GT_F16;
    for (int q = 0; q < 3; q++) {
        op->c = cands[q];
        if (im->dtype_ok(h, op, why) == 0 && im->supports(h, op, why) == 0) return cands[q];
    }
    return AB_GT_COUNT;
}

/* The vendor implementation where the device has one that takes the type, else the portable. */
static int pick_impl(const ab_device *d, burn_gemm *g, char *err)
{
    static const ab_gemm_type in[AB_DT_COUNT] = {
        [AB_DT_F64] = AB_GT_F64,   [AB_DT_F32] = AB_GT_F32, [AB_DT_TF32] = AB_GT_F32,
        [AB_DT_BF16] = AB_GT_BF16, [AB_DT_F16] = AB_GT_F16, [AB_DT_E4M3] = AB_GT_E4M3,
        [AB_DT_E5M2] = AB_GT_E4M3, [AB_DT_I8] = AB_GT_I8};
    char why[AB_ERRLEN] = "", first[AB_ERRLEN] = "";
    for (int i = 0; i < AB_GEMM_NIMPL; i++) {
        const ab_gemm_impl *im = g->gb->impl[i];
        if (!im) continue;
        g->op.a = g->op.b = in[g->dt];
        g->op.tf32 = g->dt == AB_DT_TF32;
        if (g->dt == AB_DT_I8)
            continue; /* an integer burn would need its own tolerance; not offered */
        if (out_type(im, d->h, &g->op, why) != AB_GT_COUNT) {
            g->impl = im;
            return 0;
        }
        if (!*first) snprintf(first, sizeof(first), "%s: %s", im->name, why);
    }
    return ab_err(err, "no GEMM implementation takes %s here (%s)", ab_dtype_name(g->dt),
                  *first ? first : "none");
}

int burn_gemm_setup(const ab_device *d, const burn_plan *p, ab_dtype dt, burn_gemm *g, char *err)
{
    memset(g, 0, sizeof(*g));
    g->dt = dt;
    g->gb = ab_device_impls(d)->gemm;
    if (!g->gb) return ab_err(err, "%s has no GEMM implementation", d->backend->name), AB_CASE_SKIP;
    int64_t n = p->size > 0 ? p->size : d->info.kind == AB_KIND_GPU ? 8192 : 512;
    /* NT (B stored N x K): the layout every implementation takes for every type (cuBLASLt FP8) */
    g->op = (ab_gemm_op){
        .tb = true, .m = n, .n = n, .k = n, .lda = n, .ldb = n, .ldc = n, .batch = 1, .alpha = 1.0};
    if (pick_impl(d, g, err) != 0) return AB_CASE_SKIP;
    const ab_backend_ops *ops = d->backend->ops;
    size_t ea = ab_gemm_type_size(g->op.a), ec = ab_gemm_type_size(g->op.c);
    size_t nn = (size_t)n * (size_t)n;
    g->g.nsets = 1;
    g->g.ref_layout = AB_GL_NT;
    if (ops->mem_alloc(d->h, nn * ea, &g->g.a[0], err) ||
        ops->mem_alloc(d->h, nn * ea, &g->g.b[0], err) ||
        ops->mem_alloc(d->h, nn * ec, &g->g.c[0], err))
        return AB_CASE_SKIP; /* does not fit */
    if (g->gb->fill(d->h, g->g.a[0], g->op.a, nn, AB_GEMM_SEED_A, err) ||
        g->gb->fill(d->h, g->g.b[0], g->op.b, nn, AB_GEMM_SEED_B, err))
        return -1;
    if (!ab_gemm_host_backend(d)) {
        size_t row = (size_t)n * ec, rows = (64u << 20) / row;
        g->g.scratch_bytes = (rows ? rows : 1) * row;
        if (!(g->g.scratch = malloc(g->g.scratch_bytes)))
            return ab_err(err, "out of host memory for reading C back");
    }
    if (ab_gemm_ref_make(&g->op, &g->g.ref, err) != 0) return -1;
    if (g->impl->prepare(d->h, &g->op, &g->plan, err) != 0) return -1;
    g->impl->describe(g->plan, g->library, sizeof(g->library));
    return 0;
}

void burn_gemm_free(const ab_device *d, burn_gemm *g)
{
    if (g->plan && g->impl) g->impl->release(g->plan);
    void *bufs[3] = {g->g.a[0], g->g.b[0], g->g.c[0]};
    for (int q = 0; q < 3; q++)
        if (bufs[q]) d->backend->ops->mem_free(d->h, bufs[q]);
    free(g->g.scratch);
    ab_gemm_ref_free(&g->g.ref);
    memset(g, 0, sizeof(*g));
}

static int gemm_batch(const ab_device *d, void *w, long iters, char *err)
{
    (void)d;
    burn_gemm *g = w;
    void *a = g->g.a[0], *b = g->g.b[0], *c = g->g.c[0];
    if (g->impl->run_n) return g->impl->run_n(g->plan, a, b, c, iters, err);
    for (long i = 0; i < iters; i++)
        if (g->impl->run(g->plan, a, b, c, err)) return -1;
    return 0;
}

int burn_gemm_phase(const ab_device *d, burn_gemm *g, double seconds, burn_phase *ph, ab_result *r,
                    const char *corrupt, char *err)
{
    char e[AB_ERRLEN] = "";
    size_t nc = (size_t)g->op.m * (size_t)g->op.ldc;
    /* an interval whose multiplies did not run leaves the marker, never the last one's C */
    if (g->gb->fill(d->h, g->g.c[0], g->op.c, nc, AB_GEMM_SENTINEL, e))
        return ab_err(err, "filling C: %s", e);
    if (timed(d, gemm_batch, g, seconds, ph, err) != 0) return -1;
    if (corrupt && ab_gemm_corrupt(d, &g->op, &g->g.ref, g->g.c[0], e) != 0)
        return ab_err(err, "corrupting output: %s", e);
    ab_verdict v = {.max_error = NAN};
    if (ab_gemm_check(d, &g->g, &g->op, r, &v, err) != 0) return -1;
    ph->fail = v.fail;
    ab_strlcpy(ph->msg, v.msg, sizeof(ph->msg));
    return 0;
}

/* ---- membw: triad, a = b + q*c, every element checked ---- */

int burn_membw_setup(const ab_device *d, const burn_plan *p, burn_membw *m, char *err)
{
    memset(m, 0, sizeof(*m));
    if (!(m->impl = ab_device_impls(d)->membw))
        return ab_err(err, "%s has no membw implementation", d->backend->name), AB_CASE_SKIP;
    uint64_t ws = p->membw_bytes ? p->membw_bytes : ab_membw_headline_ws(d);
    ab_membw_args *a = &m->args;
    a->kernel = AB_MB_TRIAD;
    a->n = (size_t)(ws / 3 / sizeof(float));
    if (a->n == 0)
        return ab_err(err, "--membw-size %llu B holds no element", (unsigned long long)ws),
               AB_CASE_SKIP;
    const ab_backend_ops *ops = d->backend->ops;
    size_t bytes = a->n * sizeof(float);
    if (ops->mem_alloc(d->h, bytes, &a->a, err) || ops->mem_alloc(d->h, bytes, &a->b, err) ||
        ops->mem_alloc(d->h, bytes, &a->c, err))
        return AB_CASE_SKIP;
    if (d->info.kind != AB_KIND_HOST && !(m->host = malloc(bytes)))
        return ab_err(err, "out of host memory for reading the array back");
    return 0;
}

void burn_membw_free(const ab_device *d, burn_membw *m)
{
    void *bufs[3] = {m->args.a, m->args.b, m->args.c};
    for (int q = 0; q < 3; q++)
        if (bufs[q]) d->backend->ops->mem_free(d->h, bufs[q]);
    free(m->host);
    memset(m, 0, sizeof(*m));
}

static int membw_batch(const ab_device *d, void *w, long iters, char *err)
{
    burn_membw *m = w;
    return m->impl->run(d->h, &m->args, iters, err);
}

/* Every element of a against b + q*c in f32, with or without a fused multiply-add. */
static void check_triad(const float *a, size_t n, burn_phase *ph)
{
    float b = (float)AB_MEMBW_START_B, c = (float)AB_MEMBW_START_C, q = (float)AB_MEMBW_SCALAR;
    float prod = q * c, plain = b + prod, fused = fmaf(q, c, b);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != plain && a[i] != fused && !bad++) first = i;
    if (bad) {
        ph->fail = true;
        snprintf(ph->msg, sizeof(ph->msg),
                 "%zu of %zu elements of a wrong; first at %zu: %.9g, expected %.9g", bad, n, first,
                 (double)a[first], (double)plain);
    }
}

int burn_membw_phase(const ab_device *d, burn_membw *m, double seconds, burn_phase *ph,
                     const char *corrupt, char *err)
{
    const ab_backend_ops *ops = d->backend->ops;
    size_t bytes = m->args.n * sizeof(float);
    /* a starts at its start value, which is not the triad's result */
    if (m->impl->init(d->h, &m->args, err) || timed(d, membw_batch, m, seconds, ph, err)) return -1;
    if (corrupt) {
        float bad = -12345.0f;
        if (ops->copy(d->h, AB_COPY_H2D, m->args.a, &bad, (m->args.n / 2) * sizeof(float),
                      sizeof(bad), err) ||
            ops->sync(d->h, err))
            return -1;
    }
    const float *a = m->args.a;
    if (m->host) {
        if (ops->copy(d->h, AB_COPY_D2H, m->host, m->args.a, 0, bytes, err) || ops->sync(d->h, err))
            return -1;
        a = m->host;
    }
    check_triad(a, m->args.n, ph);
    return 0;
}

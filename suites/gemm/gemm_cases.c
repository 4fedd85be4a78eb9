/* SPDX-License-Identifier: MIT */
/*
 * gemm's group and case hooks for the runner loop (suites/case.h). A group is one shape and
 * dtype: its setup decides what is skipped before anything is allocated (i8 overflow, shape
 * restrictions, the time estimate from the rates measured so far), then sizes and fills the
 * rotating buffer sets. Each (implementation, layout) pair has two cases: a `pre` case that
 * reports a skip decided then (they come first, by implementation) and a `run` case that
 * measures (by layout); whichever does not apply leaves no result.
 */
#include "gemm_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* i8 sums stay below 2^31 for K up to 2^31 / 127^2 */
#define I8_MAX_K 133143

static const ab_gemm_backend *backend_of(const ab_caselist *l)
{
    return ab_caselist_impl(l);
}

static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* Memory a case may use: the device's, and on devices computing in host memory what the host
 * has available now (other processes use it too). */
static uint64_t usable_memory(const ab_device *d)
{
    uint64_t m = d->info.mem_bytes;
    if (d->info.host_memory) {
        uint64_t a = mem_available();
        if (a && (!m || a < m))
            m = a;
    }
    return m;
}

/* ---- group setup: skips decided up front, then memory ---- */

/* The pairs skipped before allocation. Returns whether any pair runs. */
static bool decide_pre(ab_group *g)
{
    ab_gemm_group *gd = g->data;
    const ab_suite_ctx *ctx = ab_caselist_ctx(g->list);
    const ab_gemm_plan *p = ab_caselist_plan(g->list);
    const ab_gemm_backend *gb = backend_of(g->list);
    const ab_gemm_shape *sh = &gd->sh;
    ab_dtype dt = gd->dt;
    double flop = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k;
    double in_bytes = ((double)sh->m + (double)sh->n) * (double)sh->k *
                      (double)ab_gemm_type_size(gd->op[0][0].a);
    bool any = false;
    for (int i = 0; i < AB_GEMM_NIMPL; i++) {
        bool est_over = false;
        double est = 0.0;
        /* the time a multiply should take at the best rates seen so far on this device: an
         * optimistic estimate (never skips what would fit), refined once skinny shapes have
         * shown the memory bandwidth */
        if (p->usable[i][dt] && !p->custom && p->rate[i][dt] > 0) {
            est = flop / p->rate[i][dt];
            if (p->bw[i][dt] > 0 && in_bytes / p->bw[i][dt] > est)
                est = in_bytes / p->bw[i][dt];
            est_over = est > p->budget;
        }
        for (int l = 0; l < AB_GL_COUNT; l++) {
            char *why = gd->pre_why[i][l];
            bool *pre = &gd->pre[i][l];
            if (!gd->want[i][l])
                continue;
            *pre = true;
            if (dt == AB_DT_I8 && sh->k > I8_MAX_K)
                snprintf(why, AB_ERRLEN, "K above 133143: int32 sums of i8 products could overflow");
            else if (gb->impl[i]->supports(ctx->dev->h, &gd->op[i][l], why) != 0) {
                /* the implementation's reason is in why */
            } else if (est_over)
                snprintf(why, AB_ERRLEN,
                         "estimated %.3g s per multiply from the rates measured so far (%.4g "
                         "GFLOP/s), over the %.3g s budget of the %s profile (--gemm-budget)",
                         est, p->rate[i][dt] / 1e9, p->budget, ctx->opt->profile);
            else {
                any = true;
                *pre = false;
            }
        }
    }
    return any;
}

/* How many buffer sets rotate, or why the shape does not fit (gd->why). */
static void size_sets(ab_gemm_group *gd, const ab_device *dev, double foot)
{
    double usable = 0.85 * (double)usable_memory(dev);
    /* headroom for library workspaces and packing buffers */
    double need1 = foot + (64.0 * 1024 * 1024);
    gd->nsets = 1;
    if (usable > 0 && need1 > usable) {
        snprintf(gd->why, sizeof(gd->why),
                 "does not fit: A, B and C need %.3g GB, more than the %.3g GB usable on this "
                 "device",
                 need1 / 1e9, usable / 1e9);
        return;
    }
    /* rotate enough copies that together they exceed the last-level cache 3x: each
     * multiply then reads its operands from memory, as in a model with many layers */
    double llc = dev->info.cache_bytes ? (double)dev->info.cache_bytes : 32.0 * 1024 * 1024;
    double want = ceil(3.0 * llc / foot);
    gd->nsets = want > AB_GEMM_MAX_SETS ? AB_GEMM_MAX_SETS : want < 1 ? 1 : (int)want;
    while (gd->nsets > 1 && (double)gd->nsets * foot > 0.25 * usable)
        gd->nsets--;
}

/* Never a group skip: what cannot run is told per case (the pre-decided skips first). */
static int group_setup(ab_group *g, char *err)
{
    (void)err;
    ab_gemm_group *gd = g->data;
    const ab_device *dev = ab_caselist_ctx(g->list)->dev;
    const ab_backend_ops *ops = dev->backend->ops;
    const ab_gemm_backend *gb = backend_of(g->list);
    const ab_gemm_shape *sh = &gd->sh;
    gd->ref_layout = -1;
    if (!decide_pre(g))
        return 0;
    /* memory: A and B once per buffer set, C per set for the widest output type */
    ab_gemm_type ta = gd->op[0][0].a, tb = gd->op[0][0].b;
    size_t sa = ab_gemm_type_size(ta), sb = ab_gemm_type_size(tb), sc = 0;
    for (int i = 0; i < AB_GEMM_NIMPL; i++)
        for (int l = 0; l < AB_GL_COUNT; l++)
            if (gd->want[i][l] && !gd->pre[i][l] && ab_gemm_type_size(gd->op[i][l].c) > sc)
                sc = ab_gemm_type_size(gd->op[i][l].c);
    double da = (double)sh->m * (double)sh->k * (double)sa;
    double db = (double)sh->k * (double)sh->n * (double)sb;
    double dc = (double)sh->m * (double)sh->n * (double)sc;
    size_sets(gd, dev, da + db + dc);
    char *why = gd->why;
    for (int s = 0; s < gd->nsets && !*why; s++) {
        if (ops->mem_alloc(dev->h, (size_t)da, &gd->a[s], why) ||
            ops->mem_alloc(dev->h, (size_t)db, &gd->b[s], why) ||
            ops->mem_alloc(dev->h, (size_t)dc, &gd->c[s], why))
            break;
        if (gb->fill(dev->h, gd->a[s], ta, (size_t)(sh->m * sh->k), AB_GEMM_SEED_A, why) ||
            gb->fill(dev->h, gd->b[s], tb, (size_t)(sh->k * sh->n), AB_GEMM_SEED_B, why))
            break;
    }
    if (!*why && !ab_gemm_host_backend(dev)) {
        /* host slice for reading C back: whole rows, about 64 MiB */
        size_t row = (size_t)sh->n * sc;
        size_t rows = (64u << 20) / row;
        gd->scratch_bytes = (rows ? rows : 1) * row;
        if (!(gd->scratch = malloc(gd->scratch_bytes)))
            snprintf(why, AB_ERRLEN, "out of host memory for reading C back");
    }
    return 0;
}

static void group_teardown(ab_group *g)
{
    ab_gemm_group *gd = g->data;
    const ab_device *dev = ab_caselist_ctx(g->list)->dev;
    for (int s = 0; s < AB_GEMM_MAX_SETS; s++) {
        void **bufs[3] = {&gd->a[s], &gd->b[s], &gd->c[s]};
        for (int q = 0; q < 3; q++)
            if (*bufs[q]) {
                dev->backend->ops->mem_free(dev->h, *bufs[q]);
                *bufs[q] = NULL;
            }
    }
    free(gd->scratch);
    gd->scratch = NULL;
    if (gd->ref_layout >= 0 && !gd->ref_failed)
        ab_gemm_ref_free(&gd->ref);
    gd->ref_layout = -1;
}

const ab_group_ops ab_gemm_group_ops = {.setup = group_setup, .teardown = group_teardown};

/* ---- the cases ---- */

static ab_gemm_group *group_of(const ab_case *c)
{
    return c->group->data;
}

/* whether the pair was skipped before allocation (and why) */
static bool pre_skipped(const ab_case *c, const char **why)
{
    const ab_gemm_case *gc = c->data;
    *why = group_of(c)->pre_why[gc->impl][gc->layout];
    return group_of(c)->pre[gc->impl][gc->layout];
}

static int pre_applies(ab_case *c, const ab_device *d, char *why)
{
    (void)d;
    const char *reason;
    if (!pre_skipped(c, &reason))
        return AB_CASE_ABSENT;
    snprintf(why, AB_ERRLEN, "%s", reason);
    return AB_CASE_SKIP;
}

static int run_applies(ab_case *c, const ab_device *d, char *why)
{
    (void)d;
    const char *reason;
    if (pre_skipped(c, &reason))
        return AB_CASE_ABSENT;
    if (!*group_of(c)->why)
        return 0;
    snprintf(why, AB_ERRLEN, "%s", group_of(c)->why);
    return AB_CASE_SKIP;
}

static const ab_gemm_impl *impl_of(const ab_case *c)
{
    return ((const ab_gemm_backend *)c->impl)->impl[((const ab_gemm_case *)c->data)->impl];
}

static const ab_gemm_op *op_of(const ab_case *c)
{
    const ab_gemm_case *gc = c->data;
    return &group_of(c)->op[gc->impl][gc->layout];
}

/* The layout's reference (made for the first implementation, kept for the others). */
static int need_ref(ab_case *c, char *err)
{
    ab_gemm_group *gd = group_of(c);
    int l = ((ab_gemm_case *)c->data)->layout;
    if (gd->ref_layout != l) {
        if (gd->ref_layout >= 0 && !gd->ref_failed)
            ab_gemm_ref_free(&gd->ref);
        gd->ref_layout = l;
        gd->ref_failed = ab_gemm_ref_make(op_of(c), &gd->ref, gd->ref_err) != 0;
    }
    return gd->ref_failed ? ab_err(err, "%s", gd->ref_err) : 0;
}

static int case_setup(ab_case *c, char *err)
{
    ab_gemm_case *gc = c->data;
    ab_gemm_group *gd = group_of(c);
    const ab_device *dev = c->ctx->dev;
    const ab_gemm_backend *gb = c->impl;
    const ab_gemm_op *op = op_of(c);
    char e[AB_ERRLEN] = "";
    if (need_ref(c, err) != 0)
        return -1;
    for (int s = 0; s < gd->nsets; s++)
        if (gb->fill(dev->h, gd->c[s], op->c, (size_t)(op->m * op->ldc), AB_GEMM_SENTINEL, e))
            return ab_err(err, "filling C: %s", e);
    if (impl_of(c)->prepare(dev->h, op, &gc->plan, e) != 0)
        return ab_err(err, "prepare: %s", e);
    char desc[512] = "";
    impl_of(c)->describe(gc->plan, desc, sizeof(desc));
    json_object_set_new(c->r->extra, "library", json_string(desc));
    return 0;
}

static int case_run(ab_case *c, long iters, double *sec, char *err)
{
    ab_gemm_case *gc = c->data;
    ab_gemm_group *gd = group_of(c);
    const ab_device *dev = c->ctx->dev;
    const ab_backend_ops *ops = dev->backend->ops;
    const ab_gemm_plan *p = c->plan;
    if (ops->timer_start(dev->h, err))
        return -1;
    if (impl_of(c)->run_n) { /* one launch of iters multiplies (one buffer set per batch) */
        int s = (int)(gc->next++ % gd->nsets);
        if (impl_of(c)->run_n(gc->plan, gd->a[s], gd->b[s], gd->c[s], iters, err))
            return -1;
    }
    for (long i = 0; !impl_of(c)->run_n && i < iters; i++) {
        int s = (int)(gc->next++ % gd->nsets);
        if (impl_of(c)->run(gc->plan, gd->a[s], gd->b[s], gd->c[s], err))
            return -1;
    }
    if (ops->timer_stop(dev->h, sec, err))
        return -1;
    /* The estimate that let this case start was optimistic (a skinny shape is slower than the
     * square ones): one multiply far beyond the budget ends the case as a skip. */
    double budget = p->custom ? 0.0 : p->budget;
    if (budget > 0 && *sec / (double)iters > 4.0 * budget) {
        ab_err(err, "one multiply took %.3g s, over 4x the %.3g s budget of the %s profile "
                    "(--gemm-budget)",
               *sec / (double)iters, p->budget, c->ctx->opt->profile);
        return AB_CASE_SKIP;
    }
    return 0;
}

/* After the declared metrics: the sets the sampling did not reach are computed (untimed) so
 * every set's C is checked; then the amounts for the record. */
static int case_metrics(ab_case *c, const ab_timing *t, ab_result *r, char *err)
{
    (void)t;
    ab_gemm_case *gc = c->data;
    ab_gemm_group *gd = group_of(c);
    const ab_device *dev = c->ctx->dev;
    for (long s = gc->next; s < gd->nsets; s++)
        if (impl_of(c)->run(gc->plan, gd->a[s], gd->b[s], gd->c[s], err) != 0)
            return -1;
    if (dev->backend->ops->sync(dev->h, err) != 0)
        return -1;
    double flop, bytes;
    if (ab_case_eval(c, "2*m*n*k", &flop, err) != 0 ||
        ab_case_eval(c, "m*k*sa + k*n*sb + m*n*sc", &bytes, err) != 0)
        return -1;
    json_object_set_new(r->extra, "flop_per_iter", json_real(flop));
    json_object_set_new(r->extra, "bytes_per_iter", json_real(bytes));
    json_object_set_new(r->extra, "buffer_sets", json_integer(gd->nsets));
    if (gd->dt == AB_DT_E5M2)
        json_object_set_new(r->extra, "inputs", json_string("A e5m2 x B e4m3"));
    return 0;
}

static int case_corrupt(ab_case *c, char *err)
{
    return ab_gemm_corrupt(c->ctx->dev, op_of(c), &group_of(c)->ref, group_of(c)->c[0], err);
}

/* A pass also teaches the time estimate of later shapes its rates. */
static void learn_rates(ab_case *c, const ab_result *r)
{
    ab_gemm_plan *p = c->plan;
    int i = ((ab_gemm_case *)c->data)->impl;
    ab_dtype dt = group_of(c)->dt;
    if (!r->nmetrics)
        return;
    double v = r->metrics[0].stats.median;
    if (v > p->rate[i][dt])
        p->rate[i][dt] = v;
    const ab_metric *m = ab_result_metric(r, "bandwidth");
    if (m && m->stats.median > p->bw[i][dt])
        p->bw[i][dt] = m->stats.median;
}

static int case_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    if (ab_gemm_check(c->ctx->dev, group_of(c), op_of(c), r, v, err) != 0)
        return -1;
    if (!v->fail)
        learn_rates(c, r);
    return 0;
}

static void case_teardown(ab_case *c)
{
    ab_gemm_case *gc = c->data;
    if (gc->plan)
        impl_of(c)->release(gc->plan);
    gc->plan = NULL;
}

const ab_case_ops ab_gemm_pre_ops = {.applies = pre_applies};
const ab_case_ops ab_gemm_run_ops = {.applies = run_applies,
                                     .setup = case_setup,
                                     .run = case_run,
                                     .metrics = case_metrics,
                                     .corrupt = case_corrupt,
                                     .validate = case_validate,
                                     .teardown = case_teardown};

/* SPDX-License-Identifier: MIT */
/*
 * tokens: the roofline of a point. Its references are measured on the same device in the same
 * minutes as the point (on a shared machine the memory system's share drifts within minutes):
 * the bandwidth as the better of membw's read and triad kernels, the GEMM rate as the model's
 * gate/up projection with the decoder's own GEMM; and again from the datasheet
 * (data/accelerator-peaks.csv). Decode is bounded by bandwidth, prefill by the GEMM rate.
 */
#include "../../core/ab.h"
#include "../../core/stats.h"
#include "../membw/membw.h"
#include "tokens_suite.h"

#include <math.h>
#include <stdio.h>

typedef struct mb_case {
    const ab_device *d;
    const ab_membw_impl *impl;
    ab_membw_args a;
} mb_case;

static int timed_membw(void *arg, long iters, double *sec, char *err)
{
    mb_case *c = arg;
    const ab_backend_ops *ops = c->d->backend->ops;
    if (ops->timer_start(c->d->h, err) || c->impl->run(c->d->h, &c->a, iters, err) ||
        ops->timer_stop(c->d->h, sec, err))
        return -1;
    return 0;
}

static ab_sampling ref_sampling(void)
{
    ab_sampling s;
    ab_sampling_profile("quick", &s);
    return s;
}

void ab_tok_measure_bandwidth(const ab_device *d, ab_tok_refs *r)
{
    const ab_backend_ops *ops = d->backend->ops;
    const ab_membw_impl *impl = ab_tok_membw_impl(d);
    if (!impl) {
        snprintf(r->bw_why, sizeof(r->bw_why), "no membw kernels on %s", d->id);
        return;
    }
    uint64_t ws = ab_membw_headline_ws(d);
    char err[AB_ERRLEN];
    static const ab_membw_kernel ks[2] = {AB_MB_READ, AB_MB_TRIAD};
    static const char *names[2] = {"read", "triad"};
    for (int i = 0; i < 2; i++) {
        mb_case c = {.d = d, .impl = impl};
        size_t n = (size_t)(ws / ((ks[i] == AB_MB_READ ? 1u : 3u) * sizeof(float))) & ~(size_t)4095;
        c.a = (ab_membw_args){
            .kernel = ks[i], .f64 = false, .streaming = impl->has_streaming, .n = n};
        unsigned use = ab_membw_arrays(ks[i]);
        void **arr[3] = {&c.a.a, &c.a.b, &c.a.c};
        bool ok = true;
        for (int j = 0; j < 3; j++) {
            size_t bytes = (use >> j & 1u) ? n * sizeof(float) : 4096;
            ok = ok && ops->mem_alloc(d->h, bytes, arr[j], err) == 0;
        }
        c.a.npartial = impl->partials(d->h, &c.a);
        ok = ok && ops->mem_alloc(d->h, c.a.npartial * sizeof(float), &c.a.partial, err) == 0;
        ab_timing t = {0};
        ab_sampling s = ref_sampling();
        if (ok && impl->init(d->h, &c.a, err) == 0 &&
            ab_measure(&s, timed_membw, &c, &t, err) == 0 && t.n) {
            double bytes = (ks[i] == AB_MB_READ ? 1.0 : 3.0) * (double)n * sizeof(float);
            double bw = bytes / ab_median(t.per_iter, t.n);
            if (bw > r->bw) {
                r->bw = bw;
                snprintf(r->bw_what, sizeof(r->bw_what),
                         "membw %s%s, f32, %.0f MiB working set, median of %zu", names[i],
                         c.a.streaming && ks[i] == AB_MB_TRIAD ? " (streaming stores)" : "",
                         (double)ws / 1048576.0, t.n);
            }
        } else if (!*r->bw_why) {
            snprintf(r->bw_why, sizeof(r->bw_why), "membw %s: %s", names[i], err);
        }
        ab_timing_free(&t);
        for (int j = 0; j < 3; j++)
            if (*arr[j]) ops->mem_free(d->h, *arr[j]);
        if (c.a.partial) ops->mem_free(d->h, c.a.partial);
    }
    if (r->bw > 0) *r->bw_why = 0;
}

typedef struct gm_case {
    const ab_device *d;
    const ab_gemm_impl *gi;
    void *plan, *a, *b, *c;
} gm_case;

static int timed_gemm(void *arg, long iters, double *sec, char *err)
{
    gm_case *g = arg;
    const ab_backend_ops *ops = g->d->backend->ops;
    if (ops->timer_start(g->d->h, err)) return -1;
    if (g->gi->run_n) { /* one launch of iters multiplies (PJRT: one program per interval) */
        if (g->gi->run_n(g->plan, g->a, g->b, g->c, iters, err)) return -1;
    } else {
        for (long i = 0; i < iters; i++)
            if (g->gi->run(g->plan, g->a, g->b, g->c, err)) return -1;
    }
    return ops->timer_stop(g->d->h, sec, err);
}

void ab_tok_measure_gemm(const ab_device *d, const ab_llm *m, ab_tok_type wt, int impl, long M,
                         ab_tok_refs *r)
{
    const ab_backend_ops *ops = d->backend->ops;
    const ab_gemm_backend *gb = ab_tok_gemm_backend(d);
    char err[AB_ERRLEN] = "";
    if (!gb || !gb->impl[impl]) {
        snprintf(r->gemm_why, sizeof(r->gemm_why), "no GEMM on %s", d->id);
        return;
    }
    gm_case g = {.d = d, .gi = gb->impl[impl]};
    ab_gemm_type t = wt == AB_TT_BF16 ? AB_GT_BF16 : AB_GT_F32;
    ab_gemm_op op = {.a = t,
                     .b = t,
                     .c = t,
                     .tb = true,
                     .m = M,
                     .n = 2L * m->ffn,
                     .k = m->d_model,
                     .lda = m->d_model,
                     .ldb = m->d_model,
                     .ldc = 2L * m->ffn,
                     .batch = 1,
                     .alpha = 1.0,
                     .beta = 0.0};
    if (g.gi->dtype_ok(d->h, &op, err) != 0) {
        op.c = AB_GT_F32;
        err[0] = 0;
    }
    size_t es = ab_tok_type_size(wt);
    ab_timing tm = {0};
    ab_sampling s = ref_sampling();
    int rc = g.gi->supports(d->h, &op, err);
    if (rc == 0)
        rc = ops->mem_alloc(d->h, (size_t)M * m->d_model * es, &g.a, err) ||
             ops->mem_alloc(d->h, (size_t)op.n * m->d_model * es, &g.b, err) ||
             ops->mem_alloc(d->h, (size_t)M * op.n * ab_gemm_type_size(op.c), &g.c, err) ||
             gb->fill(d->h, g.a, t, (size_t)M * m->d_model, 11, err) ||
             gb->fill(d->h, g.b, t, (size_t)op.n * m->d_model, 12, err) ||
             g.gi->prepare(d->h, &op, &g.plan, err);
    if (rc == 0 && ab_measure(&s, timed_gemm, &g, &tm, err) == 0 && tm.n) {
        r->gemm = 2.0 * (double)M * (double)op.n * (double)op.k / ab_median(tm.per_iter, tm.n);
        snprintf(r->gemm_what, sizeof(r->gemm_what),
                 "%s GEMM %ldx%ldx%d (gate/up projection at M = %ld), %s, median of %zu",
                 g.gi->name, M, 2L * m->ffn, m->d_model, M, wt == AB_TT_BF16 ? "bf16" : "f32",
                 tm.n);
    } else {
        snprintf(r->gemm_why, sizeof(r->gemm_why), "GEMM reference: %s", err);
    }
    ab_timing_free(&tm);
    if (g.plan) g.gi->release(g.plan);
    void *bufs[3] = {g.a, g.b, g.c};
    for (int i = 0; i < 3; i++)
        if (bufs[i]) ops->mem_free(d->h, bufs[i]);
}


/* ---- the roofline of a point -------------------------------------------------------------- */

/* The bandwidth and FLOP rate of one roof (measured: which 0; datasheet: 1) and their sources,
 * or why (non-empty) when one is missing. */
static void roof_figures(const ab_tok_plan *p, const ab_device *d, const ab_tok_refs *rf,
                         ab_tok_type wt, int which, double *bw, double *fl, const char **bw_src,
                         const char **fl_src, char *why, size_t whylen)
{
    if (which == 0) {
        *bw = rf->bw, *fl = rf->gemm;
        *bw_src = rf->bw_what, *fl_src = rf->gemm_what;
        if (!(*bw > 0))
            snprintf(why, whylen, "%s", rf->bw_why);
        else if (!(*fl > 0))
            snprintf(why, whylen, "%s", rf->gemm_why);
        return;
    }
    int row = -1;
    const char *col = NULL;
    *bw = p->have_peaks ? ab_peaks_for(&p->peaks, d->info.name, "B/s", NULL, &row, NULL) : NAN;
    *fl = p->have_peaks ? ab_peaks_for(&p->peaks, d->info.name, "FLOP/s",
                                       wt == AB_TT_BF16 ? "bf16" : "f32", &row, &col)
                        : NAN;
    *bw_src = row >= 0 ? ab_peaks_str(&p->peaks, row, "source") : "";
    *fl_src = col ? col : "";
    if (!(*bw > 0) || !(*fl > 0))
        snprintf(why, whylen, "no datasheet %s for '%s' in data/accelerator-peaks.csv",
                 !(*bw > 0) ? "bandwidth" : "FLOP rate", d->info.name);
}

json_t *ab_tok_roofline(const ab_tok_plan *p, const ab_device *d, const ab_tok_refs *rf,
                        const ab_tok_model *mdl, ab_tok_type wt, const ab_tok_point *pt,
                        double tok_s)
{
    const ab_llm *m = &p->o.m;
    bool prefill = pt->prefill;
    long len = pt->len, tokens = prefill ? pt->len : pt->batch;
    double wb = (double)ab_tok_type_size(wt),
           kb = (double)ab_tok_type_size(ab_tok_model_kv_type(mdl));
    double bytes, flops;
    if (prefill) {
        flops = ab_llm_prefill_flops(m, (int)len);
        bytes = (double)ab_llm_params(m) * wb + ab_llm_kv_bytes(m, 1, (int)len, kb);
    } else {
        flops = ab_llm_decode_flops(m, pt->batch, (int)len);
        bytes = ab_llm_decode_bytes(m, pt->batch, (int)len, wb, kb);
    }
    json_t *rfo = json_object();
    json_object_set_new(rfo, "bytes_per_step", json_real(bytes));
    json_object_set_new(rfo, "flop_per_step", json_real(flops));
    json_object_set_new(rfo, "formula",
                        json_string("speed of light: decode = tokens x bandwidth / bytes per step, "
                                    "prefill = tokens x GEMM rate / FLOPs per step; fraction = "
                                    "achieved tokens/s / speed of light"));
    for (int which = 0; which < 2; which++) {
        double bw, fl;
        const char *bw_src, *fl_src;
        char why[AB_ERRLEN * 2] = "";
        roof_figures(p, d, rf, wt, which, &bw, &fl, &bw_src, &fl_src, why, sizeof(why));
        json_t *o = json_object();
        if (*why) {
            json_object_set_new(o, "status", json_string("unavailable"));
            json_object_set_new(o, "reason", json_string(why));
        } else {
            /* the definition: decode is bounded by bandwidth, prefill by the GEMM rate;
             * the other bound is recorded beside it (large batches turn decode compute-bound) */
            double tb = bytes / bw, tf_ = flops / fl;
            double sol = tokens / (prefill ? tf_ : tb);
            json_object_set_new(o, "bandwidth_Bps", json_real(bw));
            json_object_set_new(o, "bandwidth_source", json_string(bw_src));
            json_object_set_new(o, "gemm_flops", json_real(fl));
            json_object_set_new(o, "gemm_source", json_string(fl_src));
            json_object_set_new(o, "memory_sol_tokens_per_s", json_real(tokens / tb));
            json_object_set_new(o, "compute_sol_tokens_per_s", json_real(tokens / tf_));
            json_object_set_new(o, "roof", json_string(prefill ? "compute" : "memory"));
            json_object_set_new(o, "tighter_roof", json_string(tb > tf_ ? "memory" : "compute"));
            json_object_set_new(o, "sol_tokens_per_s", json_real(sol));
            json_object_set_new(o, "fraction", json_real(tok_s / sol));
        }
        json_object_set_new(rfo, which == 0 ? "measured" : "datasheet", o);
    }
    return rfo;
}

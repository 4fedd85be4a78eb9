/* SPDX-License-Identifier: MIT */
/*
 * train: one point (preset x sequence length x micro-batch) as a case of the runner loop.
 * setup builds the model when it fits (else a skip with the sizes); measure() takes the GEMM
 * roof, then times the k layers (forward, backward, AdamW) and, apart, the head; metrics()
 * derives the step-time samples (L/k x layers + median head), tokens/s, FLOPs per token, MFU,
 * cost, energy, memory and the instrumented breakdown; validate() is the fp64 check.
 */
#include "../../core/ab.h"
#include "../../core/stats.h"
#include "train_suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct run_ctx {
    const ab_device *d;
    ab_train_model *mdl;
    bool head;
} run_ctx;

static int timed(void *arg, long iters, double *sec, char *err)
{
    run_ctx *c = arg;
    const ab_backend_ops *ops = c->d->backend->ops;
    if (ops->timer_start(c->d->h, err)) return -1;
    for (long i = 0; i < iters; i++)
        if ((c->head ? ab_train_head(c->mdl, err) : ab_train_layers(c->mdl, err)) != 0) return -1;
    return ops->timer_stop(c->d->h, sec, err);
}

static const ab_train_plan *plan_of(const ab_case *c)
{
    return c->plan;
}

/* validation lengths: one sequence, within ~4 GFLOP of fp64 host work per check */
static int val_len(double flops_per_token, long cap, int lo, int hi)
{
    double n = 4e9 / flops_per_token;
    long v = n > hi ? hi : (long)n;
    v = v < lo ? lo : v;
    return (int)(v > cap ? cap : v);
}

static int point_setup(ab_case *c, char *err)
{
    ab_train_point *pt = c->data;
    const ab_train_plan *p = plan_of(c);
    const ab_device *d = c->ctx->dev;
    ab_train_mem mem;
    ab_train_mem_of(&pt->m, pt->batch, pt->seq, pt->bf16, &mem);
    json_t *mj = json_object();
    json_object_set_new(mj, "layer_weights_bytes", json_real(mem.weights));
    json_object_set_new(mj, "layer_weight_copies_bytes", json_real(mem.weight_copies));
    json_object_set_new(mj, "layer_gradients_bytes", json_real(mem.grads));
    json_object_set_new(mj, "layer_optimizer_bytes", json_real(mem.optimizer));
    json_object_set_new(mj, "layer_activations_bytes", json_real(mem.activations));
    json_object_set_new(mj, "head_bytes", json_real(mem.head));
    json_object_set_new(mj, "scratch_bytes", json_real(mem.scratch));
    json_object_set_new(c->r->extra, "memory", mj);
    if (pt->k == 0) return ab_err(err, "%s", pt->why), AB_CASE_SKIP;
    const ab_llm *m = &pt->m;
    long T = (long)pt->batch * pt->seq;
    pt->vseq = val_len(6.0 * (double)ab_llm_linear_params_layer(m), T, 4, 160);
    pt->hseq = val_len(8.0 * (double)m->vocab * m->d_model, T, 2, 32);
    json_object_set_new(mj, "layers_run", json_integer(pt->k));
    json_object_set_new(mj, "total_bytes",
                        json_real(pt->k * ab_train_mem_layer(&mem) + mem.head + mem.scratch));
    json_object_set_new(c->r->extra, "scaling",
                        json_sprintf("measured %d of %d layers; step = %d/%d x (%d layers: "
                                     "forward, backward, AdamW) + head",
                                     pt->k, m->layers, m->layers, pt->k, pt->k));
    int rc = ab_train_model_new(d, m, p->impl, pt->bf16, pt->k, pt->batch, pt->seq, pt->vseq,
                                pt->hseq, &pt->mdl, err);
    if (rc != 0) return rc == AB_TRAIN_SKIP ? AB_CASE_SKIP : -1;
    json_object_set_new(c->r->extra, "kernels", ab_train_describe(pt->mdl));
    return ab_train_init(pt->mdl, err);
}

static int point_measure(ab_case *c, const ab_sampling *s, ab_timing *t, char *err)
{
    ab_train_point *pt = c->data;
    const ab_device *d = c->ctx->dev;
    memset(t, 0, sizeof(*t));
    long T = (long)pt->batch * pt->seq;
    /* the GEMM roof at this point's tokens per step, right before it, in the step's input type
     * (bf16: bf16 x bf16 into bf16 where the GEMM writes bf16, else into f32) */
    ab_tok_type wt = pt->bf16 ? AB_TT_BF16 : AB_TT_F32;
    pt->rf.gemm = 0, *pt->rf.gemm_why = 0;
    ab_tok_measure_gemm(d, &pt->m, wt, plan_of(c)->impl, T, &pt->rf);
    ab_sampling sl = *s;
    if (plan_of(c)->steps) sl.samples = (int)plan_of(c)->steps;
    run_ctx rh = {d, pt->mdl, true}, rl = {d, pt->mdl, false};
    /* the head once first: the layers' backward then starts from a real loss gradient */
    if (ab_train_head(pt->mdl, err) != 0) return -1;
    pt->w0 = ab_now();
    if (ab_measure(&sl, timed, &rl, t, err) != 0) return -1;
    pt->w1 = ab_now();
    if (t->n == 0) return 0;
    ab_timing th = {0};
    int rc = ab_measure(&sl, timed, &rh, &th, err);
    if (rc != 0 || th.n == 0) {
        if (th.n == 0 && !*err) ab_err(err, "interrupted before the first sample");
        rc = th.n == 0 ? AB_CASE_SKIP : -1;
    } else {
        pt->head = ab_median(th.per_iter, th.n);
    }
    ab_timing_free(&th);
    /* and again after it: the faster of the two is the roof (on a shared machine one of them
     * may fall in a slower minute than the step, which would inflate the MFU) */
    ab_tok_refs after = {0};
    ab_tok_measure_gemm(d, &pt->m, wt, plan_of(c)->impl, T, &after);
    pt->gemm_before = pt->rf.gemm, pt->gemm_after = after.gemm;
    if (after.gemm > pt->rf.gemm) pt->rf = after;
    return rc;
}

static json_t *mfu(const ab_case *c, const ab_train_point *pt, double flops_s)
{
    const ab_train_plan *p = plan_of(c);
    json_t *j = json_object(), *ms = json_object(), *ds = json_object();
    if (pt->rf.gemm > 0) {
        json_object_set_new(ms, "gemm_flops_per_s", json_real(pt->rf.gemm));
        json_object_set_new(ms, "what",
                            json_sprintf("%s; the faster of the measurements right "
                                         "before and right after the point",
                                         pt->rf.gemm_what));
        json_object_set_new(ms, "gemm_before_flops_per_s", json_real(pt->gemm_before));
        json_object_set_new(ms, "gemm_after_flops_per_s", json_real(pt->gemm_after));
        json_object_set_new(ms, "fraction", json_real(flops_s / pt->rf.gemm));
    } else {
        json_object_set_new(ms, "reason", json_string(pt->rf.gemm_why));
    }
    int row = -1;
    const char *col = NULL, *dt = pt->bf16 ? "bf16" : "f32";
    double peak = p->have_peaks
                      ? ab_peaks_for(&p->peaks, c->ctx->dev->info.name, "FLOP/s", dt, &row, &col)
                      : NAN;
    if (isfinite(peak) && peak > 0) {
        json_object_set_new(ds, "peak_flops_per_s", json_real(peak));
        json_object_set_new(ds, "column", json_string(col ? col : ""));
        json_object_set_new(ds, "source", json_string(ab_peaks_str(&p->peaks, row, "source")));
        json_object_set_new(ds, "fraction", json_real(flops_s / peak));
    } else {
        json_object_set_new(ds, "reason",
                            json_sprintf("no %s datasheet peak for '%s' in "
                                         "data/accelerator-peaks.csv",
                                         dt, c->ctx->dev->info.name));
    }
    json_object_set_new(j, "measured", ms);
    json_object_set_new(j, "datasheet", ds);
    json_object_set_new(j, "formula", json_string("model FLOPs per token x tokens/s / rate"));
    return j;
}

/* 6 N + 6 L H Dh S: PaLM's 6N + 12 L H Dh S with the causal mask's half */
static double flops_per_token(const ab_llm *m, int seq)
{
    return 6.0 * (double)ab_llm_params(m) + 6.0 * m->layers * m->heads * m->head_dim * (double)seq;
}

static int point_metrics(ab_case *c, const ab_timing *tl, ab_result *r, char *err)
{
    ab_train_point *pt = c->data;
    const ab_train_plan *p = plan_of(c);
    const ab_llm *m = &pt->m;
    double scale = (double)m->layers / pt->k, T = (double)pt->batch * pt->seq;
    double *st = malloc(tl->n * sizeof(double)), *tps = malloc(tl->n * sizeof(double));
    bool ok = st && tps;
    for (size_t i = 0; ok && i < tl->n; i++)
        st[i] = scale * tl->per_iter[i] + pt->head, tps[i] = T / st[i];
    ok = ok &&
         ab_result_add_metric(r, "tokens_per_s", "tokens/s", true, "tokens per step / step time",
                              tps, tl->n) &&
         ab_result_add_metric(r, "step_time", "s", false,
                              "L/k x (k layers: forward, backward, AdamW; one sample) + "
                              "median(head: norm, LM head, loss, backward, AdamW)",
                              st, tl->n);
    free(st), free(tps);
    if (!ok) return ab_err(err, "out of memory");
    const ab_stats *ss = &ab_result_metric(r, "step_time")->stats;
    double tok_s = T / ss->median, fpt = flops_per_token(m, pt->seq);
    json_t *sj = json_object();
    json_object_set_new(sj, "p50_s", json_real(ss->median));
    json_object_set_new(sj, "p99_s", json_real(ss->p99));
    json_object_set_new(sj, "layers_s", json_real(ab_median(tl->per_iter, tl->n)));
    json_object_set_new(sj, "head_s", json_real(pt->head));
    json_object_set_new(r->extra, "step", sj);
    json_t *fj = json_object();
    json_object_set_new(fj, "model_flops_per_token", json_real(fpt));
    json_object_set_new(fj, "params", json_integer((json_int_t)ab_llm_params(m)));
    json_object_set_new(fj, "formula",
                        json_string("6 N + 6 L H Dh S (N: parameters without the embedding "
                                    "table; attention 12 L H Dh S halved for the causal mask; "
                                    "the backward's recomputation not counted)"));
    json_object_set_new(r->extra, "flops", fj);
    json_object_set_new(r->extra, "mfu", mfu(c, pt, fpt * tok_s));
    json_object_set_new(r->extra, "cost", ab_tok_cost(&p->pr, tok_s));
    json_object_set_new(r->extra, "energy", ab_tok_energy(c->ctx, pt->w0, pt->w1, tok_s));
    json_t *bd = ab_train_breakdown(pt->mdl, err);
    if (!bd) return -1;
    json_object_set_new(r->extra, "breakdown", bd);
    return 0;
}

static int point_corrupt(ab_case *c, char *err)
{
    (void)err;
    ab_train_corrupt(((ab_train_point *)c->data)->mdl);
    return 0;
}

static int point_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    ab_train_point *pt = c->data;
    bool vok = false;
    json_t *j = ab_train_validate(pt->mdl, &vok, err);
    if (!j) return -1;
    json_object_set_new(r->extra, "validation", j);
    v->max_error = json_real_value(json_object_get(j, "worst_over_tolerance"));
    if (!vok)
        v->fail = true,
        snprintf(v->msg, sizeof(v->msg),
                 "gradients or loss differ from the fp64 reference: worst error %.3g x the "
                 "tolerance (extra.validation)",
                 v->max_error);
    return 0;
}

static void point_teardown(ab_case *c)
{
    ab_train_point *pt = c->data;
    ab_train_model_free(pt->mdl);
    pt->mdl = NULL;
}

const ab_case_ops ab_train_point_ops = {
    .setup = point_setup,
    .measure = point_measure,
    .metrics = point_metrics,
    .corrupt = point_corrupt,
    .validate = point_validate,
    .teardown = point_teardown,
};

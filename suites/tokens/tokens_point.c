/* SPDX-License-Identifier: MIT */
/*
 * tokens: one point as a case of the runner loop (suites/case.h). Setup makes the phase on the
 * group's model; measure() takes the same-run roofline references, then times the k layers and,
 * apart, the final norm and LM head; metrics() derives the step time per layers sample
 * (L/k x layers + median head) and from it tokens/s, and records the timing, roofline, cost and
 * energy extras; corrupt() damages the model's weights; validate() checks the phase against the
 * fp64 host reference.
 */
#include "../../core/ab.h"
#include "../../core/stats.h"
#include "tokens_suite.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct run_ctx {
    const ab_device *d;
    ab_tok_phase *ph;
    bool head;
} run_ctx;

static int timed_phase(void *arg, long iters, double *sec, char *err)
{
    run_ctx *c = arg;
    const ab_backend_ops *ops = c->d->backend->ops;
    if (ops->timer_start(c->d->h, err)) return -1;
    if ((c->head ? ab_tok_phase_head_n(c->ph, iters, err)
                 : ab_tok_phase_layers_n(c->ph, iters, err)) != 0)
        return -1;
    return ops->timer_stop(c->d->h, sec, err);
}

void ab_tok_point_sampling(const ab_options *o, ab_sampling *s)
{
    *s = o->sampling;
    if (s->samples > 5 && strcmp(o->profile, "full") != 0)
        s->samples = 5; /* a step is long; the spread is small against it */
}

static const ab_llm *model_of(const ab_case *c)
{
    return &((const ab_tok_plan *)c->plan)->o.m;
}

static int point_setup(ab_case *c, char *err)
{
    ab_tok_point *pt = c->data;
    ab_tok_group *g = c->group->data;
    const ab_llm *m = model_of(c);
    int k = g->k;
    json_object_set_new(c->r->extra, "scaling",
                        json_sprintf("measured %d of %d layers; step = %d/%d x (%d layers) + "
                                     "final norm and LM head",
                                     k, m->layers, m->layers, k, k));
    long len = pt->len;
    int rc = pt->prefill
                 ? ab_tok_phase_new(g->mdl, pt->impl, 1, (int)len, 0, len, &pt->ph, err)
                 : ab_tok_phase_new(g->mdl, pt->impl, pt->batch, 1, len, len + 1, &pt->ph, err);
    if (rc != 0) return rc == AB_TOK_SKIP ? AB_CASE_SKIP : -1;
    json_object_set_new(c->r->extra, "kernels", ab_tok_phase_describe(pt->ph));
    return 0;
}

/* The roofline references, then the layers (t, their window kept) and the head (its median). */
static int point_measure(ab_case *c, const ab_sampling *s, ab_timing *t, char *err)
{
    ab_tok_point *pt = c->data;
    ab_tok_group *g = c->group->data;
    const ab_device *d = c->ctx->dev;
    memset(t, 0, sizeof(*t));
    /* the bandwidth roof, measured right before the point: on a shared machine the memory
     * system's share drifts within minutes, and the roofline must describe the same moment */
    g->rf.bw = 0;
    *g->rf.bw_why = 0;
    ab_tok_measure_bandwidth(d, &g->rf);
    if (pt->prefill) { /* the compute roof likewise, at this point's own length */
        g->rf.gemm = 0;
        *g->rf.gemm_why = 0;
        ab_tok_measure_gemm(d, model_of(c), g->wt, pt->impl, pt->len, &g->rf);
    }
    run_ctx rl = {.d = d, .ph = pt->ph, .head = false}, rh = {.d = d, .ph = pt->ph, .head = true};
    pt->w0 = ab_now();
    if (ab_measure(s, timed_phase, &rl, t, err) != 0) return -1;
    pt->w1 = ab_now();
    if (t->n == 0) return 0; /* the loop: interrupted before the first sample */
    ab_timing th = {0};
    int rc = ab_measure(s, timed_phase, &rh, &th, err);
    if (rc != 0 || th.n == 0) {
        if (th.n == 0 && !*err) ab_err(err, "interrupted before the first sample");
        rc = th.n == 0 ? AB_CASE_SKIP : -1;
    } else {
        pt->head = ab_median(th.per_iter, th.n);
    }
    ab_timing_free(&th);
    return rc;
}

/* step time per layers sample; tokens/s; per user for decode */
static int step_metrics(ab_case *c, const ab_timing *tl, ab_result *r, char *err)
{
    ab_tok_point *pt = c->data;
    const ab_llm *m = model_of(c);
    double scale = (double)m->layers / ((ab_tok_group *)c->group->data)->k;
    long tokens = pt->prefill ? pt->len : pt->batch;
    double *tpot = malloc(tl->n * sizeof(double)), *tps = malloc(tl->n * sizeof(double)),
           *tpu = malloc(tl->n * sizeof(double));
    bool ok = tpot && tps && tpu;
    for (size_t i = 0; ok && i < tl->n; i++) {
        tpot[i] = scale * tl->per_iter[i] + pt->head;
        tps[i] = (double)tokens / tpot[i];
        tpu[i] = 1.0 / tpot[i];
    }
    const char *tf = pt->prefill ? "input tokens / TTFT" : "batch / TPOT";
    const char *lf = "L/k x (k layers, one sample) + median(final norm + LM head)";
    ok = ok && ab_result_add_metric(r, "tokens_per_s", "tokens/s", true, tf, tps, tl->n) &&
         ab_result_add_metric(r, pt->prefill ? "ttft" : "tpot", "s", false, lf, tpot, tl->n);
    if (ok && !pt->prefill)
        ok = ab_result_add_metric(r, "tokens_per_s_per_user", "tokens/s", true, "1 / TPOT", tpu,
                                  tl->n) != NULL;
    free(tpot), free(tps), free(tpu);
    return ok ? 0 : ab_err(err, "out of memory");
}

static int point_metrics(ab_case *c, const ab_timing *tl, ab_result *r, char *err)
{
    ab_tok_point *pt = c->data;
    ab_tok_group *g = c->group->data;
    const ab_tok_plan *p = c->plan;
    if (step_metrics(c, tl, r, err) != 0) return -1;
    /* the tokens/s the tables show, the median of the samples (with an even sample count it is
     * not tokens / median step time): cost, energy, carbon and roofline agree with it */
    double tok_s = ab_result_metric(r, "tokens_per_s")->stats.median;
    json_t *tm = json_object();
    json_object_set_new(tm, "layers_s", json_real(ab_median(tl->per_iter, tl->n)));
    json_object_set_new(tm, "head_s", json_real(pt->head));
    json_object_set_new(tm, "layer_samples", json_integer((json_int_t)tl->n));
    json_object_set_new(r->extra, "timing", tm);
    /* roofline: same-run measurements and the datasheet */
    json_object_set_new(r->extra, "roofline",
                        ab_tok_roofline(p, c->ctx->dev, &g->rf, g->mdl, g->wt, pt, tok_s));
    json_object_set_new(r->extra, "cost", ab_tok_cost(&p->pr, tok_s));
    /* energy over the layers' measurement window */
    json_t *en = ab_tok_energy(c->ctx, pt->w0, pt->w1, tok_s);
    json_object_set_new(r->extra, "energy", en);
    json_object_set_new(r->extra, "carbon", ab_tok_carbon_json(&p->cb, en));
    return 0;
}

static int point_corrupt(ab_case *c, char *err)
{
    return ab_tok_model_corrupt(((ab_tok_group *)c->group->data)->mdl, err);
}

static int point_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    ab_tok_point *pt = c->data;
    bool vok = false;
    json_t *j = ab_tok_phase_validate(pt->ph, &vok, err);
    if (!j) return -1;
    json_object_set_new(r->extra, "validation", j);
    if (!vok) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg),
                 "output differs from the fp64 reference (attention block %.2g, MLP %.2g, "
                 "logits %.2g; tolerance %.2g)",
                 json_real_value(json_object_get(j, "attention_block")),
                 json_real_value(json_object_get(j, "mlp_output")),
                 json_real_value(json_object_get(j, "logits_16_columns")),
                 json_real_value(json_object_get(j, "tolerance")));
    }
    return 0;
}

static void point_teardown(ab_case *c)
{
    ab_tok_point *pt = c->data;
    if (pt->ph) ab_tok_phase_free(pt->ph);
    pt->ph = NULL;
}

const ab_case_ops ab_tok_point_ops = {
    .setup = point_setup,
    .measure = point_measure,
    .metrics = point_metrics,
    .corrupt = point_corrupt,
    .validate = point_validate,
    .teardown = point_teardown,
};

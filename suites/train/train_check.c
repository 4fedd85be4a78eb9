/* SPDX-License-Identifier: MIT */
/*
 * Validation of the training step against the fp64 host reference (train_ref.c), every run:
 *   layer: layer 0 from seeded weights, a seeded input and a seeded upstream gradient g, over
 *          one sequence of val.T tokens: forward, backward; the relative error (2-norm) of each
 *          weight gradient and of the input gradient; the layer's loss L = <out, g> (whose
 *          gradient w.r.t. out is g) before and after one AdamW step of the layer's weights.
 *   head:  the final norm and LM head over hval.T tokens from a seeded hidden state and seeded
 *          targets: the mean cross-entropy, the gradients of the head's weight, the norm's and
 *          of the hidden state, and the loss after one AdamW step of the head.
 * Tolerances (f32): 2e-4 relative for gradients and losses, 1e-2 relative for the change of the
 * loss that the update makes (the update is what that change checks).
 *
 * bf16 training: the reference rounds every GEMM operand to bf16 where the step casts it
 * (train_ref.h), so what is left is not bf16's rounding error (2^-9 per operand: 1.8e-3 to 3.9e-3
 * in these gradients against a reference that does not round) but where the device's f32 tensor
 * and the reference's fp64 one fall on either side of a bf16 rounding boundary. Two values that
 * differ by a fraction d do so with probability ~d / u (u = 2^-8..2^-7, bf16's relative spacing)
 * and then differ by u: a discrepancy d before a cast is ~sqrt(d u) after it, in the 2-norm.
 * A device within the f32 tolerance before a cast is within sqrt(2e-4 x 2^-7) ~ 1.25e-3 after
 * it: 2e-3 for bf16. Measured: at most 5.8e-4 (w_qkv and norm1, behind the f32 attention
 * backward's ~1e-5, amplified so; tiny at seq 16..160, llama3-1b), the other gradients ~1e-4, the
 * head's ~1e-6. The update's change keeps 1e-2.
 */
#include "train_model.h"
#include "train_ref.h"

#include "../../core/ab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_GRAD      2e-4
#define TOL_GRAD_BF16 2e-3
#define TOL_DELTA     1e-2

static int rd(ab_train_model *m, void *host, const void *dev, size_t floats, char *err)
{
    if (m->ops->copy(m->d->h, AB_COPY_D2H, host, dev, 0, floats * sizeof(float), err) != 0)
        return -1;
    return m->ops->sync(m->d->h, err);
}

static float *host_param(const tr_param *p)
{
    float *w = malloc(p->n * sizeof(float));
    if (w)
        for (size_t i = 0; i < p->n; i++)
            w[i] = p->offset + ab_attn_gen(p->seed, i, p->amp);
    return w;
}

static void gen_d(double *x, size_t n, uint64_t seed, float amp)
{
    for (size_t i = 0; i < n; i++)
        x[i] = ab_attn_gen(seed, i, amp);
}

static double rel(double e2, double r2)
{
    return r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
}

static double vec_rel(const float *dev, const double *ref, size_t n)
{
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++)
        e += (dev[i] - ref[i]) * (dev[i] - ref[i]), r += ref[i] * ref[i];
    return rel(e, r);
}

static double dotfd(const float *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

typedef struct verdict {
    json_t *j;
    bool ok;
    double worst; /* largest error / tolerance */
} verdict;

static void note(verdict *v, json_t *obj, const char *name, double e, double tol)
{
    json_object_set_new(obj, name, json_real(e));
    if (!(e <= tol)) v->ok = false;
    if (!(e / tol <= v->worst)) v->worst = e / tol;
}

/* device side of the layer check: seeded state, forward, backward; then one update and the
 * forward again (into x[1]), after the results are read */
static int dev_layer(ab_train_model *m, float *x1, float *dx, float **g, float *x1b, char *err)
{
    tr_layer *L = &m->layer[0];
    size_t n = (size_t)m->val.T * (size_t)m->D;
    for (int i = 0; i < TP_COUNT; i++)
        if (ab_train_fill_param(m, &L->p[i], err) != 0) return -1;
    if (ab_train_fill_seeded(m, m->x[0], n, AB_TRAIN_SEED_X, AB_TRAIN_AMP_X, err) ||
        ab_train_fill_seeded(m, m->s.gL, n, AB_TRAIN_SEED_G, AB_TRAIN_AMP_G, err) ||
        ab_train_layer_fwd(m, &m->val, 0, err) ||
        ab_train_layer_bwd(m, &m->val, 0, m->s.gL, m->s.g0, err))
        return -1;
    if (m->corrupt && m->k->fill(m->d->h, L->p[TP_O].g, L->p[TP_O].n, 4242, 0.5f, 0.0f, err))
        return -1;
    if (rd(m, x1, m->x[1], n, err) || rd(m, dx, m->s.g0, n, err)) return -1;
    for (int i = 0; i < TP_COUNT; i++)
        if (rd(m, g[i], L->p[i].g, L->p[i].n, err) != 0) return -1;
    if (ab_train_adamw_params(m, L->p, TP_COUNT, 1, err) || ab_train_layer_fwd(m, &m->val, 0, err))
        return -1;
    return rd(m, x1b, m->x[1], n, err);
}

static int layer_check(ab_train_model *m, verdict *v, char *err)
{
    const double tg = m->bf16 ? TOL_GRAD_BF16 : TOL_GRAD;
    ab_tref_dims d = {(int)m->val.T, m->D, m->m.heads, m->m.kv_heads, m->m.head_dim, m->F, m->bf16};
    tr_layer *L = &m->layer[0];
    size_t n = (size_t)d.T * (size_t)d.D;
    ab_tref_act a;
    float *w[TP_COUNT] = {0}, *g[TP_COUNT] = {0};
    float *x1 = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float)),
          *x1b = malloc(n * sizeof(float));
    bool ok = x1 && dx && x1b && ab_tref_alloc(&d, &a) == 0;
    for (int i = 0; ok && i < TP_COUNT; i++)
        ok = (w[i] = host_param(&L->p[i])) && (g[i] = malloc(L->p[i].n * sizeof(float)));
    int rc = ok ? 0 : ab_err(err, "out of memory for the fp64 reference");
    if (rc == 0) rc = dev_layer(m, x1, dx, g, x1b, err);
    if (rc == 0) {
        ab_tref_w tw = {w[TP_QKV], w[TP_O], w[TP_GU], w[TP_DOWN], w[TP_N1], w[TP_N2]};
        gen_d(a.x, n, AB_TRAIN_SEED_X, AB_TRAIN_AMP_X);
        gen_d(a.gout, n, AB_TRAIN_SEED_G, AB_TRAIN_AMP_G);
        ab_tref_forward(&d, &tw, &a);
        ab_tref_backward(&d, &tw, &a);
        double l0 = 0, l0d = dotfd(x1, a.gout, n);
        for (size_t i = 0; i < n; i++)
            l0 += a.out[i] * a.gout[i];
        json_t *gj = json_object();
        int Q = m->QKV, F = m->F;
        struct {
            int p, rows, cols;
            const double *dy, *x;
            size_t ldy;
        } mats[] = {{TP_QKV, Q, d.D, a.dqkv, a.n1, (size_t)Q},
                    {TP_O, d.D, m->HD, a.dh, a.o, (size_t)d.D},
                    {TP_GU, 2 * F, d.D, a.dgu, a.n2, (size_t)2 * F},
                    {TP_DOWN, d.D, F, a.gout, a.act, (size_t)d.D}};
        static const char *names[TP_COUNT] = {"w_qkv",  "w_o",   "w_gate_up",
                                              "w_down", "norm1", "norm2"};
        for (int i = 0; i < 4; i++) {
            double e2 = 0, r2 = 0;
            ab_tref_dw_check_update(d.T, mats[i].rows, mats[i].cols, mats[i].dy, mats[i].ldy,
                                    mats[i].x, g[mats[i].p], w[mats[i].p], &m->hp, m->bf16, &e2,
                                    &r2);
            note(v, gj, names[mats[i].p], rel(e2, r2), tg);
        }
        note(v, gj, names[TP_N1], vec_rel(g[TP_N1], a.dn1w, (size_t)d.D), tg);
        note(v, gj, names[TP_N2], vec_rel(g[TP_N2], a.dn2w, (size_t)d.D), tg);
        note(v, gj, "input", vec_rel(dx, a.dx, n), tg);
        ab_tref_adamw_vec((size_t)d.D, w[TP_N1], a.dn1w, &m->hp);
        ab_tref_adamw_vec((size_t)d.D, w[TP_N2], a.dn2w, &m->hp);
        ab_tref_forward(&d, &tw, &a); /* with the updated weights */
        double l1 = 0, l1d = dotfd(x1b, a.gout, n);
        for (size_t i = 0; i < n; i++)
            l1 += a.out[i] * a.gout[i];
        json_t *lj = json_object();
        json_object_set_new(lj, "tokens", json_integer(d.T));
        json_object_set_new(lj, "gradients_rel_error", gj);
        json_object_set_new(lj, "loss_before", json_real(l0d));
        json_object_set_new(lj, "loss_before_ref", json_real(l0));
        json_object_set_new(lj, "loss_after", json_real(l1d));
        json_object_set_new(lj, "loss_after_ref", json_real(l1));
        note(v, lj, "loss_rel_error", fabs(l0d - l0) / fmax(fabs(l0), 1e-30), tg);
        note(v, lj, "update_change_rel_error",
             fabs((l1d - l0d) - (l1 - l0)) / fmax(fabs(l1 - l0), 1e-30), TOL_DELTA);
        json_object_set_new(v->j, "layer", lj);
    }
    for (int i = 0; i < TP_COUNT; i++)
        free(w[i]), free(g[i]);
    free(x1), free(dx), free(x1b);
    if (ok) ab_tref_free(&a);
    return rc;
}

/* reference cross-entropy: loss, and dlogits = (softmax - onehot) / T in place */
static double ref_xent(int T, int V, double *lg, uint64_t seed)
{
    double tot = 0;
    for (int t = 0; t < T; t++) {
        double *x = lg + (size_t)t * V, mx = x[0], s = 0;
        for (int j = 1; j < V; j++)
            mx = x[j] > mx ? x[j] : mx;
        for (int j = 0; j < V; j++)
            s += exp(x[j] - mx);
        int y = ab_train_target(seed, t, V);
        tot += mx + log(s) - x[y];
        for (int j = 0; j < V; j++)
            x[j] = exp(x[j] - mx) / s / T;
        x[y] -= 1.0 / T;
    }
    return tot / T;
}

static int dev_head(ab_train_model *m, float *gw, float *gn, float *dx, double *loss, char *err)
{
    long T = m->hval.T;
    for (int i = 0; i < TH_COUNT; i++)
        if (ab_train_fill_param(m, &m->head[i], err) != 0) return -1;
    if (ab_train_fill_seeded(m, m->x[0], (size_t)T * m->D, AB_TRAIN_SEED_X + 1, AB_TRAIN_AMP_X,
                             err) ||
        ab_train_set_targets(m, T, AB_TRAIN_SEED_TARGETS, err) ||
        ab_train_head_fb(m, &m->hval, m->x[0], m->s.g0, err) ||
        ab_train_read_loss(m, T, &loss[0], err))
        return -1;
    if (rd(m, gw, m->head[TH_W].g, m->head[TH_W].n, err) ||
        rd(m, gn, m->head[TH_NF].g, (size_t)m->D, err) || rd(m, dx, m->s.g0, (size_t)T * m->D, err))
        return -1;
    if (ab_train_adamw_params(m, m->head, TH_COUNT, 1, err) ||
        ab_train_head_fb(m, &m->hval, m->x[0], m->s.g0, err))
        return -1;
    return ab_train_read_loss(m, T, &loss[1], err);
}

static int head_check(ab_train_model *m, verdict *v, char *err)
{
    const double tg = m->bf16 ? TOL_GRAD_BF16 : TOL_GRAD;
    int T = (int)m->hval.T, D = m->D, V = m->V;
    size_t nd = (size_t)T * D;
    float *W = host_param(&m->head[TH_W]), *wn = host_param(&m->head[TH_NF]);
    float *gw = malloc(m->head[TH_W].n * sizeof(float)), *gn = malloc((size_t)D * sizeof(float)),
          *dx = malloc(nd * sizeof(float));
    double *x = malloc(nd * sizeof(double)), *nf = malloc(nd * sizeof(double)),
           *r = malloc((size_t)T * sizeof(double)), *lg = malloc((size_t)T * V * sizeof(double)),
           *dnf = malloc(nd * sizeof(double)), *rdx = malloc(nd * sizeof(double)),
           *dwn = calloc((size_t)D, sizeof(double));
    double loss[2] = {0, 0};
    int rc = W && wn && gw && gn && dx && x && nf && r && lg && dnf && rdx && dwn
                 ? 0
                 : ab_err(err, "out of memory for the fp64 reference of the head");
    if (rc == 0) rc = dev_head(m, gw, gn, dx, loss, err);
    if (rc == 0) {
        gen_d(x, nd, AB_TRAIN_SEED_X + 1, AB_TRAIN_AMP_X);
        ab_tref_rmsnorm(T, D, x, wn, nf, r);
        ab_tref_linear(T, V, D, nf, W, NULL, lg, m->bf16);
        double l0 = ref_xent(T, V, lg, AB_TRAIN_SEED_TARGETS);
        ab_tref_linear_dx(T, V, D, lg, (size_t)V, W, dnf, m->bf16);
        ab_tref_rmsnorm_bwd(T, D, x, wn, r, dnf, NULL, rdx, dwn);
        double e2 = 0, r2 = 0;
        ab_tref_dw_check_update(T, V, D, lg, (size_t)V, nf, gw, W, &m->hp, m->bf16, &e2, &r2);
        json_t *hj = json_object(), *gj = json_object();
        note(v, gj, "w_head", rel(e2, r2), tg);
        note(v, gj, "norm_final", vec_rel(gn, dwn, (size_t)D), tg);
        note(v, gj, "input", vec_rel(dx, rdx, nd), tg);
        ab_tref_adamw_vec((size_t)D, wn, dwn, &m->hp);
        ab_tref_rmsnorm(T, D, x, wn, nf, r);
        ab_tref_linear(T, V, D, nf, W, NULL, lg, m->bf16);
        double l1 = ref_xent(T, V, lg, AB_TRAIN_SEED_TARGETS);
        json_object_set_new(hj, "tokens", json_integer(T));
        json_object_set_new(hj, "gradients_rel_error", gj);
        json_object_set_new(hj, "loss_before", json_real(loss[0]));
        json_object_set_new(hj, "loss_before_ref", json_real(l0));
        json_object_set_new(hj, "loss_after", json_real(loss[1]));
        json_object_set_new(hj, "loss_after_ref", json_real(l1));
        note(v, hj, "loss_rel_error", fabs(loss[0] - l0) / fabs(l0), tg);
        note(v, hj, "update_change_rel_error",
             fabs((loss[1] - loss[0]) - (l1 - l0)) / fmax(fabs(l1 - l0), 1e-30), TOL_DELTA);
        json_object_set_new(v->j, "head", hj);
    }
    free(W), free(wn), free(gw), free(gn), free(dx), free(x), free(nf), free(r), free(lg);
    free(dnf), free(rdx), free(dwn);
    return rc;
}

json_t *ab_train_validate(ab_train_model *m, bool *ok, char *err)
{
    verdict v = {json_object(), true, 0};
    json_object_set_new(v.j, "reference",
                        json_string(m->bf16 ? "fp64 host reference, inputs regenerated from "
                                              "seeds, every GEMM operand rounded to bf16 as "
                                              "the step casts it"
                                            : "fp64 host reference, inputs regenerated "
                                              "from seeds"));
    if (layer_check(m, &v, err) != 0 || head_check(m, &v, err) != 0) {
        json_decref(v.j);
        return NULL;
    }
    json_object_set_new(v.j, "tolerance_gradients", json_real(m->bf16 ? TOL_GRAD_BF16 : TOL_GRAD));
    json_object_set_new(v.j, "tolerance_update_change", json_real(TOL_DELTA));
    json_object_set_new(v.j, "worst_over_tolerance", json_real(v.worst));
    json_object_set_new(v.j, "passed", json_boolean(v.ok));
    *ok = v.ok;
    return v.j;
}

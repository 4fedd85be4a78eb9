/* SPDX-License-Identifier: MIT */
/* The training step (train_step.h): the model's buffers, the GEMM plans of each shape, forward,
 * backward and AdamW. Validation is train_check.c; the buffers and plans train_model.c. */
#include "train_model.h"

#include "../../core/ab.h"
#include "../../core/stats.h"

#include <stdio.h>
#include <string.h>

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((x) != 0) return -1;                                                                   \
    } while (0)

/* ---- instrumentation: every kernel bracketed by the backend timer when mdl->instr ---------- */

static int t_begin(ab_train_model *m, char *err)
{
    return m->instr ? m->ops->timer_start(m->d->h, err) : 0;
}

static int t_end(ab_train_model *m, int cat, int gemm, char *err)
{
    if (!m->instr) return 0;
    double s = 0;
    if (m->ops->timer_stop(m->d->h, &s, err) != 0) return -1;
    m->t_cat[cat] += s;
    if (gemm >= 0) m->t_gemm[gemm] += s;
    return 0;
}

static int gemm(ab_train_model *m, tr_shape *sh, int which, void *a, void *b, void *c, char *err)
{
    TRY(t_begin(m, err));
    TRY(m->gi->run(sh->plan[which], a, b, c, err));
    return t_end(m, AB_TC_GEMM, which, err);
}

static int copy(ab_train_model *m, void *dst, const void *src, size_t floats, char *err)
{
    TRY(t_begin(m, err));
    TRY(m->ops->copy(m->d->h, AB_COPY_D2D, dst, src, 0, floats * sizeof(float), err));
    return t_end(m, AB_TC_OTHER, -1, err);
}

/* bf16 training: src's bf16 cast into dst (dst == src, f32 training: nothing to do) */
static int cast(ab_train_model *m, const void *src, void *dst, size_t n, char *err)
{
    if (dst == src) return 0;
    TRY(t_begin(m, err));
    TRY(m->k->cast_bf16(m->d->h, n, src, dst, err));
    return t_end(m, AB_TC_CAST, -1, err);
}

/* the GEMM operand of the upstream gradient g (n elements): g, or its bf16 cast in s.g16 */
static int grad_op(ab_train_model *m, void *g, size_t n, void **op, char *err)
{
    *op = m->bf16 ? m->s.g16 : g;
    return cast(m, g, *op, n, err);
}

#define K_(cat, call)                                                                              \
    do {                                                                                           \
        TRY(t_begin(m, err));                                                                      \
        TRY(call);                                                                                 \
        TRY(t_end(m, cat, -1, err));                                                               \
    } while (0)
#define OTHER(call) K_(AB_TC_OTHER, call)

static ab_train_attn attn_of(const ab_train_model *m, const tr_shape *sh)
{
    return (ab_train_attn){.batch = sh->batch,
                           .seq = sh->seq,
                           .heads = m->m.heads,
                           .kv_heads = m->m.kv_heads,
                           .head_dim = m->m.head_dim,
                           .scale = 1.0f / sqrtf((float)m->m.head_dim)};
}

/* layer l forward on shape sh: x[l] -> x[l + 1], saving what the backward needs */
int ab_train_layer_fwd(ab_train_model *m, tr_shape *sh, int l, char *err)
{
    const ab_train_ops *k = m->k;
    void *dev = m->d->h;
    tr_layer *L = &m->layer[l];
    tr_param *P = L->p;
    long T = sh->T;
    ab_train_attn at = attn_of(m, sh);
    size_t td = (size_t)T * m->D;
    OTHER(k->rmsnorm_fwd(dev, T, m->D, m->x[l], P[TP_N1].w, AB_TRAIN_EPS, L->n1, L->r1, err));
    TRY(cast(m, L->n1, L->n1g, td, err));
    TRY(gemm(m, sh, AB_TG_QKV, L->n1g, P[TP_QKV].wg, L->qkv, err));
    OTHER(k->rope(dev, &at, L->qkv, false, err));
    K_(AB_TC_ATTN_FWD, k->attn_fwd(dev, &at, L->qkv, L->o, L->lse, err));
    TRY(cast(m, L->o, L->og, (size_t)T * m->HD, err));
    TRY(copy(m, L->h, m->x[l], td, err));
    TRY(gemm(m, sh, AB_TG_O, L->og, P[TP_O].wg, L->h, err));
    OTHER(k->rmsnorm_fwd(dev, T, m->D, L->h, P[TP_N2].w, AB_TRAIN_EPS, L->n2, L->r2, err));
    TRY(cast(m, L->n2, L->n2g, td, err));
    TRY(gemm(m, sh, AB_TG_GU, L->n2g, P[TP_GU].wg, L->gu, err));
    OTHER(k->swiglu_fwd(dev, T, m->F, L->gu, L->act, err));
    TRY(cast(m, L->act, L->actg, (size_t)T * m->F, err));
    TRY(copy(m, m->x[l + 1], L->h, td, err));
    return gemm(m, sh, AB_TG_DOWN, L->actg, P[TP_DOWN].wg, m->x[l + 1], err);
}

/* layer l backward: gout (dL/dx[l+1]) -> gin (dL/dx[l]), gradients into L->p[].g */
int ab_train_layer_bwd(ab_train_model *m, tr_shape *sh, int l, void *gout, void *gin, char *err)
{
    const ab_train_ops *k = m->k;
    void *dev = m->d->h;
    tr_layer *L = &m->layer[l];
    tr_param *P = L->p;
    long T = sh->T;
    ab_train_attn at = attn_of(m, sh);
    size_t td = (size_t)T * m->D;
    void *g; /* each upstream gradient's GEMM operand */
    OTHER(k->zero(dev, P[TP_N1].g, (size_t)m->D, err));
    OTHER(k->zero(dev, P[TP_N2].g, (size_t)m->D, err));
    TRY(grad_op(m, gout, td, &g, err));
    TRY(gemm(m, sh, AB_TG_DWD, g, L->actg, P[TP_DOWN].g, err));
    TRY(gemm(m, sh, AB_TG_DA, g, P[TP_DOWN].wg, m->s.da, err));
    OTHER(k->swiglu_bwd(dev, T, m->F, L->gu, m->s.da, m->s.dgu, err));
    TRY(grad_op(m, m->s.dgu, (size_t)T * 2 * m->F, &g, err));
    TRY(gemm(m, sh, AB_TG_DWGU, g, L->n2g, P[TP_GU].g, err));
    TRY(gemm(m, sh, AB_TG_DN2, g, P[TP_GU].wg, m->s.dn, err));
    OTHER(k->rmsnorm_bwd(dev, T, m->D, L->h, P[TP_N2].w, L->r2, m->s.dn, gout, m->s.dh, P[TP_N2].g,
                         err));
    TRY(grad_op(m, m->s.dh, td, &g, err));
    TRY(gemm(m, sh, AB_TG_DWO, g, L->og, P[TP_O].g, err));
    TRY(gemm(m, sh, AB_TG_DO, g, P[TP_O].wg, m->s.dout, err));
    K_(AB_TC_ATTN_BWD,
       k->attn_bwd(dev, &at, L->qkv, L->o, L->lse, m->s.dout, m->s.dqkv, m->s.work, err));
    OTHER(k->rope(dev, &at, m->s.dqkv, true, err));
    TRY(grad_op(m, m->s.dqkv, (size_t)T * m->QKV, &g, err));
    TRY(gemm(m, sh, AB_TG_DWQKV, g, L->n1g, P[TP_QKV].g, err));
    TRY(gemm(m, sh, AB_TG_DN1, g, P[TP_QKV].wg, m->s.dn, err));
    OTHER(k->rmsnorm_bwd(dev, T, m->D, m->x[l], P[TP_N1].w, L->r1, m->s.dn, m->s.dh, gin,
                         P[TP_N1].g, err));
    return 0;
}

int ab_train_adamw_params(ab_train_model *m, tr_param *p, int n, long t, char *err)
{
    ab_train_adamw h = m->hp;
    h.t = t;
    for (int i = 0; i < n; i++) {
        OTHER(m->k->adamw(m->d->h, p[i].n, p[i].w, p[i].g, p[i].m, p[i].v, &h, err));
        TRY(cast(m, p[i].w, p[i].wg, p[i].n, err)); /* the next step's bf16 copy */
    }
    return 0;
}

int ab_train_layers(ab_train_model *m, char *err)
{
    tr_shape *sh = &m->run;
    for (int l = 0; l < m->layers; l++)
        TRY(ab_train_layer_fwd(m, sh, l, err));
    void *g = m->s.gL;
    for (int l = m->layers - 1; l >= 0; l--) {
        void *gin = (m->layers - 1 - l) % 2 ? m->s.g1 : m->s.g0;
        TRY(ab_train_layer_bwd(m, sh, l, g, gin, err));
        g = gin;
    }
    m->t_layers++;
    for (int l = 0; l < m->layers; l++)
        TRY(ab_train_adamw_params(m, m->layer[l].p, TP_COUNT, m->t_layers, err));
    return 0;
}

/* head on shape sh from x (rows sh->T): loss per row, gradient into gx */
int ab_train_head_fb(ab_train_model *m, tr_shape *sh, void *x, void *gx, char *err)
{
    const ab_train_ops *k = m->k;
    void *dev = m->d->h;
    long T = sh->T;
    tr_param *P = m->head;
    void *g;
    OTHER(k->rmsnorm_fwd(dev, T, m->D, x, P[TH_NF].w, AB_TRAIN_EPS, m->s.nf, m->s.rf, err));
    TRY(cast(m, m->s.nf, m->s.nfg, (size_t)T * m->D, err));
    TRY(gemm(m, sh, AB_TG_LOGITS, m->s.nfg, P[TH_W].wg, m->s.logits, err));
    OTHER(k->xent(dev, T, m->V, m->s.logits, m->s.targets, m->s.loss, 1.0f / (float)T, err));
    OTHER(k->zero(dev, P[TH_NF].g, (size_t)m->D, err));
    TRY(grad_op(m, m->s.logits, (size_t)T * m->V, &g, err));
    TRY(gemm(m, sh, AB_TG_DWHEAD, g, m->s.nfg, P[TH_W].g, err));
    TRY(gemm(m, sh, AB_TG_DNF, g, P[TH_W].wg, m->s.dn, err));
    OTHER(k->rmsnorm_bwd(dev, T, m->D, x, P[TH_NF].w, m->s.rf, m->s.dn, NULL, gx, P[TH_NF].g, err));
    return 0;
}

int ab_train_head(ab_train_model *m, char *err)
{
    TRY(ab_train_head_fb(m, &m->run, m->x[m->layers], m->s.gL, err));
    m->t_head++;
    return ab_train_adamw_params(m, m->head, TH_COUNT, m->t_head, err);
}

int ab_train_last_loss(ab_train_model *m, double *loss, char *err)
{
    return ab_train_read_loss(m, m->run.T, loss, err);
}

static const char *const cat_names[AB_TC_COUNT] = {"gemm_s", "attention_fwd_s", "attention_bwd_s",
                                                   "other_s", "cast_bf16_s"};

/* one instrumented step: per-category seconds of the layers (lay) and of the head (hd), and
 * per product (gm) */
static int breakdown_step(ab_train_model *m, double *lay, double *hd, double *gm, char *err)
{
    memset(m->t_cat, 0, sizeof(m->t_cat));
    memset(m->t_gemm, 0, sizeof(m->t_gemm));
    m->instr = true;
    int rc = ab_train_layers(m, err);
    memcpy(lay, m->t_cat, sizeof(m->t_cat));
    if (rc == 0) rc = ab_train_head(m, err);
    m->instr = false;
    for (int c = 0; c < AB_TC_COUNT; c++)
        hd[c] = m->t_cat[c] - lay[c];
    memcpy(gm, m->t_gemm, sizeof(m->t_gemm));
    return rc;
}

static double median_of(const double *x, int stride, int n)
{
    double v[AB_TRAIN_BD_STEPS];
    for (int i = 0; i < n; i++)
        v[i] = x[(size_t)i * (size_t)stride];
    return ab_median(v, (size_t)n);
}

json_t *ab_train_breakdown(ab_train_model *m, char *err)
{
    enum { NS = AB_TRAIN_BD_STEPS };
    double lay_s[NS][AB_TC_COUNT], hd_s[NS][AB_TC_COUNT], gm_s[NS][AB_TG_COUNT];
    for (int i = 0; i < NS; i++)
        if (breakdown_step(m, lay_s[i], hd_s[i], gm_s[i], err) != 0) return NULL;
    double layer_cat[AB_TC_COUNT], head_cat[AB_TC_COUNT];
    for (int c = 0; c < AB_TC_COUNT; c++)
        layer_cat[c] = median_of(&lay_s[0][c], AB_TC_COUNT, NS),
        head_cat[c] = median_of(&hd_s[0][c], AB_TC_COUNT, NS);
    json_t *j = json_object(), *lay = json_object(), *hd = json_object(), *g = json_array();
    for (int c = 0; c < AB_TC_COUNT; c++) {
        json_object_set_new(lay, cat_names[c], json_real(layer_cat[c]));
        json_object_set_new(hd, cat_names[c], json_real(head_cat[c]));
    }
    for (int i = 0; i < AB_TG_COUNT; i++) {
        const ab_gemm_op *op = &m->run.op[i];
        json_t *e = json_object();
        json_object_set_new(e, "product", json_string(ab_train_gemm_name(i)));
        json_object_set_new(e, "layout", json_string(op->ta ? "TN" : op->tb ? "NT" : "NN"));
        json_object_set_new(e, "types",
                            json_sprintf("%s x %s -> %s", ab_gemm_type_name(op->a),
                                         ab_gemm_type_name(op->b), ab_gemm_type_name(op->c)));
        json_object_set_new(e, "m", json_integer(op->m));
        json_object_set_new(e, "n", json_integer(op->n));
        json_object_set_new(e, "k", json_integer(op->k));
        json_object_set_new(e, "beta", json_real(op->beta));
        json_object_set_new(e, "calls", json_integer(i >= AB_TG_LOGITS ? 1 : m->layers));
        json_object_set_new(e, "seconds", json_real(median_of(&gm_s[0][i], AB_TG_COUNT, NS)));
        json_array_append_new(g, e);
    }
    json_object_set_new(j, "layers", lay);
    json_object_set_new(j, "head", hd);
    json_object_set_new(j, "gemm", g);
    json_object_set_new(j, "method",
                        json_sprintf("%d extra steps after the samples, every kernel bracketed "
                                     "by the backend timer, each figure the median over them; "
                                     "layers: k layers forward, backward and AdamW; head: final "
                                     "norm, LM head, loss, backward, AdamW; cast_bf16_s: bf16 "
                                     "training's casts (0 in f32)",
                                     NS));
    json_object_set_new(j, "steps", json_integer(NS));
    return j;
}

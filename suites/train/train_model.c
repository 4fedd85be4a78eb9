/* SPDX-License-Identifier: MIT */
/* The training model's buffers, GEMM plans and seeded contents (train_model.h). */
#include "train_model.h"

#include "../../core/ab.h"
#include "../attention/attention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const gemm_names[AB_TG_COUNT] = {
    "qkv",   "o",   "gate_up", "down",    "d_w_down", "d_act",    "d_w_gate_up", "d_norm2",
    "d_w_o", "d_o", "d_w_qkv", "d_norm1", "logits",   "d_w_head", "d_norm_final"};

const char *ab_train_gemm_name(int which)
{
    return which >= 0 && which < AB_TG_COUNT ? gemm_names[which] : "?";
}

static void *dalloc_bytes(ab_train_model *m, size_t bytes, char *err)
{
    if (m->nallocs == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        void **a = realloc(m->allocs, cap * sizeof(*a));
        if (!a) return ab_err(err, "out of memory"), NULL;
        m->allocs = a, m->cap = cap;
    }
    void *p = NULL;
    if (m->ops->mem_alloc(m->d->h, bytes ? bytes : 4, &p, err) != 0) return NULL;
    m->allocs[m->nallocs++] = p;
    return p;
}

static void *dalloc(ab_train_model *m, size_t floats, char *err)
{
    return dalloc_bytes(m, floats * sizeof(float), err);
}

/* the GEMM operand of an f32 tensor of n elements: the tensor itself, or (bf16 training) a
 * buffer for its bf16 cast */
static void *operand(ab_train_model *m, void *f32, size_t n, char *err)
{
    return m->bf16 ? dalloc_bytes(m, n * sizeof(uint16_t), err) : f32;
}

/* the op of product `which` on T tokens (row-major, gemm.h's layouts) */
static ab_gemm_op op_of(const ab_train_model *m, int which, long T)
{
    long D = m->D, Q = m->QKV, HD = m->HD, F = m->F, V = m->V;
    struct {
        bool ta, tb;
        long M, N, K;
        double beta;
    } t[AB_TG_COUNT] = {
        {false, true, T, Q, D, 0},     {false, true, T, D, HD, 1},
        {false, true, T, 2 * F, D, 0}, {false, true, T, D, F, 1},
        {true, false, D, F, T, 0},     {false, false, T, F, D, 0},
        {true, false, 2 * F, D, T, 0}, {false, false, T, D, 2 * F, 0},
        {true, false, D, HD, T, 0},    {false, false, T, HD, D, 0},
        {true, false, Q, D, T, 0},     {false, false, T, D, Q, 0},
        {false, true, T, V, D, 0},     {true, false, V, D, T, 0},
        {false, false, T, D, V, 0},
    };
    ab_gemm_type in = m->bf16 ? AB_GT_BF16 : AB_GT_F32;
    ab_gemm_op op = {.a = in, .b = in, .c = AB_GT_F32, .batch = 1, .alpha = 1.0};
    op.ta = t[which].ta, op.tb = t[which].tb;
    op.m = t[which].M, op.n = t[which].N, op.k = t[which].K, op.beta = t[which].beta;
    op.lda = op.ta ? op.m : op.k;
    op.ldb = op.tb ? op.k : op.n;
    op.ldc = op.n;
    return op;
}

/* plans for products [lo, hi) of a shape */
static int shape_init(ab_train_model *m, tr_shape *sh, int batch, int seq, int lo, int hi,
                      char *err)
{
    sh->batch = batch, sh->seq = seq, sh->T = (long)batch * seq;
    for (int i = 0; i < AB_TG_COUNT; i++)
        sh->op[i] = op_of(m, i, sh->T);
    for (int i = lo; i < hi; i++) {
        char why[AB_ERRLEN];
        if (m->gi->supports(m->d->h, &sh->op[i], why) != 0)
            return ab_err(err, "%s GEMM %s (%ldx%ldx%ld): %s", m->gi->name, gemm_names[i],
                          (long)sh->op[i].m, (long)sh->op[i].n, (long)sh->op[i].k, why),
                   AB_TRAIN_SKIP;
        if (m->gi->prepare(m->d->h, &sh->op[i], &sh->plan[i], err) != 0) return -1;
    }
    return 0;
}

static int param_init(ab_train_model *m, tr_param *p, size_t rows, size_t cols, uint64_t seed,
                      bool norm, char *err)
{
    p->rows = rows, p->cols = cols, p->n = rows * cols, p->seed = seed;
    /* matrices: a power of two near 1/sqrt(in features) (exact in f32); norms: 1 +- 1/8 */
    p->amp = norm ? 0.125f : ldexpf(1.0f, -(int)ceil(log2(sqrt((double)cols))));
    p->offset = norm ? 1.0f : 0.0f;
    p->w = dalloc(m, p->n, err), p->g = p->w ? dalloc(m, p->n, err) : NULL;
    p->m = p->g ? dalloc(m, p->n, err) : NULL, p->v = p->m ? dalloc(m, p->n, err) : NULL;
    p->wg = !p->v ? NULL : norm ? p->w : operand(m, p->w, p->n, err);
    return p->wg ? 0 : -1;
}

static int layer_alloc(ab_train_model *m, tr_layer *L, int l, long T, char *err)
{
    size_t D = (size_t)m->D, Q = (size_t)m->QKV, HD = (size_t)m->HD, F = (size_t)m->F;
    uint64_t s = 1000u + 16u * (uint64_t)l;
    if (param_init(m, &L->p[TP_QKV], Q, D, s, false, err) ||
        param_init(m, &L->p[TP_O], D, HD, s + 1, false, err) ||
        param_init(m, &L->p[TP_GU], 2 * F, D, s + 2, false, err) ||
        param_init(m, &L->p[TP_DOWN], D, F, s + 3, false, err) ||
        param_init(m, &L->p[TP_N1], 1, D, s + 4, true, err) ||
        param_init(m, &L->p[TP_N2], 1, D, s + 5, true, err))
        return -1;
    size_t t = (size_t)T;
    void **b[] = {&L->n1, &L->r1, &L->qkv, &L->o, &L->lse, &L->h, &L->n2, &L->r2, &L->gu, &L->act};
    size_t n[] = {t * D, t,     t * Q, t * HD,    t * (size_t)m->m.heads,
                  t * D, t * D, t,     t * 2 * F, t * F};
    for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
        if (!(*b[i] = dalloc(m, n[i], err))) return -1;
    if (!(L->n1g = operand(m, L->n1, t * D, err)) || !(L->og = operand(m, L->o, t * HD, err)) ||
        !(L->n2g = operand(m, L->n2, t * D, err)) || !(L->actg = operand(m, L->act, t * F, err)))
        return -1;
    return 0;
}

/* the widest upstream gradient a GEMM takes: dL/dx' and dh (D), dgu (2F), dqkv, dlogits (V) */
static size_t grad_width(const ab_llm *m)
{
    size_t q = (size_t)(m->heads + 2 * m->kv_heads) * (size_t)m->head_dim, w = (size_t)m->d_model;
    w = 2 * (size_t)m->ffn > w ? 2 * (size_t)m->ffn : w;
    w = q > w ? q : w;
    return (size_t)m->vocab > w ? (size_t)m->vocab : w;
}

static int scratch_alloc(ab_train_model *m, long T, char *err)
{
    size_t t = (size_t)T, D = (size_t)m->D, F = (size_t)m->F;
    ab_train_attn at = {.batch = m->run.batch,
                        .seq = m->run.seq,
                        .heads = m->m.heads,
                        .kv_heads = m->m.kv_heads,
                        .head_dim = m->m.head_dim};
    size_t work = m->k->attn_bwd_work(m->d->h, &at) / sizeof(float);
    tr_scratch *s = &m->s;
    void **b[] = {&s->da, &s->dgu,  &s->dn, &s->dh, &s->dout,   &s->dqkv,    &s->g0,  &s->g1,
                  &s->gL, &s->work, &s->nf, &s->rf, &s->logits, &s->targets, &s->loss};
    size_t n[] = {t * F,
                  t * 2 * F,
                  t * D,
                  t * D,
                  t * (size_t)m->HD,
                  t * (size_t)m->QKV,
                  t * D,
                  t * D,
                  t * D,
                  work,
                  t * D,
                  t,
                  t * (size_t)m->V,
                  t,
                  t};
    for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
        if (!(*b[i] = dalloc(m, n[i], err))) return -1;
    if (!(s->nfg = operand(m, s->nf, t * D, err))) return -1;
    if (m->bf16 && !(s->g16 = dalloc_bytes(m, t * grad_width(&m->m) * sizeof(uint16_t), err)))
        return -1;
    return 0;
}

void ab_train_mem_of(const ab_llm *m, int batch, int seq, bool bf16, ab_train_mem *mem)
{
    double T = (double)batch * seq, D = m->d_model, F = m->ffn, H = m->heads;
    double Q = (double)(m->heads + 2 * m->kv_heads) * m->head_dim, HD = H * m->head_dim;
    double lin = (double)ab_llm_linear_params_layer(m), n = lin + 2 * D, b = bf16 ? 2 : 0;
    mem->weights = 4 * n, mem->grads = 4 * n, mem->optimizer = 8 * n;
    mem->weight_copies = b * lin; /* bf16: the matrices' copies (the norms have none) */
    /* x, n1, r1, qkv, o, lse, h, n2, r2, gate_up, act; bf16: n1, o, n2, act cast */
    mem->activations =
        4 * T * (D + D + 1 + Q + HD + H + D + D + 1 + 2 * F + F) + b * T * (D + HD + D + F);
    mem->head = 16.0 * ((double)m->vocab * D + D) + b * (double)m->vocab * D;
    double work = 2 * T * H * m->head_dim;
    /* bf16: nf cast, and the upstream gradients' cast */
    mem->scratch = 4 * (T * (F + 2 * F + 2 * D + HD + Q + 3 * D + D + 1 + 2) + work +
                        T * (double)m->vocab + T * D) +
                   b * T * (D + (double)grad_width(m));
}

static int check_ops(const ab_device *dev, int impl, bool bf16, const ab_gemm_impl **gi, char *err)
{
    const ab_gemm_backend *gb = ab_device_impls(dev)->gemm;
    *gi = gb ? gb->impl[impl] : NULL;
    if (!*gi)
        return ab_err(err, "%s has no %s GEMM (%s)", dev->id, impl ? "portable" : "vendor",
                      gb && gb->absent[impl] ? gb->absent[impl] : "no GEMM table"),
               AB_TRAIN_SKIP;
    ab_gemm_type in = bf16 ? AB_GT_BF16 : AB_GT_F32;
    ab_gemm_op probe = {.a = in,
                        .b = in,
                        .c = AB_GT_F32,
                        .m = 64,
                        .n = 64,
                        .k = 64,
                        .lda = 64,
                        .ldb = 64,
                        .ldc = 64,
                        .batch = 1,
                        .alpha = 1};
    char why[AB_ERRLEN];
    if ((*gi)->dtype_ok(dev->h, &probe, why) != 0)
        return ab_err(err, "%s GEMM on %s%s: %s", (*gi)->name, dev->id,
                      bf16 ? " (bf16 training multiplies bf16 x bf16 into f32)" : "", why),
               AB_TRAIN_SKIP;
    return 0;
}

static int model_build(ab_train_model *m, int batch, int seq, int vseq, int hseq, char *err)
{
    long T = (long)batch * seq;
    int rc = shape_init(m, &m->run, batch, seq, 0, AB_TG_COUNT, err);
    if (rc == 0) rc = shape_init(m, &m->val, 1, vseq, 0, AB_TG_LOGITS, err);
    if (rc == 0) rc = shape_init(m, &m->hval, 1, hseq, AB_TG_LOGITS, AB_TG_COUNT, err);
    if (rc != 0) return rc;
    if (!(m->layer = calloc((size_t)m->layers, sizeof(*m->layer))) ||
        !(m->x = calloc((size_t)m->layers + 1, sizeof(*m->x))))
        return ab_err(err, "out of memory");
    for (int l = 0; l < m->layers; l++)
        if (layer_alloc(m, &m->layer[l], l, T, err) != 0) return -1;
    for (int l = 0; l <= m->layers; l++)
        if (!(m->x[l] = dalloc(m, (size_t)T * m->D, err))) return -1;
    if (param_init(m, &m->head[TH_W], (size_t)m->V, (size_t)m->D, 900, false, err) ||
        param_init(m, &m->head[TH_NF], 1, (size_t)m->D, 901, true, err))
        return -1;
    return scratch_alloc(m, T, err);
}

int ab_train_model_new(const ab_device *dev, const ab_llm *lm, int impl, bool bf16, int k,
                       int batch, int seq, int vseq, int hseq, ab_train_model **out, char *err)
{
    *out = NULL;
    const ab_train_ops *ko = ab_device_impls(dev)->train;
    if (!ko)
        return ab_err(err,
                      "%s has no training kernels (RMSNorm, RoPE and SwiGLU backward, flash "
                      "attention forward with log-sum-exp and backward, cross-entropy, AdamW): "
                      "the train suite runs on the CPU backend so far",
                      dev->id),
               AB_TRAIN_SKIP;
    if (bf16 && !ko->cast_bf16)
        return ab_err(err,
                      "%s's training kernels have no bf16 cast (cast_bf16): bf16 training is not "
                      "implemented on this backend",
                      dev->id),
               AB_TRAIN_SKIP;
    const ab_gemm_impl *gi;
    int rc = check_ops(dev, impl, bf16, &gi, err);
    if (rc != 0) return rc;
    ab_train_model *m = calloc(1, sizeof(*m));
    if (!m) return ab_err(err, "out of memory");
    *m = (ab_train_model){.d = dev,
                          .ops = dev->backend->ops,
                          .k = ko,
                          .gi = gi,
                          .impl = impl,
                          .bf16 = bf16,
                          .m = *lm,
                          .layers = k};
    m->gb = ab_device_impls(dev)->gemm;
    m->D = lm->d_model, m->HD = lm->heads * lm->head_dim, m->F = lm->ffn, m->V = lm->vocab;
    m->QKV = (lm->heads + 2 * lm->kv_heads) * lm->head_dim;
    m->hp = (ab_train_adamw){.lr = 1e-3f, .b1 = 0.9f, .b2 = 0.95f, .eps = 1e-8f, .wd = 0.1f};
    m->run.batch = batch, m->run.seq = seq;
    rc = model_build(m, batch, seq, vseq, hseq, err);
    if (rc != 0) {
        ab_train_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void ab_train_model_free(ab_train_model *m)
{
    if (!m) return;
    tr_shape *sh[] = {&m->run, &m->val, &m->hval};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < AB_TG_COUNT; i++)
            if (sh[s]->plan[i]) m->gi->release(sh[s]->plan[i]);
    for (size_t i = 0; i < m->nallocs; i++)
        m->ops->mem_free(m->d->h, m->allocs[i]);
    free(m->allocs), free(m->layer), free(m->x), free(m);
}

int ab_train_cast_param(ab_train_model *m, const tr_param *p, char *err)
{
    return p->wg == p->w ? 0 : m->k->cast_bf16(m->d->h, p->n, p->w, p->wg, err);
}

int ab_train_fill_param(ab_train_model *m, tr_param *p, char *err)
{
    if (m->k->fill(m->d->h, p->w, p->n, p->seed, p->amp, p->offset, err) ||
        m->k->zero(m->d->h, p->m, p->n, err) || m->k->zero(m->d->h, p->v, p->n, err))
        return -1;
    return ab_train_cast_param(m, p, err);
}

int ab_train_fill_seeded(ab_train_model *m, void *buf, size_t n, uint64_t seed, float amp,
                         char *err)
{
    return m->k->fill(m->d->h, buf, n, seed, amp, 0.0f, err);
}

int ab_train_set_targets(ab_train_model *m, long rows, uint64_t seed, char *err)
{
    int32_t *t = malloc((size_t)rows * sizeof(*t));
    if (!t) return ab_err(err, "out of memory");
    for (long r = 0; r < rows; r++)
        t[r] = ab_train_target(seed, r, m->V);
    int rc = m->ops->copy(m->d->h, AB_COPY_H2D, m->s.targets, t, 0, (size_t)rows * sizeof(*t), err);
    if (rc == 0) rc = m->ops->sync(m->d->h, err);
    free(t);
    return rc;
}

int ab_train_init(ab_train_model *m, char *err)
{
    for (int l = 0; l < m->layers; l++)
        for (int i = 0; i < TP_COUNT; i++)
            if (ab_train_fill_param(m, &m->layer[l].p[i], err) != 0) return -1;
    for (int i = 0; i < TH_COUNT; i++)
        if (ab_train_fill_param(m, &m->head[i], err) != 0) return -1;
    size_t n = (size_t)m->run.T * (size_t)m->D;
    m->t_layers = m->t_head = 0;
    if (ab_train_fill_seeded(m, m->x[0], n, AB_TRAIN_SEED_X, AB_TRAIN_AMP_X, err) ||
        ab_train_fill_seeded(m, m->s.gL, n, AB_TRAIN_SEED_G, AB_TRAIN_AMP_G, err))
        return -1;
    return ab_train_set_targets(m, m->run.T, AB_TRAIN_SEED_TARGETS, err);
}

int ab_train_read_loss(ab_train_model *m, long rows, double *loss, char *err)
{
    float *l = malloc((size_t)rows * sizeof(float));
    if (!l) return ab_err(err, "out of memory");
    int rc = m->ops->copy(m->d->h, AB_COPY_D2H, l, m->s.loss, 0, (size_t)rows * sizeof(float), err);
    if (rc == 0) rc = m->ops->sync(m->d->h, err);
    double s = 0;
    for (long r = 0; r < rows; r++)
        s += l[r];
    free(l);
    *loss = s / (double)rows;
    return rc;
}

void ab_train_corrupt(ab_train_model *m)
{
    m->corrupt = true;
}

json_t *ab_train_describe(const ab_train_model *m)
{
    json_t *j = json_object();
    char buf[512] = "";
    m->gi->describe(m->run.plan[AB_TG_GU], buf, sizeof(buf));
    json_object_set_new(j, "gemm", json_sprintf("%s: %s", m->gi->name, buf));
    json_object_set_new(j, "kernels", json_string(m->k->describe(m->d->h)));
    json_object_set_new(
        j, "types",
        json_string(m->bf16 ? "bf16 training: f32 master weights, gradients, AdamW moments and "
                              "activations; every GEMM multiplies bf16 x bf16 into f32 "
                              "(f32 accumulation)"
                            : "f32 master weights, gradients, AdamW moments and activations"));
    if (m->bf16)
        json_object_set_new(
            j, "bf16",
            json_string("in bf16 (round to nearest even, cast_bf16): copies of the projection "
                        "matrices (qkv, o, gate_up, down, LM head; cast after each AdamW), the "
                        "GEMMs' activation inputs (n1, o, n2, act, final norm) and upstream "
                        "gradients (dL/dx', dh, dgu, dqkv, dlogits); in f32: RMSNorm, RoPE, "
                        "attention, SwiGLU, cross-entropy, residual adds, AdamW, the norms' "
                        "weights"));
    json_object_set_new(j, "adamw",
                        json_sprintf("lr %g, betas %g/%g, eps %g, weight decay %g (decoupled)",
                                     (double)m->hp.lr, (double)m->hp.b1, (double)m->hp.b2,
                                     (double)m->hp.eps, (double)m->hp.wd));
    return j;
}

/* SPDX-License-Identifier: MIT */
/* The decoder on one device (step.h). */
#include "step_impl.h"

#include "../../core/ab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double ab_tok_layer_weight_bytes(const ab_llm *m, ab_tok_type wt)
{
    double e = 0;
    for (int w = 0; w < W_PER_LAYER; w++) {
        long n, k;
        wshape(m, w, &n, &k);
        e += (double)n * (double)k;
    }
    return e * (double)ab_tok_type_size(wt);
}

double ab_tok_head_weight_bytes(const ab_llm *m, ab_tok_type wt)
{
    return ((double)m->vocab + 1.0) * m->d_model * (double)ab_tok_type_size(wt);
}

double ab_tok_layer_cache_bytes(const ab_llm *m, ab_tok_type kt, int batch, long cache_len)
{
    return 2.0 * batch * m->kv_heads * (double)cache_len * m->head_dim *
           (double)ab_tok_type_size(kt);
}

double ab_tok_phase_act_bytes(const ab_llm *m, int batch, int seq)
{
    double T = (double)batch * seq, e = 4.0;                         /* outputs may be f32 */
    double per = 4.0 * m->d_model                                    /* h */
                 + e * (m->d_model > qdim(m) ? m->d_model : qdim(m)) /* x */
                 + e * qkvdim(m) + 3.0 * e * qdim(m)                 /* qkv, q, o, xo */
                 + e * m->d_model + e * 2.0 * m->ffn + e * m->ffn;   /* y, gu, a */
    return T * per + (double)(seq > 1 ? 1 : T) * m->vocab * e;
}

int ab_tok_model_layers_run(const ab_tok_model *mdl)
{
    return mdl->k;
}
ab_tok_type ab_tok_model_kv_type(const ab_tok_model *mdl)
{
    return mdl->kt;
}
ab_tok_type ab_tok_model_out_type(const ab_tok_model *mdl)
{
    return mdl->ot;
}

static int alloc(ab_tok_model *mdl, size_t bytes, void **p, char *err)
{
    char e[AB_ERRLEN];
    if (mdl->ops->mem_alloc(mdl->h, bytes ? bytes : 64, p, e) != 0) {
        *p = NULL;
        snprintf(err, AB_ERRLEN, "cannot allocate %.1f MiB on %s: %s", bytes / 1048576.0,
                 mdl->dev->id, e);
        return AB_TOK_SKIP;
    }
    return 0;
}

static void dfree(ab_tok_model *mdl, void *p)
{
    if (p) mdl->ops->mem_free(mdl->h, p);
}

static int model_weights(ab_tok_model *mdl, char *err, ab_tok_model **out);

static ab_gemm_op linear_op(const ab_tok_model *mdl, long tokens, long n, long k)
{
    ab_gemm_op op = {.a = gtype(mdl->wt),
                     .b = gtype(mdl->wt),
                     .c = gtype(mdl->ot),
                     .ta = false,
                     .tb = true,
                     .m = tokens,
                     .n = n,
                     .k = k,
                     .lda = k,
                     .ldb = k,
                     .ldc = n,
                     .batch = 1,
                     /* 1/sqrt(K) keeps activations near unit scale, layer after layer */
                     .alpha = 1.0 / sqrt((double)k),
                     .beta = 0.0};
    return op;
}

int ab_tok_model_new(const ab_device *dev, const ab_llm *m, ab_tok_type wt, int impl,
                     int layers_run, ab_tok_model **out, char *err)
{
    *out = NULL;
    const ab_backend_ops *ops = dev->backend->ops;
    const ab_suite_impls *impls = ab_device_impls(dev);
    const ab_gemm_backend *gb = impls->gemm;
    const ab_attn_impl *ai = impls->attention;
    const ab_tok_ops *to = impls->tokens;
    if (!gb || !ai || !to) {
        snprintf(err, AB_ERRLEN, "the %s backend has no %s kernels", dev->backend->name,
                 !gb   ? "GEMM"
                 : !ai ? "attention"
                       : "decoder (RMSNorm/RoPE/SwiGLU)");
        return AB_TOK_SKIP;
    }
    const ab_gemm_impl *gi = gb->impl[impl];
    if (!gi) {
        snprintf(err, AB_ERRLEN, "no %s GEMM on %s: %s",
                 impl == AB_GEMM_VENDOR ? "vendor" : "portable", dev->id,
                 gb->absent[impl] ? gb->absent[impl] : "not built");
        return AB_TOK_SKIP;
    }
    if (layers_run < 1 || layers_run > m->layers) {
        snprintf(err, AB_ERRLEN, "layers to run %d outside 1..%d", layers_run, m->layers);
        return -1;
    }
    if (m->head_dim > 512) {
        snprintf(err, AB_ERRLEN, "head_dim %d above the decoder kernels' 512", m->head_dim);
        return AB_TOK_SKIP;
    }
    ab_tok_model *mdl = calloc(1, sizeof(*mdl));
    if (!mdl) return ab_err(err, "out of memory");
    mdl->dev = dev, mdl->ops = ops, mdl->h = dev->h, mdl->m = *m, mdl->k = layers_run;
    mdl->gb = gb, mdl->ai = ai, mdl->to = to, mdl->wt = wt;
    char why[AB_ERRLEN];
    if (to->step) { /* one program per step: the backend says what it computes in */
        int ot, kt;
        if (to->step->types(dev->h, (int)wt, &ot, &kt, why) != 0) {
            free(mdl);
            snprintf(err, AB_ERRLEN, "%s decoder step: %s", tname(wt), why);
            return AB_TOK_SKIP;
        }
        mdl->ot = (ab_tok_type)ot, mdl->kt = (ab_tok_type)kt;
        return model_weights(mdl, err, out);
    }
    /* GEMM output type: wt when the implementation writes it (cuBLASLt), else f32 */
    mdl->ot = wt;
    ab_gemm_op probe = linear_op(mdl, 16, m->d_model, m->d_model);
    if (gi->dtype_ok(dev->h, &probe, why) != 0) {
        mdl->ot = AB_TT_F32;
        probe = linear_op(mdl, 16, m->d_model, m->d_model);
        if (gi->dtype_ok(dev->h, &probe, why) != 0) {
            free(mdl);
            snprintf(err, AB_ERRLEN, "%s GEMM: %s", tname(wt), why);
            return AB_TOK_SKIP;
        }
    }
    /* KV type: wt when the attention kernels compute in it, else f32 */
    ab_attn_shape as = {.batch = 1,
                        .heads = m->heads,
                        .kv_heads = m->kv_heads,
                        .head_dim = m->head_dim,
                        .q_len = 1,
                        .kv_len = 64,
                        .causal = false,
                        .scale = 1.0f};
    mdl->kt = wt;
    if (ai->supports(dev->h, AB_ATTN_FUSED, atype(wt), &as, why) != 0) {
        mdl->kt = AB_TT_F32;
        if (ai->supports(dev->h, AB_ATTN_FUSED, AB_ATTN_F32, &as, why) != 0) {
            free(mdl);
            snprintf(err, AB_ERRLEN, "attention: %s", why);
            return AB_TOK_SKIP;
        }
    }
    return model_weights(mdl, err, out);
}

/* the weights of the model's k layers and head, filled */
static int model_weights(ab_tok_model *mdl, char *err, ab_tok_model **out)
{
    const ab_llm *m = &mdl->m;
    const ab_gemm_backend *gb = mdl->gb;
    const ab_device *dev = mdl->dev;
    const ab_tok_type wt = mdl->wt;
    const int layers_run = mdl->k;
    char why[AB_ERRLEN];
    int rc = 0;
    if (!(mdl->L = calloc((size_t)layers_run, sizeof(*mdl->L)))) {
        free(mdl);
        return ab_err(err, "out of memory");
    }
    size_t es = ab_tok_type_size(wt);
    for (int i = 0; i < layers_run && rc == 0; i++)
        for (int w = 0; w < W_PER_LAYER && rc == 0; w++) {
            long n, k;
            wshape(m, w, &n, &k);
            size_t cnt = (size_t)n * (size_t)k;
            rc = alloc(mdl, cnt * es, &mdl->L[i].w[w], err);
            if (rc == 0 && gb->fill(dev->h, mdl->L[i].w[w], gtype(wt), cnt, wseed(i, w), why) != 0)
                rc = ab_err(err, "filling weights: %s", why);
        }
    size_t hc = (size_t)m->vocab * (size_t)m->d_model;
    if (rc == 0) rc = alloc(mdl, (size_t)m->d_model * es, &mdl->nf, err);
    if (rc == 0) rc = alloc(mdl, hc * es, &mdl->head, err);
    if (rc == 0 && (gb->fill(dev->h, mdl->nf, gtype(wt), (size_t)m->d_model, SEED_NF, why) != 0 ||
                    gb->fill(dev->h, mdl->head, gtype(wt), hc, SEED_HEAD, why) != 0))
        rc = ab_err(err, "filling weights: %s", why);
    if (rc != 0) {
        ab_tok_model_free(mdl);
        return rc;
    }
    *out = mdl;
    return 0;
}

void ab_tok_model_free(ab_tok_model *mdl)
{
    if (!mdl) return;
    if (mdl->phase) ab_tok_phase_free(mdl->phase);
    for (int i = 0; mdl->L && i < mdl->k; i++)
        for (int w = 0; w < W_PER_LAYER; w++)
            dfree(mdl, mdl->L[i].w[w]);
    dfree(mdl, mdl->nf);
    dfree(mdl, mdl->head);
    free(mdl->L);
    free(mdl);
}


int ab_tok_model_corrupt(ab_tok_model *mdl, char *err)
{
    long n, k;
    char why[AB_ERRLEN];
    wshape(&mdl->m, W_O, &n, &k);
    if (mdl->gb->fill(mdl->h, mdl->L[0].w[W_O], gtype(mdl->wt), (size_t)n * (size_t)k,
                      wseed(0, W_O) ^ 0x5a5a, why) != 0)
        return ab_err(err, "corrupting: %s", why);
    return 0;
}

/* ---- phases -------------------------------------------------------------------------------- */

void ab_tok_phase_free(ab_tok_phase *ph)
{
    if (!ph) return;
    ab_tok_model *mdl = ph->mdl;
    for (int g = 0; g < G_COUNT; g++)
        if (ph->plan[g]) ph->gi->release(ph->plan[g]);
    if (ph->whole) mdl->to->step->release(ph->whole);
    for (int i = 0; i < mdl->k; i++) {
        if (ph->attn && ph->prepared && ph->prepared[i] && mdl->ai->release)
            mdl->ai->release(mdl->h, AB_ATTN_FUSED, &ph->attn[i]);
        dfree(mdl, mdl->L[i].kc);
        dfree(mdl, mdl->L[i].vc);
        mdl->L[i].kc = mdl->L[i].vc = NULL;
    }
    void *bufs[] = {ph->hbuf, ph->x,  ph->qkv, ph->q,      ph->o,   ph->xo,
                    ph->y,    ph->gu, ph->a,   ph->logits, ph->work};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        dfree(mdl, bufs[i]);
    free(ph->attn);
    free(ph->prepared);
    if (mdl->phase == ph) mdl->phase = NULL;
    free(ph);
}

#define A(ptr, bytes)                                                                              \
    do {                                                                                           \
        if (rc == 0) rc = alloc(mdl, (bytes), &(ptr), err);                                        \
    } while (0)

/* the activations of a phase */
static int phase_buffers(ab_tok_phase *ph, char *err)
{
    ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const size_t T = (size_t)ph->T, we = ab_tok_type_size(mdl->wt), oe = ab_tok_type_size(mdl->ot),
                 ke = ab_tok_type_size(mdl->kt);
    const size_t D = (size_t)m->d_model, Q = (size_t)qdim(m), F = (size_t)m->ffn;
    int rc = 0;
    A(ph->hbuf, T * D * 4);
    A(ph->x, T * (D > Q ? D : Q) * we);
    A(ph->qkv, T * (size_t)qkvdim(m) * oe);
    A(ph->q, T * Q * ke);
    A(ph->o, T * Q * ke);
    if (ph->gather) A(ph->xo, T * Q * we);
    A(ph->y, T * D * oe);
    A(ph->gu, T * 2 * F * oe);
    A(ph->a, T * F * we);
    A(ph->logits, (size_t)ph->head_rows * (size_t)m->vocab * oe);
    return rc;
}

/* the attention of every layer at this shape: its workspace, the layer's KV caches filled with
 * the test pattern, the prepared arguments */
static int phase_attention(ab_tok_phase *ph, char *err)
{
    ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const size_t ke = ab_tok_type_size(mdl->kt);
    char why[AB_ERRLEN];
    int rc = 0;
    ab_attn_shape as = {.batch = ph->batch,
                        .heads = m->heads,
                        .kv_heads = m->kv_heads,
                        .head_dim = m->head_dim,
                        .q_len = ph->seq,
                        .kv_len = ph->cache_len,
                        .causal = ph->seq > 1,
                        .scale = (float)(1.0 / sqrt((double)m->head_dim))};
    const bool whole = mdl->to->step != NULL; /* attention inside the step's program */
    if (!whole && mdl->ai->supports(mdl->h, AB_ATTN_FUSED, atype(mdl->kt), &as, why) != 0) {
        snprintf(err, AB_ERRLEN, "attention at this shape: %s", why);
        return AB_TOK_SKIP;
    }
    size_t ws = mdl->ai->workspace(mdl->h, AB_ATTN_FUSED, atype(mdl->kt), &as);
    if (ws) A(ph->work, ws);
    size_t cc =
        (size_t)ph->batch * (size_t)m->kv_heads * (size_t)ph->cache_len * (size_t)m->head_dim;
    if (rc == 0 && (!(ph->attn = calloc((size_t)mdl->k, sizeof(*ph->attn))) ||
                    !(ph->prepared = calloc((size_t)mdl->k, sizeof(bool)))))
        rc = ab_err(err, "out of memory");
    for (int i = 0; i < mdl->k && rc == 0; i++) {
        A(mdl->L[i].kc, cc * ke);
        A(mdl->L[i].vc, cc * ke);
        if (rc == 0 &&
            (mdl->to->fill(mdl->h, mdl->L[i].kc, mdl->kt, cc, kseed(i), AMP_KV, why) != 0 ||
             mdl->to->fill(mdl->h, mdl->L[i].vc, mdl->kt, cc, vseed(i), AMP_KV, why) != 0))
            rc = ab_err(err, "filling the KV cache: %s", why);
        if (rc != 0) break;
        ph->attn[i] = (ab_attn_args){.s = as,
                                     .dtype = atype(mdl->kt),
                                     .q = ph->q,
                                     .k = mdl->L[i].kc,
                                     .v = mdl->L[i].vc,
                                     .o = ph->o,
                                     .work = ph->work};
        if (!whole && mdl->ai->prepare) {
            if (mdl->ai->prepare(mdl->h, AB_ATTN_FUSED, &ph->attn[i], why) != 0) {
                snprintf(err, AB_ERRLEN, "attention: %s", why);
                rc = AB_TOK_SKIP;
            } else {
                ph->prepared[i] = true;
            }
        }
    }
    return rc;
}
#undef A

/* the GEMM plans: one per projection shape, shared by the layers */
static int phase_plans(ab_tok_phase *ph, char *err)
{
    ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const ab_gemm_impl *gi = ph->gi;
    char why[AB_ERRLEN];
    long shapes[G_COUNT][3] = {{ph->T, qkvdim(m), m->d_model},
                               {ph->T, m->d_model, qdim(m)},
                               {ph->T, 2L * m->ffn, m->d_model},
                               {ph->T, m->d_model, m->ffn},
                               {ph->head_rows, m->vocab, m->d_model}};
    for (int g = 0; g < G_COUNT; g++) {
        ph->op[g] = linear_op(mdl, shapes[g][0], shapes[g][1], shapes[g][2]);
        if (gi->dtype_ok(mdl->h, &ph->op[g], why) != 0 ||
            gi->supports(mdl->h, &ph->op[g], why) != 0) {
            snprintf(err, AB_ERRLEN, "GEMM %ldx%ldx%ld: %s", shapes[g][0], shapes[g][1],
                     shapes[g][2], why);
            return AB_TOK_SKIP;
        } else if (gi->prepare(mdl->h, &ph->op[g], &ph->plan[g], why) != 0) {
            ph->plan[g] = NULL;
            snprintf(err, AB_ERRLEN, "GEMM plan %ldx%ldx%ld: %s", shapes[g][0], shapes[g][1],
                     shapes[g][2], why);
            return AB_TOK_SKIP;
        }
    }
    return 0;
}

/* the backend's programs of this phase (tokens.h ab_tok_step_ops) */
static int phase_whole(ab_tok_phase *ph, char *err)
{
    ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const int k = mdl->k;
    ab_tok_step_shape s = {.d_model = m->d_model,
                           .heads = m->heads,
                           .kv_heads = m->kv_heads,
                           .head_dim = m->head_dim,
                           .ffn = m->ffn,
                           .vocab = m->vocab,
                           .batch = ph->batch,
                           .seq = ph->seq,
                           .layers = k,
                           .pos0 = ph->pos0,
                           .cache_len = ph->cache_len,
                           .head_row0 = ph->head_row0,
                           .head_rows = ph->head_rows,
                           .eps = AB_TOK_EPS,
                           .wt = mdl->wt,
                           .ot = mdl->ot,
                           .kt = mdl->kt};
    void **w = malloc((size_t)(W_PER_LAYER * k) * sizeof(void *));
    void **kc = malloc((size_t)k * sizeof(void *)), **vc = malloc((size_t)k * sizeof(void *));
    int rc = w && kc && vc ? 0 : ab_err(err, "out of memory");
    for (int i = 0; rc == 0 && i < k; i++) {
        for (int j = 0; j < W_PER_LAYER; j++)
            w[W_PER_LAYER * i + j] = mdl->L[i].w[j];
        kc[i] = mdl->L[i].kc, vc[i] = mdl->L[i].vc;
    }
    ab_tok_step_bufs b = {.h = ph->hbuf,
                          .y = ph->y,
                          .nf = mdl->nf,
                          .head = mdl->head,
                          .logits = ph->logits,
                          .w = w,
                          .kc = kc,
                          .vc = vc};
    if (rc == 0) {
        rc = mdl->to->step->prepare(mdl->h, &s, &b, &ph->whole, err);
        if (rc != 0) ph->whole = NULL;
    }
    free(w), free(kc), free(vc);
    return rc;
}

/* validation runs layer 0 and the head without the residual add: through the step's programs,
 * which always add, with y zeroed (h + 0 is h exactly) */
static int whole_once(ab_tok_phase *ph, bool layer, bool add, char *err)
{
    ab_tok_model *mdl = ph->mdl;
    const ab_tok_step_ops *st = mdl->to->step;
    char why[AB_ERRLEN];
    if (!add && mdl->to->fill(mdl->h, ph->y, mdl->ot, (size_t)ph->T * (size_t)mdl->m.d_model,
                              SEED_H + 1, 0.0f, why) != 0)
        return ab_err(err, "zeroing the block output: %s", why);
    return layer ? st->layers(ph->whole, false, 1, err) : st->head(ph->whole, 1, err);
}

int ab_tok_phase_new(ab_tok_model *mdl, int impl, int batch, int seq, long pos0, long cache_len,
                     ab_tok_phase **out, char *err)
{
    *out = NULL;
    const ab_llm *m = &mdl->m;
    const ab_gemm_impl *gi = impl >= 0 && impl < AB_GEMM_NIMPL ? mdl->gb->impl[impl] : NULL;
    if (!gi) {
        snprintf(err, AB_ERRLEN, "no %s GEMM on %s", impl == AB_GEMM_VENDOR ? "vendor" : "portable",
                 mdl->dev->id);
        return AB_TOK_SKIP;
    }
    if (batch < 1 || seq < 1 || pos0 < 0 || pos0 + seq > cache_len)
        return ab_err(err, "impossible phase: batch %d, %d tokens at position %ld, cache %ld",
                      batch, seq, pos0, cache_len);
    if (seq > 1 && batch != 1)
        return ab_err(err, "prefill runs one sequence at a time (batch %d asked)", batch);
    if (mdl->phase) ab_tok_phase_free(mdl->phase);
    ab_tok_phase *ph = calloc(1, sizeof(*ph));
    if (!ph) return ab_err(err, "out of memory");
    mdl->phase = ph;
    ph->gi = gi;
    ph->mdl = mdl, ph->batch = batch, ph->seq = seq, ph->pos0 = pos0, ph->cache_len = cache_len;
    ph->T = (long)batch * seq;
    ph->head_row0 = seq > 1 ? ph->T - 1 : 0;
    ph->head_rows = seq > 1 ? 1 : ph->T;
    ph->gather = seq > 1 || mdl->kt != mdl->wt;
    char why[AB_ERRLEN];
    const size_t T = (size_t)ph->T, D = (size_t)m->d_model;
    int rc = phase_buffers(ph, err);
    if (rc == 0) rc = phase_attention(ph, err);
    if (rc == 0 && (mdl->to->fill(mdl->h, ph->hbuf, AB_TT_F32, T * D, SEED_H, AMP_H, why) != 0 ||
                    mdl->to->fill(mdl->h, ph->y, mdl->ot, T * D, SEED_H + 1, 0.0f, why) != 0))
        rc = ab_err(err, "filling activations: %s", why);
    if (rc == 0) rc = mdl->to->step ? phase_whole(ph, err) : phase_plans(ph, err);
    if (rc == 0 && mdl->ops->sync(mdl->h, why) != 0) rc = ab_err(err, "%s", why);
    if (rc != 0) {
        ab_tok_phase_free(ph);
        return rc;
    }
    *out = ph;
    return 0;
}

/* one layer; `add` adds the previous block's output y to the residual stream first */
int ab_tok_step_run_layer(ab_tok_phase *ph, int i, bool add, char *err)
{
    if (ph->whole) return whole_once(ph, true, add, err); /* layer 0: validation */
    ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const ab_tok_ops *to = mdl->to;
    const ab_gemm_impl *gi = ph->gi;
    void *h = mdl->h;
    layer_w *L = &mdl->L[i];
    ab_tok_rope rp = {.batch = ph->batch,
                      .seq = ph->seq,
                      .heads = m->heads,
                      .kv_heads = m->kv_heads,
                      .head_dim = m->head_dim,
                      .pos0 = ph->pos0,
                      .cache_len = ph->cache_len,
                      .qkv_type = mdl->ot,
                      .out_type = mdl->kt};
    if (to->add_rmsnorm(h, 0, ph->T, m->d_model, ph->hbuf, add ? ph->y : NULL, mdl->ot, L->w[W_N1],
                        mdl->wt, AB_TOK_EPS, ph->x, mdl->wt, err) ||
        gi->run(ph->plan[G_QKV], ph->x, L->w[W_QKV], ph->qkv, err) ||
        to->rope_scatter(h, &rp, ph->qkv, ph->q, L->kc, L->vc, err) ||
        mdl->ai->run(h, AB_ATTN_FUSED, &ph->attn[i], 1, err))
        return -1;
    void *xo = ph->o;
    if (ph->gather) {
        if (to->gather_heads(h, ph->batch, ph->seq, m->heads, m->head_dim, ph->o, mdl->kt, ph->xo,
                             mdl->wt, err))
            return -1;
        xo = ph->xo;
    }
    if (gi->run(ph->plan[G_O], xo, L->w[W_O], ph->y, err) ||
        to->add_rmsnorm(h, 0, ph->T, m->d_model, ph->hbuf, ph->y, mdl->ot, L->w[W_N2], mdl->wt,
                        AB_TOK_EPS, ph->x, mdl->wt, err) ||
        gi->run(ph->plan[G_GU], ph->x, L->w[W_GU], ph->gu, err) ||
        to->swiglu(h, ph->T, m->ffn, ph->gu, mdl->ot, ph->a, mdl->wt, err) ||
        gi->run(ph->plan[G_DOWN], ph->a, L->w[W_DOWN], ph->y, err))
        return -1;
    return 0;
}

int ab_tok_phase_layers(ab_tok_phase *ph, char *err)
{
    if (ph->whole) return ph->mdl->to->step->layers(ph->whole, true, 1, err);
    for (int i = 0; i < ph->mdl->k; i++)
        if (ab_tok_step_run_layer(ph, i, true, err) != 0) return -1;
    return 0;
}

int ab_tok_step_run_head(ab_tok_phase *ph, bool add, char *err)
{
    if (ph->whole) return whole_once(ph, false, add, err);
    ab_tok_model *mdl = ph->mdl;
    if (mdl->to->add_rmsnorm(mdl->h, ph->head_row0, ph->head_rows, mdl->m.d_model, ph->hbuf,
                             add ? ph->y : NULL, mdl->ot, mdl->nf, mdl->wt, AB_TOK_EPS, ph->x,
                             mdl->wt, err) ||
        ph->gi->run(ph->plan[G_HEAD], ph->x, mdl->head, ph->logits, err))
        return -1;
    return 0;
}

int ab_tok_phase_head(ab_tok_phase *ph, char *err)
{
    return ab_tok_step_run_head(ph, true, err);
}

int ab_tok_phase_layers_n(ab_tok_phase *ph, long iters, char *err)
{
    if (ph->whole) return ph->mdl->to->step->layers(ph->whole, true, iters, err);
    for (long i = 0; i < iters; i++)
        if (ab_tok_phase_layers(ph, err) != 0) return -1;
    return 0;
}

int ab_tok_phase_head_n(ab_tok_phase *ph, long iters, char *err)
{
    if (ph->whole) return ph->mdl->to->step->head(ph->whole, iters, err);
    for (long i = 0; i < iters; i++)
        if (ab_tok_phase_head(ph, err) != 0) return -1;
    return 0;
}

json_t *ab_tok_phase_describe(const ab_tok_phase *ph)
{
    const ab_tok_model *mdl = ph->mdl;
    char buf[256] = "";
    json_t *o = json_object();
    if (ph->whole) {
        const char *what = mdl->to->step->describe(ph->whole);
        json_object_set_new(o, "gemm", json_string("inside the step's program (kernels)"));
        json_object_set_new(o, "attention", json_string("inside the step's program (kernels)"));
        json_object_set_new(o, "kernels", json_string(what));
        json_object_set_new(o, "weights", json_string(tname(mdl->wt)));
        json_object_set_new(o, "gemm_output", json_string(tname(mdl->ot)));
        json_object_set_new(o, "kv_cache", json_string(tname(mdl->kt)));
        json_object_set_new(o, "residual", json_string("f32"));
        return o;
    }
    ph->gi->describe(ph->plan[G_GU], buf, sizeof(buf)); /* the largest projection */
    json_object_set_new(o, "gemm", json_sprintf("%s: %s", ph->gi->name, buf));
    json_object_set_new(o, "attention",
                        json_sprintf("fused: %s", mdl->ai->describe(mdl->h, AB_ATTN_FUSED,
                                                                    atype(mdl->kt),
                                                                    &ph->attn[0].s)));
    json_object_set_new(o, "kernels", json_string(mdl->to->describe(mdl->h)));
    json_object_set_new(o, "weights", json_string(tname(mdl->wt)));
    json_object_set_new(o, "gemm_output", json_string(tname(mdl->ot)));
    json_object_set_new(o, "kv_cache", json_string(tname(mdl->kt)));
    json_object_set_new(o, "residual", json_string("f32"));
    return o;
}

/* ---- validation ---------------------------------------------------------------------------- */


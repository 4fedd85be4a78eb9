/* SPDX-License-Identifier: MIT */
/* The decoder's private layout, shared by step.c (build and run) and step_check.c (the fp64
 * reference and validation). Not a public interface. */
#ifndef AB_TOK_STEP_IMPL_H
#define AB_TOK_STEP_IMPL_H

#include "step.h"

enum { W_QKV = 0, W_O, W_GU, W_DOWN, W_N1, W_N2, W_PER_LAYER };
enum { G_QKV = 0, G_O, G_GU, G_DOWN, G_HEAD, G_COUNT };

/* Seeds: the weights of layer i, matrix w; the final norm and head; the caches; the input. */
static inline uint64_t wseed(int layer, int w)
{
    return 0x7000u + (uint64_t)layer * 16u + (uint64_t)w;
}
#define SEED_NF   0x6001u
#define SEED_HEAD 0x6002u
#define SEED_H    0x6003u
static inline uint64_t kseed(int layer)
{
    return 0x9000u + 2u * (uint64_t)layer;
}
static inline uint64_t vseed(int layer)
{
    return 0x9001u + 2u * (uint64_t)layer;
}
/* cache and input amplitudes: powers of two keep ab_attn_gen exact in f32 */
#define AMP_KV 1.0f
#define AMP_H  1.0f

typedef struct layer_w {
    void *w[W_PER_LAYER];
    void *kc, *vc; /* caches of the current phase */
} layer_w;

struct ab_tok_model {
    const ab_device *dev;
    const ab_backend_ops *ops;
    void *h;
    ab_llm m;
    int k;
    ab_tok_type wt, ot, kt;
    const ab_gemm_backend *gb;
    const ab_attn_impl *ai;
    const ab_tok_ops *to;
    layer_w *L;
    void *nf, *head;
    ab_tok_phase *phase; /* the one live phase (it owns the caches) */
};

struct ab_tok_phase {
    ab_tok_model *mdl;
    const ab_gemm_impl *gi;
    int batch, seq;
    long pos0, cache_len, T;
    long head_row0, head_rows;
    void *hbuf, *x, *qkv, *q, *o, *xo, *y, *gu, *a, *logits, *work;
    bool gather; /* o needs the head gather (prefill, or the KV type differs from wt) */
    void *plan[G_COUNT];
    ab_gemm_op op[G_COUNT];
    ab_attn_args *attn; /* per layer (the caches differ) */
    bool *prepared;
    void *whole; /* the backend's whole-step plan (tokens.h ab_tok_step_ops), or NULL */
};

static inline ab_gemm_type gtype(ab_tok_type t)
{
    return t == AB_TT_BF16 ? AB_GT_BF16 : AB_GT_F32;
}

static inline ab_attn_dtype atype(ab_tok_type t)
{
    return t == AB_TT_BF16 ? AB_ATTN_BF16 : AB_ATTN_F32;
}

static inline const char *tname(ab_tok_type t)
{
    return t == AB_TT_BF16 ? "bf16" : "f32";
}

static inline int qdim(const ab_llm *m)
{
    return m->heads * m->head_dim;
}

static inline int qkvdim(const ab_llm *m)
{
    return (m->heads + 2 * m->kv_heads) * m->head_dim;
}

/* shape (out features N, in features K) of each per-layer weight */
static inline void wshape(const ab_llm *m, int w, long *n, long *k)
{
    switch (w) {
    case W_QKV:
        *n = qkvdim(m), *k = m->d_model;
        break;
    case W_O:
        *n = m->d_model, *k = qdim(m);
        break;
    case W_GU:
        *n = 2L * m->ffn, *k = m->d_model;
        break;
    case W_DOWN:
        *n = m->d_model, *k = m->ffn;
        break;
    default:
        *n = m->d_model, *k = 1;
        break; /* norms */
    }
}

/* One layer / the head of a phase (step.c), also run by the validation (step_check.c). */
int ab_tok_step_run_layer(ab_tok_phase *ph, int i, bool add, char *err);
int ab_tok_step_run_head(ab_tok_phase *ph, bool add, char *err);

#endif

/* SPDX-License-Identifier: MIT */
/* The training model's inside, shared by train_model.c (buffers, plans, seeds), train_step.c
 * (the step) and train_check.c (validation). Not a public interface. */
#ifndef AB_TRAIN_MODEL_H
#define AB_TRAIN_MODEL_H

#include "../attention/attention.h"
#include "train_step.h"

#include <math.h>

#define AB_TRAIN_EPS  1e-5f
#define AB_TRAIN_MAXK 1000

/* a layer's parameter tensors, and the head's */
enum { TP_QKV, TP_O, TP_GU, TP_DOWN, TP_N1, TP_N2, TP_COUNT };
enum { TH_W, TH_NF, TH_COUNT };

typedef struct tr_param {
    void *w, *g, *m, *v;
    void *wg; /* the GEMM operand: w itself, or (bf16 training, matrices) its bf16 copy */
    size_t n;
    size_t rows, cols; /* matrices: [rows][cols]; norms: 1 x n */
    uint64_t seed;
    float amp, offset; /* w = offset + ab_attn_gen(seed, i, amp) */
} tr_param;

typedef struct tr_layer {
    tr_param p[TP_COUNT];
    void *n1, *r1, *qkv, *o, *lse, *h, *n2, *r2, *gu, *act; /* saved for the backward */
    void *n1g, *og, *n2g, *actg; /* GEMM operands of n1, o, n2, act: themselves or bf16 casts */
} tr_layer;

typedef struct tr_shape {
    int batch, seq;
    long T;
    ab_gemm_op op[AB_TG_COUNT];
    void *plan[AB_TG_COUNT];
} tr_shape;

typedef struct tr_scratch {
    void *da, *dgu, *dn, *dh, *dout, *dqkv, *g0, *g1, *gL, *work;
    void *nf, *rf, *logits, *targets, *loss;
    void *nfg; /* nf's GEMM operand: nf, or its bf16 cast */
    void *g16; /* bf16 training: the bf16 cast of the upstream gradient of the products at hand */
} tr_scratch;

struct ab_train_model {
    const ab_device *d;
    const ab_backend_ops *ops;
    const ab_train_ops *k;
    const ab_gemm_backend *gb;
    const ab_gemm_impl *gi;
    int impl;
    bool bf16; /* bf16 training: the GEMMs take bf16 operands (train_step.h) */
    ab_llm m;
    int layers; /* k */
    int D, QKV, HD, F, V;
    tr_layer *layer;
    tr_param head[TH_COUNT];
    void **x; /* x[0..k]: the residual stream at each layer's input, x[k] the head's */
    tr_scratch s;
    tr_shape run, val, hval;
    ab_train_adamw hp;
    long t_layers, t_head; /* AdamW step counters */
    bool instr, corrupt;
    double t_cat[AB_TC_COUNT], t_gemm[AB_TG_COUNT];
    void **allocs; /* every device buffer, for freeing */
    size_t nallocs, cap;
};

/* train_model.c */
const char *ab_train_gemm_name(int which);
int ab_train_read_loss(ab_train_model *m, long rows, double *loss, char *err);
int ab_train_fill_param(ab_train_model *m, tr_param *p, char *err);
/* p's GEMM operand from its master weight (bf16 training: the cast; else nothing) */
int ab_train_cast_param(ab_train_model *m, const tr_param *p, char *err);
int ab_train_fill_seeded(ab_train_model *m, void *buf, size_t n, uint64_t seed, float amp,
                         char *err);
int ab_train_set_targets(ab_train_model *m, long rows, uint64_t seed, char *err);
/* seeds of the inputs */
#define AB_TRAIN_SEED_X       7u
#define AB_TRAIN_SEED_G       8u
#define AB_TRAIN_SEED_TARGETS 9u
#define AB_TRAIN_AMP_X        1.0f
#define AB_TRAIN_AMP_G        0.015625f
/* the target of row r */
static inline int32_t ab_train_target(uint64_t seed, long r, int vocab)
{
    return (int32_t)(ab_attn_gen_bits(seed, (uint64_t)r) % (uint32_t)vocab);
}

/* train_step.c */
int ab_train_layer_fwd(ab_train_model *m, tr_shape *sh, int l, char *err);
int ab_train_layer_bwd(ab_train_model *m, tr_shape *sh, int l, void *gout, void *gin, char *err);
int ab_train_head_fb(ab_train_model *m, tr_shape *sh, void *x, void *gx, char *err);
int ab_train_adamw_params(ab_train_model *m, tr_param *p, int n, long t, char *err);

#endif

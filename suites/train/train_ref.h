/* SPDX-License-Identifier: MIT */
/*
 * The fp64 host reference of one training step's pieces (train_ref.c), for validation
 * (train_check.c) and the tests: weights as the f32 values the device holds (exact), every
 * activation, gradient and sum in double. One sequence of T tokens (positions 0..T-1).
 * bf16 training (train_step.h) is modelled by rounding every GEMM operand to bf16 (ab_tref_bf16)
 * where the step casts it; the products and sums stay double.
 */
#ifndef AB_TRAIN_REF_H
#define AB_TRAIN_REF_H

#include "../attention/attention.h"
#include "train.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ab_tref_dims {
    int T, D, H, G, Dh, F;
    bool bf16; /* the GEMMs' operands rounded to bf16 (bf16 training) */
} ab_tref_dims;

/* f rounded to bf16 (to nearest even; NaN unchanged), as the device's cast_bf16 does it
 * (attention.h's ab_f32_to_bf16) */
static inline float ab_tref_bf16f(float f)
{
    return isnan(f) ? f : ab_bf16_to_f32(ab_f32_to_bf16(f));
}

/* v as the device's bf16 operand of it: its f32 value (the device's tensor), then bf16 */
static inline double ab_tref_bf16(double v)
{
    return ab_tref_bf16f((float)v);
}

/* A layer's weights (host f32): Wqkv [(H+2G)Dh][D], Wo [D][H Dh], Wgu [2F][D], Wd [D][F],
 * n1 [D], n2 [D]. */
typedef struct ab_tref_w {
    float *qkv, *o, *gu, *down, *n1, *n2;
} ab_tref_w;

/* Saved forward state and the gradients of the inputs of each product. */
typedef struct ab_tref_act {
    double *x, *n1, *r1, *qkv, *o, *P, *h, *n2, *r2, *gu, *act, *out;
    /* backward: gradients w.r.t. the products' outputs (the "dY" of each weight gradient) */
    double *gout, *dgu, *dh, *dqkv, *dx, *dn1w, *dn2w;
} ab_tref_act;

int ab_tref_alloc(const ab_tref_dims *d, ab_tref_act *a);
void ab_tref_free(ab_tref_act *a);
/* a->x must hold the layer input; fills the rest of the forward state and a->out. */
void ab_tref_forward(const ab_tref_dims *d, const ab_tref_w *w, ab_tref_act *a);
/* a->gout must hold dL/d(out); fills dgu, dh, dqkv, dx and the norms' weight gradients. */
void ab_tref_backward(const ab_tref_dims *d, const ab_tref_w *w, ab_tref_act *a);

/* Weight gradient dW = dY^T X of a [n][k] matrix row by row (dY [T][n] with row stride ldy,
 * X [T][k]; bf16: both rounded to bf16 first): accumulates |dev - ref|^2 into *e2 and |ref|^2
 * into *r2 against the device's gradient gdev (f32 [n][k]), then applies AdamW step 1 to W in
 * place with the reference g. */
void ab_tref_dw_check_update(int T, int n, int k, const double *dY, size_t ldy, const double *X,
                             const float *gdev, float *W, const ab_train_adamw *h, bool bf16,
                             double *e2, double *r2);
/* AdamW step 1 on a vector, in double from g. */
void ab_tref_adamw_vec(size_t n, float *w, const double *g, const ab_train_adamw *h);

/* RMSNorm of rows of x: y = x r w. */
void ab_tref_rmsnorm(int T, int D, const double *x, const float *w, double *y, double *r);
/* dx = dres + rmsnorm'(dy) (dres may be NULL); dw += weight gradient. */
void ab_tref_rmsnorm_bwd(int T, int D, const double *x, const float *w, const double *r,
                         const double *dy, const double *dres, double *dx, double *dw);

/* Y[t][n] = add[t][n] + sum_k X[t][k] W[n][k] (add may be NULL); dX[t][k] = sum_n dY[t][n] W[n][k]
 * (dY's row stride ldy). bf16: X (dY) and W rounded to bf16 in the products (add is not). */
void ab_tref_linear(int T, int N, int K, const double *X, const float *W, const double *add,
                    double *Y, bool bf16);
void ab_tref_linear_dx(int T, int N, int K, const double *dY, size_t ldy, const float *W,
                       double *dX, bool bf16);

/* Causal attention over qkv [T][(H+2G)Dh] (one sequence): o [T][H Dh] and the probabilities
 * P [H][T][T]; its backward from dout into dqkv (every element written). */
void ab_tref_attn_fwd(const ab_tref_dims *d, const double *qkv, double *o, double *P);
void ab_tref_attn_bwd(const ab_tref_dims *d, const double *qkv, const double *P, const double *dout,
                      double *dqkv);

#endif

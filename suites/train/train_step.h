/* SPDX-License-Identifier: MIT */
/*
 * One training step of k of a model's L identical decoder layers (suites/tokens/model.h) and
 * the LM head on one device: forward, backward and AdamW, with the projections through the GEMM
 * suite's multiply (gemm.h) in the three products of training and the small kernels of train.h.
 *
 * Per layer (x: the residual stream [T][D], T = batch x seq tokens):
 *   forward   n1 = rmsnorm(x); qkv = n1 Wqkv^T; rope(q, k); o = attention(qkv);
 *             h = x + o Wo^T; n2 = rmsnorm(h); gu = n2 Wgu^T; a = swiglu(gu); x' = h + a Wd^T
 *   backward  (g = dL/dx') dWd = g^T a, da = g Wd; dgu = swiglu'(da); dWgu = dgu^T n2,
 *             dn2 = dgu Wgu; dh = g + rmsnorm'(dn2); dWo = dh^T o, do = dh Wo;
 *             dqkv = attention'(do); rope^-1(dq, dk); dWqkv = dqkv^T n1, dn1 = dqkv Wqkv;
 *             dx = dh + rmsnorm'(dn1)
 *   products  forward Y = X W^T (layout NT), input gradient dX = dY W (NN), weight gradient
 *             dW = dY^T X (TN)
 * Head: nf = rmsnorm(x_k); logits = nf Whead^T; loss = mean cross-entropy against targets;
 * dWhead, dnf, dx_k. The embedding lookup (and its gradient, a scatter-add of T rows) is left
 * out, as the parameter count of model.h leaves the table out.
 * Weights, gradients and AdamW's two moments are f32 (master weights), one buffer per tensor.
 *
 * bf16 training (mixed precision as PyTorch autocast and Megatron do it): the same f32 master
 * weights, gradients and moments; after each AdamW (and at initialisation) the projection
 * matrices are cast to bf16 copies (cast_bf16, train.h), and every GEMM of the step takes bf16
 * operands -- those copies and bf16 casts of the activations (n1, o, n2, act, nf) and of the
 * upstream gradients (dL/dx', dgu, dh, dqkv, dlogits) that feed it -- accumulating in f32 into
 * f32 outputs (gemm.h: a = b = bf16, c = f32). RMSNorm, RoPE, attention, SwiGLU, cross-entropy,
 * the residual adds and AdamW stay f32.
 */
#ifndef AB_TRAIN_STEP_H
#define AB_TRAIN_STEP_H

#include "../../backends/registry.h"
#include "../gemm/gemm.h"
#include "../tokens/model.h"
#include "train.h"

#include <jansson.h>
#include <stdbool.h>

#define AB_TRAIN_SKIP (-2)

/* The GEMM products of one step (per layer, then the head's). */
typedef enum {
    AB_TG_QKV,
    AB_TG_O,
    AB_TG_GU,
    AB_TG_DOWN, /* forward, NT */
    AB_TG_DWD,
    AB_TG_DA,
    AB_TG_DWGU,
    AB_TG_DN2, /* backward of the MLP */
    AB_TG_DWO,
    AB_TG_DO,
    AB_TG_DWQKV,
    AB_TG_DN1, /* backward of attention's projections */
    AB_TG_LOGITS,
    AB_TG_DWHEAD,
    AB_TG_DNF, /* the head */
    AB_TG_COUNT
} ab_train_gemm;

/* Time categories of an instrumented step. */
enum { AB_TC_GEMM, AB_TC_ATTN_FWD, AB_TC_ATTN_BWD, AB_TC_OTHER, AB_TC_CAST, AB_TC_COUNT };

typedef struct ab_train_model ab_train_model;

/* Builds k layers + head of m for steps of batch x seq tokens (bf16: bf16 training), and
 * validation shapes of one sequence of vseq (layer check) and hseq (head check) tokens. 0, -1
 * (err) or AB_TRAIN_SKIP (no training kernels, no bf16 cast, a GEMM without these types). */
int ab_train_model_new(const ab_device *dev, const ab_llm *m, int impl, bool bf16, int k, int batch,
                       int seq, int vseq, int hseq, ab_train_model **out, char *err);
void ab_train_model_free(ab_train_model *mdl);
/* Bytes the model takes: per layer (weights, gradients, optimizer state, saved activations),
 * the head's parameter state, and the shared scratch (incl. logits). bf16 training adds the
 * bf16 weight copies (weight_copies; the head's in head), the bf16 casts of the saved
 * activations (in activations) and of the upstream gradients (in scratch). */
typedef struct ab_train_mem {
    double weights, weight_copies, grads, optimizer, activations; /* one layer */
    double head, scratch;
} ab_train_mem;
void ab_train_mem_of(const ab_llm *m, int batch, int seq, bool bf16, ab_train_mem *mem);
/* one layer's bytes: the sum of the five per-layer figures */
static inline double ab_train_mem_layer(const ab_train_mem *mem)
{
    return mem->weights + mem->weight_copies + mem->grads + mem->optimizer + mem->activations;
}

/* Seeded weights, zero moments, seeded inputs (x0, targets, the gradient into layer k). */
int ab_train_init(ab_train_model *mdl, char *err);
/* The k layers: forward, backward (from the gradient the head left, or the seeded one), AdamW. */
int ab_train_layers(ab_train_model *mdl, char *err);
/* The head: final norm, logits, cross-entropy, backward to x_k, AdamW. */
int ab_train_head(ab_train_model *mdl, char *err);
/* One step with every kernel bracketed by the backend timer: seconds per category (AB_TC_*)
 * and per GEMM product (summed over the layers) into the JSON breakdown. */
json_t *ab_train_breakdown(ab_train_model *mdl, char *err);
/* Instrumented steps behind the breakdown: each figure is the median over them, so that one
 * kernel descheduled for a time slice on a shared machine does not become the step's figure. */
#define AB_TRAIN_BD_STEPS 3
/* What runs, for the record. */
json_t *ab_train_describe(const ab_train_model *mdl);
/* Mean cross-entropy of the last head call (reads back). */
int ab_train_last_loss(ab_train_model *mdl, double *loss, char *err);
/* Test hook: the next validation's device gradients are damaged as a broken kernel would. */
void ab_train_corrupt(ab_train_model *mdl);
/* The fp64 check (train_check.c): *ok, and a JSON verdict; NULL with err when it cannot run. */
json_t *ab_train_validate(ab_train_model *mdl, bool *ok, char *err);

#endif

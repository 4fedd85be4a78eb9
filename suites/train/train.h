/* SPDX-License-Identifier: MIT */
/*
 * train: the small kernels of one training step of a Llama-style decoder (model.h of the tokens
 * suite), beside the GEMM suite's multiply for the projections: RMSNorm forward and backward,
 * rotary embeddings (and their inverse for the gradient), a fused flash-style causal attention
 * forward that keeps the log-sum-exp per row and its backward that recomputes the scores tile by
 * tile (no seq x seq matrix in memory), SwiGLU forward and backward, softmax cross-entropy over
 * the LM head's logits, and AdamW.
 *
 * This header is the contract between the step (train_step.c), the suite (train.c) and the
 * per-backend kernels (train_cpu.c, train_opencl.c, train_gpu.cu). Plain C, also includable by CUDA/HIP code.
 * Every call follows backends/backend.h: enqueued on the device's one queue in order with GEMM
 * calls (a CPU runs it to completion); device buffers are the backend's opaque handles; errors
 * 0 / -1 with a one-line message in err. Element type: f32 throughout (master weights, activations,
 * gradients, optimizer state); bf16 training (train_step.h) adds cast_bf16, which makes the bf16
 * GEMM operands (weight copies, casts of activations and upstream gradients).
 *
 * Layouts (row-major, contiguous; T = batch x seq tokens, token t = b * seq + s at position s):
 *   hidden, norms   [T][D]
 *   qkv, dqkv       [T][(H + 2G) * Dh]: per token H query heads, then G key heads, then G value
 *                   heads (the fused projection's output); query head h reads KV head
 *                   h / (H / G)
 *   o, do           [T][H * Dh]
 *   lse             [B][H][seq] (natural log-sum-exp of the scaled scores of each query row)
 *   gate_up         [T][2F]: gate in columns 0..F-1, up in F..2F-1
 *   logits          [T][V]
 */
#ifndef AB_TRAIN_H
#define AB_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Causal self-attention over the fused qkv buffer. */
typedef struct ab_train_attn {
    int batch, seq, heads, kv_heads, head_dim;
    float scale; /* 1 / sqrt(head_dim) */
} ab_train_attn;

/* AdamW (decoupled weight decay), step t >= 1:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   w -= lr (m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd w) */
typedef struct ab_train_adamw {
    float lr, b1, b2, eps, wd;
    long t;
} ab_train_adamw;

typedef struct ab_train_ops {
    /* y[r] = x[r] / rms(x[r]) * w and rstd[r] = 1 / rms(x[r]), rms = sqrt(mean(x^2) + eps). */
    int (*rmsnorm_fwd)(void *dev, long rows, int d, const void *x, const void *w, float eps,
                       void *y, void *rstd, char *err);
    /* dx[r] = dres[r] + d(y)/d(x) dy[r] (dres may be NULL: 0; dx may alias dres); dw += the
     * weight's gradient summed over the rows. */
    int (*rmsnorm_bwd)(void *dev, long rows, int d, const void *x, const void *w, const void *rstd,
                       const void *dy, const void *dres, void *dx, void *dw, char *err);
    /* RoPE (tokens.h's rotate-half form, theta AB_TOK_ROPE_THETA) in place on the query and key
     * heads of qkv; inverse: the transposed rotation, which maps the gradient w.r.t. the rotated
     * heads to the gradient w.r.t. the projection's output. */
    int (*rope)(void *dev, const ab_train_attn *a, void *qkv, bool inverse, char *err);
    /* o = softmax(scale q k^T, causal) v per head, and lse. */
    int (*attn_fwd)(void *dev, const ab_train_attn *a, const void *qkv, void *o, void *lse,
                    char *err);
    /* Writes dq, dk, dv into dqkv (every element) from qkv, o, lse and do. work: at least
     * attn_bwd_work() bytes. */
    int (*attn_bwd)(void *dev, const ab_train_attn *a, const void *qkv, const void *o,
                    const void *lse, const void *dout, void *dqkv, void *work, char *err);
    size_t (*attn_bwd_work)(void *dev, const ab_train_attn *a);
    /* act[t][j] = silu(gu[t][j]) * gu[t][f + j]. */
    int (*swiglu_fwd)(void *dev, long rows, int f, const void *gu, void *act, char *err);
    /* dgu from gu and dact (the backward of swiglu_fwd). */
    int (*swiglu_bwd)(void *dev, long rows, int f, const void *gu, const void *dact, void *dgu,
                      char *err);
    /* Per row: loss[r] = logsumexp(logits[r]) - logits[r][target[r]]; logits[r] is replaced by
     * gscale * (softmax(logits[r]) - onehot(target[r])). targets: int32 [rows]. */
    int (*xent)(void *dev, long rows, int vocab, void *logits, const void *targets, void *loss,
                float gscale, char *err);
    int (*adamw)(void *dev, size_t n, void *w, const void *g, void *m, void *v,
                 const ab_train_adamw *h, char *err);
    /* buf[i] = offset + ab_attn_gen(seed, i, amp), in f32 arithmetic. Blocks until done. */
    int (*fill)(void *dev, void *buf, size_t n, uint64_t seed, float amp, float offset, char *err);
    /* n f32 zeros. */
    int (*zero)(void *dev, void *buf, size_t n, char *err);
    /* What runs, for the record. */
    const char *(*describe)(void *dev);
    /* dst[i] = src[i] rounded to bf16 (round to nearest even; NaN stays NaN), n elements; dst is a buffer of n uint16_t. NULL: the backend does no bf16 training. */
    int (*cast_bf16)(void *dev, size_t n, const void *src, void *dst, char *err);
} ab_train_ops;

#ifdef __cplusplus
}
#endif

#endif

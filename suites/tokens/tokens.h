/* SPDX-License-Identifier: MIT */
/*
 * tokens: a transformer decoder step (model.h) assembled from accelbench's own kernels -- the
 * GEMM suite's matrix multiply, the attention suite's fused attention -- plus the small kernels
 * declared here: RMSNorm with the residual add fused in, rotary embeddings with the scatter into
 * the KV cache, the head gather after attention, and SwiGLU.
 *
 * This header is the contract between the decoder (step.c), the suite (tokens.c) and the
 * per-backend kernels (tokens_cpu.c, tokens_opencl.c + tokens.cl, tokens_gpu.cu). Plain C, also
 * included by CUDA/HIP code. Every call follows backends/backend.h: work is enqueued on the
 * device's one queue in order with GEMM and attention calls (a CPU runs it to completion),
 * device buffers are the backend's opaque handles, errors are 0 / -1 with a one-line message.
 *
 * Element types: activations and weights are f32 or bf16 (AB_TT_*). Arithmetic inside every
 * kernel is f32; a bf16 store rounds to nearest even (ab_f32_to_bf16 in attention.h).
 *
 * Layouts (row-major, contiguous):
 *   hidden h     [T][D] f32: the residual stream, T = batch x seq tokens, token t = b*seq + s
 *   qkv          [T][(H + 2G) * Dh]: per token H query heads, then G key heads, then G values
 *   q, o         [B][H][seq][Dh]          (the attention suite's Q/O layout)
 *   k/v cache    [B][G][cache_len][Dh]    (the attention suite's K/V layout)
 *   gate_up      [T][2F]: gate in columns 0..F-1, up in F..2F-1
 */
#ifndef AB_TOKENS_H
#define AB_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { AB_TT_F32 = 0, AB_TT_BF16 = 1 } ab_tok_type;

static inline size_t ab_tok_type_size(ab_tok_type t)
{
    return t == AB_TT_BF16 ? 2 : 4;
}

/* Rotary embedding (Llama's "rotate half" form): for pair i < Dh/2 of a head at position p,
 * angle = p * theta^(-2i/Dh), (x_i, x_{i+Dh/2}) -> (x_i cos - x_{i+Dh/2} sin,
 * x_i sin + x_{i+Dh/2} cos). Llama 3 uses theta = 500000. */
#define AB_TOK_ROPE_THETA 500000.0

typedef struct ab_tok_rope {
    int batch, seq; /* T = batch * seq tokens; token t = b * seq + s */
    int heads, kv_heads, head_dim;
    long pos0;            /* position of token s is pos0 + s (the same for every sequence) */
    long cache_len;       /* positions the K/V cache holds per (sequence, KV head) */
    ab_tok_type qkv_type; /* of the projection's output */
    ab_tok_type out_type; /* of q and the caches */
} ab_tok_rope;

/*
 * A whole decoder step as one program, for devices that compile programs and time one launch
 * per interval (PJRT: backends/pjrt.h). Where ab_tok_ops.step is set, step.c runs each phase
 * through it instead of the per-op kernels (add_rmsnorm .. swiglu may then be NULL), and GEMM and
 * attention tables serve only for fills, the roofline's references and the model's types.
 *
 * The buffers are the step's own (step.h layouts, device handles): per layer i of the k in
 * w[6 * i + j] the weights j = 0 qkv [QKV][D], 1 o [D][Q], 2 gate_up [2F][D], 3 down [D][F],
 * 4 norm 1 [D], 5 norm 2 [D] (type wt), kc[i] and vc[i] its caches [B][G][cache_len][Dh] (kt);
 * h [T][D] f32, y [T][D] (ot); nf [D] and head [vocab][D] (wt), logits [head_rows][vocab] (ot).
 * Each layer is what step.c's per-op path does with the residual add first: h += y, x = norm1(h),
 * qkv = x Wqkv^T / sqrt(D), RoPE, K/V into the caches at pos0, attention (causal for seq > 1,
 * scale 1/sqrt(Dh)), h += (o Wo^T / sqrt(Q)), x = norm2(h), y = down(swiglu(x Wgu^T / sqrt(D)))
 * / sqrt(F); the head: x = normf(h + y) over rows head_row0 .., logits = x head^T / sqrt(D).
 */
typedef struct ab_tok_step_shape {
    int d_model, heads, kv_heads, head_dim, ffn, vocab;
    int batch, seq, layers; /* layers: k, the layers of the looped program */
    long pos0, cache_len, head_row0, head_rows;
    float eps;
    int wt, ot, kt; /* ab_tok_type */
} ab_tok_step_shape;

typedef struct ab_tok_step_bufs {
    void *h, *y, *nf, *head, *logits;
    void *const *w; /* 6 x layers */
    void *const *kc, *const *vc;
} ab_tok_step_bufs;

typedef struct ab_tok_step_ops {
    /* The types of the GEMM outputs (*ot) and of queries and caches (*kt) for weights in wt;
     * -1 with the reason when the device takes no wt. */
    int (*types)(void *dev, int wt, int *ot, int *kt, char *why);
    /* Generates and compiles the programs of one phase: the k layers, layer 0 alone (for
     * validation) and the head. The buffers stay the caller's; -1 with err, or -2 (AB_TOK_SKIP)
     * when the device cannot run this shape. */
    int (*prepare)(void *dev, const ab_tok_step_shape *s, const ab_tok_step_bufs *b, void **plan,
                   char *err);
    /* Enqueues the k layers (all = true) or layer 0 alone, `iters` times in one launch. */
    int (*layers)(void *plan, bool all, long iters, char *err);
    /* Enqueues the final norm and LM head `iters` times in one launch. */
    int (*head)(void *plan, long iters, char *err);
    void (*release)(void *plan);
    /* What runs, for the record. */
    const char *(*describe)(void *plan);
} ab_tok_step_ops;

typedef struct ab_tok_ops {
    /*
     * Rows r = row0 .. row0 + rows - 1 of h ([*][d] f32): if y is not NULL, h[r] += y[r] (y of
     * type ty, same layout); then x[r - row0] = h[r] / rms(h[r]) * w, with
     * rms = sqrt(mean(h[r]^2) + eps), w [d] of type tw, x of type tx. The residual add of a block's
     * output and the next block's normalisation in one pass, as serving engines fuse them.
     */
    int (*add_rmsnorm)(void *dev, long row0, long rows, int d, void *h, const void *y,
                       ab_tok_type ty, const void *w, ab_tok_type tw, float eps, void *x,
                       ab_tok_type tx, char *err);
    /* Applies RoPE to the query and key heads of qkv and writes queries to q ([B][H][seq][Dh]),
     * keys and values to the caches at position pos0 + s ([B][G][cache_len][Dh]). */
    int (*rope_scatter)(void *dev, const ab_tok_rope *r, const void *qkv, void *q, void *k, void *v,
                        char *err);
    /* o [B][H][seq][Dh] of type to -> x [B*seq][H*Dh] of type tx (the head gather). */
    int (*gather_heads)(void *dev, int batch, int seq, int heads, int head_dim, const void *o,
                        ab_tok_type to, void *x, ab_tok_type tx, char *err);
    /* a[t][j] = silu(gu[t][j]) * gu[t][f + j] for t < rows, j < f; gu of type tg, a of type ta. */
    int (*swiglu)(void *dev, long rows, int f, const void *gu, ab_tok_type tg, void *a,
                  ab_tok_type ta, char *err);
    /* Sets n elements of buf (type t) to the attention suite's test pattern
     * ab_attn_gen(seed, i, amp) rounded to t. Blocks until done. */
    int (*fill)(void *dev, void *buf, ab_tok_type t, size_t n, uint64_t seed, float amp, char *err);
    /* What runs, for the record ("OpenMP, AVX2", "OpenCL C, one work-group per row"). */
    const char *(*describe)(void *dev);
    /* NULL, or a whole decoder step as one program (above). */
    const ab_tok_step_ops *step;
} ab_tok_ops;

#ifdef __cplusplus
}
#endif

#endif

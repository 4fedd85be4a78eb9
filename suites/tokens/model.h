/* SPDX-License-Identifier: MIT */
/*
 * Transformer decoder shapes (Llama-3 family) and the accounting the tokens suite's roofline
 * rests on: parameters, FLOPs and bytes moved per token. Pure arithmetic, no kernels.
 *
 * One layer: RMSNorm -> Q, K, V projections (GQA: kv_heads <= heads) -> RoPE -> attention ->
 * output projection -> residual add -> RMSNorm -> gate and up projections -> SwiGLU -> down
 * projection -> residual add. After the last layer: RMSNorm and the LM head (vocab x d_model).
 */
#ifndef AB_TOKENS_MODEL_H
#define AB_TOKENS_MODEL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ab_llm {
    char name[32];
    int layers, d_model, heads, kv_heads, head_dim, ffn, vocab;
} ab_llm;

/* Presets: tiny (tests), llama3-1b (Llama-3.2-1B-like), llama3-8b, llama3-70b, llama3-405b. */
int ab_llm_preset(const char *name, ab_llm *out);
/* Comma-separated preset names, for help and error messages. */
const char *ab_llm_preset_names(void);
/* Checks a configuration (all positive, heads divisible by kv_heads, head_dim even for RoPE). */
int ab_llm_check(const ab_llm *m, char *err);

/* Weights of the linear layers of one decoder layer (Q, K, V, O, gate, up, down). */
uint64_t ab_llm_linear_params_layer(const ab_llm *m);
/* All weights: layers x (linear + 2 norms) + final norm + LM head (embedding table excluded: a
 * lookup reads one row per token). */
uint64_t ab_llm_params(const ab_llm *m);

/*
 * Decode step for `batch` sequences at context length `ctx` (tokens already in the cache):
 * FLOPs = batch x (2 x linear weights x layers + 2 x vocab x d + layers x 4 x heads x head_dim x
 * (ctx + 1)); bytes = weights once per step + the KV cache read (batch x layers x 2 x kv_heads x
 * head_dim x (ctx + 1)) + the new K,V written. Activations, a few kB per token, are left out.
 */
double ab_llm_decode_flops(const ab_llm *m, int batch, int ctx);
double ab_llm_decode_bytes(const ab_llm *m, int batch, int ctx, double weight_bytes,
                           double kv_bytes);
/*
 * Prefill of `seq` tokens (causal): 2 x linear weights x layers x seq + layers x 4 x heads x
 * head_dim x seq^2 / 2 (attention, halved for causal) + 2 x vocab x d for the last token's
 * logits (time to first token needs only that one).
 */
double ab_llm_prefill_flops(const ab_llm *m, int seq);
/* KV cache bytes for `batch` sequences of `ctx` tokens. */
double ab_llm_kv_bytes(const ab_llm *m, int batch, int ctx, double kv_bytes);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The decoder on one device: k of a model's L identical layers with their own random weights
 * and KV caches, the final norm and the LM head, run through the GEMM suite's multiply, the
 * attention suite's fused kernel and the small kernels of tokens.h.
 *
 * A *model* holds the weights (k layers + head); a *phase* is one shape of work on it -- batch B
 * sequences of `seq` new tokens each at positions pos0 .. pos0 + seq - 1, with a cache of
 * cache_len positions per sequence and layer:
 *     prefill of S tokens:      B = 1, seq = S, pos0 = 0, cache_len = S (causal attention)
 *     decode at context C:      B sequences, seq = 1, pos0 = C, cache_len = C + 1
 * The cache positions before pos0 hold the attention suite's test pattern (a context that was
 * "already there"); the phase writes positions pos0 .. pos0 + seq - 1 each time it runs.
 *
 * Types: weights and GEMM inputs in `wt` (f32 or bf16); GEMM outputs in `ot` (wt when the GEMM
 * implementation writes it, else f32); queries and the KV cache in `kt` (wt when the backend's
 * attention computes in it, else f32); the residual stream in f32.
 */
#ifndef AB_TOKENS_STEP_H
#define AB_TOKENS_STEP_H

#include "../../backends/registry.h"
#include "../attention/attention.h"
#include "../gemm/gemm.h"
#include "model.h"
#include "tokens.h"

#include <jansson.h>
#include <stdbool.h>

#define AB_TOK_EPS 1e-5f

typedef struct ab_tok_model ab_tok_model;
typedef struct ab_tok_phase ab_tok_phase;

/* Return codes of the constructors besides 0: -1 an error, AB_TOK_SKIP the device cannot run
 * this (a dtype or kernel it lacks, not enough memory): a skip with the reason in err. */
#define AB_TOK_SKIP (-2)

/*
 * Builds k = `layers_run` layers (1 <= k <= m->layers) of model m on dev with weights in wt,
 * GEMMs through impl AB_GEMM_VENDOR or AB_GEMM_PORTABLE. Weights are filled device-side with
 * the GEMM suite's value pattern (ab_gemm_value_bits), seeded per layer and matrix.
 */
int ab_tok_model_new(const ab_device *dev, const ab_llm *m, ab_tok_type wt, int impl,
                     int layers_run, ab_tok_model **out, char *err);
void ab_tok_model_free(ab_tok_model *mdl);
int ab_tok_model_layers_run(const ab_tok_model *mdl);
ab_tok_type ab_tok_model_kv_type(const ab_tok_model *mdl);
ab_tok_type ab_tok_model_out_type(const ab_tok_model *mdl);
/* Test hook (--test-corrupt): overwrites layer 0's output projection with other values, so the
 * next validation must fail. */
int ab_tok_model_corrupt(ab_tok_model *mdl, char *err);
/* Device bytes of one layer's weights, of the head (final norm + LM head). */
double ab_tok_layer_weight_bytes(const ab_llm *m, ab_tok_type wt);
double ab_tok_head_weight_bytes(const ab_llm *m, ab_tok_type wt);
/* Device bytes of one layer's K and V caches for a phase, and of a phase's activations. */
double ab_tok_layer_cache_bytes(const ab_llm *m, ab_tok_type kt, int batch, long cache_len);
double ab_tok_phase_act_bytes(const ab_llm *m, int batch, int seq);

/* impl: the GEMM implementation for this phase (AB_GEMM_VENDOR / AB_GEMM_PORTABLE); its output
 * type must be the model's (ab_tok_model_out_type), else AB_TOK_SKIP. */
int ab_tok_phase_new(ab_tok_model *mdl, int impl, int batch, int seq, long pos0, long cache_len,
                     ab_tok_phase **out, char *err);
void ab_tok_phase_free(ab_tok_phase *ph);
/* What this phase runs, for the record, from its own GEMM plans and attention shape:
 * {"gemm": ..., "attention": ..., "kernels": ..., storage types}. */
json_t *ab_tok_phase_describe(const ab_tok_phase *ph);
/* Enqueues the model's k layers once (each layer starts by adding the previous block's output
 * to the residual stream, as every layer but the first of a real model does). */
int ab_tok_phase_layers(ab_tok_phase *ph, char *err);
/* Enqueues the final norm and the LM head: over every token for decode, over the last token of
 * the sequence for prefill (what the first generated token needs). */
int ab_tok_phase_head(ab_tok_phase *ph, char *err);
/* The layers, the head `iters` times over: the same as calling the above `iters` times, except
 * on a backend that runs the whole step as one program (tokens.h ab_tok_step_ops), where it is
 * one launch of that program looping `iters` times, the form its timer measures. */
int ab_tok_phase_layers_n(ab_tok_phase *ph, long iters, char *err);
int ab_tok_phase_head_n(ab_tok_phase *ph, long iters, char *err);
/*
 * Checks the phase against a double-precision host reference: resets the residual stream to a
 * known input, runs layer 0 once and compares, for a few tokens, the residual stream after
 * attention and the MLP's output; then the LM head for a few vocabulary columns. Sets *ok and
 * returns a JSON verdict; NULL with err on a failure to run at all.
 */
json_t *ab_tok_phase_validate(ab_tok_phase *ph, bool *ok, char *err);

#endif

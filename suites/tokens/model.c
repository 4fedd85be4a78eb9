/* SPDX-License-Identifier: MIT */
#include "model.h"

#include "../../core/ab.h"

#include <string.h>

/* Shapes from the published Llama 3 / 3.1 / 3.2 configurations (d_model, layers, heads,
 * kv_heads, ffn, vocab 128256); "tiny" is a small model of the same structure for tests. */
static const ab_llm presets[] = {
    {"tiny", 2, 256, 4, 2, 64, 688, 1024},
    {"llama3-1b", 16, 2048, 32, 8, 64, 8192, 128256},
    {"llama3-8b", 32, 4096, 32, 8, 128, 14336, 128256},
    {"llama3-70b", 80, 8192, 64, 8, 128, 28672, 128256},
    {"llama3-405b", 126, 16384, 128, 8, 128, 53248, 128256},
};

const char *ab_llm_preset_names(void)
{
    return "tiny, llama3-1b, llama3-8b, llama3-70b, llama3-405b";
}

int ab_llm_preset(const char *name, ab_llm *out)
{
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(presets[i].name, name) == 0) {
            *out = presets[i];
            return 0;
        }
    return -1;
}

int ab_llm_check(const ab_llm *m, char *err)
{
    if (m->layers < 1 || m->d_model < 1 || m->heads < 1 || m->kv_heads < 1 || m->head_dim < 1 ||
        m->ffn < 1 || m->vocab < 1)
        return ab_err(err, "model %s: every dimension must be positive", m->name);
    if (m->heads % m->kv_heads)
        return ab_err(err, "model %s: %d query heads are not divisible by %d KV heads", m->name,
                      m->heads, m->kv_heads);
    if (m->head_dim % 2)
        return ab_err(err, "model %s: head_dim %d must be even for rotary embeddings", m->name,
                      m->head_dim);
    return 0;
}

uint64_t ab_llm_linear_params_layer(const ab_llm *m)
{
    uint64_t d = (uint64_t)m->d_model, q = (uint64_t)m->heads * (uint64_t)m->head_dim,
             kv = (uint64_t)m->kv_heads * (uint64_t)m->head_dim, f = (uint64_t)m->ffn;
    return d * q + 2 * d * kv + q * d + 3 * d * f;
}

uint64_t ab_llm_params(const ab_llm *m)
{
    uint64_t d = (uint64_t)m->d_model;
    return (uint64_t)m->layers * (ab_llm_linear_params_layer(m) + 2 * d) + d +
           (uint64_t)m->vocab * d;
}

double ab_llm_decode_flops(const ab_llm *m, int batch, int ctx)
{
    double lin = 2.0 * (double)ab_llm_linear_params_layer(m) * m->layers;
    double head = 2.0 * (double)m->vocab * m->d_model;
    double attn = (double)m->layers * 4.0 * m->heads * m->head_dim * ((double)ctx + 1.0);
    return (double)batch * (lin + head + attn);
}

double ab_llm_kv_bytes(const ab_llm *m, int batch, int ctx, double kv_bytes)
{
    return (double)batch * m->layers * 2.0 * m->kv_heads * m->head_dim * (double)ctx * kv_bytes;
}

double ab_llm_decode_bytes(const ab_llm *m, int batch, int ctx, double weight_bytes,
                           double kv_bytes)
{
    double weights = (double)ab_llm_params(m) * weight_bytes;
    /* read the cache including the new token's K,V, and write those once */
    double kv_read = ab_llm_kv_bytes(m, batch, ctx + 1, kv_bytes);
    double kv_write = ab_llm_kv_bytes(m, batch, 1, kv_bytes);
    return weights + kv_read + kv_write;
}

double ab_llm_prefill_flops(const ab_llm *m, int seq)
{
    double s = (double)seq;
    double lin = 2.0 * (double)ab_llm_linear_params_layer(m) * m->layers * s;
    double attn = (double)m->layers * 4.0 * m->heads * m->head_dim * s * s / 2.0;
    double head = 2.0 * (double)m->vocab * m->d_model;
    return lin + attn + head;
}

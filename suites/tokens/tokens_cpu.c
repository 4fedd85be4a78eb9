/* SPDX-License-Identifier: MIT */
/*
 * The decoder's small kernels on the CPU backend (tokens.h): OpenMP over rows with the device's
 * pinned team, f32 arithmetic, plain loops the compiler vectorises. They move a few kB per token
 * against the megabytes of weights each GEMM streams, so simplicity wins here.
 */
#include "tokens.h"

#include "../../backends/cpu.h"
#include "../../backends/omp_compat.h"
#include "../../core/ab.h"
#include "../attention/attention.h"

#include <math.h>
#include <stdint.h>

static inline float ld(const void *p, ab_tok_type t, size_t i)
{
    return t == AB_TT_BF16 ? ab_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static inline void st(void *p, ab_tok_type t, size_t i, float v)
{
    if (t == AB_TT_BF16)
        ((uint16_t *)p)[i] = ab_f32_to_bf16(v);
    else
        ((float *)p)[i] = v;
}

static int cpu_add_rmsnorm(void *dev, long row0, long rows, int d, void *h, const void *y,
                           ab_tok_type ty, const void *w, ab_tok_type tw, float eps, void *x,
                           ab_tok_type tx, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    float *hf = h;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long r = 0; r < rows; r++) {
        float *hr = hf + (size_t)(row0 + r) * (size_t)d;
        size_t yo = (size_t)(row0 + r) * (size_t)d, xo = (size_t)r * (size_t)d;
        float ss = 0.0f;
        if (y) {
            for (int j = 0; j < d; j++) {
                float v = hr[j] + ld(y, ty, yo + (size_t)j);
                hr[j] = v;
                ss += v * v;
            }
        } else {
            for (int j = 0; j < d; j++)
                ss += hr[j] * hr[j];
        }
        float inv = 1.0f / sqrtf(ss / (float)d + eps);
        for (int j = 0; j < d; j++)
            st(x, tx, xo + (size_t)j, hr[j] * inv * ld(w, tw, (size_t)j));
    }
    return 0;
}

static int cpu_rope_scatter(void *dev, const ab_tok_rope *r, const void *qkv, void *q, void *k,
                            void *v, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    const int H = r->heads, G = r->kv_heads, Dh = r->head_dim, half = Dh / 2;
    const size_t row = (size_t)(H + 2 * G) * (size_t)Dh;
    const long T = (long)r->batch * r->seq;
    double freq[256]; /* half <= 256: ab_tok_model_new (step.c) refuses larger heads */
    for (int i = 0; i < half; i++)
        freq[i] = pow(AB_TOK_ROPE_THETA, -2.0 * i / Dh);
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long t = 0; t < T; t++) {
        const long b = t / r->seq, s = t % r->seq, pos = r->pos0 + s;
        float cs[256], sn[256];
        for (int i = 0; i < half; i++) {
            double ang = (double)pos * freq[i];
            cs[i] = (float)cos(ang);
            sn[i] = (float)sin(ang);
        }
        const size_t in = (size_t)t * row;
        for (int hh = 0; hh < H + 2 * G; hh++) {
            const size_t src = in + (size_t)hh * (size_t)Dh;
            void *dst;
            size_t off;
            if (hh < H) {
                dst = q;
                off = (((size_t)b * H + (size_t)hh) * (size_t)r->seq + (size_t)s) * (size_t)Dh;
            } else {
                int g = hh < H + G ? hh - H : hh - H - G;
                dst = hh < H + G ? k : v;
                off =
                    (((size_t)b * G + (size_t)g) * (size_t)r->cache_len + (size_t)pos) * (size_t)Dh;
            }
            if (hh >= H + G) { /* values: no rotation */
                for (int i = 0; i < Dh; i++)
                    st(dst, r->out_type, off + (size_t)i, ld(qkv, r->qkv_type, src + (size_t)i));
                continue;
            }
            for (int i = 0; i < half; i++) {
                float x0 = ld(qkv, r->qkv_type, src + (size_t)i);
                float x1 = ld(qkv, r->qkv_type, src + (size_t)(i + half));
                st(dst, r->out_type, off + (size_t)i, x0 * cs[i] - x1 * sn[i]);
                st(dst, r->out_type, off + (size_t)(i + half), x0 * sn[i] + x1 * cs[i]);
            }
        }
    }
    return 0;
}

static int cpu_gather_heads(void *dev, int batch, int seq, int heads, int head_dim, const void *o,
                            ab_tok_type to, void *x, ab_tok_type tx, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    const long T = (long)batch * seq;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long t = 0; t < T; t++) {
        const long b = t / seq, s = t % seq;
        for (int hh = 0; hh < heads; hh++) {
            size_t src = (((size_t)b * (size_t)heads + (size_t)hh) * (size_t)seq + (size_t)s) *
                         (size_t)head_dim;
            size_t dst = ((size_t)t * (size_t)heads + (size_t)hh) * (size_t)head_dim;
            for (int i = 0; i < head_dim; i++)
                st(x, tx, dst + (size_t)i, ld(o, to, src + (size_t)i));
        }
    }
    return 0;
}

static int cpu_swiglu(void *dev, long rows, int f, const void *gu, ab_tok_type tg, void *a,
                      ab_tok_type ta, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long t = 0; t < rows; t++) {
        size_t in = (size_t)t * 2 * (size_t)f, out = (size_t)t * (size_t)f;
        for (int j = 0; j < f; j++) {
            float g = ld(gu, tg, in + (size_t)j), u = ld(gu, tg, in + (size_t)(f + j));
            st(a, ta, out + (size_t)j, g / (1.0f + expf(-g)) * u);
        }
    }
    return 0;
}

static int cpu_fill(void *dev, void *buf, ab_tok_type t, size_t n, uint64_t seed, float amp,
                    char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
#pragma omp parallel num_threads(cd->threads)
    {
        size_t lo, hi;
        ab_cpu_chunk(n, omp_get_num_threads(), omp_get_thread_num(), 1024, &lo, &hi);
        for (size_t i = lo; i < hi; i++)
            st(buf, t, i, ab_attn_gen(seed, i, amp));
    }
    return 0;
}

static const char *cpu_describe(void *dev)
{
    (void)dev;
    return "OpenMP loops over rows, f32 arithmetic";
}

const ab_tok_ops ab_tokens_cpu = {
    .add_rmsnorm = cpu_add_rmsnorm,
    .rope_scatter = cpu_rope_scatter,
    .gather_heads = cpu_gather_heads,
    .swiglu = cpu_swiglu,
    .fill = cpu_fill,
    .describe = cpu_describe,
};

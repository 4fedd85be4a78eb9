/* SPDX-License-Identifier: MIT */
/*
 * The training step's small kernels on the CPU backend (train.h): OpenMP over rows with the
 * device's pinned team, f32 arithmetic, plain loops the compiler vectorises. The attention
 * forward and backward are in train_attn_cpu.c.
 */
#include "train.h"

#include "../../backends/cpu.h"
#include "../../backends/omp_compat.h"
#include "../../core/ab.h"
#include "../attention/attention.h"
#include "../tokens/tokens.h"
#include "train_cpu.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static int cpu_rmsnorm_fwd(void *dev, long rows, int d, const void *x, const void *w, float eps,
                           void *y, void *rstd, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    const float *xf = x, *wf = w;
    float *yf = y, *rs = rstd;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long r = 0; r < rows; r++) {
        const float *xr = xf + (size_t)r * (size_t)d;
        float *yr = yf + (size_t)r * (size_t)d;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int j = 0; j < d; j++)
            ss += xr[j] * xr[j];
        float inv = 1.0f / sqrtf(ss / (float)d + eps);
        rs[r] = inv;
        for (int j = 0; j < d; j++)
            yr[j] = xr[j] * inv * wf[j];
    }
    return 0;
}

/* y = x r w, r = (mean(x^2) + eps)^-1/2:
 *   dx = r (w dy) - x r^3 / d * sum(x w dy);  dw = sum over rows of dy x r */
static int cpu_rmsnorm_bwd(void *dev, long rows, int d, const void *x, const void *w,
                           const void *rstd, const void *dy, const void *dres, void *dx, void *dw,
                           char *err)
{
    const ab_cpu_dev *cd = dev;
    const float *xf = x, *wf = w, *rs = rstd, *dyf = dy, *dr = dres;
    float *dxf = dx, *dwf = dw;
    float *part = calloc((size_t)cd->threads * (size_t)d, sizeof(float));
    if (!part) return ab_err(err, "cpu: out of memory for the norm's weight gradient");
#pragma omp parallel num_threads(cd->threads)
    {
        float *pw = part + (size_t)omp_get_thread_num() * (size_t)d;
#pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            size_t o = (size_t)r * (size_t)d;
            const float *xr = xf + o, *gr = dyf + o;
            float inv = rs[r], dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int j = 0; j < d; j++)
                dot += xr[j] * wf[j] * gr[j];
            float c = inv * inv * inv * dot / (float)d;
            float *out = dxf + o;
            const float *res = dr ? dr + o : NULL;
            for (int j = 0; j < d; j++) {
                float v = inv * wf[j] * gr[j] - xr[j] * c;
                out[j] = res ? res[j] + v : v;
                pw[j] += gr[j] * xr[j] * inv;
            }
        }
#pragma omp for schedule(static)
        for (int j = 0; j < d; j++) {
            float s = 0.0f;
            for (int t = 0; t < cd->threads; t++)
                s += part[(size_t)t * (size_t)d + (size_t)j];
            dwf[j] += s;
        }
    }
    free(part);
    return 0;
}

static int cpu_rope(void *dev, const ab_train_attn *a, void *qkv, bool inverse, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    const int H = a->heads, G = a->kv_heads, Dh = a->head_dim, half = Dh / 2;
    const size_t row = (size_t)(H + 2 * G) * (size_t)Dh;
    const long T = (long)a->batch * a->seq;
    if (half > AB_TRAIN_MAX_DH / 2)
        return ab_err(err, "cpu: head_dim %d above %d", Dh, AB_TRAIN_MAX_DH);
    double freq[AB_TRAIN_MAX_DH / 2];
    for (int i = 0; i < half; i++)
        freq[i] = pow(AB_TOK_ROPE_THETA, -2.0 * i / Dh);
    float sgn = inverse ? -1.0f : 1.0f;
    float *base = qkv;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long t = 0; t < T; t++) {
        const long pos = t % a->seq;
        float cs[AB_TRAIN_MAX_DH / 2], sn[AB_TRAIN_MAX_DH / 2];
        for (int i = 0; i < half; i++) {
            double ang = (double)pos * freq[i];
            cs[i] = (float)cos(ang);
            sn[i] = sgn * (float)sin(ang);
        }
        for (int hh = 0; hh < H + G; hh++) { /* query and key heads; values are not rotated */
            float *p = base + (size_t)t * row + (size_t)hh * (size_t)Dh;
            for (int i = 0; i < half; i++) {
                float x0 = p[i], x1 = p[i + half];
                p[i] = x0 * cs[i] - x1 * sn[i];
                p[i + half] = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
    return 0;
}

static inline float silu_f(float g, float *sig)
{
    float s = 1.0f / (1.0f + expf(-g));
    *sig = s;
    return g * s;
}

static int cpu_swiglu_fwd(void *dev, long rows, int f, const void *gu, void *act, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    const float *g = gu;
    float *a = act;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long t = 0; t < rows; t++) {
        const float *gr = g + (size_t)t * 2 * (size_t)f;
        float *ar = a + (size_t)t * (size_t)f;
        for (int j = 0; j < f; j++) {
            float s;
            ar[j] = silu_f(gr[j], &s) * gr[f + j];
        }
    }
    return 0;
}

/* a = silu(g) u: da/dg = u s (1 + g (1 - s)), da/du = silu(g) */
static int cpu_swiglu_bwd(void *dev, long rows, int f, const void *gu, const void *dact, void *dgu,
                          char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    const float *g = gu, *da = dact;
    float *dg = dgu;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long t = 0; t < rows; t++) {
        const float *gr = g + (size_t)t * 2 * (size_t)f, *dr = da + (size_t)t * (size_t)f;
        float *out = dg + (size_t)t * 2 * (size_t)f;
        for (int j = 0; j < f; j++) {
            float s, si = silu_f(gr[j], &s);
            out[j] = dr[j] * gr[f + j] * s * (1.0f + gr[j] * (1.0f - s));
            out[f + j] = dr[j] * si;
        }
    }
    return 0;
}

static int cpu_xent(void *dev, long rows, int vocab, void *logits, const void *targets, void *loss,
                    float gscale, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    float *lg = logits, *ls = loss;
    const int32_t *tg = targets;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (long r = 0; r < rows; r++) {
        float *x = lg + (size_t)r * (size_t)vocab;
        float mx = x[0];
        for (int j = 1; j < vocab; j++)
            mx = x[j] > mx ? x[j] : mx;
        int y = tg[r];
        float ly = x[y] - mx, sum = 0.0f; /* the target's logit, before it is overwritten */
        for (int j = 0; j < vocab; j++) {
            x[j] = expf(x[j] - mx);
            sum += x[j];
        }
        ls[r] = logf(sum) - ly;
        float inv = gscale / sum;
        for (int j = 0; j < vocab; j++)
            x[j] *= inv;
        x[y] -= gscale;
    }
    return 0;
}

static int cpu_adamw(void *dev, size_t n, void *w, const void *g, void *m, void *v,
                     const ab_train_adamw *h, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    float *wf = w, *mf = m, *vf = v;
    const float *gf = g;
    const float c1 = 1.0f / (1.0f - powf(h->b1, (float)h->t)),
                c2 = 1.0f / (1.0f - powf(h->b2, (float)h->t));
    const float b1 = h->b1, b2 = h->b2, lr = h->lr, eps = h->eps, wd = h->wd;
#pragma omp parallel for simd num_threads(cd->threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * mf[i] + (1.0f - b1) * gf[i];
        float vi = b2 * vf[i] + (1.0f - b2) * gf[i] * gf[i];
        mf[i] = mi, vf[i] = vi;
        wf[i] -= lr * (mi * c1 / (sqrtf(vi * c2) + eps) + wd * wf[i]);
    }
    return 0;
}

static int cpu_fill(void *dev, void *buf, size_t n, uint64_t seed, float amp, float offset,
                    char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    float *p = buf;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        p[i] = offset + ab_attn_gen(seed, i, amp);
    return 0;
}

static int cpu_zero(void *dev, void *buf, size_t n, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    float *p = buf;
#pragma omp parallel for num_threads(cd->threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        p[i] = 0.0f;
    return 0;
}

/* f32 -> bf16: attention.h's ab_f32_to_bf16 (round to nearest even; a NaN keeps its sign and
 * becomes quiet) */
static int cpu_cast_bf16(void *dev, size_t n, const void *src, void *dst, char *err)
{
    (void)err;
    const ab_cpu_dev *cd = dev;
    const float *s = src;
    uint16_t *d = dst;
#pragma omp parallel for simd num_threads(cd->threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        d[i] = ab_f32_to_bf16(s[i]);
    return 0;
}

static const char *cpu_describe(void *dev)
{
    (void)dev;
    return "OpenMP over rows, f32; attention: flash-style tiles of " AB_STR(
        AB_TRAIN_BQ) " query "
                     "rows x " AB_STR(
                         AB_TRAIN_BK) " keys, backward recomputes the scores from the saved "
                                      "log-sum-exp (one task per sequence and query head)";
}

const ab_train_ops ab_train_cpu = {
    .rmsnorm_fwd = cpu_rmsnorm_fwd,
    .rmsnorm_bwd = cpu_rmsnorm_bwd,
    .rope = cpu_rope,
    .attn_fwd = ab_train_cpu_attn_fwd,
    .attn_bwd = ab_train_cpu_attn_bwd,
    .attn_bwd_work = ab_train_cpu_attn_bwd_work,
    .swiglu_fwd = cpu_swiglu_fwd,
    .swiglu_bwd = cpu_swiglu_bwd,
    .xent = cpu_xent,
    .adamw = cpu_adamw,
    .fill = cpu_fill,
    .zero = cpu_zero,
    .describe = cpu_describe,
    .cast_bf16 = cpu_cast_bf16,
};

/* SPDX-License-Identifier: MIT */
/*
 * The training step's small kernels on CUDA and HIP (train.h), one source
 * (backends/gpu/gpu_port.h); train_cpu.c is the spec, f32 throughout. The attention forward and
 * backward are in train_attn_gpu.cu. Every call but fill only enqueues on the device's stream.
 *
 * rmsnorm      forward and dx a block per row, the sums by warp shuffles then one word per warp
 *              in shared memory (the width read at run time: warps of 32, wavefronts of 64); the
 *              weight gradient a block per 32 columns, 8 row lanes summed in shared memory (a
 *              fixed order: no atomics, the same bits every run)
 * rope         a thread per (pair, token) over the token's query and key heads; the angle and
 *              its sine and cosine in double as the CPU computes them, rounded to f32 once
 * xent         a block per row: one pass for the running (max, sum of exp) merged by shuffles,
 *              one pass writing gscale (softmax - onehot)
 * swiglu, adamw, cast_bf16, fill  grid-stride loops over a grid of at most 65535 x 16 blocks
 */
#include "../../backends/gpu/gpu_port.h"

#include "../attention/attention.h"
#include "../tokens/tokens.h"
#include "train.h"
#include "train_gpu.cuh"

#include <math.h>
#include <stdint.h>
#include <string.h>

namespace {

constexpr int kBlock = AB_GPU_ELEM_BLOCK; /* threads per block of the element-wise kernels */

#define GRID_STRIDE(i, n)                                                                          \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                       \
         i += (size_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = warpSize / 2; o > 0; o >>= 1)
        v += ab_gpu_shfl_xor(v, o);
    return v;
}

/* The block's sum in every thread; red holds a word per warp (at most 32 warps). The first
 * barrier lets a caller reuse red right after a previous call. */
__device__ float block_sum(float v, float *red)
{
    const int lane = (int)threadIdx.x % warpSize, w = (int)threadIdx.x / warpSize;
    const int nw = ((int)blockDim.x + warpSize - 1) / warpSize;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0)
        red[w] = v;
    __syncthreads();
    float s = 0.0f;
    for (int k = 0; k < nw; k++)
        s += red[k];
    return s;
}

/* ---- RMSNorm ---- */
__global__ void __launch_bounds__(1024)
    k_rmsnorm_fwd(const float *__restrict__ x, const float *__restrict__ w,
                              float *__restrict__ y, float *__restrict__ rstd, int d, float eps)
{
    __shared__ float red[32];
    const size_t o = (size_t)blockIdx.x * (size_t)d;
    float ss = 0.0f;
    for (int j = (int)threadIdx.x; j < d; j += (int)blockDim.x)
        ss += x[o + j] * x[o + j];
    const float inv = 1.0f / sqrtf(block_sum(ss, red) / (float)d + eps);
    if (threadIdx.x == 0)
        rstd[blockIdx.x] = inv;
    for (int j = (int)threadIdx.x; j < d; j += (int)blockDim.x)
        y[o + j] = x[o + j] * inv * w[j];
}

/* dx = dres + r (w dy) - x r^3 / d * sum(x w dy); dx may alias dres (each element is read and
 * written by one thread) */
__global__ void __launch_bounds__(1024)
    k_rmsnorm_dx(const float *__restrict__ x, const float *__restrict__ w,
                             const float *__restrict__ rstd, const float *__restrict__ dy,
                             const float *dres, float *dx, int d)
{
    __shared__ float red[32];
    const size_t o = (size_t)blockIdx.x * (size_t)d;
    const float inv = rstd[blockIdx.x];
    float dot = 0.0f;
    for (int j = (int)threadIdx.x; j < d; j += (int)blockDim.x)
        dot += x[o + j] * w[j] * dy[o + j];
    const float c = inv * inv * inv * block_sum(dot, red) / (float)d;
    for (int j = (int)threadIdx.x; j < d; j += (int)blockDim.x) {
        const float v = inv * w[j] * dy[o + j] - x[o + j] * c;
        dx[o + j] = dres ? dres[o + j] + v : v;
    }
}

constexpr int kDwCols = 32, kDwLanes = 8;

/* dw[j] += sum over rows of dy x r: block of 32 columns x 8 row lanes */
__global__ void __launch_bounds__(kDwCols *kDwLanes)
    k_rmsnorm_dw(const float *__restrict__ x, const float *__restrict__ rstd,
                 const float *__restrict__ dy, float *__restrict__ dw, long rows, int d)
{
    __shared__ float part[kDwLanes][kDwCols + 1];
    const int tx = (int)threadIdx.x % kDwCols, ty = (int)threadIdx.x / kDwCols;
    const int j = (int)blockIdx.x * kDwCols + tx;
    float s = 0.0f;
    if (j < d)
        for (long r = ty; r < rows; r += kDwLanes)
            s += dy[(size_t)r * d + j] * x[(size_t)r * d + j] * rstd[r];
    part[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && j < d) {
        float t = 0.0f;
        for (int k = 0; k < kDwLanes; k++)
            t += part[k][tx];
        dw[j] += t;
    }
}

/* ---- RoPE in place on the query and key heads: a thread per (pair i, token t) ---- */
__global__ void k_rope(float *qkv, int seq, int nheads, int rot_heads, int dh, float sgn,
                       size_t total)
{
    const int half = dh / 2;
    GRID_STRIDE(idx, total)
    {
        const int i = (int)(idx % (size_t)half);
        const size_t t = idx / (size_t)half;
        const long pos = (long)(t % (size_t)seq);
        double sn, cs;
        sincos((double)pos * pow(AB_TOK_ROPE_THETA, -2.0 * i / dh), &sn, &cs);
        const float c = (float)cs, s = sgn * (float)sn;
        float *p = qkv + t * (size_t)nheads * dh;
        for (int hh = 0; hh < rot_heads; hh++, p += dh) {
            const float x0 = p[i], x1 = p[i + half];
            p[i] = x0 * c - x1 * s;
            p[i + half] = x0 * s + x1 * c;
        }
    }
}

/* ---- SwiGLU: a = silu(g) u; da/dg = u s (1 + g (1 - s)), da/du = silu(g) ---- */
__global__ void k_swiglu_fwd(const float *__restrict__ gu, float *__restrict__ act, int f,
                             size_t total)
{
    GRID_STRIDE(idx, total)
    {
        const size_t j = idx % (size_t)f, in = idx / (size_t)f * 2 * (size_t)f + j;
        const float g = gu[in], s = 1.0f / (1.0f + expf(-g));
        act[idx] = g * s * gu[in + (size_t)f];
    }
}

__global__ void k_swiglu_bwd(const float *__restrict__ gu, const float *__restrict__ dact,
                             float *__restrict__ dgu, int f, size_t total)
{
    GRID_STRIDE(idx, total)
    {
        const size_t j = idx % (size_t)f, in = idx / (size_t)f * 2 * (size_t)f + j;
        const float g = gu[in], u = gu[in + (size_t)f], da = dact[idx];
        const float s = 1.0f / (1.0f + expf(-g));
        dgu[in] = da * u * s * (1.0f + g * (1.0f - s));
        dgu[in + (size_t)f] = da * g * s;
    }
}

/* ---- softmax cross-entropy: a block per row ---- */

/* (m, s) <- the merge of two running (max, sum of exp(x - max)); (-inf, 0) is empty */
__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2)
{
    if (m2 == -INFINITY)
        return;
    if (m == -INFINITY) {
        m = m2, s = s2;
        return;
    }
    const float mx = fmaxf(m, m2);
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

__global__ void __launch_bounds__(1024)
    k_xent(float *__restrict__ logits, const int32_t *__restrict__ targets,
                       float *__restrict__ loss, int vocab, float gscale)
{
    __shared__ float rm[32], rs[32];
    float *x = logits + (size_t)blockIdx.x * (size_t)vocab;
    const int y = targets[blockIdx.x];
    const bool yok = y >= 0 && y < vocab;
    const float xy = yok ? x[y] : 0.0f; /* read by all before the barriers below, then written */
    float m = -INFINITY, s = 0.0f;
    for (int j = (int)threadIdx.x; j < vocab; j += (int)blockDim.x) {
        const float v = x[j];
        if (v > m) {
            s = (m == -INFINITY ? 0.0f : s * expf(m - v)) + 1.0f;
            m = v;
        } else {
            s += expf(v - m);
        }
    }
    for (int o = warpSize / 2; o > 0; o >>= 1)
        lse_merge(m, s, ab_gpu_shfl_xor(m, o), ab_gpu_shfl_xor(s, o));
    const int lane = (int)threadIdx.x % warpSize, w = (int)threadIdx.x / warpSize;
    const int nw = ((int)blockDim.x + warpSize - 1) / warpSize;
    if (lane == 0)
        rm[w] = m, rs[w] = s;
    __syncthreads();
    m = -INFINITY, s = 0.0f;
    for (int k = 0; k < nw; k++)
        lse_merge(m, s, rm[k], rs[k]);
    if (threadIdx.x == 0)
        loss[blockIdx.x] = yok ? logf(s) - (xy - m) : NAN;
    const float inv = gscale / s;
    for (int j = (int)threadIdx.x; j < vocab; j += (int)blockDim.x)
        x[j] = expf(x[j] - m) * inv - (j == y ? gscale : 0.0f);
}

/* ---- AdamW: c1, c2 the bias corrections 1 / (1 - b^t) ---- */
struct adamw_t {
    float lr, b1, b2, eps, wd, c1, c2;
};

__global__ void k_adamw(float *__restrict__ w, const float *__restrict__ g, float *__restrict__ m,
                        float *__restrict__ v, size_t n, adamw_t h)
{
    GRID_STRIDE(i, n)
    {
        const float gi = g[i];
        const float mi = h.b1 * m[i] + (1.0f - h.b1) * gi;
        const float vi = h.b2 * v[i] + (1.0f - h.b2) * gi * gi;
        m[i] = mi, v[i] = vi;
        w[i] -= h.lr * (mi * h.c1 / (sqrtf(vi * h.c2) + h.eps) + h.wd * w[i]);
    }
}

/* ---- fill (offset + attention.h's pattern, the host's bits) and the bf16 cast ---- */
__global__ void k_fill(float *buf, size_t n, uint64_t seed, float amp, float offset)
{
    GRID_STRIDE(i, n)
    buf[i] = offset + ab_attn_gen(seed, i, amp);
}

__global__ void k_cast_bf16(const float *__restrict__ src, uint16_t *__restrict__ dst, size_t n)
{
    GRID_STRIDE(i, n)
    dst[i] = ab_f32_to_bf16(src[i]);
}

/* ------------------------------------------------------------------------------------------ */
/* host side                                                                                   */

/* threads per row-block: 256, 1024 from 4096 columns on (a Llama hidden row, a vocab row) */
unsigned row_threads(long cols)
{
    return cols >= 4096 ? 1024u : 256u;
}

int bad_rows(long rows, long cols, const char *what, char *err)
{
    if (rows < 0 || cols < 1 || rows > 0x7fffffffL)
        return gpu_fail(err, AB_GPU_NAME ": train %s: bad shape (rows %ld, columns %ld)", what,
                        rows, cols);
    return 0;
}

int gpu_rmsnorm_fwd(void *dev, long rows, int d, const void *x, const void *w, float eps, void *y,
                    void *rstd, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (bad_rows(rows, d, "rmsnorm", err))
        return -1;
    if (rows == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_rmsnorm_fwd<<<(unsigned)rows, row_threads(d), 0, gd->stream>>>(
        (const float *)x, (const float *)w, (float *)y, (float *)rstd, d, eps);
    GPU_TRY(gpuGetLastError(), "launch train rmsnorm forward");
    return 0;
}

int gpu_rmsnorm_bwd(void *dev, long rows, int d, const void *x, const void *w, const void *rstd,
                    const void *dy, const void *dres, void *dx, void *dw, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (bad_rows(rows, d, "rmsnorm backward", err))
        return -1;
    if (rows == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    const float *xf = (const float *)x, *rf = (const float *)rstd, *dyf = (const float *)dy;
    k_rmsnorm_dw<<<(unsigned)((d + kDwCols - 1) / kDwCols), kDwCols * kDwLanes, 0, gd->stream>>>(
        xf, rf, dyf, (float *)dw, rows, d);
    GPU_TRY(gpuGetLastError(), "launch train rmsnorm dw");
    k_rmsnorm_dx<<<(unsigned)rows, row_threads(d), 0, gd->stream>>>(
        xf, (const float *)w, rf, dyf, (const float *)dres, (float *)dx, d);
    GPU_TRY(gpuGetLastError(), "launch train rmsnorm dx");
    return 0;
}

int gpu_rope(void *dev, const ab_train_attn *a, void *qkv, bool inverse, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (ab_train_gpu_attn_check(a, err) != 0)
        return -1;
    const size_t total = (size_t)a->batch * (size_t)a->seq * (size_t)(a->head_dim / 2);
    if (total == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_rope<<<ab_gpu_blocks_for(total), kBlock, 0, gd->stream>>>(
        (float *)qkv, a->seq, a->heads + 2 * a->kv_heads, a->heads + a->kv_heads, a->head_dim,
        inverse ? -1.0f : 1.0f, total);
    GPU_TRY(gpuGetLastError(), "launch train rope");
    return 0;
}

int gpu_swiglu_fwd(void *dev, long rows, int f, const void *gu, void *act, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (bad_rows(rows, f, "swiglu", err))
        return -1;
    const size_t total = (size_t)rows * (size_t)f;
    if (total == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_swiglu_fwd<<<ab_gpu_blocks_for(total), kBlock, 0, gd->stream>>>((const float *)gu, (float *)act,
                                                                f, total);
    GPU_TRY(gpuGetLastError(), "launch train swiglu");
    return 0;
}

int gpu_swiglu_bwd(void *dev, long rows, int f, const void *gu, const void *dact, void *dgu,
                   char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (bad_rows(rows, f, "swiglu backward", err))
        return -1;
    const size_t total = (size_t)rows * (size_t)f;
    if (total == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_swiglu_bwd<<<ab_gpu_blocks_for(total), kBlock, 0, gd->stream>>>(
        (const float *)gu, (const float *)dact, (float *)dgu, f, total);
    GPU_TRY(gpuGetLastError(), "launch train swiglu backward");
    return 0;
}

int gpu_xent(void *dev, long rows, int vocab, void *logits, const void *targets, void *loss,
             float gscale, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (bad_rows(rows, vocab, "cross-entropy", err))
        return -1;
    if (rows == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_xent<<<(unsigned)rows, row_threads(vocab), 0, gd->stream>>>(
        (float *)logits, (const int32_t *)targets, (float *)loss, vocab, gscale);
    GPU_TRY(gpuGetLastError(), "launch train cross-entropy");
    return 0;
}

int gpu_adamw(void *dev, size_t n, void *w, const void *g, void *m, void *v,
              const ab_train_adamw *h, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (h->t < 1)
        return gpu_fail(err, AB_GPU_NAME ": train adamw: step %ld (from 1)", h->t);
    if (n == 0)
        return 0;
    adamw_t a;
    a.lr = h->lr, a.b1 = h->b1, a.b2 = h->b2, a.eps = h->eps, a.wd = h->wd;
    /* the bias corrections as the CPU kernel computes them (f32 powf) */
    a.c1 = 1.0f / (1.0f - powf(h->b1, (float)h->t));
    a.c2 = 1.0f / (1.0f - powf(h->b2, (float)h->t));
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_adamw<<<ab_gpu_blocks_for(n), kBlock, 0, gd->stream>>>((float *)w, (const float *)g, (float *)m,
                                                       (float *)v, n, a);
    GPU_TRY(gpuGetLastError(), "launch train adamw");
    return 0;
}

int gpu_fill(void *dev, void *buf, size_t n, uint64_t seed, float amp, float offset, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (n == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_fill<<<ab_gpu_blocks_for(n), kBlock, 0, gd->stream>>>((float *)buf, n, seed, amp, offset);
    GPU_TRY(gpuGetLastError(), "launch train fill");
    GPU_TRY(gpuStreamSynchronize(gd->stream), "train fill");
    return 0;
}

int gpu_zero(void *dev, void *buf, size_t n, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (n == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    GPU_TRY(gpuMemsetAsync(buf, 0, n * sizeof(float), gd->stream), "train zero");
    return 0;
}

int gpu_cast_bf16(void *dev, size_t n, const void *src, void *dst, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (n == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_cast_bf16<<<ab_gpu_blocks_for(n), kBlock, 0, gd->stream>>>((const float *)src, (uint16_t *)dst, n);
    GPU_TRY(gpuGetLastError(), "launch train bf16 cast");
    return 0;
}

const char *gpu_describe(void *dev)
{
    (void)dev;
    return AB_GPU_VENDOR_RUNTIME " kernels, f32: attention flash-style (32 query rows x 32-key"
                                 " tiles in shared memory, online softmax, lse per row; backward"
                                 " recomputes P from the lse: dQ per query tile, dK/dV per key"
                                 " tile over the KV head's query heads), RMSNorm and"
                                 " cross-entropy a block per row with warp-shuffle sums,"
                                 " grid-stride element-wise kernels";
}

ab_train_ops make_ops()
{
    ab_train_ops t;
    memset(&t, 0, sizeof(t));
    t.rmsnorm_fwd = gpu_rmsnorm_fwd;
    t.rmsnorm_bwd = gpu_rmsnorm_bwd;
    t.rope = gpu_rope;
    t.attn_fwd = ab_train_gpu_attn_fwd;
    t.attn_bwd = ab_train_gpu_attn_bwd;
    t.attn_bwd_work = ab_train_gpu_attn_bwd_work;
    t.swiglu_fwd = gpu_swiglu_fwd;
    t.swiglu_bwd = gpu_swiglu_bwd;
    t.xent = gpu_xent;
    t.adamw = gpu_adamw;
    t.fill = gpu_fill;
    t.zero = gpu_zero;
    t.describe = gpu_describe;
    t.cast_bf16 = gpu_cast_bf16;
    return t;
}

} // namespace

extern const ab_train_ops ab_train_gpu = make_ops();

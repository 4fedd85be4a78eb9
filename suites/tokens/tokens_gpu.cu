/* SPDX-License-Identifier: MIT */
/*
 * The decoder's small kernels (tokens.h) on CUDA and HIP, one source (backends/gpu/gpu_port.h);
 * tokens_cpu.c is the spec. Every call but fill only enqueues on the device's stream.
 *
 * Element types are run-time arguments (0 = f32, 1 = bf16 as ab_tok_type), uniform over a
 * launch, so one kernel serves every mix; bf16 is plain uint16_t bits, stored with the round to
 * nearest even of ab_f32_to_bf16 (the bits do not depend on the vendor's bf16 headers).
 *
 * add_rmsnorm   one block per row (256 threads, 1024 from d = 4096 on), a shared-memory tree:
 *               no warp shuffles, so nothing depends on warp 32 vs wavefront 64
 * rope_scatter  a thread per (pair, head, token); angle in f32 (see k_rope_scatter)
 * gather_heads  a thread per element
 * swiglu        a thread per output element
 * The element-wise kernels are grid-stride loops over a grid of at most 65535 x 16 blocks.
 */
#include "../../backends/gpu/gpu_port.h"

#include "../attention/attention.h"
#include "tokens.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

namespace {

constexpr int kBlock = AB_GPU_ELEM_BLOCK; /* threads per block of the element-wise kernels */

/* ---- element access ---- */

__device__ __forceinline__ float ld(const void *p, int t, size_t i)
{
    if (t)
        return ab_bf16_to_f32(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}

__device__ __forceinline__ void st(void *p, int t, size_t i, float v)
{
    if (t)
        ((uint16_t *)p)[i] = ab_f32_to_bf16(v);
    else
        ((float *)p)[i] = v;
}

/* ---- the test pattern (attention.h: ab_attn_gen), bit-identical to the host's ---- */
__global__ void k_fill(void *buf, int t, size_t n, uint64_t seed, float amp)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        st(buf, t, i, ab_attn_gen(seed, i, amp));
    }
}

/* ---- residual add + RMSNorm: block r handles row row0 + r of h and writes row r of x ----
 * Each thread strides over the row (columns tid, tid + BS, ...) and so reads back only the h
 * values it wrote itself; y is NULL when there is nothing to add. */
template <int BS>
__global__ void __launch_bounds__(BS)
    k_add_rmsnorm(float *__restrict__ h, const void *__restrict__ y, int ty,
                  const void *__restrict__ w, int tw, void *__restrict__ x, int tx, long row0,
                  int d, float eps)
{
    __shared__ float red[BS];
    const int tid = (int)threadIdx.x;
    const size_t r = blockIdx.x;
    const size_t base = (size_t)(row0 + (long)r) * (size_t)d, xo = r * (size_t)d;
    float ss = 0.0f;
    if (y) {
        for (int j = tid; j < d; j += BS) {
            float v = h[base + j] + ld(y, ty, base + j);
            h[base + j] = v;
            ss += v * v;
        }
    } else {
        for (int j = tid; j < d; j += BS) {
            float v = h[base + j];
            ss += v * v;
        }
    }
    red[tid] = ss;
    __syncthreads();
    for (int s = BS / 2; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] += red[tid + s];
        __syncthreads();
    }
    const float inv = 1.0f / sqrtf(red[0] / (float)d + eps);
    for (int j = tid; j < d; j += BS)
        st(x, tx, xo + j, h[base + j] * inv * ld(w, tw, (size_t)j));
}

struct rope_t {
    int seq, heads, kv_heads, head_dim;
    long pos0, cache_len;
    float log2theta_over_dh;
};

/* ---- RoPE + scatter: a thread per (pair i, head hh of the H + 2G in a qkv row, token t) ----
 * Query and key heads rotate pair (i, i + Dh/2) by pos * theta^(-2i/Dh); value heads are copied.
 * The angle is f32, pos * exp2f(-2i * log2(theta)/Dh) with log2(theta)/Dh from the host in
 * double and rounded once; its rounding (about 1e-7 * pos radians) is what the suite's
 * validation tolerance covers against the CPU's double angles. */
__global__ void k_rope_scatter(const void *__restrict__ qkv, int tq, void *__restrict__ q,
                               void *__restrict__ k, void *__restrict__ v, int to, rope_t r,
                               size_t total)
{
    const int nh = r.head_dim / 2, nheads = r.heads + 2 * r.kv_heads;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        const int i = (int)(idx % (size_t)nh);
        const size_t rest = idx / (size_t)nh;
        const int hh = (int)(rest % (size_t)nheads);
        const size_t t = rest / (size_t)nheads;
        const size_t b = t / (size_t)r.seq, s = t % (size_t)r.seq;
        const long pos = r.pos0 + (long)s;
        const size_t src = (t * (size_t)nheads + (size_t)hh) * (size_t)r.head_dim;
        const float x0 = ld(qkv, tq, src + (size_t)i), x1 = ld(qkv, tq, src + (size_t)(i + nh));
        void *dst;
        size_t off;
        if (hh < r.heads) {
            dst = q;
            off = ((b * (size_t)r.heads + (size_t)hh) * (size_t)r.seq + s) * (size_t)r.head_dim;
        } else {
            const int g = hh < r.heads + r.kv_heads ? hh - r.heads : hh - r.heads - r.kv_heads;
            dst = hh < r.heads + r.kv_heads ? k : v;
            off = ((b * (size_t)r.kv_heads + (size_t)g) * (size_t)r.cache_len + (size_t)pos) *
                  (size_t)r.head_dim;
        }
        float y0 = x0, y1 = x1;
        if (hh < r.heads + r.kv_heads) {
            const float ang = (float)pos * exp2f(-(float)(2 * i) * r.log2theta_over_dh);
            float sn, cs;
            sincosf(ang, &sn, &cs);
            y0 = x0 * cs - x1 * sn;
            y1 = x0 * sn + x1 * cs;
        }
        st(dst, to, off + (size_t)i, y0);
        st(dst, to, off + (size_t)(i + nh), y1);
    }
}

/* ---- head gather: o [B][H][seq][Dh] -> x [B*seq][H*Dh], a thread per element of x ---- */
__global__ void k_gather_heads(const void *__restrict__ o, int to, void *__restrict__ x, int tx,
                               int seq, int heads, int head_dim, size_t total)
{
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        const size_t i = idx % (size_t)head_dim, rest = idx / (size_t)head_dim;
        const size_t hh = rest % (size_t)heads, t = rest / (size_t)heads;
        const size_t b = t / (size_t)seq, s = t % (size_t)seq;
        const size_t src = ((b * (size_t)heads + hh) * (size_t)seq + s) * (size_t)head_dim + i;
        st(x, tx, idx, ld(o, to, src));
    }
}

/* ---- SwiGLU: a[t][j] = silu(gu[t][j]) * gu[t][f + j], a thread per element of a ---- */
__global__ void k_swiglu(const void *__restrict__ gu, int tg, void *__restrict__ a, int ta, int f,
                         size_t total)
{
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        const size_t j = idx % (size_t)f, t = idx / (size_t)f;
        const size_t in = t * 2 * (size_t)f + j;
        const float g = ld(gu, tg, in), u = ld(gu, tg, in + (size_t)f);
        st(a, ta, idx, g / (1.0f + expf(-g)) * u);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* host side                                                                                   */

int check_type(ab_tok_type t, const char *what, char *err)
{
    if (t != AB_TT_F32 && t != AB_TT_BF16)
        return gpu_fail(err, AB_GPU_NAME ": tokens: %s: unknown element type %d", what, (int)t);
    return 0;
}

int gpu_add_rmsnorm(void *dev, long row0, long rows, int d, void *h, const void *y,
                    ab_tok_type ty, const void *w, ab_tok_type tw, float eps, void *x,
                    ab_tok_type tx, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (row0 < 0 || rows < 0 || d < 1 || rows > 0x7fffffffL)
        return gpu_fail(err, AB_GPU_NAME ": add_rmsnorm: bad shape (row0 %ld, rows %ld, d %d)",
                        row0, rows, d);
    if (check_type(ty, "add_rmsnorm y", err) || check_type(tw, "add_rmsnorm w", err) ||
        check_type(tx, "add_rmsnorm x", err))
        return -1;
    if (rows == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    if (d >= 4096)
        k_add_rmsnorm<1024><<<(unsigned)rows, 1024, 0, gd->stream>>>(
            (float *)h, y, (int)ty, w, (int)tw, x, (int)tx, row0, d, eps);
    else
        k_add_rmsnorm<256><<<(unsigned)rows, 256, 0, gd->stream>>>(
            (float *)h, y, (int)ty, w, (int)tw, x, (int)tx, row0, d, eps);
    GPU_TRY(gpuGetLastError(), "launch add_rmsnorm");
    return 0;
}

int gpu_rope_scatter(void *dev, const ab_tok_rope *r, const void *qkv, void *q, void *k, void *v,
                     char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (r->batch < 0 || r->seq < 0 || r->heads < 1 || r->kv_heads < 1 || r->head_dim < 2 ||
        r->head_dim % 2 || r->pos0 < 0 || r->cache_len < r->pos0 + r->seq)
        return gpu_fail(err,
                        AB_GPU_NAME ": rope_scatter: bad shape (batch %d, seq %d, heads %d/%d,"
                                    " head_dim %d, pos0 %ld, cache_len %ld)",
                        r->batch, r->seq, r->heads, r->kv_heads, r->head_dim, r->pos0,
                        r->cache_len);
    if (check_type(r->qkv_type, "rope_scatter qkv", err) ||
        check_type(r->out_type, "rope_scatter out", err))
        return -1;
    if (r->batch == 0 || r->seq == 0)
        return 0;
    rope_t a;
    a.seq = r->seq;
    a.heads = r->heads;
    a.kv_heads = r->kv_heads;
    a.head_dim = r->head_dim;
    a.pos0 = r->pos0;
    a.cache_len = r->cache_len;
    /* theta^(-2i/Dh) = exp2(-2i * log2(theta)/Dh): the constant in double, rounded once */
    a.log2theta_over_dh = (float)(log2(AB_TOK_ROPE_THETA) / r->head_dim);
    size_t total = (size_t)r->batch * (size_t)r->seq * ((size_t)r->heads + 2 * (size_t)r->kv_heads) *
                   (size_t)(r->head_dim / 2);
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_rope_scatter<<<ab_gpu_blocks_for(total), kBlock, 0, gd->stream>>>(qkv, (int)r->qkv_type, q, k, v,
                                                                 (int)r->out_type, a, total);
    GPU_TRY(gpuGetLastError(), "launch rope_scatter");
    return 0;
}

int gpu_gather_heads(void *dev, int batch, int seq, int heads, int head_dim, const void *o,
                     ab_tok_type to, void *x, ab_tok_type tx, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (batch < 0 || seq < 0 || heads < 0 || head_dim < 0)
        return gpu_fail(err, AB_GPU_NAME ": gather_heads: bad shape");
    if (check_type(to, "gather_heads o", err) || check_type(tx, "gather_heads x", err))
        return -1;
    size_t total = (size_t)batch * (size_t)seq * (size_t)heads * (size_t)head_dim;
    if (total == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_gather_heads<<<ab_gpu_blocks_for(total), kBlock, 0, gd->stream>>>(o, (int)to, x, (int)tx, seq,
                                                                 heads, head_dim, total);
    GPU_TRY(gpuGetLastError(), "launch gather_heads");
    return 0;
}

int gpu_swiglu(void *dev, long rows, int f, const void *gu, ab_tok_type tg, void *a,
               ab_tok_type ta, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (rows < 0 || f < 0)
        return gpu_fail(err, AB_GPU_NAME ": swiglu: bad shape (rows %ld, f %d)", rows, f);
    if (check_type(tg, "swiglu gate_up", err) || check_type(ta, "swiglu a", err))
        return -1;
    size_t total = (size_t)rows * (size_t)f;
    if (total == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_swiglu<<<ab_gpu_blocks_for(total), kBlock, 0, gd->stream>>>(gu, (int)tg, a, (int)ta, f, total);
    GPU_TRY(gpuGetLastError(), "launch swiglu");
    return 0;
}

int gpu_fill(void *dev, void *buf, ab_tok_type t, size_t n, uint64_t seed, float amp, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (check_type(t, "fill", err))
        return -1;
    if (n == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    k_fill<<<ab_gpu_blocks_for(n), kBlock, 0, gd->stream>>>(buf, (int)t, n, seed, amp);
    GPU_TRY(gpuGetLastError(), "launch fill");
    GPU_TRY(gpuStreamSynchronize(gd->stream), "fill");
    return 0;
}

const char *gpu_describe(void *dev)
{
    (void)dev;
    return "RMSNorm a block per row (shared-memory tree), a thread per RoPE pair and per element"
           " elsewhere, f32 arithmetic";
}

ab_tok_ops make_ops()
{
    ab_tok_ops m;
    memset(&m, 0, sizeof(m));
    m.add_rmsnorm = gpu_add_rmsnorm;
    m.rope_scatter = gpu_rope_scatter;
    m.gather_heads = gpu_gather_heads;
    m.swiglu = gpu_swiglu;
    m.fill = gpu_fill;
    m.describe = gpu_describe;
    return m;
}

} // namespace

extern const ab_tok_ops ab_tokens_gpu = make_ops();

/* SPDX-License-Identifier: MIT */
/*
 * attention on CUDA and HIP (one source, see backends/gpu/gpu_port.h).
 *
 * naive   k_scores (32×32 tiles through shared memory, f32 accumulate) writes the scores as
 *         f32 to the workspace; k_softmax (a block per row) normalises them in place;
 *         k_pv (the same tiling) writes O. The baseline: three kernels and an s_q×s_kv matrix
 *         through memory.
 * fused   prefill, bf16/f16 on NVIDIA sm_80+: attention_mma.cuh, FlashAttention-2's algorithm
 *         on mma.sync tensor cores (64 query rows per block, 64-key tiles, online softmax in
 *         registers). Prefill in f32, and every type on HIP: k_flash_simt, the same loop on
 *         the SIMT units (4 threads per query row, K/V tiles in shared memory as f32).
 *         decode: k_decode (split-KV: a block per (cache chunk, KV head, sequence), all query
 *         heads of the KV head together, 128 keys per step) + k_combine.
 * vendor  cuDNN's fused SDPA through the backend API, loaded with dlopen (attention_cudnn.cuh);
 *         CUDA only.
 *
 * Element types travel as their bits (uint16_t for bf16/f16) and are converted with the same
 * round-to-nearest-even as the host, so the kernels compile unchanged for both vendors.
 */
#include "../../backends/gpu/gpu_port.h"

#include "attention.h"

#ifdef AB_GPU_HIP
#include <hip/hip_fp16.h>
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

namespace {

constexpr float kLog2e = 1.4426950408889634f;

/* ---- element types ---- */
struct bf16_t {
    uint16_t u;
};
struct f16_t {
    uint16_t u;
};

__device__ __forceinline__ float to_f32(float x)
{
    return x;
}
__device__ __forceinline__ float to_f32(bf16_t x)
{
    return __uint_as_float((uint32_t)x.u << 16);
}
__device__ __forceinline__ float to_f32(f16_t x)
{
    return __half2float(__ushort_as_half(x.u));
}

template <typename T> __device__ __forceinline__ T from_f32(float f);
template <> __device__ __forceinline__ float from_f32<float>(float f)
{
    return f;
}
template <> __device__ __forceinline__ bf16_t from_f32<bf16_t>(float f)
{
    bf16_t r;
    r.u = ab_f32_to_bf16(f);
    return r;
}
template <> __device__ __forceinline__ f16_t from_f32<f16_t>(float f)
{
    f16_t r;
    r.u = __half_as_ushort(__float2half_rn(f));
    return r;
}

__device__ __forceinline__ float shfl_xor(float v, int mask, int width)
{
#ifdef AB_GPU_HIP
    return __shfl_xor(v, mask, width);
#else
    return __shfl_xor_sync(0xffffffffu, v, mask, width);
#endif
}

/* ---- the test pattern (attention.h), bit-identical to the host ---- */
template <typename T> __global__ void k_fill(T *buf, size_t n, uint64_t seed, float amp)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        buf[i] = from_f32<T>(ab_attn_gen(seed, i, amp));
    }
}

struct shape_t {
    int heads, kv_heads, head_dim, group;
    long sq, skv, off;
    int causal;
    float scale;
};

shape_t make_shape(const ab_attn_shape *s)
{
    shape_t r;
    r.heads = s->heads;
    r.kv_heads = s->kv_heads;
    r.head_dim = s->head_dim;
    r.group = s->heads / s->kv_heads;
    r.sq = s->q_len;
    r.skv = s->kv_len;
    r.off = s->kv_len - s->q_len;
    r.causal = s->causal;
    r.scale = s->scale;
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* naive                                                                                       */

constexpr int NT = 32; /* naive tile edge; blocks of 32×8 threads, 4 outputs per thread */

/* S[bh][i][j] = scale·Σ_c Q[i][c]·K[j][c] */
template <typename T>
__global__ void __launch_bounds__(256) k_scores(const T *Q, const T *K, float *S, shape_t s)
{
    __shared__ float qs[NT][NT + 1], ks[NT][NT + 1];
    int tx = threadIdx.x, ty = threadIdx.y; /* 32 × 8 */
    long i0 = (long)blockIdx.y * NT, j0 = (long)blockIdx.x * NT;
    int bh = blockIdx.z, b = bh / s.heads, kvh = (bh % s.heads) / s.group;
    const T *q = Q + (size_t)bh * s.sq * s.head_dim;
    const T *k = K + ((size_t)b * s.kv_heads + kvh) * s.skv * s.head_dim;
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
    for (int c0 = 0; c0 < s.head_dim; c0 += NT) {
        for (int r = ty; r < NT; r += 8) {
            int c = c0 + tx;
            qs[r][tx] = i0 + r < s.sq && c < s.head_dim ? to_f32(q[(size_t)(i0 + r) * s.head_dim + c])
                                                       : 0.f;
            ks[r][tx] = j0 + r < s.skv && c < s.head_dim
                            ? to_f32(k[(size_t)(j0 + r) * s.head_dim + c])
                            : 0.f;
        }
        __syncthreads();
        for (int c = 0; c < NT; c++) {
            float kv = ks[tx][c];
#pragma unroll
            for (int u = 0; u < 4; u++)
                acc[u] += qs[ty + 8 * u][c] * kv;
        }
        __syncthreads();
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
        long i = i0 + ty + 8 * u, j = j0 + tx;
        if (i < s.sq && j < s.skv)
            S[((size_t)bh * s.sq + i) * s.skv + j] = acc[u] * s.scale;
    }
}

/* one block per row: max, exp, sum, normalise; masked keys get 0 */
__global__ void __launch_bounds__(256) k_softmax(float *S, shape_t s)
{
    __shared__ float red[256];
    size_t row = blockIdx.x;
    long i = (long)(row % (size_t)s.sq);
    float *r = S + row * s.skv;
    long n = s.skv;
    if (s.causal) {
        long lim = i + s.off + 1;
        n = lim < n ? (lim > 0 ? lim : 0) : n;
    }
    int t = threadIdx.x;
    float mx = -INFINITY;
    for (long j = t; j < n; j += blockDim.x)
        mx = fmaxf(mx, r[j]);
    red[t] = mx;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if (t < o)
            red[t] = fmaxf(red[t], red[t + o]);
        __syncthreads();
    }
    mx = red[0];
    __syncthreads();
    float sum = 0.f;
    for (long j = t; j < n; j += blockDim.x) {
        float p = expf(r[j] - mx);
        r[j] = p;
        sum += p;
    }
    red[t] = sum;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if (t < o)
            red[t] += red[t + o];
        __syncthreads();
    }
    float inv = red[0] > 0.f ? 1.f / red[0] : 0.f;
    for (long j = t; j < s.skv; j += blockDim.x)
        r[j] = j < n ? r[j] * inv : 0.f;
}

/* O[bh][i][c] = Σ_j P[i][j]·V[j][c] */
template <typename T>
__global__ void __launch_bounds__(256) k_pv(const float *P, const T *V, T *O, shape_t s)
{
    __shared__ float ps[NT][NT + 1], vs[NT][NT + 1];
    int tx = threadIdx.x, ty = threadIdx.y;
    long i0 = (long)blockIdx.y * NT;
    int c0 = blockIdx.x * NT;
    int bh = blockIdx.z, b = bh / s.heads, kvh = (bh % s.heads) / s.group;
    const float *p = P + (size_t)bh * s.sq * s.skv;
    const T *v = V + ((size_t)b * s.kv_heads + kvh) * s.skv * s.head_dim;
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
    for (long j0 = 0; j0 < s.skv; j0 += NT) {
        for (int r = ty; r < NT; r += 8) {
            ps[r][tx] = i0 + r < s.sq && j0 + tx < s.skv ? p[(size_t)(i0 + r) * s.skv + j0 + tx] : 0.f;
            vs[r][tx] = j0 + r < s.skv && c0 + tx < s.head_dim
                            ? to_f32(v[(size_t)(j0 + r) * s.head_dim + c0 + tx])
                            : 0.f;
        }
        __syncthreads();
        for (int j = 0; j < NT; j++) {
            float vv = vs[j][tx];
#pragma unroll
            for (int u = 0; u < 4; u++)
                acc[u] += ps[ty + 8 * u][j] * vv;
        }
        __syncthreads();
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
        long i = i0 + ty + 8 * u;
        int c = c0 + tx;
        if (i < s.sq && c < s.head_dim)
            O[((size_t)bh * s.sq + i) * s.head_dim + c] = from_f32<T>(acc[u]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* fused prefill on the SIMT units (f32 anywhere; every type on HIP)                           */

constexpr int SR = 32; /* query rows per block */
constexpr int TPR = 4; /* threads per query row; 128 threads per block */
/* keys per tile: K and V tiles as f32 stay within 32 KiB of shared memory */
template <int D> struct simt_tile {
    static constexpr int keys = D > 128 ? 16 : 32;
};

/* Thread (row r, part u) owns columns u, u+4, u+8, ... of row r: the four threads of a row read
 * four consecutive words of a K or V row in shared memory (no bank conflict), the rows of a
 * warp the same words (a broadcast). A score's four partial dot products meet by two shuffles;
 * the online softmax runs once per tile. */
template <typename T, int D>
__global__ void __launch_bounds__(SR *TPR) k_flash_simt(const T *Q, const T *K, const T *V, T *O,
                                                        shape_t s)
{
    constexpr int CP = D / TPR; /* columns per thread */
    constexpr int SC = simt_tile<D>::keys;
    __shared__ float ks[SC][D], vs[SC][D], ss[SR][SC + 1];
    int tid = threadIdx.x, r = tid / TPR, u = tid % TPR;
    long q0 = (long)blockIdx.x * SR, i = q0 + r;
    int bh = blockIdx.y, b = bh / s.heads, kvh = (bh % s.heads) / s.group;
    const T *k = K + ((size_t)b * s.kv_heads + kvh) * s.skv * D;
    const T *v = V + ((size_t)b * s.kv_heads + kvh) * s.skv * D;
    const float qscale = s.scale * kLog2e;
    float q[CP], o[CP];
#pragma unroll
    for (int c = 0; c < CP; c++) {
        q[c] = i < s.sq ? to_f32(Q[((size_t)bh * s.sq + i) * D + u + TPR * c]) * qscale : 0.f;
        o[c] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    long last = q0 + SR - 1 < s.sq - 1 ? q0 + SR - 1 : s.sq - 1;
    long kend = s.causal ? (last + s.off + 1 < s.skv ? last + s.off + 1 : s.skv) : s.skv;
    long lim = s.causal ? i + s.off : s.skv - 1;
    for (long k0 = 0; k0 < kend; k0 += SC) {
        __syncthreads();
        for (int e = tid; e < SC * D; e += SR * TPR) {
            int j = e / D, c = e % D;
            bool in = k0 + j < s.skv;
            ks[j][c] = in ? to_f32(k[(size_t)(k0 + j) * D + c]) : 0.f;
            vs[j][c] = in ? to_f32(v[(size_t)(k0 + j) * D + c]) : 0.f;
        }
        __syncthreads();
        /* scores to shared memory (the row's four threads agree on them), so the key loops
         * need no unrolling to keep them in registers */
        float mx = m;
        for (int j = 0; j < SC; j++) {
            float acc = 0.f;
#pragma unroll
            for (int c = 0; c < CP; c++)
                acc += q[c] * ks[j][u + TPR * c];
            acc += shfl_xor(acc, 1, TPR);
            acc += shfl_xor(acc, 2, TPR);
            float v = k0 + j <= lim ? acc : -INFINITY;
            if (u == 0)
                ss[r][j] = v;
            mx = fmaxf(mx, v);
        }
        __syncthreads();
        float alpha = m == -INFINITY ? 0.f : exp2f(m - mx);
        float mu = mx == -INFINITY ? 0.f : mx;
#pragma unroll
        for (int c = 0; c < CP; c++)
            o[c] *= alpha;
        float sum = 0.f;
        for (int j = 0; j < SC; j++) {
            float p = exp2f(ss[r][j] - mu);
            sum += p;
#pragma unroll
            for (int c = 0; c < CP; c++)
                o[c] += p * vs[j][u + TPR * c];
        }
        l = l * alpha + sum;
        m = mx;
    }
    if (i < s.sq) {
        float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
        for (int c = 0; c < CP; c++)
            O[((size_t)bh * s.sq + i) * D + u + TPR * c] = from_f32<T>(o[c] * inv);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* fused decode, split-KV                                                                      */

/* 16 bytes of a row (4 f32 or 8 bf16/f16 elements) in one load, converted to f32 */
template <typename T> struct vec16 {
    static constexpr int n = 16 / (int)sizeof(T);
};
template <typename T> __device__ __forceinline__ void load16(const T *p, float *out)
{
    uint4 raw = *reinterpret_cast<const uint4 *>(p);
    const T *e = reinterpret_cast<const T *>(&raw);
#pragma unroll
    for (int i = 0; i < vec16<T>::n; i++)
        out[i] = to_f32(e[i]);
}

constexpr int DT = 128; /* threads per decode block = keys per step */

/* Block (chunk sp, KV head, sequence): keys [j0, j1) of one KV head against its G query heads,
 * DG at a time (DG: G rounded up to 1, 2, 4 or 8). Per step of 128 keys: thread t scores key j0 + t for every query (its K row
 * read once, 16 bytes at a time); warps turn the scores into probabilities (max, exp2, sum by
 * shuffles); then thread t accumulates columns t, t+128, ... of every query over the step's
 * keys, neighbouring threads reading neighbouring V elements. Partial (m, l, O) per query and
 * chunk go to the workspace; k_combine merges the chunks. */
constexpr int DMAX = 256; /* largest head_dim the decode kernel holds */

template <typename T, int DG>
__global__ void __launch_bounds__(DT) k_decode(const T *Q, const T *K, const T *V, float *part,
                                               shape_t s, long chunk, int nsplit)
{
    constexpr int CPT = DMAX / DT; /* columns per thread, at most */
    const int D = s.head_dim;
    __shared__ float qs[DG][DMAX];
    __shared__ float ps[DG][DT];
    __shared__ float ms[DG], ls[DG], as[DG];
    int t = threadIdx.x;
    int sp = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    long j0 = (long)sp * chunk, j1 = j0 + chunk < s.skv ? j0 + chunk : s.skv;
    const T *k = K + ((size_t)b * s.kv_heads + kvh) * s.skv * D;
    const T *v = V + ((size_t)b * s.kv_heads + kvh) * s.skv * D;
    size_t qh = (size_t)b * s.heads + (size_t)kvh * s.group;
    const float qscale = s.scale * kLog2e;
    int lane = t % warpSize, warp = t / warpSize, nwarps = DT / warpSize;
    for (int g0 = 0; g0 < s.group; g0 += DG) {
        int gn = s.group - g0 < DG ? s.group - g0 : DG;
        __syncthreads();
        for (int e = t; e < DG * D; e += DT) {
            int r = e / D, c = e % D;
            qs[r][c] = r < gn ? to_f32(Q[(qh + g0 + r) * D + c]) * qscale : 0.f;
        }
        if (t < DG) {
            ms[t] = -INFINITY;
            ls[t] = 0.f;
        }
        float acc[DG][CPT];
#pragma unroll
        for (int r = 0; r < DG; r++)
#pragma unroll
            for (int cc = 0; cc < CPT; cc++)
                acc[r][cc] = 0.f;
        __syncthreads();
        for (long k0 = j0; k0 < j1; k0 += DT) {
            long j = k0 + t;
            float sc[DG];
#pragma unroll
            for (int r = 0; r < DG; r++)
                sc[r] = 0.f;
            if (j < j1) {
                const T *kr = k + (size_t)j * D;
                constexpr int VE = vec16<T>::n;
                for (int c = 0; c < D; c += VE) {
                    float kv[VE];
                    load16(kr + c, kv);
#pragma unroll
                    for (int e = 0; e < VE; e++)
#pragma unroll
                        for (int r = 0; r < DG; r++)
                            sc[r] += qs[r][c + e] * kv[e];
                }
            }
            /* queries past the group's end get probability 0, keys past the chunk -inf */
#pragma unroll
            for (int r = 0; r < DG; r++)
                ps[r][t] = r >= gn ? 0.f : j < j1 ? sc[r] : -INFINITY;
            __syncthreads();
            /* softmax bookkeeping: warp w handles queries w, w + nwarps, ... */
            for (int r = warp; r < gn; r += nwarps) {
                float mx = -INFINITY;
                for (int jj = lane; jj < DT; jj += warpSize)
                    mx = fmaxf(mx, ps[r][jj]);
                for (int o = warpSize / 2; o > 0; o >>= 1)
                    mx = fmaxf(mx, shfl_xor(mx, o, warpSize));
                float mold = ms[r], mnew = fmaxf(mold, mx);
                float sum = 0.f;
                for (int jj = lane; jj < DT; jj += warpSize) {
                    float p = exp2f(ps[r][jj] - mnew);
                    ps[r][jj] = p;
                    sum += p;
                }
                for (int o = warpSize / 2; o > 0; o >>= 1)
                    sum += shfl_xor(sum, o, warpSize);
                if (lane == 0) {
                    float a = mold == -INFINITY ? 0.f : exp2f(mold - mnew);
                    as[r] = a;
                    ls[r] = ls[r] * a + sum;
                    ms[r] = mnew;
                }
            }
            __syncthreads();
            long n = j1 - k0 < DT ? j1 - k0 : DT;
#pragma unroll
            for (int cc = 0; cc < CPT; cc++) {
                int c = t + cc * DT;
                if (c >= D)
                    break;
#pragma unroll
                for (int r = 0; r < DG; r++)
                    acc[r][cc] *= r < gn ? as[r] : 0.f;
                for (long jj = 0; jj < n; jj++) {
                    float vv = to_f32(v[(size_t)(k0 + jj) * D + c]);
#pragma unroll
                    for (int r = 0; r < DG; r++)
                        acc[r][cc] += ps[r][jj] * vv;
                }
            }
            __syncthreads();
        }
        for (int r = 0; r < gn; r++) {
            float *pr = part + ((qh + g0 + r) * nsplit + sp) * (size_t)(D + 2);
            if (t == 0) {
                pr[0] = ms[r];
                pr[1] = ls[r];
            }
#pragma unroll
            for (int cc = 0; cc < CPT; cc++) {
                int c = t + cc * DT;
                if (c < D)
                    pr[2 + c] = acc[r][cc];
            }
        }
    }
}

/* block per query head, thread per column */
template <typename T>
__global__ void k_combine(const float *part, T *O, int nsplit, int D)
{
    size_t bh = blockIdx.x;
    const float *p = part + bh * nsplit * (size_t)(D + 2);
    float M = -INFINITY;
    for (int sp = 0; sp < nsplit; sp++)
        M = fmaxf(M, p[(size_t)sp * (D + 2)]);
    for (int c = threadIdx.x; c < D; c += blockDim.x) {
        float L = 0.f, acc = 0.f;
        for (int sp = 0; sp < nsplit; sp++) {
            const float *ps = p + (size_t)sp * (D + 2);
            if (ps[0] == -INFINITY)
                continue;
            float w = exp2f(ps[0] - M);
            L += w * ps[1];
            acc += w * ps[2 + c];
        }
        O[bh * D + c] = from_f32<T>(L > 0.f ? acc / L : 0.f);
    }
}

} // namespace

#include "attention_mma.cuh"
#include "attention_cudnn.cuh"

namespace {

/* ------------------------------------------------------------------------------------------ */
/* host side                                                                                   */

bool is_decode(const ab_attn_shape *s)
{
    return s->q_len == 1;
}

/* head dimensions with instantiated prefill kernels (decode and naive take any multiple of 8
 * up to 256) */
bool dim_ok(const ab_attn_shape *s)
{
    if (s->q_len == 1 || s->head_dim % 8 != 0 || s->head_dim > 256)
        return s->head_dim % 8 == 0 && s->head_dim <= 256;
    return s->head_dim == 64 || s->head_dim == 128 || s->head_dim == 256;
}

long decode_splits(const ab_gpu_dev *d, const ab_attn_shape *s)
{
    /* enough blocks for four per multiprocessor, chunks of at least 256 keys */
    long units = (long)s->batch * s->kv_heads;
    long want = (4L * d->sms + units - 1) / units;
    long most = s->kv_len / 256;
    if (want > most)
        want = most;
    return want < 1 ? 1 : want;
}

bool use_mma(const ab_gpu_dev *d, ab_attn_dtype dt, const ab_attn_shape *s)
{
#ifdef AB_GPU_HIP
    (void)d;
    (void)dt;
    (void)s;
    return false;
#else
    return dt != AB_ATTN_F32 && d->cc_major >= 8 && ab_mma_dim_ok(s->head_dim);
#endif
}

size_t gpu_workspace(void *dev, ab_attn_kind kind, ab_attn_dtype dt, const ab_attn_shape *s)
{
    (void)dt;
    if (kind == AB_ATTN_NAIVE)
        return (size_t)s->batch * s->heads * (size_t)s->q_len * (size_t)s->kv_len * sizeof(float);
    if (kind == AB_ATTN_FUSED && is_decode(s))
        return (size_t)s->batch * s->heads * (size_t)decode_splits((ab_gpu_dev *)dev, s) *
               ((size_t)s->head_dim + 2) * sizeof(float);
    if (kind == AB_ATTN_VENDOR)
        return ab_cudnn_workspace_hint();
    return 0;
}

int gpu_supports(void *dev, ab_attn_kind kind, ab_attn_dtype dt, const ab_attn_shape *s,
                 char *why)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    if (kind == AB_ATTN_VENDOR)
        return ab_cudnn_supports(d, dt, s, why);
    if (kind == AB_ATTN_FUSED && !dim_ok(s))
        return gpu_fail(why, "head_dim %d: the " AB_GPU_NAME
                             " prefill kernels are built for 64, 128 and 256",
                        s->head_dim);
    if (s->q_len > 65535L * 64 && kind == AB_ATTN_NAIVE)
        return gpu_fail(why, "sequence too long for the naive kernels' grid");
    return 0;
}

template <typename T> int fill_t(ab_gpu_dev *d, void *buf, size_t n, uint64_t seed, float amp,
                                 char *err)
{
    size_t blocks = (n + 255) / 256;
    if (blocks > 65535u * 16)
        blocks = 65535u * 16;
    k_fill<T><<<(unsigned)blocks, 256, 0, d->stream>>>((T *)buf, n, seed, amp);
    GPU_TRY(gpuGetLastError(), "launch fill");
    GPU_TRY(gpuStreamSynchronize(d->stream), "fill");
    return 0;
}

int gpu_fill(void *dev, ab_attn_dtype dt, void *buf, size_t n, uint64_t seed, float amp,
             char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    switch (dt) {
    case AB_ATTN_BF16: return fill_t<bf16_t>(d, buf, n, seed, amp, err);
    case AB_ATTN_F16: return fill_t<f16_t>(d, buf, n, seed, amp, err);
    default: return fill_t<float>(d, buf, n, seed, amp, err);
    }
}

template <typename T> void launch_naive(ab_gpu_dev *d, const ab_attn_args *a)
{
    shape_t s = make_shape(&a->s);
    unsigned bh = (unsigned)(a->s.batch * a->s.heads);
    dim3 blk(NT, 8);
    dim3 g1((unsigned)((s.skv + NT - 1) / NT), (unsigned)((s.sq + NT - 1) / NT), bh);
    dim3 g3((unsigned)((s.head_dim + NT - 1) / NT), (unsigned)((s.sq + NT - 1) / NT), bh);
    k_scores<T><<<g1, blk, 0, d->stream>>>((const T *)a->q, (const T *)a->k, (float *)a->work, s);
    k_softmax<<<(unsigned)((size_t)bh * s.sq), 256, 0, d->stream>>>((float *)a->work, s);
    k_pv<T><<<g3, blk, 0, d->stream>>>((const float *)a->work, (const T *)a->v, (T *)a->o, s);
}

template <typename T, int D> void launch_simt(ab_gpu_dev *d, const ab_attn_args *a)
{
    shape_t s = make_shape(&a->s);
    dim3 grid((unsigned)((s.sq + SR - 1) / SR), (unsigned)(a->s.batch * a->s.heads));
    k_flash_simt<T, D><<<grid, SR * TPR, 0, d->stream>>>((const T *)a->q, (const T *)a->k,
                                                         (const T *)a->v, (T *)a->o, s);
}

template <typename T> void launch_decode(ab_gpu_dev *d, const ab_attn_args *a)
{
    shape_t s = make_shape(&a->s);
    int nsplit = (int)decode_splits(d, &a->s);
    long chunk = (s.skv + nsplit - 1) / nsplit;
    dim3 grid((unsigned)nsplit, (unsigned)a->s.kv_heads, (unsigned)a->s.batch);
    const T *q = (const T *)a->q, *k = (const T *)a->k, *v = (const T *)a->v;
    float *w = (float *)a->work;
    /* query heads per pass: the group size rounded up to a power of two, at most 8 */
    if (s.group == 1)
        k_decode<T, 1><<<grid, DT, 0, d->stream>>>(q, k, v, w, s, chunk, nsplit);
    else if (s.group == 2)
        k_decode<T, 2><<<grid, DT, 0, d->stream>>>(q, k, v, w, s, chunk, nsplit);
    else if (s.group <= 4)
        k_decode<T, 4><<<grid, DT, 0, d->stream>>>(q, k, v, w, s, chunk, nsplit);
    else
        k_decode<T, 8><<<grid, DT, 0, d->stream>>>(q, k, v, w, s, chunk, nsplit);
    int D = a->s.head_dim;
    k_combine<T><<<(unsigned)(a->s.batch * a->s.heads), D < 256 ? D : 256, 0, d->stream>>>(
        (const float *)a->work, (T *)a->o, nsplit, D);
}

template <typename T> int launch_fused(ab_gpu_dev *d, const ab_attn_args *a, char *err)
{
    if (is_decode(&a->s)) {
        launch_decode<T>(d, a);
        return 0;
    }
    switch (a->s.head_dim) {
    case 64: launch_simt<T, 64>(d, a); break;
    case 128: launch_simt<T, 128>(d, a); break;
    case 256: launch_simt<T, 256>(d, a); break;
    default: return gpu_fail(err, AB_GPU_NAME ": head_dim %d not built", a->s.head_dim);
    }
    return 0;
}

int gpu_run(void *dev, ab_attn_kind kind, const ab_attn_args *a, long iters, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    for (long it = 0; it < iters; it++) {
        int rc = 0;
        if (kind == AB_ATTN_VENDOR) {
            rc = ab_cudnn_run(d, a, err);
        } else if (kind == AB_ATTN_NAIVE) {
            switch (a->dtype) {
            case AB_ATTN_BF16: launch_naive<bf16_t>(d, a); break;
            case AB_ATTN_F16: launch_naive<f16_t>(d, a); break;
            default: launch_naive<float>(d, a); break;
            }
        } else if (!is_decode(&a->s) && use_mma(d, a->dtype, &a->s)) {
            rc = ab_mma_prefill(d, a, err);
        } else {
            switch (a->dtype) {
            case AB_ATTN_BF16: rc = launch_fused<bf16_t>(d, a, err); break;
            case AB_ATTN_F16: rc = launch_fused<f16_t>(d, a, err); break;
            default: rc = launch_fused<float>(d, a, err); break;
            }
        }
        if (rc)
            return -1;
    }
    GPU_TRY(gpuGetLastError(), "launch attention");
    return 0;
}

int gpu_prepare(void *dev, ab_attn_kind kind, ab_attn_args *a, char *err)
{
    if (kind == AB_ATTN_VENDOR)
        return ab_cudnn_prepare((ab_gpu_dev *)dev, a, err);
    return 0;
}

void gpu_release(void *dev, ab_attn_kind kind, ab_attn_args *a)
{
    if (kind == AB_ATTN_VENDOR)
        ab_cudnn_release((ab_gpu_dev *)dev, a);
}

const char *gpu_describe(void *dev, ab_attn_kind kind, ab_attn_dtype dt, const ab_attn_shape *s)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    if (kind == AB_ATTN_VENDOR)
        return "cuDNN fused scaled-dot-product attention (backend API)";
    if (kind == AB_ATTN_NAIVE)
        return "32x32 shared-memory SIMT GEMMs, block-per-row softmax, f32 scores";
    if (is_decode(s))
        return "split-KV decode, 128 keys per step, combine kernel";
    if (use_mma(d, dt, s))
        return "FlashAttention-2 loop on mma.sync m16n8k16 tensor cores, 64x64 tiles";
    return "SIMT flash loop, 4 threads per query row, 32-key tiles in shared memory";
}

ab_attn_impl make_impl()
{
    ab_attn_impl m;
    memset(&m, 0, sizeof(m));
    m.supports = gpu_supports;
    m.workspace = gpu_workspace;
    m.fill = gpu_fill;
    m.prepare = gpu_prepare;
    m.release = gpu_release;
    m.run = gpu_run;
    m.describe = gpu_describe;
    return m;
}

} // namespace

extern const ab_attn_impl ab_attention_gpu = make_impl();

/* SPDX-License-Identifier: MIT */
/*
 * The training step's causal attention on CUDA and HIP (train.h), f32, flash-style: nothing of
 * size seq x seq is ever in memory. One source for both vendors (backends/gpu/gpu_port.h).
 *
 * Every kernel runs 128 threads: 32 rows (query rows, or key rows for dK/dV) x 4 threads per
 * row. Thread (row r, part u) owns the groups of four columns 4u + 16c .. 4u + 16c + 3 of its row
 * in registers, so the four threads of a row read 64 consecutive bytes of a shared-memory row,
 * 16 bytes each in one load (no bank conflict), and the eight rows of a warp the same bytes (a
 * broadcast): one shared-memory load feeds four multiply-adds. A dot product's four partial sums
 * meet by two shuffles within the group of four lanes (the same on warps of 32 and wavefronts of
 * 64).
 *
 * forward   block (32 query rows, head, sequence): K and V tiles of 32 keys in shared memory,
 *           online softmax once per tile, O and lse (natural log) per row
 * dQ        block (32 query rows, head, sequence): recomputes P = exp(scale q k - lse) from the
 *           saved lse tile by tile, dS = P (dP - D) with D = rowsum(dO o) (also written to the
 *           workspace for the next kernel), dQ = scale dS K
 * dK, dV    block (32 key rows, KV head, sequence): Q and dO tiles of 32 rows in shared memory,
 *           over every query head of the KV head's group (GQA: query head h reads KV head
 *           h / (H / G)) and every query row at or after the key; dV = P^T dO, dK = scale dS^T Q
 *           summed in registers, so no two blocks write one element (no atomics, deterministic)
 * Blocks are numbered heaviest first (the causal triangle's long rows).
 */
#include "../../backends/gpu/gpu_port.h"

#include "train_gpu.cuh"

#include <math.h>
#include <stdint.h>

namespace {

constexpr int kRows = 32; /* rows per block */
constexpr int kTpr = 4;   /* threads per row */
constexpr int kThreads = kRows * kTpr;
constexpr int kTile = 32; /* keys (forward, dQ) or query rows (dK/dV) per shared-memory tile */

struct ashape {
    int batch, seq, heads, kv_heads;
    float scale;
};

/* the sum over the four threads of a row (lanes 4k .. 4k+3), in every one of them */
__device__ __forceinline__ float row_sum(float v)
{
    v += ab_gpu_shfl_xor(v, 1);
    return v + ab_gpu_shfl_xor(v, 2);
}

/* column k (0 .. D/4 - 1) of the D/4 a thread owns: group k/4 of its four, element k%4 */
__device__ __forceinline__ int col_of(int u, int k)
{
    return 4 * u + 16 * (k / 4) + k % 4;
}

__device__ __forceinline__ float dot4(const float *a, float4 b)
{
    return a[0] * b.x + a[1] * b.y + a[2] * b.z + a[3] * b.w;
}

__device__ __forceinline__ void axpy4(float *a, float s, float4 b)
{
    a[0] += s * b.x, a[1] += s * b.y, a[2] += s * b.z, a[3] += s * b.w;
}

/* rows [r0, r0 + kTile) of a head (D columns, row stride ld) into t; zeros past `rows` */
template <int D>
__device__ __forceinline__ void load_tile(float4 (*t)[D / 4], const float *base, size_t ld,
                                          long r0, long rows)
{
    float *f = reinterpret_cast<float *>(t);
    for (int e = (int)threadIdx.x; e < kTile * D; e += kThreads) {
        const int j = e / D, c = e % D;
        f[e] = r0 + j < rows ? base[(size_t)(r0 + j) * ld + c] : 0.0f;
    }
}

template <int D>
__global__ void __launch_bounds__(kThreads)
    k_attn_fwd(const float *__restrict__ qkv, float *__restrict__ o, float *__restrict__ lse,
               ashape s)
{
    constexpr int CP = D / kTpr, G4 = D / 16;
    __shared__ float4 ks[kTile][D / 4], vs[kTile][D / 4];
    const int tid = (int)threadIdx.x, r = tid / kTpr, u = tid % kTpr;
    const long q0 = (long)(gridDim.x - 1 - blockIdx.x) * kRows, i = q0 + r;
    const int bh = (int)blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int g = h / (s.heads / s.kv_heads);
    const size_t ld = (size_t)(s.heads + 2 * s.kv_heads) * D, tok0 = (size_t)b * s.seq;
    const float *kb = qkv + tok0 * ld + (size_t)(s.heads + g) * D, *vb = kb + (size_t)s.kv_heads * D;
    float q[CP], acc[CP];
#pragma unroll
    for (int k = 0; k < CP; k++) {
        q[k] = i < s.seq ? qkv[(tok0 + i) * ld + (size_t)h * D + col_of(u, k)] : 0.0f;
        acc[k] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const long kend = q0 + kRows < s.seq ? q0 + kRows : s.seq;
    for (long k0 = 0; k0 < kend; k0 += kTile) {
        __syncthreads();
        load_tile<D>(ks, kb, ld, k0, s.seq);
        load_tile<D>(vs, vb, ld, k0, s.seq);
        __syncthreads();
        float sc[kTile], mx = m;
#pragma unroll
        for (int j = 0; j < kTile; j++) {
            float d = 0.0f;
#pragma unroll
            for (int c = 0; c < G4; c++)
                d += dot4(q + 4 * c, ks[j][u + 4 * c]);
            d = row_sum(d) * s.scale;
            const long kj = k0 + j;
            sc[j] = kj <= i && kj < s.seq ? d : -INFINITY;
            mx = fmaxf(mx, sc[j]);
        }
        /* key 0 is in every row's first tile, so mx is finite from there on */
        const float alpha = m == -INFINITY ? 0.0f : expf(m - mx);
        float sum = 0.0f;
#pragma unroll
        for (int k = 0; k < CP; k++)
            acc[k] *= alpha;
#pragma unroll
        for (int j = 0; j < kTile; j++) {
            const float p = sc[j] == -INFINITY ? 0.0f : expf(sc[j] - mx);
            sum += p;
#pragma unroll
            for (int c = 0; c < G4; c++)
                axpy4(acc + 4 * c, p, vs[j][u + 4 * c]);
        }
        l = l * alpha + sum;
        m = mx;
    }
    if (i < s.seq) {
        const float inv = 1.0f / l;
        float *orow = o + (tok0 + i) * (size_t)s.heads * D + (size_t)h * D;
#pragma unroll
        for (int k = 0; k < CP; k++)
            orow[col_of(u, k)] = acc[k] * inv;
        if (u == 0)
            lse[(size_t)bh * s.seq + i] = m + logf(l);
    }
}

template <int D>
__global__ void __launch_bounds__(kThreads)
    k_attn_dq(const float *__restrict__ qkv, const float *__restrict__ o,
              const float *__restrict__ lse, const float *__restrict__ dout,
              float *__restrict__ dqkv, float *__restrict__ Dw, ashape s)
{
    constexpr int CP = D / kTpr, G4 = D / 16;
    __shared__ float4 ks[kTile][D / 4], vs[kTile][D / 4];
    const int tid = (int)threadIdx.x, r = tid / kTpr, u = tid % kTpr;
    const long q0 = (long)(gridDim.x - 1 - blockIdx.x) * kRows, i = q0 + r;
    const int bh = (int)blockIdx.y, b = bh / s.heads, h = bh % s.heads;
    const int g = h / (s.heads / s.kv_heads);
    const size_t ld = (size_t)(s.heads + 2 * s.kv_heads) * D, od = (size_t)s.heads * D;
    const size_t tok0 = (size_t)b * s.seq;
    const float *kb = qkv + tok0 * ld + (size_t)(s.heads + g) * D, *vb = kb + (size_t)s.kv_heads * D;
    const bool in = i < s.seq;
    float q[CP], dov[CP], dq[CP], di = 0.0f;
#pragma unroll
    for (int k = 0; k < CP; k++) {
        const size_t col = (size_t)col_of(u, k);
        q[k] = in ? qkv[(tok0 + i) * ld + (size_t)h * D + col] : 0.0f;
        dov[k] = in ? dout[(tok0 + i) * od + (size_t)h * D + col] : 0.0f;
        di += in ? dov[k] * o[(tok0 + i) * od + (size_t)h * D + col] : 0.0f;
        dq[k] = 0.0f;
    }
    di = row_sum(di);
    const float li = in ? lse[(size_t)bh * s.seq + i] : 0.0f;
    if (in && u == 0)
        Dw[(size_t)bh * s.seq + i] = di;
    const long kend = q0 + kRows < s.seq ? q0 + kRows : s.seq;
    for (long k0 = 0; k0 < kend; k0 += kTile) {
        __syncthreads();
        load_tile<D>(ks, kb, ld, k0, s.seq);
        load_tile<D>(vs, vb, ld, k0, s.seq);
        __syncthreads();
        for (int j = 0; j < kTile; j++) {
            float sp = 0.0f, dp = 0.0f;
#pragma unroll
            for (int c = 0; c < G4; c++) {
                sp += dot4(q + 4 * c, ks[j][u + 4 * c]);
                dp += dot4(dov + 4 * c, vs[j][u + 4 * c]);
            }
            sp = row_sum(sp);
            dp = row_sum(dp);
            const long kj = k0 + j;
            const float p = in && kj <= i ? expf(sp * s.scale - li) : 0.0f;
            const float ds = p * (dp - di) * s.scale;
#pragma unroll
            for (int c = 0; c < G4; c++)
                axpy4(dq + 4 * c, ds, ks[j][u + 4 * c]);
        }
    }
    if (in) {
        float *out = dqkv + (tok0 + i) * ld + (size_t)h * D;
#pragma unroll
        for (int k = 0; k < CP; k++)
            out[col_of(u, k)] = dq[k];
    }
}

template <int D>
__global__ void __launch_bounds__(kThreads)
    k_attn_dkv(const float *__restrict__ qkv, const float *__restrict__ lse,
               const float *__restrict__ dout, const float *__restrict__ Dw,
               float *__restrict__ dqkv, ashape s)
{
    constexpr int CP = D / kTpr, G4 = D / 16;
    __shared__ float4 qs[kTile][D / 4], dos[kTile][D / 4];
    __shared__ float ls[kTile], dd[kTile];
    const int tid = (int)threadIdx.x, r = tid / kTpr, u = tid % kTpr;
    const long k0 = (long)blockIdx.x * kRows, j = k0 + r;
    const int bg = (int)blockIdx.y, b = bg / s.kv_heads, g = bg % s.kv_heads;
    const int grp = s.heads / s.kv_heads;
    const size_t ld = (size_t)(s.heads + 2 * s.kv_heads) * D, od = (size_t)s.heads * D;
    const size_t tok0 = (size_t)b * s.seq;
    const bool in = j < s.seq;
    const size_t kcol = (size_t)(s.heads + g) * D, vcol = kcol + (size_t)s.kv_heads * D;
    float kr[CP], vr[CP], dk[CP], dv[CP];
#pragma unroll
    for (int k = 0; k < CP; k++) {
        const size_t col = (size_t)col_of(u, k);
        kr[k] = in ? qkv[(tok0 + j) * ld + kcol + col] : 0.0f;
        vr[k] = in ? qkv[(tok0 + j) * ld + vcol + col] : 0.0f;
        dk[k] = dv[k] = 0.0f;
    }
    const long qstart = k0 / kTile * kTile; /* the first query tile with a row at or after k0 */
    for (int h = g * grp; h < (g + 1) * grp; h++) {
        const size_t bh = (size_t)b * s.heads + (size_t)h;
        const float *qb = qkv + tok0 * ld + (size_t)h * D, *db = dout + tok0 * od + (size_t)h * D;
        for (long q0 = qstart; q0 < s.seq; q0 += kTile) {
            __syncthreads();
            load_tile<D>(qs, qb, ld, q0, s.seq);
            load_tile<D>(dos, db, od, q0, s.seq);
            if (tid < kTile) {
                const bool qin = q0 + tid < s.seq;
                ls[tid] = qin ? lse[bh * s.seq + (size_t)(q0 + tid)] : 0.0f;
                dd[tid] = qin ? Dw[bh * s.seq + (size_t)(q0 + tid)] : 0.0f;
            }
            __syncthreads();
            for (int ii = 0; ii < kTile; ii++) {
                float sp = 0.0f, dp = 0.0f;
#pragma unroll
                for (int c = 0; c < G4; c++) {
                    sp += dot4(kr + 4 * c, qs[ii][u + 4 * c]);
                    dp += dot4(vr + 4 * c, dos[ii][u + 4 * c]);
                }
                sp = row_sum(sp);
                dp = row_sum(dp);
                const long qi = q0 + ii;
                const float p = in && qi >= j && qi < s.seq ? expf(sp * s.scale - ls[ii]) : 0.0f;
                const float ds = p * (dp - dd[ii]) * s.scale;
#pragma unroll
                for (int c = 0; c < G4; c++) {
                    axpy4(dv + 4 * c, p, dos[ii][u + 4 * c]);
                    axpy4(dk + 4 * c, ds, qs[ii][u + 4 * c]);
                }
            }
        }
    }
    if (in) {
        float *out = dqkv + (tok0 + j) * ld;
#pragma unroll
        for (int k = 0; k < CP; k++) {
            out[kcol + col_of(u, k)] = dk[k];
            out[vcol + col_of(u, k)] = dv[k];
        }
    }
}

ashape shape_of(const ab_train_attn *a)
{
    ashape s;
    s.batch = a->batch, s.seq = a->seq, s.heads = a->heads, s.kv_heads = a->kv_heads;
    s.scale = a->scale;
    return s;
}

/* the kernels of one head_dim, launched on the device's stream */
template <int D> struct attn_kernels {
    static int fwd(ab_gpu_dev *gd, const ashape &s, const float *qkv, float *o, float *lse,
                   char *err)
    {
        const dim3 grid((unsigned)((s.seq + kRows - 1) / kRows), (unsigned)(s.batch * s.heads));
        k_attn_fwd<D><<<grid, kThreads, 0, gd->stream>>>(qkv, o, lse, s);
        GPU_TRY(gpuGetLastError(), "launch train attention forward");
        return 0;
    }
    static int bwd(ab_gpu_dev *gd, const ashape &s, const float *qkv, const float *o,
                   const float *lse, const float *dout, float *dqkv, float *Dw, char *err)
    {
        const unsigned tiles = (unsigned)((s.seq + kRows - 1) / kRows);
        k_attn_dq<D><<<dim3(tiles, (unsigned)(s.batch * s.heads)), kThreads, 0, gd->stream>>>(
            qkv, o, lse, dout, dqkv, Dw, s);
        GPU_TRY(gpuGetLastError(), "launch train attention dQ");
        k_attn_dkv<D><<<dim3(tiles, (unsigned)(s.batch * s.kv_heads)), kThreads, 0, gd->stream>>>(
            qkv, lse, dout, Dw, dqkv, s);
        GPU_TRY(gpuGetLastError(), "launch train attention dK/dV");
        return 0;
    }
};

} // namespace

int ab_train_gpu_attn_check(const ab_train_attn *a, char *err)
{
    const int d = a->head_dim;
    if (a->batch < 0 || a->seq < 0 || a->heads < 1 || a->kv_heads < 1 || a->heads % a->kv_heads)
        return gpu_fail(err, AB_GPU_NAME ": train attention: bad shape (batch %d, seq %d, heads"
                                         " %d/%d)",
                        a->batch, a->seq, a->heads, a->kv_heads);
    if (d != 16 && d != 32 && d != 64 && d != 128)
        return gpu_fail(err, AB_GPU_NAME ": train attention: head_dim %d (the GPU kernels take"
                                         " 16, 32, 64 or 128)",
                        d);
    if ((long)a->batch * a->heads > 65535)
        return gpu_fail(err, AB_GPU_NAME ": train attention: batch x heads %ld above 65535",
                        (long)a->batch * a->heads);
    return 0;
}

int ab_train_gpu_attn_fwd(void *dev, const ab_train_attn *a, const void *qkv, void *o, void *lse,
                          char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (ab_train_gpu_attn_check(a, err) != 0)
        return -1;
    if (a->batch == 0 || a->seq == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    const ashape s = shape_of(a);
    const float *q = (const float *)qkv;
    float *of = (float *)o, *lf = (float *)lse;
    switch (a->head_dim) {
    case 16: return attn_kernels<16>::fwd(gd, s, q, of, lf, err);
    case 32: return attn_kernels<32>::fwd(gd, s, q, of, lf, err);
    case 64: return attn_kernels<64>::fwd(gd, s, q, of, lf, err);
    default: return attn_kernels<128>::fwd(gd, s, q, of, lf, err);
    }
}

int ab_train_gpu_attn_bwd(void *dev, const ab_train_attn *a, const void *qkv, const void *o,
                          const void *lse, const void *dout, void *dqkv, void *work, char *err)
{
    ab_gpu_dev *gd = (ab_gpu_dev *)dev;
    if (ab_train_gpu_attn_check(a, err) != 0)
        return -1;
    if (a->batch == 0 || a->seq == 0)
        return 0;
    GPU_TRY(gpuSetDevice(gd->ordinal), "set device");
    const ashape s = shape_of(a);
    const float *q = (const float *)qkv, *of = (const float *)o, *lf = (const float *)lse,
                *df = (const float *)dout;
    float *dq = (float *)dqkv, *w = (float *)work;
    switch (a->head_dim) {
    case 16: return attn_kernels<16>::bwd(gd, s, q, of, lf, df, dq, w, err);
    case 32: return attn_kernels<32>::bwd(gd, s, q, of, lf, df, dq, w, err);
    case 64: return attn_kernels<64>::bwd(gd, s, q, of, lf, df, dq, w, err);
    default: return attn_kernels<128>::bwd(gd, s, q, of, lf, df, dq, w, err);
    }
}

size_t ab_train_gpu_attn_bwd_work(void *dev, const ab_train_attn *a)
{
    (void)dev;
    return (size_t)a->batch * (size_t)a->heads * (size_t)a->seq * sizeof(float); /* D */
}

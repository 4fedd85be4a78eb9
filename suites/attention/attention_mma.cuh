/* SPDX-License-Identifier: MIT */
/*
 * Fused prefill attention for bf16/f16 on NVIDIA tensor cores (sm_80 and newer): the algorithm
 * of FlashAttention-2 (Dao, 2023) written from the paper and the PTX ISA's documented fragment
 * layouts, included by attention_gpu.cu. HIP builds get stubs (the SIMT kernel serves them).
 *
 * Block: 4 warps, 64 query rows (16 per warp), K/V tiles of 64 keys in shared memory (rows
 * padded by 16 bytes so the 8 rows a fragment load touches fall in different banks).
 *   - Q, K and V tiles arrive by cp.async; the V tile of step j and the K tile of step j + 1
 *     load while the warps compute with the other (two buffers, one of each).
 *   - S = Q·Kᵀ: mma.sync.m16n8k16, A = Q fragments (kept in registers for the whole block),
 *     B = K fragments by ldmatrix (K rows are the B operand's columns: no transpose needed).
 *   - online softmax in registers: each thread holds 2 rows × 16 of the 64 scores; row max and
 *     the rescale factor by two quad shuffles; exp2 with scale·log2 e folded into one multiply.
 *   - O += P·V: the S accumulators converted to bf16/f16 are exactly the A fragments of P (the
 *     m16n8 C layout of two adjacent n-tiles is the m16k16 A layout), V fragments by
 *     ldmatrix.trans.
 *   - causal: tiles past the block's last visible key are not visited; the diagonal tiles mask.
 */
#ifndef AB_ATTENTION_MMA_CUH
#define AB_ATTENTION_MMA_CUH

namespace {

#ifdef AB_GPU_HIP

[[maybe_unused]] bool ab_mma_dim_ok(int)
{
    return false;
}

[[maybe_unused]] int ab_mma_prefill(ab_gpu_dev *, const ab_attn_args *, char *err)
{
    return gpu_fail(err, "hip: no tensor-core attention kernel (MFMA) in this build");
}

#else

constexpr int MB_R = 64;  /* query rows per block */
constexpr int MB_C = 64;  /* keys per tile */
constexpr int MB_W = 4;   /* warps */
constexpr int MB_PAD = 8; /* elements of padding per shared-memory row */

bool ab_mma_dim_ok(int d)
{
    return d == 64 || d == 128;
}

template <typename T> struct mma_traits;
template <> struct mma_traits<bf16_t> {
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0,
                                               uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};
template <> struct mma_traits<f16_t> {
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0,
                                               uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared, asynchronously; src_bytes 0 writes zeros (rows past the end) */
__device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)),
                 "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit()
{
    asm volatile("cp.async.commit_group;\n" ::);
}
template <int N> __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

/* rows [r0, r0 + 64) of a [rows][D] tensor into a padded shared tile, zeros past `rows` */
template <typename T, int D>
__device__ __forceinline__ void load_tile(T *dst, const T *src, long r0, long rows, int tid)
{
    constexpr int LD = D + MB_PAD, CH = D / 8; /* 16-byte chunks per row */
    for (int e = tid; e < MB_C * CH; e += MB_W * 32) {
        int r = e / CH, c = (e % CH) * 8;
        bool in = r0 + r < rows;
        const T *g = in ? src + (size_t)(r0 + r) * D + c : src;
        cp_async16(dst + r * LD + c, g, in ? 16 : 0);
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(MB_W * 32) k_flash_mma(const T *Q, const T *K, const T *V, T *O,
                                                         shape_t s)
{
    constexpr int LD = D + MB_PAD;
    constexpr int KC = D / 16;   /* k-chunks of Q·Kᵀ */
    constexpr int NS = MB_C / 8; /* n-tiles of S per warp */
    constexpr int NO = D / 8;    /* n-tiles of O per warp */
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T *Qs = reinterpret_cast<T *>(smem_raw);
    T *Ks = Qs + MB_R * LD;
    T *Vs = Ks + MB_C * LD;

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int g = lane >> 2, t4 = lane & 3;
    const long q0 = (long)blockIdx.x * MB_R;
    const int bh = blockIdx.y, b = bh / s.heads, kvh = (bh % s.heads) / s.group;
    const T *Qg = Q + (size_t)bh * s.sq * D;
    const T *Kg = K + ((size_t)b * s.kv_heads + kvh) * s.skv * D;
    const T *Vg = V + ((size_t)b * s.kv_heads + kvh) * s.skv * D;
    const float sl2 = s.scale * kLog2e;

    long last = q0 + MB_R - 1 < s.sq - 1 ? q0 + MB_R - 1 : s.sq - 1;
    long kend = s.causal ? (last + s.off + 1 < s.skv ? last + s.off + 1 : s.skv) : s.skv;
    int ntiles = kend > 0 ? (int)((kend + MB_C - 1) / MB_C) : 0;

    /* this thread's two rows */
    const long row0 = q0 + warp * 16 + g, row1 = row0 + 8;

    uint32_t qf[KC][4];
    float oacc[NO][4];
#pragma unroll
    for (int n = 0; n < NO; n++)
        oacc[n][0] = oacc[n][1] = oacc[n][2] = oacc[n][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;

    load_tile<T, D>(Qs, Qg, q0, s.sq, tid);
    if (ntiles > 0)
        load_tile<T, D>(Ks, Kg, 0, s.skv, tid);
    cp_async_commit();

    for (int it = 0; it < ntiles; it++) {
        const long k0 = (long)it * MB_C;
        load_tile<T, D>(Vs, Vg, k0, s.skv, tid);
        cp_async_commit();
        cp_async_wait<1>(); /* Q and this step's K have landed */
        __syncthreads();
        if (it == 0) {
            /* A fragments of the warp's 16 Q rows: matrices (rows 0-7 | 8-15) × (cols 0-7 |
             * 8-15) of each 16-column chunk, in the order a0..a3 expects */
            int mi = lane >> 3, rr = lane & 7;
#pragma unroll
            for (int kc = 0; kc < KC; kc++)
                ldmatrix_x4(qf[kc], Qs + (warp * 16 + (mi & 1) * 8 + rr) * LD + kc * 16 +
                                        (mi >> 1) * 8);
        }
        /* S = Q·Kᵀ for 16 rows × 64 keys */
        float sacc[NS][4];
#pragma unroll
        for (int n = 0; n < NS; n++)
            sacc[n][0] = sacc[n][1] = sacc[n][2] = sacc[n][3] = 0.f;
#pragma unroll
        for (int kc = 0; kc < KC; kc++) {
#pragma unroll
            for (int n = 0; n < NS; n += 2) {
                /* matrices: keys (n·8 | n·8+8) × dims (kc·16 | kc·16+8): b0, b1 of n-tile n,
                 * then of n-tile n+1 */
                int mi = lane >> 3, rr = lane & 7;
                uint32_t kb[4];
                ldmatrix_x4(kb, Ks + (n * 8 + (mi >> 1) * 8 + rr) * LD + kc * 16 + (mi & 1) * 8);
                mma_traits<T>::mma(sacc[n], qf[kc], kb[0], kb[1]);
                mma_traits<T>::mma(sacc[n + 1], qf[kc], kb[2], kb[3]);
            }
        }
        __syncthreads(); /* every warp is done with Ks */
        if (it + 1 < ntiles) {
            load_tile<T, D>(Ks, Kg, k0 + MB_C, s.skv, tid);
            cp_async_commit();
        }

        /* mask, scale to log2 units, row maxima */
        float mx0 = m0, mx1 = m1;
        const bool need_mask = k0 + MB_C > s.skv || (s.causal && k0 + MB_C - 1 > q0 + s.off);
#pragma unroll
        for (int n = 0; n < NS; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                long key = k0 + n * 8 + 2 * t4 + (e & 1);
                long row = e < 2 ? row0 : row1;
                float v = sacc[n][e] * sl2;
                if (need_mask && (key >= s.skv || (s.causal && key > row + s.off)))
                    v = -INFINITY;
                sacc[n][e] = v;
            }
            mx0 = fmaxf(mx0, fmaxf(sacc[n][0], sacc[n][1]));
            mx1 = fmaxf(mx1, fmaxf(sacc[n][2], sacc[n][3]));
        }
        /* the four threads of a quad hold the same two rows */
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float a0 = m0 == -INFINITY ? 0.f : exp2f(m0 - mx0);
        const float a1 = m1 == -INFINITY ? 0.f : exp2f(m1 - mx1);
        const float mu0 = mx0 == -INFINITY ? 0.f : mx0, mu1 = mx1 == -INFINITY ? 0.f : mx1;
        m0 = mx0;
        m1 = mx1;
        float rs0 = 0.f, rs1 = 0.f;
#pragma unroll
        for (int n = 0; n < NS; n++) {
            sacc[n][0] = exp2f(sacc[n][0] - mu0);
            sacc[n][1] = exp2f(sacc[n][1] - mu0);
            sacc[n][2] = exp2f(sacc[n][2] - mu1);
            sacc[n][3] = exp2f(sacc[n][3] - mu1);
            rs0 += sacc[n][0] + sacc[n][1];
            rs1 += sacc[n][2] + sacc[n][3];
        }
        /* per-thread partial row sums: the quad's four parts are added once at the end */
        l0 = l0 * a0 + rs0;
        l1 = l1 * a1 + rs1;
#pragma unroll
        for (int n = 0; n < NO; n++) {
            oacc[n][0] *= a0;
            oacc[n][1] *= a0;
            oacc[n][2] *= a1;
            oacc[n][3] *= a1;
        }

        if (it + 1 < ntiles)
            cp_async_wait<1>(); /* V of this step has landed; the next K may still fly */
        else
            cp_async_wait<0>();
        __syncthreads();

        /* O += P·V: P's A fragments come straight from the S accumulators */
#pragma unroll
        for (int kc = 0; kc < MB_C / 16; kc++) {
            uint32_t pa[4];
            pa[0] = mma_traits<T>::pack(sacc[2 * kc][0], sacc[2 * kc][1]);
            pa[1] = mma_traits<T>::pack(sacc[2 * kc][2], sacc[2 * kc][3]);
            pa[2] = mma_traits<T>::pack(sacc[2 * kc + 1][0], sacc[2 * kc + 1][1]);
            pa[3] = mma_traits<T>::pack(sacc[2 * kc + 1][2], sacc[2 * kc + 1][3]);
#pragma unroll
            for (int n = 0; n < NO; n += 2) {
                /* matrices: keys (kc·16 | kc·16+8) × dims (n·8 | n·8+8), transposed: b0, b1
                 * of n-tile n, then of n-tile n+1 */
                int mi = lane >> 3, rr = lane & 7;
                uint32_t vb[4];
                ldmatrix_x4_trans(vb, Vs + (kc * 16 + (mi & 1) * 8 + rr) * LD + n * 8 +
                                          (mi >> 1) * 8);
                mma_traits<T>::mma(oacc[n], pa, vb[0], vb[1]);
                mma_traits<T>::mma(oacc[n + 1], pa, vb[2], vb[3]);
            }
        }
        __syncthreads(); /* every warp is done with Vs before the next V load */
    }
    cp_async_wait<0>(); /* nothing may be in flight when the block ends (no tile case) */

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
    T *Og = O + (size_t)bh * s.sq * D;
#pragma unroll
    for (int n = 0; n < NO; n++) {
        int c = n * 8 + 2 * t4;
        if (row0 < s.sq)
            *reinterpret_cast<uint32_t *>(Og + (size_t)row0 * D + c) =
                mma_traits<T>::pack(oacc[n][0] * inv0, oacc[n][1] * inv0);
        if (row1 < s.sq)
            *reinterpret_cast<uint32_t *>(Og + (size_t)row1 * D + c) =
                mma_traits<T>::pack(oacc[n][2] * inv1, oacc[n][3] * inv1);
    }
}

template <typename T, int D> int mma_launch(ab_gpu_dev *d, const ab_attn_args *a, char *err)
{
    constexpr size_t smem = (size_t)(MB_R + 2 * MB_C) * (D + MB_PAD) * sizeof(T);
    /* above 48 KiB a kernel must opt in to more shared memory, once per device */
    static unsigned long long raised;
    if (d->ordinal < 64 && !(raised & (1ull << d->ordinal))) {
        GPU_TRY(cudaFuncSetAttribute(k_flash_mma<T, D>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
                "raise shared memory limit");
        raised |= 1ull << d->ordinal;
    }
    shape_t s = make_shape(&a->s);
    dim3 grid((unsigned)((s.sq + MB_R - 1) / MB_R), (unsigned)(a->s.batch * a->s.heads));
    k_flash_mma<T, D><<<grid, MB_W * 32, smem, d->stream>>>((const T *)a->q, (const T *)a->k,
                                                            (const T *)a->v, (T *)a->o, s);
    return 0;
}

int ab_mma_prefill(ab_gpu_dev *d, const ab_attn_args *a, char *err)
{
    bool bf = a->dtype == AB_ATTN_BF16;
    switch (a->s.head_dim) {
    case 64: return bf ? mma_launch<bf16_t, 64>(d, a, err) : mma_launch<f16_t, 64>(d, a, err);
    case 128: return bf ? mma_launch<bf16_t, 128>(d, a, err) : mma_launch<f16_t, 128>(d, a, err);
    default: return gpu_fail(err, "cuda: no tensor-core kernel for head_dim %d", a->s.head_dim);
    }
}

#endif

} // namespace

#endif

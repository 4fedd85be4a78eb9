/* SPDX-License-Identifier: MIT */
/*
 * GEMM on the CPU.
 *
 * vendor:   OpenBLAS through CBLAS: dgemm, sgemm, and sbgemm (bf16 in, f32 out) where the
 *           installed OpenBLAS exports it (looked up at run time, so a build against one
 *           OpenBLAS uses sbgemm wherever the library at hand has it). Threads: Debian's default
 *           OpenBLAS (libopenblas-dev) is the pthreads build, with its own pool beside the CPU
 *           backend's pinned OpenMP team. Oversubscription is avoided by never running both at
 *           once: OpenBLAS is called from the main thread outside any OpenMP region, its pool is
 *           set to the backend's thread count (one per core), and the other pool's idle spinning
 *           after a switch falls into the warm-up. That is also how an application gets
 *           OpenBLAS's best figure (bench/gemm_cpu.sh measures direct calls in the same
 *           process, same pool, same thread count). The OpenMP flavour would share one pool,
 *           but switching the system's libopenblas alternative changes every program on the
 *           machine, so the default flavour stays.
 * portable: accelbench's own kernel, the BLIS/GotoBLAS design: B is packed into KC x NR
 *           micro-panels (kept in the last-level cache), A into MC x KC blocks of MR-row panels
 *           (kept in L2), and an MR x NR register-tile micro-kernel runs over them. The micro-
 *           kernel is plain C on GCC/Clang vector types, so the compiler emits AVX2 or AVX-512
 *           FMAs for the -march it is given (this file is built with -ffp-contract=fast: ISO C
 *           mode would otherwise forbid fusing the multiply-add). Inputs are converted to the
 *           compute type while packing (bf16, f16 -> f32; i8 -> i32), so the micro-kernel
 *           exists for three types only: f64, f32, i32. Threads (the backend's pinned OpenMP
 *           team) split the rows of C, or its columns when there are too few rows.
 */
#include "gemm.h"

#include "../../backends/cpu.h"
#include "../../backends/omp_compat.h"
#include "../../core/ab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AB_HAVE_OPENBLAS
#include <cblas.h>
#include <dlfcn.h>
#endif

/* ---- register tile: two vectors wide, as many rows as the register file allows ----------- */

#if defined(__AVX512F__)
#define VB 64
#define MRX 12 /* 24 accumulators + 2 B vectors + 1 broadcast of 32 zmm registers */
#elif defined(__AVX__)
#define VB 32
#define MRX 6 /* 12 accumulators + 2 + 1 of 16 ymm registers (BLIS' Haswell 6x16) */
#else
#define VB 16
#define MRX 6
#endif

#define KC 256     /* depth of a packed panel: an MR x KC + KC x NR pair stays in L1 */
#define L2_A 163840 /* bytes of packed A per thread: a third of a 512 KiB L2, room for B */
#define NC 4096    /* columns of packed B: KC x NC x 4 B = 4 MiB shared in the LLC */

typedef double v_f64 __attribute__((vector_size(VB)));
typedef double vu_f64 __attribute__((vector_size(VB), aligned(8)));
typedef float v_f32 __attribute__((vector_size(VB)));
typedef float vu_f32 __attribute__((vector_size(VB), aligned(4)));
typedef int32_t v_i32 __attribute__((vector_size(VB)));
typedef int32_t vu_i32 __attribute__((vector_size(VB), aligned(4)));

/* element (i, p) of op(A), (p, j) of op(B), as storage indices */
#define A_IDX(op, i, p) ((op)->ta ? (size_t)(p) * (size_t)(op)->lda + (size_t)(i)                \
                                  : (size_t)(i) * (size_t)(op)->lda + (size_t)(p))
#define B_IDX(op, p, j) ((op)->tb ? (size_t)(j) * (size_t)(op)->ldb + (size_t)(p)                \
                                  : (size_t)(p) * (size_t)(op)->ldb + (size_t)(j))

/* ---- input conversions while packing ---------------------------------------------------- */

static inline double cv_f64(const void *p, size_t i)
{
    return ((const double *)p)[i];
}
static inline float cv_f32(const void *p, size_t i)
{
    return ((const float *)p)[i];
}
static inline float cv_bf16(const void *p, size_t i)
{
    uint32_t b = (uint32_t)((const uint16_t *)p)[i] << 16;
    float f;
    memcpy(&f, &b, sizeof(f));
    return f;
}
static inline float cv_f16(const void *p, size_t i)
{
#if defined(__FLT16_MAX__)
    _Float16 h;
    memcpy(&h, (const uint16_t *)p + i, sizeof(h));
    return (float)h; /* one vcvtph2ps with F16C */
#else
    return (float)ab_gemm_decode(AB_GT_F16, ((const uint16_t *)p)[i]);
#endif
}
static inline int32_t cv_i8(const void *p, size_t i)
{
    return ((const int8_t *)p)[i];
}

/*
 * The portable kernel for one compute type T (suffix S, vector types V / VU, source
 * converters listed in PACKERS). MR x NR register tile, NR = two vectors.
 */
#define DEFINE_KERNEL(T, S, V, VU)                                                                 \
    enum {                                                                                         \
        S##_VL = VB / (int)sizeof(T),                                                              \
        S##_NR = 2 * S##_VL,                                                                       \
        S##_MR = MRX,                                                                              \
        S##_MC = (L2_A / (KC * (int)sizeof(T))) / MRX * MRX,                                       \
    };                                                                                             \
    /* acc = A panel (kc x MR) * B panel (kc x NR); C tile = alpha*acc + cb*C (cb 0: C not read)*/ \
    static inline void ukr_##S(long kc, const T *restrict a, const T *restrict b, T *restrict c,  \
                               long ldc, long mr, long nr, T alpha, T cb)                          \
    {                                                                                              \
        V acc[S##_MR][2];                                                                          \
        _Pragma("GCC unroll 16") for (int i = 0; i < S##_MR; i++) acc[i][0] = acc[i][1] = (V){0}; \
        for (long p = 0; p < kc; p++) {                                                            \
            V b0 = *(const V *)b, b1 = *(const V *)(b + S##_VL);                                   \
            _Pragma("GCC unroll 16") for (int i = 0; i < S##_MR; i++)                              \
            {                                                                                      \
                V ai = a[i] - (V){0}; /* a splat the compiler folds into a broadcast load */       \
                acc[i][0] += ai * b0;                                                              \
                acc[i][1] += ai * b1;                                                              \
            }                                                                                      \
            a += S##_MR;                                                                           \
            b += S##_NR;                                                                           \
        }                                                                                          \
        if (mr == S##_MR && nr == S##_NR) {                                                        \
            _Pragma("GCC unroll 16") for (int i = 0; i < S##_MR; i++)                              \
            {                                                                                      \
                VU *cr = (VU *)(c + i * ldc);                                                      \
                if (cb == 0) {                                                                     \
                    cr[0] = alpha * acc[i][0];                                                     \
                    cr[1] = alpha * acc[i][1];                                                     \
                } else {                                                                           \
                    cr[0] = alpha * acc[i][0] + cb * cr[0];                                        \
                    cr[1] = alpha * acc[i][1] + cb * cr[1];                                        \
                }                                                                                  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        /* edge tile: only the mr x nr part exists in C */                                         \
        for (long i = 0; i < mr; i++)                                                              \
            for (long j = 0; j < nr; j++) {                                                        \
                T v = acc[i][j / S##_VL][j % S##_VL];                                              \
                c[i * ldc + j] = cb == 0 ? alpha * v : alpha * v + cb * c[i * ldc + j];            \
            }                                                                                      \
    }

DEFINE_KERNEL(double, f64, v_f64, vu_f64)
DEFINE_KERNEL(float, f32, v_f32, vu_f32)
DEFINE_KERNEL(int32_t, i32, v_i32, vu_i32)

/* Packers for compute type T from one storage type (converter CV). Rows/columns beyond the
 * matrix are zero, so edge tiles run the same micro-kernel. */
#define DEFINE_PACKERS(T, S, SRC, CV)                                                              \
    /* rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) -> MR-row panels, each kc x MR */             \
    static void pack_a_##S##_##SRC(const ab_gemm_op *op, const void *A, long i0, long mc, long p0, \
                                   long kc, T *dst)                                                \
    {                                                                                              \
        for (long ir = 0; ir < mc; ir += S##_MR, dst += (size_t)S##_MR * kc) {                     \
            long mr = mc - ir < S##_MR ? mc - ir : S##_MR;                                         \
            for (long p = 0; p < kc; p++)                                                          \
                for (long i = 0; i < S##_MR; i++)                                                  \
                    dst[p * S##_MR + i] = i < mr ? CV(A, A_IDX(op, i0 + ir + i, p0 + p)) : (T)0;   \
        }                                                                                          \
    }                                                                                              \
    /* depth [p0, p0+kc) x NR-column panels [q0, q1) of the block starting at column j0, stored \
     * from dst0 on (panel q at dst0 + (q - q0) * NR * kc). The                                    \
     * loops follow B's storage so reads are sequential (B streams from memory once per      \
     * multiply when M is small); the scattered writes land in cache. */                        \
    static void pack_b_##S##_##SRC(const ab_gemm_op *op, const void *B, long j0, long nc,          \
                                   long q0, long q1, long p0, long kc, T *dst0)                    \
    {                                                                                              \
        if (q1 <= q0)                                                                              \
            return;                                                                                \
        T *dst = dst0; /* panel q is stored at dst + (q - q0) * NR * kc */                         \
        long qfull = nc / S##_NR < q1 ? nc / S##_NR : q1; /* panels without padding */          \
        if (!op->tb) {                                                                             \
            for (long p = 0; p < kc; p++) {                                                        \
                const size_t base = B_IDX(op, p0 + p, j0);                                         \
                T *d = dst + (size_t)p * S##_NR;                                                   \
                for (long q = q0; q < qfull; q++) {                                                \
                    T *dq = d + (size_t)(q - q0) * S##_NR * kc;                                    \
                    const size_t bq = base + (size_t)q * S##_NR;                                   \
                    for (long j = 0; j < S##_NR; j++)                                              \
                        dq[j] = CV(B, bq + (size_t)j);                                             \
                }                                                                                  \
                for (long q = qfull; q < q1; q++) {                                                \
                    T *dq = d + (size_t)(q - q0) * S##_NR * kc;                                    \
                    for (long j = 0; j < S##_NR; j++) {                                            \
                        long col = q * S##_NR + j;                                                 \
                        dq[j] = col < nc ? CV(B, base + (size_t)col) : (T)0;                       \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (long q = q0; q < q1; q++)                                                         \
                for (long j = 0; j < S##_NR; j++) {                                                \
                    T *d = dst + (size_t)(q - q0) * S##_NR * kc + j;                               \
                    long col = q * S##_NR + j;                                                     \
                    if (col < nc) {                                                                \
                        const size_t base = B_IDX(op, p0, j0 + col);                               \
                        for (long p = 0; p < kc; p++)                                              \
                            d[(size_t)p * S##_NR] = CV(B, base + (size_t)p);                       \
                    } else {                                                                       \
                        for (long p = 0; p < kc; p++)                                              \
                            d[(size_t)p * S##_NR] = (T)0;                                          \
                    }                                                                              \
                }                                                                                  \
        }                                                                                          \
    }

DEFINE_PACKERS(double, f64, f64, cv_f64)
DEFINE_PACKERS(float, f32, f32, cv_f32)
DEFINE_PACKERS(float, f32, bf16, cv_bf16)
DEFINE_PACKERS(float, f32, f16, cv_f16)
DEFINE_PACKERS(int32_t, i32, i8, cv_i8)

/* ---- skinny products (decode: M <= SKINNY_M rows) --------------------------------------------
 * With a handful of rows every element of B is used M times only: the product is a stream over
 * B, and packing it (or computing a 6-row tile for one row) costs more than the multiply. Here
 * op(A), small, is converted once into a contiguous buffer and B is read exactly once, in its
 * own storage order, by threads that split the columns (no barriers besides the one after A):
 *   NN/TN (B stored K x N): row k of B updates a block of C's columns held in L1;
 *   NT    (B stored N x K): rows of B are dot products with the rows of A, along K in vectors. */
#define SKINNY_M 4
#define SK_L1 16384 /* bytes of C accumulators per column block (NN) */

#define AI __attribute__((always_inline)) static inline

#define DEFINE_SKINNY(T, S, V, SRC, CV)                                                            \
    static void sk_a_##S##_##SRC(const ab_gemm_op *op, const void *A, long k0, long k1, T *dst)    \
    {                                                                                              \
        for (long i = 0; i < op->m; i++)                                                           \
            for (long k = k0; k < k1; k++)                                                         \
                dst[i * op->k + k] = CV(A, A_IDX(op, i, k));                                       \
    }                                                                                              \
    AI V ldv_##S##_##SRC(const void *p, size_t idx)                                                \
    {                                                                                              \
        T tmp[S##_VL];                                                                             \
        for (int l = 0; l < S##_VL; l++)                                                           \
            tmp[l] = CV(p, idx + (size_t)l);                                                       \
        V v;                                                                                       \
        memcpy(&v, tmp, sizeof(v));                                                                \
        return v;                                                                                  \
    }                                                                                              \
    /* NT: out[i][jj] = sum_k a[i][k] * B[(j+jj)*ldb + k], MM rows x JN columns in registers */  \
    AI void sk_nt_blk_##S##_##SRC(const T *a, long K, const void *B, size_t ldb, long j, int MM,   \
                                  int JN, T out[SKINNY_M][8])                                      \
    {                                                                                              \
        V acc[SKINNY_M][8];                                                                        \
        for (int i = 0; i < MM; i++)                                                               \
            for (int q = 0; q < JN; q++)                                                           \
                acc[i][q] = (V){0};                                                                \
        long k = 0;                                                                                \
        for (; k + S##_VL <= K; k += S##_VL) {                                                     \
            V va[SKINNY_M];                                                                        \
            for (int i = 0; i < MM; i++)                                                           \
                memcpy(&va[i], a + (size_t)i * (size_t)K + (size_t)k, sizeof(V));                  \
            for (int q = 0; q < JN; q++) {                                                         \
                V vb = ldv_##S##_##SRC(B, (size_t)(j + q) * ldb + (size_t)k);                      \
                for (int i = 0; i < MM; i++)                                                       \
                    acc[i][q] += va[i] * vb;                                                       \
            }                                                                                      \
        }                                                                                          \
        for (int i = 0; i < MM; i++)                                                               \
            for (int q = 0; q < JN; q++) {                                                         \
                T sum = 0;                                                                         \
                for (int l = 0; l < S##_VL; l++)                                                   \
                    sum += acc[i][q][l];                                                           \
                for (long kk = k; kk < K; kk++)                                                    \
                    sum += a[(size_t)i * (size_t)K + (size_t)kk] *                                 \
                           CV(B, (size_t)(j + q) * ldb + (size_t)kk);                              \
                out[i][q] = sum;                                                                   \
            }                                                                                      \
    }                                                                                              \
    /* NN/TN: acc[i][0..jn) += a[i][k] * B[k][jb..jb+jn) for every k */                            \
    AI void sk_nn_blk_##S##_##SRC(const ab_gemm_op *op, const T *a, const void *B, long jb,        \
                                  long jn, int MM, T *acc)                                         \
    {                                                                                              \
        const long K = (long)op->k;                                                                \
        for (long k = 0; k < K; k++) {                                                             \
            const size_t base = B_IDX(op, k, jb);                                                  \
            T av[SKINNY_M];                                                                        \
            for (int i = 0; i < MM; i++)                                                           \
                av[i] = a[(size_t)i * (size_t)K + (size_t)k];                                      \
            _Pragma("omp simd") for (long j = 0; j < jn; j++)                                      \
            {                                                                                      \
                T b = CV(B, base + (size_t)j);                                                     \
                for (int i = 0; i < MM; i++)                                                       \
                    acc[(size_t)i * (size_t)jn + (size_t)j] += av[i] * b;                          \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void sk_cols_##S##_##SRC(const ab_gemm_op *op, const T *a, const void *B, T *C, long j0, \
                                    long j1)                                                       \
    {                                                                                              \
        const int M = (int)op->m;                                                                  \
        const T alpha = (T)op->alpha, beta = (T)op->beta;                                          \
        const size_t ldc = (size_t)op->ldc;                                                        \
        if (op->tb) {                                                                              \
            /* columns per register block: MM x JN accumulators + MM + 1 vectors fit 16 */        \
            static const int jn_of[SKINNY_M + 1] = {0, 8, 6, 4, 2};                                \
            T out[SKINNY_M][8];                                                                    \
            for (long j = j0; j < j1;) {                                                           \
                int jn = j1 - j >= jn_of[M] ? jn_of[M] : 1;                                        \
                switch (M * 16 + jn) {                                                             \
                case 1 * 16 + 8: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 1, 8, out); break; \
                case 2 * 16 + 6: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 2, 6, out); break; \
                case 3 * 16 + 4: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 3, 4, out); break; \
                case 4 * 16 + 2: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 4, 2, out); break; \
                case 1 * 16 + 1: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 1, 1, out); break; \
                case 2 * 16 + 1: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 2, 1, out); break; \
                case 3 * 16 + 1: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 3, 1, out); break; \
                default: sk_nt_blk_##S##_##SRC(a, op->k, B, op->ldb, j, 4, 1, out); break;        \
                }                                                                                  \
                for (int i = 0; i < M; i++)                                                        \
                    for (int q = 0; q < jn; q++) {                                                 \
                        T *c = C + (size_t)i * ldc + (size_t)(j + q);                              \
                        *c = beta == 0 ? alpha * out[i][q] : alpha * out[i][q] + beta * *c;        \
                    }                                                                              \
                j += jn;                                                                           \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        T acc[SK_L1 / sizeof(T)] __attribute__((aligned(64)));                                     \
        const long jbw = (long)(SK_L1 / sizeof(T)) / M;                                            \
        for (long jb = j0; jb < j1; jb += jbw) {                                                   \
            long jn = j1 - jb < jbw ? j1 - jb : jbw;                                               \
            memset(acc, 0, (size_t)M * (size_t)jn * sizeof(T));                                    \
            switch (M) {                                                                           \
            case 1: sk_nn_blk_##S##_##SRC(op, a, B, jb, jn, 1, acc); break;                        \
            case 2: sk_nn_blk_##S##_##SRC(op, a, B, jb, jn, 2, acc); break;                        \
            case 3: sk_nn_blk_##S##_##SRC(op, a, B, jb, jn, 3, acc); break;                        \
            default: sk_nn_blk_##S##_##SRC(op, a, B, jb, jn, 4, acc); break;                       \
            }                                                                                      \
            for (int i = 0; i < M; i++)                                                            \
                for (long j = 0; j < jn; j++) {                                                    \
                    T *c = C + (size_t)i * ldc + (size_t)(jb + j);                                 \
                    T v = acc[(size_t)i * (size_t)jn + (size_t)j];                                 \
                    *c = beta == 0 ? alpha * v : alpha * v + beta * *c;                            \
                }                                                                                  \
        }                                                                                          \
    }

DEFINE_SKINNY(double, f64, v_f64, f64, cv_f64)
DEFINE_SKINNY(float, f32, v_f32, f32, cv_f32)
DEFINE_SKINNY(float, f32, v_f32, bf16, cv_bf16)
DEFINE_SKINNY(float, f32, v_f32, f16, cv_f16)
DEFINE_SKINNY(int32_t, i32, v_i32, i8, cv_i8)

/* ---- the portable plan and driver --------------------------------------------------------- */

typedef struct port_plan {
    ab_gemm_op op;
    int threads;
    /* KC x NC packed B: shared by the team when rows are split; when columns are split each
     * thread owns panels_per_thread panels of it */
    void *bpack;
    size_t panels_per_thread;
    void *apack[AB_CPU_MAX_THREADS]; /* MC x KC per thread */
    void *askinny;                   /* op(A) converted, M x K, when M <= SKINNY_M */
} port_plan;

/* Skinny products, called by every thread of the team: A converted cooperatively, then each
 * thread its columns. */
#define SKINNY_DRIVE(T, S, SRC)                                                                        do {                                                                                                   const ab_gemm_op *op = &pl->op;                                                                    int t = omp_get_thread_num(), nth = omp_get_num_threads();                                         size_t klo, khi, jlo, jhi;                                                                         ab_cpu_chunk((size_t)op->k, nth, t, 64, &klo, &khi);                                               ab_cpu_chunk((size_t)op->n, nth, t, 64, &jlo, &jhi);                                               for (int64_t z = 0; z < op->batch; z++) {                                                              const char *Az = (const char *)a + (size_t)(z * op->stride_a) * ab_gemm_type_size(op->a);             const char *Bz = (const char *)b + (size_t)(z * op->stride_b) * ab_gemm_type_size(op->b);             T *Cz = (T *)c + z * op->stride_c;                                                                 sk_a_##S##_##SRC(op, Az, (long)klo, (long)khi, pl->askinny);                                       _Pragma("omp barrier");                                                                            if (jhi > jlo)                                                                                         sk_cols_##S##_##SRC(op, pl->askinny, Bz, Cz, (long)jlo, (long)jhi);                            _Pragma("omp barrier"); /* A is converted again for the next batch entry */                   }                                                                                              } while (0)

/* The blocked loops for one compute type. Called by every thread of the team. */
#define DEFINE_DRIVER(T, S)                                                                        \
    static void drive_##S(port_plan *pl, const void *A0, const void *B0, T *C0,                    \
                          void (*pack_a)(const ab_gemm_op *, const void *, long, long, long, long, \
                                         T *),                                                     \
                          void (*pack_b)(const ab_gemm_op *, const void *, long, long, long, long, \
                                         long, long, T *))                                         \
    {                                                                                              \
        const ab_gemm_op *op = &pl->op;                                                            \
        int t = omp_get_thread_num(), nth = omp_get_num_threads();                                 \
        long M = (long)op->m, N = (long)op->n, K = (long)op->k;                                    \
        T *bp = pl->bpack, *ap = pl->apack[t];                                                     \
        T alpha = (T)op->alpha, beta = (T)op->beta;                                                \
        size_t es = ab_gemm_type_size(op->a), ebs = ab_gemm_type_size(op->b);                      \
        /* rows are split when every thread gets a few register tiles' worth; otherwise (few    \
         * tokens) the column panels are split and each thread packs the small A itself */        \
        bool split_m = M >= (long)nth * S##_MR * 4;                                                \
        size_t mlo = 0, mhi = (size_t)M;                                                           \
        if (split_m)                                                                               \
            ab_cpu_chunk((size_t)M, nth, t, S##_MR, &mlo, &mhi);                                   \
        for (int64_t bi = 0; bi < op->batch; bi++) {                                               \
            const char *A = (const char *)A0 + (size_t)(bi * op->stride_a) * es;                   \
            const char *B = (const char *)B0 + (size_t)(bi * op->stride_b) * ebs;                  \
            T *C = C0 + bi * op->stride_c;                                                         \
            for (long jc = 0; jc < N; jc += NC) {                                                  \
                long nc = N - jc < NC ? N - jc : NC;                                               \
                long np = (nc + S##_NR - 1) / S##_NR;                                              \
                size_t qlo, qhi;                                                                   \
                ab_cpu_chunk((size_t)np, nth, t, 1, &qlo, &qhi);                                   \
                for (long pc = 0; pc < K; pc += KC) {                                              \
                    long kc = K - pc < KC ? K - pc : KC;                                           \
                    /* each thread packs its share of the panels; when rows are split every  \
                     * thread reads every panel, so all must be packed before anyone goes on;    \
                     * when columns are split a thread reads only what it packed itself, and    \
                     * runs without barriers (on a shared machine a barrier waits for the       \
                     * slowest, possibly descheduled, thread) */                                 \
                    T *bmine = split_m ? bp + qlo * S##_NR * (size_t)kc                            \
                                       : bp + (size_t)t * pl->panels_per_thread * S##_NR * KC;     \
                    pack_b(op, B, jc, nc, (long)qlo, (long)qhi, pc, kc, bmine);                    \
                    if (split_m) {                                                                 \
                        _Pragma("omp barrier");                                                    \
                    }                                                                              \
                    T cb = pc == 0 ? beta : (T)1;                                                  \
                    long q0 = split_m ? 0 : (long)qlo, q1 = split_m ? np : (long)qhi;              \
                    for (long ic = (long)mlo; ic < (long)mhi && q1 > q0; ic += S##_MC) {           \
                        long mc = (long)mhi - ic < S##_MC ? (long)mhi - ic : S##_MC;               \
                        pack_a(op, A, ic, mc, pc, kc, ap);                                         \
                        for (long q = q0; q < q1; q++) {                                           \
                            long jr = q * S##_NR;                                                  \
                            long nr = nc - jr < S##_NR ? nc - jr : S##_NR;                         \
                            const T *bq = split_m ? bp + (size_t)q * S##_NR * kc                   \
                                                  : bmine + (size_t)(q - q0) * S##_NR * kc;        \
                            for (long ir = 0; ir < mc; ir += S##_MR) {                             \
                                long mr = mc - ir < S##_MR ? mc - ir : S##_MR;                     \
                                ukr_##S(kc, ap + (size_t)ir * kc, bq,                              \
                                        C + (size_t)(ic + ir) * (size_t)op->ldc + (size_t)(jc + jr), \
                                        (long)op->ldc, mr, nr, alpha, cb);                         \
                            }                                                                      \
                        }                                                                          \
                    }                                                                              \
                    if (split_m) { /* B is repacked next: everyone must be done with it */     \
                        _Pragma("omp barrier");                                                    \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_DRIVER(double, f64)
DEFINE_DRIVER(float, f32)
DEFINE_DRIVER(int32_t, i32)

static size_t compute_size(ab_gemm_type a)
{
    return a == AB_GT_F64 ? 8 : 4;
}

static int port_dtype_ok(void *dev, const ab_gemm_op *op, char *why)
{
    (void)dev;
    if (op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2)
        return ab_err(why, "the portable kernel has no fp8 path (fp8 is a matrix-unit format; "
                           "measured through the vendor library)");
    if (op->a == AB_GT_F32 && op->tf32)
        return ab_err(why, "CPUs have no TF32 arithmetic (a matrix-unit format)");
    if (op->a != op->b)
        return ab_err(why, "the portable kernel multiplies equal input types (%s x %s asked)",
                      ab_gemm_type_name(op->a), ab_gemm_type_name(op->b));
    ab_gemm_type want = op->a == AB_GT_F64 ? AB_GT_F64 : op->a == AB_GT_I8 ? AB_GT_I32 : AB_GT_F32;
    if (op->c != want)
        return ab_err(why, "the portable kernel writes %s inputs as %s, not %s",
                      ab_gemm_type_name(op->a), ab_gemm_type_name(want), ab_gemm_type_name(op->c));
    return 0;
}

static int port_supports(void *dev, const ab_gemm_op *op, char *why)
{
    if (port_dtype_ok(dev, op, why) != 0)
        return -1;
    if (op->a == AB_GT_I8 && (op->alpha != nearbyint(op->alpha) || op->beta != nearbyint(op->beta)))
        return ab_err(why, "integer GEMM takes integer alpha and beta");
    return 0;
}

static void port_release(void *plan)
{
    port_plan *pl = plan;
    if (!pl)
        return;
    ab_cpu_free(pl->bpack);
    ab_cpu_free(pl->askinny);
    for (int i = 0; i < pl->threads; i++)
        ab_cpu_free(pl->apack[i]);
    free(pl);
}

static int port_prepare(void *dev, const ab_gemm_op *op, void **plan, char *err)
{
    const ab_cpu_dev *d = dev;
    if (port_supports(dev, op, err) != 0)
        return -1;
    port_plan *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return ab_err(err, "out of memory");
    pl->op = *op;
    pl->threads = d->threads;
    size_t es = compute_size(op->a);
    /* panels rounded up to whole NR / MR tiles (edge tiles are zero-padded) */
    size_t nr = (size_t)(2 * VB) / es, panels = (NC + nr - 1) / nr;
    pl->panels_per_thread = (panels + (size_t)pl->threads - 1) / (size_t)pl->threads;
    size_t total = pl->panels_per_thread * (size_t)pl->threads;
    pl->bpack = ab_cpu_alloc(d, (size_t)KC * (total > panels ? total : panels) * nr * es);
    bool ok = pl->bpack != NULL;
    for (int i = 0; i < pl->threads && ok; i++)
        ok = (pl->apack[i] = ab_cpu_alloc(d, (size_t)L2_A + (size_t)KC * MRX * es)) != NULL;
    if (ok && op->m <= SKINNY_M)
        ok = (pl->askinny = ab_cpu_alloc(d, (size_t)(op->m * op->k) * es)) != NULL;
    if (!ok) {
        port_release(pl);
        return ab_err(err, "cpu: out of memory for packing buffers");
    }
    *plan = pl;
    return 0;
}

static int port_run(void *plan, void *a, void *b, void *c, char *err)
{
    (void)err;
    port_plan *pl = plan;
    ab_gemm_type src = pl->op.a;
    if (pl->askinny) {
#pragma omp parallel num_threads(pl->threads)
        {
            switch (src) {
            case AB_GT_F64: SKINNY_DRIVE(double, f64, f64); break;
            case AB_GT_F32: SKINNY_DRIVE(float, f32, f32); break;
            case AB_GT_BF16: SKINNY_DRIVE(float, f32, bf16); break;
            case AB_GT_F16: SKINNY_DRIVE(float, f32, f16); break;
            case AB_GT_I8: SKINNY_DRIVE(int32_t, i32, i8); break;
            default: break;
            }
        }
        return 0;
    }
#pragma omp parallel num_threads(pl->threads)
    {
        switch (src) {
        case AB_GT_F64: drive_f64(pl, a, b, c, pack_a_f64_f64, pack_b_f64_f64); break;
        case AB_GT_F32: drive_f32(pl, a, b, c, pack_a_f32_f32, pack_b_f32_f32); break;
        case AB_GT_BF16: drive_f32(pl, a, b, c, pack_a_f32_bf16, pack_b_f32_bf16); break;
        case AB_GT_F16: drive_f32(pl, a, b, c, pack_a_f32_f16, pack_b_f32_f16); break;
        case AB_GT_I8: drive_i32(pl, a, b, c, pack_a_i32_i8, pack_b_i32_i8); break;
        default: break; /* excluded by supports() */
        }
    }
    return 0;
}

static void port_describe(void *plan, char *buf, size_t len)
{
    const port_plan *pl = plan;
    size_t es = compute_size(pl->op.a);
    int mr = MRX, nr = 2 * VB / (int)es;
    if (pl->askinny)
        snprintf(buf, len, "accelbench streaming kernel for M <= %d (%s): B read once in its own "
                           "order, %d-byte vectors, %d threads",
                 SKINNY_M, pl->op.tb ? "dot products along K" : "rows of B into C blocks in L1",
                 VB, pl->threads);
    else
        snprintf(buf, len, "accelbench packed kernel: %dx%d register tile of %d-byte vectors, KC %d, "
                           "MC %d, NC %d, %d threads",
                 mr, nr, VB, KC, (int)(L2_A / (KC * (int)es)) / mr * mr, NC, pl->threads);
}

static const ab_gemm_impl port_impl = {
    .name = "portable",
    .dtype_ok = port_dtype_ok,
    .supports = port_supports,
    .prepare = port_prepare,
    .run = port_run,
    .release = port_release,
    .describe = port_describe,
};

/* ---- vendor: OpenBLAS ----------------------------------------------------------------------- */

#ifdef AB_HAVE_OPENBLAS

typedef void (*sbgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                          blasint, blasint, float, const uint16_t *, blasint, const uint16_t *,
                          blasint, float, float *, blasint);

/* cblas_sbgemm is declared by every OpenBLAS header but exported only by builds with
 * BUILD_BFLOAT16 (Debian's is not): look for it in the library actually loaded. */
static sbgemm_fn find_sbgemm(void)
{
    sbgemm_fn f;
    void *p = dlsym(RTLD_DEFAULT, "cblas_sbgemm");
    memcpy(&f, &p, sizeof(f));
    return f;
}

typedef struct blas_plan {
    ab_gemm_op op;
    int threads;
    sbgemm_fn sbgemm;
} blas_plan;

static int blas_dtype_ok(void *dev, const ab_gemm_op *op, char *why)
{
    (void)dev;
    if (op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2)
        return ab_err(why, "OpenBLAS has no fp8 GEMM");
    if (op->a != op->b)
        return ab_err(why, "OpenBLAS multiplies equal input types (%s x %s asked)",
                      ab_gemm_type_name(op->a), ab_gemm_type_name(op->b));
    switch (op->a) {
    case AB_GT_F64:
        if (op->c == AB_GT_F64)
            return 0;
        break;
    case AB_GT_F32:
        if (op->tf32)
            return ab_err(why, "CPUs have no TF32 arithmetic (a matrix-unit format)");
        if (op->c == AB_GT_F32)
            return 0;
        break;
    case AB_GT_BF16:
        if (!find_sbgemm())
            return ab_err(why, "this OpenBLAS (%s) does not export cblas_sbgemm (built without "
                               "BUILD_BFLOAT16)",
                          openblas_get_config());
        if (op->c == AB_GT_F32)
            return 0;
        break;
    case AB_GT_F16: return ab_err(why, "OpenBLAS has no f16 GEMM");
    case AB_GT_E4M3:
    case AB_GT_E5M2: return ab_err(why, "OpenBLAS has no fp8 GEMM");
    case AB_GT_I8: return ab_err(why, "OpenBLAS has no int8 GEMM in its CBLAS interface");
    default: break;
    }
    return ab_err(why, "OpenBLAS writes %s products as %s, not %s", ab_gemm_type_name(op->a),
                  op->a == AB_GT_F64 ? "f64" : "f32", ab_gemm_type_name(op->c));
}

static int blas_supports(void *dev, const ab_gemm_op *op, char *why)
{
    if (blas_dtype_ok(dev, op, why) != 0)
        return -1;
    /* CBLAS takes 32-bit integers (this OpenBLAS is not an INTERFACE64 build) */
    const int64_t lim = 2147483647;
    if (op->m > lim || op->n > lim || op->k > lim || op->lda > lim || op->ldb > lim ||
        op->ldc > lim)
        return ab_err(why, "a dimension exceeds the 32-bit CBLAS interface");
    return 0;
}

static int blas_prepare(void *dev, const ab_gemm_op *op, void **plan, char *err)
{
    const ab_cpu_dev *d = dev;
    if (blas_supports(dev, op, err) != 0)
        return -1;
    blas_plan *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return ab_err(err, "out of memory");
    pl->op = *op;
    pl->threads = d->threads;
    pl->sbgemm = op->a == AB_GT_BF16 ? find_sbgemm() : NULL;
    /* the same thread count as the portable kernel, so the two are compared like for like */
    openblas_set_num_threads(d->threads);
    *plan = pl;
    return 0;
}

static int blas_run(void *plan, void *a, void *b, void *c, char *err)
{
    (void)err;
    const blas_plan *pl = plan;
    const ab_gemm_op *op = &pl->op;
    enum CBLAS_TRANSPOSE ta = op->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = op->tb ? CblasTrans : CblasNoTrans;
    blasint M = (blasint)op->m, N = (blasint)op->n, K = (blasint)op->k;
    blasint lda = (blasint)op->lda, ldb = (blasint)op->ldb, ldc = (blasint)op->ldc;
    for (int64_t i = 0; i < op->batch; i++) {
        switch (op->a) {
        case AB_GT_F64:
            cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, op->alpha,
                        (const double *)a + i * op->stride_a, lda,
                        (const double *)b + i * op->stride_b, ldb, op->beta,
                        (double *)c + i * op->stride_c, ldc);
            break;
        case AB_GT_F32:
            cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, (float)op->alpha,
                        (const float *)a + i * op->stride_a, lda,
                        (const float *)b + i * op->stride_b, ldb, (float)op->beta,
                        (float *)c + i * op->stride_c, ldc);
            break;
        case AB_GT_BF16:
            pl->sbgemm(CblasRowMajor, ta, tb, M, N, K, (float)op->alpha,
                       (const uint16_t *)a + i * op->stride_a, lda,
                       (const uint16_t *)b + i * op->stride_b, ldb, (float)op->beta,
                       (float *)c + i * op->stride_c, ldc);
            break;
        default: break;
        }
    }
    return 0;
}

static void blas_release(void *plan)
{
    free(plan);
}

static void blas_describe(void *plan, char *buf, size_t len)
{
    const blas_plan *pl = plan;
    int par = openblas_get_parallel();
    snprintf(buf, len, "%s; core %s; %s, %d threads; %s", openblas_get_config(),
             openblas_get_corename(),
             par == 0 ? "sequential" : par == 1 ? "pthreads" : "OpenMP", pl->threads,
             pl->op.a == AB_GT_F64   ? "cblas_dgemm"
             : pl->op.a == AB_GT_F32 ? "cblas_sgemm"
                                     : "cblas_sbgemm");
}

static const ab_gemm_impl blas_impl = {
    .name = "vendor",
    .dtype_ok = blas_dtype_ok,
    .supports = blas_supports,
    .prepare = blas_prepare,
    .run = blas_run,
    .release = blas_release,
    .describe = blas_describe,
};
#endif

/* ---- data: filled in place by the team, each thread first-touching its own chunk ---------- */

static int cpu_fill(void *dev, void *buf, ab_gemm_type t, size_t count, uint64_t seed, char *err)
{
    (void)err;
    const ab_cpu_dev *d = dev;
    size_t es = ab_gemm_type_size(t);
    uint64_t sentinel = ab_gemm_sentinel_bits(t);
#pragma omp parallel num_threads(d->threads)
    {
        size_t lo, hi;
        ab_cpu_chunk(count, omp_get_num_threads(), omp_get_thread_num(), 64, &lo, &hi);
        unsigned char *p = buf;
        for (size_t i = lo; i < hi; i++) {
            uint64_t v = seed == AB_GEMM_SENTINEL ? sentinel : ab_gemm_value_bits(t, seed, i);
            switch (es) {
            case 8: memcpy(p + i * 8, &v, 8); break;
            case 4: {
                uint32_t w = (uint32_t)v;
                memcpy(p + i * 4, &w, 4);
                break;
            }
            case 2: {
                uint16_t w = (uint16_t)v;
                memcpy(p + i * 2, &w, 2);
                break;
            }
            default: p[i] = (unsigned char)v; break;
            }
        }
    }
    return 0;
}

const ab_gemm_backend ab_gemm_cpu = {
#ifdef AB_HAVE_OPENBLAS
    .impl = {&blas_impl, &port_impl},
    .absent = {NULL, NULL},
#else
    .impl = {NULL, &port_impl},
    .absent = {"built without OpenBLAS (install libopenblas-dev and reconfigure)", NULL},
#endif
    .fill = cpu_fill,
};

/* SPDX-License-Identifier: MIT */
/*
 * membw on the CPU: one OpenMP team (pinned, see backends/cpu.c), each thread owning a static
 * chunk of every array. A timed batch is one parallel region in which each thread runs the kernel
 * `iters` times over its own chunk with no barrier in between (as likwid-bench does): threads
 * never touch each other's data, and the batch ends when the slowest thread does, so the
 * measured time is honest for cache-resident sizes too, where a barrier per iteration would
 * dominate.
 *
 * Two store flavours for every writing kernel:
 *   ordinary  - plain C loops the compiler vectorises; each store first reads the destination
 *               line into cache (write-allocate), traffic that is not counted in the bytes;
 *   streaming - non-temporal stores (MOVNTPD/MOVNTPS via intrinsics) that bypass the cache and
 *               skip the write-allocate read, what the hardware can deliver for streaming writes.
 */
#include "membw.h"

#include "../../backends/cpu.h"
#include "../../backends/omp_compat.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_NT 1
#if defined(__AVX512F__)
#define VD __m512d
#define VF __m512
#define VD_N 8
#define VF_N 16
#define VD_LOAD _mm512_load_pd
#define VF_LOAD _mm512_load_ps
#define VD_STREAM _mm512_stream_pd
#define VF_STREAM _mm512_stream_ps
#define VD_SET1 _mm512_set1_pd
#define VF_SET1 _mm512_set1_ps
#define VD_ADD _mm512_add_pd
#define VF_ADD _mm512_add_ps
#define VD_MUL _mm512_mul_pd
#define VF_MUL _mm512_mul_ps
#elif defined(__AVX__)
#define VD __m256d
#define VF __m256
#define VD_N 4
#define VF_N 8
#define VD_LOAD _mm256_load_pd
#define VF_LOAD _mm256_load_ps
#define VD_STREAM _mm256_stream_pd
#define VF_STREAM _mm256_stream_ps
#define VD_SET1 _mm256_set1_pd
#define VF_SET1 _mm256_set1_ps
#define VD_ADD _mm256_add_pd
#define VF_ADD _mm256_add_ps
#define VD_MUL _mm256_mul_pd
#define VF_MUL _mm256_mul_ps
#else
#define VD __m128d
#define VF __m128
#define VD_N 2
#define VF_N 4
#define VD_LOAD _mm_load_pd
#define VF_LOAD _mm_load_ps
#define VD_STREAM _mm_stream_pd
#define VF_STREAM _mm_stream_ps
#define VD_SET1 _mm_set1_pd
#define VF_SET1 _mm_set1_ps
#define VD_ADD _mm_add_pd
#define VF_ADD _mm_add_ps
#define VD_MUL _mm_mul_pd
#define VF_MUL _mm_mul_ps
#endif
#else
#define HAVE_NT 0
#endif

/* Keeps the compiler from merging or hoisting repeated, idempotent kernel runs. */
#define COMPILER_BARRIER() __asm__ __volatile__("" ::: "memory")

/* Chunks end on 64-element boundaries: 256/512-byte aligned, whole cache lines per thread. */
#define CHUNK_ALIGN 64

/* Reductions add blocks of this many elements in the element type (vectorised), then the block
 * sums in double: the f32 dot stays accurate to ~1e-6 without slowing the stream. */
#define RBLOCK 2048

#define ORDINARY_KERNELS(T, SUFFIX)                                                                \
    static void run_ord_##SUFFIX(const ab_membw_args *a, size_t lo, size_t hi, long iters,         \
                                 T *part)                                                          \
    {                                                                                              \
        T *restrict A = a->a, *restrict B = a->b, *restrict C = a->c;                              \
        const T q = (T)AB_MEMBW_SCALAR, w = (T)AB_MEMBW_WRITE_VALUE;                               \
        for (long it = 0; it < iters; it++) {                                                      \
            switch (a->kernel) {                                                                   \
            case AB_MB_COPY:                                                                       \
                _Pragma("omp simd") for (size_t i = lo; i < hi; i++) C[i] = A[i];                  \
                break;                                                                             \
            case AB_MB_SCALE:                                                                      \
                _Pragma("omp simd") for (size_t i = lo; i < hi; i++) B[i] = q * C[i];              \
                break;                                                                             \
            case AB_MB_ADD:                                                                        \
                _Pragma("omp simd") for (size_t i = lo; i < hi; i++) C[i] = A[i] + B[i];           \
                break;                                                                             \
            case AB_MB_TRIAD:                                                                      \
                _Pragma("omp simd") for (size_t i = lo; i < hi; i++) A[i] = B[i] + q * C[i];       \
                break;                                                                             \
            case AB_MB_WRITE:                                                                      \
                _Pragma("omp simd") for (size_t i = lo; i < hi; i++) C[i] = w;                     \
                break;                                                                             \
            case AB_MB_DOT:                                                                        \
            case AB_MB_READ: {                                                                     \
                double acc = 0.0;                                                                  \
                const bool dot = a->kernel == AB_MB_DOT;                                           \
                for (size_t i0 = lo; i0 < hi; i0 += RBLOCK) {                                      \
                    size_t i1 = i0 + RBLOCK < hi ? i0 + RBLOCK : hi;                               \
                    T s = 0;                                                                       \
                    if (dot) {                                                                     \
                        _Pragma("omp simd reduction(+ : s)") for (size_t i = i0; i < i1; i++) s += \
                            A[i] * B[i];                                                           \
                    } else {                                                                       \
                        _Pragma("omp simd reduction(+ : s)") for (size_t i = i0; i < i1; i++) s += \
                            A[i];                                                                  \
                    }                                                                              \
                    acc += (double)s;                                                              \
                }                                                                                  \
                *part = (T)acc;                                                                    \
                break;                                                                             \
            }                                                                                      \
            default:                                                                               \
                break;                                                                             \
            }                                                                                      \
            COMPILER_BARRIER();                                                                    \
        }                                                                                          \
    }

ORDINARY_KERNELS(double, f64)
ORDINARY_KERNELS(float, f32)

#if HAVE_NT
/* Streaming variants: chunk bounds are CHUNK_ALIGN-element aligned and the arrays page aligned,
 * so every vector store is aligned; a scalar tail covers n not divisible by the vector width. */
#define STREAMING_KERNELS(T, SUFFIX, V, VN, LOAD, STREAM, SET1, ADD, MUL)                         \
    static void run_nt_##SUFFIX(const ab_membw_args *a, size_t lo, size_t hi, long iters)          \
    {                                                                                              \
        T *restrict A = a->a, *restrict B = a->b, *restrict C = a->c;                              \
        const T q = (T)AB_MEMBW_SCALAR, w = (T)AB_MEMBW_WRITE_VALUE;                               \
        const V vq = SET1(q), vw = SET1(w);                                                        \
        size_t vend = lo + (hi - lo) / VN * VN;                                                    \
        for (long it = 0; it < iters; it++) {                                                      \
            size_t i;                                                                              \
            switch (a->kernel) {                                                                   \
            case AB_MB_COPY:                                                                       \
                for (i = lo; i < vend; i += VN)                                                    \
                    STREAM(&C[i], LOAD(&A[i]));                                                    \
                for (; i < hi; i++)                                                                \
                    C[i] = A[i];                                                                   \
                break;                                                                             \
            case AB_MB_SCALE:                                                                      \
                for (i = lo; i < vend; i += VN)                                                    \
                    STREAM(&B[i], MUL(vq, LOAD(&C[i])));                                           \
                for (; i < hi; i++)                                                                \
                    B[i] = q * C[i];                                                               \
                break;                                                                             \
            case AB_MB_ADD:                                                                        \
                for (i = lo; i < vend; i += VN)                                                    \
                    STREAM(&C[i], ADD(LOAD(&A[i]), LOAD(&B[i])));                                  \
                for (; i < hi; i++)                                                                \
                    C[i] = A[i] + B[i];                                                            \
                break;                                                                             \
            case AB_MB_TRIAD:                                                                      \
                for (i = lo; i < vend; i += VN)                                                    \
                    STREAM(&A[i], ADD(LOAD(&B[i]), MUL(vq, LOAD(&C[i]))));                         \
                for (; i < hi; i++)                                                                \
                    A[i] = B[i] + q * C[i];                                                        \
                break;                                                                             \
            case AB_MB_WRITE:                                                                      \
                for (i = lo; i < vend; i += VN)                                                    \
                    STREAM(&C[i], vw);                                                             \
                for (; i < hi; i++)                                                                \
                    C[i] = w;                                                                      \
                break;                                                                             \
            default:                                                                               \
                break;                                                                             \
            }                                                                                      \
            /* order the weakly-ordered streaming stores before the next pass and the timer */     \
            _mm_sfence();                                                                          \
            COMPILER_BARRIER();                                                                    \
        }                                                                                          \
    }

STREAMING_KERNELS(double, f64, VD, VD_N, VD_LOAD, VD_STREAM, VD_SET1, VD_ADD, VD_MUL)
STREAMING_KERNELS(float, f32, VF, VF_N, VF_LOAD, VF_STREAM, VF_SET1, VF_ADD, VF_MUL)
#endif

static size_t cpu_partials(void *dev, const ab_membw_args *a)
{
    (void)a;
    return (size_t)((ab_cpu_dev *)dev)->threads;
}

static int cpu_init(void *dev, const ab_membw_args *a, char *err)
{
    (void)err;
    const ab_cpu_dev *d = dev;
    unsigned used = ab_membw_arrays(a->kernel);
#pragma omp parallel num_threads(d->threads)
    {
        size_t lo, hi;
        ab_cpu_chunk(a->n, omp_get_num_threads(), omp_get_thread_num(), CHUNK_ALIGN, &lo, &hi);
        if (a->f64) {
            double *A = a->a, *B = a->b, *C = a->c;
            for (size_t i = lo; i < hi; i++) {
                if (used & AB_MB_A)
                    A[i] = AB_MEMBW_START_A;
                if (used & AB_MB_B)
                    B[i] = AB_MEMBW_START_B;
                if (used & AB_MB_C)
                    C[i] = AB_MEMBW_START_C;
            }
        } else {
            float *A = a->a, *B = a->b, *C = a->c;
            for (size_t i = lo; i < hi; i++) {
                if (used & AB_MB_A)
                    A[i] = (float)AB_MEMBW_START_A;
                if (used & AB_MB_B)
                    B[i] = (float)AB_MEMBW_START_B;
                if (used & AB_MB_C)
                    C[i] = (float)AB_MEMBW_START_C;
            }
        }
    }
    return 0;
}

static int cpu_run(void *dev, const ab_membw_args *a, long iters, char *err)
{
    (void)err;
    const ab_cpu_dev *d = dev;
#pragma omp parallel num_threads(d->threads)
    {
        int t = omp_get_thread_num();
        size_t lo, hi;
        ab_cpu_chunk(a->n, omp_get_num_threads(), t, CHUNK_ALIGN, &lo, &hi);
        bool nt = a->streaming && a->kernel != AB_MB_DOT && a->kernel != AB_MB_READ;
#if HAVE_NT
        if (nt) {
            if (a->f64)
                run_nt_f64(a, lo, hi, iters);
            else
                run_nt_f32(a, lo, hi, iters);
        }
#else
        (void)nt;
        nt = false;
#endif
        if (!nt) {
            if (a->f64)
                run_ord_f64(a, lo, hi, iters, (double *)a->partial + t);
            else
                run_ord_f32(a, lo, hi, iters, (float *)a->partial + t);
        }
    }
    return 0;
}

const ab_membw_impl ab_membw_cpu = {
    .has_streaming = HAVE_NT,
    .partials = cpu_partials,
    .init = cpu_init,
    .run = cpu_run,
};

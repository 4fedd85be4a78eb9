/* SPDX-License-Identifier: MIT */
/*
 * attention on the CPU (f32), one OpenMP team pinned by the CPU backend.
 *
 * naive: the textbook three steps over the whole batch, the score tensor [b][h][s_q][s_kv]
 *        materialised in memory as PyTorch eager code does: S = scale·Q·Kᵀ (OpenBLAS sgemm per
 *        head when built with it, plain loops otherwise), a row softmax in place, O = P·V.
 *        Parallel over heads; BLAS runs single-threaded inside the team (see blas_serial()).
 *
 * fused (prefill): FlashAttention-2's loop order on a CPU. One task = BR query rows of one
 *        head; tasks are shared by the team dynamically (causal blocks differ in work). A task
 *        packs its Q block transposed (Qᵀ, d×BR, pre-multiplied by scale·log2 e so the softmax
 *        uses exp2 and no per-score multiply), then walks the K/V blocks of BC keys:
 *          Sᵀ = K_blk·Qᵀ            6×16 register-blocked FMA micro-kernel (keys × query rows)
 *          row max, p = 2^(s - m)   vectorised across query rows: Sᵀ keeps a row's scores in
 *                                   one column, so the softmax reductions are plain vertical
 *                                   vector ops, no horizontal sums
 *          O = O·α + P·V_blk        6×16 micro-kernel (query rows × head-dim), the rescaling by
 *                                   α = 2^(m_old - m_new) folded into loading the O tile
 *        Sizes: BR = BC = 96 (multiples of both micro-kernel edges, 6 and 16). The working set of
 *        a block step (Qᵀ 48 KiB, Sᵀ 36 KiB, O 48 KiB, K and V blocks 48 KiB each at d = 128)
 *        lives in the 512 KiB L2; each micro-kernel call streams from L1 (a 16-row slice of Qᵀ
 *        is 8 KiB, a 16-column slice of a V block 6 KiB). Causal: blocks past the diagonal are
 *        never visited, micro-tiles entirely above it are skipped.
 *
 * fused (decode, q_len = 1): split-KV. The cache of each (sequence, KV head) is cut into
 *        chunks, and one task reads LANES = 4 chunks side by side: a cache line of each chunk's
 *        row in turn, so a thread keeps four read streams going instead of one (a single
 *        sequential stream per core leaves line fills idle): about 1.25x faster on the 2-core
 *        EPYC VM, level with membw's one-stream read kernel (README, attention).
 *        The heads/kv_heads query heads that share the KV head are processed together, so
 *        every K and V byte comes from memory once. Per block of 64 keys and lane: scores
 *        (dot products), an online-softmax step, then O = α·O + P·V; partial (m, l, O) per
 *        chunk, and a final pass combines the chunks. Tails past the blocks all four lanes
 *        have run one lane at a time.
 *
 * The AVX2+FMA code paths are chosen at run time (__builtin_cpu_supports), so a build without
 * -march=native still gets them; other CPUs run the same algorithms in plain C.
 */
#include "attention.h"

#include "../../backends/cpu.h"
#include "../../backends/omp_compat.h"
#include "../../core/ab.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef AB_HAVE_OPENBLAS
#include <cblas.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#define AVX2 __attribute__((target("avx2,fma")))
#else
#define HAVE_AVX2_PATH 0
#endif

#define LOG2E 1.4426950408889634f
#define BR 96      /* query rows per prefill task */
#define BC 96      /* keys per block */
#define DK 64      /* keys per decode block */
#define LANES 4    /* cache chunks one decode task reads side by side */
#define GSLICE 2   /* keys per decode slice that the query heads of a KV head share */
#define MAX_D 256  /* largest head_dim (the suite's check enforces it) */
#define MAX_G 64   /* largest heads / kv_heads the decode scratch holds */

/* ------------------------------------------------------------------------------------------ */
/* shapes and workspaces                                                                       */

static int is_decode(const ab_attn_shape *s)
{
    return s->q_len == 1;
}

/* per-thread scratch of the prefill kernel, in floats */
static size_t prefill_scratch(int d)
{
    return (size_t)d * BR      /* Qᵀ */
           + (size_t)BC * BR   /* Sᵀ / Pᵀ */
           + (size_t)BR * d    /* O accumulator */
           + 3 * (size_t)BR    /* m, l, α */
           + 2 * (size_t)BC * d /* zero-padded tail K and V blocks */
           + 64;               /* alignment slack */
}

/* per-thread scratch of the decode kernel, in floats: for each of the LANES interleaved
 * chunks, g score rows, g accumulators and (m, l); the scaled queries once */
static size_t decode_scratch(int d, int g)
{
    return (size_t)g * d /* scaled queries */ +
           LANES * ((size_t)g * DK /* scores */ + (size_t)g * d /* O */ + 2 * (size_t)g) +
           16 * (1 + 2 * (size_t)LANES) /* alignment slack */;
}

/* cache chunks per (sequence, KV head), a multiple of LANES: one task reads LANES chunks side
 * by side; enough tasks for 4 per thread, while a task's chunks stay >= 256 keys */
static long decode_splits(const ab_attn_shape *s, int threads)
{
    long units = (long)s->batch * s->kv_heads;
    long want = (4L * threads + units - 1) / units;
    long most = s->kv_len / (256L * LANES);
    if (want > most)
        want = most;
    return (want < 1 ? 1 : want) * LANES;
}

static size_t cpu_workspace(void *dev, ab_attn_kind kind, ab_attn_dtype dt,
                            const ab_attn_shape *s)
{
    (void)dt;
    const ab_cpu_dev *d = dev;
    size_t t = (size_t)d->threads;
    if (kind == AB_ATTN_NAIVE)
        return (size_t)s->batch * s->heads * (size_t)s->q_len * (size_t)s->kv_len * sizeof(float);
    if (is_decode(s)) {
        int g = s->heads / s->kv_heads;
        size_t partial = (size_t)s->batch * s->heads * (size_t)decode_splits(s, d->threads) *
                         ((size_t)s->head_dim + 2);
        return (t * decode_scratch(s->head_dim, g) + partial) * sizeof(float);
    }
    return t * prefill_scratch(s->head_dim) * sizeof(float);
}

static int cpu_supports(void *dev, ab_attn_kind kind, ab_attn_dtype dt, const ab_attn_shape *s,
                        char *why)
{
    (void)dev;
    if (kind == AB_ATTN_VENDOR)
        return ab_err(why, "no vendor fused-attention library on the CPU backend");
    if (dt != AB_ATTN_F32)
        return ab_err(why, "the CPU kernels compute in f32 only (%s is not implemented)",
                      ab_attn_dtype_name(dt));
    if (s->head_dim > MAX_D)
        return ab_err(why, "head_dim %d above the CPU kernels' %d", s->head_dim, MAX_D);
    if (kind == AB_ATTN_FUSED && is_decode(s) && s->heads / s->kv_heads > MAX_G)
        return ab_err(why, "more than %d query heads per KV head", MAX_G);
    return 0;
}

static const char *cpu_describe(void *dev, ab_attn_kind kind, ab_attn_dtype dt,
                                const ab_attn_shape *s);

/* ------------------------------------------------------------------------------------------ */
/* the test pattern                                                                            */

static int cpu_fill(void *dev, ab_attn_dtype dt, void *buf, size_t n, uint64_t seed, float amp,
                    char *err)
{
    (void)err;
    const ab_cpu_dev *d = dev;
#pragma omp parallel num_threads(d->threads)
    {
        size_t lo, hi;
        ab_cpu_chunk(n, omp_get_num_threads(), omp_get_thread_num(), 1024, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            float v = ab_attn_gen(seed, i, amp);
            if (dt == AB_ATTN_F32)
                ((float *)buf)[i] = v;
            else if (dt == AB_ATTN_BF16)
                ((uint16_t *)buf)[i] = ab_f32_to_bf16(v);
            else
                ((uint16_t *)buf)[i] = ab_f32_to_f16(v);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* kernel pieces: one table for AVX2+FMA, one in plain C                                       */

typedef struct pieces {
    const char *name;
    /* Sᵀ[j][i] (row stride BR) = Σ_k K[j][k]·Qᵀ[k][i] for the micro-tiles not entirely above
     * the causal diagonal; jlimit(i) = last visible key of row i relative to the block (or
     * BC - 1 when nothing is masked): tiles with every j > jlimit(i) are skipped. */
    void (*s_block)(const float *K, const float *Qt, int d, float *St, long diag);
    /* row max of Sᵀ → mb[BR] */
    void (*row_max)(const float *St, float *mb);
    /* Pᵀ = 2^(Sᵀ - m) in place, rowsum[i] = Σ_j Pᵀ[j][i] */
    void (*exp_block)(float *St, const float *m, float *rowsum);
    /* O[i][:] = α[i]·O[i][:] + Σ_{j<jn(i)} Pᵀ[j][i]·V[j][:] */
    void (*pv_block)(const float *Pt, const float *V, int d, float *O, const float *alpha,
                     long diag);
    /* decode: sc[j] = q·K[j] for j < n */
    void (*dots)(const float *q, const float *K, int d, int n, float *sc);
    /* decode: online-softmax step over n scores: *m becomes max(*m, max sc), sc becomes
     * 2^(sc - *m); returns Σ p; *alpha = 2^(m_old - m_new) (0 when m_old is -inf) */
    float (*softmax_step)(float *sc, int n, float *m, float *alpha);
    /* decode: o = α·o + Σ_j p[j]·V[j] */
    void (*axpy_rows)(float *o, float alpha, const float *p, const float *V, int d, int n);
    /* decode, LANES chunks side by side: sc[i][j] = q·K[i][j] for j < n, the lanes' rows read
     * in turn (one cache line of each lane, then the next line of each) */
    void (*dots_lanes)(const float *q, const float *const *K, int d, int n, float *const *sc);
    /* decode, LANES chunks side by side: o[i] = α[i]·o[i] + Σ_j p[i][j]·V[i][j] (α NULL: no
     * scaling, o[i] += ...) */
    void (*axpy_lanes)(float *const *o, const float *alpha, const float *const *p,
                       const float *const *V, int d, int n);
} pieces;

/* "diag" convention: a key j of the block is visible from query row i when j <= i + diag;
 * LONG_MAX / 2 means no causal limit inside this block. */
#define NO_DIAG (1L << 40)

/* ---- plain C ---- */

static void s_block_c(const float *K, const float *Qt, int d, float *St, long diag)
{
    (void)diag;
    for (int j = 0; j < BC; j++) {
        float *row = St + (size_t)j * BR;
        for (int i = 0; i < BR; i++)
            row[i] = 0.0f;
        for (int k = 0; k < d; k++) {
            float kv = K[(size_t)j * d + k];
            const float *q = Qt + (size_t)k * BR;
#pragma omp simd
            for (int i = 0; i < BR; i++)
                row[i] += kv * q[i];
        }
    }
}

static void row_max_c(const float *St, float *mb)
{
    for (int i = 0; i < BR; i++)
        mb[i] = -INFINITY;
    for (int j = 0; j < BC; j++)
        for (int i = 0; i < BR; i++)
            mb[i] = fmaxf(mb[i], St[(size_t)j * BR + i]);
}

static void exp_block_c(float *St, const float *m, float *rowsum)
{
    for (int i = 0; i < BR; i++)
        rowsum[i] = 0.0f;
    for (int j = 0; j < BC; j++)
        for (int i = 0; i < BR; i++) {
            float *p = &St[(size_t)j * BR + i];
            *p = exp2f(*p - m[i]);
            rowsum[i] += *p;
        }
}

static void pv_block_c(const float *Pt, const float *V, int d, float *O, const float *alpha,
                       long diag)
{
    for (int i = 0; i < BR; i++) {
        float *o = O + (size_t)i * d;
        for (int c = 0; c < d; c++)
            o[c] *= alpha[i];
        long jn = diag >= NO_DIAG ? BC : i + diag + 1;
        if (jn > BC)
            jn = BC;
        for (long j = 0; j < jn; j++) {
            float p = Pt[(size_t)j * BR + i];
            const float *v = V + (size_t)j * d;
#pragma omp simd
            for (int c = 0; c < d; c++)
                o[c] += p * v[c];
        }
    }
}

static void dots_c(const float *q, const float *K, int d, int n, float *sc)
{
    for (int j = 0; j < n; j++) {
        float s = 0.0f;
        const float *k = K + (size_t)j * d;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < d; c++)
            s += q[c] * k[c];
        sc[j] = s;
    }
}

static float softmax_step_c(float *sc, int n, float *m, float *alpha)
{
    float mx = *m;
    for (int j = 0; j < n; j++)
        mx = fmaxf(mx, sc[j]);
    *alpha = *m == -INFINITY ? 0.0f : exp2f(*m - mx);
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        sc[j] = exp2f(sc[j] - mx);
        sum += sc[j];
    }
    *m = mx;
    return sum;
}

static void axpy_rows_c(float *o, float alpha, const float *p, const float *V, int d, int n)
{
    for (int c = 0; c < d; c++)
        o[c] *= alpha;
    for (int j = 0; j < n; j++) {
        const float *v = V + (size_t)j * d;
#pragma omp simd
        for (int c = 0; c < d; c++)
            o[c] += p[j] * v[c];
    }
}

static void dots_lanes_c(const float *q, const float *const *K, int d, int n, float *const *sc)
{
    for (int i = 0; i < LANES; i++)
        dots_c(q, K[i], d, n, sc[i]);
}

static void axpy_lanes_c(float *const *o, const float *alpha, const float *const *p,
                         const float *const *V, int d, int n)
{
    for (int i = 0; i < LANES; i++)
        axpy_rows_c(o[i], alpha ? alpha[i] : 1.0f, p[i], V[i], d, n);
}

static const pieces pieces_c = {
    .name = "portable C (compiler-vectorised loops)",
    .s_block = s_block_c,
    .row_max = row_max_c,
    .exp_block = exp_block_c,
    .pv_block = pv_block_c,
    .dots = dots_c,
    .softmax_step = softmax_step_c,
    .axpy_rows = axpy_rows_c,
    .dots_lanes = dots_lanes_c,
    .axpy_lanes = axpy_lanes_c,
};

/* ---- AVX2 + FMA ---- */
#if HAVE_AVX2_PATH

/* 2^x for x <= 0: x = n + f with f in [-1/2, 1/2], 2^f from a degree-6 polynomial fitted for
 * relative error on that interval (about 1e-7 evaluated in f32, below f32 rounding of the sums
 * it feeds), 2^n added to the exponent bits. Inputs below -126 (masked scores are -inf) give
 * exactly 0. */
AVX2 static inline __m256 exp2_avx2(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-126.0f);
    __m256 xc = _mm256_max_ps(x, lo);
    __m256 n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(xc, n);
    __m256 p = _mm256_set1_ps(1.533758477307856e-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3399870367720723e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.618519805371761e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550329014658928e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022646248340607e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931471824645996e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    __m256 r = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
    return _mm256_and_ps(r, _mm256_cmp_ps(x, lo, _CMP_GE_OQ));
}

/* Sᵀ[j0..j0+6)[i0..i0+16) over k < d: per k two 8-wide loads of Qᵀ, six broadcasts of K, twelve
 * FMAs into twelve accumulators (the register file holds 12 + 2 + 1 of 16). */
AVX2 static inline void mk_s_6x16(const float *K, const float *Qt, int d, float *St)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *k0 = K, *k1 = K + d, *k2 = K + 2 * d, *k3 = K + 3 * d, *k4 = K + 4 * d,
                *k5 = K + 5 * d;
    for (int k = 0; k < d; k++) {
        __m256 a0 = _mm256_load_ps(Qt + (size_t)k * BR);
        __m256 a1 = _mm256_load_ps(Qt + (size_t)k * BR + 8);
        __m256 b;
        b = _mm256_broadcast_ss(k0 + k);
        c00 = _mm256_fmadd_ps(b, a0, c00);
        c01 = _mm256_fmadd_ps(b, a1, c01);
        b = _mm256_broadcast_ss(k1 + k);
        c10 = _mm256_fmadd_ps(b, a0, c10);
        c11 = _mm256_fmadd_ps(b, a1, c11);
        b = _mm256_broadcast_ss(k2 + k);
        c20 = _mm256_fmadd_ps(b, a0, c20);
        c21 = _mm256_fmadd_ps(b, a1, c21);
        b = _mm256_broadcast_ss(k3 + k);
        c30 = _mm256_fmadd_ps(b, a0, c30);
        c31 = _mm256_fmadd_ps(b, a1, c31);
        b = _mm256_broadcast_ss(k4 + k);
        c40 = _mm256_fmadd_ps(b, a0, c40);
        c41 = _mm256_fmadd_ps(b, a1, c41);
        b = _mm256_broadcast_ss(k5 + k);
        c50 = _mm256_fmadd_ps(b, a0, c50);
        c51 = _mm256_fmadd_ps(b, a1, c51);
    }
    _mm256_store_ps(St + 0 * BR, c00);
    _mm256_store_ps(St + 0 * BR + 8, c01);
    _mm256_store_ps(St + 1 * BR, c10);
    _mm256_store_ps(St + 1 * BR + 8, c11);
    _mm256_store_ps(St + 2 * BR, c20);
    _mm256_store_ps(St + 2 * BR + 8, c21);
    _mm256_store_ps(St + 3 * BR, c30);
    _mm256_store_ps(St + 3 * BR + 8, c31);
    _mm256_store_ps(St + 4 * BR, c40);
    _mm256_store_ps(St + 4 * BR + 8, c41);
    _mm256_store_ps(St + 5 * BR, c50);
    _mm256_store_ps(St + 5 * BR + 8, c51);
}

AVX2 static void s_block_avx2(const float *K, const float *Qt, int d, float *St, long diag)
{
    /* i-slices outside, key groups inside: the 8 KiB Qᵀ slice stays in L1 while the K block
     * streams from L2 */
    for (int i0 = 0; i0 < BR; i0 += 16) {
        for (int j0 = 0; j0 < BC; j0 += 6) {
            if (diag < NO_DIAG && j0 > i0 + 15 + diag)
                break; /* this and every later key group is masked for all 16 rows */
            mk_s_6x16(K + (size_t)j0 * d, Qt + i0, d, St + (size_t)j0 * BR + i0);
        }
    }
}

AVX2 static void row_max_avx2(const float *St, float *mb)
{
    for (int i0 = 0; i0 < BR; i0 += 48) {
        __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0;
        for (int j = 0; j < BC; j++) {
            const float *r = St + (size_t)j * BR + i0;
            m0 = _mm256_max_ps(m0, _mm256_load_ps(r));
            m1 = _mm256_max_ps(m1, _mm256_load_ps(r + 8));
            m2 = _mm256_max_ps(m2, _mm256_load_ps(r + 16));
            m3 = _mm256_max_ps(m3, _mm256_load_ps(r + 24));
            m4 = _mm256_max_ps(m4, _mm256_load_ps(r + 32));
            m5 = _mm256_max_ps(m5, _mm256_load_ps(r + 40));
        }
        _mm256_store_ps(mb + i0, m0);
        _mm256_store_ps(mb + i0 + 8, m1);
        _mm256_store_ps(mb + i0 + 16, m2);
        _mm256_store_ps(mb + i0 + 24, m3);
        _mm256_store_ps(mb + i0 + 32, m4);
        _mm256_store_ps(mb + i0 + 40, m5);
    }
}

AVX2 static void exp_block_avx2(float *St, const float *m, float *rowsum)
{
    for (int i0 = 0; i0 < BR; i0 += 16) {
        __m256 m0 = _mm256_load_ps(m + i0), m1 = _mm256_load_ps(m + i0 + 8);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        for (int j = 0; j < BC; j++) {
            float *r = St + (size_t)j * BR + i0;
            __m256 p0 = exp2_avx2(_mm256_sub_ps(_mm256_load_ps(r), m0));
            __m256 p1 = exp2_avx2(_mm256_sub_ps(_mm256_load_ps(r + 8), m1));
            _mm256_store_ps(r, p0);
            _mm256_store_ps(r + 8, p1);
            s0 = _mm256_add_ps(s0, p0);
            s1 = _mm256_add_ps(s1, p1);
        }
        _mm256_store_ps(rowsum + i0, s0);
        _mm256_store_ps(rowsum + i0 + 8, s1);
    }
}

/* O[i0..i0+6)[c0..c0+16) = α·O + Σ_{j<jn} Pᵀ[j][i]·V[j][c]: per key two loads of V, six
 * broadcasts of P (adjacent floats of one Pᵀ row), twelve FMAs. */
AVX2 static inline void mk_pv_6x16(const float *Pt, const float *V, int d, int jn, float *O,
                                   const float *alpha)
{
    /* the loops over r are unrolled explicitly: the accumulators must live in registers, and
     * GCC at -O2 would otherwise keep the c[][] array on the stack */
    __m256 c[6][2];
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        __m256 a = _mm256_broadcast_ss(alpha + r);
        c[r][0] = _mm256_mul_ps(a, _mm256_loadu_ps(O + (size_t)r * d));
        c[r][1] = _mm256_mul_ps(a, _mm256_loadu_ps(O + (size_t)r * d + 8));
    }
    for (int j = 0; j < jn; j++) {
        __m256 v0 = _mm256_loadu_ps(V + (size_t)j * d);
        __m256 v1 = _mm256_loadu_ps(V + (size_t)j * d + 8);
        const float *p = Pt + (size_t)j * BR;
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
            __m256 b = _mm256_broadcast_ss(p + r);
            c[r][0] = _mm256_fmadd_ps(b, v0, c[r][0]);
            c[r][1] = _mm256_fmadd_ps(b, v1, c[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        _mm256_storeu_ps(O + (size_t)r * d, c[r][0]);
        _mm256_storeu_ps(O + (size_t)r * d + 8, c[r][1]);
    }
}

AVX2 static void pv_block_avx2(const float *Pt, const float *V, int d, float *O,
                               const float *alpha, long diag)
{
    /* head-dim slices outside, row groups inside: the 16-column slice of the V block (6 KiB)
     * stays in L1 while Pᵀ streams */
    for (int c0 = 0; c0 < d; c0 += 16) {
        for (int i0 = 0; i0 < BR; i0 += 6) {
            long jn = diag >= NO_DIAG ? BC : i0 + 5 + diag + 1;
            if (jn > BC)
                jn = BC;
            if (jn <= 0)
                continue; /* no visible key: P is 0 and α is 1 for these rows */
            mk_pv_6x16(Pt + i0, V + c0, d, (int)jn, O + (size_t)i0 * d + c0, alpha + i0);
        }
    }
}

AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Decode streams K and V from memory once: both loops below walk the rows in address order,
 * whole rows one after the other, the pattern the hardware prefetchers follow best. (Reading
 * 8 rows column-slice by column-slice, as a transposed reduction would, interleaves 8 short
 * streams; that measured 0.45x the triad bandwidth against 0.7x for this order. Software
 * prefetching ahead of the stream did not help on top of it.) */

/* q·K[j] for 4 rows at a time, each row read front to back into two accumulators; one
 * transposing horizontal add turns the 4 rows' 8 accumulators into 4 scores */
AVX2 static void dots_avx2(const float *q, const float *K, int d, int n, float *sc)
{
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256 a[4][2];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const float *kr = K + (size_t)(j + r) * d;
            a[r][0] = _mm256_setzero_ps();
            a[r][1] = _mm256_setzero_ps();
            for (int c = 0; c < d; c += 16) {
                a[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), _mm256_loadu_ps(kr + c), a[r][0]);
                a[r][1] = _mm256_fmadd_ps(_mm256_loadu_ps(q + c + 8), _mm256_loadu_ps(kr + c + 8),
                                          a[r][1]);
            }
        }
        __m256 s0 = _mm256_add_ps(a[0][0], a[0][1]), s1 = _mm256_add_ps(a[1][0], a[1][1]);
        __m256 s2 = _mm256_add_ps(a[2][0], a[2][1]), s3 = _mm256_add_ps(a[3][0], a[3][1]);
        __m256 h01 = _mm256_hadd_ps(s0, s1), h23 = _mm256_hadd_ps(s2, s3);
        __m256 h = _mm256_hadd_ps(h01, h23); /* lanes: r0 r1 r2 r3 (low half) | same (high) */
        __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        _mm_storeu_ps(sc + j, r4);
    }
    for (; j < n; j++) {
        __m256 a = _mm256_setzero_ps();
        for (int c = 0; c < d; c += 8)
            a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), _mm256_loadu_ps(K + (size_t)j * d + c), a);
        sc[j] = hsum8(a);
    }
}

AVX2 static float softmax_step_avx2(float *sc, int n, float *m, float *alpha)
{
    float mx = *m;
    int j = 0;
    if (n >= 8) {
        __m256 v = _mm256_loadu_ps(sc);
        for (j = 8; j + 8 <= n; j += 8)
            v = _mm256_max_ps(v, _mm256_loadu_ps(sc + j));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        mx = fmaxf(mx, _mm_cvtss_f32(h));
    }
    for (; j < n; j++)
        mx = fmaxf(mx, sc[j]);
    *alpha = *m == -INFINITY ? 0.0f : exp2f(*m - mx);
    *m = mx;
    __m256 vm = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 p = exp2_avx2(_mm256_sub_ps(_mm256_loadu_ps(sc + j), vm));
        _mm256_storeu_ps(sc + j, p);
        acc = _mm256_add_ps(acc, p);
    }
    float sum = hsum8(acc);
    for (; j < n; j++) {
        sc[j] = exp2f(sc[j] - mx);
        sum += sc[j];
    }
    return sum;
}

/* o = α·o + Σ_j p[j]·V[j]: rows in address order, four at a time; o (at most 1 KiB) stays in
 * L1 and is loaded and stored once per four rows */
AVX2 static void axpy_rows_avx2(float *o, float alpha, const float *p, const float *V, int d,
                                int n)
{
    __m256 a = _mm256_set1_ps(alpha);
    for (int c = 0; c < d; c += 8)
        _mm256_storeu_ps(o + c, _mm256_mul_ps(a, _mm256_loadu_ps(o + c)));
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *v0 = V + (size_t)j * d, *v1 = v0 + d, *v2 = v1 + d, *v3 = v2 + d;
        __m256 b0 = _mm256_broadcast_ss(p + j), b1 = _mm256_broadcast_ss(p + j + 1);
        __m256 b2 = _mm256_broadcast_ss(p + j + 2), b3 = _mm256_broadcast_ss(p + j + 3);
        for (int c = 0; c < d; c += 8) {
            __m256 x = _mm256_fmadd_ps(b0, _mm256_loadu_ps(v0 + c), _mm256_loadu_ps(o + c));
            __m256 y = _mm256_mul_ps(b1, _mm256_loadu_ps(v1 + c));
            x = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v2 + c), x);
            y = _mm256_fmadd_ps(b3, _mm256_loadu_ps(v3 + c), y);
            _mm256_storeu_ps(o + c, _mm256_add_ps(x, y));
        }
    }
    for (; j < n; j++) {
        __m256 b = _mm256_broadcast_ss(p + j);
        for (int c = 0; c < d; c += 8)
            _mm256_storeu_ps(o + c, _mm256_fmadd_ps(b, _mm256_loadu_ps(V + (size_t)j * d + c),
                                                    _mm256_loadu_ps(o + c)));
    }
}

#if LANES % 4
#error "the AVX2 lane kernels take the lanes four at a time"
#endif
AVX2 static void dots_lanes_avx2(const float *q, const float *const *K, int d, int n,
                                 float *const *sc)
{
    for (int j = 0; j < n; j++)
        for (int gi = 0; gi < LANES; gi += 4) {
            const float *k0 = K[gi] + (size_t)j * d, *k1 = K[gi + 1] + (size_t)j * d;
            const float *k2 = K[gi + 2] + (size_t)j * d, *k3 = K[gi + 3] + (size_t)j * d;
            __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0,
                   b3 = a0;
            for (int c = 0; c < d; c += 16) {
                __m256 qa = _mm256_loadu_ps(q + c), qb = _mm256_loadu_ps(q + c + 8);
                a0 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k0 + c), a0);
                b0 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(k0 + c + 8), b0);
                a1 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k1 + c), a1);
                b1 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(k1 + c + 8), b1);
                a2 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k2 + c), a2);
                b2 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(k2 + c + 8), b2);
                a3 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k3 + c), a3);
                b3 = _mm256_fmadd_ps(qb, _mm256_loadu_ps(k3 + c + 8), b3);
            }
            __m256 h01 = _mm256_hadd_ps(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1));
            __m256 h23 = _mm256_hadd_ps(_mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3));
            __m256 h = _mm256_hadd_ps(h01, h23);
            float r[4] __attribute__((aligned(16)));
            _mm_store_ps(r, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
            sc[gi][j] = r[0];
            sc[gi + 1][j] = r[1];
            sc[gi + 2][j] = r[2];
            sc[gi + 3][j] = r[3];
        }
}

AVX2 static void axpy_lanes_avx2(float *const *o, const float *alpha, const float *const *p,
                                 const float *const *V, int d, int n)
{
    for (int i = 0; alpha && i < LANES; i++) {
        __m256 a = _mm256_set1_ps(alpha[i]);
        for (int c = 0; c < d; c += 8)
            _mm256_storeu_ps(o[i] + c, _mm256_mul_ps(a, _mm256_loadu_ps(o[i] + c)));
    }
    /* one key of every lane per step: the finest interleave of the lanes' V streams (two keys
     * per lane and step, half the stores to o, ran 8 % slower on the EPYC VM) */
    for (int j = 0; j < n; j++)
        for (int gi = 0; gi < LANES; gi += 4) {
            __m256 x0 = _mm256_broadcast_ss(p[gi] + j), x1 = _mm256_broadcast_ss(p[gi + 1] + j);
            __m256 x2 = _mm256_broadcast_ss(p[gi + 2] + j), x3 = _mm256_broadcast_ss(p[gi + 3] + j);
            const float *v0 = V[gi] + (size_t)j * d, *v1 = V[gi + 1] + (size_t)j * d;
            const float *v2 = V[gi + 2] + (size_t)j * d, *v3 = V[gi + 3] + (size_t)j * d;
            float *o0 = o[gi], *o1 = o[gi + 1], *o2 = o[gi + 2], *o3 = o[gi + 3];
            for (int c = 0; c < d; c += 8) {
                _mm256_storeu_ps(o0 + c, _mm256_fmadd_ps(x0, _mm256_loadu_ps(v0 + c),
                                                         _mm256_loadu_ps(o0 + c)));
                _mm256_storeu_ps(o1 + c, _mm256_fmadd_ps(x1, _mm256_loadu_ps(v1 + c),
                                                         _mm256_loadu_ps(o1 + c)));
                _mm256_storeu_ps(o2 + c, _mm256_fmadd_ps(x2, _mm256_loadu_ps(v2 + c),
                                                         _mm256_loadu_ps(o2 + c)));
                _mm256_storeu_ps(o3 + c, _mm256_fmadd_ps(x3, _mm256_loadu_ps(v3 + c),
                                                         _mm256_loadu_ps(o3 + c)));
            }
        }
}

static const pieces pieces_avx2 = {
    .name = "avx2-fma: 6x16 micro-kernels, vectorised exp2",
    .s_block = s_block_avx2,
    .row_max = row_max_avx2,
    .exp_block = exp_block_avx2,
    .pv_block = pv_block_avx2,
    .dots = dots_avx2,
    .softmax_step = softmax_step_avx2,
    .axpy_rows = axpy_rows_avx2,
    .dots_lanes = dots_lanes_avx2,
    .axpy_lanes = axpy_lanes_avx2,
};
#endif

/* The AVX2 kernels need whole 16-column (prefill) / 8-column (decode) slices of the head. */
static const pieces *pick(int d)
{
#if HAVE_AVX2_PATH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && d % 16 == 0)
        return &pieces_avx2;
#endif
    (void)d;
    return &pieces_c;
}

/* ------------------------------------------------------------------------------------------ */
/* fused prefill                                                                               */

static float *align64(float *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

static void prefill_task(const pieces *pc, const ab_attn_shape *s, const float *Q, const float *K,
                         const float *V, float *O, long q0, float *ws)
{
    const int d = s->head_dim;
    const long sq = s->q_len, skv = s->kv_len, off = skv - sq;
    const long nq = sq - q0 < BR ? sq - q0 : BR;
    float *Qt = align64(ws);
    float *St = align64(Qt + (size_t)d * BR);
    float *Oa = align64(St + (size_t)BC * BR);
    float *m = align64(Oa + (size_t)BR * d);
    float *l = m + BR, *alpha = l + BR;
    float *kpad = align64(alpha + BR), *vpad = kpad + (size_t)BC * d;
    float mb[BR] __attribute__((aligned(64)));
    float rs[BR] __attribute__((aligned(64)));

    /* Qᵀ, pre-scaled by scale·log2 e; rows past the end are zero */
    const float qs = s->scale * LOG2E;
    for (long i = 0; i < BR; i++) {
        if (i < nq) {
            const float *qr = Q + (size_t)(q0 + i) * d;
            for (int k = 0; k < d; k++)
                Qt[(size_t)k * BR + i] = qr[k] * qs;
        } else {
            for (int k = 0; k < d; k++)
                Qt[(size_t)k * BR + i] = 0.0f;
        }
    }
    for (int i = 0; i < BR; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    memset(Oa, 0, (size_t)BR * d * sizeof(float));

    /* keys the last row of the block can see */
    long kend = skv;
    if (s->causal && q0 + nq - 1 + off + 1 < kend)
        kend = q0 + nq - 1 + off + 1;
    for (long k0 = 0; k0 < kend; k0 += BC) {
        long nk = kend - k0 < BC ? kend - k0 : BC;
        const float *Kb = K + (size_t)k0 * d, *Vb = V + (size_t)k0 * d;
        if (nk < BC) {
            /* tail block: copy into zero-padded blocks so the micro-kernels run whole */
            memcpy(kpad, Kb, (size_t)nk * d * sizeof(float));
            memset(kpad + (size_t)nk * d, 0, (size_t)(BC - nk) * d * sizeof(float));
            memcpy(vpad, Vb, (size_t)nk * d * sizeof(float));
            memset(vpad + (size_t)nk * d, 0, (size_t)(BC - nk) * d * sizeof(float));
            Kb = kpad;
            Vb = vpad;
        }
        /* key j of the block is visible from row i when j <= i + diag */
        long diag = NO_DIAG;
        if (s->causal && k0 + BC - 1 > q0 + off)
            diag = q0 + off - k0;
        pc->s_block(Kb, Qt, d, St, diag);
        if (diag < NO_DIAG || nk < BC) {
            for (int j = 0; j < BC; j++) {
                float *r = St + (size_t)j * BR;
                for (int i = 0; i < BR; i++)
                    if (j >= nk || (diag < NO_DIAG && j > i + diag))
                        r[i] = -INFINITY;
            }
        }
        pc->row_max(St, mb);
        for (int i = 0; i < BR; i++) {
            float mn = fmaxf(m[i], mb[i]);
            /* a row that has seen no visible key yet keeps m = -inf: α = 0, exponents taken
             * against 0 (all its p are 0 anyway) */
            alpha[i] = m[i] == -INFINITY ? 0.0f : exp2f(m[i] - mn);
            m[i] = mn;
            mb[i] = mn == -INFINITY ? 0.0f : mn;
        }
        pc->exp_block(St, mb, rs);
        for (int i = 0; i < BR; i++)
            l[i] = l[i] * alpha[i] + rs[i];
        pc->pv_block(St, Vb, d, Oa, alpha, diag);
    }
    for (long i = 0; i < nq; i++) {
        float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        float *orow = O + (size_t)(q0 + i) * d;
        const float *a = Oa + (size_t)i * d;
        for (int c = 0; c < d; c++)
            orow[c] = a[c] * inv;
    }
}

static void run_prefill(const ab_cpu_dev *dv, const pieces *pc, const ab_attn_args *a)
{
    const ab_attn_shape *s = &a->s;
    const int d = s->head_dim, g = s->heads / s->kv_heads;
    const long nqb = (s->q_len + BR - 1) / BR;
    const long ntasks = (long)s->batch * s->heads * nqb;
    const size_t scratch = prefill_scratch(d);
#pragma omp parallel num_threads(dv->threads)
    {
        float *ws = (float *)a->work + scratch * (size_t)omp_get_thread_num();
        /* Causal blocks near the end of the sequence carry the most work: hand them out first
         * so the team finishes together. Consecutive tasks share a KV head. */
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < ntasks; t++) {
            long qb = nqb - 1 - t % nqb;
            long bh = t / nqb;
            long b = bh / s->heads, h = bh % s->heads;
            long kvh = h / g;
            size_t qoff = ((size_t)b * s->heads + h) * (size_t)s->q_len * d;
            size_t kvoff = ((size_t)b * s->kv_heads + kvh) * (size_t)s->kv_len * d;
            prefill_task(pc, s, (const float *)a->q + qoff, (const float *)a->k + kvoff,
                         (const float *)a->v + kvoff, (float *)a->o + qoff, qb * BR, ws);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* fused decode (split-KV)                                                                     */

/* One decode task: the g query heads of one KV head over LANES chunks of the cache, [j0 +
 * i·len, min(j0 + (i + 1)·len, j1)) for lane i (a chunk past j1 is empty). The lanes advance
 * together through whole blocks (dots_lanes / axpy_lanes read one cache line of each lane in
 * turn); each lane keeps its own online-softmax state and leaves its own partial at
 * part + i·(d + 2); the lanes' tails run one lane at a time. */
static void decode_task(const pieces *pc, const ab_attn_shape *s, const float *Q, const float *K,
                        const float *V, long j0, long len, long j1, float *ws, float *part,
                        size_t pstride)
{
    const int d = s->head_dim, g = s->heads / s->kv_heads;
    float *q = align64(ws);
    float *sc[LANES], *o[LANES], *m[LANES], *l[LANES];
    long lo[LANES], hi[LANES];
    float *w = q + (size_t)g * d;
    long common = len;
    for (int i = 0; i < LANES; i++) {
        sc[i] = align64(w);
        o[i] = align64(sc[i] + (size_t)g * DK);
        m[i] = o[i] + (size_t)g * d;
        l[i] = m[i] + g;
        w = l[i] + g;
        lo[i] = j0 + i * len < j1 ? j0 + i * len : j1;
        hi[i] = lo[i] + len < j1 ? lo[i] + len : j1;
        if (hi[i] - lo[i] < common)
            common = hi[i] - lo[i];
        for (int r = 0; r < g; r++) {
            m[i][r] = -INFINITY;
            l[i][r] = 0.0f;
        }
        memset(o[i], 0, (size_t)g * d * sizeof(float));
    }
    const float qs = s->scale * LOG2E;
    for (size_t e = 0; e < (size_t)g * d; e++)
        q[e] = Q[e] * qs;

    /* the blocks every lane has, interleaved */
    const long nblk = common / DK;
    for (long bk = 0; bk < nblk; bk++) {
        const float *Kb[LANES], *Vb[LANES];
        for (int i = 0; i < LANES; i++) {
            Kb[i] = K + (size_t)(lo[i] + bk * DK) * d;
            Vb[i] = V + (size_t)(lo[i] + bk * DK) * d;
        }
        /* g query heads share the block: each slice of GSLICE keys of every lane is read from
         * memory for the first head and from L1 for the others (slices of 8 keys ran 16 %
         * slower than 2 on the EPYC VM with 32/8 heads, slices of 4 8 % slower) */
        const int slice = g > 1 ? GSLICE : DK;
        float alpha[MAX_G][LANES];
        for (int j = 0; j < DK; j += slice)
            for (int r = 0; r < g; r++) {
                float *sr[LANES];
                const float *Ks[LANES];
                for (int i = 0; i < LANES; i++) {
                    sr[i] = sc[i] + (size_t)r * DK + j;
                    Ks[i] = Kb[i] + (size_t)j * d;
                }
                pc->dots_lanes(q + (size_t)r * d, Ks, d, slice, sr);
            }
        for (int r = 0; r < g; r++)
            for (int i = 0; i < LANES; i++) {
                float sum =
                    pc->softmax_step(sc[i] + (size_t)r * DK, DK, &m[i][r], &alpha[r][i]);
                l[i][r] = l[i][r] * alpha[r][i] + sum;
            }
        for (int j = 0; j < DK; j += slice)
            for (int r = 0; r < g; r++) {
                const float *sr[LANES], *Vs[LANES];
                float *orow[LANES];
                for (int i = 0; i < LANES; i++) {
                    sr[i] = sc[i] + (size_t)r * DK + j;
                    Vs[i] = Vb[i] + (size_t)j * d;
                    orow[i] = o[i] + (size_t)r * d;
                }
                pc->axpy_lanes(orow, j == 0 ? alpha[r] : NULL, sr, Vs, d, slice);
            }
    }
    /* each lane's tail, one block at a time */
    for (int i = 0; i < LANES; i++) {
        for (long k0 = lo[i] + nblk * DK; k0 < hi[i]; k0 += DK) {
            int n = (int)(hi[i] - k0 < DK ? hi[i] - k0 : DK);
            const float *Kb = K + (size_t)k0 * d, *Vb = V + (size_t)k0 * d;
            for (int r = 0; r < g; r++) {
                float *sr = sc[i] + (size_t)r * DK;
                pc->dots(q + (size_t)r * d, Kb, d, n, sr);
                float alpha;
                float sum = pc->softmax_step(sr, n, &m[i][r], &alpha);
                l[i][r] = l[i][r] * alpha + sum;
                pc->axpy_rows(o[i] + (size_t)r * d, alpha, sr, Vb, d, n);
            }
        }
        /* partial result of chunk i (an empty chunk leaves m = -inf, l = 0, which the combine
         * skips): m, l, unnormalised O for each query head of the group */
        for (int r = 0; r < g; r++) {
            float *p = part + (size_t)i * (d + 2) + (size_t)r * pstride;
            p[0] = m[i][r];
            p[1] = l[i][r];
            memcpy(p + 2, o[i] + (size_t)r * d, (size_t)d * sizeof(float));
        }
    }
}

static void run_decode(const ab_cpu_dev *dv, const pieces *pc, const ab_attn_args *a)
{
    const ab_attn_shape *s = &a->s;
    const int d = s->head_dim, g = s->heads / s->kv_heads;
    const long nsplit = decode_splits(s, dv->threads);
    const long chunk = (s->kv_len + nsplit - 1) / nsplit;
    const long units = (long)s->batch * s->kv_heads;
    const size_t scratch = decode_scratch(d, g);
    const size_t pstride = (size_t)d + 2;
    /* partials [b][h][split][2 + d] after the per-thread scratch */
    float *partials = (float *)a->work + scratch * (size_t)dv->threads;
#pragma omp parallel num_threads(dv->threads)
    {
        float *ws = (float *)a->work + scratch * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < units * (nsplit / LANES); t++) {
            long u = t / (nsplit / LANES), sp = t % (nsplit / LANES) * LANES;
            long b = u / s->kv_heads, kvh = u % s->kv_heads;
            long j0 = sp * chunk < s->kv_len ? sp * chunk : s->kv_len;
            size_t qoff = ((size_t)b * s->heads + (size_t)kvh * g) * d;
            size_t kvoff = ((size_t)b * s->kv_heads + kvh) * (size_t)s->kv_len * d;
            float *part = partials + (((size_t)b * s->heads + (size_t)kvh * g) * nsplit + sp) *
                                         pstride;
            decode_task(pc, s, (const float *)a->q + qoff, (const float *)a->k + kvoff,
                        (const float *)a->v + kvoff, j0, chunk, s->kv_len, ws, part,
                        (size_t)nsplit * pstride);
        }
        /* combine the chunks: O = Σ_s 2^(m_s - M)·O_s / Σ_s 2^(m_s - M)·l_s */
#pragma omp for schedule(static)
        for (long bh = 0; bh < (long)s->batch * s->heads; bh++) {
            const float *p = partials + (size_t)bh * nsplit * pstride;
            float M = -INFINITY;
            for (long sp = 0; sp < nsplit; sp++)
                M = fmaxf(M, p[sp * pstride]);
            float L = 0.0f;
            float *orow = (float *)a->o + (size_t)bh * d;
            for (int c = 0; c < d; c++)
                orow[c] = 0.0f;
            for (long sp = 0; sp < nsplit; sp++) {
                const float *ps = p + sp * pstride;
                if (ps[0] == -INFINITY)
                    continue;
                float w = exp2f(ps[0] - M);
                L += w * ps[1];
                for (int c = 0; c < d; c++)
                    orow[c] += w * ps[2 + c];
            }
            float inv = L > 0.0f ? 1.0f / L : 0.0f;
            for (int c = 0; c < d; c++)
                orow[c] *= inv;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* naive: S materialised                                                                       */

#ifdef AB_HAVE_OPENBLAS
/* OpenBLAS (the Debian pthread flavour) must not start its own thread pool from inside our
 * pinned OpenMP team: two teams on two cores would oversubscribe them. Each team thread calls
 * sgemm single-threaded; the previous setting is restored afterwards, so other users of BLAS in
 * the process keep theirs. */
static int blas_serial(void)
{
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return prev;
}
#endif

static void naive_scores(const ab_attn_shape *s, const float *Q, const float *K, float *S)
{
    const int d = s->head_dim;
#ifdef AB_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->q_len, (int)s->kv_len, d,
                s->scale, Q, d, K, d, 0.0f, S, (int)s->kv_len);
#else
    for (long i = 0; i < s->q_len; i++)
        for (long j = 0; j < s->kv_len; j++) {
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int c = 0; c < d; c++)
                acc += Q[(size_t)i * d + c] * K[(size_t)j * d + c];
            S[(size_t)i * s->kv_len + j] = acc * s->scale;
        }
#endif
}

static void naive_softmax(const ab_attn_shape *s, float *S)
{
    const long off = s->kv_len - s->q_len;
    for (long i = 0; i < s->q_len; i++) {
        float *r = S + (size_t)i * s->kv_len;
        long n = s->causal ? i + off + 1 : s->kv_len;
        if (n > s->kv_len)
            n = s->kv_len;
        if (n < 0)
            n = 0;
        float mx = -INFINITY;
        for (long j = 0; j < n; j++)
            mx = fmaxf(mx, r[j]);
        float sum = 0.0f;
        for (long j = 0; j < n; j++) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        for (long j = 0; j < n; j++)
            r[j] *= inv;
        for (long j = n; j < s->kv_len; j++)
            r[j] = 0.0f;
    }
}

static void naive_pv(const ab_attn_shape *s, const float *P, const float *V, float *O)
{
    const int d = s->head_dim;
#ifdef AB_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->q_len, d, (int)s->kv_len, 1.0f,
                P, (int)s->kv_len, V, d, 0.0f, O, d);
#else
    for (long i = 0; i < s->q_len; i++) {
        float *o = O + (size_t)i * d;
        for (int c = 0; c < d; c++)
            o[c] = 0.0f;
        for (long j = 0; j < s->kv_len; j++) {
            float p = P[(size_t)i * s->kv_len + j];
            const float *v = V + (size_t)j * d;
#pragma omp simd
            for (int c = 0; c < d; c++)
                o[c] += p * v[c];
        }
    }
#endif
}

static void run_naive(const ab_cpu_dev *dv, const ab_attn_args *a)
{
    const ab_attn_shape *s = &a->s;
    const int d = s->head_dim, g = s->heads / s->kv_heads;
    const long nbh = (long)s->batch * s->heads;
    const size_t ss = (size_t)s->q_len * (size_t)s->kv_len;
    float *S = a->work;
#ifdef AB_HAVE_OPENBLAS
    int prev = blas_serial();
#endif
    /* three passes over the whole batch, as eager frameworks run them: the s_q×s_kv scores of
     * every head go to memory and come back twice */
#pragma omp parallel num_threads(dv->threads)
    {
#pragma omp for schedule(dynamic, 1)
        for (long bh = 0; bh < nbh; bh++) {
            long b = bh / s->heads, kvh = (bh % s->heads) / g;
            naive_scores(s, (const float *)a->q + (size_t)bh * s->q_len * d,
                         (const float *)a->k + ((size_t)b * s->kv_heads + kvh) * s->kv_len * d,
                         S + (size_t)bh * ss);
        }
#pragma omp for schedule(dynamic, 1)
        for (long bh = 0; bh < nbh; bh++)
            naive_softmax(s, S + (size_t)bh * ss);
#pragma omp for schedule(dynamic, 1)
        for (long bh = 0; bh < nbh; bh++) {
            long b = bh / s->heads, kvh = (bh % s->heads) / g;
            naive_pv(s, S + (size_t)bh * ss,
                     (const float *)a->v + ((size_t)b * s->kv_heads + kvh) * s->kv_len * d,
                     (float *)a->o + (size_t)bh * s->q_len * d);
        }
    }
#ifdef AB_HAVE_OPENBLAS
    openblas_set_num_threads(prev);
#endif
}

/* ------------------------------------------------------------------------------------------ */

static int cpu_run(void *dev, ab_attn_kind kind, const ab_attn_args *a, long iters, char *err)
{
    const ab_cpu_dev *dv = dev;
    if (cpu_supports(dev, kind, a->dtype, &a->s, err) != 0)
        return -1;
    const pieces *pc = pick(a->s.head_dim);
    for (long it = 0; it < iters; it++) {
        if (kind == AB_ATTN_NAIVE)
            run_naive(dv, a);
        else if (is_decode(&a->s))
            run_decode(dv, pc, a);
        else
            run_prefill(dv, pc, a);
        /* keep repeated, identical calls from being merged */
        __asm__ __volatile__("" ::: "memory");
    }
    return 0;
}

static const char *cpu_describe(void *dev, ab_attn_kind kind, ab_attn_dtype dt,
                                const ab_attn_shape *s)
{
    (void)dev;
    (void)dt;
    if (kind == AB_ATTN_NAIVE) {
#ifdef AB_HAVE_OPENBLAS
        return "OpenBLAS sgemm per head (single-threaded inside the team), libm expf softmax";
#else
        return "plain C loops (built without OpenBLAS), libm expf softmax";
#endif
    }
    const pieces *pc = pick(s->head_dim);
    if (is_decode(s))
        return pc == &pieces_c ? "split-KV decode, portable C, four cache chunks per task"
                               : "split-KV decode, avx2-fma, four cache chunks read side by side";
    return pc->name;
}

const ab_attn_impl ab_attention_cpu = {
    .supports = cpu_supports,
    .workspace = cpu_workspace,
    .fill = cpu_fill,
    .prepare = NULL,
    .release = NULL,
    .run = cpu_run,
    .describe = cpu_describe,
};

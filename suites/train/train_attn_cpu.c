/* SPDX-License-Identifier: MIT */
/*
 * Causal attention for training on the CPU backend (train.h), flash-style: tiles of BQ query
 * rows x BK keys, nothing of size seq x seq in memory.
 *
 * forward:  one task per (sequence, query head, query tile): online softmax over the key tiles
 *           up to the diagonal; writes o and the row's log-sum-exp.
 * backward: one task per (sequence, query head), walking its query tiles and, for each, the key
 *           tiles up to the diagonal (FlashAttention-2's recurrences; on the vector path each
 *           product a register-blocked multiply over packed tiles): S = scale q k^T and
 *           P = exp(S - lse) recomputed per tile, dV += P^T dO, dP = dO V^T,
 *           dS = P (dP - rowsum(dO o)), dQ += scale dS K, dK += scale dS^T Q. dQ is the task's
 *           own; dK and dV go to per-query-head partial buffers (the workspace) and are summed
 *           over the heads that share a KV head afterwards (grouped-query attention), so no two
 *           threads write the same element.
 * FLOPs per (query, key) pair below the diagonal: 4 Dh forward, 10 Dh backward.
 */
#include "../../backends/cpu.h"
#include "../../backends/omp_compat.h"
#include "../../core/ab.h"
#include "train_cpu.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BQ AB_TRAIN_BQ
#define BK AB_TRAIN_BK

typedef struct geom {
    int H, G, Dh, seq, grp;
    size_t ld;
} geom;

static geom geom_of(const ab_train_attn *a)
{
    geom g = {a->heads, a->kv_heads, a->head_dim, a->seq, a->heads / a->kv_heads, 0};
    g.ld = (size_t)(g.H + 2 * g.G) * (size_t)g.Dh;
    return g;
}

static inline float dot(const float *restrict a, const float *restrict b, int n)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static inline void axpy(float *restrict y, float a, const float *restrict x, int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* ---- the tiled path (head_dim a multiple of 64): GCC vector types, 8 floats a vector ------ */

typedef float v8 __attribute__((vector_size(32)));
typedef float vu8 __attribute__((vector_size(32), aligned(4)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline v8 ld8(const float *p)
{
    return *(const vu8 *)p;
}

static inline void st8(float *p, v8 v)
{
    *(vu8 *)p = v;
}

/* a in every lane (one vbroadcastss; `(v8){0} + a` would add in scalar first: 0 + -0 is +0) */
static inline v8 bc8(float a)
{
    return (v8){a, a, a, a, a, a, a, a};
}

/* e^x, x <= ~88: 2^(x log2 e) as 2^n (exponent bits) x 2^f, |f| <= 1/2, degree-6 polynomial
 * (relative error ~2e-7) */
static inline v8 vexp(v8 x)
{
    const v8 lo = (v8){0} - 87.0f, magic = (v8){0} + 12582912.0f; /* 1.5 x 2^23 */
    v8i below = x < lo;                                           /* all ones where x < lo */
    x = (v8)(((v8i)x & ~below) | ((v8i)lo & below));
    v8 t = x * 1.44269504f, r = (t + magic) - magic, f = (t - r) * 0.693147181f;
    v8 p = 1.0f +
           f * (1.0f +
                f * (0.5f + f * (0.166666672f +
                                 f * (0.0416666679f + f * (0.00833333377f + f * 0.00138888892f)))));
    v8i e = (__builtin_convertvector(r, v8i) + 127) << 23;
    return p * (v8)e;
}

/* y[0..Dh) += sum_n a[n] X[n][0..Dh) (X rows `ldx` apart), 64 columns at a time in registers */
static void row_acc(float *restrict y, const float *restrict a, const float *X, size_t ldx, long n,
                    int Dh)
{
    for (int c0 = 0; c0 < Dh; c0 += 64) {
        v8 acc[8];
        for (int m = 0; m < 8; m++)
            acc[m] = ld8(y + c0 + 8 * m);
        for (long i = 0; i < n; i++) {
            const float *x = X + (size_t)i * ldx + c0;
            v8 b = bc8(a[i]);
            for (int m = 0; m < 8; m++)
                acc[m] += b * ld8(x + 8 * m);
        }
        for (int m = 0; m < 8; m++)
            st8(y + c0 + 8 * m, acc[m]);
    }
}

/* s[0..BK) = sum_d q[d] Kt[d][0..BK) (Kt: a key tile transposed, zero-padded) */
static inline void row_scores(const float *restrict q, const float *restrict Kt, int Dh,
                              v8 s[BK / 8])
{
    for (int m = 0; m < BK / 8; m++)
        s[m] = (v8){0};
    for (int d = 0; d < Dh; d++) {
        v8 b = bc8(q[d]);
        for (int m = 0; m < BK / 8; m++)
            s[m] += b * ld8(Kt + (size_t)d * BK + 8 * m);
    }
}

/* keys [j0, j0 + nc) of the KV head's K or V (rows ld apart) into t[d][c], zero-padded */
static void transpose_tile(const float *src, size_t ld, long nc, int Dh, float *t)
{
    memset(t, 0, (size_t)Dh * BK * sizeof(float));
    for (long c = 0; c < nc; c++)
        for (int d = 0; d < Dh; d++)
            t[(size_t)d * BK + (size_t)c] = src[(size_t)c * ld + (size_t)d];
}

/* one query tile [i0, i1) of head h in sequence b */
static void fwd_tile(const geom *g, const ab_train_attn *a, const float *qkv, float *o, float *lse,
                     int b, int h, long i0, long i1)
{
    const int Dh = g->Dh, kvh = h / g->grp;
    const size_t tok0 = (size_t)b * (size_t)g->seq, od = (size_t)g->H * (size_t)Dh;
    float acc[BQ][AB_TRAIN_MAX_DH], m[BQ], l[BQ], sc[BK];
    for (long r = 0; r < i1 - i0; r++) {
        memset(acc[r], 0, (size_t)Dh * sizeof(float));
        m[r] = -INFINITY, l[r] = 0.0f;
    }
    for (long j0 = 0; j0 < i1; j0 += BK) {
        long j1 = j0 + BK < i1 ? j0 + BK : i1;
        for (long r = 0; r < i1 - i0; r++) {
            long i = i0 + r, jn = j1 < i + 1 ? j1 : i + 1; /* causal: keys <= i */
            if (jn <= j0) continue;
            const float *q = qkv + (tok0 + (size_t)i) * g->ld + (size_t)h * (size_t)Dh;
            float mx = m[r];
            for (long j = j0; j < jn; j++) {
                const float *k = qkv + (tok0 + (size_t)j) * g->ld + (size_t)(g->H + kvh) * Dh;
                sc[j - j0] = a->scale * dot(q, k, Dh);
                mx = sc[j - j0] > mx ? sc[j - j0] : mx;
            }
            float alpha = expf(m[r] - mx), sum = 0.0f;
            for (int d = 0; d < Dh; d++)
                acc[r][d] *= alpha;
            for (long j = j0; j < jn; j++) {
                const float *v =
                    qkv + (tok0 + (size_t)j) * g->ld + (size_t)(g->H + g->G + kvh) * Dh;
                float p = expf(sc[j - j0] - mx);
                sum += p;
                axpy(acc[r], p, v, Dh);
            }
            l[r] = l[r] * alpha + sum, m[r] = mx;
        }
    }
    for (long r = 0; r < i1 - i0; r++) {
        float *orow = o + (tok0 + (size_t)(i0 + r)) * od + (size_t)h * (size_t)Dh;
        float inv = 1.0f / l[r];
        for (int d = 0; d < Dh; d++)
            orow[d] = acc[r][d] * inv;
        lse[((size_t)b * (size_t)g->H + (size_t)h) * (size_t)g->seq + (size_t)(i0 + r)] =
            m[r] + logf(l[r]);
    }
}

/* the forward's query tile, vector path (head_dim a multiple of 64): acc rows [BQ][Dh] */
static void fwd_tile_vec(const geom *g, const ab_train_attn *a, const float *qkv, float *o,
                         float *lse, int b, int h, long i0, long i1, float *acc, float *Kt)
{
    const int Dh = g->Dh, kvh = h / g->grp;
    const size_t tok0 = (size_t)b * (size_t)g->seq, od = (size_t)g->H * (size_t)Dh;
    float m[BQ], l[BQ];
    memset(acc, 0, (size_t)BQ * (size_t)Dh * sizeof(float));
    for (long r = 0; r < i1 - i0; r++)
        m[r] = -INFINITY, l[r] = 0.0f;
    for (long j0 = 0; j0 < i1; j0 += BK) {
        long nc = (j0 + BK < i1 ? j0 + BK : i1) - j0;
        const float *K = qkv + (tok0 + (size_t)j0) * g->ld + (size_t)(g->H + kvh) * Dh;
        const float *V = qkv + (tok0 + (size_t)j0) * g->ld + (size_t)(g->H + g->G + kvh) * Dh;
        transpose_tile(K, g->ld, nc, Dh, Kt);
        for (long r = 0; r < i1 - i0; r++) {
            long i = i0 + r;
            if (j0 > i) continue;
            v8 s[BK / 8];
            float sf[BK], p[BK];
            row_scores(qkv + (tok0 + (size_t)i) * g->ld + (size_t)h * (size_t)Dh, Kt, Dh, s);
            float mx = m[r];
            for (int q = 0; q < BK / 8; q++)
                st8(sf + 8 * q, s[q] * a->scale);
            for (long c = 0; c < nc && j0 + c <= i; c++)
                mx = sf[c] > mx ? sf[c] : mx;
            for (int q = 0; q < BK / 8; q++)
                st8(p + 8 * q, vexp(ld8(sf + 8 * q) - mx));
            float sum = 0.0f, alpha = expf(m[r] - mx);
            for (long c = 0; c < BK; c++) {
                if (c >= nc || j0 + c > i) p[c] = 0.0f;
                sum += p[c];
            }
            float *ar = acc + (size_t)r * (size_t)Dh;
            for (int d = 0; d < Dh; d++)
                ar[d] *= alpha;
            row_acc(ar, p, V, g->ld, nc, Dh);
            l[r] = l[r] * alpha + sum, m[r] = mx;
        }
    }
    for (long r = 0; r < i1 - i0; r++) {
        float *orow = o + (tok0 + (size_t)(i0 + r)) * od + (size_t)h * (size_t)Dh;
        float inv = 1.0f / l[r];
        for (int d = 0; d < Dh; d++)
            orow[d] = acc[(size_t)r * (size_t)Dh + (size_t)d] * inv;
        lse[((size_t)b * (size_t)g->H + (size_t)h) * (size_t)g->seq + (size_t)(i0 + r)] =
            m[r] + logf(l[r]);
    }
}

int ab_train_cpu_attn_fwd(void *dev, const ab_train_attn *a, const void *qkv, void *o, void *lse,
                          char *err)
{
    const ab_cpu_dev *cd = dev;
    if (a->head_dim > AB_TRAIN_MAX_DH)
        return ab_err(err, "cpu: head_dim %d above %d", a->head_dim, AB_TRAIN_MAX_DH);
    geom g = geom_of(a);
    long tiles = (a->seq + BQ - 1) / BQ, tasks = (long)a->batch * g.H * tiles;
    bool vec = g.Dh % 64 == 0;
    float *ws = vec ? malloc((size_t)cd->threads * 2 * BQ * AB_TRAIN_MAX_DH * sizeof(float)) : NULL;
    if (vec && !ws) return ab_err(err, "cpu: out of memory for attention tiles");
#pragma omp parallel for num_threads(cd->threads) schedule(dynamic, 1)
    for (long t = 0; t < tasks; t++) {
        /* the longest tiles (last in the sequence) first */
        long tile = tiles - 1 - t % tiles, bh = t / tiles;
        long i0 = tile * BQ, i1 = i0 + BQ < a->seq ? i0 + BQ : a->seq;
        if (vec) {
            float *w = ws + (size_t)omp_get_thread_num() * 2 * BQ * AB_TRAIN_MAX_DH;
            fwd_tile_vec(&g, a, qkv, o, lse, (int)(bh / g.H), (int)(bh % g.H), i0, i1, w,
                         w + BQ * AB_TRAIN_MAX_DH);
        } else
            fwd_tile(&g, a, qkv, o, lse, (int)(bh / g.H), (int)(bh % g.H), i0, i1);
    }
    free(ws);
    return 0;
}

/* keys padded to whole tiles: the vector path accumulates dK, dV of a partial last tile whole */
static size_t seq_padded(const ab_train_attn *a)
{
    return ((size_t)a->seq + BK - 1) / BK * BK;
}

size_t ab_train_cpu_attn_bwd_work(void *dev, const ab_train_attn *a)
{
    (void)dev;
    return 2 * (size_t)a->batch * (size_t)a->heads * seq_padded(a) * (size_t)a->head_dim *
           sizeof(float);
}

typedef struct bwd_io {
    const float *qkv, *o, *lse, *dout;
    float *dqkv, *dk, *dv; /* dk, dv: this head's partials [seq padded][Dh] */
} bwd_io;

/* ---- the backward's vector path: each of the five products of a (query tile, key tile) pair is
 * a register-blocked 4 x 16 multiply over tiles packed in L1/L2 (FMA contraction is on for this
 * file: CMakeLists.txt) ---- */

typedef struct tile_ws {
    float Qt[AB_TRAIN_MAX_DH * BQ], dOt[AB_TRAIN_MAX_DH * BQ]; /* q, do transposed [d][i] */
    float Qp[BQ * AB_TRAIN_MAX_DH], dOp[BQ * AB_TRAIN_MAX_DH]; /* rows, zero-padded */
    float dQ[BQ * AB_TRAIN_MAX_DH], Kp[BK * AB_TRAIN_MAX_DH], Vp[BK * AB_TRAIN_MAX_DH];
    float St[BK * BQ], dSt[BK * BQ]; /* S^T then P^T; dP^T then dS^T: [j][i] */
    float lse[BQ], D[BQ];
} tile_ws;

/* C[r][0..16) (+)= sum_{k < K} A[r ars + k aks] B[k ldb + 0..16), r < 4 */
static inline void mk4x16(const float *A, size_t ars, size_t aks, const float *B, size_t ldb, int K,
                          float *C, size_t ldc, bool acc)
{
    v8 c[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        c[r][0] = acc ? ld8(C + r * ldc) : (v8){0};
        c[r][1] = acc ? ld8(C + r * ldc + 8) : (v8){0};
    }
    for (int k = 0; k < K; k++) {
        v8 b0 = ld8(B + (size_t)k * ldb), b1 = ld8(B + (size_t)k * ldb + 8);
#if defined(__GNUC__) && defined(__AVX__)
        /* b0, b1 in registers: GCC would otherwise fold the loads into each of the 8 FMAs (12
         * loads per 8 FMAs instead of 6, the load ports the bound) */
        __asm__("" : "+x"(b0), "+x"(b1));
#endif
        const float *a = A + (size_t)k * aks;
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            v8 x = bc8(a[r * ars]);
            c[r][0] += x * b0;
            c[r][1] += x * b1;
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
        st8(C + r * ldc, c[r][0]);
        st8(C + r * ldc + 8, c[r][1]);
    }
}

/* C[M][N] (+)= A B, A(r, k) = A[r ars + k aks]; M a multiple of 4, N of 16 */
static void mm(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *B,
               size_t ldb, float *C, size_t ldc, bool acc)
{
    for (int c0 = 0; c0 < N; c0 += 16)
        for (int r0 = 0; r0 < M; r0 += 4)
            mk4x16(A + (size_t)r0 * ars, ars, aks, B + c0, ldb, K, C + (size_t)r0 * ldc + c0, ldc,
                   acc);
}

/* n rows (ld apart) into dst[rows][Dh], zero-padded */
static void pack_rows(float *dst, const float *src, size_t ld, long n, int rows, int Dh)
{
    for (long r = 0; r < n; r++)
        memcpy(dst + (size_t)r * Dh, src + (size_t)r * ld, (size_t)Dh * sizeof(float));
    memset(dst + (size_t)n * Dh, 0, (size_t)(rows - n) * (size_t)Dh * sizeof(float));
}

/* P^T = exp(scale S^T - lse) and dS^T = scale P^T (dP^T - D), both 0 where key j0 + j is past
 * query i0 + i (causal; also every padded key) or the query row is padding (i >= nr) */
static void p_ds(tile_ws *w, float scale, long i0, long j0, long nr)
{
    for (int j = 0; j < BK; j++)
        for (int m = 0; m < BQ / 8; m++) {
            v8i iv = (v8i){0, 1, 2, 3, 4, 5, 6, 7} + (int32_t)(i0 + 8 * m);
            v8i on = ((v8i){0} + (int32_t)(j0 + j) <= iv) & (iv < (int32_t)(i0 + nr));
            float *s = w->St + (size_t)j * BQ + 8 * m, *dp = w->dSt + (size_t)j * BQ + 8 * m;
            v8 p = (v8)((v8i)vexp(ld8(s) * scale - ld8(w->lse + 8 * m)) & on);
            v8 ds = p * (ld8(dp) - ld8(w->D + 8 * m)) * scale;
            st8(s, p);
            st8(dp, (v8)((v8i)ds & on));
        }
}

/* query tile [i0, i0 + nr) of head h: packs it, walks the key tiles up to the diagonal */
static void bwd_qtile(const geom *g, float scale, const bwd_io *io, int b, int h, long i0, long nr,
                      tile_ws *w)
{
    const int Dh = g->Dh, kvh = h / g->grp;
    const size_t tok0 = (size_t)b * (size_t)g->seq, od = (size_t)g->H * (size_t)Dh;
    const float *lse = io->lse + ((size_t)b * (size_t)g->H + (size_t)h) * (size_t)g->seq;
    pack_rows(w->Qp, io->qkv + (tok0 + (size_t)i0) * g->ld + (size_t)h * Dh, g->ld, nr, BQ, Dh);
    pack_rows(w->dOp, io->dout + (tok0 + (size_t)i0) * od + (size_t)h * Dh, od, nr, BQ, Dh);
    for (int i = 0; i < BQ; i++) {
        for (int d = 0; d < Dh; d++) {
            w->Qt[(size_t)d * BQ + i] = w->Qp[(size_t)i * Dh + d];
            w->dOt[(size_t)d * BQ + i] = w->dOp[(size_t)i * Dh + d];
        }
        const float *orow = io->o + (tok0 + (size_t)i0) * od + (size_t)h * Dh;
        w->D[i] = i < nr ? dot(w->dOp + (size_t)i * Dh, orow + (size_t)i * od, Dh) : 0.0f;
        w->lse[i] = i < nr ? lse[i0 + i] : 0.0f;
    }
    memset(w->dQ, 0, (size_t)BQ * (size_t)Dh * sizeof(float));
    for (long j0 = 0; j0 < i0 + nr; j0 += BK) {
        long nc = j0 + BK < g->seq ? BK : g->seq - j0;
        const float *K = io->qkv + (tok0 + (size_t)j0) * g->ld + (size_t)(g->H + kvh) * Dh;
        pack_rows(w->Kp, K, g->ld, nc, BK, Dh);
        pack_rows(w->Vp, K + (size_t)g->G * Dh, g->ld, nc, BK, Dh);
        mm(BK, BQ, Dh, w->Kp, (size_t)Dh, 1, w->Qt, BQ, w->St, BQ, false);   /* S^T = K Q^T */
        mm(BK, BQ, Dh, w->Vp, (size_t)Dh, 1, w->dOt, BQ, w->dSt, BQ, false); /* dP^T = V dO^T */
        p_ds(w, scale, i0, j0, nr);
        float *dv = io->dv + (size_t)j0 * Dh, *dk = io->dk + (size_t)j0 * Dh;
        mm(BK, Dh, BQ, w->St, BQ, 1, w->dOp, (size_t)Dh, dv, (size_t)Dh, true); /* dV += P^T dO */
        mm(BK, Dh, BQ, w->dSt, BQ, 1, w->Qp, (size_t)Dh, dk, (size_t)Dh, true); /* dK += dS^T Q */
        mm(BQ, Dh, BK, w->dSt, 1, BQ, w->Kp, (size_t)Dh, w->dQ, (size_t)Dh, true); /* dQ += dS K */
    }
    for (long r = 0; r < nr; r++)
        memcpy(io->dqkv + (tok0 + (size_t)(i0 + r)) * g->ld + (size_t)h * Dh,
               w->dQ + (size_t)r * Dh, (size_t)Dh * sizeof(float));
}

/* ---- the scalar path (any head_dim) -------------------------------------------------------- */

/* query rows [i0, i1) against key tile [j0, j1) */
static void bwd_block(const geom *g, float scale, const bwd_io *io, int b, int h, long i0, long i1,
                      long j0, long j1, const float *Drow)
{
    const int Dh = g->Dh, kvh = h / g->grp;
    const size_t tok0 = (size_t)b * (size_t)g->seq, od = (size_t)g->H * (size_t)Dh;
    const float *lse = io->lse + ((size_t)b * (size_t)g->H + (size_t)h) * (size_t)g->seq;
    for (long i = i0; i < i1; i++) {
        long jn = j1 < i + 1 ? j1 : i + 1;
        if (jn <= j0) continue;
        const float *q = io->qkv + (tok0 + (size_t)i) * g->ld + (size_t)h * (size_t)Dh;
        const float *dor = io->dout + (tok0 + (size_t)i) * od + (size_t)h * (size_t)Dh;
        float *dq = io->dqkv + (tok0 + (size_t)i) * g->ld + (size_t)h * (size_t)Dh;
        for (long j = j0; j < jn; j++) {
            const float *k = io->qkv + (tok0 + (size_t)j) * g->ld + (size_t)(g->H + kvh) * Dh;
            const float *v =
                io->qkv + (tok0 + (size_t)j) * g->ld + (size_t)(g->H + g->G + kvh) * Dh;
            float p = expf(scale * dot(q, k, Dh) - lse[i]);
            axpy(io->dv + (size_t)j * (size_t)Dh, p, dor, Dh);
            float ds = p * (dot(dor, v, Dh) - Drow[i - i0]) * scale;
            axpy(dq, ds, k, Dh);
            axpy(io->dk + (size_t)j * (size_t)Dh, ds, q, Dh);
        }
    }
}

static void bwd_head(const geom *g, float scale, bwd_io io, int b, int h, size_t part, tile_ws *w)
{
    const int Dh = g->Dh;
    const size_t tok0 = (size_t)b * (size_t)g->seq, od = (size_t)g->H * (size_t)Dh;
    memset(io.dk, 0, part * sizeof(float));
    memset(io.dv, 0, part * sizeof(float));
    float Drow[BQ];
    for (long i0 = 0; i0 < g->seq; i0 += BQ) {
        long i1 = i0 + BQ < g->seq ? i0 + BQ : g->seq;
        if (Dh % 64 == 0) {
            bwd_qtile(g, scale, &io, b, h, i0, i1 - i0, w);
            continue;
        }
        for (long i = i0; i < i1; i++) {
            size_t t = tok0 + (size_t)i;
            Drow[i - i0] =
                dot(io.dout + t * od + (size_t)h * Dh, io.o + t * od + (size_t)h * Dh, Dh);
            memset(io.dqkv + t * g->ld + (size_t)h * (size_t)Dh, 0, (size_t)Dh * sizeof(float));
        }
        for (long j0 = 0; j0 < i1; j0 += BK)
            bwd_block(g, scale, &io, b, h, i0, i1, j0, j0 + BK < i1 ? j0 + BK : i1, Drow);
    }
}

int ab_train_cpu_attn_bwd(void *dev, const ab_train_attn *a, const void *qkv, const void *o,
                          const void *lse, const void *dout, void *dqkv, void *work, char *err)
{
    const ab_cpu_dev *cd = dev;
    geom g = geom_of(a);
    const size_t part = seq_padded(a) * (size_t)g.Dh;
    float *wk = work, *dq = dqkv;
    long tasks = (long)a->batch * g.H;
    tile_ws *tw = malloc((size_t)cd->threads * sizeof(tile_ws));
    if (!tw) return ab_err(err, "cpu: out of memory for attention tiles");
#pragma omp parallel num_threads(cd->threads)
    {
        tile_ws *w = tw + omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < tasks; t++) {
            bwd_io io = {
                qkv, o, lse, dout, dq, wk + (size_t)t * 2 * part, wk + (size_t)t * 2 * part + part};
            bwd_head(&g, a->scale, io, (int)(t / g.H), (int)(t % g.H), part, w);
        }
        /* dK, dV of each KV head: the sum of its query heads' partials */
        const long rows = (long)a->batch * a->seq;
#pragma omp for schedule(static)
        for (long t = 0; t < rows; t++) {
            long b = t / a->seq, s = t % a->seq;
            for (int kv = 0; kv < g.G; kv++) {
                float *dk = dq + (size_t)t * g.ld + (size_t)(g.H + kv) * (size_t)g.Dh;
                float *dv = dq + (size_t)t * g.ld + (size_t)(g.H + g.G + kv) * (size_t)g.Dh;
                memset(dk, 0, (size_t)g.Dh * sizeof(float));
                memset(dv, 0, (size_t)g.Dh * sizeof(float));
                for (int r = 0; r < g.grp; r++) {
                    size_t task = (size_t)b * (size_t)g.H + (size_t)(kv * g.grp + r);
                    const float *pk = wk + task * 2 * part + (size_t)s * (size_t)g.Dh;
                    axpy(dk, 1.0f, pk, g.Dh);
                    axpy(dv, 1.0f, pk + part, g.Dh);
                }
            }
        }
    }
    free(tw);
    return 0;
}

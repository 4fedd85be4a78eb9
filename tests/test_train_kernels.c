/* SPDX-License-Identifier: MIT */
/* The train suite's CPU kernels against the fp64 reference, in process: attention forward and
 * backward on both code paths (vector tiles for head_dim 64, the scalar loop for 32), over
 * several sequences and tile edges (the suite's own check runs one sequence); the norm,
 * SwiGLU, cross-entropy and AdamW kernels; RoPE's inverse undoing it. OpenCL's attention (where
 * built; skipped without a device) the same way over two sequences. bf16 training: the cast
 * (CPU, OpenCL) on the rounding cases bit for bit, and the reference's bf16 operands. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu.h"
#ifdef AB_HAVE_OPENCL
#include "backends/opencl.h"
#endif
#include "suites/attention/attention.h"
#include "suites/train/train.h"
#include "suites/train/train_ref.h"

extern const ab_train_ops ab_train_cpu;

static double relerr(const float *dev, const double *ref, size_t n)
{
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++)
        e += (dev[i] - ref[i]) * (dev[i] - ref[i]), r += ref[i] * ref[i];
    return sqrt(e / r);
}

/* runs the attention forward and backward of one backend on host arrays: 0, -1 (err), or 1 when
 * the backend has no device here */
typedef int (*attn_runner)(const ab_train_attn *a, const float *qkv, const float *dout, float *o,
                           float *dq, char *err);

static int run_cpu(const ab_train_attn *a, const float *qkv, const float *dout, float *o, float *dq,
                   char *err)
{
    ab_cpu_dev dev = {.threads = 2};
    float *lse = malloc((size_t)a->batch * a->seq * a->heads * 4);
    void *work = malloc(ab_train_cpu.attn_bwd_work(&dev, a));
    cr_assert(lse && work);
    int rc = ab_train_cpu.attn_fwd(&dev, a, qkv, o, lse, err) ||
             ab_train_cpu.attn_bwd(&dev, a, qkv, o, lse, dout, dq, work, err);
    free(lse), free(work);
    return rc ? -1 : 0;
}

#ifdef AB_HAVE_OPENCL
extern const ab_train_ops ab_train_opencl;

/* the same through the OpenCL backend's buffers (PoCL here) */
static int run_ocl(const ab_train_attn *a, const float *qkv, const float *dout, float *o, float *dq,
                   char *err)
{
    const ab_backend_ops *b = &ab_backend_opencl;
    void *be = NULL, *dev = NULL;
    if (b->init(&be, err) || b->open(be, 0, &dev, err)) return 1;
    size_t T = (size_t)a->batch * a->seq, ld = (size_t)(a->heads + 2 * a->kv_heads) * a->head_dim;
    size_t od = (size_t)a->heads * a->head_dim;
    size_t n[6] = {T * ld * 4, T * od * 4, T * a->heads * 4,
                   T * od * 4, T * ld * 4, ab_train_opencl.attn_bwd_work(dev, a)};
    void *m[6] = {0};
    int rc = 0;
    for (int i = 0; i < 6 && !rc; i++)
        rc = b->mem_alloc(dev, n[i], &m[i], err);
    rc = rc || b->copy(dev, AB_COPY_H2D, m[0], qkv, 0, n[0], err) ||
         b->copy(dev, AB_COPY_H2D, m[3], dout, 0, n[3], err) ||
         ab_train_opencl.attn_fwd(dev, a, m[0], m[1], m[2], err) ||
         ab_train_opencl.attn_bwd(dev, a, m[0], m[1], m[2], m[3], m[4], m[5], err) ||
         b->copy(dev, AB_COPY_D2H, o, m[1], 0, n[1], err) ||
         b->copy(dev, AB_COPY_D2H, dq, m[4], 0, n[4], err) || b->sync(dev, err);
    for (int i = 0; i < 6; i++)
        if (m[i]) b->mem_free(dev, m[i]);
    b->close(dev);
    b->fini(be);
    return rc ? -1 : 0;
}
#endif

static void attention_case(attn_runner run, int batch, int seq, int H, int G, int Dh)
{
    ab_train_attn a = {batch, seq, H, G, Dh, 1.0f / sqrtf((float)Dh)};
    size_t ld = (size_t)(H + 2 * G) * Dh, od = (size_t)H * Dh, T = (size_t)batch * seq;
    float *qkv = malloc(T * ld * 4), *o = malloc(T * od * 4);
    float *dout = malloc(T * od * 4), *dq = malloc(T * ld * 4);
    char err[256] = "";
    cr_assert(qkv && o && dout && dq);
    for (size_t i = 0; i < T * ld; i++)
        qkv[i] = ab_attn_gen(1, i, 1.0f);
    for (size_t i = 0; i < T * od; i++)
        dout[i] = ab_attn_gen(2, i, 0.25f);
    int rc = run(&a, qkv, dout, o, dq, err);
    if (rc == 1) {
        free(qkv), free(o), free(dout), free(dq);
        cr_skip_test("no device: %s", err);
    }
    cr_assert_eq(rc, 0, "%s", err);
    ab_tref_dims d = {seq, 0, H, G, Dh, 0, false};
    double *rq = malloc((size_t)seq * ld * 8), *ro = malloc((size_t)seq * od * 8),
           *rP = malloc((size_t)H * seq * seq * 8), *rdo = malloc((size_t)seq * od * 8),
           *rdq = malloc((size_t)seq * ld * 8);
    for (int b = 0; b < batch; b++) {
        for (size_t i = 0; i < (size_t)seq * ld; i++)
            rq[i] = qkv[(size_t)b * seq * ld + i];
        for (size_t i = 0; i < (size_t)seq * od; i++)
            rdo[i] = dout[(size_t)b * seq * od + i];
        ab_tref_attn_fwd(&d, rq, ro, rP);
        ab_tref_attn_bwd(&d, rq, rP, rdo, rdq);
        double eo = relerr(o + (size_t)b * seq * od, ro, (size_t)seq * od);
        double eg = relerr(dq + (size_t)b * seq * ld, rdq, (size_t)seq * ld);
        cr_expect_lt(eo, 1e-5, "sequence %d of %d, d %d: o off by %g", b, batch, Dh, eo);
        cr_expect_lt(eg, 1e-5, "sequence %d of %d, d %d: dq/dk/dv off by %g", b, batch, Dh, eg);
    }
    free(qkv), free(o), free(dout), free(dq);
    free(rq), free(ro), free(rP), free(rdo), free(rdq);
}

Test(train_kernels, attention_vector_tiles_several_sequences)
{
    attention_case(run_cpu, 2, 150, 4, 2, 64); /* tiles end at 64, 128, 150 */
}

Test(train_kernels, attention_scalar_path)
{
    attention_case(run_cpu, 2, 70, 4, 1, 32);
}

#ifdef AB_HAVE_OPENCL
/* OpenCL's attention over two sequences, grouped-query heads (the step's check sees one) */
Test(train_kernels, attention_opencl_two_sequences)
{
    attention_case(run_ocl, 2, 70, 4, 2, 64);
}
#endif

Test(train_kernels, norm_swiglu_xent_adamw_rope)
{
    ab_cpu_dev dev = {.threads = 2};
    char err[256];
    enum { T = 5, D = 40, F = 24, V = 50 };
    float x[T * D], w[D], y[T * D], r[T], dy[T * D], dx[T * D], dw[D] = {0};
    double xd[T * D], yd[T * D], rd[T], dyd[T * D], dxd[T * D], dwd[D] = {0};
    for (int i = 0; i < T * D; i++)
        xd[i] = x[i] = ab_attn_gen(3, i, 1.0f), dyd[i] = dy[i] = ab_attn_gen(4, i, 1.0f);
    for (int i = 0; i < D; i++)
        w[i] = 1.0f + ab_attn_gen(5, i, 0.125f);
    cr_assert_eq(ab_train_cpu.rmsnorm_fwd(&dev, T, D, x, w, 1e-5f, y, r, err), 0);
    cr_assert_eq(ab_train_cpu.rmsnorm_bwd(&dev, T, D, x, w, r, dy, NULL, dx, dw, err), 0);
    ab_tref_rmsnorm(T, D, xd, w, yd, rd);
    ab_tref_rmsnorm_bwd(T, D, xd, w, rd, dyd, NULL, dxd, dwd);
    cr_expect_lt(relerr(y, yd, T * D), 1e-6);
    cr_expect_lt(relerr(dx, dxd, T * D), 1e-5);
    cr_expect_lt(relerr(dw, dwd, D), 1e-5);
    /* SwiGLU backward against central differences of the forward */
    float gu[T * 2 * F], act[T * F], da[T * F], dgu[T * 2 * F];
    for (int i = 0; i < T * 2 * F; i++)
        gu[i] = ab_attn_gen(6, i, 2.0f);
    for (int i = 0; i < T * F; i++)
        da[i] = ab_attn_gen(7, i, 1.0f);
    cr_assert_eq(ab_train_cpu.swiglu_bwd(&dev, T, F, gu, da, dgu, err), 0);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < F; j++) {
            double g = gu[t * 2 * F + j], u = gu[t * 2 * F + F + j], h = 1e-4;
            double sg = g / (1 + exp(-g)),
                   dg = ((g + h) / (1 + exp(-(g + h))) - (g - h) / (1 + exp(-(g - h)))) / (2 * h);
            cr_expect_float_eq(dgu[t * 2 * F + j], da[t * F + j] * u * dg, 1e-4);
            cr_expect_float_eq(dgu[t * 2 * F + F + j], da[t * F + j] * sg, 1e-5);
        }
    cr_assert_eq(ab_train_cpu.swiglu_fwd(&dev, T, F, gu, act, err), 0);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < F; j++) {
            double g = gu[t * 2 * F + j];
            cr_expect_float_eq(act[t * F + j], g / (1 + exp(-g)) * gu[t * 2 * F + F + j], 1e-5);
        }
    /* cross-entropy: the gradient sums to 0 per row and the loss is lse - logit(target) */
    float lg[T * V], loss[T];
    int32_t tg[T] = {0, 7, 49, 3, 3};
    for (int i = 0; i < T * V; i++)
        lg[i] = ab_attn_gen(8, i, 4.0f);
    double want[T];
    for (int t = 0; t < T; t++) {
        double s = 0;
        for (int j = 0; j < V; j++)
            s += exp(lg[t * V + j]);
        want[t] = log(s) - lg[t * V + tg[t]];
    }
    cr_assert_eq(ab_train_cpu.xent(&dev, T, V, lg, tg, loss, 0.5f, err), 0);
    for (int t = 0; t < T; t++) {
        double s = 0;
        for (int j = 0; j < V; j++)
            s += lg[t * V + j];
        cr_expect_float_eq(loss[t], want[t], 1e-5);
        cr_expect_float_eq(s, 0.0, 1e-6);
        cr_expect_lt(lg[t * V + tg[t]], 0.0f);
    }
    /* AdamW step 1 against the reference */
    float pw[D], pg[D], pm[D] = {0}, pv[D] = {0}, rw[D];
    double gd[D];
    for (int i = 0; i < D; i++)
        rw[i] = pw[i] = ab_attn_gen(9, i, 0.5f), gd[i] = pg[i] = ab_attn_gen(10, i, 0.01f);
    ab_train_adamw hp = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1};
    cr_assert_eq(ab_train_cpu.adamw(&dev, D, pw, pg, pm, pv, &hp, err), 0);
    ab_tref_adamw_vec(D, rw, gd, &hp);
    for (int i = 0; i < D; i++)
        cr_expect_float_eq(pw[i], rw[i], 1e-6, "%d", i);
    /* RoPE then its inverse is the identity */
    ab_train_attn at = {1, 6, 2, 1, 16, 0.25f};
    float q[6 * 4 * 16], q0[6 * 4 * 16];
    for (int i = 0; i < 6 * 4 * 16; i++)
        q0[i] = q[i] = ab_attn_gen(11, i, 1.0f);
    cr_assert_eq(ab_train_cpu.rope(&dev, &at, q, false, err), 0);
    cr_expect_gt(fabsf(q[16 * 4 + 1] - q0[16 * 4 + 1]), 1e-4, "position 1 is rotated");
    cr_assert_eq(ab_train_cpu.rope(&dev, &at, q, true, err), 0);
    for (int i = 0; i < 6 * 4 * 16; i++)
        cr_expect_float_eq(q[i], q0[i], 1e-5);
}

/* ---- bf16 training: the cast and the reference's rounding ---- */

/* f32 bit patterns and their bf16 (round to nearest even) */
static const uint32_t cast_in[] = {
    0x3F800000u, /* 1.0 */
    0x3F808000u, /* 1 + 2^-8: a tie, to the even 0x3F80 */
    0x3F818000u, /* a tie above an odd one: up to 0x3F82 */
    0x3F808001u, /* just above the tie: up */
    0x3F807FFFu, /* just below: down */
    0xBF818000u, /* negative tie: magnitude up */
    0x7F7FFFFFu, /* the largest f32 rounds up to infinity */
    0x7F800000u, /* +inf */
    0xFF800000u, /* -inf */
    0x80000000u, /* -0 */
    0x00000001u, /* the smallest subnormal: to +0 */
    0x7F800001u, /* a signalling NaN whose payload is below bit 16: must stay NaN */
    0xFFC00000u, /* a quiet negative NaN */
};
static const uint16_t cast_want[] = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x3F80, 0xBF82, 0x7F80,
                                     0x7F80, 0xFF80, 0x8000, 0x0000, 0,      0};
#define NCAST (sizeof(cast_in) / sizeof(cast_in[0]))

static void check_cast(const uint16_t *got)
{
    for (size_t i = 0; i < NCAST; i++) {
        if (i >= NCAST - 2) { /* NaN in, NaN out, with its sign */
            cr_expect((got[i] & 0x7F80u) == 0x7F80u && (got[i] & 0x7Fu) != 0, "%zu: %#x", i,
                      got[i]);
            cr_expect_eq(got[i] >> 15, cast_in[i] >> 31);
        } else {
            cr_expect_eq(got[i], cast_want[i], "%zu: %#x -> %#x, want %#x", i, cast_in[i], got[i],
                         cast_want[i]);
        }
    }
}

Test(train_kernels, cast_bf16_rounds_to_nearest_even)
{
    ab_cpu_dev dev = {.threads = 2};
    char err[256];
    uint16_t got[NCAST];
    cr_assert_not_null(ab_train_cpu.cast_bf16);
    cr_assert_eq(ab_train_cpu.cast_bf16(&dev, NCAST, cast_in, got, err), 0, "%s", err);
    check_cast(got);
    /* the reference's rounding is the same function of the f32 value */
    for (size_t i = 0; i < NCAST - 2; i++) {
        float f, r;
        memcpy(&f, &cast_in[i], 4);
        r = ab_tref_bf16f(f);
        uint32_t u;
        memcpy(&u, &r, 4);
        cr_expect_eq(u, (uint32_t)cast_want[i] << 16, "%zu", i);
    }
    /* many elements (the threads' chunks) against the reference */
    enum { N = 10007 };
    float *x = malloc(N * 4);
    uint16_t *y = malloc(N * 2);
    cr_assert(x && y);
    for (int i = 0; i < N; i++)
        x[i] = ab_attn_gen(12, (uint64_t)i, 3.0f);
    cr_assert_eq(ab_train_cpu.cast_bf16(&dev, N, x, y, err), 0);
    for (int i = 0; i < N; i++) {
        float r = ab_tref_bf16f(x[i]);
        uint32_t u;
        memcpy(&u, &r, 4);
        cr_expect_eq(y[i], u >> 16, "%d", i);
    }
    free(x), free(y);
}

#ifdef AB_HAVE_OPENCL
Test(train_kernels, cast_bf16_opencl)
{
    const ab_backend_ops *b = &ab_backend_opencl;
    void *be = NULL, *dev = NULL;
    char err[256] = "";
    if (b->init(&be, err) || b->open(be, 0, &dev, err)) cr_skip_test("no OpenCL device: %s", err);
    void *src = NULL, *dst = NULL;
    uint16_t got[NCAST];
    int rc = b->mem_alloc(dev, sizeof(cast_in), &src, err) ||
             b->mem_alloc(dev, sizeof(got), &dst, err) ||
             b->copy(dev, AB_COPY_H2D, src, cast_in, 0, sizeof(cast_in), err) ||
             ab_train_opencl.cast_bf16(dev, NCAST, src, dst, err) ||
             b->copy(dev, AB_COPY_D2H, got, dst, 0, sizeof(got), err) || b->sync(dev, err);
    cr_expect_eq(rc, 0, "%s", err);
    if (rc == 0) check_cast(got);
    if (src) b->mem_free(dev, src);
    if (dst) b->mem_free(dev, dst);
    b->close(dev);
    b->fini(be);
}
#endif

/* The reference's bf16 products are those of the rounded operands (and the f32 ones are not). */
Test(train_kernels, reference_rounds_gemm_operands_to_bf16)
{
    enum { T = 3, N = 4, K = 5 };
    double X[T * K], Y[T * N], Yb[T * N], dX[T * K], dXb[T * K];
    float W[N * K];
    for (int i = 0; i < T * K; i++)
        X[i] = ab_attn_gen(13, (uint64_t)i, 1.0f) + 1e-3 * i / 7.0;
    for (int i = 0; i < N * K; i++)
        W[i] = ab_attn_gen(14, (uint64_t)i, 1.0f);
    ab_tref_linear(T, N, K, X, W, NULL, Y, false);
    ab_tref_linear(T, N, K, X, W, NULL, Yb, true);
    ab_tref_linear_dx(T, N, K, Y, N, W, dX, false);
    ab_tref_linear_dx(T, N, K, Y, N, W, dXb, true);
    double off = 0;
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double s = 0, s32 = 0;
            for (int k = 0; k < K; k++) {
                s += ab_tref_bf16(X[t * K + k]) * ab_tref_bf16f(W[n * K + k]);
                s32 += X[t * K + k] * W[n * K + k];
            }
            cr_expect_float_eq(Yb[t * N + n], s, 1e-15);
            cr_expect_float_eq(Y[t * N + n], s32, 1e-15);
            off = fmax(off, fabs(Yb[t * N + n] - Y[t * N + n]));
        }
    cr_expect_gt(off, 1e-4, "bf16 rounding moves the products");
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                s += ab_tref_bf16(Y[t * N + n]) * ab_tref_bf16f(W[n * K + k]);
            cr_expect_float_eq(dXb[t * K + k], s, 1e-15);
        }
    /* the weight gradient's reference: dW = bf16(dY)^T bf16(X), then AdamW from it */
    float gdev[N * K], Wa[N * K], Wb[N * K];
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                s += ab_tref_bf16(Y[t * N + n]) * ab_tref_bf16(X[t * K + k]);
            gdev[n * K + k] = (float)s;
        }
    memcpy(Wa, W, sizeof(W)), memcpy(Wb, W, sizeof(W));
    ab_train_adamw hp = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1};
    double e2 = 0, r2 = 0, f2 = 0, q2 = 0;
    ab_tref_dw_check_update(T, N, K, Y, N, X, gdev, Wa, &hp, true, &e2, &r2);
    ab_tref_dw_check_update(T, N, K, Y, N, X, gdev, Wb, &hp, false, &f2, &q2);
    cr_expect_lt(sqrt(e2 / r2), 1e-7, "bf16 reference: %g", sqrt(e2 / r2));
    cr_expect_gt(sqrt(f2 / q2), 1e-4, "f32 reference: %g", sqrt(f2 / q2));
}

/* SPDX-License-Identifier: MIT */
/*
 * The train suite's kernels (suites/train/train.h) on every device this machine has -- cpu
 * always, opencl:0, cuda:0, hip:0 when listed (a skip with the backend's reason otherwise), as
 * tokens_kernels does -- through the registry and the device's own buffers, against fp64
 * references: train_ref.c's attention, RMSNorm and AdamW, and references written here for RoPE,
 * SwiGLU and the cross-entropy. Shapes cover what the step's own check does not: several
 * sequences, sequences that end inside a tile, grouped-query heads with one and two KV heads,
 * head_dim 32, 64 and 128, more rows than the norm's weight-gradient lanes, vocabularies wider
 * and narrower than a block. fill must give the host's bits; cast_bf16, where the backend has
 * it, must round exactly as ab_f32_to_bf16.
 *
 * Tolerance: largest |got - ref| over the largest |ref| of the output, 1e-5 (2e-5 for the
 * attention backward, whose sums run over a whole sequence).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/registry.h"
#include "core/ab.h"
#include "device_helpers.h"
#include "suites/attention/attention.h"
#include "suites/tokens/tokens.h"
#include "suites/train/train.h"
#include "suites/train/train_ref.h"

#define TOL 1e-5

static ab_platform plat;
static bool plat_up;
static ab_device *dv;
static const ab_backend_ops *bops;
static const ab_train_ops *tr;

static void close_platform(void)
{
    if (plat_up) ab_platform_fini(&plat);
    plat_up = false;
    dv = NULL;
}

/* Opens device `id` and its train table, or skips the test saying why it is not there. */
static void open_or_skip(const char *id)
{
    dv = ab_test_device_or_skip(&plat, &plat_up, id);
    bops = dv->backend->ops;
    tr = ab_device_impls(dv)->train;
    cr_assert_not_null(tr, "%s: the backend has no train kernels", id);
    cr_assert_not_null(tr->describe(dv->h));
}

/* ---- device buffers ---- */

static void *dmalloc(size_t bytes)
{
    char err[AB_ERRLEN] = "";
    void *m = NULL;
    cr_assert_eq(bops->mem_alloc(dv->h, bytes ? bytes : 4, &m, err), 0, "%s", err);
    return m;
}

static void *dup_f32(const float *host, size_t n)
{
    char err[AB_ERRLEN] = "";
    void *m = dmalloc(n * 4);
    cr_assert_eq(bops->copy(dv->h, AB_COPY_H2D, m, host, 0, n * 4, err), 0, "%s", err);
    cr_assert_eq(bops->sync(dv->h, err), 0, "%s", err);
    return m;
}

/* n elements of `size` bytes back to the host, after the device's queue drains */
static void *down(const void *mem, size_t n, size_t size)
{
    char err[AB_ERRLEN] = "";
    void *host = malloc(n * size);
    cr_assert_not_null(host);
    cr_assert_eq(bops->sync(dv->h, err), 0, "%s", err);
    cr_assert_eq(bops->copy(dv->h, AB_COPY_D2H, host, mem, 0, n * size, err), 0, "%s", err);
    cr_assert_eq(bops->sync(dv->h, err), 0, "%s", err);
    return host;
}

static void dfree(void *mem)
{
    bops->mem_free(dv->h, mem);
}

/* ---- host data ---- */

/* n f32 values of the test pattern, amp * [-1, 1) + offset */
static float *pattern(size_t n, uint64_t seed, float amp, float offset)
{
    float *v = malloc((n ? n : 1) * sizeof(float));
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = offset + ab_attn_gen(seed, i, amp);
    return v;
}

static double *widen(const float *f, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof(double));
    cr_assert_not_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

/* largest |got - ref| over the largest |ref|; a NaN or infinity is an infinite error */
static double rel_err(const float *got, const double *ref, size_t n)
{
    double worst = 0.0, mag = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!isfinite(e)) return INFINITY;
        worst = e > worst ? e : worst;
        mag = fabs(ref[i]) > mag ? fabs(ref[i]) : mag;
    }
    return worst / (mag > 0.0 ? mag : 1.0);
}

/* ------------------------------------------------------------------------------------------ */
/* attention                                                                                   */

static void attention_case(int batch, int seq, int H, int G, int Dh)
{
    ab_train_attn a = {batch, seq, H, G, Dh, 1.0f / sqrtf((float)Dh)};
    size_t ld = (size_t)(H + 2 * G) * Dh, od = (size_t)H * Dh, T = (size_t)batch * seq;
    float *qkv = pattern(T * ld, 1, 1.0f, 0.0f), *dout = pattern(T * od, 2, 0.25f, 0.0f);
    char err[AB_ERRLEN] = "";
    void *mq = dup_f32(qkv, T * ld), *mdo = dup_f32(dout, T * od), *mo = dmalloc(T * od * 4),
         *ml = dmalloc(T * H * 4), *mdq = dmalloc(T * ld * 4),
         *mw = dmalloc(tr->attn_bwd_work(dv->h, &a));
    cr_assert_eq(tr->attn_fwd(dv->h, &a, mq, mo, ml, err), 0, "%s", err);
    cr_assert_eq(tr->attn_bwd(dv->h, &a, mq, mo, ml, mdo, mdq, mw, err), 0, "%s", err);
    float *o = down(mo, T * od, 4), *dq = down(mdq, T * ld, 4), *lse = down(ml, T * H, 4);
    ab_tref_dims d = {seq, 0, H, G, Dh, 0, false};
    double *ro = malloc((size_t)seq * od * 8), *rP = malloc((size_t)H * seq * seq * 8),
           *rdq = malloc((size_t)seq * ld * 8);
    cr_assert(ro && rP && rdq);
    for (int b = 0; b < batch; b++) {
        double *rq = widen(qkv + (size_t)b * seq * ld, (size_t)seq * ld),
               *rdo = widen(dout + (size_t)b * seq * od, (size_t)seq * od);
        ab_tref_attn_fwd(&d, rq, ro, rP);
        ab_tref_attn_bwd(&d, rq, rP, rdo, rdq);
        double eo = rel_err(o + (size_t)b * seq * od, ro, (size_t)seq * od);
        double eg = rel_err(dq + (size_t)b * seq * ld, rdq, (size_t)seq * ld);
        cr_expect_lt(eo, TOL, "%s: sequence %d of %d, seq %d, d %d: o off by %g", dv->id, b,
                     batch, seq, Dh, eo);
        cr_expect_lt(eg, 2 * TOL, "%s: sequence %d of %d, seq %d, d %d: dq/dk/dv off by %g",
                     dv->id, b, batch, seq, Dh, eg);
        /* lse: P's row i is exp(scale q k - lse), so P[i][i] gives lse back */
        for (int h = 0; h < H; h++)
            for (int i = 0; i < seq; i += 7) {
                const double *qi = rq + (size_t)i * ld + (size_t)h * Dh;
                const double *ki = rq + (size_t)i * ld + (size_t)(H + h / (H / G)) * Dh;
                double s = 0;
                for (int c = 0; c < Dh; c++)
                    s += qi[c] * ki[c];
                double want = s * a.scale - log(rP[((size_t)h * seq + i) * seq + i]);
                double got = lse[((size_t)b * H + h) * seq + i];
                cr_expect(fabs(got - want) <= 1e-5 * (1 + fabs(want)),
                          "%s: lse[%d][%d][%d] %g, want %g", dv->id, b, h, i, got, want);
            }
        free(rq), free(rdo);
    }
    dfree(mq), dfree(mdo), dfree(mo), dfree(ml), dfree(mdq), dfree(mw);
    free(qkv), free(dout), free(o), free(dq), free(lse), free(ro), free(rP), free(rdq);
}

static void run_attention(const char *id)
{
    open_or_skip(id);
    attention_case(2, 70, 4, 2, 64);  /* two sequences, tiles end at 32, 64, 70 */
    attention_case(1, 33, 4, 1, 32);  /* one KV head for four query heads */
    attention_case(1, 100, 2, 2, 128); /* the Llama head_dim, no grouping */
}

/* ------------------------------------------------------------------------------------------ */
/* RMSNorm                                                                                     */

static void run_rmsnorm(const char *id)
{
    open_or_skip(id);
    enum { T = 37, D = 72 };
    const float eps = 1e-5f;
    char err[AB_ERRLEN] = "";
    float *x = pattern(T * D, 3, 1.0f, 0.0f), *w = pattern(D, 5, 0.125f, 1.0f),
          *dy = pattern(T * D, 4, 1.0f, 0.0f), *res = pattern(T * D, 6, 0.5f, 0.0f),
          *dw0 = pattern(D, 7, 0.25f, 0.0f);
    void *mx = dup_f32(x, T * D), *mw = dup_f32(w, D), *mdy = dup_f32(dy, T * D),
         *mres = dup_f32(res, T * D), *mdw = dup_f32(dw0, D), *my = dmalloc(T * D * 4),
         *mr = dmalloc(T * 4);
    cr_assert_eq(tr->rmsnorm_fwd(dv->h, T, D, mx, mw, eps, my, mr, err), 0, "%s", err);
    /* dx written over dres (the alias train.h allows), dw accumulated onto what it held */
    cr_assert_eq(tr->rmsnorm_bwd(dv->h, T, D, mx, mw, mr, mdy, mres, mres, mdw, err), 0, "%s",
                 err);
    float *y = down(my, T * D, 4), *r = down(mr, T, 4), *dx = down(mres, T * D, 4),
          *dw = down(mdw, D, 4);
    double *xd = widen(x, T * D), *dyd = widen(dy, T * D), *resd = widen(res, T * D),
           *dwd = widen(dw0, D), yd[T * D], rd[T], dxd[T * D];
    ab_tref_rmsnorm(T, D, xd, w, yd, rd);
    ab_tref_rmsnorm_bwd(T, D, xd, w, rd, dyd, resd, dxd, dwd);
    cr_expect_lt(rel_err(y, yd, T * D), TOL, "%s: y", id);
    cr_expect_lt(rel_err(r, rd, T), TOL, "%s: rstd", id);
    cr_expect_lt(rel_err(dx, dxd, T * D), TOL, "%s: dx", id);
    cr_expect_lt(rel_err(dw, dwd, D), TOL, "%s: dw", id);
    /* without the residual */
    float *dx2 = NULL;
    void *mdx = dmalloc(T * D * 4);
    cr_assert_eq(tr->rmsnorm_bwd(dv->h, T, D, mx, mw, mr, mdy, NULL, mdx, mdw, err), 0, "%s",
                 err);
    dx2 = down(mdx, T * D, 4);
    for (int i = 0; i < T * D; i++)
        dxd[i] -= resd[i];
    cr_expect_lt(rel_err(dx2, dxd, T * D), TOL, "%s: dx without dres", id);
    dfree(mx), dfree(mw), dfree(mdy), dfree(mres), dfree(mdw), dfree(my), dfree(mr), dfree(mdx);
    free(x), free(w), free(dy), free(res), free(dw0), free(y), free(r), free(dx), free(dw);
    free(dx2), free(xd), free(dyd), free(resd), free(dwd);
}

/* ------------------------------------------------------------------------------------------ */
/* RoPE                                                                                        */

static void run_rope(const char *id)
{
    open_or_skip(id);
    ab_train_attn a = {2, 9, 4, 2, 32, 0.0f};
    const int nh = a.heads + 2 * a.kv_heads, half = a.head_dim / 2;
    const size_t n = (size_t)a.batch * a.seq * nh * a.head_dim;
    char err[AB_ERRLEN] = "";
    float *q0 = pattern(n, 11, 1.0f, 0.0f);
    void *m = dup_f32(q0, n);
    cr_assert_eq(tr->rope(dv->h, &a, m, false, err), 0, "%s", err);
    float *q = down(m, n, 4);
    double *want = widen(q0, n);
    for (size_t t = 0; t < (size_t)a.batch * a.seq; t++) {
        long pos = (long)(t % (size_t)a.seq);
        for (int hh = 0; hh < a.heads + a.kv_heads; hh++)
            for (int i = 0; i < half; i++) {
                size_t o = (t * nh + hh) * a.head_dim;
                double ang = pos * pow(AB_TOK_ROPE_THETA, -2.0 * i / a.head_dim);
                double x0 = q0[o + i], x1 = q0[o + i + half];
                want[o + i] = x0 * cos(ang) - x1 * sin(ang);
                want[o + i + half] = x0 * sin(ang) + x1 * cos(ang);
            }
    }
    cr_expect_lt(rel_err(q, want, n), TOL, "%s: rope", id);
    /* value heads untouched, bit for bit */
    for (size_t t = 0; t < (size_t)a.batch * a.seq; t++)
        cr_expect_eq(memcmp(q + (t * nh + a.heads + a.kv_heads) * a.head_dim,
                            q0 + (t * nh + a.heads + a.kv_heads) * a.head_dim,
                            (size_t)a.kv_heads * a.head_dim * 4),
                     0, "%s: token %zu's value heads changed", id, t);
    cr_assert_eq(tr->rope(dv->h, &a, m, true, err), 0, "%s", err);
    float *back = down(m, n, 4);
    double *orig = widen(q0, n);
    cr_expect_lt(rel_err(back, orig, n), TOL, "%s: the inverse does not undo the rotation", id);
    dfree(m);
    free(q0), free(q), free(want), free(back), free(orig);
}

/* ------------------------------------------------------------------------------------------ */
/* SwiGLU, cross-entropy, AdamW                                                                */

static void run_swiglu(const char *id)
{
    open_or_skip(id);
    enum { T = 5, F = 300 };
    char err[AB_ERRLEN] = "";
    float *gu = pattern(T * 2 * F, 6, 4.0f, 0.0f), *da = pattern(T * F, 7, 1.0f, 0.0f);
    void *mgu = dup_f32(gu, T * 2 * F), *mda = dup_f32(da, T * F), *ma = dmalloc(T * F * 4),
         *mdg = dmalloc(T * 2 * F * 4);
    cr_assert_eq(tr->swiglu_fwd(dv->h, T, F, mgu, ma, err), 0, "%s", err);
    cr_assert_eq(tr->swiglu_bwd(dv->h, T, F, mgu, mda, mdg, err), 0, "%s", err);
    float *act = down(ma, T * F, 4), *dg = down(mdg, T * 2 * F, 4);
    double *wa = malloc(T * F * 8), *wd = malloc(T * 2 * F * 8);
    cr_assert(wa && wd);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < F; j++) {
            double g = gu[t * 2 * F + j], u = gu[t * 2 * F + F + j], s = 1 / (1 + exp(-g));
            wa[t * F + j] = g * s * u;
            wd[t * 2 * F + j] = da[t * F + j] * u * s * (1 + g * (1 - s));
            wd[t * 2 * F + F + j] = da[t * F + j] * g * s;
        }
    cr_expect_lt(rel_err(act, wa, T * F), TOL, "%s: swiglu", id);
    cr_expect_lt(rel_err(dg, wd, T * 2 * F), TOL, "%s: swiglu backward", id);
    dfree(mgu), dfree(mda), dfree(ma), dfree(mdg);
    free(gu), free(da), free(act), free(dg), free(wa), free(wd);
}

static void xent_case(int rows, int vocab)
{
    char err[AB_ERRLEN] = "";
    const float gscale = 0.5f;
    float *lg = pattern((size_t)rows * vocab, 8, 8.0f, 0.0f);
    int32_t *tg = malloc((size_t)rows * 4);
    cr_assert_not_null(tg);
    for (int r = 0; r < rows; r++)
        tg[r] = (int32_t)((r * 7919L + 3) % vocab);
    void *ml = dup_f32(lg, (size_t)rows * vocab), *mt = dmalloc((size_t)rows * 4),
         *ms = dmalloc((size_t)rows * 4);
    cr_assert_eq(bops->copy(dv->h, AB_COPY_H2D, mt, tg, 0, (size_t)rows * 4, err), 0, "%s", err);
    cr_assert_eq(tr->xent(dv->h, rows, vocab, ml, mt, ms, gscale, err), 0, "%s", err);
    float *g = down(ml, (size_t)rows * vocab, 4), *loss = down(ms, (size_t)rows, 4);
    double *wg = malloc((size_t)rows * vocab * 8), *wl = malloc((size_t)rows * 8);
    cr_assert(wg && wl);
    for (int r = 0; r < rows; r++) {
        const float *x = lg + (size_t)r * vocab;
        double mx = x[0], s = 0;
        for (int j = 1; j < vocab; j++)
            mx = x[j] > mx ? x[j] : mx;
        for (int j = 0; j < vocab; j++)
            s += exp(x[j] - mx);
        wl[r] = log(s) + mx - x[tg[r]];
        for (int j = 0; j < vocab; j++)
            wg[(size_t)r * vocab + j] = gscale * (exp(x[j] - mx) / s - (j == tg[r]));
    }
    cr_expect_lt(rel_err(loss, wl, (size_t)rows), TOL, "%s: loss, vocab %d", dv->id, vocab);
    cr_expect_lt(rel_err(g, wg, (size_t)rows * vocab), TOL, "%s: gradient, vocab %d", dv->id,
                 vocab);
    dfree(ml), dfree(mt), dfree(ms);
    free(lg), free(tg), free(g), free(loss), free(wg), free(wl);
}

static void run_xent(const char *id)
{
    open_or_skip(id);
    xent_case(3, 50);
    xent_case(4, 5000);
}

static void run_adamw(const char *id)
{
    open_or_skip(id);
    enum { N = 1000 };
    char err[AB_ERRLEN] = "";
    float *w = pattern(N, 9, 0.5f, 0.0f), *g = pattern(N, 10, 0.01f, 0.0f),
          *m = pattern(N, 12, 0.001f, 0.0f), *v = pattern(N, 13, 1e-5f, 1e-5f);
    void *mw = dup_f32(w, N), *mg = dup_f32(g, N), *mm = dup_f32(m, N), *mv = dup_f32(v, N);
    ab_train_adamw h = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3};
    cr_assert_eq(tr->adamw(dv->h, N, mw, mg, mm, mv, &h, err), 0, "%s", err);
    float *gw = down(mw, N, 4), *gm = down(mm, N, 4), *gv = down(mv, N, 4);
    double ww[N], wm[N], wv[N];
    double c1 = 1 / (1 - pow(h.b1, (double)h.t)), c2 = 1 / (1 - pow(h.b2, (double)h.t));
    for (int i = 0; i < N; i++) {
        wm[i] = h.b1 * (double)m[i] + (1 - (double)h.b1) * g[i];
        wv[i] = h.b2 * (double)v[i] + (1 - (double)h.b2) * (double)g[i] * g[i];
        ww[i] = w[i] - h.lr * (wm[i] * c1 / (sqrt(wv[i] * c2) + h.eps) + h.wd * (double)w[i]);
    }
    cr_expect_lt(rel_err(gm, wm, N), TOL, "%s: m", id);
    cr_expect_lt(rel_err(gv, wv, N), TOL, "%s: v", id);
    cr_expect_lt(rel_err(gw, ww, N), TOL, "%s: w", id);
    dfree(mw), dfree(mg), dfree(mm), dfree(mv);
    free(w), free(g), free(m), free(v), free(gw), free(gm), free(gv);
}

/* ------------------------------------------------------------------------------------------ */
/* fill, zero, bf16 cast                                                                       */

static void run_fill_zero(const char *id)
{
    open_or_skip(id);
    enum { N = 100003 };
    char err[AB_ERRLEN] = "";
    void *mb = dmalloc(N * 4);
    cr_assert_eq(tr->fill(dv->h, mb, N, 77, 0.125f, 1.0f, err), 0, "%s", err);
    float *got = down(mb, N, 4), *want = pattern(N, 77, 0.125f, 1.0f);
    cr_expect_eq(memcmp(got, want, N * 4), 0, "%s: fill is not the host's pattern", id);
    cr_assert_eq(tr->zero(dv->h, mb, N - 3, err), 0, "%s", err);
    float *z = down(mb, N, 4);
    for (int i = 0; i < N - 3; i++)
        cr_assert_eq(z[i], 0.0f, "%s: zero left %g at %d", id, z[i], i);
    cr_expect_eq(memcmp(z + N - 3, want + N - 3, 12), 0, "%s: zero wrote past n", id);
    dfree(mb);
    free(got), free(want), free(z);
}

static void run_cast_bf16(const char *id)
{
    open_or_skip(id);
    if (!tr->cast_bf16) cr_skip_test("%s: the backend does no bf16 training (cast_bf16 NULL)", id);
    enum { N = 4096 };
    char err[AB_ERRLEN] = "";
    float *src = pattern(N, 21, 3.0f, 0.0f);
    /* the rounding's edges: ties both ways, the largest finite, infinities, NaNs */
    uint32_t edge[] = {0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0x7f800000u,
                       0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffa00000u, 0x80000000u};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
        memcpy(&src[i], &edge[i], 4);
    void *ms = dup_f32(src, N), *md = dmalloc(N * 2);
    cr_assert_eq(tr->cast_bf16(dv->h, N, ms, md, err), 0, "%s", err);
    uint16_t *got = down(md, N, 2);
    for (int i = 0; i < N; i++) {
        uint16_t want = ab_f32_to_bf16(src[i]);
        if (isnan(src[i]))
            cr_expect((got[i] & 0x7f80u) == 0x7f80u && (got[i] & 0x7fu), "%s: NaN became %#x",
                      id, got[i]);
        else
            cr_expect_eq(got[i], want, "%s: element %d: %#x, want %#x", id, i, got[i], want);
    }
    dfree(ms), dfree(md);
    free(src), free(got);
}

/* ------------------------------------------------------------------------------------------ */

#define DEVICE_TESTS(tag, id)                                                                      \
    Test(train_kernels_devices, attention_##tag, .timeout = 300, .fini = close_platform)          \
    {                                                                                              \
        run_attention(id);                                                                         \
    }                                                                                              \
    Test(train_kernels_devices, rmsnorm_##tag, .timeout = 300, .fini = close_platform)            \
    {                                                                                              \
        run_rmsnorm(id);                                                                           \
    }                                                                                              \
    Test(train_kernels_devices, rope_##tag, .timeout = 300, .fini = close_platform)               \
    {                                                                                              \
        run_rope(id);                                                                              \
    }                                                                                              \
    Test(train_kernels_devices, swiglu_##tag, .timeout = 300, .fini = close_platform)             \
    {                                                                                              \
        run_swiglu(id);                                                                            \
    }                                                                                              \
    Test(train_kernels_devices, xent_##tag, .timeout = 300, .fini = close_platform)               \
    {                                                                                              \
        run_xent(id);                                                                              \
    }                                                                                              \
    Test(train_kernels_devices, adamw_##tag, .timeout = 300, .fini = close_platform)              \
    {                                                                                              \
        run_adamw(id);                                                                             \
    }                                                                                              \
    Test(train_kernels_devices, fill_zero_##tag, .timeout = 300, .fini = close_platform)          \
    {                                                                                              \
        run_fill_zero(id);                                                                         \
    }                                                                                              \
    Test(train_kernels_devices, cast_bf16_##tag, .timeout = 300, .fini = close_platform)          \
    {                                                                                              \
        run_cast_bf16(id);                                                                         \
    }

DEVICE_TESTS(cpu, "cpu")
DEVICE_TESTS(opencl, "opencl:0")
DEVICE_TESTS(cuda, "cuda:0")
DEVICE_TESTS(hip, "hip:0")

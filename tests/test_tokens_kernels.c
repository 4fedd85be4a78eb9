/* SPDX-License-Identifier: MIT */
/*
 * The tokens suite's small kernels (suites/tokens/tokens.h) on every device this machine has --
 * cpu always, opencl:0, cuda:0, hip:0 when listed (a skip with the backend's reason otherwise) --
 * against double-precision references written here from the header's contract, not against
 * another backend's kernels. Inputs are small and deterministic (f32 and bf16, odd widths, GQA,
 * batch x seq > 1, pos0 > 0, caches longer than what is written, row0 > 0); what a kernel must
 * not touch (the cache positions outside [pos0, pos0 + seq), the rows of h outside the range,
 * the rows past the output) is filled with a sentinel first and must come back bit for bit.
 *
 * Tolerance: max |got - ref| <= 1e-5 (f32 output) or 1e-2 (bf16 output) times max |ref| of that
 * output. References use the inputs exactly as the device sees them (bf16-rounded where bf16).
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

#define TOL_F32 1e-5
#define TOL_BF16 1e-2
#define SENTINEL 0x5a /* bytes of what must stay untouched: f32 1.5e16, bf16 1.5e16 */

static const ab_tok_type types[2] = {AB_TT_F32, AB_TT_BF16};

static const char *tname(ab_tok_type t)
{
    return t == AB_TT_BF16 ? "bf16" : "f32";
}

static double tol(ab_tok_type t)
{
    return t == AB_TT_BF16 ? TOL_BF16 : TOL_F32;
}

/* ---- the device under test, through the registry as the suite gets it ---- */

static ab_platform plat;
static bool plat_up;
static ab_device *dv;
static const ab_backend_ops *bops;
static const ab_tok_ops *tk;

static void close_platform(void)
{
    if (plat_up)
        ab_platform_fini(&plat);
    plat_up = false;
    dv = NULL;
}

/* Opens device `id` and its tokens table, or skips the test saying why it is not there. */
static void open_or_skip(const char *id)
{
    dv = ab_test_device_or_skip(&plat, &plat_up, id);
    bops = dv->backend->ops;
    tk = ab_device_impls(dv)->tokens;
    cr_assert_not_null(tk, "%s: the backend has no tokens kernels", id);
    cr_assert_not_null(tk->describe(dv->h));
}

static void *dmalloc(size_t bytes)
{
    char err[AB_ERRLEN] = "";
    void *m = NULL;
    cr_assert_eq(bops->mem_alloc(dv->h, bytes, &m, err), 0, "%s", err);
    return m;
}

static void *dupload(const void *host, size_t bytes)
{
    char err[AB_ERRLEN] = "";
    void *m = dmalloc(bytes);
    cr_assert_eq(bops->copy(dv->h, AB_COPY_H2D, m, host, 0, bytes, err), 0, "%s", err);
    cr_assert_eq(bops->sync(dv->h, err), 0, "%s", err);
    return m;
}

static void *ddownload(const void *mem, size_t bytes)
{
    char err[AB_ERRLEN] = "";
    void *host = malloc(bytes);
    cr_assert_not_null(host);
    cr_assert_eq(bops->copy(dv->h, AB_COPY_D2H, host, mem, 0, bytes, err), 0, "%s", err);
    cr_assert_eq(bops->sync(dv->h, err), 0, "%s", err);
    return host;
}

static void dfree(void *mem)
{
    bops->mem_free(dv->h, mem);
}

static void dsync(void)
{
    char err[AB_ERRLEN] = "";
    cr_assert_eq(bops->sync(dv->h, err), 0, "%s", err);
}

/* ---- host data ---- */

/* n values of the test pattern, amp * [-1, 1) + offset, as doubles */
static double *gen(size_t n, uint64_t seed, double amp, double offset)
{
    double *v = malloc(n * sizeof(double));
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (double)ab_attn_gen(seed, i, (float)amp) + offset;
    return v;
}

/* The bytes of vals in type t; vals becomes exactly what the device will read. */
static void *pack(ab_tok_type t, double *vals, size_t n)
{
    void *b = malloc(n * ab_tok_type_size(t));
    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++) {
        if (t == AB_TT_BF16) {
            uint16_t u = ab_f32_to_bf16((float)vals[i]);
            ((uint16_t *)b)[i] = u;
            vals[i] = ab_bf16_to_f32(u);
        } else {
            ((float *)b)[i] = (float)vals[i];
            vals[i] = (float)vals[i];
        }
    }
    return b;
}

static double unpack(ab_tok_type t, const void *b, size_t i)
{
    return t == AB_TT_BF16 ? ab_bf16_to_f32(((const uint16_t *)b)[i]) : ((const float *)b)[i];
}

static void *sentinel_buf(size_t bytes)
{
    void *b = malloc(bytes);
    cr_assert_not_null(b);
    memset(b, SENTINEL, bytes);
    return b;
}

static bool untouched(const void *b, size_t from, size_t to)
{
    const unsigned char *p = b;
    for (size_t i = from; i < to; i++)
        if (p[i] != SENTINEL)
            return false;
    return true;
}

/* Largest |got - ref| over n elements (got at element offset off), relative to the largest
 * |ref|; a NaN or infinity counts as infinite error. */
static double rel_err(ab_tok_type t, const void *got, size_t off, const double *ref, size_t n)
{
    double worst = 0.0, mag = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(unpack(t, got, off + i) - ref[i]);
        if (!isfinite(e))
            return INFINITY;
        if (e > worst)
            worst = e;
        if (fabs(ref[i]) > mag)
            mag = fabs(ref[i]);
    }
    return worst / (mag > 0.0 ? mag : 1.0);
}

/* ------------------------------------------------------------------------------------------ */
/* add_rmsnorm                                                                                 */

static void check_add_rmsnorm(long total, long row0, long rows, int d, bool with_y,
                              ab_tok_type ty, ab_tok_type tw, ab_tok_type tx, uint64_t seed,
                              double amp)
{
    const float eps = 1e-5f;
    size_t nh = (size_t)total * d, nx = (size_t)rows * d;
    double *h = gen(nh, seed, 2.0 * amp, 0.0), *y = gen(nh, seed + 1, amp, 0.0),
           *w = gen((size_t)d, seed + 2, 0.5, 1.0);
    void *hb = pack(AB_TT_F32, h, nh), *yb = pack(ty, y, nh), *wb = pack(tw, w, (size_t)d);
    /* x gets one row more than written, which must keep the sentinel */
    size_t xbytes = (nx + (size_t)d) * ab_tok_type_size(tx);
    void *xs = sentinel_buf(xbytes);
    void *hm = dupload(hb, nh * 4), *ym = with_y ? dupload(yb, nh * ab_tok_type_size(ty)) : NULL,
         *wm = dupload(wb, (size_t)d * ab_tok_type_size(tw)), *xm = dupload(xs, xbytes);
    char err[AB_ERRLEN] = "";
    cr_assert_eq(tk->add_rmsnorm(dv->h, row0, rows, d, hm, ym, ty, wm, tw, eps, xm, tx, err), 0,
                 "%s", err);
    dsync();
    float *hg = ddownload(hm, nh * 4);
    void *xg = ddownload(xm, xbytes);

    double *href = malloc((size_t)d * sizeof(double)), *xref = malloc((size_t)d * sizeof(double));
    for (long r = 0; r < total; r++) {
        size_t o = (size_t)r * d;
        bool in = r >= row0 && r < row0 + rows;
        if (!in || !with_y) { /* h outside the rows, or without y: not a bit changed */
            cr_assert(memcmp(hg + o, (float *)hb + o, (size_t)d * 4) == 0,
                      "h row %ld changed (row0 %ld rows %ld y %d)", r, row0, rows, with_y);
        }
        if (!in)
            continue;
        double ss = 0.0;
        for (int j = 0; j < d; j++) {
            href[j] = h[o + j] + (with_y ? y[o + j] : 0.0);
            ss += href[j] * href[j];
        }
        double inv = 1.0 / sqrt(ss / d + eps);
        for (int j = 0; j < d; j++)
            xref[j] = href[j] * inv * w[j];
        double eh = rel_err(AB_TT_F32, hg, o, href, (size_t)d);
        cr_assert_leq(eh, TOL_F32, "h row %ld: error %.3g (d %d, y %s)", r, eh, d, tname(ty));
        double ex = rel_err(tx, xg, (size_t)(r - row0) * d, xref, (size_t)d);
        cr_assert_leq(ex, tol(tx), "x row %ld: error %.3g (d %d, y %s %s, w %s, x %s, amp %g)",
                      r, ex, d, with_y ? "given" : "NULL", tname(ty), tname(tw), tname(tx), amp);
    }
    size_t es = ab_tok_type_size(tx);
    cr_assert(untouched(xg, nx * es, xbytes), "x written past row %ld", rows);
    free(href);
    free(xref);
    free(hg);
    free(xg);
    dfree(hm);
    if (ym)
        dfree(ym);
    dfree(wm);
    dfree(xm);
    free(h);
    free(y);
    free(w);
    free(hb);
    free(yb);
    free(wb);
    free(xs);
}

static void run_add_rmsnorm(const char *id)
{
    open_or_skip(id);
    const int widths[] = {100, 256, 1027, 4096};
    uint64_t seed = 100;
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
        for (int yi = 0; yi < 2; yi++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    for (int c = 0; c < 2; c++) {
                        long total = 9, row0 = (long)(i % 3) + 2, rows = 5;
                        check_add_rmsnorm(total, row0, rows, widths[i], yi == 1, types[a],
                                          types[b], types[c], seed += 3, 1.0);
                    }
    /* row0 = 0 and a single row (a decode step of batch 1) */
    check_add_rmsnorm(3, 0, 1, 64, true, AB_TT_F32, AB_TT_F32, AB_TT_F32, 7, 1.0);
    check_add_rmsnorm(3, 2, 1, 200, true, AB_TT_BF16, AB_TT_BF16, AB_TT_BF16, 8, 1.0);
    /* activations so small that eps weighs as much as the mean square */
    check_add_rmsnorm(4, 1, 2, 300, true, AB_TT_F32, AB_TT_F32, AB_TT_F32, 9, 1.0 / 512);
    check_add_rmsnorm(4, 1, 2, 300, false, AB_TT_F32, AB_TT_BF16, AB_TT_F32, 10, 1.0 / 512);
}

/* ------------------------------------------------------------------------------------------ */
/* rope_scatter                                                                                */

/* The header's rotary embedding in double: rotates (or, for a value head, copies) one head. */
static void rope_ref(const double *x, int dh, long pos, bool rotate, bool flip_sign, double *out)
{
    int half = dh / 2;
    for (int i = 0; i < half; i++) {
        double c = 1.0, s = 0.0;
        if (rotate) {
            double ang = (double)pos * pow(AB_TOK_ROPE_THETA, -2.0 * i / dh);
            c = cos(ang);
            s = flip_sign ? -sin(ang) : sin(ang);
        }
        out[i] = x[i] * c - x[i + half] * s;
        out[i + half] = x[i] * s + x[i + half] * c;
    }
}

/* Runs rope_scatter and returns the worst relative error of q, k and v against the reference
 * (computed with the sine's sign flipped when flip_sign: the test of the test). Asserts the
 * cache positions outside [pos0, pos0 + seq) keep their sentinel. */
static double rope_case(ab_tok_rope r, uint64_t seed, bool flip_sign)
{
    const int H = r.heads, G = r.kv_heads, Dh = r.head_dim;
    const long T = (long)r.batch * r.seq;
    const size_t row = (size_t)(H + 2 * G) * Dh, nqkv = (size_t)T * row;
    const size_t nq = (size_t)T * H * Dh, nc = (size_t)r.batch * G * (size_t)r.cache_len * Dh;
    const size_t es = ab_tok_type_size(r.out_type);
    double *x = gen(nqkv, seed, 2.0, 0.0);
    void *xb = pack(r.qkv_type, x, nqkv);
    void *qs = sentinel_buf(nq * es), *cs = sentinel_buf(nc * es);
    void *xm = dupload(xb, nqkv * ab_tok_type_size(r.qkv_type)), *qm = dupload(qs, nq * es),
         *km = dupload(cs, nc * es), *vm = dupload(cs, nc * es);
    char err[AB_ERRLEN] = "";
    cr_assert_eq(tk->rope_scatter(dv->h, &r, xm, qm, km, vm, err), 0, "%s", err);
    dsync();
    void *qg = ddownload(qm, nq * es), *kg = ddownload(km, nc * es), *vg = ddownload(vm, nc * es);

    double worst = 0.0;
    double *ref = malloc((size_t)Dh * sizeof(double));
    for (long t = 0; t < T; t++) {
        long b = t / r.seq, s = t % r.seq, pos = r.pos0 + s;
        for (int hh = 0; hh < H + 2 * G; hh++) {
            const double *src = x + (size_t)t * row + (size_t)hh * Dh;
            rope_ref(src, Dh, pos, hh < H + G, flip_sign, ref);
            const void *got;
            size_t off;
            if (hh < H) {
                got = qg;
                off = (((size_t)b * H + hh) * r.seq + s) * Dh;
            } else {
                int g = hh < H + G ? hh - H : hh - H - G;
                got = hh < H + G ? kg : vg;
                off = (((size_t)b * G + g) * (size_t)r.cache_len + (size_t)pos) * Dh;
            }
            double e = rel_err(r.out_type, got, off, ref, (size_t)Dh);
            if (!(e <= worst))
                worst = e;
        }
    }
    /* every (sequence, KV head): positions before pos0 and from pos0 + seq on are untouched */
    for (long bg = 0; bg < (long)r.batch * G; bg++) {
        size_t base = (size_t)bg * (size_t)r.cache_len * Dh * es;
        size_t lo = base + (size_t)r.pos0 * Dh * es, hi = base + (size_t)(r.pos0 + r.seq) * Dh * es,
               end = base + (size_t)r.cache_len * Dh * es;
        cr_assert(untouched(kg, base, lo) && untouched(kg, hi, end),
                  "K cache written outside [pos0, pos0 + seq) (sequence/head %ld)", bg);
        cr_assert(untouched(vg, base, lo) && untouched(vg, hi, end),
                  "V cache written outside [pos0, pos0 + seq) (sequence/head %ld)", bg);
    }
    free(ref);
    free(qg);
    free(kg);
    free(vg);
    dfree(xm);
    dfree(qm);
    dfree(km);
    dfree(vm);
    free(x);
    free(xb);
    free(qs);
    free(cs);
    return worst;
}

#define ROPE(b, s, h, g, dh, p0, cl)                                                               \
    (ab_tok_rope)                                                                                  \
    {                                                                                              \
        .batch = b, .seq = s, .heads = h, .kv_heads = g, .head_dim = dh, .pos0 = p0,               \
        .cache_len = cl                                                                            \
    }

static const ab_tok_rope rope_shapes[] = {
    ROPE(3, 5, 4, 2, 64, 7, 20),   /* batch x seq, GQA, cache longer on both sides */
    ROPE(1, 1, 8, 2, 128, 37, 64), /* a decode step */
    ROPE(2, 3, 4, 4, 128, 1, 4),   /* MHA, cache exactly pos0 + seq */
    ROPE(3, 5, 6, 1, 64, 11, 17),  /* MQA */
    ROPE(2, 4, 2, 1, 100, 0, 9),   /* a head_dim that is no power of two, from position 0 */
};

static void run_rope(const char *id)
{
    open_or_skip(id);
    uint64_t seed = 500;
    for (size_t i = 0; i < sizeof(rope_shapes) / sizeof(rope_shapes[0]); i++)
        for (int a = 0; a < 2; a++)
            for (int c = 0; c < 2; c++) {
                ab_tok_rope r = rope_shapes[i];
                r.qkv_type = types[a];
                r.out_type = types[c];
                double e = rope_case(r, seed += 7, false);
                cr_assert_leq(e, tol(r.out_type),
                              "rope shape %zu (%s -> %s, head_dim %d, pos0 %ld): error %.3g", i,
                              tname(r.qkv_type), tname(r.out_type), r.head_dim, r.pos0, e);
            }
}

/* ------------------------------------------------------------------------------------------ */
/* gather_heads                                                                                */

static void check_gather(int batch, int seq, int heads, int dh, ab_tok_type to, ab_tok_type tx,
                         uint64_t seed)
{
    size_t n = (size_t)batch * seq * heads * dh;
    double *o = gen(n, seed, 3.0, 0.0);
    void *ob = pack(to, o, n);
    size_t xbytes = (n + (size_t)heads * dh) * ab_tok_type_size(tx); /* a sentinel row more */
    void *xs = sentinel_buf(xbytes);
    void *om = dupload(ob, n * ab_tok_type_size(to)), *xm = dupload(xs, xbytes);
    char err[AB_ERRLEN] = "";
    cr_assert_eq(tk->gather_heads(dv->h, batch, seq, heads, dh, om, to, xm, tx, err), 0, "%s",
                 err);
    dsync();
    void *xg = ddownload(xm, xbytes);
    double *ref = malloc(n * sizeof(double));
    for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
            for (int s = 0; s < seq; s++)
                for (int i = 0; i < dh; i++)
                    ref[(((size_t)b * seq + s) * heads + h) * dh + i] =
                        o[(((size_t)b * heads + h) * seq + s) * dh + i];
    double e = rel_err(tx, xg, 0, ref, n);
    cr_assert_leq(e, tol(tx), "gather %dx%dx%dx%d %s -> %s: error %.3g", batch, seq, heads, dh,
                  tname(to), tname(tx), e);
    if (to == tx || tx == AB_TT_F32) /* a copy or a widening: exact */
        cr_assert_eq(e, 0.0, "gather %s -> %s is not exact", tname(to), tname(tx));
    cr_assert(untouched(xg, n * ab_tok_type_size(tx), xbytes), "x written past its end");
    free(ref);
    free(xg);
    dfree(om);
    dfree(xm);
    free(o);
    free(ob);
    free(xs);
}

static void run_gather(const char *id)
{
    open_or_skip(id);
    uint64_t seed = 900;
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++) {
            check_gather(3, 5, 4, 64, types[a], types[c], seed++);
            check_gather(1, 1, 8, 128, types[a], types[c], seed++);
            check_gather(2, 3, 3, 100, types[a], types[c], seed++);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* swiglu                                                                                      */

static void check_swiglu(long rows, int f, ab_tok_type tg, ab_tok_type ta, uint64_t seed)
{
    size_t n = (size_t)rows * 2 * f, na = (size_t)rows * f;
    double *gu = gen(n, seed, 4.0, 0.0);
    void *gb = pack(tg, gu, n);
    size_t abytes = (na + (size_t)f) * ab_tok_type_size(ta);
    void *as = sentinel_buf(abytes);
    void *gm = dupload(gb, n * ab_tok_type_size(tg)), *am = dupload(as, abytes);
    char err[AB_ERRLEN] = "";
    cr_assert_eq(tk->swiglu(dv->h, rows, f, gm, tg, am, ta, err), 0, "%s", err);
    dsync();
    void *ag = ddownload(am, abytes);
    double *ref = malloc(na * sizeof(double));
    for (long t = 0; t < rows; t++)
        for (int j = 0; j < f; j++) {
            double g = gu[(size_t)t * 2 * f + j], u = gu[(size_t)t * 2 * f + f + j];
            ref[(size_t)t * f + j] = g / (1.0 + exp(-g)) * u;
        }
    double e = rel_err(ta, ag, 0, ref, na);
    cr_assert_leq(e, tol(ta), "swiglu %ldx%d %s -> %s: error %.3g", rows, f, tname(tg),
                  tname(ta), e);
    cr_assert(untouched(ag, na * ab_tok_type_size(ta), abytes), "a written past row %ld", rows);
    free(ref);
    free(ag);
    dfree(gm);
    dfree(am);
    free(gu);
    free(gb);
    free(as);
}

static void run_swiglu(const char *id)
{
    open_or_skip(id);
    uint64_t seed = 1300;
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++) {
            check_swiglu(1, 688, types[a], types[c], seed++);
            check_swiglu(15, 100, types[a], types[c], seed++);
            check_swiglu(5, 1001, types[a], types[c], seed++);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* fill, and bf16 rounding bit for bit                                                         */

static void run_fill_and_rounding(const char *id)
{
    open_or_skip(id);
    char err[AB_ERRLEN] = "";
    /* the pattern: bit-identical to the host's, rounded to nearest even for bf16 (100k values
     * hold ties: low 16 bits exactly 0x8000) */
    const size_t n = 100003;
    for (int a = 0; a < 2; a++) {
        size_t es = ab_tok_type_size(types[a]);
        void *m = dmalloc(n * es);
        cr_assert_eq(tk->fill(dv->h, m, types[a], n, 42, 2.0f, err), 0, "%s", err);
        void *g = ddownload(m, n * es);
        for (size_t i = 0; i < n; i++) {
            float v = ab_attn_gen(42, i, 2.0f);
            if (types[a] == AB_TT_BF16)
                cr_assert_eq(((uint16_t *)g)[i], ab_f32_to_bf16(v), "bf16 fill [%zu]", i);
            else
                cr_assert(memcmp((float *)g + i, &v, 4) == 0, "f32 fill [%zu]", i);
        }
        free(g);
        dfree(m);
    }
    /* f32 -> bf16 through gather_heads (a copy, one head): ties to even both ways, carries into
     * the exponent, infinities, NaN stays NaN, the largest finite rounding to infinity */
    const uint32_t bits[] = {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0xbf808000u,
                             0xbf818000u, 0x3fffffffu, 0x7f7fffffu, 0x7f800000u, 0xff800000u,
                             0x7fc00001u, 0x00000000u, 0x80000000u, 0x00008000u, 0x00018000u,
                             0x4049c000u};
    const size_t nb = sizeof(bits) / sizeof(bits[0]);
    void *om = dupload(bits, sizeof(bits)), *xm = dmalloc(nb * 2);
    cr_assert_eq(tk->gather_heads(dv->h, 1, 1, 1, (int)nb, om, AB_TT_F32, xm, AB_TT_BF16, err), 0,
                 "%s", err);
    dsync();
    uint16_t *g = ddownload(xm, nb * 2);
    for (size_t i = 0; i < nb; i++) {
        float f;
        memcpy(&f, &bits[i], 4);
        uint16_t want = ab_f32_to_bf16(f);
        if (isnan(f))
            cr_assert((g[i] & 0x7f80u) == 0x7f80u && (g[i] & 0x7fu),
                      "NaN %#x became %#x, no NaN", bits[i], g[i]);
        else
            cr_assert_eq(g[i], want, "%#x rounds to %#x, got %#x", bits[i], want, g[i]);
    }
    free(g);
    dfree(om);
    dfree(xm);
}

/* ------------------------------------------------------------------------------------------ */

#define DEVICE_TESTS(tag, id)                                                                      \
    Test(tokens_kernels, add_rmsnorm_##tag, .timeout = 300, .fini = close_platform)               \
    {                                                                                              \
        run_add_rmsnorm(id);                                                                       \
    }                                                                                              \
    Test(tokens_kernels, rope_scatter_##tag, .timeout = 300, .fini = close_platform)              \
    {                                                                                              \
        run_rope(id);                                                                              \
    }                                                                                              \
    Test(tokens_kernels, gather_heads_##tag, .timeout = 300, .fini = close_platform)              \
    {                                                                                              \
        run_gather(id);                                                                            \
    }                                                                                              \
    Test(tokens_kernels, swiglu_##tag, .timeout = 300, .fini = close_platform)                    \
    {                                                                                              \
        run_swiglu(id);                                                                            \
    }                                                                                              \
    Test(tokens_kernels, fill_and_bf16_rounding_##tag, .timeout = 300, .fini = close_platform)    \
    {                                                                                              \
        run_fill_and_rounding(id);                                                                 \
    }

DEVICE_TESTS(cpu, "cpu")
DEVICE_TESTS(opencl, "opencl:0")
DEVICE_TESTS(cuda, "cuda:0")
DEVICE_TESTS(hip, "hip:0")

/* The test of the test: a rotation with the sine's sign flipped (the classic RoPE slip) is far
 * outside the tolerance, against the CPU kernels. */
Test(tokens_kernels, wrong_rope_sign_is_caught, .fini = close_platform)
{
    open_or_skip("cpu");
    for (int c = 0; c < 2; c++) {
        ab_tok_rope r = rope_shapes[0];
        r.qkv_type = AB_TT_F32;
        r.out_type = types[c];
        double right = rope_case(r, 77, false), wrong = rope_case(r, 77, true);
        cr_assert_leq(right, tol(r.out_type));
        cr_assert_gt(wrong, 100 * tol(r.out_type), "a flipped sine scores only %.3g", wrong);
    }
}

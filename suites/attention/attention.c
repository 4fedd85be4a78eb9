/* SPDX-License-Identifier: MIT */
/*
 * attention suite descriptor and driver: case planning (presets, profiles, command-line
 * overrides), deterministic inputs, sampling through the backend timer, validation of every run
 * against an fp64 reference (and, for every element, against the naive path when it ran), and
 * the metrics. Backend kernels live behind ab_attn_impl (attention.h).
 */
#include "attention.h"

#include "../suite.h"
#include "../tokens/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* shared helpers (attention.h)                                                                */

uint16_t ab_f32_to_f16(float f)
{
    union {
        float f;
        uint32_t u;
    } x = {f};
    uint32_t sign = (x.u >> 16) & 0x8000u, ax = x.u & 0x7fffffffu;
    if (ax > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (ax >= 0x47800000u)
        return (uint16_t)(sign | 0x7c00u); /* overflow: infinity */
    if (ax < 0x38800000u) {
        /* below 2^-14: a subnormal half, m·2^-24, rounded to nearest even */
        if (ax < 0x33000000u)
            return (uint16_t)sign;
        uint32_t e = ax >> 23, mant = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;
        uint32_t r = (mant + (1u << (shift - 1)) - 1u + ((mant >> shift) & 1u)) >> shift;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ax - (112u << 23); /* rebias the exponent from 127 to 15 */
    r = (r + 0xfffu + ((r >> 13) & 1u)) >> 13;
    return (uint16_t)(sign | r);
}

float ab_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    union {
        uint32_t u;
        float f;
    } x;
    if (e == 0x1f) {
        x.u = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        float v = (float)m * (1.0f / 16777216.0f); /* m·2^-24, exact */
        return sign ? -v : v;
    } else {
        x.u = sign | ((e + 112u) << 23) | (m << 13);
    }
    return x.f;
}

const char *ab_attn_dtype_name(ab_attn_dtype t)
{
    static const char *const n[AB_ATTN_NDTYPES] = {"f32", "bf16", "f16"};
    return (unsigned)t < AB_ATTN_NDTYPES ? n[t] : "?";
}

size_t ab_attn_dtype_size(ab_attn_dtype t)
{
    return t == AB_ATTN_F32 ? 4 : 2;
}

double ab_attn_flops(const ab_attn_shape *s)
{
    double f = 4.0 * s->batch * s->heads * (double)s->q_len * (double)s->kv_len * s->head_dim;
    return s->causal ? f / 2.0 : f;
}

double ab_attn_kv_bytes(const ab_attn_shape *s, ab_attn_dtype t)
{
    return 2.0 * s->batch * s->kv_heads * (double)s->kv_len * s->head_dim *
           (double)ab_attn_dtype_size(t);
}

size_t ab_attn_q_elems(const ab_attn_shape *s)
{
    return (size_t)s->batch * s->heads * (size_t)s->q_len * s->head_dim;
}

size_t ab_attn_kv_elems(const ab_attn_shape *s)
{
    return (size_t)s->batch * s->kv_heads * (size_t)s->kv_len * s->head_dim;
}

void ab_attn_reference_row(const ab_attn_shape *s, const double *qrow, const double *kh,
                           const double *vh, long i, double *out)
{
    const int d = s->head_dim;
    long n = s->kv_len;
    if (s->causal) {
        long lim = i + (s->kv_len - s->q_len) + 1;
        n = lim < n ? lim : n;
    }
    for (int c = 0; c < d; c++)
        out[c] = 0.0;
    if (n <= 0)
        return;
    double mx = -INFINITY;
    double *sc = malloc((size_t)n * sizeof(*sc));
    if (!sc) {
        for (int c = 0; c < d; c++)
            out[c] = NAN;
        return;
    }
    for (long j = 0; j < n; j++) {
        double acc = 0.0;
        for (int c = 0; c < d; c++)
            acc += qrow[c] * kh[(size_t)j * d + c];
        sc[j] = acc * (double)s->scale;
        mx = sc[j] > mx ? sc[j] : mx;
    }
    double sum = 0.0;
    for (long j = 0; j < n; j++) {
        double p = exp(sc[j] - mx);
        sum += p;
        const double *v = vh + (size_t)j * d;
        for (int c = 0; c < d; c++)
            out[c] += p * v[c];
    }
    for (int c = 0; c < d; c++)
        out[c] /= sum;
    free(sc);
}

/* ------------------------------------------------------------------------------------------ */
/* descriptor                                                                                  */

static const char *const keys[] = {"attention.prefill", "attention.decode", NULL};

static const ab_param_desc params[] = {
    {"dtype", "LIST", "element types: f32, bf16, f16 (default f32 on CPU/OpenCL, bf16 on GPUs)"},
    {"preset", "NAME",
     "model shape: llama3-8b (32 query heads, 8 KV heads, d 128; the default), llama3-70b "
     "(64/8/128), or any other model preset"},
    {"batch", "LIST", "sequences per call (default: prefill 1, decode by profile)"},
    {"heads", "N", "query heads (default from --preset)"},
    {"kv-heads", "N", "KV heads, dividing --heads (default from --preset)"},
    {"head-dim", "LIST", "head dimension, 8..256, a multiple of 8 (default from --preset)"},
    {"seq", "LIST", "prefill sequence lengths; 2k = 2048 (default by profile)"},
    {"kv-len", "LIST", "decode KV-cache lengths; 32k = 32768 (default by profile)"},
    {"causal", "WHICH", "prefill mask: yes, no or both (default both)"},
    {"impl", "LIST", "naive, fused, vendor (default all three)"},
    {NULL, NULL, NULL},
};

/* Input pattern: seeds per tensor; Q and K in [-2, 2) so the scores (std ≈ 1.3 after the
 * 1/sqrt(d) scale) give peaked softmax rows, as trained models do, instead of a near-uniform
 * average that would hide masking and rescaling errors; V in [-1, 1), so every output element,
 * a convex combination of V values, lies in [-1, 1]. */
#define SEED_Q 11
#define SEED_K 23
#define SEED_V 37
#define AMP_QK 2.0f
#define AMP_V 1.0f

/* Shapes come from the model presets the tokens suite uses (suites/tokens/model.h), so one
 * --preset means the same model to every suite. */
#define DEFAULT_PRESET "llama3-8b"

#define MAXL 16

typedef struct plan {
    bool dt[AB_ATTN_NDTYPES];
    bool dt_given;      /* --dtype named at least one type attention knows */
    bool dt_none;       /* --dtype given, but none attention knows */
    const char *preset;
    int heads, kv_heads;
    int hd[MAXL];
    size_t nhd;
    long batch[MAXL], seq[MAXL], kv[MAXL];
    size_t nbatch, nseq, nkv; /* 0: by profile */
    bool causal[2];           /* [0] no, [1] yes */
    bool impl[AB_ATTN_NKINDS];
} plan;

/* --name LIST, absent: *n = 0 (the profile decides) */
static int parse_long_list(const ab_options *o, const char *name, long lo, long hi, bool tokens,
                           long *out, size_t *n, char *err)
{
    const char *v = ab_opt_param(o, name);
    *n = 0;
    if (!v)
        return 0;
    char what[64];
    snprintf(what, sizeof(what), "--%s", name);
    return ab_parse_long_list(v, what, lo, hi, tokens, out, MAXL, n, err);
}

static int plan_make(const ab_options *o, plan *p, char *err)
{
    memset(p, 0, sizeof(*p));
    const char *dt = ab_opt_param(o, "dtype");
    if (dt) {
        bool picked[AB_DT_COUNT] = {false};
        if (ab_dtype_list(dt, picked, err) != 0)
            return -1;
        /* the other names (f64, tf32, fp8, i8) belong to other suites */
        p->dt[AB_ATTN_F32] = picked[AB_DT_F32];
        p->dt[AB_ATTN_BF16] = picked[AB_DT_BF16];
        p->dt[AB_ATTN_F16] = picked[AB_DT_F16];
        p->dt_given = picked[AB_DT_F32] || picked[AB_DT_BF16] || picked[AB_DT_F16];
        p->dt_none = !p->dt_given;
    }
    p->preset = ab_opt_param(o, "preset");
    if (!p->preset)
        p->preset = DEFAULT_PRESET;
    ab_llm model;
    if (ab_llm_preset(p->preset, &model) != 0)
        return ab_err(err, "--preset: unknown model '%s' (%s)", p->preset,
                      ab_llm_preset_names());
    p->heads = model.heads;
    p->kv_heads = model.kv_heads;
    long x;
    const char *v;
    if ((v = ab_opt_param(o, "heads"))) {
        if (ab_parse_long(v, "--heads", 1, 4096, &x, err) != 0)
            return -1;
        p->heads = (int)x;
    }
    if ((v = ab_opt_param(o, "kv-heads"))) {
        if (ab_parse_long(v, "--kv-heads", 1, 4096, &x, err) != 0)
            return -1;
        p->kv_heads = (int)x;
    } else if (ab_opt_param(o, "heads") && p->heads % p->kv_heads != 0) {
        /* --heads alone with a preset's KV heads that do not divide it: plain multi-head */
        p->kv_heads = p->heads;
    }
    if (p->heads % p->kv_heads != 0)
        return ab_err(err, "--heads %d is not a multiple of --kv-heads %d (each KV head serves "
                           "heads/kv-heads query heads)",
                      p->heads, p->kv_heads);
    long tmp[MAXL];
    if (parse_long_list(o, "head-dim", 8, 256, false, tmp, &p->nhd, err) != 0)
        return -1;
    for (size_t i = 0; i < p->nhd; i++) {
        if (tmp[i] % 8 != 0)
            return ab_err(err, "--head-dim: %ld is not a multiple of 8", tmp[i]);
        p->hd[i] = (int)tmp[i];
    }
    if (!p->nhd) {
        /* the model's head dimension; the full profile adds 64 (the other common size)
         * when the model's is not 64 */
        p->hd[p->nhd++] = model.head_dim;
        if (strcmp(o->profile, "full") == 0 && model.head_dim != 64 &&
            !ab_opt_param(o, "preset"))
            p->hd[p->nhd++] = 64;
    }
    if (parse_long_list(o, "batch", 1, 65536, false, p->batch, &p->nbatch, err) != 0 ||
        parse_long_list(o, "seq", 1, 1L << 31, true, p->seq, &p->nseq, err) != 0 ||
        parse_long_list(o, "kv-len", 1, 1L << 31, true, p->kv, &p->nkv, err) != 0)
        return -1;
    const char *c = ab_opt_param(o, "causal");
    if (!c || strcmp(c, "both") == 0) {
        p->causal[0] = p->causal[1] = true;
    } else if (strcmp(c, "yes") == 0 || strcmp(c, "true") == 0 || strcmp(c, "1") == 0) {
        p->causal[1] = true;
    } else if (strcmp(c, "no") == 0 || strcmp(c, "false") == 0 || strcmp(c, "0") == 0) {
        p->causal[0] = true;
    } else {
        return ab_err(err, "--causal: '%s' is not yes, no or both", c);
    }
    const char *im = ab_opt_param(o, "impl");
    if (!im) {
        for (int k = 0; k < AB_ATTN_NKINDS; k++)
            p->impl[k] = true;
    } else {
        static const char *const names[AB_ATTN_NKINDS] = {"naive", "fused", "vendor"};
        char **items = ab_split_list(im, err);
        if (!items)
            return -1;
        for (size_t i = 0; items[i]; i++) {
            int k = 0;
            while (k < AB_ATTN_NKINDS && strcmp(items[i], names[k]) != 0)
                k++;
            if (k == AB_ATTN_NKINDS) {
                ab_err(err, "--impl: unknown implementation '%s' (naive, fused, vendor)",
                       items[i]);
                ab_strv_free(items);
                return -1;
            }
            p->impl[k] = true;
        }
        ab_strv_free(items);
    }
    return 0;
}

static int attention_check(const ab_options *o, char *err)
{
    plan p;
    return plan_make(o, &p, err);
}

/* Default lengths by profile; devices computing in host memory (CPU, PoCL) get the shorter lists
 * so the standard profile stays minutes, not hours, there. */
static void profile_lists(const char *profile, bool host, plan *p)
{
    bool quick = strcmp(profile, "quick") == 0, full = strcmp(profile, "full") == 0;
    if (!p->nseq) {
        static const long q[] = {512}, sh[] = {512, 2048}, sg[] = {512, 2048, 8192},
                          fh[] = {512, 2048, 8192}, fg[] = {512, 2048, 8192, 32768};
        const long *src = quick ? q : full ? (host ? fh : fg) : (host ? sh : sg);
        p->nseq = quick ? 1 : full ? (host ? 3 : 4) : (host ? 2 : 3);
        memcpy(p->seq, src, p->nseq * sizeof(long));
    }
    if (!p->nkv) {
        static const long q[] = {1024}, s[] = {1024, 8192, 32768},
                          f[] = {1024, 8192, 32768, 131072};
        const long *src = quick ? q : full ? f : s;
        p->nkv = quick ? 1 : full ? 4 : 3;
        memcpy(p->kv, src, p->nkv * sizeof(long));
    }
}

static size_t decode_batches(const plan *p, const char *profile, bool host, long *out)
{
    if (p->nbatch) {
        memcpy(out, p->batch, p->nbatch * sizeof(long));
        return p->nbatch;
    }
    static const long q[] = {1}, sh[] = {1, 16}, sg[] = {1, 16, 64}, fh[] = {1, 16, 64},
                      fg[] = {1, 16, 64, 256};
    bool quick = strcmp(profile, "quick") == 0, full = strcmp(profile, "full") == 0;
    const long *src = quick ? q : full ? (host ? fh : fg) : (host ? sh : sg);
    size_t n = quick ? 1 : full ? (host ? 3 : 4) : (host ? 2 : 3);
    memcpy(out, src, n * sizeof(long));
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* one case                                                                                    */

typedef struct tol {
    double atol, rtol;
} tol;

/* Tolerances per data type, |got - want| <= atol + rtol·|want| against the fp64 reference:
 * f32 allows the fused kernels' exp2 polynomial (~1e-7) and f32 sums over up to 128k keys;
 * bf16/f16 allow P rounded to the element type before the P·V product (as FlashAttention does
 * on tensor cores) and the output's own rounding (2^-9 for bf16, 2^-11 for f16) on values of
 * magnitude up to 1. Errors a wrong kernel makes (a key missing from a row, a wrong head, a
 * stale rescale) are larger than these on the rows checked. */
static tol tolerance(ab_attn_dtype t)
{
    switch (t) {
    case AB_ATTN_BF16: return (tol){8e-3, 8e-3};
    case AB_ATTN_F16: return (tol){2e-3, 2e-3};
    default: return (tol){2e-5, 1e-4};
    }
}

typedef struct acase {
    ab_suite_ctx *ctx;
    const ab_device *dev;
    const ab_backend_ops *ops;
    const ab_attn_impl *impl;
    ab_attn_kind kind;
    ab_attn_args args;
} acase;

static int timed_attention(void *arg, long iters, double *sec, char *err)
{
    acase *c = arg;
    void *h = c->dev->h;
    if (c->ops->timer_start(h, err) || c->impl->run(h, c->kind, &c->args, iters, err) ||
        c->ops->timer_stop(h, sec, err))
        return -1;
    return 0;
}

static bool is_cpu(const ab_device *d)
{
    return d->info.kind == AB_KIND_HOST;
}

static double to_double(ab_attn_dtype t, const void *buf, size_t i)
{
    switch (t) {
    case AB_ATTN_BF16: return ab_bf16_to_f32(((const uint16_t *)buf)[i]);
    case AB_ATTN_F16: return ab_f16_to_f32(((const uint16_t *)buf)[i]);
    default: return ((const float *)buf)[i];
    }
}

/* The test pattern value of element i, rounded to the element type as the device stores it. */
static double pattern(ab_attn_dtype t, uint64_t seed, uint64_t i, float amp)
{
    float v = ab_attn_gen(seed, i, amp);
    if (t == AB_ATTN_BF16)
        return ab_bf16_to_f32(ab_f32_to_bf16(v));
    if (t == AB_ATTN_F16)
        return ab_f16_to_f32(ab_f32_to_f16(v));
    return v;
}

/* Reference rows: which (b, h, i) are checked against fp64. */
typedef struct refrow {
    long b, h, i;
} refrow;

typedef struct reference {
    refrow *rows;
    size_t n;
    double *out; /* n × head_dim */
    bool all;    /* every output row is a reference row */
} reference;

static void reference_free(reference *r)
{
    free(r->rows);
    free(r->out);
    memset(r, 0, sizeof(*r));
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int row_cmp(const void *a, const void *b)
{
    const refrow *x = a, *y = b;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    long kx = x->h, ky = y->h;
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* fp64 work budget for the reference (multiply-adds) by profile: quick 5·10⁷ (a smoke test,
 * about 0.05 s of host time), standard 3·10⁸, full 10⁹ (about a second). */
static double ref_budget(const char *profile)
{
    return strcmp(profile, "quick") == 0 ? 5e7 : strcmp(profile, "full") == 0 ? 1e9 : 3e8;
}

/* Picks the rows: all of them when the whole reference fits the budget ("small" cases);
 * otherwise the first and last rows and a spread of others in a spread of heads — the first
 * rows of a causal head are where masking errors are largest — plus pseudo-random rows. */
static int reference_pick(const ab_attn_shape *s, double budget, reference *r)
{
    memset(r, 0, sizeof(*r));
    double row_cost = (double)s->kv_len * s->head_dim * 2.0;
    double total_rows = (double)s->batch * s->heads * (double)s->q_len;
    size_t want;
    if (total_rows * row_cost <= budget) {
        want = (size_t)total_rows;
        r->all = true;
    } else {
        want = (size_t)(budget / row_cost);
        if (want < 16)
            want = 16;
    }
    r->rows = calloc(want, sizeof(*r->rows));
    if (!r->rows)
        return -1;
    if (r->all) {
        for (long b = 0; b < s->batch; b++)
            for (long h = 0; h < s->heads; h++)
                for (long i = 0; i < s->q_len; i++)
                    r->rows[r->n++] = (refrow){b, h, i};
    } else {
        /* fixed rows first: 0, 1, last in the first and last head; block edges of the kernels
         * (multiples of 64 and 96, and one before) in the first head */
        long nbh = (long)s->batch * s->heads;
        long fixed_bh[2] = {0, nbh - 1};
        for (int f = 0; f < 2 && r->n < want; f++) {
            long bh = fixed_bh[f];
            long cand[] = {0, 1, s->q_len - 1, 63, 64, 95, 96, 127, 128};
            for (size_t k = 0; k < sizeof(cand) / sizeof(cand[0]) && r->n < want; k++)
                if (cand[k] < s->q_len && (f == 0 || k < 3))
                    r->rows[r->n++] = (refrow){bh / s->heads, bh % s->heads, cand[k]};
        }
        uint64_t x = 0x9e3779b97f4a7c15ull;
        while (r->n < want) {
            x = mix(x + 0x632be59bd9b4e019ull);
            long bh = (long)(x % (uint64_t)nbh);
            long i = (long)((x >> 20) % (uint64_t)s->q_len);
            r->rows[r->n++] = (refrow){bh / s->heads, bh % s->heads, i};
        }
        /* group rows by KV head so each head's K and V are regenerated once */
        qsort(r->rows, r->n, sizeof(*r->rows), row_cmp);
    }
    return 0;
}

static int reference_compute(const ab_attn_shape *s, ab_attn_dtype t, reference *r, char *err)
{
    const int d = s->head_dim, g = s->heads / s->kv_heads;
    size_t kvn = (size_t)s->kv_len * d;
    r->out = malloc(r->n * d * sizeof(double));
    double *kh = malloc(kvn * sizeof(double)), *vh = malloc(kvn * sizeof(double));
    double *q = malloc((size_t)d * sizeof(double));
    if (!r->out || !kh || !vh || !q) {
        free(kh);
        free(vh);
        free(q);
        return ab_err(err, "out of host memory for the fp64 reference");
    }
    long cur = -1;
    for (size_t n = 0; n < r->n; n++) {
        const refrow *w = &r->rows[n];
        long kvh = w->h / g, key = w->b * s->kv_heads + kvh;
        if (key != cur) {
            size_t base = (size_t)key * kvn;
            for (size_t e = 0; e < kvn; e++) {
                kh[e] = pattern(t, SEED_K, base + e, AMP_QK);
                vh[e] = pattern(t, SEED_V, base + e, AMP_V);
            }
            cur = key;
        }
        size_t qb = (((size_t)w->b * s->heads + w->h) * s->q_len + w->i) * d;
        for (int c = 0; c < d; c++)
            q[c] = pattern(t, SEED_Q, qb + c, AMP_QK);
        ab_attn_reference_row(s, q, kh, vh, w->i, r->out + n * d);
    }
    free(kh);
    free(vh);
    free(q);
    return 0;
}

/* What validation found, for the result's extra and its status. */
typedef struct verdict {
    size_t scanned, out_of_range, first_bad;
    double first_bad_val;
    size_t ref_rows, ref_bad;
    double ref_max_err;
    refrow ref_worst;
    double ref_worst_got, ref_worst_want;
    size_t naive_compared, naive_bad;
    double naive_max_diff;
} verdict;

static void validate(const ab_attn_shape *s, ab_attn_dtype t, const void *o,
                     const reference *ref, const float *naive_out, verdict *v)
{
    memset(v, 0, sizeof(*v));
    const int d = s->head_dim;
    size_t n = ab_attn_q_elems(s);
    tol tl = tolerance(t);
    /* every element: finite and inside the range of V (a convex combination of V rows) */
    double bound = AMP_V * (1.0 + tl.rtol) + tl.atol;
    for (size_t e = 0; e < n; e++) {
        double x = to_double(t, o, e);
        if (!(fabs(x) <= bound)) {
            if (!v->out_of_range) {
                v->first_bad = e;
                v->first_bad_val = x;
            }
            v->out_of_range++;
        }
    }
    v->scanned = n;
    /* reference rows */
    for (size_t k = 0; k < ref->n; k++) {
        const refrow *w = &ref->rows[k];
        size_t base = (((size_t)w->b * s->heads + w->h) * s->q_len + w->i) * d;
        bool bad = false;
        for (int c = 0; c < d; c++) {
            double got = to_double(t, o, base + c), want = ref->out[k * d + c];
            double e = fabs(got - want);
            if (!(e <= tl.atol + tl.rtol * fabs(want))) {
                bad = true;
                if (!(e <= v->ref_max_err) || isnan(e)) {
                    v->ref_worst = *w;
                    v->ref_worst_got = got;
                    v->ref_worst_want = want;
                }
            }
            if (e > v->ref_max_err || isnan(e))
                v->ref_max_err = isnan(e) ? INFINITY : e;
        }
        v->ref_bad += bad;
    }
    v->ref_rows = ref->n;
    /* every element against the naive path's output of the same inputs (when it ran and
     * passed): both carry the type's rounding, so twice the tolerance */
    if (naive_out) {
        for (size_t e = 0; e < n; e++) {
            double got = to_double(t, o, e), want = naive_out[e];
            double diff = fabs(got - want);
            if (!(diff <= 2.0 * (tl.atol + tl.rtol * fabs(want))))
                v->naive_bad++;
            if (diff > v->naive_max_diff || isnan(diff))
                v->naive_max_diff = isnan(diff) ? INFINITY : diff;
        }
        v->naive_compared = n;
    }
}

static json_t *verdict_json(const verdict *v, const reference *ref, ab_attn_dtype t)
{
    tol tl = tolerance(t);
    json_t *o = json_object();
    json_object_set_new(o, "elements_range_checked", json_integer((json_int_t)v->scanned));
    json_object_set_new(o, "elements_out_of_range", json_integer((json_int_t)v->out_of_range));
    json_object_set_new(o, "reference", json_string("fp64 on the host, inputs regenerated"));
    json_object_set_new(o, "reference_rows", json_integer((json_int_t)v->ref_rows));
    json_object_set_new(o, "reference_all_rows", json_boolean(ref->all));
    json_object_set_new(o, "reference_rows_bad", json_integer((json_int_t)v->ref_bad));
    json_object_set_new(o, "reference_max_abs_err",
                        isfinite(v->ref_max_err) ? json_real(v->ref_max_err) : json_null());
    json_object_set_new(o, "atol", json_real(tl.atol));
    json_object_set_new(o, "rtol", json_real(tl.rtol));
    if (v->naive_compared) {
        json_object_set_new(o, "naive_elements_compared",
                            json_integer((json_int_t)v->naive_compared));
        json_object_set_new(o, "naive_elements_bad", json_integer((json_int_t)v->naive_bad));
        json_object_set_new(o, "naive_max_abs_diff", isfinite(v->naive_max_diff)
                                                          ? json_real(v->naive_max_diff)
                                                          : json_null());
    }
    return o;
}

static void verdict_status(ab_result *r, const verdict *v, const ab_attn_shape *s)
{
    if (v->out_of_range) {
        size_t e = v->first_bad, d = (size_t)s->head_dim;
        size_t row = e / d, i = row % (size_t)s->q_len, bh = row / (size_t)s->q_len;
        ab_result_set_status(r, AB_FAIL,
                             "%zu of %zu output elements non-finite or outside [-1, 1], first "
                             "at b=%zu h=%zu row=%zu col=%zu: %g",
                             v->out_of_range, v->scanned, bh / (size_t)s->heads,
                             bh % (size_t)s->heads, i, e % d, v->first_bad_val);
    } else if (v->ref_bad) {
        ab_result_set_status(r, AB_FAIL,
                             "%zu of %zu rows differ from the fp64 reference, worst b=%ld h=%ld "
                             "row=%ld: %g vs %g",
                             v->ref_bad, v->ref_rows, v->ref_worst.b, v->ref_worst.h,
                             v->ref_worst.i, v->ref_worst_got, v->ref_worst_want);
    } else if (v->naive_bad) {
        ab_result_set_status(r, AB_FAIL,
                             "%zu of %zu elements differ from the naive path's output (max "
                             "difference %g)",
                             v->naive_bad, v->naive_compared, v->naive_max_diff);
    }
}

/* Damages one output element on the device as a broken kernel would (--test-corrupt KEY). */
static int corrupt_output(const acase *c, char *err)
{
    size_t n = ab_attn_q_elems(&c->args.s), es = ab_attn_dtype_size(c->args.dtype);
    size_t idx = (size_t)(mix(n) % n);
    float bad = 3.0f;
    uint16_t b16 = c->args.dtype == AB_ATTN_BF16 ? ab_f32_to_bf16(bad) : ab_f32_to_f16(bad);
    const void *src = c->args.dtype == AB_ATTN_F32 ? (const void *)&bad : (const void *)&b16;
    if (c->ops->copy(c->dev->h, AB_COPY_H2D, c->args.o, src, idx * es, es, err) ||
        c->ops->sync(c->dev->h, err))
        return -1;
    return 0;
}

/* Output to host memory: the CPU backend's buffers are host memory already. */
static const void *fetch_output(const acase *c, void *scratch, char *err)
{
    if (is_cpu(c->dev))
        return c->args.o;
    size_t bytes = ab_attn_q_elems(&c->args.s) * ab_attn_dtype_size(c->args.dtype);
    if (c->ops->copy(c->dev->h, AB_COPY_D2H, scratch, c->args.o, 0, bytes, err) ||
        c->ops->sync(c->dev->h, err))
        return NULL;
    return scratch;
}

static const char *const kind_names[AB_ATTN_NKINDS] = {"naive", "fused", "vendor"};

static void set_params(ab_result *r, const ab_attn_shape *s, ab_attn_dtype t, bool decode)
{
    ab_result_param_str(r, "dtype", ab_attn_dtype_name(t));
    ab_result_param_int(r, "batch", s->batch);
    ab_result_param_int(r, "heads", s->heads);
    ab_result_param_int(r, "kv_heads", s->kv_heads);
    ab_result_param_int(r, "head_dim", s->head_dim);
    if (decode) {
        ab_result_param_int(r, "kv_len", s->kv_len);
    } else {
        ab_result_param_int(r, "seq", s->q_len);
        ab_result_param_str(r, "causal", s->causal ? "yes" : "no");
    }
}

/* The sampling used for attention: every sample is one call (so p50/p90/p99 are per-call
 * latencies, not batch averages), and, unless --repeat changed it, more samples than the
 * profile's default so the upper percentiles rest on data; the profile's cap on sampling time
 * still bounds long cases. */
static ab_sampling attention_sampling(const ab_options *o)
{
    ab_sampling s = o->sampling, def;
    s.max_iters = 1;
    if (ab_sampling_profile(o->profile, &def) == 0 && s.samples == def.samples)
        s.samples = strcmp(o->profile, "quick") == 0 ? 10
                    : strcmp(o->profile, "full") == 0 ? 100
                                                      : 30;
    return s;
}

typedef struct case_bufs {
    void *q, *k, *v;
    reference ref;
    bool ref_done;
    float *naive_out; /* host copy of the naive path's output when it passed */
    void *host;       /* host staging for outputs of non-CPU devices */
} case_bufs;

static ab_result *run_impl(ab_suite_ctx *ctx, const ab_attn_impl *impl, ab_attn_kind kind,
                           const ab_attn_shape *s, ab_attn_dtype t, bool decode, case_bufs *cb,
                           bool headline)
{
    const char *key = decode ? "attention.decode" : "attention.prefill";
    ab_result *r = ab_suite_result(ctx, key, kind_names[kind]);
    if (!r)
        return NULL;
    double t0 = ab_now();
    set_params(r, s, t, decode);
    r->extra = json_object();
    const ab_device *dev = ctx->dev;
    const ab_backend_ops *ops = dev->backend->ops;
    char err[AB_ERRLEN] = "";
    acase c = {.ctx = ctx, .dev = dev, .ops = ops, .impl = impl, .kind = kind};
    c.args = (ab_attn_args){.s = *s, .dtype = t, .q = cb->q, .k = cb->k, .v = cb->v};
    bool prepared = false;
    if (impl->supports(dev->h, kind, t, s, err) != 0) {
        ab_result_set_status(r, AB_SKIP, "%s", err);
        goto out;
    }
    json_object_set_new(r->extra, "kernel", json_string(impl->describe(dev->h, kind, t, s)));
    size_t es = ab_attn_dtype_size(t), qbytes = ab_attn_q_elems(s) * es;
    size_t wbytes = impl->workspace(dev->h, kind, t, s);
    json_object_set_new(r->extra, "workspace_bytes", json_integer((json_int_t)wbytes));
    /* the output and workspace on top of the inputs already resident */
    uint64_t mem = dev->info.mem_bytes;
    double need = (double)qbytes * 2 + 2.0 * (double)ab_attn_kv_elems(s) * es + (double)wbytes;
    double limit = dev->info.host_memory ? 0.5 * (double)mem : 0.9 * (double)mem;
    if (mem && need > limit) {
        ab_result_set_status(r, AB_SKIP,
                             "needs %.1f GiB (Q, K, V, O%s) of %.1f GiB %s memory",
                             need / 1073741824.0,
                             kind == AB_ATTN_NAIVE ? ", the materialised scores" : ", workspace",
                             (double)mem / 1073741824.0, dev->info.host_memory ? "host" : "device");
        goto out;
    }
    if (ops->mem_alloc(dev->h, qbytes, &c.args.o, err) != 0 ||
        (wbytes && ops->mem_alloc(dev->h, wbytes, &c.args.work, err) != 0)) {
        ab_result_set_status(r, AB_SKIP, "cannot allocate the output/workspace: %s", err);
        goto out;
    }
    if (impl->prepare) {
        if (impl->prepare(dev->h, kind, &c.args, err) != 0) {
            ab_result_set_status(r, AB_SKIP, "%s", err);
            goto out;
        }
        prepared = true;
    }
    ab_sampling smp = attention_sampling(ctx->opt);
    ab_timing tm;
    if (ab_measure(&smp, timed_attention, &c, &tm, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        ab_timing_free(&tm);
        goto out;
    }
    r->warmup_runs = tm.warmup_runs;
    r->iters_per_sample = tm.iters;
    if (tm.n == 0) {
        ab_result_set_status(r, AB_SKIP, "interrupted before the first sample");
        ab_timing_free(&tm);
        goto out;
    }
    double flops = ab_attn_flops(s), kvb = ab_attn_kv_bytes(s, t);
    double *rate = malloc(tm.n * sizeof(*rate)), *bw = malloc(tm.n * sizeof(*bw));
    for (size_t i = 0; rate && bw && i < tm.n; i++) {
        rate[i] = flops / tm.per_iter[i];
        bw[i] = kvb / tm.per_iter[i];
    }
    const char *ffl = s->causal ? "4*b*h*s_q*s_kv*d/2 FLOP (causal: half) / t"
                                : "4*b*h*s_q*s_kv*d FLOP / t";
    const char *lat = "seconds per call (one attention over the batch), one call per sample";
    const char *kvf = "2*b*h_kv*s_kv*d*size B (K and V read once) / t";
    bool ok = rate && bw;
    /* The first metric is the rate with a bound: FLOP/s for prefill (compute-bound; the runner
     * sets it beside the datasheet FLOP peak of the dtype), KV bytes/s for decode
     * (memory-bound; beside the bandwidth peak). Latency, with its percentiles, follows. */
    if (ok && decode)
        ok = ab_result_add_metric(r, "kv_bandwidth", "B/s", true, kvf, bw, tm.n) &&
             ab_result_add_metric(r, "latency", "s", false, lat, tm.per_iter, tm.n) &&
             ab_result_add_metric(r, "flops", "FLOP/s", true, ffl, rate, tm.n);
    else if (ok)
        ok = ab_result_add_metric(r, "flops", "FLOP/s", true, ffl, rate, tm.n) &&
             ab_result_add_metric(r, "latency", "s", false, lat, tm.per_iter, tm.n) &&
             ab_result_add_metric(r, "kv_bandwidth", "B/s", true, kvf, bw, tm.n);
    free(rate);
    free(bw);
    ab_timing_free(&tm);
    if (!ok) {
        ab_result_set_status(r, AB_ERROR, "out of memory");
        goto out;
    }
    json_object_set_new(r->extra, "flop_per_call", json_real(flops));
    json_object_set_new(r->extra, "kv_bytes_per_call", json_real(kvb));

    if (ctx->opt->corrupt && strcmp(ctx->opt->corrupt, key) == 0 && corrupt_output(&c, err)) {
        ab_result_set_status(r, AB_ERROR, "corrupting output: %s", err);
        goto out;
    }
    if (!cb->ref_done) {
        if (reference_pick(s, ref_budget(ctx->opt->profile), &cb->ref) != 0 ||
            reference_compute(s, t, &cb->ref, err) != 0) {
            ab_result_set_status(r, AB_ERROR, "validation: %s", *err ? err : "out of memory");
            goto out;
        }
        cb->ref_done = true;
    }
    if (!is_cpu(dev) && !cb->host && !(cb->host = malloc(qbytes))) {
        ab_result_set_status(r, AB_ERROR, "validation: out of host memory");
        goto out;
    }
    const void *o = fetch_output(&c, cb->host, err);
    if (!o) {
        ab_result_set_status(r, AB_ERROR, "validation: %s", err);
        goto out;
    }
    verdict v;
    validate(s, t, o, &cb->ref, kind == AB_ATTN_NAIVE ? NULL : cb->naive_out, &v);
    json_object_set_new(r->extra, "validation", verdict_json(&v, &cb->ref, t));
    verdict_status(r, &v, s);
    if (r->status == AB_PASS && kind == AB_ATTN_NAIVE && !cb->naive_out) {
        size_t n = ab_attn_q_elems(s);
        cb->naive_out = malloc(n * sizeof(float));
        for (size_t e = 0; cb->naive_out && e < n; e++)
            cb->naive_out[e] = (float)to_double(t, o, e);
    }
    r->headline = headline && r->status == AB_PASS;
out:
    if (prepared && impl->release)
        impl->release(dev->h, kind, &c.args);
    if (c.args.o)
        ops->mem_free(dev->h, c.args.o);
    if (c.args.work)
        ops->mem_free(dev->h, c.args.work);
    r->time_spent = ab_now() - t0;
    return r;
}

static void case_free(const ab_device *dev, case_bufs *cb)
{
    const ab_backend_ops *ops = dev->backend->ops;
    if (cb->q)
        ops->mem_free(dev->h, cb->q);
    if (cb->k)
        ops->mem_free(dev->h, cb->k);
    if (cb->v)
        ops->mem_free(dev->h, cb->v);
    reference_free(&cb->ref);
    free(cb->naive_out);
    free(cb->host);
    memset(cb, 0, sizeof(*cb));
}

/* A skip for every selected implementation of a case that cannot be set up. */
static int emit_case_skip(ab_suite_ctx *ctx, const plan *p, const ab_attn_shape *s,
                          ab_attn_dtype t, bool decode, const char *why)
{
    for (int k = 0; k < AB_ATTN_NKINDS; k++) {
        if (!p->impl[k])
            continue;
        ab_result *r = ab_suite_result(ctx, decode ? "attention.decode" : "attention.prefill",
                                       kind_names[k]);
        if (!r)
            return -1;
        set_params(r, s, t, decode);
        ab_result_set_status(r, AB_SKIP, "%s", why);
        if (ab_emit(ctx, r) != 0)
            return -1;
    }
    return 0;
}

static int run_case(ab_suite_ctx *ctx, const ab_attn_impl *impl, const plan *p,
                    const ab_attn_shape *s, ab_attn_dtype t, bool decode, bool headline)
{
    const ab_device *dev = ctx->dev;
    const ab_backend_ops *ops = dev->backend->ops;
    size_t es = ab_attn_dtype_size(t);
    size_t qb = ab_attn_q_elems(s) * es, kvb = ab_attn_kv_elems(s) * es;
    double inputs = (double)qb * 2 + 2.0 * (double)kvb; /* Q, K, V and one output */
    uint64_t mem = dev->info.mem_bytes;
    double limit = dev->info.host_memory ? 0.5 * (double)mem : 0.9 * (double)mem;
    char why[AB_ERRLEN] = "";
    if (mem && inputs > limit) {
        snprintf(why, sizeof(why), "Q, K, V and O need %.1f GiB of %.1f GiB %s memory",
                 inputs / 1073741824.0, (double)mem / 1073741824.0,
                 dev->info.host_memory ? "host" : "device");
        return emit_case_skip(ctx, p, s, t, decode, why);
    }
    case_bufs cb;
    memset(&cb, 0, sizeof(cb));
    if (ops->mem_alloc(dev->h, qb, &cb.q, why) || ops->mem_alloc(dev->h, kvb, &cb.k, why) ||
        ops->mem_alloc(dev->h, kvb, &cb.v, why)) {
        case_free(dev, &cb);
        char w2[AB_ERRLEN];
        snprintf(w2, sizeof(w2), "cannot allocate the inputs: %s", why);
        return emit_case_skip(ctx, p, s, t, decode, w2);
    }
    if (impl->fill(dev->h, t, cb.q, ab_attn_q_elems(s), SEED_Q, AMP_QK, why) ||
        impl->fill(dev->h, t, cb.k, ab_attn_kv_elems(s), SEED_K, AMP_QK, why) ||
        impl->fill(dev->h, t, cb.v, ab_attn_kv_elems(s), SEED_V, AMP_V, why)) {
        case_free(dev, &cb);
        ab_result *r = ab_suite_result(ctx, decode ? "attention.decode" : "attention.prefill",
                                       "none");
        if (!r)
            return -1;
        set_params(r, s, t, decode);
        ab_result_set_status(r, AB_ERROR, "filling the inputs: %s", why);
        return ab_emit(ctx, r);
    }
    int rc = 0;
    for (int k = 0; k < AB_ATTN_NKINDS && rc == 0 && !ab_interrupted(); k++) {
        if (!p->impl[k])
            continue;
        ab_result *r = run_impl(ctx, impl, (ab_attn_kind)k, s, t, decode, &cb,
                                headline && k == AB_ATTN_FUSED);
        if (!r || ab_emit(ctx, r) != 0)
            rc = -1;
    }
    case_free(dev, &cb);
    return rc;
}

static int emit_suite_skip(ab_suite_ctx *ctx, ab_status st, const char *why)
{
    ab_result *r = ab_suite_result(ctx, "attention", "none");
    if (!r)
        return -1;
    ab_result_set_status(r, st, "%s", why);
    return ab_emit(ctx, r);
}

static int attention_run(ab_suite_ctx *ctx)
{
    ab_device *dev = ctx->dev;
    const ab_attn_impl *impl = ab_device_impls(dev)->attention;
    char err[AB_ERRLEN] = "";
    if (!impl) {
        snprintf(err, sizeof(err), "attention has no %s implementation", dev->backend->name);
        return emit_suite_skip(ctx, AB_SKIP, err);
    }
    plan p;
    if (plan_make(ctx->opt, &p, err) != 0)
        return emit_suite_skip(ctx, AB_ERROR, err);
    if (p.dt_none)
        return emit_suite_skip(ctx, AB_SKIP,
                               "no requested --dtype applies to attention (f32, bf16, f16)");
    bool host = dev->info.host_memory;
    if (!p.dt_given) {
        /* f32 where the kernels compute in f32 (CPU, OpenCL); bf16, the serving type, on GPUs */
        if (dev->info.default_bf16)
            p.dt[AB_ATTN_BF16] = true;
        else
            p.dt[AB_ATTN_F32] = true;
    }
    profile_lists(ctx->opt->profile, host, &p);
    long dbatch[MAXL];
    size_t ndb = decode_batches(&p, ctx->opt->profile, host, dbatch);
    long pbatch[MAXL] = {1};
    size_t npb = p.nbatch ? p.nbatch : 1;
    if (p.nbatch)
        memcpy(pbatch, p.batch, p.nbatch * sizeof(long));
    /* headline: fused prefill at the longest sequence (causal when run: what a decoder model
     * does) for the first batch; fused decode at the longest cache for the first batch */
    long seq_max = 0, kv_max = 0;
    for (size_t i = 0; i < p.nseq; i++)
        seq_max = p.seq[i] > seq_max ? p.seq[i] : seq_max;
    for (size_t i = 0; i < p.nkv; i++)
        kv_max = p.kv[i] > kv_max ? p.kv[i] : kv_max;
    bool pre_sel = ab_suite_key_selected(ctx, "attention.prefill");
    bool dec_sel = ab_suite_key_selected(ctx, "attention.decode");
    int rc = 0;
    for (int t = 0; t < AB_ATTN_NDTYPES && rc == 0; t++) {
        if (!p.dt[t])
            continue;
        for (size_t hi = 0; hi < p.nhd && rc == 0; hi++) {
            ab_attn_shape s = {.heads = p.heads, .kv_heads = p.kv_heads, .head_dim = p.hd[hi]};
            s.scale = 1.0f / sqrtf((float)s.head_dim);
            for (size_t bi = 0; pre_sel && bi < npb && rc == 0; bi++)
                for (size_t si = 0; si < p.nseq && rc == 0; si++)
                    for (int cz = 1; cz >= 0 && rc == 0 && !ab_interrupted(); cz--) {
                        if (!p.causal[cz])
                            continue;
                        s.batch = (int)pbatch[bi];
                        s.q_len = s.kv_len = p.seq[si];
                        s.causal = cz == 1;
                        bool hl = bi == 0 && p.seq[si] == seq_max && (cz == 1 || !p.causal[1]);
                        rc = run_case(ctx, impl, &p, &s, (ab_attn_dtype)t, false, hl);
                    }
            for (size_t bi = 0; dec_sel && bi < ndb && rc == 0; bi++)
                for (size_t ki = 0; ki < p.nkv && rc == 0 && !ab_interrupted(); ki++) {
                    s.batch = (int)dbatch[bi];
                    s.q_len = 1;
                    s.kv_len = p.kv[ki];
                    s.causal = false;
                    rc = run_case(ctx, impl, &p, &s, (ab_attn_dtype)t, true,
                                  bi == 0 && p.kv[ki] == kv_max);
                }
        }
    }
    return rc;
}

const ab_suite ab_suite_attention = {
    .name = "attention",
    .summary = "attention prefill and decode latency: naive, fused (flash-style), vendor",
    .keys = keys,
    .params = params,
    .check = attention_check,
    .run = attention_run,
};

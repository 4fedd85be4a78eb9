/* SPDX-License-Identifier: MIT */
/*
 * attention's validation: every run is checked against an fp64 reference computed on the host
 * from the regenerated inputs (all rows of a small case, a spread of rows otherwise), every
 * element is range-checked, and, when the naive path ran and passed, compared with its output.
 */
#include "attention_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>


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

double ab_attn_to_double(ab_attn_dtype t, const void *buf, size_t i)
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

void ab_attn_ref_free(ab_attn_ref *r)
{
    free(r->rows);
    free(r->out);
    memset(r, 0, sizeof(*r));
}

uint64_t ab_attn_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int row_cmp(const void *a, const void *b)
{
    const ab_attn_refrow *x = a, *y = b;
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
static int reference_pick(const ab_attn_shape *s, double budget, ab_attn_ref *r)
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
                    r->rows[r->n++] = (ab_attn_refrow){b, h, i};
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
                    r->rows[r->n++] = (ab_attn_refrow){bh / s->heads, bh % s->heads, cand[k]};
        }
        uint64_t x = 0x9e3779b97f4a7c15ull;
        while (r->n < want) {
            x = ab_attn_mix(x + 0x632be59bd9b4e019ull);
            long bh = (long)(x % (uint64_t)nbh);
            long i = (long)((x >> 20) % (uint64_t)s->q_len);
            r->rows[r->n++] = (ab_attn_refrow){bh / s->heads, bh % s->heads, i};
        }
        /* group rows by KV head so each head's K and V are regenerated once */
        qsort(r->rows, r->n, sizeof(*r->rows), row_cmp);
    }
    return 0;
}

static int reference_compute(const ab_attn_shape *s, ab_attn_dtype t, ab_attn_ref *r, char *err)
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
        const ab_attn_refrow *w = &r->rows[n];
        long kvh = w->h / g, key = w->b * s->kv_heads + kvh;
        if (key != cur) {
            size_t base = (size_t)key * kvn;
            for (size_t e = 0; e < kvn; e++) {
                kh[e] = pattern(t, AB_ATTN_SEED_K, base + e, AB_ATTN_AMP_QK);
                vh[e] = pattern(t, AB_ATTN_SEED_V, base + e, AB_ATTN_AMP_V);
            }
            cur = key;
        }
        size_t qb = (((size_t)w->b * s->heads + w->h) * s->q_len + w->i) * d;
        for (int c = 0; c < d; c++)
            q[c] = pattern(t, AB_ATTN_SEED_Q, qb + c, AB_ATTN_AMP_QK);
        ab_attn_reference_row(s, q, kh, vh, w->i, r->out + n * d);
    }
    free(kh);
    free(vh);
    free(q);
    return 0;
}

int ab_attn_ref_make(const ab_attn_shape *s, ab_attn_dtype t, const char *profile,
                     ab_attn_ref *r, char *err)
{
    *err = '\0';
    if (reference_pick(s, ref_budget(profile), r) != 0)
        return -1;
    return reference_compute(s, t, r, err);
}

void ab_attn_validate(const ab_attn_shape *s, ab_attn_dtype t, const void *o,
                     const ab_attn_ref *ref, const float *naive_out, ab_attn_verdict *v)
{
    memset(v, 0, sizeof(*v));
    const int d = s->head_dim;
    size_t n = ab_attn_q_elems(s);
    tol tl = tolerance(t);
    /* every element: finite and inside the range of V (a convex combination of V rows) */
    double bound = AB_ATTN_AMP_V * (1.0 + tl.rtol) + tl.atol;
    for (size_t e = 0; e < n; e++) {
        double x = ab_attn_to_double(t, o, e);
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
        const ab_attn_refrow *w = &ref->rows[k];
        size_t base = (((size_t)w->b * s->heads + w->h) * s->q_len + w->i) * d;
        bool bad = false;
        for (int c = 0; c < d; c++) {
            double got = ab_attn_to_double(t, o, base + c), want = ref->out[k * d + c];
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
            double got = ab_attn_to_double(t, o, e), want = naive_out[e];
            double diff = fabs(got - want);
            if (!(diff <= 2.0 * (tl.atol + tl.rtol * fabs(want))))
                v->naive_bad++;
            if (diff > v->naive_max_diff || isnan(diff))
                v->naive_max_diff = isnan(diff) ? INFINITY : diff;
        }
        v->naive_compared = n;
    }
}

json_t *ab_attn_verdict_json(const ab_attn_verdict *v, const ab_attn_ref *ref, ab_attn_dtype t)
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

bool ab_attn_verdict_failed(const ab_attn_verdict *v, const ab_attn_shape *s, char *msg,
                            size_t len)
{
    if (v->out_of_range) {
        size_t e = v->first_bad, d = (size_t)s->head_dim;
        size_t row = e / d, i = row % (size_t)s->q_len, bh = row / (size_t)s->q_len;
        snprintf(msg, len,
                 "%zu of %zu output elements non-finite or outside [-1, 1], first at b=%zu "
                 "h=%zu row=%zu col=%zu: %g",
                 v->out_of_range, v->scanned, bh / (size_t)s->heads, bh % (size_t)s->heads, i,
                 e % d, v->first_bad_val);
    } else if (v->ref_bad) {
        snprintf(msg, len,
                 "%zu of %zu rows differ from the fp64 reference, worst b=%ld h=%ld row=%ld: "
                 "%g vs %g",
                 v->ref_bad, v->ref_rows, v->ref_worst.b, v->ref_worst.h, v->ref_worst.i,
                 v->ref_worst_got, v->ref_worst_want);
    } else if (v->naive_bad) {
        snprintf(msg, len,
                 "%zu of %zu elements differ from the naive path's output (max difference %g)",
                 v->naive_bad, v->naive_compared, v->naive_max_diff);
    } else {
        return false;
    }
    return true;
}

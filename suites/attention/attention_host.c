/* SPDX-License-Identifier: MIT */
/*
 * The host helpers attention.h declares for the suite and its other callers (the tokens suite,
 * the benches, the tests): f16 conversions, dtype names and sizes, FLOP and byte counts, element
 * counts, and the fp64 reference for one output row.
 */
#include "attention.h"

#include <math.h>
#include <stdlib.h>

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

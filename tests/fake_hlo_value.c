/* SPDX-License-Identifier: MIT */
/* The stand-in plugin's values (fake_hlo.h): element types, storage, indexing. */
#include "fake_hlo.h"

#include <stdlib.h>
#include <string.h>

#include "../suites/attention/attention.h" /* ab_f32_to_bf16, ab_bf16_to_f32 */

size_t fh_et_size(fh_et t)
{
    static const size_t s[] = {1, 1, 4, 8, 1, 2, 4, 8};
    return s[t];
}

double fh_round(fh_et t, double x)
{
    switch (t) {
    case FH_PRED:
        return x != 0.0;
    case FH_I8:
        return (double)(int8_t)(int64_t)x;
    case FH_I32:
        return (double)(int32_t)(int64_t)x;
    case FH_I64:
        return (double)(int64_t)x;
    case FH_U8:
        return (double)(uint8_t)(int64_t)x;
    case FH_BF16:
        return ab_bf16_to_f32(ab_f32_to_bf16((float)x));
    case FH_F32:
        return (double)(float)x;
    default:
        return x;
    }
}

int fh_value_alloc(fh_value *v, const fh_type *t)
{
    v->t = *t;
    v->n = 1;
    for (int i = 0; i < t->rank; i++)
        v->n *= (size_t)t->dims[i];
    v->d = calloc(v->n ? v->n : 1, sizeof(double));
    v->borrowed = false;
    return v->d ? 0 : -1;
}

void fh_value_free(fh_value *v)
{
    if (!v->borrowed) free(v->d);
    v->d = NULL;
    v->borrowed = false;
}

void fh_from_bytes(fh_value *v, const void *bytes)
{
    const unsigned char *b = bytes;
    for (size_t i = 0; i < v->n; i++) {
        switch (v->t.et) {
        case FH_PRED:
        case FH_U8:
            v->d[i] = b[i];
            break;
        case FH_I8:
            v->d[i] = (int8_t)b[i];
            break;
        case FH_I32:
            v->d[i] = ((const int32_t *)bytes)[i];
            break;
        case FH_I64:
            v->d[i] = (double)((const int64_t *)bytes)[i];
            break;
        case FH_BF16:
            v->d[i] = ab_bf16_to_f32(((const uint16_t *)bytes)[i]);
            break;
        case FH_F32:
            v->d[i] = ((const float *)bytes)[i];
            break;
        case FH_F64:
            v->d[i] = ((const double *)bytes)[i];
            break;
        }
    }
}

void fh_to_bytes(const fh_value *v, void *bytes)
{
    unsigned char *b = bytes;
    for (size_t i = 0; i < v->n; i++) {
        double x = v->d[i];
        switch (v->t.et) {
        case FH_PRED:
        case FH_U8:
        case FH_I8:
            b[i] = (unsigned char)(int64_t)x;
            break;
        case FH_I32:
            ((int32_t *)bytes)[i] = (int32_t)x;
            break;
        case FH_I64:
            ((int64_t *)bytes)[i] = (int64_t)x;
            break;
        case FH_BF16:
            ((uint16_t *)bytes)[i] = ab_f32_to_bf16((float)x);
            break;
        case FH_F32:
            ((float *)bytes)[i] = (float)x;
            break;
        case FH_F64:
            ((double *)bytes)[i] = x;
            break;
        }
    }
}

/* the integers of "key = array<i64: 0, 1>" or "key = [0, 1]" in attrs */
int fh_int_list(const char *attrs, const char *key, int64_t *v, int max)
{
    const char *p = strstr(attrs, key);
    if (!p) return -1;
    p += strlen(key);
    p += strcspn(p, ":[");
    if (*p) p++;
    int n = 0;
    char *q;
    for (long long x; n < max && (x = strtoll(p, &q, 10), q != p); p = q + (*q == ',')) {
        v[n++] = x;
        while (*q == ' ')
            q++;
    }
    return n;
}

/* row-major index of multi-index idx in type t */
size_t fh_offset(const fh_type *t, const int64_t *idx)
{
    size_t o = 0;
    for (int i = 0; i < t->rank; i++)
        o = o * (size_t)t->dims[i] + (size_t)idx[i];
    return o;
}

void fh_unflatten(const fh_type *t, size_t o, int64_t *idx)
{
    for (int i = t->rank - 1; i >= 0; i--) {
        idx[i] = (int64_t)(o % (size_t)t->dims[i]);
        o /= (size_t)t->dims[i];
    }
}

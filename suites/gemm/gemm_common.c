/* SPDX-License-Identifier: MIT */
/*
 * GEMM host helpers: element formats, the validation tolerance, shape lists and shape sets.
 * Pure functions (no device, no globals), so the tests exercise them directly.
 */
#include "gemm.h"

#include "../../core/ab.h"
#include "../../core/table.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- minifloats ------------------------------------------------------------------------- */

typedef struct fmt {
    int ebits, mbits, bias;
    bool ieee; /* all-ones exponent = inf/NaN (IEEE); otherwise only all-ones = NaN (e4m3fn) */
    bool saturate;
} fmt;

static bool minifloat_fmt(ab_gemm_type t, fmt *f)
{
    switch (t) {
    case AB_GT_BF16: *f = (fmt){8, 7, 127, true, false}; return true;
    case AB_GT_F16: *f = (fmt){5, 10, 15, true, false}; return true;
    case AB_GT_E4M3: *f = (fmt){4, 3, 7, false, true}; return true;
    case AB_GT_E5M2: *f = (fmt){5, 2, 15, true, true}; return true;
    default: return false;
    }
}

static double minifloat_decode(const fmt *f, uint64_t bits)
{
    uint64_t mmask = (1ull << f->mbits) - 1, emask = (1ull << f->ebits) - 1;
    int s = (int)((bits >> (f->ebits + f->mbits)) & 1u);
    uint64_t e = (bits >> f->mbits) & emask, m = bits & mmask;
    double v;
    if (e == emask && (f->ieee || m == mmask)) {
        v = (f->ieee && m == 0) ? INFINITY : NAN;
    } else if (e == 0) {
        v = ldexp((double)m, 1 - f->bias - f->mbits);
    } else {
        v = ldexp((double)(m | (1ull << f->mbits)), (int)e - f->bias - f->mbits);
    }
    return s ? -v : v;
}

static uint64_t minifloat_encode(const fmt *f, double v)
{
    uint64_t sbit = 1ull << (f->ebits + f->mbits), emask = (1ull << f->ebits) - 1;
    uint64_t mmask = (1ull << f->mbits) - 1;
    uint64_t nan = f->ieee ? (emask << f->mbits) | (1ull << (f->mbits - 1)) : (emask << f->mbits) | mmask;
    uint64_t maxfin = f->ieee ? ((emask - 1) << f->mbits) | mmask : (emask << f->mbits) | (mmask - 1);
    uint64_t inf = emask << f->mbits;
    if (isnan(v))
        return nan;
    uint64_t s = signbit(v) ? sbit : 0;
    double a = fabs(v);
    if (a == 0.0)
        return s;
    int e;
    frexp(a, &e);
    int E = e - 1, emin = 1 - f->bias;
    uint64_t bits;
    if (isinf(a)) {
        bits = f->saturate ? maxfin : inf;
    } else if (E < emin) {
        /* subnormal: rounding up to the smallest normal gives exactly its encoding */
        bits = (uint64_t)nearbyint(ldexp(a, f->bias - 1 + f->mbits));
    } else {
        double q = nearbyint(ldexp(a, f->mbits - E)); /* in [2^mbits, 2^(mbits+1)] */
        if (q >= ldexp(1.0, f->mbits + 1)) {
            q /= 2;
            E++;
        }
        int64_t field = E + f->bias;
        if (field > (int64_t)emask)
            bits = f->saturate ? maxfin : inf;
        else
            bits = ((uint64_t)field << f->mbits) | ((uint64_t)q - (1ull << f->mbits));
        if (bits > maxfin)
            bits = f->saturate ? maxfin : inf;
    }
    return s | bits;
}

double ab_gemm_decode(ab_gemm_type t, uint64_t bits)
{
    fmt f;
    if (minifloat_fmt(t, &f))
        return minifloat_decode(&f, bits);
    switch (t) {
    case AB_GT_F64: {
        double d;
        memcpy(&d, &bits, sizeof(d));
        return d;
    }
    case AB_GT_F32: {
        uint32_t b = (uint32_t)bits;
        float x;
        memcpy(&x, &b, sizeof(x));
        return x;
    }
    case AB_GT_I8: return (double)(int8_t)(uint8_t)bits;
    case AB_GT_I32: return (double)(int32_t)(uint32_t)bits;
    default: return NAN;
    }
}

uint64_t ab_gemm_encode(ab_gemm_type t, double v)
{
    fmt f;
    if (minifloat_fmt(t, &f))
        return minifloat_encode(&f, v);
    switch (t) {
    case AB_GT_F64: {
        uint64_t b;
        memcpy(&b, &v, sizeof(b));
        return b;
    }
    case AB_GT_F32: {
        float x = (float)v;
        uint32_t b;
        memcpy(&b, &x, sizeof(b));
        return b;
    }
    case AB_GT_I8: {
        double r = nearbyint(v);
        r = r > 127 ? 127 : r < -128 ? -128 : r;
        return (uint8_t)(int8_t)r;
    }
    case AB_GT_I32: {
        double r = nearbyint(v);
        r = r > 2147483647.0 ? 2147483647.0 : r < -2147483648.0 ? -2147483648.0 : r;
        return (uint32_t)(int32_t)r;
    }
    default: return 0;
    }
}

double ab_gemm_load(ab_gemm_type t, const void *buf, size_t idx)
{
    const unsigned char *p = (const unsigned char *)buf + idx * ab_gemm_type_size(t);
    switch (ab_gemm_type_size(t)) {
    case 8: {
        uint64_t b;
        memcpy(&b, p, 8);
        return ab_gemm_decode(t, b);
    }
    case 4: {
        uint32_t b;
        memcpy(&b, p, 4);
        return ab_gemm_decode(t, b);
    }
    case 2: {
        uint16_t b;
        memcpy(&b, p, 2);
        return ab_gemm_decode(t, b);
    }
    case 1: return ab_gemm_decode(t, *p);
    default: return NAN;
    }
}

/* ---- tolerance (the derivation is in gemm.h) --------------------------------------------- */

static bool is_fp8(ab_gemm_type t)
{
    return t == AB_GT_E4M3 || t == AB_GT_E5M2;
}

double ab_gemm_tolerance(const ab_gemm_op *op, double sum_abs, double ref)
{
    double K = (double)op->k;
    double g = fmin(K, 8.0 * sqrt(K));
    double e_prod = (op->a == AB_GT_F32 && op->tf32) ? ldexp(1.0, -9) : 0.0;
    double u_acc;
    if (op->a == AB_GT_I8)
        u_acc = 0.0;
    else if (op->a == AB_GT_F64)
        u_acc = ldexp(1.0, -53);
    else
        u_acc = ldexp(1.0, -24);
    double acc = u_acc * g;
    if (is_fp8(op->a) || is_fp8(op->b))
        acc += ldexp(1.0, -14) * fmin(K, 8.0 * sqrt(fmin(K, 256.0)));
    double u_out;
    switch (op->c) {
    case AB_GT_F64: u_out = ldexp(1.0, -53); break;
    case AB_GT_F32: u_out = ldexp(1.0, -24); break;
    case AB_GT_BF16: u_out = ldexp(1.0, -8); break;
    case AB_GT_F16: u_out = ldexp(1.0, -11); break;
    case AB_GT_E4M3: u_out = ldexp(1.0, -4); break;
    case AB_GT_E5M2: u_out = ldexp(1.0, -3); break;
    default: u_out = 0.0; break;
    }
    double a = fabs(op->alpha);
    return a * sum_abs * (e_prod + acc) + a * fabs(ref) * u_out;
}

/* ---- shapes ------------------------------------------------------------------------------ */

#define DIM_MAX 2147483647LL /* 2^31 - 1: BLAS interfaces take 32-bit dimensions */

static int parse_dim(const char *s, const char **end, int64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *e;
    long long v = strtoll(s, &e, 10);
    if (errno || v < 1 || v > DIM_MAX)
        return -1;
    *end = e;
    *out = v;
    return 0;
}

int ab_gemm_parse_shapes(const char *s, ab_gemm_shape **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    char **v = ab_split_list(s, err);
    if (!v)
        return ab_err(err, "--shape: empty list");
    size_t cnt = ab_strv_len(v);
    ab_gemm_shape *sh = calloc(cnt ? cnt : 1, sizeof(*sh));
    if (!sh) {
        ab_strv_free(v);
        return ab_err(err, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        int64_t d[3];
        int nd = 0;
        const char *p = v[i];
        bool ok = true;
        while (ok && nd < 3) {
            const char *e;
            if (parse_dim(p, &e, &d[nd]) != 0) {
                ok = false;
                break;
            }
            nd++;
            p = e;
            if (*p == 'x' || *p == 'X')
                p++;
            else
                break;
        }
        if (!ok || *p || (nd != 1 && nd != 3)) {
            ab_err(err, "--shape: '%s' is not N or MxNxK with dimensions 1 to %lld", v[i],
                   DIM_MAX);
            free(sh);
            ab_strv_free(v);
            return -1;
        }
        sh[i].m = d[0];
        sh[i].n = nd == 3 ? d[1] : d[0];
        sh[i].k = nd == 3 ? d[2] : d[0];
        ab_strlcpy(sh[i].set, "custom", sizeof(sh[i].set));
    }
    ab_strv_free(v);
    *out = sh;
    *n = cnt;
    return 0;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) >= 32)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

int ab_gemm_layers_load(const char *path, ab_gemm_layer **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    char def[4096];
    if (!path) {
        if (ab_data_path("gemm-shape-sets.csv", def, sizeof(def), err) != 0)
            return -1;
        path = def;
    }
    ab_table t;
    if (ab_table_load(path, &t, err) != 0)
        return -1;
    static const char *const cols[] = {"set", "layer", "n", "k", "source", NULL};
    if (ab_table_require(&t, cols, err) != 0) {
        ab_table_free(&t);
        return -1;
    }
    ab_gemm_layer *l = calloc(t.nrows ? t.nrows : 1, sizeof(*l));
    if (!l) {
        ab_table_free(&t);
        return ab_err(err, "out of memory");
    }
    for (size_t r = 0; r < t.nrows; r++) {
        const char *set = ab_table_get(&t, r, "set"), *layer = ab_table_get(&t, r, "layer");
        if (!valid_name(set) || !valid_name(layer) || strcmp(set, "square") == 0 ||
            strcmp(set, "all") == 0 || strcmp(set, "custom") == 0) {
            ab_err(err, "%s:%d: set and layer must be 1-31 characters of a-z, 0-9, _ (and the set "
                        "not square, all or custom): '%s', '%s'",
                   path, t.line[r], set, layer);
            goto fail;
        }
        const char *dims[2] = {ab_table_get(&t, r, "n"), ab_table_get(&t, r, "k")};
        int64_t val[2];
        for (int i = 0; i < 2; i++) {
            const char *e;
            if (parse_dim(dims[i], &e, &val[i]) != 0 || *e) {
                ab_err(err, "%s:%d: %s: '%s' is not a dimension from 1 to %lld", path, t.line[r],
                       i ? "k" : "n", dims[i], DIM_MAX);
                goto fail;
            }
        }
        if (!*ab_table_get(&t, r, "source")) {
            ab_err(err, "%s:%d: source is empty (say where the dimensions come from)", path,
                   t.line[r]);
            goto fail;
        }
        for (size_t q = 0; q < r; q++)
            if (strcmp(l[q].set, set) == 0 && strcmp(l[q].layer, layer) == 0) {
                ab_err(err, "%s:%d: %s/%s listed twice", path, t.line[r], set, layer);
                goto fail;
            }
        ab_strlcpy(l[r].set, set, sizeof(l[r].set));
        ab_strlcpy(l[r].layer, layer, sizeof(l[r].layer));
        l[r].n = val[0];
        l[r].k = val[1];
    }
    *n = t.nrows;
    *out = l;
    ab_table_free(&t);
    return 0;
fail:
    free(l);
    ab_table_free(&t);
    return -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int push_shape(ab_gemm_shape **v, size_t *n, size_t *cap, const ab_gemm_shape *s)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        ab_gemm_shape *p = realloc(*v, nc * sizeof(*p));
        if (!p)
            return -1;
        *v = p;
        *cap = nc;
    }
    (*v)[(*n)++] = *s;
    return 0;
}

int ab_gemm_expand_sets(const char *list, const ab_gemm_layer *layers, size_t nlayers,
                        const int64_t *tokens, size_t ntokens, const int64_t *square,
                        size_t nsquare, ab_gemm_shape **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    char **v = ab_split_list(list, err);
    if (!v)
        return ab_err(err, "--shape-set: empty list");
    /* the distinct set names, in the order the table first lists them */
    const char *names[64];
    size_t nn = 0;
    for (size_t i = 0; i < nlayers; i++) {
        bool seen = false;
        for (size_t j = 0; j < nn; j++)
            seen |= strcmp(names[j], layers[i].set) == 0;
        if (!seen && nn < 64)
            names[nn++] = layers[i].set;
    }
    /* what was asked for: square first, then the LLM sets in the order given */
    bool want_square = false;
    const char *want[64];
    size_t nw = 0;
    for (size_t i = 0; v[i]; i++) {
        bool all = strcmp(v[i], "all") == 0, found = all;
        if (all || strcmp(v[i], "square") == 0) {
            want_square = found = true;
        }
        for (size_t j = 0; j < nn; j++) {
            if (!all && strcmp(v[i], names[j]) != 0)
                continue;
            found = true;
            bool dup = false;
            for (size_t q = 0; q < nw; q++)
                dup |= strcmp(want[q], names[j]) == 0;
            if (!dup && nw < 64)
                want[nw++] = names[j];
        }
        if (!found) {
            char known[512] = "square";
            for (size_t j = 0; j < nn; j++) {
                size_t len = strlen(known);
                snprintf(known + len, sizeof(known) - len, ", %s", names[j]);
            }
            ab_err(err, "--shape-set: unknown set '%s' (%s, all)", v[i], known);
            ab_strv_free(v);
            return -1;
        }
    }
    ab_strv_free(v);
    int64_t *tok = malloc((ntokens ? ntokens : 1) * sizeof(*tok));
    if (!tok)
        return ab_err(err, "out of memory");
    if (ntokens)
        memcpy(tok, tokens, ntokens * sizeof(*tok));
    qsort(tok, ntokens, sizeof(*tok), cmp_i64);
    ab_gemm_shape *sh = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; want_square && i < nsquare && rc == 0; i++) {
        ab_gemm_shape s = {.m = square[i], .n = square[i], .k = square[i]};
        ab_strlcpy(s.set, "square", sizeof(s.set));
        rc = push_shape(&sh, &cnt, &cap, &s);
    }
    for (size_t w = 0; w < nw && rc == 0; w++)
        for (size_t t = 0; t < ntokens && rc == 0; t++) {
            if (t > 0 && tok[t] == tok[t - 1])
                continue;
            for (size_t i = 0; i < nlayers && rc == 0; i++) {
                if (strcmp(layers[i].set, want[w]) != 0)
                    continue;
                ab_gemm_shape s = {.m = tok[t], .n = layers[i].n, .k = layers[i].k,
                                   .tokens = tok[t]};
                ab_strlcpy(s.set, layers[i].set, sizeof(s.set));
                ab_strlcpy(s.layer, layers[i].layer, sizeof(s.layer));
                rc = push_shape(&sh, &cnt, &cap, &s);
            }
        }
    free(tok);
    if (rc != 0) {
        free(sh);
        return ab_err(err, "out of memory");
    }
    *out = sh;
    *n = cnt;
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* The stand-in plugin's interpreter: the operations that move elements without arithmetic --
 * slice, concatenate, transpose, dynamic_update_slice -- as the tokens suite's decoder step
 * emits them (fake_hlo.h). Each checks its operands' shapes against the result, as a compiler
 * would, and refuses what StableHLO does not define. */
#include "fake_hlo.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sfail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sfail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, 256, fmt, ap);
    va_end(ap);
    return -1;
}

static int eval_slice(const fh_op *op, const fh_value *a, fh_value *r, char *err)
{
    int64_t st[FH_MAX_DIMS], lim[FH_MAX_DIMS], str[FH_MAX_DIMS], idx[FH_MAX_DIMS];
    int rank = a->t.rank;
    if (fh_int_list(op->attrs, "start_indices", st, FH_MAX_DIMS) != rank ||
        fh_int_list(op->attrs, "limit_indices", lim, FH_MAX_DIMS) != rank ||
        fh_int_list(op->attrs, "strides", str, FH_MAX_DIMS) != rank || r->t.rank != rank)
        return sfail(err, "slice: start, limit and strides of the operand's rank %d", rank);
    for (int i = 0; i < rank; i++)
        if (st[i] < 0 || lim[i] > a->t.dims[i] || str[i] != 1 || r->t.dims[i] != lim[i] - st[i])
            return sfail(err, "slice: dimension %d [%lld, %lld) of %lld into %lld", i,
                         (long long)st[i], (long long)lim[i], (long long)a->t.dims[i],
                         (long long)r->t.dims[i]);
    for (size_t o = 0; o < r->n; o++) {
        fh_unflatten(&r->t, o, idx);
        for (int i = 0; i < rank; i++)
            idx[i] += st[i];
        r->d[o] = a->d[fh_offset(&a->t, idx)];
    }
    return 0;
}

static int eval_concatenate(const fh_op *op, const fh_value *a, const fh_value *b, fh_value *r,
                            char *err)
{
    const char *p = strstr(op->attrs, "dimension = ");
    int dim = p ? (int)strtol(p + 12, NULL, 10) : -1, rank = a->t.rank;
    bool ok = dim >= 0 && dim < rank && b->t.rank == rank && r->t.rank == rank;
    for (int i = 0; ok && i < rank; i++)
        ok = i == dim ? r->t.dims[i] == a->t.dims[i] + b->t.dims[i]
                      : a->t.dims[i] == r->t.dims[i] && b->t.dims[i] == r->t.dims[i];
    if (!ok) return sfail(err, "concatenate: operand shapes and dimension disagree");
    int64_t idx[FH_MAX_DIMS];
    for (size_t o = 0; o < r->n; o++) {
        fh_unflatten(&r->t, o, idx);
        const fh_value *src = a;
        if (idx[dim] >= a->t.dims[dim]) idx[dim] -= a->t.dims[dim], src = b;
        r->d[o] = src->d[fh_offset(&src->t, idx)];
    }
    return 0;
}

static int eval_transpose(const fh_op *op, const fh_value *a, fh_value *r, char *err)
{
    int64_t perm[FH_MAX_DIMS], idx[FH_MAX_DIMS], ai[FH_MAX_DIMS];
    int rank = a->t.rank;
    bool ok = fh_int_list(op->attrs, "permutation", perm, FH_MAX_DIMS) == rank && r->t.rank == rank;
    for (int i = 0; ok && i < rank; i++)
        ok = perm[i] >= 0 && perm[i] < rank && r->t.dims[i] == a->t.dims[perm[i]];
    if (!ok) return sfail(err, "transpose: permutation and shapes disagree");
    for (size_t o = 0; o < r->n; o++) {
        fh_unflatten(&r->t, o, idx);
        for (int i = 0; i < rank; i++)
            ai[perm[i]] = idx[i];
        r->d[o] = a->d[fh_offset(&a->t, ai)];
    }
    return 0;
}

/* StableHLO clamps the start indices so the update fits */
static int eval_dus(const fh_op *op, const fh_value *v, fh_value *r, char *err)
{
    const fh_value *a = &v[op->opd[0]], *u = &v[op->opd[1]];
    int rank = a->t.rank;
    if (op->nopd != 2 + rank || u->t.rank != rank || r->t.rank != rank)
        return sfail(err, "dynamic_update_slice: %d start indices for rank %d", op->nopd - 2, rank);
    int64_t st[FH_MAX_DIMS], idx[FH_MAX_DIMS];
    for (int i = 0; i < rank; i++) {
        const fh_value *s = &v[op->opd[2 + i]];
        if (s->t.rank != 0 || (s->t.et != FH_I64 && s->t.et != FH_I32) ||
            u->t.dims[i] > a->t.dims[i])
            return sfail(err, "dynamic_update_slice: index %d or the update's shape", i);
        int64_t x = (int64_t)s->d[0], hi = a->t.dims[i] - u->t.dims[i];
        st[i] = x < 0 ? 0 : x > hi ? hi : x;
    }
    memcpy(r->d, a->d, a->n * sizeof(double));
    for (size_t o = 0; o < u->n; o++) {
        fh_unflatten(&u->t, o, idx);
        for (int i = 0; i < rank; i++)
            idx[i] += st[i];
        r->d[fh_offset(&a->t, idx)] = u->d[o];
    }
    return 0;
}

int fh_eval_shape(const char *fn, const fh_op *op, const fh_value *v, fh_value *r, char *err)
{
    const fh_value *a = op->nopd ? &v[op->opd[0]] : NULL;
    bool mine = strcmp(fn, "slice") == 0 || strcmp(fn, "concatenate") == 0 ||
                strcmp(fn, "transpose") == 0 || strcmp(fn, "dynamic_update_slice") == 0;
    if (mine && (!a || a->t.et != r->t.et))
        return sfail(err, "%s: the result's element type is not the operand's", fn);
    if (strcmp(fn, "slice") == 0 && op->nopd == 1) return eval_slice(op, a, r, err);
    if (strcmp(fn, "concatenate") == 0 && op->nopd == 2)
        return eval_concatenate(op, a, &v[op->opd[1]], r, err);
    if (strcmp(fn, "transpose") == 0 && op->nopd == 1) return eval_transpose(op, a, r, err);
    if (strcmp(fn, "dynamic_update_slice") == 0) return eval_dus(op, v, r, err);
    return 1;
}

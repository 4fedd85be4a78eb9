/* SPDX-License-Identifier: MIT */
/* The stand-in plugin's interpreter of parsed StableHLO (fake_hlo.h). */
#include "fake_hlo.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct env {
    fh_value *v; /* by value id */
    long loops;
    char *err;
} env;

static int efail(env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int efail(env *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, 256, fmt, ap);
    va_end(ap);
    return -1;
}

/* dst names src's elements without a copy: no operation writes into an operand, and every
 * value lives until the end of its region, so src outlives every use of dst (the interpreter
 * would otherwise copy every array of a loop several times per iteration) */
static void borrow(fh_value *dst, const fh_value *src)
{
    *dst = *src;
    dst->borrowed = true;
}

static bool same_type(const fh_type *a, const fh_type *b)
{
    return a->et == b->et && a->rank == b->rank &&
           memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0;
}

static int copy_value(env *e, fh_value *dst, const fh_value *src)
{
    if (fh_value_alloc(dst, &src->t) != 0) return efail(e, "out of memory");
    memcpy(dst->d, src->d, src->n * sizeof(double));
    return 0;
}

/* the elementwise binary operations by number (looked up once per operation, not per element) */
static const char *const bin_ops[] = {"add", "subtract", "multiply", "divide", "maximum"};

static int bin_code(const char *op)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(op, bin_ops[i]) == 0) return i;
    return -1;
}

static double binary(int op, double a, double b)
{
    switch (op) {
    case 0:
        return a + b;
    case 1:
        return a - b;
    case 2:
        return a * b;
    case 3:
        return a / b;
    default:
        return a > b ? a : b; /* maximum */
    }
}

static int eval_region(env *e, const fh_region *r, const fh_value *args, fh_value *outs, int *nout);

static int eval_compare(env *e, const fh_op *op, fh_value *r)
{
    static const char *const dirs[] = {"LT", "LE", "GT", "GE", "EQ", "NE"};
    const char *p = strstr(op->attrs, "<comparison_direction ");
    int dir = -1;
    for (int i = 0; p && i < 6; i++)
        if (strncmp(p + 22, dirs[i], 2) == 0) dir = i;
    if (dir < 0) return efail(e, "compare: no comparison_direction");
    const fh_value *a = &e->v[op->opd[0]], *b = &e->v[op->opd[1]];
    for (size_t i = 0; i < r->n; i++) {
        double x = a->d[i], y = b->d[i];
        bool c[] = {x<y, x <= y, x> y, x >= y, x == y, x != y};
        r->d[i] = c[dir];
    }
    return 0;
}

static int eval_broadcast(env *e, const fh_op *op, fh_value *r)
{
    const fh_value *a = &e->v[op->opd[0]];
    int64_t bd[FH_MAX_DIMS], idx[FH_MAX_DIMS], ai[FH_MAX_DIMS];
    int n = fh_int_list(op->attrs, "broadcast_dimensions", bd, FH_MAX_DIMS);
    if (n != a->t.rank)
        return efail(e, "broadcast_in_dim: %d dimensions for an operand of rank %d", n, a->t.rank);
    for (size_t o = 0; o < r->n; o++) {
        fh_unflatten(&r->t, o, idx);
        for (int i = 0; i < n; i++)
            ai[i] = a->t.dims[i] == 1 ? 0 : idx[bd[i]];
        r->d[o] = a->d[fh_offset(&a->t, ai)];
    }
    return 0;
}

static int eval_reduce(env *e, const fh_op *op, fh_value *r)
{
    const fh_value *a = &e->v[op->opd[0]];
    int64_t rd[FH_MAX_DIMS], idx[FH_MAX_DIMS], ri[FH_MAX_DIMS];
    int n = fh_int_list(op->attrs, "dimensions", rd, FH_MAX_DIMS);
    const fh_region *body = &op->reg[0];
    if (n < 1 || op->nreg != 1 || body->nops != 2)
        return efail(e, "reduce: one dimension list and a one-operation body expected");
    int fn = bin_code(body->ops[0].name + strlen("stablehlo."));
    if (fn < 0) return efail(e, "reduce: unsupported body %s", body->ops[0].name);
    for (size_t o = 0; o < r->n; o++)
        r->d[o] = e->v[op->opd[1]].d[0];
    /* the reduced dimensions the innermost ones: each result folds a contiguous run */
    bool suffix = true;
    for (int j = 0; j < n; j++)
        suffix &= rd[j] == a->t.rank - n + j;
    if (suffix && r->n) {
        size_t run = a->n / r->n;
        for (size_t o = 0; o < r->n; o++)
            for (size_t q = 0; q < run; q++)
                r->d[o] = binary(fn, r->d[o], a->d[o * run + q]);
        return 0;
    }
    for (size_t o = 0; o < a->n; o++) {
        fh_unflatten(&a->t, o, idx);
        int k = 0;
        for (int i = 0; i < a->t.rank; i++) {
            bool reduced = false;
            for (int j = 0; j < n; j++)
                reduced |= rd[j] == i;
            if (!reduced) ri[k++] = idx[i];
        }
        size_t ro = fh_offset(&r->t, ri);
        r->d[ro] = binary(fn, r->d[ro], a->d[o]);
    }
    return 0;
}

/* dot_general: result dims = batch, lhs free, rhs free */
static int eval_dot(env *e, const fh_op *op, fh_value *r)
{
    const fh_value *a = &e->v[op->opd[0]], *b = &e->v[op->opd[1]];
    int64_t lb[4], rb[4], lc[4], rc[4], idx[FH_MAX_DIMS], ai[FH_MAX_DIMS], bi[FH_MAX_DIMS];
    int nb = fh_int_list(op->attrs, "lhs_batching_dimensions", lb, 4);
    int nc = fh_int_list(op->attrs, "lhs_contracting_dimensions", lc, 4);
    if (nb < 0) nb = 0;
    if (nc != 1 || fh_int_list(op->attrs, "rhs_contracting_dimensions", rc, 4) != 1 ||
        (nb && fh_int_list(op->attrs, "rhs_batching_dimensions", rb, 4) != nb))
        return efail(e, "dot_general: one contracting dimension and matching batch lists");
    int af[FH_MAX_DIMS], bf[FH_MAX_DIMS], naf = 0, nbf = 0;
    for (int i = 0; i < a->t.rank; i++) {
        bool used = i == lc[0];
        for (int j = 0; j < nb; j++)
            used |= lb[j] == i;
        if (!used) af[naf++] = i;
    }
    for (int i = 0; i < b->t.rank; i++) {
        bool used = i == rc[0];
        for (int j = 0; j < nb; j++)
            used |= rb[j] == i;
        if (!used) bf[nbf++] = i;
    }
    if (nb + naf + nbf != r->t.rank || a->t.dims[lc[0]] != b->t.dims[rc[0]])
        return efail(e, "dot_general: operand and result shapes disagree");
    int64_t k = a->t.dims[lc[0]];
    size_t sa = 1, sb = 1; /* the strides of the contracting dimensions */
    for (int i = (int)lc[0] + 1; i < a->t.rank; i++)
        sa *= (size_t)a->t.dims[i];
    for (int i = (int)rc[0] + 1; i < b->t.rank; i++)
        sb *= (size_t)b->t.dims[i];
    for (size_t o = 0; o < r->n; o++) {
        fh_unflatten(&r->t, o, idx);
        for (int j = 0; j < nb; j++)
            ai[lb[j]] = idx[j], bi[rb[j]] = idx[j];
        for (int j = 0; j < naf; j++)
            ai[af[j]] = idx[nb + j];
        for (int j = 0; j < nbf; j++)
            bi[bf[j]] = idx[nb + naf + j];
        ai[lc[0]] = 0, bi[rc[0]] = 0;
        const double *pa = a->d + fh_offset(&a->t, ai), *pb = b->d + fh_offset(&b->t, bi);
        double s = 0.0;
        for (int64_t q = 0; q < k; q++)
            s += pa[(size_t)q * sa] * pb[(size_t)q * sb];
        r->d[o] = s;
    }
    return 0;
}

static int eval_while(env *e, const fh_op *op, fh_value *outs)
{
    int n = op->nopd, m;
    fh_value *state = calloc((size_t)n, sizeof(fh_value)), pred = {0};
    if (!state) return efail(e, "out of memory");
    int rc = 0;
    for (int i = 0; i < n; i++)
        borrow(&state[i], &e->v[op->opd[i]]);
    for (;;) {
        if (rc || (rc = eval_region(e, &op->reg[0], state, &pred, &m)) != 0) break;
        bool go = pred.d[0] != 0.0;
        fh_value_free(&pred);
        if (!go) break;
        fh_value *next = calloc((size_t)n, sizeof(fh_value));
        if (!next || (rc = eval_region(e, &op->reg[1], state, next, &m)) != 0) {
            free(next);
            rc = rc ? rc : efail(e, "out of memory");
            break;
        }
        /* what the body passed through is still the old state's: the new state takes it over */
        for (int i = 0; i < n; i++)
            for (int j = 0; next[i].borrowed && j < n; j++)
                if (!state[j].borrowed && state[j].d == next[i].d)
                    state[j].borrowed = true, next[i].borrowed = false;
        for (int i = 0; i < n; i++)
            fh_value_free(&state[i]);
        free(state);
        state = next;
        e->loops++;
    }
    for (int i = 0; i < n; i++)
        outs[i] = state[i]; /* ownership moves to the results */
    free(state);
    return rc;
}

/* elementwise and shape-only operations */
static int eval_simple(env *e, const fh_op *op, const char *fn, fh_value *r)
{
    const fh_value *a = op->nopd ? &e->v[op->opd[0]] : NULL;
    if (strcmp(fn, "constant") == 0) {
        const char *p = strstr(op->attrs, "dense<");
        if (!p) return efail(e, "constant: only splat dense<...> values");
        double x = strtod(p + 6, NULL);
        if (strncmp(p + 6, "0x", 2) == 0 && r->t.et == FH_F32) { /* MLIR's bit pattern form */
            uint32_t bits = (uint32_t)strtoul(p + 8, NULL, 16);
            float f;
            memcpy(&f, &bits, sizeof(f));
            x = f;
        }
        for (size_t i = 0; i < r->n; i++)
            r->d[i] = x;
    } else if (strcmp(fn, "convert") == 0 || strcmp(fn, "reshape") == 0 ||
               strcmp(fn, "exponential") == 0 || strcmp(fn, "rsqrt") == 0 ||
               strcmp(fn, "logistic") == 0) {
        if (a->n != r->n) return efail(e, "%s: %zu elements into %zu", fn, a->n, r->n);
        for (size_t i = 0; i < r->n; i++) {
            double x = a->d[i];
            r->d[i] = fn[0] == 'e'                   ? exp(x)
                      : fn[0] == 'r' && fn[1] == 's' ? 1.0 / sqrt(x)
                      : fn[0] == 'l'                 ? 1.0 / (1.0 + exp(-x))
                                                     : x;
        }
    } else if (strcmp(fn, "select") == 0) {
        const fh_value *x = &e->v[op->opd[1]], *y = &e->v[op->opd[2]];
        for (size_t i = 0; i < r->n; i++)
            r->d[i] = a->d[a->n == 1 ? 0 : i] != 0.0 ? x->d[i] : y->d[i];
    } else if (strcmp(fn, "iota") == 0) {
        int64_t dim = strtoll(strstr(op->attrs, "iota_dimension") + 17, NULL, 10), idx[8];
        for (size_t i = 0; i < r->n; i++) {
            fh_unflatten(&r->t, i, idx);
            r->d[i] = (double)idx[dim];
        }
    } else {
        int code = bin_code(fn);
        const fh_value *b = op->nopd == 2 ? &e->v[op->opd[1]] : NULL;
        if (code < 0 || !b || !same_type(&a->t, &b->t) || !same_type(&a->t, &r->t))
            return efail(e, "unsupported operation stablehlo.%s (or operand types)", fn);
        for (size_t i = 0; i < r->n; i++)
            r->d[i] = binary(code, a->d[i], b->d[i]);
    }
    return 0;
}

static int eval_op(env *e, const fh_op *op)
{
    if (strncmp(op->name, "stablehlo.", 10) != 0) return efail(e, "unknown operation %s", op->name);
    const char *fn = op->name + 10;
    fh_value *r = &e->v[op->res];
    if (strcmp(fn, "while") == 0) return eval_while(e, op, r);
    if (strcmp(fn, "optimization_barrier") == 0) {
        for (int i = 0; i < op->nopd; i++)
            borrow(&r[i], &e->v[op->opd[i]]);
        return 0;
    }
    if (op->nres != 1 || fh_value_alloc(r, &op->rtype[0]) != 0)
        return efail(e, "%s: one result expected", op->name);
    int rc = fh_eval_shape(fn, op, e->v, r, e->err);
    if (rc <= 0) {
        for (size_t i = 0; rc == 0 && i < r->n; i++)
            r->d[i] = fh_round(r->t.et, r->d[i]);
        return rc;
    }
    rc = strcmp(fn, "compare") == 0            ? eval_compare(e, op, r)
         : strcmp(fn, "broadcast_in_dim") == 0 ? eval_broadcast(e, op, r)
         : strcmp(fn, "reduce") == 0           ? eval_reduce(e, op, r)
         : strcmp(fn, "dot_general") == 0      ? eval_dot(e, op, r)
                                               : eval_simple(e, op, fn, r);
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        r->d[i] = fh_round(r->t.et, r->d[i]);
    return rc;
}

/* Binds args to the block arguments, runs the operations, and moves the operands of the
 * terminator into outs. */
/* A result of region r moves out to *out without a copy: an owned value is handed over; a
 * borrowed one takes the ownership of its elements from the value of r that has it (which dies
 * with the region), else stays borrowed from a value outside r (which outlives it). */
static void give_out(env *e, const fh_region *r, fh_value *v, fh_value *out)
{
    *out = *v;
    if (!v->borrowed) {
        v->borrowed = true;
        return;
    }
    for (int i = 0; i < r->nops; i++)
        for (int k = 0; k < r->ops[i].nres; k++) {
            fh_value *w = &e->v[r->ops[i].res + k];
            if (!w->borrowed && w->d == v->d) {
                w->borrowed = true;
                out->borrowed = false;
                return;
            }
        }
}

static int eval_region(env *e, const fh_region *r, const fh_value *args, fh_value *outs, int *nout)
{
    int rc = 0;
    for (int i = 0; i < r->nargs; i++)
        borrow(&e->v[r->args[i]], &args[i]);
    for (int i = 0; i < r->nops - 1 && rc == 0; i++)
        rc = eval_op(e, &r->ops[i]);
    const fh_op *ret = &r->ops[r->nops - 1];
    *nout = ret->nopd;
    for (int i = 0; i < ret->nopd && rc == 0; i++)
        give_out(e, r, &e->v[ret->opd[i]], &outs[i]);
    /* values of this region are dead now */
    for (int i = 0; i < r->nargs; i++)
        fh_value_free(&e->v[r->args[i]]);
    for (int i = 0; i < r->nops; i++)
        for (int k = 0; k < r->ops[i].nres; k++)
            fh_value_free(&e->v[r->ops[i].res + k]);
    return rc;
}

int fh_run(const fh_program *p, const fh_value *args, fh_value *outs, long *loops, char *err)
{
    env e = {.err = err};
    for (int i = 0; i < p->main.nargs; i++)
        if (!same_type(&args[i].t, &p->main.types[i])) {
            snprintf(err, 256, "argument %d does not have the parameter's type", i);
            return -1;
        }
    const fh_op *ret = &p->main.ops[p->main.nops - 1];
    if (ret->nopd != p->nres)
        return efail(&e, "@main returns %d values for %d results", ret->nopd, p->nres);
    if (!(e.v = calloc((size_t)p->nvalues + 1, sizeof(fh_value))))
        return efail(&e, "out of memory");
    memset(outs, 0, sizeof(fh_value) * (size_t)p->nres);
    int n = 0, rc = eval_region(&e, &p->main, args, outs, &n);
    for (int i = 0; rc == 0 && i < n; i++) /* results own their elements (arguments stay) */
        if (outs[i].borrowed) {
            fh_value v = outs[i];
            rc = copy_value(&e, &outs[i], &v);
        }
    for (int i = 0; rc == 0 && i < n; i++)
        if (!same_type(&outs[i].t, &p->res[i]))
            rc = efail(&e, "result %d does not have the declared type", i);
    if (rc != 0)
        for (int i = 0; i < p->nres; i++)
            fh_value_free(&outs[i]);
    free(e.v);
    *loops = e.loops;
    return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * membw on PJRT: one looped StableHLO program per (kernel, element type, n) (stablehlo.h): the
 * arrays a kernel reads and writes are the loop state; the body computes the kernel's record
 * (membw.h) on the arrays after the barrier, so each iteration streams them again. Reductions
 * (dot, read) sum into one rank-0 array, the single partial sum. write stores w + 0·i, a value
 * the compiler cannot take out of the loop. What XLA makes of a copy (an array assigned to
 * another) is its business: the first run on a TPU must check the bytes it reports.
 */
#include "membw.h"

#include "../../backends/pjrt.h"
#include "../../backends/stablehlo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mb_prog {
    const ab_membw_args *a;
    char t[AB_SHLO_TYPE], st[AB_SHLO_TYPE]; /* the array type, its element as a scalar */
    const char *et;
    int idx[3]; /* position of a, b, c among the arrays (-1) */
    int out;    /* the array written */
} mb_prog;

static size_t pj_partials(void *dev, const ab_membw_args *a)
{
    (void)dev, (void)a;
    return 1; /* the reduction's one sum */
}

static void splat(ab_shlo *s, char *out, const mb_prog *p, double v)
{
    char lit[40];
    snprintf(lit, sizeof(lit), "%.17g", p->a->f64 ? v : (double)(float)v);
    if (!strpbrk(lit, ".e")) strcat(lit, ".0");
    ab_shlo_const(s, out, p->t, lit);
}

/* the reduction of term over the array into the rank-0 partial */
static void reduce_sum(ab_shlo *s, const mb_prog *p, const char *term, char *out)
{
    char zero[AB_SHLO_NAME];
    ab_shlo_const(s, zero, p->st, "0.0");
    int64_t dim0 = 0;
    ab_shlo_reduce(s, out, "add", term, p->t, zero, p->et, p->st, &dim0, 1);
}

static int body(ab_shlo *s, void *arg, const char *counter, char (*v)[AB_SHLO_NAME])
{
    const mb_prog *p = arg;
    const char *a = p->idx[0] >= 0 ? v[p->idx[0]] : NULL;
    const char *b = p->idx[1] >= 0 ? v[p->idx[1]] : NULL;
    const char *c = p->idx[2] >= 0 ? v[p->idx[2]] : NULL;
    char q[AB_SHLO_NAME], x[AB_SHLO_NAME], r[AB_SHLO_NAME];
    switch (p->a->kernel) {
    case AB_MB_COPY:
        snprintf(r, sizeof(r), "%s", a);
        break;
    case AB_MB_SCALE:
        splat(s, q, p, AB_MEMBW_SCALAR);
        ab_shlo_binary(s, r, "multiply", q, c, p->t);
        break;
    case AB_MB_ADD:
        ab_shlo_binary(s, r, "add", a, b, p->t);
        break;
    case AB_MB_TRIAD:
        splat(s, q, p, AB_MEMBW_SCALAR);
        ab_shlo_binary(s, x, "multiply", q, c, p->t);
        ab_shlo_binary(s, r, "add", b, x, p->t);
        break;
    case AB_MB_DOT:
        ab_shlo_binary(s, x, "multiply", a, b, p->t);
        reduce_sum(s, p, x, r);
        break;
    case AB_MB_READ:
        reduce_sum(s, p, a, r);
        break;
    case AB_MB_WRITE: { /* w + 0 * i */
        char i[AB_SHLO_NAME], z[AB_SHLO_NAME], w[AB_SHLO_NAME];
        int64_t none = 0;
        ab_shlo_unary(s, i, "convert", counter, "tensor<i64>", p->st);
        ab_shlo_const(s, z, p->st, "0.0");
        ab_shlo_binary(s, i, "multiply", i, z, p->st);
        char lit[40];
        snprintf(lit, sizeof(lit), "%.17g",
                 p->a->f64 ? AB_MEMBW_WRITE_VALUE : (double)(float)AB_MEMBW_WRITE_VALUE);
        ab_shlo_const(s, w, p->st, lit);
        ab_shlo_binary(s, w, "add", w, i, p->st);
        ab_shlo_broadcast(s, r, w, p->st, p->t, &none, 0);
        break;
    }
    default:
        return -1;
    }
    snprintf(v[p->out], AB_SHLO_NAME, "%s", r);
    return 0;
}

/* The arrays of kernel a->kernel in program order (a, b, c used; then the partial), their
 * handles and the program's text. */
static char *program(const ab_membw_args *a, ab_pjrt_mem **mem, int *n, int *out)
{
    const ab_membw_kernel_info *ki = ab_membw_kernel_get(a->kernel);
    mb_prog p = {.a = a, .et = a->f64 ? "f64" : "f32", .idx = {-1, -1, -1}};
    int64_t dims[1] = {(int64_t)a->n};
    ab_shlo_type(p.t, p.et, dims, 1);
    ab_shlo_type(p.st, p.et, NULL, 0);
    char types[4][AB_SHLO_TYPE];
    void *arrays[3] = {a->a, a->b, a->c};
    int k = 0;
    for (int i = 0; i < 3; i++)
        if (ab_membw_arrays(a->kernel) & (1u << i)) {
            p.idx[i] = k;
            memcpy(types[k], p.t, AB_SHLO_TYPE);
            mem[k++] = arrays[i];
        }
    if (!ki->writes) {
        memcpy(types[k], p.st, AB_SHLO_TYPE);
        mem[k++] = a->partial;
    }
    p.out = ki->writes ? p.idx[ki->writes == AB_MB_A ? 0 : ki->writes == AB_MB_B ? 1 : 2] : k - 1;
    *n = k;
    *out = p.out;
    char name[48];
    snprintf(name, sizeof(name), "ab_membw_%s_%s", ki->name, p.et);
    return ab_shlo_looped(name, (const char(*)[AB_SHLO_TYPE])types, k, &p.out, 1, body, &p);
}

static int set_value(ab_pjrt_dev *d, ab_pjrt_mem *m, bool f64, size_t n, int rank, double v,
                     char *err)
{
    size_t s = f64 ? 8 : 4;
    void *h = malloc(n * s);
    if (!h) return ab_pjrt_err(err, "out of host memory");
    for (size_t i = 0; i < n; i++) {
        if (f64)
            ((double *)h)[i] = v;
        else
            ((float *)h)[i] = (float)v;
    }
    int64_t dims[1] = {(int64_t)n};
    int rc = ab_pjrt_mem_set(d, m, f64 ? PJRT_Buffer_Type_F64 : PJRT_Buffer_Type_F32, dims, rank, h,
                             err);
    free(h);
    return rc;
}

static int pj_init(void *dev, const ab_membw_args *a, char *err)
{
    static const double start[3] = {AB_MEMBW_START_A, AB_MEMBW_START_B, AB_MEMBW_START_C};
    void *arrays[3] = {a->a, a->b, a->c};
    for (int i = 0; i < 3; i++)
        if ((ab_membw_arrays(a->kernel) & (1u << i)) &&
            set_value(dev, arrays[i], a->f64, a->n, 1, start[i], err) != 0)
            return -1;
    if (!ab_membw_kernel_get(a->kernel)->writes)
        return set_value(dev, a->partial, a->f64, 1, 0, 0.0, err);
    return 0;
}

static int pj_run(void *dev, const ab_membw_args *a, long iters, char *err)
{
    ab_pjrt_mem *mem[4];
    int n, out;
    char *text = program(a, mem, &n, &out);
    if (!text) return ab_pjrt_err(err, "out of memory");
    ab_pjrt_exe *x;
    int rc = ab_pjrt_program(dev, text, true, 1, &x, err);
    free(text);
    if (rc != 0) return -1;
    return ab_pjrt_run(dev, x, iters, mem, n, &mem[out], err);
}

const ab_membw_impl ab_membw_pjrt = {
    .has_streaming = false,
    .partials = pj_partials,
    .init = pj_init,
    .run = pj_run,
};

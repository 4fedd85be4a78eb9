/* SPDX-License-Identifier: MIT */
/*
 * GEMM on PJRT: stablehlo.dot_general compiled by the plugin's XLA (the vendor path; there is no
 * portable kernel to write for a device that only runs compiled programs). One looped program
 * per (shape, layout, types): C = op(A) · op(B) R times, A and B through the barrier each
 * iteration (stablehlo.h). Storage types: f32 (precision HIGHEST on both operands: on a TPU the
 * default precision multiplies f32 in one bf16 pass, which is not an f32 GEMM), bf16 into f32 or
 * bf16 (f32 accumulation, as the MXU does), i8 into i32. The inputs are generated on the host
 * (ab_gemm_value_bits) and uploaded: PJRT buffers are written by transfers or programs only.
 */
#include "gemm.h"

#include "../../backends/pjrt.h"
#include "../../backends/stablehlo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pj_plan {
    ab_pjrt_dev *d;
    ab_gemm_op op;
    ab_pjrt_exe *exe;
} pj_plan;

static PJRT_Buffer_Type pjrt_type(ab_gemm_type t)
{
    switch (t) {
    case AB_GT_F32:
        return PJRT_Buffer_Type_F32;
    case AB_GT_BF16:
        return PJRT_Buffer_Type_BF16;
    case AB_GT_I8:
        return PJRT_Buffer_Type_S8;
    case AB_GT_I32:
        return PJRT_Buffer_Type_S32;
    default:
        return PJRT_Buffer_Type_INVALID;
    }
}

static int pj_dtype_ok(void *dev, const ab_gemm_op *op, char *why)
{
    (void)dev;
    bool ok = (op->a == AB_GT_F32 && op->b == AB_GT_F32 && op->c == AB_GT_F32 && !op->tf32) ||
              (op->a == AB_GT_BF16 && op->b == AB_GT_BF16 &&
               (op->c == AB_GT_BF16 || op->c == AB_GT_F32)) ||
              (op->a == AB_GT_I8 && op->b == AB_GT_I8 && op->c == AB_GT_I32);
    if (ok) return 0;
    return ab_pjrt_err(why, "pjrt: %s x %s -> %s%s not generated (f32, bf16 and i8 are)",
                       ab_gemm_type_name(op->a), ab_gemm_type_name(op->b), ab_gemm_type_name(op->c),
                       op->tf32 ? " at tf32" : "");
}

static int pj_supports(void *dev, const ab_gemm_op *op, char *why)
{
    if (pj_dtype_ok(dev, op, why) != 0) return -1;
    int64_t lda = op->ta ? op->m : op->k, ldb = op->tb ? op->k : op->n;
    if (op->batch != 1 || op->lda != lda || op->ldb != ldb || op->ldc != op->n)
        return ab_pjrt_err(why, "pjrt: dense operands only (buffers are whole arrays)");
    if (op->alpha != 1.0 || op->beta != 0.0)
        return ab_pjrt_err(why, "pjrt: C = A·B only (alpha 1, beta 0)");
    return 0;
}

static const char *mlir_et(ab_gemm_type t)
{
    return ab_pjrt_mlir_type(pjrt_type(t));
}

/* the shapes of A, B, C as stored */
static void shapes(const ab_gemm_op *op, int64_t a[2], int64_t b[2], int64_t c[2])
{
    a[0] = op->ta ? op->k : op->m, a[1] = op->ta ? op->m : op->k;
    b[0] = op->tb ? op->n : op->k, b[1] = op->tb ? op->k : op->n;
    c[0] = op->m, c[1] = op->n;
}

static int body(ab_shlo *s, void *arg, const char *counter, char (*v)[AB_SHLO_NAME])
{
    (void)counter;
    const ab_gemm_op *op = arg;
    int64_t da[2], db[2], dc[2];
    shapes(op, da, db, dc);
    char ta[AB_SHLO_TYPE], tb[AB_SHLO_TYPE], tacc[AB_SHLO_TYPE], tc[AB_SHLO_TYPE];
    ab_shlo_type(ta, mlir_et(op->a), da, 2);
    ab_shlo_type(tb, mlir_et(op->b), db, 2);
    ab_shlo_type(tc, mlir_et(op->c), dc, 2);
    ab_shlo_type(tacc, op->c == AB_GT_BF16 ? "f32" : mlir_et(op->c), dc, 2);
    ab_shlo_dot dd = {
        .lc = {op->ta ? 0 : 1}, .rc = {op->tb ? 1 : 0}, .highest = op->a == AB_GT_F32};
    ab_shlo_dot_general(s, v[2], v[0], ta, v[1], tb, tacc, &dd);
    if (op->c == AB_GT_BF16) ab_shlo_unary(s, v[2], "convert", v[2], tacc, tc);
    return 0;
}

static int pj_prepare(void *dev, const ab_gemm_op *op, void **plan, char *err)
{
    if (pj_supports(dev, op, err) != 0) return -1;
    pj_plan *p = calloc(1, sizeof(*p));
    if (!p) return ab_pjrt_err(err, "out of memory");
    p->d = dev, p->op = *op;
    int64_t da[2], db[2], dc[2];
    shapes(op, da, db, dc);
    char types[3][AB_SHLO_TYPE], name[64];
    ab_shlo_type(types[0], mlir_et(op->a), da, 2);
    ab_shlo_type(types[1], mlir_et(op->b), db, 2);
    ab_shlo_type(types[2], mlir_et(op->c), dc, 2);
    snprintf(name, sizeof(name), "ab_gemm_%s_%s%s", ab_gemm_type_name(op->a), op->ta ? "T" : "N",
             op->tb ? "T" : "N");
    int out = 2;
    char *text = ab_shlo_looped(name, (const char(*)[AB_SHLO_TYPE])types, 3, &out, 1, body, &p->op);
    int rc = text ? ab_pjrt_program(dev, text, true, 1, &p->exe, err)
                  : ab_pjrt_err(err, "out of memory");
    free(text);
    if (rc != 0) {
        free(p);
        return -1;
    }
    *plan = p;
    return 0;
}

static int pj_run_n(void *plan, void *a, void *b, void *c, long iters, char *err)
{
    pj_plan *p = plan;
    const ab_gemm_op *op = &p->op;
    int64_t da[2], db[2], dc[2];
    shapes(op, da, db, dc);
    ab_pjrt_mem *mem[3] = {a, b, c};
    /* fill() wrote flat arrays: give them the matrices' shapes (no-ops after the first run); a C
     * never written (the tokens suite's GEMM reference) starts as zeros, the loop's first value */
    void *zeros = NULL;
    if (!mem[2]->buf &&
        !(zeros = calloc(1, (size_t)(dc[0] * dc[1]) * ab_gemm_type_size(op->c) + 1)))
        return ab_pjrt_err(err, "out of host memory");
    int rc = ab_pjrt_mem_set(p->d, mem[0], pjrt_type(op->a), da, 2, NULL, err) ||
             ab_pjrt_mem_set(p->d, mem[1], pjrt_type(op->b), db, 2, NULL, err) ||
             ab_pjrt_mem_set(p->d, mem[2], pjrt_type(op->c), dc, 2, zeros, err);
    free(zeros);
    if (rc) return -1;
    return ab_pjrt_run(p->d, p->exe, iters, mem, 3, &mem[2], err);
}

static int pj_run(void *plan, void *a, void *b, void *c, char *err)
{
    return pj_run_n(plan, a, b, c, 1, err);
}

static void pj_release(void *plan)
{
    free(plan); /* the program stays in the device's cache */
}

static void pj_describe(void *plan, char *buf, size_t len)
{
    const pj_plan *p = plan;
    snprintf(buf, len, "XLA stablehlo.dot_general through PJRT (%s)%s", ab_pjrt_platform(p->d),
             p->op.a == AB_GT_F32 ? ", precision HIGHEST" : "");
}

static int pj_fill(void *dev, void *buf, ab_gemm_type t, size_t count, uint64_t seed, char *err)
{
    size_t es = ab_gemm_type_size(t);
    unsigned char *h = malloc(count * es);
    if (!h) return ab_pjrt_err(err, "out of host memory");
    for (size_t i = 0; i < count; i++) {
        uint64_t bits =
            seed == AB_GEMM_SENTINEL ? ab_gemm_sentinel_bits(t) : ab_gemm_value_bits(t, seed, i);
        memcpy(h + i * es, &bits, es); /* little-endian: the low bytes */
    }
    int64_t dims[1] = {(int64_t)count};
    int rc = ab_pjrt_mem_set(dev, buf, pjrt_type(t), dims, 1, h, err);
    free(h);
    return rc;
}

static const ab_gemm_impl pj_vendor = {
    .name = "vendor",
    .dtype_ok = pj_dtype_ok,
    .supports = pj_supports,
    .prepare = pj_prepare,
    .run = pj_run,
    .run_n = pj_run_n,
    .release = pj_release,
    .describe = pj_describe,
};

const ab_gemm_backend ab_gemm_pjrt = {
    .impl = {&pj_vendor, NULL},
    .absent = {NULL, "no portable kernel on PJRT: the plugin's XLA compiles every multiply"},
    .fill = pj_fill,
};

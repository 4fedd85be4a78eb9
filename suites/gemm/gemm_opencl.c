/* SPDX-License-Identifier: MIT */
/*
 * GEMM on OpenCL: the portable tiled kernel (gemm.cl, embedded as ab_gemm_cl_source) and the
 * device-side fill. OpenCL has no vendor BLAS every ICD ships (clBLAS/CLBlast are separate
 * projects), so there is no vendor implementation here.
 */
#include "gemm.h"

#include "../../backends/opencl.h"
#include "../../core/ab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char ab_gemm_cl_source[];

#define TS          64 /* C tile per work-group (gemm.cl) */
#define RTS         16 /* work-items per tile dimension */
#define SKINNY_M    4  /* at most this many rows: ab_gemm_skinny, one work-item per column */
#define SKINNY_NT_M 16 /* SKNT in gemm.cl: rows of the NT skinny kernel */
#define SKINNY_ROWS_M 64 /* rows of the NT kernel for CPU devices (groups of 4 rows) */

static int get_program(ab_ocl_dev *d, int kind, cl_program *p, char *err)
{
    char opts[96], key[32];
    if (kind < 0) {
        snprintf(opts, sizeof(opts), "-cl-std=CL1.2");
        snprintf(key, sizeof(key), "gemm-fill");
    } else {
        snprintf(opts, sizeof(opts), "-cl-std=CL1.2 -DKIND=%d%s", kind,
                 kind == AB_GT_F64 ? " -DUSE_FP64" : "");
        snprintf(key, sizeof(key), "gemm-%s", ab_gemm_type_name((ab_gemm_type)kind));
    }
    return ab_ocl_program(d, key, ab_gemm_cl_source, opts, p, err);
}

static int ocl_fill(void *dev, void *buf, ab_gemm_type t, size_t count, uint64_t seed, char *err)
{
    ab_ocl_dev *d = dev;
    cl_program p;
    if (get_program(d, -1, &p, err)) return -1;
    cl_int rc;
    cl_kernel k = clCreateKernel(p, "ab_gemm_fill", &rc);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clCreateKernel(ab_gemm_fill): %s", ab_ocl_strerror(rc));
    cl_mem m = buf;
    cl_ulong cnt = count, sd = seed, sent = ab_gemm_sentinel_bits(t);
    cl_uint type = (cl_uint)t, es = (cl_uint)ab_gemm_type_size(t);
    cl_uint smode = seed == AB_GEMM_SENTINEL;
    size_t lws = 256, gws = (count + lws - 1) / lws * lws;
    int r = AB_OCL_ARG(k, 0, m) || AB_OCL_ARG(k, 1, cnt) || AB_OCL_ARG(k, 2, type) ||
            AB_OCL_ARG(k, 3, es) || AB_OCL_ARG(k, 4, sd) || AB_OCL_ARG(k, 5, smode) ||
            AB_OCL_ARG(k, 6, sent) || ab_ocl_launch(d, k, 1, &gws, NULL, err);
    clReleaseKernel(k);
    if (r) return -1;
    rc = clFinish(d->q);
    if (rc != CL_SUCCESS) return ab_err(err, "opencl: clFinish: %s", ab_ocl_strerror(rc));
    return 0;
}

static int ocl_dtype_ok(void *dev, const ab_gemm_op *op, char *why)
{
    const ab_ocl_dev *d = dev;
    if (op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2)
        return ab_err(why, "the portable kernel has no fp8 path (a matrix-unit format; measured "
                           "through the vendor library)");
    if (op->a != op->b)
        return ab_err(why, "the portable kernel multiplies equal input types (%s x %s asked)",
                      ab_gemm_type_name(op->a), ab_gemm_type_name(op->b));
    if (op->a == AB_GT_F32 && op->tf32)
        return ab_err(why, "the portable kernel has no TF32 path (a matrix-unit format; measured "
                           "through the vendor library)");
    if (op->a == AB_GT_F64 && !d->fp64)
        return ab_err(why, "device has no double precision (cl_khr_fp64)");
    ab_gemm_type want = op->a == AB_GT_F64 ? AB_GT_F64 : op->a == AB_GT_I8 ? AB_GT_I32 : AB_GT_F32;
    if (op->c != want)
        return ab_err(why, "the portable kernel writes %s inputs as %s, not %s",
                      ab_gemm_type_name(op->a), ab_gemm_type_name(want), ab_gemm_type_name(op->c));
    if (d->max_wg < RTS * RTS)
        return ab_err(why, "work-groups of %d work-items exceed the device's %zu", RTS * RTS,
                      d->max_wg);
    return 0;
}

static int ocl_supports(void *dev, const ab_gemm_op *op, char *why)
{
    if (ocl_dtype_ok(dev, op, why) != 0) return -1;
    if (op->a == AB_GT_I8 &&
        (op->alpha != (double)(int)op->alpha || op->beta != (double)(int)op->beta))
        return ab_err(why, "integer GEMM takes integer alpha and beta");
    if (!op->ta && op->tb && op->m <= SKINNY_NT_M && op->n > ((int64_t)1 << 25))
        return ab_err(why, "more than 2^25 columns for the skinny NT kernel's one launch");
    /* the grid: N tiles x M tiles x batch work-groups */
    if ((op->m + TS - 1) / TS * RTS > (int64_t)1 << 31 || (op->n + TS - 1) / TS * RTS > (int64_t)1
                                                                                            << 31)
        return ab_err(why, "too many tiles for one launch");
    return 0;
}

typedef struct ocl_plan {
    ab_gemm_op op;
    ab_ocl_dev *d;
    cl_kernel k;
    int kind; /* 0 tiled, 1 skinny (a work-item per column), 2 skinny NT (a work-group per column),
               * 3 skinny NT on CPU devices (a work-item per column, 8-wide vectors) */
} ocl_plan;

/* Which kernel: in the NT layout (both operands contiguous along K: y = x W^T) on CPU devices
 * up to SKINNY_ROWS_M rows, a work-item per column in 8-wide vectors; on other devices up to
 * SKINNY_NT_M rows, a work-group per column reducing along K; otherwise up to SKINNY_M rows a
 * work-item per column (NN/TN: B's rows run across columns); else the tile. */
static int pick_kernel(const ab_ocl_dev *d, const ab_gemm_op *op)
{
    bool nt = !op->ta && op->tb, cpu = (d->type & CL_DEVICE_TYPE_CPU) != 0;
    if (nt && cpu && op->m <= SKINNY_ROWS_M)
        return 3;
    if (nt && !cpu && op->m <= SKINNY_NT_M)
        return 2;
    return op->m <= SKINNY_M ? 1 : 0;
}

static void ocl_release(void *plan)
{
    ocl_plan *pl = plan;
    if (!pl) return;
    if (pl->k) clReleaseKernel(pl->k);
    free(pl);
}

static int set_scalar(cl_kernel k, cl_uint i, ab_gemm_type a, double v, char *err)
{
    if (a == AB_GT_F64) return ab_ocl_set_arg(k, i, sizeof(double), &v, err);
    if (a == AB_GT_I8) {
        cl_int x = (cl_int)v;
        return ab_ocl_set_arg(k, i, sizeof(x), &x, err);
    }
    float f = (float)v;
    return ab_ocl_set_arg(k, i, sizeof(f), &f, err);
}

static int ocl_prepare(void *dev, const ab_gemm_op *op, void **plan, char *err)
{
    ab_ocl_dev *d = dev;
    if (ocl_supports(dev, op, err) != 0) return -1;
    cl_program p;
    if (get_program(d, (int)op->a, &p, err)) return -1;
    ocl_plan *pl = calloc(1, sizeof(*pl));
    if (!pl) return ab_err(err, "out of memory");
    pl->op = *op;
    pl->d = d;
    cl_int rc;
    pl->kind = pick_kernel(d, op);
    static const char *const names[4] = {"ab_gemm", "ab_gemm_skinny", "ab_gemm_skinny_nt",
                                         "ab_gemm_skinny_nt_rows"};
    const char *kname = names[pl->kind];
    pl->k = clCreateKernel(p, kname, &rc);
    if (rc != CL_SUCCESS) {
        free(pl);
        return ab_err(err, "opencl: clCreateKernel(%s): %s", kname, ab_ocl_strerror(rc));
    }
    /* everything but the buffers is fixed for the plan */
    cl_long M = op->m, N = op->n, K = op->k;
    cl_long sam = op->ta ? 1 : op->lda, sak = op->ta ? op->lda : 1;
    cl_long sbk = op->tb ? 1 : op->ldb, sbn = op->tb ? op->ldb : 1;
    cl_long ldc = op->ldc, bsa = op->stride_a, bsb = op->stride_b, bsc = op->stride_c;
    if (AB_OCL_ARG(pl->k, 0, M) || AB_OCL_ARG(pl->k, 1, N) || AB_OCL_ARG(pl->k, 2, K) ||
        AB_OCL_ARG(pl->k, 4, sam) || AB_OCL_ARG(pl->k, 5, sak) || AB_OCL_ARG(pl->k, 6, bsa) ||
        AB_OCL_ARG(pl->k, 8, sbk) || AB_OCL_ARG(pl->k, 9, sbn) || AB_OCL_ARG(pl->k, 10, bsb) ||
        AB_OCL_ARG(pl->k, 12, ldc) || AB_OCL_ARG(pl->k, 13, bsc) ||
        set_scalar(pl->k, 14, op->a, op->alpha, err) ||
        set_scalar(pl->k, 15, op->a, op->beta, err)) {
        ocl_release(pl);
        return -1;
    }
    *plan = pl;
    return 0;
}

static int ocl_run(void *plan, void *a, void *b, void *c, char *err)
{
    ocl_plan *pl = plan;
    cl_mem ma = a, mb = b, mc = c;
    if (AB_OCL_ARG(pl->k, 3, ma) || AB_OCL_ARG(pl->k, 7, mb) || AB_OCL_ARG(pl->k, 11, mc))
        return -1;
    if (pl->kind == 2) {
        size_t gws[2] = {(size_t)pl->op.n * 64, (size_t)pl->op.batch};
        size_t lws[2] = {64, 1};
        return ab_ocl_launch(pl->d, pl->k, 2, gws, lws, err);
    }
    if (pl->kind == 1 || pl->kind == 3) {
        size_t gws[2] = {(size_t)((pl->op.n + 63) / 64 * 64), (size_t)pl->op.batch};
        size_t lws[2] = {64, 1};
        return ab_ocl_launch(pl->d, pl->k, 2, gws, lws, err);
    }
    size_t gws[3] = {(size_t)((pl->op.n + TS - 1) / TS) * RTS,
                     (size_t)((pl->op.m + TS - 1) / TS) * RTS, (size_t)pl->op.batch};
    size_t lws[3] = {RTS, RTS, 1};
    return ab_ocl_launch(pl->d, pl->k, 3, gws, lws, err);
}

static void ocl_describe(void *plan, char *buf, size_t len)
{
    const ocl_plan *pl = plan;
    char name[128] = "", ver[64] = "";
    clGetDeviceInfo(pl->d->device, CL_DEVICE_NAME, sizeof(name) - 1, name, NULL);
    clGetDeviceInfo(pl->d->device, CL_DRIVER_VERSION, sizeof(ver) - 1, ver, NULL);
    const char *acc = pl->op.a == AB_GT_F64 ? "f64" : pl->op.a == AB_GT_I8 ? "i32" : "f32";
    if (pl->kind == 2)
        snprintf(buf, len,
                 "accelbench OpenCL kernel for M <= %d, NT: one work-group of 64 per "
                 "column reducing along K, %s accumulation; %s, driver %s",
                 SKINNY_NT_M, acc, name, ver);
    else if (pl->kind == 3)
        snprintf(buf, len,
                 "accelbench OpenCL kernel for M <= %d, NT, CPU device: one "
                 "work-item per column, 8-wide vectors along K, %s accumulation; %s, "
                 "driver %s",
                 SKINNY_ROWS_M, acc, name, ver);
    else if (pl->kind == 1)
        snprintf(buf, len,
                 "accelbench OpenCL kernel for M <= %d: one work-item per column, %s "
                 "accumulation; %s, driver %s",
                 SKINNY_M, acc, name, ver);
    else
        snprintf(buf, len,
                 "accelbench OpenCL tiled kernel: %dx%d tile per work-group, 4x4 per "
                 "work-item, depth 16, %s accumulation; %s, driver %s",
                 TS, TS, acc, name, ver);
}

static const ab_gemm_impl ocl_impl = {
    .name = "portable",
    .dtype_ok = ocl_dtype_ok,
    .supports = ocl_supports,
    .prepare = ocl_prepare,
    .run = ocl_run,
    .release = ocl_release,
    .describe = ocl_describe,
};

const ab_gemm_backend ab_gemm_opencl = {
    .impl = {NULL, &ocl_impl},
    .absent = {"OpenCL has no vendor BLAS common to every driver (clBLAS and CLBlast are "
               "separate libraries, not used here)",
               NULL},
    .fill = ocl_fill,
};

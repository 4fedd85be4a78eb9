/* SPDX-License-Identifier: MIT */
/* membw on OpenCL: kernels in membw.cl, embedded at build time (ab_membw_cl_source). */
#include "membw.h"

#include "../../backends/opencl.h"
#include "../../core/ab.h"

#include <stdio.h>
#include <string.h>

extern const char ab_membw_cl_source[];

/* Vector width: 64-byte vectors on CPU drivers (one cache line per work-item, what their
 * vectorisers handle best), 16-byte vectors on GPUs (the widest coalesced load per lane). */
static int vector_width(const ab_ocl_dev *d, bool f64)
{
    int bytes = (d->type & CL_DEVICE_TYPE_CPU) ? 64 : 16;
    return bytes / (f64 ? 8 : 4);
}

static int get_program(ab_ocl_dev *d, bool f64, cl_program *p, char *err)
{
    char opts[128], key[32];
    int vw = vector_width(d, f64);
    snprintf(opts, sizeof(opts), "-cl-std=CL1.2 -DT=%s -DVW=%d%s", f64 ? "double" : "float", vw,
             f64 ? " -DUSE_FP64" : "");
    snprintf(key, sizeof(key), "membw-%s", f64 ? "f64" : "f32");
    return ab_ocl_program(d, key, ab_membw_cl_source, opts, p, err);
}

/* dot/read: one work-item per 64 elements (see membw.cl) */
static size_t ocl_partials(void *dev, const ab_membw_args *a)
{
    (void)dev;
    return a->n / 64;
}

static int set_scalar(cl_kernel k, cl_uint idx, bool f64, double v, char *err)
{
    float f = (float)v;
    cl_int rc = f64 ? clSetKernelArg(k, idx, sizeof(double), &v)
                    : clSetKernelArg(k, idx, sizeof(float), &f);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clSetKernelArg: %s", ab_ocl_strerror(rc));
    return 0;
}

static int set_mem(cl_kernel k, cl_uint idx, void *mem, char *err)
{
    cl_mem m = mem;
    cl_int rc = clSetKernelArg(k, idx, sizeof(m), &m);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clSetKernelArg: %s", ab_ocl_strerror(rc));
    return 0;
}

static int ocl_init(void *dev, const ab_membw_args *a, char *err)
{
    ab_ocl_dev *d = dev;
    cl_program p;
    if (get_program(d, a->f64, &p, err))
        return -1;
    cl_int rc;
    cl_kernel k = clCreateKernel(p, "mb_init", &rc);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clCreateKernel(mb_init): %s", ab_ocl_strerror(rc));
    size_t gws = a->n / (size_t)vector_width(d, a->f64);
    cl_uint mask = ab_membw_arrays(a->kernel);
    int r = set_mem(k, 0, a->a, err) || set_mem(k, 1, a->b, err) || set_mem(k, 2, a->c, err) ||
            set_scalar(k, 3, a->f64, AB_MEMBW_START_A, err) ||
            set_scalar(k, 4, a->f64, AB_MEMBW_START_B, err) ||
            set_scalar(k, 5, a->f64, AB_MEMBW_START_C, err) ||
            clSetKernelArg(k, 6, sizeof(mask), &mask) != CL_SUCCESS ||
            ab_ocl_launch(d, k, 1, &gws, NULL, err);
    clReleaseKernel(k);
    if (r)
        return -1;
    rc = clFinish(d->q);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clFinish: %s", ab_ocl_strerror(rc));
    return 0;
}

static int ocl_run(void *dev, const ab_membw_args *a, long iters, char *err)
{
    static const char *const names[AB_MB_NKERNELS] = {"mb_copy", "mb_scale", "mb_add", "mb_triad",
                                                      "mb_dot",  "mb_read",  "mb_write"};
    ab_ocl_dev *d = dev;
    cl_program p;
    if (get_program(d, a->f64, &p, err))
        return -1;
    cl_int rc;
    cl_kernel k = clCreateKernel(p, names[a->kernel], &rc);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clCreateKernel(%s): %s", names[a->kernel],
                      ab_ocl_strerror(rc));
    size_t gws = a->n / (size_t)vector_width(d, a->f64);
    int r = 0;
    switch (a->kernel) {
    case AB_MB_COPY: r = set_mem(k, 0, a->a, err) || set_mem(k, 1, a->c, err); break;
    case AB_MB_SCALE:
        r = set_mem(k, 0, a->b, err) || set_mem(k, 1, a->c, err) ||
            set_scalar(k, 2, a->f64, AB_MEMBW_SCALAR, err);
        break;
    case AB_MB_ADD:
        r = set_mem(k, 0, a->a, err) || set_mem(k, 1, a->b, err) || set_mem(k, 2, a->c, err);
        break;
    case AB_MB_TRIAD:
        r = set_mem(k, 0, a->a, err) || set_mem(k, 1, a->b, err) || set_mem(k, 2, a->c, err) ||
            set_scalar(k, 3, a->f64, AB_MEMBW_SCALAR, err);
        break;
    case AB_MB_WRITE:
        r = set_mem(k, 0, a->c, err) || set_scalar(k, 1, a->f64, AB_MEMBW_WRITE_VALUE, err);
        break;
    case AB_MB_DOT:
        gws = a->n / 64;
        r = set_mem(k, 0, a->a, err) || set_mem(k, 1, a->b, err) || set_mem(k, 2, a->partial, err);
        break;
    case AB_MB_READ:
        gws = a->n / 64;
        r = set_mem(k, 0, a->a, err) || set_mem(k, 1, a->partial, err);
        break;
    default: r = ab_err(err, "opencl: unknown kernel"); break;
    }
    for (long i = 0; !r && i < iters; i++)
        r = ab_ocl_launch(d, k, 1, &gws, NULL, err);
    clReleaseKernel(k);
    return r ? -1 : 0;
}

const ab_membw_impl ab_membw_opencl = {
    .has_streaming = false,
    .partials = ocl_partials,
    .init = ocl_init,
    .run = ocl_run,
};

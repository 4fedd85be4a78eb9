/* SPDX-License-Identifier: MIT */
/* The OpenCL backend's device handle and helpers, shared with the suites' OpenCL kernels. */
#ifndef AB_BACKEND_OPENCL_H
#define AB_BACKEND_OPENCL_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "backend.h"

#define AB_OCL_MAX_PROGRAMS 32
#define AB_OCL_MAX_PINNED 64
#define AB_OCL_MAX_KERNELS 64

typedef struct ab_ocl_dev {
    cl_platform_id platform;
    cl_device_id device;
    cl_context ctx;
    cl_command_queue q; /* in-order, profiling enabled */
    cl_device_type type;
    size_t max_wg;
    cl_uint compute_units;
    cl_ulong max_alloc;
    bool fp64;
    /* timer: the events of the commands enqueued while a timer runs */
    bool timing;
    cl_event *events;
    size_t nevents, cap_events;
    bool timing_lost;
    /* programs built once per device, by key */
    struct {
        char key[96];
        cl_program prog;
    } progs[AB_OCL_MAX_PROGRAMS];
    int nprogs;
    /* kernels created once per device, by program and name (ab_ocl_kernel) */
    struct {
        cl_program prog;
        char name[64];
        cl_kernel k;
    } kernels[AB_OCL_MAX_KERNELS];
    int nkernels;
    /* pinned host buffers: mapped CL_MEM_ALLOC_HOST_PTR buffers */
    struct {
        void *ptr;
        cl_mem mem;
    } pinned[AB_OCL_MAX_PINNED];
} ab_ocl_dev;

extern const ab_backend_ops ab_backend_opencl;

const char *ab_ocl_strerror(cl_int e);
/* Builds (once) and returns the program `key` from backends/opencl_common.cl (the test pattern,
 * bf16 rounding) followed by src, with options; on a build failure err holds the first line of
 * the build log. */
int ab_ocl_program(ab_ocl_dev *d, const char *key, const char *src, const char *options,
                   cl_program *out, char *err);
/* The kernel `name` of program p, created once per device and released with it. Shared by
 * every caller: set every argument before each launch (the launch captures them). Kernels a
 * plan owns with arguments set once belong in the plan (clCreateKernel) instead. */
int ab_ocl_kernel(ab_ocl_dev *d, cl_program p, const char *name, cl_kernel *out, char *err);
/* Enqueues an ND-range kernel; lws may be NULL. Tracked by the device timer. */
int ab_ocl_launch(ab_ocl_dev *d, cl_kernel k, cl_uint dims, const size_t *gws, const size_t *lws,
                  char *err);
/* clSetKernelArg with the failure as a one-line error naming the argument index. */
int ab_ocl_set_arg(cl_kernel k, cl_uint i, size_t size, const void *v, char *err);
/* The usual call: an lvalue argument in a function with `char *err` in scope. */
#define AB_OCL_ARG(k, i, v) ab_ocl_set_arg((k), (i), sizeof(v), &(v), err)
/* Records an enqueued command's event for the timer (takes ownership of ev). */
void ab_ocl_track(ab_ocl_dev *d, cl_event ev);

#endif

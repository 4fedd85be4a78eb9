/* SPDX-License-Identifier: MIT */
/*
 * OpenCL backend: any ICD (PoCL on a CPU makes it testable without a GPU). Timing uses the
 * profiling timestamps of the commands themselves: the sum over the commands enqueued between
 * timer_start and timer_stop of each one's END - START. That is the device's execution time of
 * the work and leaves out the runtime's dispatch gaps between back-to-back commands, which are
 * milliseconds on CPU drivers such as PoCL (clpeak times its kernels the same way).
 */
#include "opencl.h"

#include "../core/ab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* backends/opencl_common.cl, embedded at build time: the start of every program */
extern const char ab_opencl_common_source[];

int ab_ocl_set_arg(cl_kernel k, cl_uint i, size_t size, const void *v, char *err)
{
    cl_int rc = clSetKernelArg(k, i, size, v);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clSetKernelArg(%u): %s", i, ab_ocl_strerror(rc));
    return 0;
}

const char *ab_ocl_strerror(cl_int e)
{
    switch (e) {
#define E(x)                                                                                       \
    case x:                                                                                        \
        return #x;
        E(CL_SUCCESS)
        E(CL_DEVICE_NOT_FOUND)
        E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE)
        E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        E(CL_OUT_OF_RESOURCES)
        E(CL_OUT_OF_HOST_MEMORY)
        E(CL_PROFILING_INFO_NOT_AVAILABLE)
        E(CL_BUILD_PROGRAM_FAILURE)
        E(CL_INVALID_VALUE)
        E(CL_INVALID_DEVICE)
        E(CL_INVALID_CONTEXT)
        E(CL_INVALID_COMMAND_QUEUE)
        E(CL_INVALID_MEM_OBJECT)
        E(CL_INVALID_PROGRAM)
        E(CL_INVALID_PROGRAM_EXECUTABLE)
        E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL)
        E(CL_INVALID_ARG_INDEX)
        E(CL_INVALID_ARG_VALUE)
        E(CL_INVALID_ARG_SIZE)
        E(CL_INVALID_KERNEL_ARGS)
        E(CL_INVALID_WORK_DIMENSION)
        E(CL_INVALID_WORK_GROUP_SIZE)
        E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_OFFSET)
        E(CL_INVALID_EVENT)
        E(CL_INVALID_OPERATION)
        E(CL_INVALID_BUFFER_SIZE)
        E(CL_INVALID_GLOBAL_WORK_SIZE)
#undef E
    case -1001: /* CL_PLATFORM_NOT_FOUND_KHR, from the ICD extension header */
        return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform installed)";
    default:
        return "unknown OpenCL error";
    }
}

#define CL_TRY(call, what)                                                                         \
    do {                                                                                           \
        cl_int rc_ = (call);                                                                       \
        if (rc_ != CL_SUCCESS)                                                                     \
            return ab_err(err, "opencl: %s: %s (%d)", what, ab_ocl_strerror(rc_), rc_);            \
    } while (0)

typedef struct ocl_be {
    cl_uint n;
    cl_platform_id plat[64];
    cl_device_id dev[64];
} ocl_be;

static int ocl_init(void **bep, char *why)
{
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if (rc != CL_SUCCESS || np == 0)
        return ab_err(why, "no OpenCL platform (ICD loader: %s; is an ICD such as "
                           "pocl-opencl-icd installed?)",
                      rc == CL_SUCCESS ? "0 platforms" : ab_ocl_strerror(rc));
    cl_platform_id plats[16];
    if (np > 16)
        np = 16;
    if (clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS)
        return ab_err(why, "clGetPlatformIDs failed");
    ocl_be *be = calloc(1, sizeof(*be));
    if (!be)
        return ab_err(why, "out of memory");
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
            continue;
        cl_device_id devs[64];
        if (nd > 64 - be->n)
            nd = 64 - be->n;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS)
            continue;
        for (cl_uint d = 0; d < nd; d++) {
            be->plat[be->n] = plats[p];
            be->dev[be->n] = devs[d];
            be->n++;
        }
    }
    *bep = be;
    return 0;
}

static void ocl_fini(void *be)
{
    free(be);
}

static int ocl_device_count(void *be)
{
    return (int)((ocl_be *)be)->n;
}

static uint64_t host_llc_bytes(void)
{
    /* PoCL and other CPU drivers may report a per-core cache; the sweep needs the host's LLC. */
    long best = 0;
    for (int idx = 0; idx < 16; idx++) {
        char path[160];
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        long kb = 0;
        char unit = 'K';
        if (fscanf(f, "%ld%c", &kb, &unit) >= 1) {
            long b = kb * (unit == 'M' ? 1048576L : 1024L);
            if (b > best)
                best = b;
        }
        fclose(f);
    }
    return (uint64_t)best;
}

static int ocl_device_info(void *bep, int idx, ab_device_info *info, char *err)
{
    ocl_be *be = bep;
    if (idx < 0 || (cl_uint)idx >= be->n)
        return ab_err(err, "opencl: no device %d", idx);
    cl_device_id d = be->dev[idx];
    memset(info, 0, sizeof(*info));
    CL_TRY(clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof(info->name), info->name, NULL), "name");
    clGetDeviceInfo(d, CL_DEVICE_VENDOR, sizeof(info->vendor), info->vendor, NULL);
    clGetDeviceInfo(d, CL_DRIVER_VERSION, sizeof(info->driver), info->driver, NULL);
    clGetDeviceInfo(d, CL_DEVICE_VERSION, sizeof(info->arch), info->arch, NULL);
    ab_trim(info->name);
    cl_ulong mem = 0, cache = 0;
    cl_uint cus = 0, clock = 0;
    cl_bool unified = CL_FALSE;
    cl_device_fp_config dp = 0;
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(mem), &mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, sizeof(cache), &cache, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(cus), &cus, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof(clock), &clock, NULL);
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof(unified), &unified, NULL);
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof(dp), &dp, NULL);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof(type), &type, NULL);
    char ext[8192] = "";
    clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sizeof(ext), ext, NULL);
    info->mem_bytes = mem;
    info->cache_bytes = cache;
    if (type & CL_DEVICE_TYPE_CPU) {
        uint64_t llc = host_llc_bytes();
        if (llc > info->cache_bytes)
            info->cache_bytes = llc;
    }
    info->compute_units = (int)cus;
    info->clock_mhz = (int)clock;
    info->host_memory = unified == CL_TRUE || (type & CL_DEVICE_TYPE_CPU);
    info->fp64 = dp != 0;
    info->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    info->warp_size = 0;
    info->kind = AB_KIND_PORTABLE;
    info->threads = 0;
    info->default_bf16 = false; /* the kernels compute in f32 */
    /* a GPU behind OpenCL is sampled under its cuda/hip id */
    info->sampler = AB_SAMPLER_NONE;
    return 0;
}

static int ocl_open(void *bep, int idx, void **devp, char *err)
{
    ocl_be *be = bep;
    if (idx < 0 || (cl_uint)idx >= be->n)
        return ab_err(err, "opencl: no device %d", idx);
    ab_ocl_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return ab_err(err, "out of memory");
    d->platform = be->plat[idx];
    d->device = be->dev[idx];
    cl_int rc;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)d->platform, 0};
    d->ctx = clCreateContext(props, 1, &d->device, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
        free(d);
        return ab_err(err, "opencl: clCreateContext: %s", ab_ocl_strerror(rc));
    }
    d->q = clCreateCommandQueue(d->ctx, d->device, CL_QUEUE_PROFILING_ENABLE, &rc);
    if (rc != CL_SUCCESS) {
        clReleaseContext(d->ctx);
        free(d);
        return ab_err(err, "opencl: clCreateCommandQueue: %s", ab_ocl_strerror(rc));
    }
    cl_device_fp_config dp = 0;
    clGetDeviceInfo(d->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(d->max_wg), &d->max_wg, NULL);
    clGetDeviceInfo(d->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(d->compute_units),
                    &d->compute_units, NULL);
    clGetDeviceInfo(d->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof(d->max_alloc), &d->max_alloc,
                    NULL);
    clGetDeviceInfo(d->device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof(dp), &dp, NULL);
    clGetDeviceInfo(d->device, CL_DEVICE_TYPE, sizeof(d->type), &d->type, NULL);
    d->fp64 = dp != 0;
    *devp = d;
    return 0;
}

static void drop_timer_events(ab_ocl_dev *d)
{
    for (size_t i = 0; i < d->nevents; i++)
        clReleaseEvent(d->events[i]);
    d->nevents = 0;
}

static void ocl_close(void *dev)
{
    ab_ocl_dev *d = dev;
    if (!d)
        return;
    clFinish(d->q);
    drop_timer_events(d);
    free(d->events);
    for (int i = 0; i < d->nkernels; i++)
        clReleaseKernel(d->kernels[i].k);
    for (int i = 0; i < d->nprogs; i++)
        clReleaseProgram(d->progs[i].prog);
    clReleaseCommandQueue(d->q);
    clReleaseContext(d->ctx);
    free(d);
}

void ab_ocl_track(ab_ocl_dev *d, cl_event ev)
{
    if (!ev)
        return;
    if (d->timing && d->nevents == d->cap_events) {
        size_t cap = d->cap_events ? 2 * d->cap_events : 256;
        cl_event *v = realloc(d->events, cap * sizeof(*v));
        if (v) {
            d->events = v;
            d->cap_events = cap;
        }
    }
    if (!d->timing || d->nevents == d->cap_events) {
        /* not timing, or no memory to remember it: timer_stop reports the loss */
        if (d->timing)
            d->timing_lost = true;
        clReleaseEvent(ev);
        return;
    }
    d->events[d->nevents++] = ev;
}

int ab_ocl_launch(ab_ocl_dev *d, cl_kernel k, cl_uint dims, const size_t *gws, const size_t *lws,
                  char *err)
{
    cl_event ev = NULL;
    CL_TRY(clEnqueueNDRangeKernel(d->q, k, dims, NULL, gws, lws, 0, NULL,
                                  d->timing ? &ev : NULL),
           "clEnqueueNDRangeKernel");
    ab_ocl_track(d, ev);
    return 0;
}

int ab_ocl_program(ab_ocl_dev *d, const char *key, const char *src, const char *options,
                   cl_program *out, char *err)
{
    for (int i = 0; i < d->nprogs; i++)
        if (strcmp(d->progs[i].key, key) == 0) {
            *out = d->progs[i].prog;
            return 0;
        }
    if (d->nprogs == AB_OCL_MAX_PROGRAMS)
        return ab_err(err, "opencl: program cache full");
    cl_int rc;
    const char *srcs[2] = {ab_opencl_common_source, src};
    cl_program p = clCreateProgramWithSource(d->ctx, 2, srcs, NULL, &rc);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clCreateProgramWithSource: %s", ab_ocl_strerror(rc));
    rc = clBuildProgram(p, 1, &d->device, options, NULL, NULL);
    if (rc != CL_SUCCESS) {
        char log[2048] = "";
        clGetProgramBuildInfo(p, d->device, CL_PROGRAM_BUILD_LOG, sizeof(log) - 1, log, NULL);
        char *nl = log;
        while (*nl && (*nl == '\n' || *nl == ' '))
            nl++;
        char *end = strchr(nl, '\n');
        if (end)
            *end = '\0';
        clReleaseProgram(p);
        return ab_err(err, "opencl: building %s: %s: %s", key, ab_ocl_strerror(rc), nl);
    }
    ab_strlcpy(d->progs[d->nprogs].key, key, sizeof(d->progs[0].key));
    d->progs[d->nprogs].prog = p;
    d->nprogs++;
    *out = p;
    return 0;
}

int ab_ocl_kernel(ab_ocl_dev *d, cl_program p, const char *name, cl_kernel *out, char *err)
{
    for (int i = 0; i < d->nkernels; i++)
        if (d->kernels[i].prog == p && strcmp(d->kernels[i].name, name) == 0) {
            *out = d->kernels[i].k;
            return 0;
        }
    if (d->nkernels == AB_OCL_MAX_KERNELS)
        return ab_err(err, "opencl: kernel cache full");
    cl_int rc;
    cl_kernel k = clCreateKernel(p, name, &rc);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clCreateKernel(%s): %s", name, ab_ocl_strerror(rc));
    d->kernels[d->nkernels].prog = p;
    ab_strlcpy(d->kernels[d->nkernels].name, name, sizeof(d->kernels[0].name));
    d->kernels[d->nkernels].k = k;
    d->nkernels++;
    *out = k;
    return 0;
}

static int ocl_mem_alloc(void *dev, size_t bytes, void **mem, char *err)
{
    ab_ocl_dev *d = dev;
    if (d->max_alloc && bytes > d->max_alloc)
        return ab_err(err, "opencl: %zu bytes exceed the device's largest allocation (%llu)", bytes,
                      (unsigned long long)d->max_alloc);
    cl_int rc;
    cl_mem m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: clCreateBuffer(%zu): %s", bytes, ab_ocl_strerror(rc));
    /* Buffers are allocated lazily by most drivers; a fill forces the allocation now so an
     * out-of-memory shows up here rather than inside a timed kernel. */
    const unsigned char zero = 0;
    rc = clEnqueueFillBuffer(d->q, m, &zero, 1, 0, bytes, 0, NULL, NULL);
    if (rc == CL_SUCCESS)
        rc = clFinish(d->q);
    if (rc != CL_SUCCESS) {
        clReleaseMemObject(m);
        return ab_err(err, "opencl: allocating %zu bytes: %s", bytes, ab_ocl_strerror(rc));
    }
    *mem = m;
    return 0;
}

static void ocl_mem_free(void *dev, void *mem)
{
    (void)dev;
    if (mem)
        clReleaseMemObject((cl_mem)mem);
}

static int ocl_host_alloc(void *dev, size_t bytes, bool pinned, void **ptr, char *err)
{
    ab_ocl_dev *d = dev;
    if (!pinned) {
        if (posix_memalign(ptr, 4096, bytes) != 0)
            return ab_err(err, "cannot allocate %zu bytes of host memory", bytes);
        memset(*ptr, 0, bytes);
        return 0;
    }
    int slot = -1;
    for (int i = 0; i < AB_OCL_MAX_PINNED; i++)
        if (!d->pinned[i].ptr) {
            slot = i;
            break;
        }
    if (slot < 0)
        return ab_err(err, "opencl: too many pinned buffers");
    cl_int rc;
    cl_mem m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL, &rc);
    if (rc != CL_SUCCESS)
        return ab_err(err, "opencl: pinned clCreateBuffer(%zu): %s", bytes, ab_ocl_strerror(rc));
    void *p = clEnqueueMapBuffer(d->q, m, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, NULL,
                                 NULL, &rc);
    if (rc != CL_SUCCESS) {
        clReleaseMemObject(m);
        return ab_err(err, "opencl: mapping pinned buffer: %s", ab_ocl_strerror(rc));
    }
    memset(p, 0, bytes);
    d->pinned[slot].ptr = p;
    d->pinned[slot].mem = m;
    *ptr = p;
    return 0;
}

static void ocl_host_free(void *dev, void *ptr, bool pinned)
{
    ab_ocl_dev *d = dev;
    if (!pinned) {
        free(ptr);
        return;
    }
    for (int i = 0; i < AB_OCL_MAX_PINNED; i++)
        if (d->pinned[i].ptr == ptr) {
            clEnqueueUnmapMemObject(d->q, d->pinned[i].mem, ptr, 0, NULL, NULL);
            clFinish(d->q);
            clReleaseMemObject(d->pinned[i].mem);
            d->pinned[i].ptr = NULL;
            d->pinned[i].mem = NULL;
        }
}

static int ocl_copy(void *dev, ab_copy_dir dir, void *dst, const void *src, size_t off,
                    size_t bytes, char *err)
{
    ab_ocl_dev *d = dev;
    cl_event ev = NULL;
    cl_event *evp = d->timing ? &ev : NULL;
    switch (dir) {
    case AB_COPY_H2D:
        CL_TRY(clEnqueueWriteBuffer(d->q, (cl_mem)dst, CL_FALSE, off, bytes, src, 0, NULL, evp),
               "clEnqueueWriteBuffer");
        break;
    case AB_COPY_D2H:
        CL_TRY(clEnqueueReadBuffer(d->q, (cl_mem)src, CL_FALSE, off, bytes, dst, 0, NULL, evp),
               "clEnqueueReadBuffer");
        break;
    case AB_COPY_D2D:
        CL_TRY(clEnqueueCopyBuffer(d->q, (cl_mem)src, (cl_mem)dst, off, off, bytes, 0, NULL, evp),
               "clEnqueueCopyBuffer");
        break;
    }
    ab_ocl_track(d, ev);
    return 0;
}

static int ocl_sync(void *dev, char *err)
{
    CL_TRY(clFinish(((ab_ocl_dev *)dev)->q), "clFinish");
    return 0;
}

static int ocl_timer_start(void *dev, char *err)
{
    ab_ocl_dev *d = dev;
    (void)err;
    drop_timer_events(d);
    d->timing_lost = false;
    d->timing = true;
    return 0;
}

static int ocl_timer_stop(void *dev, double *seconds, char *err)
{
    ab_ocl_dev *d = dev;
    d->timing = false;
    CL_TRY(clFinish(d->q), "clFinish");
    if (d->timing_lost) {
        drop_timer_events(d);
        return ab_err(err, "opencl: out of memory recording timer events");
    }
    if (!d->nevents)
        return ab_err(err, "opencl: timer stopped with no command enqueued");
    cl_ulong total = 0;
    for (size_t i = 0; i < d->nevents; i++) {
        cl_ulong t0 = 0, t1 = 0;
        cl_int rc = clGetEventProfilingInfo(d->events[i], CL_PROFILING_COMMAND_START, sizeof(t0),
                                            &t0, NULL);
        if (rc == CL_SUCCESS)
            rc = clGetEventProfilingInfo(d->events[i], CL_PROFILING_COMMAND_END, sizeof(t1), &t1,
                                         NULL);
        if (rc != CL_SUCCESS) {
            drop_timer_events(d);
            return ab_err(err, "opencl: profiling info: %s", ab_ocl_strerror(rc));
        }
        if (t1 < t0) {
            drop_timer_events(d);
            return ab_err(err, "opencl: profiling timestamps out of order (%llu..%llu)",
                          (unsigned long long)t0, (unsigned long long)t1);
        }
        total += t1 - t0;
    }
    drop_timer_events(d);
    *seconds = (double)total * 1e-9;
    return 0;
}

extern const ab_suite_impls ab_opencl_suite_impls; /* suites/impl_tables.c */

const ab_backend_ops ab_backend_opencl = {
    .abi = AB_BACKEND_ABI,
    .name = "opencl",
    .init = ocl_init,
    .fini = ocl_fini,
    .device_count = ocl_device_count,
    .device_info = ocl_device_info,
    .open = ocl_open,
    .close = ocl_close,
    .mem_alloc = ocl_mem_alloc,
    .mem_free = ocl_mem_free,
    .host_alloc = ocl_host_alloc,
    .host_free = ocl_host_free,
    .copy = ocl_copy,
    .sync = ocl_sync,
    .timer_start = ocl_timer_start,
    .timer_stop = ocl_timer_stop,
    .impls = &ab_opencl_suite_impls,
};

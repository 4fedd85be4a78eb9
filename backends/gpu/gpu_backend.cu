/* SPDX-License-Identifier: MIT */
/*
 * The CUDA and the HIP backend: one source compiled twice (see gpu_port.h). Built as the plugin
 * libaccelbench-cuda.so / libaccelbench-hip.so with the vendor runtime linked in, so the main
 * binary never depends on it. Timing uses events on the device's one non-blocking stream.
 */
#include "gpu_port.h"

#include "../backend.h"
#include "../../suites/membw/membw.h"
#include "../../suites/gemm/gemm.h"
#include "../../suites/attention/attention.h"
#include "../../suites/tokens/tokens.h"
#include "../../suites/train/train.h"
#include "../../suites/collectives/collectives.h"
#include "../../suites/p2p/p2p.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const ab_membw_impl ab_membw_gpu;
extern const ab_gemm_backend ab_gemm_gpu;
extern const ab_attn_impl ab_attention_gpu;
extern const ab_tok_ops ab_tokens_gpu;
extern const ab_train_ops ab_train_gpu;
extern const ab_coll_impl ab_coll_gpu;
extern const ab_p2p_impl ab_p2p_gpu;

namespace {

struct gpu_be {
    int count;
};

/* Names the missing piece before asking the runtime, whose own message for a box without a
 * driver ("CUDA driver version is insufficient...") reads like a version problem. */
int driver_present(char *why)
{
#ifdef AB_GPU_HIP
    if (access("/dev/kfd", F_OK) != 0)
        return gpu_fail(why, "no AMD GPU driver (/dev/kfd absent: amdgpu kernel driver not loaded)");
#else
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return gpu_fail(why, "no NVIDIA driver (%s)", e ? e : "libcuda.so.1 not found");
    }
    dlclose(h);
#endif
    return 0;
}

int be_init(void **bep, char *why)
{
    char *err = why;
    if (driver_present(why) != 0)
        return -1;
    int n = 0;
    GPU_TRY(gpuGetDeviceCount(&n), "no usable device (" AB_GPU_VENDOR_RUNTIME " runtime)");
    gpu_be *be = (gpu_be *)calloc(1, sizeof(*be));
    if (!be)
        return gpu_fail(why, "out of memory");
    be->count = n;
    *bep = be;
    return 0;
}

void be_fini(void *be)
{
    free(be);
}

int be_device_count(void *be)
{
    return ((gpu_be *)be)->count;
}

int be_device_info(void *be, int idx, ab_device_info *info, char *err)
{
    if (idx < 0 || idx >= ((gpu_be *)be)->count)
        return gpu_fail(err, AB_GPU_NAME ": no device %d", idx);
    gpuDeviceProp p;
    GPU_TRY(gpuGetDeviceProperties(&p, idx), "get device properties");
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%.127s", p.name);
#ifdef AB_GPU_HIP
    snprintf(info->vendor, sizeof(info->vendor), "AMD");
    snprintf(info->arch, sizeof(info->arch), "%.31s", p.gcnArchName);
#else
    snprintf(info->vendor, sizeof(info->vendor), "NVIDIA");
    snprintf(info->arch, sizeof(info->arch), "sm_%d%d", p.major, p.minor);
#endif
    int drv = 0, rt = 0;
    (void)gpuDriverGetVersion(&drv);
    (void)gpuRuntimeGetVersion(&rt);
    snprintf(info->driver, sizeof(info->driver), "driver API %d, runtime %d", drv, rt);
    snprintf(info->pci_bus_id, sizeof(info->pci_bus_id), "%04x:%02x:%02x.0", p.pciDomainID,
             p.pciBusID, p.pciDeviceID);
    info->mem_bytes = p.totalGlobalMem;
    info->cache_bytes = p.l2CacheSize > 0 ? (uint64_t)p.l2CacheSize : 0;
    info->compute_units = p.multiProcessorCount;
    int khz = 0;
    if (gpuDeviceGetAttribute(&khz, gpuDevAttrClockRate, idx) == gpuSuccess)
        info->clock_mhz = khz / 1000;
    info->warp_size = p.warpSize;
    info->host_memory = false;
    info->fp64 = true;
    info->fp16 = true;
    info->kind = AB_KIND_GPU;
    info->threads = 0;
    info->default_bf16 = true;
#ifdef AB_GPU_HIP
    info->sampler = AB_SAMPLER_ROCM_SMI;
#else
    info->sampler = AB_SAMPLER_NVML;
#endif
    return 0;
}

int be_open(void *be, int idx, void **devp, char *err)
{
    if (idx < 0 || idx >= ((gpu_be *)be)->count)
        return gpu_fail(err, AB_GPU_NAME ": no device %d", idx);
    GPU_TRY(gpuSetDevice(idx), "set device");
    gpuDeviceProp p;
    GPU_TRY(gpuGetDeviceProperties(&p, idx), "get device properties");
    ab_gpu_dev *d = (ab_gpu_dev *)calloc(1, sizeof(*d));
    if (!d)
        return gpu_fail(err, "out of memory");
    d->ordinal = idx;
    d->sms = p.multiProcessorCount;
    d->max_threads_per_sm = p.maxThreadsPerMultiProcessor;
    d->warp = p.warpSize;
    d->l2_bytes = p.l2CacheSize > 0 ? (size_t)p.l2CacheSize : 0;
    d->cc_major = p.major;
    d->cc_minor = p.minor;
    gpuError_t e = gpuStreamCreateWithFlags(&d->stream, gpuStreamNonBlocking);
    if (e == gpuSuccess)
        e = gpuEventCreate(&d->ev_start);
    if (e == gpuSuccess)
        e = gpuEventCreate(&d->ev_stop);
    if (e != gpuSuccess) {
        free(d);
        return gpu_fail(err, AB_GPU_NAME ": creating stream/events: %s", gpuGetErrorString(e));
    }
    *devp = d;
    return 0;
}

void be_close(void *dev)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    if (!d)
        return;
    (void)gpuSetDevice(d->ordinal);
    (void)gpuStreamSynchronize(d->stream);
    (void)gpuEventDestroy(d->ev_start);
    (void)gpuEventDestroy(d->ev_stop);
    (void)gpuStreamDestroy(d->stream);
    free(d);
}

int be_mem_alloc(void *dev, size_t bytes, void **mem, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    void *p = NULL;
    gpuError_t e = gpuMalloc(&p, bytes);
    if (e != gpuSuccess) {
        (void)gpuGetLastError(); /* clear the sticky out-of-memory so later calls do not see it */
        return gpu_fail(err, AB_GPU_NAME ": allocating %zu bytes: %s", bytes, gpuGetErrorString(e));
    }
    *mem = p;
    return 0;
}

void be_mem_free(void *dev, void *mem)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    (void)gpuSetDevice(d->ordinal);
    (void)gpuStreamSynchronize(d->stream);
    (void)gpuFree(mem);
}

int be_host_alloc(void *dev, size_t bytes, bool pinned, void **ptr, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    if (!pinned) {
        if (posix_memalign(ptr, 4096, bytes) != 0)
            return gpu_fail(err, "cannot allocate %zu bytes of host memory", bytes);
        memset(*ptr, 0, bytes); /* fault the pages in now, not inside a timed copy */
        return 0;
    }
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    GPU_TRY(gpuMallocHost(ptr, bytes), "allocating pinned host memory");
    memset(*ptr, 0, bytes);
    return 0;
}

void be_host_free(void *dev, void *ptr, bool pinned)
{
    (void)dev;
    if (pinned)
        (void)gpuFreeHost(ptr);
    else
        free(ptr);
}

int be_copy(void *dev, ab_copy_dir dir, void *dst, const void *src, size_t off, size_t bytes,
            char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    switch (dir) {
    case AB_COPY_H2D:
        GPU_TRY(gpuMemcpyAsync((char *)dst + off, src, bytes, gpuMemcpyHostToDevice, d->stream),
                "copy host to device");
        break;
    case AB_COPY_D2H:
        GPU_TRY(gpuMemcpyAsync(dst, (const char *)src + off, bytes, gpuMemcpyDeviceToHost,
                               d->stream),
                "copy device to host");
        break;
    case AB_COPY_D2D:
        GPU_TRY(gpuMemcpyAsync((char *)dst + off, (const char *)src + off, bytes,
                               gpuMemcpyDeviceToDevice, d->stream),
                "copy device to device");
        break;
    }
    return 0;
}

int be_sync(void *dev, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuStreamSynchronize(d->stream), "synchronize");
    return 0;
}

int be_timer_start(void *dev, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    GPU_TRY(gpuEventRecord(d->ev_start, d->stream), "record start event");
    return 0;
}

int be_timer_stop(void *dev, double *seconds, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuEventRecord(d->ev_stop, d->stream), "record stop event");
    GPU_TRY(gpuEventSynchronize(d->ev_stop), "wait for stop event");
    /* a kernel fault surfaces here rather than as a silent fast number */
    GPU_TRY(gpuGetLastError(), "kernel launch");
    float ms = 0.0f;
    GPU_TRY(gpuEventElapsedTime(&ms, d->ev_start, d->ev_stop), "elapsed time");
    *seconds = (double)ms * 1e-3;
    return 0;
}

int be_peer_access(void *be, int idx, int peer, char *err)
{
    int n = ((gpu_be *)be)->count;
    if (idx < 0 || idx >= n || peer < 0 || peer >= n)
        return gpu_fail(err, AB_GPU_NAME ": no device pair %d, %d", idx, peer);
    if (idx == peer)
        return 1;
    int can = 0;
    GPU_TRY(gpuDeviceCanAccessPeer(&can, idx, peer), "query peer access");
    return can ? 1 : 0;
}

int be_peer_copy(void *dst_dev, void *dst, void *src_dev, const void *src, size_t bytes,
                 char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dst_dev, *s = (ab_gpu_dev *)src_dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    if (d->ordinal != s->ordinal) {
        gpuError_t e = gpuDeviceEnablePeerAccess(s->ordinal, 0);
        if (e == gpuErrorPeerAccessAlreadyEnabled)
            (void)gpuGetLastError(); /* not sticky, but clear it for the timer's check */
        else if (e != gpuSuccess)
            return gpu_fail(err, AB_GPU_NAME ": enabling peer access %d -> %d: %s", d->ordinal,
                            s->ordinal, gpuGetErrorString(e));
    }
    GPU_TRY(gpuMemcpyPeerAsync(dst, d->ordinal, src, s->ordinal, bytes, d->stream),
            "peer copy");
    return 0;
}

/* the suites' kernel tables (suites/<suite>/<suite>_gpu.cu) */
const ab_suite_impls gpu_impls = {&ab_membw_gpu,  &ab_gemm_gpu, &ab_attention_gpu, &ab_tokens_gpu,
                                  &ab_train_gpu, &ab_coll_gpu, &ab_p2p_gpu};

ab_backend_ops make_ops()
{
    ab_backend_ops o;
    memset(&o, 0, sizeof(o));
    o.abi = AB_BACKEND_ABI;
    o.name = AB_GPU_NAME;
    o.init = be_init;
    o.fini = be_fini;
    o.device_count = be_device_count;
    o.device_info = be_device_info;
    o.open = be_open;
    o.close = be_close;
    o.mem_alloc = be_mem_alloc;
    o.mem_free = be_mem_free;
    o.host_alloc = be_host_alloc;
    o.host_free = be_host_free;
    o.copy = be_copy;
    o.sync = be_sync;
    o.timer_start = be_timer_start;
    o.timer_stop = be_timer_stop;
    o.impls = &gpu_impls;
    o.peer_access = be_peer_access;
    o.peer_copy = be_peer_copy;
    return o;
}

} // namespace

#ifdef AB_GPU_HIP
extern "C" const ab_backend_ops *ab_backend_plugin_hip(void)
#else
extern "C" const ab_backend_ops *ab_backend_plugin_cuda(void)
#endif
{
    static const ab_backend_ops ops = make_ops();
    return &ops;
}

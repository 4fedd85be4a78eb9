// SPDX-License-Identifier: MIT
// The p2p suite's concurrent copies on CUDA / HIP (p2p.h): a spin kernel on a host-mapped flag
// gates every stream, so all copies start together and the enqueue time is outside the events.
#include "../../backends/gpu/gpu_port.h"
#include "p2p.h"

#include <stdlib.h>
#include <string.h>

namespace
{

// Spins until the host sets *flag, or ~10 s of device clock (a host that died must not leave a
// GPU spinning forever).
__global__ void spin_kernel(volatile int *flag, long long limit)
{
    long long t0 = clock64();
    while (*flag == 0 && clock64() - t0 < limit) {
    }
}

// dst = src, 16 bytes a thread per step, grid-stride; src may be a peer device's memory.
__global__ void copy_kernel(uint4 *dst, const uint4 *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

int *flag_host;

int enable_peer(int dev, int peer, char *err)
{
    if (dev == peer) return 0;
    gpuError_t e = gpuDeviceEnablePeerAccess(peer, 0);
    if (e == gpuErrorPeerAccessAlreadyEnabled) {
        (void)gpuGetLastError();
        return 0;
    }
    if (e != gpuSuccess)
        return gpu_fail(err, AB_GPU_NAME ": enabling peer access %d -> %d: %s", dev, peer,
                        gpuGetErrorString(e));
    return 0;
}

typedef struct slot {
    gpuStream_t st;
    gpuEvent_t a, b;
    bool made;
} slot;

// Enqueues copy c behind the spin kernel on a stream of its own (slot s).
int enqueue(const ab_p2p_copy *c, slot *s, long iters, char *err)
{
    const ab_gpu_dev *d = (const ab_gpu_dev *)c->dst_dev, *p = (const ab_gpu_dev *)c->src_dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    if (enable_peer(d->ordinal, p->ordinal, err) != 0) return -1;
    GPU_TRY(gpuStreamCreateWithFlags(&s->st, gpuStreamNonBlocking), "stream");
    s->made = true;
    GPU_TRY(gpuEventCreate(&s->a), "event");
    GPU_TRY(gpuEventCreate(&s->b), "event");
    int *flag_dev = NULL;
    GPU_TRY(gpuHostGetDevicePointer((void **)&flag_dev, flag_host, 0), "mapped flag");
    spin_kernel<<<1, 1, 0, s->st>>>(flag_dev, 20000000000LL);
    GPU_TRY(gpuGetLastError(), "spin kernel launch");
    GPU_TRY(gpuEventRecord(s->a, s->st), "record start");
    size_t n16 = c->bytes / 16;
    int blocks = d->sms > 0 ? d->sms * 4 : 128;
    for (long i = 0; i < iters; i++) {
        if (c->sm) {
            copy_kernel<<<blocks, 512, 0, s->st>>>((uint4 *)c->dst, (const uint4 *)c->src, n16);
            GPU_TRY(gpuGetLastError(), "copy kernel launch");
        } else {
            GPU_TRY(gpuMemcpyPeerAsync(c->dst, d->ordinal, c->src, p->ordinal, c->bytes, s->st),
                    "peer copy");
        }
    }
    GPU_TRY(gpuEventRecord(s->b, s->st), "record stop");
    return 0;
}

int finish(const ab_p2p_copy *c, slot *s, double *sec, char *err)
{
    const ab_gpu_dev *d = (const ab_gpu_dev *)c->dst_dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    GPU_TRY(gpuEventSynchronize(s->b), "wait for stop event");
    float ms = 0.0f;
    GPU_TRY(gpuEventElapsedTime(&ms, s->a, s->b), "elapsed time");
    *sec = (double)ms * 1e-3;
    return 0;
}

void release(const ab_p2p_copy *c, slot *s)
{
    if (!s->made) return;
    (void)gpuSetDevice(((const ab_gpu_dev *)c->dst_dev)->ordinal);
    (void)gpuStreamSynchronize(s->st);
    (void)gpuEventDestroy(s->a);
    (void)gpuEventDestroy(s->b);
    (void)gpuStreamDestroy(s->st);
}

int run_copies(const ab_p2p_copy *c, size_t n, long iters, double *sec, char *err)
{
    if (!flag_host) {
        void *p = NULL;
        GPU_TRY(gpuHostAllocMapped(&p, sizeof(int)), "allocating the mapped start flag");
        flag_host = (int *)p;
    }
    __atomic_store_n(flag_host, 0, __ATOMIC_SEQ_CST);
    slot *s = (slot *)calloc(n ? n : 1, sizeof(slot));
    if (!s) return gpu_fail(err, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (c[i].sm && c[i].bytes % 16)
            rc = gpu_fail(err, "SM copies move 16-byte words: %zu bytes", c[i].bytes);
        else
            rc = enqueue(&c[i], &s[i], iters, err);
    }
    // released in every case: streams behind the spin kernel must not wait for the timeout
    __atomic_store_n(flag_host, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = finish(&c[i], &s[i], &sec[i], err);
    for (size_t i = 0; i < n; i++)
        release(&c[i], &s[i]);
    free(s);
    return rc;
}

ab_p2p_impl make_impl()
{
    ab_p2p_impl m; // filled at load time (see collectives_gpu.cu)
    memset(&m, 0, sizeof(m));
    m.run = run_copies;
    return m;
}

} // namespace

extern const ab_p2p_impl ab_p2p_gpu = make_impl();

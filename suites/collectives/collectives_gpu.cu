// SPDX-License-Identifier: MIT
// The collectives' kernel table on CUDA / HIP: NCCL or RCCL (coll_nccl.c, dlopen'ed on first use)
// over the GPU runtime, reached through the memory shim below. ACCELBENCH_NCCL_LIB names the
// library to load instead of the default sonames. Copies and fills go on the legacy default
// stream (0) and are waited for, outside the timed collectives.
#include "../../backends/gpu/gpu_port.h"
#include "coll_nccl.h"

#include <stdlib.h>
#include <string.h>

namespace
{

gpuError_t last = gpuSuccess;

int keep(gpuError_t e)
{
    last = e;
    return e == gpuSuccess ? 0 : -1;
}

int set_device(int d)
{
    return keep(gpuSetDevice(d));
}

int mem_alloc(void **p, size_t b)
{
    return keep(gpuMalloc(p, b));
}

void mem_free(void *p)
{
    (void)gpuFree(p);
}

int h2d(void *d, const void *s, size_t b)
{
    if (keep(gpuMemcpyAsync(d, s, b, gpuMemcpyHostToDevice, 0)) != 0) return -1;
    return keep(gpuStreamSynchronize(0));
}

int d2h(void *d, const void *s, size_t b)
{
    if (keep(gpuMemcpyAsync(d, s, b, gpuMemcpyDeviceToHost, 0)) != 0) return -1;
    return keep(gpuStreamSynchronize(0));
}

int fill(void *p, int v, size_t b)
{
    if (keep(gpuMemsetAsync(p, v, b, 0)) != 0) return -1;
    return keep(gpuStreamSynchronize(0));
}

int stream_create(void **s)
{
    gpuStream_t st;
    if (keep(gpuStreamCreateWithFlags(&st, gpuStreamNonBlocking)) != 0) return -1;
    *s = (void *)st;
    return 0;
}

void stream_destroy(void *s)
{
    (void)gpuStreamDestroy((gpuStream_t)s);
}

int stream_sync(void *s)
{
    return keep(gpuStreamSynchronize((gpuStream_t)s));
}

const char *last_error()
{
    return gpuGetErrorString(last);
}

const ab_gpu_shim *the_shim()
{
    static ab_gpu_shim s;
    s.set_device = set_device;
    s.mem_alloc = mem_alloc;
    s.mem_free = mem_free;
    s.h2d = h2d;
    s.d2h = d2h;
    s.fill = fill;
    s.stream_create = stream_create;
    s.stream_destroy = stream_destroy;
    s.stream_sync = stream_sync;
    s.error = last_error;
#ifdef AB_GPU_HIP
    s.runtime = "HIP";
#else
    s.runtime = "CUDA";
#endif
    return &s;
}

// the library's label and the names to try (ACCELBENCH_NCCL_LIB: that one alone)
struct lib_names {
    const char *label;
    const char *libs[4];
};

lib_names names()
{
    const char *env = getenv("ACCELBENCH_NCCL_LIB");
#ifdef AB_GPU_HIP
    const char *label = "RCCL";
    const char *libs[] = {env && *env ? env : "librccl.so.1", "librccl.so",
                          "/opt/rocm/lib/librccl.so.1", NULL};
#else
    const char *label = "NCCL";
    const char *libs[] = {env && *env ? env : "libnccl.so.2", "libnccl.so",
                          "/usr/local/cuda/lib64/libnccl.so.2", NULL};
#endif
    lib_names ln;
    ln.label = label;
    for (int i = 0; i < 4; i++)
        ln.libs[i] = libs[i];
    if (env && *env) ln.libs[1] = NULL; // the named library or nothing
    return ln;
}

int open_comm(const int *ord, int n, int ranks, ab_coll_comm **comm, char *why)
{
    (void)ranks; // the ranks are the devices
    lib_names ln = names();
    return ab_nccl_open(the_shim(), ln.label, ln.libs, ord, n, comm, why);
}

// across an MPI job's ranks: the suite shares the unique id (collectives_job.c)
int job_load(ab_coll_comm **comm, char *why)
{
    lib_names ln = names();
    return ab_nccl_job_load(the_shim(), ln.label, ln.libs, comm, why);
}

ab_coll_impl make_impl()
{
    // filled at load time, not a constant initializer: HIP's device pass would otherwise take
    // the const table for device data and want the host functions it points to
    ab_coll_impl m;
    memset(&m, 0, sizeof(m));
#ifdef AB_GPU_HIP
    m.name = "rccl";
#else
    m.name = "nccl";
#endif
    m.host_ranks = false;
    m.open = open_comm;
    m.close = ab_nccl_close;
    m.nranks = ab_nccl_nranks;
    m.library = ab_nccl_library;
    m.alloc = ab_nccl_alloc;
    m.write_send = ab_nccl_write_send;
    m.read_recv = ab_nccl_read_recv;
    m.clear_recv = ab_nccl_clear_recv;
    m.run = ab_nccl_run;
    m.job_load = job_load;
    m.job_id = ab_nccl_job_id;
    m.job_init = ab_nccl_job_init;
    return m;
}

} // namespace

extern const ab_coll_impl ab_coll_gpu = make_impl();

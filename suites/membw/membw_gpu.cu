/* SPDX-License-Identifier: MIT */
/*
 * membw on CUDA and HIP (one source, see backends/gpu/gpu_port.h).
 *
 * Element-wise kernels: one 16-byte vector per thread (float x4 / double x2), 256-thread blocks,
 * a grid covering the array (grid-stride only past the launch limit). 16-byte accesses are the
 * widest a thread can issue and keep the memory system saturated with few instructions.
 * Reductions (dot, read): a grid of 8 blocks per multiprocessor strides over the array, each
 * block reduces in shared memory and writes one partial sum; the host adds the partials.
 */
#include "../../backends/gpu/gpu_port.h"

#include "membw.h"

namespace {

constexpr int kBlock = 256;

template <typename T> struct alignas(16) vec16 {
    static constexpr int n = 16 / sizeof(T);
    T v[n];
};

template <typename T> __global__ void k_init(vec16<T> *a, vec16<T> *b, vec16<T> *c, T va, T vb,
                                             T vc, unsigned mask, size_t nv)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nv;
         i += (size_t)gridDim.x * blockDim.x) {
        vec16<T> x, y, z;
#pragma unroll
        for (int k = 0; k < vec16<T>::n; k++) {
            x.v[k] = va;
            y.v[k] = vb;
            z.v[k] = vc;
        }
        if (mask & AB_MB_A)
            a[i] = x;
        if (mask & AB_MB_B)
            b[i] = y;
        if (mask & AB_MB_C)
            c[i] = z;
    }
}

template <typename T, int K>
__global__ void k_stream(vec16<T> *__restrict__ a, vec16<T> *__restrict__ b,
                         vec16<T> *__restrict__ c, T q, T w, size_t nv)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nv;
         i += (size_t)gridDim.x * blockDim.x) {
        vec16<T> r;
        if (K == AB_MB_COPY) {
            c[i] = a[i];
        } else if (K == AB_MB_SCALE) {
            vec16<T> x = c[i];
#pragma unroll
            for (int k = 0; k < vec16<T>::n; k++)
                r.v[k] = q * x.v[k];
            b[i] = r;
        } else if (K == AB_MB_ADD) {
            vec16<T> x = a[i], y = b[i];
#pragma unroll
            for (int k = 0; k < vec16<T>::n; k++)
                r.v[k] = x.v[k] + y.v[k];
            c[i] = r;
        } else if (K == AB_MB_TRIAD) {
            vec16<T> x = b[i], y = c[i];
#pragma unroll
            for (int k = 0; k < vec16<T>::n; k++)
                r.v[k] = x.v[k] + q * y.v[k];
            a[i] = r;
        } else if (K == AB_MB_WRITE) {
#pragma unroll
            for (int k = 0; k < vec16<T>::n; k++)
                r.v[k] = w;
            c[i] = r;
        }
    }
}

template <typename T, bool Dot>
__global__ void k_reduce(const vec16<T> *__restrict__ a, const vec16<T> *__restrict__ b,
                         T *__restrict__ partial, size_t nv)
{
    __shared__ T sh[kBlock];
    T s = 0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    /* four independent loads in flight per thread */
    for (; i + 3 * stride < nv; i += 4 * stride) {
        vec16<T> x[4], y[4];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            x[u] = a[i + u * stride];
            if (Dot)
                y[u] = b[i + u * stride];
        }
#pragma unroll
        for (int u = 0; u < 4; u++)
#pragma unroll
            for (int k = 0; k < vec16<T>::n; k++)
                s += Dot ? x[u].v[k] * y[u].v[k] : x[u].v[k];
    }
    for (; i < nv; i += stride) {
        vec16<T> x = a[i];
        vec16<T> y;
        if (Dot)
            y = b[i];
#pragma unroll
        for (int k = 0; k < vec16<T>::n; k++)
            s += Dot ? x.v[k] * y.v[k] : x.v[k];
    }
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int off = kBlock / 2; off > 0; off >>= 1) {
        if ((int)threadIdx.x < off)
            sh[threadIdx.x] += sh[threadIdx.x + off];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partial[blockIdx.x] = sh[0];
}

size_t reduce_blocks(const ab_gpu_dev *d, size_t nv)
{
    size_t blocks = (size_t)d->sms * 8;
    size_t need = (nv + kBlock - 1) / kBlock;
    if (blocks > need)
        blocks = need;
    return blocks ? blocks : 1;
}

size_t stream_blocks(size_t nv)
{
    size_t blocks = (nv + kBlock - 1) / kBlock;
    const size_t max_grid = 2147483647u; /* 2^31 - 1: x-dimension limit on both vendors */
    return blocks > max_grid ? max_grid : (blocks ? blocks : 1);
}

size_t gpu_partials(void *dev, const ab_membw_args *a)
{
    size_t nv = a->n * (a->f64 ? 8 : 4) / 16;
    return reduce_blocks((const ab_gpu_dev *)dev, nv);
}

template <typename T> int init_t(ab_gpu_dev *d, const ab_membw_args *a, char *err)
{
    size_t nv = a->n * sizeof(T) / 16;
    k_init<T><<<stream_blocks(nv), kBlock, 0, d->stream>>>(
        (vec16<T> *)a->a, (vec16<T> *)a->b, (vec16<T> *)a->c, (T)AB_MEMBW_START_A,
        (T)AB_MEMBW_START_B, (T)AB_MEMBW_START_C, ab_membw_arrays(a->kernel), nv);
    GPU_TRY(gpuGetLastError(), "launch init");
    GPU_TRY(gpuStreamSynchronize(d->stream), "init");
    return 0;
}

int gpu_init(void *dev, const ab_membw_args *a, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    return a->f64 ? init_t<double>(d, a, err) : init_t<float>(d, a, err);
}

template <typename T> int run_t(ab_gpu_dev *d, const ab_membw_args *a, long iters, char *err)
{
    size_t nv = a->n * sizeof(T) / 16;
    vec16<T> *A = (vec16<T> *)a->a, *B = (vec16<T> *)a->b, *C = (vec16<T> *)a->c;
    T q = (T)AB_MEMBW_SCALAR, w = (T)AB_MEMBW_WRITE_VALUE;
    size_t g = stream_blocks(nv), gr = reduce_blocks(d, nv);
    for (long it = 0; it < iters; it++) {
        switch (a->kernel) {
        case AB_MB_COPY: k_stream<T, AB_MB_COPY><<<g, kBlock, 0, d->stream>>>(A, B, C, q, w, nv); break;
        case AB_MB_SCALE: k_stream<T, AB_MB_SCALE><<<g, kBlock, 0, d->stream>>>(A, B, C, q, w, nv); break;
        case AB_MB_ADD: k_stream<T, AB_MB_ADD><<<g, kBlock, 0, d->stream>>>(A, B, C, q, w, nv); break;
        case AB_MB_TRIAD: k_stream<T, AB_MB_TRIAD><<<g, kBlock, 0, d->stream>>>(A, B, C, q, w, nv); break;
        case AB_MB_WRITE: k_stream<T, AB_MB_WRITE><<<g, kBlock, 0, d->stream>>>(A, B, C, q, w, nv); break;
        case AB_MB_DOT: k_reduce<T, true><<<gr, kBlock, 0, d->stream>>>(A, B, (T *)a->partial, nv); break;
        case AB_MB_READ: k_reduce<T, false><<<gr, kBlock, 0, d->stream>>>(A, B, (T *)a->partial, nv); break;
        default: return gpu_fail(err, AB_GPU_NAME ": unknown membw kernel");
        }
    }
    GPU_TRY(gpuGetLastError(), "launch");
    return 0;
}

int gpu_run(void *dev, const ab_membw_args *a, long iters, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    return a->f64 ? run_t<double>(d, a, iters, err) : run_t<float>(d, a, iters, err);
}

ab_membw_impl make_impl()
{
    ab_membw_impl m;
    m.has_streaming = false;
    m.partials = gpu_partials;
    m.init = gpu_init;
    m.run = gpu_run;
    return m;
}

} // namespace

extern const ab_membw_impl ab_membw_gpu = make_impl();

/* SPDX-License-Identifier: MIT */
/*
 * One source, two vendors. The CUDA and HIP backends and their kernels are the same files,
 * compiled by nvcc (CUDA) or hipcc (HIP, -DAB_GPU_HIP). This header maps the handful of runtime
 * calls they use onto either API, so a fix to an algorithm serves both vendors at once.
 *
 * What genuinely differs stays explicit rather than hidden behind macros: the SIMT width (warp
 * 32 vs wavefront 64) is read at run time from the device (warpSize), and matrix-core code (mma
 * on NVIDIA, MFMA on AMD) lives in vendor-specific files where a suite needs it.
 */
#ifndef AB_GPU_PORT_H
#define AB_GPU_PORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#ifdef AB_GPU_HIP
#include <hip/hip_runtime.h>
#define AB_GPU_NAME "hip"
#define AB_GPU_VENDOR_RUNTIME "HIP"
typedef hipError_t gpuError_t;
typedef hipStream_t gpuStream_t;
typedef hipEvent_t gpuEvent_t;
typedef hipDeviceProp_t gpuDeviceProp;
#define gpuSuccess hipSuccess
#define gpuGetErrorString hipGetErrorString
#define gpuGetLastError hipGetLastError
#define gpuGetDeviceCount hipGetDeviceCount
#define gpuSetDevice hipSetDevice
#define gpuGetDeviceProperties hipGetDeviceProperties
#define gpuDeviceGetAttribute hipDeviceGetAttribute
#define gpuDevAttrClockRate hipDeviceAttributeClockRate
#define gpuDriverGetVersion hipDriverGetVersion
#define gpuRuntimeGetVersion hipRuntimeGetVersion
#define gpuDeviceCanAccessPeer hipDeviceCanAccessPeer
#define gpuDeviceEnablePeerAccess hipDeviceEnablePeerAccess
#define gpuErrorPeerAccessAlreadyEnabled hipErrorPeerAccessAlreadyEnabled
#define gpuMemcpyPeerAsync hipMemcpyPeerAsync
#define gpuHostAllocMapped(p, s) hipHostMalloc((p), (s), hipHostMallocMapped | hipHostMallocPortable)
#define gpuHostGetDevicePointer hipHostGetDevicePointer
#define gpuMalloc hipMalloc
#define gpuFree hipFree
#define gpuMallocHost(p, s) hipHostMalloc((p), (s), hipHostMallocDefault)
#define gpuFreeHost hipHostFree
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemsetAsync hipMemsetAsync
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#define gpuMemcpyDeviceToHost hipMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define gpuStreamCreateWithFlags hipStreamCreateWithFlags
#define gpuStreamNonBlocking hipStreamNonBlocking
#define gpuStreamSynchronize hipStreamSynchronize
#define gpuStreamDestroy hipStreamDestroy
#define gpuEventCreate hipEventCreate
#define gpuEventRecord hipEventRecord
#define gpuEventSynchronize hipEventSynchronize
#define gpuEventElapsedTime hipEventElapsedTime
#define gpuEventDestroy hipEventDestroy
#else
#include <cuda_runtime.h>
#define AB_GPU_NAME "cuda"
#define AB_GPU_VENDOR_RUNTIME "CUDA"
typedef cudaError_t gpuError_t;
typedef cudaStream_t gpuStream_t;
typedef cudaEvent_t gpuEvent_t;
typedef cudaDeviceProp gpuDeviceProp;
#define gpuSuccess cudaSuccess
#define gpuGetErrorString cudaGetErrorString
#define gpuGetLastError cudaGetLastError
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuSetDevice cudaSetDevice
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuDeviceGetAttribute cudaDeviceGetAttribute
#define gpuDevAttrClockRate cudaDevAttrClockRate
#define gpuDriverGetVersion cudaDriverGetVersion
#define gpuRuntimeGetVersion cudaRuntimeGetVersion
#define gpuDeviceCanAccessPeer cudaDeviceCanAccessPeer
#define gpuDeviceEnablePeerAccess cudaDeviceEnablePeerAccess
#define gpuErrorPeerAccessAlreadyEnabled cudaErrorPeerAccessAlreadyEnabled
#define gpuMemcpyPeerAsync cudaMemcpyPeerAsync
#define gpuHostAllocMapped(p, s) cudaHostAlloc((p), (s), cudaHostAllocMapped | cudaHostAllocPortable)
#define gpuHostGetDevicePointer cudaHostGetDevicePointer
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuMallocHost cudaMallocHost
#define gpuFreeHost cudaFreeHost
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemsetAsync cudaMemsetAsync
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#define gpuMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define gpuStreamCreateWithFlags cudaStreamCreateWithFlags
#define gpuStreamNonBlocking cudaStreamNonBlocking
#define gpuStreamSynchronize cudaStreamSynchronize
#define gpuStreamDestroy cudaStreamDestroy
#define gpuEventCreate cudaEventCreate
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuEventDestroy cudaEventDestroy
#endif

/* Plugins must not call back into the binary, so they carry their own one-line error helper. */
static inline int gpu_fail(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, 256, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define GPU_TRY(call, what)                                                                        \
    do {                                                                                           \
        gpuError_t e_ = (call);                                                                    \
        if (e_ != gpuSuccess)                                                                      \
            return gpu_fail(err, AB_GPU_NAME ": %s: %s", what, gpuGetErrorString(e_));             \
    } while (0)

/* The device handle every GPU-side suite implementation receives as `void *dev`. */
typedef struct ab_gpu_dev {
    int ordinal;
    gpuStream_t stream;
    gpuEvent_t ev_start, ev_stop;
    int sms;                 /* multiprocessors / compute units */
    int max_threads_per_sm;
    int warp;                /* 32 on NVIDIA, 64 on CDNA */
    size_t l2_bytes;
    int cc_major, cc_minor;  /* compute capability (CUDA); gfx major/minor from the arch (HIP) */
} ab_gpu_dev;

/* Element-wise kernels: AB_GPU_ELEM_BLOCK threads a block over grid-stride loops, in a grid of
 * at most 65535 x 16 blocks. */
#define AB_GPU_ELEM_BLOCK 256
static inline unsigned ab_gpu_blocks_for(size_t n)
{
    const size_t max = 65535u * 16u, b = (n + AB_GPU_ELEM_BLOCK - 1) / AB_GPU_ELEM_BLOCK;
    return (unsigned)(b < max ? b : max);
}

/* v from the lane `mask` away (XOR) across the whole warp (wavefront on AMD). */
__device__ __forceinline__ float ab_gpu_shfl_xor(float v, int mask)
{
#ifdef AB_GPU_HIP
    return __shfl_xor(v, mask);
#else
    return __shfl_xor_sync(0xffffffffu, v, mask);
#endif
}

#endif

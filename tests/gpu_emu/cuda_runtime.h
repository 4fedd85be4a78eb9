/* SPDX-License-Identifier: MIT */
/* Host emulation of the few CUDA pieces the train kernels use (tests/gpu_emu/run.sh): a block's
 * threads are std::threads, __syncthreads a barrier, a shuffle an exchange through a per-block
 * array between barriers (so every thread of the block must reach it, as the kernels do);
 * __shared__ is `static` (blocks run one after another). Not a CUDA implementation. */
#pragma once
#include <barrier>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>
#include <memory>
#include <cstdint>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#ifndef EMU_WARP
#define EMU_WARP 32
#endif
#define warpSize EMU_WARP
struct dim3 { unsigned x, y, z; dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {} };
struct float4 { float x, y, z, w; };
typedef int cudaError_t;
typedef void *cudaStream_t;
typedef void *cudaEvent_t;
struct cudaDeviceProp { int dummy; };
#define cudaSuccess 0
inline const char *cudaGetErrorString(int) { return "emu error"; }
inline int cudaGetLastError() { return 0; }
inline int cudaSetDevice(int) { return 0; }
inline int cudaStreamSynchronize(void *) { return 0; }
inline int cudaMemsetAsync(void *p, int v, size_t n, void *) { memset(p, v, n); return 0; }
extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
extern std::barrier<> *emu_bar;
extern float emu_slot[1024];
inline void __syncthreads() { emu_bar->arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float v, int m)
{
    unsigned t = threadIdx.x;
    emu_bar->arrive_and_wait();
    emu_slot[t] = v;
    emu_bar->arrive_and_wait();
    float r = emu_slot[t ^ (unsigned)m];
    emu_bar->arrive_and_wait();
    return r;
}
template <class... P, class... A>
void emu_launch(dim3 g, dim3 b, cudaStream_t, void (*k)(P...), A... a)
{
    gridDim = g, blockDim = b;
    for (unsigned by = 0; by < g.y; by++)
        for (unsigned bx = 0; bx < g.x; bx++) {
            std::barrier<> bar((std::ptrdiff_t)b.x);
            emu_bar = &bar;
            std::vector<std::thread> th;
            for (unsigned t = 0; t < b.x; t++)
                th.emplace_back([=]() { threadIdx = dim3(t); blockIdx = dim3(bx, by); k(a...); });
            for (auto &x : th) x.join();
        }
}

/* SPDX-License-Identifier: MIT */
/*
 * membw: STREAM/BabelStream kernels plus read-only and write-only, in f32 and f64.
 *
 *   copy   c[i] = a[i]               bytes 2n·s
 *   scale  b[i] = q·c[i]             bytes 2n·s
 *   add    c[i] = a[i] + b[i]        bytes 3n·s
 *   triad  a[i] = b[i] + q·c[i]      bytes 3n·s
 *   dot    sum += a[i]·b[i]          bytes 2n·s
 *   read   sum += a[i]               bytes 1n·s
 *   write  c[i] = w                  bytes 1n·s
 *
 * (s = element size, q = AB_MEMBW_SCALAR.) Bytes count what the kernel reads plus what it
 * writes; the extra read of a destination line that ordinary stores cause on CPUs
 * (write-allocate) is not counted. Arrays start as a = 0.1, b = 0.2, c = 0.0 (BabelStream).
 *
 * This header is the contract between the generic suite (membw.c) and the per-backend kernels
 * (membw_cpu.c, membw_opencl.c, membw_gpu.cu). It is plain C, also included by CUDA/HIP code.
 */
#ifndef AB_MEMBW_H
#define AB_MEMBW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AB_MEMBW_START_A 0.1
#define AB_MEMBW_START_B 0.2
#define AB_MEMBW_START_C 0.4
#define AB_MEMBW_SCALAR 0.4
#define AB_MEMBW_WRITE_VALUE 0.7

typedef enum {
    AB_MB_COPY = 0,
    AB_MB_SCALE,
    AB_MB_ADD,
    AB_MB_TRIAD,
    AB_MB_DOT,
    AB_MB_READ,
    AB_MB_WRITE,
    AB_MB_NKERNELS
} ab_membw_kernel;

/* The arrays, as a mask. */
#define AB_MB_A 1u
#define AB_MB_B 2u
#define AB_MB_C 4u

/*
 * The one description of each kernel: what it reads and writes, and what it computes. The suite
 * derives everything else from it -- the bytes formula and its text (one n*s per array
 * streamed), the FLOPs (one per + or * in `op`, plus the accumulation of a reduction), which
 * kernels have streaming-store variants (those that write an array), what validation checks
 * and expects (`op` evaluated in the kernel's precision), what --test-corrupt damages.
 */
typedef struct ab_membw_kernel_info {
    const char *name;
    unsigned reads, writes; /* arrays read and written; a reduction writes only partial sums */
    /* over a, b, c, q (AB_MEMBW_SCALAR) and w (AB_MEMBW_WRITE_VALUE): the new value of the
     * written array, or the term a reduction sums */
    const char *op;
} ab_membw_kernel_info;

static inline const ab_membw_kernel_info *ab_membw_kernel_get(ab_membw_kernel k)
{
    static const ab_membw_kernel_info kernels[AB_MB_NKERNELS] = {
        {"copy", AB_MB_A, AB_MB_C, "a"},
        {"scale", AB_MB_C, AB_MB_B, "q*c"},
        {"add", AB_MB_A | AB_MB_B, AB_MB_C, "a + b"},
        {"triad", AB_MB_B | AB_MB_C, AB_MB_A, "b + q*c"},
        {"dot", AB_MB_A | AB_MB_B, 0, "a*b"},
        {"read", AB_MB_A, 0, "a"},
        {"write", 0, AB_MB_C, "w"},
    };
    return &kernels[(unsigned)k < AB_MB_NKERNELS ? k : 0];
}

/* The arrays each kernel streams: only these are allocated at full size and initialised; the
 * others are small placeholders a kernel never touches. */
static inline unsigned ab_membw_arrays(ab_membw_kernel k)
{
    if ((unsigned)k >= AB_MB_NKERNELS)
        return 0;
    return ab_membw_kernel_get(k)->reads | ab_membw_kernel_get(k)->writes;
}

typedef struct ab_membw_args {
    ab_membw_kernel kernel;
    bool f64;       /* element type: double when true, float otherwise */
    bool streaming; /* non-temporal stores (only where the impl has them) */
    size_t n;       /* elements per array */
    void *a, *b, *c; /* device buffers of n elements */
    void *partial;  /* device buffer of npartial elements of the same type, for dot/read */
    size_t npartial;
} ab_membw_args;

typedef struct ab_membw_impl {
    bool has_streaming; /* streaming-store variants of the writing kernels exist */
    /* Partial-sum slots that dot/read write for n elements (>= 1). */
    size_t (*partials)(void *dev, const ab_membw_args *a);
    /* Sets every element of the arrays a->kernel uses (ab_membw_arrays) to the start values,
     * device-side; on a CPU each thread touches the chunk it will later work on. Arrays the
     * kernel does not use must not be touched. Blocks until done. */
    int (*init)(void *dev, const ab_membw_args *a, char *err);
    /* Enqueues `iters` back-to-back runs of a->kernel. The caller brackets it with the
     * backend's timer, which waits for completion. */
    int (*run)(void *dev, const ab_membw_args *a, long iters, char *err);
} ab_membw_impl;

#if !defined(__CUDACC__) && !defined(__HIPCC__)
struct ab_device;
/* The headline working set (bytes over all arrays a kernel streams) on a device: the smallest
 * power of two >= 4x the last-level cache, at least 64 MiB on the CPU backend and 1 GiB through a
 * runtime, at most a quarter of the device's memory. Also the tokens suite's roofline size. */
uint64_t ab_membw_headline_ws(const struct ab_device *d);
#endif

#endif

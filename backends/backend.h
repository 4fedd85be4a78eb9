/* SPDX-License-Identifier: MIT */
/*
 * The backend interface: one const table of function pointers per programming model (CPU/OpenMP,
 * OpenCL, CUDA, HIP), designed for devices with their own memory.
 *
 * Contract (BabelStream-style, written down once):
 *   - Calls block until their effect is complete, except copies and kernel launches, which are
 *     enqueued in order on the device's one queue; sync and timer_stop wait for them.
 *   - Device memory is named by an opaque `void *` handle: a host pointer on the CPU, a device
 *     pointer on CUDA/HIP, a cl_mem on OpenCL. Only the owning backend dereferences it.
 *   - Errors follow core/ab.h: 0 or -1 with a one-line message in err.
 *   - A backend's state lives in the `void *be` its init() returns; device handles in the
 *     `void *dev` open() returns. No backend keeps mutable globals.
 *   - What callers need to know about a device (how it runs kernels, host threads, default
 *     data type, sampler source) is in ab_device_info or an optional hook below; no caller
 *     compares a backend's name.
 *
 * CUDA and HIP are built as plugins (libaccelbench-cuda.so, libaccelbench-hip.so) loaded with
 * dlopen, so one binary runs on a box without the vendor runtime; each plugin exports
 * `const ab_backend_ops *ab_backend_plugin_<name>(void)` and must not call back into the binary.
 */
#ifndef AB_BACKEND_H
#define AB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AB_BACKEND_ABI 5

/* How a device runs kernels: what suites and runners branch on instead of a backend's name. */
typedef enum ab_device_kind {
    AB_KIND_HOST = 0, /* host code on this process's own thread team (the CPU backend): memory
                       * handles are host pointers the host reads in place, `threads` is the team */
    AB_KIND_GPU,      /* a GPU behind its vendor runtime (CUDA, HIP): its own memory and queue */
    AB_KIND_PORTABLE, /* any device behind a portable runtime that compiles kernels at run time
                       * (OpenCL: a GPU, or a CPU through PoCL): opaque memory handles */
    AB_KIND_COUNT
} ab_device_kind;

/* Where the runner's power/clock sampler reads a device (probes/sampler.h). */
typedef enum ab_sampler_kind {
    AB_SAMPLER_NONE = 0, /* no sampler source of its own */
    AB_SAMPLER_HOST_CPU, /* RAPL and cpufreq of the host cores the device's threads run on */
    AB_SAMPLER_NVML,     /* NVIDIA management library, by PCI bus id */
    AB_SAMPLER_ROCM_SMI, /* AMD ROCm SMI, by PCI bus id */
} ab_sampler_kind;

typedef struct ab_device_info {
    char name[128];     /* model name: "NVIDIA H100 80GB HBM3", "AMD EPYC 7B13" */
    char vendor[64];
    char driver[64];    /* driver / runtime version string */
    char arch[32];      /* "sm_90", "gfx942", "x86_64", OpenCL device version */
    char pci_bus_id[32];
    uint64_t mem_bytes;   /* device memory; host RAM for the CPU */
    uint64_t cache_bytes; /* last-level cache: L3 on a CPU, L2 on a GPU; 0 when unknown */
    uint64_t l1_bytes;    /* L1 data cache of one compute unit; 0 when unknown */
    int compute_units;    /* cores / SMs / CUs */
    int clock_mhz;        /* maximum clock; 0 when unknown */
    int warp_size;        /* SIMT width (32 on NVIDIA, 64 on CDNA); 1 on a CPU */
    bool host_memory;     /* device memory is host memory (CPU, PoCL) */
    bool fp64;            /* double precision supported */
    bool fp16;            /* half precision arithmetic supported */
    /* capabilities (set by every backend's device_info) */
    ab_device_kind kind;
    int threads;          /* host threads each kernel runs on (AB_KIND_HOST); 0 otherwise */
    bool default_bf16;    /* suites default to bf16, the serving type the kernels run on matrix
                           * units (tensor cores, MFMA); else to f32, which they compute in */
    ab_sampler_kind sampler;
} ab_device_info;

/* A backend's kernel tables, one typed member per suite (declared in suites/<suite>/<suite>.h);
 * NULL where the backend does not implement that suite (its cases are then skips). */
struct ab_membw_impl;
struct ab_gemm_backend;
struct ab_attn_impl;
struct ab_tok_ops;
struct ab_train_ops;
struct ab_coll_impl;
struct ab_p2p_impl;
typedef struct ab_suite_impls {
    const struct ab_membw_impl *membw;
    const struct ab_gemm_backend *gemm;
    const struct ab_attn_impl *attention;
    const struct ab_tok_ops *tokens;
    const struct ab_train_ops *train;
    const struct ab_coll_impl *collectives; /* node scope: suites/collectives/collectives.h */
    const struct ab_p2p_impl *p2p;          /* concurrent peer copies: suites/p2p/p2p.h */
} ab_suite_impls;

struct ab_counters; /* probes/counters.h */

typedef enum { AB_COPY_H2D, AB_COPY_D2H, AB_COPY_D2D } ab_copy_dir;

typedef struct ab_backend_ops {
    unsigned abi;     /* AB_BACKEND_ABI */
    const char *name; /* "cpu", "opencl", "cuda", "hip": also the device-id prefix; a label,
                       * never a thing to branch on */

    /* Probes the runtime. 0: usable, *be set. -1: unavailable, reason in why. */
    int (*init)(void **be, char *why);
    void (*fini)(void *be);
    int (*device_count)(void *be);
    int (*device_info)(void *be, int idx, ab_device_info *info, char *err);

    int (*open)(void *be, int idx, void **dev, char *err);
    void (*close)(void *dev);

    int (*mem_alloc)(void *dev, size_t bytes, void **mem, char *err);
    void (*mem_free)(void *dev, void *mem);
    /* Host buffers for transfers: pinned (page-locked, DMA-able) or ordinary pageable memory. */
    int (*host_alloc)(void *dev, size_t bytes, bool pinned, void **ptr, char *err);
    void (*host_free)(void *dev, void *ptr, bool pinned);
    /* Copies, in order with the device's other work: they may return before completion, so call
     * sync before the host reads or reuses the host buffer. For H2D `dst` is device memory at
     * byte offset `off`; for D2H `src` is; for D2D both are (off applies to both). */
    int (*copy)(void *dev, ab_copy_dir dir, void *dst, const void *src, size_t off, size_t bytes,
                char *err);
    int (*sync)(void *dev, char *err);

    /* Device-side interval timer around work enqueued in between; timer_stop waits for that
     * work and returns the elapsed seconds. One interval at a time per device. */
    int (*timer_start)(void *dev, char *err);
    int (*timer_stop)(void *dev, double *seconds, char *err);

    /* The suites' kernel tables for this backend; NULL when it implements none (callers go
     * through ab_device_impls(), registry.h, which never returns NULL). */
    const ab_suite_impls *impls;

    /* Optional hooks; NULL where the backend has no such thing. */
    /* The logical CPU the calling host thread has to stay on while it drives the open device
     * `dev`, or -1 for none (the CPU backend runs its team thread 0 on the calling thread). */
    int (*host_cpu)(void *dev);
    /* Hardware counters the backend reads around every timed interval of `dev`
     * (probes/counters.h), or NULL with the reason in *why when they are unavailable. */
    struct ab_counters *(*counters)(void *dev, const char **why);
    /* Whether device `idx` can address the memory of device `peer` of the same backend
     * directly: 1 yes, 0 no, -1 with the reason in err. */
    int (*peer_access)(void *be, int idx, int peer, char *err);
    /* Enqueues a copy of `bytes` from `src` in the memory of the open device `src_dev` to `dst`
     * in the memory of the open device `dst_dev` (both of this backend) on dst_dev's queue,
     * through the copy engines' peer path (cudaMemcpyPeerAsync / hipMemcpyPeerAsync; peer access
     * from dst_dev to src_dev is enabled on first use). dst_dev's timer brackets it. */
    int (*peer_copy)(void *dst_dev, void *dst, void *src_dev, const void *src, size_t bytes,
                     char *err);
} ab_backend_ops;

#endif

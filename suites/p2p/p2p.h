/* SPDX-License-Identifier: MIT */
/*
 * The p2p suite's kernel table (plain C, also included by the CUDA/HIP plugin): several peer
 * copies started at the same moment, nvbandwidth's way. Each copy gets a stream of its own on
 * the device that executes it; every stream first runs a kernel that spins on a host-mapped flag,
 * then records its start event, runs its `iters` copies and records its stop event; the flag is
 * released only once everything is enqueued, so the enqueue time stays out of every interval and
 * all copies start together. Copy engine: cudaMemcpyPeerAsync on the destination's stream; SM: a
 * copy kernel on the destination device reading the peer's memory directly.
 */
#ifndef AB_P2P_H
#define AB_P2P_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ab_p2p_copy {
    void *dst_dev, *src_dev; /* open device handles of one backend */
    void *dst;               /* device memory of dst_dev */
    const void *src;         /* device memory of src_dev */
    size_t bytes;            /* a multiple of 16 */
    bool sm;                 /* an SM copy kernel instead of the copy engines */
} ab_p2p_copy;

typedef struct ab_p2p_impl {
    /* Runs the n copies concurrently as above, each `iters` times back to back; sec[i] is copy
     * i's own interval (its stop event minus its start event). 0 or -1 with err. */
    int (*run)(const ab_p2p_copy *copies, size_t n, long iters, double *sec, char *err);
} ab_p2p_impl;

#ifdef __cplusplus
}
#endif

#endif

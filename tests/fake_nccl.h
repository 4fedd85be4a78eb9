/* SPDX-License-Identifier: MIT */
/* The stand-in libnccl's pieces shared by its files: fake_nccl.c (one process, ncclCommInitAll)
 * and fake_nccl_xp.c (across processes: ncclGetUniqueId, ncclCommInitRank). */
#ifndef FAKE_NCCL_H
#define FAKE_NCCL_H

#include <stddef.h>

typedef int ncclResult_t;
enum { ok = 0, system_error = 2, internal_error = 3, invalid_argument = 4, invalid_usage = 5 };
enum { k_allreduce, k_broadcast, k_reducescatter, k_allgather, k_send, k_recv };

typedef struct clique {
    int n, refs;
} clique;

typedef struct fake_xp fake_xp; /* a communicator across processes (fake_nccl_xp.c) */

typedef struct ncclComm {
    clique *cl; /* one process: the communicators of one ncclCommInitAll */
    fake_xp *xp;
    int rank, dev;
} * ncclComm_t;

typedef struct call {
    int kind;
    ncclComm_t comm;
    const float *send;
    float *recv;
    size_t count;
    int root_or_peer;
    int done;
} call;

/* Runs the calls of one group (or one call outside a group) of an across-processes
 * communicator, in order: each collective as one exchange with every rank, the sends and
 * receives together as one exchange at the end. */
ncclResult_t fake_xp_group(call *calls, int n);
void fake_xp_destroy(fake_xp *x);

#endif

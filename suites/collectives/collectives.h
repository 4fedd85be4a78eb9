/* SPDX-License-Identifier: MIT */
/*
 * The collectives suite's kernel table (plain C, also included by the CUDA/HIP plugin): a
 * communicator over the ranks of one backend's devices (NCCL/RCCL, one process driving every
 * GPU) or over host threads (the CPU backend: N ranks = N threads, each with its own buffers).
 *
 * Element type f32, reduction sum, out of place (send and receive buffers apart), counts as
 * NCCL's API takes them: all_reduce and broadcast `count` elements in and out; all_gather
 * `count` in, nranks*count out; reduce_scatter nranks*count in, `count` out; all_to_all
 * nranks*count in and out (rank r's chunk j goes to rank j's chunk r); sendrecv `count` from
 * rank r to rank (r+1) mod n, received from rank (r-1) mod n.
 */
#ifndef AB_COLLECTIVES_H
#define AB_COLLECTIVES_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ab_coll_op {
    AB_COLL_ALL_REDUCE = 0,
    AB_COLL_ALL_GATHER,
    AB_COLL_REDUCE_SCATTER,
    AB_COLL_ALL_TO_ALL,
    AB_COLL_BROADCAST,
    AB_COLL_SENDRECV,
    AB_COLL_NOPS
} ab_coll_op;

typedef struct ab_coll_comm ab_coll_comm; /* the implementation's own */

/* Returned by open() when the communicator cannot exist here (library absent, too few ranks). */
#define AB_COLL_SKIP 1

typedef struct ab_coll_impl {
    const char *name; /* the impl label of results: "threads", "nccl", "rccl" */
    /* Ranks are host threads (`ranks` below) rather than the devices given. */
    bool host_ranks;
    /* A communicator over the devices `ordinals` (the backend's device indices; n of them) or,
     * with host_ranks, over `ranks` threads. 0; AB_COLL_SKIP with the reason in why (the library
     * is absent: the reason names it); -1 with the error in why. */
    int (*open)(const int *ordinals, int n, int ranks, ab_coll_comm **comm, char *why);
    void (*close)(ab_coll_comm *comm);
    int (*nranks)(const ab_coll_comm *comm);
    /* What runs the collectives ("NCCL 2.21.5, /usr/lib/libnccl.so.2"), for the results. */
    const char *(*library)(const ab_coll_comm *comm);
    /* Per-rank buffers of send_bytes and recv_bytes (a new call replaces the old ones). */
    int (*alloc)(ab_coll_comm *comm, size_t send_bytes, size_t recv_bytes, char *err);
    /* Host <-> rank buffers, whole-buffer copies that complete before returning. */
    int (*write_send)(ab_coll_comm *comm, int rank, const void *host, size_t bytes, char *err);
    int (*read_recv)(ab_coll_comm *comm, int rank, void *host, size_t bytes, char *err);
    /* Sets every rank's receive buffer to the byte `value` (so a collective that writes
     * nothing is caught). */
    int (*clear_recv)(ab_coll_comm *comm, int value, char *err);
    /* Runs `iters` back-to-back collectives `op` over every rank (count as above, root for
     * broadcast) and waits for all of them; the elapsed wall time in *sec. */
    int (*run)(ab_coll_comm *comm, ab_coll_op op, size_t count, int root, long iters, double *sec,
               char *err);
    /* Across the ranks of an MPI job, one device per rank (NULL: node-local only; NCCL's
     * ncclGetUniqueId / ncclCommInitRank): job_load loads the library into a communicator
     * shell (0, AB_COLL_SKIP: absent, -1); on rank 0 job_id writes the unique id (at most
     * AB_COLL_ID_BYTES), which the suite shares with MPI_Bcast; job_init joins rank `rank` of
     * `nranks` on the device `ordinal`. Then the communicator holds this process's one rank:
     * index 0 of write_send / read_recv, and run() runs this rank's part. */
    int (*job_load)(ab_coll_comm **comm, char *why);
    int (*job_id)(ab_coll_comm *comm, void *id, size_t bytes, char *why);
    int (*job_init)(ab_coll_comm *comm, int ordinal, int nranks, int rank, const void *id,
                    char *why);
} ab_coll_impl;

#define AB_COLL_ID_BYTES 128

/* A test-only stand-in (coll_standin.c): with ACCELBENCH_TEST_NCCL_STANDIN naming a stand-in
 * libnccl (tests/fake_nccl.c) in an MPI job, the CPU device's collectives run through the NCCL
 * glue across the ranks on host memory, impl "nccl-standin"; NULL otherwise. */
const ab_coll_impl *ab_coll_standin(void);

/* CPU backend: ranks as host threads over shared memory (collectives_cpu.c). */
extern const ab_coll_impl ab_coll_threads;

#ifdef __cplusplus
}
#endif

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The collectives over NCCL (CUDA) or RCCL (HIP), opened with dlopen: one process drives every
 * GPU (ncclCommInitAll over the devices' ordinals, one stream per GPU, each iteration's per-GPU
 * calls between ncclGroupStart and ncclGroupEnd), as nccl-tests' single-process mode does.
 *
 * Plain C (valid C++ too: the HIP plugin compiles it with hipcc -x hip), so the same source is
 * compiled into the CUDA and HIP plugins and, by the host compiler, into tests/test_nccl.c,
 * which runs it against tests/fake_nccl.c. What it needs from the GPU runtime (set device,
 * memory, copies, streams) comes through a small table, ab_gpu_shim: the plugins fill it with
 * the runtime's calls (collectives_gpu.cu), the test with host memory.
 *
 * The NCCL declarations below are the subset of nccl.h used here, written after nccl.h of NCCL
 * 2.28.9 (the calls and values used exist unchanged since NCCL 2.7, ncclSend/ncclRecv's first
 * release; RCCL exports the same API under the same names from librccl.so.1).
 */
#ifndef AB_COLL_NCCL_H
#define AB_COLL_NCCL_H

#include "collectives.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ab_gpu_shim {
    /* 0 on success; otherwise error() says why */
    int (*set_device)(int ordinal);
    int (*mem_alloc)(void **p, size_t bytes);
    void (*mem_free)(void *p);
    int (*h2d)(void *dst, const void *src, size_t bytes); /* synchronous */
    int (*d2h)(void *dst, const void *src, size_t bytes); /* synchronous */
    int (*fill)(void *p, int value, size_t bytes);        /* synchronous */
    int (*stream_create)(void **s);
    void (*stream_destroy)(void *s);
    int (*stream_sync)(void *s);
    const char *(*error)(void);
    const char *runtime; /* "CUDA", "HIP", "host memory (stand-in)" */
} ab_gpu_shim;

/* Host memory standing in for the GPU runtime (coll_standin.c): the tests' and the MPI job
 * stand-in's "devices"; its runtime text says stand-in, never device figures. */
extern const ab_gpu_shim ab_coll_host_shim;

#define AB_NCCL_ID_BYTES 128 /* NCCL_UNIQUE_ID_BYTES */

/* ab_coll_impl.open for NCCL-style libraries: `label` is "NCCL" or "RCCL", `libs` the names to
 * dlopen in order (NULL-terminated; the first that loads is used). Library absent:
 * AB_COLL_SKIP, why naming the library and the names tried. */
int ab_nccl_open(const ab_gpu_shim *shim, const char *label, const char *const *libs,
                 const int *ordinals, int n, ab_coll_comm **comm, char *why);
void ab_nccl_close(ab_coll_comm *comm);
/* Across processes (ab_coll_impl.job_*): the library loaded into a communicator of one rank in
 * this process; rank 0's ncclGetUniqueId (id: AB_NCCL_ID_BYTES); ncclCommInitRank of `rank` of
 * `nranks` on device `ordinal`, its stream. Rank r of the communicator is then this process's
 * rank 0 in write_send / read_recv. */
int ab_nccl_job_load(const ab_gpu_shim *shim, const char *label, const char *const *libs,
                     ab_coll_comm **comm, char *why);
int ab_nccl_job_id(ab_coll_comm *comm, void *id, size_t bytes, char *why);
int ab_nccl_job_init(ab_coll_comm *comm, int ordinal, int nranks, int rank, const void *id,
                     char *why);
int ab_nccl_nranks(const ab_coll_comm *comm);
const char *ab_nccl_library(const ab_coll_comm *comm);
int ab_nccl_alloc(ab_coll_comm *comm, size_t send_bytes, size_t recv_bytes, char *err);
int ab_nccl_write_send(ab_coll_comm *comm, int rank, const void *host, size_t bytes, char *err);
int ab_nccl_read_recv(ab_coll_comm *comm, int rank, void *host, size_t bytes, char *err);
int ab_nccl_clear_recv(ab_coll_comm *comm, int value, char *err);
int ab_nccl_run(ab_coll_comm *comm, ab_coll_op op, size_t count, int root, long iters, double *sec,
                char *err);

/* "2.28.9" from ncclGetVersion's code (X*10000+Y*100+Z since 2.9, X*1000+Y*100+Z before). */
void ab_nccl_version_text(int code, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif

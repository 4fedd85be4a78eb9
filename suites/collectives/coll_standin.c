/* SPDX-License-Identifier: MIT */
/*
 * Test only: the collectives suite across the ranks of an MPI job through the NCCL glue
 * (coll_nccl.c, the code the GPU plugins run) on host memory, against a stand-in libnccl
 * (tests/fake_nccl.c) named by ACCELBENCH_TEST_NCCL_STANDIN. It lets CTest drive the
 * ncclGetUniqueId / MPI_Bcast / ncclCommInitRank path under a real mpirun on a machine without
 * GPUs. Its results carry impl "nccl-standin" and a library text saying "stand-in": they time
 * host memcpy loops of the stand-in and are never device figures.
 */
#include "coll_nccl.h"

#include "../../runners/mpi_job.h"

#include <stdlib.h>
#include <string.h>

static int h_set(int d)
{
    (void)d;
    return 0;
}
static int h_alloc(void **p, size_t b)
{
    return (*p = malloc(b)) ? 0 : -1;
}
static int h_copy(void *d, const void *s, size_t b)
{
    memcpy(d, s, b);
    return 0;
}
static int h_fill(void *p, int v, size_t b)
{
    memset(p, v, b);
    return 0;
}
static int h_stream(void **s)
{
    static int tag;
    *s = &tag;
    return 0;
}
static void h_stream_destroy(void *s)
{
    (void)s;
}
static int h_sync(void *s)
{
    (void)s;
    return 0;
}
static const char *h_error(void)
{
    return "host memory error";
}

/* also the in-process test's (tests/test_nccl.c) */
const ab_gpu_shim ab_coll_host_shim = {
    h_set,
    h_alloc,
    free,
    h_copy,
    h_copy,
    h_fill,
    h_stream,
    h_stream_destroy,
    h_sync,
    h_error,
    "host memory (test stand-in for the GPU runtime, never device figures)"};

static int s_open(const int *ord, int n, int ranks, ab_coll_comm **comm, char *why)
{
    (void)ord;
    (void)n;
    (void)ranks;
    (void)comm;
    if (why) strcpy(why, "the NCCL stand-in runs only across the ranks of an MPI job");
    return AB_COLL_SKIP;
}

static int s_load(ab_coll_comm **comm, char *why)
{
    const char *lib = getenv("ACCELBENCH_TEST_NCCL_STANDIN");
    const char *libs[] = {lib ? lib : "", NULL};
    return ab_nccl_job_load(&ab_coll_host_shim, "NCCL stand-in", libs, comm, why);
}

static const ab_coll_impl standin = {"nccl-standin",
                                     false,
                                     s_open,
                                     ab_nccl_close,
                                     ab_nccl_nranks,
                                     ab_nccl_library,
                                     ab_nccl_alloc,
                                     ab_nccl_write_send,
                                     ab_nccl_read_recv,
                                     ab_nccl_clear_recv,
                                     ab_nccl_run,
                                     s_load,
                                     ab_nccl_job_id,
                                     ab_nccl_job_init};

const ab_coll_impl *ab_coll_standin(void)
{
    const char *lib = getenv("ACCELBENCH_TEST_NCCL_STANDIN");
    return lib && *lib && ab_job_active() ? &standin : NULL;
}

/* SPDX-License-Identifier: MIT */
/* NCCL / RCCL through dlopen, one process driving every GPU (coll_nccl.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include "coll_nccl.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the subset of nccl.h (NCCL 2.28.9) used here ---- */
typedef struct ncclComm *ncclComm_t;
typedef int ncclResult_t; /* enum: ncclSuccess = 0, then the error kinds */
#define ncclSuccess 0
#define ncclFloat32 7      /* ncclDataType_t */
#define ncclSum     0      /* ncclRedOp_t */
typedef void *gpuStream_t; /* cudaStream_t / hipStream_t: a pointer */
typedef struct {
    char internal[AB_NCCL_ID_BYTES]; /* NCCL_UNIQUE_ID_BYTES */
} ncclUniqueId;

typedef struct nccl_api {
    ncclResult_t (*GetVersion)(int *version);
    ncclResult_t (*CommInitAll)(ncclComm_t *comm, int ndev, const int *devlist);
    ncclResult_t (*GetUniqueId)(ncclUniqueId *id);
    ncclResult_t (*CommInitRank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
    ncclResult_t (*CommDestroy)(ncclComm_t comm);
    const char *(*GetErrorString)(ncclResult_t result);
    ncclResult_t (*AllReduce)(const void *sendbuff, void *recvbuff, size_t count, int datatype,
                              int op, ncclComm_t comm, gpuStream_t stream);
    ncclResult_t (*Broadcast)(const void *sendbuff, void *recvbuff, size_t count, int datatype,
                              int root, ncclComm_t comm, gpuStream_t stream);
    ncclResult_t (*ReduceScatter)(const void *sendbuff, void *recvbuff, size_t recvcount,
                                  int datatype, int op, ncclComm_t comm, gpuStream_t stream);
    ncclResult_t (*AllGather)(const void *sendbuff, void *recvbuff, size_t sendcount, int datatype,
                              ncclComm_t comm, gpuStream_t stream);
    ncclResult_t (*Send)(const void *sendbuff, size_t count, int datatype, int peer,
                         ncclComm_t comm, gpuStream_t stream);
    ncclResult_t (*Recv)(void *recvbuff, size_t count, int datatype, int peer, ncclComm_t comm,
                         gpuStream_t stream);
    ncclResult_t (*GroupStart)(void);
    ncclResult_t (*GroupEnd)(void);
} nccl_api;

struct ab_coll_comm {
    const ab_gpu_shim *shim;
    void *dl;
    nccl_api api;
    int n;      /* the communicators this process drives */
    int nranks; /* ranks of the communicator: n, or the job's across processes */
    int base;   /* the rank of this process's first communicator */
    int *ord;
    ncclComm_t *comms;
    gpuStream_t *streams;
    void **send, **recv;
    size_t send_bytes, recv_bytes;
    char library[512];
};

__attribute__((format(printf, 2, 3))) static int nc_fail(char *why, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, 256, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void ab_nccl_version_text(int code, char *buf, size_t len)
{
    if (code >= 10000)
        snprintf(buf, len, "%d.%d.%d", code / 10000, code % 10000 / 100, code % 100);
    else
        snprintf(buf, len, "%d.%d.%d", code / 1000, code % 1000 / 100, code % 100);
}

static int load(ab_coll_comm *c, const char *label, const char *const *libs, char *why)
{
    char tried[200] = "";
    for (size_t i = 0; libs[i] && !c->dl; i++) {
        c->dl = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
        size_t t = strlen(tried);
        if (!c->dl && t < sizeof(tried))
            snprintf(tried + t, sizeof(tried) - t, "%s%s", t ? ", " : "", libs[i]);
    }
    if (!c->dl) return nc_fail(why, "%s is not installed (no %s could be loaded)", label, tried), 1;
    struct {
        const char *name;
        void **slot;
    } syms[] = {
        {"ncclGetVersion", (void **)&c->api.GetVersion},
        {"ncclCommInitAll", (void **)&c->api.CommInitAll},
        {"ncclGetUniqueId", (void **)&c->api.GetUniqueId},
        {"ncclCommInitRank", (void **)&c->api.CommInitRank},
        {"ncclCommDestroy", (void **)&c->api.CommDestroy},
        {"ncclGetErrorString", (void **)&c->api.GetErrorString},
        {"ncclAllReduce", (void **)&c->api.AllReduce},
        {"ncclBroadcast", (void **)&c->api.Broadcast},
        {"ncclReduceScatter", (void **)&c->api.ReduceScatter},
        {"ncclAllGather", (void **)&c->api.AllGather},
        {"ncclSend", (void **)&c->api.Send},
        {"ncclRecv", (void **)&c->api.Recv},
        {"ncclGroupStart", (void **)&c->api.GroupStart},
        {"ncclGroupEnd", (void **)&c->api.GroupEnd},
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
        if (!(*syms[i].slot = dlsym(c->dl, syms[i].name)))
            return nc_fail(why, "the %s library has no %s (older than NCCL 2.7?)", label,
                           syms[i].name),
                   1;
    int v = 0;
    char vt[32] = "?";
    if (c->api.GetVersion(&v) == ncclSuccess) ab_nccl_version_text(v, vt, sizeof(vt));
    Dl_info info;
    memset(&info, 0, sizeof(info));
    const char *path =
        dladdr(*(void **)&c->api.GetVersion, &info) && info.dli_fname ? info.dli_fname : "?";
    snprintf(c->library, sizeof(c->library), "%s %s (%s), %s", label, vt, path, c->shim->runtime);
    return 0;
}

static int nccl_err(const ab_coll_comm *c, char *err, const char *what, ncclResult_t rc)
{
    return nc_fail(err, "%s: %s", what, c->api.GetErrorString ? c->api.GetErrorString(rc) : "?");
}

/* The communicator's shell for n communicators in this process, the library loaded. */
static int make(const ab_gpu_shim *shim, const char *label, const char *const *libs, int n,
                ab_coll_comm **out, char *why)
{
    ab_coll_comm *c = (ab_coll_comm *)calloc(1, sizeof(*c));
    if (!c) return nc_fail(why, "out of memory");
    c->shim = shim;
    c->n = c->nranks = n;
    c->ord = (int *)calloc((size_t)n, sizeof(int));
    c->comms = (ncclComm_t *)calloc((size_t)n, sizeof(ncclComm_t));
    c->streams = (gpuStream_t *)calloc((size_t)n, sizeof(gpuStream_t));
    c->send = (void **)calloc((size_t)n, sizeof(void *));
    c->recv = (void **)calloc((size_t)n, sizeof(void *));
    int rc = c->ord && c->comms && c->streams && c->send && c->recv ? load(c, label, libs, why)
                                                                    : nc_fail(why, "out of memory");
    if (rc != 0) {
        ab_nccl_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int make_streams(ab_coll_comm *c, char *why)
{
    for (int i = 0; i < c->n; i++)
        if (c->shim->set_device(c->ord[i]) != 0 || c->shim->stream_create(&c->streams[i]) != 0)
            return nc_fail(why, "stream on device %d: %s", c->ord[i], c->shim->error());
    return 0;
}

int ab_nccl_open(const ab_gpu_shim *shim, const char *label, const char *const *libs,
                 const int *ordinals, int n, ab_coll_comm **out, char *why)
{
    if (n < 2) return nc_fail(why, "collectives need at least 2 devices"), AB_COLL_SKIP;
    ab_coll_comm *c = NULL;
    int rc = make(shim, label, libs, n, &c, why);
    if (rc != 0) return rc;
    memcpy(c->ord, ordinals, (size_t)n * sizeof(int));
    ncclResult_t r = c->api.CommInitAll(c->comms, n, c->ord);
    if (r != ncclSuccess) {
        memset(c->comms, 0, (size_t)n * sizeof(ncclComm_t));
        rc = nccl_err(c, why, "ncclCommInitAll", r);
    }
    if (rc == 0) rc = make_streams(c, why);
    if (rc != 0) {
        ab_nccl_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int ab_nccl_job_load(const ab_gpu_shim *shim, const char *label, const char *const *libs,
                     ab_coll_comm **comm, char *why)
{
    return make(shim, label, libs, 1, comm, why);
}

int ab_nccl_job_id(ab_coll_comm *c, void *id, size_t bytes, char *why)
{
    ncclUniqueId u;
    memset(&u, 0, sizeof(u));
    if (bytes < sizeof(u)) return nc_fail(why, "the unique id needs %zu bytes", sizeof(u));
    ncclResult_t r = c->api.GetUniqueId(&u);
    if (r != ncclSuccess) return nccl_err(c, why, "ncclGetUniqueId", r);
    memcpy(id, &u, sizeof(u));
    return 0;
}

int ab_nccl_job_init(ab_coll_comm *c, int ordinal, int nranks, int rank, const void *id, char *why)
{
    ncclUniqueId u;
    memcpy(&u, id, sizeof(u));
    c->ord[0] = ordinal;
    c->nranks = nranks;
    c->base = rank;
    if (c->shim->set_device(ordinal) != 0)
        return nc_fail(why, "device %d: %s", ordinal, c->shim->error());
    ncclResult_t r = c->api.CommInitRank(&c->comms[0], nranks, u, rank);
    if (r != ncclSuccess) {
        c->comms[0] = NULL;
        return nccl_err(c, why, "ncclCommInitRank", r);
    }
    return make_streams(c, why);
}

static void free_buffers(ab_coll_comm *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->send[i] || c->recv[i]) c->shim->set_device(c->ord[i]);
        if (c->send[i]) c->shim->mem_free(c->send[i]);
        if (c->recv[i]) c->shim->mem_free(c->recv[i]);
        c->send[i] = c->recv[i] = NULL;
    }
    c->send_bytes = c->recv_bytes = 0;
}

void ab_nccl_close(ab_coll_comm *c)
{
    if (!c) return;
    if (c->send && c->recv) free_buffers(c);
    for (int i = 0; c->streams && i < c->n; i++)
        if (c->streams[i]) {
            c->shim->set_device(c->ord[i]);
            c->shim->stream_destroy(c->streams[i]);
        }
    for (int i = 0; c->comms && i < c->n; i++)
        if (c->comms[i]) c->api.CommDestroy(c->comms[i]);
    if (c->dl) dlclose(c->dl);
    free(c->ord);
    free(c->comms);
    free(c->streams);
    free(c->send);
    free(c->recv);
    free(c);
}

int ab_nccl_nranks(const ab_coll_comm *c)
{
    return c->nranks;
}

const char *ab_nccl_library(const ab_coll_comm *c)
{
    return c->library;
}

int ab_nccl_alloc(ab_coll_comm *c, size_t send_bytes, size_t recv_bytes, char *err)
{
    free_buffers(c);
    for (int i = 0; i < c->n; i++) {
        if (c->shim->set_device(c->ord[i]) != 0 ||
            c->shim->mem_alloc(&c->send[i], send_bytes ? send_bytes : 4) != 0 ||
            c->shim->mem_alloc(&c->recv[i], recv_bytes ? recv_bytes : 4) != 0) {
            nc_fail(err, "%zu + %zu bytes on device %d: %s", send_bytes, recv_bytes, c->ord[i],
                    c->shim->error());
            free_buffers(c);
            return -1;
        }
    }
    c->send_bytes = send_bytes;
    c->recv_bytes = recv_bytes;
    return 0;
}

int ab_nccl_write_send(ab_coll_comm *c, int rank, const void *host, size_t bytes, char *err)
{
    if (rank < 0 || rank >= c->n || bytes > c->send_bytes)
        return nc_fail(err, "write of %zu bytes to rank %d out of range", bytes, rank);
    if (c->shim->set_device(c->ord[rank]) != 0 || c->shim->h2d(c->send[rank], host, bytes) != 0)
        return nc_fail(err, "copy to device %d: %s", c->ord[rank], c->shim->error());
    return 0;
}

int ab_nccl_read_recv(ab_coll_comm *c, int rank, void *host, size_t bytes, char *err)
{
    if (rank < 0 || rank >= c->n || bytes > c->recv_bytes)
        return nc_fail(err, "read of %zu bytes from rank %d out of range", bytes, rank);
    if (c->shim->set_device(c->ord[rank]) != 0 || c->shim->d2h(host, c->recv[rank], bytes) != 0)
        return nc_fail(err, "copy from device %d: %s", c->ord[rank], c->shim->error());
    return 0;
}

int ab_nccl_clear_recv(ab_coll_comm *c, int value, char *err)
{
    for (int i = 0; i < c->n; i++)
        if (c->shim->set_device(c->ord[i]) != 0 ||
            c->shim->fill(c->recv[i], value, c->recv_bytes) != 0)
            return nc_fail(err, "clearing device %d: %s", c->ord[i], c->shim->error());
    return 0;
}

/* One rank's part of op (inside the group). */
static ncclResult_t enqueue(ab_coll_comm *c, int r, ab_coll_op op, size_t count, int root)
{
    const nccl_api *a = &c->api;
    void *s = c->send[r], *d = c->recv[r];
    ncclComm_t cm = c->comms[r];
    gpuStream_t st = c->streams[r];
    int n = c->nranks;
    r += c->base; /* the rank in the communicator */
    size_t chunk = count * sizeof(float);
    ncclResult_t rc = ncclSuccess;
    switch (op) {
    case AB_COLL_ALL_REDUCE:
        return a->AllReduce(s, d, count, ncclFloat32, ncclSum, cm, st);
    case AB_COLL_ALL_GATHER:
        return a->AllGather(s, d, count, ncclFloat32, cm, st);
    case AB_COLL_REDUCE_SCATTER:
        return a->ReduceScatter(s, d, count, ncclFloat32, ncclSum, cm, st);
    case AB_COLL_BROADCAST:
        return a->Broadcast(s, d, count, ncclFloat32, root, cm, st);
    case AB_COLL_ALL_TO_ALL: /* nccl-tests' alltoall: a send and a receive per peer */
        for (int j = 0; j < n && rc == ncclSuccess; j++) {
            rc = a->Send((char *)s + (size_t)j * chunk, count, ncclFloat32, j, cm, st);
            if (rc == ncclSuccess)
                rc = a->Recv((char *)d + (size_t)j * chunk, count, ncclFloat32, j, cm, st);
        }
        return rc;
    case AB_COLL_SENDRECV: /* nccl-tests' sendrecv: to the next rank, from the previous */
        rc = a->Send(s, count, ncclFloat32, (r + 1) % n, cm, st);
        return rc == ncclSuccess ? a->Recv(d, count, ncclFloat32, (r + n - 1) % n, cm, st) : rc;
    case AB_COLL_NOPS:
        break;
    }
    return ncclSuccess;
}

static int sync_all(ab_coll_comm *c, char *err)
{
    for (int i = 0; i < c->n; i++)
        if (c->shim->set_device(c->ord[i]) != 0 || c->shim->stream_sync(c->streams[i]) != 0)
            return nc_fail(err, "device %d: %s", c->ord[i], c->shim->error());
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ab_nccl_run(ab_coll_comm *c, ab_coll_op op, size_t count, int root, long iters, double *sec,
                char *err)
{
    size_t n = (size_t)c->nranks;
    size_t need_s = op == AB_COLL_REDUCE_SCATTER || op == AB_COLL_ALL_TO_ALL ? n * count : count;
    size_t need_r = op == AB_COLL_ALL_GATHER || op == AB_COLL_ALL_TO_ALL ? n * count : count;
    if (need_s * sizeof(float) > c->send_bytes || need_r * sizeof(float) > c->recv_bytes)
        return nc_fail(err, "count %zu does not fit the buffers", count);
    if (sync_all(c, err) != 0) return -1;
    double t0 = now();
    for (long it = 0; it < iters; it++) {
        ncclResult_t rc = c->api.GroupStart();
        for (int r = 0; rc == ncclSuccess && r < c->n; r++)
            rc = enqueue(c, r, op, count, root);
        /* a group that was started is always ended, also after an enqueue error */
        ncclResult_t end = c->api.GroupEnd();
        if (rc == ncclSuccess) rc = end;
        if (rc != ncclSuccess) return nccl_err(c, err, "enqueueing the collective", rc);
    }
    if (sync_all(c, err) != 0) return -1;
    *sec = now() - t0;
    return 0;
}

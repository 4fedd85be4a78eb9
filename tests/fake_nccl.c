/* SPDX-License-Identifier: MIT */
/*
 * A stand-in libnccl for tests/test_nccl.c: the NCCL calls the collectives suite makes, behaving
 * as NCCL's documentation says, computing on host memory (the "device" buffers are host
 * pointers given by the test's memory shim). Its timings are those of host memcpy loops and are
 * never device figures; nothing records them as such.
 *
 * Semantics kept from NCCL: ncclCommInitAll makes one communicator per listed device (ranks in
 * list order; a device listed twice is ncclInvalidArgument); with more than one rank, a
 * collective or a send/receive outside ncclGroupStart/End cannot complete from one thread
 * (real NCCL would wait for the other ranks forever): ncclInvalidUsage here. Within a group,
 * ncclGroupEnd runs every call: the k-th collective of a kind on each rank of a communicator
 * forms one collective (counts and roots must agree), each send must meet a receive of the same
 * count on its peer. f32 and sum only (the suite uses nothing else). Across processes
 * (ncclGetUniqueId, ncclCommInitRank): fake_nccl_xp.c.
 */
#include "fake_nccl.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static call pending[4096];
static int npending, depth;

/* what the test reads back: calls, groups, the last devlist */
typedef struct fake_nccl_stats {
    long group_ends, calls, inits;
    int ndev, devlist[16];
} fake_nccl_stats;
fake_nccl_stats fake_nccl_last;
/* set by the test: all_reduce adds 1 to rank 0's first element (a broken library) */
int fake_nccl_corrupt;

ncclResult_t ncclGetVersion(int *version)
{
    if (!version) return invalid_argument;
    *version = 21905; /* "2.19.5": a code in NCCL >= 2.9's X*10000+Y*100+Z form */
    return ok;
}

const char *ncclGetErrorString(ncclResult_t r)
{
    switch (r) {
    case ok:
        return "no error";
    case system_error:
        return "unhandled system error (stand-in: out of memory)";
    case internal_error:
        return "internal error (stand-in)";
    case invalid_argument:
        return "invalid argument (stand-in)";
    case invalid_usage:
        return "invalid usage (stand-in)";
    default:
        return "unknown result (stand-in)";
    }
}

ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist)
{
    if (!comms || ndev < 1) return invalid_argument;
    for (int i = 0; devlist && i < ndev; i++)
        for (int j = 0; j < i; j++)
            if (devlist[i] == devlist[j]) return invalid_argument;
    clique *cl = calloc(1, sizeof(*cl));
    if (!cl) return system_error;
    cl->n = cl->refs = ndev;
    for (int i = 0; i < ndev; i++) {
        comms[i] = calloc(1, sizeof(**comms));
        if (!comms[i]) return system_error;
        comms[i]->cl = cl;
        comms[i]->rank = i;
        comms[i]->dev = devlist ? devlist[i] : i;
        if (i < 16) fake_nccl_last.devlist[i] = comms[i]->dev;
    }
    fake_nccl_last.ndev = ndev;
    fake_nccl_last.inits++;
    return ok;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    if (!comm) return invalid_argument;
    if (comm->xp) fake_xp_destroy(comm->xp);
    /* the last rank frees the clique */
    if (comm->cl && --comm->cl->refs == 0) free(comm->cl);
    free(comm);
    return ok;
}

ncclResult_t ncclGroupStart(void)
{
    depth++;
    return ok;
}

static ncclResult_t add(int kind, ncclComm_t comm, const void *s, void *r, size_t count,
                        int datatype, int arg)
{
    if (!comm || datatype != 7 /* ncclFloat32 */) return invalid_argument;
    if (!depth && comm->cl && comm->cl->n > 1) return invalid_usage;
    if (npending == (int)(sizeof(pending) / sizeof(pending[0]))) return system_error;
    if (npending && (pending[0].comm->xp != NULL) != (comm->xp != NULL))
        return invalid_usage; /* one group over communicators of both kinds: not here */
    pending[npending++] = (call){kind, comm, s, r, count, arg, 0};
    fake_nccl_last.calls++;
    if (depth || !comm->xp) return ok;
    ncclResult_t rc = fake_xp_group(pending, npending); /* outside a group: now */
    npending = 0;
    return rc;
}

ncclResult_t ncclAllReduce(const void *s, void *r, size_t count, int datatype, int op,
                           ncclComm_t comm, void *stream)
{
    (void)stream;
    return op != 0 ? invalid_argument : add(k_allreduce, comm, s, r, count, datatype, 0);
}

ncclResult_t ncclBroadcast(const void *s, void *r, size_t count, int datatype, int root,
                           ncclComm_t comm, void *stream)
{
    (void)stream;
    return add(k_broadcast, comm, s, r, count, datatype, root);
}

ncclResult_t ncclReduceScatter(const void *s, void *r, size_t recvcount, int datatype, int op,
                               ncclComm_t comm, void *stream)
{
    (void)stream;
    return op != 0 ? invalid_argument : add(k_reducescatter, comm, s, r, recvcount, datatype, 0);
}

ncclResult_t ncclAllGather(const void *s, void *r, size_t sendcount, int datatype, ncclComm_t comm,
                           void *stream)
{
    (void)stream;
    return add(k_allgather, comm, s, r, sendcount, datatype, 0);
}

ncclResult_t ncclSend(const void *s, size_t count, int datatype, int peer, ncclComm_t comm,
                      void *stream)
{
    (void)stream;
    return add(k_send, comm, s, NULL, count, datatype, peer);
}

ncclResult_t ncclRecv(void *r, size_t count, int datatype, int peer, ncclComm_t comm, void *stream)
{
    (void)stream;
    return add(k_recv, comm, NULL, r, count, datatype, peer);
}

/* the not-done call of `kind` on rank `rank` of clique cl that comes first */
static call *find(int kind, const clique *cl, int rank, int peer)
{
    for (int i = 0; i < npending; i++) {
        call *c = &pending[i];
        if (!c->done && c->kind == kind && c->comm->cl == cl && c->comm->rank == rank &&
            (peer < 0 || c->root_or_peer == peer))
            return c;
    }
    return NULL;
}

static ncclResult_t collective(call *first)
{
    const clique *cl = first->comm->cl;
    int n = cl->n;
    call *by_rank[64];
    if (n > 64) return invalid_usage;
    for (int r = 0; r < n; r++) {
        by_rank[r] = find(first->kind, cl, r, -1);
        if (!by_rank[r] || by_rank[r]->count != first->count ||
            by_rank[r]->root_or_peer != first->root_or_peer)
            return invalid_usage; /* a rank missing: real NCCL would hang */
    }
    size_t cnt = first->count;
    for (int r = 0; r < n; r++) {
        float *out = by_rank[r]->recv;
        for (size_t i = 0; i < cnt; i++) {
            float s = 0;
            switch (first->kind) {
            case k_allreduce:
                for (int j = 0; j < n; j++)
                    s += by_rank[j]->send[i];
                break;
            case k_reducescatter:
                for (int j = 0; j < n; j++)
                    s += by_rank[j]->send[(size_t)r * cnt + i];
                break;
            case k_broadcast:
                s = by_rank[first->root_or_peer]->send[i];
                break;
            default:
                break;
            }
            if (first->kind != k_allgather) out[i] = s;
        }
        if (first->kind == k_allgather)
            for (int j = 0; j < n; j++)
                memcpy(out + (size_t)j * cnt, by_rank[j]->send, cnt * sizeof(float));
    }
    if (fake_nccl_corrupt && first->kind == k_allreduce && cnt) by_rank[0]->recv[0] += 1.0f;
    for (int r = 0; r < n; r++)
        by_rank[r]->done = 1;
    return ok;
}

ncclResult_t ncclGroupEnd(void)
{
    if (depth == 0) return invalid_usage;
    if (--depth > 0) return ok;
    ncclResult_t rc = ok;
    if (npending && pending[0].comm->xp) {
        rc = fake_xp_group(pending, npending);
        npending = 0;
        fake_nccl_last.group_ends++;
        return rc;
    }
    for (int i = 0; i < npending && rc == ok; i++) {
        call *c = &pending[i];
        if (c->done || c->kind == k_recv) continue;
        if (c->kind != k_send) {
            rc = collective(c);
            continue;
        }
        call *rv = find(k_recv, c->comm->cl, c->root_or_peer, c->comm->rank);
        if (!rv || rv->count != c->count) {
            rc = invalid_usage;
            break;
        }
        memcpy(rv->recv, c->send, c->count * sizeof(float));
        c->done = rv->done = 1;
    }
    for (int i = 0; i < npending && rc == ok; i++)
        if (!pending[i].done) rc = invalid_usage; /* a receive nobody sent to */
    npending = 0;
    fake_nccl_last.group_ends++;
    return rc;
}

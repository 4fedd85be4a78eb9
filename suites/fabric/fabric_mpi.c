/* SPDX-License-Identifier: MIT */
/*
 * fabric cases: MPI exchanges on host memory between the ranks of the job (mpi_job.h).
 *
 * Every rank runs every case (the non-participants of a point-to-point pair wait at the
 * meeting points): the setup is a meeting point bounded by --rank-timeout (ab_job_agree), the
 * timing is ab_job_measure (runners/mpi_measure.c), because ab_measure's calibration on each
 * rank's own clock would give the ranks different iteration counts and deadlock: each timed
 * batch starts after a barrier and its time is the slowest rank's (MPI_Allreduce MAX), so every
 * rank takes the same decisions (iterations, early stop, interruption). Results are job_wide:
 * rank 0 records them.
 *
 * Bandwidths follow nccl-tests (doc/PERFORMANCE.md there): algbw = size / t; busbw = algbw x
 * 2(n-1)/n for all_reduce, x (n-1)/n for all_gather (size = the gathered total) and all_to_all
 * (size = what one rank sends in all); the formulas are recorded with each metric. Validation:
 * every received value against the host reference of what the senders wrote (sums of small
 * integers, exact in f32), combined over the ranks.
 *
 * Buffers: each case maps its own (fab_map), never malloc: a case's buffers would otherwise
 * depend on what the cases before it freed -- after fabric.p2p freed its 1 MiB send buffer,
 * glibc raised its mmap threshold and the next cases' buffers came from the brk heap at
 * whatever offset it had reached (0x...ea0 on one rank, 0x...1d0 on the other), where a plain
 * MPI program's malloc of the same size gets a fresh page-aligned mapping.
 */
#include "fabric.h"

#include "../../runners/mpi_job.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef enum { OP_LATENCY, OP_P2P, OP_ALL_REDUCE, OP_ALL_GATHER, OP_ALL_TO_ALL } fab_op;

typedef struct fab_case {
    fab_op op;
    bool bidir;
    int a, b;     /* the pair, point-to-point */
    size_t bytes; /* message (point-to-point) or collective size */
    long window;  /* messages in flight per point-to-point iteration */
    MPI_Comm comm;
    int rank, n;
    unsigned char *send, *recv;
    size_t send_len, recv_len; /* their mappings' lengths */
    MPI_Request *rq;
} fab_case;

#define P2P_MAX_BYTES (1ull << 30) /* window x message, the receive slots */

static unsigned char pbyte(int rank, size_t i)
{
    return (unsigned char)(i * 31u + (unsigned)rank * 7u + 1u);
}

/* the value rank-block k writes at element i: small integers, exact in f32 sums */
static float val(long k, size_t i)
{
    return (float)(k % 251 + (long)(i % 13));
}

/* A fresh, page-aligned, zero-filled mapping of bytes (at least one page); NULL: none. */
static unsigned char *fab_map(size_t bytes, size_t *len)
{
    *len = bytes ? bytes : 1;
    void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) return p;
    *len = 0;
    return NULL;
}

static void fab_unmap(unsigned char **p, size_t *len)
{
    if (*p) munmap(*p, *len);
    *p = NULL;
    *len = 0;
}

static bool in_pair(const fab_case *f)
{
    return f->rank == f->a || f->rank == f->b;
}

static void fill(fab_case *f)
{
    float *s = (float *)f->send, *r = (float *)f->recv;
    size_t cnt = f->bytes / sizeof(float), m = cnt / (size_t)f->n;
    switch (f->op) {
    case OP_LATENCY:
    case OP_P2P:
        for (size_t i = 0; i < f->bytes; i++)
            f->send[i] = pbyte(f->rank, i);
        memset(f->recv, 0, f->bytes * (size_t)f->window);
        return;
    case OP_ALL_REDUCE:
        for (size_t i = 0; i < cnt; i++)
            s[i] = val(f->rank + 1, i);
        break;
    case OP_ALL_GATHER:
        for (size_t i = 0; i < m; i++)
            s[i] = val(f->rank, i);
        break;
    case OP_ALL_TO_ALL:
        for (int j = 0; j < f->n; j++)
            for (size_t i = 0; i < m; i++)
                s[(size_t)j * m + i] = val((long)f->rank * f->n + j, i);
        break;
    }
    for (size_t i = 0; i < cnt; i++)
        r[i] = NAN; /* never written: fails validation */
}

static int fab_setup(ab_case *c, char *err)
{
    fab_case *f = c->data;
    f->comm = ab_job_comm();
    MPI_Comm_rank(f->comm, &f->rank);
    MPI_Comm_size(f->comm, &f->n);
    bool p2p = f->op == OP_LATENCY || f->op == OP_P2P;
    size_t sb = f->op == OP_ALL_GATHER ? f->bytes / (size_t)f->n : f->bytes;
    size_t rb = p2p ? f->bytes * (size_t)f->window : f->bytes;
    int local = 0;
    if (p2p && rb > P2P_MAX_BYTES) {
        local = 2;
    } else {
        f->send = fab_map(sb, &f->send_len);
        f->recv = fab_map(rb, &f->recv_len);
        f->rq = calloc(2 * (size_t)f->window, sizeof(*f->rq));
        if (!f->send || !f->recv || !f->rq)
            local = 1;
        else
            fill(f);
    }
    /* a meeting point: every rank is here and set up, or the case is nobody's */
    int all = ab_job_agree(local);
    if (all == 2) {
        ab_err(err, "--window %ld x --p2p-size %zu B is more than 1 GiB of receive slots",
               f->window, f->bytes);
        return AB_CASE_SKIP;
    }
    if (all != 0)
        return ab_err(err, "%s",
                      ab_job_broken() ? ab_job_broken() : "a rank could not allocate its buffers");
    return 0;
}

static void fab_teardown(ab_case *c)
{
    fab_case *f = c->data;
    fab_unmap(&f->send, &f->send_len);
    fab_unmap(&f->recv, &f->recv_len);
    free(f->rq);
    f->rq = NULL;
}

static void p2p_once(fab_case *f)
{
    int peer = f->rank == f->a ? f->b : f->a;
    int cnt = (int)f->bytes;
    long w = f->window;
    if (f->op == OP_LATENCY) {
        if (f->rank == f->a) {
            MPI_Send(f->send, cnt, MPI_BYTE, peer, 1, f->comm);
            MPI_Recv(f->recv, cnt, MPI_BYTE, peer, 1, f->comm, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(f->recv, cnt, MPI_BYTE, peer, 1, f->comm, MPI_STATUS_IGNORE);
            MPI_Send(f->send, cnt, MPI_BYTE, peer, 1, f->comm);
        }
        return;
    }
    long nrq = 0;
    bool recv = f->bidir || f->rank == f->b, send = f->bidir || f->rank == f->a;
    for (long k = 0; recv && k < w; k++)
        MPI_Irecv(f->recv + (size_t)k * f->bytes, cnt, MPI_BYTE, peer, 2, f->comm, &f->rq[nrq++]);
    for (long k = 0; send && k < w; k++)
        MPI_Isend(f->send, cnt, MPI_BYTE, peer, 2, f->comm, &f->rq[nrq++]);
    MPI_Waitall((int)nrq, f->rq, MPI_STATUSES_IGNORE);
    if (!f->bidir) { /* the receiver says the window arrived (as osu_bw does) */
        unsigned char ack = 0;
        if (f->rank == f->b)
            MPI_Send(&ack, 1, MPI_BYTE, peer, 3, f->comm);
        else
            MPI_Recv(&ack, 1, MPI_BYTE, peer, 3, f->comm, MPI_STATUS_IGNORE);
    }
}

static void fab_once(fab_case *f)
{
    int m = (int)(f->bytes / sizeof(float) / (size_t)f->n);
    switch (f->op) {
    case OP_LATENCY:
    case OP_P2P:
        if (in_pair(f)) p2p_once(f);
        break;
    case OP_ALL_REDUCE:
        MPI_Allreduce(f->send, f->recv, (int)(f->bytes / sizeof(float)), MPI_FLOAT, MPI_SUM,
                      f->comm);
        break;
    case OP_ALL_GATHER:
        MPI_Allgather(f->send, m, MPI_FLOAT, f->recv, m, MPI_FLOAT, f->comm);
        break;
    case OP_ALL_TO_ALL:
        MPI_Alltoall(f->send, m, MPI_FLOAT, f->recv, m, MPI_FLOAT, f->comm);
        break;
    }
}

/* This rank's part of a timed batch (ab_job_measure): iters exchanges. */
static int fab_work(void *arg, long iters, double *sec, char *err)
{
    (void)err;
    fab_case *f = arg;
    double t0 = MPI_Wtime();
    for (long i = 0; i < iters; i++)
        fab_once(f);
    *sec = MPI_Wtime() - t0;
    return 0;
}

static int fab_measure(ab_case *c, const ab_sampling *s, ab_timing *t, char *err)
{
    ab_job_test_fault(c->r->key);
    return ab_job_measure(s, t, fab_work, c->data, err);
}

static int latency_metric(ab_case *c, const ab_timing *t, ab_result *r, char *err)
{
    (void)c;
    double *v = calloc(t->n ? t->n : 1, sizeof(*v));
    if (!v) return ab_err(err, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        v[i] = t->per_iter[i] / 2.0;
    bool ok = t->n == 0 || ab_result_add_metric(r, "latency", "s", false,
                                                "t / 2 (t: one round trip of bytes B)", v, t->n);
    free(v);
    return ok ? 0 : ab_err(err, "out of memory");
}

/* This rank's received values against what the senders wrote: the wrong ones counted. */
static long check_local(const fab_case *f)
{
    long bad = 0;
    const float *r = (const float *)f->recv;
    size_t cnt = f->bytes / sizeof(float), m = cnt / (size_t)f->n;
    long n = f->n;
    switch (f->op) {
    case OP_LATENCY:
    case OP_P2P:
        if (!in_pair(f) || (f->op == OP_P2P && !f->bidir && f->rank != f->b)) return 0;
        for (long k = 0; k < (f->op == OP_LATENCY ? 1 : f->window); k++)
            for (size_t i = 0; i < f->bytes; i++)
                bad += f->recv[(size_t)k * f->bytes + i] != pbyte(f->rank == f->a ? f->b : f->a, i);
        return bad;
    case OP_ALL_REDUCE:
        for (size_t i = 0; i < cnt; i++)
            bad += !(r[i] == (float)(n * (n + 1) / 2 + n * (long)(i % 13)));
        return bad;
    case OP_ALL_GATHER:
    case OP_ALL_TO_ALL:
        for (long b = 0; b < n; b++)
            for (size_t i = 0; i < m; i++)
                bad +=
                    !(r[(size_t)b * m + i] == val(f->op == OP_ALL_GATHER ? b : b * n + f->rank, i));
        return bad;
    }
    return bad;
}

static int fab_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    (void)err;
    fab_case *f = c->data;
    long bad = check_local(f), total = 0;
    int first = bad ? f->rank : INT_MAX, first_all = INT_MAX;
    ab_job_watch("the fabric suite's validation");
    MPI_Allreduce(&bad, &total, 1, MPI_LONG, MPI_SUM, f->comm);
    MPI_Allreduce(&first, &first_all, 1, MPI_INT, MPI_MIN, f->comm);
    ab_job_unwatch();
    if (r->extra) {
        json_object_set_new(r->extra, "reference", json_string("host: what the senders wrote"));
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        int len = 0;
        MPI_Get_library_version(lib, &len);
        lib[strcspn(lib, ",\n")] = '\0';
        json_object_set_new(r->extra, "mpi_library", ab_json_string(lib));
    }
    if (total) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg),
                 "%ld received values differ from the host reference (first on rank %d)", total,
                 first_all);
    }
    return 0;
}

static int fab_corrupt(ab_case *c, char *err)
{
    (void)err;
    fab_case *f = c->data;
    f->recv[0] ^= 0x5a; /* on every rank: the ones that validate this case see it */
    return 0;
}

static const ab_case_ops fab_ops = {
    .setup = fab_setup,
    .measure = fab_measure,
    .validate = fab_validate,
    .corrupt = fab_corrupt,
    .teardown = fab_teardown,
};

static const ab_case_ops latency_ops = {
    .setup = fab_setup,
    .measure = fab_measure,
    .metrics = latency_metric,
    .validate = fab_validate,
    .corrupt = fab_corrupt,
    .teardown = fab_teardown,
};

static int distinct_nodes(void)
{
    int nodes = 0;
    for (int r = 0; r < ab_job_size(); r++) {
        bool seen = false;
        for (int q = 0; q < r && !seen; q++)
            seen = strcmp(ab_job_node_of(q), ab_job_node_of(r)) == 0;
        nodes += !seen;
    }
    return nodes;
}

static ab_case *add_case(ab_caselist *l, const char *key, fab_op op, size_t bytes)
{
    ab_case *c =
        ab_case_new(l, key, "mpi", op == OP_LATENCY ? &latency_ops : &fab_ops, sizeof(fab_case));
    if (!c) return NULL;
    fab_case *f = c->data;
    f->op = op;
    f->bytes = bytes;
    f->window = 1;
    c->r->job_wide = true;
    ab_result_param_int(c->r, "bytes", (long long)bytes);
    ab_result_param_int(c->r, "ranks", ab_job_size());
    ab_result_param_int(c->r, "nodes", distinct_nodes());
    return c;
}

static int add_p2p(ab_caselist *l, const char *key, fab_op op, int a, int b, size_t bytes,
                   long window, bool bidir)
{
    ab_case *c = add_case(l, key, op, bytes);
    if (!c) return -1;
    fab_case *f = c->data;
    f->a = a;
    f->b = b;
    f->bidir = bidir;
    f->window = window;
    ab_result_param_int(c->r, "src", a);
    ab_result_param_int(c->r, "dst", b);
    ab_result_param_str(c->r, "path",
                        strcmp(ab_job_node_of(a), ab_job_node_of(b)) ? "inter-node" : "intra-node");
    if (op == OP_LATENCY) {
        c->headline = true;
        return 0;
    }
    ab_result_param_int(c->r, "window", window);
    c->headline = strcmp(key, "fabric.p2p") == 0;
    return ab_case_metric(c, "bandwidth", "B/s", true, bidir ? "2*window*bytes" : "window*bytes",
                          NULL);
}

static const struct {
    const char *key;
    fab_op op;
    const char *bus, *formula;
} colls[] = {
    {"fabric.all_reduce", OP_ALL_REDUCE, "bytes*2*(ranks-1)/ranks",
     "bytes*2*(ranks-1)/ranks B / t (nccl-tests busbw of all_reduce)"},
    {"fabric.all_gather", OP_ALL_GATHER, "bytes*(ranks-1)/ranks",
     "bytes*(ranks-1)/ranks B / t (nccl-tests busbw of all_gather; bytes: the gathered total)"},
    {"fabric.all_to_all", OP_ALL_TO_ALL, "bytes*(ranks-1)/ranks",
     "bytes*(ranks-1)/ranks B / t (nccl-tests busbw of all_to_all; bytes: one rank's send)"},
};

static int add_collectives(ab_caselist *l, const ab_fabric_plan *p)
{
    size_t unit = sizeof(float) * (size_t)ab_job_size();
    for (size_t k = 0; k < sizeof(colls) / sizeof(colls[0]); k++)
        for (size_t i = 0; i < p->nsizes; i++) {
            /* a whole number of f32 per rank: the size rounded down (recorded as run) */
            size_t bytes = (size_t)p->sizes[i] / unit * unit;
            if (!bytes) continue;
            ab_case *c = add_case(l, colls[k].key, colls[k].op, bytes);
            if (!c) return -1;
            c->headline = true;
            c->series = colls[k].key;
            if (ab_case_metric(c, "busbw", "B/s", true, colls[k].bus, colls[k].formula) ||
                ab_case_metric(c, "algbw", "B/s", true, "bytes", NULL))
                return -1;
        }
    return 0;
}

int ab_fabric_generate(ab_caselist *l, const ab_fabric_plan *p, char *err)
{
    int n = ab_job_size();
    int rc = add_p2p(l, "fabric.latency", OP_LATENCY, 0, 1, 8, 1, false) ||
             add_p2p(l, "fabric.p2p", OP_P2P, 0, 1, p->p2p_size, p->window, false) ||
             add_p2p(l, "fabric.p2p_bidir", OP_P2P, 0, 1, p->p2p_size, p->window, true);
    for (int bidir = 0; bidir < 2 && !rc; bidir++)
        for (int a = 0; a < n && !rc; a++)
            for (int b = a + 1; b < n && !rc; b++)
                rc = add_p2p(l, bidir ? "fabric.pairs_bidir" : "fabric.pairs", OP_P2P, a, b,
                             p->p2p_size, p->window, bidir);
    if (rc || add_collectives(l, p) != 0) return ab_err(err, "out of memory");
    return 0;
}

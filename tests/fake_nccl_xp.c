/* SPDX-License-Identifier: MIT */
/*
 * The stand-in libnccl across processes (tests/fake_nccl.c for the rest): what NCCL documents
 * for many processes, one rank each -- one process calls ncclGetUniqueId, hands the id to the
 * others by its own means (the suite: MPI_Bcast), and every rank calls
 * ncclCommInitRank(comm, nranks, id, rank), which returns when all nranks have joined.
 *
 * Here the id carries the name of a fresh directory (in /dev/shm, else $TMPDIR or /tmp) made
 * by ncclGetUniqueId: a control file there holds a barrier (C11 atomics in a shared mapping)
 * and each rank's current call (kind, count, root: all ranks must agree, as NCCL requires);
 * each rank writes what it sends into its own files there, the ranks meet at the barrier, each
 * reads the others' files and computes its result (sums of f32 in rank order: exact for the
 * suite's small integers), and they meet again before the files are reused. A rank that does
 * not arrive within 120 s is ncclSystemError (real NCCL would wait for ever). The last rank to
 * destroy its communicator removes the directory. Timings are file copies on host memory:
 * never device figures.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fake_nccl.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ID_BYTES  128
#define MAX_RANKS 64
#define PREFIX    "fake-nccl:"

typedef struct {
    char internal[ID_BYTES];
} ncclUniqueId;

typedef struct ctl {
    atomic_int count, gen, joined, left;
    struct {
        int kind, root;
        size_t count;
    } cur[MAX_RANKS];
} ctl;

struct fake_xp {
    char dir[ID_BYTES];
    ctl *c;
    int n, rank;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ncclResult_t barrier(fake_xp *x)
{
    int g = atomic_load(&x->c->gen);
    if (atomic_fetch_add(&x->c->count, 1) == x->n - 1) {
        atomic_store(&x->c->count, 0);
        atomic_fetch_add(&x->c->gen, 1);
        return ok;
    }
    double t0 = mono();
    for (long spin = 0; atomic_load(&x->c->gen) == g; spin++) {
        if (spin < 1000) {
            sched_yield();
            continue;
        }
        nanosleep(&(struct timespec){0, 20000}, NULL);
        if (mono() - t0 > 120.0) return system_error; /* a rank never came */
    }
    return ok;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
    if (!id) return invalid_argument;
    memset(id, 0, sizeof(*id));
    const char *t = getenv("TMPDIR");
    char dir[ID_BYTES];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s/fake-nccl-XXXXXX",
             stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
             : t && *t                                         ? t
                                                               : "/tmp");
    if (strlen(dir) + sizeof(PREFIX) > sizeof(id->internal) || !mkdtemp(dir)) return system_error;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ctl", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)sizeof(ctl)) != 0) { /* zeroed: the barrier at rest */
        if (fd >= 0) close(fd);
        return system_error;
    }
    close(fd);
    snprintf(id->internal, sizeof(id->internal), PREFIX "%s", dir);
    return ok;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
    id.internal[ID_BYTES - 1] = '\0';
    if (!comm || nranks < 1 || nranks > MAX_RANKS || rank < 0 || rank >= nranks ||
        strncmp(id.internal, PREFIX, strlen(PREFIX)) != 0)
        return invalid_argument;
    fake_xp *x = calloc(1, sizeof(*x));
    ncclComm_t cm = calloc(1, sizeof(*cm));
    if (!x || !cm) return free(x), free(cm), system_error;
    snprintf(x->dir, sizeof(x->dir), "%s", id.internal + strlen(PREFIX));
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ctl", x->dir);
    int fd = open(path, O_RDWR);
    void *m =
        fd < 0 ? MAP_FAILED : mmap(NULL, sizeof(ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0) close(fd);
    if (m == MAP_FAILED) return free(x), free(cm), invalid_argument; /* no such id */
    x->c = m;
    x->n = nranks;
    x->rank = rank;
    atomic_fetch_add(&x->c->joined, 1);
    cm->xp = x;
    cm->rank = rank;
    cm->dev = -1;
    if (barrier(x) != ok) { /* every rank has joined, as ncclCommInitRank waits for */
        munmap(m, sizeof(ctl));
        return free(x), free(cm), system_error;
    }
    *comm = cm;
    return ok;
}

void fake_xp_destroy(fake_xp *x)
{
    char path[PATH_MAX];
    for (int p = -1; p < x->n; p++) { /* this rank's files */
        if (p < 0)
            snprintf(path, sizeof(path), "%s/c%d", x->dir, x->rank);
        else
            snprintf(path, sizeof(path), "%s/p%d_%d", x->dir, x->rank, p);
        unlink(path);
    }
    if (atomic_fetch_add(&x->c->left, 1) == x->n - 1) { /* the last one out */
        snprintf(path, sizeof(path), "%s/ctl", x->dir);
        unlink(path);
        rmdir(x->dir);
    }
    munmap(x->c, sizeof(ctl));
    free(x);
}

static int put(const fake_xp *x, const char *name, const void *p, size_t bytes)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", x->dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    ssize_t w = bytes ? write(fd, p, bytes) : 0;
    close(fd);
    return w == (ssize_t)bytes ? 0 : -1;
}

/* bytes at offset of file `name` into p; -1 when it is shorter */
static int get(const fake_xp *x, const char *name, size_t off, void *p, size_t bytes)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", x->dir, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t r = bytes ? pread(fd, p, bytes, (off_t)off) : 0;
    close(fd);
    return r == (ssize_t)bytes ? 0 : -1;
}

static size_t send_count(int kind, size_t count, int n)
{
    return kind == k_reducescatter ? (size_t)n * count : count;
}

/* This rank's result of collective c from every rank's input files. */
static int compute(const fake_xp *x, const call *c, float *tmp)
{
    size_t cnt = c->count, ns = send_count(c->kind, cnt, x->n);
    char name[32];
    if (c->kind == k_broadcast) {
        snprintf(name, sizeof(name), "c%d", c->root_or_peer);
        return get(x, name, 0, c->recv, cnt * sizeof(float));
    }
    if (c->kind == k_allgather) {
        for (int j = 0; j < x->n; j++) {
            snprintf(name, sizeof(name), "c%d", j);
            if (get(x, name, 0, c->recv + (size_t)j * cnt, cnt * sizeof(float)) != 0) return -1;
        }
        return 0;
    }
    size_t off = c->kind == k_reducescatter ? (size_t)x->rank * cnt : 0;
    for (size_t i = 0; i < cnt; i++)
        c->recv[i] = 0.0f;
    for (int j = 0; j < x->n; j++) {
        snprintf(name, sizeof(name), "c%d", j);
        if (get(x, name, off * sizeof(float), tmp, cnt * sizeof(float)) != 0) return -1;
        for (size_t i = 0; i < cnt; i++)
            c->recv[i] += tmp[i];
    }
    (void)ns;
    return 0;
}

static ncclResult_t collective(fake_xp *x, call *c)
{
    size_t ns = send_count(c->kind, c->count, x->n);
    char name[32];
    snprintf(name, sizeof(name), "c%d", x->rank);
    x->c->cur[x->rank].kind = c->kind;
    x->c->cur[x->rank].count = c->count;
    x->c->cur[x->rank].root = c->root_or_peer;
    int bad = (c->kind != k_broadcast || x->rank == c->root_or_peer) &&
              put(x, name, c->send, ns * sizeof(float)) != 0;
    if (barrier(x) != ok) return system_error;
    for (int j = 0; j < x->n; j++) /* every rank in the same collective */
        bad |= x->c->cur[j].kind != c->kind || x->c->cur[j].count != c->count ||
               x->c->cur[j].root != c->root_or_peer;
    float *tmp = bad ? NULL : malloc(c->count ? c->count * sizeof(float) : 1);
    int rc = bad ? 1 : !tmp ? 2 : compute(x, c, tmp) != 0 ? 1 : 0;
    free(tmp);
    if (barrier(x) != ok) return system_error; /* every rank has read the inputs */
    c->done = 1;
    return rc == 0 ? ok : rc == 2 ? system_error : invalid_usage;
}

/* The sends of the group into one file per peer, then the receives from the peers' files. */
static ncclResult_t p2p(fake_xp *x, call *calls, int n)
{
    int bad = 0;
    char name[32];
    for (int p = 0; p < x->n && !bad; p++) {
        size_t bytes = 0, off = 0;
        for (int i = 0; i < n; i++)
            if (calls[i].kind == k_send && calls[i].root_or_peer == p)
                bytes += calls[i].count * sizeof(float);
        char *buf = malloc(bytes ? bytes : 1);
        bad |= !buf;
        for (int i = 0; i < n && buf; i++)
            if (calls[i].kind == k_send && calls[i].root_or_peer == p) {
                memcpy(buf + off, calls[i].send, calls[i].count * sizeof(float));
                off += calls[i].count * sizeof(float);
            }
        snprintf(name, sizeof(name), "p%d_%d", x->rank, p);
        bad |= buf && put(x, name, buf, bytes) != 0;
        free(buf);
    }
    if (barrier(x) != ok) return system_error;
    size_t off[MAX_RANKS] = {0};
    for (int i = 0; i < n && !bad; i++) {
        call *c = &calls[i];
        if (c->kind != k_recv) continue;
        int p = c->root_or_peer;
        snprintf(name, sizeof(name), "p%d_%d", p, x->rank);
        bad |= p < 0 || p >= x->n || get(x, name, off[p], c->recv, c->count * sizeof(float)) != 0;
        if (p >= 0 && p < x->n) off[p] += c->count * sizeof(float);
    }
    if (barrier(x) != ok) return system_error;
    for (int i = 0; i < n; i++)
        if (calls[i].kind == k_send || calls[i].kind == k_recv) calls[i].done = 1;
    return bad ? invalid_usage : ok; /* a receive nobody sent to */
}

ncclResult_t fake_xp_group(call *calls, int n)
{
    fake_xp *x = calls[0].comm->xp;
    ncclResult_t rc = ok;
    int any_p2p = 0;
    for (int i = 0; i < n; i++) {
        if (calls[i].comm->xp != x) return invalid_usage; /* one communicator per process */
        if (calls[i].kind == k_send || calls[i].kind == k_recv) {
            int peer = calls[i].root_or_peer;
            if (peer < 0 || peer >= x->n) return invalid_argument;
            any_p2p = 1;
        }
    }
    for (int i = 0; i < n && rc == ok; i++)
        if (calls[i].kind != k_send && calls[i].kind != k_recv) rc = collective(x, &calls[i]);
    if (rc == ok && any_p2p) rc = p2p(x, calls, n);
    return rc;
}

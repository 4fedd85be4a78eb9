/* SPDX-License-Identifier: MIT */
/*
 * Collectives over host threads (the CPU backend): N ranks are N threads of this process, each
 * with its own send and receive buffers, exchanging data through shared memory with a barrier
 * between steps. all_reduce is a ring (reduce-scatter then all-gather, 2(n-1) steps of one chunk
 * each, every rank reading its left neighbour's buffers, no copy-in), all_gather and
 * reduce_scatter are the ring's halves; all_to_all, broadcast and sendrecv read the peers' send
 * buffers directly (one copy per chunk, what a shared-memory transport does). Rank 0 is the calling
 * thread; the others wait on the barrier for the next command. Threads are not pinned.
 */
#include "collectives.h"

#include "../../core/ab.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ab_coll_comm {
    int n;
    float **send, **recv, **scratch; /* per rank; scratch: reduce_scatter's working copy */
    size_t send_bytes, recv_bytes;
    pthread_t *th;
    int started; /* worker threads created */
    pthread_barrier_t bar;
    /* the command the next go-barrier starts */
    ab_coll_op op;
    size_t count;
    int root;
    long iters;
    bool quit;
};

typedef struct worker_arg {
    ab_coll_comm *c;
    int rank;
} worker_arg;

static void wait_all(ab_coll_comm *c)
{
    pthread_barrier_wait(&c->bar);
}

/* elements [lo, hi) of chunk k when `count` elements are cut into n chunks */
static size_t chunk_lo(size_t count, int n, int k)
{
    return count * (size_t)k / (size_t)n;
}

static void add_into(float *dst, const float *src, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        dst[i] += src[i];
}

static void copy_part(float *dst, const float *src, size_t lo, size_t hi)
{
    memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
}

/* dst[lo, hi) = a + b */
static void sum_into(float *dst, const float *a, const float *b, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        dst[i] = a[i] + b[i];
}

/* Ring all_reduce of `count` elements, rank r of n, out of place: at reduce step s rank r
 * writes chunk k = (r-s-1) of its receive buffer as its own input plus the left neighbour's
 * partial sum of that chunk (at step 0 the neighbour's input), so after n-1 steps chunk r+1
 * holds every rank's sum; then at gather step s it copies chunk (r-s) from the left, which that
 * rank completed the step before. Neighbours always touch different chunks within a step. */
static void ring_all_reduce(ab_coll_comm *c, int r)
{
    int n = c->n, left = (r + n - 1) % n;
    size_t cnt = c->count;
    float *own = c->recv[r], *lft = c->recv[left];
    for (int s = 0; s < n - 1; s++) {
        int k = ((r - s - 1) % n + n) % n;
        sum_into(own, c->send[r], s ? lft : c->send[left], chunk_lo(cnt, n, k),
                 chunk_lo(cnt, n, k + 1));
        wait_all(c);
    }
    for (int s = 0; s < n - 1; s++) {
        int k = ((r - s) % n + n) % n;
        copy_part(own, lft, chunk_lo(cnt, n, k), chunk_lo(cnt, n, k + 1));
        wait_all(c);
    }
}

/* Ring all_gather: rank r's `count` elements land in chunk r of every rank's receive buffer. */
static void ring_all_gather(ab_coll_comm *c, int r)
{
    int n = c->n, left = (r + n - 1) % n;
    size_t cnt = c->count;
    memcpy(c->recv[r] + (size_t)r * cnt, c->send[r], cnt * sizeof(float));
    wait_all(c);
    for (int s = 0; s < n - 1; s++) {
        size_t k = (size_t)(((r - s - 1) % n + n) % n);
        copy_part(c->recv[r], c->recv[left], k * cnt, (k + 1) * cnt);
        wait_all(c);
    }
}

/* Ring reduce_scatter: the reduce half over a working copy of the n*count inputs, indices
 * shifted so that rank r ends holding the complete chunk r, which it copies out. */
static void ring_reduce_scatter(ab_coll_comm *c, int r)
{
    int n = c->n, left = (r + n - 1) % n;
    size_t cnt = c->count;
    float *own = c->scratch[r];
    memcpy(own, c->send[r], (size_t)n * cnt * sizeof(float));
    wait_all(c);
    for (int s = 0; s < n - 1; s++) {
        size_t k = (size_t)(((r - s - 2) % n + n) % n);
        add_into(own, c->scratch[left], k * cnt, (k + 1) * cnt);
        wait_all(c);
    }
    memcpy(c->recv[r], own + (size_t)r * cnt, cnt * sizeof(float));
    wait_all(c);
}

static void one_collective(ab_coll_comm *c, int r)
{
    int n = c->n;
    size_t cnt = c->count, b = cnt * sizeof(float);
    switch (c->op) {
    case AB_COLL_ALL_REDUCE:
        ring_all_reduce(c, r);
        return;
    case AB_COLL_ALL_GATHER:
        ring_all_gather(c, r);
        return;
    case AB_COLL_REDUCE_SCATTER:
        ring_reduce_scatter(c, r);
        return;
    case AB_COLL_ALL_TO_ALL:
        for (int j = 0; j < n; j++)
            memcpy(c->recv[r] + (size_t)j * cnt, c->send[j] + (size_t)r * cnt, b);
        break;
    case AB_COLL_BROADCAST:
        memcpy(c->recv[r], c->send[c->root], b);
        break;
    case AB_COLL_SENDRECV:
        memcpy(c->recv[r], c->send[(r + n - 1) % n], b);
        break;
    case AB_COLL_NOPS:
        break;
    }
    wait_all(c);
}

static void *worker(void *p)
{
    worker_arg *a = p;
    ab_coll_comm *c = a->c;
    int r = a->rank;
    free(a);
    for (;;) {
        wait_all(c); /* go */
        if (c->quit) return NULL;
        for (long i = 0; i < c->iters; i++)
            one_collective(c, r);
        wait_all(c); /* done */
    }
}

static void free_buffers(ab_coll_comm *c)
{
    for (int r = 0; r < c->n; r++) {
        free(c->send[r]);
        free(c->recv[r]);
        free(c->scratch[r]);
        c->send[r] = c->recv[r] = c->scratch[r] = NULL;
    }
    c->send_bytes = c->recv_bytes = 0;
}

static void th_close(ab_coll_comm *c)
{
    if (!c) return;
    if (c->started == c->n - 1) {
        c->quit = true;
        wait_all(c);
        for (int r = 1; r < c->n; r++)
            pthread_join(c->th[r], NULL);
    }
    if (c->th) pthread_barrier_destroy(&c->bar);
    if (c->send) free_buffers(c);
    free(c->send);
    free(c->recv);
    free(c->scratch);
    free(c->th);
    free(c);
}

static int th_open(const int *ordinals, int n, int ranks, ab_coll_comm **out, char *why)
{
    (void)ordinals, (void)n;
    if (ranks < 2)
        return ab_err(why, "collectives need at least 2 ranks (--ranks %d)", ranks), AB_COLL_SKIP;
    ab_coll_comm *c = calloc(1, sizeof(*c));
    if (!c) return ab_err(why, "out of memory");
    c->n = ranks;
    c->send = calloc((size_t)ranks, sizeof(float *));
    c->recv = calloc((size_t)ranks, sizeof(float *));
    c->scratch = calloc((size_t)ranks, sizeof(float *));
    c->th = calloc((size_t)ranks, sizeof(pthread_t));
    if (!c->send || !c->recv || !c->scratch || !c->th ||
        pthread_barrier_init(&c->bar, NULL, (unsigned)ranks) != 0) {
        free(c->th);
        c->th = NULL;
        th_close(c);
        return ab_err(why, "out of memory");
    }
    for (int r = 1; r < ranks; r++) {
        worker_arg *a = malloc(sizeof(*a));
        if (!a || (*a = (worker_arg){c, r}, pthread_create(&c->th[r], NULL, worker, a)) != 0) {
            free(a);
            /* the started workers wait on a barrier that can no longer fill: they are left
             * blocked only if creation failed, which ends the run's use of this comm */
            ab_err(why, "cannot start rank %d's thread", r);
            return -1;
        }
        c->started++;
    }
    *out = c;
    return 0;
}

static int th_nranks(const ab_coll_comm *c)
{
    return c->n;
}

static const char *th_library(const ab_coll_comm *c)
{
    (void)c;
    return "host threads over shared memory (ring all_reduce/all_gather/reduce_scatter, direct "
           "all_to_all/broadcast/sendrecv), unpinned";
}

static int th_alloc(ab_coll_comm *c, size_t send_bytes, size_t recv_bytes, char *err)
{
    free_buffers(c);
    size_t sb = (send_bytes + 63) / 64 * 64, rb = (recv_bytes + 63) / 64 * 64;
    for (int r = 0; r < c->n; r++) {
        c->send[r] = aligned_alloc(64, sb ? sb : 64);
        c->recv[r] = aligned_alloc(64, rb ? rb : 64);
        c->scratch[r] = aligned_alloc(64, sb ? sb : 64);
        if (!c->send[r] || !c->recv[r] || !c->scratch[r]) {
            free_buffers(c);
            return ab_err(err, "out of memory for %d ranks x %zu + 2 x %zu bytes", c->n, recv_bytes,
                          send_bytes);
        }
        /* first touch by rank 0's thread; fill and clear write them again */
        memset(c->send[r], 0, sb ? sb : 64);
        memset(c->scratch[r], 0, sb ? sb : 64);
    }
    c->send_bytes = send_bytes;
    c->recv_bytes = recv_bytes;
    return 0;
}

static int th_write_send(ab_coll_comm *c, int rank, const void *host, size_t bytes, char *err)
{
    if (rank < 0 || rank >= c->n || bytes > c->send_bytes)
        return ab_err(err, "write of %zu bytes to rank %d out of range", bytes, rank);
    memcpy(c->send[rank], host, bytes);
    return 0;
}

static int th_read_recv(ab_coll_comm *c, int rank, void *host, size_t bytes, char *err)
{
    if (rank < 0 || rank >= c->n || bytes > c->recv_bytes)
        return ab_err(err, "read of %zu bytes from rank %d out of range", bytes, rank);
    memcpy(host, c->recv[rank], bytes);
    return 0;
}

static int th_clear_recv(ab_coll_comm *c, int value, char *err)
{
    (void)err;
    for (int r = 0; r < c->n; r++)
        memset(c->recv[r], value, c->recv_bytes);
    return 0;
}

static int th_run(ab_coll_comm *c, ab_coll_op op, size_t count, int root, long iters, double *sec,
                  char *err)
{
    size_t n = (size_t)c->n, need_s = count, need_r = count;
    if (op == AB_COLL_ALL_GATHER)
        need_r = n * count;
    else if (op == AB_COLL_REDUCE_SCATTER)
        need_s = n * count;
    else if (op == AB_COLL_ALL_TO_ALL)
        need_s = need_r = n * count;
    if (need_s * sizeof(float) > c->send_bytes || need_r * sizeof(float) > c->recv_bytes)
        return ab_err(err, "count %zu does not fit the buffers", count);
    if (root < 0 || root >= c->n) return ab_err(err, "root %d is not a rank", root);
    c->op = op;
    c->count = count;
    c->root = root;
    c->iters = iters;
    double t0 = ab_now();
    wait_all(c); /* go */
    for (long i = 0; i < iters; i++)
        one_collective(c, 0);
    wait_all(c); /* done */
    *sec = ab_now() - t0;
    return 0;
}

const ab_coll_impl ab_coll_threads = {
    .name = "threads",
    .host_ranks = true,
    .open = th_open,
    .close = th_close,
    .nranks = th_nranks,
    .library = th_library,
    .alloc = th_alloc,
    .write_send = th_write_send,
    .read_recv = th_read_recv,
    .clear_recv = th_clear_recv,
    .run = th_run,
};

/* SPDX-License-Identifier: MIT */
/*
 * The collectives suite's CPU all_reduce (ab_coll_threads, the ring over host threads that
 * `accelbench run --suite collectives` measures) beside a plain reference all_reduce over the
 * same number of pthreads, alternating in one process so both see the same machine state:
 * the reference has each rank sum its own chunk straight from every rank's send buffer, then
 * copy the other ranks' finished chunks (two barriers per collective). Both results are checked
 * every round against the exact sum. Prints the median busbw of each (nccl-tests' all_reduce
 * busbw = size / t x 2(n-1)/n) and their ratio.
 *   collectives_cpu_bench BYTES RANKS [ROUNDS]
 */
#include "core/ab.h"
#include "core/stats.h"
#include "suites/collectives/coll_suite.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref {
    int n;
    size_t count;
    long iters;
    float **send, **recv;
    pthread_barrier_t bar;
} ref;

typedef struct ref_arg {
    ref *R;
    int rank;
} ref_arg;

static void ref_once(ref *R, int r)
{
    size_t lo = R->count * (size_t)r / (size_t)R->n, hi = R->count * (size_t)(r + 1) / (size_t)R->n;
    float *out = R->recv[r];
    memcpy(out + lo, R->send[0] + lo, (hi - lo) * sizeof(float));
    for (int j = 1; j < R->n; j++)
        for (size_t i = lo; i < hi; i++)
            out[i] += R->send[j][i];
    pthread_barrier_wait(&R->bar);
    for (int k = 0; k < R->n; k++) {
        if (k == r) continue;
        size_t a = R->count * (size_t)k / (size_t)R->n,
               b = R->count * (size_t)(k + 1) / (size_t)R->n;
        memcpy(out + a, R->recv[k] + a, (b - a) * sizeof(float));
    }
    pthread_barrier_wait(&R->bar);
}

static void *ref_worker(void *p)
{
    ref_arg *a = p;
    pthread_barrier_wait(&a->R->bar); /* everyone started */
    for (long i = 0; i < a->R->iters; i++)
        ref_once(a->R, a->rank);
    return NULL;
}

/* `iters` reference all_reduces on fresh threads (thread start kept out: a start barrier) */
static double ref_run(ref *R, long iters)
{
    R->iters = iters;
    pthread_t th[256];
    ref_arg args[256];
    pthread_barrier_init(&R->bar, NULL, (unsigned)R->n);
    for (int r = 1; r < R->n; r++) {
        args[r] = (ref_arg){R, r};
        pthread_create(&th[r], NULL, ref_worker, &args[r]);
    }
    pthread_barrier_wait(&R->bar); /* everyone started */
    double t0 = ab_now();
    for (long i = 0; i < iters; i++)
        ref_once(R, 0);
    double t = ab_now() - t0;
    for (int r = 1; r < R->n; r++)
        pthread_join(th[r], NULL);
    pthread_barrier_destroy(&R->bar);
    return t;
}

static long wrong(float *const *recv, int n, size_t count, const float *sums)
{
    long w = 0;
    for (int r = 0; r < n; r++)
        for (size_t i = 0; i < count; i++)
            w += recv[r][i] != sums[i % AB_COLL_PERIOD];
    return w;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: collectives_cpu_bench BYTES RANKS [ROUNDS]\n");
        return 2;
    }
    size_t bytes = strtoull(argv[1], NULL, 10);
    int n = atoi(argv[2]);
    int rounds = argc > 3 ? atoi(argv[3]) : 11;
    size_t count = bytes / sizeof(float);
    if (!count || n < 2 || n > 256 || rounds < 1) {
        fprintf(stderr, "collectives_cpu_bench: bad arguments\n");
        return 2;
    }
    char err[AB_ERRLEN];
    ab_coll_comm *c = NULL;
    float *sums = ab_coll_sum_table(n);
    float *host = malloc(bytes);
    ref R = {.n = n, .count = count};
    R.send = calloc((size_t)n, sizeof(float *));
    R.recv = calloc((size_t)n, sizeof(float *));
    if (!sums || !host || !R.send || !R.recv || ab_coll_threads.open(NULL, 0, n, &c, err) != 0 ||
        ab_coll_threads.alloc(c, bytes, bytes, err) != 0) {
        fprintf(stderr, "collectives_cpu_bench: setup failed\n");
        return 1;
    }
    for (int r = 0; r < n; r++) {
        R.send[r] = aligned_alloc(64, (bytes + 63) / 64 * 64);
        R.recv[r] = aligned_alloc(64, (bytes + 63) / 64 * 64);
        for (size_t i = 0; i < count; i++)
            host[i] = ab_coll_input(r, i);
        memcpy(R.send[r], host, bytes);
        memset(R.recv[r], 0, bytes);
        ab_coll_threads.write_send(c, r, host, bytes, err);
    }
    /* iterations per timed batch: about 0.1 s of the suite's ring */
    double t1;
    ab_coll_threads.run(c, AB_COLL_ALL_REDUCE, count, 0, 1, &t1, err);
    long iters = t1 > 0 ? (long)(0.1 / t1) + 1 : 1000;
    double factor = 2.0 * (n - 1) / n;
    double *suite_bw = calloc((size_t)rounds, sizeof(double));
    double *ref_bw = calloc((size_t)rounds, sizeof(double));
    float **got = calloc((size_t)n, sizeof(float *));
    for (int r = 0; r < n; r++)
        got[r] = malloc(bytes);
    long bad = 0;
    for (int k = 0; k < rounds; k++) {
        double ts, tr;
        ab_coll_threads.clear_recv(c, 0xff, err);
        ab_coll_threads.run(c, AB_COLL_ALL_REDUCE, count, 0, iters, &ts, err);
        for (int r = 0; r < n; r++)
            ab_coll_threads.read_recv(c, r, got[r], bytes, err);
        bad += wrong(got, n, count, sums);
        for (int r = 0; r < n; r++)
            memset(R.recv[r], 0xff, bytes);
        tr = ref_run(&R, iters);
        bad += wrong(R.recv, n, count, sums);
        suite_bw[k] = (double)bytes * factor / (ts / (double)iters);
        ref_bw[k] = (double)bytes * factor / (tr / (double)iters);
    }
    double ms = ab_median(suite_bw, (size_t)rounds), mr = ab_median(ref_bw, (size_t)rounds);
    printf("all_reduce f32 %zu B, %d host-thread ranks, %d rounds x %ld iterations\n", bytes, n,
           rounds, iters);
    printf("suite (ring)        busbw median %.3f GB/s\n", ms / 1e9);
    printf("plain reference     busbw median %.3f GB/s\n", mr / 1e9);
    printf("ratio suite / reference: %.3f\n", ms / mr);
    printf("wrong elements: %ld\n", bad);
    ab_coll_threads.close(c);
    return bad ? 1 : 0;
}

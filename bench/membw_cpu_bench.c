/* SPDX-License-Identifier: MIT */
/*
 * accelbench's CPU triad beside a plain OpenMP triad, in one process, interleaved.
 *
 * On a shared VM the memory bandwidth drifts by 20-30 % within seconds, so comparing two
 * programs run one after the other mostly measures the drift. Here both sides run in the same
 * process, alternating batches of about 0.1 s, many rounds; the ratio of medians is stable.
 *
 * plain:     the STREAM triad as anyone writes it: `#pragma omp parallel for` per repetition
 *            over malloc'd arrays first-touched by a parallel loop with the same schedule.
 * accelbench: the membw.triad CPU kernel (ordinary and streaming stores) on arrays from the CPU
 *            backend, initialised by the suite's own init, launched as the suite launches it.
 *
 *   membw_cpu_bench <working-set bytes> <rounds>
 * Prints one line per round and the medians, in GB/s counting 3 arrays per element.
 */
#include "backends/cpu.h"
#include "backends/omp_compat.h"
#include "core/ab.h"
#include "core/stats.h"
#include "suites/membw/membw.h"

#include <stdio.h>
#include <stdlib.h>

extern const ab_membw_impl ab_membw_cpu;

static double plain_triad(double *a, const double *b, const double *c, size_t n, long reps)
{
    const double q = AB_MEMBW_SCALAR;
    double t0 = ab_now();
    for (long k = 0; k < reps; k++) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + q * c[i];
    }
    return ab_now() - t0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: membw_cpu_bench <working-set bytes> <rounds>\n");
        return 2;
    }
    size_t ws = strtoull(argv[1], NULL, 10);
    int rounds = atoi(argv[2]);
    size_t n = ws / (3 * sizeof(double));
    n -= n % 64;
    char err[AB_ERRLEN];
    void *be = NULL, *dev = NULL;
    if (ab_backend_cpu.init(&be, err) || ab_backend_cpu.open(be, 0, &dev, err)) {
        fprintf(stderr, "cpu backend: %s\n", err);
        return 1;
    }
    const ab_cpu_dev *d = dev;
    /* accelbench side */
    void *A = ab_cpu_alloc(d, n * 8), *B = ab_cpu_alloc(d, n * 8), *C = ab_cpu_alloc(d, n * 8);
    void *P = ab_cpu_alloc(d, 64 * 8);
    ab_membw_args args = {.kernel = AB_MB_TRIAD, .f64 = true, .n = n, .a = A, .b = B, .c = C,
                          .partial = P, .npartial = (size_t)d->threads};
    ab_membw_cpu.init(dev, &args, err);
    /* plain side */
    double *a, *b, *c;
    if (posix_memalign((void **)&a, 64, n * 8) || posix_memalign((void **)&b, 64, n * 8) ||
        posix_memalign((void **)&c, 64, n * 8))
        return 1;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.1;
        b[i] = 0.2;
        c[i] = 0.4;
    }
    double bytes = 3.0 * (double)n * 8.0;
    /* repetitions per batch: about 0.1 s at the plain triad's speed */
    double t1 = plain_triad(a, b, c, n, 1);
    long reps = (long)(0.1 / t1) + 1;
    double *res[3];
    for (int s = 0; s < 3; s++)
        res[s] = calloc((size_t)rounds, sizeof(double));
    printf("threads %d (pinned: %s), working set %zu MiB, %ld repetitions per batch\n",
           d->threads, d->pinned ? "yes" : "no", ws >> 20, reps);
    printf("%-6s %10s %10s %10s\n", "round", "plain", "ordinary", "streaming");
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 3; k++) {
            int side = (k + r) % 3; /* rotate who goes first */
            double t;
            if (side == 0) {
                t = plain_triad(a, b, c, n, reps);
            } else {
                args.streaming = side == 2;
                double t0 = ab_now();
                ab_membw_cpu.run(dev, &args, reps, err);
                t = ab_now() - t0;
            }
            res[side][r] = bytes * (double)reps / t / 1e9;
        }
        printf("%-6d %10.2f %10.2f %10.2f\n", r + 1, res[0][r], res[1][r], res[2][r]);
    }
    double m[3];
    for (int s = 0; s < 3; s++)
        m[s] = ab_median(res[s], (size_t)rounds);
    printf("%-6s %10.2f %10.2f %10.2f\n", "median", m[0], m[1], m[2]);
    printf("ratio ordinary/plain  = %.3f (target >= 0.97) %s\n", m[1] / m[0],
           m[1] / m[0] >= 0.97 ? "ok" : "BELOW");
    printf("ratio streaming/plain = %.3f (target >= 1.20) %s\n", m[2] / m[0],
           m[2] / m[0] >= 1.2 ? "ok" : "BELOW");
    return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * accelbench's CPU GEMM implementations beside direct CBLAS calls, in one process, interleaved.
 *
 * On a shared VM the throughput drifts by 15-30 % within seconds, so two programs run one after
 * the other mostly measure the drift. Here both sides of each comparison run in the same
 * process, alternating (who goes first rotates), many rounds; the ratio of medians is stable.
 *
 *   direct:     cblas_sgemm / cblas_dgemm called as anyone calls them, row-major NN, on
 *               malloc'd matrices holding the same values, with the OpenBLAS thread count the
 *               accelbench side uses (the backend's: one per core) -- the same library, the same
 *               thread pool, the same calling thread.
 *   accelbench: the gemm suite's CPU implementations ("vendor": OpenBLAS through the suite's
 *               plan; "portable": accelbench's packed kernel on the backend's pinned OpenMP team)
 *               on backend buffers filled by the suite's own fill, launched as the suite does.
 *
 *   gemm_cpu_bench <rounds> [vendor-size] [portable-size]     (defaults 4096, 2048)
 * Prints GFLOP/s per round, the medians and the ratios.
 */
#include "backends/cpu.h"
#include "core/ab.h"
#include "core/stats.h"
#include "suites/gemm/gemm.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const ab_gemm_backend ab_gemm_cpu;

typedef struct side {
    ab_gemm_op op;
    void *plan;
    void *a, *b, *c;        /* accelbench buffers */
    void *da, *db, *dc;     /* direct-call buffers */
    const ab_gemm_impl *impl;
} side;

static void *copy_of(const void *src, size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0)
        return NULL;
    memcpy(p, src, bytes);
    return p;
}

static int setup(side *s, void *dev, const ab_gemm_impl *impl, ab_gemm_type t, long n, char *err)
{
    memset(s, 0, sizeof(*s));
    s->impl = impl;
    s->op = (ab_gemm_op){.a = t, .b = t, .c = t, .m = n, .n = n, .k = n, .lda = n, .ldb = n,
                         .ldc = n, .batch = 1, .alpha = 1.0, .beta = 0.0};
    size_t bytes = (size_t)n * (size_t)n * ab_gemm_type_size(t);
    s->a = ab_cpu_alloc(dev, bytes);
    s->b = ab_cpu_alloc(dev, bytes);
    s->c = ab_cpu_alloc(dev, bytes);
    if (!s->a || !s->b || !s->c)
        return ab_err(err, "out of memory");
    if (ab_gemm_cpu.fill(dev, s->a, t, (size_t)n * (size_t)n, 1, err) ||
        ab_gemm_cpu.fill(dev, s->b, t, (size_t)n * (size_t)n, 2, err) ||
        ab_gemm_cpu.fill(dev, s->c, t, (size_t)n * (size_t)n, 3, err))
        return -1;
    s->da = copy_of(s->a, bytes);
    s->db = copy_of(s->b, bytes);
    s->dc = copy_of(s->c, bytes);
    if (!s->da || !s->db || !s->dc)
        return ab_err(err, "out of memory");
    return impl->prepare(dev, &s->op, &s->plan, err);
}

static double run_accelbench(side *s, char *err)
{
    double t0 = ab_now();
    if (s->impl->run(s->plan, s->a, s->b, s->c, err) != 0)
        return -1;
    return ab_now() - t0;
}

static double run_direct(side *s)
{
    int n = (int)s->op.m;
    double t0 = ab_now();
    if (s->op.a == AB_GT_F64)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, s->da, n, s->db, n,
                    0.0, s->dc, n);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, s->da, n, s->db, n,
                    0.0f, s->dc, n);
    return ab_now() - t0;
}

/* Largest |difference| between the two sides' C, relative to the largest |C|: both compute
 * the same product, so this must be at rounding level. */
static double max_rel_diff(const side *s)
{
    size_t n = (size_t)(s->op.m * s->op.n);
    double dmax = 0.0, cmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = ab_gemm_load(s->op.c, s->c, i), y = ab_gemm_load(s->op.c, s->dc, i);
        double d = x > y ? x - y : y - x, ay = y < 0 ? -y : y;
        dmax = d > dmax ? d : dmax;
        cmax = ay > cmax ? ay : cmax;
    }
    return cmax > 0 ? dmax / cmax : dmax;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gemm_cpu_bench <rounds> [vendor-size] [portable-size]\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    long nv = argc > 2 ? atol(argv[2]) : 4096, np = argc > 3 ? atol(argv[3]) : 2048;
    if (rounds < 1 || nv < 16 || np < 16) {
        fprintf(stderr, "gemm_cpu_bench: bad arguments\n");
        return 2;
    }
    char err[AB_ERRLEN] = "";
    void *be = NULL, *dev = NULL;
    if (ab_backend_cpu.init(&be, err) || ab_backend_cpu.open(be, 0, &dev, err)) {
        fprintf(stderr, "cpu backend: %s\n", err);
        return 1;
    }
    const ab_cpu_dev *d = dev;
    const ab_gemm_impl *vendor = ab_gemm_cpu.impl[AB_GEMM_VENDOR];
    const ab_gemm_impl *portable = ab_gemm_cpu.impl[AB_GEMM_PORTABLE];
    if (!vendor) {
        fprintf(stderr, "gemm_cpu_bench: %s\n", ab_gemm_cpu.absent[AB_GEMM_VENDOR]);
        return 1;
    }
    enum { VS = 0, VD, PS, NCMP };
    static const char *const names[NCMP] = {"vendor sgemm", "vendor dgemm", "portable sgemm"};
    side s[NCMP];
    if (setup(&s[VS], dev, vendor, AB_GT_F32, nv, err) ||
        setup(&s[VD], dev, vendor, AB_GT_F64, nv, err) ||
        setup(&s[PS], dev, portable, AB_GT_F32, np, err)) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    char desc[512];
    vendor->describe(s[VS].plan, desc, sizeof(desc));
    printf("threads %d (pinned: %s)\nvendor:   %s\n", d->threads, d->pinned ? "yes" : "no", desc);
    portable->describe(s[PS].plan, desc, sizeof(desc));
    printf("portable: %s\n", desc);
    printf("direct:   cblas_sgemm/cblas_dgemm, OpenBLAS threads %d\n", openblas_get_num_threads());
    double *res[NCMP][2];
    for (int c = 0; c < NCMP; c++)
        for (int k = 0; k < 2; k++)
            res[c][k] = calloc((size_t)rounds, sizeof(double));
    /* one warm-up multiply per side: thread pools up, pages touched */
    for (int c = 0; c < NCMP; c++) {
        run_direct(&s[c]);
        if (run_accelbench(&s[c], err) < 0) {
            fprintf(stderr, "run: %s\n", err);
            return 1;
        }
    }
    printf("%-6s %14s %14s %14s %14s %14s %14s   (GFLOP/s)\n", "round", "ab-sgemm", "cblas-sgemm",
           "ab-dgemm", "cblas-dgemm", "ab-portable", "cblas-sgemm");
    for (int r = 0; r < rounds; r++) {
        for (int c = 0; c < NCMP; c++) {
            double flop = 2.0 * (double)s[c].op.m * (double)s[c].op.n * (double)s[c].op.k;
            /* repetitions: at least 0.3 s per side and round */
            int reps = 1;
            for (int k = 0; k < 2; k++) {
                int side_k = (k + r) % 2; /* rotate who goes first */
                double t = 0.0;
                int done = 0;
                while (done < reps || t < 0.3) {
                    double dt = side_k == 0 ? run_accelbench(&s[c], err) : run_direct(&s[c]);
                    if (dt < 0) {
                        fprintf(stderr, "run: %s\n", err);
                        return 1;
                    }
                    t += dt;
                    done++;
                }
                res[c][side_k][r] = flop * done / t / 1e9;
            }
        }
        printf("%-6d %14.1f %14.1f %14.1f %14.1f %14.1f %14.1f\n", r + 1, res[VS][0][r],
               res[VS][1][r], res[VD][0][r], res[VD][1][r], res[PS][0][r], res[PS][1][r]);
        fflush(stdout);
    }
    double m[NCMP][2];
    for (int c = 0; c < NCMP; c++)
        for (int k = 0; k < 2; k++)
            m[c][k] = ab_median(res[c][k], (size_t)rounds);
    printf("%-6s %14.1f %14.1f %14.1f %14.1f %14.1f %14.1f\n", "median", m[VS][0], m[VS][1],
           m[VD][0], m[VD][1], m[PS][0], m[PS][1]);
    /* Two estimates of the ratio: of the medians, and the median of the per-round ratios. The
     * second pairs measurements taken seconds apart, under the same load, so the drift of a
     * shared machine cancels in each pair; it is the verdict. */
    static const double target[NCMP] = {0.97, 0.97, 0.40};
    long sizes[NCMP] = {nv, nv, np};
    int bad = 0;
    double *pr = calloc((size_t)rounds, sizeof(double));
    for (int c = 0; c < NCMP && pr; c++) {
        for (int r = 0; r < rounds; r++)
            pr[r] = res[c][0][r] / res[c][1][r];
        double paired = ab_median(pr, (size_t)rounds), ratio = m[c][0] / m[c][1];
        printf("ratio %-15s %ld^3 / direct: paired %.3f (target >= %.2f) %s; of medians %.3f; "
               "max |C diff| / max |C| = %.1e\n",
               names[c], sizes[c], paired, target[c], paired >= target[c] ? "ok" : "BELOW", ratio,
               max_rel_diff(&s[c]));
        bad |= paired < target[c];
    }
    free(pr);
    return bad ? 3 : 0;
}

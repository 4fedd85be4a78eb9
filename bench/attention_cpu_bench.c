/* SPDX-License-Identifier: MIT */
/*
 * The CPU attention kernels beside the references they are judged against, in one process,
 * interleaved (bench/membw_cpu_bench.c explains why on a shared VM):
 *
 *   sgemm      OpenBLAS cblas_sgemm, n = k = 2048 square, its own threads: the GEMM rate the
 *              fused kernel's FLOP rate is compared with
 *   prefill    accelbench's fused CPU kernel (the same ab_attention_cpu table the suite runs),
 *              non-causal and causal, FLOPs by FlashAttention's convention (causal halved)
 *   decode     the fused split-KV decode kernel, KV bytes read per second
 *   triad      membw's CPU triad (f32) at its headline working set, ordinary and streaming
 *              stores (the script uses the flavour with the better median: membw's headline)
 *   read       membw's read-only kernel at the same size (for information: what reads alone
 *              reach; decode is a read stream)
 *
 * Every round runs each once, in rotating order, and prints one line "round <sgemm FLOP/s>
 * <prefill FLOP/s> <causal prefill FLOP/s> <decode KV B/s> <triad ordinary B/s> <triad
 * streaming B/s> <read B/s>" for
 * bench/attention_cpu.sh, which pools the rounds of several runs; the last lines are the
 * medians of this run ("key value"). The attention outputs are checked against the fp64
 * reference on sampled rows first: a wrong kernel gives no figures (exit 1).
 *
 *   attention_cpu_bench [rounds] [heads] [seq] [head_dim] [kv_len]
 *   defaults:           5        32      2048  128        32768
 */
#include "backends/cpu.h"
#include "backends/omp_compat.h"
#include "core/ab.h"
#include "core/stats.h"
#include "suites/attention/attention.h"
#include "suites/membw/membw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AB_HAVE_OPENBLAS
#include <cblas.h>
#endif

extern const ab_attn_impl ab_attention_cpu;
extern const ab_membw_impl ab_membw_cpu;

enum { SGEMM, PREFILL_NC, PREFILL_C, DECODE, TRIAD_ORD, TRIAD_NT, READ, NITEMS };
static const char *const names[NITEMS] = {
    "sgemm_flops",           "prefill_flops",          "prefill_causal_flops", "decode_kv_bandwidth",
    "triad_ordinary_bandwidth", "triad_streaming_bandwidth", "read_bandwidth"};

typedef struct bench {
    void *dev;
    ab_attn_args pre, dec;
    ab_membw_args triad, read;
    float *A, *B, *C;
    int n;
} bench;

static double time_attention(bench *b, ab_attn_args *a)
{
    char err[AB_ERRLEN];
    double t0 = ab_now();
    if (ab_attention_cpu.run(b->dev, AB_ATTN_FUSED, a, 1, err) != 0) {
        fprintf(stderr, "attention: %s\n", err);
        exit(1);
    }
    return ab_now() - t0;
}

static double measure(bench *b, int item)
{
    char err[AB_ERRLEN];
    switch (item) {
    case SGEMM: {
#ifdef AB_HAVE_OPENBLAS
        double t0 = ab_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b->n, b->n, b->n, 1.0f, b->A, b->n,
                    b->B, b->n, 0.0f, b->C, b->n);
        return 2.0 * b->n * (double)b->n * b->n / (ab_now() - t0);
#else
        return NAN;
#endif
    }
    case PREFILL_NC:
        b->pre.s.causal = false;
        return ab_attn_flops(&b->pre.s) / time_attention(b, &b->pre);
    case PREFILL_C:
        b->pre.s.causal = true;
        return ab_attn_flops(&b->pre.s) / time_attention(b, &b->pre);
    case DECODE:
        return ab_attn_kv_bytes(&b->dec.s, AB_ATTN_F32) / time_attention(b, &b->dec);
    case READ: {
        /* membw's read-only kernel (information: what reads alone reach here) */
        long reps = 8;
        double t0 = ab_now();
        ab_membw_cpu.run(b->dev, &b->read, reps, err);
        return (double)b->read.n * 4.0 * (double)reps / (ab_now() - t0);
    }
    case TRIAD_ORD:
    case TRIAD_NT: {
        /* one store flavour per item, about 0.1 s each; the script takes the flavour with the
         * better median as membw's headline does (not the better of each round, which would
         * pick the upper tail of the noise) */
        b->triad.streaming = item == TRIAD_NT;
        long reps = 8;
        double t0 = ab_now();
        ab_membw_cpu.run(b->dev, &b->triad, reps, err);
        return 3.0 * (double)b->triad.n * 4.0 * (double)reps / (ab_now() - t0);
    }
    }
    return NAN;
}

/* fp64 check of sampled rows of the last output in a */
static int check(const ab_attn_args *a, int rows, const char *what)
{
    const ab_attn_shape *s = &a->s;
    const int d = s->head_dim, g = s->heads / s->kv_heads;
    size_t kvn = (size_t)s->kv_len * d;
    double *kh = malloc(kvn * 8), *vh = malloc(kvn * 8), q[512], ref[512];
    double worst = 0.0;
    uint64_t x = 12345;
    for (int r = 0; r < rows; r++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        long bh = (long)((x >> 33) % (uint64_t)(s->batch * s->heads));
        long i = r == 0 ? 0 : (long)((x >> 13) % (uint64_t)s->q_len);
        long b = bh / s->heads, kvh = (bh % s->heads) / g;
        size_t kb = ((size_t)b * s->kv_heads + kvh) * kvn;
        for (size_t e = 0; e < kvn; e++) {
            kh[e] = ab_attn_gen(23, kb + e, 2.0f);
            vh[e] = ab_attn_gen(37, kb + e, 1.0f);
        }
        size_t qb = ((size_t)bh * s->q_len + i) * d;
        for (int c = 0; c < d; c++)
            q[c] = ab_attn_gen(11, qb + c, 2.0f);
        ab_attn_reference_row(s, q, kh, vh, i, ref);
        for (int c = 0; c < d; c++) {
            double e = fabs(((const float *)a->o)[qb + c] - ref[c]);
            worst = e > worst || isnan(e) ? e : worst;
        }
    }
    free(kh);
    free(vh);
    printf("# %s: %d rows vs fp64 reference, max abs error %.3g\n", what, rows, worst);
    return worst <= 2e-5 ? 0 : -1;
}

static void *alloc_fill(void *dev, size_t n, uint64_t seed, float amp)
{
    char err[AB_ERRLEN];
    void *p = ab_cpu_alloc(dev, n * sizeof(float));
    if (!p || ab_attention_cpu.fill(dev, AB_ATTN_F32, p, n, seed, amp, err) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void setup_attention(void *dev, ab_attn_args *a, int heads, long q_len, long kv_len, int d)
{
    memset(a, 0, sizeof(*a));
    a->s = (ab_attn_shape){.batch = 1, .heads = heads, .kv_heads = heads, .head_dim = d,
                           .q_len = q_len, .kv_len = kv_len, .scale = 1.0f / sqrtf((float)d)};
    a->dtype = AB_ATTN_F32;
    a->q = alloc_fill(dev, ab_attn_q_elems(&a->s), 11, 2.0f);
    a->k = alloc_fill(dev, ab_attn_kv_elems(&a->s), 23, 2.0f);
    a->v = alloc_fill(dev, ab_attn_kv_elems(&a->s), 37, 1.0f);
    a->o = ab_cpu_alloc(dev, ab_attn_q_elems(&a->s) * sizeof(float));
    size_t w = ab_attention_cpu.workspace(dev, AB_ATTN_FUSED, AB_ATTN_F32, &a->s);
    a->work = ab_cpu_alloc(dev, w ? w : 64);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    int heads = argc > 2 ? atoi(argv[2]) : 32;
    long seq = argc > 3 ? atol(argv[3]) : 2048;
    int d = argc > 4 ? atoi(argv[4]) : 128;
    long kv = argc > 5 ? atol(argv[5]) : 32768;
    if (rounds < 1 || heads < 1 || seq < 1 || d < 8 || d > 256 || kv < 1) {
        fprintf(stderr, "usage: attention_cpu_bench [rounds] [heads] [seq] [head_dim] [kv_len]\n");
        return 2;
    }
    char err[AB_ERRLEN];
    void *be = NULL;
    bench b;
    memset(&b, 0, sizeof(b));
    ab_device_info info;
    if (ab_backend_cpu.init(&be, err) || ab_backend_cpu.device_info(be, 0, &info, err) ||
        ab_backend_cpu.open(be, 0, &b.dev, err)) {
        fprintf(stderr, "cpu backend: %s\n", err);
        return 1;
    }
    const ab_cpu_dev *cd = b.dev;
    setup_attention(b.dev, &b.pre, heads, seq, seq, d);
    setup_attention(b.dev, &b.dec, heads, 1, kv, d);
    b.n = 2048;
    b.A = alloc_fill(b.dev, (size_t)b.n * b.n, 1, 1.0f);
    b.B = alloc_fill(b.dev, (size_t)b.n * b.n, 2, 1.0f);
    b.C = alloc_fill(b.dev, (size_t)b.n * b.n, 3, 1.0f);
    /* triad at membw's headline working set: smallest power of two >= 4x LLC, >= 64 MiB */
    uint64_t ws = 1;
    while (ws < 4 * info.cache_bytes)
        ws <<= 1;
    if (ws < (64u << 20))
        ws = 64u << 20;
    size_t tn = (size_t)(ws / 12);
    tn -= tn % 1024;
    b.triad = (ab_membw_args){.kernel = AB_MB_TRIAD, .f64 = false, .n = tn,
                              .a = ab_cpu_alloc(b.dev, tn * 4), .b = ab_cpu_alloc(b.dev, tn * 4),
                              .c = ab_cpu_alloc(b.dev, tn * 4),
                              .partial = ab_cpu_alloc(b.dev, 4096), .npartial = 1};
    ab_membw_cpu.init(b.dev, &b.triad, err);
    size_t rn = (size_t)(ws / 4);
    b.read = (ab_membw_args){.kernel = AB_MB_READ, .f64 = false, .n = rn,
                             .a = ab_cpu_alloc(b.dev, rn * 4), .b = ab_cpu_alloc(b.dev, 4096),
                             .c = ab_cpu_alloc(b.dev, 4096),
                             .partial = ab_cpu_alloc(b.dev, 4096), .npartial = 1};
    ab_membw_cpu.init(b.dev, &b.read, err);

    printf("# %s, %d threads (pinned: %s), %s\n", info.name, cd->threads,
           cd->pinned ? "yes" : "no",
           ab_attention_cpu.describe(b.dev, AB_ATTN_FUSED, AB_ATTN_F32, &b.pre.s));
    printf("# prefill b=1 h=%d s=%ld d=%d; decode b=1 h=%d kv_len=%ld (KV %.0f MiB); "
           "triad %zu MiB; sgemm %d^3\n",
           heads, seq, d, heads, kv, ab_attn_kv_bytes(&b.dec.s, AB_ATTN_F32) / 1048576.0,
           (size_t)(3 * tn * 4) >> 20, b.n);
    /* warm-up: first touch, page faults, OpenBLAS thread start */
    for (int i = 0; i < NITEMS; i++)
        measure(&b, i);
    /* check each variant's output right after one call of it, before any figure */
    b.pre.s.causal = true;
    time_attention(&b, &b.pre);
    int bad = check(&b.pre, 48, "prefill causal");
    b.pre.s.causal = false;
    time_attention(&b, &b.pre);
    bad |= check(&b.pre, 48, "prefill non-causal");
    bad |= check(&b.dec, heads, "decode");
    if (bad) {
        printf("# VALIDATION FAILED: no figures\n");
        return 1;
    }
    double *res[NITEMS];
    for (int i = 0; i < NITEMS; i++)
        res[i] = calloc((size_t)rounds, sizeof(double));
    printf("# round sgemm prefill causal decode triad-ordinary triad-streaming read\n");
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < NITEMS; k++) {
            int item = (k + r) % NITEMS;
            res[item][r] = measure(&b, item);
        }
        printf("round %.6g %.6g %.6g %.6g %.6g %.6g %.6g\n", res[SGEMM][r], res[PREFILL_NC][r],
               res[PREFILL_C][r], res[DECODE][r], res[TRIAD_ORD][r], res[TRIAD_NT][r],
               res[READ][r]);
        fflush(stdout);
    }
    for (int i = 0; i < NITEMS; i++)
        printf("%s %.6g\n", names[i], ab_median(res[i], (size_t)rounds));
    b.pre.s.causal = false;
    printf("prefill_seconds %.6g\n", ab_attn_flops(&b.pre.s) / ab_median(res[PREFILL_NC],
                                                                          (size_t)rounds));
    b.pre.s.causal = true;
    printf("prefill_causal_seconds %.6g\n",
           ab_attn_flops(&b.pre.s) / ab_median(res[PREFILL_C], (size_t)rounds));
    return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The train suite's CPU attention backward beside the attention suite's fused forward, in one
 * process, interleaved (issue 17, target: backward FLOP rate >= 0.5x the fused forward's).
 *
 * On the shared development VM single figures swing several-fold within a minute, so a ratio of
 * two runs minutes apart (bench/train_cpu.sh's per-point breakdown) mostly measures the drift.
 * Here the three sides alternate in batches of about 0.2 s each (who goes first rotates), many
 * rounds, and the ratio is taken of the medians.
 *
 * fused:     attention.prefill's fused CPU kernel (ab_attention_cpu, causal, f32), batch 1;
 * train fwd: the train suite's attention forward (train_attn_cpu.c) on the fused qkv layout;
 * train bwd: its backward (recomputes the scores from the saved log-sum-exp).
 * FLOPs (FlashAttention's convention): forward 4 H S^2 Dh / 2 (causal), backward 2.5x that.
 * With OMP_NUM_THREADS=1 the batches are timed by the thread's CPU clock
 * (CLOCK_THREAD_CPUTIME_ID: the time the one thread actually ran, not the minutes it waited for a
 * core on a loaded VM), otherwise by the wall clock (ab_now).
 * The kernels' results are validated by tests/test_train_kernels.c and the attention suite's
 * check, not here.
 *
 *   train_attn_cpu_bench <seq> <heads> <kv_heads> <head_dim> <rounds>
 */
#include "backends/cpu.h"
#include "core/ab.h"
#include "core/stats.h"
#include "suites/attention/attention.h"
#include "suites/train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern const ab_attn_impl ab_attention_cpu;
extern const ab_train_ops ab_train_cpu;

typedef struct sides {
    void *dev;
    ab_attn_args fa;
    ab_train_attn ta;
    float *qkv, *o, *lse, *dout, *dqkv, *work;
} sides;

static bool cpu_clock; /* one thread: its CPU time */

static double now(void)
{
    if (!cpu_clock) return ab_now();
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* seconds for reps calls of side s */
static double run_side(sides *x, int s, long reps)
{
    char err[AB_ERRLEN];
    double t0 = now();
    int rc = 0;
    for (long i = 0; i < reps && !rc; i++) {
        if (s == 0)
            rc = ab_attention_cpu.run(x->dev, AB_ATTN_FUSED, &x->fa, 1, err);
        else if (s == 1)
            rc = ab_train_cpu.attn_fwd(x->dev, &x->ta, x->qkv, x->o, x->lse, err);
        else
            rc = ab_train_cpu.attn_bwd(x->dev, &x->ta, x->qkv, x->o, x->lse, x->dout, x->dqkv,
                                       x->work, err);
    }
    if (rc) {
        fprintf(stderr, "train_attn_cpu_bench: %s\n", err);
        exit(1);
    }
    return now() - t0;
}

static int setup(sides *x, long seq, int H, int G, int Dh, char *err)
{
    ab_attn_shape s = {1, H, G, Dh, seq, seq, true, 1.0f / sqrtf((float)Dh)};
    x->fa = (ab_attn_args){.s = s, .dtype = AB_ATTN_F32};
    x->ta = (ab_train_attn){1, (int)seq, H, G, Dh, s.scale};
    const ab_cpu_dev *d = x->dev;
    size_t qn = (size_t)H * seq * Dh, kn = (size_t)G * seq * Dh, ld = (size_t)(H + 2 * G) * Dh;
    size_t wk = ab_attention_cpu.workspace(x->dev, AB_ATTN_FUSED, AB_ATTN_F32, &s);
    x->fa.q = ab_cpu_alloc(d, qn * 4), x->fa.k = ab_cpu_alloc(d, kn * 4);
    x->fa.v = ab_cpu_alloc(d, kn * 4), x->fa.o = ab_cpu_alloc(d, qn * 4);
    x->fa.work = wk ? ab_cpu_alloc(d, wk) : NULL;
    x->qkv = ab_cpu_alloc(d, (size_t)seq * ld * 4), x->dqkv = ab_cpu_alloc(d, (size_t)seq * ld * 4);
    x->o = ab_cpu_alloc(d, qn * 4), x->dout = ab_cpu_alloc(d, qn * 4);
    x->lse = ab_cpu_alloc(d, (size_t)H * seq * 4);
    x->work = ab_cpu_alloc(d, ab_train_cpu.attn_bwd_work(x->dev, &x->ta));
    if (!x->fa.q || !x->fa.k || !x->fa.v || !x->fa.o || (wk && !x->fa.work) || !x->qkv ||
        !x->dqkv || !x->o || !x->dout || !x->lse || !x->work)
        return ab_err(err, "out of memory");
    if (ab_attention_cpu.fill(x->dev, AB_ATTN_F32, x->fa.q, qn, 1, 1.0f, err) ||
        ab_attention_cpu.fill(x->dev, AB_ATTN_F32, x->fa.k, kn, 2, 1.0f, err) ||
        ab_attention_cpu.fill(x->dev, AB_ATTN_F32, x->fa.v, kn, 3, 1.0f, err) ||
        ab_train_cpu.fill(x->dev, x->qkv, (size_t)seq * ld, 1, 1.0f, 0.0f, err) ||
        ab_train_cpu.fill(x->dev, x->dout, qn, 2, 0.25f, 0.0f, err) ||
        ab_train_cpu.attn_fwd(x->dev, &x->ta, x->qkv, x->o, x->lse, err))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr,
                "usage: train_attn_cpu_bench <seq> <heads> <kv_heads> <head_dim> <rounds>\n");
        return 2;
    }
    long seq = atol(argv[1]);
    int H = atoi(argv[2]), G = atoi(argv[3]), Dh = atoi(argv[4]), rounds = atoi(argv[5]);
    if (seq < 1 || H < 1 || G < 1 || H % G || Dh < 2 || Dh > 256 || rounds < 1) {
        fprintf(stderr, "train_attn_cpu_bench: bad shape or rounds\n");
        return 2;
    }
    char err[AB_ERRLEN];
    void *be = NULL;
    sides x = {0};
    if (ab_backend_cpu.init(&be, err) || ab_backend_cpu.open(be, 0, &x.dev, err) ||
        setup(&x, seq, H, G, Dh, err)) {
        fprintf(stderr, "train_attn_cpu_bench: %s\n", err);
        return 1;
    }
    cpu_clock = ((const ab_cpu_dev *)x.dev)->threads == 1;
    const double fwd = 4.0 * H * (double)seq * (double)seq * Dh / 2,
                 flops[3] = {fwd, fwd, 2.5 * fwd};
    long reps[3];
    for (int s = 0; s < 3; s++)
        reps[s] = (long)(0.2 / run_side(&x, s, 1)) + 1;
    double *res[3];
    for (int s = 0; s < 3; s++)
        res[s] = calloc((size_t)rounds, sizeof(double));
    printf("seq %ld, heads %d/%d, head_dim %d, threads %d (%s clock); calls per batch %ld / %ld / "
           "%ld\n",
           seq, H, G, Dh, ((const ab_cpu_dev *)x.dev)->threads, cpu_clock ? "thread CPU" : "wall",
           reps[0], reps[1], reps[2]);
    printf("%-6s %12s %12s %12s %10s  (GFLOP/s)\n", "round", "fused fwd", "train fwd", "train bwd",
           "bwd/fused");
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 3; k++) {
            int s = (k + r) % 3; /* rotate who goes first */
            res[s][r] = flops[s] * (double)reps[s] / run_side(&x, s, reps[s]) / 1e9;
        }
        printf("%-6d %12.2f %12.2f %12.2f %10.3f\n", r + 1, res[0][r], res[1][r], res[2][r],
               res[2][r] / res[0][r]);
    }
    double m[3];
    for (int s = 0; s < 3; s++)
        m[s] = ab_median(res[s], (size_t)rounds);
    printf("%-6s %12.2f %12.2f %12.2f\n", "median", m[0], m[1], m[2]);
    printf("ratio of medians bwd/fused = %.3f (target >= 0.5) %s\n", m[2] / m[0],
           m[2] / m[0] >= 0.5 ? "ok" : "BELOW");
    return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The train step's GEMM products inside the step beside the same products alone, in one
 * process, interleaved (issue 17, target: alone / in-step >= 0.8).
 *
 * bench/train_cpu.sh takes the ratio of a `train` run's breakdown and `gemm.custom` runs
 * minutes apart; on the shared development VM the load swings several-fold within a minute, so
 * that ratio mostly measures the drift. Here one model (one layer + the head, the train suite's
 * own code: train_model.c, train_step.c) and, per product, a separately prepared plan of the
 * same op (shape, layout, beta) on buffers of its own -- what gemm.custom runs -- alternate:
 *   step:  one instrumented step (every kernel bracketed by the backend timer, as the
 *          breakdown): each product's time inside the step;
 *   alone: each product one untimed call, then 3 timed calls back to back (warm, like the gemm
 *          suite's repetitions): the median call.
 * Odd rounds take the step first, even rounds the products alone first. Per round the ratio
 * sum(alone) / sum(in step); at the end, per product, the medians of both sides over the rounds
 * (where the step loses time), and the headline: the ratio of those medians summed (a product
 * descheduled for a time slice in one round moves its median little, the round's sum a lot; the
 * median of the rounds' ratios is printed beside it). Wall clock, the backend's whole team.
 * The step's results are validated by the train suite (ctest -R train), not here.
 *
 *   train_cpu_bench <model> <seq> <rounds>
 */
#include "backends/registry.h"
#include "core/ab.h"
#include "core/stats.h"
#include "suites/train/train_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct alone {
    void *plan, *a, *b, *c;
} alone;

static void die(const char *err)
{
    fprintf(stderr, "train_cpu_bench: %s\n", err);
    exit(1);
}

static void *buf(ab_train_model *m, size_t floats, uint64_t seed, char *err)
{
    void *p = NULL;
    if (m->ops->mem_alloc(m->d->h, floats * sizeof(float), &p, err) != 0) die(err);
    if (m->k->fill(m->d->h, p, floats, seed, 0.0625f, 0.0f, err) != 0) die(err);
    return p;
}

static void alone_init(ab_train_model *m, alone *x, char *err)
{
    for (int i = 0; i < AB_TG_COUNT; i++) {
        const ab_gemm_op *op = &m->run.op[i];
        if (m->gi->prepare(m->d->h, op, &x[i].plan, err) != 0) die(err);
        x[i].a = buf(m, (size_t)(op->m * op->k), 100u + (uint64_t)i, err);
        x[i].b = buf(m, (size_t)(op->k * op->n), 200u + (uint64_t)i, err);
        x[i].c = buf(m, (size_t)(op->m * op->n), 300u + (uint64_t)i, err);
    }
}

/* product i alone: the median of 3 timed calls after an untimed one */
static double alone_call(ab_train_model *m, alone *x, char *err)
{
    double t[3];
    if (m->gi->run(x->plan, x->a, x->b, x->c, err) != 0) die(err);
    for (int r = 0; r < 3; r++) {
        double t0 = ab_now();
        if (m->gi->run(x->plan, x->a, x->b, x->c, err) != 0) die(err);
        t[r] = ab_now() - t0;
    }
    return ab_median(t, 3);
}

/* one instrumented step (layers, then head): per-product seconds into s */
static void step(ab_train_model *m, double *s, char *err)
{
    memset(m->t_cat, 0, sizeof(m->t_cat));
    memset(m->t_gemm, 0, sizeof(m->t_gemm));
    m->instr = true;
    if (ab_train_layers(m, err) != 0 || ab_train_head(m, err) != 0) die(err);
    m->instr = false;
    memcpy(s, m->t_gemm, sizeof(m->t_gemm));
}

static double sum(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    return s;
}

/* per product the medians of both sides over the rounds; returns the ratio of their sums */
static double per_product(ab_train_model *m, double (*in)[AB_TG_COUNT],
                          double (*out)[AB_TG_COUNT], int rounds)
{
    double sa = 0, sb = 0;
    printf("%-14s %-3s %22s %10s %10s %8s\n", "product", "lay", "m x n x k", "step s", "alone s",
           "ratio");
    double *v = malloc((size_t)rounds * 2 * sizeof(double)), *w = v + rounds;
    if (!v) die("out of memory");
    for (int i = 0; i < AB_TG_COUNT; i++) {
        for (int r = 0; r < rounds; r++)
            v[r] = in[r][i], w[r] = out[r][i];
        const ab_gemm_op *op = &m->run.op[i];
        double a = ab_median(v, (size_t)rounds), b = ab_median(w, (size_t)rounds);
        sa += a, sb += b;
        char shape[64];
        snprintf(shape, sizeof(shape), "%ldx%ldx%ld", (long)op->m, (long)op->n, (long)op->k);
        printf("%-14s %-3s %22s %10.5f %10.5f %8.3f\n", ab_train_gemm_name(i),
               op->ta ? "TN" : op->tb ? "NT" : "NN", shape, a, b, b / a);
    }
    free(v);
    printf("%-14s %-3s %22s %10.5f %10.5f %8.3f\n", "sum", "", "", sa, sb, sb / sa);
    return sb / sa;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: train_cpu_bench <model> <seq> <rounds>\n");
        return 2;
    }
    char err[AB_ERRLEN] = "";
    setvbuf(stdout, NULL, _IOLBF, 0); /* a round at a time, also into a pipe */
    ab_llm lm;
    int seq = atoi(argv[2]), rounds = atoi(argv[3]);
    if (ab_llm_preset(argv[1], &lm) != 0 || seq < 1 || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "train_cpu_bench: bad model, seq or rounds\n");
        return 2;
    }
    ab_platform plat;
    if (ab_platform_init(&plat, err) != 0) die(err);
    ab_device *dv = ab_platform_device(&plat, "cpu");
    if (!dv) die("no cpu device");
    if (ab_device_open(dv, err) != 0) die(err);
    ab_train_model *m = NULL;
    if (ab_train_model_new(dv, &lm, AB_GEMM_PORTABLE, false, 1, 1, seq, 4, 2, &m, err) != 0 ||
        ab_train_init(m, err) != 0)
        die(err);
    alone x[AB_TG_COUNT];
    alone_init(m, x, err);
    double(*in)[AB_TG_COUNT] = calloc((size_t)rounds, sizeof(*in));
    double(*out)[AB_TG_COUNT] = calloc((size_t)rounds, sizeof(*out));
    double *ratio = calloc((size_t)rounds, sizeof(double)), warm[AB_TG_COUNT];
    if (!in || !out || !ratio) die("out of memory");
    step(m, warm, err); /* untimed: first touches */
    printf("%s, seq %d, 1 layer + head, %s GEMM, %d rounds (wall clock)\n", lm.name, seq,
           m->gi->name, rounds);
    for (int r = 0; r < rounds; r++) {
        for (int side = 0; side < 2; side++) {
            if ((side + r) % 2 == 0)
                step(m, in[r], err);
            else
                for (int i = 0; i < AB_TG_COUNT; i++)
                    out[r][i] = (i < AB_TG_LOGITS ? m->layers : 1) * alone_call(m, &x[i], err);
        }
        ratio[r] = sum(out[r], AB_TG_COUNT) / sum(in[r], AB_TG_COUNT);
        printf("round %d (%s first): GEMM in step %.4f s, alone %.4f s -> alone/in-step %.3f\n",
               r + 1, r % 2 ? "alone" : "step", sum(in[r], AB_TG_COUNT),
               sum(out[r], AB_TG_COUNT), ratio[r]);
    }
    double pm = per_product(m, in, out, rounds), med = ab_median(ratio, (size_t)rounds);
    printf("median of the rounds' ratios = %.3f; per-product medians summed: GEMM alone/in-step "
           "= %.3f (target >= 0.8) %s\n",
           med, pm, pm >= 0.8 ? "ok" : "BELOW");
    for (int i = 0; i < AB_TG_COUNT; i++) {
        m->gi->release(x[i].plan);
        m->ops->mem_free(m->d->h, x[i].a), m->ops->mem_free(m->d->h, x[i].b);
        m->ops->mem_free(m->d->h, x[i].c);
    }
    ab_train_model_free(m);
    free(in), free(out), free(ratio);
    ab_platform_fini(&plat);
    return 0;
}

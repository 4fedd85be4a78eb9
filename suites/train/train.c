/* SPDX-License-Identifier: MIT */
/*
 * train: what one accelerator delivers in LLM training -- step time, training tokens per
 * second, MFU, $ per million training tokens and tokens per kWh -- from a real training step
 * (forward, backward, AdamW with f32 master weights; f32 or bf16 mixed precision) of k of a model
 * preset's L layers and the LM head, built from the project's own kernels (train_step.h) and
 * validated every run against an fp64 host reference (train_check.c).
 *
 * Method (README, "train"): the k layers are timed as one unit (forward, backward, AdamW of the
 * k layers), the head (final norm, LM head, cross-entropy, its backward and AdamW) apart; step
 * time = L/k x (k layers) + head. Tokens per step = micro-batch x sequence length. Model FLOPs
 * per token = 6 N + 6 L H Dh S (PaLM's appendix B, attention halved for the causal mask), N the
 * parameters of model.h (embedding excluded); MFU = FLOPs per token x tokens/s / rate, against
 * the same run's measured GEMM rate (the model's gate/up projection at M = tokens per step) and
 * against the datasheet (data/accelerator-peaks.csv). Cost and energy as the tokens suite's.
 *
 * This file: descriptor, parameters, plan, defaults, layers that fit, generation.
 */
#include "../../core/ab.h"
#include "../../core/prices.h"
#include "train_suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"train.step", NULL};

static const ab_param_desc params[] = {
    {"model", "NAME",
     "tiny, llama3-1b, llama3-8b, llama3-70b, llama3-405b (default llama3-8b on GPUs, "
     "llama3-1b on CPU/OpenCL)"},
    {"layers-run", "N",
     "layers actually run and scaled to the model's (default: what fits, capped at 2 quick, 4 "
     "standard, all full)"},
    {"seq", "LIST",
     "sequence lengths; 1k = 1024 (default: quick 128, else 512 on CPU/OpenCL; "
     "quick 1k, else 4k on GPUs)"},
    {"micro-batch", "LIST", "sequences per step (default 1; full 1,4)"},
    {"steps", "N",
     "timed steps per point, 1..100000 (default: the profile's samples, at most 5 "
     "below full)"},
    {"dtype", "LIST",
     "f32, bf16 (mixed precision: f32 master weights, gradients and AdamW state; bf16 GEMM "
     "operands, f32 accumulation) or both (default f32)"},
    {"gemm-impl", "NAME",
     "vendor or portable GEMM for the projections (default vendor where the "
     "backend has one; portable on the CPU backend)"},
    {"price-per-hour", "USD", "price of one device-hour (overrides the price sheet)"},
    {"price-sheet", "FILE", "price sheet CSV (default data/prices.csv)"},
    {NULL, NULL, NULL},
};

static int parse_dtype(const char *v, ab_train_plan *p, char *err)
{
    bool picked[AB_DT_COUNT] = {false};
    if (ab_dtype_list(v, picked, err) != 0) return -1;
    for (int t = 0; t < AB_DT_COUNT; t++)
        if (picked[t] && t != AB_DT_F32 && t != AB_DT_BF16)
            return ab_err(err, "--dtype: the train suite runs f32 or bf16, not %s",
                          ab_dtype_name((ab_dtype)t));
    p->f32 = picked[AB_DT_F32], p->bf16 = picked[AB_DT_BF16];
    return 0;
}

static int plan_make(const ab_options *o, ab_train_plan *p, char *err)
{
    p->impl = -1;
    p->price_opts.price = -1;
    const char *v;
    if ((v = ab_opt_param(o, "model"))) {
        if (ab_llm_preset(v, &p->m) != 0)
            return ab_err(err, "--model: unknown model '%s' (known: %s)", v, ab_llm_preset_names());
        p->model_set = true;
    }
    long n;
    char e[AB_ERRLEN];
    if ((v = ab_opt_param(o, "layers-run"))) {
        if (ab_parse_long(v, "layers-run", 1, 1000, &n, e) != 0)
            return ab_err(err, "--layers-run: '%s' is not a whole number in 1..1000", v);
        p->layers_run = (int)n;
    }
    if ((v = ab_opt_param(o, "steps"))) {
        if (ab_parse_long(v, "steps", 1, 100000, &n, e) != 0)
            return ab_err(err, "--steps: '%s' is not a whole number in 1..100000", v);
        p->steps = n;
    }
    if ((v = ab_opt_param(o, "seq")) &&
        ab_parse_long_list(v, "--seq", 1, 1L << 20, true, p->seq, AB_TRAIN_MAXL, &p->nseq, err))
        return -1;
    if ((v = ab_opt_param(o, "micro-batch")) &&
        ab_parse_long_list(v, "--micro-batch", 1, 4096, false, p->mb, AB_TRAIN_MAXL, &p->nmb, err))
        return -1;
    if ((v = ab_opt_param(o, "dtype")) && parse_dtype(v, p, err) != 0) return -1;
    if ((v = ab_opt_param(o, "gemm-impl"))) {
        if (strcmp(v, "vendor") == 0)
            p->impl = AB_GEMM_VENDOR;
        else if (strcmp(v, "portable") == 0)
            p->impl = AB_GEMM_PORTABLE;
        else
            return ab_err(err, "--gemm-impl: '%s' is neither vendor nor portable", v);
    }
    if ((v = ab_opt_param(o, "price-per-hour")) &&
        ab_parse_double(v, "--price-per-hour", &p->price_opts.price, err) != 0)
        return -1;
    if ((v = ab_opt_param(o, "price-sheet"))) {
        ab_prices ps;
        if (ab_prices_load(v, &ps, err) != 0) return -1;
        ab_prices_free(&ps);
        p->price_opts.sheet = v;
    }
    return 0;
}

static void defaults(ab_train_plan *p, const ab_device *d, const char *profile)
{
    bool quick = strcmp(profile, "quick") == 0, full = strcmp(profile, "full") == 0;
    bool host = d->info.host_memory;
    if (!p->model_set) ab_llm_preset(host ? "llama3-1b" : "llama3-8b", &p->m);
    if (!p->f32 && !p->bf16) p->f32 = true;
    if (!p->nseq) p->seq[p->nseq++] = host ? (quick ? 128 : 512) : (quick ? 1024 : 4096);
    if (!p->nmb) {
        p->mb[p->nmb++] = 1;
        if (full) p->mb[p->nmb++] = 4;
    }
    if (p->impl < 0) {
        /* the vendor library where the backend has one -- except on the CPU backend, where a
         * step hands over between OpenBLAS's pthread pool and the backend's OpenMP team some
         * twenty times per layer (tokens.c, pick_impl: each hand-over waits for the other
         * pool to stop spinning); the portable kernel runs on the team itself */
        const ab_gemm_backend *gb = ab_device_impls(d)->gemm;
        bool vendor = gb && gb->impl[AB_GEMM_VENDOR] && d->info.kind != AB_KIND_HOST;
        p->impl = vendor || !gb || !gb->impl[AB_GEMM_PORTABLE] ? AB_GEMM_VENDOR : AB_GEMM_PORTABLE;
    }
}

int ab_train_layers_fit(const ab_device *d, const ab_train_plan *p, int batch, int seq, bool bf16,
                        const char *profile, char *why)
{
    const ab_llm *m = &p->m;
    ab_train_mem mem;
    ab_train_mem_of(m, batch, seq, bf16, &mem);
    double total = (double)d->info.mem_bytes, frac = d->info.host_memory ? 0.5 : 0.85;
    double budget = frac * total, fixed = mem.head + mem.scratch + 256.0 * 1048576.0;
    double per = ab_train_mem_layer(&mem);
    int k = total > 0 ? (int)floor((budget - fixed) / per) : 1;
    const double gib = 1073741824.0;
    if (k < 1) {
        snprintf(why, AB_ERRLEN,
                 "micro-batch %d x %d tokens does not fit: one layer (%.2f GiB: weights, "
                 "gradients, AdamW state, activations%s) and the head with its logits (%.2f GiB) "
                 "exceed the %.0f%% memory budget of %s (%.1f GiB)",
                 batch, seq, per / gib, bf16 ? ", bf16 copies" : "", fixed / gib, frac * 100, d->id,
                 total / gib);
        return 0;
    }
    if (p->layers_run) {
        if (p->layers_run > k) {
            snprintf(why, AB_ERRLEN, "--layers-run %d: only %d layers fit the memory budget of %s",
                     p->layers_run, k, d->id);
            return 0;
        }
        return p->layers_run > m->layers ? m->layers : p->layers_run;
    }
    int cap = strcmp(profile, "quick") == 0 ? 2 : strcmp(profile, "standard") == 0 ? 4 : m->layers;
    k = k > cap ? cap : k;
    return k > m->layers ? m->layers : k;
}

/* What a point does, for a time budget's estimate (ab_case_work): the model's fill once, the
 * GEMM roof before and after, the head once and sampled, the k layers sampled, the breakdown's
 * AB_TRAIN_BD_STEPS instrumented steps (layers and head), the fp64 validation (about 4 GFLOP
 * each for the layers and the head) once. */
static int point_work(ab_case *c, const ab_llm *m, int k, long T, int seq, bool bf16)
{
    if (k < 1) return 0;
    ab_train_mem mem;
    ab_train_mem_of(m, (int)(T / seq), seq, bf16, &mem);
    double D = m->d_model, F = m->ffn, lw = mem.weights + mem.grads + mem.optimizer;
    double roof = 2.0 * (double)T * 2.0 * F * D, head = 6.0 * (double)m->vocab * D * (double)T;
    double layers = k * (6.0 * (double)ab_llm_linear_params_layer(m) +
                         6.0 * m->heads * m->head_dim * (double)seq) *
                    (double)T;
    return ab_case_work(c, 0, k * lw + mem.head, false) || ab_case_work(c, roof, 0, true) ||
           ab_case_work(c, roof, 0, true) || ab_case_work(c, head, mem.head, false) ||
           ab_case_work(c, head, mem.head, true) || ab_case_work(c, layers, k * lw, true) ||
           ab_case_work(c, AB_TRAIN_BD_STEPS * (layers + head),
                        AB_TRAIN_BD_STEPS * (k * lw + mem.head), false) ||
           ab_case_work(c, 8e9, 0, false);
}

/* A point of model m (NULL: the plan's); cover: a cover case (ab_case.cover_only). */
static int add_point(ab_caselist *l, const ab_train_plan *p, const ab_llm *m, int batch, int seq,
                     const char *dt, bool cover, char *err)
{
    ab_train_plan q = *p; /* the plan with the point's model, for the layers that fit */
    if (m) q.m = *m;
    p = &q;
    const ab_gemm_backend *gb = ab_device_impls(ab_caselist_ctx(l)->dev)->gemm;
    const char *impl =
        gb && gb->impl[p->impl] ? gb->impl[p->impl]->name : ab_tok_impl_name(p->impl);
    ab_case *c = ab_case_new(l, "train.step", impl, &ab_train_point_ops, sizeof(ab_train_point));
    if (!c) return ab_err(err, "out of memory");
    ab_train_point *pt = c->data;
    pt->m = p->m, pt->batch = batch, pt->seq = seq, pt->bf16 = strcmp(dt, "bf16") == 0;
    /* layers that fit, decided now: a parameter of the result (runs align on it) */
    ab_suite_ctx *ctx = ab_caselist_ctx(l);
    pt->k = ab_train_layers_fit(ctx->dev, p, batch, seq, pt->bf16, ctx->opt->profile, pt->why);
    if (cover && pt->k > 1) pt->k = 1;
    c->cover_only = cover;
    ab_result *r = c->r;
    ab_result_param_str(r, "model", p->m.name);
    ab_result_param_str(r, "dtype", dt);
    ab_result_param_int(r, "seq", seq);
    ab_result_param_int(r, "micro_batch", batch);
    ab_result_param_int(r, "tokens_per_step", (long)batch * seq);
    ab_result_param_int(r, "layers", p->m.layers);
    ab_result_param_int(r, "layers_run", pt->k);
    return point_work(c, &p->m, pt->k, (long)batch * seq, seq, pt->bf16) ? ab_err(err, "out of memory") : 0;
}

static int train_generate(ab_caselist *l, char *err)
{
    ab_suite_ctx *ctx = ab_caselist_ctx(l);
    ab_train_plan *p = ab_caselist_plan(l);
    char e[AB_ERRLEN];
    defaults(p, ctx->dev, ctx->opt->profile);
    p->have_peaks = ab_peaks_load(NULL, &p->peaks, e) == 0;
    ab_tok_resolve_price(&p->price_opts, ctx, &p->pr);
    for (int f = 0; f < 2; f++) {
        if (!(f ? p->bf16 : p->f32)) continue;
        for (size_t i = 0; i < p->nseq; i++)
            for (size_t j = 0; j < p->nmb; j++)
                if (add_point(l, p, NULL, (int)p->mb[j], (int)p->seq[i], f ? "bf16" : "f32",
                              false, err))
                    return -1;
    }
    /* the cover case: when a time budget's cover pass could not fit the points, one layer of a
     * 16-token step of the tiny preset represents the suite. Not one of the model: its LM head
     * alone is 6 x vocab x d_model FLOP a token, and one layer of a 16-token llama3-1b step
     * took 203 s on PoCL's portable kernels where the budget's estimate from the gemm suite's
     * rates said 36 s */
    ab_llm tiny;
    ab_llm_preset("tiny", &tiny);
    return add_point(l, p, &tiny, 1, 16, p->f32 ? "f32" : "bf16", true, err);
}

static int train_plan_init(const ab_options *o, void *plan, char *err)
{
    return plan_make(o, plan, err);
}

static void train_plan_clear(void *plan)
{
    ab_train_plan *p = plan;
    if (p->have_peaks) ab_peaks_free(&p->peaks);
}

/* The sampling is the tokens suite's (a step is long: at most 5 samples, but on full).
 * No .impl accessor: a backend without training kernels is a skip per point that names what is
 * missing (ab_train_model_new), not the loop's generic one. */
static const ab_case_suite train_cases = {.plan_size = sizeof(ab_train_plan),
                                          .plan_init = train_plan_init,
                                          .plan_clear = train_plan_clear,
                                          .generate = train_generate,
                                          .sampling = ab_tok_point_sampling};

extern const ab_suite_display ab_train_display; /* train_display.c */

const ab_suite ab_suite_train = {
    .name = "train",
    .summary = "LLM training step (forward, backward, AdamW): tokens/s, MFU, $ per 1M training "
               "tokens, tokens per kWh",
    .keys = keys,
    .params = params,
    .run = ab_caserun,
    .cases = &train_cases,
    .display = &ab_train_display,
};

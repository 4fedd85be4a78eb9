/* SPDX-License-Identifier: MIT */
/*
 * tokens: what one accelerator delivers in LLM inference -- prefill tokens/s and time to first
 * token, decode time per output token and tokens/s across a batch sweep -- what a token costs
 * (from --price-per-hour or a price sheet) and what it takes in energy, each point explained by
 * a roofline built from the same run's measured bandwidth and GEMM rate, and from the datasheet.
 *
 * Method (README, "tokens"):
 *   - the decoder (step.h) runs k of the model's L identical layers, each with its own weights
 *     and KV cache, timed with the backend's timer (ab_measure); the final norm and LM head are
 *     timed apart. Step time = L/k x (k layers) + head. k is as many layers as fit the memory
 *     budget, capped by the profile (quick 2, standard 4, full all) or set by --layers-run.
 *   - prefill: one sequence of S tokens from an empty cache (causal); TTFT is its step time,
 *     tokens/s = S / TTFT.
 *   - decode: B sequences, one new token each, against a cache of C tokens; TPOT is the step
 *     time, tokens/s = B / TPOT, per user 1 / TPOT.
 *   - roofline: decode moves every weight once per step plus the KV cache (model.h); prefill does
 *     2 x weights x S FLOPs plus attention. Speed of light: decode = bytes / bandwidth, prefill =
 *     FLOPs / GEMM rate (the other bound is recorded beside it). Bandwidth: the better of membw's
 *     read and triad kernels, measured on this device right before each point. GEMM rate: the
 *     model's gate/up projection at M = the prefill length, measured right before each prefill
 *     point (decode points use the last one). On a shared machine the roof must describe the
 *     same minutes as the point. Again with the datasheet's figures (data/accelerator-peaks.csv).
 *   - cost: tokens per dollar = tokens/s x 3600 / ($ per device-hour); energy: mean power over
 *     the measurement window from the run's sampler (NVML/ROCm SMI energy counter, RAPL), tokens
 *     per joule = tokens per step / (power x step time).
 *
 * Run by the runner loop (suites/case.h): one group per dtype holds the model (its setup builds
 * it; a model that does not fit or cannot be built is one result per selected key), one case per
 * point. This file: descriptor, parameters, plan, defaults, generation; the point's hooks in
 * tokens_point.c, the roofline in tokens_roof.c, price and energy in tokens_cost.c
 * (tokens_suite.h).
 */
#include "../../core/ab.h"
#include "../../core/prices.h"
#include "tokens_suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"tokens.prefill", "tokens.decode", NULL};

static const ab_param_desc params[] = {
    {"model", "NAME",
     "tiny, llama3-1b, llama3-8b, llama3-70b, llama3-405b (default llama3-8b on "
     "GPUs, llama3-1b on CPU/OpenCL)"},
    {"model-shape", "K=V,...",
     "override the preset: layers, d_model, heads, kv_heads, head_dim, "
     "ffn, vocab (e.g. layers=4,ffn=4096)"},
    {"layers-run", "N",
     "layers actually run and scaled to the model's (default: what fits, "
     "capped at 2 quick, 4 standard, all full)"},
    {"dtype", "LIST",
     "weights and activations: f32, bf16 (default bf16 on GPUs, f32 on "
     "CPU/OpenCL)"},
    {"gemm-impl", "NAME",
     "vendor or portable GEMM for the projections (default vendor where "
     "the backend has one and the dtype; portable for decode on the CPU backend)"},
    {"prefill", "LIST",
     "prefill input lengths; 1k = 1024 (default: 1k; standard on GPUs and "
     "full 1k,8k)"},
    {"batch", "LIST",
     "decode batch sizes, 1..4096 (default: quick 1,8,32; standard 1,2,4,..,256 "
     "on GPUs, 1,4,16,64 on CPU/OpenCL; full 1..256)"},
    {"context", "LIST", "decode context lengths; 1k = 1024 (default: 1k; full 1k,8k)"},
    {"price-per-hour", "USD", "price of one device-hour (overrides the price sheet)"},
    {"price-sheet", "FILE",
     "price sheet CSV (default data/prices.csv, matched to the detected "
     "cloud instance)"},
    {"region", "NAME",
     "where the electricity comes from, for gCO2e per token: a cloud region or an ISO "
     "country code in the carbon sheet (default: the region the probes detected)"},
    {"carbon-sheet", "FILE", "grid carbon intensity CSV (default data/carbon-intensity.csv)"},
    {NULL, NULL, NULL},
};

static int parse_shape(const char *s, ab_llm *m, char *err)
{
    char e[AB_ERRLEN];
    char **items = ab_split_list(s, e);
    if (!items) return ab_err(err, "--model-shape: %s", e);
    int rc = 0;
    for (size_t i = 0; items[i] && rc == 0; i++) {
        char *eq = strchr(items[i], '=');
        if (!eq) {
            rc = ab_err(err, "--model-shape: '%s' is not KEY=VALUE", items[i]);
            break;
        }
        *eq = 0;
        long v;
        if (ab_parse_long(eq + 1, items[i], 1, 1L << 20, &v, e) != 0) {
            rc = ab_err(err, "--model-shape: %s: '%s' is not a whole number in 1..%ld", items[i],
                        eq + 1, 1L << 20);
            break;
        }
        int *f = strcmp(items[i], "layers") == 0     ? &m->layers
                 : strcmp(items[i], "d_model") == 0  ? &m->d_model
                 : strcmp(items[i], "heads") == 0    ? &m->heads
                 : strcmp(items[i], "kv_heads") == 0 ? &m->kv_heads
                 : strcmp(items[i], "head_dim") == 0 ? &m->head_dim
                 : strcmp(items[i], "ffn") == 0      ? &m->ffn
                 : strcmp(items[i], "vocab") == 0    ? &m->vocab
                                                     : NULL;
        if (!f)
            rc = ab_err(err,
                        "--model-shape: unknown key '%s' (layers, d_model, heads, kv_heads, "
                        "head_dim, ffn, vocab)",
                        items[i]);
        else
            *f = (int)v;
    }
    ab_strv_free(items);
    return rc;
}

/* --model-shape on a preset: the dimensions replaced, the result checked, the name marked */
static int apply_shape(const char *shape, ab_llm *m, char *err)
{
    char name[sizeof(m->name)];
    snprintf(name, sizeof(name), "%s", m->name);
    if (parse_shape(shape, m, err) != 0 || ab_llm_check(m, err) != 0) return -1;
    snprintf(m->name, sizeof(m->name), "%.24s-custom", name);
    return 0;
}

static int plan_make(const ab_options *o, ab_tok_opts *p, char *err)
{
    memset(p, 0, sizeof(*p));
    p->impl = -1;
    p->price = -1;
    const char *v;
    if ((v = ab_opt_param(o, "model"))) {
        if (ab_llm_preset(v, &p->m) != 0)
            return ab_err(err, "--model: unknown model '%s' (known: %s)", v, ab_llm_preset_names());
        p->model_set = true;
    }
    if ((v = ab_opt_param(o, "model-shape"))) {
        /* checked now against the preset(s) it may apply to; applied in defaults() */
        static const char *const base[] = {"llama3-1b", "llama3-8b"};
        for (int i = 0; i < (p->model_set ? 1 : 2); i++) {
            ab_llm m = p->m;
            if (!p->model_set) ab_llm_preset(base[i], &m);
            if (apply_shape(v, &m, err) != 0) return -1;
        }
        p->shape = v;
    }
    if ((v = ab_opt_param(o, "layers-run"))) {
        long k;
        char e[AB_ERRLEN];
        if (ab_parse_long(v, "layers-run", 1, 1000, &k, e) != 0)
            return ab_err(err, "--layers-run: '%s' is not a whole number in 1..1000", v);
        p->layers_run = (int)k;
    }
    if ((v = ab_opt_param(o, "dtype"))) {
        bool picked[AB_DT_COUNT] = {false};
        if (ab_dtype_list(v, picked, err) != 0) return -1;
        for (int t = 0; t < AB_DT_COUNT; t++)
            if (picked[t] && t != AB_DT_F32 && t != AB_DT_BF16)
                return ab_err(err, "--dtype: the tokens suite runs f32 or bf16, not %s",
                              ab_dtype_name((ab_dtype)t));
        if (picked[AB_DT_F32]) p->dt[p->ndt++] = AB_TT_F32;
        if (picked[AB_DT_BF16]) p->dt[p->ndt++] = AB_TT_BF16;
    }
    if ((v = ab_opt_param(o, "gemm-impl"))) {
        if (strcmp(v, "vendor") == 0)
            p->impl = AB_GEMM_VENDOR;
        else if (strcmp(v, "portable") == 0)
            p->impl = AB_GEMM_PORTABLE;
        else
            return ab_err(err, "--gemm-impl: '%s' is neither vendor nor portable", v);
    }
    /* token counts ("1k" = 1024) */
    if ((v = ab_opt_param(o, "prefill")) &&
        ab_parse_long_list(v, "--prefill", 1, 1L << 20, true, p->prefill, AB_TOK_MAXL, &p->nprefill,
                           err) != 0)
        return -1;
    if ((v = ab_opt_param(o, "batch")) &&
        ab_parse_long_list(v, "--batch", 1, 4096, true, p->batch, AB_TOK_MAXL, &p->nbatch, err) != 0)
        return -1;
    if ((v = ab_opt_param(o, "context")) &&
        ab_parse_long_list(v, "--context", 1, 1L << 22, true, p->ctx, AB_TOK_MAXL, &p->nctx, err) != 0)
        return -1;
    if ((v = ab_opt_param(o, "price-per-hour")) &&
        ab_parse_double(v, "--price-per-hour", &p->price, err) != 0)
        return -1;
    if ((v = ab_opt_param(o, "price-sheet"))) {
        ab_prices ps;
        if (ab_prices_load(v, &ps, err) != 0) return -1;
        ab_prices_free(&ps);
        p->sheet = v;
    }
    p->region = ab_opt_param(o, "region");
    p->carbon_sheet = ab_opt_param(o, "carbon-sheet");
    if ((p->region || p->carbon_sheet) && ab_tok_carbon_check(p, err) != 0) return -1;
    return 0;
}

/* ---- per device --------------------------------------------------------------------------- */

static bool is_gpu(const ab_device *d)
{
    return !d->info.host_memory;
}

/* Defaults by profile. Devices computing in host memory (CPU, PoCL) get shorter standard lists,
 * as in the attention suite, so the standard profile stays minutes there: an 8k prefill of
 * llama3-1b is ~20 TFLOP. */
static void defaults(ab_tok_opts *p, const ab_device *d, const char *profile)
{
    bool quick = strcmp(profile, "quick") == 0, full = strcmp(profile, "full") == 0;
    bool host = d->info.host_memory;
    if (!p->model_set) ab_llm_preset(is_gpu(d) ? "llama3-8b" : "llama3-1b", &p->m);
    if (p->shape) {
        char err[AB_ERRLEN];
        apply_shape(p->shape, &p->m, err); /* checked in plan_make */
    }
    if (!p->ndt) p->dt[p->ndt++] = is_gpu(d) ? AB_TT_BF16 : AB_TT_F32;
    if (!p->nprefill) {
        p->prefill[p->nprefill++] = 1024;
        if (full || (!quick && !host)) p->prefill[p->nprefill++] = 8192;
    }
    if (!p->nbatch) {
        static const long q[] = {1, 8, 32}, sh[] = {1, 4, 16, 64};
        if (quick) {
            memcpy(p->batch, q, sizeof(q));
            p->nbatch = 3;
        } else if (host && !full) {
            memcpy(p->batch, sh, sizeof(sh));
            p->nbatch = 4;
        } else {
            for (long b = 1; b <= 256; b *= 2)
                p->batch[p->nbatch++] = b;
        }
    }
    if (!p->nctx) {
        p->ctx[p->nctx++] = 1024;
        if (full) p->ctx[p->nctx++] = 8192;
    }
}

/* layers that fit: weights + the largest cache of any point, within the memory budget */
static int layers_fit(const ab_device *d, const ab_tok_opts *p, ab_tok_type wt, ab_tok_type kt,
                      const char *profile, char *why)
{
    const ab_llm *m = &p->m;
    double cache = 0, act = 0;
    for (size_t i = 0; i < p->nprefill; i++) {
        double c = ab_tok_layer_cache_bytes(m, kt, 1, p->prefill[i]);
        double a = ab_tok_phase_act_bytes(m, 1, (int)p->prefill[i]);
        cache = c > cache ? c : cache, act = a > act ? a : act;
    }
    for (size_t i = 0; i < p->nbatch; i++)
        for (size_t j = 0; j < p->nctx; j++) {
            double c = ab_tok_layer_cache_bytes(m, kt, (int)p->batch[i], p->ctx[j] + 1);
            double a = ab_tok_phase_act_bytes(m, (int)p->batch[i], 1);
            cache = c > cache ? c : cache, act = a > act ? a : act;
        }
    double mem = (double)d->info.mem_bytes, budget = (d->info.host_memory ? 0.5 : 0.85) * mem;
    double fixed = ab_tok_head_weight_bytes(m, wt) + act + 256.0 * 1048576.0;
    double per = ab_tok_layer_weight_bytes(m, wt) + cache;
    int k = mem > 0 ? (int)floor((budget - fixed) / per) : 1;
    if (k < 1) {
        snprintf(why, AB_ERRLEN,
                 "one layer (%.1f GiB with its largest KV cache) and the head (%.1f GiB) exceed "
                 "the %.0f%% memory budget of %s (%.1f GiB)",
                 per / 1073741824.0, fixed / 1073741824.0, d->info.host_memory ? 50.0 : 85.0, d->id,
                 mem / 1073741824.0);
        return 0;
    }
    int cap = strcmp(profile, "quick") == 0 ? 2 : strcmp(profile, "standard") == 0 ? 4 : m->layers;
    if (p->layers_run) {
        if (p->layers_run > k) {
            snprintf(why, AB_ERRLEN, "--layers-run %d: only %d layers fit the memory budget of %s",
                     p->layers_run, k, d->id);
            return 0;
        }
        return p->layers_run > m->layers ? m->layers : p->layers_run;
    }
    if (k > cap) k = cap;
    return k > m->layers ? m->layers : k;
}

/*
 * The GEMM implementation of a phase. --gemm-impl decides when given; else the vendor library
 * where the backend has one -- except for decode on the CPU backend, which takes the portable
 * kernel: OpenBLAS runs its own pthread pool beside the backend's OpenMP team (gemm_cpu.c), and a
 * decoder step hands over between the two pools a dozen times per layer; each hand-over waits for
 * the other pool's threads to stop spinning. With the small GEMMs of decode that costs more than
 * the multiplies (llama3-1b, batch 1: 0.48 tok/s through OpenBLAS, 2.2 tok/s portable on the
 * 2-core development VM). Prefill's large GEMMs amortise it.
 */
static bool impl_can(const ab_gemm_backend *gb, int impl, void *dev, ab_tok_type wt)
{
    const ab_gemm_impl *gi = gb ? gb->impl[impl] : NULL;
    if (!gi) return false;
    ab_gemm_type t = wt == AB_TT_BF16 ? AB_GT_BF16 : AB_GT_F32;
    ab_gemm_op op = {.a = t,
                     .b = t,
                     .c = t,
                     .tb = true,
                     .m = 64,
                     .n = 64,
                     .k = 64,
                     .lda = 64,
                     .ldb = 64,
                     .ldc = 64,
                     .batch = 1,
                     .alpha = 1.0};
    char why[AB_ERRLEN];
    if (gi->dtype_ok(dev, &op, why) == 0) return true;
    op.c = AB_GT_F32;
    return gi->dtype_ok(dev, &op, why) == 0;
}

/* ...and the vendor library falls back to the portable kernel where it lacks the dtype (CPU
 * bf16: Debian's OpenBLAS has no sbgemm). */
static int pick_impl(const ab_device *d, const ab_tok_opts *p, bool prefill, ab_tok_type wt)
{
    const ab_gemm_backend *gb = ab_tok_gemm_backend(d);
    if (p->impl >= 0) return p->impl;
    if (!impl_can(gb, AB_GEMM_VENDOR, d->h, wt)) return AB_GEMM_PORTABLE;
    if (!prefill && ab_tok_cpu_backend(d) && gb->impl[AB_GEMM_PORTABLE])
        return AB_GEMM_PORTABLE;
    return AB_GEMM_VENDOR;
}

/* ---- the cases: a group per dtype (its model), a case per point --------------------------- */

/* The model of a dtype, shared by its points: k layers that fit, built; a skip or error here is
 * one result per selected key (the group's skip_per_key). */
static int dtype_setup(ab_group *g, char *err)
{
    ab_tok_group *gd = g->data;
    ab_suite_ctx *ctx = ab_caselist_ctx(g->list);
    const ab_tok_plan *p = ab_caselist_plan(g->list);
    if (gd->k == 0) return ab_err(err, "%s", gd->why), AB_CASE_SKIP;
    int mrc = ab_tok_model_new(ctx->dev, &p->o.m, gd->wt, gd->impl, gd->k, &gd->mdl, err);
    if (mrc != 0) return mrc == AB_TOK_SKIP ? AB_CASE_SKIP : -1;
    /* the GEMM roof: measured right before each prefill point (tokens_point.c); decode points,
     * which run after them, use the last one; without prefill points, measured here */
    gd->rf.gemm = 0;
    *gd->rf.gemm_why = 0;
    if (!p->o.nprefill || !ab_suite_key_selected(ctx, "tokens.prefill"))
        ab_tok_measure_gemm(ctx->dev, &p->o.m, gd->wt, gd->pimpl, 2048, &gd->rf);
    return 0;
}

static void dtype_teardown(ab_group *g)
{
    ab_tok_group *gd = g->data;
    ab_tok_model_free(gd->mdl);
    gd->mdl = NULL;
}

static const ab_group_ops dtype_ops = {.setup = dtype_setup, .teardown = dtype_teardown};

/* What a point does, for a time budget's estimate (ab_case_work): the k layers and the head,
 * each sampled; before a prefill point the GEMM roof at its length; the validation runs a
 * layer once. */
static int point_work(ab_case *c, const ab_llm *m, const ab_tok_group *gd, bool prefill,
                      int batch, long len)
{
    if (gd->k < 1) return 0;
    ab_llm mk = *m;
    mk.layers = gd->k;
    double V = m->vocab, D = m->d_model, head = 2.0 * V * D, f, by;
    double hb = ab_tok_head_weight_bytes(m, gd->wt), lb = ab_tok_layer_weight_bytes(m, gd->wt);
    if (prefill) {
        f = ab_llm_prefill_flops(&mk, (int)len) - head, by = gd->k * lb;
    } else {
        f = ab_llm_decode_flops(&mk, batch, (int)len) - batch * head;
        by = gd->k * (lb + ab_tok_layer_cache_bytes(m, AB_TT_F32, batch, len + 1));
    }
    int rc = ab_case_work(c, f, by, true) || ab_case_work(c, batch * head, hb, true) ||
             ab_case_work(c, f / gd->k, by / gd->k, false);
    if (prefill) /* the roof: M = len, N = 2 ffn, K = d_model */
        rc = rc || ab_case_work(c, 2.0 * (double)len * 2.0 * m->ffn * D,
                                ((double)len * D + 2.0 * m->ffn * (D + (double)len)) *
                                    (double)ab_tok_type_size(gd->wt),
                                true);
    return rc;
}

static int add_point(ab_group *g, bool prefill, int impl, int batch, long len, char *err)
{
    const ab_tok_group *gd = g->data;
    const ab_llm *m = &((const ab_tok_plan *)ab_caselist_plan(g->list))->o.m;
    ab_case *c = ab_case_add(g, prefill ? "tokens.prefill" : "tokens.decode",
                             ab_tok_impl_name(impl), &ab_tok_point_ops, sizeof(ab_tok_point));
    if (!c) return ab_err(err, "out of memory");
    ab_tok_point *pt = c->data;
    pt->prefill = prefill, pt->impl = impl, pt->batch = batch, pt->len = len;
    ab_result *r = c->r;
    ab_result_param_str(r, "model", m->name);
    ab_result_param_str(r, "dtype", gd->wt == AB_TT_BF16 ? "bf16" : "f32");
    ab_result_param_int(r, "batch", batch);
    ab_result_param_int(r, prefill ? "input_len" : "context", len);
    ab_result_param_int(r, "layers", m->layers);
    ab_result_param_int(r, "layers_run", gd->k);
    return point_work(c, m, gd, prefill, batch, len) ? ab_err(err, "out of memory") : 0;
}

/* one dtype: its prefill points, then decode at each context over the batch sizes */
static int add_dtype(ab_caselist *l, const ab_tok_opts *p, ab_tok_type wt, char *err)
{
    const ab_suite_ctx *ctx = ab_caselist_ctx(l);
    const ab_device *d = ctx->dev;
    int pimpl = pick_impl(d, p, true, wt), dimpl = pick_impl(d, p, false, wt);
    int impl = p->nbatch && p->nctx ? dimpl : pimpl; /* sets the GEMM output type */
    ab_group *g = ab_group_add(l, NULL, ab_tok_impl_name(impl), &dtype_ops, sizeof(ab_tok_group));
    if (!g) return ab_err(err, "out of memory");
    g->skip_per_key = true;
    ab_tok_group *gd = g->data;
    gd->wt = wt, gd->impl = impl, gd->pimpl = pimpl;
    /* the KV type depends on the backend's attention; f32 is the upper bound for sizing */
    gd->k = layers_fit(d, p, wt, AB_TT_F32, ctx->opt->profile, gd->why);
    for (size_t i = 0; i < p->nprefill; i++)
        if (add_point(g, true, pimpl, 1, p->prefill[i], err) != 0) return -1;
    for (size_t j = 0; j < p->nctx; j++)
        for (size_t i = 0; i < p->nbatch; i++)
            if (add_point(g, false, dimpl, (int)p->batch[i], p->ctx[j], err) != 0) return -1;
    return 0;
}

static int tokens_generate(ab_caselist *l, char *err)
{
    ab_suite_ctx *ctx = ab_caselist_ctx(l);
    ab_tok_plan *p = ab_caselist_plan(l);
    char e[AB_ERRLEN];
    defaults(&p->o, ctx->dev, ctx->opt->profile);
    p->have_peaks = ab_peaks_load(NULL, &p->peaks, e) == 0;
    ab_tok_resolve_price(&p->o, ctx, &p->pr);
    ab_tok_resolve_carbon(&p->o, ctx, &p->cb);
    for (int di = 0; di < p->o.ndt; di++)
        if (add_dtype(l, &p->o, p->o.dt[di], err) != 0) return -1;
    return 0;
}

static int tokens_plan_init(const ab_options *o, void *plan, char *err)
{
    return plan_make(o, &((ab_tok_plan *)plan)->o, err);
}

static void tokens_plan_clear(void *plan)
{
    ab_tok_plan *p = plan;
    if (p->have_peaks) ab_peaks_free(&p->peaks);
}

static const ab_case_suite tokens_cases = {.plan_size = sizeof(ab_tok_plan),
                                           .plan_init = tokens_plan_init,
                                           .plan_clear = tokens_plan_clear,
                                           .generate = tokens_generate,
                                           .sampling = ab_tok_point_sampling};

extern const ab_suite_display ab_tokens_display; /* tokens_display.c */

const ab_suite ab_suite_tokens = {
    .name = "tokens",
    .summary = "LLM inference: prefill/decode tokens per second, per dollar and per joule, with "
               "a roofline",
    .keys = keys,
    .params = params,
    .run = ab_caserun,
    .cases = &tokens_cases,
    .display = &ab_tokens_display,
};

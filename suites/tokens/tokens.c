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
 */
#include "../../backends/registry.h"
#include "../../core/ab.h"
#include "../../core/peaks.h"
#include "../../core/prices.h"
#include "../../core/stats.h"
#include "../../probes/probe.h"
#include "../membw/membw.h"
#include "../suite.h"
#include "model.h"
#include "step.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    {NULL, NULL, NULL},
};

#define MAXL 32

typedef struct plan {
    ab_llm m;
    bool model_set;
    int layers_run; /* 0: auto */
    ab_tok_type dt[2];
    int ndt;
    int impl; /* -1: auto */
    long prefill[MAXL], batch[MAXL], ctx[MAXL];
    size_t nprefill, nbatch, nctx;
    double price; /* < 0: none given */
    const char *sheet;
    const char *shape; /* --model-shape, applied to the preset */
} plan;

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

static int plan_make(const ab_options *o, plan *p, char *err)
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
        ab_parse_long_list(v, "--prefill", 1, 1L << 20, true, p->prefill, MAXL, &p->nprefill,
                           err) != 0)
        return -1;
    if ((v = ab_opt_param(o, "batch")) &&
        ab_parse_long_list(v, "--batch", 1, 4096, true, p->batch, MAXL, &p->nbatch, err) != 0)
        return -1;
    if ((v = ab_opt_param(o, "context")) &&
        ab_parse_long_list(v, "--context", 1, 1L << 22, true, p->ctx, MAXL, &p->nctx, err) != 0)
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
    return 0;
}

static int tokens_check(const ab_options *o, char *err)
{
    plan p;
    return plan_make(o, &p, err);
}

/* ---- per device --------------------------------------------------------------------------- */

static bool is_gpu(const ab_device *d)
{
    return !d->info.host_memory;
}

/* Defaults by profile. Devices computing in host memory (CPU, PoCL) get shorter standard lists,
 * as in the attention suite, so the standard profile stays minutes there: an 8k prefill of
 * llama3-1b is ~20 TFLOP. */
static void defaults(plan *p, const ab_device *d, const char *profile)
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

typedef struct refs {
    double bw; /* B/s: the better of read and triad */
    char bw_what[128];
    double gemm; /* FLOP/s */
    char gemm_what[160];
    char bw_why[AB_ERRLEN], gemm_why[AB_ERRLEN];
} refs;

typedef struct mb_case {
    const ab_device *d;
    const ab_membw_impl *impl;
    ab_membw_args a;
} mb_case;

static int timed_membw(void *arg, long iters, double *sec, char *err)
{
    mb_case *c = arg;
    const ab_backend_ops *ops = c->d->backend->ops;
    if (ops->timer_start(c->d->h, err) || c->impl->run(c->d->h, &c->a, iters, err) ||
        ops->timer_stop(c->d->h, sec, err))
        return -1;
    return 0;
}

static ab_sampling ref_sampling(void)
{
    ab_sampling s;
    ab_sampling_profile("quick", &s);
    return s;
}

/* membw's read and triad (f32, its headline working set rule) on this device, now */
static void measure_bandwidth(const ab_device *d, refs *r)
{
    const ab_backend_ops *ops = d->backend->ops;
    const ab_membw_impl *impl = ab_device_impls(d)->membw;
    if (!impl) {
        snprintf(r->bw_why, sizeof(r->bw_why), "no membw kernels on %s", d->id);
        return;
    }
    uint64_t ws = ab_membw_headline_ws(d);
    char err[AB_ERRLEN];
    static const ab_membw_kernel ks[2] = {AB_MB_READ, AB_MB_TRIAD};
    static const char *names[2] = {"read", "triad"};
    for (int i = 0; i < 2; i++) {
        mb_case c = {.d = d, .impl = impl};
        size_t n = (size_t)(ws / ((ks[i] == AB_MB_READ ? 1u : 3u) * sizeof(float))) & ~(size_t)4095;
        c.a = (ab_membw_args){
            .kernel = ks[i], .f64 = false, .streaming = impl->has_streaming, .n = n};
        unsigned use = ab_membw_arrays(ks[i]);
        void **arr[3] = {&c.a.a, &c.a.b, &c.a.c};
        bool ok = true;
        for (int j = 0; j < 3; j++) {
            size_t bytes = (use >> j & 1u) ? n * sizeof(float) : 4096;
            ok = ok && ops->mem_alloc(d->h, bytes, arr[j], err) == 0;
        }
        c.a.npartial = impl->partials(d->h, &c.a);
        ok = ok && ops->mem_alloc(d->h, c.a.npartial * sizeof(float), &c.a.partial, err) == 0;
        ab_timing t = {0};
        ab_sampling s = ref_sampling();
        if (ok && impl->init(d->h, &c.a, err) == 0 &&
            ab_measure(&s, timed_membw, &c, &t, err) == 0 && t.n) {
            double bytes = (ks[i] == AB_MB_READ ? 1.0 : 3.0) * (double)n * sizeof(float);
            double bw = bytes / ab_median(t.per_iter, t.n);
            if (bw > r->bw) {
                r->bw = bw;
                snprintf(r->bw_what, sizeof(r->bw_what),
                         "membw %s%s, f32, %.0f MiB working set, median of %zu", names[i],
                         c.a.streaming && ks[i] == AB_MB_TRIAD ? " (streaming stores)" : "",
                         (double)ws / 1048576.0, t.n);
            }
        } else if (!*r->bw_why) {
            snprintf(r->bw_why, sizeof(r->bw_why), "membw %s: %s", names[i], err);
        }
        ab_timing_free(&t);
        for (int j = 0; j < 3; j++)
            if (*arr[j]) ops->mem_free(d->h, *arr[j]);
        if (c.a.partial) ops->mem_free(d->h, c.a.partial);
    }
    if (r->bw > 0) *r->bw_why = 0;
}

typedef struct gm_case {
    const ab_device *d;
    const ab_gemm_impl *gi;
    void *plan, *a, *b, *c;
} gm_case;

static int timed_gemm(void *arg, long iters, double *sec, char *err)
{
    gm_case *g = arg;
    const ab_backend_ops *ops = g->d->backend->ops;
    if (ops->timer_start(g->d->h, err)) return -1;
    for (long i = 0; i < iters; i++)
        if (g->gi->run(g->plan, g->a, g->b, g->c, err)) return -1;
    return ops->timer_stop(g->d->h, sec, err);
}

/* the model's gate/up projection at M tokens, with the decoder's own GEMM */
static void measure_gemm(const ab_device *d, const ab_llm *m, ab_tok_type wt, int impl, long M,
                         refs *r)
{
    const ab_backend_ops *ops = d->backend->ops;
    const ab_gemm_backend *gb = ab_device_impls(d)->gemm;
    char err[AB_ERRLEN] = "";
    if (!gb || !gb->impl[impl]) {
        snprintf(r->gemm_why, sizeof(r->gemm_why), "no GEMM on %s", d->id);
        return;
    }
    gm_case g = {.d = d, .gi = gb->impl[impl]};
    ab_gemm_type t = wt == AB_TT_BF16 ? AB_GT_BF16 : AB_GT_F32;
    ab_gemm_op op = {.a = t,
                     .b = t,
                     .c = t,
                     .tb = true,
                     .m = M,
                     .n = 2L * m->ffn,
                     .k = m->d_model,
                     .lda = m->d_model,
                     .ldb = m->d_model,
                     .ldc = 2L * m->ffn,
                     .batch = 1,
                     .alpha = 1.0,
                     .beta = 0.0};
    if (g.gi->dtype_ok(d->h, &op, err) != 0) {
        op.c = AB_GT_F32;
        err[0] = 0;
    }
    size_t es = ab_tok_type_size(wt);
    ab_timing tm = {0};
    ab_sampling s = ref_sampling();
    int rc = g.gi->supports(d->h, &op, err);
    if (rc == 0)
        rc = ops->mem_alloc(d->h, (size_t)M * m->d_model * es, &g.a, err) ||
             ops->mem_alloc(d->h, (size_t)op.n * m->d_model * es, &g.b, err) ||
             ops->mem_alloc(d->h, (size_t)M * op.n * ab_gemm_type_size(op.c), &g.c, err) ||
             gb->fill(d->h, g.a, t, (size_t)M * m->d_model, 11, err) ||
             gb->fill(d->h, g.b, t, (size_t)op.n * m->d_model, 12, err) ||
             g.gi->prepare(d->h, &op, &g.plan, err);
    if (rc == 0 && ab_measure(&s, timed_gemm, &g, &tm, err) == 0 && tm.n) {
        r->gemm = 2.0 * (double)M * (double)op.n * (double)op.k / ab_median(tm.per_iter, tm.n);
        snprintf(r->gemm_what, sizeof(r->gemm_what),
                 "%s GEMM %ldx%ldx%d (gate/up projection at M = %ld), %s, median of %zu",
                 g.gi->name, M, 2L * m->ffn, m->d_model, M, wt == AB_TT_BF16 ? "bf16" : "f32",
                 tm.n);
    } else {
        snprintf(r->gemm_why, sizeof(r->gemm_why), "GEMM reference: %s", err);
    }
    ab_timing_free(&tm);
    if (g.plan) g.gi->release(g.plan);
    void *bufs[3] = {g.a, g.b, g.c};
    for (int i = 0; i < 3; i++)
        if (bufs[i]) ops->mem_free(d->h, bufs[i]);
}

/* ---- price -------------------------------------------------------------------------------- */

typedef struct price {
    bool ok;
    double usd_per_hour;
    char source[512], date[32], why[AB_ERRLEN], matched[256];
} price;

static const char *manifest_str(const json_t *manifest, const char *obj, const char *key)
{
    json_t *v = ab_field_value(json_object_get(json_object_get(manifest, obj), key));
    return json_string_value(v);
}

static void resolve_price(const plan *p, const ab_suite_ctx *ctx, price *out)
{
    memset(out, 0, sizeof(*out));
    if (p->price > 0) {
        out->ok = true;
        out->usd_per_hour = p->price;
        snprintf(out->source, sizeof(out->source), "command line (--price-per-hour)");
        time_t now = time(NULL);
        struct tm tmv;
        gmtime_r(&now, &tmv);
        strftime(out->date, sizeof(out->date), "%Y-%m-%d", &tmv);
        return;
    }
    ab_prices ps;
    char err[AB_ERRLEN];
    if (ab_prices_load(p->sheet, &ps, err) != 0) {
        snprintf(out->why, sizeof(out->why), "%s", err);
        return;
    }
    const char *prov = manifest_str(ctx->manifest, "cloud", "provider");
    const char *inst = manifest_str(ctx->manifest, "cloud", "instance_type");
    ab_price pr;
    if (!prov || strcmp(prov, "none") == 0) {
        snprintf(out->why, sizeof(out->why),
                 "no cloud instance detected and no --price-per-hour given");
    } else if (ab_prices_lookup(&ps, prov, inst, ctx->dev->info.name, &pr, err) != 0) {
        snprintf(out->why, sizeof(out->why), "%s", err);
    } else {
        out->ok = true;
        out->usd_per_hour = pr.usd_per_device_hour;
        snprintf(out->source, sizeof(out->source), "%s (%s:%d: %s %s, %s)", pr.source, pr.file,
                 pr.line, pr.provider, pr.instance_type, pr.terms ? pr.terms : "");
        snprintf(out->date, sizeof(out->date), "%s", pr.date);
        snprintf(out->matched, sizeof(out->matched), "%s %s", pr.provider, pr.instance_type);
    }
    ab_prices_free(&ps);
}

/* ---- one point ---------------------------------------------------------------------------- */

typedef struct run_ctx {
    const ab_device *d;
    ab_tok_phase *ph;
    bool head;
} run_ctx;

static int timed_phase(void *arg, long iters, double *sec, char *err)
{
    run_ctx *c = arg;
    const ab_backend_ops *ops = c->d->backend->ops;
    if (ops->timer_start(c->d->h, err)) return -1;
    for (long i = 0; i < iters; i++)
        if ((c->head ? ab_tok_phase_head(c->ph, err) : ab_tok_phase_layers(c->ph, err)) != 0)
            return -1;
    return ops->timer_stop(c->d->h, sec, err);
}

typedef struct dev_state {
    plan p;
    refs rf;
    price pr;
    ab_peaks peaks;
    bool have_peaks;
} dev_state;

static ab_sampling point_sampling(const ab_options *o)
{
    ab_sampling s = o->sampling;
    if (s.samples > 5 && strcmp(o->profile, "full") != 0)
        s.samples = 5; /* a step is long; the spread is small against it */
    return s;
}

/* len: the prompt length of a prefill point (input_len; 1 is allowed), the cache length of a
 * decode point (context) */
static void set_params(ab_result *r, const ab_llm *m, ab_tok_type wt, int k, int batch,
                       bool prefill, long len)
{
    ab_result_param_str(r, "model", m->name);
    ab_result_param_str(r, "dtype", wt == AB_TT_BF16 ? "bf16" : "f32");
    ab_result_param_int(r, "batch", batch);
    ab_result_param_int(r, prefill ? "input_len" : "context", len);
    ab_result_param_int(r, "layers", m->layers);
    ab_result_param_int(r, "layers_run", k);
}

static int run_point(ab_suite_ctx *ctx, dev_state *st, ab_tok_model *mdl, ab_tok_type wt, int impl,
                     bool prefill, int batch, long len)
{
    const ab_device *d = ctx->dev;
    const plan *p = &st->p;
    const ab_llm *m = &p->m;
    int k = ab_tok_model_layers_run(mdl);
    const char *key = prefill ? "tokens.prefill" : "tokens.decode";
    if (!ab_suite_key_selected(ctx, key)) return 0;
    ab_result *r = ab_suite_result(ctx, key, impl == AB_GEMM_VENDOR ? "vendor" : "portable");
    if (!r) return -1;
    double t_start = ab_now();
    set_params(r, m, wt, k, batch, prefill, len);
    r->extra = json_object();
    json_object_set_new(r->extra, "scaling",
                        json_sprintf("measured %d of %d layers; step = %d/%d x (%d layers) + "
                                     "final norm and LM head",
                                     k, m->layers, m->layers, k, k));
    char err[AB_ERRLEN] = "";
    ab_tok_phase *ph = NULL;
    int rc = prefill ? ab_tok_phase_new(mdl, impl, 1, (int)len, 0, len, &ph, err)
                     : ab_tok_phase_new(mdl, impl, batch, 1, len, len + 1, &ph, err);
    ab_timing tl = {0}, th = {0};
    double *tpot = NULL, *tps = NULL, *tpu = NULL;
    if (rc != 0) {
        ab_result_set_status(r, rc == AB_TOK_SKIP ? AB_SKIP : AB_ERROR, "%s", err);
        goto out;
    }
    json_object_set_new(r->extra, "kernels", ab_tok_phase_describe(ph));
    /* the bandwidth roof, measured right before the point: on a shared machine the memory
     * system's share drifts within minutes, and the roofline must describe the same moment */
    st->rf.bw = 0;
    *st->rf.bw_why = 0;
    measure_bandwidth(d, &st->rf);
    if (prefill) { /* the compute roof likewise, at this point's own length */
        st->rf.gemm = 0;
        *st->rf.gemm_why = 0;
        measure_gemm(d, m, wt, impl, len, &st->rf);
    }
    run_ctx rl = {.d = d, .ph = ph, .head = false}, rh = {.d = d, .ph = ph, .head = true};
    ab_sampling s = point_sampling(ctx->opt);
    double w0 = ab_now();
    if (ab_measure(&s, timed_phase, &rl, &tl, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        goto out;
    }
    double w1 = ab_now();
    if (tl.n == 0 || ab_measure(&s, timed_phase, &rh, &th, err) != 0 || th.n == 0) {
        ab_result_set_status(r, tl.n == 0 || th.n == 0 ? AB_SKIP : AB_ERROR, "%s",
                             *err ? err : "interrupted before the first sample");
        goto out;
    }
    r->warmup_runs = tl.warmup_runs;
    r->iters_per_sample = tl.iters;
    double head = ab_median(th.per_iter, th.n), scale = (double)m->layers / k;
    long tokens = prefill ? len : batch;
    tpot = malloc(tl.n * sizeof(double));
    tps = malloc(tl.n * sizeof(double));
    tpu = malloc(tl.n * sizeof(double));
    if (!tpot || !tps || !tpu) {
        ab_result_set_status(r, AB_ERROR, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < tl.n; i++) {
        tpot[i] = scale * tl.per_iter[i] + head;
        tps[i] = (double)tokens / tpot[i];
        tpu[i] = 1.0 / tpot[i];
    }
    const char *tf = prefill ? "input tokens / TTFT" : "batch / TPOT";
    const char *lf = "L/k x (k layers, one sample) + median(final norm + LM head)";
    bool ok = ab_result_add_metric(r, "tokens_per_s", "tokens/s", true, tf, tps, tl.n) &&
              ab_result_add_metric(r, prefill ? "ttft" : "tpot", "s", false, lf, tpot, tl.n);
    if (ok && !prefill)
        ok = ab_result_add_metric(r, "tokens_per_s_per_user", "tokens/s", true, "1 / TPOT", tpu,
                                  tl.n) != NULL;
    if (!ok) {
        ab_result_set_status(r, AB_ERROR, "out of memory");
        goto out;
    }
    double step = ab_result_metric(r, prefill ? "ttft" : "tpot")->stats.median;
    double tok_s = (double)tokens / step;
    json_t *tm = json_object();
    json_object_set_new(tm, "layers_s", json_real(ab_median(tl.per_iter, tl.n)));
    json_object_set_new(tm, "head_s", json_real(head));
    json_object_set_new(tm, "layer_samples", json_integer((json_int_t)tl.n));
    json_object_set_new(r->extra, "timing", tm);

    /* roofline: same-run measurements and the datasheet */
    double wb = (double)ab_tok_type_size(wt),
           kb = (double)ab_tok_type_size(ab_tok_model_kv_type(mdl));
    double bytes, flops;
    if (prefill) {
        flops = ab_llm_prefill_flops(m, (int)len);
        bytes = (double)ab_llm_params(m) * wb + ab_llm_kv_bytes(m, 1, (int)len, kb);
    } else {
        flops = ab_llm_decode_flops(m, batch, (int)len);
        bytes = ab_llm_decode_bytes(m, batch, (int)len, wb, kb);
    }
    json_t *rf = json_object();
    json_object_set_new(rf, "bytes_per_step", json_real(bytes));
    json_object_set_new(rf, "flop_per_step", json_real(flops));
    json_object_set_new(rf, "formula",
                        json_string("speed of light: decode = tokens x bandwidth / bytes per step, "
                                    "prefill = tokens x GEMM rate / FLOPs per step; fraction = "
                                    "achieved tokens/s / speed of light"));
    for (int which = 0; which < 2; which++) {
        double bw, fl;
        const char *bw_src, *fl_src;
        char why[AB_ERRLEN * 2] = "";
        if (which == 0) {
            bw = st->rf.bw, fl = st->rf.gemm;
            bw_src = st->rf.bw_what, fl_src = st->rf.gemm_what;
            if (!(bw > 0))
                snprintf(why, sizeof(why), "%s", st->rf.bw_why);
            else if (!(fl > 0))
                snprintf(why, sizeof(why), "%s", st->rf.gemm_why);
        } else {
            int row = -1;
            const char *col = NULL;
            bw = st->have_peaks ? ab_peaks_for(&st->peaks, d->info.name, "B/s", NULL, &row, NULL)
                                : NAN;
            fl = st->have_peaks ? ab_peaks_for(&st->peaks, d->info.name, "FLOP/s",
                                               wt == AB_TT_BF16 ? "bf16" : "f32", &row, &col)
                                : NAN;
            bw_src = row >= 0 ? ab_peaks_str(&st->peaks, row, "source") : "";
            fl_src = col ? col : "";
            if (!(bw > 0) || !(fl > 0))
                snprintf(why, sizeof(why), "no datasheet %s for '%s' in data/accelerator-peaks.csv",
                         !(bw > 0) ? "bandwidth" : "FLOP rate", d->info.name);
        }
        json_t *o = json_object();
        if (*why) {
            json_object_set_new(o, "status", json_string("unavailable"));
            json_object_set_new(o, "reason", json_string(why));
        } else {
            /* the definition: decode is bounded by bandwidth, prefill by the GEMM rate;
             * the other bound is recorded beside it (large batches turn decode compute-bound) */
            double tb = bytes / bw, tf_ = flops / fl;
            double sol = tokens / (prefill ? tf_ : tb);
            json_object_set_new(o, "bandwidth_Bps", json_real(bw));
            json_object_set_new(o, "bandwidth_source", json_string(bw_src));
            json_object_set_new(o, "gemm_flops", json_real(fl));
            json_object_set_new(o, "gemm_source", json_string(fl_src));
            json_object_set_new(o, "memory_sol_tokens_per_s", json_real(tokens / tb));
            json_object_set_new(o, "compute_sol_tokens_per_s", json_real(tokens / tf_));
            json_object_set_new(o, "roof", json_string(prefill ? "compute" : "memory"));
            json_object_set_new(o, "tighter_roof", json_string(tb > tf_ ? "memory" : "compute"));
            json_object_set_new(o, "sol_tokens_per_s", json_real(sol));
            json_object_set_new(o, "fraction", json_real(tok_s / sol));
        }
        json_object_set_new(rf, which == 0 ? "measured" : "datasheet", o);
    }
    json_object_set_new(r->extra, "roofline", rf);

    /* cost */
    json_t *cost = json_object();
    if (st->pr.ok) {
        json_object_set_new(cost, "usd_per_hour", json_real(st->pr.usd_per_hour));
        json_object_set_new(cost, "source", json_string(st->pr.source));
        json_object_set_new(cost, "date", json_string(st->pr.date));
        if (*st->pr.matched) json_object_set_new(cost, "matched", json_string(st->pr.matched));
        double tpd = tok_s * 3600.0 / st->pr.usd_per_hour;
        json_object_set_new(cost, "tokens_per_usd", json_real(tpd));
        json_object_set_new(cost, "usd_per_mtok", json_real(1e6 / tpd));
        json_object_set_new(cost, "formula",
                            json_string("tokens per $ = tokens/s x 3600 / ($ per device-hour)"));
    } else {
        json_object_set_new(cost, "status", json_string("unavailable"));
        json_object_set_new(cost, "reason", json_string(st->pr.why));
    }
    json_object_set_new(r->extra, "cost", cost);

    /* energy over the layers' measurement window */
    json_t *en = json_object();
    double joules = 0;
    char what[96] = "", ewhy[AB_ERRLEN] = "";
    if (ctx->energy && ctx->energy(ctx, w0, w1, &joules, what, ewhy) == 0 && w1 > w0) {
        double watts = joules / (w1 - w0), tpj = tok_s / watts;
        json_object_set_new(en, "mean_power_w", json_real(watts));
        json_object_set_new(en, "window_s", json_real(w1 - w0));
        json_object_set_new(en, "source", json_string(what));
        json_object_set_new(en, "tokens_per_j", json_real(tpj));
        json_object_set_new(en, "tokens_per_kwh", json_real(tpj * 3.6e6));
        json_object_set_new(en, "formula",
                            json_string("tokens per J = tokens/s / mean power over the layers' "
                                        "measurement window"));
    } else {
        json_object_set_new(en, "status", json_string("unavailable"));
        json_object_set_new(en, "reason",
                            json_string(*ewhy ? ewhy : "the runner samples no energy here"));
    }
    json_object_set_new(r->extra, "energy", en);

    /* validation */
    if (ctx->opt->corrupt && strcmp(ctx->opt->corrupt, key) == 0 &&
        ab_tok_model_corrupt(mdl, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        goto out;
    }
    bool vok = false;
    json_t *v = ab_tok_phase_validate(ph, &vok, err);
    if (!v) {
        ab_result_set_status(r, AB_ERROR, "validation: %s", err);
        goto out;
    }
    json_object_set_new(r->extra, "validation", v);
    if (!vok)
        ab_result_set_status(
            r, AB_FAIL,
            "output differs from the fp64 reference (attention block %.2g, MLP %.2g, "
            "logits %.2g; tolerance %.2g)",
            json_real_value(json_object_get(v, "attention_block")),
            json_real_value(json_object_get(v, "mlp_output")),
            json_real_value(json_object_get(v, "logits_16_columns")),
            json_real_value(json_object_get(v, "tolerance")));
out:
    free(tpot), free(tps), free(tpu);
    ab_timing_free(&tl);
    ab_timing_free(&th);
    if (ph) ab_tok_phase_free(ph);
    r->time_spent = ab_now() - t_start;
    return ab_emit(ctx, r);
}

/* layers that fit: weights + the largest cache of any point, within the memory budget */
static int layers_fit(const ab_device *d, const plan *p, ab_tok_type wt, ab_tok_type kt,
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

static int skip_all(ab_suite_ctx *ctx, const char *impl, ab_status st, const char *why)
{
    for (size_t i = 0; keys[i]; i++) {
        if (!ab_suite_key_selected(ctx, keys[i])) continue;
        ab_result *r = ab_suite_result(ctx, keys[i], impl);
        if (!r) return -1;
        ab_result_set_status(r, st, "%s", why);
        if (ab_emit(ctx, r) != 0) return -1;
    }
    return 0;
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
static int pick_impl(const ab_device *d, const plan *p, bool prefill, ab_tok_type wt)
{
    const ab_gemm_backend *gb = ab_device_impls(d)->gemm;
    if (p->impl >= 0) return p->impl;
    if (!impl_can(gb, AB_GEMM_VENDOR, d->h, wt)) return AB_GEMM_PORTABLE;
    if (!prefill && d->info.kind == AB_KIND_HOST && gb->impl[AB_GEMM_PORTABLE])
        return AB_GEMM_PORTABLE;
    return AB_GEMM_VENDOR;
}

static int tokens_run(ab_suite_ctx *ctx)
{
    dev_state *st = calloc(1, sizeof(*st));
    if (!st) return -1;
    char err[AB_ERRLEN];
    int rc = 0;
    if (plan_make(ctx->opt, &st->p, err) != 0) { /* checked before the run: cannot happen */
        free(st);
        return skip_all(ctx, "none", AB_ERROR, err);
    }
    const ab_device *d = ctx->dev;
    defaults(&st->p, d, ctx->opt->profile);
    st->have_peaks = ab_peaks_load(NULL, &st->peaks, err) == 0;
    resolve_price(&st->p, ctx, &st->pr);
    for (int di = 0; di < st->p.ndt && rc == 0 && !ab_interrupted(); di++) {
        ab_tok_type wt = st->p.dt[di];
        ab_tok_model *mdl = NULL;
        int pimpl = pick_impl(d, &st->p, true, wt), dimpl = pick_impl(d, &st->p, false, wt);
        int impl = st->p.nbatch && st->p.nctx ? dimpl : pimpl; /* sets the GEMM output type */
        const char *iname = impl == AB_GEMM_VENDOR ? "vendor" : "portable";
        /* the KV type depends on the backend's attention; f32 is the upper bound for sizing */
        int k = layers_fit(d, &st->p, wt, AB_TT_F32, ctx->opt->profile, err);
        if (k == 0) {
            rc = skip_all(ctx, iname, AB_SKIP, err);
            continue;
        }
        int mrc = ab_tok_model_new(d, &st->p.m, wt, impl, k, &mdl, err);
        if (mrc != 0) {
            rc = skip_all(ctx, iname, mrc == AB_TOK_SKIP ? AB_SKIP : AB_ERROR, err);
            continue;
        }
        /* the GEMM roof: measured right before each prefill point (run_point); decode points,
         * which run after them, use the last one; without prefill points, measured here */
        st->rf.gemm = 0;
        *st->rf.gemm_why = 0;
        if (!st->p.nprefill || !ab_suite_key_selected(ctx, "tokens.prefill"))
            measure_gemm(d, &st->p.m, wt, pimpl, 2048, &st->rf);
        for (size_t i = 0; i < st->p.nprefill && rc == 0 && !ab_interrupted(); i++)
            rc = run_point(ctx, st, mdl, wt, pimpl, true, 1, st->p.prefill[i]);
        for (size_t j = 0; j < st->p.nctx && rc == 0; j++)
            for (size_t i = 0; i < st->p.nbatch && rc == 0 && !ab_interrupted(); i++)
                rc = run_point(ctx, st, mdl, wt, dimpl, false, (int)st->p.batch[i], st->p.ctx[j]);
        ab_tok_model_free(mdl);
    }
    if (st->have_peaks) ab_peaks_free(&st->peaks);
    free(st);
    return rc;
}


extern const ab_suite_display ab_tokens_display; /* tokens_display.c */

const ab_suite ab_suite_tokens = {
    .name = "tokens",
    .summary = "LLM inference: prefill/decode tokens per second, per dollar and per joule, with "
               "a roofline",
    .keys = keys,
    .params = params,
    .check = tokens_check,
    .run = tokens_run,
    .display = &ab_tokens_display,
};

/* SPDX-License-Identifier: MIT */
/*
 * attention suite descriptor: parameters, the plan (presets, profiles, command-line overrides)
 * and the shape sweep generated from it for the runner loop (suites/case.h), which samples,
 * validates, marks headlines and emits. The cases (inputs, one implementation each) are in
 * attention_cases.c, the validation against an fp64 reference and the naive path in
 * attention_check.c; backend kernels behind ab_attn_impl (attention.h).
 */
#include "attention_cases.h"

#include "../tokens/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const keys[] = {"attention.prefill", "attention.decode", NULL};

static const ab_param_desc params[] = {
    {"dtype", "LIST", "element types: f32, bf16, f16 (default f32 on CPU/OpenCL, bf16 on GPUs)"},
    {"preset", "NAME",
     "model shape: llama3-8b (32 query heads, 8 KV heads, d 128; the default), llama3-70b "
     "(64/8/128), or any other model preset"},
    {"batch", "LIST", "sequences per call (default: prefill 1, decode by profile)"},
    {"heads", "N", "query heads (default from --preset)"},
    {"kv-heads", "N", "KV heads, dividing --heads (default from --preset)"},
    {"head-dim", "LIST", "head dimension, 8..256, a multiple of 8 (default from --preset)"},
    {"seq", "LIST", "prefill sequence lengths; 2k = 2048 (default by profile)"},
    {"kv-len", "LIST", "decode KV-cache lengths; 32k = 32768 (default by profile)"},
    {"causal", "WHICH", "prefill mask: yes, no or both (default both)"},
    {"impl", "LIST", "naive, fused, vendor (default all three)"},
    {NULL, NULL, NULL},
};

/* Shapes come from the model presets the tokens suite uses (suites/tokens/model.h), so one
 * --preset means the same model to every suite. */
#define DEFAULT_PRESET "llama3-8b"

#define MAXL 16

typedef struct plan {
    bool dt[AB_ATTN_NDTYPES];
    bool dt_given;      /* --dtype named at least one type attention knows */
    bool dt_none;       /* --dtype given, but none attention knows */
    const char *preset;
    int heads, kv_heads;
    int hd[MAXL];
    size_t nhd;
    long batch[MAXL], seq[MAXL], kv[MAXL];
    size_t nbatch, nseq, nkv; /* 0: by profile */
    bool causal[2];           /* [0] no, [1] yes */
    bool impl[AB_ATTN_NKINDS];
} plan;

/* --name LIST, absent: *n = 0 (the profile decides) */
static int parse_long_list(const ab_options *o, const char *name, long lo, long hi, bool tokens,
                           long *out, size_t *n, char *err)
{
    const char *v = ab_opt_param(o, name);
    *n = 0;
    if (!v)
        return 0;
    char what[64];
    snprintf(what, sizeof(what), "--%s", name);
    return ab_parse_long_list(v, what, lo, hi, tokens, out, MAXL, n, err);
}


static int parse_dtypes(const ab_options *o, plan *p, char *err)
{
    const char *dt = ab_opt_param(o, "dtype");
    if (!dt)
        return 0;
    bool picked[AB_DT_COUNT] = {false};
    if (ab_dtype_list(dt, picked, err) != 0)
        return -1;
    /* the other names (f64, tf32, fp8, i8) belong to other suites */
    p->dt[AB_ATTN_F32] = picked[AB_DT_F32];
    p->dt[AB_ATTN_BF16] = picked[AB_DT_BF16];
    p->dt[AB_ATTN_F16] = picked[AB_DT_F16];
    p->dt_given = picked[AB_DT_F32] || picked[AB_DT_BF16] || picked[AB_DT_F16];
    p->dt_none = !p->dt_given;
    return 0;
}

/* the model's heads, KV heads and head dimensions, as overridden */
static int parse_model(const ab_options *o, plan *p, char *err)
{
    p->preset = ab_opt_param(o, "preset");
    if (!p->preset)
        p->preset = DEFAULT_PRESET;
    ab_llm model;
    if (ab_llm_preset(p->preset, &model) != 0)
        return ab_err(err, "--preset: unknown model '%s' (%s)", p->preset,
                      ab_llm_preset_names());
    p->heads = model.heads;
    p->kv_heads = model.kv_heads;
    long x;
    const char *v;
    if ((v = ab_opt_param(o, "heads"))) {
        if (ab_parse_long(v, "--heads", 1, 4096, &x, err) != 0)
            return -1;
        p->heads = (int)x;
    }
    if ((v = ab_opt_param(o, "kv-heads"))) {
        if (ab_parse_long(v, "--kv-heads", 1, 4096, &x, err) != 0)
            return -1;
        p->kv_heads = (int)x;
    } else if (ab_opt_param(o, "heads") && p->heads % p->kv_heads != 0) {
        /* --heads alone with a preset's KV heads that do not divide it: plain multi-head */
        p->kv_heads = p->heads;
    }
    if (p->heads % p->kv_heads != 0)
        return ab_err(err, "--heads %d is not a multiple of --kv-heads %d (each KV head serves "
                           "heads/kv-heads query heads)",
                      p->heads, p->kv_heads);
    long tmp[MAXL];
    if (parse_long_list(o, "head-dim", 8, 256, false, tmp, &p->nhd, err) != 0)
        return -1;
    for (size_t i = 0; i < p->nhd; i++) {
        if (tmp[i] % 8 != 0)
            return ab_err(err, "--head-dim: %ld is not a multiple of 8", tmp[i]);
        p->hd[i] = (int)tmp[i];
    }
    if (!p->nhd) {
        /* the model's head dimension; the full profile adds 64 (the other common size)
         * when the model's is not 64 */
        p->hd[p->nhd++] = model.head_dim;
        if (strcmp(o->profile, "full") == 0 && model.head_dim != 64 &&
            !ab_opt_param(o, "preset"))
            p->hd[p->nhd++] = 64;
    }
    return 0;
}

static int parse_causal(const ab_options *o, plan *p, char *err)
{
    const char *c = ab_opt_param(o, "causal");
    if (!c || strcmp(c, "both") == 0) {
        p->causal[0] = p->causal[1] = true;
    } else if (strcmp(c, "yes") == 0 || strcmp(c, "true") == 0 || strcmp(c, "1") == 0) {
        p->causal[1] = true;
    } else if (strcmp(c, "no") == 0 || strcmp(c, "false") == 0 || strcmp(c, "0") == 0) {
        p->causal[0] = true;
    } else {
        return ab_err(err, "--causal: '%s' is not yes, no or both", c);
    }
    return 0;
}

static int parse_impls(const ab_options *o, plan *p, char *err)
{
    const char *im = ab_opt_param(o, "impl");
    if (!im) {
        for (int k = 0; k < AB_ATTN_NKINDS; k++)
            p->impl[k] = true;
        return 0;
    }
    static const char *const names[AB_ATTN_NKINDS] = {"naive", "fused", "vendor"};
    char **items = ab_split_list(im, err);
    if (!items)
        return -1;
    for (size_t i = 0; items[i]; i++) {
        int k = 0;
        while (k < AB_ATTN_NKINDS && strcmp(items[i], names[k]) != 0)
            k++;
        if (k == AB_ATTN_NKINDS) {
            ab_err(err, "--impl: unknown implementation '%s' (naive, fused, vendor)", items[i]);
            ab_strv_free(items);
            return -1;
        }
        p->impl[k] = true;
    }
    ab_strv_free(items);
    return 0;
}

static int plan_make(const ab_options *o, plan *p, char *err)
{
    memset(p, 0, sizeof(*p));
    if (parse_dtypes(o, p, err) != 0 || parse_model(o, p, err) != 0)
        return -1;
    if (parse_long_list(o, "batch", 1, 65536, false, p->batch, &p->nbatch, err) != 0 ||
        parse_long_list(o, "seq", 1, 1L << 31, true, p->seq, &p->nseq, err) != 0 ||
        parse_long_list(o, "kv-len", 1, 1L << 31, true, p->kv, &p->nkv, err) != 0)
        return -1;
    return parse_causal(o, p, err) != 0 || parse_impls(o, p, err) != 0 ? -1 : 0;
}

static int attention_plan_init(const ab_options *o, void *p, char *err)
{
    return plan_make(o, p, err);
}

/* Default lengths by profile; devices computing in host memory (CPU, PoCL) get the shorter lists
 * so the standard profile stays minutes, not hours, there. */
static void profile_lists(const char *profile, bool host, plan *p)
{
    bool quick = strcmp(profile, "quick") == 0, full = strcmp(profile, "full") == 0;
    if (!p->nseq) {
        static const long q[] = {512}, sh[] = {512, 2048}, sg[] = {512, 2048, 8192},
                          fh[] = {512, 2048, 8192}, fg[] = {512, 2048, 8192, 32768};
        const long *src = quick ? q : full ? (host ? fh : fg) : (host ? sh : sg);
        p->nseq = quick ? 1 : full ? (host ? 3 : 4) : (host ? 2 : 3);
        memcpy(p->seq, src, p->nseq * sizeof(long));
    }
    if (!p->nkv) {
        static const long q[] = {1024}, s[] = {1024, 8192, 32768},
                          f[] = {1024, 8192, 32768, 131072};
        const long *src = quick ? q : full ? f : s;
        p->nkv = quick ? 1 : full ? 4 : 3;
        memcpy(p->kv, src, p->nkv * sizeof(long));
    }
}

static size_t decode_batches(const plan *p, const char *profile, bool host, long *out)
{
    if (p->nbatch) {
        memcpy(out, p->batch, p->nbatch * sizeof(long));
        return p->nbatch;
    }
    static const long q[] = {1}, sh[] = {1, 16}, sg[] = {1, 16, 64}, fh[] = {1, 16, 64},
                      fg[] = {1, 16, 64, 256};
    bool quick = strcmp(profile, "quick") == 0, full = strcmp(profile, "full") == 0;
    const long *src = quick ? q : full ? (host ? fh : fg) : (host ? sh : sg);
    size_t n = quick ? 1 : full ? (host ? 3 : 4) : (host ? 2 : 3);
    memcpy(out, src, n * sizeof(long));
    return n;
}

/* The sampling used for attention: every sample is one call (so p50/p90/p99 are per-call
 * latencies, not batch averages), and, unless --repeat changed it, more samples than the
 * profile's default so the upper percentiles rest on data; the profile's cap on sampling time
 * still bounds long cases. */
static void attention_sampling(const ab_options *o, ab_sampling *s)
{
    ab_sampling def;
    s->max_iters = 1;
    if (ab_sampling_profile(o->profile, &def) == 0 && s->samples == def.samples)
        s->samples = strcmp(o->profile, "quick") == 0 ? 10
                     : strcmp(o->profile, "full") == 0 ? 100
                                                       : 30;
}

static long longest(const long *v, size_t n)
{
    long m = 0;
    for (size_t i = 0; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* One dtype and head dimension: prefill over batch x seq x mask (causal first), then decode
 * over batch x cache length. Headlines: fused prefill at the longest sequence (causal when run:
 * what a decoder model does) for the first batch; fused decode at the longest cache for the
 * first batch. */
static int add_shapes(ab_caselist *l, const plan *p, ab_attn_dtype t, int head_dim)
{
    const ab_suite_ctx *ctx = ab_caselist_ctx(l);
    bool host = ctx->dev->info.host_memory;
    long dbatch[MAXL], pbatch[MAXL] = {1};
    size_t ndb = decode_batches(p, ctx->opt->profile, host, dbatch);
    size_t npb = p->nbatch ? p->nbatch : 1;
    if (p->nbatch)
        memcpy(pbatch, p->batch, p->nbatch * sizeof(long));
    long seq_max = longest(p->seq, p->nseq), kv_max = longest(p->kv, p->nkv);
    ab_attn_shape s = {.heads = p->heads, .kv_heads = p->kv_heads, .head_dim = head_dim};
    s.scale = 1.0f / sqrtf((float)s.head_dim);
    for (size_t bi = 0; bi < npb; bi++)
        for (size_t si = 0; si < p->nseq; si++)
            for (int cz = 1; cz >= 0; cz--) {
                if (!p->causal[cz])
                    continue;
                s.batch = (int)pbatch[bi];
                s.q_len = s.kv_len = p->seq[si];
                s.causal = cz == 1;
                bool hl = bi == 0 && p->seq[si] == seq_max && (cz == 1 || !p->causal[1]);
                if (ab_attn_add_group(l, &s, t, false, p->impl, hl) != 0)
                    return -1;
            }
    for (size_t bi = 0; bi < ndb; bi++)
        for (size_t ki = 0; ki < p->nkv; ki++) {
            s.batch = (int)dbatch[bi];
            s.q_len = 1;
            s.kv_len = p->kv[ki];
            s.causal = false;
            if (ab_attn_add_group(l, &s, t, true, p->impl, bi == 0 && p->kv[ki] == kv_max) != 0)
                return -1;
        }
    return 0;
}

static int attention_generate(ab_caselist *l, char *err)
{
    const ab_suite_ctx *ctx = ab_caselist_ctx(l);
    plan p = *(const plan *)ab_caselist_plan(l);
    if (p.dt_none)
        return ab_caselist_suite_result(
            l, AB_SKIP, "no requested --dtype applies to attention (f32, bf16, f16)");
    if (!p.dt_given) /* f32 where the kernels compute in f32 (CPU, OpenCL); bf16 on GPUs */
        p.dt[ab_attn_f32_default(ctx->dev) ? AB_ATTN_F32 : AB_ATTN_BF16] = true;
    profile_lists(ctx->opt->profile, ctx->dev->info.host_memory, &p);
    for (int t = 0; t < AB_ATTN_NDTYPES; t++)
        for (size_t hi = 0; p.dt[t] && hi < p.nhd; hi++)
            if (add_shapes(l, &p, (ab_attn_dtype)t, p.hd[hi]) != 0)
                return ab_err(err, "out of memory");
    return 0;
}

static const void *attention_impl(const ab_device *d)
{
    return ab_device_impls(d)->attention;
}

static const ab_case_suite attention_cases = {
    .impl = attention_impl,
    .plan_size = sizeof(plan),
    .plan_init = attention_plan_init,
    .generate = attention_generate,
    .sampling = attention_sampling,
};

/* prefill latency over the sequence length, decode over the KV-cache length and the batch */
static const ab_sweep_decl sweeps[] = {
    {"attention.prefill", "seq", false},
    {"attention.decode", "kv_len", false},
    {"attention.decode", "batch", false},
    {NULL, NULL, false},
};

static const ab_suite_display attention_display = {.sweeps = sweeps};

const ab_suite ab_suite_attention = {
    .name = "attention",
    .summary = "attention prefill and decode latency: naive, fused (flash-style), vendor",
    .keys = keys,
    .params = params,
    .run = ab_caserun,
    .cases = &attention_cases,
    .display = &attention_display,
};

/* SPDX-License-Identifier: MIT */
/*
 * attention's cases for the runner loop (suites/case.h): a group per (dtype, shape) owns the
 * inputs Q, K, V (filled once on the device), the fp64 reference (computed at the first
 * validation) and the naive path's output when it passed; a case per implementation (naive,
 * fused, vendor) owns its output and workspace, runs one call per iteration and is validated
 * against the reference and, for every element, the naive output.
 */
#include "attention_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const kind_names[AB_ATTN_NKINDS] = {"naive", "fused", "vendor"};

typedef struct agroup {
    ab_attn_shape s;
    ab_attn_dtype t;
    void *q, *k, *v;
    ab_attn_ref ref;
    bool ref_done;
    float *naive_out; /* host copy of the naive path's output when it passed */
    void *host;       /* host staging for outputs of devices not computing in host memory */
} agroup;

typedef struct acase {
    ab_attn_kind kind;
    ab_attn_args args;
    bool prepared;
} acase;

static const ab_backend_ops *dev_ops(const ab_device *d)
{
    return d->backend->ops;
}

/* ---- the group: inputs ---- */

static void group_teardown(ab_group *g)
{
    agroup *ag = g->data;
    const ab_device *dev = ab_caselist_ctx(g->list)->dev;
    void *bufs[3] = {ag->q, ag->k, ag->v};
    for (int i = 0; i < 3; i++)
        if (bufs[i])
            dev_ops(dev)->mem_free(dev->h, bufs[i]);
    ag->q = ag->k = ag->v = NULL;
    ab_attn_ref_free(&ag->ref);
    free(ag->naive_out);
    free(ag->host);
    ag->naive_out = NULL;
    ag->host = NULL;
}

/* Q, K, V (and one output) must fit; a skip for every selected implementation otherwise. A
 * failure to fill them is one error result for the group (impl "none"). */
static int group_setup(ab_group *g, char *err)
{
    agroup *ag = g->data;
    const ab_device *dev = ab_caselist_ctx(g->list)->dev;
    const ab_attn_impl *impl = ab_caselist_impl(g->list);
    const ab_attn_shape *s = &ag->s;
    size_t es = ab_attn_dtype_size(ag->t), nq = ab_attn_q_elems(s), nkv = ab_attn_kv_elems(s);
    size_t qb = nq * es, kvb = nkv * es;
    double inputs = (double)qb * 2 + 2.0 * (double)kvb; /* Q, K, V and one output */
    uint64_t mem = dev->info.mem_bytes;
    double limit = dev->info.host_memory ? 0.5 * (double)mem : 0.9 * (double)mem;
    char why[AB_ERRLEN] = "";
    if (mem && inputs > limit) {
        snprintf(err, AB_ERRLEN, "Q, K, V and O need %.1f GiB of %.1f GiB %s memory",
                 inputs / 1073741824.0, (double)mem / 1073741824.0,
                 dev->info.host_memory ? "host" : "device");
        return AB_CASE_SKIP;
    }
    if (dev_ops(dev)->mem_alloc(dev->h, qb, &ag->q, why) ||
        dev_ops(dev)->mem_alloc(dev->h, kvb, &ag->k, why) ||
        dev_ops(dev)->mem_alloc(dev->h, kvb, &ag->v, why)) {
        snprintf(err, AB_ERRLEN, "cannot allocate the inputs: %.200s", why);
        return AB_CASE_SKIP;
    }
    if (impl->fill(dev->h, ag->t, ag->q, nq, AB_ATTN_SEED_Q, AB_ATTN_AMP_QK, why) ||
        impl->fill(dev->h, ag->t, ag->k, nkv, AB_ATTN_SEED_K, AB_ATTN_AMP_QK, why) ||
        impl->fill(dev->h, ag->t, ag->v, nkv, AB_ATTN_SEED_V, AB_ATTN_AMP_V, why)) {
        g->skip_one = true;
        return ab_err(err, "filling the inputs: %.200s", why);
    }
    return 0;
}

static const ab_group_ops group_ops = {.setup = group_setup, .teardown = group_teardown};

/* ---- a case: one implementation ---- */

/* The output and workspace on top of the inputs already resident; the backend's own prepare. */
static int case_setup(ab_case *c, char *err)
{
    acase *ac = c->data;
    const agroup *ag = c->group->data;
    const ab_device *dev = c->ctx->dev;
    const ab_attn_impl *impl = c->impl;
    const ab_attn_shape *s = &ag->s;
    ab_attn_kind kind = ac->kind;
    ac->args = (ab_attn_args){.s = *s, .dtype = ag->t, .q = ag->q, .k = ag->k, .v = ag->v};
    if (impl->supports(dev->h, kind, ag->t, s, err) != 0)
        return AB_CASE_SKIP;
    json_object_set_new(c->r->extra, "kernel", json_string(impl->describe(dev->h, kind, ag->t, s)));
    size_t es = ab_attn_dtype_size(ag->t), qbytes = ab_attn_q_elems(s) * es;
    size_t wbytes = impl->workspace(dev->h, kind, ag->t, s);
    json_object_set_new(c->r->extra, "workspace_bytes", json_integer((json_int_t)wbytes));
    uint64_t mem = dev->info.mem_bytes;
    double need = (double)qbytes * 2 + 2.0 * (double)ab_attn_kv_elems(s) * es + (double)wbytes;
    double limit = dev->info.host_memory ? 0.5 * (double)mem : 0.9 * (double)mem;
    if (mem && need > limit) {
        snprintf(err, AB_ERRLEN, "needs %.1f GiB (Q, K, V, O%s) of %.1f GiB %s memory",
                 need / 1073741824.0,
                 kind == AB_ATTN_NAIVE ? ", the materialised scores" : ", workspace",
                 (double)mem / 1073741824.0, dev->info.host_memory ? "host" : "device");
        return AB_CASE_SKIP;
    }
    char why[AB_ERRLEN] = "";
    if (dev_ops(dev)->mem_alloc(dev->h, qbytes, &ac->args.o, why) != 0 ||
        (wbytes && dev_ops(dev)->mem_alloc(dev->h, wbytes, &ac->args.work, why) != 0)) {
        snprintf(err, AB_ERRLEN, "cannot allocate the output/workspace: %.200s", why);
        return AB_CASE_SKIP;
    }
    if (impl->prepare) {
        if (impl->prepare(dev->h, kind, &ac->args, err) != 0)
            return AB_CASE_SKIP;
        ac->prepared = true;
    }
    return 0;
}

static void case_teardown(ab_case *c)
{
    acase *ac = c->data;
    const ab_device *dev = c->ctx->dev;
    const ab_attn_impl *impl = c->impl;
    if (ac->prepared && impl->release)
        impl->release(dev->h, ac->kind, &ac->args);
    if (ac->args.o)
        dev_ops(dev)->mem_free(dev->h, ac->args.o);
    if (ac->args.work)
        dev_ops(dev)->mem_free(dev->h, ac->args.work);
    ac->prepared = false;
    ac->args.o = ac->args.work = NULL;
}

static int case_run(ab_case *c, long iters, double *sec, char *err)
{
    const acase *ac = c->data;
    const ab_device *dev = c->ctx->dev;
    const ab_attn_impl *impl = c->impl;
    if (dev_ops(dev)->timer_start(dev->h, err) ||
        impl->run(dev->h, ac->kind, &ac->args, iters, err) ||
        dev_ops(dev)->timer_stop(dev->h, sec, err))
        return -1;
    return 0;
}

/* The per-call counts the rates were computed from. */
static int case_metrics(ab_case *c, const ab_timing *t, ab_result *r, char *err)
{
    (void)t, (void)err;
    const agroup *ag = c->group->data;
    json_object_set_new(r->extra, "flop_per_call", json_real(ab_attn_flops(&ag->s)));
    json_object_set_new(r->extra, "kv_bytes_per_call",
                        json_real(ab_attn_kv_bytes(&ag->s, ag->t)));
    return 0;
}

/* Damages one output element on the device as a broken kernel would (--test-corrupt KEY). */
static int case_corrupt(ab_case *c, char *err)
{
    const acase *ac = c->data;
    const ab_device *dev = c->ctx->dev;
    size_t n = ab_attn_q_elems(&ac->args.s), es = ab_attn_dtype_size(ac->args.dtype);
    size_t idx = (size_t)(ab_attn_mix(n) % n);
    float bad = 3.0f;
    uint16_t b16 = ac->args.dtype == AB_ATTN_BF16 ? ab_f32_to_bf16(bad) : ab_f32_to_f16(bad);
    const void *src = ac->args.dtype == AB_ATTN_F32 ? (const void *)&bad : (const void *)&b16;
    if (dev_ops(dev)->copy(dev->h, AB_COPY_H2D, ac->args.o, src, idx * es, es, err) ||
        dev_ops(dev)->sync(dev->h, err))
        return -1;
    return 0;
}

/* Output to host memory: in place where the device computes in host memory. */
static const void *fetch_output(const ab_case *c, void *scratch, char *err)
{
    const acase *ac = c->data;
    const ab_device *dev = c->ctx->dev;
    if (ab_attn_host_backend(dev))
        return ac->args.o;
    size_t bytes = ab_attn_q_elems(&ac->args.s) * ab_attn_dtype_size(ac->args.dtype);
    if (dev_ops(dev)->copy(dev->h, AB_COPY_D2H, scratch, ac->args.o, 0, bytes, err) ||
        dev_ops(dev)->sync(dev->h, err))
        return NULL;
    return scratch;
}

static int case_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    const acase *ac = c->data;
    agroup *ag = c->group->data;
    const ab_attn_shape *s = &ag->s;
    if (!ag->ref_done) {
        if (ab_attn_ref_make(s, ag->t, c->ctx->opt->profile, &ag->ref, err) != 0)
            return *err ? -1 : ab_err(err, "out of memory");
        ag->ref_done = true;
    }
    size_t n = ab_attn_q_elems(s);
    if (!ab_attn_host_backend(c->ctx->dev) && !ag->host &&
        !(ag->host = malloc(n * ab_attn_dtype_size(ag->t))))
        return ab_err(err, "out of host memory");
    const void *o = fetch_output(c, ag->host, err);
    if (!o)
        return -1;
    ab_attn_verdict vd;
    ab_attn_validate(s, ag->t, o, &ag->ref, ac->kind == AB_ATTN_NAIVE ? NULL : ag->naive_out,
                     &vd);
    json_object_set_new(r->extra, "validation", ab_attn_verdict_json(&vd, &ag->ref, ag->t));
    v->fail = ab_attn_verdict_failed(&vd, s, v->msg, sizeof(v->msg));
    if (!v->fail && ac->kind == AB_ATTN_NAIVE && !ag->naive_out) {
        ag->naive_out = malloc(n * sizeof(float));
        for (size_t e = 0; ag->naive_out && e < n; e++)
            ag->naive_out[e] = (float)ab_attn_to_double(ag->t, o, e);
    }
    return 0;
}

static const ab_case_ops case_ops = {.setup = case_setup,
                                     .run = case_run,
                                     .metrics = case_metrics,
                                     .corrupt = case_corrupt,
                                     .validate = case_validate,
                                     .teardown = case_teardown};

/* ---- generation ---- */

static void set_params(ab_result *r, const ab_attn_shape *s, ab_attn_dtype t, bool decode)
{
    ab_result_param_str(r, "dtype", ab_attn_dtype_name(t));
    ab_result_param_int(r, "batch", s->batch);
    ab_result_param_int(r, "heads", s->heads);
    ab_result_param_int(r, "kv_heads", s->kv_heads);
    ab_result_param_int(r, "head_dim", s->head_dim);
    if (decode) {
        ab_result_param_int(r, "kv_len", s->kv_len);
    } else {
        ab_result_param_int(r, "seq", s->q_len);
        ab_result_param_str(r, "causal", s->causal ? "yes" : "no");
    }
}

/* The metrics, from the shape's variables: the first is the rate with a bound, FLOP/s for
 * prefill (compute-bound; the runner sets it beside the datasheet FLOP peak of the dtype), KV
 * bytes/s for decode (memory-bound; beside the bandwidth peak). Latency, with its percentiles,
 * follows. */
static int declare_metrics(ab_case *c, const ab_attn_shape *s, ab_attn_dtype t, bool decode)
{
    const struct {
        const char *name;
        double v;
    } vars[] = {{"b", s->batch},   {"h", s->heads},      {"h_kv", s->kv_heads},
                {"d", s->head_dim}, {"s_q", (double)s->q_len}, {"s_kv", (double)s->kv_len},
                {"size", (double)ab_attn_dtype_size(t)}};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (ab_case_var(c, vars[i].name, vars[i].v) != 0)
            return -1;
    const char *fa = s->causal ? "4*b*h*s_q*s_kv*d/2" : "4*b*h*s_q*s_kv*d";
    const char *ff = s->causal ? "4*b*h*s_q*s_kv*d/2 FLOP (causal: half) / t"
                               : "4*b*h*s_q*s_kv*d FLOP / t";
    const char *lat = "seconds per call (one attention over the batch), one call per sample";
    const char *ka = "2*b*h_kv*s_kv*d*size";
    const char *kf = "2*b*h_kv*s_kv*d*size B (K and V read once) / t";
    if (decode)
        return ab_case_metric(c, "kv_bandwidth", "B/s", true, ka, kf) ||
                       ab_case_metric(c, "latency", "s", false, NULL, lat) ||
                       ab_case_metric(c, "flops", "FLOP/s", true, fa, ff)
                   ? -1
                   : 0;
    return ab_case_metric(c, "flops", "FLOP/s", true, fa, ff) ||
                   ab_case_metric(c, "latency", "s", false, NULL, lat) ||
                   ab_case_metric(c, "kv_bandwidth", "B/s", true, ka, kf)
               ? -1
               : 0;
}

int ab_attn_add_group(ab_caselist *l, const ab_attn_shape *s, ab_attn_dtype t, bool decode,
                      const bool impl[AB_ATTN_NKINDS], bool headline)
{
    const char *key = decode ? "attention.decode" : "attention.prefill";
    ab_group *g = ab_group_add(l, key, "none", &group_ops, sizeof(agroup));
    if (!g)
        return -1;
    agroup *ag = g->data;
    ag->s = *s;
    ag->t = t;
    set_params(g->r, s, t, decode);
    for (int k = 0; k < AB_ATTN_NKINDS; k++) {
        if (!impl[k])
            continue;
        ab_case *c = ab_case_add(g, key, kind_names[k], &case_ops, sizeof(acase));
        if (!c || declare_metrics(c, s, t, decode) != 0)
            return -1;
        ((acase *)c->data)->kind = (ab_attn_kind)k;
        c->headline = headline && k == AB_ATTN_FUSED;
    }
    return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The p2p suite (node scope): for every ordered pair of a backend's selected devices, the copy
 * engines' peer copy through the backend hook (ab_backend_ops.peer_copy: cudaMemcpyPeerAsync /
 * hipMemcpyPeerAsync), unidirectional: bandwidth at --p2p-size and latency (one 4-byte copy),
 * timed by the destination's timer around back-to-back copies on its queue. Where the backend
 * has the concurrent-copy table (ab_suite_impls.p2p: CUDA, HIP), also per pair the SM copy kernel
 * (the destination reading the source's memory) and both directions at once, and per device
 * all-to-one and one-to-all (p2p_node.c), every copy started behind a spin kernel on a
 * host-mapped flag so the enqueue stays out of the timing (p2p.h). Every copy is checked: the
 * destination starts as the complement of the source's pattern and is read back word by word. A
 * pair without peer access is a skip with the reason; a backend without peer copies, or a single
 * device, is one skip for the suite.
 */
#include "p2p_suite.h"

#include <stdlib.h>
#include <string.h>

static const char *const p2p_keys[] = {"p2p.ce_unidir",
                                       "p2p.ce_latency",
                                       "p2p.sm_unidir",
                                       "p2p.ce_bidir",
                                       "p2p.ce_all_to_one",
                                       "p2p.ce_one_to_all",
                                       NULL};

static const ab_param_desc p2p_params[] = {
    {"p2p-size", "SIZE",
     "bytes per peer copy for bandwidth (default by profile: 4 MiB, 256 MiB, "
     "1 GiB)"},
    {NULL, NULL, NULL},
};

typedef struct p2p_plan {
    uint64_t size; /* 0: the profile's */
} p2p_plan;

static int plan_init(const ab_options *o, void *pp, char *err)
{
    p2p_plan *p = pp;
    const char *s = ab_opt_param(o, "p2p-size");
    char e2[AB_ERRLEN];
    if (s && ab_parse_size(s, &p->size, e2) != 0) return ab_err(err, "--p2p-size: %s", e2);
    if (s && p->size % 16)
        return ab_err(err, "--p2p-size: %s is not a whole number of 16-byte words", s);
    if (!p->size) {
        const char *pr = o->profile ? o->profile : "standard";
        p->size = strcmp(pr, "quick") == 0  ? 4u << 20
                  : strcmp(pr, "full") == 0 ? 1u << 30
                                            : 256u << 20;
    }
    return 0;
}

uint32_t ab_p2p_pattern(size_t i, int dev)
{
    return (uint32_t)(i * 2654435761u) ^ (uint32_t)(dev + 1) * 40503u;
}

int ab_p2p_fill(const ab_device *d, void *mem, size_t off, size_t bytes, int dev_pattern,
                bool complement, char *err)
{
    uint32_t *h = malloc(bytes ? bytes : 4);
    if (!h) return ab_err(err, "out of memory");
    for (size_t i = 0; i < bytes / 4; i++)
        h[i] = complement ? ~ab_p2p_pattern(i, dev_pattern) : ab_p2p_pattern(i, dev_pattern);
    const ab_backend_ops *ops = d->backend->ops;
    int rc = ops->copy(d->h, AB_COPY_H2D, mem, h, off, bytes, err) == 0 && ops->sync(d->h, err) == 0
                 ? 0
                 : -1;
    free(h);
    return rc;
}

int ab_p2p_check(const ab_device *d, void *mem, size_t off, size_t bytes, int dev_pattern,
                 size_t *wrong, size_t *first, char *err)
{
    uint32_t *h = malloc(bytes ? bytes : 4);
    if (!h) return ab_err(err, "out of memory");
    const ab_backend_ops *ops = d->backend->ops;
    int rc = ops->copy(d->h, AB_COPY_D2H, h, mem, off, bytes, err) == 0 && ops->sync(d->h, err) == 0
                 ? 0
                 : -1;
    for (size_t i = 0; rc == 0 && i < bytes / 4; i++)
        if (h[i] != ab_p2p_pattern(i, dev_pattern) && !(*wrong)++) *first = i;
    free(h);
    return rc;
}

double ab_p2p_max(const double *s, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = s[i] > m ? s[i] : m;
    return m;
}

/* one ordered pair src -> dst: src's buffer and dst's (and the reverse pair for both
 * directions at once) */
typedef struct p2p_pair {
    ab_device *src, *dst;
    uint64_t size;
    const ab_p2p_impl *impl; /* NULL: the hook's copies only */
    bool bidir;              /* this group also times both directions */
    void *sbuf, *dbuf;       /* on src, on dst */
    void *rsrc, *rdst;       /* on dst, on src (bidir) */
} p2p_pair;

static int pair_alloc(p2p_pair *p, size_t b, char *err)
{
    const ab_backend_ops *ops = p->dst->backend->ops;
    if (ops->mem_alloc(p->src->h, b, &p->sbuf, err) != 0 ||
        ops->mem_alloc(p->dst->h, b, &p->dbuf, err) != 0 ||
        ab_p2p_fill(p->src, p->sbuf, 0, b, p->src->index, false, err) != 0)
        return -1;
    if (!p->bidir) return 0;
    if (ops->mem_alloc(p->dst->h, b, &p->rsrc, err) != 0 ||
        ops->mem_alloc(p->src->h, b, &p->rdst, err) != 0)
        return -1;
    return ab_p2p_fill(p->dst, p->rsrc, 0, b, p->dst->index, false, err);
}

static int pair_setup(ab_group *g, char *err)
{
    p2p_pair *p = g->data;
    const ab_backend_ops *ops = p->dst->backend->ops;
    for (int dir = 0; dir < (p->bidir ? 2 : 1); dir++) {
        const ab_device *to = dir ? p->src : p->dst, *from = dir ? p->dst : p->src;
        int can = ops->peer_access(to->backend->be, to->index, from->index, err);
        if (can < 0) return -1;
        if (!can)
            return ab_err(err, "%s cannot access %s's memory directly (no peer access)", to->id,
                          from->id),
                   AB_CASE_SKIP;
    }
    size_t b = (size_t)p->size, k = p->bidir ? 2 : 1;
    if (b * k > p->src->info.mem_bytes / 2 || b * k > p->dst->info.mem_bytes / 2)
        return ab_err(err, "%zu x %zu B does not fit in half of a device's memory", k, b),
               AB_CASE_SKIP;
    return pair_alloc(p, b, err);
}

static void pair_teardown(ab_group *g)
{
    p2p_pair *p = g->data;
    const ab_backend_ops *ops = p->dst->backend->ops;
    void *on_src[] = {p->sbuf, p->rdst}, *on_dst[] = {p->dbuf, p->rsrc};
    for (int i = 0; i < 2; i++) {
        if (on_src[i]) ops->mem_free(p->src->h, on_src[i]);
        if (on_dst[i]) ops->mem_free(p->dst->h, on_dst[i]);
    }
}

static const ab_group_ops pair_ops = {.setup = pair_setup, .teardown = pair_teardown};

/* ---- cases: the hook's bandwidth and latency, the SM kernel, both directions ---- */

/* M_HOOK: copy-engine copies through ab_backend_ops.peer_copy when the backend has no
 * concurrent-copy table, else (as every mode) through it, behind the start flag */
typedef enum { M_HOOK, M_SM, M_BIDIR } p2p_mode;

typedef struct p2p_case {
    size_t bytes;
    p2p_mode mode;
} p2p_case;

static int case_setup(ab_case *c, char *err)
{
    p2p_pair *p = c->group->data;
    const p2p_case *k = c->data;
    if (ab_p2p_fill(p->dst, p->dbuf, 0, k->bytes, p->src->index, true, err) != 0) return -1;
    return k->mode == M_BIDIR ? ab_p2p_fill(p->src, p->rdst, 0, k->bytes, p->dst->index, true, err)
                              : 0;
}

static int case_run(ab_case *c, long iters, double *sec, char *err)
{
    p2p_pair *p = c->group->data;
    const p2p_case *k = c->data;
    if (p->impl) { /* behind the start flag: the enqueue stays out of the interval */
        ab_p2p_copy cp[2] = {{p->dst->h, p->src->h, p->dbuf, p->sbuf, k->bytes, k->mode == M_SM},
                             {p->src->h, p->dst->h, p->rdst, p->rsrc, k->bytes, false}};
        double t[2] = {0, 0};
        size_t n = k->mode == M_BIDIR ? 2 : 1;
        if (p->impl->run(cp, n, iters, t, err) != 0) return -1;
        *sec = ab_p2p_max(t, n);
        return 0;
    }
    const ab_backend_ops *ops = p->dst->backend->ops;
    if (ops->timer_start(p->dst->h, err) != 0) return -1;
    for (long i = 0; i < iters; i++)
        if (ops->peer_copy(p->dst->h, p->dbuf, p->src->h, p->sbuf, k->bytes, err) != 0) return -1;
    return ops->timer_stop(p->dst->h, sec, err);
}

static int case_corrupt(ab_case *c, char *err)
{
    p2p_pair *p = c->group->data;
    return ab_p2p_fill(p->dst, p->dbuf, 0, 4, p->src->index, true, err);
}

static int case_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    p2p_pair *p = c->group->data;
    const p2p_case *k = c->data;
    size_t wrong = 0, first = 0, words = k->bytes / 4;
    if (ab_p2p_check(p->dst, p->dbuf, 0, k->bytes, p->src->index, &wrong, &first, err) != 0)
        return -1;
    size_t back = 0, bfirst = 0;
    if (k->mode == M_BIDIR &&
        ab_p2p_check(p->src, p->rdst, 0, k->bytes, p->dst->index, &back, &bfirst, err) != 0)
        return -1;
    json_object_set_new(r->extra, "wrong_words", json_integer((json_int_t)(wrong + back)));
    v->max_error = wrong + back ? 1.0 : 0.0;
    if (wrong || back) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "%zu of %zu words wrong on %s (first at word %zu)",
                 wrong ? wrong : back, words, wrong ? p->dst->id : p->src->id,
                 wrong ? first : bfirst);
    }
    return 0;
}

static const ab_case_ops case_ops = {
    .setup = case_setup, .run = case_run, .corrupt = case_corrupt, .validate = case_validate};

static ab_case *add_case(ab_group *g, const char *key, p2p_mode mode, size_t bytes)
{
    ab_case *c = ab_case_add(g, key, mode == M_SM ? "sm_kernel" : "copy_engine", &case_ops,
                             sizeof(p2p_case));
    if (!c) return NULL;
    *(p2p_case *)c->data = (p2p_case){bytes, mode};
    ab_result_param_int(c->r, "bytes", (long long)bytes);
    return c;
}

static int add_pair(ab_caselist *l, ab_device *src, ab_device *dst, uint64_t size,
                    const ab_p2p_impl *impl, bool bidir)
{
    ab_group *g = ab_group_add(l, "p2p", "copy_engine", &pair_ops, sizeof(p2p_pair));
    if (!g) return -1;
    *(p2p_pair *)g->data =
        (p2p_pair){.src = src, .dst = dst, .size = size, .impl = impl, .bidir = impl && bidir};
    ab_result_param_str(g->r, "src", src->id);
    ab_result_param_str(g->r, "dst", dst->id);
    ab_case *bw = add_case(g, "p2p.ce_unidir", M_HOOK, (size_t)size);
    ab_case *lat = add_case(g, "p2p.ce_latency", M_HOOK, 4);
    if (!bw || !lat ||
        ab_case_metric(
            bw, "bandwidth", "B/s", true, "bytes",
            impl ? "bytes / t (one peer copy, copy engine, on a destination stream "
                   "behind a start flag)"
                 : "bytes / t (one peer copy, copy engine, on the destination's queue)") ||
        ab_case_metric(lat, "latency", "s", false, NULL,
                       impl ? "seconds per 4-byte peer copy (back to back behind a start flag: "
                              "no enqueue time)"
                            : "seconds per 4-byte peer copy (back to back on the destination's "
                              "queue, enqueue included)"))
        return -1;
    if (!impl) return 0;
    ab_case *sm = add_case(g, "p2p.sm_unidir", M_SM, (size_t)size);
    if (!sm || ab_case_metric(sm, "bandwidth", "B/s", true, "bytes",
                              "bytes / t (SM copy kernel on the destination reading the source's "
                              "memory, behind a start flag)"))
        return -1;
    if (!bidir) return 0;
    ab_case *bi = add_case(g, "p2p.ce_bidir", M_BIDIR, (size_t)size);
    return !bi || ab_case_metric(bi, "bandwidth", "B/s", true, "2*bytes",
                                 "2*bytes / t (both directions at once behind a start flag, t the "
                                 "later to finish)")
               ? -1
               : 0;
}

static int p2p_generate(ab_caselist *l, char *err)
{
    ab_suite_ctx *ctx = ab_caselist_ctx(l);
    const p2p_plan *plan = ab_caselist_plan(l);
    const ab_backend_ops *ops = ctx->dev->backend->ops;
    if (ctx->ndevices < 2)
        return ab_caselist_suite_result(l, AB_SKIP,
                                        "peer copies need two devices of one backend: %s is the "
                                        "only %s device selected",
                                        ctx->dev->id, ctx->dev->backend->name);
    if (!ops->peer_copy || !ops->peer_access)
        return ab_caselist_suite_result(l, AB_SKIP, "the %s backend has no peer copies",
                                        ctx->dev->backend->name);
    const ab_p2p_impl *impl = ab_device_impls(ctx->dev)->p2p;
    for (size_t a = 0; a < ctx->ndevices; a++)
        for (size_t b = 0; b < ctx->ndevices; b++)
            if (a != b &&
                add_pair(l, ctx->devices[a], ctx->devices[b], plan->size, impl, a < b) != 0)
                return ab_err(err, "out of memory");
    if (!impl)
        return ab_caselist_suite_result(l, AB_SKIP,
                                        "the %s backend has no concurrent peer copies: no SM "
                                        "kernel, bidirectional, all-to-one or one-to-all cases",
                                        ctx->dev->backend->name);
    return ab_p2p_add_node(l, impl, plan->size) != 0 ? ab_err(err, "out of memory") : 0;
}

static const ab_case_suite p2p_cases = {
    .plan_size = sizeof(p2p_plan), .plan_init = plan_init, .generate = p2p_generate};

static const char *const col_src[] = {"param:src", NULL}, *const col_dst[] = {"param:dst", NULL},
                         *const col_bytes[] = {"param:bytes", NULL},
                         *const col_bw[] = {"metric:bandwidth", NULL},
                         *const col_lat[] = {"metric:latency", NULL};
static const ab_summary_col p2p_cols[] = {
    {"Source", col_src, AB_COL_TEXT},  {"Destination", col_dst, AB_COL_TEXT},
    {"Bytes", col_bytes, AB_COL_NUM},  {"Bandwidth (B/s)", col_bw, AB_COL_NUM},
    {"Latency", col_lat, AB_COL_TIME}, {NULL, NULL, AB_COL_TEXT},
};
static const ab_summary_table p2p_table = {.title = "Peer copies (copy engine, every ordered pair)",
                                           .cols = p2p_cols};
static const ab_summary_matrix p2p_bw_matrix = {
    .title = "Peer copy bandwidth, source (row) to destination (column), copy engine",
    .key = "p2p.ce_unidir",
    .row = "src",
    .col = "dst",
    .metric = "bandwidth"};
static const ab_summary_matrix p2p_lat_matrix = {
    .title = "Peer copy latency (4 B), source (row) to destination (column)",
    .key = "p2p.ce_latency",
    .row = "src",
    .col = "dst",
    .metric = "latency"};
static const ab_summary_matrix *const p2p_matrices[] = {&p2p_bw_matrix, &p2p_lat_matrix, NULL};
static const ab_suite_display p2p_display = {.table = &p2p_table, .matrices = p2p_matrices};

const ab_suite ab_suite_p2p = {
    .name = "p2p",
    .summary = "peer copies between a backend's devices: every ordered pair (copy engine, SM "
               "kernel, both directions, latency), all-to-one and one-to-all, validated",
    .keys = p2p_keys,
    .params = p2p_params,
    .run = ab_caserun,
    .cases = &p2p_cases,
    .display = &p2p_display,
    .scope = AB_SCOPE_NODE,
};

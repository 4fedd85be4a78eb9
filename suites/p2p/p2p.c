/* SPDX-License-Identifier: MIT */
/*
 * The p2p suite (node scope): for every ordered pair of a backend's selected devices, the copy
 * engines' peer copy (ab_backend_ops.peer_copy: cudaMemcpyPeerAsync / hipMemcpyPeerAsync),
 * unidirectional: bandwidth at --p2p-size and latency (one 4-byte copy), timed by the
 * destination device's timer around back-to-back copies on its queue. Every copy is checked:
 * the destination buffer is read back and compared with the source's pattern. A pair without
 * peer access (ab_backend_ops.peer_access) is a skip with the reason; a backend without peer
 * copies, or a single device, is one skip for the suite.
 */
#include "../case.h"

#include <stdlib.h>
#include <string.h>

static const char *const p2p_keys[] = {"p2p.ce_unidir", "p2p.ce_latency", NULL};

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
    if (s && p->size % 4)
        return ab_err(err, "--p2p-size: %s is not a whole number of 4-byte words", s);
    if (!p->size) {
        const char *pr = o->profile ? o->profile : "standard";
        p->size = strcmp(pr, "quick") == 0  ? 4u << 20
                  : strcmp(pr, "full") == 0 ? 1u << 30
                                            : 256u << 20;
    }
    return 0;
}

/* one ordered pair: the source's buffer, the destination's, the pattern */
typedef struct p2p_pair {
    ab_device *src, *dst;
    uint64_t size;
    void *sbuf, *dbuf;
    uint32_t *host;
} p2p_pair;

static uint32_t pattern(size_t i, int src)
{
    return (uint32_t)(i * 2654435761u) ^ (uint32_t)(src + 1) * 40503u;
}

static int pair_setup(ab_group *g, char *err)
{
    p2p_pair *p = g->data;
    const ab_backend_ops *ops = p->dst->backend->ops;
    int can = ops->peer_access(p->dst->backend->be, p->dst->index, p->src->index, err);
    if (can < 0) return -1;
    if (!can)
        return ab_err(err, "%s cannot access %s's memory directly (no peer access)", p->dst->id,
                      p->src->id),
               AB_CASE_SKIP;
    size_t b = (size_t)p->size, n = b / 4;
    if (b > p->src->info.mem_bytes / 2 || b > p->dst->info.mem_bytes / 2)
        return ab_err(err, "%zu B does not fit in half of a device's memory", b), AB_CASE_SKIP;
    if (!(p->host = malloc(b ? b : 4))) return ab_err(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        p->host[i] = pattern(i, p->src->index);
    if (ops->mem_alloc(p->src->h, b, &p->sbuf, err) != 0 ||
        ops->mem_alloc(p->dst->h, b, &p->dbuf, err) != 0 ||
        ops->copy(p->src->h, AB_COPY_H2D, p->sbuf, p->host, 0, b, err) != 0 ||
        ops->sync(p->src->h, err) != 0)
        return -1;
    return 0;
}

static void pair_teardown(ab_group *g)
{
    p2p_pair *p = g->data;
    const ab_backend_ops *ops = p->dst->backend->ops;
    if (p->sbuf) ops->mem_free(p->src->h, p->sbuf);
    if (p->dbuf) ops->mem_free(p->dst->h, p->dbuf);
    free(p->host);
}

static const ab_group_ops pair_ops = {.setup = pair_setup, .teardown = pair_teardown};

/* ---- cases: bandwidth (bytes = the size) and latency (bytes = 4) ---- */

typedef struct p2p_case {
    size_t bytes;
} p2p_case;

static int case_setup(ab_case *c, char *err)
{
    p2p_pair *p = c->group->data;
    size_t b = ((p2p_case *)c->data)->bytes;
    /* the destination starts as the bitwise complement of what must arrive */
    uint32_t *neg = malloc(b);
    if (!neg) return ab_err(err, "out of memory");
    for (size_t i = 0; i < b / 4; i++)
        neg[i] = ~p->host[i];
    const ab_backend_ops *ops = p->dst->backend->ops;
    int rc = ops->copy(p->dst->h, AB_COPY_H2D, p->dbuf, neg, 0, b, err) == 0 &&
                     ops->sync(p->dst->h, err) == 0
                 ? 0
                 : -1;
    free(neg);
    return rc;
}

static int case_run(ab_case *c, long iters, double *sec, char *err)
{
    p2p_pair *p = c->group->data;
    size_t b = ((p2p_case *)c->data)->bytes;
    const ab_backend_ops *ops = p->dst->backend->ops;
    if (ops->timer_start(p->dst->h, err) != 0) return -1;
    for (long i = 0; i < iters; i++)
        if (ops->peer_copy(p->dst->h, p->dbuf, p->src->h, p->sbuf, b, err) != 0) return -1;
    return ops->timer_stop(p->dst->h, sec, err);
}

static int case_corrupt(ab_case *c, char *err)
{
    p2p_pair *p = c->group->data;
    const ab_backend_ops *ops = p->dst->backend->ops;
    uint32_t bad = ~p->host[0];
    if (ops->copy(p->dst->h, AB_COPY_H2D, p->dbuf, &bad, 0, 4, err) != 0) return -1;
    return ops->sync(p->dst->h, err);
}

static int case_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    p2p_pair *p = c->group->data;
    size_t b = ((p2p_case *)c->data)->bytes, n = b / 4;
    const ab_backend_ops *ops = p->dst->backend->ops;
    uint32_t *got = malloc(b);
    if (!got) return ab_err(err, "out of memory");
    if (ops->copy(p->dst->h, AB_COPY_D2H, got, p->dbuf, 0, b, err) != 0 ||
        ops->sync(p->dst->h, err) != 0) {
        free(got);
        return -1;
    }
    size_t wrong = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != p->host[i] && !wrong++) first = i;
    free(got);
    json_object_set_new(r->extra, "wrong_words", json_integer((json_int_t)wrong));
    v->max_error = wrong ? 1.0 : 0.0;
    if (wrong) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "%zu of %zu words wrong on %s (first at word %zu)", wrong,
                 n, p->dst->id, first);
    }
    return 0;
}

static const ab_case_ops case_ops = {
    .setup = case_setup, .run = case_run, .corrupt = case_corrupt, .validate = case_validate};

static int add_pair(ab_caselist *l, ab_device *src, ab_device *dst, uint64_t size)
{
    ab_group *g = ab_group_add(l, "p2p", "copy_engine", &pair_ops, sizeof(p2p_pair));
    if (!g) return -1;
    p2p_pair *p = g->data;
    *p = (p2p_pair){.src = src, .dst = dst, .size = size};
    ab_result_param_str(g->r, "src", src->id);
    ab_result_param_str(g->r, "dst", dst->id);
    ab_case *bw = ab_case_add(g, "p2p.ce_unidir", "copy_engine", &case_ops, sizeof(p2p_case));
    ab_case *lat = ab_case_add(g, "p2p.ce_latency", "copy_engine", &case_ops, sizeof(p2p_case));
    if (!bw || !lat) return -1;
    ((p2p_case *)bw->data)->bytes = (size_t)size;
    ((p2p_case *)lat->data)->bytes = 4;
    ab_result_param_int(bw->r, "bytes", (long long)size);
    ab_result_param_int(lat->r, "bytes", 4);
    if (ab_case_metric(bw, "bandwidth", "B/s", true, "bytes",
                       "bytes / t (one peer copy, copy engine, on the destination's queue)") ||
        ab_case_metric(lat, "latency", "s", false, NULL,
                       "seconds per 4-byte peer copy (back to back on the destination's queue)"))
        return -1;
    return 0;
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
    for (size_t a = 0; a < ctx->ndevices; a++)
        for (size_t b = 0; b < ctx->ndevices; b++)
            if (a != b && add_pair(l, ctx->devices[a], ctx->devices[b], plan->size) != 0)
                return ab_err(err, "out of memory");
    return 0;
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
    .summary = "peer copies between every ordered pair of a backend's devices: copy-engine "
               "bandwidth and latency, validated",
    .keys = p2p_keys,
    .params = p2p_params,
    .run = ab_caserun,
    .cases = &p2p_cases,
    .display = &p2p_display,
    .scope = AB_SCOPE_NODE,
};

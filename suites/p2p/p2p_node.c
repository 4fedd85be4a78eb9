/* SPDX-License-Identifier: MIT */
/*
 * p2p all-to-one and one-to-all: per device d, every other device copying its source buffer into
 * its own slot of d's gather buffer at once (all-to-one), or d's source buffer copied into a slot
 * of every other device's gather buffer at once (one-to-all), each copy behind the start flag on
 * a stream of its own (p2p.h); bandwidth = (n-1) * bytes / t, t the last copy to finish.
 */
#include "p2p_suite.h"

#include <stdlib.h>
#include <string.h>

typedef struct p2p_node {
    const ab_p2p_impl *impl;
    size_t n, size;
    ab_device *const *devs; /* the context's list, which outlives the case list */
    void **src;             /* per device: its pattern, size bytes */
    void **gather;          /* per device: (n-1) slots of size bytes */
} p2p_node;

/* the slot of device `from` in device `to`'s gather buffer */
static size_t slot(size_t to, size_t from)
{
    return from < to ? from : from - 1;
}

static int node_setup(ab_group *g, char *err)
{
    p2p_node *p = g->data;
    const ab_backend_ops *ops = p->devs[0]->backend->ops;
    for (size_t a = 0; a < p->n; a++)
        for (size_t b = 0; b < p->n; b++) {
            if (a == b) continue;
            int can = ops->peer_access(p->devs[a]->backend->be, p->devs[a]->index,
                                       p->devs[b]->index, err);
            if (can < 0) return -1;
            if (!can)
                return ab_err(err,
                              "all-to-one and one-to-all need peer access between every "
                              "pair: %s cannot access %s's memory",
                              p->devs[a]->id, p->devs[b]->id),
                       AB_CASE_SKIP;
        }
    p->src = calloc(p->n, sizeof(void *));
    p->gather = calloc(p->n, sizeof(void *));
    if (!p->src || !p->gather) return ab_err(err, "out of memory");
    for (size_t d = 0; d < p->n; d++) {
        if ((uint64_t)p->size * p->n > p->devs[d]->info.mem_bytes / 2)
            return ab_err(err, "%zu x %zu B does not fit in half of %s's memory", p->n, p->size,
                          p->devs[d]->id),
                   AB_CASE_SKIP;
        if (ops->mem_alloc(p->devs[d]->h, p->size, &p->src[d], err) != 0 ||
            ops->mem_alloc(p->devs[d]->h, p->size * (p->n - 1), &p->gather[d], err) != 0 ||
            ab_p2p_fill(p->devs[d], p->src[d], 0, p->size, p->devs[d]->index, false, err) != 0)
            return -1;
    }
    return 0;
}

static void node_teardown(ab_group *g)
{
    p2p_node *p = g->data;
    const ab_backend_ops *ops = p->devs[0]->backend->ops;
    for (size_t d = 0; d < p->n; d++) {
        if (p->src && p->src[d]) ops->mem_free(p->devs[d]->h, p->src[d]);
        if (p->gather && p->gather[d]) ops->mem_free(p->devs[d]->h, p->gather[d]);
    }
    free(p->src);
    free(p->gather);
}

static const ab_group_ops node_ops = {.setup = node_setup, .teardown = node_teardown};

typedef struct node_case {
    size_t d;
    bool to_one; /* all-to-one into d; else one-to-all from d */
} node_case;

/* Copy j of the case (j over the other devices): the device that receives, the one that sends. */
static void ends(const node_case *k, size_t j, size_t *to, size_t *from)
{
    *to = k->to_one ? k->d : j;
    *from = k->to_one ? j : k->d;
}

static int ncase_setup(ab_case *c, char *err)
{
    p2p_node *p = c->group->data;
    const node_case *k = c->data;
    for (size_t j = 0, to, from; j < p->n; j++) {
        if (j == k->d) continue;
        ends(k, j, &to, &from);
        if (ab_p2p_fill(p->devs[to], p->gather[to], slot(to, from) * p->size, p->size,
                        p->devs[from]->index, true, err) != 0)
            return -1;
    }
    return 0;
}

static int ncase_run(ab_case *c, long iters, double *sec, char *err)
{
    p2p_node *p = c->group->data;
    const node_case *k = c->data;
    ab_p2p_copy *cp = calloc(p->n, sizeof(*cp));
    double *t = calloc(p->n, sizeof(*t));
    size_t m = 0;
    for (size_t j = 0, to, from; cp && t && j < p->n; j++) {
        if (j == k->d) continue;
        ends(k, j, &to, &from);
        cp[m++] = (ab_p2p_copy){
            p->devs[to]->h, p->devs[from]->h, (char *)p->gather[to] + slot(to, from) * p->size,
            p->src[from],   p->size,          false};
    }
    int rc = !cp || !t ? ab_err(err, "out of memory") : p->impl->run(cp, m, iters, t, err);
    if (rc == 0) *sec = ab_p2p_max(t, m);
    free(cp);
    free(t);
    return rc;
}

static int ncase_corrupt(ab_case *c, char *err)
{
    p2p_node *p = c->group->data;
    const node_case *k = c->data;
    size_t to, from;
    ends(k, k->d == 0 ? 1 : 0, &to, &from);
    return ab_p2p_fill(p->devs[to], p->gather[to], slot(to, from) * p->size, 4,
                       p->devs[from]->index, true, err);
}

static int ncase_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    p2p_node *p = c->group->data;
    const node_case *k = c->data;
    size_t wrong = 0, first = 0, bad_to = 0;
    for (size_t j = 0, to, from; j < p->n; j++) {
        if (j == k->d) continue;
        ends(k, j, &to, &from);
        size_t before = wrong;
        if (ab_p2p_check(p->devs[to], p->gather[to], slot(to, from) * p->size, p->size,
                         p->devs[from]->index, &wrong, &first, err) != 0)
            return -1;
        if (!before && wrong) bad_to = to;
    }
    json_object_set_new(r->extra, "wrong_words", json_integer((json_int_t)wrong));
    v->max_error = wrong ? 1.0 : 0.0;
    if (wrong) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "%zu of %zu words wrong (first on %s at word %zu)", wrong,
                 (p->n - 1) * (p->size / 4), p->devs[bad_to]->id, first);
    }
    return 0;
}

static const ab_case_ops ncase_ops = {
    .setup = ncase_setup, .run = ncase_run, .corrupt = ncase_corrupt, .validate = ncase_validate};

int ab_p2p_add_node(ab_caselist *l, const ab_p2p_impl *impl, uint64_t size)
{
    ab_suite_ctx *ctx = ab_caselist_ctx(l);
    ab_group *g = ab_group_add(l, "p2p", "copy_engine", &node_ops, sizeof(p2p_node));
    if (!g) return -1;
    g->skip_one = true; /* no peer access somewhere: one result says which pair */
    p2p_node *p = g->data;
    p->impl = impl;
    p->n = ctx->ndevices;
    p->size = (size_t)size;
    p->devs = ctx->devices;
    ab_result_param_int(g->r, "bytes", (long long)size);
    for (size_t d = 0; d < p->n; d++)
        for (int to_one = 1; to_one >= 0; to_one--) {
            ab_case *c = ab_case_add(g, to_one ? "p2p.ce_all_to_one" : "p2p.ce_one_to_all",
                                     "copy_engine", &ncase_ops, sizeof(node_case));
            if (!c) return -1;
            *(node_case *)c->data = (node_case){d, to_one != 0};
            ab_result_param_str(c->r, to_one ? "dst" : "src", p->devs[d]->id);
            if (ab_case_var(c, "peers", (double)(p->n - 1)) != 0 ||
                ab_case_metric(c, "bandwidth", "B/s", true, "peers*bytes",
                               to_one ? "peers*bytes / t (every other device into this one at "
                                        "once, t the last to finish)"
                                      : "peers*bytes / t (this device into every other at once, "
                                        "t the last to finish)"))
                return -1;
        }
    return 0;
}

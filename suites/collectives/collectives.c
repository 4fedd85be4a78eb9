/* SPDX-License-Identifier: MIT */
/*
 * The collectives suite (node scope: one run over all selected devices of a backend):
 * all_reduce, all_gather, reduce_scatter, all_to_all, broadcast and sendrecv over a size sweep,
 * f32 sum, out of place, as nccl-tests measures them: algbw = size / time, busbw = algbw times
 * 2(n-1)/n (all_reduce), (n-1)/n (all_gather, reduce_scatter, all_to_all) or 1 (broadcast,
 * sendrecv), where size is nccl-tests' (the whole all_reduce / broadcast / sendrecv buffer, the
 * gathered buffer, the scattered input, one rank's all_to_all buffer). Every result is checked
 * element by element on the host against an exact reference (`wrong`, nccl-tests' #wrong).
 *
 * Ranks: the devices on a GPU backend (NCCL / RCCL, one process driving all of them); host
 * threads on the CPU backend (--ranks); in an MPI job of two or more ranks with NCCL / RCCL, the
 * job's ranks, one device each (collectives_job.c: unique id over MPI_Bcast, ncclCommInitRank),
 * timed by ab_job_measure (the slowest rank's batch), validated on every rank and combined, the
 * results job-wide (rank 0 records them once).
 */
#include "coll_suite.h"

#include "../../runners/mpi_job.h"
#include "../case.h"

#include <stdlib.h>
#include <string.h>

static const char *const coll_keys[] = {
    "collectives.all_reduce",
    "collectives.all_gather",
    "collectives.reduce_scatter",
    "collectives.all_to_all",
    "collectives.broadcast",
    "collectives.sendrecv",
    NULL,
};

static const ab_param_desc coll_params[] = {
    {"coll-sizes", "LIST",
     "collective sizes in bytes, nccl-tests' size: 8,1MiB,4GiB (default: 8 B "
     "up to a profile's maximum, 4 GiB and more on GPUs)"},
    {"ranks", "N",
     "ranks of the host-thread collectives on the CPU backend (default: its "
     "threads, 2 to 8); GPU backends use the selected devices"},
    {NULL, NULL, NULL},
};

typedef struct coll_plan {
    uint64_t *sizes; /* NULL: the profile's sweep */
    size_t nsizes;
    long ranks; /* 0: the default */
    const char *profile;
} coll_plan;

static void plan_clear(void *pp)
{
    coll_plan *p = pp;
    free(p->sizes);
}

static int plan_sizes(const char *arg, coll_plan *p, char *err)
{
    char e1[AB_ERRLEN];
    char **v = ab_split_list(arg, e1);
    if (!v) return ab_err(err, "--coll-sizes: %s", e1);
    p->nsizes = ab_strv_len(v);
    p->sizes = calloc(p->nsizes ? p->nsizes : 1, sizeof(*p->sizes));
    int rc = p->sizes ? 0 : ab_err(err, "out of memory");
    for (size_t i = 0; rc == 0 && v[i]; i++) {
        char e2[AB_ERRLEN];
        if (ab_parse_size(v[i], &p->sizes[i], e2) != 0)
            rc = ab_err(err, "--coll-sizes: %s", e2);
        else if (p->sizes[i] % sizeof(float))
            rc = ab_err(err, "--coll-sizes: %s is not a whole number of f32 elements (4 B)", v[i]);
    }
    ab_strv_free(v);
    return rc;
}

static int plan_init(const ab_options *o, void *pp, char *err)
{
    coll_plan *p = pp;
    p->profile = o->profile ? o->profile : "standard";
    const char *r = ab_opt_param(o, "ranks");
    if (r && ab_parse_long(r, "--ranks", 2, 256, &p->ranks, err) != 0) return -1;
    const char *s = ab_opt_param(o, "coll-sizes");
    return s ? plan_sizes(s, p, err) : 0;
}

/* The profile's sweep: 8 B times `step` up to the maximum, the maximum itself last. */
static size_t default_sizes(const char *profile, bool host, uint64_t *out, size_t cap)
{
    uint64_t max, step;
    if (strcmp(profile, "quick") == 0)
        max = host ? 1u << 20 : 64u << 20, step = 8;
    else if (strcmp(profile, "full") == 0)
        max = host ? 256u << 20 : 16ull << 30, step = 2;
    else
        max = host ? 64u << 20 : 4ull << 30, step = 4;
    size_t n = 0;
    for (uint64_t s = 8; s < max && n + 1 < cap; s *= step)
        out[n++] = s;
    out[n++] = max;
    return n;
}

/* ---- the group: one communicator for every case ---- */

typedef struct coll_group {
    const ab_coll_impl *im;
    ab_coll_comm *comm;
    int n, ranks_arg;
    uint64_t limit;    /* the largest size whose buffers fit */
    uint64_t max_used; /* the largest size a case will run */
    float *host;       /* staging: one rank's buffer */
    float *sums;
    bool job; /* across the ranks of an MPI job: this process is rank `me` */
    int me;
    int nord;
    int ord[]; /* the devices' indices in their backend */
} coll_group;

static int group_setup(ab_group *g, char *err)
{
    coll_group *d = g->data;
#ifdef AB_HAVE_MPI
    int rc = d->job ? ab_coll_job_open(d->im, d->ord[0], &d->comm, err)
                    : d->im->open(d->ord, d->nord, d->ranks_arg, &d->comm, err);
#else
    int rc = d->im->open(d->ord, d->nord, d->ranks_arg, &d->comm, err);
#endif
    if (rc == AB_COLL_SKIP) return AB_CASE_SKIP;
    if (rc != 0) return -1;
    size_t b = (size_t)d->max_used;
    if (d->im->alloc(d->comm, b, b, err) != 0) return -1;
    d->host = malloc(b ? b : 4);
    d->sums = ab_coll_sum_table(d->n);
    if (!d->host || !d->sums)
        return ab_err(err, "out of memory for the %zu-byte host reference", b);
    return 0;
}

static void group_teardown(ab_group *g)
{
    coll_group *d = g->data;
    if (d->comm) d->im->close(d->comm);
    free(d->host);
    free(d->sums);
}

static const ab_group_ops group_ops = {.setup = group_setup, .teardown = group_teardown};

/* ---- one case: an op at one size ---- */

typedef struct coll_case {
    ab_coll_op op;
    size_t count;   /* NCCL's count argument */
    uint64_t bytes; /* nccl-tests' size */
    bool corrupt;
} coll_case;

static int case_applies(ab_case *c, const ab_device *dev, char *why)
{
    (void)dev;
    const coll_case *k = c->data;
    const coll_group *d = c->group->data;
    if (!k->count)
        return ab_err(why, "%llu B holds less than one f32 per rank for %s over %d ranks",
                      (unsigned long long)k->bytes, ab_coll_op_name(k->op), d->n),
               AB_CASE_SKIP;
    if (k->bytes > d->limit)
        return ab_err(why,
                      "%llu B per rank buffer does not fit: at most %llu B (two buffers "
                      "per rank%s)",
                      (unsigned long long)k->bytes, (unsigned long long)d->limit,
                      d->im->host_ranks ? ", three per thread in host memory" : ""),
               AB_CASE_SKIP;
    return 0;
}

static int case_setup(ab_case *c, char *err)
{
    const coll_case *k = c->data;
    coll_group *d = c->group->data;
    size_t ns = ab_coll_send_count(k->op, k->count, d->n);
    for (int r = 0; r < d->n; r++) {
        if (d->job && r != d->me) continue; /* the other ranks write theirs */
        for (size_t i = 0; i < ns; i++)
            d->host[i] = ab_coll_input(r, i);
        if (d->im->write_send(d->comm, d->job ? 0 : r, d->host, ns * sizeof(float), err) != 0)
            return -1;
    }
    /* 0xff bytes are NaNs: an element the collective never wrote is wrong */
    return d->im->clear_recv(d->comm, 0xff, err);
}

static int case_run(ab_case *c, long iters, double *sec, char *err)
{
    const coll_case *k = c->data;
    coll_group *d = c->group->data;
    return d->im->run(d->comm, k->op, k->count, 0, iters, sec, err);
}

#ifdef AB_HAVE_MPI
/* This rank's part of a timed batch across the job (ab_job_measure). */
static int job_work(void *arg, long iters, double *sec, char *err)
{
    ab_case *c = arg;
    return case_run(c, iters, sec, err);
}

static int case_measure_job(ab_case *c, const ab_sampling *s, ab_timing *t, char *err)
{
    ab_job_test_fault(c->r->key);
    return ab_job_measure(s, t, job_work, c, err);
}
#endif

static int case_corrupt(ab_case *c, char *err)
{
    (void)err;
    ((coll_case *)c->data)->corrupt = true; /* rank 0's first element as read back */
    return 0;
}

static void record_runtime(const coll_group *d, ab_result *r)
{
    json_object_set_new(r->extra, "library", json_string(d->im->library(d->comm)));
    json_object_set_new(r->extra, "ranks_are",
                        json_string(d->im->host_ranks ? "host threads"
                                    : d->job          ? "MPI ranks, one device each"
                                                      : "devices"));
    if (d->im->host_ranks) return;
    json_t *env = json_object();
    static const char *const vars[] = {"NCCL_PROTO", "NCCL_ALGO", "NCCL_P2P_DISABLE",
                                       "NCCL_P2P_LEVEL", NULL};
    for (size_t i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        json_object_set_new(env, vars[i], v ? json_string(v) : json_null());
    }
    json_object_set_new(r->extra, "env", env);
}

static int case_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    coll_case *k = c->data;
    coll_group *d = c->group->data;
    size_t nr = ab_coll_recv_count(k->op, k->count, d->n);
    unsigned long long wrong = 0, checked = 0;
    for (int rank = 0; rank < d->n; rank++) {
        if (d->job && rank != d->me) continue; /* each rank checks its own */
        if (d->im->read_recv(d->comm, d->job ? 0 : rank, d->host, nr * sizeof(float), err) != 0)
            return -1;
        if (rank == 0 && k->corrupt) d->host[0] += 1.0f;
        for (size_t i = 0; i < nr; i++) {
            float want = ab_coll_expected(k->op, d->sums, d->n, rank, 0, k->count, i);
            if (d->host[i] == want) continue;
            if (!wrong++)
                snprintf(v->msg, sizeof(v->msg), "first at rank %d element %zu: %g, expected %g",
                         rank, i, (double)d->host[i], (double)want);
        }
        checked += nr;
    }
#ifdef AB_HAVE_MPI
    if (d->job) ab_coll_job_combine(&wrong, &checked, v->msg, sizeof(v->msg));
#endif
    json_object_set_new(r->extra, "wrong", json_integer((json_int_t)wrong));
    json_object_set_new(r->extra, "checked", json_integer((json_int_t)checked));
    record_runtime(d, r);
    v->max_error = wrong ? 1.0 : 0.0;
    if (wrong) {
        char first[sizeof(v->msg)];
        ab_strlcpy(first, v->msg, sizeof(first));
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "%llu of %llu elements wrong (%s)", wrong, checked, first);
    }
    return 0;
}

static const ab_case_ops case_ops = {.applies = case_applies,
                                     .setup = case_setup,
                                     .run = case_run,
                                     .corrupt = case_corrupt,
                                     .validate = case_validate};

#ifdef AB_HAVE_MPI
static const ab_case_ops job_case_ops = {.applies = case_applies,
                                         .setup = case_setup,
                                         .measure = case_measure_job,
                                         .corrupt = case_corrupt,
                                         .validate = case_validate};
#else
#define job_case_ops case_ops
#endif

/* The busbw factor of op, nccl-tests' PERFORMANCE.md */
static const char *busbw_amount(ab_coll_op op)
{
    switch (op) {
    case AB_COLL_ALL_REDUCE:
        return "bytes*2*(ranks-1)/ranks";
    case AB_COLL_ALL_GATHER:
    case AB_COLL_REDUCE_SCATTER:
    case AB_COLL_ALL_TO_ALL:
        return "bytes*(ranks-1)/ranks";
    default:
        return "bytes";
    }
}

static int add_case(ab_group *g, ab_coll_op op, uint64_t size, int n)
{
    char key[64];
    snprintf(key, sizeof(key), "collectives.%s", ab_coll_op_name(op));
    coll_group *d = g->data;
    ab_case *c =
        ab_case_add(g, key, d->im->name, d->job ? &job_case_ops : &case_ops, sizeof(coll_case));
    if (!c) return -1;
    c->r->job_wide = d->job; /* one result for the job, from rank 0 */
    coll_case *k = c->data;
    k->op = op;
    bool chunked =
        op == AB_COLL_ALL_GATHER || op == AB_COLL_REDUCE_SCATTER || op == AB_COLL_ALL_TO_ALL;
    k->count = (size_t)(size / sizeof(float) / (chunked ? (uint64_t)n : 1));
    k->bytes = k->count ? (uint64_t)k->count * sizeof(float) * (chunked ? (uint64_t)n : 1) : size;
    if (k->count && k->bytes <= d->limit && k->bytes > d->max_used) d->max_used = k->bytes;
    ab_result_param_str(c->r, "op", ab_coll_op_name(op));
    ab_result_param_int(c->r, "bytes", (long long)k->bytes);
    ab_result_param_int(c->r, "count", (long long)k->count);
    c->headline = true;
    c->series = ab_coll_op_name(op); /* the largest passing size of each op */
    char formula[160];
    const char *bus = busbw_amount(op);
    snprintf(formula, sizeof(formula), "%s B / t (nccl-tests busbw: algbw x %s)", bus,
             op == AB_COLL_ALL_REDUCE    ? "2(n-1)/n"
             : strcmp(bus, "bytes") == 0 ? "1"
                                         : "(n-1)/n");
    if (ab_case_metric(c, "busbw", "B/s", true, bus, formula) != 0 ||
        ab_case_metric(c, "algbw", "B/s", true, "bytes",
                       "bytes / t (nccl-tests algbw: size / "
                       "time)") != 0 ||
        ab_case_metric(c, "time", "s", false, NULL, "seconds per collective (all ranks done)"))
        return -1;
    return 0;
}

/* The per-rank buffer size that fits: two buffers per device, or three per host thread (the
 * working copy of reduce_scatter) beside the host's staging copy, in at most half the RAM. */
static uint64_t fit_limit(const ab_suite_ctx *ctx, bool host_ranks, int n)
{
    uint64_t mem = ctx->dev->info.mem_bytes;
    for (size_t i = 1; i < ctx->ndevices; i++)
        if (ctx->devices[i]->info.mem_bytes < mem) mem = ctx->devices[i]->info.mem_bytes;
    if (!mem) return 0;
    return host_ranks ? mem / 2 / (3 * (uint64_t)n + 1) : mem / 10 * 8 / 2;
}

static int coll_generate(ab_caselist *l, char *err)
{
    ab_suite_ctx *ctx = ab_caselist_ctx(l);
    const ab_coll_impl *im = ab_caselist_impl(l);
    const coll_plan *p = ab_caselist_plan(l);
    int threads = ctx->dev->info.threads;
    /* an MPI job of two or more ranks with a library that spans processes: the job's ranks */
    bool job = ab_job_active() && ab_job_size() >= 2 && im->job_load;
    int n = job              ? ab_job_size()
            : im->host_ranks ? (int)(p->ranks      ? p->ranks
                                     : threads < 2 ? 2
                                     : threads > 8 ? 8
                                                   : threads)
                             : (int)(ctx->ndevices ? ctx->ndevices : 1);
    if (n < 2)
        return ab_caselist_suite_result(l, AB_SKIP,
                                        "collectives need at least 2 ranks: only %s is selected "
                                        "on %s (--device)",
                                        ctx->dev->id, ctx->dev->backend->name);
    size_t nord = ctx->ndevices && !job ? ctx->ndevices : 1;
    ab_group *g = ab_group_add(l, "collectives", im->name, &group_ops,
                               sizeof(coll_group) + nord * sizeof(int));
    if (!g) return ab_err(err, "out of memory");
    g->skip_one = true; /* no communicator: one result says why */
    coll_group *d = g->data;
    d->im = im;
    d->n = n;
    d->ranks_arg = n;
    d->nord = (int)nord;
    for (size_t i = 0; i < nord; i++)
        d->ord[i] = ctx->devices ? ctx->devices[i]->index : ctx->dev->index;
    d->job = job;
    g->r->job_wide = job; /* its skip, the same on every rank, once */
    d->me = ab_job_rank();
    d->limit = fit_limit(ctx, im->host_ranks, n);
#ifdef AB_HAVE_MPI
    if (job) d->limit = ab_coll_job_min(d->limit); /* the same cases on every rank */
#endif
    ab_result_param_int(g->r, "ranks", n);
    uint64_t def[48];
    const uint64_t *sizes = p->sizes;
    size_t ns = p->nsizes;
    if (!sizes) {
        ns = default_sizes(p->profile, im->host_ranks, def, 48);
        sizes = def;
    }
    for (int op = 0; op < AB_COLL_NOPS; op++) {
        if (ab_caselist_series(l, ab_coll_op_name((ab_coll_op)op)) != 0)
            return ab_err(err, "out of memory");
        for (size_t i = 0; i < ns; i++)
            if (add_case(g, (ab_coll_op)op, sizes[i], n) != 0) return ab_err(err, "out of memory");
    }
    return 0;
}

static const void *coll_impl(const ab_device *d)
{
    /* test only: the NCCL stand-in across an MPI job's ranks in place of the host threads */
    const ab_coll_impl *standin = ab_coll_standin();
    if (standin && strcmp(d->backend->name, "cpu") == 0) return standin;
    return ab_device_impls(d)->collectives;
}

static const ab_case_suite coll_cases = {.impl = coll_impl,
                                         .plan_size = sizeof(coll_plan),
                                         .plan_init = plan_init,
                                         .plan_clear = plan_clear,
                                         .generate = coll_generate};

static const char
    *const col_op[] = {"param:op", NULL},
           *const col_bytes[] = {"param:bytes", NULL}, *const col_ranks[] = {"param:ranks", NULL},
           *const col_bus[] = {"metric:busbw", NULL}, *const col_alg[] = {"metric:algbw", NULL},
           *const col_time[] = {"metric:time", NULL}, *const col_wrong[] = {"extra:wrong", NULL};
static const ab_summary_col coll_cols[] = {
    {"Collective", col_op, AB_COL_TEXT},  {"Size (B)", col_bytes, AB_COL_NUM},
    {"Ranks", col_ranks, AB_COL_NUM},     {"busbw (B/s)", col_bus, AB_COL_NUM},
    {"algbw (B/s)", col_alg, AB_COL_NUM}, {"Time", col_time, AB_COL_TIME},
    {"#wrong", col_wrong, AB_COL_NUM},    {NULL, NULL, AB_COL_TEXT},
};
static const ab_summary_note coll_notes[] = {{"ranks over", "extra:library"}, {NULL, NULL}};
static const ab_summary_table coll_table = {
    .title = "Collectives (nccl-tests algbw and busbw)", .cols = coll_cols, .notes = coll_notes};
static const ab_suite_display ab_collectives_display = {.table = &coll_table};

const ab_suite ab_suite_collectives = {
    .name = "collectives",
    .summary = "all_reduce, all_gather, reduce_scatter, all_to_all, broadcast, sendrecv: "
               "nccl-tests' algbw and busbw over the node's devices (NCCL/RCCL) or host threads",
    .keys = coll_keys,
    .params = coll_params,
    .run = ab_caserun,
    .cases = &coll_cases,
    .display = &ab_collectives_display,
    .scope = AB_SCOPE_NODE,
};

/* SPDX-License-Identifier: MIT */
/*
 * fabric suite descriptor: keys, parameters, the plan, and the skips that say why nothing was
 * measured (no MPI in this build, not launched by mpirun/srun, one rank, not the cpu device).
 * The cases are in fabric_mpi.c.
 */
#include "fabric.h"

#include "../../runners/mpi_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {
    "fabric.latency",    "fabric.p2p",         "fabric.p2p_bidir",
    "fabric.pairs",      "fabric.pairs_bidir", "fabric.all_reduce",
    "fabric.all_gather", "fabric.all_to_all",  NULL,
};

static const ab_param_desc params[] = {
    {"msg-sizes", "LIST", "collective sizes, e.g. 64KiB,16MiB (default by profile)"},
    {"p2p-size", "SIZE", "bytes per point-to-point message (default 1MiB)"},
    {"window", "N", "point-to-point messages in flight per iteration (default 64)"},
    {NULL, NULL, NULL},
};

static int sizes_default(const char *profile, ab_fabric_plan *p)
{
    static const uint64_t quick[] = {1u << 20};
    static const uint64_t standard[] = {64u << 10, 1u << 20, 16u << 20};
    static const uint64_t full[] = {8u << 10, 64u << 10, 1u << 20, 16u << 20, 64u << 20};
    const uint64_t *v = standard;
    size_t n = 3;
    if (strcmp(profile, "quick") == 0)
        v = quick, n = 1;
    else if (strcmp(profile, "full") == 0)
        v = full, n = 5;
    if (!(p->sizes = calloc(n, sizeof(*p->sizes)))) return -1;
    memcpy(p->sizes, v, n * sizeof(*v));
    p->nsizes = n;
    return 0;
}

static int plan_sizes(const ab_options *o, ab_fabric_plan *p, char *err)
{
    const char *sz = ab_opt_param(o, "msg-sizes");
    if (!sz)
        return sizes_default(o->profile ? o->profile : "standard", p) ? ab_err(err, "out of memory")
                                                                      : 0;
    char why[AB_ERRLEN];
    char **v = ab_split_list(sz, why);
    if (!v) return ab_err(err, "--msg-sizes: %s", why);
    p->nsizes = ab_strv_len(v);
    p->sizes = calloc(p->nsizes, sizeof(*p->sizes));
    int rc = p->sizes ? 0 : ab_err(err, "out of memory");
    for (size_t i = 0; rc == 0 && i < p->nsizes; i++) {
        if (ab_parse_size(v[i], &p->sizes[i], why) != 0)
            rc = ab_err(err, "--msg-sizes: %s", why);
        else if (p->sizes[i] < 4 || p->sizes[i] > (1ull << 31))
            rc = ab_err(err, "--msg-sizes: %s is outside 4 B .. 2 GiB", v[i]);
    }
    ab_strv_free(v);
    return rc;
}

static int fabric_plan_init(const ab_options *o, void *plan, char *err)
{
    ab_fabric_plan *p = plan;
    p->p2p_size = 1u << 20;
    p->window = 64;
    if (plan_sizes(o, p, err) != 0) return -1;
    const char *ps = ab_opt_param(o, "p2p-size");
    char why[AB_ERRLEN];
    if (ps && ab_parse_size(ps, &p->p2p_size, why) != 0) return ab_err(err, "--p2p-size: %s", why);
    if (ps && (p->p2p_size < 1 || p->p2p_size > (1ull << 30)))
        return ab_err(err, "--p2p-size: %s is outside 1 B .. 1 GiB", ps);
    const char *w = ab_opt_param(o, "window");
    if (w && ab_parse_long(w, "--window", 1, 1024, &p->window, err) != 0) return -1;
    return 0;
}

static void fabric_plan_clear(void *plan)
{
    ab_fabric_plan *p = plan;
    free(p->sizes);
    p->sizes = NULL;
}

static int fabric_generate(ab_caselist *l, char *err)
{
    const ab_device *d = ab_caselist_ctx(l)->dev;
    /* host memory between ranks: measured once per rank, on its cpu device */
    if (d && d->info.kind != AB_KIND_HOST) return 0;
#ifndef AB_HAVE_MPI
    (void)err;
    return ab_caselist_suite_result(l, AB_SKIP,
                                    "built without MPI (AB_MPI=OFF or no libopenmpi-dev): the "
                                    "fabric suite needs an MPI job");
#else
    if (!ab_job_active())
        return ab_caselist_suite_result(l, AB_SKIP,
                                        "not an MPI job: launch it with mpirun -np N or srun -n "
                                        "N (N >= 2)");
    if (ab_job_size() < 2)
        return ab_caselist_suite_result(l, AB_SKIP,
                                        "an MPI job of one rank: the fabric suite "
                                        "needs 2 or more");
    return ab_fabric_generate(l, ab_caselist_plan(l), err);
#endif
}

static const ab_case_suite fabric_cases = {
    .plan_size = sizeof(ab_fabric_plan),
    .plan_init = fabric_plan_init,
    .plan_clear = fabric_plan_clear,
    .generate = fabric_generate,
};

const ab_suite ab_suite_fabric = {
    .name = "fabric",
    .summary = "MPI between ranks on host memory: latency, point-to-point and collective bus "
               "bandwidth",
    .keys = keys,
    .params = params,
    .run = ab_caserun,
    .cases = &fabric_cases,
};

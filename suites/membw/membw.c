/* SPDX-License-Identifier: MIT */
/*
 * membw suite descriptor: parameters, the plan, and the cases generated from it (working-set
 * sweep, headline size, transfers) for the runner loop (suites/case.h), which samples,
 * validates, marks headlines and emits. The kernel cases are in membw_kernels.c, the transfers
 * in membw_transfer.c; backend kernels in membw_<backend>.c / membw_gpu.cu behind
 * ab_membw_impl. Each kernel is described once, in membw.h (ab_membw_kernel_get).
 */
#include "membw_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const ab_membw_kernel_info *kinfo(int k)
{
    return ab_membw_kernel_get((ab_membw_kernel)k);
}

static const char *const keys[] = {
    "membw.copy", "membw.scale", "membw.add", "membw.triad", "membw.dot", "membw.read",
    "membw.write", "membw.h2d",  "membw.d2h", "membw.d2d",   NULL,
};

static const ab_param_desc params[] = {
    {"dtype", "LIST", "element types: f32,f64 (default both)"},
    {"sizes", "LIST", "working-set sizes, e.g. 32KiB,128MiB (default: sweep to >= 4x LLC)"},
    {"sweep", "LIST", "kernels swept over sizes: names, 'all' or 'none' (default by profile)"},
    {"transfer-size", "SIZE", "bytes per host<->device / device copy (default by device)"},
    {NULL, NULL, NULL},
};

static void plan_free(ab_membw_plan *p)
{
    free(p->sizes);
    free(p->scratch);
    p->sizes = NULL;
    p->scratch = NULL;
}

static int plan_make(const ab_options *o, ab_membw_plan *p, char *err)
{
    memset(p, 0, sizeof(*p));
    const char *dt = ab_opt_param(o, "dtype");
    if (!dt) {
        p->dtype[0] = p->dtype[1] = true;
    } else {
        bool picked[AB_DT_COUNT] = {false};
        if (ab_dtype_list(dt, picked, err) != 0)
            return -1;
        p->dtype[0] = picked[AB_DT_F32];
        p->dtype[1] = picked[AB_DT_F64];
    }
    const char *sz = ab_opt_param(o, "sizes");
    if (sz) {
        char **v = ab_split_list(sz, err);
        if (!v)
            return -1;
        p->nsizes = ab_strv_len(v);
        p->sizes = calloc(p->nsizes, sizeof(*p->sizes));
        for (size_t i = 0; p->sizes && v[i]; i++) {
            char e2[AB_ERRLEN];
            if (ab_parse_size(v[i], &p->sizes[i], e2) != 0) {
                ab_err(err, "--sizes: %s", e2);
                ab_strv_free(v);
                plan_free(p);
                return -1;
            }
            if (p->sizes[i] < 1024) {
                ab_err(err, "--sizes: %s is below the 1 KiB minimum working set", v[i]);
                ab_strv_free(v);
                plan_free(p);
                return -1;
            }
        }
        ab_strv_free(v);
        if (!p->sizes)
            return ab_err(err, "out of memory");
    }
    const char *sw = ab_opt_param(o, "sweep");
    if (!sw)
        sw = strcmp(o->profile, "quick") == 0      ? "triad"
             : strcmp(o->profile, "standard") == 0 ? "copy,triad,read"
                                                   : "all";
    if (strcmp(sw, "none") != 0) {
        char **v = ab_split_list(sw, err);
        if (!v) {
            plan_free(p);
            return -1;
        }
        for (size_t i = 0; v[i]; i++) {
            bool found = false;
            for (int k = 0; k < AB_MB_NKERNELS; k++)
                if (strcmp(v[i], "all") == 0 || strcmp(v[i], kinfo(k)->name) == 0) {
                    p->sweep[k] = true;
                    found = true;
                }
            if (!found) {
                ab_err(err, "--sweep: unknown kernel '%s' (copy, scale, add, triad, dot, read, "
                            "write, all, none)",
                       v[i]);
                ab_strv_free(v);
                plan_free(p);
                return -1;
            }
        }
        ab_strv_free(v);
    }
    const char *ts = ab_opt_param(o, "transfer-size");
    if (ts) {
        char e2[AB_ERRLEN];
        if (ab_parse_size(ts, &p->transfer_size, e2) != 0) {
            plan_free(p);
            return ab_err(err, "--transfer-size: %s", e2);
        }
    }
    return 0;
}

static int membw_plan_init(const ab_options *o, void *p, char *err)
{
    return plan_make(o, p, err);
}

static void membw_plan_clear(void *p)
{
    plan_free(p);
}

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

/* The headline working set: the smallest power of two >= 4x the last-level cache, and at least
 * 64 MiB on the CPU backend, 1 GiB on devices driven through a runtime (GPUs, OpenCL): their
 * kernels pay a fixed cost per launch inside the timed command (PoCL measured 15-20 % slower at
 * 128 MiB than at 1 GiB, interleaved in one process), which a long kernel amortises. Never more
 * than a quarter of the device's memory. */
uint64_t ab_membw_headline_ws(const ab_device *d)
{
    bool cpu = ab_membw_host_backend(d);
    uint64_t llc = d->info.cache_bytes ? d->info.cache_bytes : (cpu ? 32u << 20 : 64u << 20);
    uint64_t ws = pow2_at_least(4 * llc);
    uint64_t floor_ws = cpu ? (64ull << 20) : (1ull << 30);
    if (ws < floor_ws)
        ws = floor_ws;
    while (d->info.mem_bytes && ws > d->info.mem_bytes / 4 && ws > (1u << 20))
        ws >>= 1;
    return ws;
}

static uint64_t sweep_floor(const ab_device *d)
{
    /* half of the aggregate L1 keeps every thread's share L1-resident */
    if (d->info.l1_bytes && d->info.compute_units > 0 && d->info.host_memory)
        return d->info.l1_bytes * (uint64_t)d->info.compute_units / 2;
    return d->info.host_memory ? (64u << 10) : (256u << 10);
}

static double sweep_step(const char *profile)
{
    if (strcmp(profile, "quick") == 0)
        return 4.0;
    if (strcmp(profile, "standard") == 0)
        return 2.0;
    return sqrt(2.0);
}

static int no_fp64(ab_case *c, const ab_device *d, char *why)
{
    (void)c;
    if (d->info.fp64)
        return 0;
    snprintf(why, AB_ERRLEN, "device has no double precision");
    return AB_CASE_SKIP;
}

static const ab_case_ops no_fp64_ops = {.applies = no_fp64};

/* One dtype: the headline size (or the --sizes given) for every kernel, then the sweep below
 * it by the profile's step, down to L1-resident, for the swept kernels. */
static int add_dtype(ab_caselist *l, bool f64)
{
    const ab_membw_plan *p = ab_caselist_plan(l);
    const ab_device *dev = ab_caselist_ctx(l)->dev;
    const char *profile = ab_caselist_ctx(l)->opt->profile;
    bool all[AB_MB_NKERNELS];
    for (int k = 0; k < AB_MB_NKERNELS; k++)
        all[k] = true;
    if (f64 && no_fp64(NULL, dev, (char[AB_ERRLEN]){0})) {
        for (int k = 0; k < AB_MB_NKERNELS; k++) { /* one skip per kernel */
            char key[32];
            snprintf(key, sizeof(key), "membw.%s", kinfo(k)->name);
            ab_case *c = ab_case_new(l, key, "ordinary", &no_fp64_ops, 0);
            if (!c)
                return -1;
            ab_result_param_str(c->r, "dtype", "f64");
        }
        return 0;
    }
    if (p->sizes) {
        uint64_t largest = 0;
        for (size_t i = 0; i < p->nsizes; i++)
            largest = p->sizes[i] > largest ? p->sizes[i] : largest;
        for (size_t i = 0; i < p->nsizes; i++)
            if (ab_membw_add_size(l, f64, p->sizes[i], all, p->sizes[i] == largest) != 0)
                return -1;
        return 0;
    }
    uint64_t top = ab_membw_headline_ws(dev);
    if (ab_membw_add_size(l, f64, top, all, true) != 0)
        return -1;
    double step = sweep_step(profile);
    uint64_t floor_ws = sweep_floor(dev);
    for (int i = 1;; i++) {
        uint64_t ws = (uint64_t)((double)top / pow(step, i));
        ws -= ws % 1024;
        if (ws < floor_ws)
            break;
        if (ab_membw_add_size(l, f64, ws, p->sweep, false) != 0)
            return -1;
    }
    return 0;
}

/* ---- the suite ---- */

static int membw_generate(ab_caselist *l, char *err)
{
    const ab_membw_plan *p = ab_caselist_plan(l);
    if (!p->dtype[0] && !p->dtype[1])
        return ab_caselist_suite_result(l, AB_SKIP,
                                        "no requested --dtype applies to membw (f32, f64)");
    for (int di = 1; di >= 0; di--) /* f64 first */
        if (p->dtype[di] && add_dtype(l, di == 1) != 0)
            return ab_err(err, "out of memory");
    if (ab_membw_add_transfers(l) != 0)
        return ab_err(err, "out of memory");
    return 0;
}

static const void *membw_impl(const ab_device *d)
{
    return ab_device_impls(d)->membw;
}

static const ab_case_suite membw_cases = {
    .impl = membw_impl,
    .plan_size = sizeof(ab_membw_plan),
    .plan_init = membw_plan_init,
    .plan_clear = membw_plan_clear,
    .generate = membw_generate,
};

/* bandwidth against working set (the kernels) and transfer size (the copies) */
static const ab_sweep_decl sweeps[] = {
    {"membw.h2d", "bytes", true}, {"membw.d2h", "bytes", true}, {"membw.d2d", "bytes", true},
    {"membw.", "working_set", true}, {NULL, NULL, false},
};

static const ab_suite_display membw_display = {.sweeps = sweeps};

const ab_suite ab_suite_membw = {
    .name = "membw",
    .summary = "memory bandwidth: copy, scale, add, triad, dot, read, write; transfers",
    .keys = keys,
    .params = params,
    .run = ab_caserun,
    .cases = &membw_cases,
    .display = &membw_display,
};


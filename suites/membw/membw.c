/* SPDX-License-Identifier: MIT */
/*
 * membw suite: the cases (working-set sweep, headline size, transfers), validation of every run
 * and the kernel records' formulas, declared for the runner loop (suites/case.h), which samples,
 * validates, marks headlines and emits. Backend kernels live in membw_<backend>.c /
 * membw_gpu.cu behind ab_membw_impl; each kernel is described once, in membw.h
 * (ab_membw_kernel_get).
 */
#include "membw.h"

#include "../case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/cpu.h"
#include "../../core/formula.h"

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

typedef struct plan {
    bool dtype[2];           /* [0] f32, [1] f64 */
    uint64_t *sizes;         /* explicit sizes, or NULL */
    size_t nsizes;
    bool sweep[AB_MB_NKERNELS];
    uint64_t transfer_size;  /* 0: by device */
    /* state of the device run: the host copy for validation, kept across cases (a fresh
     * gigabyte per case would cost more in page faults than the measurement itself) */
    void *scratch;
    size_t scratch_bytes;
} plan;

static void plan_free(plan *p)
{
    free(p->sizes);
    free(p->scratch);
}

static int plan_make(const ab_options *o, plan *p, char *err)
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

static void *membw_plan_new(const ab_options *o, char *err)
{
    plan *p = malloc(sizeof(*p));
    if (!p) {
        ab_err(err, "out of memory");
        return NULL;
    }
    if (plan_make(o, p, err) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void membw_plan_free(void *p)
{
    plan_free(p);
    free(p);
}

/* ---- capabilities (one line each: where a backend hook will answer) ---- */

static bool is_cpu_backend(const ab_device *d)
{
    return strcmp(d->backend->name, "cpu") == 0;
}

static int cpu_threads(const ab_device *d)
{
    return ((const ab_cpu_dev *)d->h)->threads;
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
    bool cpu = strcmp(d->backend->name, "cpu") == 0;
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

/* ---- validation ---- */

typedef struct mismatch {
    size_t bad;
    size_t first_bad;
    double got, want;
} mismatch;

static void check_array(const void *host, bool f64, size_t n, double want, mismatch *ck)
{
    /* Tolerance: a few units in the last place, allowing for an FMA on one side and separate
     * multiply and add on the other. A skipped or corrupted element is off by far more. */
    double eps = f64 ? 2.220446049250313e-16 : 1.1920928955078125e-07;
    double tol = 4.0 * eps * fabs(want);
    for (size_t i = 0; i < n; i++) {
        double v = f64 ? ((const double *)host)[i] : (double)((const float *)host)[i];
        if (!(fabs(v - want) <= tol)) {
            if (!ck->bad) {
                ck->first_bad = i;
                ck->got = v;
                ck->want = want;
            }
            ck->bad++;
        }
    }
}

/* ---- the kernel records: what follows from reads, writes and op ---- */

static int count_arrays(unsigned m)
{
    return !!(m & AB_MB_A) + !!(m & AB_MB_B) + !!(m & AB_MB_C);
}

static bool is_reduction(const ab_membw_kernel_info *ki)
{
    return ki->writes == 0;
}

/* one FLOP per + and * of op, plus the accumulation of a reduction */
static int kernel_flops(const ab_membw_kernel_info *ki)
{
    int n = is_reduction(ki);
    for (const char *p = ki->op; *p; p++)
        n += *p == '+' || *p == '*';
    return n;
}

/* "read a and b, write c" */
static void stream_note(const ab_membw_kernel_info *ki, char *buf, size_t len)
{
    static const char names[3] = {'a', 'b', 'c'};
    size_t o = 0;
    for (int w = 0; w < 2; w++) {
        unsigned m = w ? ki->writes : ki->reads;
        if (!m)
            continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", w ? "write" : "read");
        for (int i = 0, k = 0; i < 3; i++)
            if (m & (1u << i))
                o += (size_t)snprintf(buf + o, len - o, "%s%c", k++ ? " and " : " ", names[i]);
    }
}

/* Start values (membw.h): every kernel changes the array it writes, so an element it skipped is
 * caught by validation. */
static int start_value(void *arg, const char *name, double *v)
{
    (void)arg;
    static const struct {
        const char *name;
        double v;
    } vars[] = {{"a", AB_MEMBW_START_A}, {"b", AB_MEMBW_START_B}, {"c", AB_MEMBW_START_C},
                {"q", AB_MEMBW_SCALAR},  {"w", AB_MEMBW_WRITE_VALUE}};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (strcmp(name, vars[i].name) == 0) {
            *v = vars[i].v;
            return 0;
        }
    return -1;
}

/* Expected value of each array after any number of runs of the kernel (for a reduction: of the
 * summed term in want[3]), computed with the same operations in the kernel's own precision
 * (BabelStream's method). */
static int expected(const ab_membw_kernel_info *ki, bool f64, double want[4], char *err)
{
    static const char *const names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        if (ab_formula_eval(names[i], start_value, NULL, !f64, &want[i], err) != 0)
            return -1;
    double v;
    if (ab_formula_eval(ki->op, start_value, NULL, !f64, &v, err) != 0)
        return -1;
    want[3] = v;
    for (int i = 0; i < 3; i++)
        if (ki->writes & (1u << i))
            want[i] = v;
    return 0;
}

/* ---- kernel cases: a group per (dtype, working set, kernel), a case per store variant ---- */

typedef struct mb_group {
    int kernel;
    bool f64;
    size_t n, np;
    uint64_t ws;
    void *bufs[4]; /* a, b, c, partial */
} mb_group;

typedef struct mb_case {
    ab_membw_args args;
} mb_case;

/* Buffers are allocated per kernel with exactly its n elements, so the first touch in init()
 * uses the same partition as the kernel (pages land next to the thread that uses them). */
static int group_setup(ab_group *g, char *err)
{
    mb_group *gd = g->data;
    const ab_device *d = ab_caselist_ctx(g->list)->dev;
    const ab_membw_impl *impl = ab_caselist_impl(g->list);
    plan *p = ab_caselist_plan(g->list);
    size_t s = gd->f64 ? 8 : 4, n = gd->n;
    ab_membw_args a = {.kernel = (ab_membw_kernel)gd->kernel, .f64 = gd->f64, .n = n};
    gd->np = impl->partials(d->h, &a);
    unsigned used = ab_membw_arrays(a.kernel);
    size_t want[4] = {used & AB_MB_A ? n * s : 64, used & AB_MB_B ? n * s : 64,
                      used & AB_MB_C ? n * s : 64, (gd->np ? gd->np : 1) * s};
    char why[AB_ERRLEN] = "", wsb[32];
    bool ok = true;
    for (int i = 0; i < 4 && ok; i++)
        ok = d->backend->ops->mem_alloc(d->h, want[i], &gd->bufs[i], why) == 0;
    size_t need = (n > gd->np ? n : gd->np) * s;
    if (ok && !is_cpu_backend(d) && need > p->scratch_bytes) {
        free(p->scratch);
        p->scratch = malloc(need);
        p->scratch_bytes = p->scratch ? need : 0;
        if (!p->scratch) {
            snprintf(why, sizeof(why), "out of host memory for the validation copy");
            ok = false;
        }
    }
    if (ok)
        return 0;
    ab_format_bytes(gd->ws, wsb, sizeof(wsb));
    snprintf(err, AB_ERRLEN, "working set %s does not fit: %.200s", wsb, why);
    return AB_CASE_SKIP;
}

static void group_teardown(ab_group *g)
{
    mb_group *gd = g->data;
    const ab_device *d = ab_caselist_ctx(g->list)->dev;
    for (int i = 0; i < 4; i++)
        if (gd->bufs[i])
            d->backend->ops->mem_free(d->h, gd->bufs[i]);
    memset(gd->bufs, 0, sizeof(gd->bufs));
}

static int kernel_setup(ab_case *c, char *err)
{
    mb_case *mc = c->data;
    const mb_group *gd = c->group->data;
    mc->args.a = gd->bufs[0], mc->args.b = gd->bufs[1], mc->args.c = gd->bufs[2];
    mc->args.partial = gd->bufs[3], mc->args.npartial = gd->np;
    const ab_membw_impl *impl = c->impl;
    char e[AB_ERRLEN] = "";
    if (impl->init(c->ctx->dev->h, &mc->args, e) != 0)
        return ab_err(err, "init: %.240s", e);
    return 0;
}

static int kernel_run(ab_case *c, long iters, double *sec, char *err)
{
    const ab_membw_args *a = &((mb_case *)c->data)->args;
    const ab_device *d = c->ctx->dev;
    const ab_membw_impl *impl = c->impl;
    if (d->backend->ops->timer_start(d->h, err) || impl->run(d->h, a, iters, err) ||
        d->backend->ops->timer_stop(d->h, sec, err))
        return -1;
    return 0;
}

/* Test hook (--test-corrupt KEY): damages one output element on the device -- the array the
 * kernel writes, or the first partial sum of a reduction -- as a broken kernel would. */
static int kernel_corrupt(ab_case *c, char *err)
{
    const ab_membw_args *a = &((mb_case *)c->data)->args;
    const ab_membw_kernel_info *ki = kinfo(a->kernel);
    const ab_device *d = c->ctx->dev;
    size_t s = a->f64 ? 8 : 4;
    void *target = is_reduction(ki)              ? a->partial
                   : ki->writes & AB_MB_A ? a->a
                   : ki->writes & AB_MB_B ? a->b
                                          : a->c;
    size_t idx = is_reduction(ki) ? 0 : a->n / 2;
    double bad64 = -12345.0;
    float bad32 = -12345.0f;
    const void *src = a->f64 ? (const void *)&bad64 : (const void *)&bad32;
    if (d->backend->ops->copy(d->h, AB_COPY_H2D, target, src, idx * s, s, err) ||
        d->backend->ops->sync(d->h, err))
        return -1;
    return 0;
}

/* Reads device buffer `mem` into host memory (or points at it directly on the CPU backend,
 * whose device memory is host memory). */
static const void *fetch(const ab_case *c, void *mem, size_t bytes, char *err)
{
    const ab_device *d = c->ctx->dev;
    if (is_cpu_backend(d))
        return mem;
    void *scratch = ((plan *)c->plan)->scratch;
    if (d->backend->ops->copy(d->h, AB_COPY_D2H, scratch, mem, 0, bytes, err) ||
        d->backend->ops->sync(d->h, err))
        return NULL;
    return scratch;
}

static int validate_sum(ab_case *c, ab_result *r, ab_verdict *v, const double *want, char *err)
{
    const ab_membw_args *a = &((mb_case *)c->data)->args;
    size_t s = a->f64 ? 8 : 4;
    const void *h = fetch(c, a->partial, a->npartial * s, err);
    if (!h)
        return -1;
    double sum = 0.0;
    for (size_t i = 0; i < a->npartial; i++)
        sum += a->f64 ? ((const double *)h)[i] : (double)((const float *)h)[i];
    double total = want[3] * (double)a->n;
    /* Reductions reassociate the sum; allow the rounding of a blocked f32 sum. */
    double tol = a->f64 ? 1e-10 : 1e-4;
    double rel = fabs(sum - total) / fabs(total);
    json_object_set_new(r->extra, "sum", json_real(sum));
    json_object_set_new(r->extra, "sum_expected", json_real(total));
    v->max_error = rel;
    if (!(rel <= tol)) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "sum %.17g, expected %.17g (relative error %.3g > %g)",
                 sum, total, rel, tol);
    }
    return 0;
}

static int kernel_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    const ab_membw_args *a = &((mb_case *)c->data)->args;
    const ab_membw_kernel_info *ki = kinfo(a->kernel);
    double want[4];
    if (expected(ki, a->f64, want, err) != 0)
        return -1;
    if (is_reduction(ki))
        return validate_sum(c, r, v, want, err);
    void *bufs[3] = {a->a, a->b, a->c};
    const char names[3] = {'a', 'b', 'c'};
    size_t checked = 0, bytes = a->n * (a->f64 ? 8 : 4);
    for (int i = 0; i < 3; i++) {
        if (!(ab_membw_arrays(a->kernel) & (1u << i)))
            continue;
        const void *h = fetch(c, bufs[i], bytes, err);
        if (!h)
            return -1;
        mismatch ck = {0};
        check_array(h, a->f64, a->n, want[i], &ck);
        checked += a->n;
        if (ck.bad) {
            v->fail = true;
            snprintf(v->msg, sizeof(v->msg),
                     "%zu of %zu elements of %c wrong; first at %zu: %.9g, expected %.9g",
                     ck.bad, a->n, names[i], ck.first_bad, ck.got, ck.want);
            break;
        }
    }
    json_object_set_new(r->extra, "elements_checked", json_integer((json_int_t)checked));
    return 0;
}

static const ab_group_ops group_ops = {.setup = group_setup, .teardown = group_teardown};
static const ab_case_ops kernel_ops = {.setup = kernel_setup,
                                       .run = kernel_run,
                                       .corrupt = kernel_corrupt,
                                       .validate = kernel_validate};

/* The case of store variant `streaming` in group g: params, formulas, metric. */
static int add_variant(ab_group *g, const char *key, bool streaming, bool headline)
{
    const mb_group *gd = g->data;
    const ab_membw_kernel_info *ki = kinfo(gd->kernel);
    const ab_device *d = ab_caselist_ctx(g->list)->dev;
    ab_case *c = ab_case_add(g, key, streaming ? "streaming" : "ordinary", &kernel_ops,
                             sizeof(mb_case));
    if (!c)
        return -1;
    ((mb_case *)c->data)->args = (ab_membw_args){.kernel = (ab_membw_kernel)gd->kernel,
                                                 .f64 = gd->f64, .streaming = streaming,
                                                 .n = gd->n};
    ab_result_param_int(c->r, "n", (long long)gd->n);
    if (is_cpu_backend(d))
        ab_result_param_int(c->r, "threads", cpu_threads(d));
    char bytes[32], flops[32], note[64], text[160];
    snprintf(bytes, sizeof(bytes), "%d*n*s", count_arrays(ki->reads | ki->writes));
    snprintf(flops, sizeof(flops), "%d*n", kernel_flops(ki));
    stream_note(ki, note, sizeof(note));
    snprintf(text, sizeof(text), "%s B / t (%s)", bytes, note);
    c->headline = headline;
    if (ab_case_var(c, "s", gd->f64 ? 8 : 4) != 0 ||
        ab_case_extra(c, "bytes_per_iter", bytes, false) != 0 ||
        (kernel_flops(ki) && ab_case_extra(c, "flops_per_iter", flops, false) != 0) ||
        ab_case_metric(c, "bandwidth", "B/s", true, bytes, text) != 0)
        return -1;
    return 0;
}

/* Every kernel of `kernels` at working set ws for one dtype, both store variants where they
 * exist; with `headline` the better variant of each kernel is the headline. */
static int add_size(ab_caselist *l, bool f64, uint64_t ws, const bool *kernels, bool headline)
{
    const ab_membw_impl *impl = ab_caselist_impl(l);
    size_t s = f64 ? 8 : 4;
    for (int k = 0; k < AB_MB_NKERNELS; k++) {
        if (!kernels[k])
            continue;
        const ab_membw_kernel_info *ki = kinfo(k);
        size_t n = (size_t)(ws / ((uint64_t)count_arrays(ki->reads | ki->writes) * s));
        /* a multiple of 1024 elements: whole cache lines per thread chunk (aligned vector and
         * streaming stores) and whole work-items for the OpenCL reductions (64 elements) */
        n -= n % 1024;
        if (n == 0)
            continue;
        char key[32];
        snprintf(key, sizeof(key), "membw.%s", ki->name);
        ab_group *g = ab_group_add(l, key, "ordinary", &group_ops, sizeof(mb_group));
        if (!g)
            return -1;
        g->skip_one = true;
        *(mb_group *)g->data = (mb_group){.kernel = k, .f64 = f64, .n = n, .ws = ws};
        ab_result_param_str(g->r, "dtype", f64 ? "f64" : "f32");
        ab_result_param_int(g->r, "working_set", (long long)ws);
        int nv = ki->writes && impl->has_streaming ? 2 : 1;
        for (int v = 0; v < nv; v++)
            if (add_variant(g, key, v == 1, headline) != 0)
                return -1;
    }
    return 0;
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
    const plan *p = ab_caselist_plan(l);
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
            if (add_size(l, f64, p->sizes[i], all, p->sizes[i] == largest) != 0)
                return -1;
        return 0;
    }
    uint64_t top = ab_membw_headline_ws(dev);
    if (add_size(l, f64, top, all, true) != 0)
        return -1;
    double step = sweep_step(profile);
    uint64_t floor_ws = sweep_floor(dev);
    for (int i = 1;; i++) {
        uint64_t ws = (uint64_t)((double)top / pow(step, i));
        ws -= ws % 1024;
        if (ws < floor_ws)
            break;
        if (add_size(l, f64, ws, p->sweep, false) != 0)
            return -1;
    }
    return 0;
}

/* ---- transfers: host->device, device->host (pinned and pageable), device->device ---- */

typedef struct xfer {
    const char *what; /* h2d, d2h, d2d */
    bool pinned;
    size_t bytes;
    void *dmem, *dmem2, *host, *check;
    ab_copy_dir dir;
    void *dst;
    const void *src;
} xfer;

static int no_transfers(ab_case *c, const ab_device *d, char *why)
{
    (void)c;
    if (!is_cpu_backend(d))
        return 0;
    snprintf(why, AB_ERRLEN, "the CPU computes in host memory: no transfer to measure");
    return AB_CASE_SKIP;
}

static void fill_pattern(void *p, size_t bytes, uint32_t seed)
{
    uint32_t *w = p;
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < bytes / 4; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        w[i] = x;
    }
}


static int xfer_setup(ab_case *c, char *err)
{
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    const ab_backend_ops *ops = d->backend->ops;
    void *h = d->h;
    bool d2d = strcmp(x->what, "d2d") == 0, h2d = strcmp(x->what, "h2d") == 0;
    char e[AB_ERRLEN] = "";
    if (ops->mem_alloc(h, x->bytes, &x->dmem, e) ||
        (d2d && ops->mem_alloc(h, x->bytes, &x->dmem2, e)) ||
        ops->host_alloc(h, x->bytes, x->pinned, &x->host, e) || !(x->check = malloc(x->bytes))) {
        ab_err(err, "cannot allocate %zu bytes: %.200s", x->bytes, *e ? e : "out of memory");
        return AB_CASE_SKIP;
    }
    fill_pattern(x->host, x->bytes, 7);
    if (h2d) {
        x->dir = AB_COPY_H2D, x->dst = x->dmem, x->src = x->host;
        return 0;
    }
    if (ops->copy(h, AB_COPY_H2D, x->dmem, x->host, 0, x->bytes, err) || ops->sync(h, err))
        return -1;
    if (d2d) {
        x->dir = AB_COPY_D2D, x->dst = x->dmem2, x->src = x->dmem;
    } else {
        memcpy(x->check, x->host, x->bytes);
        memset(x->host, 0, x->bytes);
        x->dir = AB_COPY_D2H, x->dst = x->host, x->src = x->dmem;
    }
    return 0;
}

static int xfer_run(ab_case *c, long iters, double *sec, char *err)
{
    const xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    const ab_backend_ops *ops = d->backend->ops;
    if (ops->timer_start(d->h, err))
        return -1;
    for (long i = 0; i < iters; i++)
        if (ops->copy(d->h, x->dir, x->dst, x->src, 0, x->bytes, err))
            return -1;
    return ops->timer_stop(d->h, sec, err);
}

/* --test-corrupt: one byte of the destination flipped */
static int xfer_corrupt(ab_case *c, char *err)
{
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    size_t mid = x->bytes / 2;
    if (x->dir == AB_COPY_D2H) {
        ((unsigned char *)x->host)[mid] ^= 0xff;
        return 0;
    }
    unsigned char bad = ((const unsigned char *)x->host)[mid] ^ 0xff;
    if (d->backend->ops->copy(d->h, AB_COPY_H2D, x->dst, &bad, mid, 1, err) ||
        d->backend->ops->sync(d->h, err))
        return -1;
    return 0;
}

/* the destination holds exactly the source pattern */
static int xfer_validate(ab_case *c, ab_result *r, ab_verdict *v, char *err)
{
    (void)r;
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    if (x->dir != AB_COPY_D2H) {
        if (d->backend->ops->copy(d->h, AB_COPY_D2H, x->check, x->dst, 0, x->bytes, err) ||
            d->backend->ops->sync(d->h, err))
            return -1;
    }
    if (memcmp(x->check, x->host, x->bytes) != 0) {
        v->fail = true;
        snprintf(v->msg, sizeof(v->msg), "%s",
                 x->dir == AB_COPY_D2H ? "host buffer differs from device data after copy"
                                       : "destination differs from the source after copy");
    }
    return 0;
}

static void xfer_teardown(ab_case *c)
{
    xfer *x = c->data;
    const ab_device *d = c->ctx->dev;
    const ab_backend_ops *ops = d->backend->ops;
    if (x->dmem)
        ops->mem_free(d->h, x->dmem);
    if (x->dmem2)
        ops->mem_free(d->h, x->dmem2);
    if (x->host)
        ops->host_free(d->h, x->host, x->pinned);
    free(x->check);
    x->dmem = x->dmem2 = x->host = x->check = NULL;
}

static const ab_case_ops xfer_ops = {.applies = no_transfers,
                                     .setup = xfer_setup,
                                     .run = xfer_run,
                                     .corrupt = xfer_corrupt,
                                     .validate = xfer_validate,
                                     .teardown = xfer_teardown};

static int add_transfers(ab_caselist *l)
{
    static const struct {
        const char *what;
        bool pinned;
    } cases[] = {{"h2d", true}, {"h2d", false}, {"d2h", true}, {"d2h", false}, {"d2d", false}};
    const ab_suite_ctx *ctx = ab_caselist_ctx(l);
    const ab_device *dev = ctx->dev;
    const plan *p = ab_caselist_plan(l);
    bool none = no_transfers(NULL, dev, (char[AB_ERRLEN]){0}) != 0;
    size_t bytes = p->transfer_size;
    if (!bytes) {
        /* quick: 256 MiB; otherwise 1 GiB; never above an eighth of device memory */
        bytes = strcmp(ctx->opt->profile, "quick") == 0 ? (256u << 20) : (1u << 30);
        while (dev->info.mem_bytes && bytes > dev->info.mem_bytes / 8 && bytes > (1u << 20))
            bytes >>= 1;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (none && !cases[i].pinned && strcmp(cases[i].what, "d2d") != 0)
            continue; /* one skip per key is enough */
        bool d2d = strcmp(cases[i].what, "d2d") == 0;
        char key[32];
        snprintf(key, sizeof(key), "membw.%s", cases[i].what);
        ab_case *c = ab_case_new(l, key, d2d ? "copy-engine" : cases[i].pinned ? "pinned"
                                                                               : "pageable",
                                 &xfer_ops, sizeof(xfer));
        if (!c)
            return -1;
        *(xfer *)c->data = (xfer){.what = cases[i].what, .pinned = cases[i].pinned,
                                  .bytes = bytes};
        if (none)
            continue;
        ab_result_param_int(c->r, "bytes", (long long)bytes);
        if (ab_case_metric(c, "bandwidth", "B/s", true, d2d ? "2*bytes" : "bytes",
                           d2d ? "2*bytes / t (read plus write)" : "bytes / t") != 0)
            return -1;
    }
    return 0;
}

/* ---- the suite ---- */

static int membw_generate(ab_caselist *l, char *err)
{
    const plan *p = ab_caselist_plan(l);
    if (!p->dtype[0] && !p->dtype[1])
        return ab_caselist_suite_result(l, AB_SKIP,
                                        "no requested --dtype applies to membw (f32, f64)");
    for (int di = 1; di >= 0; di--) /* f64 first */
        if (p->dtype[di] && add_dtype(l, di == 1) != 0)
            return ab_err(err, "out of memory");
    if (add_transfers(l) != 0)
        return ab_err(err, "out of memory");
    return 0;
}

static const ab_case_suite membw_cases = {
    .impl = "membw",
    .plan_new = membw_plan_new,
    .plan_free = membw_plan_free,
    .generate = membw_generate,
};

static int membw_check(const ab_options *o, char *err)
{
    return ab_caserun_check_suite(&membw_cases, o, err);
}

const ab_suite ab_suite_membw = {
    .name = "membw",
    .summary = "memory bandwidth: copy, scale, add, triad, dot, read, write; transfers",
    .keys = keys,
    .params = params,
    .check = membw_check,
    .run = ab_caserun,
    .cases = &membw_cases,
};

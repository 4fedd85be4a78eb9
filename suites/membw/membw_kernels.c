/* SPDX-License-Identifier: MIT */
/*
 * membw's kernel cases: a group per (dtype, working set, kernel) owning the buffers, a case per
 * store variant. Everything about a kernel follows from its one record in membw.h: bytes and
 * FLOP formulas (the recorded text), streams to check, the expected values, what to corrupt.
 */
#include "membw_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../core/formula.h"

static const ab_membw_kernel_info *kinfo(int k)
{
    return ab_membw_kernel_get((ab_membw_kernel)k);
}

static int cpu_threads(const ab_device *d)
{
    return d->info.threads;
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
    ab_membw_plan *p = ab_caselist_plan(g->list);
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
    if (ok && !ab_membw_host_backend(d) && need > p->scratch_bytes) {
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
    if (ab_membw_host_backend(d))
        return mem;
    void *scratch = ((ab_membw_plan *)c->plan)->scratch;
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
    if (ab_membw_host_backend(d))
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
int ab_membw_add_size(ab_caselist *l, bool f64, uint64_t ws, const bool *kernels, bool headline)
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


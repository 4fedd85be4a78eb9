/* SPDX-License-Identifier: MIT */
/*
 * membw suite descriptor and driver: case planning (working-set sweep, headline size), sampling
 * through the backend timer, validation of every run, metrics. Backend kernels live in
 * membw_<backend>.c / membw_gpu.cu behind ab_membw_impl.
 */
#include "membw.h"

#include "../suite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kernel_names[AB_MB_NKERNELS] = {"copy", "scale", "add",  "triad",
                                                         "dot",  "read",  "write"};
/* floating-point operations per element (the roofline places a kernel at FLOPs / bytes):
 * scale q*c, add a+b, triad b+q*c, dot a*b accumulated, read a accumulated */
static const int kernel_flops[AB_MB_NKERNELS] = {0, 1, 1, 2, 2, 1, 0};
/* arrays each kernel streams, and which of them it writes */
static const bool kernel_writes[AB_MB_NKERNELS] = {true, true, true, true, false, false, true};
static const char *const kernel_formula[AB_MB_NKERNELS] = {
    "2*n*s B / t (read a, write c)",       "2*n*s B / t (read c, write b)",
    "3*n*s B / t (read a and b, write c)", "3*n*s B / t (read b and c, write a)",
    "2*n*s B / t (read a and b)",          "1*n*s B / t (read a)",
    "1*n*s B / t (write c)",
};

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

/* Start values (membw.h): every kernel changes the array it writes, so an element it skipped is
 * caught by validation. */
static const double start_a = AB_MEMBW_START_A, start_b = AB_MEMBW_START_B,
                    start_c = AB_MEMBW_START_C;

typedef struct plan {
    bool dtype[2];           /* [0] f32, [1] f64 */
    uint64_t *sizes;         /* explicit sizes, or NULL */
    size_t nsizes;
    bool sweep[AB_MB_NKERNELS];
    uint64_t transfer_size;  /* 0: by device */
} plan;

static void plan_free(plan *p)
{
    free(p->sizes);
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
                if (strcmp(v[i], "all") == 0 || strcmp(v[i], kernel_names[k]) == 0) {
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

static int membw_check(const ab_options *o, char *err)
{
    plan p;
    if (plan_make(o, &p, err) != 0)
        return -1;
    plan_free(&p);
    return 0;
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
    bool cpu = d->info.kind == AB_KIND_HOST;
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

typedef struct mb_case {
    const ab_device *dev;
    const ab_backend_ops *ops;
    const ab_membw_impl *impl;
    ab_membw_args args;
    /* host copy for validation, kept across cases: a fresh gigabyte per case would cost more
     * in page faults than the measurement itself */
    void *scratch;
    size_t scratch_bytes;
} mb_case;

static void *scratch_get(mb_case *c, size_t bytes)
{
    if (bytes > c->scratch_bytes) {
        free(c->scratch);
        c->scratch = malloc(bytes);
        c->scratch_bytes = c->scratch ? bytes : 0;
    }
    return c->scratch;
}

static int timed_kernel(void *arg, long iters, double *sec, char *err)
{
    mb_case *c = arg;
    void *h = c->dev->h;
    if (c->ops->timer_start(h, err) || c->impl->run(h, &c->args, iters, err) ||
        c->ops->timer_stop(h, sec, err))
        return -1;
    return 0;
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

/* Expected value of each array after any number of runs of the kernel, computed with the same
 * operations in the kernel's own precision (BabelStream's method). */
static void expected(ab_membw_kernel k, bool f64, double *ea, double *eb, double *ec)
{
    if (f64) {
        double a = start_a, b = start_b, c = start_c, q = AB_MEMBW_SCALAR;
        switch (k) {
        case AB_MB_COPY: c = a; break;
        case AB_MB_SCALE: b = q * c; break;
        case AB_MB_ADD: c = a + b; break;
        case AB_MB_TRIAD: a = b + q * c; break;
        case AB_MB_WRITE: c = AB_MEMBW_WRITE_VALUE; break;
        default: break;
        }
        *ea = a, *eb = b, *ec = c;
    } else {
        float a = (float)start_a, b = (float)start_b, c = (float)start_c;
        float q = (float)AB_MEMBW_SCALAR;
        switch (k) {
        case AB_MB_COPY: c = a; break;
        case AB_MB_SCALE: b = q * c; break;
        case AB_MB_ADD: c = a + b; break;
        case AB_MB_TRIAD: a = b + q * c; break;
        case AB_MB_WRITE: c = (float)AB_MEMBW_WRITE_VALUE; break;
        default: break;
        }
        *ea = a, *eb = b, *ec = c;
    }
}

static bool kernel_uses(ab_membw_kernel k, char arr)
{
    return ab_membw_arrays(k) & (arr == 'a' ? AB_MB_A : arr == 'b' ? AB_MB_B : AB_MB_C);
}

static int kernel_arrays(ab_membw_kernel k)
{
    unsigned m = ab_membw_arrays(k);
    return !!(m & AB_MB_A) + !!(m & AB_MB_B) + !!(m & AB_MB_C);
}

static bool is_cpu_backend(const ab_device *d)
{
    return d->info.kind == AB_KIND_HOST;
}

/* Reads n elements of device buffer `mem` into host memory (or points at it directly on the CPU
 * backend, whose device memory is host memory). */
static const void *fetch(const mb_case *c, void *mem, size_t bytes, void *scratch, char *err)
{
    if (is_cpu_backend(c->dev))
        return mem;
    if (c->ops->copy(c->dev->h, AB_COPY_D2H, scratch, mem, 0, bytes, err) ||
        c->ops->sync(c->dev->h, err))
        return NULL;
    return scratch;
}

/* Test hook (--test-corrupt KEY): damages one output element on the device, as a broken kernel
 * would, so the tests can prove validation turns it into a failure. */
static int corrupt_output(const mb_case *c, char *err)
{
    const ab_membw_args *a = &c->args;
    size_t s = a->f64 ? 8 : 4;
    void *target = a->kernel == AB_MB_TRIAD ? a->a : a->kernel == AB_MB_SCALE ? a->b
                   : (a->kernel == AB_MB_DOT || a->kernel == AB_MB_READ) ? a->partial
                                                                           : a->c;
    size_t idx = (a->kernel == AB_MB_DOT || a->kernel == AB_MB_READ) ? 0 : a->n / 2;
    double bad64 = -12345.0;
    float bad32 = -12345.0f;
    const void *src = a->f64 ? (const void *)&bad64 : (const void *)&bad32;
    if (c->ops->copy(c->dev->h, AB_COPY_H2D, target, src, idx * s, s, err) ||
        c->ops->sync(c->dev->h, err))
        return -1;
    return 0;
}

static int validate(const mb_case *c, ab_result *r, void *scratch, char *err)
{
    const ab_membw_args *a = &c->args;
    size_t s = a->f64 ? 8 : 4, bytes = a->n * s;
    if (a->kernel == AB_MB_DOT || a->kernel == AB_MB_READ) {
        const void *h = fetch(c, a->partial, a->npartial * s, scratch, err);
        if (!h)
            return -1;
        double sum = 0.0;
        for (size_t i = 0; i < a->npartial; i++)
            sum += a->f64 ? ((const double *)h)[i] : (double)((const float *)h)[i];
        double ea, eb, ec, want;
        expected(a->kernel, a->f64, &ea, &eb, &ec);
        if (a->kernel == AB_MB_DOT) {
            double prod = a->f64 ? ea * eb : (double)((float)ea * (float)eb);
            want = prod * (double)a->n;
        } else {
            want = ea * (double)a->n;
        }
        /* Reductions reassociate the sum; allow the rounding of a blocked f32 sum. */
        double tol = a->f64 ? 1e-10 : 1e-4;
        double rel = fabs(sum - want) / fabs(want);
        json_object_set_new(r->extra, "sum", json_real(sum));
        json_object_set_new(r->extra, "sum_expected", json_real(want));
        if (!(rel <= tol))
            ab_result_set_status(r, AB_FAIL, "sum %.17g, expected %.17g (relative error %.3g > %g)",
                                 sum, want, rel, tol);
        return 0;
    }
    double want[3];
    expected(a->kernel, a->f64, &want[0], &want[1], &want[2]);
    void *bufs[3] = {a->a, a->b, a->c};
    const char names[3] = {'a', 'b', 'c'};
    size_t checked = 0;
    for (int i = 0; i < 3; i++) {
        if (!kernel_uses(a->kernel, names[i]))
            continue;
        const void *h = fetch(c, bufs[i], bytes, scratch, err);
        if (!h)
            return -1;
        mismatch ck = {0};
        check_array(h, a->f64, a->n, want[i], &ck);
        checked += a->n;
        if (ck.bad) {
            ab_result_set_status(r, AB_FAIL,
                                 "%zu of %zu elements of %c wrong; first at %zu: %.9g, expected "
                                 "%.9g",
                                 ck.bad, a->n, names[i], ck.first_bad, ck.got, ck.want);
            break;
        }
    }
    json_object_set_new(r->extra, "elements_checked", json_integer((json_int_t)checked));
    return 0;
}

/* ---- one kernel case ---- */

static ab_result *run_kernel_case(ab_suite_ctx *ctx, mb_case *c, uint64_t ws, void *scratch)
{
    const ab_membw_args *a = &c->args;
    ab_membw_kernel k = a->kernel;
    char key[32];
    snprintf(key, sizeof(key), "membw.%s", kernel_names[k]);
    ab_result *r = ab_suite_result(ctx, key, a->streaming ? "streaming" : "ordinary");
    if (!r)
        return NULL;
    r->extra = json_object();
    size_t s = a->f64 ? 8 : 4;
    uint64_t bytes = (uint64_t)kernel_arrays(k) * a->n * s;
    ab_result_param_str(r, "dtype", a->f64 ? "f64" : "f32");
    ab_result_param_int(r, "working_set", (long long)ws);
    ab_result_param_int(r, "n", (long long)a->n);
    if (is_cpu_backend(c->dev))
        ab_result_param_int(r, "threads", c->dev->info.threads);
    json_object_set_new(r->extra, "bytes_per_iter", json_integer((json_int_t)bytes));
    if (kernel_flops[k])
        json_object_set_new(r->extra, "flops_per_iter",
                            json_integer((json_int_t)kernel_flops[k] * (json_int_t)a->n));
    char err[AB_ERRLEN] = "";
    double t0 = ab_now();
    if (c->impl->init(c->dev->h, a, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "init: %s", err);
        return r;
    }
    ab_timing t;
    if (ab_measure(&ctx->opt->sampling, timed_kernel, c, &t, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        ab_timing_free(&t);
        return r;
    }
    r->warmup_runs = t.warmup_runs;
    r->iters_per_sample = t.iters;
    if (t.n == 0) {
        ab_result_set_status(r, AB_SKIP, "interrupted before the first sample");
        ab_timing_free(&t);
        return r;
    }
    double *bw = malloc(t.n * sizeof(*bw));
    for (size_t i = 0; bw && i < t.n; i++)
        bw[i] = (double)bytes / t.per_iter[i];
    if (!bw || !ab_result_add_metric(r, "bandwidth", "B/s", true, kernel_formula[k], bw, t.n)) {
        ab_result_set_status(r, AB_ERROR, "out of memory");
        free(bw);
        ab_timing_free(&t);
        return r;
    }
    free(bw);
    ab_timing_free(&t);
    if (ctx->opt->corrupt && strcmp(ctx->opt->corrupt, key) == 0 && corrupt_output(c, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "corrupting output: %s", err);
        return r;
    }
    if (validate(c, r, scratch, err) != 0)
        ab_result_set_status(r, AB_ERROR, "validation: %s", err);
    r->time_spent = ab_now() - t0;
    return r;
}

static void free_buffers(const mb_case *c, void **bufs, int n)
{
    for (int i = 0; i < n; i++)
        if (bufs[i])
            c->ops->mem_free(c->dev->h, bufs[i]);
}

static int emit_skip_nofit(ab_suite_ctx *ctx, ab_membw_kernel k, bool f64, uint64_t ws,
                           const char *why)
{
    char key[32], wsb[32];
    snprintf(key, sizeof(key), "membw.%s", kernel_names[k]);
    ab_result *r = ab_suite_result(ctx, key, "ordinary");
    if (!r)
        return -1;
    ab_format_bytes(ws, wsb, sizeof(wsb));
    ab_result_param_str(r, "dtype", f64 ? "f64" : "f32");
    ab_result_param_int(r, "working_set", (long long)ws);
    ab_result_set_status(r, AB_SKIP, "working set %s does not fit: %s", wsb, why);
    return ab_emit(ctx, r);
}

/* Runs every selected kernel at working set `ws` for one dtype, both store variants where they
 * exist. Buffers are allocated per kernel with exactly its n elements, so the first touch in
 * init() uses the same partition as the kernel (pages land next to the thread that uses them).
 * When `headline` is set, the better variant of each kernel is marked as the headline. */
static int run_size(ab_suite_ctx *ctx, mb_case *c, bool f64, uint64_t ws, const bool *kernels,
                    bool headline)
{
    size_t s = f64 ? 8 : 4;
    int rc = 0;
    for (int k = 0; k < AB_MB_NKERNELS && rc == 0 && !ab_interrupted(); k++) {
        if (!kernels[k])
            continue;
        size_t n = (size_t)(ws / ((uint64_t)kernel_arrays((ab_membw_kernel)k) * s));
        /* a multiple of 1024 elements: whole cache lines per thread chunk (aligned vector and
         * streaming stores) and whole work-items for the OpenCL reductions (64 elements) */
        n -= n % 1024;
        if (n == 0)
            continue;
        void *bufs[4] = {NULL, NULL, NULL, NULL};
        void *scratch = NULL;
        char err[AB_ERRLEN] = "";
        c->args = (ab_membw_args){.kernel = (ab_membw_kernel)k, .f64 = f64, .n = n};
        size_t np = c->impl->partials(c->dev->h, &c->args);
        size_t scratch_need = (n > np ? n : np) * s;
        unsigned used = ab_membw_arrays((ab_membw_kernel)k);
        size_t want[4] = {used & AB_MB_A ? n * s : 64, used & AB_MB_B ? n * s : 64,
                          used & AB_MB_C ? n * s : 64, (np ? np : 1) * s};
        bool ok = true;
        for (int i = 0; i < 4 && ok; i++)
            ok = c->ops->mem_alloc(c->dev->h, want[i], &bufs[i], err) == 0;
        if (ok && !is_cpu_backend(c->dev) && !(scratch = scratch_get(c, scratch_need))) {
            snprintf(err, sizeof(err), "out of host memory for the validation copy");
            ok = false;
        }
        if (!ok) {
            free_buffers(c, bufs, 4);
            rc = emit_skip_nofit(ctx, (ab_membw_kernel)k, f64, ws, err);
            continue;
        }
        ab_result *res[2] = {NULL, NULL};
        int nv = (kernel_writes[k] && c->impl->has_streaming) ? 2 : 1;
        for (int v = 0; v < nv && !ab_interrupted(); v++) {
            c->args = (ab_membw_args){.kernel = (ab_membw_kernel)k, .f64 = f64,
                                      .streaming = v == 1, .n = n, .a = bufs[0], .b = bufs[1],
                                      .c = bufs[2], .partial = bufs[3], .npartial = np};
            res[v] = run_kernel_case(ctx, c, ws, scratch);
            if (!res[v])
                rc = -1;
        }
        free_buffers(c, bufs, 4);
        if (headline) {
            int best = -1;
            double best_bw = 0.0;
            for (int v = 0; v < nv; v++) {
                const ab_metric *m = res[v] ? ab_result_metric(res[v], "bandwidth") : NULL;
                if (res[v] && res[v]->status == AB_PASS && m && m->stats.median > best_bw) {
                    best_bw = m->stats.median;
                    best = v;
                }
            }
            if (best >= 0)
                res[best]->headline = true;
        }
        for (int v = 0; v < nv; v++)
            if (res[v] && ab_emit(ctx, res[v]) != 0)
                rc = -1;
    }
    return rc;
}

/* ---- transfers: host->device, device->host (pinned and pageable), device->device ---- */

typedef struct xfer {
    const ab_device *dev;
    const ab_backend_ops *ops;
    ab_copy_dir dir;
    void *dst;
    const void *src;
    size_t bytes;
} xfer;

static int timed_copy(void *arg, long iters, double *sec, char *err)
{
    xfer *x = arg;
    void *h = x->dev->h;
    if (x->ops->timer_start(h, err))
        return -1;
    for (long i = 0; i < iters; i++)
        if (x->ops->copy(h, x->dir, x->dst, x->src, 0, x->bytes, err))
            return -1;
    return x->ops->timer_stop(h, sec, err);
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

static ab_result *run_transfer(ab_suite_ctx *ctx, const mb_case *c, const char *what, bool pinned,
                               size_t bytes)
{
    char key[32];
    snprintf(key, sizeof(key), "membw.%s", what);
    bool d2d = strcmp(what, "d2d") == 0, h2d = strcmp(what, "h2d") == 0;
    ab_result *r = ab_suite_result(ctx, key, d2d ? "copy-engine" : pinned ? "pinned" : "pageable");
    if (!r)
        return NULL;
    r->extra = json_object();
    ab_result_param_int(r, "bytes", (long long)bytes);
    void *h = c->dev->h;
    const ab_backend_ops *ops = c->ops;
    void *dmem = NULL, *dmem2 = NULL, *host = NULL, *check = NULL;
    char err[AB_ERRLEN] = "";
    double t0 = ab_now();
    if (ops->mem_alloc(h, bytes, &dmem, err) ||
        (d2d && ops->mem_alloc(h, bytes, &dmem2, err)) ||
        ops->host_alloc(h, bytes, d2d ? false : pinned, &host, err) || !(check = malloc(bytes))) {
        ab_result_set_status(r, AB_SKIP, "cannot allocate %zu bytes: %s", bytes,
                             *err ? err : "out of memory");
        goto out;
    }
    fill_pattern(host, bytes, 7);
    xfer x = {.dev = c->dev, .ops = ops, .bytes = bytes};
    if (h2d) {
        x.dir = AB_COPY_H2D, x.dst = dmem, x.src = host;
    } else if (d2d) {
        if (ops->copy(h, AB_COPY_H2D, dmem, host, 0, bytes, err) || ops->sync(h, err))
            goto fail;
        x.dir = AB_COPY_D2D, x.dst = dmem2, x.src = dmem;
    } else {
        if (ops->copy(h, AB_COPY_H2D, dmem, host, 0, bytes, err) || ops->sync(h, err))
            goto fail;
        memcpy(check, host, bytes);
        memset(host, 0, bytes);
        x.dir = AB_COPY_D2H, x.dst = host, x.src = dmem;
    }
    ab_timing t;
    if (ab_measure(&ctx->opt->sampling, timed_copy, &x, &t, err) != 0) {
        ab_timing_free(&t);
        goto fail;
    }
    r->warmup_runs = t.warmup_runs;
    r->iters_per_sample = t.iters;
    if (t.n == 0) {
        ab_result_set_status(r, AB_SKIP, "interrupted before the first sample");
        ab_timing_free(&t);
        goto out;
    }
    double counted = d2d ? 2.0 * (double)bytes : (double)bytes;
    double *bw = malloc(t.n * sizeof(*bw));
    for (size_t i = 0; bw && i < t.n; i++)
        bw[i] = counted / t.per_iter[i];
    ab_result_add_metric(r, "bandwidth", "B/s", true,
                         d2d ? "2*bytes / t (read plus write)" : "bytes / t", bw, t.n);
    free(bw);
    ab_timing_free(&t);
    /* validate: the destination holds exactly the source pattern */
    if (h2d || d2d) {
        if (ops->copy(h, AB_COPY_D2H, check, d2d ? dmem2 : dmem, 0, bytes, err) ||
            ops->sync(h, err))
            goto fail;
        if (ctx->opt->corrupt && strcmp(ctx->opt->corrupt, key) == 0)
            ((unsigned char *)check)[bytes / 2] ^= 0xff;
        if (memcmp(check, host, bytes) != 0)
            ab_result_set_status(r, AB_FAIL, "destination differs from the source after copy");
    } else {
        if (ctx->opt->corrupt && strcmp(ctx->opt->corrupt, key) == 0)
            ((unsigned char *)host)[bytes / 2] ^= 0xff;
        if (memcmp(check, host, bytes) != 0)
            ab_result_set_status(r, AB_FAIL, "host buffer differs from device data after copy");
    }
    goto out;
fail:
    ab_result_set_status(r, AB_ERROR, "%s", err);
out:
    if (dmem)
        ops->mem_free(h, dmem);
    if (dmem2)
        ops->mem_free(h, dmem2);
    if (host)
        ops->host_free(h, host, d2d ? false : pinned);
    free(check);
    r->time_spent = ab_now() - t0;
    return r;
}

static int run_transfers(ab_suite_ctx *ctx, const mb_case *c, const plan *p)
{
    static const struct {
        const char *what;
        bool pinned;
    } cases[] = {{"h2d", true}, {"h2d", false}, {"d2h", true}, {"d2h", false}, {"d2d", false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && !ab_interrupted(); i++) {
        char key[32];
        snprintf(key, sizeof(key), "membw.%s", cases[i].what);
        if (!ab_suite_key_selected(ctx, key))
            continue;
        ab_result *r;
        if (is_cpu_backend(c->dev)) {
            if (i == 1 || i == 3)
                continue; /* one skip per key is enough */
            r = ab_suite_result(ctx, key, cases[i].what[0] == 'd' && cases[i].what[2] == 'd'
                                              ? "copy-engine"
                                              : "pinned");
            if (r)
                ab_result_set_status(r, AB_SKIP,
                                     "the CPU computes in host memory: no transfer to measure");
        } else {
            size_t bytes = p->transfer_size;
            if (!bytes) {
                /* quick: 256 MiB; otherwise 1 GiB; never above an eighth of device memory */
                bytes = strcmp(ctx->opt->profile, "quick") == 0 ? (256u << 20) : (1u << 30);
                while (c->dev->info.mem_bytes && bytes > c->dev->info.mem_bytes / 8 &&
                       bytes > (1u << 20))
                    bytes >>= 1;
            }
            r = run_transfer(ctx, c, cases[i].what, cases[i].pinned, bytes);
        }
        if (!r || ab_emit(ctx, r) != 0)
            return -1;
    }
    return 0;
}

/* ---- the driver ---- */

static int membw_run(ab_suite_ctx *ctx)
{
    ab_device *dev = ctx->dev;
    const ab_backend_ops *ops = dev->backend->ops;
    const ab_membw_impl *impl = ab_device_impls(dev)->membw;
    char err[AB_ERRLEN] = "";
    if (!impl) {
        ab_result *r = ab_suite_result(ctx, "membw", "none");
        if (!r)
            return -1;
        ab_result_set_status(r, AB_SKIP, "membw has no %s implementation", dev->backend->name);
        return ab_emit(ctx, r);
    }
    plan p;
    if (plan_make(ctx->opt, &p, err) != 0) {
        ab_result *r = ab_suite_result(ctx, "membw", "none");
        if (!r)
            return -1;
        ab_result_set_status(r, AB_ERROR, "%s", err);
        return ab_emit(ctx, r);
    }
    mb_case c = {.dev = dev, .ops = ops, .impl = impl};
    int rc = 0;
    if (!p.dtype[0] && !p.dtype[1]) {
        ab_result *r = ab_suite_result(ctx, "membw", "none");
        if (!r) {
            plan_free(&p);
            return -1;
        }
        ab_result_set_status(r, AB_SKIP, "no requested --dtype applies to membw (f32, f64)");
        plan_free(&p);
        return ab_emit(ctx, r);
    }
    uint64_t top = ab_membw_headline_ws(dev);
    for (int di = 1; di >= 0 && rc == 0; di--) { /* f64 first */
        bool f64 = di == 1;
        if (!p.dtype[di])
            continue;
        bool sel[AB_MB_NKERNELS], any = false;
        for (int k = 0; k < AB_MB_NKERNELS; k++) {
            char key[32];
            snprintf(key, sizeof(key), "membw.%s", kernel_names[k]);
            sel[k] = ab_suite_key_selected(ctx, key);
            any |= sel[k];
        }
        if (!any)
            continue;
        if (f64 && !dev->info.fp64) {
            for (int k = 0; k < AB_MB_NKERNELS && rc == 0; k++) {
                if (!sel[k])
                    continue;
                char key[32];
                snprintf(key, sizeof(key), "membw.%s", kernel_names[k]);
                ab_result *r = ab_suite_result(ctx, key, "ordinary");
                if (!r)
                    return -1;
                ab_result_param_str(r, "dtype", "f64");
                ab_result_set_status(r, AB_SKIP, "device has no double precision");
                rc = ab_emit(ctx, r);
            }
            continue;
        }
        if (p.sizes) {
            uint64_t largest = 0;
            for (size_t i = 0; i < p.nsizes; i++)
                largest = p.sizes[i] > largest ? p.sizes[i] : largest;
            for (size_t i = 0; i < p.nsizes && rc == 0 && !ab_interrupted(); i++)
                rc = run_size(ctx, &c, f64, p.sizes[i], sel, p.sizes[i] == largest);
            continue;
        }
        rc = run_size(ctx, &c, f64, top, sel, true);
        /* the sweep: below the headline size by the profile's step, down to L1-resident */
        bool swp[AB_MB_NKERNELS], anysw = false;
        for (int k = 0; k < AB_MB_NKERNELS; k++) {
            swp[k] = sel[k] && p.sweep[k];
            anysw |= swp[k];
        }
        if (!anysw)
            continue;
        double step = sweep_step(ctx->opt->profile);
        uint64_t floor_ws = sweep_floor(dev);
        for (int i = 1; rc == 0 && !ab_interrupted(); i++) {
            uint64_t ws = (uint64_t)((double)top / pow(step, i));
            ws -= ws % 1024;
            if (ws < floor_ws)
                break;
            rc = run_size(ctx, &c, f64, ws, swp, false);
        }
    }
    free(c.scratch);
    c.scratch = NULL;
    if (rc == 0 && !ab_interrupted())
        rc = run_transfers(ctx, &c, &p);
    plan_free(&p);
    return rc;
}

const ab_suite ab_suite_membw = {
    .name = "membw",
    .summary = "memory bandwidth: copy, scale, add, triad, dot, read, write; transfers",
    .keys = keys,
    .params = params,
    .check = membw_check,
    .run = membw_run,
};

/* SPDX-License-Identifier: MIT */
/*
 * burn (burn.h): the descriptor, the plan, the interval loop. Every interval's results are
 * emitted as they finish (the journal keeps them through SIGINT and SIGKILL); the verdict
 * (burn.health, burn_verdict.c) comes last.
 */
#include "burn.h"

#include "burn_verdict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"burn.gemm", "burn.membw", "burn.health", NULL};

static const ab_param_desc params[] = {
    {"duration", "SEC",
     "burn time per device (default by profile: quick 10, standard 120, "
     "full 600)"},
    {"interval", "SEC",
     "length of one checked interval (default: a tenth of --duration, "
     "0.5 to 30 s)"},
    {"burn-size", "N", "GEMM size M = N = K (default 8192 on GPUs, 512 elsewhere)"},
    {"dtype", "LIST",
     "GEMM types (default bf16 where the device defaults to it, else f32; "
     "plus e4m3 on GPUs that take it)"},
    {"membw-size", "SIZE", "triad working set over the three arrays (default: membw's)"},
    {"throttle-share", "FRAC",
     "largest share of samples allowed in a thermal or power-brake "
     "clock state (default 0.1)"},
    {NULL, NULL, NULL},
};

static int parse_sec(const ab_options *o, const char *name, double *out, char *err)
{
    const char *v = ab_opt_param(o, name);
    if (!v) return 0;
    char e[AB_ERRLEN];
    if (ab_parse_double(v, name, out, e) != 0) return ab_err(err, "--%s: %s", name, e);
    if (*out > 7 * 86400.0) return ab_err(err, "--%s: %s s is more than a week", name, v);
    return 0;
}

static int plan_make(const ab_options *o, burn_plan *p, char *err)
{
    memset(p, 0, sizeof(*p));
    bool quick = strcmp(o->profile, "quick") == 0, full = strcmp(o->profile, "full") == 0;
    p->duration = quick ? 10.0 : full ? 600.0 : 120.0;
    p->throttle_share = 0.1;
    if (parse_sec(o, "duration", &p->duration, err) || parse_sec(o, "interval", &p->interval, err))
        return -1;
    if (!ab_opt_param(o, "interval")) p->interval = fmin(30.0, fmax(0.5, p->duration / 10));
    if (p->interval > p->duration)
        return ab_err(err, "--interval %g s is longer than --duration %g s", p->interval,
                      p->duration);
    if (p->interval < 0.05)
        return ab_err(err, "--interval: %g s is below the 0.05 s minimum", p->interval);
    const char *v;
    char e[AB_ERRLEN];
    if ((v = ab_opt_param(o, "burn-size")) &&
        ab_parse_long(v, "--burn-size", 16, 65536, &p->size, e) != 0)
        return ab_err(err, "%s", e);
    if ((v = ab_opt_param(o, "membw-size")) && ab_parse_size(v, &p->membw_bytes, e) != 0)
        return ab_err(err, "--membw-size: %s", e);
    if (v && p->membw_bytes < 3 * 1024)
        return ab_err(err, "--membw-size: %s is below the 3 KiB minimum", v);
    if ((v = ab_opt_param(o, "throttle-share"))) {
        if (ab_parse_double(v, "--throttle-share", &p->throttle_share, e) != 0)
            return ab_err(err, "%s", e);
        if (p->throttle_share > 1) return ab_err(err, "--throttle-share: %s is above 1", v);
    }
    if ((v = ab_opt_param(o, "dtype"))) {
        if (ab_dtype_list(v, p->dtype, err) != 0) return -1;
        if (p->dtype[AB_DT_I8])
            return ab_err(err, "--dtype: burn runs floating-point GEMMs (not i8)");
        p->dtype_given = true;
    }
    return 0;
}

static int burn_check(const ab_options *o, char *err)
{
    burn_plan p;
    return plan_make(o, &p, err);
}

/* The dtypes of this device: as given, or bf16/f32 by the device, plus e4m3 on a GPU. */
static size_t pick_dtypes(const ab_device *d, const burn_plan *p, ab_dtype *out)
{
    size_t n = 0;
    for (int t = 0; p->dtype_given && t < AB_DT_COUNT && n < AB_BURN_MAX_DTYPES; t++)
        if (p->dtype[t]) out[n++] = (ab_dtype)t;
    if (p->dtype_given) return n;
    out[n++] = d->info.default_bf16 ? AB_DT_BF16 : AB_DT_F32;
    if (d->info.kind == AB_KIND_GPU)
        out[n++] = AB_DT_E4M3; /* a skip where the device or library has no FP8 */
    return n;
}

/* A result of the suite for ctx's device with the interval's params. */
static ab_result *interval_result(ab_suite_ctx *ctx, const char *key, const char *impl, long i)
{
    ab_result *r = ab_suite_result(ctx, key, impl);
    if (r) {
        r->extra = json_object();
        ab_result_param_int(r, "interval", i);
    }
    return r;
}

/* Samples (seconds per iteration) -> the rate metric; the phase's check -> the status. */
static void finish(ab_result *r, const burn_phase *ph, const char *metric, const char *unit,
                   double amount, const char *formula, double t0, double w0)
{
    double *v = malloc((ph->n ? ph->n : 1) * sizeof(*v));
    for (size_t k = 0; v && k < ph->n; k++)
        v[k] = amount / ph->per_iter[k];
    if (v && ph->n) ab_result_add_metric(r, metric, unit, true, formula, v, ph->n);
    free(v);
    r->iters_per_sample = ph->iters;
    r->started = w0;
    r->time_spent = ab_now() - t0;
    if (ph->fail)
        ab_result_set_status(r, AB_FAIL, "%s", ph->msg);
    else if (!ph->n)
        ab_result_set_status(r, AB_ERROR, "no timed batch");
}

static int run_gemm(ab_suite_ctx *ctx, burn_state *st, burn_gemm *g, long i, double sec)
{
    char err[AB_ERRLEN] = "";
    burn_phase ph = {0};
    double t0 = ab_now(), w0 = ab_wall_time();
    ab_result *r = interval_result(ctx, "burn.gemm", g->impl->name, i);
    if (!r) return -1;
    ab_result_param_str(r, "dtype", ab_dtype_name(g->dt));
    ab_result_param_int(r, "m", g->op.m);
    ab_result_param_int(r, "n", g->op.n);
    ab_result_param_int(r, "k", g->op.k);
    const char *corrupt = ab_suite_key_selected(ctx, "burn.gemm") && ctx->opt->corrupt &&
                                  strcmp(ctx->opt->corrupt, "burn.gemm") == 0
                              ? "yes"
                              : NULL;
    if (burn_gemm_phase(ctx->dev, g, sec, &ph, r, corrupt, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        ph.fail = true;
        ab_strlcpy(ph.msg, err, sizeof(ph.msg));
    } else {
        double flops = 2.0 * (double)g->op.m * (double)g->op.n * (double)g->op.k;
        finish(r, &ph, "throughput", "FLOP/s", flops, "2*m*n*k FLOP / t, m = n = k = size", t0, w0);
        json_object_set_new(r->extra, "library", json_string(g->library));
    }
    burn_note_phase(st, "gemm", ab_dtype_name(g->dt), i, r, &ph);
    burn_phase_free(&ph);
    return ab_emit(ctx, r);
}

static int run_membw(ab_suite_ctx *ctx, burn_state *st, burn_membw *m, long i, double sec)
{
    char err[AB_ERRLEN] = "";
    burn_phase ph = {0};
    double t0 = ab_now(), w0 = ab_wall_time();
    ab_result *r = interval_result(ctx, "burn.membw", "ordinary", i);
    if (!r) return -1;
    ab_result_param_str(r, "kernel", "triad");
    ab_result_param_str(r, "dtype", "f32");
    ab_result_param_int(r, "working_set", (long long)(3 * m->args.n * sizeof(float)));
    const char *corrupt =
        ctx->opt->corrupt && strcmp(ctx->opt->corrupt, "burn.membw") == 0 ? "yes" : NULL;
    if (burn_membw_phase(ctx->dev, m, sec, &ph, corrupt, err) != 0) {
        ab_result_set_status(r, AB_ERROR, "%s", err);
        ph.fail = true;
        ab_strlcpy(ph.msg, err, sizeof(ph.msg));
    } else {
        finish(r, &ph, "bandwidth", "B/s", 3.0 * (double)m->args.n * sizeof(float),
               "3*n*4 B / t (triad, f32)", t0, w0);
        json_object_set_new(r->extra, "elements_checked", json_integer((json_int_t)m->args.n));
    }
    burn_note_phase(st, "membw", "f32", i, r, &ph);
    burn_phase_free(&ph);
    return ab_emit(ctx, r);
}

/* A setup that did not succeed: one skip or error result for the key. */
static int setup_failed(ab_suite_ctx *ctx, burn_state *st, const char *key, const char *what,
                        int rc, const char *err)
{
    ab_result *r = ab_suite_result(ctx, key, "none");
    if (!r) return -1;
    if (what) ab_result_param_str(r, "dtype", what);
    ab_result_set_status(r, rc == AB_CASE_SKIP ? AB_SKIP : AB_ERROR, "%s", err);
    if (rc != AB_CASE_SKIP)
        burn_note_problem(st, "%s%s%s: setup: %s", key, what ? " " : "", what ? what : "", err);
    return ab_emit(ctx, r);
}

typedef struct burn_work {
    burn_gemm g[AB_BURN_MAX_DTYPES];
    size_t ng;
    burn_membw m;
    bool have_m;
} burn_work;

static int setup_all(ab_suite_ctx *ctx, const burn_plan *p, burn_state *st, burn_work *w)
{
    char err[AB_ERRLEN] = "";
    ab_dtype dts[AB_BURN_MAX_DTYPES];
    size_t nd = ab_suite_key_selected(ctx, "burn.gemm") ? pick_dtypes(ctx->dev, p, dts) : 0;
    for (size_t k = 0; k < nd; k++) {
        int rc = burn_gemm_setup(ctx->dev, p, dts[k], &w->g[w->ng], err);
        if (rc == 0) {
            w->ng++;
            continue;
        }
        burn_gemm_free(ctx->dev, &w->g[w->ng]);
        if (setup_failed(ctx, st, "burn.gemm", ab_dtype_name(dts[k]), rc, err) != 0) return -1;
    }
    if (!ab_suite_key_selected(ctx, "burn.membw")) return 0;
    int rc = burn_membw_setup(ctx->dev, p, &w->m, err);
    w->have_m = rc == 0;
    if (rc != 0) {
        burn_membw_free(ctx->dev, &w->m);
        return setup_failed(ctx, st, "burn.membw", NULL, rc, err);
    }
    return 0;
}

static int burn_run(ab_suite_ctx *ctx)
{
    char err[AB_ERRLEN] = "";
    burn_plan p;
    if (plan_make(ctx->opt, &p, err) != 0) {
        ab_result *r = ab_suite_result(ctx, "burn", "none");
        if (r) ab_result_set_status(r, AB_ERROR, "%s", err);
        return ab_emit(ctx, r);
    }
    burn_state *st = burn_state_new(ctx, &p);
    burn_work w;
    memset(&w, 0, sizeof(w));
    int rc = st ? setup_all(ctx, &p, st, &w) : -1;
    long nint = (long)ceil(p.duration / p.interval - 1e-9);
    double gsec = p.interval * (w.have_m ? 0.75 : 1.0) / (double)(w.ng ? w.ng : 1);
    double msec = p.interval * (w.ng ? 0.25 : 1.0);
    for (long i = 0; rc == 0 && (w.ng || w.have_m) && i < nint && !ab_interrupted(); i++) {
        for (size_t k = 0; rc == 0 && k < w.ng && !ab_interrupted(); k++)
            rc = run_gemm(ctx, st, &w.g[k], i, gsec);
        if (rc == 0 && w.have_m && !ab_interrupted()) rc = run_membw(ctx, st, &w.m, i, msec);
        if (rc == 0 && !ab_interrupted()) burn_interval_done(st);
    }
    for (size_t k = 0; k < w.ng; k++)
        burn_gemm_free(ctx->dev, &w.g[k]);
    if (w.have_m) burn_membw_free(ctx->dev, &w.m);
    if (rc == 0 && st) rc = burn_verdict_emit(ctx, st, nint);
    burn_state_free(st);
    return rc;
}

const ab_suite ab_suite_burn = {
    .name = "burn",
    .summary = "sustained GEMM and triad on every device at once for --duration, every "
               "interval validated; a health verdict per device (throttling, ECC, row remaps, "
               "PCIe replays, XID); runs only when --suite names it",
    .keys = keys,
    .params = params,
    .check = burn_check,
    .run = burn_run,
    .concurrent = true,
    .explicit_only = true,
};

/* SPDX-License-Identifier: MIT */
/* burn's verdict per device (burn_verdict.h). */
#include "burn_verdict.h"

#include "../../probes/health.h"
#include "../../probes/sampler.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The test hook: devices without management counters of their own read the NVML stand-in's
 * GPU at this bus id (the result says so: these are never the device's own counters). */
#define TEST_HEALTH_ENV "ACCELBENCH_TEST_HEALTH_NVML"

struct burn_state {
    const burn_plan *p;
    ab_health *h;
    char health_why[AB_ERRLEN];
    bool stand_in;
    ab_health_reading start;
    double t0, w0; /* monotonic, wall */
    long done;     /* intervals finished */
    char problems[2048];
    double *sustained; /* per-interval median of the first phase kind (gemm, else membw) */
    size_t ns, cap;
    char sustained_what[32];
    bool have_kind;
};

static const char *health_source(const ab_device *d, const char **pci, bool *stand_in)
{
    *stand_in = false;
    *pci = d->info.pci_bus_id;
    if (d->info.sampler == AB_SAMPLER_NVML) return "nvml";
    if (d->info.sampler == AB_SAMPLER_ROCM_SMI) return "rocm_smi";
    const char *e = getenv(TEST_HEALTH_ENV);
    if (e && *e) {
        *pci = e;
        *stand_in = true;
        return "nvml";
    }
    return d->info.sampler == AB_SAMPLER_HOST_CPU ? "edac" : NULL;
}

burn_state *burn_state_new(ab_suite_ctx *ctx, const burn_plan *p)
{
    burn_state *st = calloc(1, sizeof(*st));
    if (!st) return NULL;
    st->p = p;
    const char *pci;
    const char *src = health_source(ctx->dev, &pci, &st->stand_in);
    if (!src)
        snprintf(st->health_why, sizeof(st->health_why),
                 "no health counters for %s devices (NVML and ROCm SMI cover cuda and hip "
                 "devices, EDAC the CPU's memory)",
                 ctx->dev->backend->name);
    else if (ab_health_open(src, pci, &st->h, st->health_why) == 0)
        ab_health_read(st->h, &st->start);
    st->t0 = ab_now();
    st->w0 = ab_wall_time();
    return st;
}

void burn_state_free(burn_state *st)
{
    if (!st) return;
    ab_health_close(st->h);
    free(st->sustained);
    free(st);
}

void burn_note_problem(burn_state *st, const char *fmt, ...)
{
    size_t n = strlen(st->problems);
    if (n + 8 >= sizeof(st->problems)) return;
    if (n) n += (size_t)snprintf(st->problems + n, sizeof(st->problems) - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->problems + n, sizeof(st->problems) - n, fmt, ap);
    va_end(ap);
}

void burn_note_phase(burn_state *st, const char *what, const char *dtype, long interval,
                     const ab_result *r, const burn_phase *ph)
{
    if (ph->fail) burn_note_problem(st, "interval %ld %s %s: %s", interval, what, dtype, ph->msg);
    if (r->status != AB_PASS || !r->nmetrics) return;
    /* the sustained figure: the first kind of phase that passed (gemm before membw) */
    char kind[32];
    snprintf(kind, sizeof(kind), "%s/%s", what, dtype);
    if (!st->have_kind) {
        ab_strlcpy(st->sustained_what, kind, sizeof(st->sustained_what));
        st->have_kind = true;
    }
    if (strcmp(kind, st->sustained_what) != 0) return;
    if (st->ns == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 16;
        double *v = realloc(st->sustained, cap * sizeof(*v));
        if (!v) return;
        st->sustained = v;
        st->cap = cap;
    }
    st->sustained[st->ns++] = r->metrics[0].stats.median;
}

void burn_interval_done(burn_state *st)
{
    st->done++;
}

static bool brake_or_thermal(const char *name)
{
    static const unsigned bits[] = {AB_THR_HW_SLOWDOWN, AB_THR_SW_THERMAL, AB_THR_HW_THERMAL,
                                    AB_THR_POWER_BRAKE};
    for (size_t i = 0; name && i < sizeof(bits) / sizeof(bits[0]); i++)
        if (strcmp(name, ab_throttle_name(bits[i])) == 0) return true;
    return false;
}

int burn_throttle_share(const json_t *summary, double *share, char *reason, size_t len, char *why,
                        size_t why_len)
{
    json_t *f = json_object_get(summary, "throttle_reasons");
    const char *status = json_string_value(json_object_get(f, "status"));
    json_int_t n = json_integer_value(json_object_get(summary, "samples"));
    *share = 0;
    snprintf(reason, len, "none");
    if (!summary || !status || strcmp(status, "ok") != 0 || n <= 0) {
        const char *r = json_string_value(json_object_get(f, "reason"));
        if (!r)
            r = json_string_value(json_object_get(json_object_get(summary, "clock_mhz"), "reason"));
        snprintf(why, why_len, "%s", r ? r : "the sampler has no throttle reasons for it");
        return 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(f, "value"), i, e)
    {
        const char *name = json_string_value(json_object_get(e, "reason"));
        double s = (double)json_integer_value(json_object_get(e, "samples")) / (double)n;
        if (brake_or_thermal(name) && s > *share) {
            *share = s;
            snprintf(reason, len, "%s", name);
        }
    }
    return 1;
}

/* extra.health.throttle, and a problem past the limit. */
static json_t *throttle_check(ab_suite_ctx *ctx, burn_state *st, double t1)
{
    json_t *o = json_object();
    json_t *sum = ctx->sampler ? ctx->sampler(ctx, st->t0, t1) : NULL;
    double share;
    char reason[64], why[AB_ERRLEN];
    if (burn_throttle_share(sum, &share, reason, sizeof(reason), why, sizeof(why)) == 1) {
        bool bad = share > st->p->throttle_share;
        json_object_set_new(o, "check", json_string(bad ? "fail" : "pass"));
        json_object_set_new(o, "share", json_real(share));
        json_object_set_new(o, "reason", json_string(reason));
        if (bad)
            burn_note_problem(st, "clocks in %s in %.0f%% of the samples (limit %.0f%%)", reason,
                              100 * share, 100 * st->p->throttle_share);
    } else {
        json_object_set_new(o, "check", json_string("unavailable"));
        json_object_set_new(o, "reason",
                            json_string(!ctx->sampler ? "no sampler in this run" : why));
    }
    json_object_set_new(o, "limit", json_real(st->p->throttle_share));
    json_object_set_new(o, "states",
                        json_string("hw_slowdown, sw_thermal, hw_thermal, "
                                    "power_brake (the power cap is not one)"));
    json_decref(sum);
    return o;
}

/* extra.health.counters, and a problem per failed check. */
static json_t *counter_checks(burn_state *st, json_t *health)
{
    if (!st->h) {
        json_object_set_new(health, "counters_source", json_null());
        return json_pack("{s:s,s:s}", "check", "unavailable", "reason", st->health_why);
    }
    ab_health_reading end;
    ab_health_read(st->h, &end);
    char problems[1024];
    json_t *c = ab_health_judge(&st->start, &end, problems, sizeof(problems));
    if (*problems) burn_note_problem(st, "%s", problems);
    char src[160];
    snprintf(src, sizeof(src), "%s%s", ab_health_source(st->h),
             st->stand_in ? " STAND-IN (" TEST_HEALTH_ENV "): not this device's counters" : "");
    json_object_set_new(health, "counters_source", json_string(src));
    return c;
}

int burn_verdict_emit(ab_suite_ctx *ctx, burn_state *st, long planned)
{
    ab_result *r = ab_suite_result(ctx, "burn.health", st->h ? ab_health_source(st->h) : "none");
    if (!r) return -1;
    double t1 = ab_now();
    r->extra = json_object();
    json_t *health = json_object();
    json_object_set_new(health, "intervals", json_integer(st->done));
    json_object_set_new(health, "intervals_planned", json_integer(planned));
    json_object_set_new(health, "output",
                        json_string("every interval: GEMM entries against the f64 reference of "
                                    "the exact inputs, triad elements against their value"));
    json_object_set_new(health, "throttle", throttle_check(ctx, st, t1));
    json_object_set_new(health, "counters", counter_checks(st, health));
    json_object_set_new(r->extra, "health", health);
    char v[32]; /* as given ("0.6"), not as the double prints */
    snprintf(v, sizeof(v), "%g", st->p->duration);
    ab_result_param_str(r, "duration", v);
    snprintf(v, sizeof(v), "%g", st->p->interval);
    ab_result_param_str(r, "interval", v);
    if (st->ns) {
        char name[48];
        snprintf(name, sizeof(name), "sustained_%s",
                 strncmp(st->sustained_what, "gemm", 4) == 0 ? "throughput" : "bandwidth");
        char formula[128];
        snprintf(formula, sizeof(formula), "median of each interval's %s samples, one per interval",
                 st->sustained_what);
        ab_result_add_metric(r, name,
                             strncmp(st->sustained_what, "gemm", 4) == 0 ? "FLOP/s" : "B/s", true,
                             formula, st->sustained, st->ns);
    }
    r->started = st->w0;
    r->time_spent = t1 - st->t0;
    if (*st->problems)
        ab_result_set_status(r, AB_FAIL, "unhealthy: %s", st->problems);
    else if (ab_interrupted() || st->done < planned)
        ab_result_set_status(r, AB_SKIP, "interrupted after %ld of %ld intervals: no verdict",
                             st->done, planned);
    else if (!st->ns)
        ab_result_set_status(r, AB_SKIP, "nothing ran: no GEMM or triad passed on this device");
    return ab_emit(ctx, r);
}

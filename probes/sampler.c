/* SPDX-License-Identifier: MIT */
#include "sampler.h"

#include "../core/stats.h"
#include "probe.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEVICES 64

const char *ab_throttle_name(unsigned bit)
{
    switch (bit) {
    case AB_THR_IDLE:
        return "idle";
    case AB_THR_APP_CLOCKS:
        return "applications_clocks_setting";
    case AB_THR_SW_POWER:
        return "sw_power_cap";
    case AB_THR_HW_SLOWDOWN:
        return "hw_slowdown";
    case AB_THR_SYNC_BOOST:
        return "sync_boost";
    case AB_THR_SW_THERMAL:
        return "sw_thermal_slowdown";
    case AB_THR_HW_THERMAL:
        return "hw_thermal_slowdown";
    case AB_THR_POWER_BRAKE:
        return "hw_power_brake_slowdown";
    case AB_THR_DISPLAY:
        return "display_clock_setting";
    default:
        return "other";
    }
}

typedef struct dev_ring {
    char id[32];
    bool has_src;
    ab_sample_source src;
    char missing[AB_ERRLEN];
    ab_sample *ring;
    size_t head, count; /* next write slot; samples held */
    unsigned long errors;
    char last_error[AB_ERRLEN];
} dev_ring;

struct ab_sampler {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    bool running, stop;
    double period;
    size_t cap;
    dev_ring devs[MAX_DEVICES];
    size_t ndev;
};

ab_sampler *ab_sampler_new(double period_s, size_t capacity)
{
    ab_sampler *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->period = period_s > 0 ? period_s : 0.05;
    s->cap = capacity ? capacity : (size_t)1 << 16;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    /* the wait deadline is on the monotonic clock, immune to wall-clock steps */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    return s;
}

static dev_ring *find(const ab_sampler *s, const char *id)
{
    for (size_t i = 0; i < s->ndev; i++)
        if (strcmp(s->devs[i].id, id) == 0) return (dev_ring *)&s->devs[i];
    return NULL;
}

static dev_ring *add_dev(ab_sampler *s, const char *id, char *err)
{
    if (s->running) {
        ab_err(err, "sampler already started");
        return NULL;
    }
    if (find(s, id)) {
        ab_err(err, "device %s registered twice", id);
        return NULL;
    }
    if (s->ndev == MAX_DEVICES) {
        ab_err(err, "more than %d devices", MAX_DEVICES);
        return NULL;
    }
    dev_ring *d = &s->devs[s->ndev];
    memset(d, 0, sizeof(*d));
    ab_strlcpy(d->id, id, sizeof(d->id));
    return d;
}

int ab_sampler_add(ab_sampler *s, const char *device_id, const ab_sample_source *src, char *err)
{
    dev_ring *d = add_dev(s, device_id, err);
    if (!d) return -1;
    d->ring = calloc(s->cap, sizeof(*d->ring));
    if (!d->ring) return ab_err(err, "out of memory");
    d->src = *src;
    d->has_src = true;
    s->ndev++;
    return 0;
}

int ab_sampler_add_missing(ab_sampler *s, const char *device_id, const char *why)
{
    dev_ring *d = add_dev(s, device_id, NULL);
    if (!d) return -1;
    ab_strlcpy(d->missing, why, sizeof(d->missing));
    s->ndev++;
    return 0;
}

bool ab_sampler_has(const ab_sampler *s, const char *device_id)
{
    return s && find(s, device_id) != NULL;
}

/* Called with the mutex held. */
static void sample_one(dev_ring *d, size_t cap)
{
    if (!d->has_src) return;
    ab_sample v = {
        .clock_mhz = NAN, .mem_clock_mhz = NAN, .power_w = NAN, .temp_c = NAN, .energy_j = NAN};
    char err[AB_ERRLEN] = "";
    double t0 = ab_now();
    if (d->src.read(d->src.ctx, &v, err) != 0) {
        d->errors++;
        ab_strlcpy(d->last_error, err, sizeof(d->last_error));
        return;
    }
    /* a read takes a while (driver calls): stamp it at its midpoint */
    v.t = 0.5 * (t0 + ab_now());
    d->ring[d->head] = v;
    d->head = (d->head + 1) % cap;
    if (d->count < cap) d->count++;
}

static void *thread_main(void *arg)
{
    ab_sampler *s = arg;
    pthread_mutex_lock(&s->mu);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!s->stop) {
        for (size_t i = 0; i < s->ndev; i++)
            sample_one(&s->devs[i], s->cap);
        /* absolute deadlines: the rate does not drift with the time the reads take */
        long ns = (long)(s->period * 1e9);
        next.tv_nsec += ns % 1000000000L;
        next.tv_sec += ns / 1000000000L + next.tv_nsec / 1000000000L;
        next.tv_nsec %= 1000000000L;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now; /* fell behind (a slow read): start again from now, do not burst */
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &next) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int ab_sampler_start(ab_sampler *s, char *err)
{
    pthread_mutex_lock(&s->mu);
    if (s->running) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    bool any = false;
    for (size_t i = 0; i < s->ndev; i++) {
        sample_one(&s->devs[i], s->cap);
        any |= s->devs[i].has_src;
    }
    if (!any) {
        /* nothing to read: no thread, summaries carry the reasons */
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    s->stop = false;
    /* the thread starts with every signal blocked, so SIGINT/SIGTERM reach the thread running
     * the measurements (whose handler stops sampling after the current batch) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->th, NULL, thread_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) s->running = true;
    pthread_mutex_unlock(&s->mu);
    if (rc != 0) return ab_err(err, "cannot start the sampler thread: %s", strerror(rc));
    return 0;
}

void ab_sampler_poll(ab_sampler *s, const char *device_id)
{
    pthread_mutex_lock(&s->mu);
    dev_ring *d = find(s, device_id);
    if (d) sample_one(d, s->cap);
    pthread_mutex_unlock(&s->mu);
}

void ab_sampler_stop(ab_sampler *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    bool was = s->running;
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (was) {
        pthread_join(s->th, NULL);
        pthread_mutex_lock(&s->mu);
        s->running = false;
        pthread_mutex_unlock(&s->mu);
    }
}

void ab_sampler_free(ab_sampler *s)
{
    if (!s) return;
    ab_sampler_stop(s);
    for (size_t i = 0; i < s->ndev; i++) {
        dev_ring *d = &s->devs[i];
        if (d->has_src && d->src.close) d->src.close(d->src.ctx);
        free(d->ring);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* ---- summaries ---- */

static const ab_sample *at(const dev_ring *d, size_t cap, size_t i)
{
    return &d->ring[(d->head + cap - d->count + i) % cap];
}

json_t *ab_sampler_summary(ab_sampler *s, const char *device_id, double t0, double t1)
{
    pthread_mutex_lock(&s->mu);
    dev_ring *d = find(s, device_id);
    if (!d) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    if (!d->has_src) {
        json_t *o = json_object();
        json_object_set_new(o, "source", json_null());
        ab_field_unavailable(o, "clock_mhz", "%s", d->missing);
        ab_field_unavailable(o, "energy_j", "%s", d->missing);
        ab_field_unavailable(o, "throttled", "%s", d->missing);
        pthread_mutex_unlock(&s->mu);
        return o;
    }
    /* the window's samples plus one on each side (for interpolation at the edges): binary
     * search in the chronological ring */
    size_t lo = 0, hi = d->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (at(d, s->cap, mid)->t < t0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t first = lo > 0 ? lo - 1 : 0;
    size_t last = first;
    while (last < d->count && at(d, s->cap, last)->t <= t1)
        last++;
    if (last < d->count) last++; /* one past t1 */
    size_t n = last - first;
    ab_sample *v = n ? malloc(n * sizeof(*v)) : NULL;
    for (size_t i = 0; v && i < n; i++)
        v[i] = *at(d, s->cap, first + i);
    ab_sample_source src = d->src;
    unsigned long errors = d->errors;
    char last_error[AB_ERRLEN];
    ab_strlcpy(last_error, d->last_error, sizeof(last_error));
    double period = s->period;
    pthread_mutex_unlock(&s->mu);

    json_t *o = ab_sampler_summarize(&src, v, v ? n : 0, t0, t1, period);
    if (errors) {
        json_object_set_new(o, "read_errors", json_integer((json_int_t)errors));
        json_object_set_new(o, "last_read_error", json_string(last_error));
    }
    free(v);
    return o;
}

typedef double (*getter)(const ab_sample *);
static double g_clock(const ab_sample *s)
{
    return s->clock_mhz;
}
static double g_mem(const ab_sample *s)
{
    return s->mem_clock_mhz;
}
static double g_power(const ab_sample *s)
{
    return s->power_w;
}
static double g_temp(const ab_sample *s)
{
    return s->temp_c;
}
static double g_energy(const ab_sample *s)
{
    return s->energy_j;
}

/* min / median / max of a quantity over the samples inside the window. */
static void stat_field(json_t *o, const char *key, const char *why_missing, const char *what,
                       const ab_sample *v, size_t n, double t0, double t1, getter g,
                       const char *const *want, const char *empty_why)
{
    if (why_missing && *why_missing) {
        ab_field_unavailable(o, key, "%s", why_missing);
        return;
    }
    double *x = malloc((n ? n : 1) * sizeof(*x));
    size_t k = 0;
    for (size_t i = 0; x && i < n; i++)
        if (v[i].t >= t0 && v[i].t <= t1 && isfinite(g(&v[i]))) x[k++] = g(&v[i]);
    if (k == 0) {
        ab_field_unavailable(o, key, "%s", empty_why);
        free(x);
        return;
    }
    ab_stats st;
    ab_stats_compute(x, k, &st);
    json_t *val = json_object();
    for (size_t i = 0; want[i]; i++) {
        double y = strcmp(want[i], "min") == 0      ? st.min
                   : strcmp(want[i], "median") == 0 ? st.median
                   : strcmp(want[i], "mean") == 0   ? st.mean
                                                    : st.max;
        json_object_set_new(val, want[i], json_real(y));
    }
    ab_field_set(o, key, val, what);
    free(x);
}

/* Linear interpolation of a quantity at time t from the samples around it; NAN when t is not
 * bracketed by two finite readings. */
static double interp(const ab_sample *v, size_t n, double t, getter g)
{
    const ab_sample *a = NULL, *b = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g(&v[i]))) continue;
        if (v[i].t <= t) a = &v[i];
        if (v[i].t >= t && !b) b = &v[i];
    }
    if (!a || !b) return NAN;
    if (b->t == a->t) return g(a);
    return g(a) + (g(b) - g(a)) * (t - a->t) / (b->t - a->t);
}

static void energy_field(json_t *o, const ab_sample_source *src, const ab_sample *v, size_t n,
                         double t0, double t1)
{
    double w = t1 - t0;
    bool counter = !*src->why_energy;
    bool power = !*src->why_power;
    if (!counter && !power) {
        ab_field_unavailable(o, "energy_j", "%s", src->why_energy);
        ab_field_unavailable(o, "mean_power_w", "%s", src->why_energy);
        return;
    }
    getter g = counter ? g_energy : g_power;
    double a = interp(v, n, t0, g), b = interp(v, n, t1, g);
    if (!isfinite(a) || !isfinite(b)) {
        const char *why = n == 0 || (n && v[0].t > t0) ? "no sample before the window start"
                                                       : "no sample after the window end";
        ab_field_unavailable(o, "energy_j", "%s", why);
        ab_field_unavailable(o, "mean_power_w", "%s", why);
        return;
    }
    double e;
    char what[160];
    if (counter) {
        e = b - a;
        /* a counter that decreases anywhere around the window was reset or wrapped: the
         * difference of the edges would be meaningless */
        double prev = NAN;
        for (size_t i = 0; i < n && e >= 0; i++) {
            if (!isfinite(v[i].energy_j)) continue;
            if (isfinite(prev) && v[i].energy_j < prev) e = -1;
            prev = v[i].energy_j;
        }
        if (e < 0) {
            ab_field_error(o, "energy_j",
                           "the energy counter went backwards around the window "
                           "(reset or wrap-around)");
            ab_field_error(o, "mean_power_w", "see energy_j");
            return;
        }
        snprintf(what, sizeof(what), "%s, interpolated at the window edges", src->energy_what);
    } else {
        /* trapezoids over the samples inside the window, with the power interpolated at the
         * edges */
        e = 0;
        double pt = t0, pp = a;
        for (size_t i = 0; i < n; i++) {
            if (v[i].t <= t0 || v[i].t >= t1 || !isfinite(v[i].power_w)) continue;
            e += 0.5 * (pp + v[i].power_w) * (v[i].t - pt);
            pt = v[i].t;
            pp = v[i].power_w;
        }
        e += 0.5 * (pp + b) * (t1 - pt);
        snprintf(what, sizeof(what),
                 "power samples integrated over the window (no energy "
                 "counter: %s)",
                 src->why_energy);
    }
    ab_field_set(o, "energy_j", json_real(e), what);
    ab_field_set(o, "mean_power_w", json_real(w > 0 ? e / w : 0.0), "energy_j / window_s");
}

static void throttle_fields(json_t *o, const ab_sample_source *src, const ab_sample *v, size_t n,
                            double t0, double t1, const char *empty_why)
{
    if (*src->why_throttle) {
        ab_field_unavailable(o, "throttled", "%s", src->why_throttle);
        ab_field_unavailable(o, "throttle_reasons", "%s", src->why_throttle);
        return;
    }
    unsigned counts[16] = {0};
    size_t k = 0, limiting = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].t < t0 || v[i].t > t1 || !v[i].throttle_valid) continue;
        k++;
        limiting += (v[i].throttle & AB_THR_LIMITING) != 0;
        for (unsigned b = 0; b < 16; b++)
            counts[b] += (v[i].throttle >> b) & 1u;
    }
    if (k == 0) {
        ab_field_unavailable(o, "throttled", "%s", empty_why);
        ab_field_unavailable(o, "throttle_reasons", "%s", empty_why);
        return;
    }
    json_t *reasons = json_array();
    char summary[512] = "";
    for (unsigned b = 0; b < 16; b++) {
        if (!counts[b]) continue;
        json_t *r = json_object();
        json_object_set_new(r, "reason", json_string(ab_throttle_name(1u << b)));
        json_object_set_new(r, "samples", json_integer(counts[b]));
        json_object_set_new(r, "limiting", json_boolean(((1u << b) & AB_THR_LIMITING) != 0));
        json_array_append_new(reasons, r);
        if ((1u << b) & AB_THR_LIMITING) {
            size_t len = strlen(summary);
            snprintf(summary + len, sizeof(summary) - len, "%s%s in %u of %zu samples",
                     len ? ", " : "", ab_throttle_name(1u << b), counts[b], k);
        }
    }
    char what[600];
    snprintf(what, sizeof(what), "%s", limiting ? summary : "no limiting reason in any sample");
    ab_field_set(o, "throttled", json_boolean(limiting > 0), what);
    ab_field_set(o, "throttle_reasons", reasons, src->name);
}

json_t *ab_sampler_summarize(const ab_sample_source *src, const ab_sample *v, size_t n, double t0,
                             double t1, double period_s)
{
    json_t *o = json_object();
    double w = t1 - t0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i].t >= t0 && v[i].t <= t1;
    json_object_set_new(o, "source", json_string(src->name));
    json_object_set_new(o, "window_s", json_real(w > 0 ? w : 0.0));
    json_object_set_new(o, "samples", json_integer((json_int_t)k));
    json_object_set_new(o, "period_s", json_real(period_s));
    json_object_set_new(o, "rate_hz", w > 0 ? json_real((double)k / w) : json_null());
    char empty[160];
    snprintf(empty, sizeof(empty), "no sample inside the %.3f s window (sampling period %.3f s)",
             w > 0 ? w : 0.0, period_s);
    static const char *const mmm[] = {"min", "median", "max", NULL};
    static const char *const pw[] = {"median", "max", NULL};
    static const char *const tmax[] = {"max", NULL};
    stat_field(o, "clock_mhz", src->why_clock, src->clock_what, v, n, t0, t1, g_clock, mmm, empty);
    stat_field(o, "memory_clock_mhz", src->why_mem_clock, "memory clock", v, n, t0, t1, g_mem, mmm,
               empty);
    stat_field(o, "power_w", src->why_power, "board power", v, n, t0, t1, g_power, pw, empty);
    stat_field(o, "temperature_c", src->why_temp, "temperature", v, n, t0, t1, g_temp, tmax, empty);
    energy_field(o, src, v, n, t0, t1);
    throttle_fields(o, src, v, n, t0, t1, empty);
    return o;
}

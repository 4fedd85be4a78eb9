/* SPDX-License-Identifier: MIT */
/* accelbench run --concurrent (concurrent.h): threads, barrier, serialised emit, aggregates. */
#include "concurrent.h"

#include "../core/ab.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct conc_state conc_state;

typedef struct conc_thread {
    ab_suite_ctx ctx; /* first: emit() gets &ctx and finds the thread from it */
    conc_state *st;
    size_t index;
    pthread_t tid;
} conc_thread;

struct conc_state {
    const ab_concurrent_env *env;
    pthread_mutex_t mu;
    pthread_barrier_t barrier;
    bool stop;         /* emit failed: the run cannot go on (read and written under mu) */
    ab_result **snaps; /* what each emitted result was, for the aggregates (under mu) */
    size_t nsnaps, cap;
};

/* The parts of r the aggregate needs: identity, status, first metric, window. */
static ab_result *snapshot(const ab_result *r)
{
    ab_result *s = ab_result_new(r->suite, r->key, r->impl);
    if (!s) return NULL;
    ab_result_set_device(s, r->device, r->device_name, r->backend);
    json_decref(s->params);
    s->params = r->params ? json_deep_copy(r->params) : NULL;
    s->status = r->status;
    s->headline = r->headline;
    s->started = r->started;
    s->time_spent = r->time_spent;
    if (r->nmetrics) {
        const ab_metric *m = &r->metrics[0];
        ab_result_add_metric(s, m->name, m->unit, m->higher_is_better, m->formula, m->samples,
                             m->nsamples);
    }
    return s;
}

static int conc_emit(ab_suite_ctx *ctx, ab_result *r)
{
    conc_thread *t = (conc_thread *)ctx;
    conc_state *st = t->st;
    if (r) ab_result_param_int(r, "concurrent", (long long)st->env->ndevices);
    pthread_mutex_lock(&st->mu);
    ab_result *snap = r && r->device ? snapshot(r) : NULL;
    ab_suite_ctx inner = *ctx;
    inner.emit = st->env->emit;
    int rc = st->env->emit(&inner, r);
    if (rc != 0) {
        st->stop = true;
        ab_result_free(snap);
    } else if (snap) {
        if (st->nsnaps == st->cap) {
            size_t cap = st->cap ? 2 * st->cap : 64;
            ab_result **v = realloc(st->snaps, cap * sizeof(*v));
            if (v) {
                st->snaps = v;
                st->cap = cap;
            }
        }
        if (st->nsnaps < st->cap)
            st->snaps[st->nsnaps++] = snap;
        else
            ab_result_free(snap);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static bool stopped(conc_state *st)
{
    pthread_mutex_lock(&st->mu);
    bool s = st->stop;
    pthread_mutex_unlock(&st->mu);
    return s || ab_interrupted();
}

static void *device_thread(void *arg)
{
    conc_thread *t = arg;
    conc_state *st = t->st;
    const ab_concurrent_env *env = st->env;
    ab_device *d = env->devices[t->index];
    pthread_mutex_lock(&st->mu);
    ab_run_probes_before_device(env->probes, d); /* pins this thread; records it */
    pthread_mutex_unlock(&st->mu);
    char oerr[AB_ERRLEN] = "";
    bool opened = ab_device_open(d, oerr) == 0;
    for (size_t si = 0; env->suites[si]; si++) {
        const ab_suite *s = env->suites[si];
        if (!env->suite_on[si]) continue;
        /* every thread reaches every barrier, whatever happened before */
        pthread_barrier_wait(&st->barrier);
        if (stopped(st)) continue;
        t->ctx.opt = &env->views[si];
        t->ctx.suite = s;
        if (!opened) {
            ab_result *r = ab_suite_result(&t->ctx, s->name, "none");
            if (r) ab_result_set_status(r, AB_ERROR, "cannot open device: %s", oerr);
            ab_emit(&t->ctx, r);
            continue;
        }
        s->run(&t->ctx);
    }
    return NULL;
}

/* The median of v (sorted in place). */
static double median_of(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
            double x = v[k];
            v[k] = v[k - 1];
            v[k - 1] = x;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* "2x AMD EPYC" or "A + B": the members' models, the aggregate's device name. */
static void device_names(const ab_result *const *m, size_t n, char *buf, size_t len)
{
    bool same = true;
    for (size_t i = 1; i < n; i++)
        same &= m[i]->device_name && m[0]->device_name &&
                strcmp(m[i]->device_name, m[0]->device_name) == 0;
    if (same) {
        snprintf(buf, len, "%zux %s", n, m[0]->device_name ? m[0]->device_name : "?");
        return;
    }
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k + 1 < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? " + " : "",
                              m[i]->device_name ? m[i]->device_name : "?");
}

static const char *common_backend(const ab_result *const *m, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (!m[i]->backend || !m[0]->backend || strcmp(m[i]->backend, m[0]->backend) != 0)
            return "mixed";
    return m[0]->backend ? m[0]->backend : "mixed";
}

/* The overlap of the members' windows over the longest of them (0 when disjoint). */
static double window_overlap(const ab_result *const *m, size_t n, double *t0, double *t1)
{
    double lo = m[0]->started, hi = m[0]->started + m[0]->time_spent, inner_lo = lo, inner_hi = hi,
           longest = m[0]->time_spent;
    for (size_t i = 1; i < n; i++) {
        double a = m[i]->started, b = a + m[i]->time_spent;
        lo = fmin(lo, a);
        hi = fmax(hi, b);
        inner_lo = fmax(inner_lo, a);
        inner_hi = fmin(inner_hi, b);
        longest = fmax(longest, m[i]->time_spent);
    }
    *t0 = lo;
    *t1 = hi;
    return longest > 0 && inner_hi > inner_lo ? (inner_hi - inner_lo) / longest : 0.0;
}

/* extra.concurrent: each device's median and the spread over the passing devices. */
static json_t *spread_json(const ab_result *const *m, size_t n, const ab_metric *first,
                           double overlap)
{
    json_t *o = json_object(), *per = json_object(), *devs = json_array();
    double *v = calloc(n, sizeof(*v));
    size_t nv = 0, lo = 0, hi = 0;
    bool hib = first->higher_is_better;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(devs, json_string(m[i]->device));
        const ab_metric *mm = m[i]->status == AB_PASS ? ab_result_metric(m[i], first->name) : NULL;
        if (!mm || !v) continue;
        json_object_set_new(per, m[i]->device, json_real(mm->stats.median));
        double x = mm->stats.median;
        const ab_metric *ml = ab_result_metric(m[lo], first->name),
                        *mh = ab_result_metric(m[hi], first->name);
        if (!nv || (hib ? x < ml->stats.median : x > ml->stats.median)) lo = i;
        if (!nv || (hib ? x > mh->stats.median : x < mh->stats.median)) hi = i;
        v[nv++] = x;
    }
    json_object_set_new(o, "role", json_string("aggregate"));
    json_object_set_new(o, "devices", devs);
    json_object_set_new(o, "metric", json_string(first->name));
    json_object_set_new(o, "unit", json_string(first->unit));
    json_object_set_new(o, "per_device_median", per);
    if (nv) {
        json_object_set_new(o, "slowest", json_string(m[lo]->device));
        json_object_set_new(o, "fastest", json_string(m[hi]->device));
        double med = median_of(v, nv);
        json_object_set_new(o, "min", json_real(v[0]));
        json_object_set_new(o, "median", json_real(med));
        json_object_set_new(o, "max", json_real(v[nv - 1]));
        json_object_set_new(o, "spread", json_real(med > 0 ? (v[nv - 1] - v[0]) / med : NAN));
    }
    json_object_set_new(o, "overlap", json_real(overlap));
    free(v);
    return o;
}

/* The sum metric: sample i is the sum over passing members of their sample i. */
static void add_sum_metric(ab_result *r, const ab_result *const *m, size_t n,
                           const ab_metric *first)
{
    size_t ns = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const ab_metric *mm = ab_result_metric(m[i], first->name);
        ns = mm && mm->nsamples < ns ? mm->nsamples : ns;
    }
    if (ns == SIZE_MAX || ns == 0) return;
    double *sum = calloc(ns, sizeof(*sum));
    if (!sum) return;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ns; k++)
            sum[k] += ab_result_metric(m[i], first->name)->samples[k];
    char name[96], formula[256];
    snprintf(name, sizeof(name), "%s_sum", first->name);
    snprintf(formula, sizeof(formula),
             "sum over the %zu devices of their sample i of %s (run at the same time)", n,
             first->name);
    ab_result_add_metric(r, name, first->unit, first->higher_is_better, formula, sum, ns);
    free(sum);
}

/* The params every member has with the same value; the others, per device, into differ (the
 * working set, the team's threads: what each device picked for itself). Each member's impl is
 * recorded there too when they differ (a headline aggregate). */
static json_t *common_params(const ab_result *const *m, size_t n, json_t *differ)
{
    json_t *common = json_object();
    bool same_impl = true;
    for (size_t i = 1; i < n; i++)
        same_impl &= m[i]->impl && m[0]->impl && strcmp(m[i]->impl, m[0]->impl) == 0;
    for (size_t i = 0; i < n; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(m[i]->params, k, v)
        {
            bool same = true;
            for (size_t j = 0; j < n && same; j++)
                same = json_equal(json_object_get(m[j]->params, k), v);
            if (same) {
                json_object_set(common, k, v);
                continue;
            }
            json_t *d = json_object_get(differ, m[i]->device);
            if (!d) json_object_set_new(differ, m[i]->device, d = json_object());
            json_object_set(d, k, v);
        }
        if (!same_impl) {
            json_t *d = json_object_get(differ, m[i]->device);
            if (!d) json_object_set_new(differ, m[i]->device, d = json_object());
            json_object_set_new(d, "impl", json_string(m[i]->impl ? m[i]->impl : "none"));
        }
    }
    return common;
}

ab_result *ab_concurrent_aggregate(const ab_result *const *m, size_t n, size_t ndevices)
{
    const ab_metric *first = NULL;
    char missing[512] = "";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i]->status == AB_PASS && m[i]->nmetrics && !first)
            first = &m[i]->metrics[0];
        else if (m[i]->status != AB_PASS && k + 1 < sizeof(missing))
            k += (size_t)snprintf(missing + k, sizeof(missing) - k, "%s%s %s", k ? ", " : "",
                                  m[i]->device, ab_status_name(m[i]->status));
    }
    if (!first) return NULL;
    const char *impl = m[0]->impl ? m[0]->impl : "none";
    for (size_t i = 1; i < n; i++)
        if (!m[i]->impl || strcmp(m[i]->impl, impl) != 0) impl = "mixed";
    ab_result *r = ab_result_new(m[0]->suite, m[0]->key, impl);
    if (!r) return NULL;
    char names[512];
    device_names(m, n, names, sizeof(names));
    ab_result_set_device(r, AB_CONCURRENT_DEVICE, names, common_backend(m, n));
    json_t *differ = json_object();
    json_decref(r->params);
    r->params = common_params(m, n, differ);
    double t0, t1, overlap = window_overlap(m, n, &t0, &t1);
    r->started = t0;
    r->time_spent = t1 - t0;
    bool all = n == ndevices && !*missing;
    bool rate = first->unit && strstr(first->unit, "/s") && first->higher_is_better;
    if (all && rate) add_sum_metric(r, m, n, first);
    r->extra = json_object();
    json_t *c = spread_json(m, n, first, overlap);
    if (json_object_size(differ)) json_object_set(c, "device_params", differ);
    json_decref(differ);
    json_object_set_new(r->extra, "concurrent", c);
    if (!all)
        ab_result_set_status(r, AB_SKIP, "no aggregate: not every device passed (%s)",
                             *missing ? missing : "a device has no result");
    else if (!rate)
        ab_result_set_status(r, AB_SKIP, "no sum of %s (%s is not a rate); spread in extra",
                             first->name, first->unit ? first->unit : "no unit");
    for (size_t i = 0; i < n && all && rate; i++)
        r->headline |= m[i]->headline;
    return r;
}

/* The group of a snapshot: the suite, key and impl (or, headline true, the key's headline
 * whatever its impl), and its place among the device's results of that kind, so that the i-th
 * point of a sweep meets the i-th point of the same sweep on every other device (the devices'
 * own sizes differ: membw's working set follows each device's cache). NULL: not in one. */
static char *group_id(ab_result *const *v, size_t i, bool headline)
{
    const ab_result *r = v[i];
    if (headline && !r->headline) return NULL;
    size_t occ = 0;
    for (size_t k = 0; k < i; k++) {
        const ab_result *o = v[k];
        occ += strcmp(o->device, r->device) == 0 && strcmp(o->suite, r->suite) == 0 &&
               strcmp(o->key, r->key) == 0 &&
               (headline ? o->headline : strcmp(o->impl, r->impl) == 0);
    }
    size_t len = strlen(r->suite) + strlen(r->key) + strlen(r->impl) + 32;
    char *id = malloc(len);
    if (id) snprintf(id, len, "%s|%s|%s|%zu", r->suite, r->key, headline ? "" : r->impl, occ);
    return id;
}

static bool same_impls(const ab_result **m, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(m[i]->impl, m[0]->impl) != 0) return false;
    return true;
}

/* One pass over the snapshots: an aggregate per group that ran on more than one device. With
 * headline set, only for groups whose members' impls differ (otherwise the impl's aggregate of
 * the first pass is marked the headline). */
static int aggregate_pass(conc_state *st, ab_suite_ctx *ctx, bool headline)
{
    size_t n = st->nsnaps;
    char **ids = calloc(n ? n : 1, sizeof(*ids));
    bool *done = calloc(n ? n : 1, sizeof(*done));
    const ab_result **m = calloc(n ? n : 1, sizeof(*m));
    int rc = ids && done && m ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        ids[i] = st->snaps[i]->suite && st->snaps[i]->key && st->snaps[i]->impl
                     ? group_id(st->snaps, i, headline)
                     : NULL;
    for (size_t i = 0; rc == 0 && i < n && !ab_interrupted(); i++) {
        if (done[i] || !ids[i]) continue;
        size_t nm = 0;
        for (size_t k = i; k < n; k++)
            if (!done[k] && ids[k] && strcmp(ids[k], ids[i]) == 0) {
                done[k] = true;
                m[nm++] = st->snaps[k];
            }
        if (nm < 2 || (headline && same_impls(m, nm))) continue;
        ab_result *r = ab_concurrent_aggregate(m, nm, st->env->ndevices);
        if (r && !headline) {
            bool all = true;
            for (size_t k = 0; k < nm; k++)
                all &= m[k]->headline;
            r->headline &= all;
        }
        if (r && st->env->emit(ctx, r) != 0) rc = -1;
    }
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
    free(done);
    free(m);
    return rc;
}

static int emit_aggregates(conc_state *st, ab_suite_ctx *ctx)
{
    int rc = aggregate_pass(st, ctx, false);
    return rc == 0 ? aggregate_pass(st, ctx, true) : rc;
}

/* Devices whose thread could not be created: one error per suite, from the calling thread. */
static int emit_unstarted(conc_state *st, conc_thread *t, size_t from)
{
    const ab_concurrent_env *env = st->env;
    for (size_t i = from; i < env->ndevices; i++)
        for (size_t si = 0; env->suites[si]; si++) {
            if (!env->suite_on[si]) continue;
            t[i].ctx.opt = &env->views[si];
            t[i].ctx.suite = env->suites[si];
            t[i].ctx.emit = env->emit;
            ab_result *r = ab_suite_result(&t[i].ctx, env->suites[si]->name, "none");
            if (r) ab_result_set_status(r, AB_ERROR, "--concurrent: cannot start a host thread");
            if (ab_emit(&t[i].ctx, r) != 0) return -1;
        }
    return 0;
}

int ab_concurrent_run(const ab_concurrent_env *env)
{
    if (env->ndevices == 0) {
        ab_log(AB_LOG_WARN, "no device selected and available");
        return 0;
    }
    conc_state st = {.env = env};
    conc_thread *t = calloc(env->ndevices, sizeof(*t));
    if (!t) return -1;
    pthread_mutex_init(&st.mu, NULL);
    /* the threads wait for the barrier behind the lock: it counts the threads that started */
    pthread_mutex_lock(&st.mu);
    size_t started = 0;
    for (size_t i = 0; i < env->ndevices; i++) {
        t[i] = (conc_thread){.ctx = {.dev = env->devices[i],
                                     .emit = conc_emit,
                                     .runner = env->runner,
                                     .manifest = env->manifest,
                                     .energy = env->energy,
                                     .sampler = env->sampler},
                             .st = &st,
                             .index = i};
        if (pthread_create(&t[i].tid, NULL, device_thread, &t[i]) != 0) break;
        started++;
    }
    if (started) pthread_barrier_init(&st.barrier, NULL, (unsigned)started);
    pthread_mutex_unlock(&st.mu);
    for (size_t i = 0; i < started; i++)
        pthread_join(t[i].tid, NULL);
    int rc = st.stop ? -1 : 0;
    if (rc == 0 && started < env->ndevices) rc = emit_unstarted(&st, t, started);
    ab_suite_ctx actx = {.emit = env->emit, .runner = env->runner, .manifest = env->manifest};
    if (rc == 0) rc = emit_aggregates(&st, &actx);
    for (size_t i = 0; i < st.nsnaps; i++)
        ab_result_free(st.snaps[i]);
    free(st.snaps);
    if (started) pthread_barrier_destroy(&st.barrier);
    pthread_mutex_destroy(&st.mu);
    free(t);
    return rc;
}

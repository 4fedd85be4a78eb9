/* SPDX-License-Identifier: MIT */
#include "counters.h"

#include "../core/ab.h"
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The events and the keys they are recorded under. L3_TCM is PAPI's last-level preset. */
static const struct {
    const char *papi, *key;
} events[] = {{"PAPI_TOT_CYC", "cycles"},
              {"PAPI_TOT_INS", "instructions"},
              {"PAPI_L1_DCM", "l1d_misses"},
              {"PAPI_L2_DCM", "l2d_misses"},
              {"PAPI_L3_TCM", "llc_misses"}};
#define NEV ((int)(sizeof(events) / sizeof(events[0])))

json_t *ab_counters_missing(const char *why)
{
    json_t *o = json_object();
    json_object_set_new(o, "source", json_string("PAPI"));
    for (int i = 0; i < NEV; i++)
        ab_field_unavailable(o, events[i].key, "%s", why);
    return o;
}

#ifdef AB_HAVE_PAPI
#include <papi.h>
#include <pthread.h>

#define LOG_CAP 65536

typedef struct interval {
    double t0, t1;
    long long v[NEV];
} interval;

typedef struct thread_set {
    int es; /* PAPI event set, created by the thread that uses it */
    pthread_t owner;
    int ok;           /* created and started */
    long long v[NEV]; /* counts of the last interval */
} thread_set;

struct ab_counters {
    int nthreads;
    bool use[NEV];            /* event could be added on this machine */
    char why[NEV][AB_ERRLEN]; /* why not */
    int nuse;
    thread_set *ts;
    interval *log; /* ring of the last LOG_CAP intervals */
    size_t head, count;
    unsigned long failed; /* intervals where a thread could not count */
    char version[32];
};

static unsigned long self_id(void)
{
    return (unsigned long)pthread_self();
}

static int papi_init(char *why)
{
    if (PAPI_is_initialized() != PAPI_NOT_INITED) return 0;
    int v = PAPI_library_init(PAPI_VER_CURRENT);
    if (v != PAPI_VER_CURRENT)
        return ab_err(why, "PAPI_library_init: %s",
                      v > 0 ? "header/library version mismatch" : PAPI_strerror(v));
    int rc = PAPI_thread_init(self_id);
    if (rc != PAPI_OK) return ab_err(why, "PAPI_thread_init: %s", PAPI_strerror(rc));
    return 0;
}

/* Adds the usable events to a fresh event set of the calling thread. */
static int make_set(const ab_counters *c, int *es)
{
    *es = PAPI_NULL;
    if (PAPI_create_eventset(es) != PAPI_OK) return -1;
    for (int i = 0; i < NEV; i++)
        if (c->use[i] && PAPI_add_named_event(*es, events[i].papi) != PAPI_OK) {
            PAPI_cleanup_eventset(*es);
            PAPI_destroy_eventset(es);
            return -1;
        }
    return 0;
}

static ab_counters *counters_new(int nthreads, char *why)
{
    if (papi_init(why) != 0) return NULL;
    ab_counters *c = calloc(1, sizeof(*c));
    if (!c) {
        ab_err(why, "out of memory");
        return NULL;
    }
    c->nthreads = nthreads > 0 ? nthreads : 1;
    const PAPI_hw_info_t *hw = PAPI_get_hardware_info();
    (void)hw;
    snprintf(c->version, sizeof(c->version), "PAPI %d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
             PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION));
    /* Which events this machine can count, added one by one into one set (so conflicts
     * between them show too), then proven by a start/stop. */
    int es = PAPI_NULL;
    int rc = PAPI_create_eventset(&es);
    if (rc != PAPI_OK) {
        ab_err(why, "PAPI_create_eventset: %s", PAPI_strerror(rc));
        free(c);
        return NULL;
    }
    char all[AB_ERRLEN * 2] = "";
    int rcs[NEV];
    for (int i = 0; i < NEV; i++) {
        rc = rcs[i] = PAPI_add_named_event(es, events[i].papi);
        if (rc == PAPI_OK) {
            c->use[i] = true;
            c->nuse++;
        } else {
            snprintf(c->why[i], AB_ERRLEN, "%s: %s", events[i].papi, PAPI_strerror(rc));
        }
    }
    /* one line: the events grouped by the error PAPI gave ("A, B: Event does not exist") */
    for (int i = 0; i < NEV; i++) {
        if (rcs[i] == PAPI_OK) continue;
        bool first = true;
        for (int k = 0; k < i; k++)
            first &= rcs[k] != rcs[i];
        if (!first) continue;
        size_t n = strlen(all);
        snprintf(all + n, sizeof(all) - n, "%s", n ? "; " : "");
        for (int k = i; k < NEV; k++)
            if (rcs[k] == rcs[i]) {
                n = strlen(all);
                snprintf(all + n, sizeof(all) - n, "%s%s", k == i ? "" : ", ", events[k].papi);
            }
        n = strlen(all);
        snprintf(all + n, sizeof(all) - n, ": %s", PAPI_strerror(rcs[i]));
    }
    if (c->nuse) {
        long long v[NEV];
        rc = PAPI_start(es);
        if (rc == PAPI_OK) rc = PAPI_stop(es, v);
        if (rc != PAPI_OK) {
            snprintf(all, sizeof(all), "PAPI_start: %s", PAPI_strerror(rc));
            c->nuse = 0;
        }
    }
    PAPI_cleanup_eventset(es);
    PAPI_destroy_eventset(&es);
    if (c->nuse == 0) {
        /* PAPI's presets can be listed while the kernel has no CPU PMU to count them with: say
         * so, it is the usual case in a VM */
        FILE *f = fopen("/sys/bus/event_source/devices/cpu/type", "r");
        FILE *g = f ? NULL : fopen("/sys/bus/event_source/devices/cpu_core/type", "r");
        bool pmu = f || g;
        if (f) fclose(f);
        if (g) fclose(g);
        ab_err(why, "%s: no usable counter: %s%s", c->version, all,
               pmu ? "" : " (the kernel exposes no CPU PMU, as in most VMs)");
        free(c);
        return NULL;
    }
    c->ts = calloc((size_t)c->nthreads, sizeof(*c->ts));
    c->log = calloc(LOG_CAP, sizeof(*c->log));
    if (!c->ts || !c->log) {
        free(c->ts);
        free(c->log);
        free(c);
        ab_err(why, "out of memory");
        return NULL;
    }
    for (int t = 0; t < c->nthreads; t++)
        c->ts[t].es = PAPI_NULL;
    return c;
}

void ab_counters_free(ab_counters *c)
{
    if (!c) return;
    /* event sets belong to their threads; PAPI releases them with the threads */
    free(c->ts);
    free(c->log);
    free(c);
}

void ab_counters_thread_start(ab_counters *c, int tid)
{
    if (!c || tid < 0 || tid >= c->nthreads) return;
    thread_set *t = &c->ts[tid];
    t->ok = 0;
    if (t->es == PAPI_NULL || !pthread_equal(t->owner, pthread_self())) {
        /* first use on this thread (or OpenMP gave the slot to another thread) */
        if (make_set(c, &t->es) != 0) {
            t->es = PAPI_NULL;
            return;
        }
        t->owner = pthread_self();
    }
    t->ok = PAPI_start(t->es) == PAPI_OK;
}

void ab_counters_thread_stop(ab_counters *c, int tid)
{
    if (!c || tid < 0 || tid >= c->nthreads) return;
    thread_set *t = &c->ts[tid];
    long long v[NEV] = {0};
    if (t->ok && PAPI_stop(t->es, v) != PAPI_OK) t->ok = 0;
    /* PAPI returns the counts of the events in the set in the order they were added */
    int k = 0;
    for (int i = 0; i < NEV; i++)
        t->v[i] = c->use[i] ? v[k++] : 0;
}

void ab_counters_interval(ab_counters *c, double t0, double t1)
{
    if (!c) return;
    interval *e = &c->log[c->head];
    memset(e, 0, sizeof(*e));
    e->t0 = t0;
    e->t1 = t1;
    bool all = true;
    for (int t = 0; t < c->nthreads; t++) {
        all &= c->ts[t].ok != 0;
        for (int i = 0; i < NEV; i++)
            e->v[i] += c->ts[t].v[i];
    }
    if (!all) {
        c->failed++; /* an incomplete interval is not logged: its sums would be too low */
        return;
    }
    c->head = (c->head + 1) % LOG_CAP;
    if (c->count < LOG_CAP) c->count++;
}

json_t *ab_counters_summary(ab_counters *c, double t0, double t1)
{
    json_t *o = json_object();
    json_object_set_new(o, "source", json_string(c->version));
    char scope[256];
    snprintf(scope, sizeof(scope),
             "summed over the %d OpenMP team threads and every timed batch "
             "in the result's window (warm-up, calibration and recorded "
             "samples; setup and validation excluded)",
             c->nthreads);
    json_object_set_new(o, "scope", json_string(scope));
    long long sum[NEV] = {0};
    size_t k = 0;
    double timed = 0;
    for (size_t j = 0; j < c->count; j++) {
        const interval *e = &c->log[(c->head + LOG_CAP - c->count + j) % LOG_CAP];
        if (e->t0 < t0 || e->t1 > t1) continue;
        k++;
        timed += e->t1 - e->t0;
        for (int i = 0; i < NEV; i++)
            sum[i] += e->v[i];
    }
    json_object_set_new(o, "batches", json_integer((json_int_t)k));
    json_object_set_new(o, "timed_s", json_real(timed));
    for (int i = 0; i < NEV; i++) {
        if (!c->use[i])
            ab_field_unavailable(o, events[i].key, "%s", c->why[i]);
        else if (k == 0)
            ab_field_unavailable(o, events[i].key, "no timed batch inside the result's window");
        else
            ab_field_set(o, events[i].key, json_integer(sum[i]), events[i].papi);
    }
    if (c->use[0] && c->use[1] && k && sum[0] > 0)
        ab_field_set(o, "ipc", json_real((double)sum[1] / (double)sum[0]), "instructions / cycles");
    else
        ab_field_unavailable(o, "ipc", "needs both cycles and instructions");
    if (c->failed)
        json_object_set_new(o, "incomplete_batches", json_integer((json_int_t)c->failed));
    return o;
}

#else /* no PAPI */

static ab_counters *counters_new(int nthreads, char *why)
{
    (void)nthreads;
    ab_err(why, "not built with PAPI (AB_PAPI=OFF or libpapi-dev missing at configure time)");
    return NULL;
}
void ab_counters_free(ab_counters *c)
{
    (void)c;
}
void ab_counters_thread_start(ab_counters *c, int tid)
{
    (void)c;
    (void)tid;
}
void ab_counters_thread_stop(ab_counters *c, int tid)
{
    (void)c;
    (void)tid;
}
void ab_counters_interval(ab_counters *c, double t0, double t1)
{
    (void)c;
    (void)t0;
    (void)t1;
}
json_t *ab_counters_summary(ab_counters *c, double t0, double t1)
{
    (void)c;
    (void)t0;
    (void)t1;
    return ab_counters_missing("not built with PAPI");
}

#endif

ab_counters *ab_counters_new(int nthreads, char *why)
{
    const char *env = getenv("ACCELBENCH_PAPI");
    if (env && strcmp(env, "0") == 0) {
        ab_err(why, "disabled by ACCELBENCH_PAPI=0");
        return NULL;
    }
    return counters_new(nthreads, why);
}

json_t *ab_probe_counters(void)
{
    json_t *o = json_object();
    char why[AB_ERRLEN];
    ab_counters *c = ab_counters_new(1, why);
    json_t *papi = json_object();
    if (!c) {
        ab_field_unavailable(papi, "events", "%s", why);
    } else {
#ifdef AB_HAVE_PAPI
        json_t *ev = json_object();
        for (int i = 0; i < NEV; i++) {
            if (c->use[i])
                ab_field_set(ev, events[i].key, json_string(events[i].papi), c->version);
            else
                ab_field_unavailable(ev, events[i].key, "%s", c->why[i]);
        }
        ab_field_set(papi, "events", ev, c->version);
#endif
        ab_counters_free(c);
    }
    json_object_set_new(o, "papi", papi);
    return o;
}

/* SPDX-License-Identifier: MIT */
#include "rundoc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

ab_run *ab_run_new(void)
{
    ab_run *run = calloc(1, sizeof(*run));
    if (!run)
        return NULL;
    run->schema_version = AB_SCHEMA_VERSION;
    run->argv = json_array();
    run->settings = json_object();
    run->host = json_object();
    run->backends = json_array();
    run->devices = json_array();
    return run;
}

void ab_run_free(ab_run *run)
{
    if (!run)
        return;
    free(run->id);
    free(run->version);
    free(run->git_commit);
    free(run->compiler);
    free(run->build_type);
    free(run->profile);
    json_decref(run->argv);
    json_decref(run->settings);
    json_decref(run->host);
    json_decref(run->manifest);
    json_decref(run->backends);
    json_decref(run->devices);
    json_decref(run->job);
    for (size_t i = 0; i < run->nresults; i++)
        ab_result_free(run->results[i]);
    free(run->results);
    free(run);
}

int ab_run_add(ab_run *run, ab_result *r, char *err)
{
    if (run->nresults == run->cap) {
        size_t cap = run->cap ? run->cap * 2 : 64;
        ab_result **v = realloc(run->results, cap * sizeof(*v));
        if (!v)
            return ab_err(err, "out of memory");
        run->results = v;
        run->cap = cap;
    }
    run->results[run->nresults++] = r;
    return 0;
}

ab_result *ab_result_new(const char *suite, const char *key, const char *impl)
{
    ab_result *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->suite = ab_strdup(suite);
    r->key = ab_strdup(key);
    r->impl = ab_strdup(impl ? impl : "default");
    r->params = json_object();
    r->status = AB_PASS;
    r->started = ab_wall_time();
    return r;
}

static void metric_clear(ab_metric *m)
{
    free(m->name);
    free(m->unit);
    free(m->formula);
    free(m->samples);
}

void ab_result_free(ab_result *r)
{
    if (!r)
        return;
    free(r->suite);
    free(r->key);
    free(r->device);
    free(r->device_name);
    free(r->backend);
    free(r->impl);
    free(r->reason);
    free(r->node);
    json_decref(r->params);
    json_decref(r->extra);
    for (size_t i = 0; i < r->nmetrics; i++)
        metric_clear(&r->metrics[i]);
    free(r->metrics);
    free(r);
}

void ab_result_set_status(ab_result *r, ab_status s, const char *fmt, ...)
{
    r->status = s;
    free(r->reason);
    r->reason = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&r->reason, fmt, ap) < 0)
            r->reason = NULL;
        va_end(ap);
    }
}

void ab_result_set_device(ab_result *r, const char *device, const char *device_name,
                          const char *backend)
{
    free(r->device);
    free(r->device_name);
    free(r->backend);
    r->device = ab_strdup(device);
    r->device_name = ab_strdup(device_name);
    r->backend = ab_strdup(backend);
}

void ab_result_param_str(ab_result *r, const char *name, const char *value)
{
    json_object_set_new(r->params, name, ab_json_string(value));
}

void ab_result_param_int(ab_result *r, const char *name, long long value)
{
    json_object_set_new(r->params, name, json_integer(value));
}

void ab_result_param_real(ab_result *r, const char *name, double value)
{
    json_object_set_new(r->params, name, isfinite(value) ? json_real(value) : json_null());
}

ab_metric *ab_result_add_metric(ab_result *r, const char *name, const char *unit,
                                bool higher_is_better, const char *formula,
                                const double *samples, size_t n)
{
    ab_metric *v = realloc(r->metrics, (r->nmetrics + 1) * sizeof(*v));
    if (!v)
        return NULL;
    r->metrics = v;
    ab_metric *m = &v[r->nmetrics];
    memset(m, 0, sizeof(*m));
    m->name = ab_strdup(name);
    m->unit = ab_strdup(unit);
    m->formula = ab_strdup(formula ? formula : "");
    m->higher_is_better = higher_is_better;
    m->samples = malloc((n ? n : 1) * sizeof(double));
    if (!m->name || !m->unit || !m->formula || !m->samples) {
        metric_clear(m);
        return NULL;
    }
    if (n)
        memcpy(m->samples, samples, n * sizeof(double));
    m->nsamples = n;
    if (ab_stats_compute(samples, n, &m->stats) != 0) {
        metric_clear(m);
        return NULL;
    }
    r->nmetrics++;
    return m;
}

const ab_metric *ab_result_metric(const ab_result *r, const char *name)
{
    for (size_t i = 0; i < r->nmetrics; i++)
        if (strcmp(r->metrics[i].name, name) == 0)
            return &r->metrics[i];
    return NULL;
}

/* Appends "k=v" for every param, keys sorted (jansson keeps insertion order, so sort here). */
static char *params_join(const json_t *params, const char *sep, const char *kvsep)
{
    size_t n = json_object_size(params);
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    if (!keys)
        return NULL;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v) keys[i++] = k;
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *t = keys[b];
            keys[b] = keys[b - 1];
            keys[b - 1] = t;
        }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        free(keys);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        json_t *val = json_object_get(params, keys[i]);
        fprintf(f, "%s%s%s", i ? sep : "", keys[i], kvsep);
        if (json_is_string(val))
            fputs(json_string_value(val), f);
        else if (json_is_integer(val))
            fprintf(f, "%lld", (long long)json_integer_value(val));
        else if (json_is_real(val))
            fprintf(f, "%.17g", json_real_value(val));
        else {
            char *s = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
            fputs(s ? s : "?", f);
            free(s);
        }
    }
    fclose(f);
    free(keys);
    return buf;
}

char *ab_result_id(const ab_result *r)
{
    char *p = params_join(r->params, ",", "=");
    /* the ranks of a job measure the same cases: rank N > 0 is a result of its own (rank 0 aligns
     * with a single-process run of the same build) */
    char rank[24] = "";
    if (r->ranked && r->rank > 0 && !r->job_wide)
        snprintf(rank, sizeof(rank), "|rank=%d", r->rank);
    char *id = ab_asprintf("%s|%s|%s|%s%s", r->key, r->impl ? r->impl : "", p ? p : "",
                           r->device_name ? r->device_name : "", rank);
    free(p);
    return id;
}

char *ab_params_brief(const json_t *params)
{
    return params_join(params, " ", "=");
}

/* ------------------------------------------------------------------ writing */

static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *ab_json_string(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *buf = malloc(3 * n + 1), *o = buf;
    if (!buf)
        return json_null();
    char one[5];
    for (size_t i = 0; i < n;) {
        /* the longest valid sequence at i, else one replacement character */
        size_t k = 0;
        for (size_t len = 4; len >= 1 && !k; len--) {
            if (i + len > n)
                continue;
            memcpy(one, s + i, len);
            one[len] = '\0';
            if (ab_utf8_valid(one))
                k = len;
        }
        if (k) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    j = json_string(buf);
    free(buf);
    return j ? j : json_null();
}

int ab_run_id_check(const char *id, char *err)
{
    size_t n = strlen(id);
    if (!n)
        return ab_err(err, "empty run id");
    if (n > AB_RUN_ID_MAX)
        return ab_err(err, "a run id of %zu bytes is longer than the %d-byte maximum", n,
                      AB_RUN_ID_MAX);
    if (!ab_utf8_valid(id))
        return ab_err(err, "the run id is not valid UTF-8");
    const unsigned char *u = (const unsigned char *)id;
    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f || (u[i] == 0xC2 && i + 1 < n && u[i + 1] < 0xA0))
            return ab_err(err, "the run id holds a control character (byte %zu)", i + 1);
        if (u[i] == '/' || u[i] == '\\')
            return ab_err(err, "the run id holds '%c' (it names one folder)", u[i]);
    }
    if (id[0] == '.')
        return ab_err(err, "a run id may not start with '.'");
    if (strcmp(id, "latest") == 0)
        return ab_err(err, "the run id 'latest' is reserved (results/latest links to the newest "
                           "run)");
    return 0;
}

static json_t *str_or_null(const char *s)
{
    return ab_json_string(s);
}

static json_t *stats_to_json(const ab_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)s->n));
    json_object_set_new(o, "median", real_or_null(s->median));
    json_object_set_new(o, "min", real_or_null(s->min));
    json_object_set_new(o, "max", real_or_null(s->max));
    json_object_set_new(o, "mean", real_or_null(s->mean));
    json_object_set_new(o, "stddev", real_or_null(s->stddev));
    json_object_set_new(o, "p90", real_or_null(s->p90));
    json_object_set_new(o, "p99", real_or_null(s->p99));
    json_object_set_new(o, "cv", real_or_null(s->cv));
    return o;
}

static json_t *result_to_json(const ab_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "suite", str_or_null(r->suite));
    json_object_set_new(o, "key", str_or_null(r->key));
    json_object_set_new(o, "device", str_or_null(r->device));
    json_object_set_new(o, "device_name", str_or_null(r->device_name));
    json_object_set_new(o, "backend", str_or_null(r->backend));
    json_object_set_new(o, "impl", str_or_null(r->impl));
    json_object_set(o, "params", r->params ? r->params : json_object());
    json_object_set_new(o, "status", json_string(ab_status_name(r->status)));
    json_object_set_new(o, "reason", str_or_null(r->reason));
    json_object_set_new(o, "headline", json_boolean(r->headline));
    char ts[40];
    ab_format_utc(r->started, ts, sizeof(ts));
    json_object_set_new(o, "started", json_string(ts));
    json_t *smp = json_object();
    json_object_set_new(smp, "warmup_runs", json_integer(r->warmup_runs));
    json_object_set_new(smp, "iters_per_sample", json_integer(r->iters_per_sample));
    json_object_set_new(smp, "time_spent_s", real_or_null(r->time_spent));
    json_object_set_new(o, "sampling", smp);
    json_t *ms = json_array();
    for (size_t i = 0; i < r->nmetrics; i++) {
        const ab_metric *m = &r->metrics[i];
        json_t *mo = json_object();
        json_object_set_new(mo, "name", ab_json_string(m->name));
        json_object_set_new(mo, "unit", ab_json_string(m->unit));
        json_object_set_new(mo, "direction", json_string(m->higher_is_better ? "higher" : "lower"));
        json_object_set_new(mo, "formula", ab_json_string(m->formula ? m->formula : ""));
        json_t *sa = json_array();
        for (size_t k = 0; k < m->nsamples; k++)
            json_array_append_new(sa, real_or_null(m->samples[k]));
        json_object_set_new(mo, "samples", sa);
        ab_stats st = m->stats;
        if (m->nsamples)
            ab_stats_compute(m->samples, m->nsamples, &st);
        json_object_set_new(mo, "stats", stats_to_json(&st));
        json_array_append_new(ms, mo);
    }
    json_object_set_new(o, "metrics", ms);
    if (r->extra)
        json_object_set(o, "extra", r->extra);
    if (r->ranked) {
        json_object_set_new(o, "rank", json_integer(r->rank));
        json_object_set_new(o, "node", str_or_null(r->node));
        if (r->job_wide)
            json_object_set_new(o, "job_wide", json_true());
    }
    return o;
}

json_t *ab_run_to_json(const ab_run *run)
{
    json_t *o = json_object();
    char ts[40];
    json_object_set_new(o, "schema", json_string(AB_SCHEMA_NAME));
    json_object_set_new(o, "schema_version", json_integer(AB_SCHEMA_VERSION));
    json_object_set_new(o, "id", str_or_null(run->id));
    json_t *ab = json_object();
    json_object_set_new(ab, "version", str_or_null(run->version));
    json_object_set_new(ab, "git_commit", str_or_null(run->git_commit));
    json_object_set_new(ab, "compiler", str_or_null(run->compiler));
    json_object_set_new(ab, "build_type", str_or_null(run->build_type));
    json_object_set_new(o, "accelbench", ab);
    json_object_set(o, "argv", run->argv);
    json_object_set_new(o, "profile", str_or_null(run->profile));
    json_object_set(o, "settings", run->settings);
    ab_format_utc(run->start_time, ts, sizeof(ts));
    json_object_set_new(o, "start_time", json_string(ts));
    json_object_set_new(o, "start_epoch", json_real(run->start_time));
    if (run->end_time > 0) {
        ab_format_utc(run->end_time, ts, sizeof(ts));
        json_object_set_new(o, "end_time", json_string(ts));
        json_object_set_new(o, "end_epoch", json_real(run->end_time));
        json_object_set_new(o, "duration_s", json_real(run->end_time - run->start_time));
    } else {
        json_object_set_new(o, "end_time", json_null());
    }
    json_object_set_new(o, "complete", json_boolean(run->complete));
    json_object_set_new(o, "interrupted", json_boolean(run->interrupted));
    json_object_set(o, "host", run->host);
    if (run->manifest)
        json_object_set(o, "manifest", run->manifest);
    json_object_set(o, "backends", run->backends);
    json_object_set(o, "devices", run->devices);
    if (run->job)
        json_object_set(o, "job", run->job);
    json_t *rs = json_array();
    for (size_t i = 0; i < run->nresults; i++)
        json_array_append_new(rs, result_to_json(run->results[i]));
    json_object_set_new(o, "results", rs);
    return o;
}

int ab_run_write(const ab_run *run, const char *path, char *err)
{
    json_t *doc = ab_run_to_json(run);
    if (!doc)
        return ab_err(err, "out of memory");
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(doc);
    if (!text)
        return ab_err(err, "cannot serialise run document");
    size_t len = strlen(text);
    /* a trailing newline keeps the file friendly to line tools */
    char *withnl = realloc(text, len + 2);
    if (!withnl) {
        free(text);
        return ab_err(err, "out of memory");
    }
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    int rc = ab_write_file_atomic(path, withnl, len + 1, err);
    free(withnl);
    return rc;
}

/* ------------------------------------------------------------------ reading */

/* A reader context carries the JSON path of the value being read, for error messages. */
typedef struct {
    char path[160];
    char *err;
} rd;

static int rd_fail(rd *c, const char *field, const char *what)
{
    return ab_err(c->err, "%s%s%s: %s", c->path, *c->path && field ? "." : "", field ? field : "",
                  what);
}

static int get_str(rd *c, const json_t *o, const char *k, bool required, char **out)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required)
            return rd_fail(c, k, "missing (expected a string)");
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return rd_fail(c, k, "expected a string");
    *out = ab_strdup(json_string_value(v));
    return 0;
}

static int get_num(rd *c, const json_t *o, const char *k, bool required, double *out)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required)
            return rd_fail(c, k, "missing (expected a number)");
        *out = NAN;
        return 0;
    }
    if (!json_is_number(v))
        return rd_fail(c, k, "expected a number");
    *out = json_number_value(v);
    return 0;
}

static int get_bool(rd *c, const json_t *o, const char *k, bool dflt, bool *out)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v))
        return rd_fail(c, k, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

static json_t *get_json(rd *c, const json_t *o, const char *k, json_type type, int *rc)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        *rc = 0;
        return type == JSON_OBJECT ? json_object() : json_array();
    }
    if (json_typeof(v) != type) {
        *rc = rd_fail(c, k, type == JSON_OBJECT ? "expected an object" : "expected an array");
        return NULL;
    }
    *rc = 0;
    return json_incref(v);
}

static int read_stats(rd *c, const json_t *o, ab_stats *s)
{
    double n;
    if (get_num(c, o, "n", false, &n) || get_num(c, o, "median", false, &s->median) ||
        get_num(c, o, "min", false, &s->min) || get_num(c, o, "max", false, &s->max) ||
        get_num(c, o, "mean", false, &s->mean) || get_num(c, o, "stddev", false, &s->stddev) ||
        get_num(c, o, "p90", false, &s->p90) || get_num(c, o, "p99", false, &s->p99) ||
        get_num(c, o, "cv", false, &s->cv))
        return -1;
    if (isfinite(n) && (n < 0 || n > 1e18))
        return rd_fail(c, "n", "out of range");
    s->n = isfinite(n) && n > 0 ? (size_t)n : 0;
    return 0;
}

static int read_metric(rd *c, const json_t *o, ab_metric *m)
{
    if (!json_is_object(o))
        return rd_fail(c, NULL, "expected an object");
    char *dir = NULL;
    if (get_str(c, o, "name", true, &m->name) || get_str(c, o, "unit", true, &m->unit) ||
        get_str(c, o, "formula", false, &m->formula) || get_str(c, o, "direction", true, &dir))
        return -1;
    if (strcmp(dir, "higher") != 0 && strcmp(dir, "lower") != 0) {
        free(dir);
        return rd_fail(c, "direction", "expected \"higher\" or \"lower\"");
    }
    m->higher_is_better = strcmp(dir, "higher") == 0;
    free(dir);
    json_t *sa = json_object_get(o, "samples");
    if (!json_is_array(sa))
        return rd_fail(c, "samples", "missing or not an array");
    size_t n = json_array_size(sa);
    m->samples = malloc((n ? n : 1) * sizeof(double));
    if (!m->samples)
        return ab_err(c->err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(sa, i);
        if (!json_is_number(v)) {
            char what[64];
            snprintf(what, sizeof(what), "element %zu is not a number", i);
            return rd_fail(c, "samples", what);
        }
        m->samples[i] = json_number_value(v);
    }
    m->nsamples = n;
    json_t *st = json_object_get(o, "stats");
    if (json_is_object(st)) {
        size_t plen = strlen(c->path);
        strncat(c->path, ".stats", sizeof(c->path) - plen - 1);
        int rc = read_stats(c, st, &m->stats);
        c->path[plen] = '\0';
        if (rc)
            return -1;
    } else if (st && !json_is_null(st)) {
        return rd_fail(c, "stats", "expected an object");
    } else if (n) {
        ab_stats_compute(m->samples, n, &m->stats);
    }
    return 0;
}

/* extra.history (a baseline's aggregate, which compare and gate read in place of the median):
 * {"metrics": {NAME: {"median": number, ...}}}. A value of the wrong type is refused, not
 * skipped: the comparison would otherwise fall back to another figure without a word. */
static int check_history_extra(rd *c, const json_t *h)
{
    if (!h || json_is_null(h))
        return 0;
    json_t *ms = json_object_get(h, "metrics");
    if (!json_is_object(h) || (ms && !json_is_object(ms)))
        return rd_fail(c, "extra.history", "expected {\"metrics\": {NAME: {...}}}");
    const char *k;
    json_t *v;
    json_object_foreach(ms, k, v)
    {
        if (!json_is_object(v))
            return rd_fail(c, "extra.history.metrics", "a metric entry is not an object");
        const char *nums[] = {"median", "sigma_log", "runs"};
        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
            json_t *x = json_object_get(v, nums[i]);
            if (x && !json_is_null(x) && !json_is_number(x)) {
                char what[160];
                snprintf(what, sizeof(what), "%.64s.%s: expected a number", k, nums[i]);
                return rd_fail(c, "extra.history.metrics", what);
            }
        }
    }
    return 0;
}

/* "rank" (with "node", "job_wide"): a result of one rank of an MPI job */
static int read_rank(rd *c, const json_t *o, ab_result *r)
{
    json_t *rank = json_object_get(o, "rank");
    if (!rank || json_is_null(rank))
        return 0;
    if (!json_is_integer(rank) || json_integer_value(rank) < 0 ||
        json_integer_value(rank) > INT_MAX)
        return rd_fail(c, "rank", "expected a rank number (0 or more)");
    r->ranked = true;
    r->rank = (int)json_integer_value(rank);
    return get_str(c, o, "node", false, &r->node) ||
           get_bool(c, o, "job_wide", false, &r->job_wide);
}

static ab_result *read_result(rd *c, const json_t *o)
{
    if (!json_is_object(o)) {
        rd_fail(c, NULL, "expected an object");
        return NULL;
    }
    ab_result *r = calloc(1, sizeof(*r));
    if (!r) {
        ab_err(c->err, "out of memory");
        return NULL;
    }
    char *status = NULL, *started = NULL;
    int rc = 0;
    if (get_str(c, o, "suite", true, &r->suite) || get_str(c, o, "key", true, &r->key) ||
        get_str(c, o, "device", true, &r->device) ||
        get_str(c, o, "device_name", false, &r->device_name) ||
        get_str(c, o, "backend", false, &r->backend) || get_str(c, o, "impl", false, &r->impl) ||
        get_str(c, o, "reason", false, &r->reason) || get_str(c, o, "status", true, &status) ||
        get_str(c, o, "started", false, &started) ||
        get_bool(c, o, "headline", false, &r->headline))
        goto fail;
    if (!r->impl)
        r->impl = ab_strdup("default");
    if (ab_status_parse(status, &r->status) != 0) {
        rd_fail(c, "status", "expected pass, fail, skip or error");
        goto fail;
    }
    if (started) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        if (strptime(started, "%Y-%m-%dT%H:%M:%S", &tm))
            r->started = (double)timegm(&tm);
    }
    r->params = get_json(c, o, "params", JSON_OBJECT, &rc);
    if (rc)
        goto fail;
    json_t *extra = json_object_get(o, "extra");
    if (extra && !json_is_null(extra)) {
        if (!json_is_object(extra)) {
            rd_fail(c, "extra", "expected an object");
            goto fail;
        }
        if (check_history_extra(c, json_object_get(extra, "history")))
            goto fail;
        r->extra = json_incref(extra);
    }
    if (read_rank(c, o, r))
        goto fail;
    json_t *smp = json_object_get(o, "sampling");
    if (json_is_object(smp)) {
        double w, ips, ts;
        if (get_num(c, smp, "warmup_runs", false, &w) ||
            get_num(c, smp, "iters_per_sample", false, &ips) ||
            get_num(c, smp, "time_spent_s", false, &ts))
            goto fail;
        /* out-of-range counts are refused: converting them would be undefined behaviour
         * (found by fuzz/fuzz_rundoc.c) */
        if ((isfinite(w) && (w < 0 || w > INT_MAX)) ||
            (isfinite(ips) && (ips < 0 || ips > 1e18))) {
            rd_fail(c, "sampling", "warmup_runs or iters_per_sample out of range");
            goto fail;
        }
        r->warmup_runs = isfinite(w) ? (int)w : 0;
        r->iters_per_sample = isfinite(ips) ? (long)ips : 0;
        r->time_spent = isfinite(ts) ? ts : 0.0;
    }
    json_t *ms = json_object_get(o, "metrics");
    if (ms && !json_is_array(ms)) {
        rd_fail(c, "metrics", "expected an array");
        goto fail;
    }
    size_t nm = json_array_size(ms);
    if (nm) {
        r->metrics = calloc(nm, sizeof(*r->metrics));
        if (!r->metrics) {
            ab_err(c->err, "out of memory");
            goto fail;
        }
    }
    size_t plen = strlen(c->path);
    for (size_t i = 0; i < nm; i++) {
        snprintf(c->path + plen, sizeof(c->path) - plen, ".metrics[%zu]", i);
        r->nmetrics = i + 1;
        if (read_metric(c, json_array_get(ms, i), &r->metrics[i]))
            goto fail;
    }
    c->path[plen] = '\0';
    if (r->status == AB_PASS && r->nmetrics == 0) {
        rd_fail(c, "metrics", "a passing result must carry at least one metric");
        goto fail;
    }
    free(status);
    free(started);
    return r;
fail:
    free(status);
    free(started);
    ab_result_free(r);
    return NULL;
}

ab_run *ab_run_from_json(const json_t *doc, char *err)
{
    rd c = {.path = "", .err = err};
    if (!json_is_object(doc)) {
        ab_err(err, "top level: expected a JSON object");
        return NULL;
    }
    json_t *schema = json_object_get(doc, "schema");
    if (!json_is_string(schema) || strcmp(json_string_value(schema), AB_SCHEMA_NAME) != 0) {
        ab_err(err, "schema: not an accelbench run document (expected \"%s\")", AB_SCHEMA_NAME);
        return NULL;
    }
    json_t *ver = json_object_get(doc, "schema_version");
    if (!json_is_integer(ver)) {
        ab_err(err, "schema_version: missing or not an integer");
        return NULL;
    }
    json_int_t v = json_integer_value(ver);
    if (v < AB_SCHEMA_VERSION_MIN || v > AB_SCHEMA_VERSION) {
        ab_err(err, "schema_version: %lld is not supported by this build (reads %d to %d)",
               (long long)v, AB_SCHEMA_VERSION_MIN, AB_SCHEMA_VERSION);
        return NULL;
    }
    ab_run *run = calloc(1, sizeof(*run));
    if (!run) {
        ab_err(err, "out of memory");
        return NULL;
    }
    run->schema_version = (int)v;
    int rc = 0;
    double se, ee;
    if (get_str(&c, doc, "id", true, &run->id) || get_str(&c, doc, "profile", false, &run->profile) ||
        get_num(&c, doc, "start_epoch", false, &se) || get_num(&c, doc, "end_epoch", false, &ee) ||
        get_bool(&c, doc, "interrupted", false, &run->interrupted) ||
        get_bool(&c, doc, "complete", true, &run->complete))
        goto fail;
    run->start_time = isfinite(se) ? se : 0.0;
    run->end_time = isfinite(ee) ? ee : 0.0;
    json_t *ab = json_object_get(doc, "accelbench");
    if (json_is_object(ab)) {
        snprintf(c.path, sizeof(c.path), "accelbench");
        if (get_str(&c, ab, "version", false, &run->version) ||
            get_str(&c, ab, "git_commit", false, &run->git_commit) ||
            get_str(&c, ab, "compiler", false, &run->compiler) ||
            get_str(&c, ab, "build_type", false, &run->build_type))
            goto fail;
        c.path[0] = '\0';
    }
    if (!(run->argv = get_json(&c, doc, "argv", JSON_ARRAY, &rc)) || rc ||
        !(run->settings = get_json(&c, doc, "settings", JSON_OBJECT, &rc)) || rc ||
        !(run->host = get_json(&c, doc, "host", JSON_OBJECT, &rc)) || rc ||
        !(run->backends = get_json(&c, doc, "backends", JSON_ARRAY, &rc)) || rc ||
        !(run->devices = get_json(&c, doc, "devices", JSON_ARRAY, &rc)) || rc)
        goto fail;
    /* the manifest is optional (documents before it existed); kept as is when present */
    json_t *man = json_object_get(doc, "manifest");
    if (man && !json_is_null(man)) {
        if (!json_is_object(man)) {
            ab_err(err, "manifest: expected an object");
            goto fail;
        }
        run->manifest = json_incref(man);
    }
    json_t *job = json_object_get(doc, "job");
    if (job && !json_is_null(job)) {
        if (!json_is_object(job)) {
            ab_err(err, "job: expected an object");
            goto fail;
        }
        run->job = json_incref(job);
    }
    json_t *rs = json_object_get(doc, "results");
    if (!json_is_array(rs)) {
        ab_err(err, "results: missing or not an array");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(rs); i++) {
        snprintf(c.path, sizeof(c.path), "results[%zu]", i);
        ab_result *r = read_result(&c, json_array_get(rs, i));
        if (!r || ab_run_add(run, r, err)) {
            ab_result_free(r);
            goto fail;
        }
    }
    return run;
fail:
    ab_run_free(run);
    return NULL;
}

/* The journal file beside a run document: <dir of path>/journal.jsonl. */
static char *journal_beside(const char *path)
{
    char *copy = ab_strdup(path);
    if (!copy)
        return NULL;
    char *j = ab_asprintf("%s/%s", dirname(copy), AB_JOURNAL_NAME);
    free(copy);
    return j;
}

ab_run *ab_run_read(const char *path, char *err)
{
    char *text;
    size_t tlen;
    if (ab_read_input(path, AB_MAX_RUNDOC_BYTES, "run document", &text, &tlen, err) != 0)
        return NULL;
    json_error_t je;
    json_t *doc = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!doc) {
        if (je.line > 0)
            ab_err(err, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        else
            ab_err(err, "%s: %s", path, je.text);
        return NULL;
    }
    char inner[AB_ERRLEN];
    ab_run *run = ab_run_from_json(doc, inner);
    json_decref(doc);
    if (!run) {
        ab_err(err, "%s: %s", path, inner);
        return NULL;
    }
    /* not finalised: the run is going on or was killed; its results are in the journal */
    if (run->end_time <= 0) {
        char *jp = journal_beside(path);
        size_t added = 0;
        if (!jp || ab_run_merge_journal(run, jp, &added, err) != 0) {
            if (!jp)
                ab_err(err, "out of memory");
            free(jp);
            ab_run_free(run);
            return NULL;
        }
        free(jp);
    }
    return run;
}

/* ------------------------------------------------------------------ journal */

struct ab_journal {
    int fd;
    off_t size;   /* bytes of whole lines written */
    size_t count; /* result lines */
    char *path;
};

/* Writes all of buf at the end of the journal and syncs it; cuts a partial write back. */
static int journal_put(ab_journal *j, const char *buf, size_t len, char *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(j->fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            if (ftruncate(j->fd, j->size) != 0 || lseek(j->fd, j->size, SEEK_SET) < 0)
                ab_log(AB_LOG_WARN, "%s: cannot cut back a partial line", j->path);
            return ab_err(err, "cannot write %s: %s", j->path, strerror(e));
        }
        done += (size_t)w;
    }
    if (fsync(j->fd) != 0 && errno != EINVAL) {
        int e = errno;
        if (ftruncate(j->fd, j->size) != 0 || lseek(j->fd, j->size, SEEK_SET) < 0)
            ab_log(AB_LOG_WARN, "%s: cannot cut back an unsynced line", j->path);
        return ab_err(err, "cannot sync %s: %s", j->path, strerror(e));
    }
    j->size += (off_t)len;
    return 0;
}

static int journal_put_json(ab_journal *j, json_t *o, char *err)
{
    if (!o)
        return ab_err(err, "out of memory");
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text)
        return ab_err(err, "cannot serialise a journal line");
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return ab_err(err, "out of memory");
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    int rc = journal_put(j, line, len + 1, err);
    free(line);
    return rc;
}

ab_journal *ab_journal_create(const char *path, const ab_run *run, char *err)
{
    ab_journal *j = calloc(1, sizeof(*j));
    if (!j || !(j->path = ab_strdup(path))) {
        free(j);
        ab_err(err, "out of memory");
        return NULL;
    }
    j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        ab_err(err, "cannot create %s: %s", path, strerror(errno));
        free(j->path);
        free(j);
        return NULL;
    }
    json_t *h = json_object();
    json_object_set_new(h, "schema", json_string(AB_JOURNAL_SCHEMA));
    json_object_set_new(h, "schema_version", json_integer(AB_SCHEMA_VERSION));
    json_object_set_new(h, "id", str_or_null(run->id));
    if (journal_put_json(j, h, err) != 0) {
        ab_journal_close(j);
        unlink(path);
        return NULL;
    }
    return j;
}

int ab_journal_append(ab_journal *j, const ab_result *r, char *err)
{
    if (journal_put_json(j, result_to_json(r), err) != 0)
        return -1;
    j->count++;
    return 0;
}

size_t ab_journal_count(const ab_journal *j)
{
    return j ? j->count : 0;
}

void ab_journal_close(ab_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
}

/* getline with a bound: -1 at EOF, -2 for a line over AB_JOURNAL_MAX_LINE or no memory. The
 * newline, when there is one, is kept. */
static long read_line_bounded(FILE *f, char **buf, size_t *cap)
{
    size_t n = 0;
    int ch;
    while ((ch = getc(f)) != EOF) {
        if (n + 2 > *cap) {
            if (n >= AB_JOURNAL_MAX_LINE)
                return -2;
            size_t nc = *cap ? *cap * 2 : 4096;
            char *b = realloc(*buf, nc);
            if (!b)
                return -2;
            *buf = b;
            *cap = nc;
        }
        (*buf)[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    if (n == 0)
        return -1;
    (*buf)[n] = '\0';
    return (long)n;
}

/* One journal line as JSON; *line_no is 1-based for messages. */
static json_t *journal_line(const char *path, const char *line, size_t line_no, char *err)
{
    json_error_t je;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        ab_err(err, "%s:%zu:%d: %s", path, line_no, je.column, je.text);
    return o;
}

int ab_run_merge_journal(ab_run *run, const char *path, size_t *added, char *err)
{
    *added = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        return ab_err(err, "%s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0, line_no = 0, have = 0;
    long n;
    int rc = 0;
    while ((n = read_line_bounded(f, &line, &cap)) != -1) {
        line_no++;
        if (n == -2) {
            rc = ab_err(err, "%s:%zu: line longer than %u MiB", path, line_no,
                        AB_JOURNAL_MAX_LINE >> 20);
            break;
        }
        if (line[n - 1] != '\n')
            break; /* torn last line: the writer was killed inside it */
        json_t *o = journal_line(path, line, line_no, err);
        if (!o) {
            rc = -1;
            break;
        }
        if (line_no == 1) {
            json_t *sch = json_object_get(o, "schema"), *id = json_object_get(o, "id");
            if (!json_is_string(sch) || strcmp(json_string_value(sch), AB_JOURNAL_SCHEMA) != 0)
                rc = ab_err(err, "%s:1: not an accelbench results journal", path);
            else if (!json_is_string(id) || !run->id ||
                     strcmp(json_string_value(id), run->id) != 0)
                rc = ab_err(err, "%s:1: the journal is of run '%s', not '%s'", path,
                            json_is_string(id) ? json_string_value(id) : "?",
                            run->id ? run->id : "?");
            json_decref(o);
            if (rc)
                break;
            continue;
        }
        /* results the document already holds are not taken twice */
        if (have++ < run->nresults) {
            json_decref(o);
            continue;
        }
        char inner[AB_ERRLEN];
        rd c = {.err = inner};
        snprintf(c.path, sizeof(c.path), "results[%zu]", run->nresults);
        ab_result *r = read_result(&c, o);
        json_decref(o);
        if (!r) {
            rc = ab_err(err, "%s:%zu: %s", path, line_no, inner);
            break;
        }
        if (ab_run_add(run, r, err) != 0) {
            ab_result_free(r);
            rc = -1;
            break;
        }
        (*added)++;
    }
    if (rc == 0 && ferror(f))
        rc = ab_err(err, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

/* SPDX-License-Identifier: MIT */
#include "history.h"

#include "../core/utest.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct ab_history {
    sqlite3 *db;
    char *path;
};

const char *ab_history_default_path(void)
{
    const char *e = getenv("ACCELBENCH_HISTORY");
    return e && *e ? e : "results/history.sqlite";
}

static int db_err(ab_history *h, char *err, const char *what)
{
    return ab_err(err, "%s: %s: %s", h->path, what, sqlite3_errmsg(h->db));
}

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS runs("
    " id TEXT PRIMARY KEY, start_epoch REAL, end_epoch REAL, hostname TEXT, cpu_model TEXT,"
    " version TEXT, git_commit TEXT, profile TEXT, complete INTEGER, interrupted INTEGER,"
    " source TEXT, added_epoch REAL, document TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS runs_by_time ON runs(start_epoch);"
    "CREATE TABLE IF NOT EXISTS results("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
    " result_id TEXT NOT NULL, suite TEXT, key TEXT, impl TEXT, params TEXT, device TEXT,"
    " device_name TEXT, backend TEXT, status TEXT, headline INTEGER,"
    " PRIMARY KEY(run_id, idx));"
    "CREATE INDEX IF NOT EXISTS results_by_id ON results(result_id);"
    "CREATE INDEX IF NOT EXISTS results_by_key ON results(key);"
    "CREATE TABLE IF NOT EXISTS metrics("
    " run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, unit TEXT, direction TEXT,"
    " median REAL, min REAL, max REAL, mean REAL, stddev REAL, cv REAL, n INTEGER,"
    " PRIMARY KEY(run_id, idx, name),"
    " FOREIGN KEY(run_id, idx) REFERENCES results(run_id, idx) ON DELETE CASCADE);";

int ab_history_open(const char *path, bool create, ab_history **out, char *err)
{
    *out = NULL;
    if (!create && access(path, F_OK) != 0)
        return ab_err(err, "%s: no history database (record runs with 'accelbench history add')",
                      path);
    if (create) {
        /* the folder first: SQLite does not create it */
        char *dir = ab_strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash && slash != dir) {
            *slash = '\0';
            if (ab_mkdir_p(dir, err) != 0) {
                free(dir);
                return -1;
            }
        }
        free(dir);
    }
    ab_history *h = calloc(1, sizeof(*h));
    if (!h)
        return ab_err(err, "out of memory");
    h->path = ab_strdup(path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &h->db, flags, NULL) != SQLITE_OK) {
        ab_err(err, "%s: cannot open: %s", path, h->db ? sqlite3_errmsg(h->db) : "out of memory");
        ab_history_close(h);
        return -1;
    }
    /* several writers (a nightly job and a person) wait for each other instead of failing */
    sqlite3_busy_timeout(h->db, 10000);
    sqlite3_stmt *st = NULL;
    int ver = -1, ntables = 0;
    if (sqlite3_prepare_v2(h->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        db_err(h, err, "not an SQLite database");
        goto fail;
    }
    ver = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(h->db, "SELECT count(*) FROM sqlite_master WHERE type='table'", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        db_err(h, err, "cannot read the schema");
        goto fail;
    }
    ntables = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (ver > AB_HISTORY_VERSION) {
        ab_err(err, "%s: history schema version %d is newer than this build reads (%d)", path, ver,
               AB_HISTORY_VERSION);
        goto fail;
    }
    if (ver == 0 && ntables > 0) {
        ab_err(err, "%s: an SQLite database, but not an accelbench history", path);
        goto fail;
    }
    char *msg = NULL;
    if (sqlite3_exec(h->db, "PRAGMA foreign_keys = ON", NULL, NULL, &msg) != SQLITE_OK) {
        ab_err(err, "%s: %s", path, msg ? msg : "cannot enable foreign keys");
        sqlite3_free(msg);
        goto fail;
    }
    if (ver == 0) {
        if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(h->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(h->db, "PRAGMA user_version = 1; COMMIT", NULL, NULL, &msg) !=
                SQLITE_OK) {
            ab_err(err, "%s: cannot create the history: %s", path, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
    }
    *out = h;
    return 0;
fail:
    sqlite3_finalize(st);
    ab_history_close(h);
    return -1;
}

void ab_history_close(ab_history *h)
{
    if (!h)
        return;
    sqlite3_close(h->db);
    free(h->path);
    free(h);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Identity of each result of a run, as compare aligns them (a repeated identity, e.g. several
 * GPUs of one model, gets "@<device>"). Returns an array of run->nresults strings. */
static char **result_ids(const ab_run *run)
{
    char **ids = calloc(run->nresults ? run->nresults : 1, sizeof(*ids));
    if (!ids)
        return NULL;
    for (size_t i = 0; i < run->nresults; i++) {
        ids[i] = ab_result_id(run->results[i]);
        if (!ids[i])
            goto fail;
        for (size_t k = 0; k < i; k++)
            if (strcmp(ids[k], ids[i]) == 0) {
                char *d = ab_asprintf("%s@%s", ids[i], run->results[i]->device);
                free(ids[i]);
                if (!(ids[i] = d))
                    goto fail;
                break;
            }
    }
    return ids;
fail:
    for (size_t i = 0; i < run->nresults; i++)
        free(ids[i]);
    free(ids);
    return NULL;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

static bool run_exists(ab_history *h, const char *id)
{
    sqlite3_stmt *st = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2(h->db, "SELECT 1 FROM runs WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
        bind_text(st, 1, id);
        yes = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return yes;
}

/* the rows of run id (its results and metrics go with it) */
static int delete_run(ab_history *h, const char *id, char *err)
{
    sqlite3_stmt *d = NULL;
    if (sqlite3_prepare_v2(h->db, "DELETE FROM runs WHERE id = ?", -1, &d, NULL) != SQLITE_OK)
        return db_err(h, err, "delete");
    bind_text(d, 1, id);
    int s = sqlite3_step(d);
    sqlite3_finalize(d);
    if (s != SQLITE_DONE)
        return db_err(h, err, "delete");
    return 0;
}

/* the statements ab_history_add inserts with: a run, a result, a metric */
static int prepare_inserts(ab_history *h, sqlite3_stmt **sr, sqlite3_stmt **sres,
                           sqlite3_stmt **sm, char *err)
{
    if (sqlite3_prepare_v2(h->db,
                           "INSERT INTO runs(id, start_epoch, end_epoch, hostname, cpu_model, "
                           "version, git_commit, profile, complete, interrupted, source, "
                           "added_epoch, document) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, sr, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "INSERT INTO results(run_id, idx, result_id, suite, key, impl, params, "
                           "device, device_name, backend, status, headline) "
                           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, sres, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "INSERT OR IGNORE INTO metrics(run_id, idx, name, unit, direction, "
                           "median, min, max, mean, stddev, cv, n) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, sm, NULL) != SQLITE_OK)
        return db_err(h, err, "prepare");
    return 0;
}

static int insert_run(ab_history *h, sqlite3_stmt *sr, const ab_run *run, const char *source,
                      const char *text, char *err)
{
    bind_text(sr, 1, run->id);
    bind_real(sr, 2, run->start_time);
    bind_real(sr, 3, run->end_time > 0 ? run->end_time : NAN);
    bind_text(sr, 4, json_string_value(json_object_get(run->host, "hostname")));
    bind_text(sr, 5, json_string_value(json_object_get(run->host, "cpu_model")));
    bind_text(sr, 6, run->version);
    bind_text(sr, 7, run->git_commit);
    bind_text(sr, 8, run->profile);
    sqlite3_bind_int(sr, 9, run->complete);
    sqlite3_bind_int(sr, 10, run->interrupted);
    bind_text(sr, 11, source);
    bind_real(sr, 12, ab_wall_time());
    bind_text(sr, 13, text);
    if (sqlite3_step(sr) != SQLITE_DONE)
        return db_err(h, err, "insert run");
    return 0;
}

/* result i of run (identity id) and its metrics */
static int insert_result(ab_history *h, sqlite3_stmt *sres, sqlite3_stmt *sm, const ab_run *run,
                         size_t i, const char *id, char *err)
{
    const ab_result *r = run->results[i];
    char *params = json_dumps(r->params, JSON_COMPACT | JSON_SORT_KEYS);
    sqlite3_reset(sres);
    bind_text(sres, 1, run->id);
    sqlite3_bind_int64(sres, 2, (sqlite3_int64)i);
    bind_text(sres, 3, id);
    bind_text(sres, 4, r->suite);
    bind_text(sres, 5, r->key);
    bind_text(sres, 6, r->impl);
    bind_text(sres, 7, params ? params : "{}");
    bind_text(sres, 8, r->device);
    bind_text(sres, 9, r->device_name);
    bind_text(sres, 10, r->backend);
    bind_text(sres, 11, ab_status_name(r->status));
    sqlite3_bind_int(sres, 12, r->headline);
    int s = sqlite3_step(sres);
    free(params);
    if (s != SQLITE_DONE)
        return db_err(h, err, "insert result");
    for (size_t m = 0; m < r->nmetrics; m++) {
        const ab_metric *mt = &r->metrics[m];
        ab_stats st = mt->stats;
        if (mt->nsamples)
            ab_stats_compute(mt->samples, mt->nsamples, &st);
        sqlite3_reset(sm);
        bind_text(sm, 1, run->id);
        sqlite3_bind_int64(sm, 2, (sqlite3_int64)i);
        bind_text(sm, 3, mt->name);
        bind_text(sm, 4, mt->unit);
        bind_text(sm, 5, mt->higher_is_better ? "higher" : "lower");
        bind_real(sm, 6, st.median);
        bind_real(sm, 7, st.min);
        bind_real(sm, 8, st.max);
        bind_real(sm, 9, st.mean);
        bind_real(sm, 10, st.stddev);
        bind_real(sm, 11, st.cv);
        sqlite3_bind_int64(sm, 12, (sqlite3_int64)mt->nsamples);
        if (sqlite3_step(sm) != SQLITE_DONE)
            return db_err(h, err, "insert metric");
    }
    return 0;
}

int ab_history_add(ab_history *h, const ab_run *run, const char *source, bool replace, bool *added,
                   char *err)
{
    *added = false;
    if (!run->id || !*run->id)
        return ab_err(err, "run without an id");
    if (run_exists(h, run->id) && !replace)
        return 0;
    json_t *doc = ab_run_to_json(run);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(doc);
    char **ids = result_ids(run);
    if (!text || !ids) {
        free(text);
        free_ids(ids, run->nresults);
        return ab_err(err, "out of memory");
    }
    sqlite3_stmt *sr = NULL, *sres = NULL, *sm = NULL;
    int rc = -1;
    if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        db_err(h, err, "cannot start a transaction");
        goto out;
    }
    if ((replace && delete_run(h, run->id, err) != 0) ||
        prepare_inserts(h, &sr, &sres, &sm, err) != 0 ||
        insert_run(h, sr, run, source, text, err) != 0)
        goto rollback;
    for (size_t i = 0; i < run->nresults; i++)
        if (insert_result(h, sres, sm, run, i, ids[i], err) != 0)
            goto rollback;
    if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_err(h, err, "commit");
        goto rollback;
    }
    *added = true;
    rc = 0;
    goto out;
rollback:
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(sr);
    sqlite3_finalize(sres);
    sqlite3_finalize(sm);
    free(text);
    free_ids(ids, run->nresults);
    return rc;
}

int ab_history_remove(ab_history *h, const char *id, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, "DELETE FROM runs WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return db_err(h, err, "delete");
    bind_text(st, 1, id);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return db_err(h, err, "delete");
    if (sqlite3_changes(h->db) == 0)
        return ab_err(err, "%s: no run '%s' in the history", h->path, id);
    return 0;
}

ab_run *ab_history_load(ab_history *h, const char *id, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, "SELECT document FROM runs WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        db_err(h, err, "select");
        return NULL;
    }
    bind_text(st, 1, id);
    ab_run *run = NULL;
    if (sqlite3_step(st) != SQLITE_ROW) {
        ab_err(err, "%s: no run '%s' in the history", h->path, id);
    } else {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        json_error_t je;
        json_t *doc = text ? json_loads(text, 0, &je) : NULL;
        char inner[AB_ERRLEN];
        if (!doc)
            ab_err(err, "%s: run '%s': stored document unreadable", h->path, id);
        else if (!(run = ab_run_from_json(doc, inner)))
            ab_err(err, "%s: run '%s': %s", h->path, id, inner);
        json_decref(doc);
    }
    sqlite3_finalize(st);
    return run;
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? ab_strdup((const char *)s) : NULL;
}

int ab_history_runs(ab_history *h, long limit, ab_history_run **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    const char *sql =
        "SELECT * FROM (SELECT r.id, r.start_epoch, r.hostname, r.version, r.git_commit, "
        "r.profile, r.source, r.complete, count(x.idx), sum(x.status = 'pass'), "
        "sum(x.status = 'fail'), sum(x.status = 'skip'), sum(x.status = 'error') "
        "FROM runs r LEFT JOIN results x ON x.run_id = r.id GROUP BY r.id "
        "ORDER BY r.start_epoch DESC LIMIT ?) ORDER BY 2 ASC";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(h, err, "select");
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    size_t cap = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            ab_history_run *v = realloc(*out, cap * sizeof(*v));
            if (!v) {
                sqlite3_finalize(st);
                return ab_err(err, "out of memory");
            }
            *out = v;
        }
        ab_history_run *r = &(*out)[(*n)++];
        memset(r, 0, sizeof(*r));
        r->id = col_str(st, 0);
        r->start_epoch = sqlite3_column_double(st, 1);
        r->hostname = col_str(st, 2);
        r->version = col_str(st, 3);
        r->git_commit = col_str(st, 4);
        r->profile = col_str(st, 5);
        r->source = col_str(st, 6);
        r->complete = sqlite3_column_int(st, 7) != 0;
        r->results = sqlite3_column_int64(st, 8);
        r->pass = sqlite3_column_int64(st, 9);
        r->fail = sqlite3_column_int64(st, 10);
        r->skip = sqlite3_column_int64(st, 11);
        r->error = sqlite3_column_int64(st, 12);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return db_err(h, err, "select");
    return 0;
}

void ab_history_runs_free(ab_history_run *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].hostname);
        free(v[i].version);
        free(v[i].git_commit);
        free(v[i].profile);
        free(v[i].source);
    }
    free(v);
}

/* ------------------------------------------------------------------ baseline */

/* What the baseline collects for one metric of one result identity. */
typedef struct {
    json_t *medians, *run_ids; /* arrays, newest run first */
    double *samples;
    size_t nsamples;
} bl_metric;

typedef struct {
    const ab_result *proto; /* from the newest run that has it */
    char **names;
    bl_metric *m;
    size_t nm;
} bl_entry;

static int bl_add(bl_entry *e, const ab_metric *mt, const char *run_id)
{
    size_t k = 0;
    while (k < e->nm && strcmp(e->names[k], mt->name) != 0)
        k++;
    if (k == e->nm) {
        char **nn = realloc(e->names, (e->nm + 1) * sizeof(*nn));
        if (!nn)
            return -1;
        e->names = nn;
        bl_metric *nm = realloc(e->m, (e->nm + 1) * sizeof(*nm));
        if (!nm)
            return -1;
        e->m = nm;
        e->names[k] = mt->name;
        e->m[k] = (bl_metric){json_array(), json_array(), NULL, 0};
        e->nm++;
    }
    bl_metric *b = &e->m[k];
    double med = mt->nsamples ? ab_median(mt->samples, mt->nsamples) : mt->stats.median;
    if (!isfinite(med))
        return 0;
    json_array_append_new(b->medians, json_real(med));
    json_array_append_new(b->run_ids, json_string(run_id));
    if (mt->nsamples) {
        double *v = realloc(b->samples, (b->nsamples + mt->nsamples) * sizeof(*v));
        if (!v)
            return -1;
        memcpy(v + b->nsamples, mt->samples, mt->nsamples * sizeof(*v));
        b->samples = v;
        b->nsamples += mt->nsamples;
    } else {
        double *v = realloc(b->samples, (b->nsamples + 1) * sizeof(*v));
        if (!v)
            return -1;
        v[b->nsamples++] = med;
        b->samples = v;
    }
    return 0;
}

static ab_result *bl_build(const bl_entry *e, size_t nruns)
{
    const ab_result *p = e->proto;
    ab_result *r = ab_result_new(p->suite, p->key, p->impl);
    if (!r)
        return NULL;
    ab_result_set_device(r, p->device, p->device_name, p->backend);
    json_decref(r->params);
    r->params = json_deep_copy(p->params);
    r->headline = p->headline;
    r->started = p->started;
    r->warmup_runs = p->warmup_runs;
    r->iters_per_sample = p->iters_per_sample;
    r->time_spent = p->time_spent;
    r->extra = p->extra ? json_deep_copy(p->extra) : json_object();
    json_t *hist = json_object();
    json_t *hm = json_object();
    json_object_set_new(hist, "runs", json_integer((json_int_t)nruns));
    for (size_t k = 0; k < e->nm; k++) {
        const bl_metric *b = &e->m[k];
        const ab_metric *pm = ab_result_metric(p, e->names[k]);
        if (!pm || !b->nsamples)
            continue;
        if (!ab_result_add_metric(r, pm->name, pm->unit, pm->higher_is_better, pm->formula,
                                  b->samples, b->nsamples))
            continue;
        size_t nm = json_array_size(b->medians);
        double *med = malloc((nm ? nm : 1) * sizeof(*med));
        if (!med)
            continue;
        for (size_t i = 0; i < nm; i++)
            med[i] = json_real_value(json_array_get(b->medians, i));
        json_t *o = json_object();
        json_object_set_new(o, "runs", json_integer((json_int_t)nm));
        json_object_set(o, "run_ids", b->run_ids);
        json_object_set(o, "medians", b->medians);
        json_object_set_new(o, "median", json_real(ab_median(med, nm)));
        /* From 5 runs on, the spread of the run medians estimates the noise between runs: the
         * noise of one new run's median against the median of k runs is that spread times
         * sqrt(1 + pi/(2k)) (the variance of a median of k normal values is pi/(2k) sigma^2).
         * With fewer runs the MAD is too erratic to lower or raise a threshold on. */
        bool positive = true;
        for (size_t i = 0; i < nm; i++) {
            positive &= med[i] > 0;
            med[i] = med[i] > 0 ? log(med[i]) : 0.0;
        }
        if (nm >= 5 && positive)
            json_object_set_new(o, "sigma_log", json_real(ab_mad_sigma(med, nm) *
                                                          sqrt(1.0 + M_PI / (2.0 * (double)nm))));
        free(med);
        json_object_set_new(hm, pm->name, o);
    }
    json_object_set_new(hist, "metrics", hm);
    json_object_set_new(r->extra, "history", hist);
    if (!r->nmetrics) {
        ab_result_free(r);
        return NULL;
    }
    return r;
}

/* ids of the last complete runs, newest first; -1 with err set (*ids, possibly partly filled, is
 * the caller's to free) */
static int baseline_ids(ab_history *h, long last, const char *exclude_id, char ***ids,
                        size_t *nids, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db,
                           "SELECT id FROM runs WHERE complete = 1 AND (?1 IS NULL OR id != ?1) "
                           "ORDER BY start_epoch DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(h, err, "select");
    bind_text(st, 1, exclude_id);
    sqlite3_bind_int64(st, 2, last);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        char **v = realloc(*ids, (*nids + 1) * sizeof(*v));
        if (!v)
            break;
        *ids = v;
        (*ids)[(*nids)++] = col_str(st, 0);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return db_err(h, err, "select");
    return 0;
}

/* the passing results of the runs, grouped by identity (map: identity -> entry index); -1: out
 * of memory */
static int baseline_entries(ab_run *const *runs, size_t nids, json_t *map, bl_entry **ent,
                            size_t *nent)
{
    for (size_t i = 0; i < nids; i++) {
        char **rid = result_ids(runs[i]);
        if (!rid)
            return -1;
        for (size_t k = 0; k < runs[i]->nresults; k++) {
            const ab_result *r = runs[i]->results[k];
            if (r->status != AB_PASS || !r->nmetrics)
                continue;
            json_t *ix = json_object_get(map, rid[k]);
            size_t e;
            if (ix) {
                e = (size_t)json_integer_value(ix);
            } else {
                bl_entry *v = realloc(*ent, (*nent + 1) * sizeof(*v));
                if (!v) {
                    free_ids(rid, runs[i]->nresults);
                    return -1;
                }
                *ent = v;
                e = (*nent)++;
                memset(&v[e], 0, sizeof(v[e]));
                v[e].proto = r;
                json_object_set_new(map, rid[k], json_integer((json_int_t)e));
            }
            for (size_t m = 0; m < r->nmetrics; m++)
                if (bl_add(&(*ent)[e], &r->metrics[m], runs[i]->id) != 0) {
                    free_ids(rid, runs[i]->nresults);
                    return -1;
                }
        }
        free_ids(rid, runs[i]->nresults);
    }
    return 0;
}

/* the baseline run: the newest run's description, a median result per entry */
static ab_run *baseline_run(ab_history *h, ab_run *const *runs, char *const *ids, size_t nids,
                            bl_entry *ent, size_t nent, char *err)
{
    ab_run *out = ab_run_new();
    if (!out) {
        ab_err(err, "out of memory");
        return NULL;
    }
    const ab_run *newest = runs[0];
    out->id = ab_asprintf("history:median-of-%zu", nids);
    out->version = ab_strdup(newest->version);
    out->git_commit = ab_strdup(newest->git_commit);
    out->compiler = ab_strdup(newest->compiler);
    out->build_type = ab_strdup(newest->build_type);
    out->profile = ab_strdup(newest->profile);
    json_decref(out->host);
    out->host = json_deep_copy(newest->host);
    if (newest->manifest)
        out->manifest = json_deep_copy(newest->manifest);
    json_t *ids_json = json_array();
    for (size_t i = 0; i < nids; i++)
        json_array_append_new(ids_json, json_string(ids[i]));
    json_object_set_new(out->settings, "history_runs", ids_json);
    json_object_set_new(out->settings, "history_database", json_string(h->path));
    json_decref(out->backends);
    out->backends = json_deep_copy(newest->backends);
    json_decref(out->devices);
    out->devices = json_deep_copy(newest->devices);
    out->start_time = runs[nids - 1]->start_time;
    out->end_time = newest->end_time;
    out->complete = true;
    for (size_t e = 0; e < nent; e++) {
        ab_result *r = bl_build(&ent[e], nids);
        if (r && ab_run_add(out, r, err) != 0) {
            ab_result_free(r);
            ab_run_free(out);
            return NULL;
        }
    }
    return out;
}

static void free_entries(bl_entry *ent, size_t nent)
{
    for (size_t e = 0; e < nent; e++) {
        for (size_t k = 0; k < ent[e].nm; k++) {
            json_decref(ent[e].m[k].medians);
            json_decref(ent[e].m[k].run_ids);
            free(ent[e].m[k].samples);
        }
        free(ent[e].m);
        free(ent[e].names);
    }
    free(ent);
}

ab_run *ab_history_baseline(ab_history *h, long last, const char *exclude_id, char *err)
{
    if (last < 1) {
        ab_err(err, "the baseline needs at least one run");
        return NULL;
    }
    char **ids = NULL;
    size_t nids = 0;
    ab_run *out = NULL, **runs = NULL;
    bl_entry *ent = NULL;
    size_t nent = 0;
    json_t *map = NULL; /* identity -> entry index */
    if (baseline_ids(h, last, exclude_id, &ids, &nids, err) != 0)
        goto done;
    map = json_object();
    if (!nids) {
        ab_err(err, "%s: no complete run in the history to make a baseline of", h->path);
        goto done;
    }
    runs = calloc(nids, sizeof(*runs));
    if (!runs)
        goto oom;
    for (size_t i = 0; i < nids; i++)
        if (!(runs[i] = ab_history_load(h, ids[i], err)))
            goto done;
    if (baseline_entries(runs, nids, map, &ent, &nent) != 0)
        goto oom;
    out = baseline_run(h, runs, ids, nids, ent, nent, err);
    goto done;
oom:
    ab_err(err, "out of memory");
done:
    free_entries(ent, nent);
    json_decref(map);
    for (size_t i = 0; runs && i < nids; i++)
        ab_run_free(runs[i]);
    free(runs);
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    return out;
}

/* ------------------------------------------------------------------ trends */

/* "k=v" against a parameter: strings compare as text; numbers numerically, the filter value
 * also as a size ("working_set=128MiB"). */
static bool param_matches(const json_t *params, const char *filter)
{
    const char *eq = strchr(filter, '=');
    if (!eq)
        return false;
    char key[128];
    size_t kl = (size_t)(eq - filter);
    if (kl >= sizeof(key))
        return false;
    memcpy(key, filter, kl);
    key[kl] = '\0';
    const char *want = eq + 1;
    json_t *v = json_object_get(params, key);
    if (!v)
        return false;
    if (json_is_string(v))
        return strcmp(json_string_value(v), want) == 0;
    if (json_is_number(v)) {
        char *end;
        errno = 0;
        double d = strtod(want, &end);
        if (!*end && end != want && !errno)
            return d == json_number_value(v);
        uint64_t b;
        if (ab_parse_size(want, &b, NULL) == 0)
            return (double)b == json_number_value(v);
    }
    return false;
}

/* whether the row passes the filters the SQL does not apply: --headline-only, --param */
static bool trend_row_wanted(sqlite3_stmt *st, const ab_trend_query *q)
{
    if (q->headline_only && !sqlite3_column_int(st, 15))
        return false;
    if (q->params) {
        const char *pt = (const char *)sqlite3_column_text(st, 3);
        json_t *pj = pt ? json_loads(pt, 0, NULL) : NULL;
        bool ok = pj != NULL;
        for (size_t i = 0; ok && q->params[i]; i++)
            ok = param_matches(pj, q->params[i]);
        json_decref(pj);
        if (!ok)
            return false;
    }
    return true;
}

/* a new series from the row's result columns; NULL: out of memory */
static ab_trend_series *trend_series_new(sqlite3_stmt *st, ab_trend_series **out, size_t *n,
                                         size_t *cap, const char *rid, const char *mname)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        ab_trend_series *v = realloc(*out, *cap * sizeof(*v));
        if (!v)
            return NULL;
        *out = v;
    }
    ab_trend_series *cur = &(*out)[(*n)++];
    memset(cur, 0, sizeof(*cur));
    cur->result_id = ab_strdup(rid);
    cur->key = col_str(st, 1);
    cur->impl = col_str(st, 2);
    cur->params = col_str(st, 3);
    cur->device_name = col_str(st, 4);
    cur->metric = ab_strdup(mname);
    cur->unit = col_str(st, 6);
    const char *dir = (const char *)sqlite3_column_text(st, 7);
    cur->higher_is_better = !dir || strcmp(dir, "lower") != 0;
    return cur;
}

/* the row's run and figures as a point of cur; -1: out of memory */
static int trend_point_add(sqlite3_stmt *st, ab_trend_series *cur, size_t *ptcap)
{
    if (cur->npts == *ptcap) {
        *ptcap = *ptcap ? 2 * *ptcap : 16;
        ab_trend_point *v = realloc(cur->pts, *ptcap * sizeof(*v));
        if (!v)
            return -1;
        cur->pts = v;
    }
    ab_trend_point *p = &cur->pts[cur->npts++];
    p->run_id = col_str(st, 8);
    p->start_epoch = sqlite3_column_double(st, 9);
    p->median = sqlite3_column_type(st, 10) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 10);
    p->min = sqlite3_column_type(st, 11) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 11);
    p->max = sqlite3_column_type(st, 12) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 12);
    p->cv = sqlite3_column_type(st, 13) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 13);
    p->n = sqlite3_column_int64(st, 14);
    return 0;
}

/* the step changes of every series; -1: out of memory */
static int trend_steps(ab_trend_series *v, size_t n, double threshold)
{
    ab_step_opts so;
    ab_step_opts_default(&so);
    so.min_effect = threshold;
    for (size_t i = 0; i < n; i++) {
        ab_trend_series *t = &v[i];
        double *y = malloc((t->npts ? t->npts : 1) * sizeof(*y));
        t->steps = calloc(t->npts ? t->npts : 1, sizeof(*t->steps));
        if (!y || !t->steps) {
            free(y);
            return -1;
        }
        for (size_t k = 0; k < t->npts; k++)
            y[k] = t->pts[k].median;
        t->nsteps = ab_step_changes(y, t->npts, &so, t->steps, t->npts);
        free(y);
    }
    return 0;
}

int ab_history_trend(ab_history *h, const ab_trend_query *q, double threshold,
                     ab_trend_series **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    const char *sql =
        "SELECT x.result_id, x.key, x.impl, x.params, x.device_name, m.name, m.unit, m.direction, "
        "r.id, r.start_epoch, m.median, m.min, m.max, m.cv, m.n, x.headline "
        "FROM metrics m JOIN results x ON x.run_id = m.run_id AND x.idx = m.idx "
        "JOIN runs r ON r.id = x.run_id "
        "WHERE x.status = 'pass' AND (x.key = ?1 OR substr(x.key, 1, length(?1) + 1) = ?1 || '.' "
        "OR x.suite = ?1 OR x.result_id = ?1) "
        "AND (?2 IS NULL OR instr(lower(x.device_name), lower(?2)) > 0) "
        "AND (?3 IS NULL OR x.impl = ?3) AND (?4 IS NULL OR m.name = ?4) "
        "ORDER BY x.result_id, m.name, r.start_epoch, r.id";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(h, err, "select");
    bind_text(st, 1, q->key);
    bind_text(st, 2, q->device);
    bind_text(st, 3, q->impl);
    bind_text(st, 4, q->metric);
    size_t cap = 0;
    int s;
    ab_trend_series *cur = NULL;
    size_t ptcap = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *rid = (const char *)sqlite3_column_text(st, 0);
        const char *mname = (const char *)sqlite3_column_text(st, 5);
        if (!rid || !mname || !trend_row_wanted(st, q))
            continue;
        if (!cur || strcmp(cur->result_id, rid) != 0 || strcmp(cur->metric, mname) != 0) {
            if (!(cur = trend_series_new(st, out, n, &cap, rid, mname)))
                goto oom;
            ptcap = 0;
        }
        if (trend_point_add(st, cur, &ptcap) != 0)
            goto oom;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (s != SQLITE_DONE) {
        ab_trend_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_err(h, err, "select");
    }
    if (trend_steps(*out, *n, threshold) != 0)
        goto oom;
    return 0;
oom:
    sqlite3_finalize(st);
    ab_trend_free(*out, *n);
    *out = NULL;
    *n = 0;
    return ab_err(err, "out of memory");
}

void ab_trend_free(ab_trend_series *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].result_id);
        free(v[i].key);
        free(v[i].impl);
        free(v[i].params);
        free(v[i].device_name);
        free(v[i].metric);
        free(v[i].unit);
        for (size_t k = 0; k < v[i].npts; k++)
            free(v[i].pts[k].run_id);
        free(v[i].pts);
        free(v[i].steps);
    }
    free(v);
}

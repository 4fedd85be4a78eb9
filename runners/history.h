/* SPDX-License-Identifier: MIT */
/*
 * The run history: an SQLite database of run documents, for trends, step-change detection and
 * baselines made of the median of the last N runs. Each run is stored whole (its run document,
 * so nothing is lost and newer keys survive) and indexed by result and metric for queries.
 */
#ifndef AB_HISTORY_H
#define AB_HISTORY_H

#include "../core/rundoc.h"

#include <stdbool.h>

typedef struct ab_history ab_history;

/* Database schema version (PRAGMA user_version). */
#define AB_HISTORY_VERSION 1

/* The database path: $ACCELBENCH_HISTORY, else results/history.sqlite. */
const char *ab_history_default_path(void);

/* Opens (create: creates the file and its folder when missing) and checks the schema. A file that
 * is not an accelbench history, or one of a newer schema version, is an error. */
int ab_history_open(const char *path, bool create, ab_history **out, char *err);
void ab_history_close(ab_history *h);

/* Records a run. A run id that is already there is left alone (*added false) unless replace. */
int ab_history_add(ab_history *h, const ab_run *run, const char *source, bool replace, bool *added,
                   char *err);
/* Deletes a run; -1 with a message when there is no such run. */
int ab_history_remove(ab_history *h, const char *id, char *err);
/* The stored run document of one run. */
ab_run *ab_history_load(ab_history *h, const char *id, char *err);

typedef struct ab_history_run {
    char *id, *hostname, *version, *git_commit, *profile, *source;
    double start_epoch;
    bool complete;
    long results, pass, fail, skip, error;
} ab_history_run;

/* Runs, oldest first; the newest `limit` when limit > 0. Free with ab_history_runs_free. */
int ab_history_runs(ab_history *h, long limit, ab_history_run **out, size_t *n, char *err);
void ab_history_runs_free(ab_history_run *v, size_t n);

/*
 * A baseline from the last `last` complete runs (by start time; exclude_id, when not NULL, is
 * left out, e.g. the run being judged). Every result that passed in any of them is in it, with
 * each metric's samples pooled from those runs and extra.history.metrics.<metric> holding
 * "runs", "run_ids", "medians", "median" (the median of the run medians, the baseline value) and,
 * from 5 runs on, "sigma_log": the noise of one run's median against that baseline. The run's id
 * is "history:median-of-<k>".
 */
ab_run *ab_history_baseline(ab_history *h, long last, const char *exclude_id, char *err);

/* One point of a trend: one run's statistics of one metric of one result. */
typedef struct ab_trend_point {
    char *run_id;
    double start_epoch;
    double median, min, max, cv;
    long n;
} ab_trend_point;

typedef struct ab_trend_series {
    char *result_id, *key, *impl, *params, *device_name, *metric, *unit;
    bool higher_is_better;
    ab_trend_point *pts;
    size_t npts;
    size_t *steps;  /* indices into pts where a step change begins */
    size_t nsteps;
} ab_trend_series;

typedef struct ab_trend_query {
    const char *key;        /* case key or prefix ("membw", "membw.triad") or a full result id */
    const char *device;     /* device model substring (case-insensitive), or NULL */
    const char *impl;       /* exact implementation label, or NULL */
    const char *metric;     /* metric name, or NULL for all */
    char **params;          /* NULL-terminated "k=v" filters on parameters, or NULL */
    bool headline_only;
} ab_trend_query;

/* Series matching the query, each with its step changes (core/utest.h, default options with
 * min_effect = threshold). */
int ab_history_trend(ab_history *h, const ab_trend_query *q, double threshold,
                     ab_trend_series **out, size_t *n, char *err);
void ab_trend_free(ab_trend_series *v, size_t n);

#endif

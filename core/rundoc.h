/* SPDX-License-Identifier: MIT */
/*
 * The run document: what one `accelbench run` measured, on which machine, how.
 * Its JSON form is specified in results/SCHEMA.md (schema "accelbench.run", version
 * AB_SCHEMA_VERSION); this module is the only code that writes or parses it.
 */
#ifndef AB_RUNDOC_H
#define AB_RUNDOC_H

#include "ab.h"
#include "stats.h"

#include <jansson.h>

#define AB_SCHEMA_NAME "accelbench.run"
#define AB_SCHEMA_VERSION 1
/* Oldest schema version this build still reads. */
#define AB_SCHEMA_VERSION_MIN 1

typedef struct ab_metric {
    char *name;            /* "bandwidth", "time", "flops" */
    char *unit;            /* SI unit of the values: "B/s", "s", "FLOP/s" */
    bool higher_is_better; /* direction: stored as "higher" / "lower" */
    char *formula;         /* how a sample is derived, e.g. "3*n*8 B / t" */
    double *samples;       /* every recorded sample, in measurement order */
    size_t nsamples;
    ab_stats stats;        /* derived from samples when written; read back as stored */
} ab_metric;

typedef struct ab_result {
    char *suite;       /* "membw" */
    char *key;         /* stable case key, "membw.triad" */
    char *device;      /* device id in this run: "cpu", "opencl:0", "cuda:0" */
    char *device_name; /* model name, the identity used to align runs across machines */
    char *backend;     /* "cpu", "opencl", "cuda", "hip" */
    char *impl;        /* implementation label, e.g. "ordinary", "streaming", "vendor" */
    json_t *params;    /* object of case parameters (dtype, sizes, ...) */
    ab_status status;
    char *reason;      /* set for fail, skip and error; NULL for pass */
    bool headline;     /* the suite's headline figure for this device */
    ab_metric *metrics;
    size_t nmetrics;
    int warmup_runs;        /* timed runs discarded before sampling (calibration included) */
    long iters_per_sample;  /* kernel iterations inside each timed sample */
    double time_spent;      /* wall seconds for the whole case: setup, sampling, validation */
    double started;         /* epoch seconds */
    json_t *extra;          /* suite-specific details; may be NULL */
    /* one rank of an MPI job (runners/mpi_job.h): which rank on which node measured it;
     * job_wide: measured by all ranks together (fabric), recorded once, by rank 0 */
    bool ranked, job_wide;
    int rank;
    char *node;
} ab_result;

typedef struct ab_run {
    char *id;
    char *version, *git_commit, *compiler, *build_type;
    char *profile;
    json_t *argv;     /* array of strings */
    json_t *settings; /* object: min_time, samples, threads, ... */
    json_t *host;     /* object: host basics (flat strings, kept for schema-1 readers) */
    json_t *manifest; /* object: the probe manifest (probes/probe.h, results/MANIFEST.md);
                       * NULL in documents written before it existed */
    json_t *backends; /* array of {name, built, available, reason} */
    json_t *devices;  /* array of device descriptions */
    double start_time, end_time; /* epoch seconds; end_time 0 while running */
    bool interrupted; /* stopped by a signal: results hold what finished */
    bool complete;    /* false while the run is in progress */
    int schema_version; /* of the document read; AB_SCHEMA_VERSION for new runs */
    json_t *job;      /* object: the MPI job's ranks, nodes and their manifests; NULL when the
                       * run was one process (results/SCHEMA.md, "job") */
    ab_result **results;
    size_t nresults, cap;
} ab_run;

ab_run *ab_run_new(void);
void ab_run_free(ab_run *run);
/* Takes ownership of r. */
int ab_run_add(ab_run *run, ab_result *r, char *err);

ab_result *ab_result_new(const char *suite, const char *key, const char *impl);
void ab_result_free(ab_result *r);
/* printf-style reason; NULL fmt clears it. */
void ab_result_set_status(ab_result *r, ab_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ab_result_set_device(ab_result *r, const char *device, const char *device_name,
                          const char *backend);
/* Parameter setters (params object is created on demand). */
void ab_result_param_str(ab_result *r, const char *name, const char *value);
void ab_result_param_int(ab_result *r, const char *name, long long value);
void ab_result_param_real(ab_result *r, const char *name, double value);
/* Copies samples; computes stats. Returns the metric or NULL on OOM / no finite samples. */
ab_metric *ab_result_add_metric(ab_result *r, const char *name, const char *unit,
                                bool higher_is_better, const char *formula,
                                const double *samples, size_t n);
const ab_metric *ab_result_metric(const ab_result *r, const char *name);
/*
 * Canonical identity of a result across runs: key, implementation, parameters (sorted), device
 * model. Two results with the same id measure the same thing.
 * Example: "membw.triad|streaming|dtype=f64,size=134217728|AMD EPYC 7B13".
 */
char *ab_result_id(const ab_result *r);
/* "dtype=f64 size=128 MiB" style one-line rendering of params for tables. */
char *ab_params_brief(const json_t *params);

json_t *ab_run_to_json(const ab_run *run);

/* A JSON string for text from the environment or the command line: jansson refuses invalid
 * UTF-8 (json_string returns NULL and the field would silently vanish), so each byte that is
 * not part of a valid sequence becomes U+FFFD. NULL gives JSON null. */
json_t *ab_json_string(const char *s);

/* Run ids name a folder under the results root and are read back by every runner: 1 to
 * AB_RUN_ID_MAX bytes of printable UTF-8 (no control characters, C1 included), no '/' or '\\',
 * not starting with '.', and not "latest" (the link to the newest run). 0, or -1 with the
 * problem in err (the id itself is not echoed: it may hold anything). */
#define AB_RUN_ID_MAX 128
int ab_run_id_check(const char *id, char *err);
/* Validates as it reads; on error the message names the JSON path (and, for syntax errors, the
 * line and column). */
ab_run *ab_run_from_json(const json_t *doc, char *err);
int ab_run_write(const ab_run *run, const char *path, char *err);
/* Reads a run document. A document that was never finalised (no end_time: the run is still
 * going, or was killed) takes the results of the journal beside it (AB_JOURNAL_NAME in the same
 * folder) that it does not hold yet, so a killed run keeps every finished result. */
ab_run *ab_run_read(const char *path, char *err);

/*
 * The results journal of a run in progress (results/SCHEMA.md, "The results journal"): one
 * header line naming the run, then one JSON line per finished result, in the form of run.json's
 * results[] entries, each fsync'd before the next case starts. `accelbench run` writes run.json
 * twice (the header with no results at the start, everything at the end) and the journal in
 * between, so a run costs O(results) writes instead of one document rewrite per result.
 */
#define AB_JOURNAL_NAME "journal.jsonl"
#define AB_JOURNAL_SCHEMA "accelbench.journal"
/* Longest journal line a reader accepts (one result with its samples). */
#define AB_JOURNAL_MAX_LINE (64u << 20)

typedef struct ab_journal ab_journal;
/* Creates the journal (the file must not exist) and writes and syncs its header line. */
ab_journal *ab_journal_create(const char *path, const ab_run *run, char *err);
/* Appends one result as a line and syncs it. On failure the file is cut back to the lines
 * before, so the journal never ends in a torn line it wrote. */
int ab_journal_append(ab_journal *j, const ab_result *r, char *err);
/* Lines appended so far (results, header excluded). */
size_t ab_journal_count(const ab_journal *j);
void ab_journal_close(ab_journal *j);
/* Appends to run the journal's results past run->nresults (the journal at path must name the
 * same run id). A missing journal is no error (*added = 0); a torn last line (no newline: the
 * writer was killed inside it) is ignored. */
int ab_run_merge_journal(ab_run *run, const char *path, size_t *added, char *err);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The suite interface. A suite owns a method: its case keys ("membw.triad"), its parameters,
 * bytes/FLOP formulas and validation. It never prints: it hands each finished result to the
 * runner through ab_emit(), which records it (the run document is rewritten atomically after
 * every result) and reports progress on stderr.
 *
 * Per backend a suite has one kernel table, a typed member of the backend's ab_suite_impls
 * (backends/backend.h), read with ab_device_impls(dev)-><suite>; a backend without one (NULL)
 * gets a `skip` result naming the reason. What a suite needs to know about the device (how it
 * runs kernels, host threads, default data type) is in dev->info, never in the backend's name.
 */
#ifndef AB_SUITE_H
#define AB_SUITE_H

#include "../backends/registry.h"
#include "../core/measure.h"
#include "../core/rundoc.h"

typedef struct ab_param_desc {
    const char *name;    /* long option without dashes: "dtype" gives --dtype */
    const char *metavar; /* "LIST" */
    const char *help;
} ab_param_desc;

#define AB_MAX_PARAMS 48

typedef struct ab_kv {
    const char *name;
    char *value;
} ab_kv;

typedef struct ab_options {
    const char *profile;  /* quick | standard | full */
    ab_sampling sampling; /* from the profile, then --repeat / --min-time */
    char **suites;        /* selectors (key or prefix); NULL means all */
    char **devices;       /* device ids; NULL means all */
    const char *out_dir;  /* results root */
    ab_kv params[AB_MAX_PARAMS];
    int nparams;
    const char *corrupt;  /* test hook: key whose output is corrupted before validation */
    const char *baseline; /* run document to gate against after the run */
} ab_options;

/* Value of a suite parameter given on the command line, or NULL. In a suite (check, run) the
 * options are that suite's view (ab_suite_options) and `name` is the short name: "impl". */
const char *ab_opt_param(const ab_options *o, const char *name);

typedef struct ab_suite_ctx ab_suite_ctx;

/* A column of a suite's own summary table (summary.md, after the headlines). */
typedef enum {
    AB_COL_TEXT,  /* a string, "?" when absent */
    AB_COL_NUM,   /* %.4g */
    AB_COL_USD,   /* %.2f */
    AB_COL_PCT,   /* the value x 100, %.0f%% */
    AB_COL_TIME,  /* seconds, with a unit prefix (1.23 ms) */
    AB_COL_LABEL, /* the table's label() of the result */
} ab_col_format;

typedef struct ab_summary_col {
    const char *header;
    /* Where the value comes from, the first one present wins (NULL-terminated): "device",
     * "param:NAME", "metric:NAME" (its median), "extra:A.B.C" (a path into extra). A missing
     * or non-finite number shows as a dash; the notes below the table say why. */
    const char *const *from;
    ab_col_format format;
} ab_summary_col;

/* A note under the table: "- LABEL: TEXT" with the first string found at `from` over the rows. */
typedef struct ab_summary_note {
    const char *label;
    const char *from; /* "extra:A.B.C" */
} ab_summary_note;

typedef struct ab_summary_table {
    const char *title;         /* the section heading */
    const ab_summary_col *cols;  /* terminated by an entry with header NULL */
    const ab_summary_note *notes; /* terminated by an entry with label NULL; may be NULL */
    /* The text of an AB_COL_LABEL cell (what the row's point is); may be NULL. */
    void (*label)(const ab_result *r, char *buf, size_t len);
} ab_summary_table;

/* A device x device (or any param x param) matrix in summary.md: one cell per passing result
 * of `key`, at row = the string param `row`, column = the string param `col`, showing the
 * median of metric `metric` (with its unit's prefix). Rows and columns are every value either
 * param takes, in order of first appearance; a pair without a passing result is a dash. */
typedef struct ab_summary_matrix {
    const char *title;
    const char *key;    /* the result key: "p2p.ce_unidir" */
    const char *row;    /* param name: "src" */
    const char *col;    /* param name: "dst" */
    const char *metric; /* metric name: "bandwidth" */
} ab_summary_matrix;
/* A parameter the suite sweeps for the cases of a key: the x axis of a sweep chart
 * (runners/plot.c draws a sweep only over a declared parameter). */
typedef struct ab_sweep_decl {
    const char *key;   /* a case key, or a prefix of keys ("gemm.llama3"); NULL ends the list */
    const char *param; /* the swept numeric parameter: "working_set" */
    bool bytes;        /* the parameter is a size in bytes (KiB/MiB/GiB axis labels) */
} ab_sweep_decl;

/* How the runners present a suite's results. */
typedef struct ab_suite_display {
    /* Integer parameters that tell one point from its neighbours in chart labels (plot.c's
     * series titles), in this order, as name=value; NULL-terminated, NULL for none. */
    const char *const *label_params;
    /* A table of the suite's passing results in summary.md (one row each); NULL for none. */
    const ab_summary_table *table;
    /* Matrices in summary.md after the table, NULL-terminated; NULL for none. */
    const ab_summary_matrix *const *matrices;
    /* The parameters the suite sweeps, per key (an entry with key NULL ends it); NULL for
     * none. A key may have several (tokens.decode over context and over batch). */
    const ab_sweep_decl *sweeps;
} ab_suite_display;

/* What one call of a suite's run() covers. */
typedef enum ab_suite_scope {
    AB_SCOPE_DEVICE = 0, /* once per selected device (ctx->dev) */
    AB_SCOPE_NODE,       /* once per backend, over all its selected devices (ctx->devices):
                          * collectives, peer copies; runners/node_run.c groups them */
} ab_suite_scope;

typedef struct ab_suite {
    const char *name;
    const char *summary;
    const char *const *keys;     /* NULL-terminated list of the case keys */
    const ab_param_desc *params; /* terminated by an entry with name NULL */
    /* Validates this suite's parameters before anything runs (usage errors). NULL with cases
     * set: making the plan is the check (ab_caserun_check_suite). */
    int (*check)(const ab_options *opt, char *err);
    /* Runs every selected case on ctx->dev, emitting one result per case. Returns -1 only when
     * the run cannot continue (ab_emit failed); per-case problems are results. */
    int (*run)(ab_suite_ctx *ctx);
    /* The suite's declared cases (suites/case.h) when run is ab_caserun; NULL otherwise. */
    const struct ab_case_suite *cases;
    /* Display hints, so presentation (runners/plot.c, output.c, report.c) names no suite. */
    const ab_suite_display *display; /* NULL: no hints */
    /* Run on every selected device at once unless another selected suite does not ask for it
     * (accelbench run --concurrent, runners/concurrent.h): burn. */
    bool concurrent;
    /* Not in the default selection (no --suite, or "all"): runs only when --suite names it or
     * one of its keys (burn, which runs for minutes). */
    bool explicit_only;
    ab_suite_scope scope;            /* AB_SCOPE_DEVICE unless set */
} ab_suite;

struct ab_suite_ctx {
    const ab_options *opt;
    const ab_suite *suite;
    ab_device *dev;
    /* A node-scope suite (AB_SCOPE_NODE): the selected, opened devices of one backend, in
     * platform order, dev == devices[0]; every result of ab_suite_result() then carries the
     * param `devices` ("cuda:0,cuda:1"). NULL / 0 for a device-scope suite. */
    ab_device *const *devices;
    size_t ndevices;
    /* Set by the runner: records r (taking ownership) and prints progress. */
    int (*emit)(ab_suite_ctx *ctx, ab_result *r);
    void *runner;
    /* The run's probe manifest (results/MANIFEST.md), e.g. for the cloud instance type; may be
     * NULL (tests, or a runner without probes). */
    const json_t *manifest;
    /* Set by the runner when it samples ctx->dev: the device's energy over [t0, t1]
     * (CLOCK_MONOTONIC seconds, ab_now()) in *joules and where it was read in `what` (96 bytes);
     * -1 with the reason in why when no energy reading covers the window. May be NULL. */
    int (*energy)(ab_suite_ctx *ctx, double t0, double t1, double *joules, char *what,
                  char *why);
    /* Set by the runner: the sampler's summary of ctx->dev over [t0, t1] (ab_now() seconds) in
     * extra.sampler's layout (results/MANIFEST.md), or NULL when the run does not sample the
     * device; the caller frees it. May be NULL. */
    json_t *(*sampler)(ab_suite_ctx *ctx, double t0, double t1);
    /* Set by the runner: told of each case as it starts (the live progress line); may be
     * NULL. */
    void (*started)(ab_suite_ctx *ctx, const ab_result *r);
    /* The run's time budget (runners/budget.h), consulted by the case loop before each case;
     * NULL: none. */
    struct ab_budget *budget;
};

/* NULL-terminated registry of all suites. */
const ab_suite *const *ab_suites(void);
size_t ab_suite_count(void);
const ab_suite *ab_suite_find(const char *name);

/*
 * Suite parameters on the command line. Each has a short form, --NAME, and a namespaced one,
 * --SUITE.NAME, which sets it for that suite alone and wins over the short form there. A short
 * form that only one selected suite declares is that suite's, validated as always. A short form
 * that several selected suites declare (--dtype, --impl, --batch) goes to each of them whose
 * check() accepts the value; one that does not runs with its default for that parameter (a note
 * on stderr says so), and it is a usage error only when none of them accepts it. Parameters of
 * suites that are not selected are not checked.
 */

/* The option names `run` accepts for suite parameters: every distinct short name, then every
 * SUITE.NAME; NULL-terminated, static, at most AB_MAX_PARAM_OPTIONS. */
#define AB_MAX_PARAM_OPTIONS 192
const char *const *ab_suite_param_options(void);

/* One view of o per suite (views[i] for ab_suites()[i]): a copy of o whose params are that
 * suite's parameters, under their short names, resolved by the rules above. Runs check() of
 * each selected suite (selected[i]) on its view. 0, with one line per short form a suite did
 * not take in notes (for the log once the run starts; "" when none), or -1 with the usage
 * error in err. */
int ab_suite_options(const ab_options *o, const bool *selected, ab_options *views, char *notes,
                     size_t notes_len, char *err);

/* True when `key` matches a selector (exact key, or a prefix of it; "all" matches everything). */
bool ab_key_selected(char *const *selectors, const char *key);
bool ab_suite_key_selected(const ab_suite_ctx *ctx, const char *key);

/* A result for ctx's device with suite, key and impl filled in. */
ab_result *ab_suite_result(const ab_suite_ctx *ctx, const char *key, const char *impl);
/* Emits r; returns -1 when the runner could not record it (the suite should stop). */
int ab_emit(ab_suite_ctx *ctx, ab_result *r);

/* The number of results ab_caserun(ctx) (suites/case.h) would give with nothing absent or skipped at run time:
 * the selected cases and the preset results of ctx's suite on ctx->dev (1 when the suite has
 * no implementation there or its plan is refused). Makes the list and frees it, runs nothing. */
size_t ab_caserun_count(ab_suite_ctx *ctx);

/* Shared dtype names across suites. */
typedef enum {
    AB_DT_F64 = 0,
    AB_DT_F32,
    AB_DT_TF32,
    AB_DT_BF16,
    AB_DT_F16,
    AB_DT_E4M3,
    AB_DT_E5M2,
    AB_DT_I8,
    AB_DT_COUNT
} ab_dtype;

const char *ab_dtype_name(ab_dtype t);
int ab_dtype_parse(const char *s, ab_dtype *out);
/* A --dtype list ("f32,bf16"): picked[t] set for every type named (the others left alone). An
 * empty item or an unknown name is an error naming --dtype; each suite then keeps the types it
 * runs. */
int ab_dtype_list(const char *s, bool picked[AB_DT_COUNT], char *err);
size_t ab_dtype_size(ab_dtype t);

#endif

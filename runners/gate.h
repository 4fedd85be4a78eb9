/* SPDX-License-Identifier: MIT */
/*
 * The regression gate, shared by 'accelbench gate' and 'accelbench run --baseline': a baseline
 * (one run, or the median of the last N runs of the history), the comparison, the verdict as an
 * exit code, JUnit XML. Also the loading of runs named on a command line.
 */
#ifndef AB_GATE_H
#define AB_GATE_H

#include "compare.h"

#include <getopt.h>
#include <stdio.h>

/* A run named on the command line: a run document, or a run folder holding run.json. Errors name
 * the file and the position (line:column, or the JSON path) of the problem. */
ab_run *ab_load_run_arg(const char *arg, char *err);

/* "5%" or a fraction "0.05" in [0, 1) ("5" alone is refused: ambiguous). */
int ab_parse_fraction(const char *s, const char *what, double *out, char *err);

typedef struct ab_gate_opts {
    ab_cmp_opts cmp;
    const char *baseline; /* run document or folder; NULL with last > 0 */
    long last;            /* > 0: baseline = median of the last N complete runs in the history */
    const char *db;       /* history database; NULL: ab_history_default_path() */
    const char *junit;    /* JUnit XML output, or NULL */
} ab_gate_opts;

void ab_gate_opts_default(ab_gate_opts *o);

/* Options shared by gate, run (and compare/report for the statistics), for getopt_long. The
 * values are >= AB_GATE_OPT_BASE. */
enum {
    AB_GATE_OPT_BASE = 3000,
    AB_GATE_OPT_THRESHOLD = AB_GATE_OPT_BASE,
    AB_GATE_OPT_ALPHA,
    AB_GATE_OPT_NOISE_K,
    AB_GATE_OPT_ALIGN,
    AB_GATE_OPT_HEADLINE_ONLY,
    AB_GATE_OPT_JUNIT,
    AB_GATE_OPT_BASELINE,
    AB_GATE_OPT_BASELINE_LAST,
    AB_GATE_OPT_DB,
    AB_GATE_OPT_END
};
/* The statistics options (threshold, alpha, noise-k, align, headline-only) and then the gate
 * options (junit, baseline, baseline-last, db); terminated by a zero entry. */
extern const struct option ab_gate_long_options[];
#define AB_GATE_NSTAT_OPTIONS 5
#define AB_GATE_NOPTIONS 9
/* Handles one option value: 1 when it was a gate option, 0 when not, -1 on a bad value (err). */
int ab_gate_parse_option(int c, const char *arg, ab_gate_opts *o, char *err);
/* Help text for the options, for the commands' --help. */
extern const char ab_gate_stat_help[];
extern const char ab_gate_help[];

/* The baseline of o: the run document, or the history median (leaving out exclude_id). */
ab_run *ab_gate_baseline(const ab_gate_opts *o, const char *exclude_id, char *err);

/*
 * Judges run `nw` against `base`. Writes the changed metrics (all with all_rows) and a summary to
 * out (Markdown or text), one line per worse metric to stderr, JUnit XML when o->junit is set.
 * Returns the exit code: AB_EXIT_FAIL when the new run has fail/error results (a wrong or missing
 * answer outranks a slow one), else AB_EXIT_REGRESSION when a metric is worse, else AB_EXIT_OK;
 * AB_EXIT_USAGE with err when no metric aligns (a gate that compares nothing cannot fail, so it
 * must not pass); AB_EXIT_IO when the JUnit file cannot be written.
 */
int ab_gate_judge(ab_run *base, ab_run *nw, const ab_gate_opts *o, FILE *out, bool markdown,
                  bool all_rows, char *err);

#endif

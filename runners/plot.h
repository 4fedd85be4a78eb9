/* SPDX-License-Identifier: MIT */
/*
 * Charts with gnuplot. Every chart is a data file (<name>.dat) and a gnuplot script (<name>.gp,
 * from the templates in plots/, embedded in the binary) written side by side, then rendered to
 * <name>.png and <name>.svg when gnuplot is found; without gnuplot the .dat/.gp files are still
 * written and a warning says the images were skipped.
 *
 * Which charts a set of runs gives is decided by the data and the suites' declarations, not by
 * suite names in this file, so new suites' results appear without code changes here:
 *  - sweep:    per case key and metric, over each parameter the suite declares it sweeps for the
 *              key (ab_suite_display.sweeps: membw bandwidth vs working set, GEMM FLOP/s vs size,
 *              attention latency vs sequence length), when a series has >= 3 values of it: one
 *              line per device, implementation and text parameter (dtype); nothing inferred for
 *              a suite the binary does not know;
 *  - headline: per metric (name and unit), the headline results of every run and device as
 *              clustered bars, one cluster per case and one colour per device (and run);
 *  - roofline: per device model, results whose FLOP and byte counts are known (extra.flops_per_iter
 *              and extra.bytes_per_iter, or a FLOP/s metric beside a B/s one) under the measured
 *              and datasheet roofs;
 *  - trend:    a metric over time from the history (ab_plot_trend).
 */
#ifndef AB_PLOT_H
#define AB_PLOT_H

#include "../core/rundoc.h"
#include "history.h"

#include <stdbool.h>

typedef struct ab_chart {
    char *name;   /* file stem in the output folder */
    char *title;
    char *kind;   /* "sweep", "headline", "roofline", "trend" */
    bool rendered; /* <name>.png and <name>.svg exist */
} ab_chart;

typedef struct ab_charts {
    ab_chart *v;
    size_t n;
    bool skipped;            /* gnuplot missing or failing: images were not made */
    char warning[AB_ERRLEN]; /* why, when skipped */
} ab_charts;

/* The gnuplot binary: $AB_GNUPLOT when set (a path; empty means "none"), else gnuplot on PATH.
 * NULL when there is none. */
const char *ab_gnuplot_path(void);

/* Writes s as a gnuplot single-quoted string literal that gnuplot cannot expand: no backquote or
 * macro substitution happens inside single quotes, quotes are doubled, control characters become
 * spaces (so the literal stays on its line). Every string from a run document, the manifest or
 * the command line reaches a script only through this. */
void ab_gp_quote(FILE *f, const char *s);

/* Charts of one or more runs into dir (created). Returns -1 only when files cannot be written;
 * a missing gnuplot sets skipped and warning. */
int ab_plot_runs(ab_run *const *runs, size_t n, const char *dir, ab_charts *out, char *err);

/* One chart of history series over time: <dir>/<name>.{dat,gp,png,svg}. */
int ab_plot_trend(const ab_trend_series *s, size_t n, const char *dir, const char *name,
                  ab_charts *out, char *err);

void ab_charts_free(ab_charts *c);

/* One clustered-bar chart <dir>/<name>.{dat,gp,png,svg}: rows and cols are arrays of labels,
 * cells {"ROW,COL": value in the unit of ylabel}; a missing cell is a gap (accelbench fleet). */
int ab_plot_bars(const char *dir, const char *name, const char *title, const char *ylabel,
                 json_t *rows, json_t *cols, json_t *cells, ab_charts *out, char *err);

/* Scale for displaying values of a unit whose largest magnitude is maxabs: "B/s" 2.3e10 ->
 * factor 1e9, label "GB/s"; "s" 1.2e-3 -> 1e-3, "ms". Decimal prefixes only. */
void ab_display_scale(const char *unit, double maxabs, double *factor, char *label, size_t len);

#endif

/* SPDX-License-Identifier: MIT */
/* Presentation of run documents: display units, results.csv, the Markdown summary. */
#ifndef AB_OUTPUT_H
#define AB_OUTPUT_H

#include "../core/rundoc.h"

#include <stdio.h>

/* Scales an SI value for display: 2.3e10 "B/s" -> "23.00 GB/s"; 1.2e-3 "s" -> "1.200 ms".
 * Decimal prefixes only (GB = 1e9 bytes), never binary ones, for rates. */
void ab_format_value(double v, const char *unit, char *buf, size_t len);

/* One row per metric (results without metrics get one row with empty metric fields). */
int ab_write_csv(const ab_run *run, FILE *f);
/* Human summary: header, backends, headline table, all results. */
int ab_write_markdown(const ab_run *run, FILE *f);
/* Parameters for display, keys sorted: byte counts (keys ending in working_set / bytes / size)
 * in IEC units ("dtype=f64 working_set=128 MiB"). Caller frees. */
char *ab_params_display(const json_t *params);
/* A suite's declared matrix (ab_summary_matrix, suites/suite.h) as a Markdown section; nothing
 * when no result of its key has both params (runners/output_matrix.c). */
struct ab_summary_matrix;
void ab_md_suite_matrix(const ab_run *run, const char *suite, const struct ab_summary_matrix *m,
                        FILE *f);
/* One progress line for a finished result (stderr). */
void ab_print_progress(const ab_result *r, FILE *f);

#endif

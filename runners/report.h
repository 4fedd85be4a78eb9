/* SPDX-License-Identifier: MIT */
/*
 * The HTML report: one self-contained file (inline CSS, inline SVG charts, a few lines of inline
 * script for sortable tables, a Content-Security-Policy that forbids loading anything), readable
 * offline. It shows the runs, their comparison (two or more runs), headline figures with % of
 * datasheet peak, charts, every result, and each run's host/probe manifest, rendered generically
 * from JSON so that new probe fields appear without code changes.
 */
#ifndef AB_REPORT_H
#define AB_REPORT_H

#include "compare.h"

#include <stdio.h>

typedef struct ab_report_opts {
    ab_cmp_opts cmp;       /* comparison settings (two or more runs) */
    const char *title;     /* NULL: "accelbench report" */
    const char *plots_dir; /* keep the charts' .gp/.dat/.png/.svg here; NULL: a temporary folder */
} ab_report_opts;

/* Writes the report to f. *warning receives a non-fatal problem (charts skipped), or "". */
int ab_report_html(ab_run *const *runs, size_t n, const ab_report_opts *o, FILE *f, char *warning,
                   char *err);

#endif

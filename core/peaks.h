/* SPDX-License-Identifier: MIT */
/*
 * Datasheet peaks (data/accelerator-peaks.csv): memory bandwidth and dense FLOP rates per data
 * type, each row with its source and the date it was read. Used for "% of datasheet peak"; a
 * device without a row, or a figure the sources do not give, has no percentage (never a guess).
 */
#ifndef AB_PEAKS_H
#define AB_PEAKS_H

#include "table.h"

#include <stdbool.h>

typedef struct ab_peaks {
    ab_table t;
} ab_peaks;

/* path NULL: the shipped table. Every numeric cell must be empty or a finite number >= 0, and
 * every row needs model, match, source and accessed; errors name the file and line. */
int ab_peaks_load(const char *path, ab_peaks *p, char *err);
void ab_peaks_free(ab_peaks *p);
/* Row whose match patterns fit the device name, or -1. */
int ab_peaks_match(const ab_peaks *p, const char *device_name);
/* Numeric column of a row ("bandwidth_tbs", "bf16_tflops", ...): NAN when empty or unknown. */
double ab_peaks_value(const ab_peaks *p, int row, const char *col);
const char *ab_peaks_str(const ab_peaks *p, int row, const char *col);
/* Does one '|'-separated pattern list match the name (exposed for tests)? */
bool ab_peaks_pattern_match(const char *patterns, const char *name);

#endif

/*
 * The datasheet peak that bounds a measured metric: unit "B/s" -> bandwidth_tbs; "FLOP/s" or
 * "OP/s" -> the column for the data type (f64: fp64 tensor, else vector; f32: fp32; tf32; bf16;
 * f16; e4m3/e5m2: fp8; i8: int8). Returns the peak in the metric's SI unit (B/s, FLOP/s) and
 * the table's row, or NAN / -1 when the device has no row or the sources give no figure.
 * `column` (may be NULL) receives the column used.
 */
double ab_peaks_for(const ab_peaks *p, const char *device_name, const char *unit,
                    const char *dtype, int *row, const char **column);

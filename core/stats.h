/* SPDX-License-Identifier: MIT */
/* Summary statistics of a sample set. Quantiles use linear interpolation between order statistics
 * (Hyndman & Fan type 7, the default of R and NumPy), so p50 of an even set is the mean of the two
 * middle values. */
#ifndef AB_STATS_H
#define AB_STATS_H

#include <stddef.h>

typedef struct ab_stats {
    size_t n;
    double median, min, max, mean;
    double stddev; /* sample standard deviation (n - 1); 0 when n < 2 */
    double p90, p99;
    double cv; /* stddev / mean; 0 when mean is 0 */
} ab_stats;

/* Returns -1 when n == 0 or a value is not finite. x is not modified. */
int ab_stats_compute(const double *x, size_t n, ab_stats *out);
/* q in [0, 1] over an ascending array. */
double ab_quantile_sorted(const double *sorted, size_t n, double q);
/* Median of an unsorted array (copies it). NAN when n == 0. */
double ab_median(const double *x, size_t n);

#endif

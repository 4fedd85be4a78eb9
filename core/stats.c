/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ab_quantile_sorted(const double *s, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0.0)
        return s[0];
    if (q >= 1.0)
        return s[n - 1];
    double h = q * (double)(n - 1);
    size_t lo = (size_t)floor(h);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return s[lo] + (h - (double)lo) * (s[hi] - s[lo]);
}

int ab_stats_compute(const double *x, size_t n, ab_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return -1;
    double *s = malloc(n * sizeof(*s));
    if (!s)
        return -1;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            free(s);
            return -1;
        }
        s[i] = x[i];
        sum += x[i];
    }
    qsort(s, n, sizeof(*s), cmp_double);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->mean = sum / (double)n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - out->mean) * (x[i] - out->mean);
    out->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    out->median = ab_quantile_sorted(s, n, 0.5);
    out->p90 = ab_quantile_sorted(s, n, 0.9);
    out->p99 = ab_quantile_sorted(s, n, 0.99);
    out->cv = out->mean != 0.0 ? out->stddev / fabs(out->mean) : 0.0;
    free(s);
    return 0;
}

double ab_median(const double *x, size_t n)
{
    ab_stats st;
    if (ab_stats_compute(x, n, &st) != 0)
        return NAN;
    return st.median;
}

/* SPDX-License-Identifier: MIT */
/*
 * Statistics for comparing runs: the Mann-Whitney U (Wilcoxon rank-sum) test, robust spread,
 * and step-change detection in a series of run medians. Pure functions, no allocation visible to
 * the caller; every function tolerates n == 0.
 */
#ifndef AB_UTEST_H
#define AB_UTEST_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    AB_MWU_NONE = 0, /* not computed: an empty side, or a non-finite value */
    AB_MWU_EXACT,    /* exact null distribution (no ties, both sides <= AB_MWU_EXACT_MAX) */
    AB_MWU_NORMAL,   /* normal approximation, tie-corrected variance, continuity correction */
} ab_mwu_method;

/* Largest side for which the exact distribution is computed (it costs O(n1 * n1 * n2)). Above it
 * the normal approximation is within a few 1e-4 of the exact p-value. */
#define AB_MWU_EXACT_MAX 50

typedef struct ab_mwu {
    double u1;      /* U of the first sample: pairs (x, y) with x > y, ties counting one half */
    double u2;      /* n1 * n2 - u1 */
    double p;       /* two-sided p-value; NAN when method is AB_MWU_NONE */
    double z;       /* standardised statistic (normal method); 0 for exact */
    bool ties;      /* some values occur in both or in one sample more than once */
    ab_mwu_method method;
} ab_mwu;

/*
 * Two-sided Mann-Whitney U test of x (n1 values) against y (n2 values): exact when there are no
 * ties and both samples have at most AB_MWU_EXACT_MAX values, otherwise the normal approximation
 * with the tie correction of the variance and a continuity correction of 0.5. These are the
 * conventions of R's wilcox.test and SciPy's mannwhitneyu (method "exact" / "asymptotic",
 * use_continuity=True), against which tests/test_stats.c checks the values. Returns -1 (and
 * method AB_MWU_NONE) when a side is empty or holds a non-finite value, or on out of memory.
 */
int ab_mwu_test(const double *x, size_t n1, const double *y, size_t n2, ab_mwu *out);

/* The smallest two-sided p-value the exact test can give for these sample sizes (no ties):
 * 2 / C(n1 + n2, n1). When it is not below the significance level the test cannot detect any
 * difference, however large. */
double ab_mwu_min_p(size_t n1, size_t n2);

/* Scaled median absolute deviation: 1.4826 * median(|x - median(x)|), a standard-deviation
 * estimate that ignores up to half the values being outliers. NAN when n == 0. */
double ab_mad_sigma(const double *x, size_t n);

typedef struct ab_step_opts {
    size_t min_segment; /* fewest points on each side of a step (>= 2) */
    double alpha;       /* U-test level for one step */
    double min_effect;  /* |log ratio of segment medians| must exceed log(1 + min_effect) */
    double noise_k;     /* ... and noise_k times the run-to-run noise: the robust spread of
                           successive differences, divided by sqrt(2) */
} ab_step_opts;

void ab_step_opts_default(ab_step_opts *o);

/*
 * Step changes in a series y[0..n) (e.g. one metric's run medians over time, all > 0), by binary
 * segmentation: the split that gives the smallest U-test p-value between the two sides is a step
 * when p < alpha and the shift of the medians passes both effect limits; then each side is
 * searched again. Writes up to max indices (the first point after each step, ascending) to at and
 * returns how many were found. Values <= 0 or non-finite are not allowed (returns 0).
 */
size_t ab_step_changes(const double *y, size_t n, const ab_step_opts *o, size_t *at, size_t max);

#endif

/* SPDX-License-Identifier: MIT */
#include "utest.h"
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double v;
    int side; /* 0: x, 1: y */
} tagged;

static int cmp_tagged(const void *a, const void *b)
{
    double x = ((const tagged *)a)->v, y = ((const tagged *)b)->v;
    return (x > y) - (x < y);
}

/*
 * Exact null distribution of U for sample sizes m, n without ties: the number of arrangements
 * with U = u is the coefficient of q^u in the Gaussian binomial [m+n choose m]_q
 * = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i) (Harding 1984). Each factor is applied as a power
 * series truncated at degree m*n, which is exact because the product is a polynomial of that
 * degree. Returns P(U <= u) for the integer u.
 */
static double exact_cdf(size_t m, size_t n, double u)
{
    if (u < 0)
        return 0.0;
    size_t deg = m * n;
    if (u >= (double)deg)
        return 1.0;
    double *c = calloc(deg + 1, sizeof(*c));
    if (!c)
        return NAN;
    c[0] = 1.0;
    for (size_t i = 1; i <= m; i++) {
        size_t s = n + i;
        for (size_t k = deg; k >= s; k--)
            c[k] -= c[k - s];
        for (size_t k = i; k <= deg; k++)
            c[k] += c[k - i];
    }
    double below = 0.0, total = 0.0;
    size_t ui = (size_t)floor(u + 1e-9);
    for (size_t k = 0; k <= deg; k++) {
        total += c[k];
        if (k <= ui)
            below += c[k];
    }
    free(c);
    return below / total;
}

double ab_mwu_min_p(size_t n1, size_t n2)
{
    if (!n1 || !n2)
        return 1.0;
    /* 2 / C(n1+n2, n1), in logs so large sizes do not overflow */
    double lc = lgamma((double)(n1 + n2 + 1)) - lgamma((double)(n1 + 1)) - lgamma((double)(n2 + 1));
    double p = 2.0 * exp(-lc);
    return p < 1.0 ? p : 1.0;
}

int ab_mwu_test(const double *x, size_t n1, const double *y, size_t n2, ab_mwu *out)
{
    memset(out, 0, sizeof(*out));
    out->p = NAN;
    if (!n1 || !n2)
        return -1;
    size_t n = n1 + n2;
    tagged *t = malloc(n * sizeof(*t));
    if (!t)
        return -1;
    for (size_t i = 0; i < n; i++) {
        double v = i < n1 ? x[i] : y[i - n1];
        if (!isfinite(v)) {
            free(t);
            return -1;
        }
        t[i].v = v;
        t[i].side = i < n1 ? 0 : 1;
    }
    qsort(t, n, sizeof(*t), cmp_tagged);
    /* mid-ranks; sum of (t^3 - t) over tie groups for the variance correction */
    double rank_x = 0.0, tie_term = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v)
            j++;
        double cnt = (double)(j - i + 1);
        double mid = ((double)i + (double)j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            if (t[k].side == 0)
                rank_x += mid;
        if (cnt > 1) {
            tie_term += cnt * cnt * cnt - cnt;
            out->ties = true;
        }
        i = j + 1;
    }
    free(t);
    double dn1 = (double)n1, dn2 = (double)n2, dn = (double)n;
    out->u1 = rank_x - dn1 * (dn1 + 1.0) / 2.0;
    out->u2 = dn1 * dn2 - out->u1;
    double umax = out->u1 > out->u2 ? out->u1 : out->u2;
    double umin = dn1 * dn2 - umax;
    if (!out->ties && n1 <= AB_MWU_EXACT_MAX && n2 <= AB_MWU_EXACT_MAX) {
        /* P(U >= umax) = P(U <= umin) by symmetry; two-sided doubles it */
        double cdf = exact_cdf(n1 < n2 ? n1 : n2, n1 < n2 ? n2 : n1, umin);
        if (!isfinite(cdf))
            return -1;
        out->p = fmin(1.0, 2.0 * cdf);
        out->method = AB_MWU_EXACT;
        return 0;
    }
    double mu = dn1 * dn2 / 2.0;
    double var = dn1 * dn2 / 12.0 * ((dn + 1.0) - tie_term / (dn * (dn - 1.0)));
    out->method = AB_MWU_NORMAL;
    if (!(var > 0.0)) {
        /* every value equal: no evidence of any difference */
        out->p = 1.0;
        return 0;
    }
    double z = (umax - mu - 0.5) / sqrt(var);
    out->z = z;
    out->p = fmin(1.0, erfc(z / M_SQRT2)); /* 2 * (1 - Phi(z)) */
    return 0;
}

double ab_mad_sigma(const double *x, size_t n)
{
    if (!n)
        return NAN;
    double med = ab_median(x, n);
    double *d = malloc(n * sizeof(*d));
    if (!d)
        return NAN;
    for (size_t i = 0; i < n; i++)
        d[i] = fabs(x[i] - med);
    double mad = ab_median(d, n);
    free(d);
    /* 1.4826 = 1 / Phi^-1(3/4): makes the MAD estimate sigma for normal data */
    return 1.4826 * mad;
}

void ab_step_opts_default(ab_step_opts *o)
{
    /* Four points a side is the least for which the exact two-sided test can reach p < 0.05
     * (2/70 = 0.029); the effect limits are those of the gate (README, "How verdicts are made"). */
    o->min_segment = 4;
    o->alpha = 0.05;
    o->min_effect = 0.05;
    o->noise_k = 3.0;
}

static void segment(const double *ly, size_t lo, size_t hi, const ab_step_opts *o, double sigma,
                    size_t *at, size_t max, size_t *found)
{
    size_t m = o->min_segment < 2 ? 2 : o->min_segment;
    if (hi - lo < 2 * m || *found >= max)
        return;
    size_t best = 0;
    double best_p = 2.0, best_eff = 0.0;
    for (size_t s = lo + m; s + m <= hi; s++) {
        ab_mwu t;
        if (ab_mwu_test(ly + lo, s - lo, ly + s, hi - s, &t) != 0)
            continue;
        double eff = fabs(ab_median(ly + s, hi - s) - ab_median(ly + lo, s - lo));
        /* smallest p; among equal p (common with exact tests), the largest shift */
        if (t.p < best_p || (t.p == best_p && eff > best_eff)) {
            best_p = t.p;
            best_eff = eff;
            best = s;
        }
    }
    if (!best || !(best_p < o->alpha))
        return;
    if (!(best_eff > log1p(o->min_effect)) || !(best_eff > o->noise_k * sigma))
        return;
    segment(ly, lo, best, o, sigma, at, max, found);
    if (*found < max)
        at[(*found)++] = best;
    segment(ly, best, hi, o, sigma, at, max, found);
}

size_t ab_step_changes(const double *y, size_t n, const ab_step_opts *o, size_t *at, size_t max)
{
    if (n < 4 || !max)
        return 0;
    double *ly = malloc(n * sizeof(*ly));
    if (!ly)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] > 0.0) || !isfinite(y[i])) {
            free(ly);
            return 0;
        }
        /* ratios, not differences, are what matter for rates and times: work in logs */
        ly[i] = log(y[i]);
    }
    /* The run-to-run noise from successive differences: a step adds one large difference, which
     * the median ignores, whereas the spread about segment medians would be inflated by any step
     * not yet found. For independent noise, a difference has sqrt(2) times the spread. */
    double *d = malloc((n - 1) * sizeof(*d));
    if (!d) {
        free(ly);
        return 0;
    }
    for (size_t i = 0; i + 1 < n; i++)
        d[i] = fabs(ly[i + 1] - ly[i]);
    double sigma = 1.4826 * ab_median(d, n - 1) / M_SQRT2;
    free(d);
    size_t found = 0;
    segment(ly, 0, n, o, sigma, at, max, &found);
    free(ly);
    /* segment() appends in order (left side, split, right side), so at[] is ascending */
    return found;
}

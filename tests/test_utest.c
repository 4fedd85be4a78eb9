/* SPDX-License-Identifier: MIT */
/*
 * The statistics behind verdicts, against known values. Reference p-values were computed with
 * SciPy 1.10.1 (scipy.stats.mannwhitneyu, alternative='two-sided', method 'exact' or
 * 'asymptotic' with use_continuity=True) on Debian 12, and the small cases also by hand.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "core/utest.h"

static void check(const double *x, size_t n1, const double *y, size_t n2, double u1, double p,
                  ab_mwu_method method)
{
    ab_mwu t;
    cr_assert_eq(ab_mwu_test(x, n1, y, n2, &t), 0);
    cr_expect_eq(t.method, method, "method %d, expected %d", t.method, method);
    cr_expect_float_eq(t.u1, u1, 1e-9, "U1 %g, expected %g", t.u1, u1);
    cr_expect_float_eq(t.u1 + t.u2, (double)(n1 * n2), 1e-9);
    cr_expect(fabs(t.p - p) <= 1e-9 * fmax(1.0, p), "p %.17g, expected %.17g", t.p, p);
}

Test(mwu, exact_fully_separated)
{
    /* by hand: one arrangement of C(10,5) = 252 has U = 0, two-sided 2/252 */
    double x[] = {1, 2, 3, 4, 5}, y[] = {6, 7, 8, 9, 10};
    check(x, 5, y, 5, 0.0, 2.0 / 252.0, AB_MWU_EXACT);
    check(y, 5, x, 5, 25.0, 2.0 / 252.0, AB_MWU_EXACT);
    cr_expect_float_eq(ab_mwu_min_p(5, 5), 2.0 / 252.0, 1e-15);
}

Test(mwu, exact_small_by_hand)
{
    /* U1 = 1 with m = 3, n = 4: P(U <= 1) = 2/35 (U = 0 and U = 1 have one arrangement each) */
    double x[] = {10.5, 12.1, 9.8}, y[] = {11.0, 13.2, 14.5, 12.9};
    check(x, 3, y, 4, 1.0, 4.0 / 35.0, AB_MWU_EXACT);
}

Test(mwu, exact_scipy)
{
    double x[] = {1.1, 2.3, 3.5, 4.2, 5.9}, y[] = {2.0, 3.0, 4.8, 6.1, 7.7};
    check(x, 5, y, 5, 8.0, 0.42063492063492064, AB_MWU_EXACT);
    /* R's wilcox.test example (depression scores): W = 35, p-value = 0.2544 */
    double a[] = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
    double b[] = {1.15, 0.88, 0.90, 0.74, 1.21};
    check(a, 10, b, 5, 35.0, 0.2544122544122544, AB_MWU_EXACT);
    double c[] = {3.1, 4.5, 2.2, 5.8, 6.1, 3.3, 4.4, 7.2, 5.5, 6.6, 2.9, 4.0};
    double d[] = {7.5, 8.1, 6.9, 9.2, 5.1, 8.8, 7.7};
    check(c, 12, d, 7, 6.0, 0.0011907597046915933, AB_MWU_EXACT);
}

Test(mwu, exact_larger_scipy)
{
    /* 40 vs 45 values, no ties: the exact distribution from the q-binomial product */
    double x[] = {9.651883,  10.532002, 9.594698,  10.277883, 9.823467,  9.155329,  9.680174,
                  9.049600,  10.006515, 8.876134,  8.907106,  11.456962, 9.946816,  9.946098,
                  10.511536, 9.579143,  9.771465,  10.425149, 10.282416, 8.840703,  10.833343,
                  9.409565,  8.943921,  9.099525,  9.609455,  11.627300, 8.824464,  10.160076,
                  7.862176,  9.998433,  10.899566, 9.763337,  9.370645,  10.231511, 10.700152,
                  10.663658, 11.972474, 10.209167, 9.407590,  9.874021};
    double y[] = {10.427501, 10.608737, 10.469972, 10.673966, 8.829150,  11.329629, 9.925261,
                  9.326841,  11.137751, 11.817326, 10.993028, 10.661159, 9.567780,  13.371567,
                  11.380259, 9.360705,  9.720362,  10.586979, 8.945269,  10.668630, 10.040928,
                  11.726271, 11.462155, 7.788715,  10.541703, 8.882533,  11.609638, 10.668106,
                  11.048405, 9.434875,  12.328430, 12.520073, 9.435229,  10.872815, 9.826698,
                  10.476430, 9.234363,  12.367146, 9.530820,  10.203916, 11.001483, 9.852439,
                  10.260688, 9.936360,  10.366539};
    check(x, 40, y, 45, 606.0, 0.0092720316533103295, AB_MWU_EXACT);
}

Test(mwu, ties_normal_approximation)
{
    double x[] = {1, 2, 2, 3, 4}, y[] = {2, 3, 3, 5, 6, 6};
    check(x, 5, y, 6, 6.0, 0.1130499788563229, AB_MWU_NORMAL);
    /* every value equal: no evidence of a difference */
    double s[] = {5, 5, 5}, t[] = {5, 5, 5, 5};
    check(s, 3, t, 4, 6.0, 1.0, AB_MWU_NORMAL);
}

Test(mwu, large_with_ties_scipy)
{
    double x[] = {10.3, 10.8, 10.3, 8.7,  10.9, 10.4, 9.5,  10.6, 10.4, 10.3, 10.0, 10.5,
                  9.3,  9.8,  9.5,  10.6, 10.0, 9.7,  9.2,  9.7,  10.0, 9.7,  11.3, 11.0,
                  7.3,  8.1,  9.8,  9.6,  10.2, 10.2, 12.1, 8.9,  9.6,  12.0, 10.6, 10.7,
                  9.5,  8.4,  10.2, 10.1, 8.8,  9.3,  9.9,  9.1,  9.9,  10.1, 10.0, 9.5,
                  10.6, 10.9, 10.3, 9.2,  10.7, 9.5,  10.9, 8.9,  10.9, 10.0, 8.8,  9.7};
    double y[] = {10.7, 10.9, 9.6,  9.5,  10.8, 10.1, 10.8, 11.4, 9.0,  10.9, 11.8, 10.3,
                  9.8,  11.4, 10.9, 11.5, 10.3, 9.1,  10.5, 10.2, 11.4, 10.8, 9.0,  9.4,
                  11.5, 11.3, 10.0, 10.6, 11.0, 11.1, 11.5, 10.9, 10.5, 10.3, 11.7, 8.3,
                  10.5, 10.6, 9.2,  10.9, 9.9,  11.5, 10.5, 11.3, 11.8, 11.0, 9.7,  9.1,
                  12.4, 10.5, 9.9,  10.7, 10.4, 11.5, 10.6, 10.6, 9.9,  11.1, 9.6,  11.3,
                  12.1, 9.1,  8.1,  11.2, 13.1, 9.6,  9.3,  11.2, 9.8,  10.1};
    check(x, 60, y, 70, 1330.5, 0.00032563083689618726, AB_MWU_NORMAL);
}

Test(mwu, no_power_with_tiny_samples)
{
    /* 2 against 2: the smallest two-sided p is 2/6; such a test can never reach 0.05 */
    cr_expect_float_eq(ab_mwu_min_p(2, 2), 1.0 / 3.0, 1e-15);
    cr_expect_float_eq(ab_mwu_min_p(3, 3), 0.1, 1e-15);
    cr_expect_lt(ab_mwu_min_p(4, 4), 0.05); /* 2/70 */
    cr_expect_eq(ab_mwu_min_p(0, 5), 1.0);
}

Test(mwu, bad_input)
{
    ab_mwu t;
    double x[] = {1, 2}, y[] = {NAN, 3};
    cr_expect_eq(ab_mwu_test(x, 2, y, 2, &t), -1);
    cr_expect_eq(t.method, AB_MWU_NONE);
    cr_expect_eq(ab_mwu_test(x, 0, y, 2, &t), -1);
}

Test(mwu, exact_p_is_a_distribution)
{
    /* every attainable p is in (0, 1], symmetric in the two samples, and p = 1 at the centre */
    double x[6], y[7];
    for (int shift = -8; shift <= 8; shift++) {
        for (int i = 0; i < 6; i++)
            x[i] = 2.0 * i + 0.5 * shift;
        for (int i = 0; i < 7; i++)
            y[i] = 2.0 * i + 0.25;
        ab_mwu a, b;
        cr_assert_eq(ab_mwu_test(x, 6, y, 7, &a), 0);
        cr_assert_eq(ab_mwu_test(y, 7, x, 6, &b), 0);
        cr_expect(a.p > 0 && a.p <= 1.0);
        cr_expect_float_eq(a.p, b.p, 1e-12);
    }
}

Test(robust, mad_sigma)
{
    double x[] = {1, 2, 3, 4, 100}; /* median 3, |dev| 2 1 0 1 97 -> MAD 1 */
    cr_expect_float_eq(ab_mad_sigma(x, 5), 1.4826, 1e-12);
    cr_expect(isnan(ab_mad_sigma(x, 0)));
}

Test(steps, finds_a_step_and_not_noise)
{
    ab_step_opts o;
    ab_step_opts_default(&o);
    /* 8 runs around 100, then 8 around 70 (a 30 % drop), +-2 % noise */
    double y[16];
    const double wiggle[8] = {1.00, 1.02, 0.99, 0.98, 1.01, 1.00, 0.985, 1.015};
    for (int i = 0; i < 16; i++)
        y[i] = (i < 8 ? 100.0 : 70.0) * wiggle[i % 8];
    size_t at[4];
    size_t n = ab_step_changes(y, 16, &o, at, 4);
    cr_assert_eq(n, 1, "found %zu steps", n);
    cr_expect_eq(at[0], 8);
    /* the same noise without the step: nothing */
    for (int i = 0; i < 16; i++)
        y[i] = 100.0 * wiggle[i % 8];
    cr_expect_eq(ab_step_changes(y, 16, &o, at, 4), 0);
    /* a 3 % step inside +-2 % noise is below the 5 % minimum effect */
    for (int i = 0; i < 16; i++)
        y[i] = (i < 8 ? 100.0 : 97.0) * wiggle[i % 8];
    cr_expect_eq(ab_step_changes(y, 16, &o, at, 4), 0);
}

Test(steps, two_steps_and_short_series)
{
    ab_step_opts o;
    ab_step_opts_default(&o);
    double y[18];
    for (int i = 0; i < 18; i++)
        y[i] = (i < 6 ? 50.0 : i < 12 ? 100.0 : 60.0) * (1.0 + 0.01 * ((i * 7) % 5 - 2));
    size_t at[4];
    size_t n = ab_step_changes(y, 18, &o, at, 4);
    cr_assert_eq(n, 2, "found %zu steps", n);
    cr_expect_eq(at[0], 6);
    cr_expect_eq(at[1], 12);
    /* too short to test: fewer than 2 x min_segment points */
    cr_expect_eq(ab_step_changes(y, 7, &o, at, 4), 0);
    /* non-positive values are refused */
    double z[8] = {1, 1, 1, 1, 0, 1, 1, 1};
    cr_expect_eq(ab_step_changes(z, 8, &o, at, 4), 0);
}

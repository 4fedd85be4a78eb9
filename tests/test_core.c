/* SPDX-License-Identifier: MIT */
/* Core helpers: statistics on known data, size parsing, list splitting, sampling policy. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ab.h"
#include "core/escape.h"
#include "core/measure.h"
#include "core/stats.h"

Test(stats, known_values)
{
    /* 1..10: mean 5.5, sample stddev sqrt(55/6), median 5.5, type-7 quantiles */
    double x[10] = {10, 3, 7, 1, 9, 2, 8, 4, 6, 5};
    ab_stats s;
    cr_assert_eq(ab_stats_compute(x, 10, &s), 0);
    cr_expect_eq(s.n, 10);
    cr_expect_float_eq(s.mean, 5.5, 1e-12);
    cr_expect_float_eq(s.median, 5.5, 1e-12);
    cr_expect_float_eq(s.min, 1.0, 0.0);
    cr_expect_float_eq(s.max, 10.0, 0.0);
    cr_expect_float_eq(s.stddev, sqrt(55.0 / 6.0), 1e-12);
    cr_expect_float_eq(s.p90, 9.1, 1e-12);  /* 1 + 0.9 * 9 = 9.1 */
    cr_expect_float_eq(s.p99, 9.91, 1e-12); /* 1 + 0.99 * 9 */
    cr_expect_float_eq(s.cv, sqrt(55.0 / 6.0) / 5.5, 1e-12);
    /* input untouched */
    cr_expect_float_eq(x[0], 10.0, 0.0);
}

Test(stats, single_and_odd)
{
    double one = 42.0;
    ab_stats s;
    cr_assert_eq(ab_stats_compute(&one, 1, &s), 0);
    cr_expect_float_eq(s.median, 42.0, 0.0);
    cr_expect_float_eq(s.stddev, 0.0, 0.0);
    cr_expect_float_eq(s.p99, 42.0, 0.0);
    double odd[5] = {5, 1, 4, 2, 3};
    cr_assert_eq(ab_stats_compute(odd, 5, &s), 0);
    cr_expect_float_eq(s.median, 3.0, 0.0);
}

Test(stats, rejects_empty_and_nan)
{
    ab_stats s;
    double bad[2] = {1.0, NAN};
    cr_expect_eq(ab_stats_compute(bad, 0, &s), -1);
    cr_expect_eq(ab_stats_compute(bad, 2, &s), -1);
}

Test(util, parse_size)
{
    uint64_t v;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_parse_size("4096", &v, err), 0);
    cr_expect_eq(v, 4096u);
    cr_assert_eq(ab_parse_size("128MiB", &v, err), 0);
    cr_expect_eq(v, 128u << 20);
    cr_assert_eq(ab_parse_size("32Ki", &v, err), 0);
    cr_expect_eq(v, 32u << 10);
    cr_assert_eq(ab_parse_size("2G", &v, err), 0);
    cr_expect_eq(v, 2000000000u);
    cr_assert_eq(ab_parse_size("1.5k", &v, err), 0);
    cr_expect_eq(v, 1500u);
    cr_expect_eq(ab_parse_size("-4M", &v, err), -1);
    cr_expect(strstr(err, "negative") != NULL, "message: %s", err);
    cr_expect_eq(ab_parse_size("0", &v, err), -1);
    cr_expect_eq(ab_parse_size("12QB", &v, err), -1);
    cr_expect(strstr(err, "unknown unit") != NULL, "message: %s", err);
    cr_expect_eq(ab_parse_size("1e30", &v, err), -1);
    cr_expect(strstr(err, "absurd") != NULL, "message: %s", err);
    cr_expect_eq(ab_parse_size("0.3", &v, err), -1);
    cr_expect_eq(ab_parse_size("lots", &v, err), -1);
}

Test(util, parse_long_list)
{
    long v[4];
    size_t n;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_parse_long_list("2048, 2k,32K", "--seq", 1, 1L << 31, true, v, 4, &n, err), 0,
                 "%s", err);
    cr_expect_eq(n, 3u);
    cr_expect(v[0] == 2048 && v[1] == 2048 && v[2] == 32768);
    cr_assert_eq(ab_parse_long_list("1,16", "--batch", 1, 64, false, v, 4, &n, err), 0, "%s", err);
    cr_expect(n == 2 && v[0] == 1 && v[1] == 16);
    const struct {
        const char *s, *needle;
        bool tokens;
    } bad[] = {
        {"0", "length must be positive", true}, {"-1k", "not a positive length", true},
        {"2m", "not a length", true},           {"abc", "not a number", true},
        {"1k", "outside [1, 512]", true},       {"1,2,3,4,5", "more than 4 values", true},
        {"1,,2", "--x", true},                  {"65", "outside [1, 64]", false},
        {"1k", "not an integer", false},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long hi = bad[i].tokens ? 512 : 64;
        cr_expect_eq(ab_parse_long_list(bad[i].s, "--x", 1, hi, bad[i].tokens, v, 4, &n, err), -1,
                     "'%s' accepted", bad[i].s);
        cr_expect(strstr(err, bad[i].needle) != NULL, "'%s': %s", bad[i].s, err);
        cr_expect(strncmp(err, "--x", 3) == 0, "'%s': %s", bad[i].s, err);
    }
}

Test(util, split_list)
{
    char err[AB_ERRLEN];
    char **v = ab_split_list(" a, bb ,c", err);
    cr_assert_not_null(v);
    cr_expect_eq(ab_strv_len(v), 3);
    cr_expect_str_eq(v[1], "bb");
    ab_strv_free(v);
    cr_expect_null(ab_split_list("a,,b", err));
    cr_expect(strstr(err, "empty item") != NULL);
}

Test(util, format_bytes)
{
    char b[32];
    ab_format_bytes(128u << 20, b, sizeof(b));
    cr_expect_str_eq(b, "128 MiB");
    ab_format_bytes(1536, b, sizeof(b));
    cr_expect_str_eq(b, "1.5 KiB");
    ab_format_bytes(100, b, sizeof(b));
    cr_expect_str_eq(b, "100 B");
}

/* A fake kernel whose time per iteration is known: the sampler must calibrate to min_time and
 * return that time per iteration. */
static int fake_kernel(void *arg, long iters, double *sec, char *err)
{
    (void)err;
    long *calls = arg;
    (*calls)++;
    *sec = 1e-4 * (double)iters; /* 100 us per iteration */
    return 0;
}

Test(measure, calibrates_and_keeps_samples)
{
    ab_sampling s = {.min_time = 0.01, .samples = 7, .warmup = 2, .max_time = 0, .max_iters = 1L << 30};
    ab_timing t;
    long calls = 0;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_measure(&s, fake_kernel, &calls, &t, err), 0);
    cr_expect_eq(t.n, 7);
    cr_expect_geq(t.iters * 1e-4, 0.01, "a batch must last min_time: %ld iters", t.iters);
    for (size_t i = 0; i < t.n; i++)
        cr_expect_float_eq(t.per_iter[i], 1e-4, 1e-12);
    cr_expect_geq(t.warmup_runs, 3); /* 2 warm-ups + at least one calibration batch */
    cr_expect_eq(calls, (long)t.warmup_runs + 7);
    ab_timing_free(&t);
}

static int failing_kernel(void *arg, long iters, double *sec, char *err)
{
    (void)arg;
    (void)iters;
    (void)sec;
    return ab_err(err, "kernel exploded");
}

Test(measure, propagates_errors)
{
    ab_sampling s;
    cr_assert_eq(ab_sampling_profile("quick", &s), 0);
    ab_timing t;
    char err[AB_ERRLEN] = "";
    cr_expect_eq(ab_measure(&s, failing_kernel, NULL, &t, err), -1);
    cr_expect_str_eq(err, "kernel exploded");
    ab_timing_free(&t);
    cr_expect_eq(ab_sampling_profile("turbo", &s), -1);
}

/* The warm-up and calibration launches stall (a busy machine): 50 ms on top of 10 us per
 * iteration. Recorded batches must still last min_time at the real per-iteration speed. */
static int stalling_kernel(void *arg, long iters, double *sec, char *err)
{
    (void)err;
    long *calls = arg;
    (*calls)++;
    *sec = (*calls <= 3 ? 0.05 : 0.0) + 1e-5 * (double)iters;
    return 0;
}

Test(measure, calibration_ignores_stalls)
{
    ab_sampling s = {.min_time = 0.02, .samples = 3, .warmup = 2, .max_time = 0, .max_iters = 1L << 30};
    ab_timing t;
    long calls = 0;
    char err[AB_ERRLEN];
    cr_assert_eq(ab_measure(&s, stalling_kernel, &calls, &t, err), 0);
    cr_expect_geq(t.iters * 1e-5, 0.02, "batch of %ld iterations is shorter than min_time", t.iters);
    cr_expect_float_eq(t.per_iter[0], 1e-5, 1e-9);
    ab_timing_free(&t);
}

/* Runs fn(f, s) into a string. */
static char *esc_str(void (*fn)(FILE *, const char *), const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, s);
    fclose(f);
    return buf;
}

static void expect_esc(void (*fn)(FILE *, const char *), const char *in, const char *want)
{
    char *got = esc_str(fn, in);
    cr_expect_str_eq(got, want, "'%s' -> '%s', expected '%s'", in ? in : "(null)", got, want);
    free(got);
}

Test(escape, csv_rfc4180)
{
    expect_esc(ab_csv_cell, NULL, "");
    expect_esc(ab_csv_cell, "", "");
    expect_esc(ab_csv_cell, "plain text", "plain text");
    expect_esc(ab_csv_cell, "dtype=f64 n=3", "dtype=f64 n=3");
    expect_esc(ab_csv_cell, "a,b", "\"a,b\"");
    expect_esc(ab_csv_cell, "say \"hi\"", "\"say \"\"hi\"\"\"");
    expect_esc(ab_csv_cell, "two\nlines", "\"two\nlines\"");
    expect_esc(ab_csv_cell, "cr\rhere", "\"cr\rhere\"");
}

Test(escape, csv_formula_injection_neutralised)
{
    /* OWASP: a leading = + - @ tab CR gets a single quote, inside a quoted cell */
    expect_esc(ab_csv_cell, "=cmd|' /C calc'!A0", "\"'=cmd|' /C calc'!A0\"");
    expect_esc(ab_csv_cell, "+1+1", "\"'+1+1\"");
    expect_esc(ab_csv_cell, "-2+3", "\"'-2+3\"");
    expect_esc(ab_csv_cell, "@SUM(A1)", "\"'@SUM(A1)\"");
    expect_esc(ab_csv_cell, "\t=1", "\"'\t=1\"");
    expect_esc(ab_csv_cell, "\r=1", "\"'\r=1\"");
    expect_esc(ab_csv_cell, "=HYPERLINK(\"x\",\"y\")", "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
    /* only the first character counts */
    expect_esc(ab_csv_cell, "a=b", "a=b");
    cr_expect(ab_csv_is_formula("=x") && !ab_csv_is_formula("x=") && !ab_csv_is_formula(""));
}

static void num_neg(FILE *f, const char *s)
{
    ab_csv_num(f, strtod(s, NULL));
}

Test(escape, csv_numbers_stay_numeric)
{
    /* numeric columns are formatted from doubles and never quoted or prefixed */
    expect_esc(num_neg, "-1.5", "-1.5");
    expect_esc(num_neg, "1e300", "1e+300");
    expect_esc(num_neg, "-inf", "");
    expect_esc(num_neg, "nan", "");
}

Test(escape, markdown_and_xml)
{
    expect_esc(ab_md_text, "a|b\nc\rd", "a\\|b c d");
    expect_esc(ab_md_text, NULL, "");
    expect_esc(ab_xml_escape, "<a href=\"x\">&'</a>\n\t\x01",
               "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;&#10;&#9;");
}

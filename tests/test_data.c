/* SPDX-License-Identifier: MIT */
/* Data files: the CSV table reader and the datasheet-peak table. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ab.h"
#include "core/peaks.h"
#include "core/table.h"
#include "helpers.h"

static char *write_file(const char *text)
{
    char *dir = ab_test_tmpdir("data");
    char *path = malloc(600);
    snprintf(path, 600, "%s/t.csv", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(dir);
    return path;
}

Test(table, reads_quoted_fields_comments_and_lines)
{
    char *path = write_file("# comment\n"
                            "a,b,c\n"
                            "\n"
                            "1,\"two, with comma\",3\n"
                            "# another\n"
                            "4,\"multi\nline\",6\n"
                            "7, 8 ,9\n");
    ab_table t;
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_table_load(path, &t, err), 0, "%s", err);
    cr_expect_eq(t.ncols, 3);
    cr_assert_eq(t.nrows, 3);
    cr_expect_str_eq(ab_table_get(&t, 0, "b"), "two, with comma");
    cr_expect_eq(t.line[0], 4);
    cr_expect_str_eq(ab_table_get(&t, 1, "b"), "multi\nline");
    cr_expect_eq(t.line[1], 6);
    cr_expect_eq(t.line[2], 8);
    cr_expect_str_eq(ab_table_get(&t, 2, "b"), "8");
    cr_expect_str_eq(ab_table_get(&t, 2, "nope"), "");
    ab_table_free(&t);
    free(path);
}

static void expect_load_error(const char *text, const char *needle)
{
    char *path = write_file(text);
    ab_table t;
    char err[AB_ERRLEN] = "";
    cr_expect_eq(ab_table_load(path, &t, err), -1, "accepted: %s", text);
    cr_expect(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
    cr_expect(strstr(err, path) != NULL, "error '%s' does not name the file", err);
    free(path);
}

Test(table, malformed_rows_name_file_and_line)
{
    expect_load_error("a,b\n1,2\n3,4,5\n", ":3: 3 fields, the header has 2");
    expect_load_error("a,b\n1,\"open\n", "unterminated");
    expect_load_error("a,a\n1,2\n", "appears twice");
    expect_load_error("# only comments\n", "no header");
    expect_load_error("a,b\n1,x\"y\n", ":2:");
}

Test(peaks, shipped_table_loads_and_matches)
{
    ab_peaks p;
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_peaks_load(NULL, &p, err), 0, "%s", err);
    int h100 = ab_peaks_match(&p, "NVIDIA H100 80GB HBM3");
    cr_assert_geq(h100, 0);
    cr_expect_str_eq(ab_peaks_str(&p, h100, "model"), "NVIDIA H100 SXM5");
    cr_expect_float_eq(ab_peaks_value(&p, h100, "bandwidth_tbs"), 3.35, 1e-12);
    cr_expect_float_eq(ab_peaks_value(&p, h100, "bf16_tflops"), 989, 1e-12);
    cr_expect(isnan(ab_peaks_value(&p, h100, "tf32_tflops")), "unknown figures stay unknown");
    cr_expect_str_eq(ab_peaks_str(&p, ab_peaks_match(&p, "NVIDIA H100 PCIe"), "model"),
                     "NVIDIA H100 PCIe");
    cr_expect_str_eq(ab_peaks_str(&p, ab_peaks_match(&p, "NVIDIA H200"), "model"),
                     "NVIDIA H200 SXM");
    cr_expect_eq(ab_peaks_match(&p, "NVIDIA H200 NVL"), -1, "H200 NVL is another product");
    cr_expect_str_eq(ab_peaks_str(&p, ab_peaks_match(&p, "NVIDIA L40S"), "model"), "NVIDIA L40S");
    cr_expect_str_eq(ab_peaks_str(&p, ab_peaks_match(&p, "NVIDIA L4"), "model"), "NVIDIA L4");
    cr_expect_eq(ab_peaks_match(&p, "NVIDIA L40"), -1, "L40 is not L4");
    cr_expect_str_eq(ab_peaks_str(&p, ab_peaks_match(&p, "AMD Instinct MI300X"), "model"),
                     "AMD Instinct MI300X");
    cr_expect_eq(ab_peaks_match(&p, "AMD EPYC 7B13"), -1);
    cr_expect_eq(ab_peaks_match(&p, "NVIDIA A100-SXM4-40GB"), -1, "40GB has other bandwidth");
    for (size_t r = 0; r < p.t.nrows; r++)
        cr_expect(*ab_peaks_str(&p, (int)r, "source"), "row %zu has no source", r);
    ab_peaks_free(&p);
}

Test(peaks, rejects_bad_numbers_and_missing_sources)
{
    const char *hdr = "model,match,vendor,memory_gb,bandwidth_tbs,fp64_tflops,fp64_tensor_tflops,"
                      "fp32_tflops,tf32_tflops,bf16_tflops,fp16_tflops,fp8_tflops,int8_tops,tdp_w,"
                      "source,accessed,notes\n";
    char text[1024];
    snprintf(text, sizeof(text), "%sX,X,V,80,fast,,,,,,,,,,src,2026-11,\n", hdr);
    char *path = write_file(text);
    ab_peaks p;
    char err[AB_ERRLEN] = "";
    cr_expect_eq(ab_peaks_load(path, &p, err), -1);
    cr_expect(strstr(err, ":2: bandwidth_tbs: 'fast'") != NULL, "%s", err);
    free(path);
    snprintf(text, sizeof(text), "%sX,X,V,80,1.0,,,,,,,,,,,2026-11,\n", hdr);
    path = write_file(text);
    cr_expect_eq(ab_peaks_load(path, &p, err), -1);
    cr_expect(strstr(err, ":2: source is empty") != NULL, "%s", err);
    free(path);
}

Test(peaks, peak_for_a_metric)
{
    ab_peaks p;
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_peaks_load(NULL, &p, err), 0, "%s", err);
    const char *col = NULL;
    int row = -1;
    cr_expect_float_eq(ab_peaks_for(&p, "NVIDIA H100 80GB HBM3", "B/s", NULL, &row, &col), 3.35e12,
                       1e3);
    cr_expect_str_eq(col, "bandwidth_tbs");
    cr_expect_float_eq(ab_peaks_for(&p, "NVIDIA H100 80GB HBM3", "FLOP/s", "f64", NULL, &col),
                       67e12, 1e3);
    cr_expect_str_eq(col, "fp64_tensor_tflops");
    /* MI325X has no FP64 figure in the sources: no peak, no guess */
    cr_expect(isnan(ab_peaks_for(&p, "AMD Instinct MI325X", "FLOP/s", "f64", NULL, &col)));
    cr_expect_null(col);
    cr_expect(isnan(ab_peaks_for(&p, "AMD EPYC", "B/s", NULL, &row, NULL)));
    cr_expect_eq(row, -1);
    ab_peaks_free(&p);
}

#include "core/prices.h"

Test(prices, shipped_sheet_loads_and_matches)
{
    ab_prices p;
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_prices_load(NULL, &p, err), 0, "%s", err);
    ab_price pr;
    char why[AB_ERRLEN] = "";
    /* by instance type: the p5.48xlarge capacity block, 8 GPUs */
    cr_assert_eq(ab_prices_lookup(&p, "aws", "p5.48xlarge", "NVIDIA H100 80GB HBM3", &pr, why), 0,
                 "%s", why);
    cr_expect_float_eq(pr.usd_per_device_hour, 39.33 / 8, 1e-12);
    cr_expect_str_eq(pr.terms, "capacity-block");
    cr_expect(*pr.source && *pr.date);
    cr_expect_gt(pr.line, 1);
    /* by provider when the instance type is unknown */
    cr_assert_eq(ab_prices_lookup(&p, "gcp", NULL, "NVIDIA H100 80GB HBM3", &pr, why), 0, "%s",
                 why);
    cr_expect_float_eq(pr.usd_per_device_hour, 3.00, 1e-12);
    /* nothing is guessed without a provider */
    cr_expect_eq(ab_prices_lookup(&p, NULL, NULL, "NVIDIA H100 80GB HBM3", &pr, why), -1);
    cr_expect(strstr(why, "no price is guessed") != NULL, "%s", why);
    /* the reason names the flags and the row that would fill the cost columns */
    cr_expect(strstr(why, "--price-per-hour") && strstr(why, "--price-sheet"), "%s", why);
    cr_expect(strstr(why, "PROVIDER,INSTANCE,NVIDIA H100 80GB HBM3,COUNT,USD_PER_HOUR,") != NULL,
              "%s", why);
    /* a provider without a row for the device: its row, the device name CSV-quoted */
    cr_expect_eq(ab_prices_lookup(&p, "aws", "m7i.large", "Xeon, \"8488C\"", &pr, why), -1);
    cr_expect(strstr(why, "aws,m7i.large,\"Xeon, \"\"8488C\"\"\",COUNT,") != NULL, "%s", why);
    /* an instance type whose accelerator is not this device does not match */
    cr_expect_eq(ab_prices_lookup(&p, "aws", "p5.48xlarge", "AMD EPYC", &pr, why), -1);
    ab_prices_free(&p);
}

static void expect_price_error(const char *row, const char *needle)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "provider,instance_type,accelerator,count,usd_per_hour,terms,source,date,notes\n"
             "aws,x.large,H100,8,10,on-demand,src,2026-01,\n%s\n",
             row);
    char *path = write_file(text);
    ab_prices p;
    char err[AB_ERRLEN] = "";
    cr_expect_eq(ab_prices_load(path, &p, err), -1, "accepted %s", row);
    cr_expect(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
    cr_expect(strstr(err, path) != NULL, "error '%s' does not name the file", err);
    free(path);
}

Test(prices, malformed_rows_name_file_and_line)
{
    expect_price_error("aws,y.large,H100,8,-3,on-demand,src,2026-01,", ":3: usd_per_hour: '-3'");
    expect_price_error("aws,y.large,H100,8,cheap,on-demand,src,2026-01,", ":3: usd_per_hour");
    expect_price_error("aws,y.large,H100,0,3,on-demand,src,2026-01,", ":3: count");
    expect_price_error("aws,y.large,H100,8,3,on-demand,,2026-01,", ":3: source is empty");
    expect_price_error("aws,y.large,H100,8,3,on-demand,src,,", ":3: date is empty");
    expect_price_error("aws,y.large,H100,8,3", ":3: 5 fields");
}

/* SPDX-License-Identifier: MIT */
/* The tokens suite's model accounting: parameters, FLOPs and bytes per token. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ab.h"
#include "suites/tokens/model.h"

Test(model, llama3_8b_parameter_count)
{
    ab_llm m;
    cr_assert_eq(ab_llm_preset("llama3-8b", &m), 0);
    /* Llama-3-8B has 8.03e9 parameters, 128256 x 4096 of them in the input embedding, which a
     * token reads one row of: the rest is what a decode step streams. */
    double with_embedding = (double)ab_llm_params(&m) + 128256.0 * 4096.0;
    cr_expect_float_eq(with_embedding, 8.03e9, 0.01e9, "%.4g", with_embedding);
    cr_expect_eq(ab_llm_linear_params_layer(&m), 218103808ull);
}

Test(model, llama3_70b_and_405b_sizes)
{
    ab_llm m;
    cr_assert_eq(ab_llm_preset("llama3-70b", &m), 0);
    double p = (double)ab_llm_params(&m) + 128256.0 * 8192.0;
    cr_expect_float_eq(p, 70.55e9, 0.1e9, "%.4g", p);
    cr_assert_eq(ab_llm_preset("llama3-405b", &m), 0);
    p = (double)ab_llm_params(&m) + 128256.0 * 16384.0;
    cr_expect_float_eq(p, 405.8e9, 1e9, "%.4g", p);
}

Test(model, decode_and_prefill_accounting)
{
    ab_llm m;
    cr_assert_eq(ab_llm_preset("tiny", &m), 0);
    /* by hand for tiny: linear per layer = 256*256 + 2*256*128 + 256*256 + 3*256*688 */
    uint64_t lin = 256ull * 256 + 2ull * 256 * 128 + 256ull * 256 + 3ull * 256 * 688;
    cr_expect_eq(ab_llm_linear_params_layer(&m), lin);
    double f1 = ab_llm_decode_flops(&m, 1, 100);
    double want = 2.0 * lin * 2 + 2.0 * 1024 * 256 + 2 * 4.0 * 4 * 64 * 101;
    cr_expect_float_eq(f1, want, 1e-6);
    cr_expect_float_eq(ab_llm_decode_flops(&m, 8, 100), 8 * want, 1e-3);
    /* bytes: weights once per step however large the batch, the cache per sequence */
    double b1 = ab_llm_decode_bytes(&m, 1, 100, 2.0, 2.0);
    double b8 = ab_llm_decode_bytes(&m, 8, 100, 2.0, 2.0);
    double kv_per_seq = 2 * 2.0 * 2 * 64 * 102 * 2.0; /* layers x K,V x kv_heads x dim x (ctx+2) x 2 B */
    cr_expect_float_eq(b8 - b1, 7 * kv_per_seq, 1e-6);
    cr_expect_float_eq(b1, (double)ab_llm_params(&m) * 2.0 + kv_per_seq, 1e-6);
    double pf = ab_llm_prefill_flops(&m, 128);
    cr_expect_float_eq(pf, 2.0 * lin * 2 * 128 + 2 * 4.0 * 4 * 64 * 128.0 * 128 / 2 + 2.0 * 1024 * 256,
                       1e-3);
}

Test(model, rejects_impossible_shapes)
{
    char err[AB_ERRLEN];
    ab_llm m;
    cr_assert_eq(ab_llm_preset("tiny", &m), 0);
    m.kv_heads = 3;
    cr_expect_eq(ab_llm_check(&m, err), -1);
    cr_expect(strstr(err, "not divisible") != NULL, "%s", err);
    m.kv_heads = 2;
    m.head_dim = 63;
    cr_expect_eq(ab_llm_check(&m, err), -1);
    m.head_dim = 64;
    m.layers = 0;
    cr_expect_eq(ab_llm_check(&m, err), -1);
    cr_expect_eq(ab_llm_preset("gpt-5", &m), -1);
}

/* ---- the suite through the binary (issue 6) ---------------------------------------------- */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rundoc.h"
#include "helpers.h"
#include "suite_helpers.h"

static ab_run *run_and_read(const char *tag, int want_exit, char **out, const char *const *extra)
{
    /* a test that names its own --suite case replaces the default (an option given twice is a
     * usage error) */
    bool own_suite = false;
    for (size_t i = 0; extra && extra[i]; i++)
        own_suite |= strcmp(extra[i], "--suite") == 0;
    const char *const lead[] = {"--suite", "tokens", "--profile", "quick", "--model", "tiny", NULL};
    return ab_test_run_doc(tag, want_exit, 0, out, own_suite ? lead + 2 : lead, extra);
}

static double xnum(const ab_result *r, const char *obj, const char *key)
{
    json_t *v = json_object_get(json_object_get(r->extra, obj), key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Must-show 1 in small: every point passes validation, the table is printed, cost follows the
 * formula from the given price, missing figures are absent with a reason (never zero). */
Test(tokens_suite, cpu_quick_with_price_prints_the_table)
{
    char *out = NULL;
    ab_run *run = run_and_read("tok-cpu", 0, &out,
                               (const char *[]){"--device", "cpu", "--price-per-hour", "2.5",
                                                "--prefill", "64", "--batch", "1,4", "--context",
                                                "100", NULL});
    cr_assert_eq(run->nresults, 3, "one prefill and two decode points expected");
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        cr_expect_eq(r->status, AB_PASS, "%s: %s", r->key, r->reason ? r->reason : "");
        const ab_metric *t = ab_result_metric(r, "tokens_per_s");
        cr_assert_not_null(t);
        cr_expect_gt(t->stats.median, 0.0);
        cr_expect_float_eq(xnum(r, "cost", "usd_per_hour"), 2.5, 1e-12);
        cr_expect_float_eq(xnum(r, "cost", "tokens_per_usd"), t->stats.median * 3600 / 2.5,
                           1e-6 * t->stats.median * 3600 / 2.5);
        json_t *v = json_object_get(r->extra, "validation");
        cr_expect(json_is_true(json_object_get(v, "passed")));
        /* the VM has no energy counter: an explained absence, not a zero */
        json_t *en = json_object_get(r->extra, "energy");
        cr_expect(json_object_get(en, "tokens_per_j") == NULL ||
                      json_number_value(json_object_get(en, "tokens_per_j")) > 0,
                  "tokens per joule must be absent or positive");
        if (!json_object_get(en, "tokens_per_j"))
            cr_expect_not_null(json_string_value(json_object_get(en, "reason")));
        json_t *rf = json_object_get(json_object_get(r->extra, "roofline"), "measured");
        cr_expect_gt(json_number_value(json_object_get(rf, "fraction")), 0.0);
        cr_expect_gt(json_number_value(json_object_get(rf, "sol_tokens_per_s")), 0.0);
        /* the tighter roof is the one with the lower speed of light; decode's fraction is taken
         * against the memory roof, prefill's against the compute roof */
        double msol = json_number_value(json_object_get(rf, "memory_sol_tokens_per_s"));
        double csol = json_number_value(json_object_get(rf, "compute_sol_tokens_per_s"));
        cr_expect_str_eq(json_string_value(json_object_get(rf, "tighter_roof")),
                         msol < csol ? "memory" : "compute");
        bool prefill = strcmp(r->key, "tokens.prefill") == 0;
        cr_expect_float_eq(json_number_value(json_object_get(rf, "sol_tokens_per_s")),
                           prefill ? csol : msol, 1e-9 * (prefill ? csol : msol));
        cr_expect_not_null(strstr(json_string_value(json_object_get(r->extra, "scaling")),
                                  "measured 2 of 2 layers"));
    }
    cr_expect_not_null(strstr(out, "## Tokens per second, per dollar, per kWh"), "%s", out);
    cr_expect_not_null(strstr(out, "| cpu | tiny | f32 | decode b4 @ 100 | 2.50 |"), "%s", out);
    cr_expect_not_null(strstr(out, "| cpu | tiny | f32 | prefill 64 | 2.50 |"), "%s", out);
    free(out);
    ab_run_free(run);
}

Test(tokens_suite, no_price_means_no_cost_columns)
{
    char *out = NULL;
    ab_run *run = run_and_read("tok-noprice", 0, &out,
                               (const char *[]){"--device", "cpu", "--suite", "tokens.decode",
                                                "--batch", "2", "--context", "64", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    cr_expect_eq(r->status, AB_PASS, "%s", r->reason ? r->reason : "");
    json_t *cost = json_object_get(r->extra, "cost");
    cr_expect_null(json_object_get(cost, "tokens_per_usd"));
    cr_expect_str_eq(json_string_value(json_object_get(cost, "status")), "unavailable");
    cr_expect_not_null(strstr(out, "- no price: "), "%s", out);
    free(out);
    ab_run_free(run);
}

Test(tokens_suite, bf16_and_a_longer_context_validate)
{
    ab_run *run = run_and_read("tok-bf16", 0, NULL,
                               (const char *[]){"--device", "cpu", "--dtype", "bf16",
                                                "--prefill", "40", "--batch", "3", "--context",
                                                "3000", NULL});
    cr_assert_eq(run->nresults, 2);
    for (size_t i = 0; i < run->nresults; i++)
        cr_expect_eq(run->results[i]->status, AB_PASS, "%s: %s", run->results[i]->key,
                     run->results[i]->reason ? run->results[i]->reason : "");
    ab_run_free(run);
}

Test(tokens_suite, corrupted_weights_fail_validation)
{
    const char *devs[] = {"cpu", "opencl:0"};
    for (int d = 0; d < 2; d++) {
        if (d == 1 && !ab_test_device_available("opencl:0"))
            cr_skip_test("no OpenCL device: only the CPU path was checked");
        const char *keys[] = {"tokens.prefill", "tokens.decode"};
        for (int k = 0; k < 2; k++) {
            ab_run *run = run_and_read(
                "tok-corrupt", 1, NULL,
                (const char *[]){"--device", devs[d], "--suite", keys[k], "--prefill", "16",
                                 "--batch", "2", "--context", "32", "--test-corrupt", keys[k],
                                 NULL});
            cr_assert_eq(run->nresults, 1);
            cr_expect_eq(run->results[0]->status, AB_FAIL, "%s on %s: %s", keys[k], devs[d],
                         run->results[0]->reason ? run->results[0]->reason : "");
            ab_run_free(run);
        }
    }
}

Test(tokens_suite, opencl_quick_passes)
{
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device");
#ifdef __SANITIZE_ADDRESS__
    /* Under ASan, LeakSanitizer's stop-the-world tracer crashes ("Tracer caught signal 11") at
     * the exit of this run, after every result was written, when PoCL's threads and the pjrt
     * plugin are both in the process; not reproduced outside Criterion, root cause not found.
     * Address and UB errors still fail the run; only the exit-time leak scan is off, for this
     * one child. */
    const char *prev = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof(opts), "%s%sdetect_leaks=0", prev ? prev : "", prev && *prev ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
#endif
    ab_run *run = run_and_read("tok-ocl", 0, NULL,
                               (const char *[]){"--device", "opencl:0", "--price-per-hour", "1",
                                                "--prefill", "32", "--batch", "1,3", "--context",
                                                "50", NULL});
    cr_assert_eq(run->nresults, 3);
    for (size_t i = 0; i < run->nresults; i++)
        cr_expect_eq(run->results[i]->status, AB_PASS, "%s: %s", run->results[i]->key,
                     run->results[i]->reason ? run->results[i]->reason : "");
    ab_run_free(run);
}

/* Must-show 4: one line on stderr, the usage exit code, nothing written. */
static char *write_file(const char *name, const char *text)
{
    char *dir = ab_test_tmpdir("tok-files");
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    free(dir);
    return path;
}

Test(tokens_suite, bad_input_is_refused_with_one_line)
{
    ab_test_expect_usage("tokens", "unknown model 'llama9'", (const char *[]){"--model", "llama9", NULL});
    ab_test_expect_usage("tokens", "not divisible", (const char *[]){"--model-shape", "heads=30", NULL});
    ab_test_expect_usage("tokens", "head_dim", (const char *[]){"--model-shape", "head_dim=63", NULL});
    ab_test_expect_usage("tokens", "unknown key 'depth'", (const char *[]){"--model-shape", "depth=3", NULL});
    ab_test_expect_usage("tokens", "--model-shape", (const char *[]){"--model-shape", "layers=0", NULL});
    ab_test_expect_usage("tokens", "--model-shape", (const char *[]){"--model-shape", "layers", NULL});
    ab_test_expect_usage("tokens", "--price-per-hour", (const char *[]){"--price-per-hour", "-3", NULL});
    ab_test_expect_usage("tokens", "--price-per-hour", (const char *[]){"--price-per-hour", "abc", NULL});
    ab_test_expect_usage("tokens", "--price-per-hour", (const char *[]){"--price-per-hour", "0", NULL});
    ab_test_expect_usage("tokens", "--batch", (const char *[]){"--batch", "0", NULL});
    ab_test_expect_usage("tokens", "--batch", (const char *[]){"--batch", "1,x", NULL});
    ab_test_expect_usage("tokens", "--prefill", (const char *[]){"--prefill", "-1k", NULL});
    ab_test_expect_usage("tokens", "--context", (const char *[]){"--context", "1e9", NULL});
    ab_test_expect_usage("tokens", "--dtype", (const char *[]){"--dtype", "f16", NULL});
    ab_test_expect_usage("tokens", "--gemm-impl", (const char *[]){"--gemm-impl", "cublas", NULL});
    ab_test_expect_usage("tokens", "--layers-run", (const char *[]){"--layers-run", "0", NULL});
    /* a price sheet with a malformed row names the file and the line */
    char *bad = write_file("bad-prices.csv",
                           "provider,instance_type,accelerator,count,usd_per_hour,terms,source,"
                           "date,notes\n"
                           "aws,p5.48xlarge,H100,8,98.32,on-demand,https://aws.amazon.com,"
                           "2026-01-01,\n"
                           "aws,p4d.24xlarge,A100,8,-4,on-demand,https://aws.amazon.com,"
                           "2026-01-01,\n");
    char needle[700];
    snprintf(needle, sizeof(needle), "%s:3", bad);
    ab_test_expect_usage("tokens", needle, (const char *[]){"--price-sheet", bad, NULL});
    free(bad);
    ab_test_expect_usage("tokens", "nosuch.csv", (const char *[]){"--price-sheet", "/nonexistent/nosuch.csv", NULL});
    /* the carbon sheet likewise; a --region it does not have is refused before anything runs */
    char *badc = write_file("bad-carbon.csv",
                            "scope,provider,region,g_co2e_per_kwh,basis,source,date,notes\n"
                            "country,,FR,56,grid,Ember,2023,\n"
                            "country,,DE,lots,grid,Ember,2023,\n");
    snprintf(needle, sizeof(needle), "%s:3: g_co2e_per_kwh", badc);
    ab_test_expect_usage("tokens", needle, (const char *[]){"--carbon-sheet", badc, NULL});
    free(badc);
    ab_test_expect_usage("tokens", "--region: region 'atlantis' is not in",
                         (const char *[]){"--region", "atlantis", NULL});
}

/* gCO2e per 1M tokens beside tokens per kWh: with --region the intensity is the sheet's row;
 * without an energy figure (this VM) the carbon figure is absent with the reason, never zero */
Test(tokens_suite, carbon_per_token_with_region)
{
    char *out = NULL;
    ab_run *run =
        run_and_read("tok-carbon", 0, &out,
                     (const char *[]){"--device", "cpu", "--suite", "tokens.decode", "--batch", "2",
                                      "--context", "64", "--region", "FR", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    cr_expect_eq(r->status, AB_PASS, "%s", r->reason ? r->reason : "");
    json_t *cb = json_object_get(r->extra, "carbon");
    cr_assert_not_null(cb);
    double tpk = xnum(r, "energy", "tokens_per_kwh");
    if (isfinite(tpk)) {
        cr_expect_float_eq(xnum(r, "carbon", "g_co2e_per_kwh"), 56.0, 1e-9);
        cr_expect_float_eq(xnum(r, "carbon", "g_co2e_per_mtok"), 1e6 / tpk * 56.0,
                           1e-9 * 1e6 / tpk * 56.0);
        cr_expect_str_eq(json_string_value(json_object_get(cb, "region_source")),
                         "command line (--region)");
    } else {
        cr_expect_null(json_object_get(cb, "g_co2e_per_mtok"));
        cr_expect_str_eq(json_string_value(json_object_get(cb, "status")), "unavailable");
        cr_expect_eq(
            strncmp(json_string_value(json_object_get(cb, "reason")), "no energy figure", 16), 0);
        cr_expect_not_null(strstr(out, "- no carbon figure: no energy figure"), "%s", out);
    }
    cr_expect_not_null(strstr(out, "| gCO₂e per Mtok |"), "%s", out);
    free(out);
    ab_run_free(run);
}

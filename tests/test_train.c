/* SPDX-License-Identifier: MIT */
/* The train suite (issue 17) through the binary: a validated step with its figures, the
 * corruption path, bad input, skips with reasons, and compare over two runs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rundoc.h"
#include "helpers.h"
#include "suite_helpers.h"
#include "suites/tokens/model.h"

static const char *const lead[] = {"--suite", "train", "--device", "cpu", "--profile", "quick",
                                   "--model", "tiny",  "--steps",  "3",   NULL};

static double xnum(const ab_result *r, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(r->extra, a), b);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A step over 160 tokens (validation crosses the attention tiles at 64 and 128): it passes the
 * fp64 check and every figure follows its formula. */
Test(train_suite, cpu_tiny_step_validates_with_figures)
{
    char *out = NULL;
    ab_run *run = ab_test_run_doc("train-cpu", 0, 0, &out, lead,
                                  (const char *[]){"--seq", "160", "--price-per-hour", "2", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    cr_assert_eq(r->status, AB_PASS, "%s", r->reason ? r->reason : "");
    json_t *v = json_object_get(r->extra, "validation");
    cr_expect(json_is_true(json_object_get(v, "passed")));
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(v, "layer"), "tokens")), 160);
    json_t *g = json_object_get(json_object_get(v, "layer"), "gradients_rel_error");
    cr_expect_eq(json_object_size(g), 7, "six weight gradients and the input's");
    const char *k;
    json_t *e;
    json_object_foreach(g, k, e) cr_expect_lt(json_number_value(e), 2e-4, "%s", k);
    /* the update moved the loss, and the reference agrees on how far */
    json_t *hl = json_object_get(v, "head");
    cr_expect_lt(xnum(&(ab_result){.extra = v}, "head", "loss_after"),
                 json_number_value(json_object_get(hl, "loss_before")));
    const ab_metric *tps = ab_result_metric(r, "tokens_per_s");
    const ab_metric *st = ab_result_metric(r, "step_time");
    cr_assert(tps && st);
    cr_expect_float_eq(tps->stats.median, 160.0 / st->stats.median, 1e-6 * tps->stats.median);
    cr_expect_geq(xnum(r, "step", "p99_s"), xnum(r, "step", "p50_s"));
    double tok_s = 160.0 / st->stats.median;
    cr_expect_float_eq(xnum(r, "cost", "usd_per_mtok"), 1e6 * 2.0 / (tok_s * 3600.0),
                       1e-9 * xnum(r, "cost", "usd_per_mtok"));
    ab_llm m;
    ab_llm_preset("tiny", &m);
    double fpt = 6.0 * (double)ab_llm_params(&m) + 6.0 * 2 * 4 * 64 * 160;
    cr_expect_float_eq(xnum(r, "flops", "model_flops_per_token"), fpt, 1e-6);
    json_t *ms = json_object_get(json_object_get(r->extra, "mfu"), "measured");
    cr_expect_float_eq(json_number_value(json_object_get(ms, "fraction")),
                       fpt * tok_s / json_number_value(json_object_get(ms, "gemm_flops_per_s")),
                       1e-9);
    /* memory per layer by hand: 0.725M parameters (linear + 2 norms), f32 */
    double n = (double)ab_llm_linear_params_layer(&m) + 2 * 256;
    cr_expect_float_eq(xnum(r, "memory", "layer_weights_bytes"), 4 * n, 1e-6);
    cr_expect_float_eq(xnum(r, "memory", "layer_optimizer_bytes"), 8 * n, 1e-6);
    cr_expect_gt(xnum(r, "memory", "layer_activations_bytes"), 0);
    json_t *bd = json_object_get(r->extra, "breakdown");
    cr_expect_eq(json_array_size(json_object_get(bd, "gemm")), 15);
    cr_expect_gt(
        json_number_value(json_object_get(json_object_get(bd, "layers"), "attention_bwd_s")), 0);
    cr_expect_not_null(strstr(out, "## Training: tokens per second"), "%s", out);
    cr_expect_not_null(strstr(out, "train 1x160"), "%s", out);
    free(out);
    ab_run_free(run);
}

/* The OpenCL training kernels (train_opencl.c, train.cl; PoCL here) through the same fp64
 * validation of every run, and the corruption path failing there too. */
Test(train_suite, opencl_step_validates_and_corrupt_fails)
{
    if (!ab_test_device_available("opencl:0")) cr_skip_test("no OpenCL device");
    const char *const ocl[] = {"--suite", "train", "--device", "opencl:0", "--profile", "quick",
                               "--model", "tiny",  "--steps",  "2",        NULL};
    ab_run *run =
        ab_test_run_doc("train-ocl", 0, 0, NULL, ocl, (const char *[]){"--seq", "64", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    cr_assert_eq(r->status, AB_PASS, "%s", r->reason ? r->reason : "");
    json_t *v = json_object_get(r->extra, "validation");
    cr_expect(json_is_true(json_object_get(v, "passed")));
    json_t *g = json_object_get(json_object_get(v, "layer"), "gradients_rel_error");
    cr_expect_eq(json_object_size(g), 7);
    const char *k;
    json_t *e;
    json_object_foreach(g, k, e) cr_expect_lt(json_number_value(e), 2e-4, "%s", k);
    cr_expect_gt(xnum(r, "step", "p50_s"), 0);
    ab_run_free(run);
    run = ab_test_run_doc("train-ocl-corrupt", AB_EXIT_FAIL, 0, NULL, ocl,
                          (const char *[]){"--seq", "32", "--test-corrupt", "train.step", NULL});
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_FAIL);
    cr_expect_not_null(
        strstr(run->results[0]->reason ? run->results[0]->reason : "", "fp64 reference"));
    ab_run_free(run);
}

/* A broken kernel's gradients fail the run. */
Test(train_suite, test_corrupt_fails)
{
    ab_run *run =
        ab_test_run_doc("train-corrupt", AB_EXIT_FAIL, 0, NULL, lead,
                        (const char *[]){"--seq", "32", "--test-corrupt", "train.step", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    cr_expect_eq(r->status, AB_FAIL);
    cr_expect_not_null(strstr(r->reason ? r->reason : "", "fp64 reference"), "%s", r->reason);
    json_t *g = json_object_get(json_object_get(json_object_get(r->extra, "validation"), "layer"),
                                "gradients_rel_error");
    cr_expect_gt(json_number_value(json_object_get(g, "w_o")), 1e-2);
    ab_run_free(run);
}

Test(train_suite, bad_input_is_a_usage_error)
{
    ab_test_expect_usage("train", "unknown model 'gpt-9'",
                         (const char *[]){"--model", "gpt-9", NULL});
    ab_test_expect_usage("train", "--steps", (const char *[]){"--steps", "0", NULL});
    ab_test_expect_usage("train", "--micro-batch", (const char *[]){"--micro-batch", "0", NULL});
    ab_test_expect_usage("train", "--dtype", (const char *[]){"--dtype", "f16", NULL});
}

/* What does not fit, or is not implemented, is a skip with the reason; the rest still runs. */
Test(train_suite, skips_name_the_reason)
{
    ab_run *run = ab_test_run_doc(
        "train-skip", 0, 0, NULL, (const char *[]){"--suite", "train", "--device", "cpu", NULL},
        (const char *[]){"--model", "llama3-405b", "--seq", "512k", "--micro-batch", "64", NULL});
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_SKIP);
    cr_expect_not_null(strstr(run->results[0]->reason, "does not fit"), "%s",
                       run->results[0]->reason);
    ab_run_free(run);
    /* one point measured, one that does not fit (~50 GB of activations and logits): both kept */
    run =
        ab_test_run_doc("train-fit", 0, 0, NULL, lead, (const char *[]){"--seq", "16,1024k", NULL});
    cr_assert_eq(run->nresults, 2);
    cr_expect_eq(run->results[0]->status, AB_PASS, "%s", run->results[0]->reason);
    cr_expect_not_null(ab_result_metric(run->results[0], "tokens_per_s"));
    cr_expect_eq(run->results[1]->status, AB_SKIP);
    cr_expect_not_null(
        strstr(run->results[1]->reason, "micro-batch 1 x 1048576 tokens does not fit"), "%s",
        run->results[1]->reason);
    ab_run_free(run);
    run = ab_test_run_doc("train-bf16", 0, 0, NULL, lead,
                          (const char *[]){"--seq", "16", "--dtype", "bf16", NULL});
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_SKIP);
    cr_expect_not_null(strstr(run->results[0]->reason, "bf16"), "%s", run->results[0]->reason);
    ab_run_free(run);
}

/* compare puts two runs side by side on the train rows. */
Test(train_suite, compare_aligns_train_results)
{
    char *dir = ab_test_tmpdir("train-cmp");
    char a[700], b[700];
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {"run",   "--out",    dir,   "--run-id",  i ? "b" : "a", "--suite",
                              "train", "--device", "cpu", "--profile", "quick",       "--model",
                              "tiny",  "--steps",  "2",   "--seq",     "32",          NULL};
        ab_proc p;
        cr_assert_eq(ab_test_run(&p, 0, argv), 0);
        cr_assert_eq(p.status, 0, "%s", p.err);
        ab_proc_free(&p);
    }
    snprintf(a, sizeof(a), "%s/a/run.json", dir);
    snprintf(b, sizeof(b), "%s/b/run.json", dir);
    ab_proc p;
    cr_assert_eq(ab_test_run(&p, 0, (const char *[]){"compare", a, b, "-f", "csv", NULL}), 0);
    cr_expect_eq(p.status, 0, "%s", p.err);
    size_t rows = 0;
    for (const char *s = p.out; (s = strstr(s, "train.step")); s++)
        rows++;
    /* one row per run and metric (tokens_per_s, step_time), the second run's judged against
     * the first (its ratio filled in) */
    cr_expect_eq(rows, 4, "two runs x two metrics expected:\n%s", p.out);
    cr_expect_not_null(strstr(p.out, "2,b,train.step,portable,dtype=f32 layers=2 layers_run=2"),
                       "%s", p.out);
    cr_expect_not_null(strstr(p.out, "tokens_per_s"));
    cr_expect_not_null(strstr(p.out, "step_time"));
    ab_proc_free(&p);
    free(dir);
}

/* The vendor GEMM (OpenBLAS) in the three layouts validates too, where it is built. */
Test(train_suite, vendor_gemm_validates)
{
    ab_run *run = ab_test_run_doc("train-vendor", 0, 0, NULL, lead,
                                  (const char *[]){"--seq", "32", "--gemm-impl", "vendor", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    if (r->status == AB_SKIP)
        cr_expect_not_null(strstr(r->reason, "vendor"), "%s", r->reason); /* no OpenBLAS */
    else
        cr_expect_eq(r->status, AB_PASS, "%s", r->reason ? r->reason : "");
    ab_run_free(run);
}

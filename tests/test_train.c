/* SPDX-License-Identifier: MIT */
/* The train suite (issue 17) through the binary: a validated step with its figures, the
 * corruption path, bad input, skips with reasons, and compare over two runs; bf16 mixed
 * precision beside f32 (CPU, and OpenCL where present). */
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

static const ab_result *of_dtype(const ab_run *run, const char *dt)
{
    for (size_t i = 0; i < run->nresults; i++)
        if (strcmp(json_string_value(json_object_get(run->results[i]->params, "dtype")), dt) == 0)
            return run->results[i];
    return NULL;
}

static double vnum(const ab_result *r, const char *part, const char *name)
{
    json_t *v = json_object_get(json_object_get(r->extra, "validation"), part);
    return json_number_value(json_object_get(v, name));
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
    /* and bf16 training (train.cl's cast, the portable kernel's bf16 x bf16 -> f32) */
    run = ab_test_run_doc("train-ocl-bf16", 0, 0, NULL, ocl,
                          (const char *[]){"--seq", "32", "--dtype", "bf16", NULL});
    cr_assert_eq(run->nresults, 1);
    r = run->results[0];
    cr_assert_eq(r->status, AB_PASS, "%s", r->reason ? r->reason : "");
    cr_expect_float_eq(vnum(r, "layer", "loss_before"), vnum(r, "layer", "loss_before_ref"),
                       1e-4 * fabs(vnum(r, "layer", "loss_before_ref")));
    cr_expect_gt(
        json_number_value(json_object_get(
            json_object_get(json_object_get(r->extra, "breakdown"), "layers"), "cast_bf16_s")),
        0);
    ab_run_free(run);
    run = ab_test_run_doc("train-ocl-corrupt", AB_EXIT_FAIL, 0, NULL, ocl,
                          (const char *[]){"--seq", "32", "--dtype", "f32,bf16", "--test-corrupt",
                                           "train.step", NULL});
    cr_assert_eq(run->nresults, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_expect_eq(run->results[i]->status, AB_FAIL);
        cr_expect_not_null(
            strstr(run->results[i]->reason ? run->results[i]->reason : "", "fp64 reference"));
    }
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
}

/* bf16 mixed precision beside f32 in one run: both pass their fp64 checks; the bf16 step is
 * closer to the bf16-rounding reference than to the f32 one (the casts happen, and the reference
 * models them), and its record says what ran in bf16 and counts the copies. */
Test(train_suite, cpu_bf16_beside_f32)
{
    ab_run *run = ab_test_run_doc("train-bf16", 0, 0, NULL, lead,
                                  (const char *[]){"--seq", "64", "--dtype", "f32,bf16", NULL});
    cr_assert_eq(run->nresults, 2);
    const ab_result *f = of_dtype(run, "f32"), *b = of_dtype(run, "bf16");
    cr_assert(f && b);
    cr_assert_eq(f->status, AB_PASS, "%s", f->reason ? f->reason : "");
    cr_assert_eq(b->status, AB_PASS, "%s", b->reason ? b->reason : "");
    json_t *v = json_object_get(b->extra, "validation");
    cr_expect_float_eq(json_number_value(json_object_get(v, "tolerance_gradients")), 2e-3, 1e-12);
    cr_expect_not_null(strstr(json_string_value(json_object_get(v, "reference")), "bf16"));
    cr_expect_lt(json_number_value(json_object_get(v, "worst_over_tolerance")), 1.0);
    /* the layer's loss <out, g>: bf16 device vs the bf16 reference, vs the f32 reference */
    double dev = vnum(b, "layer", "loss_before"), ref = vnum(b, "layer", "loss_before_ref");
    double ref32 = vnum(f, "layer", "loss_before_ref");
    cr_expect_eq(vnum(f, "layer", "loss_before_ref"), ref32);
    cr_expect_gt(fabs(ref - ref32), 1e-5 * fabs(ref32), "the reference rounds: %g vs %g", ref,
                 ref32);
    cr_expect_lt(fabs(dev - ref), 0.2 * fabs(dev - ref32), "device %.9g, bf16 ref %.9g, f32 %.9g",
                 dev, ref, ref32);
    cr_expect_lt(fabs(dev - ref32), 1e-2 * fabs(ref32), "bf16 stays near f32");
    /* what ran in bf16, for the record */
    json_t *k = json_object_get(b->extra, "kernels");
    cr_expect_not_null(strstr(json_string_value(json_object_get(k, "types")), "bf16 x bf16"));
    cr_expect_not_null(json_object_get(k, "bf16"));
    cr_expect_null(json_object_get(json_object_get(f->extra, "kernels"), "bf16"));
    json_t *bg = json_object_get(json_object_get(b->extra, "breakdown"), "gemm");
    json_t *fg = json_object_get(json_object_get(f->extra, "breakdown"), "gemm");
    cr_assert_eq(json_array_size(bg), 15);
    for (size_t i = 0; i < 15; i++) {
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(bg, i), "types")),
                         "bf16 x bf16 -> f32");
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(fg, i), "types")),
                         "f32 x f32 -> f32");
    }
    cr_expect_gt(xnum(&(ab_result){.extra = json_object_get(b->extra, "breakdown")}, "layers",
                      "cast_bf16_s"),
                 0);
    cr_expect_eq(xnum(&(ab_result){.extra = json_object_get(f->extra, "breakdown")}, "layers",
                      "cast_bf16_s"),
                 0);
    /* memory: the bf16 copies of the matrices, of n1, o, n2, act and of the gradients */
    ab_llm m;
    ab_llm_preset("tiny", &m);
    double lin = (double)ab_llm_linear_params_layer(&m), T = 64, D = m.d_model, F = m.ffn;
    double HD = (double)m.heads * m.head_dim;
    cr_expect_float_eq(xnum(b, "memory", "layer_weight_copies_bytes"), 2 * lin, 1e-6);
    cr_expect_eq(xnum(f, "memory", "layer_weight_copies_bytes"), 0);
    cr_expect_float_eq(xnum(b, "memory", "layer_weights_bytes"),
                       xnum(f, "memory", "layer_weights_bytes"), 1e-6);
    cr_expect_float_eq(xnum(b, "memory", "layer_activations_bytes") -
                           xnum(f, "memory", "layer_activations_bytes"),
                       2 * T * (D + HD + D + F), 1e-6);
    cr_expect_float_eq(xnum(b, "memory", "head_bytes") - xnum(f, "memory", "head_bytes"),
                       2.0 * m.vocab * D, 1e-6);
    cr_expect_float_eq(
        xnum(b, "memory", "scratch_bytes") - xnum(f, "memory", "scratch_bytes"),
        2 * T *
            (D + fmax(fmax(D, 2 * F), fmax((m.heads + 2.0 * m.kv_heads) * m.head_dim, m.vocab))),
        1e-6, "nf's cast and the widest gradient's");
    /* MFU against the bf16 GEMM and the bf16 peak */
    json_t *mf = json_object_get(b->extra, "mfu");
    const char *what = json_string_value(json_object_get(json_object_get(mf, "measured"), "what"));
    cr_expect_not_null(what ? strstr(what, "bf16") : NULL, "%s", what ? what : "(none)");
    const char *why =
        json_string_value(json_object_get(json_object_get(mf, "datasheet"), "reason"));
    if (why) cr_expect_not_null(strstr(why, "bf16"), "%s", why);
    ab_run_free(run);
}

/* A broken kernel fails bf16 training's check too; a GEMM without bf16 x bf16 -> f32 is a skip
 * that says so. */
Test(train_suite, bf16_corrupt_fails_and_gemm_without_bf16_skips)
{
    ab_run *run = ab_test_run_doc(
        "train-bf16-corrupt", AB_EXIT_FAIL, 0, NULL, lead,
        (const char *[]){"--seq", "32", "--dtype", "bf16", "--test-corrupt", "train.step", NULL});
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_FAIL);
    cr_expect_not_null(
        strstr(run->results[0]->reason ? run->results[0]->reason : "", "fp64 reference"));
    ab_run_free(run);
    run = ab_test_run_doc(
        "train-bf16-vendor", 0, 0, NULL, lead,
        (const char *[]){"--seq", "16", "--dtype", "bf16", "--gemm-impl", "vendor", NULL});
    cr_assert_eq(run->nresults, 1);
    const ab_result *r = run->results[0];
    if (r->status == AB_SKIP) /* no OpenBLAS, or one without cblas_sbgemm (Debian's) */
        cr_expect(strstr(r->reason, "vendor") && strstr(r->reason, "bf16"), "%s", r->reason);
    else
        cr_expect_eq(r->status, AB_PASS, "%s", r->reason ? r->reason : "");
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

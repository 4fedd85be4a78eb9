/* SPDX-License-Identifier: MIT */
/* attention: the kernels against the fp64 reference directly (odd shapes, GQA, causal with
 * s_q != s_kv), and the suite end to end through the binary: quick runs on cpu and opencl:0,
 * corrupted outputs fail, bad input is a usage error, a cache that cannot fit is a skip. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu.h"
#include "core/ab.h"
#include "core/rundoc.h"
#include "helpers.h"
#include "suite_helpers.h"
#include "suites/attention/attention.h"

extern const ab_attn_impl ab_attention_cpu;

/* ---- conversions ---- */

Test(attention, half_and_bfloat_rounding)
{
    /* exact values survive, ties go to even, specials stay special */
    cr_expect_eq(ab_f32_to_f16(1.0f), 0x3c00);
    cr_expect_eq(ab_f32_to_f16(-2.0f), 0xc000);
    cr_expect_eq(ab_f32_to_f16(65504.0f), 0x7bff);
    cr_expect_eq(ab_f32_to_f16(65520.0f), 0x7c00, "65520 rounds up to infinity");
    cr_expect_eq(ab_f32_to_f16(1.0f + 1.0f / 2048.0f), 0x3c00, "tie rounds to even (down)");
    cr_expect_eq(ab_f32_to_f16(1.0f + 3.0f / 2048.0f), 0x3c02, "tie rounds to even (up)");
    cr_expect_eq(ab_f32_to_f16(5.9604644775390625e-08f), 0x0001, "smallest subnormal");
    cr_expect_eq(ab_f32_to_f16(2.98023223876953125e-08f), 0x0000, "half of it ties to 0");
    cr_expect_eq(ab_f32_to_f16(INFINITY), 0x7c00);
    cr_expect((ab_f32_to_f16(NAN) & 0x7fff) > 0x7c00);
    for (uint32_t h = 0; h < 0x7c00; h += 7) /* every finite positive half round-trips */
        cr_assert_eq(ab_f32_to_f16(ab_f16_to_f32((uint16_t)h)), h, "half %#x", h);
    cr_expect_eq(ab_f32_to_bf16(1.0f), 0x3f80);
    cr_expect_eq(ab_f32_to_bf16(1.0f + 1.0f / 256.0f), 0x3f80, "tie to even");
    cr_expect_eq(ab_f32_to_bf16(1.0f + 3.0f / 256.0f), 0x3f82);
    cr_expect_eq(ab_bf16_to_f32(0xc040), -3.0f);
}

Test(attention, pattern_is_deterministic_and_in_range)
{
    double sum = 0.0;
    for (uint64_t i = 0; i < 100000; i++) {
        float v = ab_attn_gen(7, i, 2.0f);
        cr_assert(v >= -2.0f && v < 2.0f, "value %g out of range", v);
        cr_assert_eq(v, ab_attn_gen(7, i, 2.0f));
        sum += v;
    }
    cr_expect_lt(fabs(sum / 100000), 0.02, "pattern mean %g is not centred", sum / 100000);
    cr_expect_neq(ab_attn_gen(7, 5, 1.0f), ab_attn_gen(8, 5, 1.0f), "seeds must differ");
}

/* ---- the CPU kernels against the reference ---- */

static void *cpu_be, *cpu_dev;

static void *dev_open(void)
{
    if (!cpu_dev) {
        char err[AB_ERRLEN];
        cr_assert_eq(ab_backend_cpu.init(&cpu_be, err), 0, "%s", err);
        cr_assert_eq(ab_backend_cpu.open(cpu_be, 0, &cpu_dev, err), 0, "%s", err);
    }
    return cpu_dev;
}

static void dev_close(void)
{
    if (cpu_dev)
        ab_backend_cpu.close(cpu_dev);
    if (cpu_be)
        ab_backend_cpu.fini(cpu_be);
    cpu_dev = cpu_be = NULL;
}

/* Runs `kind` on shape s with the suite's pattern and checks every output row against fp64. */
static double check_shape(ab_attn_kind kind, ab_attn_shape s)
{
    void *dev = dev_open();
    char err[AB_ERRLEN];
    s.scale = 1.0f / sqrtf((float)s.head_dim);
    ab_attn_args a = {.s = s, .dtype = AB_ATTN_F32};
    size_t nq = ab_attn_q_elems(&s), nkv = ab_attn_kv_elems(&s);
    a.q = ab_cpu_alloc(dev, nq * 4);
    a.k = ab_cpu_alloc(dev, nkv * 4);
    a.v = ab_cpu_alloc(dev, nkv * 4);
    a.o = ab_cpu_alloc(dev, nq * 4);
    size_t w = ab_attention_cpu.workspace(dev, kind, AB_ATTN_F32, &s);
    a.work = ab_cpu_alloc(dev, w ? w : 64);
    cr_assert(a.q && a.k && a.v && a.o && a.work);
    cr_assert_eq(ab_attention_cpu.fill(dev, AB_ATTN_F32, a.q, nq, 11, 2.0f, err), 0);
    cr_assert_eq(ab_attention_cpu.fill(dev, AB_ATTN_F32, a.k, nkv, 23, 2.0f, err), 0);
    cr_assert_eq(ab_attention_cpu.fill(dev, AB_ATTN_F32, a.v, nkv, 37, 1.0f, err), 0);
    memset(a.o, 0xff, nq * 4); /* NaN: a row the kernel skips cannot pass */
    cr_assert_eq(ab_attention_cpu.run(dev, kind, &a, 2, err), 0, "%s", err);
    int d = s.head_dim, g = s.heads / s.kv_heads;
    size_t kvh = (size_t)s.kv_len * d;
    double *kh = malloc(kvh * 8), *vh = malloc(kvh * 8), *q = malloc(d * 8), *ref = malloc(d * 8);
    double worst = 0.0;
    for (long b = 0; b < s.batch; b++)
        for (long h = 0; h < s.heads; h++) {
            size_t kb = ((size_t)b * s.kv_heads + h / g) * kvh;
            for (size_t e = 0; e < kvh; e++) {
                kh[e] = ((float *)a.k)[kb + e];
                vh[e] = ((float *)a.v)[kb + e];
            }
            for (long i = 0; i < s.q_len; i++) {
                size_t qb = (((size_t)b * s.heads + h) * s.q_len + i) * d;
                for (int c = 0; c < d; c++)
                    q[c] = ((float *)a.q)[qb + c];
                ab_attn_reference_row(&s, q, kh, vh, i, ref);
                for (int c = 0; c < d; c++) {
                    double e = fabs(((float *)a.o)[qb + c] - ref[c]);
                    if (!(e <= worst))
                        worst = isnan(e) ? INFINITY : e;
                }
            }
        }
    free(kh);
    free(vh);
    free(q);
    free(ref);
    ab_cpu_free(a.q);
    ab_cpu_free(a.k);
    ab_cpu_free(a.v);
    ab_cpu_free(a.o);
    ab_cpu_free(a.work);
    return worst;
}

#define SHAPE(b, h, hk, d, sq, skv, c)                                                             \
    (ab_attn_shape)                                                                                \
    {                                                                                              \
        .batch = b, .heads = h, .kv_heads = hk, .head_dim = d, .q_len = sq, .kv_len = skv,         \
        .causal = c                                                                                \
    }

Test(attention, cpu_kernels_match_fp64_reference, .timeout = 300, .fini = dev_close)
{
    /* tails of every block size (96-row and 96-key blocks, 64-key decode blocks, 6/16 micro-
     * tiles), GQA, MQA and MHA, head dims that take the AVX2 path (64, 128) and the portable
     * path (40, 8), causal with s_q < s_kv (a chunk of a longer prefill) */
    const ab_attn_shape shapes[] = {
        SHAPE(1, 4, 2, 64, 97, 97, false),   SHAPE(1, 4, 2, 64, 97, 97, true),
        SHAPE(2, 3, 1, 128, 200, 200, true), SHAPE(1, 2, 2, 40, 33, 33, true),
        SHAPE(1, 8, 2, 128, 1, 1000, false), SHAPE(3, 4, 4, 64, 1, 4099, false),
        SHAPE(1, 2, 1, 8, 5, 5, false),      SHAPE(1, 4, 2, 64, 50, 300, true),
        SHAPE(1, 4, 1, 64, 300, 300, false), SHAPE(1, 64, 1, 64, 1, 2048, false),
        /* decode caches shorter than one key per interleaved chunk (empty chunks) */
        SHAPE(1, 4, 1, 64, 1, 1, false),     SHAPE(2, 4, 2, 40, 1, 3, false),
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        for (int k = AB_ATTN_NAIVE; k <= AB_ATTN_FUSED; k++) {
            ab_attn_shape s = shapes[i];
            double e = check_shape((ab_attn_kind)k, s);
            cr_expect_leq(e, 2e-5,
                          "%s b=%d h=%d/%d d=%d sq=%ld skv=%ld causal=%d: max error %g",
                          k == AB_ATTN_NAIVE ? "naive" : "fused", s.batch, s.heads, s.kv_heads,
                          s.head_dim, s.q_len, s.kv_len, s.causal, e);
        }
}

Test(attention, cpu_kernels_do_not_do_what_they_cannot, .fini = dev_close)
{
    char why[AB_ERRLEN] = "";
    ab_attn_shape s = SHAPE(1, 4, 4, 64, 16, 16, false);
    cr_expect_neq(ab_attention_cpu.supports(dev_open(), AB_ATTN_FUSED, AB_ATTN_BF16, &s, why), 0);
    cr_expect(strstr(why, "f32 only") != NULL, "%s", why);
    cr_expect_neq(ab_attention_cpu.supports(dev_open(), AB_ATTN_VENDOR, AB_ATTN_F32, &s, why), 0);
    cr_expect(strstr(why, "vendor") != NULL, "%s", why);
}

/* ---- the suite through the binary ---- */

static ab_run *run_and_read(const char *tag, int want_exit, const char *const *extra)
{
    return ab_test_run_doc(tag, want_exit, 0, NULL, (const char *[]){"--quiet", NULL}, extra);
}

static const json_t *validation(const ab_result *r)
{
    return json_object_get(r->extra, "validation");
}

static long long vint(const ab_result *r, const char *k)
{
    return json_integer_value(json_object_get(validation(r), k));
}

static void expect_quick_run(const ab_run *run, const char *device)
{
    size_t pass = 0, headlines = 0;
    bool prefill[2][2] = {{false, false}, {false, false}}, decode[2] = {false, false};
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->device, device) != 0)
            continue;
        if (strcmp(r->impl, "vendor") == 0) {
            cr_expect_eq(r->status, AB_SKIP, "%s vendor: %s", r->key, ab_status_name(r->status));
            cr_expect(r->reason && *r->reason, "a skip needs its reason");
            continue;
        }
        cr_expect_eq(r->status, AB_PASS, "%s %s %s: %s (%s)", device, r->key, r->impl,
                     ab_status_name(r->status), r->reason ? r->reason : "");
        if (r->status != AB_PASS)
            continue;
        pass++;
        headlines += r->headline;
        bool dec = strcmp(r->key, "attention.decode") == 0;
        bool fused = strcmp(r->impl, "fused") == 0;
        /* the first metric is the bounded rate; latency with every sample follows */
        cr_assert_geq(r->nmetrics, 3);
        cr_expect_str_eq(r->metrics[0].name, dec ? "kv_bandwidth" : "flops");
        cr_expect_str_eq(r->metrics[0].unit, dec ? "B/s" : "FLOP/s");
        const ab_metric *lat = ab_result_metric(r, "latency");
        cr_assert_not_null(lat);
        cr_expect_str_eq(lat->unit, "s");
        cr_expect(!lat->higher_is_better);
        cr_expect_geq(lat->nsamples, 3);
        cr_expect_eq(r->iters_per_sample, 1, "latency samples are single calls");
        cr_expect(lat->stats.p90 >= lat->stats.median && lat->stats.p99 >= lat->stats.p90);
        cr_expect_gt(lat->stats.median, 0.0);
        const ab_metric *fl = ab_result_metric(r, "flops");
        cr_expect_gt(fl->stats.median, 1e6, "%s %s: %g FLOP/s is implausible", r->key, r->impl,
                     fl->stats.median);
        /* FLOPs and bytes as documented: latency × rate = the per-call count */
        double flop = json_real_value(json_object_get(r->extra, "flop_per_call"));
        cr_expect_lt(fabs(fl->samples[0] * lat->samples[0] / flop - 1.0), 1e-9);
        /* validated: every element range-checked, reference rows, and fused vs naive */
        cr_expect_gt(vint(r, "elements_range_checked"), 0);
        cr_expect_eq(vint(r, "elements_out_of_range"), 0);
        cr_expect_gt(vint(r, "reference_rows"), 0);
        cr_expect_eq(vint(r, "reference_rows_bad"), 0);
        if (fused)
            cr_expect_eq(vint(r, "naive_elements_compared"), vint(r, "elements_range_checked"),
                         "%s fused not compared with naive on every element", r->key);
        cr_expect(json_is_string(json_object_get(r->extra, "kernel")));
        if (dec) {
            decode[fused] = true;
        } else {
            const char *c = json_string_value(json_object_get(r->params, "causal"));
            prefill[fused][c && strcmp(c, "yes") == 0] = true;
        }
    }
    cr_expect_eq(pass, 6, "%zu passing attention results on %s", pass, device);
    cr_expect(prefill[0][0] && prefill[0][1] && prefill[1][0] && prefill[1][1] && decode[0] &&
              decode[1]);
    cr_expect_eq(headlines, 2, "one prefill and one decode headline, got %zu", headlines);
}

Test(attention, quick_cpu, .timeout = 300)
{
    ab_run *run = run_and_read("cpu", AB_EXIT_OK,
                               (const char *[]){"--suite", "attention", "--device", "cpu",
                                                "--profile", "quick", NULL});
    expect_quick_run(run, "cpu");
    ab_run_free(run);
}

Test(attention, quick_opencl, .timeout = 300)
{
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device (install pocl-opencl-icd): opencl:0 not listed");
    ab_run *run = run_and_read("ocl", AB_EXIT_OK,
                               (const char *[]){"--suite", "attention", "--device", "opencl:0",
                                                "--profile", "quick", NULL});
    expect_quick_run(run, "opencl:0");
    ab_run_free(run);
}

/* small shapes on both backends: odd lengths (tails), MQA, head_dim 64; every row is a
 * reference row ("small case") */
static void expect_small_shapes(const char *device)
{
    ab_run *run = run_and_read("small", AB_EXIT_OK,
                               (const char *[]){"--suite", "attention", "--device", device,
                                                "--heads", "6", "--kv-heads", "1", "--head-dim",
                                                "64", "--seq", "77", "--kv-len", "1500",
                                                "--batch", "2", "--repeat", "3", NULL});
    size_t n = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->impl, "vendor") == 0)
            continue;
        cr_expect_eq(r->status, AB_PASS, "%s %s %s: %s", device, r->key, r->impl,
                     r->reason ? r->reason : "");
        cr_expect(json_is_true(json_object_get(validation(r), "reference_all_rows")),
                  "%s %s: a small case checks every row", r->key, r->impl);
        n++;
    }
    cr_expect_eq(n, 6);
    ab_run_free(run);
}

Test(attention, small_shapes_cpu, .timeout = 300)
{
    expect_small_shapes("cpu");
}

Test(attention, small_shapes_opencl, .timeout = 300)
{
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device: opencl:0 not listed");
    expect_small_shapes("opencl:0");
}

static void expect_corruption_caught(const char *device, const char *key, const char *extra_k,
                                     const char *extra_v)
{
    ab_run *run = run_and_read("corrupt", AB_EXIT_FAIL,
                               (const char *[]){"--suite", key, "--device", device, "--impl",
                                                "fused", "--seq", "128", "--kv-len", "2048",
                                                "--causal", "yes", "--repeat", "3",
                                                "--test-corrupt", key, extra_k, extra_v, NULL});
    bool seen = false;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->key, key) != 0)
            continue;
        seen = true;
        cr_expect_eq(r->status, AB_FAIL, "%s on %s: corrupted output was %s", key, device,
                     ab_status_name(r->status));
        cr_expect(r->reason && strstr(r->reason, "outside [-1, 1]"), "reason: %s", r->reason);
        cr_expect_eq(r->nmetrics, 3, "the measurement is kept, the status says it is wrong");
    }
    cr_expect(seen, "no %s result", key);
    ab_run_free(run);
}

Test(attention, validation_catches_corruption, .timeout = 300)
{
    expect_corruption_caught("cpu", "attention.prefill", "--heads", "8");
    expect_corruption_caught("cpu", "attention.decode", "--heads", "8");
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device: only the CPU path was checked");
    expect_corruption_caught("opencl:0", "attention.prefill", "--heads", "8");
    expect_corruption_caught("opencl:0", "attention.decode", "--heads", "8");
}

Test(attention, bad_input_is_a_usage_error)
{
    ab_test_expect_usage("attention", "not a multiple of --kv-heads",
                       (const char *[]){"--heads", "32", "--kv-heads", "5", NULL});
    ab_test_expect_usage("attention", "not a multiple of --kv-heads",
                       (const char *[]){"--preset", "llama3-70b", "--kv-heads", "3", NULL});
    ab_test_expect_usage("attention", "--seq", (const char *[]){"--seq", "0", NULL});
    ab_test_expect_usage("attention", "--seq", (const char *[]){"--seq", "-512", NULL});
    ab_test_expect_usage("attention", "--seq", (const char *[]){"--seq", "2k,abc", NULL});
    ab_test_expect_usage("attention", "--kv-len", (const char *[]){"--kv-len", "0", NULL});
    ab_test_expect_usage("attention", "--kv-len", (const char *[]){"--kv-len", "-1k", NULL});
    ab_test_expect_usage("attention", "--batch", (const char *[]){"--batch", "0", NULL});
    ab_test_expect_usage("attention", "--heads", (const char *[]){"--heads", "-4", NULL});
    ab_test_expect_usage("attention", "--head-dim", (const char *[]){"--head-dim", "100", NULL});
    ab_test_expect_usage("attention", "--head-dim", (const char *[]){"--head-dim", "512", NULL});
    ab_test_expect_usage("attention", "--causal", (const char *[]){"--causal", "maybe", NULL});
    ab_test_expect_usage("attention", "--preset", (const char *[]){"--preset", "gpt-5", NULL});
    ab_test_expect_usage("attention", "--impl", (const char *[]){"--impl", "fast", NULL});
    ab_test_expect_usage("attention", "--dtype", (const char *[]){"--dtype", "f33", NULL});
}

Test(attention, what_cannot_run_is_skipped_with_reason, .timeout = 300)
{
    /* a 2M-token cache for 64 sequences: terabytes, on no machine's memory */
    ab_run *run = run_and_read("nofit", AB_EXIT_OK,
                               (const char *[]){"--suite", "attention.decode", "--device", "cpu",
                                                "--kv-len", "2048k", "--batch", "64", NULL});
    cr_assert_gt(run->nresults, 0);
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        cr_expect_eq(r->status, AB_SKIP);
        cr_expect(r->reason && strstr(r->reason, "GiB"), "reason: %s", r->reason);
    }
    ab_run_free(run);
    /* types the CPU kernels do not compute, and types attention does not know */
    run = run_and_read("dtype", AB_EXIT_OK,
                       (const char *[]){"--suite", "attention", "--device", "cpu", "--dtype",
                                        "bf16", "--seq", "64", "--kv-len", "64", NULL});
    for (size_t i = 0; i < run->nresults; i++) {
        cr_expect_eq(run->results[i]->status, AB_SKIP);
        cr_expect(run->results[i]->reason && *run->results[i]->reason);
    }
    ab_run_free(run);
    run = run_and_read("f64", AB_EXIT_OK,
                       (const char *[]){"--suite", "attention", "--device", "cpu", "--dtype",
                                        "f64", NULL});
    cr_assert_eq(run->nresults, 1);
    cr_expect_eq(run->results[0]->status, AB_SKIP);
    cr_expect(strstr(run->results[0]->reason, "no requested --dtype"), "%s",
              run->results[0]->reason);
    ab_run_free(run);
}

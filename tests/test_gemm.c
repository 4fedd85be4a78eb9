/* SPDX-License-Identifier: MIT */
/* gemm: element formats, the validation tolerance, shape lists and shape sets (unit tests); the
 * CPU implementations through the interface other suites use (batch, alpha, beta, layouts); and
 * end to end through the binary: quick runs pass on cpu and opencl:0, a corrupted product
 * fails, a shape that cannot fit is skipped with a reason, bad values are one-line errors. */
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
#include "suites/gemm/gemm.h"

extern const ab_gemm_backend ab_gemm_cpu;

/* ---- element formats -------------------------------------------------------------------------- */

Test(gemm_formats, known_encodings)
{
    /* OCP FP8: e4m3fn 1.0 = 0x38, max 448 = 0x7E, NaN 0x7F; e5m2 1.0 = 0x3C, max 57344 = 0x7B */
    cr_expect_eq(ab_gemm_decode(AB_GT_E4M3, 0x38), 1.0);
    cr_expect_eq(ab_gemm_decode(AB_GT_E4M3, 0x7E), 448.0);
    cr_expect(isnan(ab_gemm_decode(AB_GT_E4M3, 0x7F)));
    cr_expect_eq(ab_gemm_decode(AB_GT_E4M3, 0x01), ldexp(1.0, -9)); /* smallest subnormal */
    cr_expect_eq(ab_gemm_decode(AB_GT_E5M2, 0x3C), 1.0);
    cr_expect_eq(ab_gemm_decode(AB_GT_E5M2, 0x7B), 57344.0);
    cr_expect(isinf(ab_gemm_decode(AB_GT_E5M2, 0x7C)));
    cr_expect_eq(ab_gemm_decode(AB_GT_BF16, 0x3F80), 1.0);
    cr_expect_eq(ab_gemm_decode(AB_GT_BF16, 0xC040), -3.0);
    cr_expect_eq(ab_gemm_decode(AB_GT_F16, 0x3C00), 1.0);
    cr_expect_eq(ab_gemm_decode(AB_GT_F16, 0x7BFF), 65504.0);
    cr_expect_eq(ab_gemm_decode(AB_GT_F16, 0x0001), ldexp(1.0, -24));
    cr_expect_eq(ab_gemm_decode(AB_GT_I8, 0xFF), -1.0);
    cr_expect_eq(ab_gemm_decode(AB_GT_I32, 0x80000000u), -2147483648.0);
    /* encoding rounds to nearest even and saturates fp8 */
    cr_expect_eq(ab_gemm_encode(AB_GT_E4M3, 1.0), 0x38);
    cr_expect_eq(ab_gemm_encode(AB_GT_E4M3, 1000.0), 0x7E);
    cr_expect_eq(ab_gemm_encode(AB_GT_E4M3, -1000.0), 0xFE);
    cr_expect_eq(ab_gemm_encode(AB_GT_E4M3, 1.0625), 0x38); /* halfway to 1.125: even */
    cr_expect_eq(ab_gemm_encode(AB_GT_E4M3, 1.1875), 0x3A); /* halfway 1.125/1.25: even */
    cr_expect_eq(ab_gemm_encode(AB_GT_BF16, 1.0 + ldexp(1.0, -8)), 0x3F80);
    cr_expect_eq(ab_gemm_encode(AB_GT_BF16, 1.0 + 3 * ldexp(1.0, -8)), 0x3F82);
    cr_expect_eq(ab_gemm_encode(AB_GT_F16, 65536.0), 0x7C00); /* overflow: infinity */
    cr_expect_eq(ab_gemm_encode(AB_GT_F16, ldexp(1.0, -24)), 0x0001);
    cr_expect_eq(ab_gemm_encode(AB_GT_I8, -12345.0), 0x80);
    cr_expect_eq(ab_gemm_encode(AB_GT_I32, -12345.0), (uint32_t)-12345);
}

Test(gemm_formats, encode_decode_round_trip)
{
    const ab_gemm_type t[] = {AB_GT_BF16, AB_GT_F16, AB_GT_E4M3, AB_GT_E5M2};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        unsigned n = ab_gemm_type_size(t[i]) == 1 ? 256 : 65536;
        for (unsigned b = 0; b < n; b++) {
            double v = ab_gemm_decode(t[i], b);
            if (!isfinite(v)) /* fp8 encodes saturate: infinity becomes the largest finite */
                continue;
            cr_assert_eq(ab_gemm_encode(t[i], v), b, "%s bits 0x%x -> %g -> 0x%llx",
                         ab_gemm_type_name(t[i]), b, v,
                         (unsigned long long)ab_gemm_encode(t[i], v));
        }
    }
}

Test(gemm_formats, generated_inputs_are_nonzero_and_well_conditioned)
{
    for (int t = 0; t <= AB_GT_I8; t++)
        for (uint64_t i = 0; i < 20000; i++) {
            double v = ab_gemm_decode((ab_gemm_type)t, ab_gemm_value_bits((ab_gemm_type)t, 7, i));
            double a = fabs(v);
            if (t == AB_GT_I8)
                cr_assert(a >= 1 && a <= 127, "i8 value %g", v);
            else
                cr_assert(a >= 0.25 && a < 1.0, "%s value %g at %llu",
                          ab_gemm_type_name((ab_gemm_type)t), v, (unsigned long long)i);
        }
    /* both signs, and the values differ (not a constant pattern) */
    double s = 0, s2 = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        double v = ab_gemm_decode(AB_GT_BF16, ab_gemm_value_bits(AB_GT_BF16, 3, i));
        s += v;
        s2 += v * v;
    }
    cr_expect_lt(fabs(s / 10000), 0.05, "mean %g: signs are not balanced", s / 10000);
    cr_expect_gt(s2 / 10000, 0.2);
    cr_expect(isnan(ab_gemm_decode(AB_GT_F32, ab_gemm_sentinel_bits(AB_GT_F32))));
    cr_expect(isnan(ab_gemm_decode(AB_GT_BF16, ab_gemm_sentinel_bits(AB_GT_BF16))));
}

/* ---- tolerance -------------------------------------------------------------------------------- */

static ab_gemm_op op_of(ab_gemm_type a, ab_gemm_type c, int64_t k)
{
    ab_gemm_op op = {.a = a, .b = a, .c = c, .m = 8, .n = 8, .k = k, .lda = k, .ldb = 8,
                     .ldc = 8, .batch = 1, .alpha = 1.0};
    if (a == AB_GT_E5M2)
        op.b = AB_GT_E4M3;
    return op;
}

Test(gemm_tolerance, follows_type_and_depth)
{
    ab_gemm_op f32 = op_of(AB_GT_F32, AB_GT_F32, 1);
    /* K = 1: one product, one rounding of the sum and one of the output */
    cr_expect_float_eq(ab_gemm_tolerance(&f32, 1.0, 1.0), 2 * ldexp(1.0, -24), 1e-30);
    /* short sums: the worst case K u; long ones 8 sqrt(K) u */
    f32.k = 16;
    cr_expect_float_eq(ab_gemm_tolerance(&f32, 10.0, 0.0), 10.0 * 16 * ldexp(1.0, -24), 1e-25);
    f32.k = 4096;
    cr_expect_float_eq(ab_gemm_tolerance(&f32, 10.0, 0.0), 10.0 * 8 * 64 * ldexp(1.0, -24), 1e-25);
    /* grows with K, sublinearly */
    double prev = 0;
    for (int64_t k = 1; k <= (1 << 20); k *= 4) {
        f32.k = k;
        double t = ab_gemm_tolerance(&f32, 1.0, 0.0);
        cr_expect_gt(t, prev, "K %lld", (long long)k);
        if (k > 64)
            cr_expect_lt(t, 1.0 * (double)k * ldexp(1.0, -24), "K %lld", (long long)k);
        prev = t;
    }
    /* ordered by precision for the same problem */
    double t64 = ab_gemm_tolerance(&(ab_gemm_op){.a = AB_GT_F64, .b = AB_GT_F64, .c = AB_GT_F64,
                                                 .k = 4096, .alpha = 1},
                                   100.0, 3.0);
    ab_gemm_op o32 = op_of(AB_GT_F32, AB_GT_F32, 4096), tf = o32, bf = op_of(AB_GT_BF16, AB_GT_BF16, 4096);
    tf.tf32 = true;
    ab_gemm_op bf32 = op_of(AB_GT_BF16, AB_GT_F32, 4096), f8 = op_of(AB_GT_E4M3, AB_GT_BF16, 4096);
    double t32 = ab_gemm_tolerance(&o32, 100.0, 3.0), ttf = ab_gemm_tolerance(&tf, 100.0, 3.0);
    double tbf = ab_gemm_tolerance(&bf, 100.0, 3.0), tbf32 = ab_gemm_tolerance(&bf32, 100.0, 3.0);
    double tf8 = ab_gemm_tolerance(&f8, 100.0, 3.0);
    cr_expect_lt(t64, t32);
    cr_expect_lt(t32, ttf, "tf32 rounds its inputs");
    cr_expect_lt(tbf32, tbf, "bf16 output rounds more than f32 output");
    cr_expect_lt(tbf, tf8, "fp8 tensor cores accumulate with fewer bits");
    /* integers are exact */
    ab_gemm_op i8 = op_of(AB_GT_I8, AB_GT_I32, 4096);
    cr_expect_eq(ab_gemm_tolerance(&i8, 1e6, 1e5), 0.0);
    /* alpha scales the bound */
    o32.alpha = -2.0;
    cr_expect_float_eq(ab_gemm_tolerance(&o32, 100.0, 3.0), 2 * t32, 1e-20);
    /* and stays far below the size of the values: a wrong element cannot hide in it (random
     * signs: |ref| ~ sqrt(K) x 0.4, sum_abs ~ K x 0.4) */
    ab_gemm_op worst = op_of(AB_GT_E5M2, AB_GT_BF16, 8192);
    double sum_abs = 8192 * 0.4, ref = sqrt(8192.0) * 0.4;
    cr_expect_lt(ab_gemm_tolerance(&worst, sum_abs, ref), ref, "fp8 at K 8192");
    ab_gemm_op b16 = op_of(AB_GT_BF16, AB_GT_BF16, 8192);
    cr_expect_lt(ab_gemm_tolerance(&b16, sum_abs, ref), 0.05 * ref, "bf16 at K 8192");
}

/* ---- shapes ----------------------------------------------------------------------------------- */

Test(gemm_shapes, parse_list)
{
    ab_gemm_shape *s;
    size_t n;
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_gemm_parse_shapes("4096, 1x4096x14336,7X9x11", &s, &n, err), 0, "%s", err);
    cr_assert_eq(n, 3);
    cr_expect(s[0].m == 4096 && s[0].n == 4096 && s[0].k == 4096);
    cr_expect(s[1].m == 1 && s[1].n == 4096 && s[1].k == 14336);
    cr_expect(s[2].m == 7 && s[2].n == 9 && s[2].k == 11);
    cr_expect_str_eq(s[1].set, "custom");
    free(s);
    const char *bad[] = {"0", "12x", "4096x4096", "1x2x3x4", "abc", "-5", "2147483648", "8,,9",
                         "1x0x1", "1.5", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_expect_neq(ab_gemm_parse_shapes(bad[i], &s, &n, err), 0, "'%s' accepted", bad[i]);
        cr_expect(strchr(err, '\n') == NULL && *err, "'%s': message '%s'", bad[i], err);
    }
}

static char *write_file(const char *name, const char *text)
{
    char *dir = ab_test_tmpdir("gemm");
    char *path = malloc(700);
    snprintf(path, 700, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(dir);
    return path;
}

Test(gemm_shapes, shipped_sets)
{
    ab_gemm_layer *l;
    size_t n;
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_gemm_layers_load(NULL, &l, &n, err), 0, "%s", err);
    cr_assert_eq(n, 8);
    /* Llama-3-8B: hidden 4096, 32 heads, 8 KV heads of 128, intermediate 14336 */
    cr_expect(strcmp(l[0].set, "llama3_8b") == 0 && strcmp(l[0].layer, "qkv") == 0 &&
              l[0].n == 6144 && l[0].k == 4096);
    cr_expect(l[2].n == 28672 && l[2].k == 4096, "8b gate_up");
    cr_expect(l[3].n == 4096 && l[3].k == 14336, "8b down");
    /* Llama-3-70B: hidden 8192, 64 heads, 8 KV heads, intermediate 28672 */
    cr_expect(l[4].n == 10240 && l[4].k == 8192, "70b qkv");
    cr_expect(l[6].n == 57344 && l[6].k == 8192, "70b gate_up");
    cr_expect(l[7].n == 8192 && l[7].k == 28672, "70b down");

    ab_gemm_shape *s;
    size_t ns;
    const int64_t tokens[] = {128, 1, 16}; /* unordered on purpose */
    const int64_t square[] = {256, 1024};
    cr_assert_eq(ab_gemm_expand_sets("llama3_8b,square", l, n, tokens, 3, square, 2, &s, &ns, err),
                 0, "%s", err);
    cr_assert_eq(ns, 2 + 3 * 4);
    cr_expect(strcmp(s[0].set, "square") == 0 && s[0].m == 256 && s[1].m == 1024,
              "square sweep first");
    /* tokens ascending, the layers in table order within each */
    cr_expect(s[2].m == 1 && strcmp(s[2].layer, "qkv") == 0 && s[2].tokens == 1);
    cr_expect(s[5].m == 1 && strcmp(s[5].layer, "down") == 0 && s[5].k == 14336);
    cr_expect(s[6].m == 16 && s[13].m == 128 && strcmp(s[13].layer, "down") == 0);
    free(s);
    cr_assert_eq(ab_gemm_expand_sets("all", l, n, tokens, 1, square, 2, &s, &ns, err), 0);
    cr_expect_eq(ns, 2 + 8);
    free(s);
    cr_expect_neq(ab_gemm_expand_sets("llama3_8b,llama9", l, n, tokens, 1, square, 2, &s, &ns,
                                      err),
                  0);
    cr_expect(strstr(err, "llama9") && strstr(err, "llama3_70b"), "message: %s", err);
    free(l);
}

Test(gemm_shapes, user_table_errors_name_file_and_line)
{
    char err[AB_ERRLEN] = "";
    ab_gemm_layer *l;
    size_t n;
    char *ok = write_file("ok.csv", "# my model\nset,layer,n,k,source\nmini,up,64,32,\"config\"\n");
    cr_assert_eq(ab_gemm_layers_load(ok, &l, &n, err), 0, "%s", err);
    cr_expect(n == 1 && l[0].n == 64 && l[0].k == 32);
    free(l);
    free(ok);
    const struct {
        const char *text, *needle;
    } bad[] = {
        {"set,layer,n,k,source\nmini,up,64x,32,c\n", ":2: n: '64x'"},
        {"set,layer,n,k,source\nmini,up,64,0,c\n", ":2: k: '0'"},
        {"set,layer,n,k,source\nMini,up,64,32,c\n", ":2: set and layer"},
        {"set,layer,n,k,source\nsquare,up,64,32,c\n", ":2: set and layer"},
        {"set,layer,n,k,source\nmini,up,64,32,\n", ":2: source is empty"},
        {"set,layer,n,k,source\nmini,up,64,32,c\nmini,up,8,8,c\n", ":3: mini/up listed twice"},
        {"set,layer,n,source\nmini,up,64,c\n", "k"},
        {"set,layer,n,k,source\nmini,up,64,32\n", ":2:"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *p = write_file("bad.csv", bad[i].text);
        err[0] = '\0';
        cr_expect_neq(ab_gemm_layers_load(p, &l, &n, err), 0, "case %zu accepted", i);
        cr_expect(strstr(err, bad[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                  bad[i].needle);
        free(p);
    }
}

/* ---- the CPU implementations through the interface other suites use ---------------------- */

static void check_impl(void *dev, const ab_gemm_impl *im, ab_gemm_type t, bool ta, bool tb,
                       int64_t M)
{
    /* odd sizes, padded leading dimensions, a batch, alpha and beta */
    /* K above the CPU kernel's KC (256): several depth blocks and a partial one */
    const int64_t N = 29 + 64 * (M < 5), K = 300, B = 3, pad = 5;
    ab_gemm_type ct = t == AB_GT_I8 ? AB_GT_I32 : t == AB_GT_F64 ? AB_GT_F64 : AB_GT_F32;
    ab_gemm_op op = {.a = t, .b = t, .c = ct, .ta = ta, .tb = tb, .m = M, .n = N, .k = K,
                     .batch = B, .alpha = t == AB_GT_I8 ? 3.0 : 0.5,
                     .beta = t == AB_GT_I8 ? -2.0 : 2.0};
    op.lda = (ta ? M : K) + pad;
    op.ldb = (tb ? K : N) + pad;
    op.ldc = N + pad;
    op.stride_a = op.lda * (ta ? K : M) + 7;
    op.stride_b = op.ldb * (tb ? N : K) + 3;
    op.stride_c = op.ldc * M + 1;
    char why[AB_ERRLEN] = "";
    if (im->dtype_ok(dev, &op, why) != 0 || im->supports(dev, &op, why) != 0) {
        cr_log_info("%s %s: %s", im->name, ab_gemm_type_name(t), why);
        return;
    }
    size_t na = (size_t)(op.stride_a * B), nb = (size_t)(op.stride_b * B), nc = (size_t)(op.stride_c * B);
    void *a = ab_cpu_alloc(dev, na * ab_gemm_type_size(t));
    void *b = ab_cpu_alloc(dev, nb * ab_gemm_type_size(t));
    void *c = ab_cpu_alloc(dev, nc * ab_gemm_type_size(ct));
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_gemm_cpu.fill(dev, a, t, na, 11, err), 0, "%s", err);
    cr_assert_eq(ab_gemm_cpu.fill(dev, b, t, nb, 12, err), 0, "%s", err);
    cr_assert_eq(ab_gemm_cpu.fill(dev, c, ct, nc, 13, err), 0, "%s", err);
    void *c0 = malloc(nc * ab_gemm_type_size(ct));
    memcpy(c0, c, nc * ab_gemm_type_size(ct));
    void *plan = NULL;
    cr_assert_eq(im->prepare(dev, &op, &plan, err), 0, "%s", err);
    cr_assert_eq(im->run(plan, a, b, c, err), 0, "%s", err);
    im->release(plan);
    size_t bad = 0;
    for (int64_t z = 0; z < B; z++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < op.ldc; j++) {
                size_t ci = (size_t)(z * op.stride_c + i * op.ldc + j);
                double got = ab_gemm_load(ct, c, ci), old = ab_gemm_load(ct, c0, ci);
                if (j >= N) { /* padding is never written */
                    bad += memcmp((char *)c + ci * ab_gemm_type_size(ct),
                                  (char *)c0 + ci * ab_gemm_type_size(ct), ab_gemm_type_size(ct)) != 0;
                    continue;
                }
                double s = 0, sa = 0;
                for (int64_t k = 0; k < K; k++) {
                    size_t ai = (size_t)(z * op.stride_a + (ta ? k * op.lda + i : i * op.lda + k));
                    size_t bi = (size_t)(z * op.stride_b + (tb ? j * op.ldb + k : k * op.ldb + j));
                    double p = ab_gemm_load(t, a, ai) * ab_gemm_load(t, b, bi);
                    s += p;
                    sa += fabs(p);
                }
                double want = op.alpha * s + op.beta * old;
                double tol = ab_gemm_tolerance(&op, sa, s) + fabs(op.beta * old) * ldexp(1.0, -23);
                if (!(fabs(got - want) <= tol)) {
                    if (bad < 3)
                        cr_log_error("%s %s %c%c M %lld: C[%lld][%lld][%lld] = %g, want %g",
                                     im->name, ab_gemm_type_name(t), ta ? 'T' : 'N',
                                     tb ? 'T' : 'N', (long long)M, (long long)z, (long long)i,
                                     (long long)j, got, want);
                    bad++;
                }
            }
    cr_expect_eq(bad, 0, "%s %s %c%c: %zu wrong entries", im->name, ab_gemm_type_name(t),
                 ta ? 'T' : 'N', tb ? 'T' : 'N', bad);
    ab_cpu_free(a);
    ab_cpu_free(b);
    ab_cpu_free(c);
    free(c0);
}

Test(gemm_cpu, batched_strided_alpha_beta_every_layout)
{
    void *be = NULL, *dev = NULL;
    char err[AB_ERRLEN] = "";
    cr_assert_eq(ab_backend_cpu.init(&be, err), 0, "%s", err);
    cr_assert_eq(ab_backend_cpu.open(be, 0, &dev, err), 0, "%s", err);
    const ab_gemm_type types[] = {AB_GT_F64, AB_GT_F32, AB_GT_BF16, AB_GT_F16, AB_GT_I8};
    for (int im = 0; im < AB_GEMM_NIMPL; im++) {
        if (!ab_gemm_cpu.impl[im])
            continue;
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
            for (int l = 0; l < 4; l++)
                for (int64_t m = 1; m <= 37; m += m < 5 ? 1 : 32) /* 1-5 rows: skinny path */
                    check_impl(dev, ab_gemm_cpu.impl[im], types[t], l & 1, l & 2, m);
    }
    ab_backend_cpu.close(dev);
    ab_backend_cpu.fini(be);
}

/* ---- end to end ------------------------------------------------------------------------------- */

static ab_run *run_and_read(const char *tag, int want_exit, const char **extra)
{
    /* short samples: these runs check coverage and verdicts, not speed */
    return ab_test_run_doc(tag, want_exit, 0, NULL,
                           (const char *[]){"--quiet", "--suite", "gemm", "--profile", "quick",
                                            "--min-time", "0.002", NULL},
                           extra);
}

static const char *param_str(const ab_result *r, const char *name)
{
    return json_string_value(json_object_get(r->params, name));
}

/* Every measured result passed with a plausible throughput metric and recorded validation;
 * returns how many passed per implementation. */
static void expect_passes(const ab_run *run, const char *device, int *vendor, int *portable)
{
    *vendor = *portable = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->device, device) != 0)
            continue;
        if (r->status == AB_SKIP) {
            cr_expect(r->reason && *r->reason, "%s: skip without a reason", r->key);
            continue;
        }
        cr_expect_eq(r->status, AB_PASS, "%s %s %s: %s (%s)", r->key, r->impl,
                     param_str(r, "dtype"), ab_status_name(r->status), r->reason ? r->reason : "");
        if (r->status != AB_PASS)
            continue;
        *vendor += strcmp(r->impl, "vendor") == 0;
        *portable += strcmp(r->impl, "portable") == 0;
        cr_assert_geq(r->nmetrics, 1);
        const ab_metric *m = &r->metrics[0];
        const char *dt = param_str(r, "dtype");
        cr_expect_str_eq(m->name, "throughput");
        cr_expect_str_eq(m->unit, strcmp(dt, "i8") == 0 ? "OP/s" : "FLOP/s");
        cr_expect_gt(m->stats.median, 1e6, "%s: %g is not plausible", r->key, m->stats.median);
        cr_expect_geq(m->nsamples, 3);
        json_t *v = json_object_get(r->extra, "validation");
        cr_expect(json_integer_value(json_object_get(v, "entries_checked")) >= 256 ||
                      json_is_true(json_object_get(v, "full_matrix")),
                  "%s: too few entries checked", r->key);
        long long m_ = json_integer_value(json_object_get(r->params, "m"));
        long long n_ = json_integer_value(json_object_get(r->params, "n"));
        bool skinny = m_ <= 128 || n_ <= 128;
        cr_expect_eq(ab_result_metric(r, "bandwidth") != NULL, skinny,
                     "%s %lldx%lld: bandwidth metric %s", r->key, m_, n_,
                     skinny ? "missing" : "unexpected");
    }
}

Test(gemm_run, quick_cpu_both_implementations, .timeout = 600)
{
    ab_run *run = run_and_read("cpu", AB_EXIT_OK,
                               (const char *[]){"--device", "cpu", "--shape",
                                                "64,100x300x77,1x512x384,100x72x600", "--dtype",
                                                "f64,f32,bf16,f16,i8,e4m3", "--layout",
                                                "NN,NT,TN", "--repeat", "3", NULL});
    int vendor, portable;
    expect_passes(run, "cpu", &vendor, &portable);
    cr_expect_geq(vendor, 4 * 3 * 2, "vendor passes: %d (f64 and f32, 4 shapes, 3 layouts)", vendor);
    cr_expect_eq(portable, 4 * 3 * 5, "portable passes: %d", portable);
    /* fp8 on a CPU: one skip per implementation, with the reason */
    int fp8_skips = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->key, "gemm") == 0 && r->status == AB_SKIP &&
            strcmp(param_str(r, "dtype") ? param_str(r, "dtype") : "", "e4m3") == 0) {
            fp8_skips++;
            cr_expect(strstr(r->reason, "fp8"), "reason: %s", r->reason);
        }
    }
    cr_expect_eq(fp8_skips, 2);
    ab_run_free(run);
}

Test(gemm_run, quick_opencl_portable, .timeout = 600)
{
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device (install pocl-opencl-icd): opencl:0 not listed");
    ab_run *run = run_and_read("ocl", AB_EXIT_OK,
                               (const char *[]){"--device", "opencl:0", "--shape",
                                                "64,100x130x77,1x512x384", "--dtype",
                                                "f64,f32,bf16,f16,i8", "--layout", "NN,NT,TN",
                                                "--repeat", "3", NULL});
    int vendor, portable;
    expect_passes(run, "opencl:0", &vendor, &portable);
    cr_expect_eq(portable, 3 * 3 * 5, "portable passes: %d", portable);
    ab_run_free(run);
}

Test(gemm_run, square_sweep_marks_the_largest_passing_size_as_headline, .timeout = 600)
{
    ab_run *run = run_and_read("headline", AB_EXIT_OK,
                               (const char *[]){"--device", "cpu", "--shape-set", "square",
                                                "--square-max", "1024", "--dtype", "f32",
                                                "--repeat", "3", NULL});
    for (int im = 0; im < 2; im++) {
        const char *impl = im ? "portable" : "vendor";
        long long largest = 0;
        int headlines = 0;
        long long headline_m = -1;
        for (size_t i = 0; i < run->nresults; i++) {
            const ab_result *r = run->results[i];
            if (strcmp(r->key, "gemm.square") != 0 || strcmp(r->impl, impl) != 0)
                continue;
            long long m = json_integer_value(json_object_get(r->params, "m"));
            if (r->status == AB_PASS && m > largest)
                largest = m;
            if (r->headline) {
                headlines++;
                headline_m = m;
            }
        }
        cr_expect_eq(headlines, 1, "%s: %d headlines", impl, headlines);
        cr_expect_eq(headline_m, largest, "%s: headline at %lld, largest pass %lld", impl,
                     headline_m, largest);
    }
    ab_run_free(run);
}

static void expect_corruption_caught(const char *device, const char *impls)
{
    ab_run *run = run_and_read("corrupt", AB_EXIT_FAIL,
                               (const char *[]){"--device", device, "--shape", "96x80x64,600x40x3000",
                                                "--dtype", "f32,i8", "--impl", impls,
                                                "--repeat", "3", "--test-corrupt", "gemm.custom",
                                                NULL});
    int failed = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->key, "gemm.custom") != 0 || r->status == AB_SKIP)
            continue;
        cr_expect_eq(r->status, AB_FAIL, "%s %s %s on %s: corrupted product was %s", r->key,
                     r->impl, param_str(r, "dtype"), device, ab_status_name(r->status));
        cr_expect(r->reason && strstr(r->reason, "checked entries wrong") &&
                      strstr(r->reason, "-12"),
                  "reason: %s", r->reason);
        /* the large shape is checked on a sample (>= 256 entries), the small one in full */
        json_t *v = json_object_get(r->extra, "validation");
        long long m = json_integer_value(json_object_get(r->params, "m"));
        cr_expect_eq(json_is_true(json_object_get(v, "full_matrix")), m == 96, "m %lld", m);
        failed++;
    }
    cr_expect_geq(failed, 2, "only %d failures on %s", failed, device);
    ab_run_free(run);
}

Test(gemm_run, validation_catches_a_corrupted_product, .timeout = 600)
{
    expect_corruption_caught("cpu", "vendor,portable");
    if (!ab_test_device_available("opencl:0"))
        cr_skip_test("no OpenCL device: only the CPU path was checked");
    expect_corruption_caught("opencl:0", "portable");
}

Test(gemm_run, a_shape_that_cannot_fit_is_skipped_with_a_reason, .timeout = 300)
{
    ab_run *run = run_and_read("nofit", AB_EXIT_OK,
                               (const char *[]){"--device", "cpu", "--shape", "300000x300000x64,64",
                                                "--dtype", "f64", "--repeat", "3", NULL});
    int nofit = 0, pass = 0;
    for (size_t i = 0; i < run->nresults; i++) {
        const ab_result *r = run->results[i];
        if (strcmp(r->key, "gemm.custom") != 0)
            continue;
        long long m = json_integer_value(json_object_get(r->params, "m"));
        if (m == 300000) {
            cr_expect_eq(r->status, AB_SKIP, "%s: %s", r->impl, ab_status_name(r->status));
            cr_expect(r->reason && strstr(r->reason, "does not fit") && strstr(r->reason, "GB"),
                      "reason: %s", r->reason);
            nofit++;
        } else {
            pass += r->status == AB_PASS;
        }
    }
    cr_expect_geq(nofit, 1);
    cr_expect_geq(pass, 1, "the shape after the one that did not fit still ran");
    ab_run_free(run);
}

/* Bad values: one line on stderr, exit 2, no files. */
Test(gemm_cli, bad_values_are_one_line_errors)
{
    ab_test_expect_usage("gemm", "--dtype: unknown data type 'f33'", (const char *[]){"--dtype", "f33", NULL});
    ab_test_expect_usage("gemm", "--dtype", (const char *[]){"--dtype", "bf16,,f32", NULL});
    ab_test_expect_usage("gemm", "--shape: '12x'", (const char *[]){"--shape", "12x", NULL});
    ab_test_expect_usage("gemm", "--shape: '0'", (const char *[]){"--shape", "0", NULL});
    ab_test_expect_usage("gemm", "--shape: '4096x4096'", (const char *[]){"--shape", "4096x4096", NULL});
    ab_test_expect_usage("gemm", "--shape: 'big'", (const char *[]){"--shape", "big", NULL});
    ab_test_expect_usage("gemm", "--layout: unknown value 'NX'", (const char *[]){"--layout", "NX", NULL});
    ab_test_expect_usage("gemm", "--impl: unknown value 'cublas'", (const char *[]){"--impl", "cublas", NULL});
    ab_test_expect_usage("gemm", "--shape-set: unknown set 'gpt5'",
                       (const char *[]){"--shape-set", "gpt5", NULL});
    ab_test_expect_usage("gemm", "--tokens", (const char *[]){"--tokens", "0", NULL});
    ab_test_expect_usage("gemm", "--shape replaces", (const char *[]){"--shape", "64", "--tokens", "1", NULL});
    ab_test_expect_usage("gemm", "--square-max", (const char *[]){"--square-max", "100", NULL});
    ab_test_expect_usage("gemm", "--gemm-budget", (const char *[]){"--gemm-budget", "-1", NULL});
    ab_test_expect_usage("gemm", "--shape-file", (const char *[]){"--shape-file", "/nonexistent.csv", NULL});
}

/* SPDX-License-Identifier: MIT */
/* The HIP plugin's vendor GEMM without a GPU (issue 5): the rocBLAS loader
 * (suites/gemm/gemm_rocblas.c, the same source the plugin compiles) says why when the library is
 * absent or is not rocBLAS, and the row-major -> column-major mapping gives the right product for
 * every layout, batch, alpha and beta when run against tests/fake_rocblas.c, a stand-in
 * librocblas that computes what rocBLAS documents on host memory. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites/gemm/gemm.h"
#include "suites/gemm/gemm_rocblas.h"

/* the fake's record of its last call (tests/fake_rocblas.c) */
typedef struct fake_call {
    int calls, batched;
    int trans_a, trans_b, m, n, k, a_type, b_type, c_type, d_type, compute_type;
    int lda, ldb, ldc, ldd, batch, algo, solution, flags;
    long long stride_a, stride_b, stride_c, stride_d;
    const void *stream;
} fake_call;

static void open_fake(ab_rocblas_api *api, fake_call **last)
{
    cr_assert_eq(ab_rocblas_open(api, AB_TEST_FAKE_ROCBLAS), 0, "%s", api->why);
    *last = (fake_call *)dlsym(api->dl, "fake_rocblas_last");
    cr_assert_not_null(*last);
}

Test(rocblas_load, missing_library_says_install_rocblas)
{
    unsetenv("ACCELBENCH_ROCBLAS_LIB");
    setenv("ROCM_PATH", AB_TEST_TMP "/no-rocm-here", 1);
    ab_rocblas_api api;
    if (ab_rocblas_open(&api, NULL) == 0) {
        ab_rocblas_close(&api);
        cr_skip_test("a rocBLAS is installed on this machine (%s)", api.path);
    }
    cr_expect(!api.ok);
    cr_expect(strncmp(api.why, "librocblas.so not found: install rocBLAS (ROCm)", 47) == 0,
              "reason '%s'", api.why);
    /* the plugin's instance says the same, and the gemm suite records it as the skip reason */
    const ab_rocblas_api *p = ab_rocblas();
    cr_expect(!p->ok);
    cr_expect_str_eq(p->why, api.why);
}

Test(rocblas_load, explicit_library_is_the_only_one_tried)
{
    setenv("ACCELBENCH_ROCBLAS_LIB", "/nonexistent/librocblas.so.4", 1);
    ab_rocblas_api api;
    cr_expect_eq(ab_rocblas_open(&api, NULL), -1);
    cr_expect(strstr(api.why, "/nonexistent/librocblas.so.4 not loadable") != NULL, "'%s'",
              api.why);
    setenv("ACCELBENCH_ROCBLAS_LIB", AB_TEST_FAKE_ROCBLAS, 1);
    cr_expect_eq(ab_rocblas_open(&api, NULL), 0, "%s", api.why);
    cr_expect_str_eq(api.path, AB_TEST_FAKE_ROCBLAS);
    ab_rocblas_close(&api);
}

Test(rocblas_load, a_library_that_is_not_rocblas)
{
    ab_rocblas_api api;
    cr_expect_eq(ab_rocblas_open(&api, "libm.so.6"), -1);
    cr_expect(strstr(api.why, "libm.so.6 has no rocblas_create_handle") != NULL, "'%s'", api.why);
    cr_expect(!api.ok);
    cr_expect_null(api.dl);
}

Test(rocblas_load, fake_library_version_and_status_names)
{
    ab_rocblas_api api;
    fake_call *last;
    open_fake(&api, &last);
    cr_expect(api.ok);
    cr_expect_str_eq(api.version, "4.9.0.fake");
    char buf[64];
    cr_expect_str_eq(ab_rocblas_status(&api, 2, buf, sizeof(buf)),
                     "rocblas_status_not_implemented");
    /* without rocblas_status_to_string: the rocblas-types.h name, else the number */
    cr_expect_str_eq(ab_rocblas_status(NULL, 15, buf, sizeof(buf)), "rocblas_status_arch_mismatch");
    cr_expect_str_eq(ab_rocblas_status(NULL, 99, buf, sizeof(buf)), "rocblas_status 99");
    ab_rocblas_close(&api);
}

static ab_gemm_op square(ab_gemm_type a, ab_gemm_type c)
{
    return (ab_gemm_op){.a = a,
                        .b = a,
                        .c = c,
                        .m = 64,
                        .n = 64,
                        .k = 64,
                        .lda = 64,
                        .ldb = 64,
                        .ldc = 64,
                        .batch = 1,
                        .alpha = 1.0};
}

Test(rocblas_map, types_and_reasons)
{
    char why[256];
    static const struct {
        ab_gemm_type in, out;
        int rb_in, rb_out, compute;
    } good[] = {
        {AB_GT_F64, AB_GT_F64, AB_RB_F64, AB_RB_F64, AB_RB_F64},
        {AB_GT_F32, AB_GT_F32, AB_RB_F32, AB_RB_F32, AB_RB_F32},
        {AB_GT_BF16, AB_GT_BF16, AB_RB_BF16, AB_RB_BF16, AB_RB_F32},
        {AB_GT_F16, AB_GT_F16, AB_RB_F16, AB_RB_F16, AB_RB_F32},
        {AB_GT_I8, AB_GT_I32, AB_RB_I8, AB_RB_I32, AB_RB_I32},
    };
    /* the rocblas-types.h values (ROCm 5 and 6 headers agree) */
    cr_expect_eq(AB_RB_F16, 150);
    cr_expect_eq(AB_RB_F32, 151);
    cr_expect_eq(AB_RB_F64, 152);
    cr_expect_eq(AB_RB_I8, 160);
    cr_expect_eq(AB_RB_I32, 162);
    cr_expect_eq(AB_RB_BF16, 168);
    cr_expect_eq(AB_RB_OP_N, 111);
    cr_expect_eq(AB_RB_OP_T, 112);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ab_gemm_op op = square(good[i].in, good[i].out);
        ab_rocblas_call c;
        cr_expect_eq(ab_rocblas_map(&op, &c, why), 0, "%s: %s", ab_gemm_type_name(good[i].in), why);
        cr_expect_eq(c.a_type, good[i].rb_in);
        cr_expect_eq(c.b_type, good[i].rb_in);
        cr_expect_eq(c.c_type, good[i].rb_out);
        cr_expect_eq(c.compute_type, good[i].compute);
    }
    ab_gemm_op op = square(AB_GT_BF16, AB_GT_F32); /* the suite's second choice: not ours */
    cr_expect_eq(ab_rocblas_types(&op, why), -1);
    cr_expect(strstr(why, "bf16 products as bf16, not f32") != NULL, "'%s'", why);
    op = square(AB_GT_F32, AB_GT_F32);
    op.tf32 = true;
    cr_expect_eq(ab_rocblas_types(&op, why), -1);
    cr_expect(strstr(why, "no tf32") != NULL, "'%s'", why);
    op = square(AB_GT_E4M3, AB_GT_BF16);
    cr_expect_eq(ab_rocblas_types(&op, why), -1);
    cr_expect(strstr(why, "no fp8") != NULL, "'%s'", why);
    op = square(AB_GT_F16, AB_GT_F16);
    op.b = AB_GT_BF16;
    cr_expect_eq(ab_rocblas_types(&op, why), -1);
    cr_expect(strstr(why, "equal input types") != NULL, "'%s'", why);
    /* rocblas_int is 32 bits */
    op = square(AB_GT_F32, AB_GT_F32);
    op.n = op.ldb = op.ldc = (int64_t)1 << 31;
    ab_rocblas_call c;
    cr_expect_eq(ab_rocblas_map(&op, &c, why), -1);
    cr_expect(strstr(why, "32-bit") != NULL, "'%s'", why);
    op = square(AB_GT_I8, AB_GT_I32);
    op.alpha = 0.5;
    cr_expect_eq(ab_rocblas_map(&op, &c, why), -1);
    cr_expect(strstr(why, "integer alpha") != NULL, "'%s'", why);
}

/* Element (r, col) of a row-major matrix stored rows x cols with leading dimension ld. */
static double rm(ab_gemm_type t, const void *buf, int64_t idx)
{
    switch (t) {
    case AB_GT_F64:
        return ((const double *)buf)[idx];
    case AB_GT_F32:
        return ((const float *)buf)[idx];
    case AB_GT_I8:
        return ((const int8_t *)buf)[idx];
    default:
        return ((const int32_t *)buf)[idx];
    }
}

static void put(ab_gemm_type t, void *buf, int64_t idx, double v)
{
    switch (t) {
    case AB_GT_F64:
        ((double *)buf)[idx] = v;
        break;
    case AB_GT_F32:
        ((float *)buf)[idx] = (float)v;
        break;
    case AB_GT_I8:
        ((int8_t *)buf)[idx] = (int8_t)v;
        break;
    default:
        ((int32_t *)buf)[idx] = (int32_t)v;
        break;
    }
}

/* One product through the mapping and the fake, against the row-major definition in gemm.h. */
static void check_product(ab_rocblas_api *api, fake_call *last, ab_gemm_type in, bool ta, bool tb,
                          int64_t batch)
{
    ab_gemm_type out = in == AB_GT_I8 ? AB_GT_I32 : in;
    const int64_t m = 5, n = 7, k = 3, pad = 2; /* distinct sizes and padded rows catch swaps */
    ab_gemm_op op = {
        .a = in, .b = in, .c = out, .ta = ta, .tb = tb, .m = m, .n = n, .k = k, .batch = batch};
    op.lda = (ta ? m : k) + pad;
    op.ldb = (tb ? k : n) + pad + 1;
    op.ldc = n + pad;
    op.stride_a = (ta ? k : m) * op.lda + 3;
    op.stride_b = (tb ? n : k) * op.ldb + 1;
    op.stride_c = m * op.ldc + 2;
    op.alpha = in == AB_GT_I8 ? 2.0 : 1.5;
    op.beta = in == AB_GT_I8 ? -1.0 : 0.5;
    size_t es = ab_gemm_type_size(in), cs = ab_gemm_type_size(out);
    size_t na = (size_t)(op.stride_a * batch), nb = (size_t)(op.stride_b * batch),
           nc = (size_t)(op.stride_c * batch);
    void *a = calloc(na, es), *b = calloc(nb, es), *c = calloc(nc, cs), *c0 = calloc(nc, cs);
    cr_assert(a && b && c && c0);
    for (size_t i = 0; i < na; i++)
        put(in, a, (int64_t)i, (double)((int)(i * 7 % 11) - 5));
    for (size_t i = 0; i < nb; i++)
        put(in, b, (int64_t)i, (double)((int)(i * 5 % 13) - 6));
    for (size_t i = 0; i < nc; i++)
        put(out, c, (int64_t)i, (double)((int)(i % 9) - 4));
    memcpy(c0, c, nc * cs);

    char why[256];
    ab_rocblas_call call;
    cr_assert_eq(ab_rocblas_map(&op, &call, why), 0, "%s", why);
    ab_rb_handle h = NULL;
    cr_assert_eq(api->create_handle(&h), AB_RB_SUCCESS);
    int calls = last->calls;
    int s = ab_rocblas_gemm(api, h, &call, a, b, c);
    char sb[64];
    cr_assert_eq(s, AB_RB_SUCCESS, "%s %s%s batch %lld: %s", ab_gemm_type_name(in), ta ? "T" : "N",
                 tb ? "T" : "N", (long long)batch, ab_rocblas_status(api, s, sb, sizeof(sb)));
    cr_expect_eq(last->calls, calls + 1);
    cr_expect_eq(last->batched, batch > 1, "batch 1 goes through rocblas_gemm_ex");
    /* column-major C^T = op(B)^T op(A)^T: rocBLAS's m is our N, its first operand our B */
    cr_expect_eq(last->m, n);
    cr_expect_eq(last->n, m);
    cr_expect_eq(last->k, k);
    cr_expect_eq(last->trans_a, tb ? AB_RB_OP_T : AB_RB_OP_N);
    cr_expect_eq(last->trans_b, ta ? AB_RB_OP_T : AB_RB_OP_N);
    cr_expect_eq(last->lda, op.ldb);
    cr_expect_eq(last->ldb, op.lda);
    cr_expect_eq(last->ldc, op.ldc);
    cr_expect_eq(last->ldd, op.ldc);
    cr_expect_eq(last->algo, AB_RB_ALGO_STANDARD);
    cr_expect_eq(last->flags, AB_RB_FLAGS_NONE);
    if (batch > 1) {
        cr_expect_eq(last->batch, batch);
        cr_expect_eq(last->stride_a, op.stride_b);
        cr_expect_eq(last->stride_b, op.stride_a);
        cr_expect_eq(last->stride_c, op.stride_c);
        cr_expect_eq(last->stride_d, op.stride_c);
    }
    /* every element of every batch entry, and nothing outside C's rows touched */
    for (int64_t q = 0; q < batch; q++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < op.ldc; j++) {
                int64_t ci = q * op.stride_c + i * op.ldc + j;
                double want = rm(out, c0, ci);
                if (j < n) {
                    double sum = 0;
                    for (int64_t l = 0; l < k; l++) {
                        int64_t ia = q * op.stride_a + (ta ? l * op.lda + i : i * op.lda + l);
                        int64_t ib = q * op.stride_b + (tb ? j * op.ldb + l : l * op.ldb + j);
                        sum += rm(in, a, ia) * rm(in, b, ib);
                    }
                    want = op.alpha * sum + op.beta * want;
                }
                cr_expect_eq(rm(out, c, ci), want,
                             "%s %s%s batch %lld: C[%lld](%lld,%lld) = %g, "
                             "want %g",
                             ab_gemm_type_name(in), ta ? "T" : "N", tb ? "T" : "N",
                             (long long)batch, (long long)q, (long long)i, (long long)j,
                             rm(out, c, ci), want);
            }
    api->destroy_handle(h);
    free(a), free(b), free(c), free(c0);
}

Test(rocblas_map, row_major_products_every_layout_and_batch)
{
    ab_rocblas_api api;
    fake_call *last;
    open_fake(&api, &last);
    const ab_gemm_type types[] = {AB_GT_F64, AB_GT_F32, AB_GT_I8};
    for (size_t t = 0; t < 3; t++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int64_t batch = 1; batch <= 3; batch += 2)
                    check_product(&api, last, types[t], ta, tb, batch);
    ab_rocblas_close(&api);
}

/* ---- the HIP plugin itself: its vendor GEMM table answers without a GPU --------------------- */
#ifdef AB_TEST_HIP_PLUGIN
#include "backends/backend.h"

static const ab_gemm_impl *plugin_vendor_gemm(void)
{
    void *h = dlopen(AB_TEST_HIP_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    const ab_backend_ops *(*entry)(void) =
        (const ab_backend_ops *(*)(void))dlsym(h, "ab_backend_plugin_hip");
    cr_assert_not_null(entry);
    cr_assert_null(dlsym(h, "ab_rocblas_open"), "the plugin exports its rocBLAS helpers");
    const ab_suite_impls *impls = entry()->impls;
    cr_assert_not_null(impls);
    const ab_gemm_backend *gb = impls->gemm;
    cr_assert_not_null(gb);
    cr_assert_not_null(gb->impl[AB_GEMM_VENDOR], "no vendor gemm: %s", gb->absent[AB_GEMM_VENDOR]);
    cr_expect_str_eq(gb->impl[AB_GEMM_VENDOR]->name, "vendor");
    return gb->impl[AB_GEMM_VENDOR];
}

Test(rocblas_plugin, vendor_gemm_skips_with_install_reason_when_rocblas_is_missing)
{
    unsetenv("ACCELBENCH_ROCBLAS_LIB");
    setenv("ROCM_PATH", AB_TEST_TMP "/no-rocm-here", 1);
    ab_rocblas_api probe;
    if (ab_rocblas_open(&probe, NULL) == 0) {
        ab_rocblas_close(&probe);
        cr_skip_test("a rocBLAS is installed on this machine (%s)", probe.path);
    }
    const ab_gemm_impl *v = plugin_vendor_gemm();
    ab_gemm_op op = square(AB_GT_BF16, AB_GT_BF16);
    char why[256] = "";
    cr_expect_eq(v->dtype_ok(NULL, &op, why), -1);
    cr_expect(strncmp(why, "librocblas.so not found: install rocBLAS (ROCm)", 47) == 0, "'%s'",
              why);
}

Test(rocblas_plugin, vendor_gemm_types_with_a_rocblas)
{
    setenv("ACCELBENCH_ROCBLAS_LIB", AB_TEST_FAKE_ROCBLAS, 1);
    const ab_gemm_impl *v = plugin_vendor_gemm();
    char why[256] = "";
    ab_gemm_op op = square(AB_GT_BF16, AB_GT_BF16);
    cr_expect_eq(v->dtype_ok(NULL, &op, why), 0, "%s", why);
    cr_expect_eq(v->supports(NULL, &op, why), 0, "%s", why);
    op = square(AB_GT_I8, AB_GT_I32);
    cr_expect_eq(v->dtype_ok(NULL, &op, why), 0, "%s", why);
    op = square(AB_GT_E4M3, AB_GT_BF16);
    cr_expect_eq(v->dtype_ok(NULL, &op, why), -1);
    cr_expect(strstr(why, "no fp8") != NULL, "'%s'", why);
}
#endif

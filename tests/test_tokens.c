/* SPDX-License-Identifier: MIT */
/* The tokens suite's model accounting: parameters, FLOPs and bytes per token. */
#include <criterion/criterion.h>
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

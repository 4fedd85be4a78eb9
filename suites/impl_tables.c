/* SPDX-License-Identifier: MIT */
/* Which suites each statically built backend implements (plugins answer for themselves). */
#include <string.h>

#include "membw/membw.h"
#include "attention/attention.h"
#include "gemm/gemm.h"
#include "tokens/tokens.h"

extern const ab_membw_impl ab_membw_cpu;
extern const ab_gemm_backend ab_gemm_cpu;
extern const ab_attn_impl ab_attention_cpu;
extern const ab_tok_ops ab_tokens_cpu;

const void *ab_cpu_suite_impl(const char *suite);
const void *ab_cpu_suite_impl(const char *suite)
{
    if (strcmp(suite, "membw") == 0)
        return &ab_membw_cpu;
    if (strcmp(suite, "gemm") == 0)
        return &ab_gemm_cpu;
    if (strcmp(suite, "attention") == 0)
        return &ab_attention_cpu;
    if (strcmp(suite, "tokens") == 0)
        return &ab_tokens_cpu;
    return NULL;
}

#ifdef AB_HAVE_OPENCL
extern const ab_membw_impl ab_membw_opencl;
extern const ab_gemm_backend ab_gemm_opencl;
extern const ab_attn_impl ab_attention_opencl;
extern const ab_tok_ops ab_tokens_opencl;

const void *ab_opencl_suite_impl(const char *suite);
const void *ab_opencl_suite_impl(const char *suite)
{
    if (strcmp(suite, "membw") == 0)
        return &ab_membw_opencl;
    if (strcmp(suite, "gemm") == 0)
        return &ab_gemm_opencl;
    if (strcmp(suite, "attention") == 0)
        return &ab_attention_opencl;
    if (strcmp(suite, "tokens") == 0)
        return &ab_tokens_opencl;
    return NULL;
}
#endif

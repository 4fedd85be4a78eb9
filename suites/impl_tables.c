/* SPDX-License-Identifier: MIT */
/* The kernel tables of the statically built backends, one member per suite (backend.h,
 * ab_suite_impls); the CUDA/HIP plugins declare theirs in backends/gpu/gpu_backend.cu. */
#include "../backends/backend.h"
#include "membw/membw.h"
#include "attention/attention.h"
#include "gemm/gemm.h"
#include "tokens/tokens.h"
#include "train/train.h"
#include "collectives/collectives.h"

extern const ab_membw_impl ab_membw_cpu;
extern const ab_gemm_backend ab_gemm_cpu;
extern const ab_attn_impl ab_attention_cpu;
extern const ab_tok_ops ab_tokens_cpu;
extern const ab_train_ops ab_train_cpu;

extern const ab_suite_impls ab_cpu_suite_impls;
const ab_suite_impls ab_cpu_suite_impls = {
    .membw = &ab_membw_cpu,
    .gemm = &ab_gemm_cpu,
    .attention = &ab_attention_cpu,
    .tokens = &ab_tokens_cpu,
    .train = &ab_train_cpu,
    .collectives = &ab_coll_threads,
};

#ifdef AB_HAVE_OPENCL
extern const ab_membw_impl ab_membw_opencl;
extern const ab_gemm_backend ab_gemm_opencl;
extern const ab_attn_impl ab_attention_opencl;
extern const ab_tok_ops ab_tokens_opencl;
extern const ab_train_ops ab_train_opencl;

extern const ab_suite_impls ab_opencl_suite_impls;
const ab_suite_impls ab_opencl_suite_impls = {
    .membw = &ab_membw_opencl,
    .gemm = &ab_gemm_opencl,
    .attention = &ab_attention_opencl,
    .tokens = &ab_tokens_opencl,
    .train = &ab_train_opencl,
};
#endif

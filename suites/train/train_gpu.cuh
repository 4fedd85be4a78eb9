/* SPDX-License-Identifier: MIT */
/* The training step's attention on CUDA and HIP (train_attn_gpu.cu), called from the kernel table
 * in train_gpu.cu. Same contract as train.h's attn_fwd / attn_bwd / attn_bwd_work. */
#ifndef AB_TRAIN_GPU_CUH
#define AB_TRAIN_GPU_CUH

#include "train.h"

#include <stddef.h>

int ab_train_gpu_attn_fwd(void *dev, const ab_train_attn *a, const void *qkv, void *o, void *lse,
                          char *err);
int ab_train_gpu_attn_bwd(void *dev, const ab_train_attn *a, const void *qkv, const void *o,
                          const void *lse, const void *dout, void *dqkv, void *work, char *err);
size_t ab_train_gpu_attn_bwd_work(void *dev, const ab_train_attn *a);
/* 0, or -1 with the reason in err: the head_dim and grid limits of the attention kernels */
int ab_train_gpu_attn_check(const ab_train_attn *a, char *err);

#endif

/* SPDX-License-Identifier: MIT */
/* The CPU training kernels' shared declarations (train_cpu.c, train_attn_cpu.c). */
#ifndef AB_TRAIN_CPU_H
#define AB_TRAIN_CPU_H

#include "train.h"

#define AB_TRAIN_MAX_DH 256 /* largest head_dim the CPU kernels take */
#define AB_TRAIN_BQ     64  /* query rows per attention tile */
#define AB_TRAIN_BK     64  /* keys per attention tile */
#define AB_XSTR(x)      #x
#define AB_STR(x)       AB_XSTR(x)

int ab_train_cpu_attn_fwd(void *dev, const ab_train_attn *a, const void *qkv, void *o, void *lse,
                          char *err);
int ab_train_cpu_attn_bwd(void *dev, const ab_train_attn *a, const void *qkv, const void *o,
                          const void *lse, const void *dout, void *dqkv, void *work, char *err);
size_t ab_train_cpu_attn_bwd_work(void *dev, const ab_train_attn *a);

#endif

/* SPDX-License-Identifier: MIT */
/* The composed attention of attention_pjrt.c as a piece of a larger program (the tokens suite's
 * decoder step, suites/tokens/tokens_pjrt.c). Inside libaccelbench-pjrt.so only. */
#ifndef AB_ATTENTION_PJRT_H
#define AB_ATTENTION_PJRT_H

#include "../../backends/stablehlo.h"
#include "attention.h"

/* Emits O = softmax(scale Q K^T [causal mask]) V of q [B][H][Sq][Dh], k and v [B][G][Skv][Dh]
 * (SSA names, element type dt) into s; the name of O ([B][H][Sq][Dh], dt) into out
 * (AB_SHLO_NAME bytes). The same operations as the attention suite's looped program. */
void ab_attn_pjrt_emit(ab_shlo *s, const ab_attn_shape *sh, ab_attn_dtype dt, const char *q,
                       const char *k, const char *v, char *out);

#endif

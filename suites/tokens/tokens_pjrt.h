/* SPDX-License-Identifier: MIT */
/*
 * The tokens suite on PJRT, inside libaccelbench-pjrt.so: tokens_pjrt.c is the kernel table (fill,
 * the whole-step hook of tokens.h), tokens_pjrt_prog.c writes the programs.
 *
 * The looped layers program's arrays: h, y, the rotary tables cos and sin ([seq][Dh/2] f32, for
 * positions pos0 ..), then per layer the six weights in ab_tok_step_bufs order and the K and V
 * caches. Results: h, y, then each layer's K and V caches. The head program's arrays: h, y, the
 * final norm, the LM head, the logits; result: the logits.
 */
#ifndef AB_TOKENS_PJRT_H
#define AB_TOKENS_PJRT_H

#include "../../backends/pjrt.h"
#include "../../backends/stablehlo.h"
#include "tokens.h"

#include <stdlib.h>

enum { TP_H = 0, TP_Y, TP_COS, TP_SIN, TP_LAYER0 };
enum { TP_WQKV = 0, TP_WO, TP_WGU, TP_WDOWN, TP_N1, TP_N2, TP_KC, TP_VC, TP_PER_LAYER };

typedef struct tp_shape {
    ab_tok_step_shape s;
    int nl;                   /* layers in this program: s.layers, or 1 (layer 0, validation) */
    const char *wt, *ot, *kt; /* MLIR element types */
} tp_shape;

/* The shape (returned: the rank) and ab_tok_type of array idx of the layers program (idx <
 * TP_LAYER0 + TP_PER_LAYER * nl), of the head program (idx < 5). */
int tp_layer_dims(const tp_shape *p, int idx, int64_t dims[4], int *type);
int tp_head_dims(const tp_shape *p, int idx, int64_t dims[2], int *type);
/* The programs' text (caller frees), NULL when out of memory. */
char *tp_layers_text(const tp_shape *p);
char *tp_head_text(const tp_shape *p);

#endif

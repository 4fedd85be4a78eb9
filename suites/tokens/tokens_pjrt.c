/* SPDX-License-Identifier: MIT */
/*
 * tokens on PJRT: the test-pattern fill and the whole-step hook of tokens.h. A phase gets three
 * looped programs (tokens_pjrt_prog.c): its k layers, layer 0 alone (validation) and the head,
 * each timed as one launch by the loop-in-program method with the R = 0 overhead subtracted,
 * like every suite on this backend. The per-op kernels of ab_tok_ops are absent: as separate
 * launches they would time launch overhead, and the timer takes one launch per interval.
 */
#include "tokens_pjrt.h"

#include "../attention/attention.h" /* ab_attn_gen, ab_f32_to_bf16 */

#include <math.h>
#include <stdio.h>
#include <string.h>

static PJRT_Buffer_Type ptype(int t)
{
    return t == AB_TT_BF16 ? PJRT_Buffer_Type_BF16 : PJRT_Buffer_Type_F32;
}

static const char *et(int t)
{
    return t == AB_TT_BF16 ? "bf16" : "f32";
}

static int tp_fill(void *dev, void *buf, ab_tok_type t, size_t n, uint64_t seed, float amp,
                   char *err)
{
    size_t es = ab_tok_type_size(t);
    unsigned char *h = malloc(n ? n * es : 1);
    if (!h) return ab_pjrt_err(err, "out of host memory");
    for (size_t i = 0; i < n; i++) {
        float v = ab_attn_gen(seed, i, amp);
        if (t == AB_TT_BF16)
            ((uint16_t *)h)[i] = ab_f32_to_bf16(v);
        else
            ((float *)h)[i] = v;
    }
    int64_t dims[1] = {(int64_t)n};
    int rc = ab_pjrt_mem_set(dev, buf, ptype(t), dims, 1, h, err);
    free(h);
    return rc;
}

static const char *tp_describe_dev(void *dev)
{
    (void)dev;
    return "StableHLO: the k layers of a step in one looped program, the head in another";
}

typedef struct tp_plan {
    ab_pjrt_dev *d;
    tp_shape all, one; /* the k layers; layer 0 alone */
    ab_tok_step_bufs b;
    void **w, **kc, **vc; /* copies of the caller's handle lists */
    ab_pjrt_mem rope[2];  /* cos, sin */
    ab_pjrt_exe *xall, *xone, *xhead;
    char what[384];
} tp_plan;

static int tp_types(void *dev, int wt, int *ot, int *kt, char *why)
{
    (void)dev, (void)why;
    *ot = wt, *kt = wt; /* dot_general writes wt (f32 accumulation), attention computes in it */
    return 0;
}

/* array idx of the layers program of nl layers */
static ab_pjrt_mem *layer_arg(tp_plan *P, int idx)
{
    if (idx < TP_LAYER0)
        return idx == TP_H ? P->b.h : idx == TP_Y ? P->b.y : &P->rope[idx - TP_COS];
    int i = (idx - TP_LAYER0) / TP_PER_LAYER, j = (idx - TP_LAYER0) % TP_PER_LAYER;
    return j == TP_KC ? P->kc[i] : j == TP_VC ? P->vc[i] : P->w[6 * i + j];
}

/* args[] of the layers program of sh, each given its shape (a no-op once it has it: fills and
 * --test-corrupt write flat arrays); outs[]: h, y, each layer's caches */
static int layer_args(tp_plan *P, const tp_shape *sh, ab_pjrt_mem **args, ab_pjrt_mem **outs,
                      char *err)
{
    int n = TP_LAYER0 + TP_PER_LAYER * sh->nl;
    for (int i = 0; i < n; i++) {
        int64_t dims[4];
        int t, r = tp_layer_dims(sh, i, dims, &t);
        args[i] = layer_arg(P, i);
        if (ab_pjrt_mem_set(P->d, args[i], ptype(t), dims, r, NULL, err) != 0) return -1;
    }
    outs[0] = args[TP_H], outs[1] = args[TP_Y];
    for (int i = 0; i < sh->nl; i++) {
        outs[2 + 2 * i] = args[TP_LAYER0 + TP_PER_LAYER * i + TP_KC];
        outs[3 + 2 * i] = args[TP_LAYER0 + TP_PER_LAYER * i + TP_VC];
    }
    return 0;
}

static int head_args(tp_plan *P, ab_pjrt_mem **args, char *err)
{
    void *m[5] = {P->b.h, P->b.y, P->b.nf, P->b.head, P->b.logits};
    for (int i = 0; i < 5; i++) {
        int64_t dims[2];
        int t, r = tp_head_dims(&P->all, i, dims, &t);
        args[i] = m[i];
        if (ab_pjrt_mem_set(P->d, args[i], ptype(t), dims, r, NULL, err) != 0) return -1;
    }
    return 0;
}

static int tp_layers(void *plan, bool all, long iters, char *err)
{
    tp_plan *P = plan;
    const tp_shape *sh = all ? &P->all : &P->one;
    int n = TP_LAYER0 + TP_PER_LAYER * sh->nl, nout = 2 + 2 * sh->nl;
    ab_pjrt_mem **args = calloc((size_t)(n + nout), sizeof(*args));
    if (!args) return ab_pjrt_err(err, "out of memory");
    int rc = layer_args(P, sh, args, args + n, err);
    if (rc == 0) rc = ab_pjrt_run(P->d, all ? P->xall : P->xone, iters, args, n, args + n, err);
    free(args);
    return rc;
}

static int tp_head(void *plan, long iters, char *err)
{
    tp_plan *P = plan;
    ab_pjrt_mem *args[5];
    if (head_args(P, args, err) != 0) return -1;
    return ab_pjrt_run(P->d, P->xhead, iters, args, 5, &args[4], err);
}

static void tp_release(void *plan)
{
    tp_plan *P = plan;
    if (!P) return;
    ab_pjrt_sync(P->d, NULL);
    for (int i = 0; i < 2; i++)
        ab_pjrt_mem_drop(P->d, &P->rope[i]);
    free(P->w), free(P->kc), free(P->vc);
    free(P); /* the programs stay in the device's cache */
}

/* the rotary tables of positions pos0 .. pos0 + seq - 1, computed in double, stored f32 */
static int rope_tables(tp_plan *P, char *err)
{
    const ab_tok_step_shape *m = &P->all.s;
    const int half = m->head_dim / 2;
    size_t n = (size_t)m->seq * (size_t)half;
    float *c = malloc(n * sizeof(float)), *s = malloc(n * sizeof(float));
    int rc = c && s ? 0 : ab_pjrt_err(err, "out of host memory");
    for (int p = 0; rc == 0 && p < m->seq; p++)
        for (int i = 0; i < half; i++) {
            double ang = (double)(m->pos0 + p) * pow(AB_TOK_ROPE_THETA, -2.0 * i / m->head_dim);
            c[(size_t)p * half + i] = (float)cos(ang);
            s[(size_t)p * half + i] = (float)sin(ang);
        }
    int64_t dims[2] = {m->seq, half};
    for (int i = 0; rc == 0 && i < 2; i++) {
        P->rope[i].bytes = n * sizeof(float);
        rc = ab_pjrt_mem_set(P->d, &P->rope[i], PJRT_Buffer_Type_F32, dims, 2, i ? s : c, err);
    }
    free(c), free(s);
    return rc;
}

/* compiles one program (and measures nothing yet: the overhead on its first run) */
static int compile(tp_plan *P, char *text, ab_pjrt_exe **x, int nout, char *err)
{
    int rc =
        text ? ab_pjrt_program(P->d, text, true, nout, x, err) : ab_pjrt_err(err, "out of memory");
    free(text);
    return rc;
}

static int copy_bufs(tp_plan *P, const ab_tok_step_bufs *b, int k, char *err)
{
    P->b = *b;
    P->w = malloc((size_t)(6 * k) * sizeof(void *));
    P->kc = malloc((size_t)k * sizeof(void *));
    P->vc = malloc((size_t)k * sizeof(void *));
    if (!P->w || !P->kc || !P->vc) return ab_pjrt_err(err, "out of memory");
    memcpy(P->w, b->w, (size_t)(6 * k) * sizeof(void *));
    memcpy(P->kc, b->kc, (size_t)k * sizeof(void *));
    memcpy(P->vc, b->vc, (size_t)k * sizeof(void *));
    return 0;
}

static int tp_prepare(void *dev, const ab_tok_step_shape *s, const ab_tok_step_bufs *b, void **plan,
                      char *err)
{
    *plan = NULL;
    if (s->layers < 1 || s->head_dim % 2) return ab_pjrt_err(err, "pjrt: impossible step shape");
    tp_plan *P = calloc(1, sizeof(*P));
    if (!P) return ab_pjrt_err(err, "out of memory");
    P->d = dev;
    P->all =
        (tp_shape){.s = *s, .nl = s->layers, .wt = et(s->wt), .ot = et(s->ot), .kt = et(s->kt)};
    P->one = P->all;
    P->one.nl = 1;
    int rc = copy_bufs(P, b, s->layers, err);
    if (rc == 0) rc = rope_tables(P, err);
    if (rc == 0) { /* the logits: the head loop's initial value */
        size_t bytes = (size_t)s->head_rows * (size_t)s->vocab * ab_tok_type_size(s->ot);
        void *z = calloc(1, bytes);
        int64_t dims[2] = {s->head_rows, s->vocab};
        rc = z ? ab_pjrt_mem_set(dev, b->logits, ptype(s->ot), dims, 2, z, err)
               : ab_pjrt_err(err, "out of host memory");
        free(z);
    }
    if (rc == 0) rc = compile(P, tp_layers_text(&P->all), &P->xall, 2 + 2 * s->layers, err);
    if (rc == 0) rc = compile(P, tp_layers_text(&P->one), &P->xone, 4, err);
    if (rc == 0) rc = compile(P, tp_head_text(&P->all), &P->xhead, 1, err);
    /* every array in its program's shape now, so no timed launch reshapes one */
    ab_pjrt_mem *args[TP_LAYER0 + TP_PER_LAYER], *outs[4], *hargs[5];
    if (rc == 0) rc = layer_args(P, &P->one, args, outs, err);
    if (rc == 0) rc = head_args(P, hargs, err);
    for (int i = 1; rc == 0 && i < s->layers; i++) {
        tp_shape li = P->one; /* layer i's arrays are shaped like layer 0's */
        for (int j = 0; j < TP_PER_LAYER && rc == 0; j++) {
            int64_t dims[4];
            int t, r = tp_layer_dims(&li, TP_LAYER0 + j, dims, &t);
            rc = ab_pjrt_mem_set(dev, layer_arg(P, TP_LAYER0 + TP_PER_LAYER * i + j), ptype(t),
                                 dims, r, NULL, err);
        }
    }
    if (rc != 0) {
        tp_release(P);
        return -1;
    }
    snprintf(P->what, sizeof(P->what),
             "one StableHLO program for the %d layers of a step (add + RMSNorm, QKV "
             "dot_general, RoPE, K/V into the cache by dynamic_update_slice, composed "
             "attention, output projection, SwiGLU MLP), one for the final norm and LM head; "
             "compiled by the plugin's XLA (%s), %s",
             s->layers, ab_pjrt_platform(dev),
             s->wt == AB_TT_F32 ? "f32 dot_general at precision HIGHEST"
                                : "bf16 dot_general accumulating in f32");
    *plan = P;
    return 0;
}

static const char *tp_describe(void *plan)
{
    return ((const tp_plan *)plan)->what;
}

static const ab_tok_step_ops tp_step = {
    .types = tp_types,
    .prepare = tp_prepare,
    .layers = tp_layers,
    .head = tp_head,
    .release = tp_release,
    .describe = tp_describe,
};

const ab_tok_ops ab_tokens_pjrt = {
    .fill = tp_fill,
    .describe = tp_describe_dev,
    .step = &tp_step,
};

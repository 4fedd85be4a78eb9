/* SPDX-License-Identifier: MIT */
/*
 * The tokens suite's programs on PJRT (tokens_pjrt.h): k decoder layers in one looped StableHLO
 * program, and the final norm with the LM head in another. Each layer is the per-op path of
 * step.c written as one function body (tokens.h, ab_tok_step_ops): f32 arithmetic, GEMM
 * outputs rounded to ot, queries and caches to kt, GEMM inputs to wt, at the same points as
 * the other backends' kernels, so the same fp64 reference and tolerances validate it.
 */
#include "tokens_pjrt.h"

#include "../attention/attention_pjrt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef char name_t[AB_SHLO_NAME];
typedef char type_t[AB_SHLO_TYPE];

static const char *et(int t)
{
    return t == AB_TT_BF16 ? "bf16" : "f32";
}

/* "a, b, c" of n integers */
static const char *ilist(char *buf, size_t len, const int64_t *v, int n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)v[i]);
    return buf;
}

/* a[start .. limit) of tin into tout */
static void slice(ab_shlo *s, char *out, const char *a, const char *tin, const char *tout,
                  const int64_t *start, const int64_t *limit, int rank)
{
    char l0[96], l1[96], l2[96];
    int64_t one[AB_PJRT_MAX_DIMS] = {1, 1, 1, 1, 1};
    name_t r;
    ab_shlo_fresh(s, r);
    ab_shlo_line(s,
                 "%s = \"stablehlo.slice\"(%s) {start_indices = array<i64: %s>, limit_indices = "
                 "array<i64: %s>, strides = array<i64: %s>} : (%s) -> %s",
                 r, a, ilist(l0, sizeof(l0), start, rank), ilist(l1, sizeof(l1), limit, rank),
                 ilist(l2, sizeof(l2), one, rank), tin, tout);
    memcpy(out, r, AB_SHLO_NAME);
}

static void transpose(ab_shlo *s, char *out, const char *a, const char *tin, const char *tout,
                      const int64_t *perm, int rank)
{
    char l[96];
    name_t r;
    ab_shlo_fresh(s, r);
    ab_shlo_line(s, "%s = \"stablehlo.transpose\"(%s) {permutation = array<i64: %s>} : (%s) -> %s",
                 r, a, ilist(l, sizeof(l), perm, rank), tin, tout);
    memcpy(out, r, AB_SHLO_NAME);
}

/* a converted from element type `from` to `to` (no operation when they are the same) */
static void convert(ab_shlo *s, char *a, const int64_t *dims, int rank, const char *from,
                    const char *to)
{
    if (strcmp(from, to) == 0) return;
    type_t ti, to_;
    ab_shlo_unary(s, a, "convert", a, ab_shlo_type(ti, from, dims, rank),
                  ab_shlo_type(to_, to, dims, rank));
}

/* f32 constant of type t */
static void fconst(ab_shlo *s, char *out, const char *t, double v)
{
    char lit[40];
    snprintf(lit, sizeof(lit), "%.9e", v);
    ab_shlo_const(s, out, t, lit);
}

/* x [rows][D] (type wt) = h / rms(h) * w, h [rows][D] f32, w [D] wt */
static void rmsnorm(ab_shlo *s, const tp_shape *p, const char *h, const char *w, long rows, char *x)
{
    const ab_tok_step_shape *m = &p->s;
    int64_t d2[2] = {rows, m->d_model}, d1[1] = {rows}, dw[1] = {m->d_model}, keep0 = 0, keep1 = 1;
    int64_t red = 1;
    type_t t2, t1, tw;
    ab_shlo_type(t2, "f32", d2, 2);
    ab_shlo_type(t1, "f32", d1, 1);
    ab_shlo_type(tw, "f32", dw, 1);
    name_t sq, init, ss, c, inv, wf;
    ab_shlo_binary(s, sq, "multiply", h, h, t2);
    ab_shlo_const(s, init, "tensor<f32>", "0.0");
    ab_shlo_reduce(s, ss, "add", sq, t2, init, "f32", t1, &red, 1);
    fconst(s, c, t1, (double)m->d_model);
    ab_shlo_binary(s, ss, "divide", ss, c, t1);
    fconst(s, c, t1, (double)m->eps);
    ab_shlo_binary(s, ss, "add", ss, c, t1);
    ab_shlo_unary(s, inv, "rsqrt", ss, t1, t1);
    ab_shlo_broadcast(s, inv, inv, t1, t2, &keep0, 1);
    memcpy(wf, w, AB_SHLO_NAME);
    convert(s, wf, dw, 1, p->wt, "f32");
    ab_shlo_broadcast(s, wf, wf, tw, t2, &keep1, 1);
    ab_shlo_binary(s, x, "multiply", h, inv, t2);
    ab_shlo_binary(s, x, "multiply", x, wf, t2);
    convert(s, x, d2, 2, "f32", p->wt);
}

/* out [rows][n] (ot) = x [rows][k] (wt) . W^T, W [n][k] (wt), times 1/sqrt(k) */
static void linear(ab_shlo *s, const tp_shape *p, const char *x, const char *w, long rows, long n,
                   long k, char *out)
{
    int64_t dx[2] = {rows, k}, dw[2] = {n, k}, dy[2] = {rows, n};
    type_t tx, tw, ty;
    ab_shlo_type(tx, p->wt, dx, 2);
    ab_shlo_type(tw, p->wt, dw, 2);
    ab_shlo_type(ty, "f32", dy, 2);
    ab_shlo_dot dd = {.lc = {1}, .rc = {1}, .highest = strcmp(p->wt, "f32") == 0};
    name_t a;
    ab_shlo_dot_general(s, out, x, tx, w, tw, ty, &dd);
    fconst(s, a, ty, 1.0 / sqrt((double)k));
    ab_shlo_binary(s, out, "multiply", out, a, ty);
    convert(s, out, dy, 2, "f32", p->ot);
}

/* h += y (y [rows][D] in ot) */
static void residual(ab_shlo *s, const tp_shape *p, char *h, const char *y, long rows)
{
    int64_t d[2] = {rows, p->s.d_model};
    type_t t;
    name_t yf;
    memcpy(yf, y, AB_SHLO_NAME);
    convert(s, yf, d, 2, p->ot, "f32");
    ab_shlo_binary(s, h, "add", h, yf, ab_shlo_type(t, "f32", d, 2));
}

/* qkv [T][QKV] (ot) -> rotated q [B][H][seq][Dh], k and v [B][G][seq][Dh] (kt) */
static void rope(ab_shlo *s, const tp_shape *p, const char *qkv, const char *cs, const char *sn,
                 char *q, char *k, char *v)
{
    const ab_tok_step_shape *m = &p->s;
    const int64_t B = m->batch, S = m->seq, H = m->heads, G = m->kv_heads, Dh = m->head_dim;
    const int64_t half = Dh / 2, T = B * S, QKV = (H + 2 * G) * Dh;
    int64_t d2[2] = {T, QKV}, d4[4] = {B, S, H + 2 * G, Dh}, dqk[4] = {B, S, H + G, Dh};
    int64_t dh[4] = {B, S, H + G, half}, dcs[2] = {S, half}, bd[2] = {1, 3};
    int64_t dq[4] = {B, S, H, Dh}, dk[4] = {B, S, G, Dh}, perm[4] = {0, 2, 1, 3};
    int64_t tq[4] = {B, H, S, Dh}, tk[4] = {B, G, S, Dh};
    type_t t2, t4, tqk, th, tcs, tdq, tdk, ttq, ttk;
    ab_shlo_type(t2, "f32", d2, 2);
    ab_shlo_type(t4, "f32", d4, 4);
    ab_shlo_type(tqk, "f32", dqk, 4);
    ab_shlo_type(th, "f32", dh, 4);
    ab_shlo_type(tcs, "f32", dcs, 2);
    ab_shlo_type(tdq, "f32", dq, 4);
    ab_shlo_type(tdk, "f32", dk, 4);
    ab_shlo_type(ttq, "f32", tq, 4);
    ab_shlo_type(ttk, "f32", tk, 4);
    name_t x, a, x1, x2, cb, sb, r1, r2, t, rot;
    memcpy(x, qkv, AB_SHLO_NAME);
    convert(s, x, d2, 2, p->ot, "f32");
    ab_shlo_unary(s, x, "reshape", x, t2, t4);
    int64_t z[4] = {0, 0, 0, 0}, lqk[4] = {B, S, H + G, Dh}, sv[4] = {0, 0, H + G, 0};
    int64_t lv[4] = {B, S, H + 2 * G, Dh}, l1[4] = {B, S, H + G, half}, s2[4] = {0, 0, 0, half};
    slice(s, a, x, t4, tqk, z, lqk, 4);
    slice(s, v, x, t4, tdk, sv, lv, 4);
    slice(s, x1, a, tqk, th, z, l1, 4);
    slice(s, x2, a, tqk, th, s2, lqk, 4);
    ab_shlo_broadcast(s, cb, cs, tcs, th, bd, 2);
    ab_shlo_broadcast(s, sb, sn, tcs, th, bd, 2);
    ab_shlo_binary(s, r1, "multiply", x1, cb, th); /* x1 cos - x2 sin */
    ab_shlo_binary(s, t, "multiply", x2, sb, th);
    ab_shlo_binary(s, r1, "subtract", r1, t, th);
    ab_shlo_binary(s, r2, "multiply", x1, sb, th); /* x1 sin + x2 cos */
    ab_shlo_binary(s, t, "multiply", x2, cb, th);
    ab_shlo_binary(s, r2, "add", r2, t, th);
    ab_shlo_fresh(s, rot);
    ab_shlo_line(s, "%s = \"stablehlo.concatenate\"(%s, %s) {dimension = 3 : i64} : (%s, %s) -> %s",
                 rot, r1, r2, th, th, tqk);
    int64_t lq[4] = {B, S, H, Dh}, sk[4] = {0, 0, H, 0};
    slice(s, q, rot, tqk, tdq, z, lq, 4);
    slice(s, k, rot, tqk, tdk, sk, lqk, 4);
    transpose(s, q, q, tdq, ttq, perm, 4);
    transpose(s, k, k, tdk, ttk, perm, 4);
    transpose(s, v, v, tdk, ttk, perm, 4);
    convert(s, q, tq, 4, "f32", p->kt);
    convert(s, k, tk, 4, "f32", p->kt);
    convert(s, v, tk, 4, "f32", p->kt);
}

/* cache [B][G][C][Dh] with the new [B][G][seq][Dh] at position pos0 */
static void cache_update(ab_shlo *s, const tp_shape *p, char *cache, const char *upd)
{
    const ab_tok_step_shape *m = &p->s;
    int64_t dc[4] = {m->batch, m->kv_heads, m->cache_len, m->head_dim};
    int64_t du[4] = {m->batch, m->kv_heads, m->seq, m->head_dim};
    type_t tc, tu;
    ab_shlo_type(tc, p->kt, dc, 4);
    ab_shlo_type(tu, p->kt, du, 4);
    name_t zero, pos, r;
    char lit[32];
    ab_shlo_const(s, zero, "tensor<i64>", "0");
    snprintf(lit, sizeof(lit), "%ld", m->pos0);
    ab_shlo_const(s, pos, "tensor<i64>", lit);
    ab_shlo_fresh(s, r);
    ab_shlo_line(s,
                 "%s = \"stablehlo.dynamic_update_slice\"(%s, %s, %s, %s, %s, %s) : (%s, %s, "
                 "tensor<i64>, tensor<i64>, tensor<i64>, tensor<i64>) -> %s",
                 r, cache, upd, zero, zero, pos, zero, tc, tu, tc);
    memcpy(cache, r, AB_SHLO_NAME);
}

/* the attention of q against the caches, gathered to [T][Q] in wt */
static void attention(ab_shlo *s, const tp_shape *p, const char *q, const char *kc, const char *vc,
                      char *xo)
{
    const ab_tok_step_shape *m = &p->s;
    const int64_t B = m->batch, S = m->seq, H = m->heads, Dh = m->head_dim;
    ab_attn_shape as = {.batch = m->batch,
                        .heads = m->heads,
                        .kv_heads = m->kv_heads,
                        .head_dim = m->head_dim,
                        .q_len = m->seq,
                        .kv_len = m->cache_len,
                        .causal = m->seq > 1,
                        .scale = (float)(1.0 / sqrt((double)m->head_dim))};
    name_t o;
    ab_attn_pjrt_emit(s, &as, m->kt == AB_TT_BF16 ? AB_ATTN_BF16 : AB_ATTN_F32, q, kc, vc, o);
    int64_t d4[4] = {B, H, S, Dh}, g4[4] = {B, S, H, Dh}, d2[2] = {B * S, H * Dh};
    int64_t perm[4] = {0, 2, 1, 3};
    type_t t4, tg, t2;
    ab_shlo_type(t4, p->kt, d4, 4);
    ab_shlo_type(tg, p->kt, g4, 4);
    ab_shlo_type(t2, p->kt, d2, 2);
    transpose(s, xo, o, t4, tg, perm, 4);
    ab_shlo_unary(s, xo, "reshape", xo, tg, t2);
    convert(s, xo, d2, 2, p->kt, p->wt);
}

/* a [T][F] (wt) = silu(gate) * up of gu [T][2F] (ot) */
static void swiglu(ab_shlo *s, const tp_shape *p, const char *gu, long T, char *a)
{
    const int64_t F = p->s.ffn;
    int64_t d2[2] = {T, 2 * F}, df[2] = {T, F}, z[2] = {0, 0}, lg[2] = {T, F}, su[2] = {0, F};
    type_t t2, tf;
    ab_shlo_type(t2, p->ot, d2, 2);
    ab_shlo_type(tf, p->ot, df, 2);
    name_t g, u, sg;
    slice(s, g, gu, t2, tf, z, lg, 2);
    slice(s, u, gu, t2, tf, su, d2, 2);
    convert(s, g, df, 2, p->ot, "f32");
    convert(s, u, df, 2, p->ot, "f32");
    ab_shlo_type(tf, "f32", df, 2);
    ab_shlo_unary(s, sg, "logistic", g, tf, tf);
    ab_shlo_binary(s, a, "multiply", g, sg, tf);
    ab_shlo_binary(s, a, "multiply", a, u, tf);
    convert(s, a, df, 2, "f32", p->wt);
}

/* one layer on the loop state v (tokens_pjrt.h: TP_H, TP_Y, TP_COS, TP_SIN, then 8 per layer) */
static void layer(ab_shlo *s, const tp_shape *p, int i, name_t *v)
{
    const ab_tok_step_shape *m = &p->s;
    const long T = (long)m->batch * m->seq, D = m->d_model, Q = (long)m->heads * m->head_dim;
    const long QKV = (long)(m->heads + 2 * m->kv_heads) * m->head_dim, F = m->ffn;
    name_t *L = v + TP_LAYER0 + TP_PER_LAYER * i;
    name_t x, qkv, q, k, vv, xo, yo, gu, a;
    residual(s, p, v[TP_H], v[TP_Y], T);
    rmsnorm(s, p, v[TP_H], L[TP_N1], T, x);
    linear(s, p, x, L[TP_WQKV], T, QKV, D, qkv);
    rope(s, p, qkv, v[TP_COS], v[TP_SIN], q, k, vv);
    cache_update(s, p, L[TP_KC], k);
    cache_update(s, p, L[TP_VC], vv);
    attention(s, p, q, L[TP_KC], L[TP_VC], xo);
    linear(s, p, xo, L[TP_WO], T, D, Q, yo);
    residual(s, p, v[TP_H], yo, T);
    rmsnorm(s, p, v[TP_H], L[TP_N2], T, x);
    linear(s, p, x, L[TP_WGU], T, 2 * F, D, gu);
    swiglu(s, p, gu, T, a);
    linear(s, p, a, L[TP_WDOWN], T, D, F, v[TP_Y]);
}

static int layers_body(ab_shlo *s, void *arg, const char *counter, char (*v)[AB_SHLO_NAME])
{
    (void)counter;
    const tp_shape *p = arg;
    for (int i = 0; i < p->nl; i++)
        layer(s, p, i, v);
    return 0;
}

int tp_layer_dims(const tp_shape *p, int idx, int64_t dims[4], int *type)
{
    const ab_tok_step_shape *m = &p->s;
    const int64_t T = (int64_t)m->batch * m->seq, D = m->d_model, F = m->ffn;
    const int64_t Q = (int64_t)m->heads * m->head_dim;
    const int64_t QKV = (int64_t)(m->heads + 2 * m->kv_heads) * m->head_dim;
    if (idx < TP_LAYER0) {
        dims[0] = idx < TP_COS ? T : m->seq, dims[1] = idx < TP_COS ? D : m->head_dim / 2;
        *type = idx == TP_Y ? m->ot : AB_TT_F32;
        return 2;
    }
    int j = (idx - TP_LAYER0) % TP_PER_LAYER;
    const int64_t w[TP_PER_LAYER][4] = {{QKV, D},
                                        {D, Q},
                                        {2 * F, D},
                                        {D, F},
                                        {D},
                                        {D},
                                        {m->batch, m->kv_heads, m->cache_len, m->head_dim},
                                        {m->batch, m->kv_heads, m->cache_len, m->head_dim}};
    static const int rank[TP_PER_LAYER] = {2, 2, 2, 2, 1, 1, 4, 4};
    memcpy(dims, w[j], sizeof(w[j]));
    *type = j >= TP_KC ? m->kt : m->wt;
    return rank[j];
}

int tp_head_dims(const tp_shape *p, int idx, int64_t dims[2], int *type)
{
    const ab_tok_step_shape *m = &p->s;
    const int64_t T = (int64_t)m->batch * m->seq, D = m->d_model;
    const int64_t d[5][2] = {{T, D}, {T, D}, {D, 0}, {m->vocab, D}, {m->head_rows, m->vocab}};
    static const int rank[5] = {2, 2, 1, 2, 2};
    memcpy(dims, d[idx], sizeof(d[idx]));
    *type = idx == 0 ? AB_TT_F32 : idx == 1 || idx == 4 ? m->ot : m->wt;
    return rank[idx];
}

static void layer_types(const tp_shape *p, char (*types)[AB_SHLO_TYPE])
{
    for (int i = 0; i < TP_LAYER0 + TP_PER_LAYER * p->nl; i++) {
        int64_t d[4];
        int t, r = tp_layer_dims(p, i, d, &t);
        ab_shlo_type(types[i], et(t), d, r);
    }
}

char *tp_layers_text(const tp_shape *p)
{
    int n = TP_LAYER0 + TP_PER_LAYER * p->nl, nres = 2 + 2 * p->nl;
    type_t *types = calloc((size_t)n, sizeof(type_t));
    int *res = calloc((size_t)nres, sizeof(int));
    char *text = NULL, name[64];
    if (types && res) {
        layer_types(p, types);
        res[0] = TP_H, res[1] = TP_Y;
        for (int i = 0; i < p->nl; i++) {
            res[2 + 2 * i] = TP_LAYER0 + TP_PER_LAYER * i + TP_KC;
            res[3 + 2 * i] = TP_LAYER0 + TP_PER_LAYER * i + TP_VC;
        }
        snprintf(name, sizeof(name), "ab_tokens_layers_%s_%d", p->wt, p->nl);
        text = ab_shlo_looped(name, (const char(*)[AB_SHLO_TYPE])types, n, res, nres, layers_body,
                              (void *)p);
    }
    free(types);
    free(res);
    return text;
}

/* the head's state: h, y, nf, head, logits */
static int head_body(ab_shlo *s, void *arg, const char *counter, char (*v)[AB_SHLO_NAME])
{
    (void)counter;
    const tp_shape *p = arg;
    const ab_tok_step_shape *m = &p->s;
    const int64_t T = (int64_t)m->batch * m->seq, D = m->d_model, R = m->head_rows;
    int64_t d[2] = {T, D}, st[2] = {m->head_row0, 0}, lim[2] = {m->head_row0 + R, D};
    int64_t dr[2] = {R, D};
    type_t th, ty, thr, tyr;
    ab_shlo_type(th, "f32", d, 2);
    ab_shlo_type(ty, p->ot, d, 2);
    ab_shlo_type(thr, "f32", dr, 2);
    ab_shlo_type(tyr, p->ot, dr, 2);
    name_t h, y, x;
    slice(s, h, v[0], th, thr, st, lim, 2);
    slice(s, y, v[1], ty, tyr, st, lim, 2);
    residual(s, p, h, y, R);
    rmsnorm(s, p, h, v[2], R, x);
    linear(s, p, x, v[3], R, m->vocab, D, v[4]);
    return 0;
}

char *tp_head_text(const tp_shape *p)
{
    type_t types[5];
    char name[64];
    for (int i = 0; i < 5; i++) {
        int64_t d[2];
        int t, r = tp_head_dims(p, i, d, &t);
        ab_shlo_type(types[i], et(t), d, r);
    }
    snprintf(name, sizeof(name), "ab_tokens_head_%s", p->wt);
    int res = 4;
    return ab_shlo_looped(name, (const char(*)[AB_SHLO_TYPE])types, 5, &res, 1, head_body,
                          (void *)p);
}

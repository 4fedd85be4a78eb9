/* SPDX-License-Identifier: MIT */
/* The decoder's fp64 host reference and its validation (step.h: ab_tok_phase_validate). */
#include "step_impl.h"

#include "../../core/ab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double rnd(ab_tok_type t, double v)
{
    return t == AB_TT_BF16 ? (double)ab_bf16_to_f32(ab_f32_to_bf16((float)v)) : (double)(float)v;
}

static double wval(ab_tok_type t, uint64_t seed, size_t i)
{
    return ab_gemm_decode(gtype(t), ab_gemm_value_bits(gtype(t), seed, i));
}

/* out[r][n] = round_ot(alpha * sum_k W[n][k] x[r][k]) for R rows; W regenerated from its seed */
static void ref_linear(ab_tok_type wt, ab_tok_type ot, uint64_t seed, long N, long K,
                       const double *x, int R, double *out)
{
    double alpha = 1.0 / sqrt((double)K);
    double *w = malloc((size_t)K * sizeof(double));
    for (long n = 0; n < N; n++) {
        for (long k = 0; k < K; k++)
            w[k] = wval(wt, seed, (size_t)n * (size_t)K + (size_t)k);
        for (int r = 0; r < R; r++) {
            double s = 0;
            const double *xr = x + (size_t)r * (size_t)K;
            for (long k = 0; k < K; k++)
                s += w[k] * xr[k];
            out[(size_t)r * (size_t)N + (size_t)n] = rnd(ot, alpha * s);
        }
    }
    free(w);
}

static void ref_rmsnorm(const double *h, int d, ab_tok_type wt, uint64_t wseed_, double *x)
{
    double ss = 0;
    for (int j = 0; j < d; j++)
        ss += h[j] * h[j];
    double inv = 1.0 / sqrt(ss / d + (double)AB_TOK_EPS);
    for (int j = 0; j < d; j++)
        x[j] = rnd(wt, h[j] * inv * wval(wt, wseed_, (size_t)j));
}

static void ref_rope(double *x, int dh, long pos)
{
    int half = dh / 2;
    for (int i = 0; i < half; i++) {
        double ang = (double)pos * pow(AB_TOK_ROPE_THETA, -2.0 * i / dh);
        double x0 = x[i], x1 = x[i + half];
        x[i] = x0 * cos(ang) - x1 * sin(ang);
        x[i + half] = x0 * sin(ang) + x1 * cos(ang);
    }
}

static double *fetch(ab_tok_phase *ph, void *buf, size_t elem_off, size_t n, ab_tok_type t,
                     char *err)
{
    ab_tok_model *mdl = ph->mdl;
    size_t es = ab_tok_type_size(t);
    void *host = malloc(n * es);
    double *out = malloc(n * sizeof(double));
    if (!host || !out) {
        free(host), free(out);
        ab_err(err, "out of host memory");
        return NULL;
    }
    if (mdl->ops->copy(mdl->h, AB_COPY_D2H, host, buf, elem_off * es, n * es, err) != 0 ||
        mdl->ops->sync(mdl->h, err) != 0) {
        free(host), free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = t == AB_TT_BF16 ? ab_bf16_to_f32(((uint16_t *)host)[i]) : ((float *)host)[i];
    free(host);
    return out;
}

/* max |a - b| / rms(b) over n values */
static double nerr(const double *a, const double *b, size_t n)
{
    double ss = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        ss += b[i] * b[i];
        double e = fabs(a[i] - b[i]);
        if (!(e <= mx)) /* NaN counts as infinitely wrong */
            mx = isnan(e) ? INFINITY : e;
    }
    double rms = sqrt(ss / (double)n);
    return rms > 0 ? mx / rms : mx;
}

/* rows to check: decode: first, middle and last sequence; prefill: tokens 0, 3 and 7 (the
 * causal reference for token s needs the keys of tokens 0..s only) */
static int check_rows(const ab_tok_phase *ph, long rows[3])
{
    int R = 0;
    if (ph->seq == 1) {
        long c[3] = {0, ph->T / 2, ph->T - 1};
        for (int i = 0; i < 3; i++)
            if (R == 0 || c[i] != rows[R - 1]) rows[R++] = c[i];
    } else {
        long c[3] = {0, 3, 7};
        for (int i = 0; i < 3; i++)
            if (c[i] < ph->seq) rows[R++] = c[i];
    }
    return R;
}

/* the reference attention of layer 0 for the checked rows: o [R][Q] from the rotated, rounded
 * qkv of the source tokens and the pre-filled context; kk, vv: room for the longest row's keys */
static void ref_attention(const ab_tok_phase *ph, const long *rows, int R, const double *qkv,
                          double *kk, double *vv, double *o)
{
    const ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const int H = m->heads, G = m->kv_heads, Dh = m->head_dim;
    const int QKV = qkvdim(m), Q = qdim(m);
    /* one query row against the nk cached keys: the attention suite's fp64 reference */
    ab_attn_shape one = {.batch = 1, .heads = 1, .kv_heads = 1, .head_dim = Dh, .q_len = 1,
                         .scale = (float)(1.0 / sqrt((double)Dh))};
    for (int r = 0; r < R; r++) {
        long si = ph->seq == 1 ? r : rows[r]; /* index into src */
        long b = ph->seq == 1 ? rows[r] : 0;
        long nk = ph->pos0 + (ph->seq == 1 ? 1 : rows[r] + 1);
        one.kv_len = nk;
        for (int g = 0; g < G; g++) { /* the KV head's cache once for its H/G query heads */
            for (long j = 0; j < nk; j++) {
                for (int i = 0; i < Dh; i++) {
                    double kvv, vvv;
                    if (j < ph->pos0) { /* the pre-filled context */
                        uint64_t idx = (((uint64_t)b * G + g) * ph->cache_len + j) * Dh + i;
                        kvv = rnd(mdl->kt, ab_attn_gen(kseed(0), idx, AMP_KV));
                        vvv = rnd(mdl->kt, ab_attn_gen(vseed(0), idx, AMP_KV));
                    } else {
                        long t = ph->seq == 1 ? si : j - ph->pos0;
                        kvv = qkv[t * QKV + (size_t)(H + g) * Dh + i];
                        vvv = qkv[t * QKV + (size_t)(H + G + g) * Dh + i];
                    }
                    kk[j * Dh + i] = kvv, vv[j * Dh + i] = vvv;
                }
            }
            for (int hh = g * (H / G); hh < (g + 1) * (H / G); hh++) {
                double *orow = o + (size_t)r * Q + (size_t)hh * Dh;
                ab_attn_reference_row(&one, qkv + si * QKV + (size_t)hh * Dh, kk, vv, 0, orow);
                for (int i = 0; i < Dh; i++)
                    orow[i] = rnd(mdl->wt, rnd(mdl->kt, orow[i]));
            }
        }
    }
}

/* the head: final norm + LM head over the device's residual stream, 16 vocabulary columns
 * against the host's; run_head has run */
static int check_head(ab_tok_phase *ph, double *worst_l, char *err)
{
    ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const int D = m->d_model;
    long hrow = ph->head_row0 + (ph->head_rows > 1 ? ph->head_rows - 1 : 0);
    double *dh = fetch(ph, ph->hbuf, (size_t)hrow * D, (size_t)D, AB_TT_F32, err);
    double *dl = dh ? fetch(ph, ph->logits, (size_t)(hrow - ph->head_row0) * m->vocab,
                            (size_t)m->vocab, mdl->ot, err)
                    : NULL;
    if (!dh || !dl) {
        free(dh);
        return -1;
    }
    double ref[16], got[16];
    double *xf = malloc((size_t)D * sizeof(double));
    if (!xf) {
        free(dh), free(dl);
        ab_err(err, "out of host memory");
        return -1;
    }
    ref_rmsnorm(dh, D, mdl->wt, SEED_NF, xf);
    for (int c = 0; c < 16; c++) {
        long n = (long)((double)c * (m->vocab - 1) / 15.0);
        double s = 0;
        for (int k = 0; k < D; k++)
            s += wval(mdl->wt, SEED_HEAD, (size_t)n * D + k) * xf[k];
        ref[c] = rnd(mdl->ot, s / sqrt((double)D));
        got[c] = dl[n];
    }
    *worst_l = nerr(got, ref, 16);
    free(xf);
    free(dh);
    free(dl);
    return 0;
}

/* layer 0's rows on the device against the reference: the attention block's contribution
 * (residual minus the exactly known input h0; hr is the reference residual, changed here) and
 * the MLP's output yr */
static int compare_rows(ab_tok_phase *ph, const long *rows, int R, const double *h0, double *hr,
                        const double *yr, double *worst_h, double *worst_y, char *err)
{
    const ab_tok_model *mdl = ph->mdl;
    const int D = mdl->m.d_model;
    for (int r = 0; r < R; r++) {
        double *dh = fetch(ph, ph->hbuf, (size_t)rows[r] * D, (size_t)D, AB_TT_F32, err);
        double *dy = dh ? fetch(ph, ph->y, (size_t)rows[r] * D, (size_t)D, mdl->ot, err) : NULL;
        if (!dh || !dy) {
            free(dh);
            return -1;
        }
        /* the attention block's contribution: residual minus the (exactly known) input */
        long si = ph->seq == 1 ? r : rows[r];
        for (int j = 0; j < D; j++) {
            dh[j] -= h0[si * D + j];
            hr[r * D + j] -= h0[si * D + j];
        }
        double eh = nerr(dh, hr + r * D, (size_t)D), ey = nerr(dy, yr + r * D, (size_t)D);
        if (!(eh <= *worst_h)) *worst_h = eh;
        if (!(ey <= *worst_y)) *worst_y = ey;
        free(dh);
        free(dy);
    }
    return 0;
}

static json_t *verdict(const long *rows, int R, double worst_h, double worst_y, double worst_l,
                       double tol, bool ok)
{
    json_t *res = json_object();
    json_object_set_new(res, "method",
                        json_string("layer 0 and the LM head against an fp64 host reference "
                                    "with the device's rounding points: the attention block's "
                                    "output (residual minus input), the MLP's output, 16 logits; "
                                    "error = max |device - reference| / rms(reference)"));
    json_t *jr = json_array();
    for (int r = 0; r < R; r++)
        json_array_append_new(jr, json_integer(rows[r]));
    json_object_set_new(res, "tokens", jr);
    json_object_set_new(res, "attention_block", json_real(worst_h));
    json_object_set_new(res, "mlp_output", json_real(worst_y));
    json_object_set_new(res, "logits_16_columns", json_real(worst_l));
    json_object_set_new(res, "tolerance", json_real(tol));
    json_object_set_new(res, "passed", json_boolean(ok));
    return res;
}

json_t *ab_tok_phase_validate(ab_tok_phase *ph, bool *ok, char *err)
{
    ab_tok_model *mdl = ph->mdl;
    const ab_llm *m = &mdl->m;
    const int D = m->d_model, H = m->heads, G = m->kv_heads, Dh = m->head_dim, F = m->ffn;
    const int QKV = qkvdim(m), Q = qdim(m);
    char why[AB_ERRLEN];
    *ok = false;
    long rows[3];
    const int R = check_rows(ph, rows);
    /* fresh input, layer 0 once without the residual add */
    if (mdl->to->fill(mdl->h, ph->hbuf, AB_TT_F32, (size_t)ph->T * D, SEED_H, AMP_H, why) != 0) {
        ab_err(err, "filling the input: %s", why);
        return NULL;
    }
    if (ab_tok_step_run_layer(ph, 0, false, err) != 0 || mdl->ops->sync(mdl->h, err) != 0) return NULL;
    /* tokens whose K/V the reference needs: prefill 0..max row, decode the rows themselves */
    long nsrc = ph->seq == 1 ? R : rows[R - 1] + 1;
    long *src = malloc((size_t)nsrc * sizeof(long));
    double *h0 = malloc((size_t)nsrc * D * sizeof(double));
    double *x = malloc((size_t)nsrc * D * sizeof(double));
    double *qkv = malloc((size_t)nsrc * QKV * sizeof(double));
    double *hr = malloc((size_t)R * D * sizeof(double)),
           *yr = malloc((size_t)R * D * sizeof(double));
    double *o = malloc((size_t)R * Q * sizeof(double)), *y = malloc((size_t)R * D * sizeof(double));
    double *x2 = malloc((size_t)R * D * sizeof(double));
    double *gu = malloc((size_t)R * 2 * F * sizeof(double)),
           *a = malloc((size_t)R * F * sizeof(double));
    long maxkv = ph->pos0 + (ph->seq == 1 ? 1 : rows[R - 1] + 1);
    double *kk = malloc((size_t)maxkv * Dh * sizeof(double)),
           *vv = malloc((size_t)maxkv * Dh * sizeof(double));
    json_t *res = NULL;
    if (!src || !h0 || !x || !qkv || !hr || !yr || !o || !y || !x2 || !gu || !a || !kk ||
        !vv) {
        ab_err(err, "out of host memory");
        goto out;
    }
    for (long i = 0; i < nsrc; i++)
        src[i] = ph->seq == 1 ? rows[i] : i;
    for (long i = 0; i < nsrc; i++) {
        for (int j = 0; j < D; j++)
            h0[i * D + j] = ab_attn_gen(SEED_H, (uint64_t)src[i] * D + j, AMP_H);
        ref_rmsnorm(h0 + i * D, D, mdl->wt, wseed(0, W_N1), x + i * D);
    }
    ref_linear(mdl->wt, mdl->ot, wseed(0, W_QKV), QKV, D, x, (int)nsrc, qkv);
    for (long i = 0; i < nsrc; i++) { /* RoPE on q and k heads, then the KV type */
        long pos = ph->pos0 + (ph->seq == 1 ? 0 : src[i]);
        for (int hh = 0; hh < H + G; hh++)
            ref_rope(qkv + i * QKV + (size_t)hh * Dh, Dh, pos);
        for (int j = 0; j < QKV; j++)
            qkv[i * QKV + j] = rnd(mdl->kt, qkv[i * QKV + j]);
    }
    ref_attention(ph, rows, R, qkv, kk, vv, o);
    ref_linear(mdl->wt, mdl->ot, wseed(0, W_O), D, Q, o, R, y);
    for (int r = 0; r < R; r++) {
        long si = ph->seq == 1 ? r : rows[r];
        for (int j = 0; j < D; j++)
            hr[r * D + j] = (double)(float)(h0[si * D + j] + y[r * D + j]);
        ref_rmsnorm(hr + r * D, D, mdl->wt, wseed(0, W_N2), x2 + r * D);
    }
    ref_linear(mdl->wt, mdl->ot, wseed(0, W_GU), 2L * F, D, x2, R, gu);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < F; j++) {
            double g = gu[(size_t)r * 2 * F + j], u = gu[(size_t)r * 2 * F + F + j];
            a[(size_t)r * F + j] = rnd(mdl->wt, g / (1.0 + exp(-g)) * u);
        }
    ref_linear(mdl->wt, mdl->ot, wseed(0, W_DOWN), D, F, a, R, yr);
    /* compare */
    /* f32: sums in another order, f32 rotary angles on some devices (~1e-4 rad at 8k
     * positions); bf16: a few roundings of 2^-9 on the way. A wrong kernel is off by O(1). */
    double tol = mdl->wt == AB_TT_BF16 || mdl->kt == AB_TT_BF16 ? 3e-2 : 2e-3;
    double worst_h = 0, worst_y = 0;
    if (compare_rows(ph, rows, R, h0, hr, yr, &worst_h, &worst_y, err) != 0) goto out;
    /* the head: final norm + LM head over the device's residual stream, 16 vocabulary columns */
    if (ab_tok_step_run_head(ph, false, err) != 0 || mdl->ops->sync(mdl->h, err) != 0) goto out;
    double worst_l = 0;
    if (check_head(ph, &worst_l, err) != 0) goto out;
    *ok = worst_h <= tol && worst_y <= tol && worst_l <= tol;
    res = verdict(rows, R, worst_h, worst_y, worst_l, tol, *ok);
out:
    free(src), free(h0), free(x), free(qkv), free(hr), free(yr), free(o), free(y), free(x2);
    free(gu), free(a), free(kk), free(vv);
    return res;
}

/* SPDX-License-Identifier: MIT */
/* The fp64 host reference of a decoder layer's forward and backward (train_ref.h): plain loops,
 * the attention with its probability matrix materialised (T is a validation length: small). */
#include "train_ref.h"

#include "../../backends/omp_compat.h"
#include "../tokens/tokens.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t qkv_w(const ab_tref_dims *d)
{
    return (size_t)(d->H + 2 * d->G) * (size_t)d->Dh;
}

int ab_tref_alloc(const ab_tref_dims *d, ab_tref_act *a)
{
    memset(a, 0, sizeof(*a));
    size_t T = (size_t)d->T, D = (size_t)d->D, Q = qkv_w(d), HD = (size_t)d->H * (size_t)d->Dh,
           F = (size_t)d->F;
    double **b[] = {&a->x,  &a->n1,   &a->r1, &a->qkv,  &a->o,   &a->P,    &a->h,
                    &a->n2, &a->r2,   &a->gu, &a->act,  &a->out, &a->gout, &a->dgu,
                    &a->dh, &a->dqkv, &a->dx, &a->dn1w, &a->dn2w};
    size_t n[] = {T * D, T * D,     T,     T * Q,     T * HD, (size_t)d->H * T * T,
                  T * D, T * D,     T,     T * 2 * F, T * F,  T * D,
                  T * D, T * 2 * F, T * D, T * Q,     T * D,  D,
                  D};
    for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
        if (!(*b[i] = calloc(n[i], sizeof(double)))) {
            ab_tref_free(a);
            return -1;
        }
    return 0;
}

void ab_tref_free(ab_tref_act *a)
{
    double *b[] = {a->x,   a->n1,  a->r1,   a->qkv, a->o,  a->P,    a->h,  a->n2,   a->r2,  a->gu,
                   a->act, a->out, a->gout, a->dgu, a->dh, a->dqkv, a->dx, a->dn1w, a->dn2w};
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        free(b[i]);
    memset(a, 0, sizeof(*a));
}

void ab_tref_rmsnorm(int T, int D, const double *x, const float *w, double *y, double *r)
{
    for (int t = 0; t < T; t++) {
        const double *xr = x + (size_t)t * D;
        double ss = 0;
        for (int j = 0; j < D; j++)
            ss += xr[j] * xr[j];
        r[t] = 1.0 / sqrt(ss / D + (double)1e-5f);
        for (int j = 0; j < D; j++)
            y[(size_t)t * D + j] = xr[j] * r[t] * w[j];
    }
}

void ab_tref_rmsnorm_bwd(int T, int D, const double *x, const float *w, const double *r,
                         const double *dy, const double *dres, double *dx, double *dw)
{
    for (int t = 0; t < T; t++) {
        size_t o = (size_t)t * D;
        double dot = 0, rr = r[t];
        for (int j = 0; j < D; j++)
            dot += x[o + j] * w[j] * dy[o + j];
        for (int j = 0; j < D; j++) {
            double v = rr * w[j] * dy[o + j] - x[o + j] * rr * rr * rr * dot / D;
            dx[o + j] = (dres ? dres[o + j] : 0) + v;
            dw[j] += dy[o + j] * x[o + j] * rr;
        }
    }
}

/* bf16: a compact copy of rows x cols of x (row stride ld) rounded to bf16, in *tmp (NULL when
 * out of memory: the caller writes NaN, which fails the comparison); else x itself */
static const double *operand(const double *x, int rows, int cols, size_t ld, bool bf16,
                             double **tmp)
{
    *tmp = NULL;
    if (!bf16) return x;
    if (!(*tmp = malloc((size_t)rows * (size_t)cols * sizeof(double)))) return NULL;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            (*tmp)[(size_t)r * cols + c] = ab_tref_bf16(x[(size_t)r * ld + c]);
    return *tmp;
}

static void nan_fill(double *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = NAN;
}

/* Y[t][n] = add[t][n] + sum_k X[t][k] W[n][k] */
void ab_tref_linear(int T, int N, int K, const double *X, const float *W, const double *add,
                    double *Y, bool bf16)
{
    double *tmp;
    const double *Xo = operand(X, T, K, (size_t)K, bf16, &tmp);
    if (!Xo) return nan_fill(Y, (size_t)T * N);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int t = 0; t < T; t++) {
            const double *xr = Xo + (size_t)t * K;
            const float *wr = W + (size_t)n * K;
            double s = add ? add[(size_t)t * N + n] : 0;
            if (bf16)
                for (int k = 0; k < K; k++)
                    s += xr[k] * ab_tref_bf16f(wr[k]);
            else
                for (int k = 0; k < K; k++)
                    s += xr[k] * wr[k];
            Y[(size_t)t * N + n] = s;
        }
    free(tmp);
}

/* dX[t][k] = sum_n dY[t][n] W[n][k] (dY row stride ldy) */
void ab_tref_linear_dx(int T, int N, int K, const double *dY, size_t ldy, const float *W,
                       double *dX, bool bf16)
{
    double *tmp;
    const double *G = operand(dY, T, N, ldy, bf16, &tmp);
    if (!G) return nan_fill(dX, (size_t)T * K);
    size_t lg = bf16 ? (size_t)N : ldy;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        double *o = dX + (size_t)t * K;
        memset(o, 0, (size_t)K * sizeof(double));
        for (int n = 0; n < N; n++) {
            double g = G[(size_t)t * lg + n];
            const float *wr = W + (size_t)n * K;
            if (bf16)
                for (int k = 0; k < K; k++)
                    o[k] += g * ab_tref_bf16f(wr[k]);
            else
                for (int k = 0; k < K; k++)
                    o[k] += g * wr[k];
        }
    }
    free(tmp);
}

static void rope(const ab_tref_dims *d, double *qkv, bool inverse)
{
    int half = d->Dh / 2;
    size_t ld = qkv_w(d);
    for (int t = 0; t < d->T; t++)
        for (int hh = 0; hh < d->H + d->G; hh++) {
            double *p = qkv + (size_t)t * ld + (size_t)hh * d->Dh;
            for (int i = 0; i < half; i++) {
                double ang = t * pow(AB_TOK_ROPE_THETA, -2.0 * i / d->Dh);
                double c = cos(ang), s = inverse ? -sin(ang) : sin(ang);
                double x0 = p[i], x1 = p[i + half];
                p[i] = x0 * c - x1 * s;
                p[i + half] = x0 * s + x1 * c;
            }
        }
}

void ab_tref_attn_fwd(const ab_tref_dims *d, const double *qkv, double *o, double *P)
{
    size_t ld = qkv_w(d), od = (size_t)d->H * d->Dh;
    double scale = 1.0 / sqrt((double)d->Dh);
    int grp = d->H / d->G;
#pragma omp parallel for schedule(static)
    for (int h = 0; h < d->H; h++)
        for (int i = 0; i < d->T; i++) {
            const double *q = qkv + (size_t)i * ld + (size_t)h * d->Dh;
            double *pr = P + ((size_t)h * d->T + i) * d->T, mx = -INFINITY, sum = 0;
            for (int j = 0; j <= i; j++) {
                const double *k = qkv + (size_t)j * ld + (size_t)(d->H + h / grp) * d->Dh;
                double s = 0;
                for (int c = 0; c < d->Dh; c++)
                    s += q[c] * k[c];
                pr[j] = s * scale;
                mx = pr[j] > mx ? pr[j] : mx;
            }
            for (int j = 0; j <= i; j++)
                sum += (pr[j] = exp(pr[j] - mx));
            double *orow = o + (size_t)i * od + (size_t)h * d->Dh;
            memset(orow, 0, (size_t)d->Dh * sizeof(double));
            for (int j = 0; j <= i; j++) {
                pr[j] /= sum;
                const double *v = qkv + (size_t)j * ld + (size_t)(d->H + d->G + h / grp) * d->Dh;
                for (int c = 0; c < d->Dh; c++)
                    orow[c] += pr[j] * v[c];
            }
        }
}

/* dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q */
void ab_tref_attn_bwd(const ab_tref_dims *d, const double *qkv, const double *P, const double *dout,
                      double *dqkv)
{
    size_t ld = qkv_w(d), od = (size_t)d->H * d->Dh;
    double scale = 1.0 / sqrt((double)d->Dh);
    int grp = d->H / d->G, Dh = d->Dh;
    memset(dqkv, 0, (size_t)d->T * ld * sizeof(double));
    double *dp = malloc((size_t)d->T * sizeof(double));
    if (!dp) return; /* the comparison then fails */
    for (int h = 0; h < d->H; h++) {
        size_t ko = (size_t)(d->H + h / grp) * Dh, vo = (size_t)(d->H + d->G + h / grp) * Dh;
        for (int i = 0; i < d->T; i++) {
            const double *pr = P + ((size_t)h * d->T + i) * d->T;
            const double *dor = dout + (size_t)i * od + (size_t)h * Dh;
            double rs = 0;
            for (int j = 0; j <= i; j++) {
                const double *v = qkv + (size_t)j * ld + vo;
                double s = 0;
                for (int c = 0; c < Dh; c++)
                    s += dor[c] * v[c];
                dp[j] = s;
                rs += pr[j] * s;
                double *dv = dqkv + (size_t)j * ld + vo;
                for (int c = 0; c < Dh; c++)
                    dv[c] += pr[j] * dor[c];
            }
            const double *q = qkv + (size_t)i * ld + (size_t)h * Dh;
            double *dq = dqkv + (size_t)i * ld + (size_t)h * Dh;
            for (int j = 0; j <= i; j++) {
                double ds = pr[j] * (dp[j] - rs) * scale;
                const double *k = qkv + (size_t)j * ld + ko;
                double *dk = dqkv + (size_t)j * ld + ko;
                for (int c = 0; c < Dh; c++) {
                    dq[c] += ds * k[c];
                    dk[c] += ds * q[c];
                }
            }
        }
    }
    free(dp);
}

void ab_tref_forward(const ab_tref_dims *d, const ab_tref_w *w, ab_tref_act *a)
{
    int T = d->T, D = d->D, F = d->F, HD = d->H * d->Dh, Q = (int)qkv_w(d);
    ab_tref_rmsnorm(T, D, a->x, w->n1, a->n1, a->r1);
    bool b = d->bf16;
    ab_tref_linear(T, Q, D, a->n1, w->qkv, NULL, a->qkv, b);
    rope(d, a->qkv, false);
    ab_tref_attn_fwd(d, a->qkv, a->o, a->P);
    ab_tref_linear(T, D, HD, a->o, w->o, a->x, a->h, b);
    ab_tref_rmsnorm(T, D, a->h, w->n2, a->n2, a->r2);
    ab_tref_linear(T, 2 * F, D, a->n2, w->gu, NULL, a->gu, b);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < F; j++) {
            double g = a->gu[(size_t)t * 2 * F + j], u = a->gu[(size_t)t * 2 * F + F + j];
            a->act[(size_t)t * F + j] = g / (1 + exp(-g)) * u;
        }
    ab_tref_linear(T, D, F, a->act, w->down, a->h, a->out, b);
}

void ab_tref_backward(const ab_tref_dims *d, const ab_tref_w *w, ab_tref_act *a)
{
    int T = d->T, D = d->D, F = d->F, HD = d->H * d->Dh, Q = (int)qkv_w(d);
    size_t t2f = (size_t)T * 2 * F;
    double *da = malloc((size_t)T * F * sizeof(double)),
           *dn = malloc((size_t)T * D * sizeof(double)),
           *dout = malloc((size_t)T * HD * sizeof(double));
    (void)t2f;
    if (!da || !dn || !dout) {
        free(da), free(dn), free(dout);
        return;
    }
    bool b = d->bf16;
    ab_tref_linear_dx(T, D, F, a->gout, (size_t)D, w->down, da, b);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < F; j++) {
            double g = a->gu[(size_t)t * 2 * F + j], u = a->gu[(size_t)t * 2 * F + F + j];
            double s = 1 / (1 + exp(-g)), dd = da[(size_t)t * F + j];
            a->dgu[(size_t)t * 2 * F + j] = dd * u * s * (1 + g * (1 - s));
            a->dgu[(size_t)t * 2 * F + F + j] = dd * g * s;
        }
    ab_tref_linear_dx(T, 2 * F, D, a->dgu, (size_t)2 * F, w->gu, dn, b);
    memset(a->dn2w, 0, (size_t)D * sizeof(double));
    ab_tref_rmsnorm_bwd(T, D, a->h, w->n2, a->r2, dn, a->gout, a->dh, a->dn2w);
    ab_tref_linear_dx(T, D, HD, a->dh, (size_t)D, w->o, dout, b);
    ab_tref_attn_bwd(d, a->qkv, a->P, dout, a->dqkv);
    rope(d, a->dqkv, true);
    ab_tref_linear_dx(T, Q, D, a->dqkv, (size_t)Q, w->qkv, dn, b);
    memset(a->dn1w, 0, (size_t)D * sizeof(double));
    ab_tref_rmsnorm_bwd(T, D, a->x, w->n1, a->r1, dn, a->dh, a->dx, a->dn1w);
    free(da), free(dn), free(dout);
}

static double adamw1(double w, double g, const ab_train_adamw *h)
{
    /* step 1: m = (1 - b1) g, v = (1 - b2) g^2, bias corrections 1 / (1 - b) */
    double m = (1 - (double)h->b1) * g / (1 - (double)h->b1);
    double v = (1 - (double)h->b2) * g * g / (1 - (double)h->b2);
    return w - (double)h->lr * (m / (sqrt(v) + (double)h->eps) + (double)h->wd * w);
}

void ab_tref_adamw_vec(size_t n, float *w, const double *g, const ab_train_adamw *h)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)adamw1(w[i], g[i], h);
}

void ab_tref_dw_check_update(int T, int n, int k, const double *dY, size_t ldy, const double *X,
                             const float *gdev, float *W, const ab_train_adamw *h, bool bf16,
                             double *e2, double *r2)
{
    double *ty, *tx;
    const double *Yo = operand(dY, T, n, ldy, bf16, &ty),
                 *Xo = operand(X, T, k, (size_t)k, bf16, &tx);
    if (!Yo || !Xo) {
        free(ty), free(tx);
        *e2 = INFINITY;
        return;
    }
    dY = Yo, X = Xo, ldy = bf16 ? (size_t)n : ldy;
    double e = 0, r = 0;
#pragma omp parallel reduction(+ : e, r)
    {
        double *g = malloc((size_t)k * sizeof(double));
#pragma omp for schedule(static)
        for (int i = 0; i < n; i++) {
            if (!g) continue;
            memset(g, 0, (size_t)k * sizeof(double));
            for (int t = 0; t < T; t++) {
                double y = dY[(size_t)t * ldy + i];
                const double *xr = X + (size_t)t * k;
                for (int j = 0; j < k; j++)
                    g[j] += y * xr[j];
            }
            const float *gd = gdev + (size_t)i * k;
            float *wr = W + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                double diff = gd[j] - g[j];
                e += diff * diff, r += g[j] * g[j];
                wr[j] = (float)adamw1(wr[j], g[j], h);
            }
        }
        if (!g) e = INFINITY;
        free(g);
    }
    free(ty), free(tx);
    *e2 += e, *r2 += r;
}

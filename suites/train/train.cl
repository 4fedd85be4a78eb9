// SPDX-License-Identifier: MIT
// train OpenCL kernels: the training step's small kernels (train.h; train_cpu.c is the spec),
// f32 throughout. Simple mappings, correctness first: a work-item per row, per element or per
// (query row, head) for attention. The attention backward recomputes the scores from the saved
// log-sum-exp in two passes (dQ per query row; dK, dV per key row, summed over the query heads
// that share the KV head inside the work-item), so nothing of size seq x seq is stored and no
// two work-items write one element. The prelude backends/opencl_common.cl gives ab_attn_gen.

#define MAX_DH 256

// ---- RMSNorm: a work-item per row; the weight gradient a work-item per column ----
__kernel void tr_rmsnorm_fwd(__global const float *x, __global const float *w, __global float *y,
                             __global float *rstd, long rows, int d, float eps)
{
    long r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *xr = x + r * d;
    float ss = 0.0f;
    for (int j = 0; j < d; j++)
        ss += xr[j] * xr[j];
    float inv = 1.0f / sqrt(ss / (float)d + eps);
    rstd[r] = inv;
    for (int j = 0; j < d; j++)
        y[r * d + j] = xr[j] * inv * w[j];
}

// dx = dres + r (w dy) - x r^3 / d * sum(x w dy)
__kernel void tr_rmsnorm_bwd_dx(__global const float *x, __global const float *w,
                                __global const float *rstd, __global const float *dy,
                                __global const float *dres, int has_res, __global float *dx,
                                long rows, int d)
{
    long r = get_global_id(0);
    if (r >= rows)
        return;
    size_t o = (size_t)r * d;
    float inv = rstd[r], dot = 0.0f;
    for (int j = 0; j < d; j++)
        dot += x[o + j] * w[j] * dy[o + j];
    float c = inv * inv * inv * dot / (float)d;
    for (int j = 0; j < d; j++) {
        float v = inv * w[j] * dy[o + j] - x[o + j] * c;
        dx[o + j] = has_res ? dres[o + j] + v : v;
    }
}

// dw[j] += sum over rows of dy x r
__kernel void tr_rmsnorm_bwd_dw(__global const float *x, __global const float *rstd,
                                __global const float *dy, __global float *dw, long rows, int d)
{
    int j = get_global_id(0);
    if (j >= d)
        return;
    float s = 0.0f;
    for (long r = 0; r < rows; r++)
        s += dy[r * d + j] * x[r * d + j] * rstd[r];
    dw[j] += s;
}

// ---- RoPE in place on the query and key heads: a work-item per (pair, head, token) ----
__kernel void tr_rope(__global float *qkv, int seq, int heads, int kv_heads, int dh, float sgn,
                      float c)
{
    int i = get_global_id(0), hh = get_global_id(1);
    long t = get_global_id(2);
    int hd = dh / 2;
    long pos = t % seq;
    // theta^(-2i/Dh) = exp2(-2i log2(theta) / Dh), the angle in f32 as the host's fill does
    float ang = (float)pos * exp2(-2.0f * (float)i * c);
    float cs = cos(ang), sn = sgn * sin(ang);
    __global float *p = qkv + (size_t)t * (heads + 2 * kv_heads) * dh + (size_t)hh * dh;
    float x0 = p[i], x1 = p[i + hd];
    p[i] = x0 * cs - x1 * sn;
    p[i + hd] = x0 * sn + x1 * cs;
}

// ---- attention: row q of head h in sequence b (work-item (i, h, b)) ----
inline size_t tok_off(int b, int seq, long i)
{
    return (size_t)b * seq + (size_t)i;
}

inline float dotg(__global const float *a, __global const float *b, int n)
{
    float s = 0.0f;
    for (int k = 0; k < n; k++)
        s += a[k] * b[k];
    return s;
}

// o = softmax(scale q k^T, causal) v and lse, online softmax over the keys 0..i
__kernel void tr_attn_fwd(__global const float *qkv, __global float *o, __global float *lse,
                          int seq, int H, int G, int dh, float scale)
{
    long i = get_global_id(0);
    int h = get_global_id(1), b = get_global_id(2);
    if (i >= seq)
        return;
    size_t ld = (size_t)(H + 2 * G) * dh, od = (size_t)H * dh;
    int kvh = h / (H / G);
    __global const float *q = qkv + tok_off(b, seq, i) * ld + (size_t)h * dh;
    float acc[MAX_DH];
    for (int d = 0; d < dh; d++)
        acc[d] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (long j = 0; j <= i; j++) {
        __global const float *k = qkv + tok_off(b, seq, j) * ld + (size_t)(H + kvh) * dh;
        __global const float *v = k + (size_t)G * dh;
        float s = scale * dotg(q, k, dh), mn = fmax(m, s);
        float alpha = exp(m - mn), p = exp(s - mn);
        for (int d = 0; d < dh; d++)
            acc[d] = acc[d] * alpha + p * v[d];
        l = l * alpha + p, m = mn;
    }
    __global float *orow = o + tok_off(b, seq, i) * od + (size_t)h * dh;
    for (int d = 0; d < dh; d++)
        orow[d] = acc[d] / l;
    lse[((size_t)b * H + h) * seq + i] = m + log(l);
}

// dQ of row i (and D[i] = do . o into work [B][H][seq]): dS = P (dP - D) scale, dQ = dS K
__kernel void tr_attn_bwd_dq(__global const float *qkv, __global const float *o,
                             __global const float *lse, __global const float *dout,
                             __global float *dqkv, __global float *D, int seq, int H, int G,
                             int dh, float scale)
{
    long i = get_global_id(0);
    int h = get_global_id(1), b = get_global_id(2);
    if (i >= seq)
        return;
    size_t ld = (size_t)(H + 2 * G) * dh, od = (size_t)H * dh, t = tok_off(b, seq, i);
    int kvh = h / (H / G);
    __global const float *q = qkv + t * ld + (size_t)h * dh;
    __global const float *dor = dout + t * od + (size_t)h * dh;
    float Di = dotg(dor, o + t * od + (size_t)h * dh, dh);
    float li = lse[((size_t)b * H + h) * seq + i];
    D[((size_t)b * H + h) * seq + i] = Di;
    float acc[MAX_DH];
    for (int d = 0; d < dh; d++)
        acc[d] = 0.0f;
    for (long j = 0; j <= i; j++) {
        __global const float *k = qkv + tok_off(b, seq, j) * ld + (size_t)(H + kvh) * dh;
        __global const float *v = k + (size_t)G * dh;
        float p = exp(scale * dotg(q, k, dh) - li);
        float ds = p * (dotg(dor, v, dh) - Di) * scale;
        for (int d = 0; d < dh; d++)
            acc[d] += ds * k[d];
    }
    __global float *dq = dqkv + t * ld + (size_t)h * dh;
    for (int d = 0; d < dh; d++)
        dq[d] = acc[d];
}

// dK, dV of key row j of KV head g (work-item (j, g, b)), over its query heads and rows i >= j:
// dV = P^T dO, dK = dS^T Q. Runs after tr_attn_bwd_dq (D).
__kernel void tr_attn_bwd_dkv(__global const float *qkv, __global const float *lse,
                              __global const float *dout, __global const float *D,
                              __global float *dqkv, int seq, int H, int G, int dh, float scale)
{
    long j = get_global_id(0);
    int g = get_global_id(1), b = get_global_id(2);
    if (j >= seq)
        return;
    size_t ld = (size_t)(H + 2 * G) * dh, od = (size_t)H * dh, t = tok_off(b, seq, j);
    __global const float *k = qkv + t * ld + (size_t)(H + g) * dh;
    __global const float *v = k + (size_t)G * dh;
    float ak[MAX_DH], av[MAX_DH];
    for (int d = 0; d < dh; d++)
        ak[d] = av[d] = 0.0f;
    int grp = H / G;
    for (int h = g * grp; h < (g + 1) * grp; h++) {
        __global const float *lr = lse + ((size_t)b * H + h) * seq;
        __global const float *Dr = D + ((size_t)b * H + h) * seq;
        for (long i = j; i < seq; i++) {
            size_t ti = tok_off(b, seq, i);
            __global const float *q = qkv + ti * ld + (size_t)h * dh;
            __global const float *dor = dout + ti * od + (size_t)h * dh;
            float p = exp(scale * dotg(q, k, dh) - lr[i]);
            float ds = p * (dotg(dor, v, dh) - Dr[i]) * scale;
            for (int d = 0; d < dh; d++) {
                av[d] += p * dor[d];
                ak[d] += ds * q[d];
            }
        }
    }
    __global float *dk = dqkv + t * ld + (size_t)(H + g) * dh, *dv = dk + (size_t)G * dh;
    for (int d = 0; d < dh; d++)
        dk[d] = ak[d], dv[d] = av[d];
}

// ---- SwiGLU: a work-item per (column, row) ----
__kernel void tr_swiglu_fwd(__global const float *gu, __global float *act, int f)
{
    int j = get_global_id(0);
    long t = get_global_id(1);
    float g = gu[t * 2 * f + j], s = 1.0f / (1.0f + exp(-g));
    act[t * f + j] = g * s * gu[t * 2 * f + f + j];
}

// a = silu(g) u: da/dg = u s (1 + g (1 - s)), da/du = silu(g)
__kernel void tr_swiglu_bwd(__global const float *gu, __global const float *dact,
                            __global float *dgu, int f)
{
    int j = get_global_id(0);
    long t = get_global_id(1);
    float g = gu[t * 2 * f + j], u = gu[t * 2 * f + f + j], da = dact[t * f + j];
    float s = 1.0f / (1.0f + exp(-g));
    dgu[t * 2 * f + j] = da * u * s * (1.0f + g * (1.0f - s));
    dgu[t * 2 * f + f + j] = da * g * s;
}

// ---- softmax cross-entropy: a work-item per row; logits become gscale (softmax - onehot) ----
__kernel void tr_xent(__global float *logits, __global const int *targets, __global float *loss,
                      long rows, int vocab, float gscale)
{
    long r = get_global_id(0);
    if (r >= rows)
        return;
    __global float *x = logits + (size_t)r * vocab;
    float mx = x[0];
    for (int j = 1; j < vocab; j++)
        mx = fmax(mx, x[j]);
    int y = targets[r];
    float ly = x[y] - mx, sum = 0.0f;
    for (int j = 0; j < vocab; j++) {
        x[j] = exp(x[j] - mx);
        sum += x[j];
    }
    loss[r] = log(sum) - ly;
    float inv = gscale / sum;
    for (int j = 0; j < vocab; j++)
        x[j] *= inv;
    x[y] -= gscale;
}

// ---- AdamW: a work-item per element; c1, c2 the bias corrections 1 / (1 - b^t) ----
__kernel void tr_adamw(__global float *w, __global const float *g, __global float *m,
                       __global float *v, ulong n, float lr, float b1, float b2, float eps,
                       float wd, float c1, float c2)
{
    size_t i = get_global_id(0);
    if (i >= n)
        return;
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi, v[i] = vi;
    w[i] -= lr * (mi * c1 / (sqrt(vi * c2) + eps) + wd * w[i]);
}

// ---- fill (offset + the test pattern of attention.h) and zero ----
__kernel void tr_fill(__global float *buf, ulong n, ulong seed, float amp, float offset)
{
    size_t i = get_global_id(0);
    if (i < n)
        buf[i] = offset + ab_attn_gen(seed, i, amp);
}

__kernel void tr_zero(__global float *buf, ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        buf[i] = 0.0f;
}

// f32 -> bf16 (bf16 training's GEMM operands): the prelude's ab_f32_to_bf16 (round to nearest
// even, NaN stays a quiet NaN), as the CPU's and the GPU's cast
__kernel void tr_cast_bf16(__global const float *src, __global ushort *dst, ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        dst[i] = ab_f32_to_bf16(src[i]);
}

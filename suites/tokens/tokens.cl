// SPDX-License-Identifier: MIT
// tokens OpenCL kernels: the decoder's small kernels (tokens.h; tokens_cpu.c is the spec).
// One program for every element type: a buffer is a byte pointer plus a type flag (0 = f32,
// 1 = bf16, as ab_tok_type), so a run-time branch that is uniform over the launch picks the
// load or store, and the program cache holds one build per device however the types combine.
// Offsets are element offsets computed here: cl_mem handles cannot be offset on the host.
// Arithmetic is f32; a bf16 store rounds to nearest even with ab_f32_to_bf16 (the prelude
// backends/opencl_common.cl, the same rounding as attention.h's).

// ---- element access ----

inline float ld(__global const uchar *p, int t, size_t i)
{
    if (t)
        return ab_bf16_to_f32(((__global const ushort *)p)[i]);
    return ((__global const float *)p)[i];
}

inline void st(__global uchar *p, int t, size_t i, float v)
{
    if (t)
        ((__global ushort *)p)[i] = ab_f32_to_bf16(v);
    else
        ((__global float *)p)[i] = v;
}

// ---- the test pattern (attention.h: ab_attn_gen), bit-identical to the host's ----
__kernel void tk_fill(__global uchar *buf, int t, ulong n, ulong seed, float amp)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    st(buf, t, i, ab_attn_gen(seed, i, amp));
}

// ---- residual add + RMSNorm: one work-group per row ----
// Rows row0 .. row0 + rows - 1 of h; group r handles row row0 + r and writes x row r. Each
// work-item strides over the row (columns lid, lid + n, ...), so it reads back only the h values
// it wrote itself; the sum of squares meets in a local-memory tree (the local size is a power of
// two, chosen by the host). y may be a NULL buffer when has_y is 0.
__kernel void tk_add_rmsnorm(__global float *h, __global const uchar *y, int ty, int has_y,
                             __global const uchar *w, int tw, __global uchar *x, int tx,
                             long row0, int d, float eps, __local float *red)
{
    const size_t r = get_group_id(0);
    const int lid = (int)get_local_id(0), n = (int)get_local_size(0);
    const size_t base = (size_t)(row0 + (long)r) * (size_t)d, xo = r * (size_t)d;
    float ss = 0.0f;
    if (has_y) {
        for (int j = lid; j < d; j += n) {
            float v = h[base + j] + ld(y, ty, base + j);
            h[base + j] = v;
            ss += v * v;
        }
    } else {
        for (int j = lid; j < d; j += n) {
            float v = h[base + j];
            ss += v * v;
        }
    }
    red[lid] = ss;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = n / 2; s > 0; s >>= 1) {
        if (lid < s)
            red[lid] += red[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float inv = 1.0f / sqrt(red[0] / (float)d + eps);
    for (int j = lid; j < d; j += n)
        st(x, tx, xo + j, h[base + j] * inv * ld(w, tw, (size_t)j));
}

// ---- RoPE + scatter: one work-item per (pair i, head hh of the H + 2G in a qkv row, token t) ----
// Query and key heads rotate pair (i, i + Dh/2) by pos * theta^(-2i/Dh); value heads are copied.
// The angle is computed in f32 (double is optional on OpenCL devices), as
// pos * exp2(-2i * log2(theta)/Dh) with log2(theta)/Dh from the host in double and rounded once
// -- the same theta^(-2i/Dh) as pow(), whose OpenCL error bound is 16 ulp against exp2's 3.
// The f32 rounding of the frequency and of the product (relative 1e-7, so about 1e-7 * pos
// radians) is what the suite's validation tolerance covers against the CPU's double angles.
__kernel void tk_rope_scatter(__global const uchar *qkv, int tq, __global uchar *q,
                              __global uchar *k, __global uchar *v, int to, int seq, int heads,
                              int kv_heads, int head_dim, long pos0, long cache_len,
                              float log2theta_over_dh)
{
    const int i = (int)get_global_id(0), hh = (int)get_global_id(1);
    const size_t t = get_global_id(2);
    const int nh = head_dim / 2; // pairs per head ("half" is a type in OpenCL C)
    const size_t b = t / (size_t)seq, s = t % (size_t)seq;
    const long pos = pos0 + (long)s;
    const size_t src = (t * (size_t)(heads + 2 * kv_heads) + (size_t)hh) * (size_t)head_dim;
    float x0 = ld(qkv, tq, src + (size_t)i), x1 = ld(qkv, tq, src + (size_t)(i + nh));
    __global uchar *dst;
    size_t off;
    if (hh < heads) {
        dst = q;
        off = (((b * (size_t)heads + (size_t)hh) * (size_t)seq) + s) * (size_t)head_dim;
    } else {
        const int g = hh < heads + kv_heads ? hh - heads : hh - heads - kv_heads;
        dst = hh < heads + kv_heads ? k : v;
        off = ((b * (size_t)kv_heads + (size_t)g) * (size_t)cache_len + (size_t)pos) *
              (size_t)head_dim;
    }
    float y0 = x0, y1 = x1;
    if (hh < heads + kv_heads) {
        const float ang = (float)pos * exp2(-(float)(2 * i) * log2theta_over_dh);
        float cs;
        const float sn = sincos(ang, &cs);
        y0 = x0 * cs - x1 * sn;
        y1 = x0 * sn + x1 * cs;
    }
    st(dst, to, off + (size_t)i, y0);
    st(dst, to, off + (size_t)(i + nh), y1);
}

// ---- head gather: o [B][H][seq][Dh] -> x [B*seq][H*Dh]; a work-item per (i, head, token) ----
__kernel void tk_gather_heads(__global const uchar *o, int to, __global uchar *x, int tx, int seq,
                              int heads, int head_dim)
{
    const size_t i = get_global_id(0), hh = get_global_id(1), t = get_global_id(2);
    const size_t b = t / (size_t)seq, s = t % (size_t)seq;
    const size_t src = ((b * (size_t)heads + hh) * (size_t)seq + s) * (size_t)head_dim + i;
    const size_t dst = (t * (size_t)heads + hh) * (size_t)head_dim + i;
    st(x, tx, dst, ld(o, to, src));
}

// ---- SwiGLU: a[t][j] = silu(gu[t][j]) * gu[t][f + j]; a work-item per (j, t) ----
__kernel void tk_swiglu(__global const uchar *gu, int tg, __global uchar *a, int ta, int f)
{
    const size_t j = get_global_id(0), t = get_global_id(1);
    const size_t in = t * 2 * (size_t)f + j;
    const float g = ld(gu, tg, in), u = ld(gu, tg, in + (size_t)f);
    st(a, ta, t * (size_t)f + j, g / (1.0f + exp(-g)) * u);
}

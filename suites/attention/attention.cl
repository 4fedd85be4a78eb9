// SPDX-License-Identifier: MIT
// attention OpenCL kernels (f32), built per head dimension: -DD=<head_dim, a multiple of 8>
// -DBR=<query rows per work-group> -DBC=<keys per tile>.
// Layouts as in attention.h: Q, O [b][h][s_q][D]; K, V [b][h_kv][s_kv][D].
//
// Written for CPU drivers first (PoCL is where the suite is tested): a CPU driver runs the
// work-items of a group one after another and vectorises only innermost loops, so every kernel
// gives each work-item whole rows and does its arithmetic on float8 vectors along the head
// dimension (AVX registers on the CPU; split into scalars, correctly if not fast, on GPUs).

#define VD (D / 8) // float8 vectors per row

inline float hsum8(float8 v)
{
    float4 s = v.lo + v.hi;
    float2 t = s.lo + s.hi;
    return t.x + t.y;
}

// ---- the test pattern (attention.h: ab_attn_gen), bit-identical to the host's ----
__kernel void at_fill(__global float *buf, ulong n, ulong seed, float amp)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    buf[i] = ab_attn_gen(seed, i, amp);
}

// shape arguments shared by the kernels
#define SHAPE_ARGS int heads, int kv_heads, long sq, long skv, int causal, float scale

// ---- naive: S = scale·Q·Kᵀ materialised, row softmax, O = P·V ----

// one work-item per score: a float8 dot product of a Q row and a K row
__kernel void at_scores(__global const float8 *Q, __global const float8 *K, __global float *S,
                        SHAPE_ARGS)
{
    long j = get_global_id(0), i = get_global_id(1);
    int bh = get_global_id(2);
    if (j >= skv || i >= sq)
        return;
    int b = bh / heads, h = bh % heads, kvh = h / (heads / kv_heads);
    __global const float8 *q = Q + ((size_t)bh * sq + i) * VD;
    __global const float8 *k = K + (((size_t)b * kv_heads + kvh) * skv + j) * VD;
    float8 acc = 0.0f;
    for (int c = 0; c < VD; c++)
        acc = fma(q[c], k[c], acc);
    S[((size_t)bh * sq + i) * skv + j] = hsum8(acc) * scale;
}

// one work-item per row: max, exp, normalise (masked keys get probability 0)
__kernel void at_softmax(__global float *S, SHAPE_ARGS)
{
    size_t row = get_global_id(0); // bh * sq + i
    long i = row % sq;
    __global float *r = S + row * skv;
    long n = skv;
    if (causal) {
        long lim = i + (skv - sq) + 1;
        n = lim < n ? (lim > 0 ? lim : 0) : n;
    }
    float mx = -INFINITY;
    for (long j = 0; j < n; j++)
        mx = fmax(mx, r[j]);
    float sum = 0.0f;
    for (long j = 0; j < n; j++) {
        float p = exp(r[j] - mx);
        r[j] = p;
        sum += p;
    }
    float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (long j = 0; j < skv; j++)
        r[j] = j < n ? r[j] * inv : 0.0f;
}

// one work-item per 8 output columns of a row: O[i][c..c+8) = Σ_j P[i][j]·V[j][c..c+8)
__kernel void at_pv(__global const float *P, __global const float8 *V, __global float8 *O,
                    SHAPE_ARGS)
{
    int cv = get_global_id(0);
    long i = get_global_id(1);
    int bh = get_global_id(2);
    if (cv >= VD || i >= sq)
        return;
    int b = bh / heads, h = bh % heads, kvh = h / (heads / kv_heads);
    __global const float *p = P + ((size_t)bh * sq + i) * skv;
    __global const float8 *v = V + ((size_t)b * kv_heads + kvh) * skv * VD + cv;
    float8 acc = 0.0f;
    for (long j = 0; j < skv; j++)
        acc = fma((float8)(p[j]), v[(size_t)j * VD], acc);
    O[((size_t)bh * sq + i) * VD + cv] = acc;
}

// ---- fused prefill: one work-item per query row, K/V tiles of BC keys in local memory ----
// The work-item keeps its query row (pre-scaled by scale·log2 e, so the softmax uses exp2) and
// its output accumulator in float8 registers and runs the online softmax once per tile: scores
// of the tile, one rescale of the accumulator, then P·V for the tile. Keys past the causal
// limit of the group's last row are never loaded.
__kernel __attribute__((reqd_work_group_size(BR, 1, 1))) void
at_flash(__global const float8 *Q, __global const float8 *K, __global const float8 *V,
         __global float8 *O, SHAPE_ARGS)
{
    __local float8 ks[BC * VD], vs[BC * VD];
    int t = get_local_id(0);
    long q0 = get_group_id(0) * BR, i = q0 + t;
    int bh = get_group_id(1);
    int b = bh / heads, h = bh % heads, kvh = h / (heads / kv_heads);
    __global const float8 *k = K + ((size_t)b * kv_heads + kvh) * skv * VD;
    __global const float8 *v = V + ((size_t)b * kv_heads + kvh) * skv * VD;
    long off = skv - sq;
    const float qscale = scale * M_LOG2E_F;
    float8 q[VD], o[VD];
    for (int c = 0; c < VD; c++) {
        q[c] = i < sq ? Q[((size_t)bh * sq + i) * VD + c] * qscale : (float8)(0.0f);
        o[c] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    long last = q0 + BR - 1 < sq - 1 ? q0 + BR - 1 : sq - 1; // last row of the group
    long kend = causal ? (last + off + 1 < skv ? last + off + 1 : skv) : skv;
    long lim = causal ? i + off : skv - 1; // last key this row sees
    float s[BC];
    for (long k0 = 0; k0 < kend; k0 += BC) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = t; e < BC * VD; e += BR) {
            bool in = k0 + e / VD < skv;
            ks[e] = in ? k[(size_t)k0 * VD + e] : (float8)(0.0f);
            vs[e] = in ? v[(size_t)k0 * VD + e] : (float8)(0.0f);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float mx = m;
        for (int j = 0; j < BC; j++) {
            float8 acc = 0.0f;
            for (int c = 0; c < VD; c++)
                acc = fma(q[c], ks[j * VD + c], acc);
            s[j] = k0 + j <= lim ? hsum8(acc) : -INFINITY;
            mx = fmax(mx, s[j]);
        }
        float alpha = m == -INFINITY ? 0.0f : exp2(m - mx);
        float mu = mx == -INFINITY ? 0.0f : mx;
        for (int c = 0; c < VD; c++)
            o[c] *= alpha;
        float sum = 0.0f;
        for (int j = 0; j < BC; j++) {
            float p = exp2(s[j] - mu);
            sum += p;
            for (int c = 0; c < VD; c++)
                o[c] = fma((float8)(p), vs[j * VD + c], o[c]);
        }
        l = l * alpha + sum;
        m = mx;
    }
    if (i < sq) {
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int c = 0; c < VD; c++)
            O[((size_t)bh * sq + i) * VD + c] = o[c] * inv;
    }
}

// ---- fused decode, split-KV ----
// One work-item per (chunk of the cache, KV head of a sequence): the G = heads / kv_heads
// queries that share the KV head, up to GB of them per pass, against keys [j0, j1), so each K
// and V row is read once per pass. Online softmax per step of 8 keys; the partial result (m, l,
// unnormalised O) of every query goes to part[b·h + query][split]; at_combine merges them.
#define GB 4

__kernel void at_decode(__global const float8 *Q, __global const float8 *K,
                        __global const float8 *V, __global float *part, SHAPE_ARGS, int g,
                        long chunk, int nsplit)
{
    int sp = get_global_id(0), u = get_global_id(1);
    int b = u / kv_heads, kvh = u % kv_heads;
    long j0 = (long)sp * chunk, j1 = j0 + chunk < skv ? j0 + chunk : skv;
    __global const float8 *k = K + ((size_t)b * kv_heads + kvh) * skv * VD;
    __global const float8 *v = V + ((size_t)b * kv_heads + kvh) * skv * VD;
    size_t qh = (size_t)b * heads + (size_t)kvh * g; // first query head of the group
    const float qscale = scale * M_LOG2E_F;
    for (int g0 = 0; g0 < g; g0 += GB) {
        int gn = g - g0 < GB ? g - g0 : GB;
        float8 q[GB][VD], o[GB][VD];
        float m[GB], l[GB];
        for (int r = 0; r < GB; r++) {
            for (int c = 0; c < VD; c++) {
                q[r][c] = r < gn ? Q[(qh + g0 + r) * VD + c] * qscale : (float8)(0.0f);
                o[r][c] = 0.0f;
            }
            m[r] = -INFINITY;
            l[r] = 0.0f;
        }
        // 8 keys per step: their scores as one float8, one rescale and a vector exp2 per step
        for (long jb = j0; jb < j1; jb += 8) {
            int nk = j1 - jb < 8 ? (int)(j1 - jb) : 8;
            __global const float8 *kr = k + (size_t)jb * VD, *vr = v + (size_t)jb * VD;
            for (int r = 0; r < gn; r++) {
                float sc[8];
                for (int jj = 0; jj < 8; jj++) {
                    float8 acc = 0.0f;
                    if (jj < nk)
                        for (int c = 0; c < VD; c++)
                            acc = fma(q[r][c], kr[jj * VD + c], acc);
                    sc[jj] = jj < nk ? hsum8(acc) : -INFINITY;
                }
                float8 s8 = vload8(0, sc);
                float4 m4 = fmax(s8.lo, s8.hi);
                float2 m2 = fmax(m4.lo, m4.hi);
                float mx = fmax(m[r], fmax(m2.x, m2.y));
                float a = m[r] == -INFINITY ? 0.0f : exp2(m[r] - mx);
                float8 p8 = exp2(s8 - (float8)(mx));
                float pp[8];
                vstore8(p8, 0, pp);
                l[r] = l[r] * a + hsum8(p8);
                m[r] = mx;
                for (int c = 0; c < VD; c++) {
                    float8 x = o[r][c] * a;
                    for (int jj = 0; jj < nk; jj++)
                        x = fma((float8)(pp[jj]), vr[jj * VD + c], x);
                    o[r][c] = x;
                }
            }
        }
        for (int r = 0; r < gn; r++) {
            __global float *pr = part + ((qh + g0 + r) * nsplit + sp) * (D + 2);
            pr[0] = m[r];
            pr[1] = l[r];
            for (int c = 0; c < VD; c++)
                vstore8(o[r][c], c, pr + 2);
        }
    }
}

// one work-item per (query head, column): O = Σ_s 2^(m_s - M)·O_s / Σ_s 2^(m_s - M)·l_s
__kernel void at_combine(__global const float *part, __global float *O, int nsplit, long rows)
{
    size_t id = get_global_id(0);
    size_t bh = id / D;
    int c = id % D;
    if (bh >= (size_t)rows)
        return;
    __global const float *p = part + bh * nsplit * (D + 2);
    float M = -INFINITY;
    for (int s = 0; s < nsplit; s++)
        M = fmax(M, p[s * (D + 2)]);
    float L = 0.0f, acc = 0.0f;
    for (int s = 0; s < nsplit; s++) {
        float ms = p[s * (D + 2)];
        if (ms == -INFINITY)
            continue;
        float w = exp2(ms - M);
        L += w * p[s * (D + 2) + 1];
        acc += w * p[s * (D + 2) + 2 + c];
    }
    O[bh * D + c] = L > 0.0f ? acc / L : 0.0f;
}

// SPDX-License-Identifier: MIT
// gemm OpenCL kernels (see gemm.h for the conventions: row-major, op(A) M x K, op(B) K x N).
//
// ab_gemm_fill: the input values of gemm.h's ab_gemm_value_bits, computed in place (the host
//   reference recomputes the same bits), or the "never written" sentinel.
// ab_gemm: the portable tiled kernel, built once per input type with -DKIND=<ab_gemm_type code>
//   (0 f64, 1 f32, 2 bf16, 3 f16, 6 i8) [-DUSE_FP64]: f64 accumulates in double, i8 in int, the
//   others in float (bf16 and f16 inputs converted on load, f32 out). A work-group of 16 x 16 work-items computes a 64 x 64 tile of C, each work-item a 4 x 4
//   block spaced 16 apart (so neighbouring work-items touch neighbouring columns: coalesced
//   stores, conflict-free local reads). Operands pass through local memory 16 deep along K,
//   converted to the accumulator type on the way in. Strides instead of layout flags: element
//   (m, k) of op(A) is A[m*sam + k*sak], (k, n) of op(B) is B[k*sbk + n*sbn]; the tile loads
//   walk the unit-stride dimension fastest.
#ifdef USE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// ---- fill -----------------------------------------------------------------------------------

ulong ab_hash(ulong seed, ulong i)
{
    ulong z = seed + (i + 1) * 0x9E3779B97F4A7C15UL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    return z ^ (z >> 31);
}

// type codes: ab_gemm_type in gemm.h
ulong ab_value_bits(uint t, ulong seed, ulong i)
{
    ulong h = ab_hash(seed, i);
    ulong s = h >> 63, e = (h >> 62) & 1UL;
    switch (t) {
    case 0: return s << 63 | (1021UL + e) << 52 | (h & 0xFFFFFFFFFFFFFUL);
    case 1: return s << 31 | (125UL + e) << 23 | (h & 0x7FFFFFUL);
    case 2: return s << 15 | (125UL + e) << 7 | (h & 0x7FUL);
    case 3: return s << 15 | (13UL + e) << 10 | (h & 0x3FFUL);
    case 4: return s << 7 | (5UL + e) << 3 | (h & 0x7UL);
    case 5: return s << 7 | (13UL + e) << 2 | (h & 0x3UL);
    case 6: {
        ulong v = 1UL + (h & 0xFFFFFFFFUL) % 127UL;
        return (s ? 256UL - v : v) & 0xFFUL;
    }
    default: return 0;
    }
}

__kernel void ab_gemm_fill(__global uchar *buf, ulong count, uint type, uint esize, ulong seed,
                           uint sentinel_mode, ulong sentinel)
{
    size_t i = get_global_id(0);
    if (i >= count)
        return;
    ulong v = sentinel_mode ? sentinel : ab_value_bits(type, seed, i);
    switch (esize) {
    case 8: ((__global ulong *)buf)[i] = v; break;
    case 4: ((__global uint *)buf)[i] = (uint)v; break;
    case 2: ((__global ushort *)buf)[i] = (ushort)v; break;
    default: buf[i] = (uchar)v; break;
    }
}

// ---- the tiled GEMM ---------------------------------------------------------------------------
#ifdef KIND
#if KIND == 0
#define AT double
#define CT double
#define ACC double
#define LOAD(p, i) (p)[i]
#define ACC8 double8
#define LOAD8(p, i) vload8(0, (p) + (i))
#elif KIND == 1
#define AT float
#define CT float
#define ACC float
#define LOAD(p, i) (p)[i]
#define ACC8 float8
#define LOAD8(p, i) vload8(0, (p) + (i))
#elif KIND == 2
#define AT ushort
#define CT float
#define ACC float
#define LOAD(p, i) ab_bf16_to_f32((p)[i])
#define ACC8 float8
#define LOAD8(p, i) as_float8(convert_uint8(vload8(0, (p) + (i))) << 16)
#elif KIND == 3
#define AT half
#define CT float
#define ACC float
#define LOAD(p, i) vload_half((i), (p)) // core OpenCL: no cl_khr_fp16 needed
#define ACC8 float8
#define LOAD8(p, i) vload_half8(0, (p) + (i))
#elif KIND == 6
#define AT char
#define CT int
#define ACC int
#define LOAD(p, i) (int)(p)[i]
#define ACC8 int8
#define LOAD8(p, i) convert_int8(vload8(0, (p) + (i)))
#endif
#define BT AT
#define ST ACC
#define LOAD_A LOAD
#define LOAD_B LOAD

#define TS 64  // tile of C per work-group
#define TK 16  // depth of a tile step
#define WPT 4  // C entries per work-item per dimension
#define RTS 16 // work-items per dimension (TS / WPT)

__kernel __attribute__((reqd_work_group_size(RTS, RTS, 1))) void
ab_gemm(const long M, const long N, const long K, __global const AT *A, const long sam,
        const long sak, const long bsa, __global const BT *B, const long sbk, const long sbn,
        const long bsb, __global CT *C, const long ldc, const long bsc, const ST alpha,
        const ST beta)
{
    __local ACC As[TK][TS];
    __local ACC Bs[TK][TS];
    const int tn = get_local_id(0), tm = get_local_id(1);
    const int tid = tm * RTS + tn;
    const long n0 = (long)get_group_id(0) * TS, m0 = (long)get_group_id(1) * TS;
    const long bz = get_group_id(2);
    A += bz * bsa;
    B += bz * bsb;
    C += bz * bsc;
    ACC acc[WPT][WPT];
    for (int i = 0; i < WPT; i++)
        for (int j = 0; j < WPT; j++)
            acc[i][j] = (ACC)0;
    const bool a_kfast = sak == 1, b_nfast = sbn == 1;
    for (long k0 = 0; k0 < K; k0 += TK) {
        for (int l = 0; l < (TS * TK) / (RTS * RTS); l++) {
            int e = l * RTS * RTS + tid;
            int mm = a_kfast ? e / TK : e % TS, kk = a_kfast ? e % TK : e / TS;
            long gm = m0 + mm, gk = k0 + kk;
            As[kk][mm] = (gm < M && gk < K) ? (ACC)LOAD_A(A, gm * sam + gk * sak) : (ACC)0;
            int nn = b_nfast ? e % TS : e / TK, kb = b_nfast ? e / TS : e % TK;
            long gn = n0 + nn, gkb = k0 + kb;
            Bs[kb][nn] = (gn < N && gkb < K) ? (ACC)LOAD_B(B, gkb * sbk + gn * sbn) : (ACC)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TK; kk++) {
            ACC a[WPT], b[WPT];
            for (int w = 0; w < WPT; w++) {
                a[w] = As[kk][tm + w * RTS];
                b[w] = Bs[kk][tn + w * RTS];
            }
            for (int i = 0; i < WPT; i++)
                for (int j = 0; j < WPT; j++)
                    acc[i][j] += a[i] * b[j];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < WPT; i++) {
        long gm = m0 + tm + i * RTS;
        if (gm >= M)
            continue;
        for (int j = 0; j < WPT; j++) {
            long gn = n0 + tn + j * RTS;
            if (gn >= N)
                continue;
            __global CT *c = C + gm * ldc + gn;
            // beta == 0: C is write-only (it may hold the never-written marker)
            *c = beta == (ST)0 ? (CT)(alpha * acc[i][j]) : (CT)(alpha * acc[i][j] + beta * *c);
        }
    }
}

// Skinny products (M <= 4 rows: decoding): the tile above would compute 64 rows for one. One
// work-item per column of C keeps every row's sum; B is read once (coalesced across
// work-items for NN/TN, where its rows are contiguous), A's few values are shared by all.
__kernel void ab_gemm_skinny(const long M, const long N, const long K, __global const AT *A,
                             const long sam, const long sak, const long bsa, __global const BT *B,
                             const long sbk, const long sbn, const long bsb, __global CT *C,
                             const long ldc, const long bsc, const ST alpha, const ST beta)
{
    const long j = get_global_id(0), bz = get_global_id(1);
    if (j >= N)
        return;
    A += bz * bsa;
    B += bz * bsb;
    C += bz * bsc;
    ACC acc[4] = {(ACC)0, (ACC)0, (ACC)0, (ACC)0};
    for (long k = 0; k < K; k++) {
        ACC b = (ACC)LOAD_B(B, k * sbk + j * sbn);
        for (int i = 0; i < 4; i++)
            if (i < M)
                acc[i] += (ACC)LOAD_A(A, i * sam + k * sak) * b;
    }
    for (int i = 0; i < 4 && i < M; i++) {
        __global CT *c = C + i * ldc + j;
        *c = beta == (ST)0 ? (CT)(alpha * acc[i]) : (CT)(alpha * acc[i] + beta * *c);
    }
}
// Skinny products in the NT layout (op(A) rows and B rows both contiguous along K: y = x W^T,
// the decode projections): one work-group per column of C, its SKW work-items striding along K
// together (neighbouring work-items read neighbouring elements: one contiguous stream of W per
// work-group, vectorised on CPU drivers, coalesced on GPUs), then a tree reduction in local
// memory for each of the M <= SKNT rows.
#define SKW 64
#define SKNT 16
__kernel __attribute__((reqd_work_group_size(SKW, 1, 1))) void
ab_gemm_skinny_nt(const long M, const long N, const long K, __global const AT *A, const long sam,
                  const long sak, const long bsa, __global const BT *B, const long sbk,
                  const long sbn, const long bsb, __global CT *C, const long ldc, const long bsc,
                  const ST alpha, const ST beta)
{
    __local ACC red[SKNT][SKW];
    const long j = get_group_id(0), bz = get_group_id(1);
    const int t = get_local_id(0);
    A += bz * bsa;
    B += bz * bsb + j * sbn;
    C += bz * bsc;
    ACC acc[SKNT];
    for (int i = 0; i < SKNT; i++)
        acc[i] = (ACC)0;
    for (long k = t; k < K; k += SKW) {
        ACC b = (ACC)LOAD_B(B, k);
        for (int i = 0; i < SKNT; i++)
            if (i < M)
                acc[i] += (ACC)LOAD_A(A, i * sam + k) * b;
    }
    for (int i = 0; i < SKNT; i++)
        red[i][t] = acc[i];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = SKW / 2; w > 0; w >>= 1) {
        if (t < w)
            for (int i = 0; i < SKNT; i++)
                red[i][t] += red[i][t + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t < M) {
        __global CT *c = C + t * ldc + j;
        *c = beta == (ST)0 ? (CT)(alpha * red[t][0]) : (CT)(alpha * red[t][0] + beta * *c);
    }
    (void)sak, (void)sbk, (void)N;
}
// The same product for CPU devices, whose work-items are iterations of a thread's loop (PoCL and
// other host-memory drivers), where a work-group per column costs more to schedule than its
// column takes to compute: one work-item per column walks its row of W in 8-wide vectors, for
// the rows of op(A) four at a time (W's row, a few kB, stays in L1 between the groups).
__kernel void ab_gemm_skinny_nt_rows(const long M, const long N, const long K,
                                     __global const AT *A, const long sam, const long sak,
                                     const long bsa, __global const BT *B, const long sbk,
                                     const long sbn, const long bsb, __global CT *C,
                                     const long ldc, const long bsc, const ST alpha,
                                     const ST beta)
{
    const long j = get_global_id(0), bz = get_global_id(1);
    if (j >= N)
        return;
    A += bz * bsa;
    B += bz * bsb + j * sbn;
    C += bz * bsc;
    const long K8 = K / 8 * 8;
    for (long i0 = 0; i0 < M; i0 += 4) {
        const int mm = M - i0 < 4 ? (int)(M - i0) : 4;
        ACC8 acc[4] = {(ACC8)0, (ACC8)0, (ACC8)0, (ACC8)0};
        for (long k = 0; k < K8; k += 8) {
            ACC8 b = LOAD8(B, k);
            for (int i = 0; i < 4; i++)
                if (i < mm)
                    acc[i] += LOAD8(A, (i0 + i) * sam + k) * b;
        }
        for (int i = 0; i < mm; i++) {
            ACC8 v = acc[i];
            ACC sum = v.s0 + v.s1 + v.s2 + v.s3 + v.s4 + v.s5 + v.s6 + v.s7;
            for (long k = K8; k < K; k++)
                sum += (ACC)LOAD_A(A, (i0 + i) * sam + k) * (ACC)LOAD_B(B, k);
            __global CT *c = C + (i0 + i) * ldc + j;
            *c = beta == (ST)0 ? (CT)(alpha * sum) : (CT)(alpha * sum + beta * *c);
        }
    }
    (void)sak, (void)sbk;
}
#endif

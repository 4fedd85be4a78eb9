// SPDX-License-Identifier: MIT
// membw OpenCL kernels. Built once per device and element type with
//   -DT=float|double -DVW=<vector width> [-DUSE_FP64]
// Every work-item of the element-wise kernels handles one vector of VW elements; n is a multiple
// of 64, so VW <= 16 always divides it.
#ifdef USE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VT CAT(T, VW)

// mask: the arrays the measured kernel uses (1 = a, 2 = b, 4 = c); the others are placeholders
__kernel void mb_init(__global VT *a, __global VT *b, __global VT *c, T va, T vb, T vc, uint mask)
{
    size_t i = get_global_id(0);
    if (mask & 1)
        a[i] = (VT)(va);
    if (mask & 2)
        b[i] = (VT)(vb);
    if (mask & 4)
        c[i] = (VT)(vc);
}

__kernel void mb_copy(__global const VT *restrict a, __global VT *restrict c)
{
    size_t i = get_global_id(0);
    c[i] = a[i];
}

__kernel void mb_scale(__global VT *restrict b, __global const VT *restrict c, T q)
{
    size_t i = get_global_id(0);
    b[i] = q * c[i];
}

__kernel void mb_add(__global const VT *restrict a, __global const VT *restrict b,
                     __global VT *restrict c)
{
    size_t i = get_global_id(0);
    c[i] = a[i] + b[i];
}

__kernel void mb_triad(__global VT *restrict a, __global const VT *restrict b,
                       __global const VT *restrict c, T q)
{
    size_t i = get_global_id(0);
    a[i] = b[i] + q * c[i];
}

__kernel void mb_write(__global VT *restrict c, T w)
{
    size_t i = get_global_id(0);
    c[i] = (VT)(w);
}

inline T hsum(VT v)
{
#if VW == 1
    return v;
#else
    T s = 0;
    T lanes[VW];
    CAT(vstore, VW)(v, 0, lanes);
    for (int k = 0; k < VW; k++)
        s += lanes[k];
    return s;
#endif
}

// Reductions: each work-item adds FETCH = 64 / VW vectors (64 elements) and writes one partial
// sum, n / 64 partials in all. Within a work-group, neighbouring work-items read neighbouring
// vectors (coalesced on GPUs, contiguous lanes for CPU vectorisers), as clpeak's bandwidth
// kernels do. The partial-sum writes (1/64 of the data read) are not counted as traffic.
#define FETCH (64 / VW)

__kernel void mb_dot(__global const VT *restrict a, __global const VT *restrict b,
                     __global T *restrict partial)
{
    size_t lsz = get_local_size(0);
    size_t id = get_group_id(0) * lsz * FETCH + get_local_id(0);
    VT s = a[id] * b[id];
    for (int k = 1; k < FETCH; k++)
        s += a[id + k * lsz] * b[id + k * lsz];
    partial[get_global_id(0)] = hsum(s);
}

__kernel void mb_read(__global const VT *restrict a, __global T *restrict partial)
{
    size_t lsz = get_local_size(0);
    size_t id = get_group_id(0) * lsz * FETCH + get_local_id(0);
    VT s = a[id];
    for (int k = 1; k < FETCH; k++)
        s += a[id + k * lsz];
    partial[get_global_id(0)] = hsum(s);
}

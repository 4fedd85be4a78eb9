/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for librocblas.so in tests: the entry points accelbench's HIP vendor GEMM loads
 * (suites/gemm/gemm_rocblas.h), with rocBLAS's documented semantics on host memory, so the real
 * loader and the row-major -> column-major mapping run on a machine without a GPU.
 *
 * rocblas_gemm_ex / rocblas_gemm_strided_batched_ex compute, column-major as rocBLAS does,
 *   D = alpha op(A) op(B) + beta C,  op(A) m x k, op(B) k x n, element (i, j) of X at X[i + j ldx],
 * for f64 (f64 compute), f32 (f32 compute) and i8 -> i32 (i32 compute), after rocBLAS's argument
 * checks (lda >= m or k, ldb >= k or n, ldc, ldd >= m: rocblas_status_invalid_size). Other type
 * combinations answer rocblas_status_not_implemented. Every call is counted and its arguments
 * kept in fake_rocblas_last, which the test reads through dlsym.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

enum { OP_N = 111, OP_T = 112, F32 = 151, F64 = 152, I8 = 160, I32 = 162 };
enum { OK = 0, INVALID_HANDLE = 1, NOT_IMPLEMENTED = 2, INVALID_SIZE = 4 };

typedef struct fake_call {
    int calls, batched;
    int trans_a, trans_b, m, n, k, a_type, b_type, c_type, d_type, compute_type;
    int lda, ldb, ldc, ldd, batch, algo, solution, flags;
    long long stride_a, stride_b, stride_c, stride_d;
    const void *stream;
} fake_call;

EXPORT fake_call fake_rocblas_last;

static int handle_token;

EXPORT int rocblas_create_handle(void **h)
{
    *h = &handle_token;
    return OK;
}

EXPORT int rocblas_destroy_handle(void *h)
{
    return h == &handle_token ? OK : INVALID_HANDLE;
}

EXPORT int rocblas_set_stream(void *h, void *stream)
{
    fake_rocblas_last.stream = stream;
    return h == &handle_token ? OK : INVALID_HANDLE;
}

EXPORT int rocblas_get_version_string(char *buf, size_t len)
{
    static const char v[] = "4.9.0.fake";
    if (len < sizeof(v)) return INVALID_SIZE;
    memcpy(buf, v, sizeof(v));
    return OK;
}

EXPORT const char *rocblas_status_to_string(int s)
{
    return s == NOT_IMPLEMENTED ? "rocblas_status_not_implemented"
           : s == INVALID_SIZE  ? "rocblas_status_invalid_size"
                                : "rocblas_status_other";
}

static double load(int t, const void *p, long long i)
{
    switch (t) {
    case F64:
        return ((const double *)p)[i];
    case F32:
        return ((const float *)p)[i];
    case I8:
        return ((const int8_t *)p)[i];
    default:
        return ((const int32_t *)p)[i];
    }
}

static void store(int t, void *p, long long i, double v)
{
    switch (t) {
    case F64:
        ((double *)p)[i] = v;
        break;
    case F32:
        ((float *)p)[i] = (float)v;
        break;
    default:
        ((int32_t *)p)[i] = (int32_t)v;
        break;
    }
}

static double scalar(int compute, const void *p)
{
    return compute == F64   ? *(const double *)p
           : compute == I32 ? *(const int32_t *)p
                            : *(const float *)p;
}

static int gemm(void *h, int ta, int tb, int m, int n, int k, const void *alpha, const void *a,
                int at, int lda, long long sa, const void *b, int bt, int ldb, long long sb,
                const void *beta, const void *c, int ct, int ldc, long long sc, void *d, int dt,
                int ldd, long long sd, int batch, int compute, int algo, int solution,
                unsigned flags, int batched)
{
    fake_call *f = &fake_rocblas_last;
    const void *stream = f->stream;
    *f = (fake_call){.calls = f->calls + 1,
                     .batched = batched,
                     .trans_a = ta,
                     .trans_b = tb,
                     .m = m,
                     .n = n,
                     .k = k,
                     .a_type = at,
                     .b_type = bt,
                     .c_type = ct,
                     .d_type = dt,
                     .compute_type = compute,
                     .lda = lda,
                     .ldb = ldb,
                     .ldc = ldc,
                     .ldd = ldd,
                     .batch = batch,
                     .algo = algo,
                     .solution = solution,
                     .flags = (int)flags,
                     .stride_a = sa,
                     .stride_b = sb,
                     .stride_c = sc,
                     .stride_d = sd,
                     .stream = stream};
    if (h != &handle_token) return INVALID_HANDLE;
    if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < (ta == OP_N ? m : k) ||
        ldb < (tb == OP_N ? k : n) || ldc < m || ldd < m)
        return INVALID_SIZE;
    int ok = (at == F64 && bt == F64 && ct == F64 && dt == F64 && compute == F64) ||
             (at == F32 && bt == F32 && ct == F32 && dt == F32 && compute == F32) ||
             (at == I8 && bt == I8 && ct == I32 && dt == I32 && compute == I32);
    if (!ok) return NOT_IMPLEMENTED;
    double al = scalar(compute, alpha), be = scalar(compute, beta);
    for (int q = 0; q < batch; q++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int l = 0; l < k; l++) {
                    long long ia = ta == OP_N ? i + (long long)l * lda : l + (long long)i * lda;
                    long long ib = tb == OP_N ? l + (long long)j * ldb : j + (long long)l * ldb;
                    s += load(at, a, q * sa + ia) * load(bt, b, q * sb + ib);
                }
                double v = al * s;
                if (be != 0) v += be * load(ct, c, q * sc + i + (long long)j * ldc);
                store(dt, d, q * sd + i + (long long)j * ldd, v);
            }
    return OK;
}

EXPORT int rocblas_gemm_ex(void *h, int ta, int tb, int m, int n, int k, const void *alpha,
                           const void *a, int at, int lda, const void *b, int bt, int ldb,
                           const void *beta, const void *c, int ct, int ldc, void *d, int dt,
                           int ldd, int compute, int algo, int32_t solution, uint32_t flags)
{
    return gemm(h, ta, tb, m, n, k, alpha, a, at, lda, 0, b, bt, ldb, 0, beta, c, ct, ldc, 0, d, dt,
                ldd, 0, 1, compute, algo, solution, flags, 0);
}

EXPORT int rocblas_gemm_strided_batched_ex(void *h, int ta, int tb, int m, int n, int k,
                                           const void *alpha, const void *a, int at, int lda,
                                           int64_t sa, const void *b, int bt, int ldb, int64_t sb,
                                           const void *beta, const void *c, int ct, int ldc,
                                           int64_t sc, void *d, int dt, int ldd, int64_t sd,
                                           int batch, int compute, int algo, int32_t solution,
                                           uint32_t flags)
{
    return gemm(h, ta, tb, m, n, k, alpha, a, at, lda, sa, b, bt, ldb, sb, beta, c, ct, ldc, sc, d,
                dt, ldd, sd, batch, compute, algo, solution, flags, 1);
}

/* SPDX-License-Identifier: MIT */
/*
 * rocBLAS for the HIP plugin's vendor GEMM, loaded with dlopen on first use (as the CUDA plugin
 * loads cuBLASLt): the plugin builds without rocBLAS headers and still loads, with membw, the
 * portable kernels and attention, on a ROCm box where rocBLAS is not installed; only the vendor
 * GEMM then becomes a skip naming the missing library.
 *
 * Why a separate plain-C file and not an #ifdef AB_GPU_HIP block in gemm_gpu.cu: the loader
 * and the row-major -> column-major mapping need no GPU, so the unit tests compile this file
 * with the host compiler and run it against a stand-in librocblas (tests/fake_rocblas.c) that
 * records the arguments of rocblas_gemm_strided_batched_ex. The part that needs the HIP
 * runtime (handle on the device's stream, the ab_gemm_impl table) stays in gemm_gpu.cu under
 * AB_GPU_HIP, beside the cuBLASLt path, so the file shared by CUDA and HIP is still one.
 *
 * The few rocBLAS types used are declared here from rocBLAS's public header
 * library/include/internal/rocblas-types.h, ROCm 6.x version (rocBLAS 4.x, "Copyright (C)
 * 2016-2023"); every value used below is the same in the ROCm 5.x header (rocBLAS 2.4x,
 * "2016-2022"), which is what makes one declaration serve both. The prototypes follow
 * rocblas-functions.h / rocblas-auxiliary.h of the same releases:
 *
 *   rocblas_status rocblas_create_handle(rocblas_handle *handle);
 *   rocblas_status rocblas_destroy_handle(rocblas_handle handle);
 *   rocblas_status rocblas_set_stream(rocblas_handle handle, hipStream_t stream);
 *   rocblas_status rocblas_get_version_string(char *buf, size_t len);
 *   const char *rocblas_status_to_string(rocblas_status status);        (optional here)
 *   rocblas_status rocblas_gemm_strided_batched_ex(rocblas_handle, rocblas_operation trans_a,
 *       rocblas_operation trans_b, rocblas_int m, n, k, const void *alpha,
 *       const void *a, rocblas_datatype a_type, rocblas_int lda, rocblas_stride stride_a,
 *       const void *b, rocblas_datatype b_type, rocblas_int ldb, rocblas_stride stride_b,
 *       const void *beta, const void *c, rocblas_datatype c_type, rocblas_int ldc,
 *       rocblas_stride stride_c, void *d, rocblas_datatype d_type, rocblas_int ldd,
 *       rocblas_stride stride_d, rocblas_int batch_count, rocblas_datatype compute_type,
 *       rocblas_gemm_algo algo, int32_t solution_index, uint32_t flags);
 *   rocblas_gemm_ex: the same without the strides and batch_count.
 *
 * rocblas_int is int32_t (the LP64 build every distribution ships), rocblas_stride int64_t,
 * enums are passed as int, handles and streams are pointers. Scalars alpha and beta are host
 * pointers (rocBLAS's default pointer mode) of the compute type.
 *
 * Plain C11 that also compiles as C++ (hipcc -x hip): no designated initialisers, explicit
 * casts from void *. Like the rest of the plugin it must not call back into the binary.
 */
#ifndef AB_GEMM_ROCBLAS_H
#define AB_GEMM_ROCBLAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* In the plugin these stay private to it (the plugin exports only ab_backend_plugin_hip and its
 * tables), so a host program that has its own copy (tests/test_rocblas) never interposes. */
#ifdef AB_GPU_HIP
#define AB_RB_API __attribute__((visibility("hidden")))
#else
#define AB_RB_API
#endif

/* rocblas_operation */
enum { AB_RB_OP_N = 111, AB_RB_OP_T = 112 };
/* rocblas_datatype */
enum {
    AB_RB_F16 = 150,
    AB_RB_F32 = 151,
    AB_RB_F64 = 152,
    AB_RB_I8 = 160,
    AB_RB_I32 = 162,
    AB_RB_BF16 = 168
};
/* rocblas_status (0 = success), rocblas_gemm_algo_standard, rocblas_gemm_flags_none */
enum { AB_RB_SUCCESS = 0, AB_RB_ALGO_STANDARD = 0, AB_RB_FLAGS_NONE = 0 };

typedef void *ab_rb_handle; /* rocblas_handle */

typedef int (*ab_rb_gemm_sb_fn)(ab_rb_handle, int, int, int32_t, int32_t, int32_t, const void *,
                                const void *, int, int32_t, int64_t, const void *, int, int32_t,
                                int64_t, const void *, const void *, int, int32_t, int64_t, void *,
                                int, int32_t, int64_t, int32_t, int, int, int32_t, uint32_t);
typedef int (*ab_rb_gemm_fn)(ab_rb_handle, int, int, int32_t, int32_t, int32_t, const void *,
                             const void *, int, int32_t, const void *, int, int32_t, const void *,
                             const void *, int, int32_t, void *, int, int32_t, int, int, int32_t,
                             uint32_t);

typedef struct ab_rocblas_api {
    bool ok;
    char why[256];  /* when !ok: why the library cannot be used */
    char path[256]; /* the name dlopen accepted */
    char version[64];
    void *dl;
    int (*create_handle)(ab_rb_handle *);
    int (*destroy_handle)(ab_rb_handle);
    int (*set_stream)(ab_rb_handle, void *); /* hipStream_t */
    int (*get_version_string)(char *, size_t);
    const char *(*status_to_string)(int); /* NULL where the library predates it */
    ab_rb_gemm_fn gemm_ex;
    ab_rb_gemm_sb_fn gemm_strided_batched_ex;
} ab_rocblas_api;

/* Opens rocBLAS into *api (0), or says why not (-1, the reason also in api->why).
 * `lib`: the library to open; NULL: $ACCELBENCH_ROCBLAS_LIB if set (then only that one),
 * else librocblas.so, librocblas.so.{5,4,3,0} on the loader path, then $ROCM_PATH/lib and
 * /opt/rocm/lib. Missing: "librocblas.so not found: install rocBLAS (ROCm) (<dlerror>)". */
AB_RB_API int ab_rocblas_open(ab_rocblas_api *api, const char *lib);
AB_RB_API void ab_rocblas_close(ab_rocblas_api *api);
/* The plugin's one instance, opened on first use (the first call comes from the gemm suite's
 * dtype check, on the runner's thread, before any other). */
AB_RB_API const ab_rocblas_api *ab_rocblas(void);
/* rocBLAS's name for a status, or its number. */
AB_RB_API const char *ab_rocblas_status(const ab_rocblas_api *api, int status, char *buf,
                                        size_t len);

/* One rocblas_gemm_strided_batched_ex call for a row-major ab_gemm_op. Row-major C = op(A) op(B)
 * is column-major C^T = op(B)^T op(A)^T, so rocBLAS's first operand is our B and its second
 * our A, both read in place (the same mapping as the cuBLASLt path):
 *   rocBLAS m, n, k = our N, M, K
 *   first  (our B): trans_a = T when tb (B stored N x K), lda = our ldb, stride_a = stride_b
 *   second (our A): trans_b = T when ta (A stored K x M), ldb = our lda, stride_b = stride_a
 *   C = D: ldc = ldd = our ldc, strides stride_c. */
typedef struct ab_rocblas_call {
    int trans_a, trans_b;
    int32_t m, n, k;
    int a_type, b_type, c_type, compute_type;
    int32_t lda, ldb, ldc;
    int64_t stride_a, stride_b, stride_c;
    int32_t batch;
    double alpha_d, beta_d; /* the scalars in every compute type; */
    float alpha_f, beta_f;  /* ab_rocblas_gemm passes the one of compute_type */
    int32_t alpha_i, beta_i;
} ab_rocblas_call;

/* Which products the rocBLAS path runs (-1 + why otherwise, a property of the type, not the
 * shape): f64, f32 (not tf32), bf16 -> bf16 and f16 -> f16 (f32 compute), i8 -> i32. */
AB_RB_API int ab_rocblas_types(const ab_gemm_op *op, char *why);
/* Fills *call for op (types and shape: sizes and leading dimensions must fit rocblas_int). */
AB_RB_API int ab_rocblas_map(const ab_gemm_op *op, ab_rocblas_call *call, char *why);
/* Enqueues the product on the handle's stream; returns rocBLAS's status. a, b, c: our
 * matrices (device pointers). A batch of 1 goes through rocblas_gemm_ex. */
AB_RB_API int ab_rocblas_gemm(const ab_rocblas_api *api, ab_rb_handle h,
                              const ab_rocblas_call *call, const void *a, const void *b, void *c);

#ifdef __cplusplus
}
#endif

#endif

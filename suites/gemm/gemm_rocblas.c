/* SPDX-License-Identifier: MIT */
/*
 * rocBLAS through dlopen: the loader and the mapping of accelbench's row-major GEMM onto
 * rocblas_gemm_ex / rocblas_gemm_strided_batched_ex. Why this is a plain-C file of its own,
 * where the declarations come from and the mapping: gemm_rocblas.h.
 * Compiled into the HIP plugin (hipcc -x hip) and into tests/test_rocblas (the host compiler).
 */
#include "gemm_rocblas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static int rb_fail(char *why, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, 256, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void rb_copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

int ab_rocblas_open(ab_rocblas_api *api, const char *lib)
{
    memset(api, 0, sizeof(*api));
    const char *env = getenv("ACCELBENCH_ROCBLAS_LIB");
    const char *explicit_lib = lib && *lib ? lib : env && *env ? env : NULL;
    const char *rocm = getenv("ROCM_PATH");
    char rocm_lib[2][512];
    snprintf(rocm_lib[0], sizeof(rocm_lib[0]), "%s/lib/librocblas.so",
             rocm && *rocm ? rocm : "/opt/rocm");
    snprintf(rocm_lib[1], sizeof(rocm_lib[1]), "%s/lib/librocblas.so.4",
             rocm && *rocm ? rocm : "/opt/rocm");
    /* unversioned first (the -dev symlink of whichever release is installed), then the runtime
     * sonames newest first: rocBLAS 5 (ROCm 7) .so.5, 4 (ROCm 6) .so.4, 3 (ROCm 5.6/5.7) .so.3,
     * 2.x (older ROCm; Debian's and Ubuntu's librocblas0) .so.0;
     * /opt/rocm/lib is not always on the loader path (it is when ROCm's ld.so.conf.d is set) */
    const char *cands[] = {
        "librocblas.so",   "librocblas.so.5", "librocblas.so.4", "librocblas.so.3",
        "librocblas.so.0", rocm_lib[0],       rocm_lib[1],       "/opt/rocm/lib/librocblas.so"};
    char first[256] = "";
    size_t ncand = sizeof(cands) / sizeof(cands[0]);
    for (size_t i = 0; i < (explicit_lib ? 1 : ncand) && !api->dl; i++) {
        const char *name = explicit_lib ? explicit_lib : cands[i];
        api->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (api->dl) {
            rb_copy(api->path, sizeof(api->path), name);
        } else if (!*first) {
            const char *e = dlerror();
            rb_copy(first, sizeof(first), e ? e : name);
        }
    }
    if (!api->dl) {
        if (explicit_lib)
            return rb_fail(api->why, "rocBLAS library %s not loadable: %s", explicit_lib, first);
        return rb_fail(api->why, "librocblas.so not found: install rocBLAS (ROCm) (%s)", first);
    }
#define RB_REQ(field, sym)                                                                         \
    do {                                                                                           \
        *(void **)&api->field = dlsym(api->dl, sym);                                               \
        if (!api->field) {                                                                         \
            rb_fail(api->why, "%s has no %s (not rocBLAS, or too old a release)", api->path, sym); \
            ab_rocblas_close(api);                                                                 \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    RB_REQ(create_handle, "rocblas_create_handle");
    RB_REQ(destroy_handle, "rocblas_destroy_handle");
    RB_REQ(set_stream, "rocblas_set_stream");
    RB_REQ(get_version_string, "rocblas_get_version_string");
    RB_REQ(gemm_ex, "rocblas_gemm_ex");
    RB_REQ(gemm_strided_batched_ex, "rocblas_gemm_strided_batched_ex");
#undef RB_REQ
    *(void **)&api->status_to_string = dlsym(api->dl, "rocblas_status_to_string");
    char v[256] = "";
    if (api->get_version_string(v, sizeof(v)) == AB_RB_SUCCESS)
        rb_copy(api->version, sizeof(api->version), v);
    else
        rb_copy(api->version, sizeof(api->version), "(version unknown)");
    api->ok = true;
    return 0;
}

void ab_rocblas_close(ab_rocblas_api *api)
{
    if (api->dl) dlclose(api->dl);
    api->dl = NULL;
    api->ok = false;
}

static ab_rocblas_api rocblas_api;

static void rocblas_load(void)
{
    (void)ab_rocblas_open(&rocblas_api, NULL);
}

/* Opened once, thread-safe (run --concurrent drives each GPU from its own thread). */
const ab_rocblas_api *ab_rocblas(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, rocblas_load);
    return &rocblas_api;
}

const char *ab_rocblas_status(const ab_rocblas_api *api, int status, char *buf, size_t len)
{
    if (api && api->status_to_string) {
        const char *s = api->status_to_string(status);
        if (s) return s;
    }
    /* rocblas-types.h names, for libraries without rocblas_status_to_string */
    static const char *const names[] = {"rocblas_status_success",
                                        "rocblas_status_invalid_handle",
                                        "rocblas_status_not_implemented",
                                        "rocblas_status_invalid_pointer",
                                        "rocblas_status_invalid_size",
                                        "rocblas_status_memory_error",
                                        "rocblas_status_internal_error",
                                        "rocblas_status_perf_degraded",
                                        "rocblas_status_size_query_mismatch",
                                        "rocblas_status_size_increased",
                                        "rocblas_status_size_unchanged",
                                        "rocblas_status_invalid_value",
                                        "rocblas_status_continue",
                                        "rocblas_status_check_numerics_fail",
                                        "rocblas_status_excluded_from_build",
                                        "rocblas_status_arch_mismatch"};
    if (status >= 0 && (size_t)status < sizeof(names) / sizeof(names[0])) return names[status];
    snprintf(buf, len, "rocblas_status %d", status);
    return buf;
}

static int rb_type(ab_gemm_type t)
{
    switch (t) {
    case AB_GT_F64:
        return AB_RB_F64;
    case AB_GT_F32:
        return AB_RB_F32;
    case AB_GT_BF16:
        return AB_RB_BF16;
    case AB_GT_F16:
        return AB_RB_F16;
    case AB_GT_I8:
        return AB_RB_I8;
    case AB_GT_I32:
        return AB_RB_I32;
    default:
        return -1;
    }
}

int ab_rocblas_types(const ab_gemm_op *op, char *why)
{
    if (op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2 || op->b == AB_GT_E4M3 || op->b == AB_GT_E5M2)
        return rb_fail(why, "accelbench's rocBLAS path has no fp8 (rocblas_gemm_ex has none; "
                            "fp8 needs rocblas_gemm_ex3 or hipBLASLt, not used yet)");
    if (op->a != op->b)
        return rb_fail(why,
                       "accelbench's rocBLAS path multiplies equal input types (%s x %s "
                       "asked)",
                       ab_gemm_type_name(op->a), ab_gemm_type_name(op->b));
    if (op->a == AB_GT_F32 && op->tf32)
        return rb_fail(why, "accelbench's rocBLAS path has no tf32 (rocBLAS's xf32 math mode "
                            "is not used)");
    if (rb_type(op->a) < 0 || op->a == AB_GT_I32)
        return rb_fail(why, "rocBLAS gemm_ex takes no %s inputs", ab_gemm_type_name(op->a));
    ab_gemm_type want = op->a == AB_GT_I8 ? AB_GT_I32 : op->a;
    if (op->c != want)
        return rb_fail(why, "accelbench asks rocBLAS for %s products as %s, not %s",
                       ab_gemm_type_name(op->a), ab_gemm_type_name(want), ab_gemm_type_name(op->c));
    return 0;
}

static bool fits_int(int64_t v)
{
    return v >= 0 && v <= INT32_MAX;
}

int ab_rocblas_map(const ab_gemm_op *op, ab_rocblas_call *c, char *why)
{
    if (ab_rocblas_types(op, why) != 0) return -1;
    if (!fits_int(op->m) || !fits_int(op->n) || !fits_int(op->k) || !fits_int(op->lda) ||
        !fits_int(op->ldb) || !fits_int(op->ldc) || !fits_int(op->batch) || op->batch < 1)
        return rb_fail(why,
                       "rocBLAS takes 32-bit sizes and leading dimensions (rocblas_int; "
                       "%lldx%lldx%lld, batch %lld asked)",
                       (long long)op->m, (long long)op->n, (long long)op->k, (long long)op->batch);
    memset(c, 0, sizeof(*c));
    c->trans_a = op->tb ? AB_RB_OP_T : AB_RB_OP_N; /* first operand: our B */
    c->trans_b = op->ta ? AB_RB_OP_T : AB_RB_OP_N; /* second: our A */
    c->m = (int32_t)op->n;
    c->n = (int32_t)op->m;
    c->k = (int32_t)op->k;
    c->a_type = rb_type(op->b);
    c->b_type = rb_type(op->a);
    c->c_type = rb_type(op->c);
    c->compute_type = op->a == AB_GT_F64 ? AB_RB_F64 : op->a == AB_GT_I8 ? AB_RB_I32 : AB_RB_F32;
    c->lda = (int32_t)op->ldb;
    c->ldb = (int32_t)op->lda;
    c->ldc = (int32_t)op->ldc;
    c->stride_a = op->stride_b;
    c->stride_b = op->stride_a;
    c->stride_c = op->stride_c;
    c->batch = (int32_t)op->batch;
    c->alpha_d = op->alpha, c->beta_d = op->beta;
    c->alpha_f = (float)op->alpha, c->beta_f = (float)op->beta;
    c->alpha_i = (int32_t)op->alpha, c->beta_i = (int32_t)op->beta;
    if (op->a == AB_GT_I8 && ((double)c->alpha_i != op->alpha || (double)c->beta_i != op->beta))
        return rb_fail(why, "integer GEMM takes integer alpha and beta");
    return 0;
}

int ab_rocblas_gemm(const ab_rocblas_api *api, ab_rb_handle h, const ab_rocblas_call *c,
                    const void *a, const void *b, void *cm)
{
    const void *alpha = c->compute_type == AB_RB_F64   ? (const void *)&c->alpha_d
                        : c->compute_type == AB_RB_I32 ? (const void *)&c->alpha_i
                                                       : (const void *)&c->alpha_f;
    const void *beta = c->compute_type == AB_RB_F64   ? (const void *)&c->beta_d
                       : c->compute_type == AB_RB_I32 ? (const void *)&c->beta_i
                                                      : (const void *)&c->beta_f;
    /* first operand our B, second our A; C is also D (in place, same layout) */
    if (c->batch == 1)
        return api->gemm_ex(h, c->trans_a, c->trans_b, c->m, c->n, c->k, alpha, b, c->a_type,
                            c->lda, a, c->b_type, c->ldb, beta, cm, c->c_type, c->ldc, cm,
                            c->c_type, c->ldc, c->compute_type, AB_RB_ALGO_STANDARD, 0,
                            AB_RB_FLAGS_NONE);
    return api->gemm_strided_batched_ex(
        h, c->trans_a, c->trans_b, c->m, c->n, c->k, alpha, b, c->a_type, c->lda, c->stride_a, a,
        c->b_type, c->ldb, c->stride_b, beta, cm, c->c_type, c->ldc, c->stride_c, cm, c->c_type,
        c->ldc, c->stride_c, c->batch, c->compute_type, AB_RB_ALGO_STANDARD, 0, AB_RB_FLAGS_NONE);
}

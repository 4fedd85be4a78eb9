/* SPDX-License-Identifier: MIT */
/*
 * GEMM on CUDA and HIP (one source, see backends/gpu/gpu_port.h).
 *
 * portable: accelbench's SIMT kernel, the same on both vendors and without matrix units (a
 *           cross-vendor figure and a check on the vendor library): 256 threads compute a
 *           128 x 128 tile of C, each thread an 8 x 8 block spaced 16 apart (coalesced stores,
 *           conflict-free shared-memory reads); operands pass through shared memory 8 deep along
 *           K, converted to the accumulator type on the way in, with the next tile's global
 *           loads in flight while the current one is multiplied. f64 accumulates in double, i8
 *           in int, bf16/f16/f32 in float (f32 out).
 * vendor:   CUDA: cuBLASLt, with its heuristic's first algorithm for the problem and a 32 MiB
 *           workspace (NVIDIA's recommendation for Hopper), every data type the GPU has matrix
 *           units for: f64, f32, tf32, bf16 and f16 (out in the input type), fp8 (bf16 out;
 *           cuBLASLt's default accumulation, which promotes partial sums periodically), i8
 *           (i32 out).
 *           HIP: rocBLAS (rocblas_gemm_ex, rocblas_gemm_strided_batched_ex for batches), loaded
 *           with dlopen on first use like cuBLASLt, with rocBLAS's default solution choice
 *           (Tensile): f64, f32, bf16 and f16 (out in the input type, f32 compute), i8 (i32
 *           out). The loader and the argument mapping are plain C in gemm_rocblas.c, so the
 *           tests run them without a GPU; the HIP-runtime half is the AB_GPU_HIP block below.
 * Row-major C = op(A) op(B) is handed to column-major cuBLASLt and rocBLAS as
 * C^T = op(B)^T op(A)^T: the first operand is our B, the second our A, no copies.
 */
#include "../../backends/gpu/gpu_port.h"

#include "gemm.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#if !defined(AB_GPU_HIP) && defined(AB_HAVE_CUBLASLT)
#include <cublasLt.h>
#define HAVE_LT 1
#else
#define HAVE_LT 0
#endif

#ifdef AB_GPU_HIP
#include "gemm_rocblas.h"
#endif

namespace {

/* ---- device-side fill ------------------------------------------------------------------------ */

template <typename W>
__global__ void k_fill(W *buf, size_t count, ab_gemm_type t, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        buf[i] = (W)(seed == AB_GEMM_SENTINEL ? ab_gemm_sentinel_bits(t)
                                              : ab_gemm_value_bits(t, seed, i));
}

int gpu_fill(void *dev, void *buf, ab_gemm_type t, size_t count, uint64_t seed, char *err)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    GPU_TRY(gpuSetDevice(d->ordinal), "set device");
    size_t blocks = (count + 255) / 256;
    size_t cap = (size_t)(d->sms > 0 ? d->sms : 1) * 32;
    if (blocks > cap)
        blocks = cap;
    if (blocks == 0)
        blocks = 1;
    switch (ab_gemm_type_size(t)) {
    case 8: k_fill<uint64_t><<<blocks, 256, 0, d->stream>>>((uint64_t *)buf, count, t, seed); break;
    case 4: k_fill<uint32_t><<<blocks, 256, 0, d->stream>>>((uint32_t *)buf, count, t, seed); break;
    case 2: k_fill<uint16_t><<<blocks, 256, 0, d->stream>>>((uint16_t *)buf, count, t, seed); break;
    default: k_fill<uint8_t><<<blocks, 256, 0, d->stream>>>((uint8_t *)buf, count, t, seed); break;
    }
    GPU_TRY(gpuGetLastError(), "launch fill");
    GPU_TRY(gpuStreamSynchronize(d->stream), "fill");
    return 0;
}

/* ---- portable SIMT kernel ---------------------------------------------------------------------- */

__device__ inline float bits_to_float(uint32_t b)
{
    return __uint_as_float(b);
}

/* f16 -> f32 by bits (the same on both vendors, no half-type headers needed) */
__device__ inline float h2f(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0) {
        float f = (float)m * 5.9604644775390625e-8f; /* m * 2^-24: zero or subnormal */
        return s ? -f : f;
    }
    if (e == 31)
        return bits_to_float(s | 0x7F800000u | (m << 13));
    return bits_to_float(s | ((e + 112u) << 23) | (m << 13));
}

template <int KIND> struct traits;
template <> struct traits<AB_GT_F64> {
    typedef double in_t;
    typedef double acc_t;
    typedef double out_t;
    __device__ static acc_t load(const in_t *p, size_t i) { return p[i]; }
};
template <> struct traits<AB_GT_F32> {
    typedef float in_t;
    typedef float acc_t;
    typedef float out_t;
    __device__ static acc_t load(const in_t *p, size_t i) { return p[i]; }
};
template <> struct traits<AB_GT_BF16> {
    typedef uint16_t in_t;
    typedef float acc_t;
    typedef float out_t;
    __device__ static acc_t load(const in_t *p, size_t i) { return bits_to_float((uint32_t)p[i] << 16); }
};
template <> struct traits<AB_GT_F16> {
    typedef uint16_t in_t;
    typedef float acc_t;
    typedef float out_t;
    __device__ static acc_t load(const in_t *p, size_t i) { return h2f(p[i]); }
};
template <> struct traits<AB_GT_I8> {
    typedef int8_t in_t;
    typedef int acc_t;
    typedef int out_t;
    __device__ static acc_t load(const in_t *p, size_t i) { return (int)p[i]; }
};

constexpr int BM = 128, BN = 128, BK = 8, WPT = 8, RT = 16; /* RT x RT threads, WPT^2 each */
constexpr int NTHREADS = RT * RT;
constexpr int LOADS = BM * BK / NTHREADS; /* elements of each operand tile per thread */

struct pargs {
    int64_t m, n, k;
    int64_t sam, sak, bsa; /* element (m,k) of op(A) at A[m*sam + k*sak]; batch stride */
    int64_t sbk, sbn, bsb; /* element (k,n) of op(B) at B[k*sbk + n*sbn] */
    int64_t ldc, bsc;
    double alpha, beta;
};

template <int KIND>
__global__ void __launch_bounds__(NTHREADS)
    k_gemm(const typename traits<KIND>::in_t *__restrict__ A,
           const typename traits<KIND>::in_t *__restrict__ B, typename traits<KIND>::out_t *C,
           pargs p)
{
    typedef traits<KIND> T;
    typedef typename T::acc_t acc_t;
    __shared__ acc_t As[BK][BM];
    __shared__ acc_t Bs[BK][BN];
    const int tid = threadIdx.x, tn = tid % RT, tm = tid / RT;
    const int64_t m0 = (int64_t)blockIdx.y * BM, n0 = (int64_t)blockIdx.x * BN;
    A += (int64_t)blockIdx.z * p.bsa;
    B += (int64_t)blockIdx.z * p.bsb;
    C += (int64_t)blockIdx.z * p.bsc;
    const bool a_kfast = p.sak == 1, b_nfast = p.sbn == 1;
    acc_t acc[WPT][WPT];
#pragma unroll
    for (int i = 0; i < WPT; i++)
#pragma unroll
        for (int j = 0; j < WPT; j++)
            acc[i][j] = (acc_t)0;
    acc_t ra[LOADS], rb[LOADS];
    /* global -> registers for the tile at depth k0; the unit-stride dimension varies fastest
     * across threads so the loads coalesce */
    auto fetch = [&](int64_t k0) {
#pragma unroll
        for (int l = 0; l < LOADS; l++) {
            int e = l * NTHREADS + tid;
            int mm = a_kfast ? e / BK : e % BM, kk = a_kfast ? e % BK : e / BM;
            int64_t gm = m0 + mm, gk = k0 + kk;
            ra[l] = (gm < p.m && gk < p.k) ? T::load(A, (size_t)(gm * p.sam + gk * p.sak)) : (acc_t)0;
            int nn = b_nfast ? e % BN : e / BK, kb = b_nfast ? e / BN : e % BK;
            int64_t gn = n0 + nn, gkb = k0 + kb;
            rb[l] = (gn < p.n && gkb < p.k) ? T::load(B, (size_t)(gkb * p.sbk + gn * p.sbn)) : (acc_t)0;
        }
    };
    auto stash = [&]() {
#pragma unroll
        for (int l = 0; l < LOADS; l++) {
            int e = l * NTHREADS + tid;
            int mm = a_kfast ? e / BK : e % BM, kk = a_kfast ? e % BK : e / BM;
            As[kk][mm] = ra[l];
            int nn = b_nfast ? e % BN : e / BK, kb = b_nfast ? e / BN : e % BK;
            Bs[kb][nn] = rb[l];
        }
    };
    fetch(0);
    stash();
    __syncthreads();
    for (int64_t k0 = 0; k0 < p.k; k0 += BK) {
        bool more = k0 + BK < p.k;
        if (more)
            fetch(k0 + BK); /* in flight during the multiply below */
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            acc_t a[WPT], b[WPT];
#pragma unroll
            for (int w = 0; w < WPT; w++) {
                a[w] = As[kk][tm + w * RT];
                b[w] = Bs[kk][tn + w * RT];
            }
#pragma unroll
            for (int i = 0; i < WPT; i++)
#pragma unroll
                for (int j = 0; j < WPT; j++)
                    acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
        if (more) {
            stash();
            __syncthreads();
        }
    }
    const acc_t alpha = (acc_t)p.alpha, beta = (acc_t)p.beta;
#pragma unroll
    for (int i = 0; i < WPT; i++) {
        int64_t gm = m0 + tm + i * RT;
        if (gm >= p.m)
            continue;
#pragma unroll
        for (int j = 0; j < WPT; j++) {
            int64_t gn = n0 + tn + j * RT;
            if (gn >= p.n)
                continue;
            typename T::out_t *c = C + gm * p.ldc + gn;
            /* beta == 0: C is write-only (it may hold the never-written marker) */
            *c = beta == (acc_t)0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
        }
    }
}

/* Skinny products (M <= SKINNY_M rows: decoding). The 128-row tile would compute 128 rows for
 * one; here B is streamed once with coalesced loads and A's few rows are shared:
 *   NN/TN (B rows contiguous): one thread per column of C, all rows' sums in registers;
 *   NT (B stored N x K): 32 threads per column walk K together (consecutive addresses), and
 *   reduce their partial sums through shared memory (no warp shuffles: the same code serves
 *   32- and 64-wide SIMT). */
constexpr int SKINNY_M = 4, SK_THREADS = 256, SK_GROUP = 32;

template <int KIND>
__global__ void __launch_bounds__(SK_THREADS)
    k_skinny_nn(const typename traits<KIND>::in_t *__restrict__ A,
                const typename traits<KIND>::in_t *__restrict__ B, typename traits<KIND>::out_t *C,
                pargs p)
{
    typedef traits<KIND> T;
    typedef typename T::acc_t acc_t;
    const int64_t j = (int64_t)blockIdx.x * SK_THREADS + threadIdx.x;
    if (j >= p.n)
        return;
    A += (int64_t)blockIdx.y * p.bsa;
    B += (int64_t)blockIdx.y * p.bsb;
    C += (int64_t)blockIdx.y * p.bsc;
    acc_t acc[SKINNY_M] = {0, 0, 0, 0};
    for (int64_t k = 0; k < p.k; k++) {
        acc_t b = T::load(B, (size_t)(k * p.sbk + j * p.sbn));
#pragma unroll
        for (int i = 0; i < SKINNY_M; i++)
            if (i < p.m)
                acc[i] += T::load(A, (size_t)(i * p.sam + k * p.sak)) * b;
    }
    const acc_t alpha = (acc_t)p.alpha, beta = (acc_t)p.beta;
    for (int i = 0; i < SKINNY_M && i < p.m; i++) {
        typename T::out_t *c = C + i * p.ldc + j;
        *c = beta == (acc_t)0 ? alpha * acc[i] : alpha * acc[i] + beta * *c;
    }
}

template <int KIND>
__global__ void __launch_bounds__(SK_THREADS)
    k_skinny_nt(const typename traits<KIND>::in_t *__restrict__ A,
                const typename traits<KIND>::in_t *__restrict__ B, typename traits<KIND>::out_t *C,
                pargs p)
{
    typedef traits<KIND> T;
    typedef typename T::acc_t acc_t;
    __shared__ acc_t red[SKINNY_M][SK_THREADS];
    const int g = threadIdx.x / SK_GROUP, lane = threadIdx.x % SK_GROUP;
    const int64_t j = (int64_t)blockIdx.x * (SK_THREADS / SK_GROUP) + g;
    A += (int64_t)blockIdx.y * p.bsa;
    B += (int64_t)blockIdx.y * p.bsb;
    C += (int64_t)blockIdx.y * p.bsc;
    acc_t acc[SKINNY_M] = {0, 0, 0, 0};
    if (j < p.n)
        for (int64_t k = lane; k < p.k; k += SK_GROUP) {
            acc_t b = T::load(B, (size_t)(k * p.sbk + j * p.sbn));
#pragma unroll
            for (int i = 0; i < SKINNY_M; i++)
                if (i < p.m)
                    acc[i] += T::load(A, (size_t)(i * p.sam + k * p.sak)) * b;
        }
#pragma unroll
    for (int i = 0; i < SKINNY_M; i++)
        red[i][threadIdx.x] = acc[i];
    __syncthreads();
    for (int off = SK_GROUP / 2; off > 0; off >>= 1) {
        if (lane < off)
#pragma unroll
            for (int i = 0; i < SKINNY_M; i++)
                red[i][threadIdx.x] += red[i][threadIdx.x + off];
        __syncthreads();
    }
    if (lane != 0 || j >= p.n)
        return;
    const acc_t alpha = (acc_t)p.alpha, beta = (acc_t)p.beta;
    for (int i = 0; i < SKINNY_M && i < p.m; i++) {
        typename T::out_t *c = C + i * p.ldc + j;
        acc_t v = red[i][threadIdx.x];
        *c = beta == (acc_t)0 ? alpha * v : alpha * v + beta * *c;
    }
}

struct port_plan {
    ab_gemm_op op;
    ab_gpu_dev *d;
    pargs p;
    dim3 grid;
};

ab_gemm_type port_out(ab_gemm_type a)
{
    return a == AB_GT_F64 ? AB_GT_F64 : a == AB_GT_I8 ? AB_GT_I32 : AB_GT_F32;
}

int port_dtype_ok(void *dev, const ab_gemm_op *op, char *why)
{
    (void)dev;
    if (op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2)
        return gpu_fail(why, "the portable kernel has no fp8 path (a matrix-unit format; "
                             "measured through the vendor library)");
    if (op->a != op->b)
        return gpu_fail(why, "the portable kernel multiplies equal input types (%s x %s asked)",
                        ab_gemm_type_name(op->a), ab_gemm_type_name(op->b));
    if (op->a == AB_GT_F32 && op->tf32)
        return gpu_fail(why, "the portable kernel has no TF32 path (a matrix-unit format; "
                             "measured through the vendor library)");
    if (op->c != port_out(op->a))
        return gpu_fail(why, "the portable kernel writes %s inputs as %s, not %s",
                        ab_gemm_type_name(op->a), ab_gemm_type_name(port_out(op->a)),
                        ab_gemm_type_name(op->c));
    return 0;
}

int port_supports(void *dev, const ab_gemm_op *op, char *why)
{
    if (port_dtype_ok(dev, op, why) != 0)
        return -1;
    if ((op->m + BM - 1) / BM > 65535 || op->batch > 65535)
        return gpu_fail(why, "more than 65535 row tiles or batch entries for one launch");
    if (op->a == AB_GT_I8 && (op->alpha != (double)(int)op->alpha || op->beta != (double)(int)op->beta))
        return gpu_fail(why, "integer GEMM takes integer alpha and beta");
    return 0;
}

int port_prepare(void *dev, const ab_gemm_op *op, void **plan, char *err)
{
    if (port_supports(dev, op, err) != 0)
        return -1;
    port_plan *pl = (port_plan *)calloc(1, sizeof(*pl));
    if (!pl)
        return gpu_fail(err, "out of memory");
    pl->op = *op;
    pl->d = (ab_gpu_dev *)dev;
    pl->p.m = op->m, pl->p.n = op->n, pl->p.k = op->k;
    pl->p.sam = op->ta ? 1 : op->lda, pl->p.sak = op->ta ? op->lda : 1, pl->p.bsa = op->stride_a;
    pl->p.sbk = op->tb ? 1 : op->ldb, pl->p.sbn = op->tb ? op->ldb : 1, pl->p.bsb = op->stride_b;
    pl->p.ldc = op->ldc, pl->p.bsc = op->stride_c;
    pl->p.alpha = op->alpha, pl->p.beta = op->beta;
    if (op->m <= SKINNY_M)
        pl->grid = dim3((unsigned)(op->tb ? (op->n + SK_THREADS / SK_GROUP - 1) / (SK_THREADS / SK_GROUP)
                                          : (op->n + SK_THREADS - 1) / SK_THREADS),
                        (unsigned)op->batch);
    else
        pl->grid = dim3((unsigned)((op->n + BN - 1) / BN), (unsigned)((op->m + BM - 1) / BM),
                        (unsigned)op->batch);
    *plan = pl;
    return 0;
}

template <int KIND>
void launch(const port_plan *pl, const void *a, const void *b, void *c)
{
    typedef typename traits<KIND>::in_t in_t;
    typedef typename traits<KIND>::out_t out_t;
    gpuStream_t s = pl->d->stream;
    const in_t *A = (const in_t *)a, *B = (const in_t *)b;
    out_t *C = (out_t *)c;
    if (pl->op.m > SKINNY_M)
        k_gemm<KIND><<<pl->grid, NTHREADS, 0, s>>>(A, B, C, pl->p);
    else if (pl->op.tb)
        k_skinny_nt<KIND><<<pl->grid, SK_THREADS, 0, s>>>(A, B, C, pl->p);
    else
        k_skinny_nn<KIND><<<pl->grid, SK_THREADS, 0, s>>>(A, B, C, pl->p);
}

int port_run(void *plan, void *a, void *b, void *c, char *err)
{
    port_plan *pl = (port_plan *)plan;
    switch (pl->op.a) {
    case AB_GT_F64: launch<AB_GT_F64>(pl, a, b, c); break;
    case AB_GT_F32: launch<AB_GT_F32>(pl, a, b, c); break;
    case AB_GT_BF16: launch<AB_GT_BF16>(pl, a, b, c); break;
    case AB_GT_F16: launch<AB_GT_F16>(pl, a, b, c); break;
    case AB_GT_I8: launch<AB_GT_I8>(pl, a, b, c); break;
    default: return gpu_fail(err, AB_GPU_NAME ": no portable kernel for %s", ab_gemm_type_name(pl->op.a));
    }
    GPU_TRY(gpuGetLastError(), "launch gemm");
    return 0;
}

void port_release(void *plan)
{
    free(plan);
}

void port_describe(void *plan, char *buf, size_t len)
{
    const port_plan *pl = (const port_plan *)plan;
    if (pl->op.m <= SKINNY_M) {
        snprintf(buf, len, "accelbench " AB_GPU_VENDOR_RUNTIME " SIMT kernel for M <= %d: %s, %s "
                           "accumulation, no matrix units",
                 SKINNY_M, pl->op.tb ? "32 threads per column along K" : "one thread per column",
                 pl->op.a == AB_GT_F64 ? "f64" : pl->op.a == AB_GT_I8 ? "i32" : "f32");
        return;
    }
    snprintf(buf, len, "accelbench " AB_GPU_VENDOR_RUNTIME " SIMT kernel: %dx%d tile per block "
                       "of %d threads, %dx%d per thread, depth %d, %s accumulation, no matrix "
                       "units",
             BM, BN, NTHREADS, WPT, WPT, BK,
             pl->op.a == AB_GT_F64 ? "f64" : pl->op.a == AB_GT_I8 ? "i32" : "f32");
}

ab_gemm_impl make_port()
{
    ab_gemm_impl m;
    memset(&m, 0, sizeof(m));
    m.name = "portable";
    m.dtype_ok = port_dtype_ok;
    m.supports = port_supports;
    m.prepare = port_prepare;
    m.run = port_run;
    m.release = port_release;
    m.describe = port_describe;
    return m;
}

const ab_gemm_impl port_impl = make_port();

/* ---- vendor: cuBLASLt ---------------------------------------------------------------------- */
#if HAVE_LT

constexpr size_t LT_WORKSPACE = 32u << 20;

/* cuBLASLt is loaded with dlopen on first use rather than linked: the plugin (and with it membw
 * and the portable kernels) then still loads on a machine that has the driver but not the
 * cuBLAS libraries, and only the vendor GEMM path becomes a skip naming the missing library. */
struct lt_api_t {
    bool tried, ok;
    char why[256];
    decltype(&cublasLtCreate) Create;
    decltype(&cublasLtDestroy) Destroy;
    decltype(&cublasLtGetStatusString) GetStatusString;
    decltype(&cublasLtGetVersion) GetVersion;
    decltype(&cublasLtMatmul) Matmul;
    decltype(&cublasLtMatmulAlgoConfigGetAttribute) MatmulAlgoConfigGetAttribute;
    decltype(&cublasLtMatmulAlgoGetHeuristic) MatmulAlgoGetHeuristic;
    decltype(&cublasLtMatmulDescCreate) MatmulDescCreate;
    decltype(&cublasLtMatmulDescDestroy) MatmulDescDestroy;
    decltype(&cublasLtMatmulDescSetAttribute) MatmulDescSetAttribute;
    decltype(&cublasLtMatmulPreferenceCreate) MatmulPreferenceCreate;
    decltype(&cublasLtMatmulPreferenceDestroy) MatmulPreferenceDestroy;
    decltype(&cublasLtMatmulPreferenceSetAttribute) MatmulPreferenceSetAttribute;
    decltype(&cublasLtMatrixLayoutCreate) MatrixLayoutCreate;
    decltype(&cublasLtMatrixLayoutDestroy) MatrixLayoutDestroy;
    decltype(&cublasLtMatrixLayoutSetAttribute) MatrixLayoutSetAttribute;
};

#define LT_STR2(x) #x
#define LT_STR(x) LT_STR2(x)

/* Loads once; lt() below makes the first call thread-safe (run --concurrent drives each GPU
 * from its own thread). */
static lt_api_t &lt_load()
{
    static lt_api_t a;
    if (a.tried)
        return a;
    a.tried = true;
    const char *names[] = {"libcublasLt.so." LT_STR(CUBLAS_VER_MAJOR), "libcublasLt.so"};
    void *h = NULL;
    for (const char *n : names)
        if ((h = dlopen(n, RTLD_NOW | RTLD_LOCAL)))
            break;
    if (!h) {
        const char *e = dlerror();
        snprintf(a.why, sizeof(a.why), "cuBLASLt not loadable (%s)", e ? e : "not found");
        return a;
    }
#define LT_SYM(f)                                                                                  \
    if (!(a.f = (decltype(a.f))dlsym(h, "cublasLt" #f))) {                                         \
        snprintf(a.why, sizeof(a.why), "cuBLASLt has no cublasLt%s", #f);                          \
        return a;                                                                                  \
    }
        LT_SYM(Create);
        LT_SYM(Destroy);
        LT_SYM(GetStatusString);
        LT_SYM(GetVersion);
        LT_SYM(Matmul);
        LT_SYM(MatmulAlgoConfigGetAttribute);
        LT_SYM(MatmulAlgoGetHeuristic);
        LT_SYM(MatmulDescCreate);
        LT_SYM(MatmulDescDestroy);
        LT_SYM(MatmulDescSetAttribute);
        LT_SYM(MatmulPreferenceCreate);
        LT_SYM(MatmulPreferenceDestroy);
        LT_SYM(MatmulPreferenceSetAttribute);
        LT_SYM(MatrixLayoutCreate);
        LT_SYM(MatrixLayoutDestroy);
        LT_SYM(MatrixLayoutSetAttribute);
#undef LT_SYM
    a.ok = true;
    return a;
}

lt_api_t &lt()
{
    static lt_api_t &a = lt_load(); /* C++11: initialised once, other callers wait */
    return a;
}


#define LT_TRY(call, what)                                                                         \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            gpu_fail(err, "cublasLt: %s: %s", what, lt().GetStatusString(s_));                  \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

struct lt_types {
    cudaDataType_t a, b, c, scale;
    cublasComputeType_t compute;
};

/* The matrix units each type needs (compute capability major*10+minor), 0 when none. */
int lt_min_cc(const ab_gemm_op *op)
{
    if (op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2)
        return 89; /* Ada, Hopper and newer */
    if (op->a == AB_GT_BF16 || (op->a == AB_GT_F32 && op->tf32))
        return 80;
    if (op->a == AB_GT_I8)
        return 75;
    return 0;
}

const char *lt_cc_name(int cc)
{
    return cc == 89 ? "8.9 (Ada) or newer" : cc == 80 ? "8.0 (Ampere) or newer" : "7.5 or newer";
}

int lt_map(const ab_gemm_op *op, lt_types *t, char *why)
{
    auto ty = [](ab_gemm_type g) {
        switch (g) {
        case AB_GT_F64: return CUDA_R_64F;
        case AB_GT_F32: return CUDA_R_32F;
        case AB_GT_BF16: return CUDA_R_16BF;
        case AB_GT_F16: return CUDA_R_16F;
        case AB_GT_E4M3: return CUDA_R_8F_E4M3;
        case AB_GT_E5M2: return CUDA_R_8F_E5M2;
        case AB_GT_I8: return CUDA_R_8I;
        default: return CUDA_R_32I;
        }
    };
    bool fp8a = op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2;
    bool fp8b = op->b == AB_GT_E4M3 || op->b == AB_GT_E5M2;
    if (op->a != op->b && !(fp8a && fp8b))
        return gpu_fail(why, "cuBLASLt mixes input types only among fp8 (%s x %s asked)",
                        ab_gemm_type_name(op->a), ab_gemm_type_name(op->b));
    if (op->a == AB_GT_E5M2 && op->b == AB_GT_E5M2)
        return gpu_fail(why, "cuBLASLt has no e5m2 x e5m2 GEMM (one operand must be e4m3)");
    ab_gemm_type want = fp8a ? AB_GT_BF16 : op->a == AB_GT_I8 ? AB_GT_I32 : op->a;
    if (op->c != want)
        return gpu_fail(why, "accelbench asks cuBLASLt for %s products as %s, not %s",
                        ab_gemm_type_name(op->a), ab_gemm_type_name(want), ab_gemm_type_name(op->c));
    t->a = ty(op->a), t->b = ty(op->b), t->c = ty(op->c);
    switch (op->a) {
    case AB_GT_F64: t->compute = CUBLAS_COMPUTE_64F, t->scale = CUDA_R_64F; break;
    case AB_GT_F32:
        /* plain f32 never uses TF32 here: that is the separate tf32 dtype */
        t->compute = op->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        t->scale = CUDA_R_32F;
        break;
    case AB_GT_I8: t->compute = CUBLAS_COMPUTE_32I, t->scale = CUDA_R_32I; break;
    default: t->compute = CUBLAS_COMPUTE_32F, t->scale = CUDA_R_32F; break;
    }
    return 0;
}

struct lt_plan {
    ab_gemm_op op;
    ab_gpu_dev *d;
    lt_types t;
    cublasLtHandle_t h;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t lx, ly, lc; /* first operand (our B), second (our A), C */
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulHeuristicResult_t heur;
    void *ws;
    double alpha_d, beta_d;
    float alpha_f, beta_f;
    int32_t alpha_i, beta_i;
};

void lt_destroy(lt_plan *p)
{
    if (!p)
        return;
    if (p->ws)
        (void)cudaFree(p->ws);
    if (p->pref)
        lt().MatmulPreferenceDestroy(p->pref);
    if (p->lc)
        lt().MatrixLayoutDestroy(p->lc);
    if (p->ly)
        lt().MatrixLayoutDestroy(p->ly);
    if (p->lx)
        lt().MatrixLayoutDestroy(p->lx);
    if (p->desc)
        lt().MatmulDescDestroy(p->desc);
    if (p->h)
        lt().Destroy(p->h);
    free(p);
}

int lt_set_batch(cublasLtMatrixLayout_t l, int64_t batch, int64_t stride)
{
    int32_t b = (int32_t)batch;
    if (lt().MatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b, sizeof(b)) !=
        CUBLAS_STATUS_SUCCESS)
        return -1;
    return lt().MatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                            &stride, sizeof(stride)) == CUBLAS_STATUS_SUCCESS
               ? 0
               : -1;
}

/* Descriptors and the heuristic's choice: everything but the workspace. "No algorithm" is a
 * property of the problem (returned as 1 with the reason), any other failure an error (-1). */
int lt_build(ab_gpu_dev *d, const ab_gemm_op *op, lt_plan **out, char *err)
{
    lt_plan *p = (lt_plan *)calloc(1, sizeof(*p));
    if (!p)
        return gpu_fail(err, "out of memory");
    p->op = *op;
    p->d = d;
    if (lt_map(op, &p->t, err) != 0) {
        lt_destroy(p);
        return 1;
    }
    {
        cublasOperation_t tx = op->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        cublasOperation_t ty = op->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
        uint64_t ws = LT_WORKSPACE;
        int found = 0;
        if (gpuSetDevice(d->ordinal) != gpuSuccess) {
            gpu_fail(err, "cuda: set device");
            goto fail;
        }
        LT_TRY(lt().Create(&p->h), "create handle");
        LT_TRY(lt().MatmulDescCreate(&p->desc, p->t.compute, p->t.scale), "matmul descriptor");
        LT_TRY(lt().MatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &tx, sizeof(tx)),
               "transa");
        LT_TRY(lt().MatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &ty, sizeof(ty)),
               "transb");
        LT_TRY(lt().MatrixLayoutCreate(&p->lx, p->t.b, op->tb ? op->k : op->n,
                                          op->tb ? op->n : op->k, op->ldb),
               "layout of B");
        LT_TRY(lt().MatrixLayoutCreate(&p->ly, p->t.a, op->ta ? op->m : op->k,
                                          op->ta ? op->k : op->m, op->lda),
               "layout of A");
        LT_TRY(lt().MatrixLayoutCreate(&p->lc, p->t.c, op->n, op->m, op->ldc), "layout of C");
        if (op->batch > 1 && (lt_set_batch(p->lx, op->batch, op->stride_b) ||
                              lt_set_batch(p->ly, op->batch, op->stride_a) ||
                              lt_set_batch(p->lc, op->batch, op->stride_c))) {
            gpu_fail(err, "cublasLt: batch attributes");
            goto fail;
        }
        LT_TRY(lt().MatmulPreferenceCreate(&p->pref), "preference");
        LT_TRY(lt().MatmulPreferenceSetAttribute(p->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &ws, sizeof(ws)),
               "workspace preference");
        cublasStatus_t s = lt().MatmulAlgoGetHeuristic(p->h, p->desc, p->lx, p->ly, p->lc, p->lc,
                                                          p->pref, 1, &p->heur, &found);
        if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
            gpu_fail(err, "cuBLASLt has no algorithm for %s %s x %s -> %s, %lldx%lldx%lld %s (%s)",
                     AB_GPU_NAME, ab_gemm_type_name(op->a), ab_gemm_type_name(op->b),
                     ab_gemm_type_name(op->c), (long long)op->m, (long long)op->n,
                     (long long)op->k, op->ta ? "TN" : op->tb ? "NT" : "NN",
                     s != CUBLAS_STATUS_SUCCESS ? lt().GetStatusString(s) : "none returned");
            lt_destroy(p);
            return 1;
        }
    }
    *out = p;
    return 0;
fail:
    lt_destroy(p);
    return -1;
}

int lt_dtype_ok(void *dev, const ab_gemm_op *op, char *why)
{
    ab_gpu_dev *d = (ab_gpu_dev *)dev;
    if (!lt().ok)
        return gpu_fail(why, "%s", lt().why);
    lt_types t;
    if (lt_map(op, &t, why) != 0)
        return -1;
    int cc = d->cc_major * 10 + d->cc_minor, need = lt_min_cc(op);
    if (cc < need)
        return gpu_fail(why, "%s GEMM needs compute capability %s; this GPU is sm_%d",
                        op->tf32 ? "tf32" : ab_gemm_type_name(op->a), lt_cc_name(need), cc);
    return 0;
}

int lt_supports(void *dev, const ab_gemm_op *op, char *why)
{
    if (lt_dtype_ok(dev, op, why) != 0)
        return -1;
    bool narrow = op->a == AB_GT_E4M3 || op->a == AB_GT_E5M2 || op->a == AB_GT_I8;
    if (narrow && !(op->tb && !op->ta))
        return gpu_fail(why, "cuBLASLt %s GEMM takes only the NT layout (B stored N x K; cuBLAS "
                             "calls it TN)",
                        op->a == AB_GT_I8 ? "int8" : "fp8");
    /* ask the heuristic: it knows the alignment and size rules of every kernel it has */
    lt_plan *p = NULL;
    int rc = lt_build((ab_gpu_dev *)dev, op, &p, why);
    if (rc == 0)
        lt_destroy(p);
    return rc == 0 ? 0 : -1;
}

int lt_prepare(void *dev, const ab_gemm_op *op, void **plan, char *err)
{
    if (lt_dtype_ok(dev, op, err) != 0)
        return -1;
    lt_plan *p = NULL;
    if (lt_build((ab_gpu_dev *)dev, op, &p, err) != 0)
        return -1;
    size_t ws = p->heur.workspaceSize;
    if (ws > 0) {
        gpuError_t e = gpuMalloc(&p->ws, ws);
        if (e != gpuSuccess) {
            (void)gpuGetLastError();
            lt_destroy(p);
            return gpu_fail(err, "cuda: allocating the %zu-byte cuBLASLt workspace: %s", ws,
                            gpuGetErrorString(e));
        }
    }
    p->alpha_d = op->alpha, p->beta_d = op->beta;
    p->alpha_f = (float)op->alpha, p->beta_f = (float)op->beta;
    p->alpha_i = (int32_t)op->alpha, p->beta_i = (int32_t)op->beta;
    *plan = p;
    return 0;
}

int lt_run(void *plan, void *a, void *b, void *c, char *err)
{
    lt_plan *p = (lt_plan *)plan;
    const void *alpha = p->t.scale == CUDA_R_64F ? (const void *)&p->alpha_d
                        : p->t.scale == CUDA_R_32I ? (const void *)&p->alpha_i
                                                   : (const void *)&p->alpha_f;
    const void *beta = p->t.scale == CUDA_R_64F ? (const void *)&p->beta_d
                       : p->t.scale == CUDA_R_32I ? (const void *)&p->beta_i
                                                  : (const void *)&p->beta_f;
    cublasStatus_t s = lt().Matmul(p->h, p->desc, alpha, b, p->lx, a, p->ly, beta, c, p->lc, c,
                                      p->lc, &p->heur.algo, p->ws, p->heur.workspaceSize,
                                      p->d->stream);
    if (s != CUBLAS_STATUS_SUCCESS)
        return gpu_fail(err, "cublasLtMatmul: %s", lt().GetStatusString(s));
    return 0;
}

void lt_release(void *plan)
{
    lt_plan *p = (lt_plan *)plan;
    if (p)
        (void)gpuStreamSynchronize(p->d->stream);
    lt_destroy(p);
}

void lt_describe(void *plan, char *buf, size_t len)
{
    const lt_plan *p = (const lt_plan *)plan;
    int32_t id = -1, splitk = -1;
    uint32_t tile = 0, stages = 0;
    size_t got = 0;
    lt().MatmulAlgoConfigGetAttribute(&p->heur.algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &got);
    lt().MatmulAlgoConfigGetAttribute(&p->heur.algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile,
                                         sizeof(tile), &got);
    lt().MatmulAlgoConfigGetAttribute(&p->heur.algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages,
                                         sizeof(stages), &got);
    lt().MatmulAlgoConfigGetAttribute(&p->heur.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk,
                                         sizeof(splitk), &got);
    snprintf(buf, len, "cuBLASLt %zu (heuristic's first choice: algo %d, tile id %u, stages id "
                       "%u, split-k %d, waves %.2f, workspace %zu of %zu bytes)",
             lt().GetVersion(), (int)id, tile, stages, (int)splitk, (double)p->heur.wavesCount,
             p->heur.workspaceSize, LT_WORKSPACE);
}

ab_gemm_impl make_lt()
{
    ab_gemm_impl m;
    memset(&m, 0, sizeof(m));
    m.name = "vendor";
    m.dtype_ok = lt_dtype_ok;
    m.supports = lt_supports;
    m.prepare = lt_prepare;
    m.run = lt_run;
    m.release = lt_release;
    m.describe = lt_describe;
    return m;
}

const ab_gemm_impl lt_impl = make_lt();
#endif

/* ---- vendor: rocBLAS (HIP) ------------------------------------------------------------------ */
#ifdef AB_GPU_HIP

/* The HIP-runtime half of the rocBLAS path: a handle per plan, bound to the device's stream so
 * the products are ordered with copies and the backend's event timer. Loading, the supported
 * types and the row-major -> column-major argument mapping are in gemm_rocblas.c. */
struct rb_plan {
    ab_gpu_dev *d;
    ab_rocblas_call call;
    ab_rb_handle h;
};

int rb_dtype_ok(void *dev, const ab_gemm_op *op, char *why)
{
    (void)dev;
    const ab_rocblas_api *api = ab_rocblas();
    if (!api->ok)
        return gpu_fail(why, "%s", api->why);
    return ab_rocblas_types(op, why);
}

int rb_supports(void *dev, const ab_gemm_op *op, char *why)
{
    if (rb_dtype_ok(dev, op, why) != 0)
        return -1;
    ab_rocblas_call c;
    return ab_rocblas_map(op, &c, why);
}

void rb_destroy(rb_plan *p)
{
    if (!p)
        return;
    if (p->h)
        ab_rocblas()->destroy_handle(p->h);
    free(p);
}

int rb_prepare(void *dev, const ab_gemm_op *op, void **plan, char *err)
{
    const ab_rocblas_api *api = ab_rocblas();
    if (!api->ok)
        return gpu_fail(err, "%s", api->why);
    rb_plan *p = (rb_plan *)calloc(1, sizeof(*p));
    if (!p)
        return gpu_fail(err, "out of memory");
    p->d = (ab_gpu_dev *)dev;
    char sb[64];
    int s;
    if (ab_rocblas_map(op, &p->call, err) != 0) { /* the types, the sizes, the mapping */
        rb_destroy(p);
        return -1;
    }
    if (gpuSetDevice(p->d->ordinal) != gpuSuccess) {
        rb_destroy(p);
        return gpu_fail(err, "hip: set device");
    }
    if ((s = api->create_handle(&p->h)) != AB_RB_SUCCESS) {
        p->h = NULL;
        rb_destroy(p);
        return gpu_fail(err, "rocblas_create_handle: %s", ab_rocblas_status(api, s, sb, sizeof(sb)));
    }
    if ((s = api->set_stream(p->h, (void *)p->d->stream)) != AB_RB_SUCCESS) {
        rb_destroy(p);
        return gpu_fail(err, "rocblas_set_stream: %s", ab_rocblas_status(api, s, sb, sizeof(sb)));
    }
    *plan = p;
    return 0;
}

int rb_run(void *plan, void *a, void *b, void *c, char *err)
{
    rb_plan *p = (rb_plan *)plan;
    const ab_rocblas_api *api = ab_rocblas();
    int s = ab_rocblas_gemm(api, p->h, &p->call, a, b, c);
    if (s != AB_RB_SUCCESS) {
        char sb[64];
        return gpu_fail(err, "%s: %s",
                        p->call.batch > 1 ? "rocblas_gemm_strided_batched_ex" : "rocblas_gemm_ex",
                        ab_rocblas_status(api, s, sb, sizeof(sb)));
    }
    return 0;
}

void rb_release(void *plan)
{
    rb_plan *p = (rb_plan *)plan;
    if (p)
        (void)gpuStreamSynchronize(p->d->stream);
    rb_destroy(p);
}

void rb_describe(void *plan, char *buf, size_t len)
{
    const rb_plan *p = (const rb_plan *)plan;
    const ab_rocblas_api *api = ab_rocblas();
    snprintf(buf, len, "rocBLAS %s (%s), %s, algo standard (rocBLAS/Tensile's default solution), "
                       "%s compute",
             api->version, api->path,
             p->call.batch > 1 ? "rocblas_gemm_strided_batched_ex" : "rocblas_gemm_ex",
             p->call.compute_type == AB_RB_F64   ? "f64"
             : p->call.compute_type == AB_RB_I32 ? "i32"
                                                 : "f32");
}

ab_gemm_impl make_rb()
{
    ab_gemm_impl m;
    memset(&m, 0, sizeof(m));
    m.name = "vendor";
    m.dtype_ok = rb_dtype_ok;
    m.supports = rb_supports;
    m.prepare = rb_prepare;
    m.run = rb_run;
    m.release = rb_release;
    m.describe = rb_describe;
    return m;
}

const ab_gemm_impl rb_impl = make_rb();
#endif

ab_gemm_backend make_backend()
{
    ab_gemm_backend b;
    memset(&b, 0, sizeof(b));
#if HAVE_LT
    b.impl[AB_GEMM_VENDOR] = &lt_impl;
#elif defined(AB_GPU_HIP)
    b.impl[AB_GEMM_VENDOR] = &rb_impl; /* a skip naming the library where rocBLAS is absent */
#else
    b.absent[AB_GEMM_VENDOR] = "built without cuBLASLt (the CUDA toolkit at configure time had "
                               "none)";
#endif
    b.impl[AB_GEMM_PORTABLE] = &port_impl;
    b.fill = gpu_fill;
    return b;
}

} // namespace

extern const ab_gemm_backend ab_gemm_gpu = make_backend();

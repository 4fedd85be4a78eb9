/* SPDX-License-Identifier: MIT */
/*
 * GEMM: C = alpha * op(A) * op(B) + beta * C on every backend, through the vendor library
 * (OpenBLAS, cuBLASLt) and through accelbench's own portable tiled kernel.
 *
 * This header is the contract between the suite driver (gemm.c), the per-backend kernels
 * (gemm_cpu.c, gemm_opencl.c + gemm.cl, gemm_gpu.cu) and other suites that need a matrix
 * multiply (attention, tokens per dollar). It is plain C, also included by CUDA/HIP code.
 *
 * Conventions, stated once:
 *   - Row-major storage. op(A) is M x K, op(B) is K x N, C is M x N.
 *     ta = false: A stored M x K (element (m,k) at A[m*lda + k]); ta = true: A stored K x M
 *     (at A[k*lda + m]). tb = false: B stored K x N (at B[k*ldb + n]); tb = true: B stored
 *     N x K (at B[n*ldb + k]) -- the layout of a linear layer's weight [out, in], so the
 *     layout "NT" (ta false, tb true) is y = x W^T.
 *   - Math: f64 inputs accumulate in f64; i8 inputs in i32; every other input type (f32, tf32,
 *     bf16, f16, e4m3, e5m2) in f32. Products and sums are the implementation's business (FMA,
 *     blocking, tensor cores), bounded by ab_gemm_tolerance().
 *   - Device buffers are the backend's opaque handles (host pointer, device pointer, cl_mem).
 *   - Errors follow core/ab.h: 0 / -1 with a one-line message in err.
 *
 * To multiply from another suite: take the backend's table (ab_device_impls(dev)->gemm, from
 * backends/registry.h; NULL when the backend has no GEMM), pick impl[AB_GEMM_VENDOR] or impl[AB_GEMM_PORTABLE], check
 * dtype_ok() and supports(), then prepare() once, run() as often as needed, release().
 */
#ifndef AB_GEMM_H
#define AB_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the element generators below also run in CUDA/HIP fill kernels */
#if defined(__CUDACC__) || defined(__HIPCC__)
#define AB_GEMM_HD __host__ __device__
#else
#define AB_GEMM_HD
#endif

/* Storage types of A, B and C. */
typedef enum {
    AB_GT_F64 = 0,
    AB_GT_F32,
    AB_GT_BF16,
    AB_GT_F16,
    AB_GT_E4M3, /* OCP FP8 E4M3 ("e4m3fn": bias 7, no infinities, max 448) */
    AB_GT_E5M2, /* OCP FP8 E5M2 (bias 15, IEEE-like) */
    AB_GT_I8,
    AB_GT_I32,
    AB_GT_COUNT
} ab_gemm_type;

typedef struct ab_gemm_op {
    ab_gemm_type a, b, c; /* storage types */
    bool tf32;            /* f32 inputs multiplied at TF32 precision (matrix units) */
    bool ta, tb;          /* A stored K x M; B stored N x K (see above) */
    int64_t m, n, k;
    int64_t lda, ldb, ldc;                /* row-major leading dimensions, in elements */
    int64_t batch;                        /* independent products, >= 1 */
    int64_t stride_a, stride_b, stride_c; /* elements between consecutive batch entries */
    double alpha, beta; /* beta == 0: C is write-only (never read, may hold NaN) */
} ab_gemm_op;

enum { AB_GEMM_VENDOR = 0, AB_GEMM_PORTABLE = 1, AB_GEMM_NIMPL = 2 };

typedef struct ab_gemm_impl {
    const char *name; /* "vendor" or "portable": the result's impl label */
    /* Can this device and library multiply these storage types at all (independent of shape
     * and layout)? 0, or -1 with the reason in why: the dtype is then a skip, not an error. */
    int (*dtype_ok)(void *dev, const ab_gemm_op *op, char *why);
    /* Shape and layout restrictions (e.g. cuBLASLt FP8 wants the NT layout). 0 or -1 + why. */
    int (*supports)(void *dev, const ab_gemm_op *op, char *why);
    /* Plans op on dev (library handles, algorithm choice, workspace, packing buffers); blocks.
     * The plan is owned by the caller and released with release(). */
    int (*prepare)(void *dev, const ab_gemm_op *op, void **plan, char *err);
    /* Enqueues one multiply on the device's queue, in order with copies and the backend timer
     * (on the CPU it runs to completion). a, b, c: device buffers holding op's matrices. */
    int (*run)(void *plan, void *a, void *b, void *c, char *err);
    /* Optional (NULL: the suite calls run() iters times): enqueues iters multiplies of the same
     * a, b into c as one device program, for devices that compile a program and launch it
     * (PJRT: a loop inside the program, suites/gemm/gemm_pjrt.c), where a launch per multiply
     * would time the launches. */
    int (*run_n)(void *plan, void *a, void *b, void *c, long iters, char *err);
    void (*release)(void *plan);
    /* What ran, for the record: library and version, algorithm, threads. */
    void (*describe)(void *plan, char *buf, size_t len);
} ab_gemm_impl;

typedef struct ab_gemm_backend {
    const ab_gemm_impl *impl[AB_GEMM_NIMPL]; /* NULL where the backend has none */
    const char *absent[AB_GEMM_NIMPL];       /* why, where impl[i] is NULL */
    /* Fills `count` elements of type t in device buffer buf, device-side, with the values
     * ab_gemm_value_bits(t, seed, i) defines (or, for seed AB_GEMM_SENTINEL, with
     * ab_gemm_sentinel_bits(t)). Blocks until done. */
    int (*fill)(void *dev, void *buf, ab_gemm_type t, size_t count, uint64_t seed, char *err);
} ab_gemm_backend;

/* seed value that asks fill() for the "never written" marker instead of data */
#define AB_GEMM_SENTINEL 0xffffffffffffffffull

/* ---- element values, shared by the host reference and every device's fill kernel ----------
 *
 * Inputs are random, never zero, and exactly representable in their storage type: a random
 * sign, an exponent giving a magnitude in [0.25, 1) and random mantissa bits (i8: +-1..127).
 * The range keeps fp8 and fp16 well-conditioned (no subnormals, no overflow of f16 sums for
 * K below ~60000) and the bits toggle as real data does (zeros would flatter some GPUs).
 * Because the value is a pure function of (seed, index), devices generate it in place and the
 * reference recomputes it on the host: the data never travels. */
AB_GEMM_HD static inline uint64_t ab_gemm_hash(uint64_t seed, uint64_t i)
{
    /* splitmix64 of (seed, i): cheap, stateless, statistically good */
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The storage bits of element i (low bytes used for narrow types). */
AB_GEMM_HD static inline uint64_t ab_gemm_value_bits(ab_gemm_type t, uint64_t seed, uint64_t i)
{
    uint64_t h = ab_gemm_hash(seed, i);
    uint64_t s = h >> 63, e = (h >> 62) & 1u; /* e: exponent -2 (0) or -1 (1) */
    switch (t) {
    case AB_GT_F64: return s << 63 | (1021u + e) << 52 | (h & 0xFFFFFFFFFFFFFull);
    case AB_GT_F32: return s << 31 | (125u + e) << 23 | (h & 0x7FFFFFu);
    case AB_GT_BF16: return s << 15 | (125u + e) << 7 | (h & 0x7Fu);
    case AB_GT_F16: return s << 15 | (13u + e) << 10 | (h & 0x3FFu);
    case AB_GT_E4M3: return s << 7 | (5u + e) << 3 | (h & 0x7u);
    case AB_GT_E5M2: return s << 7 | (13u + e) << 2 | (h & 0x3u);
    case AB_GT_I8: {
        uint64_t v = 1u + (h & 0xFFFFFFFFu) % 127u;
        return (s ? (uint64_t)(256u - v) : v) & 0xFFu;
    }
    default: return 0; /* i32 is an output type only */
    }
}

/* "Never written" marker: NaN for floating types, INT32_MIN for i32 (no i8 product sum over
 * K < 133000 reaches it). */
AB_GEMM_HD static inline uint64_t ab_gemm_sentinel_bits(ab_gemm_type t)
{
    switch (t) {
    case AB_GT_F64: return 0x7FF8DEADBEEF0000ull;
    case AB_GT_F32: return 0x7FC0DEADu;
    case AB_GT_BF16:
    case AB_GT_F16: return 0x7FFFu;
    case AB_GT_E4M3:
    case AB_GT_E5M2: return 0x7Fu;
    case AB_GT_I8: return 0x80u;
    case AB_GT_I32: return 0x80000000u;
    default: return 0;
    }
}

/* Bytes of one element; names as in results ("f64", "bf16", "i32"). Inline: the GPU plugins
 * use them and must not call back into the binary. */
static inline size_t ab_gemm_type_size(ab_gemm_type t)
{
    static const unsigned char size[AB_GT_COUNT] = {8, 4, 2, 2, 1, 1, 1, 4};
    return (unsigned)t < AB_GT_COUNT ? size[t] : 0;
}

static inline const char *ab_gemm_type_name(ab_gemm_type t)
{
    static const char *const name[AB_GT_COUNT] = {"f64",  "f32",  "bf16", "f16",
                                                  "e4m3", "e5m2", "i8",   "i32"};
    return (unsigned)t < AB_GT_COUNT ? name[t] : "?";
}

/* ---- host helpers (gemm_common.c) ------------------------------------------------------- */
/* Element idx of a buffer of type t, as a double (exact for every type here). */
double ab_gemm_load(ab_gemm_type t, const void *buf, size_t idx);
/* Decoders for the narrow formats (bit patterns in the low bits). */
double ab_gemm_decode(ab_gemm_type t, uint64_t bits);
/* Encodes v in type t with round-to-nearest-even (fp8: saturating to the largest finite);
 * used for the test hook and by callers that stage their own data. */
uint64_t ab_gemm_encode(ab_gemm_type t, double v);

/*
 * Validation tolerance: the largest |C_ij - ref_ij| accepted, where ref_ij = sum_k a_ik b_kj and
 * sum_abs = sum_k |a_ik b_kj|, both computed in f64 from the exact input values:
 *
 *   tol = |alpha| * sum_abs * (e_prod + u_acc * g(K)) + |alpha * ref| * u_out
 *
 *   e_prod  input rounding inside the multiply: 2^-9 for tf32 (both operands cut to 10
 *           mantissa bits, truncation allowed), 0 otherwise (products of these inputs are exact
 *           in the accumulator; f32 x f32 rounding is inside u_acc)
 *   u_acc   unit roundoff of the accumulator: 2^-53 (f64), 2^-24 (f32), 0 (i32: exact)
 *   g(K)    min(K, 8 sqrt(K)): the worst case for short sums; for long ones the error of a
 *           random-sign sum grows like sqrt(K) (rounding to nearest or, with random-sign data
 *           as here, truncation), and 8 sqrt(K) is several standard deviations above it.
 *           A blocked or tree-shaped sum only does better.
 *   fp8     adds 2^-14 * min(K, 8 sqrt(min(K, 256))) to u_acc * g(K): Hopper tensor cores keep
 *           about 14 bits while accumulating FP8 products, and cuBLASLt (without its "fast
 *           accumulation" mode, which accelbench never enables) promotes the partial sum to
 *           full f32 at least every few hundred products.
 *   u_out   rounding of the stored result: 2^-53, 2^-24, 2^-8 (bf16), 2^-11 (f16), 0 (i32)
 *
 * A wrong element (a skipped tile, a transposed operand, garbage) is off by the size of the
 * values themselves, far outside this bound. */
double ab_gemm_tolerance(const ab_gemm_op *op, double sum_abs, double ref);

/* ---- shapes ------------------------------------------------------------------------------ */

typedef struct ab_gemm_shape {
    int64_t m, n, k;
    char set[32];   /* shape set: "square", "llama3_8b", "custom" */
    char layer[32]; /* "qkv", "o", "gate_up", "down"; "" for square and custom shapes */
    int64_t tokens; /* token count of an LLM layer (= m); 0 otherwise */
} ab_gemm_shape;

/* Parses a --shape list: "4096" (a cube) or "MxNxK" per item, comma separated; dimensions in
 * 1 .. 2^31-1. *out is malloc'd. */
int ab_gemm_parse_shapes(const char *s, ab_gemm_shape **out, size_t *n, char *err);

/* The LLM layer table: data/gemm-shape-sets.csv (or a file with the same columns: set, layer,
 * n, k, source), one row per projection, N = output features, K = input features; M is the
 * token count. */
typedef struct ab_gemm_layer {
    char set[32], layer[32];
    int64_t n, k;
} ab_gemm_layer;

/* Loads the table (path NULL: the shipped one). Errors name the file and line. */
int ab_gemm_layers_load(const char *path, ab_gemm_layer **out, size_t *n, char *err);

/*
 * Resolves a --shape-set list into shapes. Items: "square" (the square sweep, sizes given by
 * `square` / nsquare), a set name from the layer table, or "all". For LLM sets every layer at
 * every token count in `tokens` (ascending, the layers in table order for each count).
 * Unknown names are an error listing the known ones. *out is malloc'd.
 */
int ab_gemm_expand_sets(const char *list, const ab_gemm_layer *layers, size_t nlayers,
                        const int64_t *tokens, size_t ntokens, const int64_t *square,
                        size_t nsquare, ab_gemm_shape **out, size_t *n, char *err);

#ifdef __cplusplus
}
#endif

#endif

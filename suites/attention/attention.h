/* SPDX-License-Identifier: MIT */
/*
 * attention: scaled dot-product attention, O = softmax(scale · Q·Kᵀ [+ causal mask]) · V, the
 * way serving engines run it: prefill (q_len = kv_len = seq) and decode (q_len = 1 against a KV
 * cache), with grouped-query attention (heads query heads share heads / kv_heads KV heads).
 *
 * This header is the contract between the generic suite (attention.c), the per-backend kernels
 * (attention_cpu.c, attention_opencl.c + attention.cl, attention_gpu.cu) and any other code that
 * needs attention on a device (a transformer decoder step, say): get the table from
 * `ab_device_impls(dev)->attention` (backends/registry.h; NULL when the backend has none) and
 * call it. Plain C, also included by CUDA/HIP code.
 *
 * Tensor layouts (contiguous, row-major, element type `dtype`):
 *   Q, O   [batch][heads][q_len][head_dim]
 *   K, V   [batch][kv_heads][kv_len][head_dim]
 * Query head h reads KV head h / (heads / kv_heads). With `causal`, query row i sees keys
 * j <= i + (kv_len - q_len) (the mask aligned bottom-right, as FlashAttention 2.1+ and PyTorch's
 * is_causal do for q_len = kv_len, and as a chunked prefill needs).
 *
 * FLOP count (FlashAttention's convention): 4·batch·heads·q_len·kv_len·head_dim, halved when
 * causal. KV bytes (decode's traffic): 2·batch·kv_heads·kv_len·head_dim·element size.
 */
#ifndef AB_ATTENTION_H
#define AB_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { AB_ATTN_F32 = 0, AB_ATTN_BF16, AB_ATTN_F16, AB_ATTN_NDTYPES } ab_attn_dtype;

typedef enum {
    AB_ATTN_NAIVE = 0, /* scores materialised: GEMM, softmax, GEMM */
    AB_ATTN_FUSED,     /* flash-style tiles, online softmax; split-KV for decode */
    AB_ATTN_VENDOR,    /* a library's fused attention (cuDNN SDPA) */
    AB_ATTN_NKINDS
} ab_attn_kind;

typedef struct ab_attn_shape {
    int batch;
    int heads;    /* query heads */
    int kv_heads; /* heads % kv_heads == 0 */
    int head_dim;
    long q_len;
    long kv_len;
    bool causal;
    float scale; /* softmax scale, normally 1/sqrt(head_dim) */
} ab_attn_shape;

typedef struct ab_attn_args {
    ab_attn_shape s;
    ab_attn_dtype dtype;
    void *q, *k, *v, *o; /* device buffers (backend handles) */
    void *work;          /* device workspace of at least workspace() bytes; may be NULL if 0 */
    void *plan;          /* backend-private state made by prepare(); NULL when not needed */
} ab_attn_args;

/*
 * One backend's attention kernels. Every call follows backends/backend.h: work is enqueued on the
 * device's queue (run() may return before completion; the caller's timer or sync waits), errors
 * are 0 / -1 with a one-line message in err.
 */
typedef struct ab_attn_impl {
    /* 0 when this backend can run `kind` for dtype and shape; otherwise -1 with the reason (the
     * suite records a skip with it). */
    int (*supports)(void *dev, ab_attn_kind kind, ab_attn_dtype dt, const ab_attn_shape *s,
                    char *why);
    /* Device workspace bytes `kind` needs for this shape (naive: the score matrix; fused decode:
     * the split-KV partial results). */
    size_t (*workspace)(void *dev, ab_attn_kind kind, ab_attn_dtype dt, const ab_attn_shape *s);
    /* Fills n elements of buf with the deterministic test pattern ab_attn_gen(seed, i, amp),
     * rounded to dt. Blocks until done. */
    int (*fill)(void *dev, ab_attn_dtype dt, void *buf, size_t n, uint64_t seed, float amp,
                char *err);
    /* Optional (may be NULL): builds per-shape state (a cuDNN execution plan) into a->plan. */
    int (*prepare)(void *dev, ab_attn_kind kind, ab_attn_args *a, char *err);
    void (*release)(void *dev, ab_attn_kind kind, ab_attn_args *a);
    /* Enqueues `iters` back-to-back attention calls, each writing a->o completely. */
    int (*run)(void *dev, ab_attn_kind kind, const ab_attn_args *a, long iters, char *err);
    /* Name of the code path that will run (extra.kernel), e.g. "avx2-fma 6x16 microkernels". */
    const char *(*describe)(void *dev, ab_attn_kind kind, ab_attn_dtype dt,
                            const ab_attn_shape *s);
} ab_attn_impl;

/* The pattern and the bf16 rounding below are compiled for the device too where CUDA/HIP code
 * includes this header, so every kernel produces the host's bits from the same source. */
#if defined(__CUDACC__) || defined(__HIPCC__)
#define AB_HOST_DEVICE __host__ __device__
#else
#define AB_HOST_DEVICE
#endif

/* ---- the deterministic test pattern, shared by host and device code ----
 * splitmix64 of (seed, index), top 24 bits as u in [0, 2^24): value (u·2^-23 - 1)·amp. Every
 * step is exact in f32 for a power-of-two amp, so a device kernel and the host reference produce
 * the same bits; bf16/f16 round that f32 to nearest even. */
static inline AB_HOST_DEVICE uint32_t ab_attn_gen_bits(uint64_t seed, uint64_t i)
{
    uint64_t z = i + seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z >> 40);
}

static inline AB_HOST_DEVICE float ab_attn_gen(uint64_t seed, uint64_t i, float amp)
{
    return ((float)ab_attn_gen_bits(seed, i) * (1.0f / 8388608.0f) - 1.0f) * amp;
}

/* f32 -> bf16 / f16 bits, round to nearest even (what __float2bfloat16_rn / __float2half_rn and
 * OpenCL's vstore_half_rte do); NaN stays NaN. */
static inline AB_HOST_DEVICE uint16_t ab_f32_to_bf16(float f)
{
    union {
        float f;
        uint32_t u;
    } x = {f};
    if ((x.u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x.u >> 16) | 0x40u);
    uint32_t r = x.u + 0x7fffu + ((x.u >> 16) & 1u);
    return (uint16_t)(r >> 16);
}

static inline AB_HOST_DEVICE float ab_bf16_to_f32(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } x = {(uint32_t)h << 16};
    return x.f;
}

uint16_t ab_f32_to_f16(float f);
float ab_f16_to_f32(uint16_t h);

/* ---- helpers shared by the suite and other callers (attention.c) ---- */
const char *ab_attn_dtype_name(ab_attn_dtype t);
size_t ab_attn_dtype_size(ab_attn_dtype t);
/* FlashAttention convention: 4·b·h·s_q·s_kv·d, halved when causal. */
double ab_attn_flops(const ab_attn_shape *s);
/* Bytes of K and V one call reads: 2·b·h_kv·s_kv·d·element size. */
double ab_attn_kv_bytes(const ab_attn_shape *s, ab_attn_dtype t);
/* Elements of Q (= O) and of K (= V). */
size_t ab_attn_q_elems(const ab_attn_shape *s);
size_t ab_attn_kv_elems(const ab_attn_shape *s);

/*
 * fp64 reference for one output row (b, h, i), with inputs regenerated from the test pattern
 * (seeds and amplitudes as the suite fills them) and rounded to dt exactly as on the device.
 * kh, vh: the KV head's K and V as doubles ([kv_len][head_dim]); qrow: the query row. out:
 * head_dim values. Exposed for the tests.
 */
void ab_attn_reference_row(const ab_attn_shape *s, const double *qrow, const double *kh,
                           const double *vh, long i, double *out);

#endif

// SPDX-License-Identifier: MIT
// Put in front of every accelbench OpenCL program by ab_ocl_program (backends/opencl.c): the
// pieces whose bits must match the host's, written once. Plain functions, no kernels.

// The deterministic test pattern of attention.h (ab_attn_gen): splitmix64 of (seed, index), top
// 24 bits u, (u·2^-23 - 1)·amp; every step is exact in f32 for a power-of-two amp.
inline float ab_attn_gen(ulong seed, ulong i, float amp)
{
    ulong z = i + seed * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    z ^= z >> 31;
    return ((float)(uint)(z >> 40) * (1.0f / 8388608.0f) - 1.0f) * amp;
}

// f32 -> bf16 bits, round to nearest even as attention.h's ab_f32_to_bf16; NaN stays NaN (quiet)
inline ushort ab_f32_to_bf16(float f)
{
    uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (ushort)((u >> 16) | 0x40u);
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// bf16 bits -> f32 (exact), as attention.h's ab_bf16_to_f32
inline float ab_bf16_to_f32(ushort h)
{
    return as_float((uint)h << 16);
}

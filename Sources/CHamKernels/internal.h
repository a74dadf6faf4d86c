// Shared by the kernel files, not part of the API: scalar codecs, target attributes and the
// functions one file provides to the dispatch table in kernels.c.
#pragma once
#include "hamkernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAM_X86 1
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) static inline

/// The sum of a vector's 8 floats.
AVX2_INLINE float ham_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

#ifndef HAM_PREFETCH_BYTES
#define HAM_PREFETCH_BYTES 4096
#endif

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {
            // Subnormal half: normalize.
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) { mant <<= 1; exp--; }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ham_f32_to_f16(float f);

/// The 6-bit scale and min of sub-block `j` (0..7) of a Q4_K/Q5_K super-block.
static inline void ham_k_scale_min(const uint8_t *scales, int j, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
        *m = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

// blocks.c: the portable decoding of every block type, the reference the SIMD levels match
// bit for bit.
void ham_dequantize_generic(const void *src, int dtype, size_t count, float *dst);
void ham_gemv_blocks_generic(const float *x, size_t n, size_t in, const void *w, int dtype,
                             size_t o_begin, size_t o_end, const float *bias, float *out,
                             size_t out_stride, int accumulate);

#ifdef HAM_X86
// blocks_avx2.c: the block types with AVX2 + FMA + F16C (also what the avx512 level runs for
// Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K: no AVX-512 machine was at hand to verify a variant).
void ham_dequantize_avx2(const void *src, int dtype, size_t count, float *dst);
/// f32/f16/bf16 weights against up to 8 rows of x at once, any n (gemv_float_avx2.c).
void ham_gemv_float_avx2(const float *x, size_t n, size_t in, const void *w, int dtype,
                         size_t o_begin, size_t o_end, const float *bias, float *out,
                         size_t out_stride, int accumulate);
/// Prefill's f16/bf16 products in the same tiles, cache-blocked; 0 for other dtypes.
int ham_gemm_float_avx2(const float *x, size_t n, size_t in, const void *w, int dtype, size_t o_begin,
                        size_t o_end, const float *bias, float *out, size_t out_stride, int accumulate);
void ham_gemv_blocks_avx2(const float *x, size_t n, size_t in, const void *w, int dtype,
                          size_t o_begin, size_t o_end, const float *bias, float *out,
                          size_t out_stride, int accumulate);
#endif

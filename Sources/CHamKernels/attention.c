// Paged grouped-query attention. Every KV row is read once for all query heads of its group
// (scores, then the weighted sum of values), and the softmax's exponentials are vectorized: at a
// 2048-token context the per-slot scalar expf of a plain loop costs more than streaming the cache.

#include "ham_attention.h"
#include "internal.h"
#include <math.h>

static inline float kv_load(const void *base, int dtype, size_t i) {
    return dtype == HAM_KV_F16 ? f16_to_f32(((const uint16_t *)base)[i]) : ((const float *)base)[i];
}

// ---------------------------------------------------------------------------------------------
// Portable version: the definition the SIMD one must agree with.

static void attention_generic(const float *q, size_t q_stride, size_t group, size_t head_dim,
                              const void *keys, const void *values, int kv_dtype, size_t kv_stride,
                              size_t kv_offset, const int32_t *blocks, size_t block_size, size_t visible,
                              float scale, float *out, size_t out_stride, float *scratch) {
    for (size_t g = 0; g < group; g++) {
        float *scores = scratch + g * visible;
        const float *qg = q + g * q_stride;
        float maximum = -INFINITY;
        for (size_t s = 0; s < visible; s++) {
            size_t row = (size_t)blocks[s / block_size] * block_size + s % block_size;
            size_t at = row * kv_stride + kv_offset;
            float dot = 0;
            for (size_t d = 0; d < head_dim; d++) dot += qg[d] * kv_load(keys, kv_dtype, at + d);
            scores[s] = dot * scale;
            if (scores[s] > maximum) maximum = scores[s];
        }
        float total = 0;
        for (size_t s = 0; s < visible; s++) {
            scores[s] = expf(scores[s] - maximum);
            total += scores[s];
        }
        float inverse = 1 / total;
        float *og = out + g * out_stride;
        for (size_t d = 0; d < head_dim; d++) og[d] = 0;
        for (size_t s = 0; s < visible; s++) {
            size_t row = (size_t)blocks[s / block_size] * block_size + s % block_size;
            size_t at = row * kv_stride + kv_offset;
            float p = scores[s] * inverse;
            for (size_t d = 0; d < head_dim; d++) og[d] += p * kv_load(values, kv_dtype, at + d);
        }
    }
}

static void store_kv_generic(const float *src, void *dst, int kv_dtype, size_t count) {
    if (kv_dtype == HAM_KV_F16) {
        _Float16 *d = (_Float16 *)dst;
        for (size_t i = 0; i < count; i++) d[i] = (_Float16)src[i];
    } else {
        memcpy(dst, src, count * sizeof(float));
    }
}

#ifdef HAM_X86
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA + F16C (also what AVX-512 machines run: this file has no AVX-512 variant).

AVX2 static inline __m256 kv8(const void *base, int dtype, size_t i) {
    if (dtype == HAM_KV_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + i)));
    return _mm256_loadu_ps((const float *)base + i);
}

// e^x for x <= 0 (scores minus their maximum), Cephes' expf: x = n·ln2 + r with |r| <= ln2/2,
// e^r by a degree-6 polynomial, relative error about 2e-7 (glibc's expf is within 1 ulp).
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AVX2 static void attention_avx2(const float *q, size_t q_stride, size_t group, size_t head_dim,
                                const void *keys, const void *values, int kv_dtype, size_t kv_stride,
                                size_t kv_offset, const int32_t *blocks, size_t block_size, size_t visible,
                                float scale, float *out, size_t out_stride, float *scratch) {
    // Scores: each key row is loaded once for up to 8 query heads at a time.
    for (size_t g0 = 0; g0 < group; g0 += 8) {
        size_t ng = group - g0 < 8 ? group - g0 : 8;
        size_t s = 0;
        for (size_t b = 0; s < visible; b++) {
            size_t row = (size_t)blocks[b] * block_size;
            size_t end = visible - s < block_size ? visible : s + block_size;
            for (; s < end; s++, row++) {
                const size_t at = row * kv_stride + kv_offset;
                __m256 acc[8];
                for (size_t g = 0; g < ng; g++) acc[g] = _mm256_setzero_ps();
                for (size_t d = 0; d < head_dim; d += 8) {
                    __m256 k = kv8(keys, kv_dtype, at + d);
                    for (size_t g = 0; g < ng; g++)
                        acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + (g0 + g) * q_stride + d), k, acc[g]);
                }
                for (size_t g = 0; g < ng; g++) scratch[(g0 + g) * visible + s] = ham_hsum8(acc[g]) * scale;
            }
        }
    }
    // Softmax per head; the weights stay unnormalized until the end.
    float inverse[group];
    for (size_t g = 0; g < group; g++) {
        float *scores = scratch + g * visible;
        __m256 mv = _mm256_set1_ps(-INFINITY);
        size_t s = 0;
        for (; s + 8 <= visible; s += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(scores + s));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float maximum = _mm_cvtss_f32(m4);
        for (; s < visible; s++) if (scores[s] > maximum) maximum = scores[s];
        __m256 maxv = _mm256_set1_ps(maximum), sum = _mm256_setzero_ps();
        for (s = 0; s + 8 <= visible; s += 8) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + s), maxv));
            _mm256_storeu_ps(scores + s, e);
            sum = _mm256_add_ps(sum, e);
        }
        float total = ham_hsum8(sum);
        for (; s < visible; s++) {
            float x = scores[s] - maximum;
            __m256 e = exp8(_mm256_set1_ps(x));
            scores[s] = _mm256_cvtss_f32(e);
            total += scores[s];
        }
        inverse[g] = 1 / total;
    }
    // Weighted sum of values, 64 output dimensions (8 registers) at a time per head.
    for (size_t g = 0; g < group; g++) {
        const float *p = scratch + g * visible;
        float *og = out + g * out_stride;
        for (size_t d0 = 0; d0 < head_dim; d0 += 64) {
            size_t nd = (head_dim - d0 < 64 ? head_dim - d0 : 64) / 8;
            __m256 acc[8];
            for (size_t i = 0; i < nd; i++) acc[i] = _mm256_setzero_ps();
            size_t s = 0;
            for (size_t b = 0; s < visible; b++) {
                size_t row = (size_t)blocks[b] * block_size;
                size_t end = visible - s < block_size ? visible : s + block_size;
                for (; s < end; s++, row++) {
                    __m256 w = _mm256_set1_ps(p[s]);
                    const size_t at = row * kv_stride + kv_offset + d0;
                    for (size_t i = 0; i < nd; i++) acc[i] = _mm256_fmadd_ps(w, kv8(values, kv_dtype, at + 8 * i), acc[i]);
                }
            }
            __m256 inv = _mm256_set1_ps(inverse[g]);
            for (size_t i = 0; i < nd; i++) _mm256_storeu_ps(og + d0 + 8 * i, _mm256_mul_ps(acc[i], inv));
        }
    }
}

AVX2 static void store_kv_avx2(const float *src, void *dst, int kv_dtype, size_t count) {
    if (kv_dtype != HAM_KV_F16) {
        memcpy(dst, src, count * sizeof(float));
        return;
    }
    uint16_t *d = (uint16_t *)dst;
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; i++) {
        _Float16 h = (_Float16)src[i];
        memcpy(d + i, &h, 2);
    }
}
#endif

// The SIMD path needs head dimensions in whole vectors; every Llama head size is.
static int use_simd(size_t head_dim) {
#ifdef HAM_X86
    return head_dim % 8 == 0 && strcmp(ham_kernel_level(), "generic") != 0;
#else
    (void)head_dim;
    return 0;
#endif
}

void ham_attention(const float *q, size_t q_stride, size_t group, size_t head_dim,
                   const void *keys, const void *values, int kv_dtype, size_t kv_stride, size_t kv_offset,
                   const int32_t *blocks, size_t block_size, size_t visible,
                   float scale, float *out, size_t out_stride, float *scratch) {
#ifdef HAM_X86
    if (use_simd(head_dim)) {
        attention_avx2(q, q_stride, group, head_dim, keys, values, kv_dtype, kv_stride, kv_offset,
                       blocks, block_size, visible, scale, out, out_stride, scratch);
        return;
    }
#endif
    attention_generic(q, q_stride, group, head_dim, keys, values, kv_dtype, kv_stride, kv_offset,
                      blocks, block_size, visible, scale, out, out_stride, scratch);
}

void ham_store_kv(const float *src, void *dst, int kv_dtype, size_t count) {
#ifdef HAM_X86
    if (use_simd(8)) {
        store_kv_avx2(src, dst, kv_dtype, count);
        return;
    }
#endif
    store_kv_generic(src, dst, kv_dtype, count);
}

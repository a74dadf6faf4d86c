#include "internal.h"
#include <stdlib.h>

// ---------------------------------------------------------------------------------------------
// Portable versions: the reference every SIMD level must agree with, and the fallback. The
// block types have theirs in blocks.c.

/// Element `i` of a row of a plain type (f32, f16, bf16).
static inline float load_elem(const void *w, int dtype, size_t i) {
    switch (dtype) {
    case HAM_F16: return f16_to_f32(((const uint16_t *)w)[i]);
    case HAM_BF16: return bf16_to_f32(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}

static void gemv_generic(const float *x, size_t n, size_t in, const void *w, int dtype,
                         size_t o_begin, size_t o_end, const float *bias, float *out,
                         size_t out_stride, int accumulate) {
    if (ham_block_elements(dtype) > 1) {
        ham_gemv_blocks_generic(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    for (size_t o = o_begin; o < o_end; o++) {
        const char *row = (const char *)w + o * ham_row_bytes(dtype, in);
        for (size_t r = 0; r < n; r++) {
            const float *xr = x + r * in;
            float acc = 0.0f;
            for (size_t k = 0; k < in; k++) acc += xr[k] * load_elem(row, dtype, k);
            if (bias) acc += bias[o];
            float *dst = out + r * out_stride + o;
            *dst = accumulate ? *dst + acc : acc;
        }
    }
}

static void widen_generic(const void *src, int dtype, size_t count, float *dst) {
    if (ham_block_elements(dtype) > 1) {
        ham_dequantize_generic(src, dtype, count, dst);
        return;
    }
    for (size_t i = 0; i < count; i++) dst[i] = load_elem(src, dtype, i);
}

static float dot_generic(const float *a, const float *b, size_t count) {
    float acc = 0.0f;
    for (size_t i = 0; i < count; i++) acc += a[i] * b[i];
    return acc;
}

static void axpy_generic(float a, const float *x, float *y, size_t count) {
    for (size_t i = 0; i < count; i++) y[i] += a * x[i];
}

#ifdef HAM_X86
// ---------------------------------------------------------------------------------------------
// AVX-512: 16 floats per vector. Tails use masked loads, so every size is handled in-register.

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

// The 4- to 6-bit block types run their AVX2 kernels at this level (blocks_avx2.c): no AVX-512
// machine was at hand to verify variants of them, and untested code must not run on one.
static inline int avx2_only_type(int dtype) { return ham_block_elements(dtype) > 1 && dtype != HAM_Q8_0; }

AVX512 static inline __m512 load16(const void *w, int dtype, size_t k, __mmask16 m) {
    switch (dtype) {
    case HAM_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + k);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case HAM_F16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + k);
        return _mm512_cvtph_ps(h);
    }
    default:
        return _mm512_maskz_loadu_ps(m, (const float *)w + k);
    }
}

// One weight row at a time against n (1..4) rows of x. Always inlined with a constant n: with a
// variable n the accumulators live on the stack and every FMA waits for a store-to-load round
// trip (micro step 1's 5-row products ran at 12 GB/s per core).
#define AVX512_INLINE __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c"), always_inline)) static inline
AVX512_INLINE void gemv_rows_avx512(const float *x, const size_t n, size_t in, const char *row, int dtype,
                                    float *acc_out) {
    // Two accumulators per row of x: one FMA chain per row would wait on the FMA latency.
    __m512 acc[4], acc2[4];
    for (size_t r = 0; r < n; r++) acc[r] = acc2[r] = _mm512_setzero_ps();
    size_t k = 0;
    // Several rows of x make each weight cache line slow to consume, so the hardware prefetcher
    // falls behind (and stops at every 4 KB page, often a row): fetch ahead by hand.
    size_t esize = dtype == HAM_F32 ? 4 : 2;
    for (; k + 32 <= in; k += 32) {
        _mm_prefetch(row + (k * esize) + HAM_PREFETCH_BYTES, _MM_HINT_T0);
        if (esize == 4) _mm_prefetch(row + (k * esize) + HAM_PREFETCH_BYTES + 64, _MM_HINT_T0);
        __m512 wv = load16(row, dtype, k, 0xffff), wv2 = load16(row, dtype, k + 16, 0xffff);
        for (size_t r = 0; r < n; r++) {
            acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * in + k), wv, acc[r]);
            acc2[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * in + k + 16), wv2, acc2[r]);
        }
    }
    for (size_t r = 0; r < n; r++) acc[r] = _mm512_add_ps(acc[r], acc2[r]);
    for (; k + 16 <= in; k += 16) {
        __m512 wv = load16(row, dtype, k, 0xffff);
        for (size_t r = 0; r < n; r++) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * in + k), wv, acc[r]);
    }
    if (k < in) {
        __mmask16 m = (__mmask16)((1u << (in - k)) - 1);
        __m512 wv = load16(row, dtype, k, m);
        for (size_t r = 0; r < n; r++) acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + r * in + k), wv, acc[r]);
    }
    for (size_t r = 0; r < n; r++) acc_out[r] = _mm512_reduce_add_ps(acc[r]);
}

#define GEMV_ROWS_N(N) \
    AVX512 static void gemv_rows_avx512_##N(const float *x, size_t in, const char *row, int dtype, float *s) { \
        gemv_rows_avx512(x, N, in, row, dtype, s); \
    }
GEMV_ROWS_N(1) GEMV_ROWS_N(2) GEMV_ROWS_N(3) GEMV_ROWS_N(4)

typedef void (*gemv_rows_fn)(const float *, size_t, const char *, int, float *);
static const gemv_rows_fn gemv_rows_avx512_n[5] = {
    0, gemv_rows_avx512_1, gemv_rows_avx512_2, gemv_rows_avx512_3, gemv_rows_avx512_4,
};

// Decode (n == 1): one weight row at a time, four independent FMA chains along it. A single
// stream per thread is what the hardware prefetcher follows best: interleaving four rows cost
// 40% of the bandwidth on the development machine (21 against 37 GB/s on one core).
AVX512 static void gemv1_avx512(const float *x, size_t in, const void *w, int dtype, size_t o_begin,
                                size_t o_end, const float *bias, float *out, int accumulate) {
    size_t row_bytes = ham_row_bytes(dtype, in), esize = dtype == HAM_F32 ? 4 : 2;
    for (size_t o = o_begin; o < o_end; o++) {
        const char *r = (const char *)w + o * row_bytes;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        size_t k = 0;
        for (; k + 64 <= in; k += 64) {
            // A page ahead: the hardware prefetcher alone stops at each 4 KB page (+5% here).
            _mm_prefetch(r + k * esize + HAM_PREFETCH_BYTES, _MM_HINT_T0);
            _mm_prefetch(r + k * esize + HAM_PREFETCH_BYTES + 64, _MM_HINT_T0);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), load16(r, dtype, k, 0xffff), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), load16(r, dtype, k + 16, 0xffff), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 32), load16(r, dtype, k + 32, 0xffff), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 48), load16(r, dtype, k + 48, 0xffff), a3);
        }
        for (; k + 16 <= in; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), load16(r, dtype, k, 0xffff), a0);
        if (k < in) {
            __mmask16 m = (__mmask16)((1u << (in - k)) - 1);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + k), load16(r, dtype, k, m), a1);
        }
        float v = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + (bias ? bias[o] : 0.0f);
        out[o] = accumulate ? out[o] + v : v;
    }
}

// Q8_0: each block's 32 bytes widen to two vectors of floats. Decode keeps one block sum per
// row and scales it once; a few rows of x share each dequantized block.
AVX512 static inline void q8_block512(const ham_block_q8_0 *b, __m512 *lo, __m512 *hi) {
    __m128i q0 = _mm_loadu_si128((const __m128i *)b->qs);
    __m128i q1 = _mm_loadu_si128((const __m128i *)(b->qs + 16));
    *lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0));
    *hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1));
}

AVX512 static inline __m512 q8_scale512(const ham_block_q8_0 *b) {
    return _mm512_set1_ps(_cvtsh_ss(b->d));
}

// One q8_0 row against n (1..8) rows of x, n constant after inlining (as gemv_rows_avx512).
AVX512_INLINE void q8_rows_avx512(const float *x, const size_t n, size_t in, const ham_block_q8_0 *row,
                                  float *acc_out) {
    __m512 acc[8];
    for (size_t r = 0; r < n; r++) acc[r] = _mm512_setzero_ps();
    for (size_t b = 0; b < in / 32; b++) {
        _mm_prefetch((const char *)(row + b) + HAM_PREFETCH_BYTES, _MM_HINT_T0);
        __m512 lo, hi, d = q8_scale512(row + b);
        q8_block512(row + b, &lo, &hi);
        lo = _mm512_mul_ps(lo, d);
        hi = _mm512_mul_ps(hi, d);
        for (size_t r = 0; r < n; r++) {
            const float *xr = x + r * in + b * 32;
            acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(xr), lo, acc[r]);
            acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(xr + 16), hi, acc[r]);
        }
    }
    for (size_t r = 0; r < n; r++) acc_out[r] = _mm512_reduce_add_ps(acc[r]);
}

#define Q8_ROWS_N(N) \
    AVX512 static void q8_rows_avx512_##N(const float *x, size_t in, const ham_block_q8_0 *row, float *s) { \
        q8_rows_avx512(x, N, in, row, s); \
    }
Q8_ROWS_N(1) Q8_ROWS_N(2) Q8_ROWS_N(3) Q8_ROWS_N(4)
Q8_ROWS_N(5) Q8_ROWS_N(6) Q8_ROWS_N(7) Q8_ROWS_N(8)

typedef void (*q8_rows_fn)(const float *, size_t, const ham_block_q8_0 *, float *);
static const q8_rows_fn q8_rows_avx512_n[9] = {
    0, q8_rows_avx512_1, q8_rows_avx512_2, q8_rows_avx512_3, q8_rows_avx512_4,
    q8_rows_avx512_5, q8_rows_avx512_6, q8_rows_avx512_7, q8_rows_avx512_8,
};

AVX512 static void gemv_q8_avx512(const float *x, size_t n, size_t in, const void *w,
                                  size_t o_begin, size_t o_end, const float *bias, float *out,
                                  size_t out_stride, int accumulate) {
    size_t nb = in / 32;
    const ham_block_q8_0 *blocks = (const ham_block_q8_0 *)w;
    if (n == 1) {
        // One row at a time (one stream for the prefetcher), two blocks per iteration.
        for (size_t o = o_begin; o < o_end; o++) {
            const ham_block_q8_0 *r = blocks + o * nb;
            __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
            size_t b = 0;
            for (; b + 2 <= nb; b += 2) {
                _mm_prefetch((const char *)(r + b) + HAM_PREFETCH_BYTES, _MM_HINT_T0);
                _mm_prefetch((const char *)(r + b) + HAM_PREFETCH_BYTES + 64, _MM_HINT_T0);
                __m512 lo, hi, lo2, hi2;
                q8_block512(r + b, &lo, &hi);
                q8_block512(r + b + 1, &lo2, &hi2);
                __m512 s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + b * 32 + 16), hi, _mm512_mul_ps(_mm512_loadu_ps(x + b * 32), lo));
                __m512 s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + b * 32 + 48), hi2, _mm512_mul_ps(_mm512_loadu_ps(x + b * 32 + 32), lo2));
                acc0 = _mm512_fmadd_ps(s0, q8_scale512(r + b), acc0);
                acc1 = _mm512_fmadd_ps(s1, q8_scale512(r + b + 1), acc1);
            }
            if (b < nb) {
                __m512 lo, hi;
                q8_block512(r + b, &lo, &hi);
                __m512 s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + b * 32 + 16), hi, _mm512_mul_ps(_mm512_loadu_ps(x + b * 32), lo));
                acc0 = _mm512_fmadd_ps(s0, q8_scale512(r + b), acc0);
            }
            float v = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + (bias ? bias[o] : 0.0f);
            out[o] = accumulate ? out[o] + v : v;
        }
        return;
    }
    for (size_t r0 = 0; r0 < n; r0 += 8) {
        size_t nr = n - r0 < 8 ? n - r0 : 8;
        const float *xb = x + r0 * in;
        q8_rows_fn rows = q8_rows_avx512_n[nr];
        for (size_t o = o_begin; o < o_end; o++) {
            float s[8];
            rows(xb, in, blocks + o * nb, s);
            for (size_t r = 0; r < nr; r++) {
                float v = s[r] + (bias ? bias[o] : 0.0f);
                float *dst = out + (r0 + r) * out_stride + o;
                *dst = accumulate ? *dst + v : v;
            }
        }
    }
}

AVX512 static void gemv_avx512(const float *x, size_t n, size_t in, const void *w, int dtype,
                               size_t o_begin, size_t o_end, const float *bias, float *out,
                               size_t out_stride, int accumulate) {
    if (avx2_only_type(dtype)) {
        ham_gemv_blocks_avx2(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    if (dtype == HAM_Q8_0) {
        gemv_q8_avx512(x, n, in, w, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    if (n == 1) {
        gemv1_avx512(x, in, w, dtype, o_begin, o_end, bias, out, accumulate);
        return;
    }
    // Five or more rows of x (a batch decoding, micro step 1): the AVX2 tiles, which keep several
    // weight rows in registers for 4 rows of x each, beat one 512-bit weight row at a time here:
    // 1.15-1.4x at 5-8 rows on a Zen 4 (f16, f32, bf16; kernels.sh, 2026-12-02), where 512-bit ops
    // run as two 256-bit halves anyway.
    if (n >= 5) {
        ham_gemv_float_avx2(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    gemv_rows_fn rows = gemv_rows_avx512_n[n];
    for (size_t o = o_begin; o < o_end; o++) {
        float s[4];
        rows(x, in, (const char *)w + o * ham_row_bytes(dtype, in), dtype, s);
        for (size_t r = 0; r < n; r++) {
            float v = s[r] + (bias ? bias[o] : 0.0f);
            float *dst = out + r * out_stride + o;
            *dst = accumulate ? *dst + v : v;
        }
    }
}

// Prefill (many rows of x): register tiles of 4 x rows × 6 weight rows, 24 accumulators,
// widening bf16/f16 inside the loop. Replaces "widen a block of weights to f32, let sgemm pack
// it again": perf put a third of the prefill time in those two copies.
#define GEMM_RM 4
#define GEMM_RN 6
#define GEMM_KB 2048   // k block: a 4-row x tile (32 KB) stays in L1
#define GEMM_OB 48     // weight rows per chunk: 48 × 2048 × 2 B = 192 KB, stays in L2

AVX512_INLINE void gemm_tile_avx512(const float *x, size_t in, size_t k0, size_t k1, const char *w,
                                    size_t row_bytes, int dtype, const size_t rm, const size_t rn,
                                    float *out, size_t out_stride) {
    __m512 acc[GEMM_RM][GEMM_RN];
    for (size_t i = 0; i < rm; i++)
        for (size_t j = 0; j < rn; j++) acc[i][j] = _mm512_setzero_ps();
    size_t k = k0;
    for (; k + 16 <= k1; k += 16) {
        __m512 wv[GEMM_RN];
        for (size_t j = 0; j < rn; j++) wv[j] = load16(w + j * row_bytes, dtype, k, 0xffff);
        for (size_t i = 0; i < rm; i++) {
            __m512 xv = _mm512_loadu_ps(x + i * in + k);
            for (size_t j = 0; j < rn; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    if (k < k1) {
        __mmask16 m = (__mmask16)((1u << (k1 - k)) - 1);
        __m512 wv[GEMM_RN];
        for (size_t j = 0; j < rn; j++) wv[j] = load16(w + j * row_bytes, dtype, k, m);
        for (size_t i = 0; i < rm; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + i * in + k);
            for (size_t j = 0; j < rn; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (size_t i = 0; i < rm; i++)
        for (size_t j = 0; j < rn; j++) out[i * out_stride + j] += _mm512_reduce_add_ps(acc[i][j]);
}

typedef void (*gemm_tile_fn)(const float *, size_t, size_t, size_t, const char *, size_t, int, float *, size_t);
#define GEMM_TILE(RM, RN) \
    AVX512 static void gemm_tile_##RM##x##RN(const float *x, size_t in, size_t k0, size_t k1, const char *w, \
                                             size_t row_bytes, int dtype, float *out, size_t out_stride) { \
        gemm_tile_avx512(x, in, k0, k1, w, row_bytes, dtype, RM, RN, out, out_stride); \
    }
#define GEMM_TILES(RM) GEMM_TILE(RM, 1) GEMM_TILE(RM, 2) GEMM_TILE(RM, 3) GEMM_TILE(RM, 4) GEMM_TILE(RM, 5) GEMM_TILE(RM, 6)
GEMM_TILES(1) GEMM_TILES(2) GEMM_TILES(3) GEMM_TILES(4)
#define GEMM_ROW(RM) { 0, gemm_tile_##RM##x1, gemm_tile_##RM##x2, gemm_tile_##RM##x3, gemm_tile_##RM##x4, \
                       gemm_tile_##RM##x5, gemm_tile_##RM##x6 }
static const gemm_tile_fn gemm_tiles[GEMM_RM + 1][GEMM_RN + 1] = {
    { 0 }, GEMM_ROW(1), GEMM_ROW(2), GEMM_ROW(3), GEMM_ROW(4),
};

AVX512 static int gemm_avx512(const float *x, size_t n, size_t in, const void *w, int dtype,
                              size_t o_begin, size_t o_end, const float *bias, float *out,
                              size_t out_stride, int accumulate) {
    // f32 weights: sgemm reads them in place. q8_0: widening a block in the inner loop, once per
    // 4 x rows, made prefill 28 % slower than widening it once for sgemm (98 against 135 tok/s).
    if (dtype != HAM_BF16 && dtype != HAM_F16) return 0;
    size_t row_bytes = ham_row_bytes(dtype, in);
    for (size_t r = 0; r < n; r++) {
        float *dst = out + r * out_stride;
        for (size_t o = o_begin; o < o_end; o++) dst[o] = (accumulate ? dst[o] : 0.0f) + (bias ? bias[o] : 0.0f);
    }
    for (size_t k0 = 0; k0 < in; k0 += GEMM_KB) {
        size_t k1 = in - k0 < GEMM_KB ? in : k0 + GEMM_KB;
        for (size_t c0 = o_begin; c0 < o_end; c0 += GEMM_OB) {
            size_t c1 = o_end - c0 < GEMM_OB ? o_end : c0 + GEMM_OB;
            for (size_t r = 0; r < n; r += GEMM_RM) {
                size_t rm = n - r < GEMM_RM ? n - r : GEMM_RM;
                for (size_t o = c0; o < c1; o += GEMM_RN) {
                    size_t rn = c1 - o < GEMM_RN ? c1 - o : GEMM_RN;
                    gemm_tiles[rm][rn](x + r * in, in, k0, k1, (const char *)w + o * row_bytes, row_bytes,
                                       dtype, out + r * out_stride + o, out_stride);
                }
            }
        }
    }
    return 1;
}

AVX512 static void widen_avx512(const void *src, int dtype, size_t count, float *dst) {
    if (avx2_only_type(dtype)) {
        ham_dequantize_avx2(src, dtype, count, dst);
        return;
    }
    if (dtype == HAM_Q8_0) {
        const ham_block_q8_0 *blocks = (const ham_block_q8_0 *)src;
        for (size_t b = 0; b < count / 32; b++) {
            __m512 lo, hi, d = q8_scale512(blocks + b);
            q8_block512(blocks + b, &lo, &hi);
            _mm512_storeu_ps(dst + b * 32, _mm512_mul_ps(lo, d));
            _mm512_storeu_ps(dst + b * 32 + 16, _mm512_mul_ps(hi, d));
        }
        return;
    }
    size_t k = 0;
    for (; k + 16 <= count; k += 16) _mm512_storeu_ps(dst + k, load16(src, dtype, k, 0xffff));
    if (k < count) {
        __mmask16 m = (__mmask16)((1u << (count - k)) - 1);
        _mm512_mask_storeu_ps(dst + k, m, load16(src, dtype, k, m));
    }
}

AVX512 static float dot_avx512(const float *a, const float *b, size_t count) {
    __m512 acc = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= count; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc);
    if (k < count) {
        __mmask16 m = (__mmask16)((1u << (count - k)) - 1);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

AVX512 static void axpy_avx512(float a, const float *x, float *y, size_t count) {
    __m512 av = _mm512_set1_ps(a);
    size_t k = 0;
    for (; k + 16 <= count; k += 16)
        _mm512_storeu_ps(y + k, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + k), _mm512_loadu_ps(y + k)));
    if (k < count) {
        __mmask16 m = (__mmask16)((1u << (count - k)) - 1);
        _mm512_mask_storeu_ps(y + k, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + k), _mm512_maskz_loadu_ps(m, y + k)));
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA + F16C: 8 floats per vector; tails go through the portable loop.


AVX2 static inline __m256 load8(const void *w, int dtype, size_t k) {
    switch (dtype) {
    case HAM_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + k));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    case HAM_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + k)));
    default:
        return _mm256_loadu_ps((const float *)w + k);
    }
}

AVX2 static void gemv_avx2(const float *x, size_t n, size_t in, const void *w, int dtype,
                           size_t o_begin, size_t o_end, const float *bias, float *out,
                           size_t out_stride, int accumulate) {
    if (ham_block_elements(dtype) > 1) {
        ham_gemv_blocks_avx2(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    ham_gemv_float_avx2(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
}

AVX2 static void widen_avx2(const void *src, int dtype, size_t count, float *dst) {
    if (ham_block_elements(dtype) > 1) {
        ham_dequantize_avx2(src, dtype, count, dst);
        return;
    }
    size_t k = 0;
    for (; k + 8 <= count; k += 8) _mm256_storeu_ps(dst + k, load8(src, dtype, k));
    for (; k < count; k++) dst[k] = load_elem(src, dtype, k);
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t count) {
    __m256 acc = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= count; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
    float s = ham_hsum8(acc);
    for (; k < count; k++) s += a[k] * b[k];
    return s;
}

AVX2 static void axpy_avx2(float a, const float *x, float *y, size_t count) {
    __m256 av = _mm256_set1_ps(a);
    size_t k = 0;
    for (; k + 8 <= count; k += 8)
        _mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
    for (; k < count; k++) y[k] += a * x[k];
}
#endif

// ---------------------------------------------------------------------------------------------
// Dispatch, decided once.

typedef void (*gemv_fn)(const float *, size_t, size_t, const void *, int, size_t, size_t, const float *, float *, size_t, int);
typedef void (*widen_fn)(const void *, int, size_t, float *);
typedef float (*dot_fn)(const float *, const float *, size_t);
typedef int (*gemm_fn)(const float *, size_t, size_t, const void *, int, size_t, size_t, const float *, float *, size_t, int);

static int gemm_none(const float *x, size_t n, size_t in, const void *w, int dtype, size_t o_begin, size_t o_end,
                     const float *bias, float *out, size_t out_stride, int accumulate) {
    (void)x; (void)n; (void)in; (void)w; (void)dtype; (void)o_begin; (void)o_end;
    (void)bias; (void)out; (void)out_stride; (void)accumulate;
    return 0;
}
typedef void (*axpy_fn)(float, const float *, float *, size_t);

static struct {
    const char *level;
    gemv_fn gemv;
    gemm_fn gemm;
    widen_fn widen;
    dot_fn dot;
    axpy_fn axpy;
} table;

static void pick(const char *want) {
    table.level = "generic";
    table.gemv = gemv_generic;
    table.gemm = gemm_none;
    table.widen = widen_generic;
    table.dot = dot_generic;
    table.axpy = axpy_generic;
#ifdef HAM_X86
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    if (want && strcmp(want, "avx2") == 0) avx512 = 0;
    if (want && strcmp(want, "generic") == 0) avx512 = avx2 = 0;
    if (avx512) {
        table.level = "avx512";
        table.gemv = gemv_avx512;
        table.gemm = gemm_avx512;
        table.widen = widen_avx512;
        table.dot = dot_avx512;
        table.axpy = axpy_avx512;
    } else if (avx2) {
        table.level = "avx2";
        table.gemv = gemv_avx2;
        table.gemm = ham_gemm_float_avx2;
        table.widen = widen_avx2;
        table.dot = dot_avx2;
        table.axpy = axpy_avx2;
    }
#endif
}

// HAM_KERNELS=avx2|generic caps the level (to compare levels, or to mimic an older machine).
__attribute__((constructor)) static void ham_kernels_init(void) { pick(getenv("HAM_KERNELS")); }

const char *ham_set_kernel_level(const char *level) {
    pick(level);
    return table.level;
}

void ham_gemv(const float *x, size_t n, size_t in, const void *w, int dtype, size_t o_begin, size_t o_end,
              const float *bias, float *out, size_t out_stride, int accumulate) {
    table.gemv(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
}

int ham_gemm(const float *x, size_t n, size_t in, const void *w, int dtype, size_t o_begin, size_t o_end,
             const float *bias, float *out, size_t out_stride, int accumulate) {
    return table.gemm(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
}

void ham_widen(const void *src, int dtype, size_t count, float *dst) { table.widen(src, dtype, count, dst); }

void ham_widen_portable(const void *src, int dtype, size_t count, float *dst) { widen_generic(src, dtype, count, dst); }

float ham_dot_f32(const float *a, const float *b, size_t count) { return table.dot(a, b, count); }

void ham_axpy_f32(float a, const float *x, float *y, size_t count) { table.axpy(a, x, y, count); }

const char *ham_kernel_level(void) { return table.level; }

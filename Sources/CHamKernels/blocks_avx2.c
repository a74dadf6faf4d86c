// The block types with AVX2 + FMA + F16C: products of f32 rows of x with block rows (decode,
// micro steps, small batches: the weights are streamed once for up to 8 rows of x) and the
// decoding of rows to f32 (embeddings, and the prefill path, which decodes blocks of weight
// rows for sgemm).
//
// Every type is decoded 32 elements at a time into four vectors of 8 floats: the quants become
// signed bytes in element order, widened to int32 and converted (exact: they are small
// integers), then scaled. `ham_dequantize_avx2` scales with the separate roundings of blocks.c
// (bit-identical to gguf-py); the products fuse the scaling into one multiply-add, which only
// changes float32 rounding.
#include "internal.h"

#ifdef HAM_X86

/// 32 signed bytes (element order) to four vectors of floats.
AVX2_INLINE void widen32(__m128i lo, __m128i hi, __m256 v[4]) {
    v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
    v[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    v[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

AVX2_INLINE void widen32x(__m256i q, __m256 v[4]) {
    widen32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1), v);
}

AVX2_INLINE __m256 half_scale(uint16_t h) { return _mm256_set1_ps(_cvtsh_ss(h)); }

/// v = d * v (all types but Q4_1 and the K-quants' mins).
AVX2_INLINE void scale4(__m256 v[4], __m256 d) {
    for (int i = 0; i < 4; i++) v[i] = _mm256_mul_ps(d, v[i]);
}

/// v = d * v + m; exact: the product rounded first, as gguf-py computes Q4_1.
AVX2_INLINE void scale_add4(__m256 v[4], __m256 d, __m256 m, const int exact) {
    for (int i = 0; i < 4; i++) v[i] = exact ? _mm256_add_ps(_mm256_mul_ps(d, v[i]), m) : _mm256_fmadd_ps(d, v[i], m);
}

/// v = d * v - m (the K-quants with mins).
AVX2_INLINE void scale_sub4(__m256 v[4], __m256 d, __m256 m, const int exact) {
    for (int i = 0; i < 4; i++) v[i] = exact ? _mm256_sub_ps(_mm256_mul_ps(d, v[i]), m) : _mm256_fmsub_ps(d, v[i], m);
}

#define NIBBLES _mm256_set1_epi8(0x0f)

// ---------------------------------------------------------------------------------------------
// One block, chunk by chunk: each decoder calls CHUNK(element offset in the block, w) for its
// 32-element chunks in order. Macros, not functions, so that the chunk's consumer (a store, or
// the multiply-adds of up to 8 rows) is inlined between the decoding steps and the decoded
// vectors never leave the registers.

#define DECODE_Q8_0(block, exact, CHUNK) do { \
    const ham_block_q8_0 *b_ = (const ham_block_q8_0 *)(block); \
    __m256 w_[4]; \
    widen32x(_mm256_loadu_si256((const __m256i *)b_->qs), w_); \
    scale4(w_, half_scale(b_->d)); \
    CHUNK(0, w_); \
} while (0)

#define DECODE_Q4_0(block, exact, CHUNK) do { \
    const ham_block_q4_0 *b_ = (const ham_block_q4_0 *)(block); \
    __m128i q_ = _mm_loadu_si128((const __m128i *)b_->qs), m_ = _mm_set1_epi8(0x0f), e_ = _mm_set1_epi8(8); \
    __m256 w_[4]; \
    widen32(_mm_sub_epi8(_mm_and_si128(q_, m_), e_), _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q_, 4), m_), e_), w_); \
    scale4(w_, half_scale(b_->d)); \
    CHUNK(0, w_); \
} while (0)

#define DECODE_Q4_1(block, exact, CHUNK) do { \
    const ham_block_q4_1 *b_ = (const ham_block_q4_1 *)(block); \
    __m128i q_ = _mm_loadu_si128((const __m128i *)b_->qs), m_ = _mm_set1_epi8(0x0f); \
    __m256 w_[4]; \
    widen32(_mm_and_si128(q_, m_), _mm_and_si128(_mm_srli_epi16(q_, 4), m_), w_); \
    scale_add4(w_, half_scale(b_->d), half_scale(b_->m), exact); \
    CHUNK(0, w_); \
} while (0)

/// The eight sub-block scales d·sc and mins dmin·m of a Q4_K/Q5_K super-block (scalar: 16
/// multiplies per 256 elements, on the integer side while the vector units decode).
AVX2_INLINE void k_scales(const uint8_t *scales, uint16_t dh, uint16_t dminh, float ds[8], float dm[8]) {
    float d = _cvtsh_ss(dh), dmin = _cvtsh_ss(dminh);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        ham_k_scale_min(scales, j, &sc, &m);
        ds[j] = d * (float)sc;
        dm[j] = dmin * (float)m;
    }
}

#define DECODE_Q4_K(block, exact, CHUNK) do { \
    const ham_block_q4_k *b_ = (const ham_block_q4_k *)(block); \
    float ds_[8], dm_[8]; \
    k_scales(b_->scales, b_->d, b_->dmin, ds_, dm_); \
    for (int p_ = 0; p_ < 4; p_++) { \
        __m256i q_ = _mm256_loadu_si256((const __m256i *)(b_->qs + 32 * p_)); \
        __m256 w_[4]; \
        widen32x(_mm256_and_si256(q_, NIBBLES), w_); \
        scale_sub4(w_, _mm256_set1_ps(ds_[2 * p_]), _mm256_set1_ps(dm_[2 * p_]), exact); \
        CHUNK(64 * p_, w_); \
        widen32x(_mm256_and_si256(_mm256_srli_epi16(q_, 4), NIBBLES), w_); \
        scale_sub4(w_, _mm256_set1_ps(ds_[2 * p_ + 1]), _mm256_set1_ps(dm_[2 * p_ + 1]), exact); \
        CHUNK(64 * p_ + 32, w_); \
    } \
} while (0)

// Q5_K: Q4_K's nibbles plus bit 2p (low nibbles) and 2p + 1 (high nibbles) of each qh byte,
// shifted down by two for every pair.
#define DECODE_Q5_K(block, exact, CHUNK) do { \
    const ham_block_q5_k *b_ = (const ham_block_q5_k *)(block); \
    float ds_[8], dm_[8]; \
    k_scales(b_->scales, b_->d, b_->dmin, ds_, dm_); \
    __m256i qh_ = _mm256_loadu_si256((const __m256i *)b_->qh), one_ = _mm256_set1_epi8(1); \
    for (int p_ = 0; p_ < 4; p_++) { \
        __m256i q_ = _mm256_loadu_si256((const __m256i *)(b_->qs + 32 * p_)); \
        __m256i h0_ = _mm256_slli_epi16(_mm256_and_si256(qh_, one_), 4); \
        __m256i h1_ = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh_, 1), one_), 4); \
        __m256 w_[4]; \
        widen32x(_mm256_or_si256(_mm256_and_si256(q_, NIBBLES), h0_), w_); \
        scale_sub4(w_, _mm256_set1_ps(ds_[2 * p_]), _mm256_set1_ps(dm_[2 * p_]), exact); \
        CHUNK(64 * p_, w_); \
        widen32x(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q_, 4), NIBBLES), h1_), w_); \
        scale_sub4(w_, _mm256_set1_ps(ds_[2 * p_ + 1]), _mm256_set1_ps(dm_[2 * p_ + 1]), exact); \
        CHUNK(64 * p_ + 32, w_); \
        qh_ = _mm256_srli_epi16(qh_, 2); \
    } \
} while (0)

/// Vectors 0, 1 of a 32-element chunk take sub-block scale `a`, vectors 2, 3 scale `b`.
AVX2_INLINE void scale_pair(__m256 v[4], float a, float b) {
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    v[0] = _mm256_mul_ps(va, v[0]);
    v[1] = _mm256_mul_ps(va, v[1]);
    v[2] = _mm256_mul_ps(vb, v[2]);
    v[3] = _mm256_mul_ps(vb, v[3]);
}

// Q6_K, per half of 128 elements: chunk c's quants are 4 bits of ql (low nibbles of ql[0..31]
// for c = 0, of ql[32..63] for c = 1, their high nibbles for c = 2, 3) and bits 2c, 2c + 1 of
// qh, shifted to bits 4 and 5; minus 32. Sub-blocks of 16: two scales per chunk.
#define DECODE_Q6_K(block, exact, CHUNK) do { \
    const ham_block_q6_k *b_ = (const ham_block_q6_k *)(block); \
    float d_ = _cvtsh_ss(b_->d), ds_[16]; \
    for (int j_ = 0; j_ < 16; j_++) ds_[j_] = d_ * (float)b_->scales[j_]; \
    __m256i hm_ = _mm256_set1_epi8(0x30), off_ = _mm256_set1_epi8(32); \
    for (int h_ = 0; h_ < 2; h_++) { \
        __m256i l0_ = _mm256_loadu_si256((const __m256i *)(b_->ql + 64 * h_)); \
        __m256i l1_ = _mm256_loadu_si256((const __m256i *)(b_->ql + 64 * h_ + 32)); \
        __m256i qh_ = _mm256_loadu_si256((const __m256i *)(b_->qh + 32 * h_)); \
        __m256i q_[4] = { \
            _mm256_or_si256(_mm256_and_si256(l0_, NIBBLES), _mm256_and_si256(_mm256_slli_epi16(qh_, 4), hm_)), \
            _mm256_or_si256(_mm256_and_si256(l1_, NIBBLES), _mm256_and_si256(_mm256_slli_epi16(qh_, 2), hm_)), \
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0_, 4), NIBBLES), _mm256_and_si256(qh_, hm_)), \
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1_, 4), NIBBLES), _mm256_and_si256(_mm256_srli_epi16(qh_, 2), hm_)), \
        }; \
        for (int c_ = 0; c_ < 4; c_++) { \
            __m256 w_[4]; \
            widen32x(_mm256_sub_epi8(q_[c_], off_), w_); \
            scale_pair(w_, ds_[8 * h_ + 2 * c_], ds_[8 * h_ + 2 * c_ + 1]); \
            CHUNK(128 * h_ + 32 * c_, w_); \
        } \
    } \
} while (0)

// ---------------------------------------------------------------------------------------------
// Decoding rows to f32 (bit-identical to blocks.c).

#define STORE_CHUNK(at, w) do { for (int i_ = 0; i_ < 4; i_++) _mm256_storeu_ps(y_ + (at) + 8 * i_, (w)[i_]); } while (0)

#define DEQUANTIZE_ROW(TYPE, src, count, dst) do { \
    size_t qk_ = ham_block_elements(HAM_##TYPE), bytes_ = ham_block_bytes(HAM_##TYPE); \
    for (size_t b = 0; b < (count) / qk_; b++) { \
        float *y_ = (dst) + b * qk_; \
        DECODE_##TYPE((const char *)(src) + b * bytes_, 1, STORE_CHUNK); \
    } \
} while (0)

AVX2 void ham_dequantize_avx2(const void *src, int dtype, size_t count, float *dst) {
    switch (dtype) {
    case HAM_Q8_0: DEQUANTIZE_ROW(Q8_0, src, count, dst); break;
    case HAM_Q4_0: DEQUANTIZE_ROW(Q4_0, src, count, dst); break;
    case HAM_Q4_1: DEQUANTIZE_ROW(Q4_1, src, count, dst); break;
    case HAM_Q4_K: DEQUANTIZE_ROW(Q4_K, src, count, dst); break;
    case HAM_Q5_K: DEQUANTIZE_ROW(Q5_K, src, count, dst); break;
    case HAM_Q6_K: DEQUANTIZE_ROW(Q6_K, src, count, dst); break;
    default: ham_dequantize_generic(src, dtype, count, dst); break;
    }
}

// ---------------------------------------------------------------------------------------------
// Products: one weight row against n (1..8) rows of x, n a constant after inlining (with a
// variable n the accumulators would live on the stack; see kernels.c). One row at a time keeps
// one stream per thread for the hardware prefetcher, helped by a software prefetch a page
// ahead.
//
// Accumulators: one FMA chain per vector would wait on the FMA latency, so a single row of x
// gets four chains, up to four rows two each, more rows one each (16 vector registers).

#define ACC_CHAINS(n) ((n) == 1 ? 4 : (n) <= 4 ? 2 : 1)

#define FMA_CHUNK(at, w) do { \
    if (nrows_ == 1) { \
        for (int i_ = 0; i_ < 4; i_++) acc_[0][i_] = _mm256_fmadd_ps(_mm256_loadu_ps(xb_ + (at) + 8 * i_), (w)[i_], acc_[0][i_]); \
    } else { \
        for (size_t r_ = 0; r_ < nrows_; r_++) { \
            const float *xr_ = xb_ + r_ * in_ + (at); \
            for (int i_ = 0; i_ < 4; i_++) \
                acc_[r_][i_ % ACC_CHAINS(nrows_)] = _mm256_fmadd_ps(_mm256_loadu_ps(xr_ + 8 * i_), (w)[i_], acc_[r_][i_ % ACC_CHAINS(nrows_)]); \
        } \
    } \
} while (0)

AVX2_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define ROW_PRODUCT(TYPE, N) \
    AVX2 static void rows_##TYPE##_##N(const float *x, size_t in, const char *row, float *sums) { \
        const size_t nrows_ = N, in_ = in, qk_ = ham_block_elements(HAM_##TYPE), bytes_ = ham_block_bytes(HAM_##TYPE); \
        __m256 acc_[N][4]; \
        for (size_t r = 0; r < N; r++) \
            for (int i = 0; i < 4; i++) acc_[r][i] = _mm256_setzero_ps(); \
        for (size_t b = 0; b < in / qk_; b++) { \
            const char *block_ = row + b * bytes_; \
            _mm_prefetch(block_ + HAM_PREFETCH_BYTES, _MM_HINT_T0); \
            if (bytes_ > 64) _mm_prefetch(block_ + HAM_PREFETCH_BYTES + 64, _MM_HINT_T0); \
            if (bytes_ > 128) _mm_prefetch(block_ + HAM_PREFETCH_BYTES + 128, _MM_HINT_T0); \
            if (bytes_ > 192) _mm_prefetch(block_ + HAM_PREFETCH_BYTES + 192, _MM_HINT_T0); \
            const float *xb_ = x + b * qk_; \
            DECODE_##TYPE(block_, 0, FMA_CHUNK); \
        } \
        for (size_t r = 0; r < N; r++) { \
            __m256 s = acc_[r][0]; \
            for (int i = 1; i < ACC_CHAINS(N); i++) s = _mm256_add_ps(s, acc_[r][i]); \
            sums[r] = hsum(s); \
        } \
    }

#define ROW_PRODUCTS(TYPE) \
    ROW_PRODUCT(TYPE, 1) ROW_PRODUCT(TYPE, 2) ROW_PRODUCT(TYPE, 3) ROW_PRODUCT(TYPE, 4) \
    ROW_PRODUCT(TYPE, 5) ROW_PRODUCT(TYPE, 6) ROW_PRODUCT(TYPE, 7) ROW_PRODUCT(TYPE, 8) \
    static const row_fn rows_##TYPE[9] = { 0, rows_##TYPE##_1, rows_##TYPE##_2, rows_##TYPE##_3, rows_##TYPE##_4, \
                                          rows_##TYPE##_5, rows_##TYPE##_6, rows_##TYPE##_7, rows_##TYPE##_8 };

typedef void (*row_fn)(const float *, size_t, const char *, float *);
ROW_PRODUCTS(Q8_0)
ROW_PRODUCTS(Q4_0)
ROW_PRODUCTS(Q4_1)
ROW_PRODUCTS(Q4_K)
ROW_PRODUCTS(Q5_K)
ROW_PRODUCTS(Q6_K)

static const row_fn *row_products(int dtype) {
    switch (dtype) {
    case HAM_Q8_0: return rows_Q8_0;
    case HAM_Q4_0: return rows_Q4_0;
    case HAM_Q4_1: return rows_Q4_1;
    case HAM_Q4_K: return rows_Q4_K;
    case HAM_Q5_K: return rows_Q5_K;
    case HAM_Q6_K: return rows_Q6_K;
    default: return 0;
    }
}

AVX2 void ham_gemv_blocks_avx2(const float *x, size_t n, size_t in, const void *w, int dtype,
                               size_t o_begin, size_t o_end, const float *bias, float *out,
                               size_t out_stride, int accumulate) {
    const row_fn *products = row_products(dtype);
    if (!products) {
        ham_gemv_blocks_generic(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    size_t row_bytes = ham_row_bytes(dtype, in);
    for (size_t r0 = 0; r0 < n; r0 += 8) {
        size_t nr = n - r0 < 8 ? n - r0 : 8;
        row_fn rows = products[nr];
        for (size_t o = o_begin; o < o_end; o++) {
            float s[8];
            rows(x + r0 * in, in, (const char *)w + o * row_bytes, s);
            for (size_t r = 0; r < nr; r++) {
                float v = s[r] + (bias ? bias[o] : 0.0f);
                float *dst = out + (r0 + r) * out_stride + o;
                *dst = accumulate ? *dst + v : v;
            }
        }
    }
}

#endif

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
#include <stdlib.h>

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

/// The 5-bit quants of a Q5_0/Q5_1 block in element order: the nibbles as Q4_0 lays them out,
/// and bit j of the little-endian qh word, spread to one byte per element (a byte shuffle
/// gives element j the qh byte j / 8, the mask picks bit j % 8), as 0x10.
AVX2_INLINE __m256i q5_quants(const uint8_t qs[16], const uint8_t qh[4]) {
    uint32_t bits;
    memcpy(&bits, qh, 4);
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), pick);
    __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
    __m128i q = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0f);
    __m256i low = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, m)), _mm_and_si128(_mm_srli_epi16(q, 4), m), 1);
    return _mm256_or_si256(low, high);
}

#define DECODE_Q5_0(block, exact, CHUNK) do { \
    const ham_block_q5_0 *b_ = (const ham_block_q5_0 *)(block); \
    __m256 w_[4]; \
    widen32x(_mm256_sub_epi8(q5_quants(b_->qs, b_->qh), _mm256_set1_epi8(16)), w_); \
    scale4(w_, half_scale(b_->d)); \
    CHUNK(0, w_); \
} while (0)

#define DECODE_Q5_1(block, exact, CHUNK) do { \
    const ham_block_q5_1 *b_ = (const ham_block_q5_1 *)(block); \
    __m256 w_[4]; \
    widen32x(q5_quants(b_->qs, b_->qh), w_); \
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
    case HAM_Q5_0: DEQUANTIZE_ROW(Q5_0, src, count, dst); break;
    case HAM_Q5_1: DEQUANTIZE_ROW(Q5_1, src, count, dst); break;
    case HAM_Q4_K: DEQUANTIZE_ROW(Q4_K, src, count, dst); break;
    case HAM_Q5_K: DEQUANTIZE_ROW(Q5_K, src, count, dst); break;
    case HAM_Q6_K: DEQUANTIZE_ROW(Q6_K, src, count, dst); break;
    default: ham_dequantize_generic(src, dtype, count, dst); break;
    }
}

// ---------------------------------------------------------------------------------------------
// Products: one weight row against n (1..8) rows of x, n a constant after inlining (with a
// variable n the accumulators would live on the stack; see kernels.c). One row at a time keeps
// one stream per thread for the hardware prefetcher, helped by a software prefetch a page ahead.
//
// Decode reads every weight once per token, so a product must decode a block in fewer cycles
// than the memory takes to deliver it, and widening bytes to floats with cross-lane shuffles
// (vpmovsxbd) was what bound the first version. Here the quants are taken straight out of
// 32-bit lanes with shifts and masks (no shuffles): lane d of a 32-byte load holds bytes
// 4d … 4d + 3, so the k-th byte (or nibble) of every lane is one vector. That visits the
// elements out of order, so each call first permutes its rows of x into the same order (once,
// for all the weight rows it multiplies), together with the sums of x that fold the blocks'
// offsets and mins out of the inner loop:
//   Σ x·(d·q − m) = d·Σ x·q − m·Σ x   (and d·Σ x·(q − 8) = d·(Σ x·q − 8·Σ x)).
// The sums change only float32 rounding.
//
// Orders (x' is the permuted row; every group of 32 elements keeps its place):
//   T32 (Q8_0, Q4_K, Q5_K, Q6_K): x'[32g + 8k + d] = x[32g + 4d + k]
//   none (Q5_0, Q5_1: their fifth bits need a byte shuffle anyway, so they decode in element
//        order, and Q5_1 takes its block sums)
//   P64 (Q4_0, Q4_1, two 32-blocks per 64): lanes 0-3 hold the first block, 4-7 the second;
//        x'[64u + 8s + 4h + d] = x[64u + 32h + 4d + s] for s < 4 (low nibbles: elements 0-15),
//        x[64u + 32h + 16 + 4d + (s - 4)] for s ≥ 4 (high nibbles: elements 16-31).

/// Floats per prepared row of x: the permuted row (`in`, padded to whole 64-element units),
/// then its sums at `in + 32`: per-lane sums (P64: the x' each lane meets in its 64-element
/// unit; Q6_K: the same per 32-element group, 8 per group) or group sums (Q4_K, Q5_K: one per
/// 32-element sub-block).
static size_t prepared_stride(size_t in) { return in + 32 + in / 4 + 8; }

static void permute_t32(const float *x, size_t in, float *xp) {
    for (size_t g = 0; g < in / 32; g++)
        for (int k = 0; k < 4; k++)
            for (int d = 0; d < 8; d++) xp[32 * g + 8 * k + d] = x[32 * g + 4 * d + k];
}

static void permute_p64(const float *x, size_t in, float *xp) {
    size_t blocks = in / 32;
    for (size_t u = 0; u < (blocks + 1) / 2; u++)
        for (int s = 0; s < 8; s++)
            for (int h = 0; h < 2; h++)
                for (int d = 0; d < 4; d++) {
                    size_t block = 2 * u + (size_t)h;
                    size_t e = s < 4 ? (size_t)(4 * d + s) : (size_t)(16 + 4 * d + (s - 4));
                    xp[64 * u + 8 * s + 4 * h + d] = block < blocks ? x[32 * block + e] : 0.0f;
                }
}

/// Per-lane sums of x' over units of `unit` elements (8 lanes per unit).
static void lane_sums(const float *xp, size_t in, size_t unit, float *sums) {
    for (size_t u = 0; u < (in + unit - 1) / unit; u++)
        for (int d = 0; d < 8; d++) {
            float t = 0.0f;
            for (size_t s = 0; s < unit / 8; s++) t += xp[unit * u + 8 * s + (size_t)d];
            sums[8 * u + (size_t)d] = t;
        }
}

static void group_sums(const float *x, size_t in, float *sums) {
    for (size_t g = 0; g < in / 32; g++) {
        float t = 0.0f;
        for (int i = 0; i < 32; i++) t += x[32 * g + (size_t)i];
        sums[g] = t;
    }
}

/// `x` (n rows) in the order `dtype`'s kernel reads, and its sums, into `out` (n ×
/// prepared_floats(in)). P64 rows are padded to whole 64-element units.
static void prepare(const float *x, size_t n, size_t in, int dtype, float *out) {
    size_t stride = prepared_stride(in);
    for (size_t r = 0; r < n; r++) {
        const float *xr = x + r * in;
        float *xp = out + r * stride, *sums = xp + in + 32;
        switch (dtype) {
        case HAM_Q4_0: case HAM_Q4_1:
            permute_p64(xr, in, xp);
            lane_sums(xp, in, 64, sums);
            break;
        case HAM_Q6_K:
            permute_t32(xr, in, xp);
            lane_sums(xp, in, 32, sums);
            break;
        case HAM_Q4_K: case HAM_Q5_K:
            permute_t32(xr, in, xp);
            group_sums(xr, in, sums);
            break;
        case HAM_Q5_0:
            memcpy(xp, xr, in * sizeof(float));
            break;
        case HAM_Q5_1:
            memcpy(xp, xr, in * sizeof(float));
            group_sums(xr, in, sums);
            break;
        default:
            permute_t32(xr, in, xp);
            break;
        }
    }
}

/// Scratch for the prepared rows: per thread, grown, never freed (the pool's threads live as
/// long as the process).
static _Thread_local float *scratch;
static _Thread_local size_t scratch_floats;

static float *scratch_for(size_t floats) {
    if (floats > scratch_floats) {
        free(scratch);
        scratch = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        scratch_floats = scratch ? floats : 0;
    }
    return scratch;
}

#define MASK(v) _mm256_set1_epi32(v)
/// Byte k (0..3) of every 32-bit lane, masked to `bits`, as floats.
#define LANE_BYTE(v, k, mask) _mm256_cvtepi32_ps((k) == 3 && (mask) == 0xff ? _mm256_srli_epi32(v, 24) \
                                  : _mm256_and_si256((k) == 0 ? (v) : _mm256_srli_epi32(v, 8 * (k)), MASK(mask)))
/// Nibble j (0..7) of every 32-bit lane, as floats.
#define LANE_NIBBLE(v, j) _mm256_cvtepi32_ps((j) == 7 ? _mm256_srli_epi32(v, 28) \
                                  : _mm256_and_si256((j) == 0 ? (v) : _mm256_srli_epi32(v, 4 * (j)), MASK(0x0f)))
/// Signed byte k of every 32-bit lane, as floats.
#define LANE_SBYTE(v, k) _mm256_cvtepi32_ps((k) == 3 ? _mm256_srai_epi32(v, 24) : _mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * (k)), 24))

#define PREFETCH(p, bytes) do { \
    _mm_prefetch((const char *)(p) + HAM_PREFETCH_BYTES, _MM_HINT_T0); \
    if ((bytes) > 64) _mm_prefetch((const char *)(p) + HAM_PREFETCH_BYTES + 64, _MM_HINT_T0); \
    if ((bytes) > 128) _mm_prefetch((const char *)(p) + HAM_PREFETCH_BYTES + 128, _MM_HINT_T0); \
} while (0)

// Each kernel: `xp` is the first prepared row, `stride` floats between rows, `sums` at
// `in + 32` into each; `out[r]` gets row r's dot product. R is the constant row count.

// Q4_0 / Q4_1, two blocks per 64 elements: acc += d·Σ x'·q, off += d·lane sums (Q4_0: the −8)
// or m·lane sums (Q4_1).
AVX2_INLINE void q4_pair_rows(const float *xp, size_t stride, size_t in, const char *row, int with_min,
                              const size_t R, float *out) {
    const size_t bytes = with_min ? HAM_Q4_1_BYTES : HAM_Q4_0_BYTES, qs_at = with_min ? 4 : 2;
    const size_t blocks = in / 32;
    __m256 acc[8], off[8];
    for (size_t r = 0; r < R; r++) acc[r] = off[r] = _mm256_setzero_ps();
    for (size_t u = 0; u < (blocks + 1) / 2; u++) {
        const char *b0 = row + 2 * u * bytes, *b1 = b0 + bytes;
        PREFETCH(b0, 2 * bytes);
        int two = 2 * u + 1 < blocks;
        __m128i lo = _mm_loadu_si128((const __m128i *)(b0 + qs_at));
        __m128i hi = two ? _mm_loadu_si128((const __m128i *)(b1 + qs_at)) : _mm_setzero_si128();
        __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        uint16_t h0, h1 = 0, m0 = 0, m1 = 0;
        memcpy(&h0, b0, 2);
        if (two) memcpy(&h1, b1, 2);
        if (with_min) {
            memcpy(&m0, b0 + 2, 2);
            if (two) memcpy(&m1, b1 + 2, 2);
        }
        __m256 d = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(_cvtsh_ss(h0))), _mm_set1_ps(_cvtsh_ss(h1)), 1);
        __m256 m = with_min ? _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(_cvtsh_ss(m0))), _mm_set1_ps(_cvtsh_ss(m1)), 1)
                            : _mm256_mul_ps(d, _mm256_set1_ps(-8.0f));
        __m256 w[8];
        for (int j = 0; j < 8; j++) w[j] = LANE_NIBBLE(q, (j & 3) * 2 + (j >> 2));
        for (size_t r = 0; r < R; r++) {
            const float *xu = xp + r * stride + 64 * u;
            __m256 s0 = _mm256_mul_ps(_mm256_loadu_ps(xu), w[0]), s1 = _mm256_mul_ps(_mm256_loadu_ps(xu + 8), w[1]);
            for (int j = 2; j < 8; j += 2) {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(xu + 8 * j), w[j], s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(xu + 8 * j + 8), w[j + 1], s1);
            }
            acc[r] = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), d, acc[r]);
            off[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xp + r * stride + in + 32 + 8 * u), m, off[r]);
        }
    }
    for (size_t r = 0; r < R; r++) out[r] = ham_hsum8(_mm256_add_ps(acc[r], off[r]));
}

/// Bit `pos` of every lane of `h` moved to bit 4 (Q5_K's fifth bit).
#define BIT_TO_16(h, pos) _mm256_and_si256((pos) >= 4 ? _mm256_srli_epi32(h, (pos) - 4) : _mm256_slli_epi32(h, 4 - (pos)), MASK(0x10))

// Q4_K / Q5_K: per pair of sub-blocks, acc += (d·sc)·Σ x'·q; the mins (dmin·m) times the
// sub-blocks' sums of x, once per super-block.
AVX2_INLINE void k4_rows(const float *xp, size_t stride, size_t in, const char *row, int five,
                         const size_t R, float *out) {
    const size_t bytes = five ? HAM_Q5_K_BYTES : HAM_Q4_K_BYTES;
    __m256 acc[8], acc2[8], off[8];
    for (size_t r = 0; r < R; r++) acc[r] = acc2[r] = off[r] = _mm256_setzero_ps();
    for (size_t sb = 0; sb < in / 256; sb++) {
        const char *block = row + sb * bytes;
        PREFETCH(block, bytes);
        uint16_t dh, dminh;
        memcpy(&dh, block, 2);
        memcpy(&dminh, block + 2, 2);
        float ds[8], dm[8];
        k_scales((const uint8_t *)block + 4, dh, dminh, ds, dm);
        const uint8_t *qs = (const uint8_t *)block + (five ? 48 : 16);
        __m256i qh = five ? _mm256_loadu_si256((const __m256i *)(block + 16)) : _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
            __m256 lo[4], hi[4];
            for (int k = 0; k < 4; k++) {
                if (five) {
                    __m256i l = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(q, 8 * k), MASK(0x0f)), BIT_TO_16(qh, 8 * k));
                    __m256i h = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(q, 8 * k + 4), MASK(0x0f)), BIT_TO_16(qh, 8 * k + 1));
                    lo[k] = _mm256_cvtepi32_ps(l);
                    hi[k] = _mm256_cvtepi32_ps(h);
                } else {
                    lo[k] = LANE_NIBBLE(q, 2 * k);
                    hi[k] = LANE_NIBBLE(q, 2 * k + 1);
                }
            }
            if (five) qh = _mm256_srli_epi32(qh, 2);
            __m256 dlo = _mm256_broadcast_ss(&ds[2 * p]), dhi = _mm256_broadcast_ss(&ds[2 * p + 1]);
            for (size_t r = 0; r < R; r++) {
                const float *xg = xp + r * stride + 256 * sb + 64 * p;
                __m256 sl = _mm256_mul_ps(_mm256_loadu_ps(xg), lo[0]), sh = _mm256_mul_ps(_mm256_loadu_ps(xg + 32), hi[0]);
                for (int k = 1; k < 4; k++) {
                    sl = _mm256_fmadd_ps(_mm256_loadu_ps(xg + 8 * k), lo[k], sl);
                    sh = _mm256_fmadd_ps(_mm256_loadu_ps(xg + 32 + 8 * k), hi[k], sh);
                }
                acc[r] = _mm256_fmadd_ps(sl, dlo, acc[r]);
                acc2[r] = _mm256_fmadd_ps(sh, dhi, acc2[r]);
            }
        }
        __m256 mins = _mm256_loadu_ps(dm);
        for (size_t r = 0; r < R; r++)
            off[r] = _mm256_fmadd_ps(mins, _mm256_loadu_ps(xp + r * stride + in + 32 + 8 * sb), off[r]);
    }
    for (size_t r = 0; r < R; r++) out[r] = ham_hsum8(_mm256_add_ps(acc[r], acc2[r])) - ham_hsum8(off[r]);
}

// Q6_K: per 32-element chunk, acc += scales·Σ x'·q (lanes 0-3 one sub-block of 16, 4-7 the
// next) and off += scales·lane sums, for the −32.
AVX2_INLINE void q6_k_rows(const float *xp, size_t stride, size_t in, const char *row, const size_t R, float *out) {
    __m256 acc[8], off[8];
    for (size_t r = 0; r < R; r++) acc[r] = off[r] = _mm256_setzero_ps();
    const __m256i nibbles = _mm256_set1_epi8(0x0f), high = _mm256_set1_epi8(0x30);
    for (size_t sb = 0; sb < in / 256; sb++) {
        const ham_block_q6_k *b = (const ham_block_q6_k *)(row + sb * HAM_Q6_K_BYTES);
        PREFETCH(b, HAM_Q6_K_BYTES);
        PREFETCH((const char *)b + 192, 64);
        float d = _cvtsh_ss(b->d), ds[16];
        for (int j = 0; j < 16; j++) ds[j] = d * (float)b->scales[j];
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
            __m256i chunks[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, nibbles), _mm256_and_si256(_mm256_slli_epi16(qh, 4), high)),
                _mm256_or_si256(_mm256_and_si256(l1, nibbles), _mm256_and_si256(_mm256_slli_epi16(qh, 2), high)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), nibbles), _mm256_and_si256(qh, high)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), nibbles), _mm256_and_si256(_mm256_srli_epi16(qh, 2), high)),
            };
            for (int c = 0; c < 4; c++) {
                __m256 w[4];
                for (int k = 0; k < 4; k++) w[k] = LANE_BYTE(chunks[c], k, 0x3f);
                const float *pair = ds + 8 * h + 2 * c;
                __m256 sv = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_broadcast_ss(pair)), _mm_broadcast_ss(pair + 1), 1);
                size_t g = 8 * sb + 4 * (size_t)h + (size_t)c;
                for (size_t r = 0; r < R; r++) {
                    const float *xg = xp + r * stride + 32 * g;
                    __m256 s0 = _mm256_mul_ps(_mm256_loadu_ps(xg), w[0]), s1 = _mm256_mul_ps(_mm256_loadu_ps(xg + 8), w[1]);
                    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(xg + 16), w[2], s0);
                    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(xg + 24), w[3], s1);
                    acc[r] = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), sv, acc[r]);
                    off[r] = _mm256_fmadd_ps(sv, _mm256_loadu_ps(xp + r * stride + in + 32 + 8 * g), off[r]);
                }
            }
        }
    }
    for (size_t r = 0; r < R; r++) out[r] = ham_hsum8(acc[r]) - 32.0f * ham_hsum8(off[r]);
}

/// acc (even blocks g) or acc2 (odd) += d·Σ x·w over one 32-element block of x, in w's order.
AVX2_INLINE void block_dot(const float *xg, const __m256 w[4], __m256 d, size_t g, __m256 *acc, __m256 *acc2) {
    __m256 s0 = _mm256_mul_ps(_mm256_loadu_ps(xg), w[0]), s1 = _mm256_mul_ps(_mm256_loadu_ps(xg + 8), w[1]);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(xg + 16), w[2], s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(xg + 24), w[3], s1);
    if (g & 1) *acc2 = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), d, *acc2);
    else *acc = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), d, *acc);
}

// Q8_0: acc += d·Σ x'·q per block, two accumulators (even and odd blocks).
AVX2_INLINE void q8_0_rows(const float *xp, size_t stride, size_t in, const char *row, const size_t R, float *out) {
    __m256 acc[8], acc2[8];
    for (size_t r = 0; r < R; r++) acc[r] = acc2[r] = _mm256_setzero_ps();
    for (size_t g = 0; g < in / 32; g++) {
        const ham_block_q8_0 *b = (const ham_block_q8_0 *)(row + g * HAM_Q8_0_BYTES);
        PREFETCH(b, 32);
        __m256i q = _mm256_loadu_si256((const __m256i *)b->qs);
        __m256 w[4];
        for (int k = 0; k < 4; k++) w[k] = LANE_SBYTE(q, k);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d));
        for (size_t r = 0; r < R; r++) {
            block_dot(xp + r * stride + 32 * g, w, d, g, &acc[r], &acc2[r]);
        }
    }
    for (size_t r = 0; r < R; r++) out[r] = ham_hsum8(_mm256_add_ps(acc[r], acc2[r]));
}

// Q5_0 / Q5_1, decoded in element order: acc += d·Σ x·q per block (Q5_0's −16 inside q), and
// Q5_1's m times the block's sum of x.
AVX2_INLINE void q5_rows(const float *xp, size_t stride, size_t in, const char *row, int with_min,
                         const size_t R, float *out) {
    const size_t bytes = with_min ? HAM_Q5_1_BYTES : HAM_Q5_0_BYTES;
    __m256 acc[8], acc2[8];
    float off[8];
    for (size_t r = 0; r < R; r++) {
        acc[r] = acc2[r] = _mm256_setzero_ps();
        off[r] = 0.0f;
    }
    for (size_t g = 0; g < in / 32; g++) {
        const char *b = row + g * bytes;
        PREFETCH(b, 32);
        uint16_t dh, mh = 0;
        memcpy(&dh, b, 2);
        __m256i q;
        if (with_min) {
            memcpy(&mh, b + 2, 2);
            q = q5_quants((const uint8_t *)b + 8, (const uint8_t *)b + 4);
        } else {
            q = _mm256_sub_epi8(q5_quants((const uint8_t *)b + 6, (const uint8_t *)b + 2), _mm256_set1_epi8(16));
        }
        __m256 w[4];
        widen32x(q, w);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(dh));
        float m = with_min ? _cvtsh_ss(mh) : 0.0f;
        for (size_t r = 0; r < R; r++) {
            block_dot(xp + r * stride + 32 * g, w, d, g, &acc[r], &acc2[r]);
            if (with_min) off[r] += m * xp[r * stride + in + 32 + g];
        }
    }
    for (size_t r = 0; r < R; r++) out[r] = ham_hsum8(_mm256_add_ps(acc[r], acc2[r])) + off[r];
}

typedef void (*row_fn)(const float *, size_t, size_t, const char *, float *);

#define ROW_PRODUCT(NAME, CALL, N) \
    AVX2 static void NAME##_##N(const float *xp, size_t stride, size_t in, const char *row, float *out) { CALL; }
#define ROW_PRODUCTS(NAME, CALL_N) \
    CALL_N(NAME, 1) CALL_N(NAME, 2) CALL_N(NAME, 3) CALL_N(NAME, 4) \
    CALL_N(NAME, 5) CALL_N(NAME, 6) CALL_N(NAME, 7) CALL_N(NAME, 8) \
    static const row_fn NAME[9] = { 0, NAME##_1, NAME##_2, NAME##_3, NAME##_4, NAME##_5, NAME##_6, NAME##_7, NAME##_8 };

#define Q4_0_N(NAME, N) ROW_PRODUCT(NAME, q4_pair_rows(xp, stride, in, row, 0, N, out), N)
#define Q4_1_N(NAME, N) ROW_PRODUCT(NAME, q4_pair_rows(xp, stride, in, row, 1, N, out), N)
#define Q4_K_N(NAME, N) ROW_PRODUCT(NAME, k4_rows(xp, stride, in, row, 0, N, out), N)
#define Q5_K_N(NAME, N) ROW_PRODUCT(NAME, k4_rows(xp, stride, in, row, 1, N, out), N)
#define Q6_K_N(NAME, N) ROW_PRODUCT(NAME, q6_k_rows(xp, stride, in, row, N, out), N)
#define Q8_0_N(NAME, N) ROW_PRODUCT(NAME, q8_0_rows(xp, stride, in, row, N, out), N)
#define Q5_0_N(NAME, N) ROW_PRODUCT(NAME, q5_rows(xp, stride, in, row, 0, N, out), N)
#define Q5_1_N(NAME, N) ROW_PRODUCT(NAME, q5_rows(xp, stride, in, row, 1, N, out), N)
ROW_PRODUCTS(rows_q4_0, Q4_0_N)
ROW_PRODUCTS(rows_q4_1, Q4_1_N)
ROW_PRODUCTS(rows_q4_k, Q4_K_N)
ROW_PRODUCTS(rows_q5_k, Q5_K_N)
ROW_PRODUCTS(rows_q6_k, Q6_K_N)
ROW_PRODUCTS(rows_q8_0, Q8_0_N)
ROW_PRODUCTS(rows_q5_0, Q5_0_N)
ROW_PRODUCTS(rows_q5_1, Q5_1_N)

static const row_fn *row_products(int dtype) {
    switch (dtype) {
    case HAM_Q8_0: return rows_q8_0;
    case HAM_Q4_0: return rows_q4_0;
    case HAM_Q4_1: return rows_q4_1;
    case HAM_Q5_0: return rows_q5_0;
    case HAM_Q5_1: return rows_q5_1;
    case HAM_Q4_K: return rows_q4_k;
    case HAM_Q5_K: return rows_q5_k;
    case HAM_Q6_K: return rows_q6_k;
    default: return 0;
    }
}

AVX2 void ham_gemv_blocks_avx2(const float *x, size_t n, size_t in, const void *w, int dtype,
                               size_t o_begin, size_t o_end, const float *bias, float *out,
                               size_t out_stride, int accumulate) {
    const row_fn *products = row_products(dtype);
    size_t stride = prepared_stride(in);
    float *prepared = products ? scratch_for(8 * stride) : 0;
    if (!prepared) {
        ham_gemv_blocks_generic(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    size_t row_bytes = ham_row_bytes(dtype, in);
    for (size_t r0 = 0; r0 < n; r0 += 8) {
        size_t nr = n - r0 < 8 ? n - r0 : 8;
        prepare(x + r0 * in, nr, in, dtype, prepared);
        row_fn rows = products[nr];
        for (size_t o = o_begin; o < o_end; o++) {
            float s[8];
            rows(prepared, stride, in, (const char *)w + o * row_bytes, s);
            for (size_t r = 0; r < nr; r++) {
                float v = s[r] + (bias ? bias[o] : 0.0f);
                float *dst = out + (r0 + r) * out_stride + o;
                *dst = accumulate ? *dst + v : v;
            }
        }
    }
}

#endif

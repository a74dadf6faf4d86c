// Few-row products of f32, f16 and bf16 weights on AVX2 (decode, micro steps, small batches):
// every weight row is read once for all n <= 6 rows of x; more rows go in groups (below).
//
// Why not one accumulator per x row, four x rows at a time: five rows (micro step 1: four
// features and a token) then stream the weights twice, and one row runs a single FMA chain, whose
// 4-cycle latency caps it below what memory delivers. Here the row count is a compile-time
// constant (one inlined copy per count), and `wr` weight rows are taken together so that every x
// load feeds `wr` FMAs and a single x row still has `wr` independent chains; nr·wr accumulators,
// wr weight vectors and one x vector fit the 16 ymm registers.

#include "internal.h"

#if defined(HAM_X86)

AVX2_INLINE __m256 load8_float(const char *row, int dtype, size_t k) {
    switch (dtype) {
    case HAM_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    case HAM_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
    default:
        return _mm256_loadu_ps((const float *)row + k);
    }
}

AVX2_INLINE float elem_float(const char *row, int dtype, size_t k) {
    switch (dtype) {
    case HAM_BF16: return bf16_to_f32(((const uint16_t *)row)[k]);
    case HAM_F16: return f16_to_f32(((const uint16_t *)row)[k]);
    default: return ((const float *)row)[k];
    }
}

// Weight rows [o, o + wr) against x rows [0, nr): nr and wr are constants after inlining.
AVX2_INLINE void gemv_tile(const float *x, size_t in, const char *w, size_t row_bytes, int dtype, size_t o,
                           const int nr, const int wr, const float *bias, float *out, size_t out_stride,
                           int accumulate) {
    const size_t body = in & ~(size_t)7;
    const size_t esize = dtype == HAM_F32 ? 4 : 2;
    const char *rows[4];
    for (int j = 0; j < wr; j++) rows[j] = w + (o + (size_t)j) * row_bytes;
    __m256 acc[8][4];
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < wr; j++) acc[r][j] = _mm256_setzero_ps();
    for (size_t k = 0; k < body; k += 8) {
        __m256 wv[4];
        for (int j = 0; j < wr; j++) {
            // A page ahead of each stream, one line per 64 bytes consumed.
            if ((k * esize) % 64 == 0) _mm_prefetch(rows[j] + k * esize + HAM_PREFETCH_BYTES, _MM_HINT_T0);
            wv[j] = load8_float(rows[j], dtype, k);
        }
        for (int r = 0; r < nr; r++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)r * in + k);
            for (int j = 0; j < wr; j++) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
    for (int r = 0; r < nr; r++) {
        for (int j = 0; j < wr; j++) {
            float s = ham_hsum8(acc[r][j]);
            for (size_t k = body; k < in; k++) s += x[(size_t)r * in + k] * elem_float(rows[j], dtype, k);
            float v = s + (bias ? bias[o + (size_t)j] : 0.0f);
            float *dst = out + (size_t)r * out_stride + o + (size_t)j;
            *dst = accumulate ? *dst + v : v;
        }
    }
}

// All weight rows of [o_begin, o_end) against nr rows, wr at a time, the rest one at a time.
AVX2_INLINE void gemv_rows(const float *x, size_t in, const void *w, int dtype, size_t o_begin, size_t o_end,
                           const int nr, const int wr, const float *bias, float *out, size_t out_stride, int accumulate) {
    const size_t row_bytes = ham_row_bytes(dtype, in);
    size_t o = o_begin;
    for (; o + (size_t)wr <= o_end; o += (size_t)wr)
        gemv_tile(x, in, (const char *)w, row_bytes, dtype, o, nr, wr, bias, out, out_stride, accumulate);
    for (; o < o_end; o++)
        gemv_tile(x, in, (const char *)w, row_bytes, dtype, o, nr, 1, bias, out, out_stride, accumulate);
}

#define GEMV_ROWS(NR, WR)                                                                                   \
    AVX2 static void gemv_rows_##NR(const float *x, size_t in, const void *w, int dtype, size_t o_begin,   \
                                     size_t o_end, const float *bias, float *out, size_t out_stride,       \
                                     int accumulate) {                                                     \
        gemv_rows(x, in, w, dtype, o_begin, o_end, NR, WR, bias, out, out_stride, accumulate);              \
    }
// nr · wr accumulators + wr weights + 1 x <= 16 registers.
GEMV_ROWS(1, 4)
GEMV_ROWS(2, 4)
GEMV_ROWS(3, 3)
GEMV_ROWS(4, 2)
GEMV_ROWS(5, 2)
GEMV_ROWS(6, 2)

typedef void (*gemv_rows_fn)(const float *, size_t, const void *, int, size_t, size_t, const float *, float *, size_t, int);
static const gemv_rows_fn gemv_rows_n[7] = { 0, gemv_rows_1, gemv_rows_2, gemv_rows_3, gemv_rows_4, gemv_rows_5, gemv_rows_6 };

// Seven or more rows of x (batches): 8 rows against one weight row spend 9 loads on 8 FMAs and
// read x (64 KB at the 1B model's width) from L2 for every weight row. Instead the rows go four
// at a time through tiles of three weight rows: 12 FMAs per 7 loads, and each tile's weights
// (12 KB of bf16 at width 2048) come from memory for the first group of rows and from L1 for the
// others. Same run, 2 threads, width 2048 (Tools/bench/kernels.sh, medians of 3 alternating
// runs): 8 rows 1.2-1.45x and 16 rows 1.3-1.5x faster than 8 + 8 rows one weight row at a time;
// 5 and 6 rows were slower this way (4 + 1, 4 + 2), 7 about even, so they keep the tiles above.
// Every (row, output) sum is computed in the same order as by those tiles, so the results do not
// depend on the batch.
#define GROUP_ROWS 4
#define GROUP_WR 3
#define GROUP_FROM 7
#define GEMV_GROUP(NR, WR)                                                                                 \
    AVX2 static void gemv_group_##NR##_##WR(const float *x, size_t in, const char *w, size_t row_bytes,   \
                                            int dtype, size_t o, const float *bias, float *out,           \
                                            size_t out_stride, int accumulate) {                          \
        gemv_tile(x, in, w, row_bytes, dtype, o, NR, WR, bias, out, out_stride, accumulate);              \
    }
GEMV_GROUP(1, 3) GEMV_GROUP(2, 3) GEMV_GROUP(3, 3) GEMV_GROUP(4, 3)
GEMV_GROUP(1, 1) GEMV_GROUP(2, 1) GEMV_GROUP(3, 1) GEMV_GROUP(4, 1)

typedef void (*gemv_group_fn)(const float *, size_t, const char *, size_t, int, size_t, const float *, float *, size_t, int);
static const gemv_group_fn gemv_groups[GROUP_ROWS + 1] = { 0, gemv_group_1_3, gemv_group_2_3, gemv_group_3_3, gemv_group_4_3 };
static const gemv_group_fn gemv_groups_tail[GROUP_ROWS + 1] = { 0, gemv_group_1_1, gemv_group_2_1, gemv_group_3_1, gemv_group_4_1 };

AVX2 static void gemv_grouped(const float *x, size_t n, size_t in, const void *w, int dtype, size_t o_begin,
                              size_t o_end, const float *bias, float *out, size_t out_stride, int accumulate) {
    const size_t row_bytes = ham_row_bytes(dtype, in);
    for (size_t o = o_begin; o < o_end;) {
        const int whole = o + GROUP_WR <= o_end;
        for (size_t r0 = 0; r0 < n; r0 += GROUP_ROWS) {
            size_t nr = n - r0 < GROUP_ROWS ? n - r0 : GROUP_ROWS;
            (whole ? gemv_groups : gemv_groups_tail)[nr](x + r0 * in, in, (const char *)w, row_bytes, dtype, o, bias,
                                                         out + r0 * out_stride, out_stride, accumulate);
        }
        o += whole ? GROUP_WR : 1;
    }
}

AVX2 void ham_gemv_float_avx2(const float *x, size_t n, size_t in, const void *w, int dtype,
                              size_t o_begin, size_t o_end, const float *bias, float *out,
                              size_t out_stride, int accumulate) {
    if (n >= GROUP_FROM) {
        gemv_grouped(x, n, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
        return;
    }
    if (n > 0) gemv_rows_n[n](x, in, w, dtype, o_begin, o_end, bias, out, out_stride, accumulate);
}

// Prefill (many rows of x) with bf16/f16 weights: the same tiles in another order. Above, every
// weight tile meets all n rows of x, which for a prompt (n x 8 KB at width 2048) come from L3;
// here a chunk of weight rows (about 160 KB, L2) meets the x rows four at a time (32 KB at width
// 2048, L1), so weights come from memory once per chunk and everything else from cache. It
// replaces widening weight blocks to f32 for OpenBLAS's sgemm, at about the same speed (1B F16,
// 128-token prompt, 2 threads: 78-80 against 76-78 tok/s; 64-160 KB chunks all within that, 6 x 2
// tiles 68); what it buys is that each (row, output) sum is still one gemv_tile's, in the same
// order, so a prompt's rows get exactly what the same rows get decoded one by one: results do not
// depend on the batch at any row count.
#define PREFILL_CHUNK_BYTES (160u << 10)

AVX2 int ham_gemm_float_avx2(const float *x, size_t n, size_t in, const void *w, int dtype, size_t o_begin,
                             size_t o_end, const float *bias, float *out, size_t out_stride, int accumulate) {
    if (dtype != HAM_BF16 && dtype != HAM_F16) return 0;
    const size_t row_bytes = ham_row_bytes(dtype, in);
    size_t chunk = PREFILL_CHUNK_BYTES / row_bytes / GROUP_WR * GROUP_WR;
    if (chunk < GROUP_WR) chunk = GROUP_WR;
    for (size_t c0 = o_begin; c0 < o_end; c0 += chunk) {
        const size_t c1 = o_end - c0 < chunk ? o_end : c0 + chunk;
        for (size_t r0 = 0; r0 < n; r0 += GROUP_ROWS) {
            const size_t nr = n - r0 < GROUP_ROWS ? n - r0 : GROUP_ROWS;
            for (size_t o = c0; o < c1;) {
                const int whole = o + GROUP_WR <= c1;
                (whole ? gemv_groups : gemv_groups_tail)[nr](x + r0 * in, in, (const char *)w, row_bytes, dtype, o, bias,
                                                             out + r0 * out_stride, out_stride, accumulate);
                o += whole ? GROUP_WR : 1;
            }
        }
    }
    return 1;
}

#endif

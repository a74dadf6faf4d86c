// Portable decoding of the block types: written from the formulas in ham_dtype.h with the
// operations in the order gguf-py's `gguf.quants.dequantize` uses (each product and sum
// rounded to f32 on its own; the package is compiled with -ffp-contract=off so nothing fuses),
// so every value is bit-identical to it. The SIMD levels are tested against these.
#include "internal.h"

static void q8_0_block(const ham_block_q8_0 *b, float *y) {
    float d = f16_to_f32(b->d);
    for (int i = 0; i < 32; i++) y[i] = (float)b->qs[i] * d;
}

static void q4_0_block(const ham_block_q4_0 *b, float *y) {
    float d = f16_to_f32(b->d);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b->qs[j] & 0x0f) - 8);
        y[j + 16] = d * (float)((b->qs[j] >> 4) - 8);
    }
}

static void q4_1_block(const ham_block_q4_1 *b, float *y) {
    float d = f16_to_f32(b->d), m = f16_to_f32(b->m);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b->qs[j] & 0x0f) + m;
        y[j + 16] = d * (float)(b->qs[j] >> 4) + m;
    }
}

/// The fifth bits of a Q5_0/Q5_1 block: bit j of the little-endian word for element j.
static uint32_t q5_high_bits(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void q5_0_block(const ham_block_q5_0 *b, float *y) {
    float d = f16_to_f32(b->d);
    uint32_t qh = q5_high_bits(b->qh);
    for (int j = 0; j < 16; j++) {
        int q0 = (b->qs[j] & 0x0f) | (int)(((qh >> j) & 1) << 4);
        int q1 = (b->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = d * (float)(q0 - 16);
        y[j + 16] = d * (float)(q1 - 16);
    }
}

static void q5_1_block(const ham_block_q5_1 *b, float *y) {
    float d = f16_to_f32(b->d), m = f16_to_f32(b->m);
    uint32_t qh = q5_high_bits(b->qh);
    for (int j = 0; j < 16; j++) {
        int q0 = (b->qs[j] & 0x0f) | (int)(((qh >> j) & 1) << 4);
        int q1 = (b->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = d * (float)q0 + m;
        y[j + 16] = d * (float)q1 + m;
    }
}

static void q4_k_block(const ham_block_q4_k *b, float *y) {
    float d = f16_to_f32(b->d), dmin = f16_to_f32(b->dmin);
    for (int pair = 0; pair < 4; pair++) {
        const uint8_t *q = b->qs + 32 * pair;
        uint8_t sc, m;
        ham_k_scale_min(b->scales, 2 * pair, &sc, &m);
        float d1 = d * (float)sc, m1 = dmin * (float)m;
        ham_k_scale_min(b->scales, 2 * pair + 1, &sc, &m);
        float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++) y[64 * pair + l] = d1 * (float)(q[l] & 0x0f) - m1;
        for (int l = 0; l < 32; l++) y[64 * pair + 32 + l] = d2 * (float)(q[l] >> 4) - m2;
    }
}

static void q5_k_block(const ham_block_q5_k *b, float *y) {
    float d = f16_to_f32(b->d), dmin = f16_to_f32(b->dmin);
    for (int pair = 0; pair < 4; pair++) {
        const uint8_t *q = b->qs + 32 * pair;
        uint8_t sc, m;
        ham_k_scale_min(b->scales, 2 * pair, &sc, &m);
        float d1 = d * (float)sc, m1 = dmin * (float)m;
        ham_k_scale_min(b->scales, 2 * pair + 1, &sc, &m);
        float d2 = d * (float)sc, m2 = dmin * (float)m;
        int lo = 2 * pair, hi = 2 * pair + 1;   // the qh bit of each sub-block
        for (int l = 0; l < 32; l++) {
            int q1 = (q[l] & 0x0f) | (((b->qh[l] >> lo) & 1) << 4);
            int q2 = (q[l] >> 4) | (((b->qh[l] >> hi) & 1) << 4);
            y[64 * pair + l] = d1 * (float)q1 - m1;
            y[64 * pair + 32 + l] = d2 * (float)q2 - m2;
        }
    }
}

static void q6_k_block(const ham_block_q6_k *b, float *y) {
    float d = f16_to_f32(b->d);
    // Two halves of 128 elements: 64 bytes of ql, 32 of qh and 8 scales each.
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = b->ql + 64 * half, *qh = b->qh + 32 * half;
        const int8_t *sc = b->scales + 8 * half;
        float *yh = y + 128 * half;
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            yh[l] = (d * (float)sc[is]) * (float)q1;
            yh[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
            yh[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
            yh[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
        }
    }
}

/// One block of a block type into its elements.
static void dequantize_block(const char *block, int dtype, float *y) {
    switch (dtype) {
    case HAM_Q8_0: q8_0_block((const ham_block_q8_0 *)block, y); break;
    case HAM_Q4_0: q4_0_block((const ham_block_q4_0 *)block, y); break;
    case HAM_Q4_1: q4_1_block((const ham_block_q4_1 *)block, y); break;
    case HAM_Q5_0: q5_0_block((const ham_block_q5_0 *)block, y); break;
    case HAM_Q5_1: q5_1_block((const ham_block_q5_1 *)block, y); break;
    case HAM_Q4_K: q4_k_block((const ham_block_q4_k *)block, y); break;
    case HAM_Q5_K: q5_k_block((const ham_block_q5_k *)block, y); break;
    case HAM_Q6_K: q6_k_block((const ham_block_q6_k *)block, y); break;
    default: break;
    }
}

void ham_dequantize_generic(const void *src, int dtype, size_t count, float *dst) {
    size_t qk = ham_block_elements(dtype), bytes = ham_block_bytes(dtype);
    for (size_t b = 0; b < count / qk; b++) dequantize_block((const char *)src + b * bytes, dtype, dst + b * qk);
}

void ham_gemv_blocks_generic(const float *x, size_t n, size_t in, const void *w, int dtype,
                             size_t o_begin, size_t o_end, const float *bias, float *out,
                             size_t out_stride, int accumulate) {
    size_t qk = ham_block_elements(dtype), bytes = ham_block_bytes(dtype), row_bytes = ham_row_bytes(dtype, in);
    float y[HAM_QK_K], acc[8];
    for (size_t o = o_begin; o < o_end; o++) {
        const char *row = (const char *)w + o * row_bytes;
        for (size_t r0 = 0; r0 < n; r0 += 8) {
            size_t nr = n - r0 < 8 ? n - r0 : 8;
            for (size_t r = 0; r < nr; r++) acc[r] = 0.0f;
            for (size_t b = 0; b < in / qk; b++) {
                dequantize_block(row + b * bytes, dtype, y);
                for (size_t r = 0; r < nr; r++) {
                    const float *xr = x + (r0 + r) * in + b * qk;
                    float s = 0.0f;
                    for (size_t i = 0; i < qk; i++) s += xr[i] * y[i];
                    acc[r] += s;
                }
            }
            for (size_t r = 0; r < nr; r++) {
                float v = acc[r] + (bias ? bias[o] : 0.0f);
                float *dst = out + (r0 + r) * out_stride + o;
                *dst = accumulate ? *dst + v : v;
            }
        }
    }
}

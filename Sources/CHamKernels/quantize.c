// Quantizers (`hamrun quantize`, test data): float rows to blocks. They run once per model, so
// they are plain C, one implementation each. Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 round exactly as
// gguf-py's `gguf.quants.quantize` does (tests compare the bytes). The K-quants follow the
// search that llama.cpp's reference quantizers use without an importance matrix (what
// `llama-quantize` does by default): per sub-block a weighted least-squares fit of scale and min
// over a few candidate grids, then the scales themselves quantized to 6 (Q4_K, Q5_K) or 8 (Q6_K)
// bits against one f16 super-scale.
#include "internal.h"
#include <math.h>

uint16_t ham_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = mant >> shift;
        uint32_t rest = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

/// Round half to even (the grid searches' rounding).
static inline int round_even(float v) { return (int)rintf(v); }

static inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// ---------------------------------------------------------------------------------------------
// 32-element blocks, as gguf-py quantizes them.

static void quantize_q8_0(const float *x, ham_block_q8_0 *b) {
    float amax = 0.0f;
    for (int i = 0; i < 32; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = ham_f32_to_f16(d);
    for (int i = 0; i < 32; i++) {
        float v = x[i] * id;   // exact halves round away from zero (np_roundf)
        b->qs[i] = (int8_t)(v < 0 ? -(int)(-v + 0.5f) : (int)(v + 0.5f));
    }
}

/// The signed value of largest magnitude among 32 (the first one on ties), as gguf-py's argmax
/// picks it for Q4_0 and Q5_0.
static float largest_magnitude(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < 32; i++) {
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    }
    return max;
}

/// The smallest and largest of 32 values (Q4_1, Q5_1).
static void block_range(const float *x, float *min, float *max) {
    *min = *max = x[0];
    for (int i = 1; i < 32; i++) {
        *min = x[i] < *min ? x[i] : *min;
        *max = x[i] > *max ? x[i] : *max;
    }
}

static void quantize_q4_0(const float *x, ham_block_q4_0 *b) {
    // The value of largest magnitude maps to -8.
    float max = largest_magnitude(x);
    float d = max / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = ham_f32_to_f16(d);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
        b->qs[j] = (uint8_t)(clamp_int(q0, 0, 15) | (clamp_int(q1, 0, 15) << 4));
    }
}

static void quantize_q4_1(const float *x, ham_block_q4_1 *b) {
    float min, max;
    block_range(x, &min, &max);
    float d = (max - min) / 15.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = ham_f32_to_f16(d);
    b->m = ham_f32_to_f16(min);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)((x[j] - min) * id + 0.5f), q1 = (int)((x[j + 16] - min) * id + 0.5f);
        b->qs[j] = (uint8_t)(clamp_int(q0, 0, 15) | (clamp_int(q1, 0, 15) << 4));
    }
}

/// Element j's fifth bit into bit j of the little-endian qh word.
static void q5_pack(const int q[32], uint8_t qs[16], uint8_t qh[4]) {
    uint32_t high = 0;
    for (int j = 0; j < 32; j++) high |= (uint32_t)(q[j] >> 4) << j;
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(high >> (8 * i));
}

static void quantize_q5_0(const float *x, ham_block_q5_0 *b) {
    // As Q4_0: the value of largest magnitude maps to -16.
    float max = largest_magnitude(x);
    float d = max / -16.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = ham_f32_to_f16(d);
    int q[32];
    for (int i = 0; i < 32; i++) q[i] = clamp_int((int)(x[i] * id + 16.5f), 0, 31);
    q5_pack(q, b->qs, b->qh);
}

static void quantize_q5_1(const float *x, ham_block_q5_1 *b) {
    float min, max;
    block_range(x, &min, &max);
    float d = (max - min) / 31.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = ham_f32_to_f16(d);
    b->m = ham_f32_to_f16(min);
    int q[32];
    for (int i = 0; i < 32; i++) q[i] = clamp_int((int)((x[i] - min) * id + 0.5f), 0, 31);
    q5_pack(q, b->qs, b->qh);
}

// ---------------------------------------------------------------------------------------------
// K-quants.

/// Scale and min (x ≈ scale · L - min, 0 ≤ L ≤ nmax) of one sub-block, minimizing the squared
/// error weighted by `w`: starting from the plain [min, max] grid, try `steps + 1` grids of
/// nmax + rmin + rdelta·i levels over the same range, refit scale and min by least squares on
/// each one's levels, and keep the best. Returns the scale; `*neg_min` gets -min (≥ 0).
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                           float rmin, float rdelta, int steps) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        min = x[i] < min ? x[i] : min;
        max = x[i] > max ? x[i] : max;
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clamp_int(round_even(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        best += w[i] * (diff * diff);
    }
    uint8_t trial[32];
    for (int step = 0; step <= steps; step++) {
        iscale = (rmin + rdelta * step + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(round_even(iscale * (x[i] - min)), 0, nmax);
            trial[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float det = sum_w * sum_l2 - sum_l * sum_l;
        if (det <= 0) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float error = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * trial[i] + this_min - x[i];
            error += w[i] * (diff * diff);
        }
        if (error < best) {
            memcpy(L, trial, (size_t)n);
            best = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/// Symmetric signed levels (-nmax ≤ L - nmax < nmax) of one sub-block, weighted by x²: the plain
/// grid through the value of largest magnitude, then 18 grids of nmax ± 0.1·i levels, keeping
/// the one whose least-squares scale explains the most. Returns the (signed) scale.
static float fit_scale_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max, sum_lx = 0, sum_l2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(round_even(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sum_lx += w * x[i] * l;
        sum_l2 += w * l * l;
    }
    float scale = sum_l2 != 0 ? sum_lx / sum_l2 : 0.0f, best = scale * sum_lx;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        iscale = -(nmax + 0.1f * step) / max;
        sum_lx = sum_l2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(round_even(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sum_lx += w * x[i] * l;
            sum_l2 += w * l * l;
        }
        if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clamp_int(round_even(iscale * x[i]), -nmax, nmax - 1));
            scale = sum_lx / sum_l2;
            best = scale * sum_lx;
        }
    }
    return scale;
}

/// The 6-bit scales and mins of a Q4_K/Q5_K super-block, packed as ham_k_scale_min reads them;
/// sets d and dmin. Returns through `levels` the element levels requantized against the
/// stored scales (0 ≤ level ≤ nmax).
static void quantize_k_super(const float *x, int nmax, float rmin, float rdelta, int steps,
                             uint16_t *d_out, uint16_t *dmin_out, uint8_t scales[12], uint8_t levels[256]) {
    float sub_scale[8], sub_min[8], weights[32], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xs[l]);
        sub_scale[j] = fit_scale_min(32, nmax, xs, weights, levels + 32 * j, &sub_min[j], rmin, rdelta, steps);
        if (sub_scale[j] > max_scale) max_scale = sub_scale[j];
        if (sub_min[j] > max_min) max_min = sub_min[j];
    }
    float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)round_even(inv_scale * sub_scale[j]), lm = (uint8_t)round_even(inv_min * sub_min[j]);
        ls = ls > 63 ? 63 : ls;
        lm = lm > 63 ? 63 : lm;
        if (j < 4) {
            scales[j] = ls;
            scales[j + 4] = lm;
        } else {
            scales[j + 4] = (uint8_t)((ls & 0x0f) | ((lm & 0x0f) << 4));
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d_out = ham_f32_to_f16(max_scale / 63.0f);
    *dmin_out = ham_f32_to_f16(max_min / 63.0f);
    float d = f16_to_f32(*d_out), dmin = f16_to_f32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        ham_k_scale_min(scales, j, &sc, &m);
        float ds = d * sc;
        if (ds == 0.0f) continue;
        float dm = dmin * m;
        for (int l = 0; l < 32; l++) levels[32 * j + l] = (uint8_t)clamp_int(round_even((x[32 * j + l] + dm) / ds), 0, nmax);
    }
}

static void quantize_q4_k(const float *x, ham_block_q4_k *b) {
    uint8_t L[256];
    quantize_k_super(x, 15, -1.0f, 0.1f, 20, &b->d, &b->dmin, b->scales, L);
    for (int pair = 0; pair < 4; pair++)
        for (int l = 0; l < 32; l++) b->qs[32 * pair + l] = (uint8_t)(L[64 * pair + l] | (L[64 * pair + 32 + l] << 4));
}

static void quantize_q5_k(const float *x, ham_block_q5_k *b) {
    uint8_t L[256];
    quantize_k_super(x, 31, -0.5f, 0.1f, 15, &b->d, &b->dmin, b->scales, L);
    memset(b->qh, 0, sizeof b->qh);
    for (int pair = 0; pair < 4; pair++) {
        for (int l = 0; l < 32; l++) {
            int lo = L[64 * pair + l], hi = L[64 * pair + 32 + l];
            b->qh[l] |= (uint8_t)(((lo >> 4) << (2 * pair)) | ((hi >> 4) << (2 * pair + 1)));
            b->qs[32 * pair + l] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
        }
    }
}

static void quantize_q6_k(const float *x, ham_block_q6_k *b) {
    int8_t L[256];
    float sub_scale[16], max_scale = 0, max_abs = 0;
    for (int j = 0; j < 16; j++) {
        sub_scale[j] = fit_scale_symmetric(16, 32, x + 16 * j, L + 16 * j);
        if (fabsf(sub_scale[j]) > max_abs) { max_abs = fabsf(sub_scale[j]); max_scale = sub_scale[j]; }
    }
    if (max_abs < 1e-15f) {
        memset(b, 0, sizeof *b);
        return;
    }
    float iscale = -128.0f / max_scale;
    b->d = ham_f32_to_f16(1 / iscale);
    for (int j = 0; j < 16; j++) {
        int s = round_even(iscale * sub_scale[j]);
        b->scales[j] = (int8_t)(s > 127 ? 127 : s);
    }
    float d = f16_to_f32(b->d);
    for (int j = 0; j < 16; j++) {
        float ds = d * b->scales[j];
        if (ds == 0.0f) continue;
        for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(clamp_int(round_even(x[16 * j + l] / ds), -32, 31) + 32);
    }
    for (int half = 0; half < 2; half++) {
        const int8_t *Lh = L + 128 * half;
        uint8_t *ql = b->ql + 64 * half, *qh = b->qh + 32 * half;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 0x0f) | ((Lh[l + 64] & 0x0f) << 4));
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 0x0f) | ((Lh[l + 96] & 0x0f) << 4));
            qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
        }
    }
}

int ham_quantize(const float *src, size_t count, int dtype, void *dst) {
    size_t qk = ham_block_elements(dtype), bytes = ham_block_bytes(dtype);
    if (qk == 1 || count % qk != 0) return 0;
    for (size_t b = 0; b < count / qk; b++) {
        const float *x = src + b * qk;
        void *block = (char *)dst + b * bytes;
        switch (dtype) {
        case HAM_Q8_0: quantize_q8_0(x, block); break;
        case HAM_Q4_0: quantize_q4_0(x, block); break;
        case HAM_Q4_1: quantize_q4_1(x, block); break;
        case HAM_Q5_0: quantize_q5_0(x, block); break;
        case HAM_Q5_1: quantize_q5_1(x, block); break;
        case HAM_Q4_K: quantize_q4_k(x, block); break;
        case HAM_Q5_K: quantize_q5_k(x, block); break;
        case HAM_Q6_K: quantize_q6_k(x, block); break;
        default: return 0;
        }
    }
    return 1;
}

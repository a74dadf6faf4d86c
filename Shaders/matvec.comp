#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[r, o] (+)= x[r, :] · w[o, :] + bias[o] for up to MAX_ROWS rows of x (decode, micro steps):
// the weights are streamed once for all rows, since these products are bound by weight
// bandwidth. THREADS_PER_ROW invocations share one output feature (a warp's worth on a GPU, for
// coalesced loads); on a CPU device one invocation takes a whole row, because there every
// workgroup barrier is a coroutine switch of the SIMD threads that emulate the invocations.

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int WTYPE = HAM_F32;
layout(constant_id = 1) const int BTYPE = HAM_F32;
layout(constant_id = 2) const uint THREADS_PER_ROW = 32u;   // a power of two, at most BLOCK
const uint ROWS_PER_GROUP = BLOCK / THREADS_PER_ROW;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(binding = 1) readonly buffer W { uint w[]; };
layout(binding = 1) readonly buffer W4 { uvec4 w4[]; };
layout(binding = 2) readonly buffer Bias { uint bias[]; };
layout(binding = 3) buffer Out { float o[]; };

#define WEIGHTS w
#include "blocks.glsl"

layout(push_constant) uniform Params {
    uint rows;
    uint inFeatures;
    uint outFeatures;   // weight rows of this dispatch
    uint xOffset;
    uint wOffset;       // element of this dispatch's first weight row
    uint biasOffset;    // element of this dispatch's first bias
    uint outOffset;     // element of out[0, this dispatch's first feature]
    uint outStride;
    uint flags;         // 1: bias, 2: accumulate, 4: 16-byte aligned (vector loads)
    uint wScales;       // Q8_0, Q4_0, Q6_K: halfword of the binding's first block scale
} p;

const uint MAX_ROWS = 8u;
shared float partial[MAX_ROWS][BLOCK];

void store(uint row, uint feature, float sum) {
    float value = sum;
    if ((p.flags & 1u) != 0u) value += LOAD(bias, p.biasOffset + feature, BTYPE);
    uint index = p.outOffset + row * p.outStride + feature;
    o[index] = (p.flags & 2u) != 0u ? o[index] + value : value;
}

void main() {
    uint t = gl_LocalInvocationID.x;
    uint lane = t % THREADS_PER_ROW;
    uint feature = GROUP_INDEX * ROWS_PER_GROUP + t / THREADS_PER_ROW;
    // Invocations past the last feature still take part in the barriers below.
    bool inRange = feature < p.outFeatures;
    uint k = p.inFeatures;
    float sums[MAX_ROWS];
    for (uint r = 0u; r < MAX_ROWS; r++) sums[r] = 0.0;

    if (inRange && (p.flags & 4u) != 0u && WTYPE == HAM_F32) {
        uint wBase = (p.wOffset + feature * k) / 4u;
        for (uint j = lane; j < k / 4u; j += THREADS_PER_ROW) {
            vec4 wv = uintBitsToFloat(w4[wBase + j]);
            for (uint r = 0u; r < MAX_ROWS; r++) {
                if (r < p.rows) sums[r] += dot(wv, x4[(p.xOffset + r * k) / 4u + j]);
            }
        }
    } else if (inRange && (p.flags & 4u) != 0u) {
        uint wBase = (p.wOffset + feature * k) / 8u;
        for (uint j = lane; j < k / 8u; j += THREADS_PER_ROW) {
            vec4 lo, hi;
            widen8(w4[wBase + j], WTYPE, lo, hi);
            for (uint r = 0u; r < MAX_ROWS; r++) {
                if (r < p.rows) {
                    uint xBase = (p.xOffset + r * k) / 4u + 2u * j;
                    sums[r] += dot(lo, x4[xBase]) + dot(hi, x4[xBase + 1u]);
                }
            }
        }
    } else if (inRange && WTYPE != HAM_F32 && WTYPE != HAM_F16 && WTYPE != HAM_BF16) {
        // Block types: eight elements of one sub-block at a time (rows are whole blocks).
        uint wBase = p.wOffset + feature * k;
        for (uint j = lane; j < k / 8u; j += THREADS_PER_ROW) {
            vec4 lo, hi;
            load_block8(WTYPE, wBase + 8u * j, p.wScales, lo, hi);
            for (uint r = 0u; r < MAX_ROWS; r++) {
                if (r < p.rows) {
                    uint xi = p.xOffset + r * k + 8u * j;
                    sums[r] += dot(lo, vec4(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]))
                             + dot(hi, vec4(x[xi + 4u], x[xi + 5u], x[xi + 6u], x[xi + 7u]));
                }
            }
        }
    } else if (inRange) {
        uint wBase = p.wOffset + feature * k;
        for (uint j = lane; j < k; j += THREADS_PER_ROW) {
            float wv = LOAD(w, wBase + j, WTYPE);
            for (uint r = 0u; r < MAX_ROWS; r++) {
                if (r < p.rows) sums[r] += wv * x[p.xOffset + r * k + j];
            }
        }
    }

    if (THREADS_PER_ROW == 1u) {
        if (!inRange) return;
        for (uint r = 0u; r < MAX_ROWS; r++) {
            if (r < p.rows) store(r, feature, sums[r]);
        }
        return;
    }
    for (uint r = 0u; r < MAX_ROWS; r++) {
        if (r < p.rows) partial[r][t] = sums[r];
    }
    barrier();
    for (uint s = THREADS_PER_ROW / 2u; s > 0u; s >>= 1) {
        if (lane < s) {
            for (uint r = 0u; r < MAX_ROWS; r++) {
                if (r < p.rows) partial[r][t] += partial[r][t + s];
            }
        }
        barrier();
    }
    if (inRange) {
        for (uint r = lane; r < p.rows; r += THREADS_PER_ROW) store(r, feature, partial[r][t - lane]);
    }
}

#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

// Grouped-query attention of one query row and one head per workgroup over the visible KV slots,
// BLOCK slots at a time with a running (online) softmax, so any KV length fits in shared memory
// and the scores never go to device memory. Query head h reads KV head h / (heads / kvHeads).

layout(local_size_x = BLOCK) in;

layout(binding = 0) readonly buffer Q { float q[]; };
layout(binding = 1) readonly buffer K { float keys[]; };
layout(binding = 2) readonly buffer V { float values[]; };
layout(binding = 3) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint rows;          // query rows n
    uint slots;         // KV slots L
    uint heads;
    uint group;         // heads / kvHeads
    uint headDim;
    uint qOffset;
    uint qStride;
    uint kOffset;
    uint vOffset;
    uint kvStride;
    uint outOffset;
    uint outStride;
    float scale;
    uint causal;        // row i sees slots 0 ..< L - n + i + 1
} p;

// Output dimensions per invocation: head_dim up to 4 · BLOCK.
const uint DIMS = 4u;
shared float probabilities[BLOCK];

void main() {
    uint item = GROUP_INDEX;
    if (item >= p.rows * p.heads) return;
    uint t = gl_LocalInvocationID.x;
    uint row = item / p.heads, head = item % p.heads;
    uint visible = p.causal != 0u ? p.slots - p.rows + row + 1u : p.slots;
    uint kvColumn = (head / p.group) * p.headDim;
    uint qBase = p.qOffset + row * p.qStride + head * p.headDim;

    float runningMax = uintBitsToFloat(0xff800000u);   // -inf
    float runningSum = 0.0;
    float acc[DIMS];
    for (uint d = 0u; d < DIMS; d++) acc[d] = 0.0;

    for (uint start = 0u; start < visible; start += BLOCK) {
        uint slot = start + t;
        float score = uintBitsToFloat(0xff800000u);
        if (slot < visible) {
            uint kBase = p.kOffset + slot * p.kvStride + kvColumn;
            float dotProduct = 0.0;
            for (uint d = 0u; d < p.headDim; d++) dotProduct += q[qBase + d] * keys[kBase + d];
            score = dotProduct * p.scale;
        }
        float newMax = max(runningMax, workgroup_max(score));
        float e = slot < visible ? exp(score - newMax) : 0.0;
        probabilities[t] = e;
        float chunkSum = workgroup_sum(e);   // its barriers also publish `probabilities`
        float correction = exp(runningMax - newMax);
        runningSum = runningSum * correction + chunkSum;
        uint count = min(BLOCK, visible - start);
        for (uint d = 0u; d < DIMS; d++) {
            uint dim = t + d * BLOCK;
            if (dim >= p.headDim) break;
            float a = acc[d] * correction;
            uint vBase = p.vOffset + start * p.kvStride + kvColumn + dim;
            for (uint j = 0u; j < count; j++) a += probabilities[j] * values[vBase + j * p.kvStride];
            acc[d] = a;
        }
        runningMax = newMax;
        barrier();   // everyone is done with `probabilities` before the next chunk
    }

    float inverse = 1.0 / runningSum;
    for (uint d = 0u; d < DIMS; d++) {
        uint dim = t + d * BLOCK;
        if (dim >= p.headDim) break;
        o[p.outOffset + row * p.outStride + head * p.headDim + dim] = acc[d] * inverse;
    }
}

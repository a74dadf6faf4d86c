#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

// Grouped-query attention of one query row and one head per workgroup over its own sequence's
// slots of a paged KV cache (slot s is cache row blocks[first + s / blockSize] · blockSize +
// s % blockSize), BLOCK slots at a time with a running (online) softmax, so any KV length fits
// in shared memory and the scores never go to device memory. Query head h reads KV head
// h / (heads / kvHeads). The cache is f32 or f16 (KTYPE).

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int KTYPE = HAM_F32;

layout(binding = 0) readonly buffer Q { float q[]; };
layout(binding = 1) readonly buffer K { uint keys[]; };
layout(binding = 2) readonly buffer V { uint values[]; };
layout(binding = 3) writeonly buffer Out { float o[]; };
layout(binding = 4) readonly buffer Rows { int rowTable[]; };
layout(binding = 5) readonly buffer Blocks { int blocks[]; };

layout(push_constant) uniform Params {
    uint rows;          // query rows n
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
    uint rowsOffset;    // row i's [visible, first] at rowTable[rowsOffset + 2i ...]
    uint blocksOffset;
    uint blockSize;
} p;

// Output dimensions per invocation: head_dim up to 4 · BLOCK.
const uint DIMS = 4u;
shared float probabilities[BLOCK];
shared uint cacheRows[BLOCK];

void main() {
    uint item = GROUP_INDEX;
    if (item >= p.rows * p.heads) return;
    uint t = gl_LocalInvocationID.x;
    uint row = item / p.heads, head = item % p.heads;
    uint visible = uint(rowTable[p.rowsOffset + 2u * row]);
    uint first = uint(rowTable[p.rowsOffset + 2u * row + 1u]);
    uint kvColumn = (head / p.group) * p.headDim;
    uint qBase = p.qOffset + row * p.qStride + head * p.headDim;

    float runningMax = uintBitsToFloat(0xff800000u);   // -inf
    float runningSum = 0.0;
    float acc[DIMS];
    for (uint d = 0u; d < DIMS; d++) acc[d] = 0.0;

    for (uint start = 0u; start < visible; start += BLOCK) {
        uint slot = start + t;
        float score = uintBitsToFloat(0xff800000u);
        uint cacheRow = 0u;
        if (slot < visible) {
            cacheRow = uint(blocks[p.blocksOffset + first + slot / p.blockSize]) * p.blockSize + slot % p.blockSize;
            uint kBase = p.kOffset + cacheRow * p.kvStride + kvColumn;
            float dotProduct = 0.0;
            for (uint d = 0u; d < p.headDim; d++) dotProduct += q[qBase + d] * LOAD(keys, kBase + d, KTYPE);
            score = dotProduct * p.scale;
        }
        cacheRows[t] = cacheRow;
        float newMax = max(runningMax, workgroup_max(score));
        float e = slot < visible ? exp(score - newMax) : 0.0;
        probabilities[t] = e;
        float chunkSum = workgroup_sum(e);   // its barriers also publish `probabilities` and `cacheRows`
        float correction = exp(runningMax - newMax);
        runningSum = runningSum * correction + chunkSum;
        uint count = min(BLOCK, visible - start);
        for (uint d = 0u; d < DIMS; d++) {
            uint dim = t + d * BLOCK;
            if (dim >= p.headDim) break;
            float a = acc[d] * correction;
            for (uint j = 0u; j < count; j++)
                a += probabilities[j] * LOAD(values, p.vOffset + cacheRows[j] * p.kvStride + kvColumn + dim, KTYPE);
            acc[d] = a;
        }
        runningMax = newMax;
        barrier();   // everyone is done with `probabilities` and `cacheRows` before the next chunk
    }

    float inverse = 1.0 / runningSum;
    for (uint d = 0u; d < DIMS; d++) {
        uint dim = t + d * BLOCK;
        if (dim >= p.headDim) break;
        o[p.outOffset + row * p.outStride + head * p.headDim + dim] = acc[d] * inverse;
    }
}

#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[r] = index of the largest element of x[r, :], the first one on ties, or -1 when the row
// holds a NaN or an infinity; one workgroup per row, reducing (value, index) pairs.

layout(local_size_x = BLOCK) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer Out { int o[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint xOffset;
    uint outOffset;
} p;

shared float bestValues[BLOCK];
shared uint bestIndices[BLOCK];
shared bool finite[BLOCK];

void main() {
    uint row = GROUP_INDEX;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    uint base = p.xOffset + row * p.cols;
    float best = uintBitsToFloat(0xff800000u);
    uint bestIndex = 0xffffffffu;
    bool allFinite = true;
    for (uint c = t; c < p.cols; c += BLOCK) {
        float v = x[base + c];
        allFinite = allFinite && !isnan(v) && !isinf(v);
        if (bestIndex == 0xffffffffu || v > best) {
            best = v;
            bestIndex = c;
        }
    }
    bestValues[t] = best;
    bestIndices[t] = bestIndex;
    finite[t] = allFinite;
    barrier();
    for (uint s = BLOCK / 2u; s > 0u; s >>= 1) {
        if (t < s) {
            float v = bestValues[t + s];
            uint i = bestIndices[t + s];
            // Empty slots carry index 0xffffffff and lose every comparison.
            bool better = i != 0xffffffffu &&
                (bestIndices[t] == 0xffffffffu || v > bestValues[t] || (v == bestValues[t] && i < bestIndices[t]));
            if (better) {
                bestValues[t] = v;
                bestIndices[t] = i;
            }
            finite[t] = finite[t] && finite[t + s];
        }
        barrier();
    }
    if (t == 0u) o[p.outOffset + row] = !finite[0] ? -1 : int(bestIndices[0] == 0xffffffffu ? 0u : bestIndices[0]);
}

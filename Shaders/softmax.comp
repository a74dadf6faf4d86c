#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

// Row-wise softmax, one workgroup per row. `out` may be `x`: each element is only ever touched
// by one invocation.

layout(local_size_x = BLOCK) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint xOffset;
    uint outOffset;
} p;

void main() {
    uint row = GROUP_INDEX;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    uint xBase = p.xOffset + row * p.cols, outBase = p.outOffset + row * p.cols;
    float localMax = uintBitsToFloat(0xff800000u);
    for (uint c = t; c < p.cols; c += BLOCK) localMax = max(localMax, x[xBase + c]);
    float rowMax = workgroup_max(localMax);
    float localSum = 0.0;
    for (uint c = t; c < p.cols; c += BLOCK) {
        float e = exp(x[xBase + c] - rowMax);
        o[outBase + c] = e;
        localSum += e;
    }
    float inverse = 1.0 / workgroup_sum(localSum);
    for (uint c = t; c < p.cols; c += BLOCK) o[outBase + c] *= inverse;
}

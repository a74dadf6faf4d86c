#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[0, c] = mean over rows of x[:, c], one column per invocation, summed in row order.

layout(local_size_x = BLOCK) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint xOffset;
    uint outOffset;
} p;

void main() {
    uint c = GROUP_INDEX * BLOCK + gl_LocalInvocationID.x;
    if (c >= p.cols) return;
    float total = 0.0;
    for (uint r = 0u; r < p.rows; r++) total += x[p.xOffset + r * p.cols + c];
    o[p.outOffset + c] = total / float(p.rows);
}

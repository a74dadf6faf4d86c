#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[j, c] = mean of x[start_j ..< start_j + count_j, c] (segments[j] = [start, count]), one
// (segment, column) per invocation, summed in row order.

layout(local_size_x = BLOCK) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer Segments { int segments[]; };
layout(binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint segmentCount;
    uint cols;
    uint xOffset;
    uint segmentsOffset;
    uint outOffset;
    uint outStride;
} p;

void main() {
    uint index = GROUP_INDEX * BLOCK + gl_LocalInvocationID.x;
    if (index >= p.segmentCount * p.cols) return;
    uint j = index / p.cols, c = index % p.cols;
    uint start = uint(segments[p.segmentsOffset + 2u * j]);
    uint count = uint(segments[p.segmentsOffset + 2u * j + 1u]);
    float total = 0.0;
    for (uint r = start; r < start + count; r++) total += x[p.xOffset + r * p.cols + c];
    o[p.outOffset + j * p.outStride + c] = total / float(count);
}

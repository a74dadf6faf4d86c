#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"

// out[r, :] = gain ⊙ x[r, :] / sqrt(mean(x[r, :]²) + eps), one workgroup per row. `out` may be
// `x`: every element is read and written by the same invocation.

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int GTYPE = HAM_F32;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer Gain { uint gain[]; };
layout(binding = 2) buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint cols;
    uint xOffset;
    uint gainOffset;
    uint outOffset;
    float eps;
} p;

void main() {
    uint row = GROUP_INDEX;
    if (row >= p.rows) return;
    uint t = gl_LocalInvocationID.x;
    uint xBase = p.xOffset + row * p.cols, outBase = p.outOffset + row * p.cols;
    float sumSquares = 0.0;
    for (uint c = t; c < p.cols; c += BLOCK) {
        float v = x[xBase + c];
        sumSquares += v * v;
    }
    float total = workgroup_sum(sumSquares);
    float inverse = 1.0 / sqrt(total / float(p.cols) + p.eps);
    for (uint c = t; c < p.cols; c += BLOCK) {
        o[outBase + c] = LOAD(gain, p.gainOffset + c, GTYPE) * (x[xBase + c] * inverse);
    }
}

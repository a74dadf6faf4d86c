#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[r, :] = [a[r, :], b[r, :]], widening either side from its dtype (the merger concatenates
// activations with stored step positions).

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int ATYPE = HAM_F32;
layout(constant_id = 1) const int BTYPE = HAM_F32;

layout(binding = 0) readonly buffer A { uint a[]; };
layout(binding = 1) readonly buffer B { uint b[]; };
layout(binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint aCols;
    uint bCols;
    uint aOffset;
    uint bOffset;
    uint outOffset;
    uint outStride;
} p;

void main() {
    uint width = p.aCols + p.bCols;
    uint index = GROUP_INDEX * BLOCK + gl_LocalInvocationID.x;
    if (index >= p.rows * width) return;
    uint row = index / width, c = index % width;
    float value = c < p.aCols ? LOAD(a, p.aOffset + row * p.aCols + c, ATYPE)
                              : LOAD(b, p.bOffset + row * p.bCols + (c - p.aCols), BTYPE);
    o[p.outOffset + row * p.outStride + c] = value;
}

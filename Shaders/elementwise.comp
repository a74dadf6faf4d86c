#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// One element per invocation: out = silu(a) ⊙ b, silu(a) or sigmoid(a). `out` may be `a` or
// `b`: each element is read and written by the same invocation.

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int OP = 0;
#define OP_SILU_MUL 1
#define OP_SILU 2
#define OP_SIGMOID 3

layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint count;
    uint aOffset;
    uint bOffset;
    uint outOffset;
} p;

void main() {
    uint i = GROUP_INDEX * BLOCK + gl_LocalInvocationID.x;
    if (i >= p.count) return;
    float v = a[p.aOffset + i];
    float result;
    if (OP == OP_SILU_MUL) {
        result = v / (1.0 + exp(-v)) * b[p.bOffset + i];
    } else if (OP == OP_SILU) {
        result = v / (1.0 + exp(-v));
    } else {
        result = 1.0 / (1.0 + exp(-v));
    }
    o[p.outOffset + i] = result;
}

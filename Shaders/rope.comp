#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Rotates every head of x in place. Frequency i turns elements (i, i + half) of a head (Hugging
// Face Llama) or (2i, 2i + 1) (llama.cpp's GGUF layout). Row r uses cos/sin row r, so positions
// are whatever the host computed.

layout(local_size_x = BLOCK) in;

layout(binding = 0) buffer X { float x[]; };
layout(binding = 1) readonly buffer Cos { float cosines[]; };
layout(binding = 2) readonly buffer Sin { float sines[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint heads;
    uint half_;        // headDim / 2
    uint xOffset;
    uint xStride;      // x.cols
    uint cosOffset;
    uint sinOffset;
    uint adjacent;     // RoPEPairing: 0 halves, 1 adjacent
} p;

void main() {
    uint index = GROUP_INDEX * BLOCK + gl_LocalInvocationID.x;
    if (index >= p.rows * p.heads * p.half_) return;
    uint i = index % p.half_;
    uint head = (index / p.half_) % p.heads;
    uint row = index / (p.half_ * p.heads);
    uint base = p.xOffset + row * p.xStride + head * 2u * p.half_;
    uint a = p.adjacent != 0u ? base + 2u * i : base + i;
    uint b = p.adjacent != 0u ? a + 1u : a + p.half_;
    float x1 = x[a], x2 = x[b];
    float c = cosines[p.cosOffset + row * p.half_ + i];
    float s = sines[p.sinOffset + row * p.half_ + i];
    x[a] = x1 * c - x2 * s;
    x[b] = x2 * c + x1 * s;
}

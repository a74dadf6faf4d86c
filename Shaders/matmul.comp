#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[r, o] (+)= x[r, :] · w[o, :] + bias[o] for many rows of x (prefill): tiles of TM rows of x
// by TN weight rows, TK inputs at a time through shared memory, so each weight element is read
// once per TM rows instead of once per row. Each invocation computes 4 × 4 outputs.

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int WTYPE = HAM_F32;
layout(constant_id = 1) const int BTYPE = HAM_F32;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer W { uint w[]; };
layout(binding = 2) readonly buffer Bias { uint bias[]; };
layout(binding = 3) buffer Out { float o[]; };

#define WEIGHTS w
#include "blocks.glsl"

layout(push_constant) uniform Params {
    uint rows;
    uint inFeatures;
    uint outFeatures;
    uint xOffset;
    uint wOffset;
    uint biasOffset;
    uint outOffset;
    uint outStride;
    uint flags;         // 1: bias, 2: accumulate
    uint wScales;       // Q8_0, Q4_0, Q6_K: halfword of the binding's first block scale
} p;

const uint TM = 32u, TN = 64u, TK = 16u;
shared float xs[TK][TM + 1u];
shared float ws[TK][TN + 1u];

void main() {
    uint t = gl_LocalInvocationID.x;
    uint rowBase = gl_WorkGroupID.y * TM;
    uint colBase = gl_WorkGroupID.x * TN;
    uint tx = t % 16u, ty = t / 16u;   // outputs: columns tx*4 … +3, rows ty*4 … +3
    uint k = p.inFeatures;
    float acc[4][4];
    for (uint i = 0u; i < 4u; i++) for (uint j = 0u; j < 4u; j++) acc[i][j] = 0.0;

    for (uint k0 = 0u; k0 < k; k0 += TK) {
        for (uint e = t; e < TM * TK; e += BLOCK) {
            uint m = e / TK, kk = e % TK;
            uint row = rowBase + m, col = k0 + kk;
            xs[kk][m] = row < p.rows && col < k ? x[p.xOffset + row * k + col] : 0.0;
        }
        for (uint e = t; e < TN * TK; e += BLOCK) {
            uint n = e / TK, kk = e % TK;
            uint feature = colBase + n, col = k0 + kk;
            ws[kk][n] = feature < p.outFeatures && col < k ? load_weight(p.wOffset + feature * k + col, WTYPE, p.wScales) : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < TK; kk++) {
            vec4 a = vec4(xs[kk][ty * 4u], xs[kk][ty * 4u + 1u], xs[kk][ty * 4u + 2u], xs[kk][ty * 4u + 3u]);
            vec4 b = vec4(ws[kk][tx * 4u], ws[kk][tx * 4u + 1u], ws[kk][tx * 4u + 2u], ws[kk][tx * 4u + 3u]);
            for (uint i = 0u; i < 4u; i++) {
                for (uint j = 0u; j < 4u; j++) acc[i][j] += a[i] * b[j];
            }
        }
        barrier();
    }

    for (uint i = 0u; i < 4u; i++) {
        uint row = rowBase + ty * 4u + i;
        if (row >= p.rows) continue;
        for (uint j = 0u; j < 4u; j++) {
            uint feature = colBase + tx * 4u + j;
            if (feature >= p.outFeatures) continue;
            float value = acc[i][j];
            if ((p.flags & 1u) != 0u) value += LOAD(bias, p.biasOffset + feature, BTYPE);
            uint index = p.outOffset + row * p.outStride + feature;
            o[index] = (p.flags & 2u) != 0u ? o[index] + value : value;
        }
    }
}

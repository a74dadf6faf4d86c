#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// dst[indices[i], :] = src[i, :]: f32 rows into an f32 tensor, or into an f16 one (DTYPE),
// rounded to nearest even like the CPU backend (F16C) and Swift's Float16. For f16 each
// invocation writes one 32-bit word, two elements, so no two invocations share a word (the
// backend checks that rows and offsets are even).

layout(local_size_x = BLOCK) in;
layout(constant_id = 0) const int DTYPE = HAM_F32;

layout(binding = 0) readonly buffer Src { float src[]; };
layout(binding = 1) readonly buffer Indices { int indices[]; };
layout(binding = 2) buffer Dst { uint dst[]; };

layout(push_constant) uniform Params {
    uint rows;
    uint cols;          // of src and dst
    uint srcOffset;
    uint srcStride;
    uint indicesOffset;
    uint dstOffset;     // element of dst's row 0
} p;

// IEEE binary16 bits of `value`, round to nearest even (overflow to infinity, subnormals kept).
uint halfBits(float value) {
    uint x = floatBitsToUint(value);
    uint sign = (x >> 16) & 0x8000u;
    uint magnitude = x & 0x7fffffffu;
    if (magnitude >= 0x7f800000u) return sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (magnitude >= 0x477ff000u) return sign | 0x7c00u;        // rounds to above 65504
    if (magnitude < 0x38800000u) {                               // below the smallest normal half
        if (magnitude < 0x33000000u) return sign;                // below half the smallest subnormal
        uint exponent = magnitude >> 23;
        uint mantissa = (magnitude & 0x7fffffu) | 0x800000u;
        uint shift = 126u - exponent;                            // 14 … 24
        uint kept = mantissa >> shift;
        uint rest = mantissa & ((1u << shift) - 1u);
        uint halfway = 1u << (shift - 1u);
        if (rest > halfway || (rest == halfway && (kept & 1u) != 0u)) kept += 1u;
        return sign | kept;
    }
    uint rounded = magnitude - 0x38000000u;                      // rebias 127 → 15
    uint kept = rounded >> 13;
    uint rest = rounded & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (kept & 1u) != 0u)) kept += 1u;
    return sign | kept;
}

void main() {
    uint index = GROUP_INDEX * BLOCK + gl_LocalInvocationID.x;
    uint perRow = DTYPE == HAM_F16 ? p.cols / 2u : p.cols;
    if (index >= p.rows * perRow) return;
    uint i = index / perRow, c = index % perRow;
    uint target = uint(indices[p.indicesOffset + i]);
    uint from = p.srcOffset + i * p.srcStride;
    if (DTYPE == HAM_F16) {
        uint element = p.dstOffset + target * p.cols + 2u * c;
        dst[element >> 1] = halfBits(src[from + 2u * c]) | (halfBits(src[from + 2u * c + 1u]) << 16);
    } else {
        dst[p.dstOffset + target * p.cols + c] = floatBitsToUint(src[from + c]);
    }
}
